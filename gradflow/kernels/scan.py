"""Scan kernels: cumulative sums, products, extrema and log-sum-exps along one axis.

A scan whose ufunc has no ``accumulate`` on the backend runs as a Hillis-Steele scan:
``log2(n)`` passes of ``out[s:] = op(out[s:], out[:-s])`` for ``s = 1, 2, 4, ...``.
"""

from __future__ import annotations

from gradflow.dtypes import is_inexact
from gradflow.kernels import kernel


def _accumulate(xp, op, a, axis: int):
    """``op.accumulate(a, axis)`` where the backend has it, else the Hillis-Steele scan."""
    acc = getattr(op, "accumulate", None)
    if acc is not None:
        try:
            return acc(a, axis=axis)
        except (NotImplementedError, TypeError):
            pass
    out = xp.moveaxis(a, axis, 0).copy()
    s = 1
    while s < out.shape[0]:
        out[s:] = op(out[s:], out[:-s])  # the right side is computed before it is written
        s *= 2
    return xp.moveaxis(out, 0, axis)


def _flip(xp, a, axis: int, reverse: bool):
    return xp.flip(a, axis) if reverse else a


@kernel
def scan_cumsum(xp, a, axis: int, reverse: bool = False):
    """Inclusive sums along ``axis`` (from the end when ``reverse``)."""
    out = xp.cumsum(_flip(xp, a, axis, reverse), axis=axis, dtype=a.dtype)
    return _flip(xp, out, axis, reverse)


@kernel
def scan_cumprod(xp, a, axis: int):
    return xp.cumprod(a, axis=axis, dtype=a.dtype)


@kernel
def scan_logcumsumexp(xp, a, axis: int, reverse: bool = False):
    """``log(cumsum(exp(a)))`` along ``axis``, stable: each step is a ``logaddexp``."""
    out = _accumulate(xp, xp.logaddexp, _flip(xp, a, axis, reverse), axis)
    return _flip(xp, out, axis, reverse)


@kernel
def scan_logcumsumexp_backward(xp, g, a, out, axis: int, reverse: bool = False):
    """dL/da_i = sum_{j >= i} g_j exp(a_i - out_j), as PyTorch (and TensorFlow) compute it:
    the positive and negative parts of ``g`` in log space, each a reversed logcumsumexp."""
    lowest = xp.finfo(g.dtype).min
    log_abs = xp.log(xp.where(g != 0, xp.abs(g), 1))
    parts = []
    for mask in (g > 0, g < 0):
        w = xp.where(mask, log_abs, lowest) - out
        parts.append(xp.exp(scan_logcumsumexp(xp, w, axis, not reverse) + a))
    return parts[0] - parts[1]


@kernel
def scan_cumextremum(xp, a, axis: int, larger: bool):
    """(running max or min, its index) along ``axis``. As PyTorch: ties take the later index,
    and a NaN is the extremum from where it appears (a later NaN takes over the index)."""
    values = _accumulate(xp, xp.maximum if larger else xp.minimum, a, axis)
    hit = a == values
    if is_inexact(a.dtype):
        hit |= xp.isnan(a)
    shape = [1] * a.ndim
    shape[axis] = a.shape[axis]
    pos = xp.arange(a.shape[axis], dtype="int64").reshape(shape)
    index = _accumulate(xp, xp.maximum, xp.where(hit, pos, 0), axis)
    return values, index
