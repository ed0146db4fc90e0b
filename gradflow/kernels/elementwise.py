"""Elementwise arithmetic and math kernels, their backward kernels, and ``sum_to``.

Backward kernels take the upstream gradient ``g`` first and return the gradient at the
broadcast shape; the op reduces it to each input's shape with :func:`sum_to`.
"""

from __future__ import annotations

import math
from functools import cache

from gradflow.dtypes import is_inexact
from gradflow.kernels import kernel

_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


@kernel
def add(xp, a, b):
    return a + b


@kernel
def sub(xp, a, b):
    return a - b


@kernel
def mul(xp, a, b):
    return a * b


@kernel
def div(xp, a, b):
    return a / b


@kernel
def div_grad_divisor(xp, g, a, b):
    """d(a/b)/db · g = −g a / b²."""
    return -g * a / (b * b)


@kernel
def neg(xp, a):
    return -a


def _small_power(xp, a, b):
    """a ** b by multiplication for a Python-number exponent in
    {-2, -1, -0.5, 0.5, 1, 2, 3, 4}
    (``pow`` with a float exponent runs a general exp/log loop, ~2-8x slower than the
    products, and ``x ** 2`` is in every MSE, norm and variance); None for other exponents."""
    if b.__class__ not in (int, float) or getattr(a, "dtype", None) is None or \
            not is_inexact(a.dtype):
        return None
    if b == 2:
        return a * a
    if b == 3:
        return a * a * a
    if b == 1:
        return a.copy()
    if b == 4:
        sq = a * a
        return sq * sq
    if b == 0.5:
        return xp.sqrt(a)
    if b == -1:
        return 1 / a
    if b == -2:
        return 1 / (a * a)
    if b == -0.5:
        return 1 / xp.sqrt(a)
    return None


@kernel
def power(xp, a, b):
    out = _small_power(xp, a, b)
    return a ** b if out is None else out


@kernel
def pow_grad_base(xp, g, a, b):
    """d(a^b)/da · g = g · b a^(b−1); 0 for b = 0 (as JAX and PyTorch, also at a = 0)."""
    if b.__class__ in (int, float) and b == 0:
        return g * xp.zeros_like(a)
    p = _small_power(xp, a, b - 1) if b.__class__ in (int, float) else None
    return g * (b * (a ** (b - 1) if p is None else p))


@kernel
def pow_grad_exponent(xp, g, out, log_a):
    """d(a^b)/db · g = g · a^b · log a (``out`` = a^b; ``log_a`` as :func:`log_nonzero` gives)."""
    return g * out * log_a


@kernel
def log_nonzero(xp, a):
    """log a with log 0 taken as 0 (the exponent's gradient of 0^b, as JAX has it)."""
    return xp.log(xp.where(a == 0, 1, a))


@kernel
def sqrt_backward(xp, g, y):
    """d√x/dx · g = g / (2y), y = √x."""
    return g / (2 * y)


@kernel
def abs_backward(xp, g, a):
    """d|x|/dx · g = g · sign(x) (0 at x = 0)."""
    return g * xp.sign(a)


@kernel
def sin_backward(xp, g, a):
    return g * xp.cos(a)


@kernel
def cos_backward(xp, g, a):
    return -g * xp.sin(a)


@cache
def _scipy_erf():
    from scipy.special import erf  # imported on first use: SciPy is slow to import

    return erf


@kernel
def erf(xp, a):
    """erf through SciPy (NumPy arrays), in ``a``'s dtype; the CUDA backend overrides it."""
    return _scipy_erf()(a).astype(a.dtype, copy=False)


@kernel
def erf_backward(xp, g, a):
    """d erf(x)/dx · g = g · 2/√π · e^{−x²}."""
    return g * _TWO_OVER_SQRT_PI * xp.exp(-(a * a))


@kernel
def maximum(xp, a, b):
    return xp.maximum(a, b)


@kernel
def minimum(xp, a, b):
    return xp.minimum(a, b)


@kernel
def extremum_weight(xp, a, b, larger, dtype):
    """The share of the gradient of maximum(a, b) (``larger``) or minimum(a, b) that goes to
    ``a``: 1 where ``a`` wins, 0 where ``b`` wins, 1/2 at ties (as JAX and PyTorch)."""
    wins = a > b if larger else a < b
    return xp.where(a == b, 0.5, wins).astype(dtype, copy=False)


@kernel
def extremum_pair_backward(xp, g, a, b, larger):
    """(dL/da, dL/db) of maximum/minimum(a, b) at the broadcast shape: g · w and g − g · w."""
    ga = g * extremum_weight(xp, a, b, larger, g.dtype)
    return ga, g - ga


@kernel
def where(xp, cond, a, b):
    return xp.where(cond, a, b)


@kernel
def clip(xp, a, lo, hi):
    """min(max(a, lo), hi) (PyTorch's order: ``hi`` wins where lo > hi; NaN propagates from
    ``a`` and from the bounds); a missing bound is None."""
    if lo is not None:
        a = xp.maximum(a, lo)
    if hi is not None:
        a = xp.minimum(a, hi)
    return a


@kernel
def clamp_masks(xp, a, lo, hi, needs):
    """PyTorch's gradient masks of clamp(a, lo, hi), each only where ``needs`` asks (else None):
    the gradient goes to a where lo ≤ a ≤ hi, to lo where lo > a and lo < hi, to hi where
    hi < a or hi < lo (a missing bound is None)."""
    na, nlo, nhi = needs
    ma = clip_mask(xp, a, lo, hi) if na else None
    mlo = mhi = None
    if nlo:
        mlo = lo > a if hi is None else (lo > a) & (lo < hi)
    if nhi:
        mhi = hi < a if lo is None else (hi < a) | (hi < lo)
    return ma, mlo, mhi


@kernel
def clamp_backward(xp, g, a, lo, hi, needs, shapes):
    """(dL/da, dL/dlo, dL/dhi) of clamp: g under each mask of :func:`clamp_masks`, summed to
    each input's shape (None where not needed)."""
    masks = clamp_masks(xp, a, lo, hi, needs)
    if not needs[1] and not needs[2]:  # number bounds: g · mask, as one product
        return sum_to(xp, g * masks[0], shapes[0]), None, None
    zero = xp.zeros((), g.dtype)
    return tuple(None if m is None else sum_to(xp, xp.where(m, g, zero), s)
                 for m, s in zip(masks, shapes))


@kernel
def clip_mask(xp, a, lo, hi):
    """Where lo ≤ a ≤ hi (bounds inclusive, as PyTorch's clamp; a missing bound is ±∞)."""
    if lo is None:
        return a <= hi
    if hi is None:
        return a >= lo
    return (a >= lo) & (a <= hi)


@cache
def _scipy_erfinv():
    from scipy.special import erfinv

    return erfinv


_LN2 = math.log(2.0)
_LN10 = math.log(10.0)
_SQRT_PI_OVER_2 = math.sqrt(math.pi) / 2


@kernel
def log2_backward(xp, g, a):
    """d log₂x/dx · g = g / (x ln 2)."""
    return g / (a * _LN2)


@kernel
def log10_backward(xp, g, a):
    return g / (a * _LN10)


@kernel
def log1p_backward(xp, g, a):
    """d log(1+x)/dx · g = g / (1 + x)."""
    return g / (a + 1)


@kernel
def expm1_backward(xp, g, y):
    """d(eˣ−1)/dx · g = g (y + 1), y = eˣ − 1."""
    return g * (y + 1)


@kernel
def exp2_backward(xp, g, y):
    """d2ˣ/dx · g = g · y ln 2."""
    return g * y * _LN2


@kernel
def sinh_backward(xp, g, a):
    return g * xp.cosh(a)


@kernel
def cosh_backward(xp, g, a):
    return g * xp.sinh(a)


@kernel
def tan_backward(xp, g, y):
    """d tan x/dx · g = g (1 + y²), y = tan x."""
    return g * (y * y + 1)


@kernel
def asin_backward(xp, g, a):
    """d asin x/dx · g = g / √(1 − x²)."""
    return g / xp.sqrt(1 - a * a)


@kernel
def acos_backward(xp, g, a):
    return -g / xp.sqrt(1 - a * a)


@kernel
def atan_backward(xp, g, a):
    """d atan x/dx · g = g / (1 + x²)."""
    return g / (a * a + 1)


@kernel
def rsqrt(xp, a):
    return 1 / xp.sqrt(a)


@kernel
def rsqrt_backward(xp, g, y):
    """d x^(−1/2)/dx · g = −g y³ / 2, y = x^(−1/2)."""
    return g * (y * y * y) * -0.5


@kernel
def reciprocal(xp, a):
    return 1 / a


@kernel
def reciprocal_backward(xp, g, y):
    """d(1/x)/dx · g = −g y², y = 1/x."""
    return -g * (y * y)


@kernel
def square(xp, a):
    return a * a


@kernel
def square_backward(xp, g, a):
    return g * (2 * a)


@kernel
def erfinv(xp, a):
    """The inverse error function (SciPy on NumPy arrays, cupyx.scipy on CuPy's)."""
    if xp.__name__ == "numpy":
        return _scipy_erfinv()(a).astype(a.dtype, copy=False)
    from cupyx.scipy.special import erfinv as cupy_erfinv

    return cupy_erfinv(a)


@kernel
def erfinv_backward(xp, g, y):
    """d erfinv(x)/dx · g = g · √π/2 · e^{y²}, y = erfinv(x)."""
    return g * _SQRT_PI_OVER_2 * xp.exp(y * y)


@kernel
def atan2(xp, a, b):
    return xp.arctan2(a, b)


@kernel
def atan2_backward(xp, g, a, b):
    """(dL/da, dL/db) of atan2(a, b) = g · (b, −a) / (a² + b²), 0 where a = b = 0 (as
    PyTorch)."""
    den = a * a + b * b
    zero = den == 0
    r = g / xp.where(zero, 1, den)
    r = xp.where(zero, 0, r).astype(r.dtype, copy=False)
    return r * b, -(r * a)


@kernel
def sum_to(xp, g, shape):
    """Sum ``g`` over the axes that broadcasting added or stretched, so it has ``shape``."""
    if g.shape == shape:
        return g
    lead = g.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        i + lead for i, n in enumerate(shape) if n == 1 and g.shape[i + lead] != 1
    )
    out = g.sum(axis=axes, keepdims=True) if axes else g
    if lead:
        out = out.reshape(out.shape[lead:])
    return out.reshape(shape)


def _array_function(name: str, xp_name: str):
    def fn(xp, a):
        return getattr(xp, xp_name)(a)

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"``xp.{xp_name}(a)`` elementwise."
    return fn


#: Forward kernels that are one array-module function each: (kernel name, ``xp`` function).
ARRAY_FUNCTIONS = (
    ("exp", "exp"),
    ("log", "log"),
    ("sqrt", "sqrt"),
    ("abs", "abs"),
    ("sign", "sign"),
    ("sin", "sin"),
    ("cos", "cos"),
    ("log2", "log2"),
    ("log10", "log10"),
    ("log1p", "log1p"),
    ("expm1", "expm1"),
    ("exp2", "exp2"),
    ("sinh", "sinh"),
    ("cosh", "cosh"),
    ("tan", "tan"),
    ("asin", "arcsin"),
    ("acos", "arccos"),
    ("atan", "arctan"),
)
for _name, _xp_name in ARRAY_FUNCTIONS:
    globals()[_name] = kernel(_array_function(_name, _xp_name))
