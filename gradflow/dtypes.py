"""dtype names (PyTorch's, as NumPy dtypes) and the default floating dtype.

``gf.float32 is np.dtype("float32")``, so ``t.dtype == gf.float32`` and ``t.dtype == np.float32``
both hold. PyTorch's aliases: ``float``/``double``/``half`` are float32/float64/float16,
``long``/``int``/``short`` int64/int32/int16; ``bfloat16`` comes from ``ml_dtypes``.
"""

from __future__ import annotations

from typing import Any

import ml_dtypes
import numpy as np

float16 = half = np.dtype("float16")
bfloat16 = np.dtype(ml_dtypes.bfloat16)
float32 = float = np.dtype("float32")  # noqa: A001 - PyTorch's names
float64 = double = np.dtype("float64")
complex64 = cfloat = np.dtype("complex64")
complex128 = cdouble = np.dtype("complex128")
int8 = np.dtype("int8")
int16 = short = np.dtype("int16")
int32 = int = np.dtype("int32")  # noqa: A001
int64 = long = np.dtype("int64")
uint8 = np.dtype("uint8")
bool = bool_ = np.dtype("bool")  # noqa: A001

DEFAULT_FLOAT = float32

_ALIASES = {"float": float32, "double": float64, "half": float16, "bfloat16": bfloat16,
            "long": int64, "int": int32, "short": int16, "bool": bool_, "cfloat": complex64,
            "cdouble": complex128}

def _builtin(name: str):
    import builtins

    return getattr(builtins, name)


_PYTHON = {_builtin("float"): float32, _builtin("int"): int64, _builtin("bool"): bool_,
           _builtin("complex"): complex64}


def as_dtype(dtype: Any) -> np.dtype | None:
    """Normalize a dtype given as a string, NumPy dtype or Python type (``None`` stays None).

    Strings take PyTorch's names (``"float"`` is float32, ``"int"`` int32, ``"long"`` int64) and
    NumPy's; the Python types ``float``/``int``/``bool`` give float32/int64/bool (PyTorch's
    defaults for Python numbers)."""
    if dtype is None:
        return None
    if isinstance(dtype, np.dtype):
        return dtype
    py = _PYTHON.get(dtype) if isinstance(dtype, type) else None
    if py is not None:
        return py
    if isinstance(dtype, str):
        name = dtype[6:] if dtype.startswith("torch.") else dtype
        if name in _ALIASES:
            return _ALIASES[name]
        dtype = name
    try:
        return np.dtype(dtype)
    except TypeError as exc:
        raise TypeError(f"unknown dtype {dtype!r}: use e.g. gf.float32, gf.float64, gf.int64 "
                        "(or their names as strings)") from exc


def get_default_dtype() -> np.dtype:
    return DEFAULT_FLOAT


#: The 16-bit floating dtypes (NumPy's kind is ``"f"`` for float16 but ``"V"`` for ml_dtypes'
#: bfloat16, so test floating-ness with :func:`is_floating`, never ``dtype.kind == "f"``).
LOW_PRECISION = (float16, bfloat16)


def is_floating(dtype: Any) -> bool:
    """Whether ``dtype`` is a real floating dtype (float16, bfloat16, float32, float64)."""
    return dtype.kind == "f" or dtype == bfloat16


def is_inexact(dtype: Any) -> bool:
    """Whether ``dtype`` is floating or complex (the dtypes that can carry gradients)."""
    return dtype.kind in "fc" or dtype == bfloat16


def is_low_precision(dtype: Any) -> bool:
    """Whether ``dtype`` is float16 or bfloat16."""
    return dtype.char in "eE"


def compute_in_float32(fn):
    """Decorate a kernel ``fn(xp, *arrays, **params)`` so that float16/bfloat16 arrays are
    computed in float32 and its floating results stored back in the low dtype, as PyTorch's CPU
    kernels do (float32 accumulation; NumPy's float16 matmul has no BLAS and bfloat16
    reductions accumulate in bfloat16). Other dtypes pass through untouched (~0.3 µs a call)."""
    import functools

    @functools.wraps(fn)
    def wrapper(xp, *args, **kwargs):
        # the first array argument decides (the ops give their kernels one floating dtype)
        first = args[0] if args[0].__class__ is not str else args[1]  # einsum: equation first
        if first.itemsize != 2 or first.dtype.char not in "eE":
            return fn(xp, *args, **kwargs)
        low = first.dtype
        args = [a.astype(float32) if getattr(a, "dtype", None) is not None
                and a.dtype.char in "eE" else a for a in args]
        out = fn(xp, *args, **kwargs)
        if isinstance(out, tuple):
            return tuple(_store(o, low) for o in out)
        return _store(out, low)

    return wrapper


def _store(out, low):
    if getattr(out, "dtype", None) is not None and out.dtype == float32:
        return out.astype(low)
    return out
