"""PyTorch's top-level linear-algebra names over :mod:`gradflow.linalg`: ``torch.svd`` (reduced
by ``some``, returning V rather than Vᴴ), ``torch.qr`` (``some``), ``torch.cholesky``,
``torch.slogdet``, ``logdet`` and ``pinverse``; all differentiable through the decompositions'
gradients. (``torch.lstsq`` is left out: PyTorch 2.13 only raises there, pointing to
``linalg.lstsq``.)"""

from __future__ import annotations

from collections import namedtuple

from gradflow import linalg
from gradflow.ops import math as M
from gradflow.ops._util import is_scalar, tensor_arg
from gradflow.ops.arithmetic import mul
from gradflow.tensor import Tensor, tensor_methods

svd_result = namedtuple("svd", ["U", "S", "V"])
qr_result = namedtuple("qr", ["Q", "R"])


def _mH(x: Tensor) -> Tensor:
    t = x.transpose(-2, -1)
    return t.conj() if x.dtype.kind == "c" and hasattr(t, "conj") else t


def svd(input: Tensor, some: bool = True, compute_uv: bool = True):  # noqa: A002 - torch's
    """A = U diag(S) Vᴴ as the named tuple (U, S, V), V not Vᴴ (unlike ``linalg.svd``);
    ``some`` keeps the reduced factors. ``compute_uv=False`` returns zero U (m × m) and V
    (n × n), as PyTorch, and S without gradient through U, V."""
    tensor_arg(input, "svd")
    if input.ndim < 2:
        raise RuntimeError(f"svd: input must have at least 2 dimensions, got shape "
                           f"{tuple(input.shape)}")
    if not compute_uv:
        from gradflow.creation import zeros

        *lead, m, n = input.shape
        s = linalg.svdvals(input)
        return svd_result(zeros(*lead, m, m, dtype=input.dtype, device=input.device), s,
                          zeros(*lead, n, n, dtype=input.dtype, device=input.device))
    u, s, vh = linalg.svd(input, full_matrices=not some)
    return svd_result(u, s, _mH(vh))


def qr(input: Tensor, some: bool = True):  # noqa: A002
    """A = QR as (Q, R): reduced (``some=True``) or complete, as ``linalg.qr``'s modes."""
    q, r = linalg.qr(tensor_arg(input, "qr"), "reduced" if some else "complete")
    return qr_result(q, r)


def cholesky(input: Tensor, upper: bool = False) -> Tensor:  # noqa: A002
    """The Cholesky factor L (A = L Lᴴ) or with ``upper`` U (A = Uᴴ U)."""
    return linalg.cholesky(tensor_arg(input, "cholesky"), upper=upper)


def slogdet(input: Tensor):  # noqa: A002
    """(sign, log |det A|) of a square matrix or batch (``linalg.slogdet``)."""
    return linalg.slogdet(tensor_arg(input, "slogdet"))


def logdet(input: Tensor) -> Tensor:  # noqa: A002
    """log det A: NaN where det A < 0, −inf where it is 0 (as PyTorch)."""
    sign, logabs = linalg.slogdet(tensor_arg(input, "logdet"))
    neg = sign.array < 0
    return M.where(neg, float("nan"), logabs) if bool(neg.any()) else logabs


def pinverse(input: Tensor, rcond: float = 1e-15) -> Tensor:  # noqa: A002
    """The Moore–Penrose pseudo-inverse V diag(1/s) Uᴴ, singular values at or below
    ``rcond`` · max(s) treated as 0 (differentiable through the SVD)."""
    tensor_arg(input, "pinverse")
    if not is_scalar(rcond):
        raise TypeError(f"pinverse(): argument 'rcond' must be a float, got "
                        f"{type(rcond).__name__}")
    if input.ndim < 2:
        raise RuntimeError(f"pinverse: input must have at least 2 dimensions, got shape "
                           f"{tuple(input.shape)}")
    if input.dtype.kind in "biu":
        raise RuntimeError(f"pinverse: expected a floating point or complex tensor, got "
                           f"{input.dtype}")
    u, s, vh = linalg.svd(input, full_matrices=False)
    sa = s.array
    if sa.shape[-1] == 0:  # an empty matrix: the (n, m) empty pseudo-inverse
        return mul(_mH(input), 0)
    cutoff = rcond * sa.max(-1, keepdims=True)
    keep = sa > cutoff
    s_inv = M.where(keep, M.reciprocal(M.where(keep, s, 1.0)), 0.0)
    return _mH(vh) @ mul(s_inv.unsqueeze(-1), _mH(u))


def _svd_method(self: Tensor, some: bool = True, compute_uv: bool = True):
    return svd(self, some, compute_uv)


tensor_methods(svd=_svd_method, qr=qr, cholesky=cholesky, slogdet=slogdet, logdet=logdet,
               pinverse=pinverse)
