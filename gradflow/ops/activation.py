"""Activations: PyTorch's ``torch.nn.functional`` activations, softmax, log_softmax, logsumexp.

Each is one node with a kernel pair (forward, and ``vjp`` for first-order gradients) and a
``backward`` written with gradflow ops, so gradients of gradients work. They stay fused rather
than composed because one node is measurably cheaper than the composition: relu, sigmoid, tanh and
softmax are rows of ``benchmarks/overhead.py``; for the others forward + backward at 64×64 float32
costs 2.3× (leaky_relu), 1.5× (gelu), 3.2× (gelu tanh), 2.7× (softplus), 2.3× (log_softmax) and
2.1× (logsumexp) as much composed, and softplus has no stable composition (no log1p op).

The rest of the pointwise activations (silu, mish, elu/selu/celu, hardtanh/relu6, hardswish,
hardsigmoid, softsign, softplus with β and threshold, logsigmoid, threshold, tanhshrink,
softshrink, hardshrink) are one :class:`_Pointwise` node each: a fused forward and vjp kernel
(gradflow/kernels/activation.py), and a ``backward`` that differentiates a composition of
gradflow ops (smooth ones) or multiplies by the constant slope (piecewise linear ones), so
gradients of gradients work. Forward + backward at 64×64 float32 costs, composed over fused:
1.3× (silu), 3.3× (elu), 3.1× (hardswish), 2.2× (softsign), 1.8× (tanhshrink), 1.4× (mish).
Kinks take PyTorch's gradient convention. prelu, rrelu, glu and
softmin are compositions. ``inplace=True`` writes the result into the input through the graph
(its version moves, as PyTorch's in-place activations).
"""

from __future__ import annotations

import math
import warnings

from gradflow.autograd.function import Function
from gradflow.ops._util import as_float, keepdims_shape, norm_axes, reduce_axes, tensor_arg
from gradflow.ops.composite import composite_vjp
from gradflow.ops.math import abs as _abs
from gradflow.ops.math import clip, erf, exp, where
from gradflow.ops.shape import cast, reshape
from gradflow.tensor import Tensor, _inplace, tensor_methods


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
    vjp_inplace = True

    @staticmethod
    def vjp(ctx, g):
        (y,) = ctx.saved_arrays
        if ctx.grad_owned:  # only the engine holds g: mask it in place
            return ctx.k.relu_backward_(g, y)
        return ctx.k.relu_backward(g, y)

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


class Softplus(Function):
    """log(1 + eˣ) in the stable form, without a threshold; d/dx = σ(x). Only the composites
    below use it (inside recorded backwards), so it has no ``vjp``."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return ctx.k.softplus(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
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


class _Pointwise(Function):
    """y = f(x, *params) elementwise through the kernels ``kernel`` and ``kernel + "_backward"``.

    ``backward`` differentiates ``composite(x, *params)`` (gradflow ops) when f is smooth; when
    ``composite`` is None f is piecewise linear and its slope (the vjp kernel of ones) is a
    constant, so backward is g times it.
    """

    kernel: str
    composite = None

    @classmethod
    def forward(cls, ctx, x, *params):
        ctx.params = params
        ctx.save_for_backward(x)
        return getattr(ctx.k, cls.kernel)(x, *params)

    @classmethod
    def vjp(cls, ctx, g):
        return getattr(ctx.k, cls.kernel + "_backward")(g, ctx.saved_arrays[0], *ctx.params)

    @classmethod
    def backward(cls, ctx, g):
        (x,) = ctx.saved_tensors
        params = ctx.params
        if cls.composite is None:
            ones = ctx.backend.xp.ones_like(x.array)
            slope = getattr(ctx.k, cls.kernel + "_backward")(ones, x.array, *params)
            return g * Tensor.wrap(slope, ctx.backend)
        return composite_vjp(lambda t: cls.composite(t, *params), [x], [True], [g])[0]


def _pointwise(name: str, kernel: str, composite=None, doc: str = "") -> type:
    """A :class:`_Pointwise` Function named ``name`` (the graph shows it)."""
    return type(name, (_Pointwise,), {
        "kernel": kernel, "composite": None if composite is None else staticmethod(composite),
        "__doc__": doc or f"{kernel}(x) elementwise.", "__module__": __name__})


def _elu_composite(x, alpha, scale, input_scale):
    # clip keeps e^x finite for large x; at x = 0 PyTorch takes the negative branch's slope
    # (scale·α·input_scale) and a second derivative of 0: the tangent line there
    neg = (exp(clip(x, None, 0.0) * input_scale) - 1) * (scale * alpha)
    return where(x > 0, x * scale, where(x < 0, neg, x * (scale * alpha * input_scale)))


def _softplus_beta_composite(x, beta, threshold):
    # at βx = threshold exactly PyTorch's slope is σ(threshold) and its second derivative 0
    bx = x * beta
    slope = 0.5 * (1 + math.tanh(threshold / 2))  # σ(threshold)
    at = threshold * slope - math.log1p(math.exp(min(threshold, 700.0)))  # the tangent there
    inner = where(bx < threshold, Softplus.apply(bx) * (1 / beta), x * slope - at / beta)
    return where(bx > threshold, x, inner)


def _hardswish_composite(x):
    y = where(x >= 3, x, x * (x + 3) * (1 / 6))
    return where(x <= -3, x * 0, y)


Silu = _pointwise("Silu", "silu", lambda x: x * sigmoid(x), "x σ(x).")
Mish = _pointwise("Mish", "mish", lambda x: x * tanh(Softplus.apply(x)), "x tanh(softplus(x)).")
Elu = _pointwise("Elu", "elu", _elu_composite, "scale·x (x > 0) or scale·α(e^{x·s} − 1).")
Hardtanh = _pointwise("Hardtanh", "hardtanh", doc="clip(x, min_val, max_val).")
Hardswish = _pointwise("Hardswish", "hardswish", _hardswish_composite, "x relu6(x + 3) / 6.")
Hardsigmoid = _pointwise("Hardsigmoid", "hardsigmoid", doc="relu6(x + 3) / 6.")
Softsign = _pointwise("Softsign", "softsign", lambda x: x / (_abs(x) + 1), "x / (1 + |x|).")
SoftplusBeta = _pointwise("SoftplusBeta", "softplus_beta", _softplus_beta_composite,
                          "log(1 + e^{βx}) / β; x where βx > threshold.")
LogSigmoid = _pointwise("LogSigmoid", "logsigmoid", lambda x: -Softplus.apply(-x), "log σ(x).")
Threshold = _pointwise("Threshold", "threshold", doc="x where x > threshold, else value.")
Tanhshrink = _pointwise("Tanhshrink", "tanhshrink", lambda x: x - tanh(x), "x − tanh(x).")
Softshrink = _pointwise("Softshrink", "softshrink", doc="x ∓ λ outside [−λ, λ], else 0.")
Hardshrink = _pointwise("Hardshrink", "hardshrink", doc="x outside [−λ, λ], else 0.")

_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


# --- argument checks and in-place ------------------------------------------------------------
def _float_input(input, op: str) -> Tensor:  # noqa: A002
    """PyTorch's float-only activations refuse integer and bool tensors."""
    tensor_arg(input, op)
    if input.array.dtype.kind in "biu":
        raise NotImplementedError(f"{op}: not implemented for integer/bool input (dtype "
                                  f"{input.dtype}), as in PyTorch; convert it first, e.g. "
                                  "input.float()")
    return input


def _apply(fn, input: Tensor, inplace: bool, op: str) -> Tensor:  # noqa: A002
    """``fn(input)``, or with ``inplace`` its result written into ``input`` (returned)."""
    if not inplace:
        return fn(input)
    return _inplace(input, None, lambda a, _: fn(a), f"{op}(inplace=True)")


class ActivationArgumentError(RuntimeError, ValueError):
    """A bad activation argument: PyTorch raises RuntimeError; a ValueError as well (NumPy's
    kind for a bad argument value)."""


# --- functional API (torch.nn.functional's signatures) ----------------------------------------
def relu(input: Tensor, inplace: bool = False) -> Tensor:  # noqa: A002
    """max(x, 0) (integer tensors stay integer); dy/dx = 0 at 0."""
    tensor_arg(input, "relu")
    return _apply(Relu.apply, input, inplace, "relu")


def leaky_relu(input: Tensor, negative_slope: float = 0.01,  # noqa: A002
               inplace: bool = False) -> Tensor:
    """x for x > 0, else negative_slope · x (the slope at 0 is negative_slope, as PyTorch)."""
    slope = float(negative_slope)
    _float_input(input, "leaky_relu")
    return _apply(lambda a: LeakyRelu.apply(a, slope), input, inplace, "leaky_relu")


def sigmoid(input: Tensor) -> Tensor:  # noqa: A002
    return Sigmoid.apply(as_float(input, "sigmoid"))


def tanh(input: Tensor) -> Tensor:  # noqa: A002
    return Tanh.apply(as_float(input, "tanh"))


def gelu(input: Tensor, approximate: str = "none") -> Tensor:  # noqa: A002
    """x Φ(x) (``approximate="none"``) or 0.5x(1 + tanh(√(2/π)(x + 0.044715x³))) (``"tanh"``)."""
    if approximate not in ("none", "tanh"):
        raise ActivationArgumentError(f"gelu: approximate must be 'none' or 'tanh', got "
                                      f"{approximate!r}")
    return Gelu.apply(_float_input(input, "gelu"), approximate)


def silu(input: Tensor, inplace: bool = False) -> Tensor:  # noqa: A002
    """x σ(x) (swish)."""
    return _apply(Silu.apply, _float_input(input, "silu"), inplace, "silu")


def mish(input: Tensor, inplace: bool = False) -> Tensor:  # noqa: A002
    """x tanh(softplus(x))."""
    return _apply(Mish.apply, _float_input(input, "mish"), inplace, "mish")


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:  # noqa: A002
    """x for x > 0, else α(eˣ − 1); the slope at 0 is α (PyTorch's convention)."""
    a = float(alpha)
    return _apply(lambda t: Elu.apply(t, a, 1.0, 1.0), _float_input(input, "elu"), inplace, "elu")


def selu(input: Tensor, inplace: bool = False) -> Tensor:  # noqa: A002
    """scale · elu(x, α) with α ≈ 1.6733, scale ≈ 1.0507 (self-normalising)."""
    return _apply(lambda t: Elu.apply(t, _SELU_ALPHA, _SELU_SCALE, 1.0),
                  _float_input(input, "selu"), inplace, "selu")


def celu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:  # noqa: A002
    """max(0, x) + min(0, α(e^{x/α} − 1))."""
    a = float(alpha)
    if a == 0:
        raise ActivationArgumentError("celu: alpha must not be 0 (it divides x); got 0")
    return _apply(lambda t: Elu.apply(t, a, 1.0, 1 / a), _float_input(input, "celu"), inplace,
                  "celu")


def hardtanh(input: Tensor, min_val: float = -1.0, max_val: float = 1.0,  # noqa: A002
             inplace: bool = False) -> Tensor:
    """clip(x, min_val, max_val); the gradient is 0 at the bounds (PyTorch's convention)."""
    tensor_arg(input, "hardtanh")
    if min_val > max_val:
        raise ValueError(f"hardtanh: min_val cannot be greater than max_val (got min_val="
                         f"{min_val}, max_val={max_val})")
    return _apply(lambda t: Hardtanh.apply(t, min_val, max_val), input, inplace, "hardtanh")


def relu6(input: Tensor, inplace: bool = False) -> Tensor:  # noqa: A002
    """min(max(x, 0), 6) = hardtanh(x, 0, 6); the gradient is 0 at 0 and 6."""
    tensor_arg(input, "relu6")
    return _apply(lambda t: Hardtanh.apply(t, 0.0, 6.0), input, inplace, "relu6")


def hardswish(input: Tensor, inplace: bool = False) -> Tensor:  # noqa: A002
    """x · relu6(x + 3) / 6."""
    return _apply(Hardswish.apply, _float_input(input, "hardswish"), inplace, "hardswish")


def hardsigmoid(input: Tensor, inplace: bool = False) -> Tensor:  # noqa: A002
    """relu6(x + 3) / 6; the gradient is 0 at ±3."""
    return _apply(Hardsigmoid.apply, _float_input(input, "hardsigmoid"), inplace, "hardsigmoid")


def softsign(input: Tensor) -> Tensor:  # noqa: A002
    """x / (1 + |x|)."""
    return Softsign.apply(as_float(input, "softsign"))


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:  # noqa: A002
    """log(1 + e^{βx}) / β in the stable form, and x where βx > threshold (as PyTorch)."""
    _float_input(input, "softplus")
    return SoftplusBeta.apply(input, float(beta), float(threshold))


def logsigmoid(input: Tensor) -> Tensor:  # noqa: A002
    """log σ(x) = −softplus(−x), finite for every x."""
    return LogSigmoid.apply(_float_input(input, "logsigmoid"))


def threshold(input: Tensor, threshold: float, value: float,  # noqa: A002
              inplace: bool = False) -> Tensor:
    """x where x > threshold, else value (integer tensors stay integer)."""
    tensor_arg(input, "threshold")
    return _apply(lambda t: Threshold.apply(t, threshold, value), input, inplace, "threshold")


def tanhshrink(input: Tensor) -> Tensor:  # noqa: A002
    """x − tanh(x)."""
    return Tanhshrink.apply(as_float(input, "tanhshrink"))


def softshrink(input: Tensor, lambd: float = 0.5) -> Tensor:  # noqa: A002
    """x − λ for x > λ, x + λ for x < −λ, else 0 (λ ≥ 0)."""
    _float_input(input, "softshrink")
    if not lambd >= 0:
        raise ActivationArgumentError(f"softshrink: lambd must be >= 0, got {lambd}")
    return Softshrink.apply(input, float(lambd))


def hardshrink(input: Tensor, lambd: float = 0.5) -> Tensor:  # noqa: A002
    """x where |x| > λ, else 0."""
    return Hardshrink.apply(_float_input(input, "hardshrink"), float(lambd))


def prelu(input: Tensor, weight: Tensor) -> Tensor:  # noqa: A002
    """x for x > 0, else wᶜ x with one learned slope per channel (dim 1; one for all when
    ``weight`` has a single element); the slope at 0 is w."""
    _float_input(input, "prelu")
    tensor_arg(weight, "prelu", "weight")
    channels = input.shape[1] if input.ndim >= 2 else 1
    n = weight.numel()
    if n != 1 and n != channels:
        raise RuntimeError(f"prelu: weight has {n} elements (shape {tuple(weight.shape)}) but "
                           f"the input {tuple(input.shape)} has {channels} channels (dim 1); "
                           "pass one slope per channel or a single one")
    if n == 1:
        w = reshape(weight, ())
    else:
        w = reshape(weight, (channels,) + (1,) * (input.ndim - 2))
    return where(input > 0, input, input * w)


def rrelu(input: Tensor, lower: float = 1.0 / 8, upper: float = 1.0 / 3,  # noqa: A002
          training: bool = False, inplace: bool = False, *, generator=None) -> Tensor:
    """Randomized leaky ReLU: x for x > 0, else a·x with a ~ U(lower, upper) drawn per element
    from ``generator`` (the default one when None) in training, a = (lower + upper)/2 in eval."""
    _float_input(input, "rrelu")
    if lower > upper:
        raise ActivationArgumentError(f"rrelu: lower ({lower}) must be <= upper ({upper})")
    if not training:
        slope = (lower + upper) / 2
        return _apply(lambda a: LeakyRelu.apply(a, slope), input, inplace, "rrelu")
    from gradflow.random import rng_for

    backend = input.backend
    noise = backend.k.rrelu_noise(rng_for(generator, backend, "rrelu"), input.shape,
                                  float(lower), float(upper), input.dtype)
    a = Tensor.wrap(noise, backend)
    return _apply(lambda t: where(t > 0, t, t * a), input, inplace, "rrelu")


def glu(input: Tensor, dim: int = -1) -> Tensor:  # noqa: A002
    """a ⊗ σ(b) where a, b are the halves of ``input`` along ``dim``."""
    _float_input(input, "glu")
    if input.ndim == 0:
        raise RuntimeError("glu: does not support scalars (0-d input) because halving size "
                           "must be even; pass a tensor with at least one dimension")
    d = norm_axes(dim, input.ndim, "glu")[0]
    n = input.shape[d]
    if n % 2:
        raise RuntimeError(f"glu: halving dimension must be even, but dimension {dim} is size "
                           f"{n} (input shape {tuple(input.shape)})")
    lead = (slice(None),) * d
    return input[lead + (slice(0, n // 2),)] * sigmoid(input[lead + (slice(n // 2, n),)])


# --- softmax family ---------------------------------------------------------------------------
def _softmax_dim(op: str, input: Tensor, dim, axis, stacklevel: int) -> int:  # noqa: A002
    """``dim`` (or its NumPy alias ``axis``) normalised; None is PyTorch's deprecated implicit
    choice 0 for 0-, 1- and 3-d inputs, else 1, with PyTorch's UserWarning."""
    tensor_arg(input, op)
    dim = _dim_or_axis(dim, axis, op)
    if dim is None:
        warnings.warn(f"Implicit dimension choice for {op} has been deprecated. Change the call "
                      "to include dim=X as an argument.", UserWarning, stacklevel=stacklevel)
        dim = 0 if input.ndim in (0, 1, 3) else 1
    return _one_axis(input, dim, op)


def _softmax_input(op: str, input: Tensor, dtype) -> Tensor:  # noqa: A002
    if dtype is not None:
        from gradflow.dtypes import as_dtype

        return cast(input, as_dtype(dtype))
    return _float_input(input, op)


def softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3,  # noqa: A002
            dtype=None, *, axis: int | None = None) -> Tensor:
    """e^{x_i} / Σ_j e^{x_j} along ``dim`` (``dtype``: cast the input first)."""
    d = _softmax_dim("softmax", input, dim, axis, _stacklevel)
    return Softmax.apply(_softmax_input("softmax", input, dtype), d)


def log_softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3,  # noqa: A002
                dtype=None, *, axis: int | None = None) -> Tensor:
    """x − logsumexp(x) along ``dim``, computed stably (``dtype``: cast the input first)."""
    d = _softmax_dim("log_softmax", input, dim, axis, _stacklevel)
    return LogSoftmax.apply(_softmax_input("log_softmax", input, dtype), d)


def softmin(input: Tensor, dim: int | None = None, _stacklevel: int = 3,  # noqa: A002
            dtype=None, *, axis: int | None = None) -> Tensor:
    """softmax(−x) along ``dim``."""
    d = _softmax_dim("softmin", input, dim, axis, _stacklevel)
    return Softmax.apply(-_softmax_input("softmin", input, dtype), d)


def _one_axis(x: Tensor, axis, op: str) -> int:
    if not isinstance(axis, int):
        raise TypeError(f"{op}: the dim or axis must be an int, got {axis!r}")
    return norm_axes(axis, max(x.ndim, 1), op)[0]


def _dim_or_axis(dim, axis, op: str):
    if axis is None:
        return dim
    if dim is not None:
        raise TypeError(f"{op}: pass dim (PyTorch) or axis (NumPy), not both")
    return axis


def logsumexp(input: Tensor, dim=None, keepdim: bool = False, *, axis=None,  # noqa: A002
              keepdims: bool | None = None) -> Tensor:
    """log Σ exp(x) over ``dim`` (every dimension when None), with the max subtracted."""
    tensor_arg(input, "logsumexp")
    dim = _dim_or_axis(dim, axis, "logsumexp")
    keep = keepdim if keepdims is None else keepdims
    return LogSumExp.apply(input, reduce_axes(dim, input.ndim, "logsumexp"), bool(keep))


# --- Tensor methods (PyTorch's: the same functions with the tensor as input) -----------------
def _method_dim(op: str, dim, axis):
    if dim is None and axis is None:
        raise TypeError(f"Tensor.{op}(): missing the required argument 'dim' (int); pass the "
                        f"dimension, e.g. t.{op}(dim=-1)")
    return _dim_or_axis(dim, axis, op)


def _softmax_method(self, dim: int | None = None, dtype=None, *, axis: int | None = None):
    return softmax(self, _method_dim("softmax", dim, axis), dtype=dtype)


def _log_softmax_method(self, dim: int | None = None, dtype=None, *, axis: int | None = None):
    return log_softmax(self, _method_dim("log_softmax", dim, axis), dtype=dtype)


tensor_methods(replace=("softmax", "log_softmax"), softmax=_softmax_method,
               log_softmax=_log_softmax_method)
