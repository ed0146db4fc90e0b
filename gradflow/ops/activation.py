"""Activations: relu, leaky_relu, sigmoid, tanh, gelu, softplus, softmax, log_softmax, logsumexp.

Each is one node with a kernel pair (forward, and ``vjp`` for first-order gradients) and a
``backward`` written with gradflow ops, so gradients of gradients work. They stay fused rather
than composed because one node is measurably cheaper than the composition: relu, sigmoid, tanh and
softmax are rows of ``benchmarks/overhead.py``; for the others forward + backward at 64×64 float32
costs 2.3× (leaky_relu), 1.5× (gelu), 3.2× (gelu tanh), 2.7× (softplus), 2.3× (log_softmax) and
2.1× (logsumexp) as much composed, and softplus has no stable composition (no log1p op).
"""

from __future__ import annotations

import math

from gradflow.autograd.function import Function
from gradflow.ops._util import as_float, keepdims_shape, norm_axes, tensor_arg
from gradflow.ops.composite import composite_vjp
from gradflow.ops.math import erf, exp, where
from gradflow.ops.shape import reshape
from gradflow.tensor import Tensor


class _Activation(Function):
    """y = f(x, *params) through a kernel pair ``kernels = (forward, backward)``.

    The forward kernel runs ``f(x, *params)``; the derivative is a function of the saved s = y
    (``from_output``) or s = x. ``vjp`` runs the backward kernel ``(g, s, *params)``; ``backward``
    runs ``composed(g, s, *params)`` with gradflow ops.
    """

    kernels: tuple[str, str]
    from_output = True

    @classmethod
    def forward(cls, ctx, x, *params):
        y = getattr(ctx.k, cls.kernels[0])(x, *params)
        ctx.params = params
        ctx.save_for_backward(y if cls.from_output else x)
        return y

    @classmethod
    def vjp(cls, ctx, g):
        (s,) = ctx.saved_arrays
        return getattr(ctx.k, cls.kernels[1])(g, s, *ctx.params)

    @classmethod
    def backward(cls, ctx, g):
        (s,) = ctx.saved_tensors
        return cls.composed(g, s, *ctx.params)

    @staticmethod
    def composed(g: Tensor, s: Tensor, *params) -> Tensor:
        raise NotImplementedError


class Relu(_Activation):
    """max(x, 0); dy/dx = [y > 0]."""

    kernels = ("relu", "relu_backward")

    @staticmethod
    def composed(g, y):
        return g * (y > 0)


class Sigmoid(_Activation):
    """σ(x); dσ/dx = σ(1 − σ)."""

    kernels = ("sigmoid", "sigmoid_backward")

    @staticmethod
    def composed(g, y):
        return g * y * (1 - y)


class Tanh(_Activation):
    """tanh(x); d tanh/dx = 1 − tanh²."""

    kernels = ("tanh", "tanh_backward")

    @staticmethod
    def composed(g, y):
        return g * (1 - y * y)


class LeakyRelu(_Activation):
    """x if x > 0 else αx; dy/dx = 1 or α."""

    kernels = ("leaky_relu", "leaky_relu_backward")
    from_output = False

    @staticmethod
    def composed(g, x, negative_slope):
        return where(x > 0, g, g * negative_slope)


_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)


def _gelu_composite(approximate: str):
    def f(x):
        if approximate == "tanh":
            return 0.5 * x * (1 + tanh(_SQRT_2_OVER_PI * (x + 0.044715 * x * x * x)))
        return 0.5 * x * (1 + erf(x * (1 / math.sqrt(2.0))))

    return f


class Gelu(_Activation):
    """x Φ(x), or its tanh approximation; backward differentiates the composite."""

    kernels = ("gelu", "gelu_backward")
    from_output = False

    @staticmethod
    def composed(g, x, approximate):
        return composite_vjp(_gelu_composite(approximate), [x], [True], [g])[0]


class Softplus(_Activation):
    """log(1 + eˣ) in the stable form; d/dx = σ(x)."""

    kernels = ("softplus", "softplus_backward")
    from_output = False

    @staticmethod
    def composed(g, x):
        return g * sigmoid(x)


class Softmax(_Activation):
    """eˣ / Σ eˣ along ``axis``; dL/dx = y ⊙ (g − Σ g ⊙ y)."""

    kernels = ("softmax", "softmax_backward")

    @staticmethod
    def composed(g, y, axis):
        return y * (g - (g * y).sum(axis, keepdims=True))


class LogSoftmax(_Activation):
    """x − logsumexp(x) along ``axis``; dL/dx = g − e^y Σ g."""

    kernels = ("log_softmax", "log_softmax_backward")

    @staticmethod
    def composed(g, y, axis):
        return g - exp(y) * g.sum(axis, keepdims=True)


class LogSumExp(Function):
    """log Σ eˣ with the max subtracted; d/dx = e^{x − out} (the gradient is broadcast back)."""

    @staticmethod
    def forward(ctx, x, axes, keepdims):
        ctx.kshape = keepdims_shape(x.shape, axes)
        out = ctx.k.logsumexp(x, axis=axes, keepdims=keepdims)
        ctx.save_for_backward(x, out)
        return out

    @staticmethod
    def vjp(ctx, g):
        x, out = ctx.saved_arrays
        return ctx.k.logsumexp_backward(g, x, out, ctx.kshape)

    @staticmethod
    def backward(ctx, g):
        x, out = ctx.saved_tensors
        kshape = ctx.kshape
        return reshape(g, kshape) * exp(x - reshape(out, kshape))


def relu(x: Tensor) -> Tensor:
    return Relu.apply(tensor_arg(x, "relu"))


def leaky_relu(x: Tensor, negative_slope: float = 0.01) -> Tensor:
    return LeakyRelu.apply(tensor_arg(x, "leaky_relu"), float(negative_slope))


def sigmoid(x: Tensor) -> Tensor:
    return Sigmoid.apply(as_float(x, "sigmoid"))


def tanh(x: Tensor) -> Tensor:
    return Tanh.apply(as_float(x, "tanh"))


def gelu(x: Tensor, approximate: str = "none") -> Tensor:
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return Gelu.apply(tensor_arg(x, "gelu"), approximate)


def softplus(x: Tensor) -> Tensor:
    return Softplus.apply(tensor_arg(x, "softplus"))


def _one_axis(x: Tensor, axis, op: str) -> int:
    tensor_arg(x, op)
    if not isinstance(axis, int):
        raise TypeError(f"{op}: axis must be an int, got {axis!r}")
    return norm_axes(axis, x.ndim, op)[0]


def _dim_or_axis(dim, axis, op: str):
    if axis is None:
        return dim
    if dim is not None:
        raise TypeError(f"{op}: pass dim (PyTorch) or axis (NumPy), not both")
    return axis


def softmax(x: Tensor, dim: int | None = None, *, axis: int | None = None) -> Tensor:
    """Softmax along ``dim`` (the last dimension when neither ``dim`` nor ``axis`` is given)."""
    dim = _dim_or_axis(dim, axis, "softmax")
    return Softmax.apply(x, _one_axis(x, -1 if dim is None else dim, "softmax"))


def log_softmax(x: Tensor, dim: int | None = None, *, axis: int | None = None) -> Tensor:
    """log(softmax(x)) along ``dim``, computed stably (the last dimension by default)."""
    dim = _dim_or_axis(dim, axis, "log_softmax")
    return LogSoftmax.apply(x, _one_axis(x, -1 if dim is None else dim, "log_softmax"))


def logsumexp(x: Tensor, dim=None, keepdim: bool = False, *, axis=None,
              keepdims: bool | None = None) -> Tensor:
    """log Σ exp(x) over ``dim`` (every dimension when None), with the max subtracted."""
    tensor_arg(x, "logsumexp")
    dim = _dim_or_axis(dim, axis, "logsumexp")
    keep = keepdim if keepdims is None else keepdims
    return LogSumExp.apply(x, norm_axes(dim, x.ndim, "logsumexp"), bool(keep))
