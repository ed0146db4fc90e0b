"""Creating tensors: from data, filled, ranges, random, and zero-copy exchange (NumPy, DLPack)."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from gradflow.backends import get_backend
from gradflow.dtypes import DEFAULT_FLOAT, as_dtype
from gradflow.random import rng_for
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


def _shape(shape, who: str = "tensor") -> tuple[int, ...]:
    """A shape given as ints or one tuple/list/Size: each size a non-negative int (a float,
    bool or string is a TypeError, as in PyTorch; a negative size a RuntimeError)."""
    if len(shape) == 1 and isinstance(shape[0], tuple | list):
        shape = tuple(shape[0])
    out = []
    for s in shape:
        if isinstance(s, Tensor) and s.numel() == 1 and s.dtype.kind in "iu":
            s = s.item()
        if isinstance(s, bool) or not isinstance(s, numbers.Integral):
            raise TypeError(f"{who}: sizes must be ints, got {s!r} ({type(s).__name__}) in "
                            f"shape {tuple(shape)}")
        if s < 0:
            raise RuntimeError(f"{who}: sizes must be non-negative, got {int(s)} in shape "
                               f"{tuple(shape)}")
        out.append(int(s))
    return tuple(out)


def _filled(fill: str, shape, dtype, device, requires_grad) -> Tensor:
    backend = get_backend(device)
    dt = as_dtype(dtype) or DEFAULT_FLOAT
    array = getattr(backend, fill)(_shape(shape, fill), dt)  # the backend names OOM errors clearly
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
    array = backend.full(_shape((shape,), "full"), value, as_dtype(dtype))
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
    if step == 0:
        raise RuntimeError("arange: step must be nonzero")
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


def _float_dtype(dtype, who: str) -> np.dtype:
    dt = as_dtype(dtype) or DEFAULT_FLOAT
    if dt.kind != "f":
        raise TypeError(f"{who}: dtype must be a floating dtype, got {dt}")
    return dt


def _draw_dtype(dt: np.dtype) -> str | np.dtype:
    """NumPy's generators draw float32 and float64 only: narrower floats are drawn as float64."""
    return dt if dt.itemsize >= 4 and dt.name in ("float32", "float64") else "float64"


def rand(*shape, generator=None, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """Uniform on [0, 1) from ``generator`` (default: the device's, seeded by
    ``gf.manual_seed``)."""
    backend = get_backend(device)
    dt = _float_dtype(dtype, "rand")
    rng = rng_for(generator, backend, "rand")
    array = rng.random(_shape(shape, "rand"), dtype=_draw_dtype(dt)).astype(dt, copy=False)
    return Tensor._make(array, backend).requires_grad_(requires_grad)


def randn(*shape, generator=None, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """Standard normal from ``generator`` (default: the device's, seeded by ``gf.manual_seed``)."""
    backend = get_backend(device)
    dt = _float_dtype(dtype, "randn")
    rng = rng_for(generator, backend, "randn")
    array = rng.standard_normal(_shape(shape, "randn"), dtype=_draw_dtype(dt)).astype(
        dt, copy=False)
    return Tensor._make(array, backend).requires_grad_(requires_grad)


def randint(*args, size=None, generator=None, dtype=None, device=None,
            requires_grad: bool = False) -> Tensor:
    """PyTorch's ``randint(low=0, high, size)``: integers uniform on [low, high), int64 unless
    ``dtype`` says otherwise."""
    if size is None and args and (isinstance(args[-1], tuple | list) or len(args) == 3):
        *args, size = args
    if size is None:
        raise TypeError("randint: pass the shape, e.g. randint(0, 10, (2, 3))")
    if len(args) == 1:
        low, high = 0, args[0]
    elif len(args) == 2:
        low, high = args
    else:
        raise TypeError(f"randint: expected randint(high, size) or randint(low, high, size), "
                        f"got {len(args)} bounds")
    low, high = _int_arg(low, "randint", "low"), _int_arg(high, "randint", "high")
    if high <= low:
        raise ValueError(f"randint: expected low < high, got low={low}, high={high}")
    backend = get_backend(device)
    shape = _shape((size,), "randint")
    rng = rng_for(generator, backend, "randint")
    array = rng.integers(low, high, size=shape, dtype="int64")
    dt = as_dtype(dtype)
    if dt is not None and dt != array.dtype:
        array = array.astype(dt)
    return Tensor._make(array, backend).requires_grad_(requires_grad)


def randperm(n: int, *, generator=None, dtype=None, device=None,
             requires_grad: bool = False) -> Tensor:
    """A random permutation of ``0 .. n-1`` (int64 unless ``dtype`` says otherwise)."""
    n = _int_arg(n, "randperm", "n")
    if n < 0:
        raise RuntimeError(f"randperm: n must be non-negative, got {n}")
    backend = get_backend(device)
    array = rng_for(generator, backend, "randperm").permutation(n).astype(
        as_dtype(dtype) or np.int64, copy=False)
    return Tensor._make(array, backend).requires_grad_(requires_grad)


def rand_like(t: Tensor, *, generator=None, dtype=None, device=None,
              requires_grad: bool = False) -> Tensor:
    return rand(t.shape, generator=generator, dtype=dtype or t.dtype, device=device or t.device,
                requires_grad=requires_grad)


def randn_like(t: Tensor, *, generator=None, dtype=None, device=None,
               requires_grad: bool = False) -> Tensor:
    return randn(t.shape, generator=generator, dtype=dtype or t.dtype, device=device or t.device,
                 requires_grad=requires_grad)


def randint_like(t: Tensor, low: int, high: int | None = None, *, generator=None, dtype=None,
                 device=None) -> Tensor:
    """``randint`` with ``t``'s shape, dtype and device (``randint_like(t, high)`` too)."""
    if high is None:
        low, high = 0, low
    return randint(low, high, t.shape, generator=generator, dtype=dtype or t.dtype,
                   device=device or t.device)


def empty_like(t: Tensor, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    return empty(t.shape, dtype=dtype or t.dtype, device=device or t.device,
                 requires_grad=requires_grad)


def _int_arg(value, who: str, name: str) -> int:
    if isinstance(value, Tensor):
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{who}: {name} must be an int, got {value!r} ({type(value).__name__})")
    return int(value)


def from_numpy(array: np.ndarray) -> Tensor:
    """A CPU tensor sharing memory with ``array`` (dtype kept as is)."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expected a numpy.ndarray, got {type(array).__name__}")
    if type(array) is not np.ndarray:  # np.matrix and other subclasses: a plain view
        array = array.view(np.ndarray)
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
