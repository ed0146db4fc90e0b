"""Sorting kernels with PyTorch's order: NaN above every number, stable on ties (descending
keeps tied elements in their original order too)."""

from __future__ import annotations

from gradflow.dtypes import is_inexact
from gradflow.kernels import kernel


def _argsort(xp, a, axis):
    if xp.__name__ == "numpy":
        return xp.argsort(a, axis=axis, kind="stable")
    return xp.argsort(a, axis=axis)  # CuPy's sort is a stable radix sort


@kernel
def sort_indices(xp, a, axis, descending=False):
    """int64 indices that sort ``a`` along ``axis``. Descending: the ascending stable sort of
    the reversed array, reversed back (NaN first, ties in their original order)."""
    if not descending:
        return _argsort(xp, a, axis).astype("int64", copy=False)
    n = a.shape[axis]
    rev = xp.flip(_argsort(xp, xp.flip(a, axis), axis), axis)
    return (n - 1 - rev).astype("int64", copy=False)


@kernel
def topk_indices(xp, a, k, axis, largest=True):
    """int64 indices of the ``k`` largest (smallest) elements along ``axis``, in sorted order:
    a partition (O(n)) and a sort of the ``k`` chosen, not a sort of all ``n``."""
    n = a.shape[axis]
    if not 0 < k < n:
        return sort_indices(xp, a, axis, largest)[(slice(None),) * axis + (slice(0, k),)]
    keep = (slice(None),) * axis + ((slice(n - k, n) if largest else slice(0, k)),)
    part = xp.argpartition(a, n - k if largest else k - 1, axis=axis)[keep]
    order = sort_indices(xp, xp.take_along_axis(a, part, axis), axis, largest)
    return xp.take_along_axis(part, order, axis).astype("int64", copy=False)


@kernel
def mode_rows(xp, a):
    """For each row of a 2-d ``a``: the index of the last occurrence of its most frequent value
    (the smallest such value on ties), PyTorch's ``mode``."""
    rows, n = a.shape
    order = _argsort(xp, a, 1)
    s = xp.take_along_axis(a, order, 1)
    new = xp.ones(a.shape, dtype=bool)
    new[:, 1:] = s[:, 1:] != s[:, :-1]
    if is_inexact(a.dtype):  # NaNs count as one value (as PyTorch)
        nan = xp.isnan(s)
        new[:, 1:] &= ~(nan[:, 1:] & nan[:, :-1])
    run = xp.cumsum(new.reshape(-1)) - 1
    length = xp.bincount(run)[run].reshape(a.shape)
    first = xp.argmax(length, axis=1)  # the start of the first (smallest) longest run
    last = first + xp.take_along_axis(length, first[:, None], 1)[:, 0] - 1
    return xp.take_along_axis(order, last[:, None], 1)[:, 0].astype("int64", copy=False)
