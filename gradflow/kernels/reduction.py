"""Reduction kernels: sum, mean, max/min, variance and argmax, with their backward kernels.

Backward kernels take the gradient ``g`` of the reduced output and ``kshape``, the output's shape
with the reduced axes kept as 1 (so ``g.reshape(kshape)`` broadcasts against the input)."""

from __future__ import annotations

from gradflow.dtypes import compute_in_float32
from gradflow.kernels import kernel


@kernel
def sum(xp, a, axis=None, keepdims=False):  # noqa: A001
    if a.dtype.char in "eE":  # float16/bfloat16: accumulate in float32, as PyTorch
        return xp.sum(a, axis=axis, keepdims=keepdims, dtype="float32").astype(a.dtype)
    return xp.sum(a, axis=axis, keepdims=keepdims)


@kernel
def mean(xp, a, axis=None, keepdims=False):
    if a.dtype.char in "eE":
        return xp.mean(a, axis=axis, keepdims=keepdims, dtype="float32").astype(a.dtype)
    return xp.mean(a, axis=axis, keepdims=keepdims)


@kernel
def sum_backward(xp, g, kshape, in_shape, divisor=None):
    """dL/da of a sum (of a mean when ``divisor`` = n): g spread back over the reduced axes.

    Returns a read-only broadcast view (the engine copies a view before it becomes ``.grad``)."""
    g = g.reshape(kshape)
    if divisor is not None:
        g = g / divisor
    return xp.broadcast_to(g, in_shape)


@kernel
def amax(xp, a, axis=None, keepdims=False):
    return xp.max(a, axis=axis, keepdims=keepdims)


@kernel
def amin(xp, a, axis=None, keepdims=False):
    return xp.min(a, axis=axis, keepdims=keepdims)


@kernel
def extremum_mask(xp, a, out_keepdims, axis=None):
    """Where ``a`` attains its max/min, ``1/count`` (ties share the gradient equally), else 0."""
    hit = (a == out_keepdims).astype(a.dtype)
    return hit / xp.sum(hit, axis=axis, keepdims=True)


@kernel
def extremum_backward(xp, g, a, out, kshape, axis=None):
    """dL/da of a max/min: g where ``a`` attains the extremum ``out``, shared between ties."""
    return g.reshape(kshape) * extremum_mask(xp, a, out.reshape(kshape), axis=axis)


@kernel
@compute_in_float32
def var(xp, a, axis=None, keepdims=False, ddof=0):
    """Variance in two passes (mean, then mean squared deviation), never negative."""
    mu = xp.mean(a, axis=axis, keepdims=True)
    d = a - mu
    n = a.size if axis is None else _count(a.shape, axis)
    out = xp.sum(d * d, axis=axis, keepdims=keepdims) / max(n - ddof, 0)
    return out


@kernel
@compute_in_float32
def var_backward(xp, g, a, kshape, scale, axis=None):
    """dL/da of a variance: g · scale · (a − mean a), with ``scale`` = 2 / (n − ddof)."""
    return g.reshape(kshape) * ((a - xp.mean(a, axis=axis, keepdims=True)) * scale)


def _count(shape, axis):
    if isinstance(axis, int):
        axis = (axis,)
    n = 1
    for ax in axis:
        n *= shape[ax]
    return n


@kernel
def argmax(xp, a, axis=None, keepdims=False):
    return xp.argmax(a, axis=axis, keepdims=keepdims)


@kernel
def argmin(xp, a, axis=None, keepdims=False):
    return xp.argmin(a, axis=axis, keepdims=keepdims)
