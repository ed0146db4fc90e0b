"""Reductions: sum, mean, max, min, var (and argmax/argmin, which have no gradient)."""

from __future__ import annotations

from gradflow.autograd.function import Function
from gradflow.ops._util import count, first_order, keepdims_shape, norm_axes, wrap
from gradflow.ops.shape import broadcast_to, reshape
from gradflow.tensor import Tensor


def _expand(ctx, g: Tensor) -> Tensor:
    """Broadcast the gradient of a reduction back to the input's shape."""
    kshape = keepdims_shape(ctx.in_shape, ctx.axes)
    if first_order():
        return wrap(ctx, ctx.k.broadcast_to(g.data.reshape(kshape), ctx.in_shape))
    return broadcast_to(reshape(g, kshape), ctx.in_shape)


class Sum(Function):
    @staticmethod
    def forward(ctx, a, axes, keepdims):
        ctx.in_shape, ctx.axes = a.shape, axes
        return ctx.k.sum(a, axis=axes, keepdims=keepdims)

    @staticmethod
    def backward(ctx, g):
        return _expand(ctx, g)


class Mean(Function):
    @staticmethod
    def forward(ctx, a, axes, keepdims):
        ctx.in_shape, ctx.axes = a.shape, axes
        return ctx.k.mean(a, axis=axes, keepdims=keepdims)

    @staticmethod
    def backward(ctx, g):
        return _expand(ctx, g / count(ctx.in_shape, ctx.axes))


class _Extremum(Function):
    @staticmethod
    def backward(ctx, g):
        (a, out) = ctx.saved_tensors
        kshape = keepdims_shape(ctx.in_shape, ctx.axes)
        mask = ctx.k.extremum_mask(a.data, out.data.reshape(kshape), axis=ctx.axes)
        return _expand(ctx, g) * wrap(ctx, mask)


class Amax(_Extremum):
    @staticmethod
    def forward(ctx, a, axes, keepdims):
        ctx.in_shape, ctx.axes = a.shape, axes
        out = ctx.k.amax(a, axis=axes, keepdims=keepdims)
        ctx.save_for_backward(a, out)
        return out


class Amin(_Extremum):
    @staticmethod
    def forward(ctx, a, axes, keepdims):
        ctx.in_shape, ctx.axes = a.shape, axes
        out = ctx.k.amin(a, axis=axes, keepdims=keepdims)
        ctx.save_for_backward(a, out)
        return out


class Var(Function):
    """Variance (two passes). d var / dx = 2 (x − mean) / (n − ddof)."""

    @staticmethod
    def forward(ctx, a, axes, keepdims, ddof):
        ctx.in_shape, ctx.axes, ctx.ddof = a.shape, axes, ddof
        ctx.save_for_backward(a)
        return ctx.k.var(a, axis=axes, keepdims=keepdims, ddof=ddof)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        scale = 2.0 / max(count(ctx.in_shape, ctx.axes) - ctx.ddof, 1)
        if first_order():
            x = a.data
            centered = x - ctx.k.mean(x, axis=ctx.axes, keepdims=True)
            return _expand(ctx, g) * wrap(ctx, centered * scale)
        return _expand(ctx, g) * ((a - a.mean(ctx.axes, keepdims=True)) * scale)


def _check(a: Tensor, axis, op: str):
    if not isinstance(a, Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(a).__name__}")
    return norm_axes(axis, a.ndim, op)


def _empty_check(a: Tensor, axes, op: str):
    if a.size == 0 or (axes is not None and any(a.shape[i] == 0 for i in axes)):
        raise ValueError(f"{op}: cannot reduce over an empty axis (shape {a.shape})")


def sum(a: Tensor, axis=None, keepdims: bool = False) -> Tensor:  # noqa: A001
    return Sum.apply(a, _check(a, axis, "sum"), keepdims)


def mean(a: Tensor, axis=None, keepdims: bool = False) -> Tensor:
    axes = _check(a, axis, "mean")
    _empty_check(a, axes, "mean")
    return Mean.apply(a, axes, keepdims)


def amax(a: Tensor, axis=None, keepdims: bool = False) -> Tensor:
    axes = _check(a, axis, "max")
    _empty_check(a, axes, "max")
    return Amax.apply(a, axes, keepdims)


def amin(a: Tensor, axis=None, keepdims: bool = False) -> Tensor:
    axes = _check(a, axis, "min")
    _empty_check(a, axes, "min")
    return Amin.apply(a, axes, keepdims)


def var(a: Tensor, axis=None, keepdims: bool = False, ddof: int = 0) -> Tensor:
    axes = _check(a, axis, "var")
    _empty_check(a, axes, "var")
    return Var.apply(a, axes, keepdims, ddof)


def argmax(a: Tensor, axis=None, keepdims: bool = False) -> Tensor:
    if axis is not None:
        axis = norm_axes(axis, a.ndim, "argmax")[0]
    return Tensor._make(a._backend.k.argmax(a.data, axis=axis, keepdims=keepdims), a._backend)


def argmin(a: Tensor, axis=None, keepdims: bool = False) -> Tensor:
    if axis is not None:
        axis = norm_axes(axis, a.ndim, "argmin")[0]
    return Tensor._make(a._backend.k.argmin(a.data, axis=axis, keepdims=keepdims), a._backend)
