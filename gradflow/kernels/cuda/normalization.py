"""Layer norm over the trailing axes and batch norm of (N, C) inputs as a few raw kernels.

Layer norm, per row of C = prod(normalized_shape) values (a warp or a block per row):
forward reads the row three times (mean, then the two-pass variance, then x̂ and y) in one kernel;
backward computes dL/dx in one kernel, and dL/dγ = Σ g x̂, dL/dβ = Σ g over the rows with a
column-strip kernel writing per-chunk partial sums plus a small kernel adding them up (no atomics,
so the result is deterministic).

Batch norm (N, C) works on strips of 32 columns, the N rows split into chunks so that the GPU is
full for any C: forward = Σx partials → (mean, Σ(x − μ)² partials) → (σ², rstd, x̂, y);
backward = (Σ g, Σ g x̂) partials → (dL/dγ, dL/dβ, dL/dx). Each later kernel first adds up the
partials of its own 32 columns. Shapes, dtypes and outputs are the generic kernels'; other
layouts (non-trailing axes, (N, C, L) batch norm, non-contiguous input, parameters of another
dtype) use the generic ones.
"""

from __future__ import annotations

import math

import numpy

from gradflow.kernels.cuda._common import (
    REDUCE_SRC,
    Overrides,
    column_launch,
    floats,
    raw,
    row_launch,
    rows_fit,
)

LAYER_NORM_SRC = REDUCE_SRC + r"""
extern "C" __global__ void gf_layer_norm_fwd(const T* __restrict__ x, const T* __restrict__ w,
                                             const T* __restrict__ b, T* __restrict__ y,
                                             T* __restrict__ xhat, T* __restrict__ rstd,
                                             long long rows, long long cols, T eps,
                                             int has_w, int has_b) {
    __shared__ T sh[32];
    const long long row = (long long)blockIdx.x * blockDim.y + threadIdx.y;
    if (row >= rows) return;
    const T* xr = x + row * cols;
    T* yr = y + row * cols;
    T* hr = xhat + row * cols;
    T acc = (T)0;
    for (long long j = threadIdx.x; j < cols; j += blockDim.x) acc += xr[j];
    const T mean = gf_block_sum(acc, sh) / (T)cols;
    acc = (T)0;
    for (long long j = threadIdx.x; j < cols; j += blockDim.x) {
        const T d = xr[j] - mean;
        acc += d * d;
    }
    const T var = gf_block_sum(acc, sh) / (T)cols;
    const T rs = (T)1 / sqrt(var + eps);
    if (threadIdx.x == 0) rstd[row] = rs;
    for (long long j = threadIdx.x; j < cols; j += blockDim.x) {
        const T h = (xr[j] - mean) * rs;
        hr[j] = h;
        T v = has_w ? h * w[j] : h;
        if (has_b) v += b[j];
        yr[j] = v;
    }
}

extern "C" __global__ void gf_layer_norm_bwd(const T* __restrict__ g, const T* __restrict__ xhat,
                                             const T* __restrict__ rstd, const T* __restrict__ w,
                                             T* __restrict__ gx, long long rows, long long cols,
                                             int has_w) {
    __shared__ T sh[32];
    const long long row = (long long)blockIdx.x * blockDim.y + threadIdx.y;
    if (row >= rows) return;
    const T* gr = g + row * cols;
    const T* hr = xhat + row * cols;
    T* out = gx + row * cols;
    T a = (T)0, c = (T)0;
    for (long long j = threadIdx.x; j < cols; j += blockDim.x) {
        const T gh = has_w ? gr[j] * w[j] : gr[j];
        a += gh;
        c += gh * hr[j];
    }
    a = gf_block_sum(a, sh) / (T)cols;
    c = gf_block_sum(c, sh) / (T)cols;
    const T rs = rstd[row];
    for (long long j = threadIdx.x; j < cols; j += blockDim.x) {
        const T gh = has_w ? gr[j] * w[j] : gr[j];
        out[j] = rs * ((gh - a) - hr[j] * c);
    }
}
"""

#: Column-strip kernels: blockDim (32, 8), blockIdx.x a strip of 32 columns, blockIdx.y a chunk
#: of ``per_chunk`` rows; partial sums are (chunks, cols) arrays.
COLUMN_SRC = r"""
#define GF_BY 8

/* Sum over threadIdx.y of a; thread y == 0 of each column gets the total. */
__device__ __forceinline__ T gf_col_reduce_y(T a, T (*sh)[33]) {
    __syncthreads();
    sh[threadIdx.y][threadIdx.x] = a;
    __syncthreads();
    if (threadIdx.y == 0) {
        for (int k = 1; k < GF_BY; ++k) a += sh[k][threadIdx.x];
    }
    return a;
}

/* Total of column c's partial sums, returned to every thread of the column. */
__device__ __forceinline__ T gf_col_total(const T* __restrict__ part, long long chunks,
                                          long long cols, long long c, T (*sh)[33]) {
    T a = (T)0;
    if (c < cols)
        for (long long k = threadIdx.y; k < chunks; k += GF_BY) a += part[k * cols + c];
    a = gf_col_reduce_y(a, sh);
    if (threadIdx.y == 0) sh[0][threadIdx.x] = a;
    __syncthreads();
    return sh[0][threadIdx.x];
}

#define GF_COL_PROLOGUE                                                          \
    __shared__ T sh[GF_BY][33];                                                  \
    const long long c = (long long)blockIdx.x * 32 + threadIdx.x;                \
    const long long r0 = (long long)blockIdx.y * per_chunk;                      \
    const long long r1 = r0 + per_chunk < rows ? r0 + per_chunk : rows;          \
    const long long chunks = gridDim.y;

/* part_a[chunk, c] = sum g x̂, part_b[chunk, c] = sum g over the chunk's rows. */
extern "C" __global__ void gf_col_sums2(const T* __restrict__ g, const T* __restrict__ xhat,
                                        T* __restrict__ part_a, T* __restrict__ part_b,
                                        long long rows, long long cols, long long per_chunk) {
    GF_COL_PROLOGUE
    (void)chunks;
    T a = (T)0, b = (T)0;
    if (c < cols)
        for (long long r = r0 + threadIdx.y; r < r1; r += GF_BY) {
            const T gv = g[r * cols + c];
            a += gv * xhat[r * cols + c];
            b += gv;
        }
    a = gf_col_reduce_y(a, sh);
    b = gf_col_reduce_y(b, sh);
    if (threadIdx.y == 0 && c < cols) {
        part_a[blockIdx.y * cols + c] = a;
        part_b[blockIdx.y * cols + c] = b;
    }
}

/* out_a[c] = sum over chunks of part_a[:, c] (and the same for b); one thread per column. */
extern "C" __global__ void gf_col_finalize2(const T* __restrict__ part_a,
                                            const T* __restrict__ part_b, T* __restrict__ out_a,
                                            T* __restrict__ out_b, long long chunks,
                                            long long cols) {
    const long long c = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= cols) return;
    T a = (T)0, b = (T)0;
    for (long long k = 0; k < chunks; ++k) {
        a += part_a[k * cols + c];
        b += part_b[k * cols + c];
    }
    out_a[c] = a;
    out_b[c] = b;
}

/* Batch norm forward, step 1: part[chunk, c] = sum x. */
extern "C" __global__ void gf_bn_fwd_sum(const T* __restrict__ x, T* __restrict__ part,
                                         long long rows, long long cols, long long per_chunk) {
    GF_COL_PROLOGUE
    (void)chunks;
    T a = (T)0;
    if (c < cols)
        for (long long r = r0 + threadIdx.y; r < r1; r += GF_BY) a += x[r * cols + c];
    a = gf_col_reduce_y(a, sh);
    if (threadIdx.y == 0 && c < cols) part[blockIdx.y * cols + c] = a;
}

/* Step 2: mean = (sum of part) / N (written by chunk 0); part2[chunk, c] = sum (x - mean)^2. */
extern "C" __global__ void gf_bn_fwd_var(const T* __restrict__ x, const T* __restrict__ part,
                                         T* __restrict__ mean_out, T* __restrict__ part2,
                                         long long rows, long long cols, long long per_chunk) {
    GF_COL_PROLOGUE
    const T mean = gf_col_total(part, chunks, cols, c, sh) / (T)rows;
    if (blockIdx.y == 0 && threadIdx.y == 0 && c < cols) mean_out[c] = mean;
    T a = (T)0;
    if (c < cols)
        for (long long r = r0 + threadIdx.y; r < r1; r += GF_BY) {
            const T d = x[r * cols + c] - mean;
            a += d * d;
        }
    a = gf_col_reduce_y(a, sh);
    if (threadIdx.y == 0 && c < cols) part2[blockIdx.y * cols + c] = a;
}

/* Step 3: var, rstd (written by chunk 0), then x̂ = (x - mean) rstd and y = γ x̂ + β. */
extern "C" __global__ void gf_bn_fwd_apply(const T* __restrict__ x, const T* __restrict__ part2,
                                           const T* __restrict__ mean_in,
                                           const T* __restrict__ w, const T* __restrict__ b,
                                           T* __restrict__ y, T* __restrict__ xhat,
                                           T* __restrict__ var_out, T* __restrict__ rstd_out,
                                           long long rows, long long cols, long long per_chunk,
                                           T eps, int has_w, int has_b) {
    GF_COL_PROLOGUE
    const T var = gf_col_total(part2, chunks, cols, c, sh) / (T)rows;
    if (c >= cols) return;
    const T rs = (T)1 / sqrt(var + eps);
    if (blockIdx.y == 0 && threadIdx.y == 0) {
        var_out[c] = var;
        rstd_out[c] = rs;
    }
    const T mean = mean_in[c];
    const T wc = has_w ? w[c] : (T)1;
    const T bc = has_b ? b[c] : (T)0;
    for (long long r = r0 + threadIdx.y; r < r1; r += GF_BY) {
        const T h = (x[r * cols + c] - mean) * rs;
        xhat[r * cols + c] = h;
        T v = has_w ? h * wc : h;
        if (has_b) v += bc;
        y[r * cols + c] = v;
    }
}

/* Batch norm backward from the (sum g x̂, sum g) partials: dγ, dβ (chunk 0) and
   dx = rstd (γ g - γ Σg / N - x̂ γ Σ(g x̂) / N). */
extern "C" __global__ void gf_bn_bwd_apply(const T* __restrict__ g, const T* __restrict__ xhat,
                                           const T* __restrict__ rstd, const T* __restrict__ w,
                                           const T* __restrict__ part_a,
                                           const T* __restrict__ part_b, T* __restrict__ gx,
                                           T* __restrict__ gw, T* __restrict__ gb,
                                           long long rows, long long cols, long long per_chunk,
                                           int has_w) {
    GF_COL_PROLOGUE
    const T sa = gf_col_total(part_a, chunks, cols, c, sh);
    const T sb = gf_col_total(part_b, chunks, cols, c, sh);
    if (c >= cols) return;
    if (has_w && blockIdx.y == 0 && threadIdx.y == 0) {
        gw[c] = sa;
        gb[c] = sb;
    }
    const T wc = has_w ? w[c] : (T)1;
    const T ma = wc * sb / (T)rows;
    const T mc = wc * sa / (T)rows;
    const T rs = rstd[c];
    for (long long r = r0 + threadIdx.y; r < r1; r += GF_BY) {
        const T gh = has_w ? g[r * cols + c] * wc : g[r * cols + c];
        gx[r * cols + c] = rs * ((gh - ma) - xhat[r * cols + c] * mc);
    }
}
"""

NORM_SRC = LAYER_NORM_SRC + COLUMN_SRC

RAW_SOURCES = {"gf_norm_kernels": NORM_SRC}


def _vec(xp, a, cols: int, dtype):
    """``a`` (or a dummy pointer when None) as a contiguous 1-D array, and whether it is given."""
    if a is None:
        return xp.empty((1,), dtype=dtype), 0
    return xp.ascontiguousarray(a).reshape(cols), 1


def _param_fits(a, cols: int, dtype) -> bool:
    return a is None or (a.size == cols and a.dtype == dtype)


def _trailing(axes, ndim: int) -> int:
    """``len(axes)`` when ``axes`` are the last axes of an ``ndim``-d array, else 0."""
    n = len(axes)
    return n if 0 < n <= ndim and tuple(axes) == tuple(range(ndim - n, ndim)) else 0


def _is_bn(ndim: int, axes, param_axes) -> bool:
    """(N, C) batch norm: statistics and parameters both over axis 0."""
    return ndim == 2 and tuple(axes) == (0,) and tuple(param_axes) == (0,)


def _layer_norm_fits(x, weight, bias, eps, axes) -> bool:
    n = _trailing(axes, x.ndim)
    if not (n and rows_fit(x)):
        return False
    cols = math.prod(x.shape[x.ndim - n:])
    return _param_fits(weight, cols, x.dtype) and _param_fits(bias, cols, x.dtype)


def _batch_norm_fits(x, weight, bias, eps, axes) -> bool:
    return (x.ndim == 2 and tuple(axes) == (0,) and rows_fit(x)
            and _param_fits(weight, x.shape[1], x.dtype) and _param_fits(bias, x.shape[1], x.dtype))


def _norm_backward_fits(g, xhat, rstd, weight, axes, param_axes) -> bool:
    if not (rows_fit(xhat) and g.shape == xhat.shape and floats(xhat, g, rstd)):
        return False
    if _is_bn(xhat.ndim, axes, param_axes):
        cols = xhat.shape[1]
        return rstd.size == cols and _param_fits(weight, cols, xhat.dtype)
    n = _trailing(axes, xhat.ndim)
    if not n or tuple(param_axes) != tuple(range(xhat.ndim - n)):
        return False
    cols = math.prod(xhat.shape[xhat.ndim - n:])
    return rstd.size == xhat.size // cols and _param_fits(weight, cols, xhat.dtype)


def overrides(backend, generic) -> dict:
    xp = backend.xp
    table = Overrides(backend, generic)

    def k(name, dtype):
        return raw(NORM_SRC, name, dtype.char)

    @table.fused(fits=_layer_norm_fits)
    def layer_norm_forward(x, weight, bias, eps, axes):
        n = len(axes)
        lead = x.shape[:x.ndim - n]
        cols = math.prod(x.shape[x.ndim - n:])
        rows = x.size // cols
        w, has_w = _vec(xp, weight, cols, x.dtype)
        b, has_b = _vec(xp, bias, cols, x.dtype)
        y = xp.empty_like(x)
        xhat = xp.empty_like(x)
        rstd = xp.empty(lead + (1,) * n, dtype=x.dtype)
        grid, block = row_launch(rows, cols)
        k("gf_layer_norm_fwd", x.dtype)(
            grid, block, (x, w, b, y, xhat, rstd, numpy.int64(rows), numpy.int64(cols),
                          x.dtype.type(eps), numpy.int32(has_w), numpy.int32(has_b)))
        return y, xhat, rstd

    @table.fused(fits=_batch_norm_fits)
    def batch_norm_train(x, weight, bias, eps, axes):
        rows, cols = x.shape
        w, has_w = _vec(xp, weight, cols, x.dtype)
        b, has_b = _vec(xp, bias, cols, x.dtype)
        grid, block, per_chunk = column_launch(rows, cols)
        dims = (numpy.int64(rows), numpy.int64(cols), numpy.int64(per_chunk))
        part = xp.empty((grid[1], cols), dtype=x.dtype)
        part2 = xp.empty_like(part)
        mean = xp.empty((1, cols), dtype=x.dtype)
        var = xp.empty_like(mean)
        rstd = xp.empty_like(mean)
        y = xp.empty_like(x)
        xhat = xp.empty_like(x)
        k("gf_bn_fwd_sum", x.dtype)(grid, block, (x, part) + dims)
        k("gf_bn_fwd_var", x.dtype)(grid, block, (x, part, mean, part2) + dims)
        k("gf_bn_fwd_apply", x.dtype)(
            grid, block, (x, part2, mean, w, b, y, xhat, var, rstd) + dims
            + (x.dtype.type(eps), numpy.int32(has_w), numpy.int32(has_b)))
        return y, xhat, mean, var, rstd

    def column_sums(g, xhat, rows, cols):
        grid, block, per_chunk = column_launch(rows, cols)
        part_a = xp.empty((grid[1], cols), dtype=g.dtype)
        part_b = xp.empty((grid[1], cols), dtype=g.dtype)
        k("gf_col_sums2", g.dtype)(grid, block, (g, xhat, part_a, part_b, numpy.int64(rows),
                                                 numpy.int64(cols), numpy.int64(per_chunk)))
        return grid, block, per_chunk, part_a, part_b

    def ln_backward(g, xhat, rstd, weight, n):
        cols = math.prod(xhat.shape[xhat.ndim - n:])
        rows = xhat.size // cols
        w, has_w = _vec(xp, weight, cols, xhat.dtype)
        g = xp.ascontiguousarray(g)
        gx = xp.empty_like(xhat)
        grid, block = row_launch(rows, cols)
        k("gf_layer_norm_bwd", xhat.dtype)(
            grid, block, (g, xhat, xp.ascontiguousarray(rstd), w, gx, numpy.int64(rows),
                          numpy.int64(cols), numpy.int32(has_w)))
        if not has_w:
            return gx, None, None
        _, _, _, part_a, part_b = column_sums(g, xhat, rows, cols)
        gw = xp.empty((cols,), dtype=xhat.dtype)
        gb = xp.empty((cols,), dtype=xhat.dtype)
        k("gf_col_finalize2", xhat.dtype)(
            ((cols + 255) // 256,), (256,),
            (part_a, part_b, gw, gb, numpy.int64(part_a.shape[0]), numpy.int64(cols)))
        pshape = xhat.shape[xhat.ndim - n:]
        return gx, gw.reshape(pshape), gb.reshape(pshape)

    def bn_backward(g, xhat, rstd, weight):
        rows, cols = xhat.shape
        w, has_w = _vec(xp, weight, cols, xhat.dtype)
        rs, _ = _vec(xp, rstd, cols, xhat.dtype)
        g = xp.ascontiguousarray(g)
        grid, block, per_chunk, part_a, part_b = column_sums(g, xhat, rows, cols)
        gx = xp.empty_like(xhat)
        gw = xp.empty((cols,), dtype=xhat.dtype) if has_w else gx
        gb = xp.empty((cols,), dtype=xhat.dtype) if has_w else gx
        k("gf_bn_bwd_apply", xhat.dtype)(
            grid, block, (g, xhat, rs, w, part_a, part_b, gx, gw, gb, numpy.int64(rows),
                          numpy.int64(cols), numpy.int64(per_chunk), numpy.int32(has_w)))
        return (gx, gw, gb) if has_w else (gx, None, None)

    @table.fused(fits=_norm_backward_fits)
    def norm_backward(g, xhat, rstd, weight, axes, param_axes):
        if _is_bn(xhat.ndim, axes, param_axes):
            return bn_backward(g, xhat, rstd, weight)
        return ln_backward(g, xhat, rstd, weight, len(axes))

    return table.kernels
