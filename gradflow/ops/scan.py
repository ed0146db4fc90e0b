"""Scans along one dim: cumsum, cumprod, cummax, cummin, logcumsumexp (PyTorch's semantics).

- ``cumsum``: y_j = sum_{i<=j} x_i; its vjp is the reversed cumsum of g (a flag of the same
  Function, so every order of derivative is one more scan).
- ``cumprod``: with a gradient to record, a Hillis-Steele scan of multiplications
  (``log2(n)`` of them): exact with zeros in the input (no division), twice differentiable
  through ``mul``; without one, the backend's kernel.
- ``cummax``/``cummin``: (values, indices); the values are the input gathered at the indices,
  so the gradient goes to the chosen element.
- ``logcumsumexp``: y_j = log sum_{i<=j} exp(x_i), stable; dL/dx_i = sum_{j>=i} g_j
  exp(x_i - y_j): the vjp computes it in log space as PyTorch (the positive and negative
  parts of g), the composed backward as a linear recurrence whose factors are at most 1.
"""

from __future__ import annotations

import collections
import numbers

from gradflow.autograd.function import Function
from gradflow.autograd.grad_mode import is_grad_enabled
from gradflow.dtypes import is_floating
from gradflow.ops._util import tensor_arg
from gradflow.ops.math import exp
from gradflow.ops.shape import _dim, concatenate
from gradflow.tensor import Tensor, _inplace, tensor_methods

cummax_result = collections.namedtuple("cummax", ["values", "indices"])
cummin_result = collections.namedtuple("cummin", ["values", "indices"])


class CumSum(Function):
    """Inclusive sums along ``axis`` (from the end when ``reverse``): each is the other's
    adjoint."""

    @staticmethod
    def forward(ctx, a, axis, reverse):
        ctx.axis, ctx.reverse = axis, reverse
        return ctx.k.scan_cumsum(a, axis, reverse)

    @staticmethod
    def vjp(ctx, g):
        return ctx.k.scan_cumsum(g, ctx.axis, not ctx.reverse)

    @staticmethod
    def backward(ctx, g):
        return CumSum.apply(g, ctx.axis, not ctx.reverse)


class LogCumSumExp(Function):
    @staticmethod
    def forward(ctx, a, axis, reverse):
        ctx.axis, ctx.reverse = axis, reverse
        out = ctx.k.scan_logcumsumexp(a, axis, reverse)
        ctx.save_for_backward(a, out)
        return out

    @staticmethod
    def vjp(ctx, g):
        a, out = ctx.saved_arrays
        return ctx.k.scan_logcumsumexp_backward(g, a, out, ctx.axis, ctx.reverse)

    @staticmethod
    def backward(ctx, g):
        a, out = ctx.saved_tensors
        return _logcumsumexp_grad(g, a, out, ctx.axis, ctx.reverse)


def _logcumsumexp_grad(g: Tensor, a: Tensor, out: Tensor, d: int, reverse: bool) -> Tensor:
    """dL/da_i = exp(a_i - y_i) H_i with H_i = sum_{j>=i} g_j exp(y_i - y_j), written with
    differentiable ops and stable to every order: y is non-decreasing, so every factor
    exp(y_i - y_{i+1}) is at most 1. H is the reversed linear recurrence
    H_i = g_i + exp(y_i - y_{i+1}) H_{i+1}, run as a Hillis-Steele scan (log2(n) passes)."""
    lead = (slice(None),) * d
    if reverse:  # the scan ran from the end: mirror it
        back = lead + (slice(None, None, -1),)
        return _logcumsumexp_grad(g[back], a[back], out[back], d, False)[back]
    n = g.shape[d]

    def part(t: Tensor, lo: int, hi: int) -> Tensor:
        return t[lead + (slice(lo, hi),)]

    h, s = g, 1
    decay = exp(part(out, 0, n - 1) - part(out, 1, n))  # decay_i = prod of s factors from i
    while s < n:
        h = concatenate([part(h, 0, n - s) + decay * part(h, s, n), part(h, n - s, n)], d)
        if n - 2 * s > 0:
            decay = part(decay, 0, n - 2 * s) * part(decay, s, n - s)
        s *= 2
    return exp(a - out) * h


def _scan_dim(input, dim, axis, op: str) -> int:  # noqa: A002
    tensor_arg(input, op)
    dim = dim if axis is None else axis
    if dim is None:
        raise TypeError(f"{op}(): missing the required argument 'dim' (the dim to scan along, "
                        f"e.g. {op}(x, dim=0))")
    if isinstance(dim, bool) or not isinstance(dim, numbers.Integral):
        raise TypeError(f"{op}(): argument 'dim' must be an int, got {dim!r}")
    return _dim(int(dim), input.ndim, op)


def _accumulating(input: Tensor, dtype) -> Tensor:  # noqa: A002
    """``input`` cast to ``dtype``, or integer/bool inputs to int64 (PyTorch's rule)."""
    if dtype is not None:
        return input.to(dtype=dtype)
    if input.dtype.kind in "biu":
        return input.to(dtype="int64")
    return input


def _records(t: Tensor) -> bool:
    return t.requires_grad and is_grad_enabled()


def cumsum(input: Tensor, dim=None, *, dtype=None, axis=None) -> Tensor:  # noqa: A002
    """y_j = sum_{i<=j} x_i along ``dim``; integer and bool inputs accumulate in int64."""
    d = _scan_dim(input, dim, axis, "cumsum")
    x = _accumulating(input, dtype)
    if x.ndim == 0:
        return x.clone() if x is input else x
    return CumSum.apply(x, d, False)


def _cumprod_scan(x: Tensor, d: int) -> Tensor:
    """The Hillis-Steele scan: after the pass with shift s, y_j = prod_{j-2s<i<=j} x_i."""
    lead = (slice(None),) * d
    n, s, y = x.shape[d], 1, x
    while s < n:
        y = concatenate([y[lead + (slice(0, s),)],
                         y[lead + (slice(s, n),)] * y[lead + (slice(0, n - s),)]], d)
        s *= 2
    return y


def cumprod(input: Tensor, dim=None, *, dtype=None, axis=None) -> Tensor:  # noqa: A002
    """y_j = prod_{i<=j} x_i along ``dim``; integer and bool inputs accumulate in int64. The
    gradient is exact where the input has zeros."""
    d = _scan_dim(input, dim, axis, "cumprod")
    x = _accumulating(input, dtype)
    if x.ndim == 0:
        return x.clone() if x is input else x
    if _records(x):
        return _cumprod_scan(x, d)
    return Tensor._make(x._backend.k.scan_cumprod(x.array, d), x._backend)


def _cumextremum(input: Tensor, dim, axis, larger: bool):  # noqa: A002
    op = "cummax" if larger else "cummin"
    d = _scan_dim(input, dim, axis, op)
    result = cummax_result if larger else cummin_result
    backend = input._backend
    if input.ndim == 0:
        return result(input.clone(), Tensor._make(backend.xp.zeros((), "int64"), backend))
    values, index = backend.k.scan_cumextremum(input.array, d, larger)
    indices = Tensor._make(index, backend)
    if not _records(input):
        return result(Tensor._make(values, backend), indices)
    xp = backend.xp
    where_ = [xp.arange(n).reshape((-1,) + (1,) * (input.ndim - 1 - i))
              for i, n in enumerate(input.shape)]
    where_[d] = index
    return result(input[tuple(where_)], indices)  # gathered: the gradient goes to the index


def cummax(input: Tensor, dim=None, *, axis=None):  # noqa: A002
    """(values, indices): the running maximum along ``dim`` and where it was found (ties: the
    later index; a NaN propagates)."""
    return _cumextremum(input, dim, axis, True)


def cummin(input: Tensor, dim=None, *, axis=None):  # noqa: A002
    """(values, indices): the running minimum along ``dim`` (ties: the later index)."""
    return _cumextremum(input, dim, axis, False)


def logcumsumexp(input: Tensor, dim=None, *, axis=None) -> Tensor:  # noqa: A002
    """y_j = log sum_{i<=j} exp(x_i) along ``dim``, stable for large and small x."""
    d = _scan_dim(input, dim, axis, "logcumsumexp")
    if not is_floating(input.dtype):
        raise NotImplementedError(f"logcumsumexp: not implemented for {input.dtype} inputs; "
                                  "convert first, e.g. x.float()")
    if input.ndim == 0:
        return input.clone()
    return LogCumSumExp.apply(input, d, False)


def cumsum_(self: Tensor, dim=None, *, dtype=None, axis=None) -> Tensor:
    """In-place ``cumsum`` (the result keeps this tensor's dtype, as PyTorch)."""
    return _inplace(self, None, lambda a, _: cumsum(a, dim, dtype=dtype, axis=axis), "cumsum_")


def cumprod_(self: Tensor, dim=None, *, dtype=None, axis=None) -> Tensor:
    """In-place ``cumprod`` (the result keeps this tensor's dtype, as PyTorch)."""
    return _inplace(self, None, lambda a, _: cumprod(a, dim, dtype=dtype, axis=axis),
                    "cumprod_")


tensor_methods(cumsum=cumsum, cumprod=cumprod, cummax=cummax, cummin=cummin,
               logcumsumexp=logcumsumexp, cumsum_=cumsum_, cumprod_=cumprod_)
