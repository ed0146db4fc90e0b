"""Matrix product kernels (cuBLAS through CuPy on the GPU, BLAS through NumPy on the CPU)."""

from __future__ import annotations

from gradflow.dtypes import compute_in_float32
from gradflow.kernels import kernel


@kernel
@compute_in_float32
def matmul(xp, a, b):
    return xp.matmul(a, b)


@kernel
@compute_in_float32
def linear(xp, x, weight, bias=None):
    """``x @ weight.T + bias`` with weight ``(out, in)``; the bias add is done in place."""
    y = xp.matmul(x, weight.T)
    if bias is not None:
        y += bias
    return y
