"""Oracle cases of the scans, rearranging and triangular ops and the differentiable creation op
(meshgrid), appended to ``op_cases.ALL_CASES``: each runs on the vjp, composed and second-order
paths. Outputs are squared (or multiplied) so the second order is not zero."""

import jax
import jax.numpy as jnp
import numpy as np
from op_cases import R

import gradflow as gf
from gradflow.creation import meshgrid
from gradflow.ops import rearrange as A
from gradflow.ops import scan as S
from gradflow.ops import triangular as T


def _with_zeros():
    x = R(3, 6, seed=4)
    x[0, 2] = 0.0  # one zero
    x[1, 1] = x[1, 4] = 0.0  # two zeros in a slice
    x[2, 0] = 0.0  # a zero first
    return x


_LARGE = np.array([[-1000.0, 0.0, 1000.0, 999.0, -5.0, 1001.0],
                   [700.0, 701.5, -700.0, 0.5, 702.0, 650.0]])


def _diag_embed_jax(x, offset, d1, d2):
    n = x.shape[-1] + abs(offset)
    r = jnp.arange(x.shape[-1])
    rows, cols = (r, r + offset) if offset >= 0 else (r - offset, r)
    y = jnp.zeros(x.shape[:-1] + (n, n)).at[..., rows, cols].set(x)
    return jnp.moveaxis(y, (-2, -1), (d1, d2))


def _roll_flat_jax(x):
    return jnp.roll(x.reshape(-1), 5).reshape(x.shape)


SCAN_CASES = [
    ("scan_cumsum", lambda x: S.cumsum(x, 1) ** 2, lambda x: jnp.cumsum(x, 1) ** 2,
     [R(3, 4)], ()),
    ("scan_cumsum_neg_dim", lambda x: S.cumsum(x, -3) ** 2, lambda x: jnp.cumsum(x, 0) ** 2,
     [R(2, 3, 2)], ()),
    ("scan_cumprod", lambda x: S.cumprod(x, 1) ** 2, lambda x: jnp.cumprod(x, 1) ** 2,
     [R(3, 5)], ()),
    ("scan_cumprod_zeros", lambda x: S.cumprod(x, 1) ** 2, lambda x: jnp.cumprod(x, 1) ** 2,
     [_with_zeros()], ()),
    ("scan_cumprod_dim0", lambda x: S.cumprod(x, 0) * x, lambda x: jnp.cumprod(x, 0) * x,
     [R(7, 2)], ()),
    ("scan_cummax", lambda x: S.cummax(x, 1).values ** 2,
     lambda x: jax.lax.cummax(x, axis=1) ** 2, [R(3, 6)], ()),
    ("scan_cummin", lambda x: S.cummin(x, 0)[0] ** 2, lambda x: jax.lax.cummin(x, axis=0) ** 2,
     [R(5, 3)], ()),
    ("scan_logcumsumexp", lambda x: S.logcumsumexp(x, 1) ** 2,
     lambda x: jax.lax.cumlogsumexp(x, axis=1) ** 2, [R(3, 5)], ()),
    ("scan_logcumsumexp_large", lambda x: S.logcumsumexp(x, -1) * x,
     lambda x: jax.lax.cumlogsumexp(x, axis=1) * x, [_LARGE], ()),
    ("scan_logcumsumexp_dim0", lambda x: S.logcumsumexp(x, 0) ** 2,
     lambda x: jax.lax.cumlogsumexp(x, axis=0) ** 2, [R(6, 2)], ()),
]

REARRANGE_CASES = [
    ("rearrange_flip", lambda x: A.flip(x, (0, 2)) * x, lambda x: jnp.flip(x, (0, 2)) * x,
     [R(2, 3, 4)], ()),
    ("rearrange_roll", lambda x: A.roll(x, (1, -2), (0, 1)) * x,
     lambda x: jnp.roll(x, (1, -2), (0, 1)) * x, [R(3, 4)], ()),
    ("rearrange_roll_flat", lambda x: A.roll(x, 5) * x, lambda x: _roll_flat_jax(x) * x,
     [R(3, 4)], ()),
    ("rearrange_tile", lambda x: A.tile(x, (2, 1, 3)) ** 2,
     lambda x: jnp.tile(x, (2, 1, 3)) ** 2, [R(2, 3)], ()),
    ("rearrange_repeat_interleave", lambda x: A.repeat_interleave(x, 2, 1) ** 2,
     lambda x: jnp.repeat(x, 2, 1) ** 2, [R(2, 3)], ()),
    ("rearrange_repeat_interleave_counts",
     lambda x: A.repeat_interleave(x, gf.tensor([1, 0, 3], device=x.device), 0) ** 2,
     lambda x: jnp.repeat(x, np.array([1, 0, 3]), 0) ** 2, [R(3, 2)], ()),
    ("rearrange_repeat_interleave_flat", lambda x: A.repeat_interleave(x, 3) ** 2,
     lambda x: jnp.repeat(x.reshape(-1), 3) ** 2, [R(2, 2)], ()),
    ("rearrange_split", lambda x: A.split(x, [1, 3], 1)[0] * A.split(x, [1, 3], 1)[1][:, 1:2],
     lambda x: x[:, :1] * x[:, 2:3], [R(2, 4)], ()),
    ("rearrange_chunk", lambda x: A.chunk(x, 3, 0)[1] * A.chunk(x, 3, 0)[2],
     lambda x: x[2:4] * x[4:6], [R(6, 2)], ()),
    ("rearrange_unbind", lambda x: A.unbind(x, 1)[0] * A.unbind(x, 1)[2],
     lambda x: x[:, 0] * x[:, 2], [R(3, 3)], ()),
    ("rearrange_narrow", lambda x: A.narrow(x, -1, 1, 2) ** 2, lambda x: x[..., 1:3] ** 2,
     [R(2, 4)], ()),
    ("rearrange_movedim", lambda x: A.movedim(x, (0, 1), (2, 0)) ** 2,
     lambda x: jnp.moveaxis(x, (0, 1), (2, 0)) ** 2, [R(2, 3, 4)], ()),
    ("rearrange_swapdims", lambda x: A.swapdims(x, 0, -1) ** 2,
     lambda x: jnp.swapaxes(x, 0, -1) ** 2, [R(2, 3, 4)], ()),
]

TRIANGULAR_CASES = [
    ("tri_tril", lambda x: T.tril(x, 1) ** 2, lambda x: jnp.tril(x, 1) ** 2, [R(2, 3, 4)], ()),
    ("tri_triu", lambda x: T.triu(x, -1) ** 2, lambda x: jnp.triu(x, -1) ** 2, [R(4, 3)], ()),
    ("tri_diagonal", lambda x: T.diagonal(x, 1, 2, 0) ** 2,
     lambda x: jnp.diagonal(x, 1, 2, 0) ** 2, [R(3, 2, 4)], ()),
    ("tri_diag_vector", lambda x: T.diag(x, -1) ** 2, lambda x: jnp.diag(x, -1) ** 2,
     [R(3)], ()),
    ("tri_diag_matrix", lambda x: T.diag(x, 1) ** 2, lambda x: jnp.diag(x, 1) ** 2,
     [R(3, 4)], ()),
    ("tri_diag_embed", lambda x: T.diag_embed(x, 1, 0, 2) ** 2,
     lambda x: _diag_embed_jax(x, 1, 0, 2) ** 2, [R(2, 3)], ()),
    ("tri_trace", lambda x: T.trace(x) ** 2, lambda x: jnp.trace(x) ** 2, [R(3, 4)], ()),
    ("creation_meshgrid_xy", lambda x, y: meshgrid(x, y, indexing="xy")[0]
     * meshgrid(x, y, indexing="xy")[1] ** 2,
     lambda x, y: jnp.meshgrid(x, y, indexing="xy")[0] * jnp.meshgrid(x, y, indexing="xy")[1]
     ** 2, [R(3), R(2, seed=1)], ()),
]

CASES = SCAN_CASES + REARRANGE_CASES + TRIANGULAR_CASES
