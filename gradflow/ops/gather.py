"""Gather/scatter and index selection with PyTorch's semantics: ``gather``, ``scatter``,
``scatter_add``, ``scatter_reduce``, ``index_select``, ``index_add``, ``index_copy``,
``index_fill``, ``masked_select``, ``masked_scatter``, ``nonzero``, ``argwhere``, ``take``,
``take_along_dim`` (and the in-place methods).

Each op is an advanced index into the input, so each is built from the indexing Functions of
:mod:`gradflow.ops.indexing`: ``gather`` is ``GetItem`` (y = a[I]), ``scatter_add`` and
``index_add`` are ``IndexAdd`` (zeros with g added at I, repeats accumulating), ``scatter``,
``index_copy`` and ``index_fill`` are ``SetItem``. ``GetItem`` and ``IndexAdd`` are each other's
adjoints, so every derivative order is exact. The max/min/prod scatter reductions are Functions
whose backward is PyTorch's formula written with these ops.
"""

from __future__ import annotations

from typing import Any

from gradflow.autograd.function import Function
from gradflow.autograd.grad_mode import _State
from gradflow.ops._util import norm_axes, tensor_arg
from gradflow.ops.indexing import GetItem, IndexAdd, SetItem, ZeroAt, setitem
from gradflow.ops.math import where
from gradflow.tensor import Tensor, refuse_leaf_inplace

_INT_INDEX = ("int32", "int64")


# -- argument checking --------------------------------------------------------------------------

def _dim(dim, ndim: int, op: str) -> int:
    if isinstance(dim, bool) or not isinstance(dim, int):
        raise TypeError(f"{op}(): argument 'dim' must be an int, got {type(dim).__name__}")
    return norm_axes(dim, ndim, op)[0]


def _index(index, op: str, name: str = "index", allowed=_INT_INDEX) -> Tensor:
    if not isinstance(index, Tensor):
        raise TypeError(f"{op}(): argument '{name}' must be a Tensor of integers, got "
                        f"{type(index).__name__}")
    if index.dtype.name not in allowed:
        want = "/".join(allowed)
        raise RuntimeError(f"{op}(): expected dtype {want} for {name}, got {index.dtype}; "
                           f"convert it with .long()")
    return index


def _same_device(op: str, a: Tensor, *others) -> None:
    for t in others:
        if isinstance(t, Tensor) and t._backend is not a._backend:
            raise RuntimeError(f"{op}(): expected all tensors on one device, got {a.device} "
                               f"and {t.device}; move them with .to(device)")


def _bounds(op: str, arr, size: int, dim: int, *, negative: bool = False,
            exc: type = RuntimeError):
    """``arr`` (an index array along a dim of ``size``) with negatives wrapped where allowed;
    the first offending value is an error naming it and the size."""
    if arr.size == 0:
        return arr
    lo, hi = int(arr.min()), int(arr.max())
    low = -size if negative else 0
    if lo < low or hi >= size:
        bad = lo if lo < low else hi
        allowed = f"[{-size}, {size})" if negative else f"[0, {size})"
        raise exc(f"{op}(): index {bad} is out of bounds for dimension {dim} with size {size} "
                  f"(indices must lie in {allowed})")
    if negative and lo < 0:
        arr = arr % size
    return arr


def _promote_scalar(input: Tensor, index: Tensor):  # noqa: A002
    """0-d input (and index) act as 1-d, as in PyTorch."""
    if input.ndim == 0 and index.ndim <= 1:
        return input.reshape(1), index.array.reshape(-1)
    return input, index.array


def _check_sizes(op: str, input: Tensor, dim: int, index, src=None) -> None:  # noqa: A002
    if index.ndim != input.ndim:
        raise RuntimeError(f"{op}(): index must have as many dimensions as input: index has "
                           f"{index.ndim} (shape {tuple(index.shape)}), input {input.ndim} "
                           f"(shape {tuple(input.shape)})")
    if src is not None and src.ndim != index.ndim:
        raise RuntimeError(f"{op}(): index must have as many dimensions as src: index has "
                           f"{index.ndim} (shape {tuple(index.shape)}), src {src.ndim} "
                           f"(shape {tuple(src.shape)})")
    for d, n in enumerate(index.shape):
        if (d != dim and n > input.shape[d]) or (src is not None and n > src.shape[d]):
            extra = f" and no larger than src {list(src.shape)}" if src is not None else ""
            raise RuntimeError(f"{op}(): size mismatch at dimension {d}: index "
                               f"{list(index.shape)} must be no larger than input "
                               f"{list(input.shape)} apart from dimension {dim}{extra}")


def _head(src: Tensor, shape: tuple) -> Tensor:
    """``src[:shape[0], :shape[1], ...]`` (the part of src that index reaches)."""
    if tuple(src.shape) == tuple(shape):
        return src
    return GetItem.apply(src, tuple(slice(0, n) for n in shape))


# -- gather / scatter ---------------------------------------------------------------------------

def _along(input: Tensor, dim, index, op: str, src=None, check_src=True):  # noqa: A002
    """(input as indexed, dim, the advanced index, index's shape) after PyTorch's checks."""
    tensor_arg(input, op)
    _index(index, op)
    _same_device(op, input, index, src)
    dim = _dim(dim, input.ndim, op)
    a, arr = _promote_scalar(input, index)
    if isinstance(src, Tensor) and src.ndim == 0 and arr.ndim == 1:
        src = src.reshape(1)
    _check_sizes(op, a, dim, arr, src if check_src and isinstance(src, Tensor) else None)
    arr = _bounds(op, arr, a.shape[dim], dim)
    return a, dim, input._backend.k.along_dim(arr, dim), arr.shape, src


def gather(input: Tensor, dim: int, index: Tensor, *, sparse_grad: bool = False  # noqa: A002
           ) -> Tensor:
    """out[i][j][k] = input[i][index[i][j][k]][k] (for dim = 1); gradient: a scatter-add."""
    a, _, idx, shape, _ = _along(input, dim, index, "gather")
    out = GetItem.apply(a, idx)
    return out.reshape(index.shape) if out.shape != index.shape else out


def _src_tensor(op: str, input: Tensor, src) -> Tensor | Any:  # noqa: A002
    if isinstance(src, Tensor):
        if src.dtype != input.dtype:
            raise RuntimeError(f"{op}(): expected src of the input's dtype {input.dtype}, got "
                               f"{src.dtype}; convert it with .to({input.dtype})")
        return src
    if src is None:
        raise TypeError(f"{op}(): pass src (a Tensor) or value (a number)")
    return src


def scatter(input: Tensor, dim: int, index: Tensor, src: Any = None, *,  # noqa: A002
            value: Any = None, reduce: str | None = None) -> Tensor:
    """A copy of input with ``out[i][index[i][j]] = src[i][j]`` (dim = 1); ``src`` may be a
    number (or pass ``value=``). ``reduce='add'|'multiply'`` combines instead of writing.
    Gradient: input's is zero where written, src's is the output gradient gathered back."""
    src = value if src is None else src
    src = _src_tensor("scatter", input, src)
    if reduce is not None:
        if reduce not in ("add", "multiply"):
            raise RuntimeError(f"scatter(): reduce must be 'add' or 'multiply', got {reduce!r}")
        if not isinstance(src, Tensor):
            src = Tensor.wrap(input._backend.xp.full(tuple(index.shape), src, dtype=input.dtype),
                              input._backend)
        return scatter_reduce(input, dim, index, src, "sum" if reduce == "add" else "prod")
    a, _, idx, shape, src = _along(input, dim, index, "scatter", src)
    value = _head(src, shape) if isinstance(src, Tensor) else src
    return SetItem.apply(a.clone(), value, idx).reshape(input.shape)


def scatter_add(input: Tensor, dim: int, index: Tensor, src: Tensor) -> Tensor:  # noqa: A002
    """A copy of input with ``out[i][index[i][j]] += src[i][j]`` (repeats accumulate)."""
    tensor_arg(src, "scatter_add", "src")
    src = _src_tensor("scatter_add", input, src)
    a, _, idx, shape, src = _along(input, dim, index, "scatter_add", src)
    return (a + IndexAdd.apply(_head(src, shape), tuple(a.shape), idx)).reshape(input.shape)


_REDUCE = ("sum", "prod", "mean", "amax", "amin")


def scatter_reduce(input: Tensor, dim: int, index: Tensor, src: Tensor,  # noqa: A002
                   reduce: str, *, include_self: bool = True) -> Tensor:
    """``src`` reduced into a copy of input at ``index`` along ``dim`` by ``reduce`` (sum, prod,
    mean, amax, amin); ``include_self=False`` leaves the targeted input values out. Elements
    no index reaches keep input's value. Gradients as PyTorch (amax/amin share it evenly among
    the tied maxima)."""
    op = "scatter_reduce"
    tensor_arg(src, op, "src")
    if reduce not in _REDUCE:
        raise RuntimeError(f"{op}(): reduce must be one of {_REDUCE}, got {reduce!r}")
    src = _src_tensor(op, input, src)
    a, _, idx, shape, src = _along(input, dim, index, op, src)
    src = _head(src, shape)
    k = a._backend.k
    if reduce in ("sum", "mean"):
        base = a if include_self else ZeroAt.apply(a, idx)
        out = base + IndexAdd.apply(src, tuple(a.shape), idx)
        if reduce == "mean":
            cnt = k.scatter_count(tuple(a.shape), idx, a.dtype)
            if include_self:
                cnt = cnt + 1
            cnt = a._backend.xp.maximum(cnt, 1)
            if a.dtype.kind in "iub":  # integers: floor division, as PyTorch (no gradient)
                out = Tensor.wrap(out.array // cnt, a._backend)
            else:
                out = out / Tensor.wrap(cnt, a._backend)
        return out.reshape(input.shape)
    return ScatterExtreme.apply(a, src, idx=idx, reduce=reduce,
                                include_self=include_self).reshape(input.shape)


class ScatterExtreme(Function):
    """out = a with src combined at idx by prod/amax/amin; backward as PyTorch's
    ``scatter_reduce_backward`` (written with gradflow ops, so differentiable again)."""

    @staticmethod
    def forward(ctx, a, src, *, idx, reduce, include_self):
        ctx.idx, ctx.reduce, ctx.include_self = idx, reduce, include_self
        out = ctx.k.scatter_reduce_into(a, idx, src, reduce, include_self)
        ctx.save_for_backward(a, src, out)
        return out

    @staticmethod
    def backward(ctx, g):
        a, src, out = ctx.saved_tensors
        idx, reduce, include_self = ctx.idx, ctx.reduce, ctx.include_self
        shape = tuple(a.shape)
        if reduce == "prod":
            masked_self = where(a == 0, 1, a)
            msr = ScatterExtreme.apply(masked_self, src, idx=idx, reduce=reduce,
                                       include_self=include_self)
            ga = g * msr / masked_self
            src_zero = src.array == 0
            nz = a._backend.k.scatter_count(shape, idx, "int64", src_zero)[idx]
            single = Tensor.wrap(src_zero & (nz == 1), a._backend)
            masked_src = where(single, 1, src)
            msr_src = ScatterExtreme.apply(a, masked_src, idx=idx, reduce=reduce,
                                           include_self=include_self)
            gs = where(single, GetItem.apply(g * msr_src, idx),
                       GetItem.apply(g * out, idx) / where(Tensor.wrap(src_zero, a._backend),
                                                           1, src))
        else:
            value = GetItem.apply(out, idx).data
            self_is = (a.data == out.data).to(dtype=a.dtype)
            src_is = (src.data == value).to(dtype=a.dtype)
            n = (self_is + IndexAdd.apply(src_is, shape, idx)).data
            gd = g / n
            ga = self_is * gd
            gs = src_is * GetItem.apply(gd, idx)
        if not include_self:
            ga = ZeroAt.apply(ga, idx)
        return ga, gs


# -- index_* ------------------------------------------------------------------------------------

def _dim_index(op: str, input: Tensor, dim, index, exc=RuntimeError,  # noqa: A002
               negative=False):
    """(input as indexed, dim, the basic+advanced index selecting ``index`` along dim)."""
    tensor_arg(input, op)
    _index(index, op)
    _same_device(op, input, index)
    if index.ndim > 1:
        raise IndexError(f"{op}(): index must be a vector (0-d or 1-d), got shape "
                         f"{tuple(index.shape)}")
    a = input.reshape(1) if input.ndim == 0 else input
    dim = _dim(dim, a.ndim, op)
    arr = _bounds(op, index.array.reshape(-1), a.shape[dim], dim, negative=negative, exc=exc)
    return a, dim, (slice(None),) * dim + (arr,)


def index_select(input: Tensor, dim: int, index: Tensor) -> Tensor:  # noqa: A002
    """The slices of input at positions ``index`` (a vector) along ``dim``."""
    a, dim, idx = _dim_index("index_select", input, dim, index)
    out = GetItem.apply(a, idx)
    return out.reshape(()) if input.ndim == 0 else out


def _source(op: str, a: Tensor, dim: int, n: int, source: Tensor, input: Tensor):  # noqa: A002
    tensor_arg(source, op, "source")
    _same_device(op, a, source)
    if source.dtype != a.dtype:
        raise RuntimeError(f"{op}(): expected source of the input's dtype {a.dtype}, got "
                           f"{source.dtype}; convert it with .to({a.dtype})")
    s = source.reshape(1) if source.ndim == 0 and input.ndim == 0 else source
    want = tuple(a.shape[:dim]) + (n,) + tuple(a.shape[dim + 1:])
    if s.ndim == 0 and n == 1 and a.ndim == 1:
        s = s.reshape(1)
    if tuple(s.shape) != want:
        raise RuntimeError(f"{op}(): source must have shape {want} (input's with dimension "
                           f"{dim} the number of indices, {n}), got {tuple(source.shape)}")
    return s


def index_add(input: Tensor, dim: int, index: Tensor, source: Tensor, *,  # noqa: A002
              alpha: Any = 1) -> Tensor:
    """A copy of input with ``alpha * source`` added at ``index`` along ``dim`` (repeated
    indices accumulate)."""
    op = "index_add"
    a, dim, idx = _dim_index(op, input, dim, index)
    s = _source(op, a, dim, idx[-1].shape[0], source, input)
    if alpha != 1:
        s = s * alpha
    return (a + IndexAdd.apply(s, tuple(a.shape), idx)).reshape(input.shape)


def index_copy(input: Tensor, dim: int, index: Tensor, source: Tensor) -> Tensor:  # noqa: A002
    """A copy of input with the slices at ``index`` along ``dim`` replaced by source's."""
    op = "index_copy"
    a, dim, idx = _dim_index(op, input, dim, index, exc=IndexError)
    s = _source(op, a, dim, idx[-1].shape[0], source, input)
    return SetItem.apply(a.clone(), s, idx).reshape(input.shape)


def index_fill(input: Tensor, dim: int, index: Tensor, value: Any) -> Tensor:  # noqa: A002
    """A copy of input with the slices at ``index`` (negatives count from the end) along
    ``dim`` set to ``value`` (a number or a 0-d Tensor, which then gets the gradient)."""
    op = "index_fill"
    a, dim, idx = _dim_index(op, input, dim, index, exc=IndexError, negative=True)
    if isinstance(value, Tensor):
        _same_device(op, a, value)
        if value.ndim != 0:
            raise RuntimeError(f"{op}(): value must be a number or a 0-d Tensor, got shape "
                               f"{tuple(value.shape)}")
        value = value.to(dtype=a.dtype) if value.dtype != a.dtype else value
    return SetItem.apply(a.clone(), value, idx).reshape(input.shape)


# -- masks --------------------------------------------------------------------------------------

def _mask(op: str, input: Tensor, mask) -> Any:  # noqa: A002
    if not isinstance(mask, Tensor):
        raise TypeError(f"{op}(): argument 'mask' must be a bool Tensor, got "
                        f"{type(mask).__name__}")
    _same_device(op, input, mask)
    if mask.dtype.kind != "b":
        raise RuntimeError(f"{op}(): expected a bool mask, got {mask.dtype}; use mask.bool()")
    return mask.array


def _broadcast(op: str, *shapes) -> tuple:
    try:
        from gradflow.tensor import Size

        return tuple(Size(_bshape(shapes)))
    except ValueError as exc:
        raise RuntimeError(f"{op}(): shapes {[tuple(s) for s in shapes]} do not broadcast") \
            from exc


def _bshape(shapes) -> tuple:
    nd = max(len(s) for s in shapes)
    out = []
    for i in range(nd):
        dims = {s[i - nd + len(s)] for s in shapes if i - nd + len(s) >= 0} - {1}
        if len(dims) > 1:
            raise ValueError(shapes)
        out.append(dims.pop() if dims else 1)
    return tuple(out)


def masked_select(input: Tensor, mask: Tensor) -> Tensor:  # noqa: A002
    """The elements of input where mask holds (both broadcast), as a 1-d Tensor."""
    op = "masked_select"
    tensor_arg(input, op)
    m = _mask(op, input, mask)
    shape = _broadcast(op, input.shape, mask.shape)
    a = input if tuple(input.shape) == shape else input.expand(shape)
    return GetItem.apply(a, input._backend.xp.broadcast_to(m, shape))


def masked_scatter(input: Tensor, mask: Tensor, source: Tensor) -> Tensor:  # noqa: A002
    """A copy of input (broadcast with mask) whose elements where mask holds are source's
    first elements, in row-major order."""
    op = "masked_scatter"
    tensor_arg(input, op)
    tensor_arg(source, op, "source")
    m = _mask(op, input, mask)
    _same_device(op, input, source)
    if source.dtype != input.dtype:
        raise RuntimeError(f"{op}(): expected source of the input's dtype {input.dtype}, got "
                           f"{source.dtype}; convert it with .to({input.dtype})")
    shape = _broadcast(op, input.shape, mask.shape)
    a = input if tuple(input.shape) == shape else input.expand(shape)
    m = input._backend.xp.broadcast_to(m, shape)
    n = int(m.sum())
    if source.numel() < n:
        raise RuntimeError(f"{op}(): source has {source.numel()} elements but the mask selects "
                           f"{n}; pass a source with at least as many")
    flat = source.reshape(-1)
    return SetItem.apply(a.clone(), flat if flat.shape[0] == n else flat[:n], m)


# -- positions ----------------------------------------------------------------------------------

def nonzero(input: Tensor, *, as_tuple: bool = False):  # noqa: A002
    """The indices of the nonzero elements: an int64 ``(count, ndim)`` Tensor, or with
    ``as_tuple`` one 1-d Tensor per dim (a 0-d input counts as 1-d there)."""
    tensor_arg(input, "nonzero")
    xp, b = input._backend.xp, input._backend
    arr = input.array
    if as_tuple:
        arr = arr.reshape(-1) if arr.ndim == 0 else arr
        return tuple(Tensor.wrap(i.astype("int64"), b) for i in xp.nonzero(arr))
    return Tensor.wrap(xp.argwhere(arr).astype("int64"), b)


def argwhere(input: Tensor) -> Tensor:  # noqa: A002
    """``nonzero(input)``: the ``(count, ndim)`` int64 indices of the nonzero elements."""
    tensor_arg(input, "argwhere")
    return nonzero(input)


def take(input: Tensor, index: Tensor) -> Tensor:  # noqa: A002
    """``input.flatten()[index]`` (negative indices count from the end), shaped as index."""
    op = "take"
    tensor_arg(input, op)
    _index(index, op, allowed=("int64",))
    _same_device(op, input, index)
    n = input.numel()
    arr = index.array
    if arr.size:
        lo, hi = int(arr.min()), int(arr.max())
        if lo < -n or hi >= n:
            raise IndexError(f"take(): index {lo if lo < -n else hi} is out of range for a "
                             f"tensor of {n} elements (indices must lie in [{-n}, {n}))")
        if lo < 0:
            arr = arr % n
    return GetItem.apply(input.reshape(-1), arr)


def take_along_dim(input: Tensor, indices: Tensor, dim: int | None = None) -> Tensor:  # noqa: A002
    """``gather`` along ``dim`` after broadcasting input and indices in the other dims
    (negative indices count from the end); ``dim=None``: the flattened input at ``indices``
    (which must lie in [0, numel), as PyTorch checks)."""
    op = "take_along_dim"
    tensor_arg(input, op)
    _index(indices, op, "indices", allowed=("int64",))
    _same_device(op, input, indices)
    if dim is None:
        flat = input.reshape(-1)
        arr = _bounds(op, indices.array.reshape(-1), flat.shape[0], 0)  # no wrap, as torch
        return GetItem.apply(flat, arr)
    if input.ndim != indices.ndim:
        raise RuntimeError(f"{op}(): input and indices must have the same number of "
                           f"dimensions, got {input.ndim} and {indices.ndim}")
    d = _dim(dim, input.ndim, op)
    si = list(input.shape)
    sx = list(indices.shape)
    si[d] = sx[d] = 1
    common = list(_broadcast(op, tuple(si), tuple(sx)))
    ishape = tuple(common[:d] + [input.shape[d]] + common[d + 1:])
    xshape = tuple(common[:d] + [indices.shape[d]] + common[d + 1:])
    a = input if tuple(input.shape) == ishape else input.expand(ishape)
    xp = input._backend.xp
    arr = xp.broadcast_to(indices.array, xshape)
    arr = _bounds(op, arr, a.shape[d], d, negative=True)
    return GetItem.apply(a, input._backend.k.along_dim(arr, d))


# -- in-place methods ---------------------------------------------------------------------------

def _inplace(self: Tensor, name: str, fn, *args, **kwargs) -> Tensor:
    """``self`` takes ``fn(self, *args)`` in place, with PyTorch's rules (as ``add_``): outside
    the graph the result is written into self's array; in the graph a leaf that requires grad
    refuses, a non-leaf takes the op's node. The version counter moves either way."""
    tensor_arg(self, name, "self")
    needs = _State.grad_enabled and (self._requires_grad or any(
        isinstance(t, Tensor) and t._requires_grad for t in (*args, *kwargs.values())))
    if not needs:
        result = fn(Tensor._make(self.array, self._backend), *args, **kwargs)
        _fits(self, result, name)
        self.array[...] = result.array
        self._ver.v += 1
        return self
    refuse_leaf_inplace(self, name)
    result = fn(self.clone(), *args, **kwargs)
    _fits(self, result, name)
    setitem(self, Ellipsis, result)
    return self


def _fits(self: Tensor, result: Tensor, name: str) -> None:
    if tuple(result.shape) != tuple(self.shape):
        raise RuntimeError(f"{name}(): the result has shape {tuple(result.shape)}, which does "
                           f"not fit the tensor's shape {tuple(self.shape)} (an in-place op "
                           "can't broadcast the tensor it updates); use the out-of-place form")


def scatter_(self, dim, index, src=None, *, value=None, reduce=None):
    return _inplace(self, "scatter_", scatter, dim, index, src, value=value, reduce=reduce)


def scatter_add_(self, dim, index, src):
    return _inplace(self, "scatter_add_", scatter_add, dim, index, src)


def scatter_reduce_(self, dim, index, src, reduce, *, include_self=True):
    return _inplace(self, "scatter_reduce_", scatter_reduce, dim, index, src, reduce,
                    include_self=include_self)


def index_add_(self, dim, index, source, *, alpha=1):
    return _inplace(self, "index_add_", index_add, dim, index, source, alpha=alpha)


def index_copy_(self, dim, index, source):
    return _inplace(self, "index_copy_", index_copy, dim, index, source)


def index_fill_(self, dim, index, value):
    return _inplace(self, "index_fill_", index_fill, dim, index, value)


def masked_scatter_(self, mask, source):
    return _inplace(self, "masked_scatter_", masked_scatter, mask, source)


from gradflow.tensor import tensor_methods  # noqa: E402

tensor_methods(
    gather=gather, scatter=scatter, scatter_=scatter_, scatter_add=scatter_add,
    scatter_add_=scatter_add_, scatter_reduce=scatter_reduce, scatter_reduce_=scatter_reduce_,
    index_select=index_select, index_add=index_add, index_add_=index_add_,
    index_copy=index_copy, index_copy_=index_copy_, index_fill=index_fill,
    index_fill_=index_fill_, masked_select=masked_select, masked_scatter=masked_scatter,
    masked_scatter_=masked_scatter_, nonzero=nonzero, argwhere=argwhere, take=take,
    take_along_dim=take_along_dim)

__all__ = ["gather", "scatter", "scatter_add", "scatter_reduce", "index_select", "index_add",
           "index_copy", "index_fill", "masked_select", "masked_scatter", "nonzero", "argwhere",
           "take", "take_along_dim"]
