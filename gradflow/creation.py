"""Creating tensors: from data, filled, ranges, random, and zero-copy exchange (NumPy, DLPack)."""

from __future__ import annotations

from typing import Any

import numpy as np

from gradflow.backends import get_backend
from gradflow.dtypes import DEFAULT_FLOAT, as_dtype
from gradflow.tensor import Tensor


def tensor(data: Any, dtype: Any = None, device: Any = None,
           requires_grad: bool = False) -> Tensor:
    """A new tensor holding a copy of ``data`` (number, nested list, NumPy/CuPy array, Tensor).

    Floats become float32 unless ``dtype`` says otherwise; ints int64; bools bool. A CuPy array
    stays on its GPU unless ``device`` says otherwise.
    """
    return Tensor(data, dtype=dtype, device=device, requires_grad=requires_grad)


def as_tensor(data: Any, dtype: Any = None, device: Any = None) -> Tensor:
    """``data`` itself if it is already a matching Tensor, else ``tensor(data, ...)``."""
    if isinstance(data, Tensor) and (dtype is None or as_dtype(dtype) == data.dtype) and (
            device is None or get_backend(device) is data._backend):
        return data
    return tensor(data, dtype=dtype, device=device)


def _shape(shape) -> tuple[int, ...]:
    if len(shape) == 1 and isinstance(shape[0], tuple | list):
        shape = tuple(shape[0])
    return tuple(int(s) for s in shape)


def _filled(fill: str, shape, dtype, device, requires_grad) -> Tensor:
    backend = get_backend(device)
    dt = as_dtype(dtype) or DEFAULT_FLOAT
    array = getattr(backend, fill)(_shape(shape), dt)  # the backend names OOM errors clearly
    return Tensor._make(array, backend).requires_grad_(requires_grad)


def zeros(*shape, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    return _filled("zeros", shape, dtype, device, requires_grad)


def ones(*shape, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    return _filled("ones", shape, dtype, device, requires_grad)


def empty(*shape, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    return _filled("empty", shape, dtype, device, requires_grad)


def full(shape, value, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    backend = get_backend(device)
    if dtype is None:
        dtype = DEFAULT_FLOAT if isinstance(value, float) else (
            "bool" if isinstance(value, bool) else "int64" if isinstance(value, int) else None)
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    array = backend.full(shape, value, as_dtype(dtype))
    return Tensor._make(array, backend).requires_grad_(requires_grad)


def zeros_like(t: Tensor, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    return zeros(t.shape, dtype=dtype or t.dtype, device=device or t.device,
                 requires_grad=requires_grad)


def ones_like(t: Tensor, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    return ones(t.shape, dtype=dtype or t.dtype, device=device or t.device,
                requires_grad=requires_grad)


def full_like(t: Tensor, value, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    return full(t.shape, value, dtype=dtype or t.dtype, device=device or t.device,
                requires_grad=requires_grad)


def arange(start, stop=None, step=1, dtype=None, device=None,
           requires_grad: bool = False) -> Tensor:
    """Like ``numpy.arange``; integer arguments give int64, float ones float32."""
    if stop is None:
        start, stop = 0, start
    backend = get_backend(device)
    if dtype is None:
        is_int = all(isinstance(v, int) for v in (start, stop, step))
        dtype = "int64" if is_int else DEFAULT_FLOAT
    array = backend.xp.arange(start, stop, step, dtype=as_dtype(dtype))
    return Tensor._make(array, backend).requires_grad_(requires_grad)


def linspace(start, stop, num=50, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    backend = get_backend(device)
    array = backend.xp.linspace(start, stop, num, dtype=as_dtype(dtype) or DEFAULT_FLOAT)
    return Tensor._make(array, backend).requires_grad_(requires_grad)


def eye(n: int, m: int | None = None, dtype=None, device=None) -> Tensor:
    backend = get_backend(device)
    return Tensor._make(backend.xp.eye(n, m, dtype=as_dtype(dtype) or DEFAULT_FLOAT), backend)


def rand(*shape, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """Uniform on [0, 1) from the device's generator (seeded by ``gf.manual_seed``)."""
    backend = get_backend(device)
    dt = as_dtype(dtype) or DEFAULT_FLOAT
    array = backend.rng.random(_shape(shape), dtype=dt if dt.kind == "f" and dt.itemsize >= 4
                               else "float64").astype(dt, copy=False)
    return Tensor._make(array, backend).requires_grad_(requires_grad)


def randn(*shape, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """Standard normal from the device's generator (seeded by ``gf.manual_seed``)."""
    backend = get_backend(device)
    dt = as_dtype(dtype) or DEFAULT_FLOAT
    array = backend.rng.standard_normal(_shape(shape), dtype=dt if dt.kind == "f" and
                                        dt.itemsize >= 4 else "float64").astype(dt, copy=False)
    return Tensor._make(array, backend).requires_grad_(requires_grad)


def randint(low: int, high: int, shape, device=None) -> Tensor:
    backend = get_backend(device)
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    return Tensor._make(backend.rng.integers(low, high, size=shape, dtype="int64"), backend)


def from_numpy(array: np.ndarray) -> Tensor:
    """A CPU tensor sharing memory with ``array`` (dtype kept as is)."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expected a numpy.ndarray, got {type(array).__name__}")
    return Tensor._make(array, get_backend("cpu"))


def from_dlpack(obj: Any) -> Tensor:
    """A tensor sharing memory with any DLPack producer (CuPy, JAX, PyTorch, NumPy arrays)."""
    if isinstance(obj, Tensor):
        return obj.detach()
    device_type, device_id = obj.__dlpack_device__()
    if int(device_type) == 1:  # kDLCPU
        return Tensor._make(np.from_dlpack(obj), get_backend("cpu"))
    if int(device_type) in (2, 3, 13):  # kDLCUDA, kDLCUDAHost, kDLCUDAManaged
        backend = get_backend(f"cuda:{device_id}")
        with backend.xp.cuda.Device(device_id):
            return Tensor._make(backend.xp.from_dlpack(obj), backend)
    raise RuntimeError(f"from_dlpack: unsupported DLPack device type {device_type}")
