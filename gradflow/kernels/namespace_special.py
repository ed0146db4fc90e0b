"""Special-function kernels of the top-level namespace ops: erfc, lgamma and the polygamma
family (digamma is polygamma 0), SciPy on NumPy arrays, cupyx.scipy on CuPy's."""

from __future__ import annotations

from functools import cache

from gradflow.kernels import kernel


@cache
def _special(on_gpu: bool):
    if on_gpu:
        import cupyx.scipy.special as special
    else:
        import scipy.special as special
    return special


def _sp(xp):
    return _special(xp.__name__ != "numpy")


@kernel
def ns_erfc(xp, a):
    """1 − erf(a) without cancellation for large a."""
    return _sp(xp).erfc(a).astype(a.dtype, copy=False)


@kernel
def ns_lgamma(xp, a):
    """log |Γ(a)| (+inf at the poles 0, −1, −2, ...), as C's lgamma and PyTorch."""
    return _sp(xp).gammaln(a).astype(a.dtype, copy=False)


@kernel
def ns_polygamma(xp, a, n: int):
    """ψ⁽ⁿ⁾(a), the n-th derivative of the digamma function ψ = Γ′/Γ (n = 0: digamma, with
    PyTorch's values at the poles: ψ(±0) = ∓inf, NaN at the negative integers)."""
    sp = _sp(xp)
    out = sp.digamma(a) if n == 0 else sp.polygamma(n, a)
    return out.astype(a.dtype, copy=False)
