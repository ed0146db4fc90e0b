"""Gather/scatter kernels: the index tuple of a dim-wise gather and the scatter reductions.

``torch.gather(a, dim, index)`` is ``a[along_dim(index, dim)]``: ``index`` at ``dim`` and an
``arange`` broadcast along every other dim, so gather, scatter and scatter_add are plain
(advanced) indexing and its scatter-add adjoint (``kernels.shape.index_add``)."""

from __future__ import annotations

from gradflow.dtypes import is_floating
from gradflow.kernels import kernel


@kernel
def along_dim(xp, index, dim):
    """The advanced index that reads ``a[i0, .., index[i0, .., id], .., in]`` for every
    position of ``index`` (the arrays broadcast to ``index.shape``)."""
    nd = index.ndim
    items = []
    for d, n in enumerate(index.shape):
        if d == dim:
            items.append(index)
        else:
            shape = [1] * nd
            shape[d] = n
            items.append(xp.arange(n).reshape(shape))
    return tuple(items)


_UFUNC = {"sum": "add", "prod": "multiply", "amax": "maximum", "amin": "minimum"}


def _identity(xp, dtype, reduce):
    """The neutral element of ``reduce`` for ``dtype`` (-inf/+inf or the integer limits)."""
    if reduce == "prod":
        return 1
    if is_floating(dtype):
        return -float("inf") if reduce == "amax" else float("inf")
    if dtype.kind == "b":
        return reduce == "amin"
    info = xp.iinfo(dtype)
    return info.min if reduce == "amax" else info.max


def _ufunc_at(xp, name, out, index, src):
    """``out[index] op= src`` with repeated indices combined: NumPy's ``ufunc.at``; on CuPy
    ``cupyx.scatter_add/max/min`` (atomics), and for products a loop over rounds in which each
    target occurs once (as many rounds as the largest repeat count)."""
    if xp.__name__ == "numpy":
        getattr(xp, name).at(out, index, src)
        return
    if name != "multiply":
        import cupyx

        {"add": cupyx.scatter_add, "maximum": cupyx.scatter_max,
         "minimum": cupyx.scatter_min}[name](out, index, src)
        return
    flat = xp.ravel_multi_index(tuple(xp.broadcast_to(i, src.shape).ravel() for i in index),
                                out.shape)
    vals = src.ravel()
    view = out.reshape(-1)
    while flat.size:
        _, first = xp.unique(flat, return_index=True)
        view[flat[first]] *= vals[first]
        keep = xp.ones(flat.size, dtype=bool)
        keep[first] = False
        flat, vals = flat[keep], vals[keep]


@kernel
def scatter_reduce_into(xp, a, index, src, reduce, include_self):
    """A copy of ``a`` with ``src`` combined at ``index`` by ``reduce`` (sum, prod, amax,
    amin); without ``include_self`` the targeted elements of ``a`` start from the identity."""
    out = a.copy()
    if not include_self:
        out[index] = 0 if reduce == "sum" else _identity(xp, a.dtype, reduce)
    _ufunc_at(xp, _UFUNC[reduce], out, index, src)
    return out


@kernel
def scatter_count(xp, shape, index, dtype, mask=None):
    """How many entries of the index tuple (those where ``mask`` holds) hit each element of a
    ``shape`` array."""
    out = xp.zeros(shape, dtype=dtype)
    ones = xp.ones(xp.broadcast_shapes(*(i.shape for i in index)), dtype=dtype)
    _ufunc_at(xp, "add", out, index, ones if mask is None else mask.astype(dtype))
    return out
