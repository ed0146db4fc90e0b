"""PyTorch's type promotion for elementwise ops over Tensors and Python numbers.

Three tiers, each promoted on its own: dimensioned tensors, zero-dim tensors, Python numbers
(bool < int < float < complex; a Python float means the default float dtype). A lower tier
counts only when its category is higher than the tier above it: ``int64 tensor + 2.5`` is
float32, ``float32 tensor + float64 zero-dim tensor`` stays float32, ``int32 tensor + 7`` int32.
"""

from __future__ import annotations

from gradflow.dtypes import DEFAULT_FLOAT, bool_, complex64, complex128, float32, int64
from gradflow.tensor import Tensor

_CATEGORY = {"b": 0, "u": 1, "i": 1, "f": 2, "c": 3, "V": 2}  # "V": ml_dtypes' bfloat16


def promote_types(a, b):
    """PyTorch's promotion of two dtypes (an integer with a float gives the float)."""
    if a is None:
        return b
    if b is None or a == b:
        return a
    ca, cb = _CATEGORY[a.kind], _CATEGORY[b.kind]
    if ca != cb:
        hi, lo = (a, b) if ca > cb else (b, a)
        if hi.kind == "c" and ca + cb == 5 and lo.itemsize * 2 > hi.itemsize:
            return complex128
        return hi
    if ca == 2:  # float16 with bfloat16 gives float32, as PyTorch
        if a.itemsize == b.itemsize:
            return float32
        return a if a.itemsize > b.itemsize else b
    return (a.type(0) + b.type(0)).dtype  # NumPy's integer promotion is PyTorch's


def _scalar_dtype(x):
    if isinstance(x, bool):
        return bool_
    if isinstance(x, int):
        return int64
    if isinstance(x, float):
        return DEFAULT_FLOAT
    return complex64


def _combine(higher, lower):
    """torch's combine_categories: a lower tier counts only when its category (bool < int <
    float < complex) is above the higher tier's; a complex number with a float tensor takes the
    tensor's width (complex64 for float16/bfloat16/float32: gradflow has no complex32)."""
    if higher is None:
        return lower
    if lower is None:
        return higher
    ch, cl = _CATEGORY[higher.kind], _CATEGORY[lower.kind]
    if cl <= ch:
        return higher
    if ch == 2:
        return complex128 if higher.itemsize == 8 else complex64
    return promote_types(higher, lower)


def result_dtype(op: str, *operands, floating: bool = False):
    """The dtype of ``op``'s result over ``operands`` (Tensors, Python numbers, None skipped);
    ``floating`` turns an integer/bool result into the default float dtype (true division,
    atan2...)."""
    dim = zero = wrapped = None
    seen = False
    for x in operands:
        if isinstance(x, Tensor):
            seen = True
            if x.ndim:
                dim = promote_types(dim, x.dtype)
            else:
                zero = promote_types(zero, x.dtype)
    if not seen:
        raise TypeError(f"{op}: at least one operand must be a Tensor")
    for x in operands:
        if x is not None and not isinstance(x, Tensor):
            wrapped = promote_types(wrapped, _scalar_dtype(x))
    out = _combine(dim, _combine(zero, wrapped))
    if floating and out.kind in "biu":
        return DEFAULT_FLOAT
    return out
