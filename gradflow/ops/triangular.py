"""Triangles and diagonals (PyTorch's semantics): tril, triu, diag, diagonal, diag_embed, trace.

``tril``/``triu`` select with a constant mask (``where``), ``diagonal`` gathers by index arrays
and ``diag_embed`` scatters by them (``IndexAdd``, whose adjoint is the gather): every order of
derivative comes from those ops.
"""

from __future__ import annotations

from gradflow.ops._util import tensor_arg
from gradflow.ops.indexing import IndexAdd
from gradflow.ops.math import where
from gradflow.ops.rearrange import _int, movedim
from gradflow.ops.shape import _dim, transpose
from gradflow.tensor import Tensor, _inplace, tensor_methods


def _triangle(input: Tensor, diagonal, lower: bool, op: str) -> Tensor:  # noqa: A002
    tensor_arg(input, op)
    if input.ndim < 2:
        raise RuntimeError(f"{op}: input tensor must have at least 2 dimensions, got shape "
                           f"{input.shape}")
    k = _int(diagonal, op, "diagonal")
    xp = input._backend.xp
    rows, cols = input.shape[-2:]
    offset = xp.arange(cols)[None, :] - xp.arange(rows)[:, None]  # j - i
    keep = offset <= k if lower else offset >= k
    zero = False if input.dtype.kind == "b" else 0
    return where(Tensor._make(keep, input._backend), input, zero)


def tril(input: Tensor, diagonal: int = 0) -> Tensor:  # noqa: A002
    """The lower triangle of the last two dims: elements with j - i <= diagonal, others 0."""
    return _triangle(input, diagonal, True, "tril")


def triu(input: Tensor, diagonal: int = 0) -> Tensor:  # noqa: A002
    """The upper triangle of the last two dims: elements with j - i >= diagonal, others 0."""
    return _triangle(input, diagonal, False, "triu")


def tril_(self: Tensor, diagonal: int = 0) -> Tensor:
    return _inplace(self, None, lambda a, _: tril(a, diagonal), "tril_")


def triu_(self: Tensor, diagonal: int = 0) -> Tensor:
    return _inplace(self, None, lambda a, _: triu(a, diagonal), "triu_")


def _diag_index(xp, n1: int, n2: int, offset: int):
    """(rows, cols) of the ``offset`` diagonal of an ``n1 x n2`` matrix."""
    if offset >= 0:
        k = max(0, min(n1, n2 - offset))
        i = xp.arange(k, dtype="int64")
        return i, i + offset
    k = max(0, min(n1 + offset, n2))
    i = xp.arange(k, dtype="int64")
    return i - offset, i


def _two_dims(dim1, dim2, ndim: int, op: str) -> tuple[int, int]:
    d1 = _dim(_int(dim1, op, "dim1"), ndim, op)
    d2 = _dim(_int(dim2, op, "dim2"), ndim, op)
    if d1 == d2:
        raise RuntimeError(f"{op}: diagonal dimensions cannot be identical {dim1}, {dim2}")
    return d1, d2


def diagonal(input: Tensor, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:  # noqa: A002
    """The ``offset`` diagonal of the matrices in dims (``dim1``, ``dim2``), as a new last
    dim (offset > 0: above the main diagonal)."""
    tensor_arg(input, "diagonal")
    offset = _int(offset, "diagonal", "offset")
    d1, d2 = _two_dims(dim1, dim2, input.ndim, "diagonal")
    rest = [d for d in range(input.ndim) if d not in (d1, d2)]
    x = transpose(input, (*rest, d1, d2))
    rows, cols = _diag_index(input._backend.xp, input.shape[d1], input.shape[d2], offset)
    return x[(Ellipsis, rows, cols)]


def diag_embed(input: Tensor, offset: int = 0, dim1: int = -2, dim2: int = -1) -> Tensor:  # noqa: A002
    """Matrices in dims (``dim1``, ``dim2``) of the result with the last dim of ``input`` on
    their ``offset`` diagonal, zeros elsewhere."""
    tensor_arg(input, "diag_embed")
    offset = _int(offset, "diag_embed", "offset")
    d1, d2 = _two_dims(dim1, dim2, input.ndim + 1, "diag_embed")
    m = input.shape[-1] + abs(offset)
    rows, cols = _diag_index(input._backend.xp, m, m, offset)
    y = IndexAdd.apply(input, tuple(input.shape[:-1]) + (m, m), (Ellipsis, rows, cols))
    return movedim(y, (-2, -1), (d1, d2))


_diagonal = diagonal  # diag() has an argument of that name


def diag(input: Tensor, diagonal: int = 0) -> Tensor:  # noqa: A002
    """1-D input: the square matrix with it on the ``diagonal``; 2-D input: that diagonal."""
    tensor_arg(input, "diag")
    if input.ndim == 1:
        return diag_embed(input, _int(diagonal, "diag", "diagonal"))
    if input.ndim == 2:
        return _diagonal(input, diagonal)
    raise RuntimeError(f"diag(): supports 1D or 2D tensors, got {input.ndim}D (shape "
                       f"{input.shape}); use diagonal() or diag_embed() for batches")


def trace(input: Tensor) -> Tensor:  # noqa: A002
    """The sum of the main diagonal of a matrix (integer inputs sum in int64, as PyTorch)."""
    tensor_arg(input, "trace")
    if input.ndim != 2:
        raise RuntimeError(f"trace: expected a matrix, but got tensor with dim {input.ndim} "
                           f"(shape {input.shape})")
    if input.dtype.kind == "b":
        raise NotImplementedError("trace: not implemented for bool tensors; convert first, "
                                  "e.g. x.long()")
    d = diagonal(input)
    if d.dtype.kind in "iu":
        d = d.to(dtype="int64")
    return d.sum()


tensor_methods(tril=tril, triu=triu, tril_=tril_, triu_=triu_, diagonal=diagonal,
               diag_embed=diag_embed, diag=diag, trace=trace)
