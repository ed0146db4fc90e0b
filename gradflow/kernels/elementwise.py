"""Elementwise arithmetic and math kernels, and the broadcasting reduction ``sum_to``."""

from __future__ import annotations

from gradflow.kernels import kernel


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
def neg(xp, a):
    return -a


@kernel
def power(xp, a, b):
    return a ** b


@kernel
def exp(xp, a):
    return xp.exp(a)


@kernel
def log(xp, a):
    return xp.log(a)


@kernel
def sqrt(xp, a):
    return xp.sqrt(a)


@kernel
def abs(xp, a):  # noqa: A001 - the kernel is named after the op
    return xp.abs(a)


@kernel
def sign(xp, a):
    return xp.sign(a)


@kernel
def sin(xp, a):
    return xp.sin(a)


@kernel
def cos(xp, a):
    return xp.cos(a)


@kernel
def erf(xp, a):
    if xp.__name__ == "numpy":
        from scipy.special import erf as _erf
    else:
        from cupyx.scipy.special import erf as _erf
    return _erf(a).astype(a.dtype, copy=False)


@kernel
def maximum(xp, a, b):
    return xp.maximum(a, b)


@kernel
def minimum(xp, a, b):
    return xp.minimum(a, b)


@kernel
def where(xp, cond, a, b):
    return xp.where(cond, a, b)


@kernel
def clip(xp, a, lo, hi):
    return xp.clip(a, lo, hi)


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
