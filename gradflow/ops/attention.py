"""Scaled dot-product attention, composed from matmul, where, softmax and dropout (so it is
differentiable to every order):

    Attention(Q, K, V) = softmax(Q Kᵀ · scale + bias) V,   scale = 1/√E by default,

with ``bias`` −∞ where a boolean ``attn_mask`` is False or ``is_causal`` hides a key, and a
float ``attn_mask`` added. A query row whose keys are all masked gives zeros (and zero
gradients), as PyTorch 2.13 does on the CPU, not NaN.
"""

from __future__ import annotations

import math

from gradflow import amp as _amp
from gradflow.autograd.function import Function
from gradflow.dtypes import is_floating
from gradflow.ops._util import tensor_arg
from gradflow.ops.activation import softmax
from gradflow.ops.dropout import dropout
from gradflow.ops.math import where
from gradflow.ops.matmul import matmul
from gradflow.ops.namespace_shape import broadcast_shapes
from gradflow.ops.shape import reshape, sum_to, swapaxes
from gradflow.tensor import Tensor

_OP = "scaled_dot_product_attention"


def _broadcastable(mask_shape: tuple, target: tuple) -> bool:
    """Whether ``mask_shape`` broadcasts to ``target`` without changing it."""
    if len(mask_shape) > len(target):
        return False
    return all(m in (1, t) for m, t in zip(reversed(mask_shape), reversed(target)))


def _check(query: Tensor, key: Tensor, value: Tensor, enable_gqa: bool) -> None:
    for name, t in (("query", query), ("key", key), ("value", value)):
        tensor_arg(t, _OP, name)
    if min(query.ndim, key.ndim, value.ndim) < 2:
        raise RuntimeError(f"{_OP}: expected query, key, and value to all be at least 2 "
                           f"dimensional, but got query.dim: {query.ndim} key.dim: {key.ndim} "
                           f"and value.dim: {value.ndim} instead")
    if not query.dtype == key.dtype == value.dtype:
        raise RuntimeError(f"{_OP}: expected query, key, and value to have the same dtype, but "
                           f"got query.dtype: {query.dtype} key.dtype: {key.dtype} and "
                           f"value.dtype: {value.dtype} instead")
    if not is_floating(query.dtype):
        raise RuntimeError(f"{_OP}: expected floating-point query, key and value, got "
                           f"{query.dtype}")
    if query.shape[-1] != key.shape[-1]:
        raise RuntimeError(f"{_OP}: query and key must have the same embedding size (last "
                           f"dim), got query {tuple(query.shape)} and key {tuple(key.shape)}")
    if key.shape[-2] != value.shape[-2]:
        raise RuntimeError(f"{_OP}: key and value must have the same sequence length (dim "
                           f"-2), got key {tuple(key.shape)} and value {tuple(value.shape)}")
    if enable_gqa and query.ndim >= 3:
        hq, hk, hv = query.shape[-3], key.shape[-3], value.shape[-3]
        if hk != hv or hq % hk:
            raise RuntimeError(f"{_OP}: with enable_gqa, the number of heads in key and value "
                               f"must be equal and divide the number of heads in query, got "
                               f"query {hq}, key {hk} and value {hv} heads (dim -3)")


def _allowed(attn_mask: Tensor | None, is_causal: bool, L: int, S: int, xp):
    """The boolean array of the (query, key) pairs that take part (None: all)."""
    if is_causal:
        return xp.tril(xp.ones((L, S), dtype=bool))
    if attn_mask is not None:
        m = attn_mask.array
        return m if m.dtype == bool else m != -math.inf
    return None


def scaled_dot_product_attention(query: Tensor, key: Tensor, value: Tensor,
                                 attn_mask: Tensor | None = None, dropout_p: float = 0.0,
                                 is_causal: bool = False, scale: float | None = None,
                                 enable_gqa: bool = False) -> Tensor:
    """Attention of ``query`` ``(..., L, E)`` over ``key`` ``(..., S, E)`` and ``value``
    ``(..., S, Ev)``, giving ``(..., L, Ev)``; leading dims broadcast.

    ``attn_mask``: bool (True = the pair takes part) or float of the query's dtype (added to
    the scores), broadcastable to ``(..., L, S)``. ``is_causal``: query i sees keys j <= i
    (top-left aligned; giving ``attn_mask`` too is an error, as PyTorch documents and its
    reference path raises). ``dropout_p``: dropout of the attention weights (default
    generator). ``scale``: default 1/√E. ``enable_gqa``: key/value with fewer heads (dim −3)
    serve groups of query heads, each kv head the next ``Hq/Hk`` query heads (PyTorch's
    repeat_interleave).
    """
    _check(query, key, value, enable_gqa)
    L, S, E = query.shape[-2], key.shape[-2], query.shape[-1]
    if attn_mask is not None:
        tensor_arg(attn_mask, _OP, "attn_mask")
        if attn_mask.dtype != bool and attn_mask.dtype != query.dtype:
            raise RuntimeError(f"{_OP}: expected attn_mask dtype to be bool or float or to match "
                               f"query dtype, but got attn_mask.dtype: {attn_mask.dtype} and "
                               f"query.dtype: {query.dtype} instead")
    if is_causal and attn_mask is not None:
        raise RuntimeError(f"{_OP}: explicit attn_mask should not be set when is_causal=True; "
                           "pass one of them (fold the causal mask into attn_mask to use both)")
    if not 0.0 <= dropout_p < 1.0:
        raise ValueError(f"{_OP}: dropout_p must be in [0, 1), got {dropout_p}")
    scale = 1.0 / math.sqrt(E) if scale is None else float(scale)
    if (dropout_p == 0.0 and not _amp.STATE.on and query.dtype.kind == "f"
            and query.dtype.itemsize >= 4 and L and S and (
            not enable_gqa or query.ndim < 3 or key.shape[-3] == query.shape[-3])):
        if attn_mask is not None and not _broadcastable(
                tuple(attn_mask.shape), _scores_shape(query, key)):
            _mask_error(attn_mask, _scores_shape(query, key), L, S)
        return _fused(query, key, value, attn_mask, is_causal, scale)
    return _composed(query, key, value, attn_mask, dropout_p, is_causal, scale, enable_gqa)


def _scores_shape(query: Tensor, key: Tensor) -> tuple:
    lead = broadcast_shapes(tuple(query.shape[:-2]), tuple(key.shape[:-2]))
    return tuple(lead) + (query.shape[-2], key.shape[-2])


def _mask_error(attn_mask: Tensor, scores_shape: tuple, L: int, S: int):
    raise RuntimeError(f"{_OP}: attn_mask of shape {tuple(attn_mask.shape)} cannot be "
                       f"broadcast to the attention scores' shape {scores_shape} "
                       f"(..., L={L}, S={S}); pass a mask of shape (L, S) or one that "
                       "broadcasts to it")


#: Query rows per block of a causal attention (a block only multiplies the keys it can see);
#: sequences shorter than two blocks are one block.
CAUSAL_BLOCK = 64


def _blocks(L: int, S: int, causal: bool) -> tuple:
    """``((r0, r1, c1), ...)``: query rows r0..r1 attend to keys 0..c1."""
    if not causal or L < 2 * CAUSAL_BLOCK:
        return ((0, L, S),)
    n = min(L // CAUSAL_BLOCK, 8)
    edges = [L * i // n for i in range(n + 1)]
    return tuple((r0, r1, min(r1, S)) for r0, r1 in zip(edges[:-1], edges[1:]))


class ScaledDotProductAttention(Function):
    """The fused attention (kernels/attention.py): one node; the probabilities are kept for
    the first-order path, the recorded path recomputes them from differentiable ops."""

    @staticmethod
    def forward(ctx, q, k, v, mask, causal=False, scale=1.0):
        xp = ctx.xp
        L, S = q.shape[-2], k.shape[-2]
        blocks = _blocks(L, S, causal)
        bias = mask
        if causal:
            bias = xp.triu(xp.full((L, S), -math.inf, dtype=q.dtype), 1)
        elif mask is not None and mask.dtype == bool:
            bias = xp.where(mask, 0.0, -math.inf).astype(q.dtype)
        out, probs = ctx.k.sdpa_forward(q, k, v, bias, scale, blocks,
                                         ctx.needs_input_grad[3])
        ctx.save_for_backward(q, k, v, mask)
        ctx.probs, ctx.blocks, ctx.causal, ctx.scale = probs, blocks, causal, scale
        return out

    @staticmethod
    def vjp(ctx, g):
        q, k, v, mask = ctx.saved_arrays
        nq, nk, nv, nm = ctx.needs_input_grad
        dq, dk, dv, dm = ctx.k.sdpa_backward(g, q, k, v, ctx.probs, ctx.scale, ctx.blocks,
                                             (nq, nk, nv, nm),
                                             None if mask is None else mask.shape)
        return dq, dk, dv, dm

    @staticmethod
    def backward(ctx, g):
        q, k, v, mask = ctx.saved_tensors
        nq, nk, nv, nm = ctx.needs_input_grad
        p = _probs(q, k, mask, ctx.causal, ctx.scale)
        dv = sum_to(matmul(swapaxes(p, -1, -2), g), v.shape) if nv else None
        if not (nq or nk or nm):
            return None, None, dv, None
        dp = matmul(g, swapaxes(v, -1, -2))
        dz = p * (dp - (dp * p).sum(-1, keepdim=True))
        dq = sum_to(matmul(dz, k) * ctx.scale, q.shape) if nq else None
        dk = sum_to(matmul(swapaxes(dz, -1, -2), q * ctx.scale), k.shape) if nk else None
        dm = sum_to(dz, mask.shape) if nm else None
        return dq, dk, dv, dm


def _fused(query, key, value, attn_mask, is_causal: bool, scale: float) -> Tensor:
    return ScaledDotProductAttention.apply(query, key, value, attn_mask, causal=is_causal,
                                           scale=scale)


def _probs(q: Tensor, k: Tensor, mask: Tensor | None, causal: bool, scale: float) -> Tensor:
    """softmax(q kᵀ·scale + bias) from differentiable ops (masked-out rows: zeros)."""
    scores = matmul(q * scale, swapaxes(k, -1, -2))
    return _masked_softmax(scores, mask, causal, q.backend.xp)


def _masked_softmax(scores: Tensor, attn_mask: Tensor | None, is_causal: bool, xp) -> Tensor:
    L, S = scores.shape[-2], scores.shape[-1]
    allowed = _allowed(attn_mask, is_causal, L, S, xp)
    dead = None
    if attn_mask is not None and attn_mask.dtype != bool:
        scores = scores + attn_mask
    elif allowed is not None:  # an additive 0/−∞ bias: its backward passes g through unchanged
        bias = xp.where(allowed, 0.0, -math.inf).astype(scores.dtype)
        scores = scores + Tensor.wrap(bias, scores.backend)
    if allowed is not None:
        dead = ~allowed.any(axis=-1, keepdims=True)
        if bool(dead.any()):  # rows with no key: softmax of zeros, then zero weights
            scores = where(dead, 0.0, scores)
        else:
            dead = None
    p = softmax(scores, -1)
    if dead is not None:
        p = where(dead, 0.0, p)
    return p


def _composed(query, key, value, attn_mask, dropout_p: float, is_causal: bool, scale: float,
              enable_gqa: bool) -> Tensor:
    """The composition (half precision, dropout, grouped heads, empty sequences)."""
    L, S, E = query.shape[-2], key.shape[-2], query.shape[-1]
    groups = 1
    if enable_gqa and query.ndim >= 3 and key.shape[-3] != query.shape[-3]:
        groups = query.shape[-3] // key.shape[-3]
    q = query * scale
    if groups > 1:  # (.., Hq, L, E) -> (.., Hk, r·L, E): query heads h·r..h·r+r−1 share kv h
        lead = tuple(query.shape[:-3])
        q = reshape(q, lead + (key.shape[-3], groups * L, E))
    scores = matmul(q, swapaxes(key, -1, -2))
    if groups > 1:
        scores = reshape(scores, lead + (query.shape[-3], L, S))
    if attn_mask is not None and not _broadcastable(tuple(attn_mask.shape), tuple(scores.shape)):
        _mask_error(attn_mask, tuple(scores.shape), L, S)
    p = _masked_softmax(scores, attn_mask, is_causal, query.backend.xp)
    if dropout_p > 0.0:
        p = dropout(p, dropout_p, True)
    if groups > 1:
        p = reshape(p, lead + (key.shape[-3], groups * L, S))
        out = matmul(p, value)
        return reshape(out, lead + (query.shape[-3], L, value.shape[-1]))
    return matmul(p, value)


__all__ = ["scaled_dot_product_attention"]
