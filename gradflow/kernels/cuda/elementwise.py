"""Fused elementwise CUDA kernels (CuPy ``ElementwiseKernel``): activations and the dropout mask;
``erf`` through ``cupyx.scipy.special``.

Each fused kernel runs for float32/float64 operands of one dtype; anything else (integers,
float16, mixed dtypes) goes to the generic kernel (see :class:`~._common.Overrides`).
The formulas are the generic kernels' (see :mod:`gradflow.kernels.activation`), written as one
pass over memory instead of several.
"""

from __future__ import annotations

import math
from functools import cache

from gradflow.kernels.cuda._common import EW, Overrides, elementwise, floats

_K = repr(math.sqrt(2.0 / math.pi))   # √(2/π)
_INV_SQRT2 = repr(1.0 / math.sqrt(2.0))
_INV_SQRT_2PI = repr(1.0 / math.sqrt(2.0 * math.pi))
_C3 = repr(3 * 0.044715)   # the generic kernel folds 3·c in Python (double), then rounds once

EW_SPECS = {
    # relu keeps NaN (like maximum(x, 0)); its backward is g·[y > 0] exactly as the generic one.
    "relu": EW("T x", "T y", "y = x < (T)0 ? (T)0 : x"),
    "relu_backward": EW("T g, T y", "T gx", "gx = g * (T)(y > (T)0)"),
    "leaky_relu": EW("T x, T s", "T y", "y = x > (T)0 ? x : x * s"),
    "leaky_relu_backward": EW("T g, T x, T s", "T gx", "gx = x > (T)0 ? g : g * s"),
    "sigmoid": EW(
        "T x", "T y",
        "T e = exp(-fabs(x)); T inv = (T)1 / ((T)1 + e); y = x >= (T)0 ? inv : e * inv"),
    "sigmoid_backward": EW("T g, T y", "T gx", "gx = ((T)1 - y) * y * g"),
    "tanh_backward": EW("T g, T y", "T gx", "gx = ((T)1 - y * y) * g"),
    "gelu": EW("T x", "T y", f"y = (T)0.5 * x * ((T)1 + erf(x * (T){_INV_SQRT2}))"),
    "gelu_backward": EW(
        "T g, T x", "T gx",
        f"T cdf = (T)0.5 * ((T)1 + erf(x * (T){_INV_SQRT2})); "
        f"T pdf = (T){_INV_SQRT_2PI} * exp((T)-0.5 * x * x); gx = g * (cdf + x * pdf)"),
    "gelu_tanh": EW(
        "T x", "T y",
        f"T t = tanh((T){_K} * (x + (T)0.044715 * x * x * x)); y = (T)0.5 * x * ((T)1 + t)"),
    "gelu_tanh_backward": EW(
        "T g, T x", "T gx",
        f"T t = tanh((T){_K} * (x + (T)0.044715 * x * x * x)); "
        f"T dt = ((T)1 - t * t) * (T){_K} * ((T)1 + (T){_C3} * x * x); "
        "gx = g * ((T)0.5 * ((T)1 + t) + (T)0.5 * x * dt)"),
    # dropout: u ~ U[0, 1) from the backend generator (float32, as the generic kernel draws it);
    # kept where u >= p (compared in float32, as NumPy/CuPy compare with a Python float).
    "dropout_mask": EW("float32 u, float32 p, T scale", "T m", "m = u >= p ? scale : (T)0"),
}


@cache
def _special_erf():
    from cupyx.scipy.special import erf

    return erf


def _ew(name: str):
    return elementwise(name, EW_SPECS[name])


def overrides(backend, generic) -> dict:
    xp = backend.xp
    table = Overrides(backend, generic)

    @table.fused(fits=lambda x: floats(x))
    def relu(x):
        return _ew("relu")(x)

    @table.fused(fits=lambda g, y: floats(g, y))
    def relu_backward(g, y):
        return _ew("relu_backward")(g, y)

    @table.fused(fits=lambda x, negative_slope=0.01: floats(x))
    def leaky_relu(x, negative_slope=0.01):
        return _ew("leaky_relu")(x, negative_slope)

    @table.fused(fits=lambda g, x, negative_slope=0.01: floats(g, x))
    def leaky_relu_backward(g, x, negative_slope=0.01):
        return _ew("leaky_relu_backward")(g, x, negative_slope)

    @table.fused(fits=lambda x: floats(x))
    def sigmoid(x):
        return _ew("sigmoid")(x)

    @table.fused(fits=lambda g, y: floats(g, y))
    def sigmoid_backward(g, y):
        return _ew("sigmoid_backward")(g, y)

    @table.fused(fits=lambda g, y: floats(g, y))
    def tanh_backward(g, y):
        return _ew("tanh_backward")(g, y)

    # The generic gelu needs SciPy's erf (host only), so no input falls back to it on the GPU:
    # other float dtypes (float16) run the fused kernel in float32 and are cast back.
    @table.replace
    def gelu(x, approximate="none"):
        kernel = _ew("gelu_tanh" if approximate == "tanh" else "gelu")
        if floats(x):
            return kernel(x)
        return kernel(x.astype(xp.float32)).astype(x.dtype)

    @table.replace
    def gelu_backward(g, x, approximate="none"):
        kernel = _ew("gelu_tanh_backward" if approximate == "tanh" else "gelu_backward")
        if floats(g, x):
            return kernel(g, x)
        return kernel(g.astype(xp.float32), x.astype(xp.float32)).astype(x.dtype)

    @table.fused(fits=lambda rng, shape, p, dtype: xp.dtype(dtype).char in "fd")
    def dropout_mask(rng, shape, p, dtype):
        u = rng.random(shape, dtype="float32")
        return _ew("dropout_mask")(u, p, 1.0 / (1.0 - p), xp.empty(u.shape, dtype=xp.dtype(dtype)))

    @table.replace
    def erf(a):
        """erf through ``cupyx.scipy.special`` (the generic kernel is SciPy's), in ``a``'s dtype."""
        return _special_erf()(a).astype(a.dtype, copy=False)

    return table.kernels
