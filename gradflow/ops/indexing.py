"""Indexing: ``t[index]`` (gradient: scatter-add, so repeated indices accumulate) and
``t[index] = value`` (in place, recorded in the graph when gradients are needed).

``GetItem`` and ``IndexAdd`` are each other's adjoints, and ``ZeroAt`` is its own: every
``backward`` is one of them on Tensors and every ``vjp`` the matching kernel."""

from __future__ import annotations

from gradflow.autograd.function import Function
from gradflow.autograd.grad_mode import _State
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
        if item.dtype.kind == "f":
            raise IndexError("getitem: tensors used as indices must be integer or bool, got "
                             f"{item.dtype}")
        return item.array
    if isinstance(item, list):
        return a._backend.asarray(item)
    if hasattr(item, "__array__") and not isinstance(item, int | slice):
        return a._backend.asarray(item)
    return item


def getitem(a: Tensor, index) -> Tensor:
    return GetItem.apply(a, _convert_index(a, index))


def setitem(a: Tensor, index, value) -> None:
    """``a[index] = value`` in place; bumps ``a``'s version so stale saved tensors are caught."""
    index = _convert_index(a, index)
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
