"""Matrix product kernels (cuBLAS through CuPy on the GPU, BLAS through NumPy on the CPU)."""

from __future__ import annotations

from gradflow.kernels import kernel


@kernel
def matmul(xp, a, b):
    return xp.matmul(a, b)


@kernel
def linear(xp, x, weight, bias=None):
    """``x @ weight.T + bias`` with weight ``(out, in)``; the bias add is done in place."""
    y = xp.matmul(x, weight.T)
    if bias is not None:
        y += bias
    return y
