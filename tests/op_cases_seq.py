"""Oracle cases of the sequence-model ops (embedding, scaled dot-product attention, RMS norm):
each runs on the vjp, composed and second-order paths against a JAX twin."""

import jax
import jax.numpy as jnp
import numpy as np
from op_cases import R, _on

import gradflow as gf
from gradflow.ops.attention import scaled_dot_product_attention as sdpa
from gradflow.ops.embedding import EmbeddingScatter, embedding
from gradflow.ops.rms_norm import rms_norm

_IDX = np.array([[1, 3, 1], [0, 1, 4]])  # repeated indices (1 three times), padding index 0


def _grad_factor(idx, n, padding_idx=None, scale=False):
    f = np.ones(idx.shape)
    if scale:
        f = 1.0 / np.bincount(idx.ravel(), minlength=n)[idx]
    if padding_idx is not None:
        f = np.where(idx == padding_idx, 0.0, f)
    return f


def _embedding_jax(w, idx, factor):
    """w[idx] in value, with each row's gradient scaled by ``factor`` (0: no gradient)."""
    e = w[idx]
    se = jax.lax.stop_gradient(e)
    return se + (e - se) * factor[..., None]


def _emb(padding_idx=None, scale=False):
    def f(w):
        return embedding(gf.tensor(_IDX, device=w.device), w, padding_idx,
                         scale_grad_by_freq=scale) ** 2

    def j(w):
        return _embedding_jax(w, _IDX, _grad_factor(_IDX, 5, padding_idx, scale)) ** 2

    return f, j


def _sdpa_jax(q, k, v, allowed=None, bias=None, scale=None):
    s = q @ jnp.swapaxes(k, -1, -2) * (scale or 1 / np.sqrt(q.shape[-1]))
    if bias is not None:
        s = s + bias
    if allowed is not None:
        s = jnp.where(allowed, s, -jnp.inf)
        dead = ~allowed.any(-1, keepdims=True)
        s = jnp.where(dead, 0.0, s)
    p = jax.nn.softmax(s, -1)
    if allowed is not None:
        p = jnp.where(dead, 0.0, p)
    return p @ v


_BOOL = R(4, 5, seed=3) > -0.3
_BOOL[2] = False  # a query that sees no key: zeros, as PyTorch
_CAUSAL = np.tril(np.ones((4, 4), bool))


def _mask(t, array):
    return gf.tensor(array, device=t.device)


def _float_bias(t, array):
    return gf.tensor(array, dtype=t.dtype, device=t.device)


_FBIAS = np.where(R(4, 5, seed=4) > 1.0, -np.inf, R(4, 5, seed=5))

# padding_idx and scale_grad_by_freq change the gradient on purpose (PyTorch's meaning: it is
# no longer the derivative), so finite differences cannot check them: these run through the
# JAX oracle (vjp, composed and second order) in tests/test_embedding_torch.py instead.
GRADIENT_RULE_CASES = [
    ("seq_embedding_padding", *_emb(padding_idx=0), [R(5, 3)], ()),
    ("seq_embedding_scale_freq", *_emb(padding_idx=4, scale=True), [R(5, 3)], ()),
]

_FACTOR = _grad_factor(_IDX, 5, 0, True)


def _scatter(g, factor=None):
    f = None if factor is None else _on(g, factor.astype(g.dtype))
    return EmbeddingScatter.apply(g, _on(g, _IDX), f, 5) ** 2


def _scatter_jax(g, factor=None):
    rows = g if factor is None else g * factor[..., None]
    return jnp.zeros((5, g.shape[-1])).at[_IDX].add(rows) ** 2


CASES = [
    ("seq_embedding", *_emb(), [R(5, 3)], ()),
    ("seq_embedding_scatter", _scatter, _scatter_jax, [R(2, 3, 4)], ()),
    ("seq_embedding_scatter_factor", lambda g: _scatter(g, _FACTOR),
     lambda g: _scatter_jax(g, _FACTOR), [R(2, 3, 4)], ()),
    ("seq_sdpa", lambda q, k, v: sdpa(q, k, v), lambda q, k, v: _sdpa_jax(q, k, v),
     [R(2, 3, 4, 6), R(2, 3, 5, 6, seed=1), R(2, 3, 5, 2, seed=2)], ()),
    ("seq_sdpa_bcast_heads_scale", lambda q, k, v: sdpa(q, k, v, scale=0.7),
     lambda q, k, v: _sdpa_jax(q, k, v, scale=0.7),
     [R(2, 3, 4, 6), R(2, 1, 5, 6, seed=1), R(1, 1, 5, 2, seed=2)], ()),
    ("seq_sdpa_bool_mask", lambda q, k, v: sdpa(q, k, v, _mask(q, _BOOL)),
     lambda q, k, v: _sdpa_jax(q, k, v, _BOOL),
     [R(2, 4, 3), R(2, 5, 3, seed=1), R(2, 5, 2, seed=2)], ()),
    ("seq_sdpa_float_mask", lambda q, k, v, b: sdpa(q, k, v, b + _float_bias(q, _FBIAS)),
     lambda q, k, v, b: _sdpa_jax(q, k, v, bias=b + _FBIAS),
     [R(2, 4, 3), R(2, 5, 3, seed=1), R(2, 5, 2, seed=2), R(4, 5, seed=6)], ()),
    ("seq_sdpa_causal", lambda q, k, v: sdpa(q, k, v, is_causal=True, scale=0.5),
     lambda q, k, v: _sdpa_jax(q, k, v, _CAUSAL, scale=0.5),
     [R(1, 2, 4, 3), R(1, 2, 4, 3, seed=1), R(1, 2, 4, 3, seed=2)], ()),
    ("seq_sdpa_gqa", lambda q, k, v: sdpa(q, k, v, enable_gqa=True),
     lambda q, k, v: _sdpa_jax(q, jnp.repeat(k, 2, -3), jnp.repeat(v, 2, -3)),
     [R(2, 4, 3, 5), R(2, 2, 4, 5, seed=1), R(2, 2, 4, 3, seed=2)], ()),
    ("seq_rms_norm", lambda x, w: rms_norm(x, (4,), w),
     lambda x, w: x / jnp.sqrt((x * x).mean(-1, keepdims=True) + jnp.finfo(x.dtype).eps) * w,
     [R(2, 3, 4), R(4, seed=1)], ()),
    ("seq_rms_norm_2d_large", lambda x: rms_norm(x * 1e4, (3, 4), eps=1e-6),
     lambda x: x * 1e4 / jnp.sqrt((x * x * 1e8).mean((-2, -1), keepdims=True) + 1e-6),
     [R(2, 3, 4)], ()),
]
