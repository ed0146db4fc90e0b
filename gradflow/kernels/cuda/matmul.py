"""Matrix products on cuBLAS that honour the backend's TF32 switch (``backend.allow_tf32``).

The switch is read on every call (one attribute read). CuPy's float32 compute type is one
process-wide setting, so it is changed only when the calling backend's switch differs from what
was last handed to CuPy: no cost per call beyond that comparison.
"""

from __future__ import annotations

import os

from gradflow.kernels.cuda._common import Overrides

_APPLIED: list = [None]   # the TF32 flag last handed to CuPy (process-wide, like CuPy's setting)


def apply_tf32(flag: bool) -> bool:
    """Make cuBLAS float32 matmuls use (or stop using) TF32. True when applied at once.

    Uses CuPy's ``set_compute_type`` (private, stable since CuPy 11); without it, falls back to
    the documented ``CUPY_TF32`` variable, which CuPy reads only at the first float32 matmul.
    """
    try:
        import numpy
        from cupy._core import _routines_linalg as linalg

        linalg.set_compute_type(numpy.float32, linalg.COMPUTE_TYPE_TF32 if flag
                                else linalg.COMPUTE_TYPE_DEFAULT)
        return True
    except (ImportError, AttributeError):
        os.environ["CUPY_TF32"] = "1" if flag else "0"
        return False


def sync_tf32(flag: bool) -> None:
    """Hand ``flag`` to CuPy when it differs from the flag it last got."""
    if flag is not _APPLIED[0]:
        apply_tf32(flag)
        _APPLIED[0] = flag


def overrides(backend, generic) -> dict:
    xp = backend.xp
    table = Overrides(backend, generic)
    g_matmul, g_linear = table.generic("matmul"), table.generic("linear")

    @table.replace
    def matmul(a, b):
        sync_tf32(bool(backend.allow_tf32))
        return g_matmul(xp, a, b)

    @table.replace
    def linear(x, weight, bias=None):
        sync_tf32(bool(backend.allow_tf32))
        return g_linear(xp, x, weight, bias)

    return table.kernels
