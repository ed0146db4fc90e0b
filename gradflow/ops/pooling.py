"""Pooling (PyTorch's ``max_pool1d/2d``, ``avg_pool1d/2d`` and their adaptive forms), NC* layout.

Max pooling saves the argmax of each window (a flat index into the input plane); its backward
scatters g to those indices and the scatter's adjoint is the gather at the same indices, so
:class:`PoolScatter` and :class:`PoolGather` differentiate each other to every order. Average
pooling is linear, y = A x: :class:`AvgPool` (A) and :class:`AvgPoolAdjoint` (Aᵀ) are each
other's vector-Jacobian product. Adaptive average pooling is composed: y = A_h x A_wᵀ with
the constant averaging matrices of each axis (kernels in :mod:`gradflow.kernels.pooling`).
"""

from __future__ import annotations

import math
import numbers

from gradflow.autograd.function import Function
from gradflow.dtypes import is_floating
from gradflow.kernels.pooling import pool2x2_applies
from gradflow.ops._util import tensor_arg
from gradflow.ops.matmul import matmul
from gradflow.tensor import Tensor


class MaxPool(Function):
    """y = max over each window of x (``kind`` "window" or "adaptive"), and its argmax."""

    @staticmethod
    def forward(ctx, x, *, kind, params, unique, with_indices):
        if kind == "window2x2":
            y, idx = ctx.k.max_pool2x2_forward(x)
        elif kind == "window":
            y, idx = ctx.k.max_pool_forward(x, **params)
        else:
            y, idx = ctx.k.adaptive_max_forward(x, **params)
        ctx.in_spatial, ctx.unique = tuple(x.shape[2:]), unique
        ctx.save_for_backward(idx)
        if not with_indices:
            return y
        ctx.mark_non_differentiable(idx)
        return y, idx

    @staticmethod
    def vjp(ctx, g, *_):
        (idx,) = ctx.saved_arrays
        return ctx.k.pool_scatter(g, idx, ctx.in_spatial, ctx.unique)

    @staticmethod
    def backward(ctx, g, *_):
        (idx,) = ctx.saved_arrays
        return PoolScatter.apply(g, idx, in_spatial=ctx.in_spatial, unique=ctx.unique)


class PoolScatter(Function):
    """gx[n,c,j] = Σ_{i: idx[i] = j} g[n,c,i]; its adjoint is :class:`PoolGather`."""

    @staticmethod
    def forward(ctx, g, idx, *, in_spatial, unique):
        ctx.save_for_backward(idx)
        return ctx.k.pool_scatter(g, idx, in_spatial, unique)

    @staticmethod
    def vjp(ctx, h):
        (idx,) = ctx.saved_arrays
        return ctx.k.pool_gather(h, idx), None

    @staticmethod
    def backward(ctx, h):
        (idx,) = ctx.saved_arrays
        return PoolGather.apply(h, idx), None


class PoolGather(Function):
    """y[n,c,i] = h[n,c,idx[i]]; its adjoint is :class:`PoolScatter`."""

    @staticmethod
    def forward(ctx, h, idx):
        ctx.in_spatial = tuple(h.shape[2:])
        ctx.save_for_backward(idx)
        return ctx.k.pool_gather(h, idx)

    @staticmethod
    def vjp(ctx, g):
        (idx,) = ctx.saved_arrays
        return ctx.k.pool_scatter(g, idx, ctx.in_spatial, False), None

    @staticmethod
    def backward(ctx, g):
        (idx,) = ctx.saved_arrays
        return PoolScatter.apply(g, idx, in_spatial=ctx.in_spatial, unique=False), None


class AvgPool(Function):
    """y = A x: window sums of the zero-padded input over PyTorch's divisor."""

    @staticmethod
    def forward(ctx, x, *, geom):
        ctx.geom, ctx.in_spatial = geom, tuple(x.shape[2:])
        kshape, stride, pad, oshape, include, override = geom
        return ctx.k.avg_pool_forward(x, kshape, stride, pad, oshape, include, override)

    @staticmethod
    def vjp(ctx, g):
        kshape, stride, pad, _, include, override = ctx.geom
        return ctx.k.avg_pool_adjoint(g, ctx.in_spatial, kshape, stride, pad, include, override)

    @staticmethod
    def backward(ctx, g):
        return AvgPoolAdjoint.apply(g, geom=ctx.geom, in_spatial=ctx.in_spatial)


class AvgPoolAdjoint(Function):
    """x̄ = Aᵀ ȳ (each ȳ / divisor spread over its window); its adjoint is :class:`AvgPool`."""

    @staticmethod
    def forward(ctx, g, *, geom, in_spatial):
        ctx.geom = geom
        kshape, stride, pad, _, include, override = geom
        return ctx.k.avg_pool_adjoint(g, in_spatial, kshape, stride, pad, include, override)

    @staticmethod
    def vjp(ctx, h):
        kshape, stride, pad, oshape, include, override = ctx.geom
        return ctx.k.avg_pool_forward(h, kshape, stride, pad, oshape, include, override)

    @staticmethod
    def backward(ctx, h):
        return AvgPool.apply(h, geom=ctx.geom)


# -- argument checking --------------------------------------------------------------------------

def _is_int(v) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def _ints(value, nd: int, op: str, name: str) -> tuple:
    """An int or a sequence of 1 or ``nd`` ints, as a tuple of ``nd`` ints (TypeError else)."""
    if _is_int(value):
        return (int(value),) * nd
    if isinstance(value, (tuple, list)) and all(_is_int(v) for v in value):
        if len(value) == 1:
            return (int(value[0]),) * nd
        if len(value) == nd:
            return tuple(int(v) for v in value)
        raise RuntimeError(f"{op}: {name} must be a single int or a tuple of {nd} ints, got "
                           f"{tuple(value)!r} ({len(value)} values)")
    raise TypeError(f"{op}(): argument '{name}' must be an int or a tuple of {nd} ints, got "
                    f"{value!r} ({type(value).__name__})")


def _bool(value, op: str, name: str) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{op}(): argument '{name}' must be bool, not "
                        f"{type(value).__name__} ({value!r})")
    return value


def _positive(vals: tuple, op: str, name: str) -> None:
    if any(v <= 0 for v in vals):
        raise RuntimeError(f"{op}: {name} must be greater than zero, got {name}={vals}")


def _input(x, op: str, nd: int, *, adaptive: bool = False) -> bool:
    """Check the input's rank (and emptiness); return whether it is unbatched."""
    tensor_arg(x, op)
    if x.ndim not in (nd + 1, nd + 2):
        raise RuntimeError(
            f"{op}: expected a {nd + 1}-D (unbatched, (C, {'L' if nd == 1 else 'H, W'})) or "
            f"{nd + 2}-D (batched, (N, C, {'L' if nd == 1 else 'H, W'})) input, got input of "
            f"shape {tuple(x.shape)}")
    nonbatch = tuple(x.shape[-nd:] if adaptive else x.shape[-nd - 1:])
    if any(n == 0 for n in nonbatch):
        raise RuntimeError(f"{op}: expected an input with non-zero sizes for the non-batch "
                           f"dimensions, got input of shape {tuple(x.shape)}")
    if x.dtype.kind == "b":
        raise NotImplementedError(f"{op}: not implemented for bool input; convert it with "
                                  ".float() (or .long() for max/avg pooling 2d)")
    return x.ndim == nd + 1


def _float_only(x, op: str) -> None:
    if not is_floating(x.dtype):
        raise NotImplementedError(f"{op}: not implemented for {x.dtype} input (PyTorch has no "
                                  "integer kernel for it); convert it with .float()")


def _out_size(n: int, k: int, s: int, p: int, d: int, ceil_mode: bool) -> int:
    """PyTorch's pooling_output_shape: ⌊(n + 2p − d(k−1) − 1 [+ s − 1]) / s⌋ + 1, the last
    ceil-mode window dropped when it would start in the right padding."""
    o = (n + 2 * p - d * (k - 1) - 1 + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (o - 1) * s >= n + p:
        o -= 1
    return o


def _window_geom(op, nd, x, kernel_size, stride, padding, dilation, ceil_mode):
    kshape = _ints(kernel_size, nd, op, "kernel_size")
    stride = kshape if stride is None or (isinstance(stride, (tuple, list)) and not stride) \
        else _ints(stride, nd, op, "stride")
    pad = _ints(padding, nd, op, "padding")
    dilation = _ints(dilation, nd, op, "dilation")
    ceil_mode = _bool(ceil_mode, op, "ceil_mode")
    _positive(kshape, op, "kernel_size")
    _positive(stride, op, "stride")
    _positive(dilation, op, "dilation")
    if any(p < 0 for p in pad):
        raise RuntimeError(f"{op}: padding must be non-negative, got padding={pad}")
    if any(p > k // 2 for p, k in zip(pad, kshape)):
        raise RuntimeError(f"{op}: padding should be at most half of kernel_size, got "
                           f"padding={pad} and kernel_size={kshape}; use padding <= "
                           f"{tuple(k // 2 for k in kshape)}")
    spatial = tuple(x.shape[2:])
    oshape = tuple(_out_size(*a, ceil_mode) for a in zip(spatial, kshape, stride, pad, dilation))
    if any(o < 1 for o in oshape):
        raise RuntimeError(
            f"{op}: the output size {oshape} is too small for input of shape {tuple(x.shape)} "
            f"(kernel_size={kshape}, stride={stride}, padding={pad}, dilation={dilation}): the "
            "kernel is larger than the padded input; use a smaller kernel or more padding")
    return kshape, stride, pad, dilation, oshape


def _max_pool(op, nd, x, kernel_size, stride, padding, dilation, ceil_mode, return_indices):
    unbatched = _input(x, op, nd)
    if nd == 1:
        _float_only(x, op)
    with_indices = _bool(return_indices, op, "return_indices")
    if unbatched:
        x = x.unsqueeze(0)
    kshape, stride, pad, dilation, oshape = _window_geom(op, nd, x, kernel_size, stride,
                                                         padding, dilation, ceil_mode)
    unique = all(s >= (k - 1) * d + 1 for k, s, d in zip(kshape, stride, dilation))
    params = dict(kshape=kshape, stride=stride, pad=pad, dilation=dilation, oshape=oshape)
    kind = "window2x2" if pool2x2_applies(tuple(x.shape), **params) else "window"
    out = MaxPool.apply(x, kind=kind, params=params, unique=unique, with_indices=with_indices)
    return _unbatch(out, unbatched)


def _unbatch(out, unbatched: bool):
    if not unbatched:
        return out
    if isinstance(out, tuple):
        return tuple(t.squeeze(0) for t in out)
    return out.squeeze(0)


def _avg_pool(op, nd, x, kernel_size, stride, padding, ceil_mode, count_include_pad,
              divisor_override):
    unbatched = _input(x, op, nd)
    if unbatched:
        x = x.unsqueeze(0)
    kshape, stride, pad, _, oshape = _window_geom(op, nd, x, kernel_size, stride, padding, 1,
                                                  ceil_mode)
    include = _bool(count_include_pad, op, "count_include_pad")
    if divisor_override is not None:
        if not _is_int(divisor_override):
            raise TypeError(f"{op}(): argument 'divisor_override' must be an int or None, got "
                            f"{divisor_override!r} ({type(divisor_override).__name__})")
        if divisor_override == 0:
            raise RuntimeError(f"{op}: divisor_override must not be zero; pass None to divide "
                               "by the window size")
        divisor_override = int(divisor_override)
    y = AvgPool.apply(x, geom=(kshape, stride, pad, oshape, include, divisor_override))
    return _unbatch(y, unbatched)


def _output_size(op, nd, x, output_size) -> tuple:
    """``output_size`` (an int, or a tuple whose None entries keep the input's size)."""
    allow_none = nd > 1
    vals = (output_size,) * nd if _is_int(output_size) or (output_size is None and allow_none) \
        else output_size
    if not isinstance(vals, (tuple, list)) or not all(
            _is_int(v) or (v is None and allow_none) for v in vals):
        raise TypeError(f"{op}(): argument 'output_size' must be an int or a tuple of {nd} "
                        f"{'ints (or None)' if allow_none else 'int'}, got {output_size!r}")
    if len(vals) != nd:
        raise RuntimeError(f"{op}: output_size must have {nd} value{'s' if nd > 1 else ''}, got "
                           f"{tuple(vals)!r}")
    vals = tuple(n if v is None else int(v) for v, n in zip(vals, x.shape[-nd:]))
    if any(v < 0 for v in vals):
        raise RuntimeError(f"{op}: elements of output_size must be greater than or equal to 0, "
                           f"got output_size={vals}")
    return vals


def _adaptive_avg(op, nd, x, output_size) -> Tensor:
    unbatched = _input(x, op, nd, adaptive=True)
    _float_only(x, op)
    oshape = _output_size(op, nd, x, output_size)
    if unbatched:
        x = x.unsqueeze(0)
    k = x._backend.k
    for d, o in enumerate(oshape):
        n, axis = x.shape[2 + d], 2 + d
        if o == n:
            continue
        if o == 1:
            x = x.mean(axis, keepdim=True)
            continue
        a = Tensor._make(k.adaptive_avg_weights(n, o, x.dtype), x._backend)
        if axis == x.ndim - 1:
            x = matmul(x, a.T)
        else:  # contract axis `axis` (all later axes stay): A (o, n) @ x (..., n, rest)
            rest = x.shape[axis + 1:]
            x = matmul(a, x.reshape(x.shape[:axis] + (n, math.prod(rest))))
            x = x.reshape(x.shape[:axis] + (o,) + tuple(rest))
    return x.squeeze(0) if unbatched else x


def _adaptive_max(op, nd, x, output_size, return_indices):
    unbatched = _input(x, op, nd, adaptive=True)
    _float_only(x, op)
    oshape = _output_size(op, nd, x, output_size)
    with_indices = _bool(return_indices, op, "return_indices")
    if unbatched:
        x = x.unsqueeze(0)
    out = MaxPool.apply(x, kind="adaptive", params=dict(oshape=oshape), unique=False,
                        with_indices=with_indices)
    return _unbatch(out, unbatched)


# -- public functions ---------------------------------------------------------------------------

def max_pool1d(input: Tensor, kernel_size, stride=None, padding=0, dilation=1,
               ceil_mode: bool = False, return_indices: bool = False):
    """Max over windows of ``(N, C, L)`` / ``(C, L)``: y[i] = max_k x[i·s + k·d − pad] (−inf
    padding); with ``return_indices`` also the argmax's index into L (int64)."""
    return _max_pool("max_pool1d", 1, input, kernel_size, stride, padding, dilation, ceil_mode,
                     return_indices)


def max_pool2d(input: Tensor, kernel_size, stride=None, padding=0, dilation=1,
               ceil_mode: bool = False, return_indices: bool = False):
    """Max over windows of ``(N, C, H, W)`` / ``(C, H, W)``; with ``return_indices`` also the
    argmax's flat index h·W + w into each input plane (int64, the first maximum in window
    order)."""
    return _max_pool("max_pool2d", 2, input, kernel_size, stride, padding, dilation, ceil_mode,
                     return_indices)


def avg_pool1d(input: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True) -> Tensor:
    """Mean over windows of ``(N, C, L)`` / ``(C, L)`` (zero padding, counted in the divisor
    when ``count_include_pad``)."""
    return _avg_pool("avg_pool1d", 1, input, kernel_size, stride, padding, ceil_mode,
                     count_include_pad, None)


def avg_pool2d(input: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True, divisor_override: int | None = None) -> Tensor:
    """Mean over windows of ``(N, C, H, W)`` / ``(C, H, W)``: window sum / divisor, the divisor
    being ``divisor_override``, else the window's size with or without the padding."""
    return _avg_pool("avg_pool2d", 2, input, kernel_size, stride, padding, ceil_mode,
                     count_include_pad, divisor_override)


def adaptive_avg_pool1d(input: Tensor, output_size) -> Tensor:
    """Mean over windows [⌊i·L/o⌋, ⌈(i+1)·L/o⌉) of ``(N, C, L)`` / ``(C, L)``."""
    return _adaptive_avg("adaptive_avg_pool1d", 1, input, output_size)


def adaptive_avg_pool2d(input: Tensor, output_size) -> Tensor:
    """Mean over adaptive windows of ``(N, C, H, W)`` / ``(C, H, W)``; a None entry of
    ``output_size`` keeps that size."""
    return _adaptive_avg("adaptive_avg_pool2d", 2, input, output_size)


def adaptive_max_pool1d(input: Tensor, output_size, return_indices: bool = False):
    """Max over windows [⌊i·L/o⌋, ⌈(i+1)·L/o⌉) of ``(N, C, L)`` / ``(C, L)`` (and indices)."""
    return _adaptive_max("adaptive_max_pool1d", 1, input, output_size, return_indices)


def adaptive_max_pool2d(input: Tensor, output_size, return_indices: bool = False):
    """Max over adaptive windows of ``(N, C, H, W)`` / ``(C, H, W)``; a None entry of
    ``output_size`` keeps that size; with ``return_indices`` also the flat plane indices."""
    return _adaptive_max("adaptive_max_pool2d", 2, input, output_size, return_indices)
