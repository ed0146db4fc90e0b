"""``TransformerEncoderLayer`` and ``TransformerEncoder`` (Vaswani et al. 2017), PyTorch's:

    post-norm: x = norm1(x + SA(x));       x = norm2(x + FF(x))
    pre-norm:  x = x + SA(norm1(x));       x = x + FF(norm2(x))

with SA self-attention (dropout after it) and FF = linear2(dropout(activation(linear1(x))))
(dropout after it). Submodules carry PyTorch's names, so a torch state_dict loads.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from gradflow.nn.attention import MultiheadAttention
from gradflow.nn.container import ModuleList
from gradflow.nn.dropout import Dropout
from gradflow.nn.linear import Linear
from gradflow.nn.module import Module
from gradflow.nn.normalization import LayerNorm
from gradflow.ops.activation import gelu, relu
from gradflow.tensor import Tensor


def _activation(activation: str | Callable) -> Callable:
    if isinstance(activation, str):
        if activation == "relu":
            return relu
        if activation == "gelu":
            return gelu
        raise RuntimeError(f"TransformerEncoderLayer: activation should be relu/gelu, not "
                           f"{activation!r} (or pass a callable)")
    if not callable(activation):
        raise TypeError(f"TransformerEncoderLayer: activation must be 'relu', 'gelu' or a "
                        f"callable, got {type(activation).__name__}")
    return activation


class TransformerEncoderLayer(Module):
    """Self-attention and a feed-forward block, each with a residual connection and layer
    norm (after the residual, or before the block with ``norm_first``). Input ``(S, N, E)``
    (``(N, S, E)`` with ``batch_first``, or unbatched ``(S, E)``)."""

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048,
                 dropout: float = 0.1, activation: str | Callable[[Tensor], Tensor] = relu,
                 layer_norm_eps: float = 1e-5, batch_first: bool = False,
                 norm_first: bool = False, bias: bool = True, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__()
        kw = {"device": device, "dtype": dtype}
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                            batch_first=batch_first, **kw)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, **kw)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, **kw)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **kw)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **kw)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self.activation = _activation(activation)

    def forward(self, src: Tensor, src_mask: Tensor | None = None,
                src_key_padding_mask: Tensor | None = None, is_causal: bool = False) -> Tensor:
        x = src
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), src_mask, src_key_padding_mask, is_causal)
            return x + self._ff_block(self.norm2(x))
        x = self.norm1(x + self._sa_block(x, src_mask, src_key_padding_mask, is_causal))
        return self.norm2(x + self._ff_block(x))

    def _sa_block(self, x: Tensor, attn_mask, key_padding_mask, is_causal: bool) -> Tensor:
        x = self.self_attn(x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask,
                           need_weights=False, is_causal=is_causal)[0]
        return self.dropout1(x)

    def _ff_block(self, x: Tensor) -> Tensor:
        return self.dropout2(self.linear2(self.dropout(self.activation(self.linear1(x)))))


def _clone(module: Module) -> Module:
    """A deep copy of ``module`` (own parameters, same values); backends are shared."""
    memo = {}
    for t in list(module.parameters()) + list(module.buffers()):
        memo[id(t._backend)] = t._backend
    return copy.deepcopy(module, memo)


class TransformerEncoder(Module):
    """``num_layers`` copies of ``encoder_layer`` (each with its own parameters, starting from
    the same values, as PyTorch's deep copies), then ``norm`` when given.
    ``enable_nested_tensor`` and ``mask_check`` are accepted and ignored (no nested tensors:
    padded positions are computed, not zeroed as PyTorch's inference fast path does)."""

    def __init__(self, encoder_layer: TransformerEncoderLayer, num_layers: int,
                 norm: Module | None = None, enable_nested_tensor: bool = True,
                 mask_check: bool = True) -> None:
        super().__init__()
        if not isinstance(encoder_layer, Module):
            raise TypeError(f"TransformerEncoder: encoder_layer must be a Module, got "
                            f"{type(encoder_layer).__name__}")
        if isinstance(num_layers, bool) or not isinstance(num_layers, int) or num_layers < 0:
            raise ValueError(f"TransformerEncoder: num_layers must be a non-negative int, got "
                             f"{num_layers!r}")
        self.layers = ModuleList([_clone(encoder_layer) for _ in range(num_layers)])
        self.num_layers = num_layers
        self.norm = norm
        self.enable_nested_tensor = enable_nested_tensor
        self.mask_check = mask_check

    def forward(self, src: Tensor, mask: Tensor | None = None,
                src_key_padding_mask: Tensor | None = None,
                is_causal: bool | None = None) -> Tensor:
        out = src
        for layer in self.layers:
            out = layer(out, src_mask=mask, src_key_padding_mask=src_key_padding_mask,
                        is_causal=bool(is_causal))
        return out if self.norm is None else self.norm(out)


__all__ = ["TransformerEncoder", "TransformerEncoderLayer"]
