"""The scatter-add of indexing's gradient on CuPy, for indices that may repeat an element.

``cupyx.scatter_add`` (in every CuPy; it behaves as NumPy's ``add.at``, the generic kernel's way)
accumulates repeated indices with atomics. Indices that select every
element at most once (basic indexing, boolean masks) keep the generic kernel (one assignment
into zeros), by the generic kernel's own test.
"""

from __future__ import annotations

from functools import cache

from gradflow.kernels.cuda._common import Overrides
from gradflow.kernels.shape import _no_repeats


@cache
def _scatter_add():
    import cupyx

    return cupyx.scatter_add


def overrides(backend, generic) -> dict:
    xp = backend.xp
    table = Overrides(backend, generic)

    @table.fused(fits=lambda g, shape, index: not _no_repeats(index))
    def index_add(g, shape, index):
        out = xp.zeros(shape, dtype=g.dtype)
        _scatter_add()(out, index, g)
        return out

    return table.kernels
