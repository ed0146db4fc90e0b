"""Kernels of the logical, bitwise and predicate ops (PyTorch's shift and isclose rules)."""

from __future__ import annotations

import contextlib

from gradflow.dtypes import is_inexact
from gradflow.kernels import kernel


@kernel
def torch_shift(xp, a, b, left):
    """a << b (``left``) or a >> b on integer arrays of one dtype, as PyTorch: a shift by a
    negative amount or by at least the bit width gives 0 (−1 for a right shift of a negative)."""
    bits = a.dtype.itemsize * 8
    outside = (b < 0) | (b >= bits)
    safe = xp.where(outside, 0, b).astype(b.dtype, copy=False)
    if left:
        out = xp.left_shift(a, safe)
        fill = xp.zeros((), out.dtype)
    else:
        out = xp.right_shift(a, safe)
        fill = -(a < 0).astype(out.dtype)
    return xp.where(outside, fill, out)


@kernel
def torch_isclose(xp, a, b, rtol, atol, equal_nan):
    """PyTorch's isclose: a == b, or |a − b| finite and ≤ atol + |rtol·b|; NaN equal to NaN
    only with ``equal_nan``. Integers and bools are compared in float32 (PyTorch's default
    float)."""
    close = a == b
    if equal_nan and is_inexact(a.dtype):
        close |= xp.isnan(a) & xp.isnan(b)
    if rtol == 0 and atol == 0:
        return close
    if a.dtype.kind in "biu":
        a = a.astype("float32")
        b = b.astype("float32")
    with _quiet(xp):
        err = xp.abs(a - b)
        close |= xp.isfinite(err) & (err <= atol + xp.abs(rtol * b))
    return close


def _quiet(xp):
    if xp.__name__ == "numpy":
        return xp.errstate(invalid="ignore", over="ignore")
    return contextlib.nullcontext()
