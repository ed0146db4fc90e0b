"""Activations: relu, leaky_relu, sigmoid, tanh, gelu, softplus, softmax, log_softmax, logsumexp.

Each backward uses the family's fused kernel for first-order gradients and gradflow ops (so it is
differentiable again) when the backward pass is recorded.
"""

from __future__ import annotations

import math

from gradflow.autograd.function import Function
from gradflow.ops._util import first_order, keepdims_shape, norm_axes, wrap
from gradflow.ops.composite import composite_vjp
from gradflow.ops.math import erf, exp, where
from gradflow.ops.shape import reshape
from gradflow.tensor import Tensor


class _FromOutput(Function):
    """y = f(x) whose derivative is a function of y alone: save y; first-order backward runs the
    fused kernel ``<kernel>_backward(g, y)``, a recorded backward runs ``composed(g, y)``."""

    kernel: str

    @classmethod
    def forward(cls, ctx, x):
        y = getattr(ctx.k, cls.kernel)(x)
        ctx.save_for_backward(y)
        return y

    @classmethod
    def backward(cls, ctx, g):
        (y,) = ctx.saved_tensors
        if first_order():
            return wrap(ctx, getattr(ctx.k, cls.kernel + "_backward")(g.data, y.data))
        return cls.composed(g, y)

    @staticmethod
    def composed(g: Tensor, y: Tensor) -> Tensor:
        raise NotImplementedError


class Relu(_FromOutput):
    """max(x, 0); dy/dx = [y > 0]."""

    kernel = "relu"

    @staticmethod
    def composed(g, y):
        return g * (y > 0)


class Sigmoid(_FromOutput):
    """σ(x); dσ/dx = σ(1 − σ)."""

    kernel = "sigmoid"

    @staticmethod
    def composed(g, y):
        return g * y * (1 - y)


class Tanh(_FromOutput):
    """tanh(x); d tanh/dx = 1 − tanh²."""

    kernel = "tanh"

    @staticmethod
    def composed(g, y):
        return g * (1 - y * y)


class LeakyRelu(Function):
    @staticmethod
    def forward(ctx, x, negative_slope):
        ctx.slope = negative_slope
        ctx.save_for_backward(x)
        return ctx.k.leaky_relu(x, negative_slope)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        if first_order():
            return wrap(ctx, ctx.k.leaky_relu_backward(g.data, x.data, ctx.slope))
        return where(wrap(ctx, x.data > 0), g, g * ctx.slope)


_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)


def _gelu_composite(approximate):
    def f(x):
        if approximate == "tanh":
            return 0.5 * x * (1 + tanh(_SQRT_2_OVER_PI * (x + 0.044715 * x * x * x)))
        return 0.5 * x * (1 + erf(x * (1 / math.sqrt(2.0))))

    return f


class Gelu(Function):
    @staticmethod
    def forward(ctx, x, approximate):
        ctx.approximate = approximate
        ctx.save_for_backward(x)
        return ctx.k.gelu(x, approximate)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        if first_order():
            return wrap(ctx, ctx.k.gelu_backward(g.data, x.data, ctx.approximate))
        return composite_vjp(_gelu_composite(ctx.approximate), [x], [True], [g])[0]


class Softplus(Function):
    """log(1 + eˣ) in the stable form; d/dx = σ(x)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return ctx.k.softplus(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * sigmoid(x)


class Softmax(Function):
    @staticmethod
    def forward(ctx, x, axis):
        ctx.axis = axis
        y = ctx.k.softmax(x, axis)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        if first_order():
            return wrap(ctx, ctx.k.softmax_backward(g.data, y.data, ctx.axis))
        return y * (g - (g * y).sum(ctx.axis, keepdims=True))


class LogSoftmax(Function):
    @staticmethod
    def forward(ctx, x, axis):
        ctx.axis = axis
        y = ctx.k.log_softmax(x, axis)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        if first_order():
            return wrap(ctx, ctx.k.log_softmax_backward(g.data, y.data, ctx.axis))
        return g - exp(y) * g.sum(ctx.axis, keepdims=True)


class LogSumExp(Function):
    """log Σ eˣ with the max subtracted; d/dx = softmax(x) (the gradient is broadcast back)."""

    @staticmethod
    def forward(ctx, x, axes, keepdims):
        ctx.axes = axes
        out = ctx.k.logsumexp(x, axis=axes, keepdims=keepdims)
        ctx.save_for_backward(x, out)
        return out

    @staticmethod
    def backward(ctx, g):
        x, out = ctx.saved_tensors
        kshape = keepdims_shape(x.shape, ctx.axes)
        if first_order():
            p = ctx.xp.exp(x.data - out.data.reshape(kshape))
            return wrap(ctx, g.data.reshape(kshape) * p)
        return reshape(g, kshape) * exp(x - reshape(out, kshape))


def relu(x: Tensor) -> Tensor:
    return Relu.apply(x)


def leaky_relu(x: Tensor, negative_slope: float = 0.01) -> Tensor:
    return LeakyRelu.apply(x, float(negative_slope))


def sigmoid(x: Tensor) -> Tensor:
    return Sigmoid.apply(x)


def tanh(x: Tensor) -> Tensor:
    return Tanh.apply(x)


def gelu(x: Tensor, approximate: str = "none") -> Tensor:
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return Gelu.apply(x, approximate)


def softplus(x: Tensor) -> Tensor:
    return Softplus.apply(x)


def _one_axis(x: Tensor, axis, op: str) -> int:
    if not isinstance(axis, int):
        raise TypeError(f"{op}: axis must be an int, got {axis!r}")
    return norm_axes(axis, x.ndim, op)[0]


def softmax(x: Tensor, axis: int = -1) -> Tensor:
    return Softmax.apply(x, _one_axis(x, axis, "softmax"))


def log_softmax(x: Tensor, axis: int = -1) -> Tensor:
    return LogSoftmax.apply(x, _one_axis(x, axis, "log_softmax"))


def logsumexp(x: Tensor, axis=None, keepdims: bool = False) -> Tensor:
    return LogSumExp.apply(x, norm_axes(axis, x.ndim, "logsumexp"), keepdims)
