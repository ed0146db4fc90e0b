"""Softmax cross-entropy from class indices for (N, C) logits: one pass each way.

Forward (one kernel): per row the online (max, Σ e^{x−m}) pair, then log p = (x − m) − log s is
written while Σ log p is accumulated (for label smoothing ε), and the row's loss
ℓ = −(1 − ε) log p_y − (ε/C) Σ_c log p_c (a target outside [0, C) gives NaN, never a stray read).
Backward (one elementwise kernel): dℓ/dz = (e^{log p} − ε/C − (1 − ε)[c = y]) · g.
Other shapes ((N, C, d...)), layouts and dtypes use the generic kernels. The caller
(gradflow.ops.loss) checks every target against [0, C) first and sends class weights, targets
equal to ``ignore_index`` and probability targets to the composed path, so these kernels see
only the fused case: every target a class, no weight.
"""

from __future__ import annotations

import numpy

from gradflow.kernels.cuda._common import (
    EW,
    REDUCE_SRC,
    Overrides,
    elementwise,
    floats,
    raw,
    row_launch,
    rows_fit,
)

CE_FWD_SRC = REDUCE_SRC + r"""
extern "C" __global__ void gf_ce_indices_fwd(const T* __restrict__ x,
                                             const long long* __restrict__ target,
                                             T* __restrict__ loss, T* __restrict__ logp,
                                             long long rows, long long cols,
                                             T neg_keep, T eps_c, int smoothing) {
    __shared__ T sh_m[32];
    __shared__ T sh_s[32];
    const long long row = (long long)blockIdx.x * blockDim.y + threadIdx.y;
    if (row >= rows) return;
    const T* xr = x + row * cols;
    T* lr = logp + row * cols;
    T m = GF_NEG_INF, s = (T)0;
    for (long long j = threadIdx.x; j < cols; j += blockDim.x) gf_lse_push(m, s, xr[j]);
    gf_block_lse(m, s, sh_m, sh_s);
    const T ls = log(s);
    T acc = (T)0;
    for (long long j = threadIdx.x; j < cols; j += blockDim.x) {
        const T v = (xr[j] - m) - ls;
        lr[j] = v;
        acc += v;
    }
    if (smoothing) acc = gf_block_sum(acc, sh_s);
    if (threadIdx.x == 0) {
        const long long t = target[row];
        T out;
        if (t < 0 || t >= cols) {
            out = GF_NAN;
        } else {
            const T picked = (xr[t] - m) - ls;
            out = smoothing ? neg_keep * picked - eps_c * acc : -picked;
        }
        loss[row] = out;
    }
}
"""

CE_BWD = EW(
    "T lp, S t, T g, int64 cols, T eps_c, T keep", "T gx",
    "T p = exp(lp); if (eps_c != (T)0) p -= eps_c; "
    "if ((long long)(i % cols) == (long long)t) p -= keep; gx = p * g")

RAW_SOURCES = {"gf_ce_indices_fwd": CE_FWD_SRC}
EW_SPECS = {"ce_indices_backward": CE_BWD}


def _targets_fit(target, rows: int) -> bool:
    return target.shape == (rows,) and target.dtype.kind in "iu"


def _forward_fits(logits, target, label_smoothing=0.0) -> bool:
    return logits.ndim == 2 and rows_fit(logits) and _targets_fit(target, logits.shape[0])


def _backward_fits(g, logp, target, label_smoothing=0.0) -> bool:
    return (logp.ndim == 2 and logp.size > 0 and floats(logp, g)
            and g.shape == logp.shape[:1] and _targets_fit(target, logp.shape[0]))


def overrides(backend, generic) -> dict:
    xp = backend.xp
    table = Overrides(backend, generic)

    @table.fused(fits=_forward_fits)
    def softmax_cross_entropy_indices(logits, target, label_smoothing=0.0):
        rows, cols = logits.shape
        t = xp.ascontiguousarray(target, dtype=numpy.int64)
        loss = xp.empty((rows,), dtype=logits.dtype)
        logp = xp.empty_like(logits)
        typ = logits.dtype.type
        grid, block = row_launch(rows, cols)
        raw(CE_FWD_SRC, "gf_ce_indices_fwd", logits.dtype.char)(
            grid, block, (logits, t, loss, logp, numpy.int64(rows), numpy.int64(cols),
                          typ(-(1 - label_smoothing)), typ(label_smoothing / cols),
                          numpy.int32(1 if label_smoothing else 0)))
        return loss, logp

    @table.fused(fits=_backward_fits)
    def softmax_cross_entropy_indices_backward(g, logp, target, label_smoothing=0.0):
        rows, cols = logp.shape
        eps_c = label_smoothing / cols if label_smoothing else 0.0
        return elementwise("ce_indices_backward", CE_BWD)(
            logp, target.reshape(rows, 1), g.reshape(rows, 1), cols, eps_c,
            1 - label_smoothing)

    return table.kernels
