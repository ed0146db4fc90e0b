"""Convolutions (PyTorch's ``conv1d/2d/3d`` and ``conv_transpose1d/2d/3d``), NC* layout.

Three Functions share one geometry ``(stride, pad, dilation, groups)``: the convolution, its
adjoint in the input (which *is* the transposed convolution) and its adjoint in the weight. The
vector-Jacobian product of each is made of the other two, so ``backward`` is written with the same
three ops and every derivative order is exact (kernels in :mod:`gradflow.kernels.conv`).
"""

from __future__ import annotations

from gradflow.autograd.function import Function
from gradflow.ops._util import tensor_arg
from gradflow.tensor import Tensor


def _bias_axes(ndim: int) -> tuple:
    return (0,) + tuple(range(2, ndim))


class ConvNd(Function):
    """y = conv(x, w) + b."""

    @staticmethod
    def forward(ctx, x, w, b, *, geom, oshape=None):
        ctx.geom = geom
        ctx.save_for_backward(x, w)
        y = ctx.k.conv_forward(x, w, *geom, oshape)
        if b is not None:
            y += b.reshape((1, -1) + (1,) * (y.ndim - 2))
        return y

    @staticmethod
    def vjp(ctx, g):
        x, w = ctx.saved_arrays
        nx, nw, nb = ctx.needs_input_grad
        k, geom = ctx.k, ctx.geom
        gx = k.conv_input_grad(g, w, x.shape[2:], *geom) if nx else None
        gw = k.conv_weight_grad(x, g, w.shape[2:], *geom) if nw else None
        gb = k.sum(g, axis=_bias_axes(g.ndim)) if nb else None
        return gx, gw, gb

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.saved_tensors
        nx, nw, nb = ctx.needs_input_grad
        geom = ctx.geom
        gx = ConvInputGrad.apply(g, w, in_shape=tuple(x.shape[2:]), geom=geom) if nx else None
        gw = ConvWeightGrad.apply(x, g, kshape=tuple(w.shape[2:]), geom=geom) if nw else None
        gb = g.sum(_bias_axes(g.ndim)) if nb else None
        return gx, gw, gb


class ConvInputGrad(Function):
    """gx = convᵀ(g, w): the adjoint of the convolution in its input (the transposed conv)."""

    @staticmethod
    def forward(ctx, g, w, *, in_shape, geom):
        ctx.geom = geom
        ctx.save_for_backward(g, w)
        return ctx.k.conv_input_grad(g, w, in_shape, *geom)

    @staticmethod
    def vjp(ctx, h):
        g, w = ctx.saved_arrays
        ng, nw = ctx.needs_input_grad
        k, geom = ctx.k, ctx.geom
        gg = k.conv_forward(h, w, *geom, g.shape[2:]) if ng else None
        gw = k.conv_weight_grad(h, g, w.shape[2:], *geom) if nw else None
        return gg, gw

    @staticmethod
    def backward(ctx, h):
        g, w = ctx.saved_tensors
        ng, nw = ctx.needs_input_grad
        geom = ctx.geom
        gg = ConvNd.apply(h, w, None, geom=geom, oshape=tuple(g.shape[2:])) if ng else None
        gw = ConvWeightGrad.apply(h, g, kshape=tuple(w.shape[2:]), geom=geom) if nw else None
        return gg, gw


class ConvWeightGrad(Function):
    """gw = Σ_{n,l} g ⊗ columns(x): the adjoint of the convolution in its weight."""

    @staticmethod
    def forward(ctx, x, g, *, kshape, geom):
        ctx.geom = geom
        ctx.save_for_backward(x, g)
        return ctx.k.conv_weight_grad(x, g, kshape, *geom)

    @staticmethod
    def vjp(ctx, hw):
        x, g = ctx.saved_arrays
        nx, ng = ctx.needs_input_grad
        k, geom = ctx.k, ctx.geom
        gx = k.conv_input_grad(g, hw, x.shape[2:], *geom) if nx else None
        gg = k.conv_forward(x, hw, *geom, g.shape[2:]) if ng else None
        return gx, gg

    @staticmethod
    def backward(ctx, hw):
        x, g = ctx.saved_tensors
        nx, ng = ctx.needs_input_grad
        geom = ctx.geom
        gx = ConvInputGrad.apply(g, hw, in_shape=tuple(x.shape[2:]), geom=geom) if nx else None
        gg = ConvNd.apply(x, hw, None, geom=geom, oshape=tuple(g.shape[2:])) if ng else None
        return gx, gg


# -- argument checking --------------------------------------------------------------------------

def _tuple(value, n: int, op: str, name: str, minimum: int) -> tuple:
    vals = tuple(value) if isinstance(value, (tuple, list)) else (value,) * n
    if len(vals) == 1:
        vals = vals * n
    if len(vals) != n or any(isinstance(v, bool) or not isinstance(v, int) for v in vals):
        raise TypeError(f"{op}: {name} must be an int or a tuple of {n} ints, got {value!r}")
    if any(v < minimum for v in vals):
        raise RuntimeError(f"{op}: {name} must be {'positive' if minimum else 'non-negative'}, "
                           f"got {value!r}")
    return vals


def _check_operands(op: str, x, w, b, nd: int, *, transposed: bool) -> bool:
    """Validate ranks/dtypes; return whether the input is unbatched (to be unsqueezed)."""
    tensor_arg(x, op)
    tensor_arg(w, op, "weight")
    if b is not None:
        tensor_arg(b, op, "bias")
    if w.ndim != nd + 2:
        raise RuntimeError(f"{op}: weight must be {nd + 2}-D "
                           f"({'in, out/groups' if transposed else 'out, in/groups'}, "
                           f"{'k, ' * nd}...), got shape {tuple(w.shape)}")
    if x.ndim not in (nd + 1, nd + 2):
        raise RuntimeError(f"{op}: expected {nd + 1}-D (unbatched) or {nd + 2}-D (batched) "
                           f"input, got input of shape {tuple(x.shape)}")
    for name, t in (("weight", w), ("bias", b)):
        if t is not None and t.dtype != x.dtype:
            raise RuntimeError(f"{op}: input ({x.dtype}) and {name} ({t.dtype}) must have the "
                               f"same dtype; convert one (e.g. .float())")
    if x.dtype.kind != "f":
        raise RuntimeError(f"{op}: expected a floating-point input, got {x.dtype}; use .float()")
    return x.ndim == nd + 1


def _conv(op: str, nd: int, x, weight, bias, stride, padding, dilation, groups) -> Tensor:
    unbatched = _check_operands(op, x, weight, bias, nd, transposed=False)
    given = tuple(x.shape)
    if unbatched:
        x = x.unsqueeze(0)
    stride = _tuple(stride, nd, op, "stride", 1)
    dilation = _tuple(dilation, nd, op, "dilation", 1)
    if isinstance(groups, bool) or not isinstance(groups, int) or groups < 1:
        raise RuntimeError(f"{op}: groups must be a positive int, got {groups!r}")
    c, o, kshape = x.shape[1], weight.shape[0], tuple(weight.shape[2:])
    if c % groups or o % groups:
        raise RuntimeError(f"{op}: groups={groups} must divide both the input channels ({c}) "
                           f"and the output channels ({o})")
    if weight.shape[1] * groups != c:
        raise RuntimeError(
            f"{op}: expected input with {weight.shape[1] * groups} channels (weight of shape "
            f"{tuple(weight.shape)} with groups={groups}), got input of shape "
            f"{given} with {c} channels; check in_channels of the layer")
    if bias is not None and tuple(bias.shape) != (o,):
        raise RuntimeError(f"{op}: bias must have shape ({o},), got {tuple(bias.shape)}")
    if isinstance(padding, str):
        if padding == "valid":
            pad = ((0, 0),) * nd
        elif padding == "same":
            if any(s != 1 for s in stride):
                raise ValueError(f"{op}: padding='same' is not supported for strided "
                                 f"convolutions (stride={stride}); pad explicitly")
            total = [d * (k - 1) for d, k in zip(dilation, kshape)]
            pad = tuple((t // 2, t - t // 2) for t in total)
        else:
            raise ValueError(f"{op}: padding must be 'valid', 'same', an int or a tuple of ints, "
                             f"got {padding!r}")
    else:
        pad = tuple((p, p) for p in _tuple(padding, nd, op, "padding", 0))
    for size, k, (lo, hi), d in zip(x.shape[2:], kshape, pad, dilation):
        if size + lo + hi < d * (k - 1) + 1:
            raise RuntimeError(
                f"{op}: kernel size {kshape} (dilation {dilation}) is larger than the padded "
                f"input {tuple(n + a + b for n, (a, b) in zip(x.shape[2:], pad))} (input "
                f"shape {given}, padding {pad}); use a smaller kernel or more padding")
    y = ConvNd.apply(x, weight, bias, geom=(stride, pad, dilation, groups))
    return y.squeeze(0) if unbatched else y


def _conv_transpose(op: str, nd: int, x, weight, bias, stride, padding, output_padding, groups,
                    dilation) -> Tensor:
    unbatched = _check_operands(op, x, weight, bias, nd, transposed=True)
    if unbatched:
        x = x.unsqueeze(0)
    stride = _tuple(stride, nd, op, "stride", 1)
    dilation = _tuple(dilation, nd, op, "dilation", 1)
    padding = _tuple(padding, nd, op, "padding", 0)
    output_padding = _tuple(output_padding, nd, op, "output_padding", 0)
    if isinstance(groups, bool) or not isinstance(groups, int) or groups < 1:
        raise RuntimeError(f"{op}: groups must be a positive int, got {groups!r}")
    c, kshape = x.shape[1], tuple(weight.shape[2:])
    if weight.shape[0] != c:
        raise RuntimeError(f"{op}: expected input with {weight.shape[0]} channels (weight of "
                           f"shape {tuple(weight.shape)}), got input of shape {tuple(x.shape)}")
    if c % groups:
        raise RuntimeError(f"{op}: groups={groups} must divide the input channels ({c})")
    o = weight.shape[1] * groups
    if bias is not None and tuple(bias.shape) != (o,):
        raise RuntimeError(f"{op}: bias must have shape ({o},), got {tuple(bias.shape)}")
    for op_, s, d in zip(output_padding, stride, dilation):
        if op_ >= max(s, d):
            raise RuntimeError(f"{op}: output_padding {output_padding} must be smaller than "
                               f"either stride {stride} or dilation {dilation}")
    in_shape = tuple((n - 1) * s - 2 * p + d * (k - 1) + op_ + 1 for n, s, p, d, k, op_
                     in zip(x.shape[2:], stride, padding, dilation, kshape, output_padding))
    if any(n <= 0 for n in in_shape):
        raise RuntimeError(f"{op}: the output size {in_shape} is not positive (input shape "
                           f"{tuple(x.shape)}, padding {padding}); use less padding")
    pad = tuple((p, p) for p in padding)
    geom = (stride, pad, dilation, groups)
    y = ConvInputGrad.apply(x, weight, in_shape=in_shape, geom=geom)
    if bias is not None:
        y = y + bias.reshape((1, o) + (1,) * nd)
    return y.squeeze(0) if unbatched else y


# -- public functions ---------------------------------------------------------------------------

def conv1d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0,
           dilation=1, groups: int = 1) -> Tensor:
    """1-D convolution of ``(N, C, L)`` by weight ``(O, C/groups, K)`` (cross-correlation)."""
    return _conv("conv1d", 1, input, weight, bias, stride, padding, dilation, groups)


def conv2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0,
           dilation=1, groups: int = 1) -> Tensor:
    """2-D convolution of ``(N, C, H, W)`` by weight ``(O, C/groups, kH, kW)``:
    y[n,o,i,j] = b[o] + Σ_{c,p,q} w[o,c,p,q] · x[n, c, i·s + p·d − pad, j·s + q·d − pad]."""
    return _conv("conv2d", 2, input, weight, bias, stride, padding, dilation, groups)


def conv3d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0,
           dilation=1, groups: int = 1) -> Tensor:
    """3-D convolution of ``(N, C, D, H, W)`` by weight ``(O, C/groups, kD, kH, kW)``."""
    return _conv("conv3d", 3, input, weight, bias, stride, padding, dilation, groups)


def conv_transpose1d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1,
                     padding=0, output_padding=0, groups: int = 1, dilation=1) -> Tensor:
    """The adjoint of ``conv1d`` in its input; weight ``(C_in, C_out/groups, K)``."""
    return _conv_transpose("conv_transpose1d", 1, input, weight, bias, stride, padding,
                           output_padding, groups, dilation)


def conv_transpose2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1,
                     padding=0, output_padding=0, groups: int = 1, dilation=1) -> Tensor:
    """The adjoint of ``conv2d`` in its input; weight ``(C_in, C_out/groups, kH, kW)``; output
    size (n − 1)·s − 2·pad + d·(k − 1) + output_padding + 1."""
    return _conv_transpose("conv_transpose2d", 2, input, weight, bias, stride, padding,
                           output_padding, groups, dilation)


def conv_transpose3d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1,
                     padding=0, output_padding=0, groups: int = 1, dilation=1) -> Tensor:
    """The adjoint of ``conv3d`` in its input; weight ``(C_in, C_out/groups, kD, kH, kW)``."""
    return _conv_transpose("conv_transpose3d", 3, input, weight, bias, stride, padding,
                           output_padding, groups, dilation)
