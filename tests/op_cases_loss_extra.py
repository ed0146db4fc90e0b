"""Oracle cases of the distances (gradflow.ops.distance) and the extra losses
(gradflow.ops.loss_extra), appended to ``op_cases.ALL_CASES``: each runs on the vjp, composed
and second-order paths against JAX. Zero distances are left to the torch tests (JAX's
gradient of √ at 0 is NaN where PyTorch's and ours is 0)."""

import jax
import jax.numpy as jnp
import numpy as np
from op_cases import R

from gradflow.ops import distance as D
from gradflow.ops import loss_extra as LE


def _norm(d, p, axis=-1):
    if p == np.inf:
        return jnp.max(jnp.abs(d), axis)
    return jnp.sum(jnp.abs(d) ** p, axis) ** (1.0 / p)


def _cdist(a, b, p):
    return _norm(a[..., :, None, :] - b[..., None, :, :], p)


def _cos(a, b, axis, eps=1e-8):
    na = jnp.maximum(jnp.sqrt(jnp.sum(a * a, axis, keepdims=True)), eps)
    nb = jnp.maximum(jnp.sqrt(jnp.sum(b * b, axis, keepdims=True)), eps)
    return jnp.sum((a / na) * (b / nb), axis)


_IU = np.triu_indices(5, 1)
_Y4 = np.array([1.0, -1.0, -1.0, 1.0])
_Y45 = np.sign(R(4, 5, seed=9))
_CLS = np.array([0, 4, 2, 2])
_W5 = np.array([0.3, 1.0, 2.0, 0.7, 1.4])
_ML_T = np.array([[3, 0, -1, 1, 2], [1, 2, 3, 4, 0], [-1, 1, 1, 1, 1], [4, 4, -1, 0, 0]])


def _ml_mask():
    valid = np.cumprod(_ML_T >= 0, axis=1).astype(bool)
    is_t = np.zeros((4, 5), bool)
    for n in range(4):
        is_t[n, _ML_T[n][valid[n]]] = True
    return valid, is_t


_ML_VALID, _ML_IS_T = _ml_mask()


def _multilabel_jax(x):
    safe = np.where(_ML_VALID, _ML_T, 0)
    xy = jnp.take_along_axis(x, safe, 1)
    h = jax.nn.relu(1 - xy[:, :, None] + x[:, None, :])
    h = jnp.where(_ML_VALID[:, :, None] & ~_ML_IS_T[:, None, :], h, 0.0)
    return jnp.mean(h.sum((1, 2)) / 5)


def _multi_margin_jax(x, p, margin, w=None, reduction="mean"):
    xy = x[np.arange(4), _CLS][:, None]
    h = jax.nn.relu(margin - xy + x) ** p
    h = jnp.where(_CLS[:, None] == np.arange(5)[None, :], 0.0, h)
    if w is not None:
        h = h * w[_CLS][:, None]
    loss = h.sum(1) / 5
    return loss if reduction == "none" else jnp.mean(loss)


def _kl_jax(x, t):
    return jnp.where(t == 0, 0.0, t * jnp.log(jnp.where(t == 0, 1.0, t))) - t * x


def _cos_emb_jax(a, b, y, margin):
    cos = jnp.sum(a * b, 1) / jnp.sqrt((jnp.sum(a * a, 1) + 1e-12) * (jnp.sum(b * b, 1) + 1e-12))
    return jnp.mean(jnp.where(y == 1, 1 - cos, jnp.maximum(cos - margin, 0)))


def _triplet_jax(a, p, n, margin, pn, swap, eps=1e-6):
    dp = _norm(a - p + eps, pn)
    dn = _norm(a - n + eps, pn)
    if swap:
        dn = jnp.minimum(dn, _norm(p - n + eps, pn))
    return jnp.mean(jnp.maximum(margin + dp - dn, 0))


def _stirling(t):
    return jnp.where(t > 1, t * jnp.log(t) - t + 0.5 * jnp.log(2 * np.pi * t), 0.0)


_COUNTS = np.array([[0.0, 1, 2, 5, 3], [7, 0, 1, 1, 4]])

DISTANCE_CASES = [
    ("dist_cdist_p2", lambda a, b: D.cdist(a, b), lambda a, b: _cdist(a, b, 2),
     [R(2, 4, 3), R(5, 3, seed=1)], ()),
    ("dist_cdist_p2_mm", lambda a, b: D.cdist(a, b), lambda a, b: _cdist(a, b, 2),
     [R(27, 3), R(6, 3, seed=1)], ()),
    ("dist_cdist_p1", lambda a, b: D.cdist(a, b, 1.0), lambda a, b: _cdist(a, b, 1),
     [R(4, 3), R(5, 3, seed=1)], ()),
    ("dist_cdist_p3", lambda a, b: D.cdist(a, b, 3.0), lambda a, b: _cdist(a, b, 3),
     [R(4, 3), R(1, 5, 3, seed=1)], ()),
    ("dist_cdist_inf", lambda a, b: D.cdist(a, b, float("inf")),
     lambda a, b: _cdist(a, b, np.inf), [R(4, 3), R(5, 3, seed=1)], ()),
    ("dist_pdist", lambda a: D.pdist(a), lambda a: _norm(a[_IU[0]] - a[_IU[1]], 2),
     [R(5, 3)], ()),
    ("dist_pdist_p1_5", lambda a: D.pdist(a, 1.5), lambda a: _norm(a[_IU[0]] - a[_IU[1]], 1.5),
     [R(5, 3)], ()),
    ("dist_pairwise_bcast", lambda a, b: D.pairwise_distance(a, b, 3.0, keepdim=True),
     lambda a, b: _norm(a - b + 1e-6, 3)[..., None], [R(4, 3), R(3, seed=1)], ()),
    ("dist_normalize", lambda a: D.normalize(a, 2.0, 0),
     lambda a: a / jnp.maximum(jnp.sqrt(jnp.sum(a * a, 0, keepdims=True)), 1e-12),
     [R(4, 3)], ()),
    ("dist_normalize_p1", lambda a: D.normalize(a, 1.0, -1),
     lambda a: a / jnp.maximum(jnp.sum(jnp.abs(a), -1, keepdims=True), 1e-12),
     [R(2, 4, 3)], ()),
    ("dist_cosine_bcast", lambda a, b: D.cosine_similarity(a, b, -1),
     lambda a, b: _cos(a, b, -1), [R(2, 1, 3), R(4, 3, seed=1)], ()),
    ("dist_cosine_large", lambda a, b: D.cosine_similarity(a * 1e5, b),
     lambda a, b: _cos(a * 1e5, b, 1), [R(3, 4), R(3, 4, seed=1)], ()),
]

LOSS_CASES = [
    ("lossx_kl_batchmean", lambda x, t: LE.kl_div(x, t, reduction="batchmean"),
     lambda x, t: jnp.sum(_kl_jax(x, t)) / 4,
     [np.log(np.random.default_rng(2).dirichlet(np.ones(5), 4)),
      np.random.default_rng(3).dirichlet(np.ones(5), 4)], ()),
    ("lossx_kl_log_target_none", lambda x, t: LE.kl_div(x, t, reduction="none", log_target=True),
     lambda x, t: jnp.exp(t) * (t - x), [R(3, 4), R(3, 4, seed=1) - 1], ()),
    ("lossx_margin_ranking", lambda a, b: LE.margin_ranking_loss(a, b, _Y4, 0.5),
     lambda a, b: jnp.mean(jnp.maximum(-_Y4 * (a - b) + 0.5, 0)), [R(4), R(4, seed=1)], ()),
    ("lossx_margin_ranking_large", lambda a, b: LE.margin_ranking_loss(a, b, _Y4, 50.0,
                                                                       reduction="sum"),
     lambda a, b: jnp.sum(jnp.maximum(-_Y4 * (a - b) + 50.0, 0)), [R(4), R(4, seed=1)], ()),
    ("lossx_hinge_embedding", lambda x: LE.hinge_embedding_loss(x, _Y45, 0.8, reduction="none"),
     lambda x: jnp.where(_Y45 == 1, x, jnp.maximum(0.8 - x, 0)), [R(4, 5)], ()),
    ("lossx_soft_margin_extreme", lambda x: LE.soft_margin_loss(x, _Y45[0]),
     lambda x: jnp.mean(jax.nn.softplus(-_Y45[0] * x)),
     [np.array([1000.0, -1000.0, 30.0, -0.5, 0.0])], ()),
    ("lossx_multilabel_soft_margin", lambda x, w: LE.multilabel_soft_margin_loss(
        x, (_Y45 > 0) * 1.0, w),
     lambda x, w: jnp.mean(jnp.sum(w * (jnp.where(_Y45 > 0, jax.nn.softplus(-x),
                                                  jax.nn.softplus(x))), 1) / 5),
     [R(4, 5), R(5, lo=0.2, hi=2.0, seed=1)], ()),
    ("lossx_multi_margin_p1", lambda x: LE.multi_margin_loss(x, _CLS),
     lambda x: _multi_margin_jax(x, 1, 1.0), [R(4, 5)], ()),
    ("lossx_multi_margin_p2_weight", lambda x: LE.multi_margin_loss(
        x, _CLS, 2, 0.7, _W5, reduction="none"),
     lambda x: _multi_margin_jax(x, 2, 0.7, _W5, "none"), [R(4, 5)], ()),
    ("lossx_multi_margin_large", lambda x: LE.multi_margin_loss(x, _CLS, 2, 100.0),
     lambda x: _multi_margin_jax(x, 2, 100.0), [R(4, 5)], ()),
    ("lossx_multilabel_margin", lambda x: LE.multilabel_margin_loss(x, _ML_T),
     _multilabel_jax, [R(4, 5)], ()),
    ("lossx_cosine_embedding", lambda a, b: LE.cosine_embedding_loss(a, b, _Y4, 0.1),
     lambda a, b: _cos_emb_jax(a, b, _Y4, 0.1), [R(4, 3), R(4, 3, seed=1)], ()),
    ("lossx_gaussian_nll", lambda x, t, v: LE.gaussian_nll_loss(x, t, v, True),
     lambda x, t, v: jnp.mean(0.5 * (jnp.log(v) + (x - t) ** 2 / v) + 0.5 * np.log(2 * np.pi)),
     [R(4, 3), R(4, 3, seed=1), R(4, 3, lo=0.1, hi=2.0, seed=2)], ()),
    ("lossx_gaussian_nll_homosced", lambda x, t, v: LE.gaussian_nll_loss(x, t, v,
                                                                         reduction="sum"),
     lambda x, t, v: jnp.sum(0.5 * (jnp.log(v[:, None]) + (x - t) ** 2 / v[:, None])),
     [R(4, 3), R(4, 3, seed=1), R(4, lo=0.1, hi=2.0, seed=2)], ()),
    ("lossx_poisson_log_input_big", lambda x, t: LE.poisson_nll_loss(x, t, full=True),
     lambda x, t: jnp.mean(jnp.exp(x) - t * x + _stirling(t)),
     [np.array([[8.0, -30.0, 1.0, 0.5, 2.0], [0.0, -1.0, 6.0, 3.0, 1.5]]), _COUNTS + 0.5],
     ()),
    ("lossx_poisson_rate", lambda x: LE.poisson_nll_loss(x, _COUNTS, False, reduction="none"),
     lambda x: x - _COUNTS * jnp.log(x + 1e-8), [R(2, 5, lo=0.2, hi=5.0)], ()),
    ("lossx_triplet", lambda a, p, n: LE.triplet_margin_loss(a, p, n, 2.0),
     lambda a, p, n: _triplet_jax(a, p, n, 2.0, 2, False),
     [R(4, 3), R(4, 3, seed=1), R(4, 3, seed=2)], ()),
    ("lossx_triplet_p1_swap", lambda a, p, n: LE.triplet_margin_loss(a, p, n, 1.5, 1.0,
                                                                     swap=True),
     lambda a, p, n: _triplet_jax(a, p, n, 1.5, 1, True),
     [R(4, 3), R(4, 3, seed=1), R(4, 3, seed=2)], ()),
    ("lossx_triplet_cosine_distance", lambda a, p, n: LE.triplet_margin_with_distance_loss(
        a, p, n, distance_function=lambda u, v: 1 - D.cosine_similarity(u, v), margin=0.5),
     lambda a, p, n: jnp.mean(jnp.maximum(0.5 + (1 - _cos(a, p, 1)) - (1 - _cos(a, n, 1)), 0)),
     [R(4, 3), R(4, 3, seed=1), R(4, 3, seed=2)], ()),
]

CASES = DISTANCE_CASES + LOSS_CASES
