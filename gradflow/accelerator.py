"""``gf.accelerator``: PyTorch's device-agnostic accelerator queries (CUDA is gradflow's only
accelerator)."""

from __future__ import annotations

from gradflow.backends.cuda import device_count as _cuda_count
from gradflow.backends.cuda import is_available as _cuda_available
from gradflow.device import device


def is_available() -> bool:
    """Whether a usable accelerator (a CUDA GPU with CuPy) is present."""
    return _cuda_available()


def current_accelerator(check_available: bool = False) -> device | None:
    """``device("cuda")`` when CUDA is usable, else None (as PyTorch on a CPU-only machine)."""
    return device("cuda") if _cuda_available() else None


def device_count() -> int:
    return _cuda_count() if _cuda_available() else 0


__all__ = ["is_available", "current_accelerator", "device_count"]
