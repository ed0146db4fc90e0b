"""Sorting and order statistics with PyTorch's semantics: ``sort``, ``argsort``, ``msort``,
``topk``, ``kthvalue``, ``median``, ``nanmedian``, ``mode``.

The indices come from a kernel (int64, no gradient); the values are the input gathered at them
(:class:`gradflow.ops.indexing.GetItem`), so the gradient is routed back to the chosen
elements, to every order. NaN sorts above every number (last ascending, first descending);
ties keep their original order. Results with indices are named tuples (``.values``,
``.indices``) as ``torch.return_types``."""

from __future__ import annotations

import collections

from gradflow.dtypes import is_inexact
from gradflow.ops._util import norm_axes, tensor_arg
from gradflow.ops.indexing import GetItem
from gradflow.tensor import Tensor

_RT = {name: collections.namedtuple(name, ["values", "indices"])
       for name in ("sort", "topk", "kthvalue", "median", "nanmedian", "mode")}


def _dim(dim, ndim: int, op: str) -> int:
    if isinstance(dim, bool) or not isinstance(dim, int):
        raise TypeError(f"{op}(): argument 'dim' must be an int, got {type(dim).__name__}")
    return norm_axes(dim, ndim, op)[0]


def _prepare(input, dim, op: str):  # noqa: A002
    """(input as at least 1-d, the dim); 0-d input acts as 1-d (PyTorch)."""
    tensor_arg(input, op)
    a = input.reshape(1) if input.ndim == 0 else input
    return a, _dim(dim, a.ndim, op)


def _at(a: Tensor, dim: int, idx) -> Tensor:
    """``a`` gathered at ``idx`` along ``dim`` (differentiable in ``a``)."""
    return GetItem.apply(a, a._backend.k.along_dim(idx, dim))


def _pair(name: str, input: Tensor, a: Tensor, dim: int, idx, keepdim: bool):  # noqa: A002
    """The named tuple (values, indices) at ``idx`` (size 1 along dim unless it is a sort)."""
    values = _at(a, dim, idx)
    indices = Tensor.wrap(idx, a._backend)
    if input.ndim == 0:
        values, indices = values.reshape(()), indices.reshape(())
    elif not keepdim and idx.shape[dim] == 1 and name != "sort":
        values, indices = values.squeeze(dim), indices.squeeze(dim)
    return _RT[name](values, indices)


def sort(input: Tensor, dim: int = -1, descending: bool = False, *,  # noqa: A002
         stable: bool = False):
    """``(values, indices)`` of input sorted along ``dim`` (stable: ties keep their order)."""
    a, d = _prepare(input, dim, "sort")
    idx = a._backend.k.sort_indices(a.array, d, bool(descending))
    values, indices = _pair("sort", input, a, d, idx, True)
    return _RT["sort"](values.reshape(input.shape), indices.reshape(input.shape))


def argsort(input: Tensor, dim: int = -1, descending: bool = False, *,  # noqa: A002
            stable: bool = False) -> Tensor:
    """The int64 indices that sort input along ``dim``."""
    a, d = _prepare(input, dim, "argsort")
    return Tensor.wrap(a._backend.k.sort_indices(a.array, d, bool(descending)),
                       a._backend).reshape(input.shape)


def msort(input: Tensor) -> Tensor:  # noqa: A002
    """Input sorted along its first dim: ``sort(input, 0).values``."""
    return sort(input, 0).values


def topk(input: Tensor, k: int, dim: int = -1, largest: bool = True,  # noqa: A002
         sorted: bool = True):  # noqa: A002
    """``(values, indices)`` of the ``k`` largest (``largest=False``: smallest) elements along
    ``dim``, in sorted order (also when ``sorted=False``, whose order PyTorch leaves open)."""
    a, d = _prepare(input, dim, "topk")
    n = a.shape[d]
    if isinstance(k, bool) or not isinstance(k, int) or not 0 <= k <= n:
        raise RuntimeError(f"topk(): selected index k={k!r} out of range for dimension {d} "
                           f"of size {n}; pass 0 <= k <= {n}")
    idx = a._backend.k.topk_indices(a.array, k, d, bool(largest))
    values, indices = _pair("sort", input, a, d, idx, True)
    return _RT["topk"](values, indices)


def kthvalue(input: Tensor, k: int, dim: int = -1, keepdim: bool = False):  # noqa: A002
    """``(values, indices)`` of the ``k``-th smallest element (1-based) along ``dim``."""
    a, d = _prepare(input, dim, "kthvalue")
    n = a.shape[d]
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= n:
        raise RuntimeError(f"kthvalue(): selected number k={k!r} out of range for dimension "
                           f"{d} of size {n}; pass 1 <= k <= {n}")
    order = a._backend.k.sort_indices(a.array, d)
    idx = order[(slice(None),) * d + (slice(k - 1, k),)]
    return _pair("kthvalue", input, a, d, idx, keepdim)


def _median(name: str, input, dim, keepdim: bool, skip_nan: bool):  # noqa: A002
    """The lower median along ``dim``: sorted position (n-1)//2; with NaN in a row, median is
    NaN (the first NaN) and nanmedian the lower median of the numbers."""
    tensor_arg(input, name)
    flat = dim is None
    if flat:
        if input.numel() == 0:
            xp = input._backend.xp
            return Tensor.wrap(xp.full((), float("nan"), dtype=input.dtype), input._backend)
        a, d = input.reshape(-1), 0
    else:
        a, d = _prepare(input, dim, name)
        if a.shape[d] == 0:
            raise IndexError(f"{name}(): dimension {d} is empty; the median of no elements "
                             "is undefined")
    xp, k = a._backend.xp, a._backend.k
    arr = a.array
    n = arr.shape[d]
    order = k.sort_indices(arr, d)
    if is_inexact(arr.dtype):
        nans = xp.isnan(arr).sum(axis=d, keepdims=True)
    else:
        nans = xp.zeros((1,) * arr.ndim, dtype="int64")
    if skip_nan:
        pos = xp.where(nans == n, (n - 1) // 2, (n - nans - 1) // 2)  # all NaN: as torch
    else:
        pos = xp.where(nans > 0, n - nans, (n - 1) // 2)
    pos = xp.broadcast_to(pos, tuple(1 if i == d else s for i, s in enumerate(arr.shape)))
    idx = xp.take_along_axis(order, pos.astype("int64"), axis=d)
    if flat:
        return _at(a, 0, idx).reshape(())
    return _pair(name, input, a, d, idx, keepdim)


def median(input: Tensor, dim: int | None = None, keepdim: bool = False):  # noqa: A002
    """The lower median (of all elements, or ``(values, indices)`` along ``dim``); NaN if the
    elements hold a NaN."""
    return _median("median", input, dim, keepdim, skip_nan=False)


def nanmedian(input: Tensor, dim: int | None = None, keepdim: bool = False):  # noqa: A002
    """``median`` of the non-NaN elements (NaN where all are NaN)."""
    return _median("nanmedian", input, dim, keepdim, skip_nan=True)


def mode(input: Tensor, dim: int = -1, keepdim: bool = False):  # noqa: A002
    """``(values, indices)``: the most frequent value along ``dim`` (the smallest on ties) and
    the index of its last occurrence."""
    a, d = _prepare(input, dim, "mode")
    if a.shape[d] == 0:
        raise IndexError(f"mode(): dimension {d} is empty; pass a non-empty dimension")
    xp, k = a._backend.xp, a._backend.k
    moved = xp.moveaxis(a.array, d, -1)
    rest = moved.shape[:-1]
    idx = k.mode_rows(moved.reshape(-1, moved.shape[-1])).reshape(rest + (1,))
    return _pair("mode", input, a, d, xp.moveaxis(idx, -1, d), keepdim)


from gradflow.tensor import tensor_methods  # noqa: E402

tensor_methods(sort=sort, argsort=argsort, msort=msort, topk=topk, kthvalue=kthvalue,
               median=median, nanmedian=nanmedian, mode=mode)

__all__ = ["sort", "argsort", "msort", "topk", "kthvalue", "median", "nanmedian", "mode"]
