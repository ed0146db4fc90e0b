"""Oracle cases of the convolutional-network ops (conv, unfold/fold, pooling), appended to
``op_cases.ALL_CASES``: each runs its Functions on the vjp, composed and second-order paths."""

import jax
import jax.numpy as jnp
import numpy as np
from op_cases import R, _on

import gradflow.nn.functional as F
from gradflow.ops import pooling as P
from gradflow.ops.conv import ConvWeightGrad
from gradflow.ops.pooling import AvgPoolAdjoint, PoolGather, PoolScatter


def _conv_jax(x, w, stride, pad, dilation=None, groups=1):
    nd = x.ndim - 2
    spec = {1: ("NCH", "OIH", "NCH"), 2: ("NCHW", "OIHW", "NCHW")}[nd]
    return jax.lax.conv_general_dilated(x, w, stride, pad, rhs_dilation=dilation or (1,) * nd,
                                        dimension_numbers=spec, feature_group_count=groups)


def _unfold_jax(x, k, stride, pad):
    p = jax.lax.conv_general_dilated_patches(x, k, stride, pad)
    return p.reshape(p.shape[0], p.shape[1], -1)


CONV_CASES = [
    ("conv2d", lambda x, w, b: F.conv2d(x, w, b, stride=(2, 1), padding=1, groups=2) ** 2,
     lambda x, w, b: (_conv_jax(x, w, (2, 1), [(1, 1), (1, 1)], groups=2)
                      + b[None, :, None, None]) ** 2,
     [R(2, 4, 6, 5), R(6, 2, 3, 2, seed=1), R(6, seed=2)], ()),
    ("conv1d_dilated", lambda x, w: F.conv1d(x, w, stride=2, dilation=2) ** 2,
     lambda x, w: _conv_jax(x, w, (2,), [(0, 0)], (2,)) ** 2, [R(2, 3, 11), R(2, 3, 3, seed=1)],
     ()),
    ("conv_transpose2d_sq", lambda x, w: F.conv_transpose2d(x, w, stride=2, padding=1,
                                                         output_padding=1) ** 2,
     lambda x, w: jax.vjp(lambda z: _conv_jax(z, w, (2, 2), [(1, 1), (1, 1)]),
                          jnp.zeros((2, 2, 8, 6)))[1](x)[0] ** 2,
     [R(2, 3, 4, 3), R(3, 2, 3, 3, seed=1)], ()),
    ("conv_weight_grad", lambda x, g: ConvWeightGrad.apply(
        x, g, kshape=(3, 2), geom=((1, 1), ((1, 1), (0, 0)), (1, 1), 1)) ** 2,
     lambda x, g: jax.vjp(lambda w: _conv_jax(x, w, (1, 1), [(1, 1), (0, 0)]),
                          jnp.zeros((4, 2, 3, 2)))[1](g)[0] ** 2,
     [R(2, 2, 5, 4), R(2, 4, 5, 3, seed=1)], ()),
    ("unfold", lambda x: F.unfold(x, (2, 3), padding=1, stride=(1, 2)) ** 2,
     lambda x: _unfold_jax(x, (2, 3), (1, 2), [(1, 1), (1, 1)]) ** 2, [R(2, 2, 4, 5)], ()),
    ("fold", lambda c: F.fold(c, (4, 5), (2, 3), padding=1, stride=(1, 2)) ** 2,
     lambda c: jax.vjp(lambda x: _unfold_jax(x, (2, 3), (1, 2), [(1, 1), (1, 1)]),
                       jnp.zeros((2, 2, 4, 5)))[1](c)[0] ** 2, [R(2, 12, 15)], ()),
]


def _max_pool_jax(z, k, s, p, d=1):
    """Max over strided slices of the -inf padded last axis (also dilated, which JAX's
    reduce_window cannot differentiate)."""
    zp = jnp.pad(z, ((0, 0),) * (z.ndim - 1) + ((p, p),), constant_values=-jnp.inf)
    o = (z.shape[-1] + 2 * p - d * (k - 1) - 1) // s + 1
    return jnp.stack([zp[..., j * d:j * d + (o - 1) * s + 1:s] for j in range(k)], -1).max(-1)


def _reduce_window_2d(z, init, op, k, s, p):
    return jax.lax.reduce_window(z, init, op, (1, 1, k, k), (1, 1, s, s),
                                 ((0, 0), (0, 0), (p, p), (p, p)))


def _adaptive_jax(z, out, reduce):
    (n_h, n_w), (o_h, o_w) = z.shape[2:], out
    return jnp.stack([jnp.stack([reduce(z[:, :, i * n_h // o_h:-(-(i + 1) * n_h // o_h),
                                          j * n_w // o_w:-(-(j + 1) * n_w // o_w)], axis=(2, 3))
                                 for j in range(o_w)], -1) for i in range(o_h)], -2)


_POOL_IDX = np.array([[[0, 5, 5, 11], [3, 3, 7, 0]]])  # (1, 2, 4) flat indices into 3x4 planes


def _scatter_jax(g):
    out = jnp.zeros((1, 2, 12))
    return out.at[0, 0, _POOL_IDX[0, 0]].add(g[0, 0]).at[0, 1, _POOL_IDX[0, 1]].add(
        g[0, 1]).reshape(1, 2, 3, 4)


POOL_CASES = [
    ("max_pool2d", lambda x: P.max_pool2d(x, 3, 2, 1),
     lambda z: _reduce_window_2d(z, -jnp.inf, jax.lax.max, 3, 2, 1), [R(2, 2, 7, 6)], ()),
    ("max_pool1d_dilated", lambda x: P.max_pool1d(x, 3, 2, 1, 2),
     lambda z: _max_pool_jax(z, 3, 2, 1, 2), [R(2, 3, 11)], ()),
    ("avg_pool2d", lambda x: P.avg_pool2d(x, 3, 2, 1),
     lambda z: _reduce_window_2d(z, 0.0, jax.lax.add, 3, 2, 1) / 9.0, [R(2, 2, 7, 6)], ()),
    ("avg_pool_adjoint", lambda g: AvgPoolAdjoint.apply(
        g, geom=((3, 3), (2, 2), (1, 1), (4, 3), True, None), in_spatial=(7, 6)),
     lambda g: jax.vjp(lambda z: _reduce_window_2d(z, 0.0, jax.lax.add, 3, 2, 1) / 9.0,
                       jnp.zeros((2, 2, 7, 6)))[1](g)[0], [R(2, 2, 4, 3)], ()),
    ("adaptive_max_pool2d", lambda x: P.adaptive_max_pool2d(x, (3, 4)),
     lambda z: _adaptive_jax(z, (3, 4), jnp.max), [R(2, 2, 7, 6)], ()),
    ("adaptive_avg_pool2d", lambda x: P.adaptive_avg_pool2d(x, (3, 4)),
     lambda z: _adaptive_jax(z, (3, 4), jnp.mean), [R(2, 2, 7, 6)], ()),
    ("pool_scatter", lambda g: PoolScatter.apply(g, _on(g, _POOL_IDX), in_spatial=(3, 4),
                                                 unique=False) ** 2,
     lambda g: _scatter_jax(g) ** 2, [R(1, 2, 4)], ()),
    ("pool_gather", lambda h: PoolGather.apply(h, _on(h, _POOL_IDX)) ** 2,
     lambda h: jnp.take_along_axis(h.reshape(1, 2, 12), _POOL_IDX, 2) ** 2, [R(1, 2, 3, 4)],
     ()),
]

CASES = CONV_CASES + POOL_CASES
