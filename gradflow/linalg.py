"""``gradflow.linalg``: PyTorch's ``torch.linalg`` names (norms, det, inv, solve, cholesky,
svd, svdvals), batched over leading dimensions and differentiable to every order (see
:mod:`gradflow.ops.norms` and :mod:`gradflow.ops.decompositions` for the gradients)."""

from __future__ import annotations

from collections import namedtuple

from gradflow.dtypes import is_floating
from gradflow.ops._util import tensor_arg
from gradflow.ops.decompositions import QR, SVD, Cholesky, Det, Eigh, Inv, SlogDet, Solve, SvdVals
from gradflow.ops.matmul import matmul
from gradflow.ops.norms import linalg_norm as norm
from gradflow.ops.norms import matrix_norm, vector_norm
from gradflow.tensor import Tensor

SVDResult = namedtuple("SVDResult", ["U", "S", "Vh"])
QRResult = namedtuple("QRResult", ["Q", "R"])
SlogdetResult = namedtuple("SlogdetResult", ["sign", "logabsdet"])
EighResult = namedtuple("EighResult", ["eigenvalues", "eigenvectors"])

__all__ = ["EighResult", "QRResult", "SVDResult", "SlogdetResult", "cholesky", "det", "eigh",
           "eigvalsh", "inv", "matmul", "matrix_norm", "matrix_power", "multi_dot", "norm", "qr",
           "slogdet", "solve", "svd", "svdvals", "vecdot", "vector_norm"]


def _matrix(A, op: str, square: bool = True) -> Tensor:
    tensor_arg(A, op, "A")
    if A.ndim < 2:
        raise RuntimeError(f"{op}: The input tensor A must have at least 2 dimensions, got "
                           f"shape {tuple(A.shape)}")
    if square and A.shape[-1] != A.shape[-2]:
        raise RuntimeError(f"{op}: A must be batches of square matrices, but they are "
                           f"{A.shape[-2]} by {A.shape[-1]} matrices (shape {tuple(A.shape)})")
    if not is_floating(A.dtype):
        raise RuntimeError(f"{op}: Expected a floating point tensor as input, got {A.dtype}; "
                           "convert it (e.g. .float())")
    return A


def _lapack_error(op: str, exc: Exception, A: Tensor, what: str) -> RuntimeError:
    return RuntimeError(f"{op}: {what} (input of shape {tuple(A.shape)}): {exc}")


def det(A: Tensor) -> Tensor:
    """The determinant of (a batch of) square matrices."""
    return Det.apply(_matrix(A, "linalg.det"))


def inv(A: Tensor) -> Tensor:
    """The inverse of (a batch of) square matrices; a singular matrix is a RuntimeError."""
    A = _matrix(A, "linalg.inv")
    try:
        return Inv.apply(A)
    except Exception as exc:  # LinAlgError (NumPy) / cupy's
        if type(exc).__name__ != "LinAlgError":
            raise
        raise _lapack_error("linalg.inv", exc, A, "The diagonal element of the LU factor is "
                            "zero: the matrix is singular, its inverse does not exist") from exc


def solve(A: Tensor, B: Tensor, *, left: bool = True) -> Tensor:
    """X with A X = B (``left=False``: X A = B). B is a batch of vectors when it is 1-D or
    has the shape of A without its last dim; batch dims broadcast."""
    op = "linalg.solve"
    A = _matrix(A, op)
    tensor_arg(B, op, "B")
    if B.dtype != A.dtype:
        raise RuntimeError(f"{op}: Expected A and B to have the same dtype, but found "
                           f"A of type {A.dtype} and B of type {B.dtype} instead")
    if not left:
        return solve(A.mT, B.mT).mT
    vector = B.ndim == 1 or (B.ndim == A.ndim - 1 and tuple(B.shape) == tuple(A.shape[:-1]))
    B2 = B.unsqueeze(-1) if vector else B
    if B2.ndim < 2 or B2.shape[-2] != A.shape[-1]:
        raise RuntimeError(f"{op}: Incompatible shapes of A and B for the equation AX = B "
                           f"({A.shape[-2]}x{A.shape[-1]} and {tuple(B.shape)})")
    batch = _broadcast(tuple(A.shape[:-2]), tuple(B2.shape[:-2]), op)
    B2 = B2.broadcast_to(batch + tuple(B2.shape[-2:]))
    try:
        x = Solve.apply(A, B2)
    except Exception as exc:
        if type(exc).__name__ != "LinAlgError":
            raise
        raise _lapack_error(op, exc, A, "The solver failed because the input matrix is "
                            "singular") from exc
    return x.squeeze(-1) if vector else x


def _broadcast(a: tuple, b: tuple, op: str) -> tuple:
    n = max(len(a), len(b))
    a, b = (1,) * (n - len(a)) + a, (1,) * (n - len(b)) + b
    out = []
    for x, y in zip(a, b):
        if x != y and 1 not in (x, y):
            raise RuntimeError(f"{op}: the batch dimensions {a} and {b} do not broadcast")
        out.append(max(x, y))
    return tuple(out)


def cholesky(A: Tensor, *, upper: bool = False) -> Tensor:
    """L with A = L Lᵀ (``upper=True``: U = Lᵀ with A = UᵀU) for symmetric positive-definite A
    (only its lower triangle is read)."""
    A = _matrix(A, "linalg.cholesky")
    try:
        low = Cholesky.apply(A)
    except Exception as exc:
        if type(exc).__name__ != "LinAlgError":
            raise
        raise _lapack_error("linalg.cholesky", exc, A, "The factorization could not be "
                            "completed because the input is not positive-definite") from exc
    return low.mT if upper else low


def svd(A: Tensor, full_matrices: bool = True, *, driver=None) -> SVDResult:
    """(U, S, Vh) with A = U diag(S) Vh. Gradients need ``full_matrices=False`` (or square A):
    the extra columns of a full U or Vh are not unique, as in PyTorch."""
    A = _matrix(A, "linalg.svd", square=False)
    if driver is not None:
        raise RuntimeError("linalg.svd: driver= is only for CUDA inputs in PyTorch; leave it None")
    m, n = A.shape[-2:]
    if full_matrices and m != n:
        from gradflow.autograd.grad_mode import is_grad_enabled

        if A.requires_grad and is_grad_enabled():
            raise RuntimeError("linalg.svd: the derivative of full_matrices=True is not "
                               "defined for a non-square matrix; use full_matrices=False")
        backend = A.backend
        u, s, vh = backend.k.linalg_svd(A.array, True)
        return SVDResult(*(Tensor.wrap(x, backend) for x in (u, s, vh)))
    return SVDResult(*SVD.apply(A))


def svdvals(A: Tensor, *, driver=None) -> Tensor:
    """The singular values of A, in descending order."""
    A = _matrix(A, "linalg.svdvals", square=False)
    return SvdVals.apply(A)


def vecdot(x: Tensor, y: Tensor, *, dim: int = -1) -> Tensor:
    """Σ over ``dim`` of x·y (dims broadcast)."""
    tensor_arg(x, "linalg.vecdot", "x")
    tensor_arg(y, "linalg.vecdot", "y")
    if x.dtype != y.dtype:
        raise RuntimeError(f"linalg.vecdot: expected x and y to have the same dtype, but x has "
                           f"dtype {x.dtype} and y has dtype {y.dtype}")
    return (x * y).sum(dim)


def qr(A: Tensor, mode: str = "reduced") -> QRResult:
    """(Q, R) with A = Q R, Q orthonormal columns, R upper triangular. ``mode``: 'reduced'
    (Q (m, k), R (k, n)), 'complete' (Q (m, m)), 'r' (R only; Q empty). Gradients: 'reduced'
    (or 'complete' of a square matrix) with m >= n."""
    op = "linalg.qr"
    A = _matrix(A, op, square=False)
    if mode not in ("reduced", "complete", "r"):
        raise RuntimeError(f"{op}: qr received unrecognized mode {mode!r} but expected one of "
                           "'reduced' (default), 'r', or 'complete'")
    m, n = A.shape[-2:]
    from gradflow.autograd.grad_mode import is_grad_enabled

    differentiable = m >= n and (mode == "reduced" or (mode == "complete" and m == n))
    if differentiable:
        return QRResult(*QR.apply(A))
    if A.requires_grad and is_grad_enabled():
        raise RuntimeError(f"{op}: the derivative of mode={mode!r} with A of shape "
                           f"{tuple(A.shape)} is not implemented; use mode='reduced' with "
                           "m >= n (or detach A)")
    backend = A.backend
    xp = backend.xp
    if mode == "r":
        r = backend.k.linalg_qr(A.array, "r")
        return QRResult(Tensor.wrap(xp.zeros((0,), dtype=A.dtype), backend),
                        Tensor.wrap(r, backend))
    q, r = backend.k.linalg_qr(A.array, mode)
    return QRResult(Tensor.wrap(q, backend), Tensor.wrap(r, backend))


def slogdet(A: Tensor) -> SlogdetResult:
    """(sign, log|det A|): the determinant without overflow; the sign has no gradient."""
    return SlogdetResult(*SlogDet.apply(_matrix(A, "linalg.slogdet")))


def _uplo(UPLO, op: str) -> str:
    if UPLO not in ("L", "U"):
        raise RuntimeError(f"{op}: Expected UPLO argument to be 'L' or 'U', but got {UPLO!r}")
    return UPLO


def eigh(A: Tensor, UPLO: str = "L") -> EighResult:  # noqa: N803 - torch's name
    """Eigenvalues (ascending) and orthonormal eigenvectors of symmetric A, reading only its
    ``UPLO`` triangle. Gradients assume distinct eigenvalues (as PyTorch's)."""
    op = "linalg.eigh"
    return EighResult(*Eigh.apply(_matrix(A, op), uplo=_uplo(UPLO, op)))


def eigvalsh(A: Tensor, UPLO: str = "L") -> Tensor:  # noqa: N803
    """The eigenvalues of symmetric A, ascending (Ā = Q diag(w̄) Qᵀ)."""
    op = "linalg.eigvalsh"
    return Eigh.apply(_matrix(A, op), uplo=_uplo(UPLO, op))[0]


def multi_dot(tensors) -> Tensor:
    """The product of a chain of matrices; the first may be a row vector (1-D) and the last a
    column vector (1-D)."""
    op = "linalg.multi_dot"
    tensors = list(tensors)
    if len(tensors) < 2:
        raise RuntimeError(f"{op}(): expected at least 2 tensors but got {len(tensors)}")
    for i, t in enumerate(tensors):
        tensor_arg(t, op, f"tensors[{i}]")
        inner = 0 < i < len(tensors) - 1
        if t.ndim != 2 and (inner or t.ndim != 1):
            where = "the first and last" if not inner else f"tensor {i}"
            raise RuntimeError(f"{op}(): {where} tensors must be 1D or 2D (inner ones 2D), got "
                               f"{t.ndim}D for tensor {i} (shape {tuple(t.shape)})")
    if len({t.dtype for t in tensors}) > 1:
        raise RuntimeError(f"{op}(): all tensors must have the same dtype, got "
                           f"{[str(t.dtype) for t in tensors]}")
    out = tensors[0]
    for i, t in enumerate(tensors[1:], 1):
        if out.shape[-1] != t.shape[0]:
            raise RuntimeError(f"{op}(): tensors {i - 1} and {i} with shapes "
                               f"{tuple(tensors[i - 1].shape)} and {tuple(t.shape)} cannot be "
                               "multiplied")
        out = matmul(out, t)
    return out


def matrix_power(A: Tensor, n: int) -> Tensor:
    """A^n by repeated squaring (n = 0: the identity; n < 0: powers of inv(A))."""
    op = "linalg.matrix_power"
    tensor_arg(A, op, "A")
    if A.ndim < 2 or A.shape[-1] != A.shape[-2]:
        raise RuntimeError(f"{op}: A must be batches of square matrices, got shape "
                           f"{tuple(A.shape)}")
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"{op}: n must be an int, got {type(n).__name__}")
    if n == 0:
        backend = A.backend
        eye = backend.xp.broadcast_to(backend.xp.eye(A.shape[-1], dtype=A.dtype), A.shape)
        return Tensor.wrap(backend.xp.array(eye), backend)
    base = inv(A) if n < 0 else A
    n = -n if n < 0 else n
    result = None
    while n:
        if n & 1:
            result = base if result is None else matmul(result, base)
        n >>= 1
        if n:
            base = matmul(base, base)
    return result
