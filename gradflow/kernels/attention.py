"""Fused scaled dot-product attention kernels (float32/float64; the op keeps its composition
for half precision, autocast, dropout and grouped heads).

Forward, for each block of query rows ``[r0, r1)`` that sees the keys ``[0, c1)``:

    Z = (Q·scale) Kᵀ + bias,   P = softmax(Z) (in place: max, subtract, exp, sum, multiply
    by the sum's reciprocal),   O = P V,

with the probabilities kept for the backward pass:

    dV = Pᵀ G,   dP = G Vᵀ,   dZ = P ∘ (dP − rowsum(dP ∘ P)),   dQ = dZ K · scale,
    dK = dZᵀ (Q·scale),   dbias = dZ

(dZ in dP's own buffer, the row sums by ``vecdot``: no dP ∘ P temporary). The leading axes
are walked in chunks of about ``CHUNK_BYTES`` of scores, so the passes over a chunk run in cache.

Without a causal mask there is one block (all rows, all keys). With ``is_causal`` (top-left:
query i sees keys j <= i) the rows are cut into blocks and a block ending at row r1 only
multiplies the first r1 keys: 2 blocks do 3/4 of the GEMM work, 4 blocks 5/8. A query row
whose keys are all masked (−∞) gives zero weights, as PyTorch's CPU kernel.
"""

from __future__ import annotations

import math

import numpy

from gradflow.kernels import kernel

#: Scores per chunk (bytes): the leading axes are walked in chunks of about this size so that
#: the softmax passes over a chunk run in cache. (8, 8, L, 64) float32 forward + backward, one
#: thread, against one chunk: L = 128 29.8 -> 24.0 ms, L = 256 105.5 -> 86.6 ms (1 MiB chunks:
#: 28.6 and 98.6 ms); benchmarks/results/attention_speed_2026-12-03.md.
CHUNK_BYTES = 1 << 18


def _broadcast_shapes(*shapes) -> tuple:
    """NumPy's broadcast of ``shapes`` (plain Python: the same on every backend)."""
    n = max(len(s) for s in shapes)
    out = []
    for i in range(n):
        dims = {s[i - n + len(s)] for s in shapes if i - n + len(s) >= 0} - {1}
        if len(dims) > 1:
            raise ValueError(f"shapes {shapes} cannot be broadcast together")
        out.append(dims.pop() if dims else 1)
    return tuple(out)


def _matmul_into(xp, a, b, out):
    """``out[...] = a @ b``: straight into ``out`` (a view) on NumPy, through a copy elsewhere."""
    if xp is numpy:
        xp.matmul(a, b, out=out)
    else:
        out[...] = xp.matmul(a, b)


def _softmax_(xp, s, masked: bool):
    """Row softmax of ``s`` over its last axis, in place; rows of only −∞ become zeros."""
    m = s.max(axis=-1, keepdims=True)
    if masked:
        m[m == -math.inf] = 0.0
    s -= m
    xp.exp(s, out=s)
    d = s.sum(axis=-1, keepdims=True)
    if masked:
        d[d == 0] = 1.0
    s *= 1.0 / d
    return s


def _chunks(arrays, L: int, S: int, itemsize: int, whole: bool) -> list:
    """Indices into the leading axes (``[None]``: everything at once), each selecting about
    ``CHUNK_BYTES`` of scores: ints for the outer axes, a slice of the next one. Only when
    every array has the same leading shape (no broadcasting to undo)."""
    a0 = arrays[0]
    lead = a0.shape[:-2]
    if whole or not lead or any(a.shape[:-2] != lead for a in arrays):
        return [None]
    below = [itemsize * L * S]  # bytes of scores under one index of axis d, innermost first
    for n in reversed(lead[1:]):
        below.append(below[-1] * n)
    below.reverse()
    d = next((i for i, size in enumerate(below) if size <= CHUNK_BYTES), len(lead) - 1)
    step = max(1, CHUNK_BYTES // max(below[d], 1))
    if d == 0 and step >= lead[0]:
        return [None]
    outer = [()]
    for n in lead[:d]:
        outer = [o + (i,) for o in outer for i in range(n)]
    return [o + (slice(j, min(j + step, lead[d])),) for o in outer
            for j in range(0, lead[d], step)]


def _at(a, idx):
    """``a``'s chunk ``idx`` of the leading axes (all of ``a`` for everything at once)."""
    return a if idx is None or a is None else a[idx]


def _forward_blocks(xp, qs, kt, v, bias, blocks, out):
    probs = []
    masked = bias is not None
    if len(blocks) == 1:
        s = xp.matmul(qs, kt)
        if masked:
            s += bias
        p = _softmax_(xp, s, masked)
        _matmul_into(xp, p, v, out)
        return [p]
    for r0, r1, c1 in blocks:
        s = xp.matmul(qs[..., r0:r1, :], kt[..., :c1])
        if masked:
            s += bias[..., r0:r1, :c1]
        p = _softmax_(xp, s, masked)
        _matmul_into(xp, p, v[..., :c1, :], out[..., r0:r1, :])
        probs.append(p)
    return probs


@kernel
def sdpa_forward(xp, q, k, v, bias, scale: float, blocks, whole: bool = False):
    """``(out, probs)``: ``out`` of the (broadcast) leading shape + (L, Ev); ``probs`` a list
    of ``(chunk index, [P of each block])``, one per chunk of the leading axes. ``bias``: an
    additive array broadcastable to the scores (or None); ``blocks``: ``((r0, r1, c1), ...)``
    (query rows r0..r1 see keys 0..c1); ``whole``: one chunk (the bias's gradient is wanted)."""
    L, S = q.shape[-2], k.shape[-2]
    qs = q * scale if scale != 1.0 else q
    kt = k.swapaxes(-1, -2)
    lead = _broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2])
    out = xp.empty(lead + (L, v.shape[-1]), dtype=q.dtype)
    probs = []
    chunks = _chunks((q, k, v), L, S, q.itemsize, whole)
    if bias is not None and chunks[0] is not None:
        bias = xp.broadcast_to(bias, lead + (L, S))  # a view: its chunks index as the scores'
    for sl in chunks:
        probs.append((sl, _forward_blocks(xp, _at(qs, sl), _at(kt, sl), _at(v, sl),
                                          _at(bias, sl), blocks, _at(out, sl))))
    return out, probs


def _sum_to(g, shape):
    if g.shape == tuple(shape):
        return g
    lead = g.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(i + lead for i, n in enumerate(shape)
                                      if n == 1 and g.shape[i + lead] != 1)
    return g.sum(axis=axes, keepdims=True).reshape(shape) if axes else g


def _score_grad(xp, g, v, p):
    """dZ = P ∘ (dP − rowsum(dP ∘ P)) with dP = G Vᵀ, built in dP's own buffer."""
    dz = xp.matmul(g, v.swapaxes(-1, -2))
    r = xp.vecdot(dz, p) if hasattr(xp, "vecdot") else (dz * p).sum(axis=-1)
    dz -= r[..., None]
    dz *= p
    return dz


@kernel
def sdpa_backward(xp, g, q, k, v, probs, scale: float, blocks, needs, bias_shape=None):
    """``(dq, dk, dv, dbias)`` for ``sdpa_forward``'s blocks and probabilities (None where
    ``needs`` says the gradient is not wanted). dQ, dK, dV are computed at the broadcast
    leading shape and summed to the inputs' shapes."""
    nq, nk, nv, nb = needs
    L, S = q.shape[-2], k.shape[-2]
    qs = q * scale if (nk and scale != 1.0) else q
    lead = _broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2], g.shape[:-2])
    dq = xp.empty(lead + (L, q.shape[-1]), dtype=q.dtype) if nq else None
    dk = xp.zeros(lead + (S, k.shape[-1]), dtype=k.dtype) if nk else None
    dv = xp.zeros(lead + (S, v.shape[-1]), dtype=v.dtype) if nv else None
    db = None
    for sl, ps in probs:  # the forward's chunks
        gc, kc, vc, qc = _at(g, sl), _at(k, sl), _at(v, sl), _at(qs, sl)
        dqc, dkc, dvc = (_at(a, sl) for a in (dq, dk, dv))
        for (r0, r1, c1), p in zip(blocks, ps):
            gb = gc[..., r0:r1, :]
            if nv:
                dvc[..., :c1, :] += xp.matmul(p.swapaxes(-1, -2), gb)
            if nq or nk or nb:
                dz = _score_grad(xp, gb, vc[..., :c1, :], p)
                if nq:
                    _matmul_into(xp, dz, kc[..., :c1, :], dqc[..., r0:r1, :])
                if nk:
                    dkc[..., :c1, :] += xp.matmul(dz.swapaxes(-1, -2), qc[..., r0:r1, :])
                if nb:  # one chunk and one block: a mask is never causal
                    db = _sum_to(dz, bias_shape)
    if nq:
        if scale != 1.0:
            dq *= scale
        dq = _sum_to(dq, q.shape)
    return (dq, _sum_to(dk, k.shape) if nk else None, _sum_to(dv, v.shape) if nv else None, db)
