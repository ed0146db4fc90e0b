"""Activation kernels, forward and backward, in numerically stable forms.

sigmoid(x) = 1 / (1 + e^{-x}), computed from e^{-|x|} so it never overflows;
softmax and log_softmax subtract the row max (log-sum-exp trick);
gelu(x) = x Φ(x) (exact) or 0.5 x (1 + tanh(√(2/π)(x + 0.044715 x³))) (approximate="tanh").
"""

from __future__ import annotations

import math

from gradflow.dtypes import compute_in_float32, is_floating
from gradflow.kernels import kernel
from gradflow.kernels.elementwise import erf

_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_INV_SQRT_2 = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_GELU_C = 0.044715


@kernel
def relu(xp, x):
    return xp.maximum(x, 0)


@kernel
def relu_backward(xp, g, y):
    """dL/dx = g · [y > 0] (y = relu(x))."""
    return g * (y > 0)


@kernel
def relu_backward_(xp, g, y):
    """``relu_backward`` written into ``g`` (the same values; no activation-sized result)."""
    return xp.multiply(g, y > 0, out=g)


@kernel
def leaky_relu(xp, x, negative_slope=0.01):
    """x if x > 0 else αx, as max(x, αx) for α < 1 (min for α > 1): the same values without a
    data-dependent select (NumPy's ``where`` is several times slower on random signs). α = 0
    keeps ``where``, whose ±∞ · 0 = NaN the max would hide."""
    if negative_slope == 0:
        return xp.where(x > 0, x, x * negative_slope)
    extremum = xp.maximum if negative_slope < 1 else xp.minimum
    return extremum(x, x * negative_slope)


@kernel
def leaky_relu_backward(xp, g, x, negative_slope=0.01):
    """g if x > 0 else αg; for 0 ≤ α ≤ 1 as g · max([x > 0], α) (exactly 1 or α)."""
    if not 0 <= negative_slope <= 1:
        return xp.where(x > 0, g, g * negative_slope)
    f = xp.greater(x, 0).astype(g.dtype)
    xp.maximum(f, negative_slope, out=f)
    f *= g
    return f


@kernel
@compute_in_float32
def sigmoid(xp, x):
    """1/(1 + e^{−x}) computed in place on a clipped copy: |x| ≤ 88 (float32) or 708 (float64)
    keeps e^{−x} finite, and σ at the clip points is already 0 or 1 to working precision."""
    if not is_floating(x.dtype):
        x = x.astype("float32")
    lim = 88.0 if x.dtype.itemsize <= 4 else 708.0
    y = xp.clip(x, -lim, lim, out=xp.empty_like(x))
    xp.negative(y, out=y)
    xp.exp(y, out=y)
    y += 1
    xp.reciprocal(y, out=y)
    return y


@kernel
@compute_in_float32
def sigmoid_backward(xp, g, y):
    """dσ/dx = σ(1 − σ)."""
    t = xp.subtract(1, y, out=xp.empty_like(y))
    t *= y
    t *= g
    return t


@kernel
def tanh(xp, x):
    return xp.tanh(x)


@kernel
def tanh_backward(xp, g, y):
    """d tanh/dx = 1 − tanh²."""
    t = xp.multiply(y, y, out=xp.empty_like(y))
    xp.subtract(1, t, out=t)
    t *= g
    return t


@kernel
@compute_in_float32
def softplus(xp, x):
    """log(1 + e^x) = max(x, 0) + log1p(e^{-|x|})."""
    return xp.maximum(x, 0) + xp.log1p(xp.exp(-xp.abs(x)))


@kernel
@compute_in_float32
def softplus_backward(xp, g, x):
    """d softplus/dx = σ(x) (the stable sigmoid)."""
    t = sigmoid(xp, x)
    t *= g
    return t


@kernel
@compute_in_float32
def gelu(xp, x, approximate="none"):
    if approximate == "tanh":
        t = xp.tanh(_SQRT_2_OVER_PI * (x + _GELU_C * x * x * x))
        return 0.5 * x * (1 + t)
    return 0.5 * x * (1 + erf(xp, x * _INV_SQRT_2))


@kernel
@compute_in_float32
def gelu_backward(xp, g, x, approximate="none"):
    if approximate == "tanh":
        t = xp.tanh(_SQRT_2_OVER_PI * (x + _GELU_C * x * x * x))
        dt = (1 - t * t) * _SQRT_2_OVER_PI * (1 + 3 * _GELU_C * x * x)
        return g * (0.5 * (1 + t) + 0.5 * x * dt)
    cdf = 0.5 * (1 + erf(xp, x * _INV_SQRT_2))
    pdf = _INV_SQRT_2PI * xp.exp(-0.5 * x * x)
    return g * (cdf + x * pdf)


@kernel
@compute_in_float32
def softmax(xp, x, axis=-1):
    e = xp.exp(x - xp.max(x, axis=axis, keepdims=True))
    e /= xp.sum(e, axis=axis, keepdims=True)
    return e


@kernel
@compute_in_float32
def softmax_backward(xp, g, y, axis=-1):
    """dL/dx = y ⊙ (g − Σ g ⊙ y)."""
    t = xp.multiply(g, y, out=xp.empty_like(y))
    s = xp.sum(t, axis=axis, keepdims=True)
    xp.subtract(g, s, out=t)
    t *= y
    return t


@kernel
@compute_in_float32
def log_softmax(xp, x, axis=-1):
    shifted = x - xp.max(x, axis=axis, keepdims=True)
    e = xp.exp(shifted)
    shifted -= xp.log(xp.sum(e, axis=axis, keepdims=True))
    return shifted


@kernel
@compute_in_float32
def log_softmax_backward(xp, g, y, axis=-1):
    """dL/dx = g − e^{y} Σ g (y = log_softmax(x))."""
    t = xp.exp(y, out=xp.empty_like(y))
    t *= xp.sum(g, axis=axis, keepdims=True)
    xp.subtract(g, t, out=t)
    return t


@kernel
@compute_in_float32
def logsumexp(xp, x, axis=None, keepdims=False):
    m = xp.max(x, axis=axis, keepdims=True)
    m = xp.where(xp.isfinite(m), m, 0)
    out = xp.log(xp.sum(xp.exp(x - m), axis=axis, keepdims=True)) + m
    if not keepdims:
        out = out.squeeze(axis) if axis is not None else out.reshape(())
    return out


@kernel
@compute_in_float32
def logsumexp_backward(xp, g, x, out, kshape):
    """d logsumexp/dx = e^{x − out} (the softmax over the reduced axes), times g broadcast back;
    ``kshape`` is x's shape with the reduced axes set to 1."""
    t = xp.subtract(x, out.reshape(kshape), out=xp.empty(x.shape, dtype=out.dtype))
    xp.exp(t, out=t)
    t *= g.reshape(kshape)
    return t


# --- the rest of PyTorch's activations: a forward kernel (x, *params) and its vjp kernel
# (g, x, *params) each; bounds and kinks follow PyTorch's gradient convention (noted per kernel).
def _as(xp, y, like):
    """``y`` in ``like``'s dtype (NumPy promotes an integer array clipped by float bounds)."""
    return y if y.dtype == like.dtype else y.astype(like.dtype)


@kernel
@compute_in_float32
def silu(xp, x):
    """x σ(x)."""
    y = sigmoid(xp, x)
    y *= x
    return y


@kernel
@compute_in_float32
def silu_backward(xp, g, x):
    """d/dx x σ(x) = σ (1 + x (1 − σ))."""
    s = sigmoid(xp, x)
    return g * s * (1 + x * (1 - s))


@kernel
@compute_in_float32
def mish(xp, x):
    """x tanh(softplus(x))."""
    return x * xp.tanh(softplus(xp, x))


@kernel
@compute_in_float32
def mish_backward(xp, g, x):
    """d/dx = tanh(sp) + x σ(x) (1 − tanh²(sp)), sp = softplus(x)."""
    t = xp.tanh(softplus(xp, x))
    return g * (t + x * sigmoid(xp, x) * (1 - t * t))


@kernel
def elu(xp, x, alpha=1.0, scale=1.0, input_scale=1.0):
    """scale · x for x > 0, else scale · α (e^{x · input_scale} − 1) (ELU, SELU and CELU)."""
    neg = xp.expm1(xp.minimum(x, 0) * input_scale)
    neg *= scale * alpha
    return xp.where(x > 0, x * scale, neg)


@kernel
def elu_backward(xp, g, x, alpha=1.0, scale=1.0, input_scale=1.0):
    """scale for x > 0, else scale · α · input_scale · e^{x · input_scale} (x = 0 included)."""
    neg = xp.exp(xp.minimum(x, 0) * input_scale)
    neg *= scale * alpha * input_scale
    return g * xp.where(x > 0, scale, neg)


@kernel
def hardtanh(xp, x, min_val=-1.0, max_val=1.0):
    return _as(xp, xp.clip(x, min_val, max_val), x)


@kernel
def hardtanh_backward(xp, g, x, min_val=-1.0, max_val=1.0):
    """g where min_val < x < max_val (0 at the bounds, as PyTorch)."""
    return g * ((x > min_val) & (x < max_val))


@kernel
def hardswish(xp, x):
    """x · relu6(x + 3) / 6."""
    return x * xp.clip(x + 3, 0, 6) * (1 / 6)


@kernel
def hardswish_backward(xp, g, x):
    """0 for x ≤ −3, x/3 + 1/2 for −3 < x < 3, 1 for x ≥ 3."""
    d = xp.where(x >= 3, 1.0, x * (1 / 3) + 0.5)
    d = xp.where(x <= -3, 0.0, d)
    return g * _as(xp, d, g)


@kernel
def hardsigmoid(xp, x):
    """relu6(x + 3) / 6."""
    return xp.clip(x * (1 / 6) + 0.5, 0, 1)


@kernel
def hardsigmoid_backward(xp, g, x):
    """1/6 where −3 < x < 3."""
    return g * ((x > -3) & (x < 3)) * (1 / 6)


@kernel
def softsign(xp, x):
    return x / (1 + xp.abs(x))


@kernel
def softsign_backward(xp, g, x):
    """1 / (1 + |x|)²."""
    d = 1 + xp.abs(x)
    return g / (d * d)


@kernel
def softplus_beta(xp, x, beta=1.0, threshold=20.0):
    """log(1 + e^{βx}) / β, and x itself where βx > threshold (PyTorch's linear regime)."""
    bx = x * beta
    return xp.where(bx > threshold, x, softplus(xp, bx) / beta)


@kernel
def softplus_beta_backward(xp, g, x, beta=1.0, threshold=20.0):
    """σ(βx), and 1 where βx > threshold."""
    bx = x * beta
    return g * xp.where(bx > threshold, 1, sigmoid(xp, bx))


@kernel
@compute_in_float32
def logsigmoid(xp, x):
    """log σ(x) = min(x, 0) − log1p(e^{−|x|}): finite for every x."""
    return xp.minimum(x, 0) - xp.log1p(xp.exp(-xp.abs(x)))


@kernel
@compute_in_float32
def logsigmoid_backward(xp, g, x):
    """σ(−x)."""
    t = sigmoid(xp, -x)
    t *= g
    return t


@kernel
def threshold(xp, x, threshold=0.0, value=0.0):
    """x where x > threshold, else ``value``."""
    return _as(xp, xp.where(x > threshold, x, value), x)


@kernel
def threshold_backward(xp, g, x, threshold=0.0, value=0.0):
    return g * (x > threshold)


@kernel
def tanhshrink(xp, x):
    return x - xp.tanh(x)


@kernel
def tanhshrink_backward(xp, g, x):
    """tanh²(x)."""
    t = xp.tanh(x)
    t *= t
    t *= g
    return t


@kernel
def softshrink(xp, x, lambd=0.5):
    """x − λ for x > λ, x + λ for x < −λ, else 0."""
    y = xp.where(x > lambd, x - lambd, 0)
    return _as(xp, xp.where(x < -lambd, x + lambd, y), x)


@kernel
def softshrink_backward(xp, g, x, lambd=0.5):
    """g where |x| > λ (0 at ±λ)."""
    return g * ((x > lambd) | (x < -lambd))


@kernel
def hardshrink(xp, x, lambd=0.5):
    """x where |x| > λ, else 0."""
    return _as(xp, xp.where((x > lambd) | (x < -lambd), x, 0), x)


@kernel
def hardshrink_backward(xp, g, x, lambd=0.5):
    return g * ((x > lambd) | (x < -lambd))


@kernel
def rrelu_noise(xp, rng, shape, lower, upper, dtype):
    """RReLU's negative slopes, uniform on [lower, upper]."""
    a = rng.random(shape, dtype="float64") * (upper - lower) + lower
    return a.astype(dtype)
