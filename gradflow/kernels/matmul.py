"""Matrix product kernels (cuBLAS through CuPy on the GPU, BLAS through NumPy on the CPU).

A product whose contracted axis has length 1 is an outer product, ``a[..., :, :1] *
b[..., :1, :]``: done as a broadcast multiply, which gives the same numbers (one rounding per
element, as the GEMM with β = 0) without BLAS. OpenBLAS's GEMM is pathological there: the
batch-1 weight gradient of a 512×784 layer (``gᵀ x``, g of shape (1, 512)) takes ~660 µs as a
GEMM and ~220 µs as a multiply on one thread; at K = 2 the GEMM is already 5-10× faster than a
sum of outer products, so only K = 1 takes this path (measured for 64×32 to 512×784 float32).

``linear`` (and its input gradient, ops/matmul.py) multiplies an N-d ``x`` by the 2-D weight as
ONE GEMM over the flattened leading axes: NumPy's matmul loops a GEMM per leading index
instead. (8, 128, 256)·(256, 1024), one thread: 6.7 ms batched, 5.1 ms flattened; a strided
(128, 8, 256) view (the seq-first view of a batch-first input) · (256, 256): 6.6 ms as 128
GEMMs of 8 rows, 1.4 ms copied and flattened (benchmarks/results/attention_speed_2026-12-03.md).
"""

from __future__ import annotations

from gradflow.dtypes import compute_in_float32
from gradflow.kernels import kernel


def _product(xp, a, b):
    if a.ndim >= 2 and b.ndim >= 2 and a.shape[-1] == 1 and b.shape[-2] == 1:
        return xp.multiply(a, b)  # K = 1: the outer product (matmul's batch broadcasting too)
    return xp.matmul(a, b)


@kernel
@compute_in_float32
def matmul(xp, a, b):
    return _product(xp, a, b)


def _rows(xp, x, w):
    """``x @ w`` for an N-d ``x`` and a 2-D ``w``, as one GEMM of the rows of ``x`` (a copy
    first where ``x``'s leading axes do not flatten as a view)."""
    if x.ndim <= 2:
        return _product(xp, x, w)
    lead = x.shape[:-1]
    n = 1
    for d in lead:
        n *= d
    return _product(xp, x.reshape(n, x.shape[-1]), w).reshape(lead + (w.shape[1],))


@kernel
@compute_in_float32
def linear(xp, x, weight, bias=None):
    """``x @ weight.T + bias`` with weight ``(out, in)`` (one GEMM over the rows of an N-d
    ``x``); the bias add is done in place."""
    y = _rows(xp, x, weight.T)
    if bias is not None:
        y += bias
    return y
