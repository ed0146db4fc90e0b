"""Creating tensors: from data, filled, ranges, random, and zero-copy exchange (NumPy, DLPack)."""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from gradflow.backends import get_backend
from gradflow.dtypes import DEFAULT_FLOAT, as_dtype, is_floating
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


def _number(value, who: str, name: str):
    """A Python number, or the value of a one-element Tensor."""
    if isinstance(value, Tensor):
        if value.numel() != 1:
            raise RuntimeError(f"{who}: {name} must be a number or a one-element tensor, got "
                               f"shape {value.shape}")
        return value.item()
    if not isinstance(value, numbers.Real):
        raise TypeError(f"{who}: {name} must be a number, got {value!r} "
                        f"({type(value).__name__})")
    return value


def _range_dtype(dtype, values, who: str) -> np.dtype:
    dt = as_dtype(dtype)
    if dt is None:
        dt = np.dtype("int64") if all(isinstance(v, numbers.Integral) for v in values) \
            else DEFAULT_FLOAT
    if dt.kind == "b":
        raise NotImplementedError(f"{who}: not implemented for bool; build the range in an "
                                  "integer dtype and compare, e.g. arange(n) % 2 == 0")
    return dt


def arange(start=0, end=None, step=1, dtype=None, device=None,
           requires_grad: bool = False) -> Tensor:
    """``start, start + step, ...`` below ``end`` (PyTorch's ``arange``; ``arange(end)`` starts
    at 0). Integer arguments give int64, others float32. As PyTorch: for int64 the bounds and
    step are truncated to integers first; other integer dtypes take the length from the given
    values and the elements from the truncated ones; float elements are ``start + i * step``
    rounded once (PyTorch's vectorised CPU loop can differ in the last bit on long ranges)."""
    if end is None:
        start, end = 0, start
    start, end = _number(start, "arange", "start"), _number(end, "arange", "end")
    step = _number(step, "arange", "step")
    dt = _range_dtype(dtype, (start, end, step), "arange")
    if step == 0:
        raise RuntimeError("arange: step must be nonzero")
    if not (math.isfinite(start) and math.isfinite(end)):
        raise RuntimeError(f"arange: unsupported range: {start} -> {end}")
    integral = dt.kind in "iu"
    s, e, st = (int(v) for v in (start, end, step)) if integral else (start, end, step)
    if dt == np.int64:
        if st == 0:
            raise ValueError(f"arange: step must be nonzero, got step={step} (0 once truncated "
                             f"to an integer for dtype {dt})")
        bounds = (s, e, st)
    else:
        bounds = (start, end, step)
    lo, hi, by = bounds
    if (by > 0 and hi < lo) or (by < 0 and hi > lo):
        raise RuntimeError(f"arange: upper bound and lower bound inconsistent with step sign "
                           f"(start={start}, end={end}, step={step})")
    if dt == np.int64:
        sign = 1 if st > 0 else -1
        size = math.ceil((e - s + st - sign) / st)
    else:
        size = math.ceil((float(end) - float(start)) / float(step))
    backend = get_backend(device)
    xp = backend.xp
    if integral:
        array = (s + st * xp.arange(size, dtype="int64")).astype(dt)
    else:
        i = xp.arange(size, dtype="float64")
        values = _fma(xp, xp.full(i.shape, float(step)), i, xp.full(i.shape, float(start)))
        array = values.astype(dt)
    return Tensor._make(array, backend).requires_grad_(requires_grad)


def _steps(steps, who: str) -> int:
    if isinstance(steps, Tensor) and steps.numel() == 1 and steps.dtype.kind in "iu":
        steps = steps.item()
    if isinstance(steps, bool) or not isinstance(steps, numbers.Integral):
        raise TypeError(f"{who}: steps must be an int, got {steps!r} ({type(steps).__name__})")
    if steps < 0:
        raise RuntimeError(f"{who}: number of steps must be non-negative, got {steps}")
    return int(steps)


def _fma(xp, a, b, c):
    """``a * b + c`` rounded once (float64), as a compiler's fused multiply-add gives it:
    Dekker's exact product and Knuth's exact sum, then one rounding."""
    split = 134217729.0  # 2**27 + 1
    p = a * b
    a_hi = a * split - (a * split - a)
    b_hi = b * split - (b * split - b)
    err = ((a_hi * b_hi - p) + a_hi * (b - b_hi) + (a - a_hi) * b_hi) + (a - a_hi) * (b - b_hi)
    total = p + c
    bp = total - p
    tail = (p - (total - bp)) + (c - bp)
    return total + (tail + err)


def _spaced(xp, start, end, steps: int, dt: np.dtype):
    """PyTorch's CPU linspace: ``start + step * i`` for the first half, ``end - step * (steps - 1
    - i)`` for the second (so both ends are exact). The step is in ``dt`` (float64 for integer
    dtypes, whose start and end are truncated first) and each value one fused multiply-add;
    float16/bfloat16 round every operation as PyTorch's half types do. Returns float64 values
    (``dt`` ones for the half types)."""
    integral = dt.kind in "iu"
    s, e = (_wrapped(start, dt), _wrapped(end, dt)) if integral else (dt.type(start),
                                                                       dt.type(end))
    half = is_floating(dt) and dt.itemsize < 4
    if steps == 1:
        return xp.full((1,), s, dtype=dt if half else "float64")
    i = xp.arange(steps, dtype="int64")
    lower = i < steps // 2
    if half:
        step = (e - s) / dt.type(steps - 1)
        return xp.where(lower, s + step * i.astype(dt), e - step * (steps - 1 - i).astype(dt))
    step = (e - s) / (steps - 1) if integral else float((e - s) / dt.type(steps - 1))
    k = xp.where(lower, i, -(steps - 1 - i)).astype("float64")
    base = xp.where(lower, float(s), float(e))
    if dt == np.float32:  # the float32 product is exact in float64: one rounding, as an FMA
        return base + step * k
    return _fma(xp, xp.full(k.shape, step), k, base)


def _as_dtype_array(values, dt: np.dtype):
    """Float values in ``dt``; to an integer dtype truncated as C casts them on x86 (and so
    PyTorch): through int32 for the narrow types, an out-of-range value becoming the minimum."""
    if dt.kind in "iu":
        with np.errstate(invalid="ignore"):
            return values.astype("int64" if dt.itemsize == 8 else "int32").astype(dt)
    return values.astype(dt)


def _wrapped(value, dt: np.dtype) -> int:
    """``int(value)`` stored in the integer dtype ``dt`` (wrapping, as PyTorch's Scalar cast)."""
    return int(np.array(int(value)).astype(dt))


def linspace(start, end, steps, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """``steps`` values evenly spaced from ``start`` to ``end`` inclusive, computed as PyTorch
    does (integer dtypes truncate toward zero)."""
    start, end = _number(start, "linspace", "start"), _number(end, "linspace", "end")
    steps = _steps(steps, "linspace")
    dt = as_dtype(dtype) or DEFAULT_FLOAT
    if dt.kind == "b":
        raise NotImplementedError("linspace: not implemented for bool")
    if dt.kind in "iu" and steps:  # as PyTorch: an int wraps into uint8, others must fit
        info = np.iinfo(dt)
        for name, v in (("start", start), ("end", end)):
            wraps = dt == np.uint8 and isinstance(v, numbers.Integral)
            if not (wraps or info.min <= v <= info.max):
                raise RuntimeError(f"linspace: {name}={v} cannot be converted to {dt} without "
                                   f"overflow (its range is [{info.min}, {info.max}])")
    backend = get_backend(device)
    array = _as_dtype_array(_spaced(backend.xp, start, end, steps, dt), dt)
    return Tensor._make(array, backend).requires_grad_(requires_grad)


def _pow(base: float, x: float) -> float:
    """C's ``pow`` (NumPy's vectorised power can differ from it in the last bit)."""
    try:
        return math.pow(base, x)
    except OverflowError:
        return math.inf
    except ValueError:  # a negative base to a fractional power
        return math.nan


def logspace(start, end, steps, base: float = 10.0, dtype=None, device=None,
             requires_grad: bool = False) -> Tensor:
    """``base ** linspace(start, end, steps)`` as PyTorch's CPU kernel computes it: start and
    end in ``dtype`` (integers truncated), the step, exponents and powers in float64 (an
    integer dtype's base in float32), one rounding to ``dtype``."""
    start, end = _number(start, "logspace", "start"), _number(end, "logspace", "end")
    steps = _steps(steps, "logspace")
    base = float(_number(base, "logspace", "base"))
    dt = as_dtype(dtype) or DEFAULT_FLOAT
    if dt.kind == "b":
        raise NotImplementedError("logspace: not implemented for bool")
    if steps == 1:  # PyTorch fills base ** start, start as given (not cast to dtype)
        exponents = np.full((1,), float(start))
    else:
        integral = dt.kind in "iu"
        s, e = (_wrapped(v, dt) if integral else dt.type(v) for v in (start, end))
        step = float(e - s) / (steps - 1)
        i = np.arange(steps, dtype="int64")
        lower = i < steps // 2
        k = np.where(lower, i, -(steps - 1 - i)).astype("float64")
        exponents = np.where(lower, float(s), float(e)) + step * k
        if integral:
            base = float(np.float32(base))  # PyTorch takes an integer dtype's base as float32
    values = np.array([_pow(base, x) for x in exponents.tolist()], dtype="float64")
    backend = get_backend(device)
    with np.errstate(invalid="ignore", over="ignore"):
        array = backend.from_host(_as_dtype_array(values, dt))
    return Tensor._make(array, backend).requires_grad_(requires_grad)


def meshgrid(*tensors, indexing: str | None = None) -> tuple[Tensor, ...]:
    """Coordinate grids from 0-d or 1-d tensors: ``indexing="ij"`` (the default, with
    PyTorch's warning that it will become required) gives shape ``(n0, n1, ...)``, ``"xy"``
    swaps the first two dims (``(n1, n0, ...)``, NumPy's default). Differentiable (reshape +
    expand)."""
    import warnings

    from gradflow.ops.shape import broadcast_to, reshape

    if len(tensors) == 1 and isinstance(tensors[0], list | tuple):
        tensors = tuple(tensors[0])
    if not tensors:
        raise RuntimeError("meshgrid expects a non-empty TensorList")
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"meshgrid: expected a Tensor as element {i}, got "
                            f"{type(t).__name__}")
        if t.ndim > 1:
            raise RuntimeError(f"meshgrid: expected 0D or 1D tensors, got shape {t.shape} as "
                               f"element {i}")
        if t.dtype != tensors[0].dtype or t.device != tensors[0].device:
            raise RuntimeError(f"meshgrid expects all tensors to have the same dtype and "
                               f"device, got {tensors[0].dtype} on {tensors[0].device} and "
                               f"{t.dtype} on {t.device} (element {i}); convert them first")
    if indexing is None:
        warnings.warn("meshgrid: in an upcoming release, it will be required to pass the "
                      "indexing argument (PyTorch's warning); pass indexing='ij' (the default) "
                      "or 'xy'", UserWarning, stacklevel=2)
        indexing = "ij"
    if indexing not in ("ij", "xy"):
        raise RuntimeError(f'meshgrid: indexing must be one of "xy" or "ij", but received: '
                           f"{indexing}")
    sizes = [t.numel() for t in tensors]
    place = list(range(len(tensors)))
    if indexing == "xy" and len(tensors) >= 2:
        place[0], place[1] = 1, 0
    shape = [0] * len(tensors)
    for i, p in enumerate(place):
        shape[p] = sizes[i]
    out = []
    for i, t in enumerate(tensors):
        view = [1] * len(tensors)
        view[place[i]] = sizes[i]
        out.append(broadcast_to(reshape(t, tuple(view)), tuple(shape)))
    return tuple(out)


def eye(n: int, m: int | None = None, dtype=None, device=None) -> Tensor:
    backend = get_backend(device)
    return Tensor._make(backend.xp.eye(n, m, dtype=as_dtype(dtype) or DEFAULT_FLOAT), backend)


def _float_dtype(dtype, who: str) -> np.dtype:
    dt = as_dtype(dtype) or DEFAULT_FLOAT
    if not is_floating(dt):
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
