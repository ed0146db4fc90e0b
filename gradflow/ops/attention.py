"""Scaled dot-product attention, composed from matmul, where, softmax and dropout (so it is
differentiable to every order):

    Attention(Q, K, V) = softmax(Q Kᵀ · scale + bias) V,   scale = 1/√E by default,

with ``bias`` −∞ where a boolean ``attn_mask`` is False or ``is_causal`` hides a key, and a
float ``attn_mask`` added. A query row whose keys are all masked gives zeros (and zero
gradients), as PyTorch 2.13 does on the CPU, not NaN.
"""

from __future__ import annotations

import math

from gradflow.dtypes import is_floating
from gradflow.ops._util import tensor_arg
from gradflow.ops.activation import softmax
from gradflow.ops.dropout import dropout
from gradflow.ops.math import where
from gradflow.ops.matmul import matmul
from gradflow.ops.shape import reshape, swapaxes
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
        raise RuntimeError(f"{_OP}: attn_mask of shape {tuple(attn_mask.shape)} cannot be "
                           f"broadcast to the attention scores' shape {tuple(scores.shape)} "
                           f"(..., L={L}, S={S}); pass a mask of shape (L, S) or one that "
                           "broadcasts to it")
    xp = query.backend.xp
    allowed = _allowed(attn_mask, is_causal, L, S, xp)
    dead = None
    if attn_mask is not None and attn_mask.dtype != bool:
        scores = scores + attn_mask
    elif allowed is not None:  # an additive 0/−∞ bias: its backward passes g through unchanged
        bias = xp.where(allowed, 0.0, -math.inf).astype(scores.dtype)
        scores = scores + Tensor.wrap(bias, query.backend)
    if allowed is not None:
        dead = ~allowed.any(axis=-1, keepdims=True)
        if bool(dead.any()):  # rows with no key: softmax of zeros, then zero weights
            scores = where(dead, 0.0, scores)
        else:
            dead = None
    p = softmax(scores, -1)
    if dead is not None:
        p = where(dead, 0.0, p)
    if dropout_p > 0.0:
        p = dropout(p, dropout_p, True)
    if groups > 1:
        p = reshape(p, lead + (key.shape[-3], groups * L, S))
        out = matmul(p, value)
        return reshape(out, lead + (query.shape[-3], L, value.shape[-1]))
    return matmul(p, value)


__all__ = ["scaled_dot_product_attention"]
