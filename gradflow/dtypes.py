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
