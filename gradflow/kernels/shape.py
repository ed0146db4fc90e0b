"""Shape and indexing kernels: views, copies, and the scatter-add (the gradient of indexing)."""

from __future__ import annotations

from gradflow.kernels import kernel


@kernel
def reshape(xp, a, shape):
    return a.reshape(shape)


@kernel
def transpose(xp, a, axes=None):
    return xp.transpose(a, axes)


@kernel
def broadcast_to(xp, a, shape):
    return xp.broadcast_to(a, shape)


@kernel
def cast(xp, a, dtype):
    """``a`` converted to ``dtype`` (a new array)."""
    return a.astype(dtype)


@kernel
def clone(xp, a):
    """A copy of ``a`` that owns its memory."""
    return a.copy()


@kernel
def getitem(xp, a, index):
    return a[index]


def _no_repeats(index) -> bool:
    """Whether ``index`` selects every element at most once (basic indexing, boolean masks)."""
    items = index if isinstance(index, tuple) else (index,)
    return all(i is None or i is Ellipsis or isinstance(i, int | slice)
               or (hasattr(i, "dtype") and i.dtype.kind == "b") for i in items)


@kernel
def index_add(xp, g, shape, index):
    """Zeros of ``shape`` with ``g`` added at ``index``; repeated integer indices accumulate.

    The adjoint of ``a[index]``. Generic form: ``xp.add.at`` (NumPy); the CuPy backend overrides
    it with ``cupyx.scatter_add``, which behaves identically."""
    out = xp.zeros(shape, dtype=g.dtype)
    if _no_repeats(index):
        out[index] = g
    else:
        xp.add.at(out, index, g)
    return out


@kernel
def zero_at(xp, g, index):
    """A copy of ``g`` with zeros at ``index`` (the gradient of a tensor overwritten there)."""
    out = g.copy()
    out[index] = 0
    return out


@kernel
def setitem(xp, a, index, value):
    a[index] = value
    return a


@kernel
def concatenate(xp, arrays, axis=0):
    return xp.concatenate(arrays, axis=axis)


@kernel
def stack(xp, arrays, axis=0):
    return xp.stack(arrays, axis=axis)
