"""Fused elementwise CUDA kernels (CuPy ``ElementwiseKernel``): activations and the dropout mask.

Each override has the generic kernel's signature and runs the fused kernel for float32/float64
operands of one dtype; anything else (integers, float16, mixed dtypes) goes to the generic kernel.
The formulas are the generic kernels' (see :mod:`gradflow.kernels.activation`), written as one
pass over memory instead of several.
"""

from __future__ import annotations

import math

from gradflow.kernels.cuda._common import EW, elementwise

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


def _f(a) -> bool:
    return a.dtype.char in "fd"


def overrides(backend, generic) -> dict:
    xp = backend.xp
    gk = {name: generic[name] for name in (
        "relu", "relu_backward", "leaky_relu", "leaky_relu_backward", "sigmoid",
        "sigmoid_backward", "tanh_backward", "gelu", "gelu_backward", "dropout_mask")}

    def ew(name):
        return elementwise(name, EW_SPECS[name])

    def relu(x):
        if _f(x):
            return ew("relu")(x)
        return gk["relu"](xp, x)

    def relu_backward(g, y):
        if _f(g) and g.dtype == y.dtype:
            return ew("relu_backward")(g, y)
        return gk["relu_backward"](xp, g, y)

    def leaky_relu(x, negative_slope=0.01):
        if _f(x):
            return ew("leaky_relu")(x, negative_slope)
        return gk["leaky_relu"](xp, x, negative_slope)

    def leaky_relu_backward(g, x, negative_slope=0.01):
        if _f(g) and g.dtype == x.dtype:
            return ew("leaky_relu_backward")(g, x, negative_slope)
        return gk["leaky_relu_backward"](xp, g, x, negative_slope)

    def sigmoid(x):
        if _f(x):
            return ew("sigmoid")(x)
        return gk["sigmoid"](xp, x)

    def sigmoid_backward(g, y):
        if _f(g) and g.dtype == y.dtype:
            return ew("sigmoid_backward")(g, y)
        return gk["sigmoid_backward"](xp, g, y)

    def tanh_backward(g, y):
        if _f(g) and g.dtype == y.dtype:
            return ew("tanh_backward")(g, y)
        return gk["tanh_backward"](xp, g, y)

    def gelu(x, approximate="none"):
        if _f(x):
            return ew("gelu_tanh" if approximate == "tanh" else "gelu")(x)
        return gk["gelu"](xp, x, approximate)

    def gelu_backward(g, x, approximate="none"):
        if _f(g) and g.dtype == x.dtype:
            return ew("gelu_tanh_backward" if approximate == "tanh" else "gelu_backward")(g, x)
        return gk["gelu_backward"](xp, g, x, approximate)

    def dropout_mask(rng, shape, p, dtype):
        dt = xp.dtype(dtype)
        if dt.char not in "fd":
            return gk["dropout_mask"](xp, rng, shape, p, dtype)
        u = rng.random(shape, dtype="float32")
        return ew("dropout_mask")(u, p, 1.0 / (1.0 - p), xp.empty(u.shape, dtype=dt))

    return {"relu": relu, "relu_backward": relu_backward, "leaky_relu": leaky_relu,
            "leaky_relu_backward": leaky_relu_backward, "sigmoid": sigmoid,
            "sigmoid_backward": sigmoid_backward, "tanh_backward": tanh_backward,
            "gelu": gelu, "gelu_backward": gelu_backward, "dropout_mask": dropout_mask}
