"""Devices and their backends.

A device string picks a backend: ``"cpu"`` is NumPy, ``"cuda"``/``"cuda:N"`` is CuPy on GPU ``N``,
``"auto"`` is CUDA when usable and the CPU otherwise. Backends are created once and cached.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gradflow.backends import cuda, mps  # noqa: F401 - gf.backends.mps, as torch.backends.mps
from gradflow.backends.base import Backend
from gradflow.backends.numpy_backend import NumpyBackend

__all__ = ["Backend", "cpu_backend", "get_backend", "backend_of_array", "parse_device",
           "manual_seed"]

_BACKENDS: dict[str, Backend] = {}
_SEED: list[int | None] = [None]


def parse_device(device: Any) -> str:
    """Canonical device string for ``device`` (``None`` means the CPU)."""
    if device is None:
        return "cpu"
    if isinstance(device, Backend):
        return device.device
    if not isinstance(device, str):
        device = str(device)
    dev = device.strip().lower()
    if dev == "cpu":
        return "cpu"
    if dev == "auto":
        return "cuda:0" if cuda.is_available() else "cpu"
    if dev == "cuda" or dev == "gpu":
        dev = "cuda:0"
    if dev.startswith("cuda:") and dev[5:].isdigit():
        return f"cuda:{int(dev[5:])}"
    raise ValueError(
        f"unknown device {device!r}: use 'cpu', 'cuda', 'cuda:N' or 'auto'"
    )


def get_backend(device: Any = None) -> Backend:
    """The (cached) backend for ``device``."""
    if device is None:
        return cpu_backend
    if isinstance(device, Backend):
        return device
    backend = _BACKENDS.get(device)
    if backend is not None:
        return backend
    name = parse_device(device)
    backend = _BACKENDS.get(name)
    if backend is None:
        if name == "cpu":
            backend = cpu_backend
        else:
            if not cuda.is_available():
                raise RuntimeError(f"device {device!r} requested but CUDA is not usable: "
                                   f"{cuda.unavailable_reason()}. Use device='cpu' or 'auto'.")
            index = int(name.split(":")[1])
            count = cuda.device_count()
            if index >= count:
                raise RuntimeError(f"device {device!r} requested but only {count} CUDA "
                                   f"device(s) exist (cuda:0..cuda:{count - 1})")
            backend = cuda.CupyBackend(index, seed=_SEED[0])
        _BACKENDS[name] = backend
    _BACKENDS[device] = backend
    return backend


def backend_of_array(array: Any) -> Backend:
    """The backend owning ``array`` (NumPy arrays and scalars are the CPU's)."""
    if isinstance(array, np.ndarray | np.generic):
        return cpu_backend
    mod = type(array).__module__
    if mod.startswith("cupy"):
        return get_backend(f"cuda:{array.device.id}")
    raise TypeError(f"cannot tell the device of an object of type {type(array).__name__}")


def manual_seed(seed: int) -> None:
    """Seed the generator of every backend (NumPy, and CuPy where it is in use)."""
    _SEED[0] = int(seed)
    cpu_backend.seed(int(seed))
    for name, backend in _BACKENDS.items():
        if name != "cpu" and backend is not cpu_backend and name == backend.device:
            backend.seed(int(seed))


cpu_backend = NumpyBackend()
_BACKENDS["cpu"] = cpu_backend
