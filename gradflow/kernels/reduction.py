"""Reduction kernels: sum, mean, max/min and their tie-sharing gradient mask, variance, argmax."""

from __future__ import annotations

from gradflow.kernels import kernel


@kernel
def sum(xp, a, axis=None, keepdims=False):  # noqa: A001
    return xp.sum(a, axis=axis, keepdims=keepdims)


@kernel
def mean(xp, a, axis=None, keepdims=False):
    return xp.mean(a, axis=axis, keepdims=keepdims)


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
def var(xp, a, axis=None, keepdims=False, ddof=0):
    """Variance in two passes (mean, then mean squared deviation), never negative."""
    mu = xp.mean(a, axis=axis, keepdims=True)
    d = a - mu
    n = a.size if axis is None else _count(a.shape, axis)
    out = xp.sum(d * d, axis=axis, keepdims=keepdims) / max(n - ddof, 0)
    return out


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
