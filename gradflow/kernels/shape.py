"""Shape and indexing kernels: views, and the scatter-add that is the gradient of indexing."""

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
def getitem(xp, a, index):
    return a[index]


def _is_basic(index) -> bool:
    items = index if isinstance(index, tuple) else (index,)
    return all(i is None or i is Ellipsis or isinstance(i, int | slice) for i in items)


@kernel
def index_add(xp, g, shape, index):
    """Zeros of ``shape`` with ``g`` added at ``index``; repeated integer indices accumulate."""
    out = xp.zeros(shape, dtype=g.dtype)
    if _is_basic(index):
        out[index] = g
    elif xp.__name__ == "numpy":
        xp.add.at(out, index, g)
    else:
        import cupyx

        cupyx.scatter_add(out, index, g)
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
