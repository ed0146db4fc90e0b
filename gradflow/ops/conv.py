"""Convolutions (PyTorch's ``conv1d/2d/3d`` and ``conv_transpose1d/2d/3d``), NC* layout.

Three Functions share one geometry ``(stride, pad, dilation, groups)``: the convolution, its
adjoint in the input (which *is* the transposed convolution) and its adjoint in the weight. The
vector-Jacobian product of each is made of the other two, so ``backward`` is written with the same
three ops and every derivative order is exact (kernels in :mod:`gradflow.kernels.conv`).
"""

from __future__ import annotations

from gradflow import amp as _amp
from gradflow.autograd.function import Function
from gradflow.dtypes import is_floating
from gradflow.ops._util import int_tuple, tensor_arg
from gradflow.tensor import Tensor


def _bias_axes(ndim: int) -> tuple:
    return (0,) + tuple(range(2, ndim))


#: Keep the forward's im2col columns (CPU, one chunk) for the first-order weight gradient.
KEEP_COLUMNS = True


class ConvNd(Function):
    """y = conv(x, w) + b.

    On the CPU, when the weight needs a gradient, the forward keeps its im2col columns (the
    buffer is ΠK times the input) and the first-order weight gradient is then one GEMM on them.
    """

    @staticmethod
    def forward(ctx, x, w, b, *, geom, oshape=None):
        ctx.geom = geom
        ctx.save_for_backward(x, w)
        ctx.cols = None
        if KEEP_COLUMNS and oshape is None and ctx.needs_input_grad[1] \
                and ctx.backend.name == "numpy":
            y, ctx.cols = ctx.k.conv_forward_keep_columns(x, w, *geom)
        else:
            y = ctx.k.conv_forward(x, w, *geom, oshape)
        if b is not None:
            y += b.reshape((1, -1) + (1,) * (y.ndim - 2))
        return y

    @staticmethod
    def vjp(ctx, g):
        x, w = ctx.saved_arrays
        nx, nw, nb = ctx.needs_input_grad
        k, geom = ctx.k, ctx.geom
        cols = ctx.cols
        gx = k.conv_input_grad(g, w, x.shape[2:], *geom) if nx else None
        if nw:
            gw = (k.conv_weight_grad(x, g, w.shape[2:], *geom) if cols is None
                  else k.conv_weight_grad_from_columns(cols, g, w.shape[2:]))
        else:
            gw = None
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
    if not is_floating(x.dtype):
        raise RuntimeError(f"{op}: expected a floating-point input, got {x.dtype}; use .float()")
    return x.ndim == nd + 1


def _conv(op: str, nd: int, x, weight, bias, stride, padding, dilation, groups) -> Tensor:
    if _amp.STATE.on:
        x, weight, bias = _amp.cast(op, x, weight, bias)
    unbatched = _check_operands(op, x, weight, bias, nd, transposed=False)
    given = tuple(x.shape)
    if unbatched:
        x = x.unsqueeze(0)
    stride = int_tuple(stride, nd, op, "stride", 1)
    dilation = int_tuple(dilation, nd, op, "dilation", 1)
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
        pad = tuple((p, p) for p in int_tuple(padding, nd, op, "padding", 0))
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
    if _amp.STATE.on:
        x, weight, bias = _amp.cast(op, x, weight, bias)
    unbatched = _check_operands(op, x, weight, bias, nd, transposed=True)
    if unbatched:
        x = x.unsqueeze(0)
    stride = int_tuple(stride, nd, op, "stride", 1)
    dilation = int_tuple(dilation, nd, op, "dilation", 1)
    padding = int_tuple(padding, nd, op, "padding", 0)
    output_padding = int_tuple(output_padding, nd, op, "output_padding", 0)
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


# -- sliding blocks: unfold (im2col) and fold (col2im), each the other's adjoint -----------------

class Unfold(Function):
    @staticmethod
    def forward(ctx, x, *, geom):
        ctx.geom, ctx.in_shape = geom, x.shape[2:]
        return ctx.k.im2col(x, *geom)

    @staticmethod
    def vjp(ctx, g):
        return (ctx.k.col2im(g, ctx.in_shape, *ctx.geom),)

    @staticmethod
    def backward(ctx, g):
        return (Fold.apply(g, in_shape=tuple(ctx.in_shape), geom=ctx.geom),)


class Fold(Function):
    @staticmethod
    def forward(ctx, cols, *, in_shape, geom):
        ctx.geom = geom
        return ctx.k.col2im(cols, in_shape, *geom)

    @staticmethod
    def vjp(ctx, g):
        return (ctx.k.im2col(g, *ctx.geom),)

    @staticmethod
    def backward(ctx, g):
        return (Unfold.apply(g, geom=ctx.geom),)


def _block_geometry(op: str, kernel_size, dilation, padding, stride) -> tuple:
    kshape = int_tuple(kernel_size, 2, op, "kernel_size", 1)
    stride = int_tuple(stride, 2, op, "stride", 1)
    dilation = int_tuple(dilation, 2, op, "dilation", 1)
    pad = tuple((p, p) for p in int_tuple(padding, 2, op, "padding", 0))
    return kshape, stride, pad, dilation


def _n_blocks(op, spatial, geom) -> tuple:
    kshape, stride, pad, dilation = geom
    out = []
    for n, k, s, (p, _), d in zip(spatial, kshape, stride, pad, dilation):
        m = (n + 2 * p - d * (k - 1) - 1) // s + 1
        if m <= 0:
            padded = tuple(a + 2 * q for a, (q, _) in zip(spatial, pad))
            raise RuntimeError(f"{op}: kernel_size {kshape} (dilation {dilation}) does not fit "
                               f"in the padded input {padded}")
        out.append(m)
    return tuple(out)


def unfold(input: Tensor, kernel_size, dilation=1, padding=0, stride=1) -> Tensor:
    """Sliding blocks of ``(N, C, H, W)`` as columns ``(N, C·kH·kW, L)`` (im2col; PyTorch's
    ``F.unfold``, rows channel-major then kernel offset)."""
    tensor_arg(input, "unfold")
    if input.ndim not in (3, 4):
        raise RuntimeError(f"unfold: expected a 3-D (unbatched) or 4-D (batched) input, got "
                           f"shape {tuple(input.shape)}")
    geom = _block_geometry("unfold", kernel_size, dilation, padding, stride)
    x = input.unsqueeze(0) if input.ndim == 3 else input
    _n_blocks("unfold", x.shape[2:], geom)
    y = Unfold.apply(x, geom=geom)
    return y.squeeze(0) if input.ndim == 3 else y


def fold(input: Tensor, output_size, kernel_size, dilation=1, padding=0, stride=1) -> Tensor:
    """Sum columns ``(N, C·kH·kW, L)`` back into ``(N, C, *output_size)`` (col2im; the adjoint
    of ``unfold``; PyTorch's ``F.fold``)."""
    tensor_arg(input, "fold")
    if input.ndim not in (2, 3):
        raise RuntimeError(f"fold: expected a 2-D (unbatched) or 3-D (batched) input, got "
                           f"shape {tuple(input.shape)}")
    out = int_tuple(output_size, 2, "fold", "output_size", 1)
    geom = _block_geometry("fold", kernel_size, dilation, padding, stride)
    x = input.unsqueeze(0) if input.ndim == 2 else input
    kk = geom[0][0] * geom[0][1]
    blocks = _n_blocks("fold", out, geom)
    if x.shape[1] % kk:
        raise RuntimeError(f"fold: expected size of input's dimension 1 to be divisible by the "
                           f"product of kernel_size ({kk}), got input of shape "
                           f"{tuple(input.shape)}")
    if x.shape[2] != blocks[0] * blocks[1]:
        raise RuntimeError(f"fold: expected input's last dimension to be {blocks[0] * blocks[1]} "
                           f"(the number of blocks {blocks} for output_size {out}), got input "
                           f"of shape {tuple(input.shape)}")
    y = Fold.apply(x, in_shape=out, geom=geom)
    return y.squeeze(0) if input.ndim == 2 else y
