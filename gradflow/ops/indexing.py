"""Indexing: ``t[index]`` (gradient: scatter-add, so repeated indices accumulate) and
``t[index] = value`` (in place, recorded in the graph when gradients are needed).

``GetItem`` and ``IndexAdd`` are each other's adjoints, and ``ZeroAt`` is its own: every
``backward`` is one of them on Tensors and every ``vjp`` the matching kernel."""

from __future__ import annotations

import numbers

from gradflow.autograd.function import Function
from gradflow.autograd.grad_mode import _State
from gradflow.dtypes import is_floating
from gradflow.ops.shape import sum_to
from gradflow.tensor import Tensor, refuse_leaf_inplace


class GetItem(Function):
    @staticmethod
    def forward(ctx, a, index):
        ctx.in_shape, ctx.index = a.shape, index
        try:
            return ctx.k.getitem(a, index)
        except IndexError as exc:
            raise IndexError(f"getitem: index {_describe(index)} is invalid for a tensor of "
                             f"shape {a.shape}: {exc}") from exc

    @staticmethod
    def vjp(ctx, g):
        return ctx.k.index_add(g, ctx.in_shape, ctx.index)

    @staticmethod
    def backward(ctx, g):
        return IndexAdd.apply(g, ctx.in_shape, ctx.index)


class IndexAdd(Function):
    """Zeros of ``shape`` with ``g`` scattered (added) at ``index``: the adjoint of indexing."""

    @staticmethod
    def forward(ctx, g, shape, index):
        ctx.index = index
        return ctx.k.index_add(g, shape, index)

    @staticmethod
    def vjp(ctx, gg):
        return ctx.k.getitem(gg, ctx.index)

    @staticmethod
    def backward(ctx, gg):
        return GetItem.apply(gg, ctx.index)


class ZeroAt(Function):
    """A copy of ``g`` with zeros at ``index`` (the gradient of the overwritten tensor)."""

    @staticmethod
    def forward(ctx, g, index):
        ctx.index = index
        return ctx.k.zero_at(g, index)

    @staticmethod
    def vjp(ctx, gg):
        return ctx.k.zero_at(gg, ctx.index)

    @staticmethod
    def backward(ctx, gg):
        return ZeroAt.apply(gg, ctx.index)


class SetItem(Function):
    """``a[index] = value``: ``a``'s gradient is zero where it was overwritten, ``value``'s is
    the gradient there, summed over the axes ``value`` was broadcast along."""

    @staticmethod
    def forward(ctx, a, value, index):
        ctx.index = index
        ctx.value_shape = getattr(value, "shape", None)
        return ctx.k.setitem(a, index, value)

    @staticmethod
    def vjp(ctx, g):
        na, nv = ctx.needs_input_grad[:2]
        k = ctx.k
        ga = k.zero_at(g, ctx.index) if na else None
        gv = k.sum_to(k.getitem(g, ctx.index), ctx.value_shape) if nv else None
        return ga, gv

    @staticmethod
    def backward(ctx, g):
        na, nv = ctx.needs_input_grad[:2]
        ga = ZeroAt.apply(g, ctx.index) if na else None
        gv = sum_to(GetItem.apply(g, ctx.index), ctx.value_shape) if nv else None
        return ga, gv


def _describe(index) -> str:
    items = index if isinstance(index, tuple) else (index,)
    return "[" + ", ".join(f"array{tuple(i.shape)}" if hasattr(i, "shape") else repr(i)
                           for i in items) + "]"


def _convert_index(a: Tensor, index):
    """Tensors in an index become arrays on ``a``'s device; lists become arrays."""
    if isinstance(index, tuple):
        return tuple(_convert_item(a, i) for i in index)
    return _convert_item(a, index)


def _convert_item(a: Tensor, item):
    if isinstance(item, Tensor):
        if item._backend is not a._backend:
            raise RuntimeError(f"getitem: index tensor is on {item.device} but the indexed tensor "
                               f"is on {a.device}")
        if is_floating(item.dtype):
            raise IndexError("getitem: tensors used as indices must be integer or bool, got "
                             f"{item.dtype}")
        return item.array
    if isinstance(item, list):
        return a._backend.asarray(item)
    if hasattr(item, "__array__") and not isinstance(item, int | slice):
        return a._backend.asarray(item)
    return item


def _is_int(item) -> bool:
    """A Python or NumPy integer (or a 0-d integer array): it selects, as basic indexing."""
    if isinstance(item, bool):
        return False
    dtype = getattr(item, "dtype", None)
    if dtype is None:
        return isinstance(item, numbers.Integral)
    return dtype.kind in "iu" and getattr(item, "ndim", 1) == 0


def _is_advanced(item) -> bool:  # index arrays and bools (a bool indexes as a 0-d mask)
    return isinstance(item, bool) or (hasattr(item, "shape") and hasattr(item, "dtype"))


def _torch_move(ndim: int, index):
    """Where PyTorch and NumPy place the advanced-index dims differently, ``(p, basic)``: the
    result's advanced dims, which NumPy puts first, go to position ``p`` (``basic`` = number of
    basic result dims); else None.

    PyTorch applies integer indices first (selecting, as basic indexing), then the index arrays
    on what is left; NumPy counts integers as advanced indices. They disagree only when
    integers separate the arrays by a slice (``x[0, :, [0, 1]]``): without the integers the
    arrays are adjacent (PyTorch keeps their place), with them they are not (NumPy moves them
    to the front)."""
    if not isinstance(index, tuple):
        return None
    kinds = []
    for item in index:
        if _is_int(item):
            kinds.append("i")
        elif _is_advanced(item):
            kinds.append("a")
        else:
            kinds.append("b")  # slice, None, Ellipsis
    if "i" not in kinds or "a" not in kinds:
        return None
    if _contiguous(kinds, "a", skip="i") and not _contiguous(kinds, "ai"):
        return _advanced_position(ndim, index, kinds)
    return None


def _contiguous(kinds: list[str], marks: str, skip: str = "") -> bool:
    """Whether the entries of kind ``marks`` are next to each other once ``skip`` is removed."""
    kept = [k for k in kinds if k not in skip]
    pos = [i for i, k in enumerate(kept) if k in marks]
    return pos[-1] - pos[0] + 1 == len(pos)


def _consumed(item, kind: str) -> int:
    """How many dims of the indexed tensor ``item`` uses up."""
    if kind == "i" or isinstance(item, slice):
        return 1
    if kind == "a":
        if isinstance(item, bool) or item.ndim == 0 and item.dtype.kind == "b":
            return 0
        return item.ndim if item.dtype.kind == "b" else 1
    return 0  # None, Ellipsis


def _advanced_position(ndim: int, index, kinds) -> tuple[int, int]:
    """``(p, basic)``: the basic result dims before the first index array, and all of them."""
    rest = ndim - sum(_consumed(item, k) for item, k in zip(index, kinds))
    p = basic = 0
    before = True
    for item, k in zip(index, kinds):
        if k == "a":
            before = False
            continue
        dims = 1 if isinstance(item, slice) or item is None else (
            rest if item is Ellipsis else 0)
        basic += dims
        p += dims if before else 0
    if not any(item is Ellipsis for item in index):
        basic += rest  # the trailing dims no item names
    return p, basic


def _move_front_to(t: Tensor, p: int, basic: int) -> Tensor:
    """NumPy's layout (advanced dims first) to PyTorch's (advanced dims at position p)."""
    k = t.ndim - basic
    order = list(range(k, k + p)) + list(range(k)) + list(range(k + p, t.ndim))
    return t.permute(order)


def _move_to_front(t: Tensor, p: int, basic: int) -> Tensor:
    """PyTorch's layout back to NumPy's (the inverse of :func:`_move_front_to`)."""
    k = t.ndim - basic
    order = list(range(p, p + k)) + list(range(p)) + list(range(p + k, t.ndim))
    return t.permute(order)


def getitem(a: Tensor, index) -> Tensor:
    index = _convert_index(a, index)
    move = _torch_move(a.ndim, index)
    out = GetItem.apply(a, index)
    return out if move is None else _move_front_to(out, *move)


def setitem(a: Tensor, index, value) -> None:
    """``a[index] = value`` in place; bumps ``a``'s version so stale saved tensors are caught."""
    if value is None:
        raise TypeError(f"setitem: can't assign None to a tensor of dtype {a.dtype}; assign a "
                        "number, an array or a Tensor")
    index = _convert_index(a, index)
    move = _torch_move(a.ndim, index)
    if move is not None:  # write PyTorch's layout into NumPy's: permute the (broadcast) value
        target = GetItem.apply(Tensor._make(a.array, a._backend), index)
        torch_shape = _move_front_to(target, *move).shape
        value = value if isinstance(value, Tensor) else Tensor.wrap(
            a._backend.asarray(value, dtype=a.dtype), a._backend)
        value = _move_to_front(value.expand(torch_shape), *move)
    v = value
    if isinstance(value, Tensor):
        if value._backend is not a._backend:
            raise RuntimeError(f"setitem: value is on {value.device} but the tensor is on "
                               f"{a.device}")
    elif hasattr(value, "shape"):
        v = Tensor.wrap(value, a._backend)
    needs_graph = _State.grad_enabled and (
        a._requires_grad or (isinstance(v, Tensor) and v._requires_grad))
    if not needs_graph:
        a._backend.k.setitem(a.array, index, v.array if isinstance(v, Tensor) else v)
        a.increment_version()
        return
    refuse_leaf_inplace(a, "setitem")
    # ``a`` before the write: the same data, node and version counter, as the SetItem's input;
    # ``a`` itself then becomes the SetItem's output.
    before = Tensor._make(a.array, a._backend, a._requires_grad, a.grad_fn, a._out_idx, a._ver)
    out = SetItem.apply(before, v, index)
    a.grad_fn, a._out_idx, a._requires_grad = out.grad_fn, out._out_idx, True
    a.increment_version()


__all__ = ["getitem", "setitem"]
