"""Oracle cases of the fused attention's other routes (kernels/attention.py): causal query
blocks (a block multiplies only the keys it sees) and the leading axes walked in chunks, on
the vjp, composed and second-order paths against the JAX twin of op_cases_seq."""

import contextlib

import numpy as np
from op_cases import R
from op_cases_seq import _sdpa_jax

import gradflow.kernels.attention as _kernels
import gradflow.ops.attention as _ops
from gradflow.ops.attention import scaled_dot_product_attention as sdpa


@contextlib.contextmanager
def _small(block: int, chunk_bytes: int):
    """Blocks of ``block`` query rows and chunks of ``chunk_bytes`` of scores (read by the
    forward, which records them for its backward)."""
    old = _ops.CAUSAL_BLOCK, _kernels.CHUNK_BYTES
    _ops.CAUSAL_BLOCK, _kernels.CHUNK_BYTES = block, chunk_bytes
    try:
        yield
    finally:
        _ops.CAUSAL_BLOCK, _kernels.CHUNK_BYTES = old


def _blocked(**kw):
    def f(q, k, v):
        with _small(2, 64):
            return sdpa(q, k, v, **kw)

    return f


_CAUSAL_5_6 = np.tril(np.ones((5, 6), bool))

CASES = [
    ("attn_sdpa_causal_blocks", _blocked(is_causal=True, scale=0.5),
     lambda q, k, v: _sdpa_jax(q, k, v, _CAUSAL_5_6, scale=0.5),
     [R(2, 2, 5, 3), R(2, 2, 6, 3, seed=1), R(2, 2, 6, 2, seed=2)], ()),
    ("attn_sdpa_chunks", _blocked(),
     lambda q, k, v: _sdpa_jax(q, k, v),
     [R(3, 2, 4, 3), R(3, 2, 5, 3, seed=1), R(3, 2, 5, 2, seed=2)], ()),
]
