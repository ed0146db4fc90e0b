"""Row softmax and log-softmax over the last axis: one kernel per direction.

Forward is online softmax: one read computes each row's max m and Σ e^{x−m} together (merged
across threads without ever forming ∞ − ∞), a second read writes e^{x−m}/s or (x − m) − log s.
Backward reduces Σ g·y (softmax) or Σ g (log-softmax) per row, then writes the gradient.
Rows up to 1024 wide run one warp per row (8 rows a block); wider rows one block per row.
Anything else (another axis, non-contiguous input, other dtypes) uses the generic kernels.
"""

from __future__ import annotations

import numpy

from gradflow.kernels.cuda._common import (
    REDUCE_SRC,
    Overrides,
    as_rows,
    raw,
    row_launch,
    rows_fit,
)

SOFTMAX_FWD_SRC = REDUCE_SRC + r"""
extern "C" __global__ void gf_softmax_fwd(const T* __restrict__ x, T* __restrict__ y,
                                          long long rows, long long cols, int log_mode) {
    __shared__ T sh_m[32];
    __shared__ T sh_s[32];
    const long long row = (long long)blockIdx.x * blockDim.y + threadIdx.y;
    if (row >= rows) return;          /* only in warp-per-row mode, where nothing syncs */
    const T* xr = x + row * cols;
    T* yr = y + row * cols;
    T m = GF_NEG_INF, s = (T)0;
    for (long long j = threadIdx.x; j < cols; j += blockDim.x) gf_lse_push(m, s, xr[j]);
    gf_block_lse(m, s, sh_m, sh_s);
    if (log_mode) {
        const T ls = log(s);
        for (long long j = threadIdx.x; j < cols; j += blockDim.x) yr[j] = (xr[j] - m) - ls;
    } else {
        for (long long j = threadIdx.x; j < cols; j += blockDim.x) yr[j] = exp(xr[j] - m) / s;
    }
}
"""

SOFTMAX_BWD_SRC = REDUCE_SRC + r"""
extern "C" __global__ void gf_softmax_bwd(const T* __restrict__ g, const T* __restrict__ y,
                                          T* __restrict__ gx, long long rows, long long cols,
                                          int log_mode) {
    __shared__ T sh[32];
    const long long row = (long long)blockIdx.x * blockDim.y + threadIdx.y;
    if (row >= rows) return;
    const T* gr = g + row * cols;
    const T* yr = y + row * cols;
    T* out = gx + row * cols;
    T acc = (T)0;
    if (log_mode) {
        for (long long j = threadIdx.x; j < cols; j += blockDim.x) acc += gr[j];
    } else {
        for (long long j = threadIdx.x; j < cols; j += blockDim.x) acc += gr[j] * yr[j];
    }
    acc = gf_block_sum(acc, sh);
    if (log_mode) {
        for (long long j = threadIdx.x; j < cols; j += blockDim.x)
            out[j] = gr[j] - exp(yr[j]) * acc;
    } else {
        for (long long j = threadIdx.x; j < cols; j += blockDim.x)
            out[j] = (gr[j] - acc) * yr[j];
    }
}
"""

#: name -> source, for the compile check in tests/cuda.
RAW_SOURCES = {"gf_softmax_fwd": SOFTMAX_FWD_SRC, "gf_softmax_bwd": SOFTMAX_BWD_SRC}


def _rows_last_axis(x, axis) -> bool:
    """x is a non-empty C-contiguous float32/float64 array reduced over its last axis."""
    return x.ndim >= 1 and (axis == -1 or axis == x.ndim - 1) and rows_fit(x)


def _grad_fits(g, y, axis) -> bool:
    return _rows_last_axis(y, axis) and g.shape == y.shape and g.dtype == y.dtype


def overrides(backend, generic) -> dict:
    xp = backend.xp
    table = Overrides(backend, generic)

    def forward(x, log_mode):
        x2 = as_rows(x)
        y = xp.empty_like(x2)
        grid, block = row_launch(*x2.shape)
        raw(SOFTMAX_FWD_SRC, "gf_softmax_fwd", x.dtype.char)(
            grid, block, (x2, y, numpy.int64(x2.shape[0]), numpy.int64(x2.shape[1]),
                          numpy.int32(log_mode)))
        return y.reshape(x.shape)

    def backward(g, y, log_mode):
        y2 = as_rows(y)
        g2 = xp.ascontiguousarray(g).reshape(y2.shape)
        gx = xp.empty_like(y2)
        grid, block = row_launch(*y2.shape)
        raw(SOFTMAX_BWD_SRC, "gf_softmax_bwd", y.dtype.char)(
            grid, block, (g2, y2, gx, numpy.int64(y2.shape[0]), numpy.int64(y2.shape[1]),
                          numpy.int32(log_mode)))
        return gx.reshape(y.shape)

    @table.fused(fits=lambda x, axis=-1: _rows_last_axis(x, axis))
    def softmax(x, axis=-1):
        return forward(x, 0)

    @table.fused(fits=lambda x, axis=-1: _rows_last_axis(x, axis))
    def log_softmax(x, axis=-1):
        return forward(x, 1)

    @table.fused(fits=lambda g, y, axis=-1: _grad_fits(g, y, axis))
    def softmax_backward(g, y, axis=-1):
        return backward(g, y, 0)

    @table.fused(fits=lambda g, y, axis=-1: _grad_fits(g, y, axis))
    def log_softmax_backward(g, y, axis=-1):
        return backward(g, y, 1)

    return table.kernels
