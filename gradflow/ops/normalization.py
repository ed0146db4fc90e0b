"""Batch, layer, group and instance normalization (fused forward and first-order backward
kernels; group and instance norm reuse the layer-norm kernel on a reshaped view)."""

from __future__ import annotations

from gradflow.autograd.function import Function
from gradflow.ops._util import tensor_arg
from gradflow.ops.composite import composite_vjp
from gradflow.ops.math import sqrt
from gradflow.ops.shape import reshape
from gradflow.tensor import Tensor


def _normalized(x: Tensor, axes, eps: float) -> Tensor:
    mean = x.mean(axes, keepdims=True)
    d = x - mean
    return d / sqrt((d * d).mean(axes, keepdims=True) + eps)


def _affine_composite(axes, eps, pshape):
    def f(x, w, b):
        y = _normalized(x, axes, eps)
        if w is not None:
            y = y * reshape(w, pshape)
        if b is not None:
            y = y + reshape(b, pshape)
        return y

    return f


class _Norm(Function):
    """Batch and layer norm: the fused kernel for first order, the composite for create_graph.

    Kept fused (kernels/normalization.py): one node instead of the composite's nine pays on the
    ``layer_norm`` row of benchmarks/overhead.py (64×64 float32 step: 91 µs fused, 262 µs composed).
    """

    @staticmethod
    def vjp(ctx, g, *unused):
        _, w, b, xhat, rstd = ctx.saved_arrays
        nx, nw, nb = ctx.needs_input_grad[:3]
        k = ctx.k
        gx, gw, gb = k.norm_backward(g, xhat, rstd, None if w is None else w.reshape(ctx.pshape),
                                     ctx.axes, ctx.param_axes)
        if nb and gb is None:  # a bias without a weight: the kernel skips both
            gb = k.sum(g, axis=ctx.param_axes)
        return (gx if nx else None, gw.reshape(w.shape) if nw else None,
                gb.reshape(b.shape) if nb else None)

    @staticmethod
    def backward(ctx, g, *unused):
        x, w, b, _, _ = ctx.saved_tensors
        f = _affine_composite(ctx.axes, ctx.eps, ctx.pshape)
        return composite_vjp(f, [x, w, b], ctx.needs_input_grad[:3], [g])


class BatchNormTrain(_Norm):
    """Normalize with the batch's own statistics; outputs y and (non-differentiable) μ, σ²."""

    @staticmethod
    def forward(ctx, x, weight, bias, eps):
        axes = (0,) + tuple(range(2, x.ndim))
        pshape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
        ctx.axes, ctx.param_axes, ctx.pshape, ctx.eps = axes, axes, pshape, eps
        w = None if weight is None else weight.reshape(pshape)
        b = None if bias is None else bias.reshape(pshape)
        y, xhat, mean, var, rstd = ctx.k.batch_norm_train(x, w, b, eps, axes)
        ctx.save_for_backward(x, weight, bias, xhat, rstd)
        mean, var = mean.reshape(-1), var.reshape(-1)
        ctx.mark_non_differentiable(mean, var)
        return y, mean, var


class LayerNorm(_Norm):
    @staticmethod
    def forward(ctx, x, weight, bias, eps, ndim_norm):
        axes = tuple(range(x.ndim - ndim_norm, x.ndim))
        ctx.axes, ctx.param_axes = axes, tuple(range(x.ndim - ndim_norm))
        ctx.pshape, ctx.eps = x.shape[x.ndim - ndim_norm:], eps
        y, xhat, rstd = ctx.k.layer_norm_forward(x, weight, bias, eps, axes)
        ctx.save_for_backward(x, weight, bias, xhat, rstd)
        return y


def batch_norm(input: Tensor, running_mean: Tensor | None, running_var: Tensor | None,  # noqa: A002
               weight: Tensor | None = None, bias: Tensor | None = None, training: bool = False,
               momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Batch normalization over axis 1 (channels) of a ``(N, C, *)`` input (any rank >= 2):
    statistics over every axis but the channel one.

    Training: normalize with the batch mean and biased variance, and update the running
    statistics in place (running variance unbiased, as PyTorch). Eval: use the running ones.
    """
    tensor_arg(input, "batch_norm")
    if input.ndim < 2:
        raise ValueError(f"batch_norm: expected an input of shape (N, C, *) with at least 2 "
                         f"dims, got shape {input.shape}")
    c = input.shape[1]
    for name, t in (("running_mean", running_mean), ("running_var", running_var),
                    ("weight", weight), ("bias", bias)):
        if t is not None and t.shape != (c,):
            raise ValueError(f"batch_norm: {name} has shape {t.shape} but the input has {c} "
                             f"channels (input shape {input.shape}); expected ({c},)")
    if training:
        n = input.numel() // c
        if n <= 1:
            raise ValueError(f"batch_norm: expected more than 1 value per channel when training, "
                             f"got input of shape {input.shape}; use a larger batch or eval mode")
        y, mean, var = BatchNormTrain.apply(input, weight, bias, float(eps))
        if running_mean is not None and running_var is not None:
            input.backend.k.batch_norm_update_stats(running_mean.array, running_var.array,
                                                    mean.array, var.array, n, momentum)
            running_mean.increment_version()
            running_var.increment_version()
        return y
    if running_mean is None or running_var is None:
        raise ValueError("batch_norm: eval mode (training=False) needs running_mean and "
                         "running_var")
    pshape = (1, c) + (1,) * (input.ndim - 2)
    scale = 1 / sqrt(running_var + eps)
    if weight is not None:
        scale = scale * weight
    shift = -running_mean * scale
    if bias is not None:
        shift = shift + bias
    return input * reshape(scale, pshape) + reshape(shift, pshape)


def layer_norm(input: Tensor, normalized_shape, weight: Tensor | None = None,  # noqa: A002
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """Normalize over the trailing ``normalized_shape`` axes of each example."""
    tensor_arg(input, "layer_norm")
    if isinstance(normalized_shape, int):
        normalized_shape = (normalized_shape,)
    normalized_shape = tuple(normalized_shape)
    k = len(normalized_shape)
    if k == 0 or input.shape[input.ndim - k:] != normalized_shape:
        raise ValueError(f"layer_norm: normalized_shape {normalized_shape} must match the trailing "
                         f"axes of the input, got input of shape {input.shape}")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and t.shape != normalized_shape:
            raise ValueError(f"layer_norm: {name} has shape {t.shape}, expected "
                             f"{normalized_shape}")
    return LayerNorm.apply(input, weight, bias, float(eps), k)


def _affine(y: Tensor, weight: Tensor | None, bias: Tensor | None) -> Tensor:
    """``y · γ + β`` with γ, β of shape (C,) broadcast over axis 1 of ``y``."""
    pshape = (1, y.shape[1]) + (1,) * (y.ndim - 2)
    if weight is not None:
        y = y * reshape(weight, pshape)
    if bias is not None:
        y = y + reshape(bias, pshape)
    return y


def group_norm(input: Tensor, num_groups: int, weight: Tensor | None = None,  # noqa: A002
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """Split the C channels of a ``(N, C, *)`` input into ``num_groups`` groups and normalize
    each (example, group) over its channels and positions: y = (x − μ)/√(σ² + ε) · γ + β
    (biased σ², γ and β per channel)."""
    x = tensor_arg(input, "group_norm")
    if x.ndim < 2:
        raise RuntimeError(f"group_norm: expected at least 2 dimensions for input tensor but "
                           f"received {x.ndim} (shape {x.shape}); pass (N, C, *)")
    n, c = x.shape[0], x.shape[1]
    g = int(num_groups)
    if g <= 0 or c % g:
        raise RuntimeError(f"group_norm: expected number of channels in input to be divisible "
                           f"by num_groups, but got input of shape {list(x.shape)} and "
                           f"num_groups={num_groups}")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and (t.ndim != 1 or t.shape[0] != c):
            raise RuntimeError(f"group_norm: expected {name} to be a vector of size equal to the "
                               f"number of channels in input, but got {name} of shape "
                               f"{list(t.shape)} and input of shape {list(x.shape)}")
    y = LayerNorm.apply(reshape(x, (n, g, x.numel() // max(n * g, 1))), None, None,
                        float(eps), 1)
    return _affine(reshape(y, x.shape), weight, bias)


def instance_norm(input: Tensor, running_mean: Tensor | None = None,  # noqa: A002
                  running_var: Tensor | None = None, weight: Tensor | None = None,
                  bias: Tensor | None = None, use_input_stats: bool = True,
                  momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Normalize each (example, channel) of a ``(N, C, *)`` input over its positions.

    With ``use_input_stats`` the statistics are the input's own, and given running statistics
    are updated in place with their average over the batch (running variance unbiased, as
    PyTorch); otherwise the running statistics normalize (as ``batch_norm`` in eval mode).
    """
    x = tensor_arg(input, "instance_norm")
    if x.ndim < 3:
        raise ValueError(f"instance_norm: expected an input of shape (N, C, *) with at least 3 "
                         f"dims, got shape {x.shape}")
    n, c = x.shape[0], x.shape[1]
    for name, t in (("running_mean", running_mean), ("running_var", running_var),
                    ("weight", weight), ("bias", bias)):
        if t is not None and t.shape != (c,):
            raise RuntimeError(f"instance_norm: {name} has shape {tuple(t.shape)} but the input "
                               f"has {c} channels (input shape {tuple(x.shape)}); expected "
                               f"({c},)")
    if not use_input_stats:
        if running_mean is None or running_var is None:
            raise ValueError("instance_norm: use_input_stats=False needs running_mean and "
                             "running_var")
        return batch_norm(x, running_mean, running_var, weight, bias, False, momentum, eps)
    m = x.numel() // max(n * c, 1)
    if m <= 1:
        raise ValueError(f"instance_norm: expected more than 1 spatial element when training, "
                         f"got input of shape {tuple(x.shape)}")
    flat = reshape(x, (n, c, m))
    y = reshape(LayerNorm.apply(flat, None, None, float(eps), 1), x.shape)
    if running_mean is not None and running_var is not None:
        xp = x.backend.xp
        a = flat.array
        mean = xp.mean(a, axis=2)
        var = xp.var(a, axis=2)
        x.backend.k.batch_norm_update_stats(running_mean.array, running_var.array,
                                            xp.mean(mean, axis=0), xp.mean(var, axis=0), m,
                                            momentum)
        running_mean.increment_version()
        running_var.increment_version()
    return _affine(y, weight, bias)
