"""``MultiheadAttention`` (Vaswani et al. 2017), PyTorch's ``torch.nn.MultiheadAttention``:

    MultiHead(Q, K, V) = concat(head_1, …, head_h) W_O + b_O,
    head_i = softmax((Q W_Q^i)(K W_K^i)ᵀ / √d_head + mask) (V W_V^i).

Parameters carry PyTorch's names (``in_proj_weight``/``in_proj_bias``, or ``q_proj_weight``,
``k_proj_weight``, ``v_proj_weight`` when ``kdim``/``vdim`` differ from ``embed_dim``;
``bias_k``/``bias_v``; ``out_proj.weight``/``out_proj.bias``), so a torch state_dict loads.
"""

from __future__ import annotations

import math
from typing import Any

from gradflow.creation import empty, zeros
from gradflow.nn import init
from gradflow.nn.linear import Linear
from gradflow.nn.module import Module
from gradflow.nn.parameter import Parameter
from gradflow.ops.activation import softmax
from gradflow.ops.attention import scaled_dot_product_attention
from gradflow.ops.dropout import dropout as _dropout
from gradflow.ops.matmul import linear, matmul
from gradflow.ops.shape import (
    broadcast_to,
    concatenate,
    reshape,
    squeeze,
    swapaxes,
    transpose,
)
from gradflow.tensor import Tensor

_MHA = "MultiheadAttention"


class NonDynamicallyQuantizableLinear(Linear):
    """``Linear`` under PyTorch's name for the output projection of attention (the name shows
    in ``repr``)."""


def _canonical_mask(mask: Tensor | None, name: str, dtype) -> Tensor | None:
    """A bool mask (True = masked out) as a float mask of ``dtype`` (−∞ there, 0 elsewhere);
    a float mask as it is; anything else is an error naming the mask."""
    if mask is None:
        return None
    if not isinstance(mask, Tensor):
        raise TypeError(f"{_MHA}: {name} must be a Tensor or None, got {type(mask).__name__}")
    if mask.dtype == bool:
        xp = mask.backend.xp
        return Tensor.wrap(xp.where(mask.array, -math.inf, 0.0).astype(dtype), mask.backend)
    if mask.dtype.kind != "f":
        raise AssertionError(f"{_MHA}: only bool and floating types of {name} are supported, "
                             f"got {mask.dtype}")
    return mask


def _pad_last(mask: Tensor | None) -> Tensor | None:
    """``mask`` with one zero column appended (for the extra bias_k / zero-attention key)."""
    if mask is None:
        return None
    z = zeros(*mask.shape[:-1], 1, dtype=mask.dtype, device=mask.device)
    return concatenate([mask, z], -1)


class MultiheadAttention(Module):
    """Attention of ``num_heads`` heads of size ``embed_dim // num_heads``.

    ``forward(query, key, value)``: ``(L, N, E)`` / ``(S, N, kdim)`` / ``(S, N, vdim)``
    (``(N, L, E)`` … with ``batch_first``; unbatched ``(L, E)`` too) → ``(attn_output,
    attn_weights)``; weights ``(N, L, S)`` averaged over heads (``(N, H, L, S)`` with
    ``average_attn_weights=False``), None when ``need_weights=False``. Masks as PyTorch's: a
    bool ``key_padding_mask`` ``(N, S)`` or ``attn_mask`` ``(L, S)``/``(N·H, L, S)`` is True
    where a key is NOT attended; float masks are added to the scores. ``is_causal`` is a hint
    that ``attn_mask`` is the causal mask (which must still be given).
    """

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 add_bias_kv: bool = False, add_zero_attn: bool = False, kdim: int | None = None,
                 vdim: int | None = None, batch_first: bool = False, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__()
        if embed_dim <= 0 or num_heads <= 0:
            raise ValueError(f"{_MHA}: embed_dim and num_heads must be greater than 0, got "
                             f"embed_dim={embed_dim} and num_heads={num_heads} instead")
        if embed_dim % num_heads:
            raise AssertionError(f"{_MHA}: embed_dim must be divisible by num_heads, got "
                                 f"embed_dim={embed_dim} and num_heads={num_heads}")
        self.embed_dim = embed_dim
        self.kdim = kdim if kdim is not None else embed_dim
        self.vdim = vdim if vdim is not None else embed_dim
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.num_heads = num_heads
        self.dropout = dropout
        self.batch_first = batch_first
        self.head_dim = embed_dim // num_heads
        kw = {"dtype": dtype, "device": device}
        if not self._qkv_same_embed_dim:
            self.q_proj_weight = Parameter(empty(embed_dim, embed_dim, **kw))
            self.k_proj_weight = Parameter(empty(embed_dim, self.kdim, **kw))
            self.v_proj_weight = Parameter(empty(embed_dim, self.vdim, **kw))
            self.register_parameter("in_proj_weight", None)
        else:
            self.in_proj_weight = Parameter(empty(3 * embed_dim, embed_dim, **kw))
            self.register_parameter("q_proj_weight", None)
            self.register_parameter("k_proj_weight", None)
            self.register_parameter("v_proj_weight", None)
        if bias:
            self.in_proj_bias = Parameter(empty(3 * embed_dim, **kw))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = NonDynamicallyQuantizableLinear(embed_dim, embed_dim, bias=bias, **kw)
        if add_bias_kv:
            self.bias_k = Parameter(empty(1, 1, embed_dim, **kw))
            self.bias_v = Parameter(empty(1, 1, embed_dim, **kw))
        else:
            self.bias_k = self.bias_v = None
        self.add_zero_attn = add_zero_attn
        self._reset_parameters()

    def _reset_parameters(self) -> None:
        """PyTorch's init: xavier_uniform_ input projections, zero biases, xavier_normal_
        bias_k/bias_v (the output projection keeps Linear's init)."""
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            init.xavier_uniform_(self.q_proj_weight)
            init.xavier_uniform_(self.k_proj_weight)
            init.xavier_uniform_(self.v_proj_weight)
        if self.in_proj_bias is not None:
            init.constant_(self.in_proj_bias, 0.0)
            init.constant_(self.out_proj.bias, 0.0)
        if self.bias_k is not None:
            init.xavier_normal_(self.bias_k)
        if self.bias_v is not None:
            init.xavier_normal_(self.bias_v)

    def _project(self, query: Tensor, key: Tensor, value: Tensor):
        e = self.embed_dim
        b = self.in_proj_bias
        bq, bk, bv = (None, None, None) if b is None else (b[:e], b[e:2 * e], b[2 * e:])
        if self._qkv_same_embed_dim:
            w = self.in_proj_weight
            wq, wk, wv = w[:e], w[e:2 * e], w[2 * e:]
        else:
            wq, wk, wv = self.q_proj_weight, self.k_proj_weight, self.v_proj_weight
        return linear(query, wq, bq), linear(key, wk, bk), linear(value, wv, bv)

    def _check_inputs(self, query, key, value, key_padding_mask, attn_mask):
        for name, t in (("query", query), ("key", key), ("value", value)):
            if not isinstance(t, Tensor):
                raise TypeError(f"{_MHA}: {name} must be a Tensor, got {type(t).__name__}")
        if query.ndim not in (2, 3) or key.ndim != query.ndim or value.ndim != query.ndim:
            raise AssertionError(f"{_MHA}: query, key and value must all be 3-D (batched) or "
                                 f"2-D (unbatched), got shapes {tuple(query.shape)}, "
                                 f"{tuple(key.shape)} and {tuple(value.shape)}")
        for name, t, d in (("query", query, self.embed_dim), ("key", key, self.kdim),
                           ("value", value, self.vdim)):
            if t.shape[-1] != d:
                raise AssertionError(f"{_MHA}: {name} has feature size {t.shape[-1]} (shape "
                                     f"{tuple(t.shape)}), expected {d}")
        if key.shape[:-1] != value.shape[:-1]:
            raise AssertionError(f"{_MHA}: key shape {tuple(key.shape)} does not match value "
                                 f"shape {tuple(value.shape)} (all but the last dim)")

    def forward(self, query: Tensor, key: Tensor, value: Tensor,
                key_padding_mask: Tensor | None = None, need_weights: bool = True,
                attn_mask: Tensor | None = None, average_attn_weights: bool = True,
                is_causal: bool = False) -> tuple[Tensor, Tensor | None]:
        self._check_inputs(query, key, value, key_padding_mask, attn_mask)
        batched = query.ndim == 3
        bf = batched and self.batch_first
        if not batched:
            query, key, value = (reshape(t, (t.shape[0], 1, t.shape[1]))
                                 for t in (query, key, value))
            if key_padding_mask is not None:
                key_padding_mask = reshape(key_padding_mask, (1,) + tuple(key_padding_mask.shape))
        n_axis = 0 if bf else 1  # the batch axis of the (batch-first or seq-first) inputs
        tgt_len, bsz = query.shape[1 - n_axis], query.shape[n_axis]
        src_len = key.shape[1 - n_axis]
        kpm = _canonical_mask(key_padding_mask, "key_padding_mask", query.dtype)
        if is_causal and attn_mask is None:
            raise RuntimeError(f"{_MHA}: need attn_mask if specifying the is_causal hint; pass "
                               "the causal mask as attn_mask (is_causal=True only says it is one)")
        sdpa_causal = is_causal and kpm is None and not need_weights
        mask = None if sdpa_causal else _canonical_mask(attn_mask, "attn_mask", query.dtype)
        mask = self._check_masks(mask, kpm, tgt_len, src_len, bsz)
        if need_weights or self.bias_k is not None or self.add_zero_attn:
            if bf:
                query, key, value = (swapaxes(t, 0, 1) for t in (query, key, value))
            out, weights = self._general(query, key, value, mask, kpm, average_attn_weights)
            weights = weights if need_weights else None
            if bf:
                out = swapaxes(out, 0, 1)
        else:
            out, weights = self._heads_first(query, key, value, mask, kpm, sdpa_causal, bf), None
        if not batched:
            out = squeeze(out, 1)
            if weights is not None:
                weights = squeeze(weights, 0)
        return out, weights

    def _check_masks(self, mask, kpm, tgt_len: int, src_len: int, bsz: int):
        """``attn_mask`` checked against (L, S) / (N·H, L, S); a 2-D one as (1, L, S)."""
        h = self.num_heads
        if mask is not None:
            if mask.ndim == 2:
                if tuple(mask.shape) != (tgt_len, src_len):
                    raise RuntimeError(f"{_MHA}: the shape of the 2D attn_mask is "
                                       f"{tuple(mask.shape)}, but should be "
                                       f"{(tgt_len, src_len)} (L, S)")
                mask = reshape(mask, (1, tgt_len, src_len))
            elif mask.ndim == 3:
                if tuple(mask.shape) != (bsz * h, tgt_len, src_len):
                    raise RuntimeError(f"{_MHA}: the shape of the 3D attn_mask is "
                                       f"{tuple(mask.shape)}, but should be "
                                       f"{(bsz * h, tgt_len, src_len)} (N·num_heads, L, S)")
            else:
                raise RuntimeError(f"{_MHA}: attn_mask's dimension {mask.ndim} is not "
                                   "supported; pass a 2-D (L, S) or 3-D (N·num_heads, L, S) mask")
        if kpm is not None and tuple(kpm.shape) != (bsz, src_len):
            raise AssertionError(f"{_MHA}: expected key_padding_mask of shape "
                                 f"{(bsz, src_len)} (N, S), got {tuple(kpm.shape)}")
        return mask

    def _heads_first(self, query, key, value, mask, kpm, causal: bool, bf: bool) -> Tensor:
        """The attention output without weights, bias_k or zero attention: the projections on
        the inputs' own layout (one GEMM each over all rows), the heads as strided
        (N, H, L, hd) views into them, sdpa, and the heads merged back into the same layout
        for the output projection (no seq-first copy of a batch-first input). One packed
        q/k/v GEMM for self-attention (split by unbind) measured 0-4 % slower than three:
        unbind's backward scatters each gradient into zeros of the packed shape."""
        h, hd, e = self.num_heads, self.head_dim, self.embed_dim
        d0, d1 = query.shape[0], query.shape[1]
        bsz = d0 if bf else d1
        heads = (0, 2, 1, 3) if bf else (1, 2, 0, 3)  # (d0, d1, H, hd) -> (N, H, L, hd)
        q, k, v = (transpose(reshape(t, (t.shape[0], t.shape[1], h, hd)), heads)
                   for t in self._project(query, key, value))
        src_len = k.shape[2]
        if kpm is not None:
            kpm = reshape(kpm, (bsz, 1, 1, src_len))
        if mask is not None:
            mask = reshape(mask, (1, 1) + tuple(mask.shape[1:])) if mask.shape[0] == 1 else \
                reshape(mask, (bsz, h) + tuple(mask.shape[1:]))
            if kpm is not None:
                mask = mask + kpm
        elif kpm is not None:
            mask = kpm
        p = self.dropout if self.training else 0.0
        out = scaled_dot_product_attention(q, k, v, mask, p, causal)  # (N, H, L, hd)
        out = reshape(transpose(out, (0, 2, 1, 3) if bf else (2, 0, 1, 3)), (d0, d1, e))
        return linear(out, self.out_proj.weight, self.out_proj.bias)

    def _general(self, query, key, value, mask, kpm, average_attn_weights: bool):
        """Seq-first inputs ``(L, N, E)`` -> ``(out (L, N, E), weights)`` (weights, bias_k
        and zero attention)."""
        tgt_len, bsz, e = query.shape
        h, hd = self.num_heads, self.head_dim
        q, k, v = self._project(query, key, value)
        if self.bias_k is not None:
            k = concatenate([k, broadcast_to(self.bias_k, (1, bsz, e))], 0)
            v = concatenate([v, broadcast_to(self.bias_v, (1, bsz, e))], 0)
            mask, kpm = _pad_last(mask), _pad_last(kpm)
        q = swapaxes(reshape(q, (tgt_len, bsz * h, hd)), 0, 1)
        k = swapaxes(reshape(k, (k.shape[0], bsz * h, hd)), 0, 1)
        v = swapaxes(reshape(v, (v.shape[0], bsz * h, hd)), 0, 1)
        if self.add_zero_attn:
            z = zeros(bsz * h, 1, hd, dtype=k.dtype, device=k.device)
            k, v = concatenate([k, z], 1), concatenate([v, z], 1)
            mask, kpm = _pad_last(mask), _pad_last(kpm)
        src_len = k.shape[1]
        if kpm is not None:
            kpm = reshape(broadcast_to(reshape(kpm, (bsz, 1, 1, src_len)),
                                       (bsz, h, 1, src_len)), (bsz * h, 1, src_len))
            mask = kpm if mask is None else mask + kpm
        p = self.dropout if self.training else 0.0
        w = matmul(q * math.sqrt(1.0 / hd), swapaxes(k, -1, -2))
        if mask is not None:
            w = w + mask
        w = softmax(w, -1)
        if p > 0.0:
            w = _dropout(w, p, True)
        out = matmul(w, v)
        weights = reshape(w, (bsz, h, tgt_len, src_len))
        if average_attn_weights:
            weights = weights.mean(1)
        out = reshape(swapaxes(out, 0, 1), (tgt_len * bsz, e))
        out = reshape(linear(out, self.out_proj.weight, self.out_proj.bias), (tgt_len, bsz, e))
        return out, weights


__all__ = ["MultiheadAttention", "NonDynamicallyQuantizableLinear"]
