"""Oracle cases of the gather/scatter, index and sort ops (gradflow.ops.gather, .sort): each
runs on the vjp, composed and second-order paths against JAX. Indices repeat where the op
allows it (the gradient must accumulate); sort/topk/median inputs are distinct."""

import jax.numpy as jnp
import numpy as np
from op_cases import R

import gradflow as gf
from gradflow.ops import gather as G
from gradflow.ops import sort as S


def _ix(t, a):
    """An int64 index Tensor on ``t``'s device."""
    return gf.tensor(np.asarray(a), dtype="int64", device=t.device)


_I = np.array([[0, 2, 2, 1], [1, 1, 0, 0]])  # (2, 4): repeats in both dims
_U = np.array([[0, 2, 1], [1, 0, 2]])  # (2, 3): no target repeats within a column
_V = np.array([2, 0, 2, 3])
_M = R(3, 4, seed=11) > 0


def _dim0(idx, dim):
    """The advanced index of a dim-wise gather (numpy twin of kernels.gather.along_dim)."""
    return tuple(idx if d == dim else np.arange(n).reshape([-1 if e == d else 1 for e in
                                                             range(idx.ndim)])
                 for d, n in enumerate(idx.shape))


def _pairs(idx, dim):
    return list(zip(*[a.ravel() for a in np.broadcast_arrays(*_dim0(idx, dim))]))


def _scatter_jax(x, src, idx, dim, fn, include_self=True, identity=0.0):
    """x with src combined at idx along dim by ``fn`` one element at a time (unique updates
    only, so JAX differentiates every step)."""
    out = x
    targets = _pairs(idx, dim)
    if not include_self:
        for p in set(targets):
            out = out.at[p].set(identity)
    sources = list(zip(*[a.ravel() for a in np.indices(idx.shape)]))
    for p, s in zip(targets, sources):
        out = out.at[p].set(fn(out[p], src[s]))
    return out


def _mean_jax(x, src, idx, dim, include_self):
    total = _scatter_jax(x, src, idx, dim, lambda a, b: a + b, include_self)
    cnt = np.zeros(x.shape)
    for p in _pairs(idx, dim):
        cnt[p] += 1
    cnt = cnt + (1 if include_self else 0)
    return jnp.where(cnt > 0, total / np.maximum(cnt, 1), x)


def _distinct(*shape, seed=0):
    """Distinct, well separated values (no ties in sort/topk/median)."""
    rng = np.random.default_rng(seed)
    n = int(np.prod(shape))
    return (rng.permutation(n) * 0.37 - n * 0.15 + rng.uniform(0, 0.1, n)).reshape(shape)


CASES = [
    ("gather_dim1_repeat", lambda x: G.gather(x, 1, _ix(x, _I)) ** 2,
     lambda x: jnp.take_along_axis(x[:2], _I, 1) ** 2, [R(3, 5)], ()),
    ("gather_dim0_repeat", lambda x: x.gather(0, _ix(x, _I.T[:3])) ** 2,
     lambda x: jnp.take_along_axis(x[:, :2], _I.T[:3], 0) ** 2, [R(3, 4)], ()),
    ("scatter_src", lambda x, s: G.scatter(x, 1, _ix(x, _U), s) ** 2,
     lambda x, s: x.at[_dim0(_U, 1)].set(s[:2, :3]) ** 2, [R(3, 4), R(2, 5, seed=1)], ()),
    ("scatter_value", lambda x: G.scatter(x, 0, _ix(x, _U), 1.5) * x,
     lambda x: x.at[_dim0(_U, 0)].set(1.5) * x, [R(3, 4)], ()),
    ("scatter_add_repeat", lambda x, s: G.scatter_add(x, 1, _ix(x, _I), s) ** 2,
     lambda x, s: x.at[_dim0(_I, 1)].add(s[:, :4]) ** 2, [R(3, 4), R(2, 5, seed=1)], ()),
    ("scatter_reduce_sum_noself", lambda x, s: G.scatter_reduce(
        x, 1, _ix(x, _I), s, "sum", include_self=False) ** 2,
     lambda x, s: _scatter_jax(x, s, _I, 1, lambda a, b: a + b, False) ** 2,
     [R(3, 4), R(2, 4, seed=1)], ()),
    ("scatter_reduce_mean", lambda x, s: G.scatter_reduce(x, 0, _ix(x, _I), s, "mean") ** 2,
     lambda x, s: _mean_jax(x, s, _I, 0, True) ** 2, [R(3, 4), R(2, 4, seed=1)], ()),
    ("scatter_reduce_mean_noself", lambda x, s: G.scatter_reduce(
        x, 0, _ix(x, _I), s, "mean", include_self=False) ** 2,
     lambda x, s: _mean_jax(x, s, _I, 0, False) ** 2, [R(3, 4), R(2, 4, seed=1)], ()),
    ("scatter_reduce_prod", lambda x, s: G.scatter_reduce(x, 1, _ix(x, _I), s, "prod"),
     lambda x, s: _scatter_jax(x, s, _I, 1, lambda a, b: a * b),
     [R(3, 4, lo=0.5, hi=2), R(2, 4, lo=-2, hi=-0.5, seed=1)], ()),
    ("scatter_reduce_prod_noself", lambda x, s: G.scatter_reduce(
        x, 1, _ix(x, _I), s, "prod", include_self=False) * x,
     lambda x, s: _scatter_jax(x, s, _I, 1, lambda a, b: a * b, False, 1.0) * x,
     [R(3, 4, lo=0.5, hi=2), R(2, 4, lo=0.5, hi=2, seed=1)], ()),
    ("scatter_reduce_amax", lambda x, s: G.scatter_reduce(x, 1, _ix(x, _I), s, "amax") ** 2,
     lambda x, s: _scatter_jax(x, s, _I, 1, jnp.maximum) ** 2,
     [_distinct(3, 4), _distinct(2, 4, seed=1) + 0.05], ()),
    ("scatter_reduce_amin_noself", lambda x, s: G.scatter_reduce(
        x, 0, _ix(x, _I), s, "amin", include_self=False) ** 2,
     lambda x, s: _scatter_jax(x, s, _I, 0, jnp.minimum, False, jnp.inf) ** 2,
     [_distinct(3, 4), _distinct(2, 4, seed=1) + 0.05], ()),
    ("index_select_repeat", lambda x: G.index_select(x, 1, _ix(x, _V)) ** 2,
     lambda x: x[:, _V] ** 2, [R(3, 4)], ()),
    ("index_add_alpha", lambda x, s: G.index_add(x, 1, _ix(x, _V), s, alpha=0.5) ** 2,
     lambda x, s: x.at[:, _V].add(0.5 * s) ** 2, [R(3, 4), R(3, 4, seed=1)], ()),
    ("index_copy", lambda x, s: G.index_copy(x, 0, _ix(x, [2, 0]), s) ** 2,
     lambda x, s: x.at[np.array([2, 0])].set(s) ** 2, [R(3, 4), R(2, 4, seed=1)], ()),
    ("index_fill_tensor", lambda x, v: G.index_fill(x, 1, _ix(x, [-1, 1]), v) * x,
     lambda x, v: x.at[:, np.array([3, 1])].set(v) * x, [R(3, 4), np.array(0.7)], ()),
    ("masked_select_bcast", lambda x: G.masked_select(x, gf.tensor(_M, device=x.device)) ** 2,
     lambda x: jnp.broadcast_to(x, _M.shape)[_M] ** 2, [R(4)], ()),
    ("masked_scatter", lambda x, s: G.masked_scatter(x, gf.tensor(_M, device=x.device), s) ** 2,
     lambda x, s: x.at[_M].set(s.ravel()[:int(_M.sum())]) ** 2, [R(3, 4), R(4, 4, seed=1)], ()),
    ("take_negative", lambda x: G.take(x, _ix(x, [[-1, 0], [5, 5]])) ** 2,
     lambda x: x.ravel()[np.array([[11, 0], [5, 5]])] ** 2, [R(3, 4)], ()),
    ("take_along_dim_bcast", lambda x: G.take_along_dim(x, _ix(x, [[0, -1, 0]]), 1) ** 2,
     lambda x: jnp.take_along_axis(x, np.array([[0, 3, 0]] * 3), 1) ** 2, [R(3, 4)], ()),
    ("sort_values", lambda x: S.sort(x, 1).values ** 2, lambda x: jnp.sort(x, 1) ** 2,
     [_distinct(3, 5)], ()),
    ("sort_descending_dim0", lambda x: S.sort(x, 0, descending=True)[0] * x,
     lambda x: -jnp.sort(-x, 0) * x, [_distinct(4, 3)], ()),
    ("msort", lambda x: S.msort(x) ** 2, lambda x: jnp.sort(x, 0) ** 2, [_distinct(4, 3)], ()),
    ("topk", lambda x: S.topk(x, 2).values ** 2, lambda x: (-jnp.sort(-x, 1)[:, :2]) ** 2,
     [_distinct(3, 5)], ()),
    ("topk_smallest_dim0", lambda x: S.topk(x, 3, 0, largest=False)[0] ** 2,
     lambda x: jnp.sort(x, 0)[:3] ** 2, [_distinct(4, 3)], ()),
    ("kthvalue_keepdim", lambda x: S.kthvalue(x, 2, 1, keepdim=True).values * x,
     lambda x: jnp.sort(x, 1)[:, 1:2] * x, [_distinct(3, 5)], ()),
    ("median_all", lambda x: S.median(x) * x, lambda x: jnp.sort(x.ravel())[5] * x,
     [_distinct(3, 4)], ()),
    ("median_dim", lambda x: S.median(x, 0).values ** 2, lambda x: jnp.sort(x, 0)[1] ** 2,
     [_distinct(4, 3)], ()),
    ("nanmedian_dim", lambda x: S.nanmedian(x, 1, True)[0] * x,
     lambda x: jnp.sort(x, 1)[:, 2:3] * x, [_distinct(3, 5)], ()),
    ("mode_distinct", lambda x: S.mode(x, 1).values ** 2, lambda x: jnp.min(x, 1) ** 2,
     [_distinct(3, 5)], ()),
]
