"""dtype names and the default floating dtype."""

from __future__ import annotations

from typing import Any

import numpy as np

float16 = np.dtype("float16")
float32 = np.dtype("float32")
float64 = np.dtype("float64")
int32 = np.dtype("int32")
int64 = np.dtype("int64")
uint8 = np.dtype("uint8")
bool_ = np.dtype("bool")

DEFAULT_FLOAT = float32

_ALIASES = {"float": float32, "double": float64, "half": float16, "long": int64, "int": int64,
            "bool": bool_}


def as_dtype(dtype: Any) -> np.dtype | None:
    """Normalize a dtype given as a string, NumPy dtype or Python type (``None`` stays None)."""
    if dtype is None:
        return None
    if isinstance(dtype, np.dtype):
        return dtype
    if dtype is float:
        return float32
    if dtype is int:
        return int64
    if dtype is bool:
        return bool_
    if isinstance(dtype, str) and dtype in _ALIASES:
        return _ALIASES[dtype]
    try:
        return np.dtype(dtype)
    except TypeError as exc:
        raise TypeError(f"unknown dtype {dtype!r}: use e.g. 'float32', 'float64', 'int64'") \
            from exc
