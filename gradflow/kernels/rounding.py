"""Rounding and division kernels with PyTorch's conventions: round half to even, sign(NaN) = 0,
``remainder`` with the divisor's sign (its zeros keep the dividend's sign, as C's fmod), integer
quotients truncated or floored, integer division by zero an error (NumPy arrays; CuPy gives no
such check, as PyTorch's CUDA kernels)."""

from __future__ import annotations

import contextlib

from gradflow.kernels import kernel
from gradflow.kernels.elementwise import sum_to as _sum_to


def _integer(a) -> bool:
    return a.dtype.kind in "biu"


def _check_int_divisor(xp, a, b, op: str) -> None:
    """PyTorch's "ZeroDivisionError" for an integer division by zero (NumPy arrays only: on a
    GPU the check would synchronise with the host)."""
    ints = getattr(b, "dtype", None) is not None and b.dtype.kind in "biu"
    ints = ints or (isinstance(b, int) and getattr(a, "dtype", None) is not None
                    and a.dtype.kind in "biu")
    if not ints or xp.__name__ != "numpy":
        return
    if (b == 0) if isinstance(b, int) else bool((b == 0).any()):
        raise RuntimeError(f"{op}: integer division by zero (ZeroDivisionError): 'other' holds "
                           "a 0; divide floating-point tensors for inf/nan, or mask the zeros")


def _quiet(xp):
    """NumPy's divide/invalid warnings off (PyTorch gives inf/nan silently)."""
    return xp.errstate(divide="ignore", invalid="ignore") if xp.__name__ == "numpy" \
        else contextlib.nullcontext()


@kernel
def round_decimals(xp, a, decimals):
    """Round half to even; with ``decimals`` as PyTorch: rint(a·10ᵈ)/10ᵈ (d > 0) or
    rint(a/10⁻ᵈ)·10⁻ᵈ (d < 0), in ``a``'s dtype."""
    if _integer(a):
        return a.copy()
    if decimals == 0:
        return xp.rint(a)
    ten = xp.asarray(10.0 ** (decimals if decimals > 0 else -decimals), dtype=a.dtype)
    if decimals > 0:
        return xp.rint(a * ten) / ten
    return xp.rint(a / ten) * ten


@kernel
def rnd_floor(xp, a):
    return a.copy() if _integer(a) else xp.floor(a)


@kernel
def rnd_ceil(xp, a):
    return a.copy() if _integer(a) else xp.ceil(a)


@kernel
def rnd_trunc(xp, a):
    return a.copy() if _integer(a) else xp.trunc(a)


@kernel
def torch_sign(xp, a):
    """(x > 0) − (x < 0) in ``a``'s dtype: 0 for NaN and ±0, as PyTorch (NumPy gives NaN)."""
    if a.dtype.kind == "b":
        return a.copy()
    return (a > 0).astype(a.dtype) - (a < 0).astype(a.dtype)


@kernel
def rnd_zeros_like(xp, a):
    return xp.zeros_like(a)


@kernel
def rnd_remainder(xp, a, b):
    """a − b·floor(a/b), computed from C's fmod: the result has the sign of b (0 keeps fmod's
    sign); integers as Python's %."""
    if _integer(a if hasattr(a, "dtype") else b):
        _check_int_divisor(xp, a, b, "remainder")
        return xp.remainder(a, b)
    with _quiet(xp):
        mod = xp.fmod(a, b)
        fix = (mod != 0) & ((b < 0) != (mod < 0))
        return xp.where(fix, mod + b, mod)


@kernel
def rnd_fmod(xp, a, b):
    """C's fmod: the result has the sign of a."""
    _check_int_divisor(xp, a, b, "fmod")
    with _quiet(xp):
        return xp.fmod(a, b)


@kernel
def floor_div(xp, a, b):
    """floor(a / b) (Python's //, also for floats: inf/nan for a zero divisor)."""
    _check_int_divisor(xp, a, b, "floor_divide")
    with _quiet(xp):
        return xp.floor_divide(a, b)


@kernel
def trunc_div(xp, a, b):
    """a / b rounded toward zero; integers as C's division."""
    if _integer(a if hasattr(a, "dtype") else b):
        _check_int_divisor(xp, a, b, "div")
        q = xp.floor_divide(a, b)
        inexact = (xp.remainder(a, b) != 0) & ((a < 0) != (b < 0))
        return xp.where(inexact, q + 1, q)
    with _quiet(xp):
        return xp.trunc(a / b)


@kernel
def remainder_grads(xp, g, a, b, trunc, shapes, needs):
    """(dL/da, dL/db) of remainder (``trunc`` False: −g·floor(a/b) for b) or fmod (True:
    −g·trunc(a/b)); dL/da = g; each summed to its shape."""
    sa, sb = shapes
    ga = _sum_to(xp, g, sa) if needs[0] else None
    gb = None
    if needs[1]:
        with _quiet(xp):
            q = xp.trunc(a / b) if trunc else xp.floor_divide(a, b)
        gb = _sum_to(xp, -(g * q), sb)
    return ga, gb
