"""The op table shared by the JAX-oracle tests and the finite-difference gradchecks:
(id, gradflow fn, jax fn, float64 inputs, constant extra arguments)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import jax.scipy.special as jsp
import numpy as np

import gradflow as gf
import gradflow.functional as F
from gradflow.ops.indexing import IndexAdd, ZeroAt
from gradflow.ops.shape import cast, sum_to, to_device


def R(*shape, lo=None, hi=None, seed=0):
    rng = np.random.default_rng(seed + sum(shape) + len(shape))
    if lo is not None:
        return rng.uniform(lo, hi, size=shape)
    return rng.standard_normal(shape)


def away_from_zero(*shape, seed=0):
    x = R(*shape, seed=seed)
    return np.where(np.abs(x) < 0.1, 0.5, x)


def f32_exact(*shape, seed=0):
    """Float64 values that float32 holds exactly (a cast to float32 and back is lossless)."""
    return R(*shape, seed=seed).astype(np.float32).astype(np.float64)


def _setitem(a, v):
    y = a * 2
    y[1:3] = v * v
    return y * a


def _setitem_jax(a, v):
    return (a * 2).at[1:3].set(v * v) * a


def _setitem_bcast(a, v):
    y = a + 0
    y[1:, ::2] = v  # v (2,) broadcast over the (2, 2) block: its gradient sums over rows
    return y * y


def _setitem_bcast_jax(a, v):
    y = a.at[1:, ::2].set(jnp.broadcast_to(v, (2, 2)))
    return y * y


def _on(t, index):
    """An index array on ``t``'s device (internal Functions take backend arrays)."""
    return t.backend.asarray(index)


def _const(t, array):
    """A constant (no grad) Tensor like ``t`` (device, dtype): the op's other inputs need no
    gradient, so its vjp takes the ``needs_input_grad`` branches."""
    return gf.tensor(array, dtype=t.dtype, device=t.device)


_X64 = R(6, 4, seed=3)


_MASK = R(3, 4, seed=7) > 0
_W3 = np.array([0.5, 1.5, 2.0])
_W5 = np.array([0.3, 1.0, 2.0, 0.7, 1.4])


def _smooth_l1(d, beta):
    ad = jnp.abs(d)
    return jnp.where(ad < beta, 0.5 * d * d / beta, ad - 0.5 * beta)
_REPEATED = np.array([0, 2, 0, 0])

# (id, gradflow fn, jax fn, inputs, consts)
CASES = [
    # arithmetic with broadcasting
    ("add", lambda a, b: a + b, lambda a, b: a + b, [R(3, 4), R(4)], ()),
    ("add_bcast3", lambda a, b: a + b, lambda a, b: a + b, [R(2, 1, 4), R(3, 1)], ()),
    ("sub", lambda a, b: a - b, lambda a, b: a - b, [R(3, 1), R(1, 5)], ()),
    ("mul", lambda a, b: a * b, lambda a, b: a * b, [R(2, 3, 4), R(3, 1)], ()),
    ("div", lambda a, b: a / b, lambda a, b: a / b, [R(3, 4), R(4, lo=0.5, hi=2)], ()),
    ("scalar_ops", lambda a: (2.5 * a - 1) / 3 + a * a, lambda a: (2.5 * a - 1) / 3 + a * a,
     [R(5)], ()),
    ("rsub_rdiv", lambda a: 1 - 2 / a, lambda a: 1 - 2 / a, [R(4, lo=0.5, hi=3)], ()),
    ("neg", lambda a: -a, lambda a: -a, [R(3, 2)], ()),
    ("pow_scalar", lambda a: a ** 3, lambda a: a ** 3, [R(4, 3)], ()),
    ("pow_frac", lambda a: a ** 1.7, lambda a: a ** 1.7, [R(4, lo=0.5, hi=2)], ()),
    ("pow_square", lambda a: a ** 2, lambda a: a ** 2, [R(4)], ()),
    ("pow_tensor", lambda a, b: a ** b, lambda a, b: a ** b, [R(3, lo=0.5, hi=2), R(3)], ()),
    ("pow_tensor_bcast", lambda a, b: a ** b, lambda a, b: a ** b,
     [R(3, 1, lo=0.5, hi=2), R(4, seed=5)], ()),
    ("rpow", lambda a: 2.0 ** a, lambda a: 2.0 ** a, [R(6)], ()),
    # elementwise math
    ("exp", gf.exp, jnp.exp, [R(3, 4)], ()),
    ("log", gf.log, jnp.log, [R(3, 4, lo=0.1, hi=5)], ()),
    ("sqrt", gf.sqrt, jnp.sqrt, [R(3, 4, lo=0.1, hi=5)], ()),
    ("abs", gf.abs, jnp.abs, [away_from_zero(3, 4)], ()),
    ("sin", gf.sin, jnp.sin, [R(7)], ()),
    ("cos", gf.cos, jnp.cos, [R(7)], ()),
    ("erf", gf.erf, jsp.erf, [R(7)], ()),
    ("clip", lambda a: a.clip(-0.5, 0.7), lambda a: jnp.clip(a, -0.5, 0.7), [R(20, seed=3)],
     ()),
    ("maximum", gf.maximum, jnp.maximum, [R(3, 4), R(4, seed=9)], ()),
    ("minimum", gf.minimum, jnp.minimum, [R(3, 4), R(3, 1, seed=9)], ()),
    ("where", lambda a, b: gf.where(a > 0, a * b, b), lambda a, b: jnp.where(a > 0, a * b, b),
     [R(3, 4), R(4)], ()),
    ("where_bcast", lambda a, b: gf.where(a > 0, a, b), lambda a, b: jnp.where(a > 0, a, b),
     [R(3, 1), R(1, 4, seed=2)], ()),
    # activations
    ("relu", F.relu, jax.nn.relu, [away_from_zero(4, 5)], ()),
    ("leaky_relu", lambda a: F.leaky_relu(a, 0.2), lambda a: jax.nn.leaky_relu(a, 0.2),
     [away_from_zero(4, 5)], ()),
    ("sigmoid", F.sigmoid, jax.nn.sigmoid, [R(4, 5) * 3], ()),
    ("sigmoid_extreme", F.sigmoid, jax.nn.sigmoid, [np.array([-1000.0, -50, 0, 50, 1000])], ()),
    ("tanh", F.tanh, jnp.tanh, [R(4, 5)], ()),
    ("gelu", F.gelu, lambda a: jax.nn.gelu(a, approximate=False), [R(4, 5) * 2], ()),
    ("gelu_tanh", lambda a: F.gelu(a, "tanh"), lambda a: jax.nn.gelu(a, approximate=True),
     [R(4, 5) * 2], ()),
    ("softplus", F.softplus, jax.nn.softplus, [R(4, 5) * 3], ()),
    ("softplus_extreme", F.softplus, jax.nn.softplus,
     [np.array([-1000.0, -50, -1, 0, 1, 50, 1000])], ()),
    ("softmax", lambda a: F.softmax(a, -1), jax.nn.softmax, [R(3, 5)], ()),
    ("softmax_axis0", lambda a: F.softmax(a, 0), lambda a: jax.nn.softmax(a, axis=0),
     [R(3, 5)], ()),
    ("softmax_extreme", lambda a: F.softmax(a, -1), jax.nn.softmax,
     [np.array([[1000.0, -1000.0, 0.0], [-1000.0, -999.0, 1000.0]])], ()),
    ("log_softmax", lambda a: F.log_softmax(a, -1), jax.nn.log_softmax, [R(3, 5)], ()),
    ("log_softmax_extreme", lambda a: F.log_softmax(a, -1), jax.nn.log_softmax,
     [np.array([[1000.0, -1000.0, 0.0], [-1000.0, -999.0, 1000.0]])], ()),
    ("logsumexp_all", F.logsumexp, jsp.logsumexp, [R(3, 4)], ()),
    ("logsumexp_axis", lambda a: F.logsumexp(a, 1, keepdims=True),
     lambda a: jsp.logsumexp(a, axis=1, keepdims=True), [R(3, 4, 2) * 100], ()),
    ("logsumexp_axes", lambda a: F.logsumexp(a, (0, 2)), lambda a: jsp.logsumexp(a, axis=(0, 2)),
     [R(3, 4, 2)], ()),
    ("logsumexp_extreme", lambda a: F.logsumexp(a, 1), lambda a: jsp.logsumexp(a, axis=1),
     [np.array([[1000.0, -1000.0, 0.0], [-1000.0, -999.0, -1000.0]])], ()),
    # reductions
    ("sum_all", lambda a: a.sum(), jnp.sum, [R(3, 4)], ()),
    ("sum_axis", lambda a: a.sum(1), lambda a: a.sum(1), [R(3, 4, 2)], ()),
    ("sum_keep", lambda a: a.sum((0, 2), keepdims=True), lambda a: a.sum((0, 2), keepdims=True),
     [R(3, 4, 2)], ()),
    ("sum_dim_neg", lambda a: a.sum(dim=-1), lambda a: a.sum(-1), [R(3, 4)], ()),
    ("mean", lambda a: a.mean(0), lambda a: a.mean(0), [R(3, 4)], ()),
    ("mean_all", lambda a: a.mean(), jnp.mean, [R(3, 4)], ()),
    ("mean_axes_keep", lambda a: a.mean((0, 2), keepdims=True),
     lambda a: a.mean((0, 2), keepdims=True), [R(3, 4, 2)], ()),
    ("max_axis", lambda a: a.max(1).values, lambda a: a.max(1), [R(3, 4)], ()),
    ("max_dim_keep", lambda a: a.max(dim=0, keepdim=True)[0], lambda a: a.max(0, keepdims=True),
     [R(3, 4)], ()),
    ("max_ties", lambda a: a.max(), jnp.max, [np.array([1.0, 3.0, 3.0, -2.0])], ()),
    ("max_axes_ties", lambda a: a.amax((0, 2)), lambda a: a.max((0, 2)),
     [np.array([[[1.0, 2.0], [5.0, 0.0]], [[2.0, -1.0], [5.0, 4.0]]])], ()),  # two-way ties
    ("amin_axes_keep", lambda a: a.amin((0, 1), keepdim=True),
     lambda a: a.min((0, 1), keepdims=True), [R(3, 4, 2)], ()),
    ("min_all", lambda a: a.min(), lambda a: a.min(), [R(3, 4)], ()),
    ("min_keep", lambda a: a.min(0, keepdim=True).values, lambda a: a.min(0, keepdims=True),
     [R(3, 4)], ()),
    ("var", lambda a: a.var(1), lambda a: a.var(1, ddof=1), [R(3, 4)], ()),  # unbiased default
    ("var_biased", lambda a: a.var(1, unbiased=False), lambda a: a.var(1), [R(3, 4)], ()),
    ("var_correction0", lambda a: a.var(dim=0, correction=0, keepdim=True),
     lambda a: a.var(0, keepdims=True), [R(3, 4)], ()),
    ("var_ddof", lambda a: a.var(0, ddof=1), lambda a: a.var(0, ddof=1), [R(5, 2)], ()),
    ("var_all", lambda a: a.var(), lambda a: jnp.var(a, ddof=1), [R(5, 2)], ()),
    ("var_axes_keep", lambda a: a.var((0, 2), keepdims=True, ddof=1),
     lambda a: a.var((0, 2), keepdims=True, ddof=1), [R(3, 4, 2)], ()),
    ("std", lambda a: a.std(1), lambda a: a.std(1, ddof=1), [R(3, 6)], ()),
    # matmul
    ("matmul_2d", gf.matmul, jnp.matmul, [R(3, 4), R(4, 5)], ()),
    ("matmul_batched", lambda a, b: a @ b, jnp.matmul, [R(2, 3, 4), R(4, 5)], ()),
    ("matmul_bcast", lambda a, b: a @ b, jnp.matmul, [R(2, 1, 3, 4), R(3, 4, 2)], ()),
    ("matmul_vec_mat", lambda a, b: a @ b, jnp.matmul, [R(4), R(4, 5)], ()),
    ("matmul_mat_vec", lambda a, b: a @ b, jnp.matmul, [R(3, 4), R(4)], ()),
    ("matmul_vec_vec", lambda a, b: a @ b, jnp.matmul, [R(4), R(4, seed=1)], ()),
    ("matmul_batch_vec", lambda a, b: a @ b, jnp.matmul, [R(2, 3, 4), R(4)], ()),
    ("linear", F.linear, lambda x, w, b: x @ w.T + b, [R(6, 4), R(3, 4), R(3)], ()),
    ("linear_nobias", F.linear, lambda x, w: x @ w.T, [R(6, 4), R(3, 4)], ()),
    ("linear_3d", F.linear, lambda x, w, b: x @ w.T + b, [R(2, 6, 4), R(3, 4), R(3)], ()),
    ("linear_1d", F.linear, lambda x, w, b: x @ w.T + b, [R(4), R(3, 4), R(3)], ()),
    ("linear_x_const", lambda w, b: F.linear(_const(w, _X64), w, b),
     lambda w, b: _X64 @ w.T + b, [R(3, 4), R(3)], ()),
    ("matmul_b_const", lambda a: a @ _const(a, _X64), lambda a: a @ _X64, [R(2, 5, 6)], ()),
    # shape ops
    ("reshape", lambda a: a.reshape(4, 3) * a.reshape(4, 3), lambda a: a.reshape(4, 3) ** 2,
     [R(3, 4)], ()),
    ("reshape_neg1", lambda a: a.reshape(-1), lambda a: a.reshape(-1), [R(3, 4)], ()),
    ("transpose", lambda a: a.T @ a, lambda a: a.T @ a, [R(3, 4)], ()),
    ("transpose_axes", lambda a: a.transpose(2, 0, 1), lambda a: a.transpose(2, 0, 1),
     [R(2, 3, 4)], ()),
    ("flatten", lambda a: a.flatten(1), lambda a: a.reshape(2, -1), [R(2, 3, 4)], ()),
    ("squeeze", lambda a: a.squeeze(1), lambda a: a.squeeze(1), [R(3, 1, 2)], ()),
    ("unsqueeze", lambda a: a.unsqueeze(-1) * a.unsqueeze(0), lambda a: a[:, None] * a[None, :],
     [R(4)], ()),
    ("expand", lambda a: a.expand(3, 4) * 2, lambda a: jnp.broadcast_to(a, (3, 4)) * 2,
     [R(1, 4)], ()),
    ("concatenate", lambda a, b: gf.concatenate([a, b, a], axis=1),
     lambda a, b: jnp.concatenate([a, b, a], axis=1), [R(2, 3), R(2, 2)], ()),
    ("stack", lambda a, b: gf.stack([a, b], axis=1), lambda a, b: jnp.stack([a, b], axis=1),
     [R(2, 3), R(2, 3, seed=1)], ()),
    ("sum_to", lambda a: sum_to(a, (3, 1)), lambda a: a.sum(0).sum(-1, keepdims=True),
     [R(2, 3, 4)], ()),
    ("cast_roundtrip", lambda a: cast(cast(a, np.float32) * 2, a.dtype), lambda a: a * 2,
     [f32_exact(3, 4)], ()),
    ("clone", lambda a: a.clone() * a, lambda a: a * a, [R(3, 4)], ()),
    ("to_device_same", lambda a: to_device(a, a.backend) * a, lambda a: a * a, [R(3, 4)], ()),
    # indexing
    ("getitem_slice", lambda a: a[1:, ::2], lambda a: a[1:, ::2], [R(4, 5)], ()),
    ("getitem_int_none_ellipsis", lambda a: a[1, None, ..., 2], lambda a: a[1, None, ..., 2],
     [R(3, 4, 5)], ()),
    ("getitem_repeated", lambda a: a[np.array([0, 2, 0, 0])], lambda a: a[jnp.array([0, 2, 0, 0])],
     [R(3, 2)], ()),
    ("getitem_fancy2", lambda a: a[np.array([0, 1, 1]), np.array([2, 0, 2])],
     lambda a: a[jnp.array([0, 1, 1]), jnp.array([2, 0, 2])], [R(2, 3)], ()),
    ("getitem_bool", lambda a: a[_MASK], lambda a: a[_MASK], [R(3, 4)], ()),
    ("getitem_bool_tensor", lambda a: a[gf.tensor(_MASK)], lambda a: a[_MASK], [R(3, 4)], ()),
    ("setitem", _setitem, _setitem_jax, [R(5), R(2, seed=4)], ()),
    ("setitem_bcast", _setitem_bcast, _setitem_bcast_jax, [R(3, 4), R(2, seed=4)], ()),
    ("index_add", lambda g: IndexAdd.apply(g, (3, 2), _on(g, _REPEATED)),
     lambda g: jnp.zeros((3, 2)).at[_REPEATED].add(g), [R(4, 2)], ()),
    ("zero_at", lambda g: ZeroAt.apply(g, _on(g, _REPEATED)) * g,
     lambda g: g.at[_REPEATED].set(0) * g, [R(3, 2)], ()),
    # normalization
    ("layer_norm", lambda x, w, b: F.layer_norm(x, 5, w, b),
     lambda x, w, b: (x - x.mean(-1, keepdims=True)) / jnp.sqrt(x.var(-1, keepdims=True) + 1e-5)
     * w + b, [R(4, 5), R(5), R(5)], ()),
    ("layer_norm_2d", lambda x: F.layer_norm(x, (3, 4)),
     lambda x: (x - x.mean((-2, -1), keepdims=True))
     / jnp.sqrt(x.var((-2, -1), keepdims=True) + 1e-5), [R(2, 3, 4)], ()),
    ("layer_norm_bias_only", lambda x, b: F.layer_norm(x, 5, None, b),
     lambda x, b: (x - x.mean(-1, keepdims=True)) / jnp.sqrt(x.var(-1, keepdims=True) + 1e-5)
     + b, [R(4, 5), R(5)], ()),
    ("layer_norm_params_only", lambda w, b: F.layer_norm(_const(w, _X64), 4, w, b),
     lambda w, b: (_X64 - _X64.mean(-1, keepdims=True))
     / jnp.sqrt(_X64.var(-1, keepdims=True) + 1e-5) * w + b, [R(4), R(4, seed=1)], ()),
    ("batch_norm_weight_only", lambda x, w: F.batch_norm(x, None, None, w, None, training=True),
     lambda x, w: (x - x.mean(0)) / jnp.sqrt(x.var(0) + 1e-5) * w, [R(8, 3), R(3)], ()),
    ("batch_norm_train", lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),
     lambda x, w, b: (x - x.mean(0)) / jnp.sqrt(x.var(0) + 1e-5) * w + b,
     [R(8, 3), R(3), R(3)], ()),
    ("batch_norm_train_3d", lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),
     lambda x, w, b: (x - x.mean((0, 2), keepdims=True))
     / jnp.sqrt(x.var((0, 2), keepdims=True) + 1e-5) * w[:, None] + b[:, None],
     [R(4, 3, 5), R(3), R(3)], ()),
    ("batch_norm_eval", lambda x, m, v, w, b: F.batch_norm(x, m, v, w, b, training=False),
     lambda x, m, v, w, b: (x - m) / jnp.sqrt(v + 1e-5) * w + b,
     [R(6, 3), R(3), R(3, lo=0.5, hi=2), R(3), R(3)], ()),
    # losses
    ("mse", F.mse_loss, lambda a, b: jnp.mean((a - b) ** 2), [R(4, 3), R(4, 3, seed=1)], ()),
    ("mse_sum", lambda a, b: F.mse_loss(a, b, "sum"), lambda a, b: jnp.sum((a - b) ** 2),
     [R(4, 3), R(4, 3, seed=1)], ()),
    ("l1", F.l1_loss, lambda a, b: jnp.mean(jnp.abs(a - b)), [R(4, 3), R(4, 3, seed=1)], ()),
    ("bce", F.binary_cross_entropy,
     lambda p, t: -jnp.mean(t * jnp.log(p) + (1 - t) * jnp.log(1 - p)),
     [R(6, lo=0.05, hi=0.95), R(6, lo=0, hi=1, seed=2)], ()),
    ("bce_logits", F.binary_cross_entropy_with_logits,
     lambda z, t: jnp.mean(jax.nn.softplus(z) - z * t), [R(6) * 3, R(6, lo=0, hi=1, seed=2)], ()),
    ("bce_logits_extreme", F.binary_cross_entropy_with_logits,
     lambda z, t: jnp.mean(jnp.maximum(z, 0) - z * t + jnp.log1p(jnp.exp(-jnp.abs(z)))),
     [np.array([-1000.0, -30, 0.5, 30, 1000]), np.array([1.0, 0, 1, 0, 1])], ()),
    ("ce_probs", F.cross_entropy,
     lambda z, q: -jnp.mean(jnp.sum(q * jax.nn.log_softmax(z, 1), 1)),
     [R(4, 5), np.random.default_rng(1).dirichlet(np.ones(5), 4)], ()),
    ("ce_probs_extreme", F.cross_entropy,
     lambda z, q: -jnp.mean(jnp.sum(q * jax.nn.log_softmax(z, 1), 1)),
     [np.array([[1000.0, -1000.0, 0.0], [-1000.0, 1000.0, 999.0]]),
      np.array([[0.5, 0.25, 0.25], [0.0, 0.0, 1.0]])], ()),
    ("ce_probs_smooth", lambda z, q: F.cross_entropy(z, q, label_smoothing=0.2),
     lambda z, q: -jnp.mean(jnp.sum((0.8 * q + 0.04) * jax.nn.log_softmax(z, 1), 1)),
     [R(4, 5), np.random.default_rng(1).dirichlet(np.ones(5), 4)], ()),
    ("ce_probs_weight", lambda z, q: F.cross_entropy(z, q, _const(z, _W5), label_smoothing=0.1,
                                                     reduction="sum"),
     lambda z, q: -jnp.sum((0.9 * q + 0.02) * _W5 * jax.nn.log_softmax(z, 1)),
     [R(4, 5), np.random.default_rng(1).dirichlet(np.ones(5), 4)], ()),
    ("ce_probs_weight_spatial", lambda z, q: F.cross_entropy(z, q, _const(z, _W5)),
     lambda z, q: -jnp.mean(jnp.sum(q * _W5[:, None] * jax.nn.log_softmax(z, 1), 1)),
     [R(2, 5, 3), np.ascontiguousarray(
         np.moveaxis(np.random.default_rng(2).dirichlet(np.ones(5), (2, 3)), -1, 1))], ()),
    ("ce_probs_unbatched", F.cross_entropy,
     lambda z, q: -jnp.sum(q * jax.nn.log_softmax(z)), [R(5), np.full(5, 0.2)], ()),
    ("mse_weight", lambda a, b, w: F.mse_loss(a, b, weight=w),
     lambda a, b, w: jnp.sum((a - b) ** 2 * w) / jnp.sum(w),
     [R(4, 3), R(4, 3, seed=1), R(4, 3, lo=0.2, hi=2, seed=2)], ()),
    ("l1_weight_sum", lambda a, b, w: F.l1_loss(a, b, reduction="sum", weight=w),
     lambda a, b, w: jnp.sum(jnp.abs(a - b) * w),
     [R(4, 3), R(4, 3, seed=1), R(4, 3, lo=0.2, hi=2, seed=2)], ()),
    ("smooth_l1", lambda a, b: F.smooth_l1_loss(a, b, beta=0.5),
     lambda a, b: jnp.mean(_smooth_l1(a - b, 0.5)), [R(5, 4) * 2, R(5, 4, seed=1)], ()),
    ("smooth_l1_beta0_none", lambda a, b: F.smooth_l1_loss(a, b, reduction="none", beta=0.0),
     lambda a, b: jnp.abs(a - b), [R(5, 4), R(5, 4, seed=1)], ()),
    ("huber_sum", lambda a, b: F.huber_loss(a, b, "sum", 1.5),
     lambda a, b: jnp.sum(1.5 * _smooth_l1(a - b, 1.5)), [R(5, 4) * 2, R(5, 4, seed=1)], ()),
    ("huber_weight", lambda a, b, w: F.huber_loss(a, b, delta=0.7, weight=w),
     lambda a, b, w: jnp.mean(0.7 * _smooth_l1(a - b, 0.7) * w),
     [R(5, 4) * 2, R(5, 4, seed=1), R(5, 4, lo=0.2, hi=2, seed=2)], ()),
    ("bce_weight", lambda p, t: F.binary_cross_entropy(p, t, _const(p, _W3), reduction="sum"),
     lambda p, t: -jnp.sum(_W3 * (t * jnp.log(p) + (1 - t) * jnp.log(1 - p))),
     [R(4, 3, lo=0.05, hi=0.95), R(4, 3, lo=0, hi=1, seed=2)], ()),
    ("bce_logits_pos_weight", lambda z, t: F.binary_cross_entropy_with_logits(
        z, t, _const(z, _W3), pos_weight=_const(z, _W3[::-1] * 2)),
     lambda z, t: jnp.mean(_W3 * ((1 - t) * z + (1 + (_W3[::-1] * 2 - 1) * t)
                                  * jax.nn.softplus(-z))),
     [R(4, 3) * 3, R(4, 3, lo=0, hi=1, seed=2)], ()),
    ("bce_logits_pos_weight_extreme", lambda z, t: F.binary_cross_entropy_with_logits(
        z, t, reduction="none", pos_weight=_const(z, np.array([0.5, 2.0, 3.0]))),
     lambda z, t: (1 - t) * z + (1 + np.array([-0.5, 1.0, 2.0]) * t) * jax.nn.softplus(-z),
     [np.array([[-1000.0, 30, 0.5], [1000.0, -30, 2.0]]), np.array([[1.0, 0, 1], [0, 1, 0.5]])],
     ()),
]


def _ce_indices(z, target, smoothing=0.0, reduction="mean"):
    logp = jax.nn.log_softmax(z, 1)
    c = z.shape[1]
    q = jax.nn.one_hot(target, c, axis=1) * (1 - smoothing) + smoothing / c
    loss = -jnp.sum(q * logp, 1)
    return {"mean": jnp.mean, "sum": jnp.sum, "none": lambda a: a}[reduction](loss)


def _ce_weighted(z, t, w=None, ignore_index=-100, smoothing=0.0, reduction="mean"):
    """PyTorch's index-target cross-entropy with weight, ignore_index and label smoothing."""
    c = z.shape[1]
    w = jnp.ones(c) if w is None else jnp.asarray(w)
    logp = jax.nn.log_softmax(z, 1)
    valid = t != ignore_index
    safe = jnp.where(valid, t, 0)
    nll = -jnp.sum(jax.nn.one_hot(safe, c, axis=1) * logp, 1) * w[safe]
    smooth = -jnp.sum(logp * w.reshape((1, c) + (1,) * (z.ndim - 2)), 1)
    loss = jnp.where(valid, (1 - smoothing) * nll + smoothing / c * smooth, 0.0)
    if reduction == "mean":
        return jnp.sum(loss) / jnp.sum(jnp.where(valid, w[safe], 0.0))
    return {"sum": jnp.sum, "none": lambda a: a}[reduction](loss)


def _nll_weighted(lp, t, w=None, ignore_index=-100, reduction="mean"):
    """PyTorch's nll_loss with weight and ignore_index."""
    c = lp.shape[1]
    w = jnp.ones(c) if w is None else jnp.asarray(w)
    valid = t != ignore_index
    safe = jnp.where(valid, t, 0)
    picked = jnp.take_along_axis(lp, safe[:, None], 1)[:, 0]
    loss = jnp.where(valid, -w[safe] * picked, 0.0)
    if reduction == "mean":
        return jnp.sum(loss) / jnp.sum(jnp.where(valid, w[safe], 0.0))
    return {"sum": jnp.sum, "none": lambda a: a}[reduction](loss)


INDEX_CASES = [
    ("ce_index", lambda z, t: F.cross_entropy(z, t), lambda z, t: _ce_indices(z, t),
     [R(5, 4)], (np.array([0, 3, 1, 1, 2]),)),
    ("ce_index_sum", lambda z, t: F.cross_entropy(z, t, reduction="sum"),
     lambda z, t: _ce_indices(z, t, reduction="sum"), [R(5, 4)], (np.array([0, 3, 1, 1, 2]),)),
    ("ce_index_none_smooth", lambda z, t: F.cross_entropy(z, t, "none", 0.1),
     lambda z, t: _ce_indices(z, t, 0.1, "none"), [R(5, 4)], (np.array([0, 3, 1, 1, 2]),)),
    ("ce_index_extreme", lambda z, t: F.cross_entropy(z, t), lambda z, t: _ce_indices(z, t),
     [np.array([[1000.0, -1000.0, 0.0], [-1000.0, 1000.0, 999.0]])], (np.array([1, 2]),)),
    ("ce_index_spatial", lambda z, t: F.cross_entropy(z, t), lambda z, t: _ce_indices(z, t),
     [R(2, 3, 4)], (np.array([[0, 1, 2, 2], [1, 1, 0, 2]]),)),
    ("nll", lambda lp, t: F.nll_loss(lp, t),
     lambda lp, t: -jnp.mean(jnp.take_along_axis(lp, t[:, None], 1)),
     [R(5, 4)], (np.array([0, 3, 1, 1, 2]),)),
    # weight, ignore_index (present in the target), label smoothing, K-dim, unbatched
    ("ce_index_weight", lambda z, t: F.cross_entropy(z, t, _const(z, _W5)),
     lambda z, t: _ce_weighted(z, t, _W5), [R(6, 5)], (np.array([0, 3, 1, 1, 2, 4]),)),
    ("ce_index_ignore", lambda z, t: F.cross_entropy(z, t),
     lambda z, t: _ce_weighted(z, t), [R(6, 5)], (np.array([0, -100, 1, 1, -100, 4]),)),
    ("ce_index_weight_ignore_smooth", lambda z, t: F.cross_entropy(
        z, t, _const(z, _W5), ignore_index=1, label_smoothing=0.2),
     lambda z, t: _ce_weighted(z, t, _W5, 1, 0.2), [R(6, 5)], (np.array([0, 3, 1, 1, 2, 4]),)),
    ("ce_index_ignore_smooth_none", lambda z, t: F.cross_entropy(
        z, t, ignore_index=3, reduction="none", label_smoothing=0.3),
     lambda z, t: _ce_weighted(z, t, None, 3, 0.3, "none"), [R(6, 5)],
     (np.array([0, 3, 1, 1, 2, 4]),)),
    ("ce_index_spatial_weight_ignore", lambda z, t: F.cross_entropy(
        z, t, _const(z, _W3), ignore_index=0, label_smoothing=0.1),
     lambda z, t: _ce_weighted(z, t, _W3, 0, 0.1), [R(2, 3, 4, 2)],
     (np.array([[[0, 1], [2, 2], [1, 0], [2, 1]], [[1, 1], [0, 2], [2, 2], [1, 0]]]),)),
    ("ce_index_weight_extreme", lambda z, t: F.cross_entropy(z, t, _const(z, _W3),
                                                             reduction="sum"),
     lambda z, t: _ce_weighted(z, t, _W3, reduction="sum"),
     [np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 9999.0]])], (np.array([1, 2]),)),
    ("ce_index_unbatched", lambda z, t: F.cross_entropy(z, t, _const(z, _W5),
                                                        label_smoothing=0.1),
     lambda z, t: _ce_weighted(z[None], t[None], _W5, smoothing=0.1), [R(5)], (np.array(3),)),
    ("nll_weight_ignore", lambda lp, t: F.nll_loss(lp, t, _const(lp, _W5), ignore_index=2),
     lambda lp, t: _nll_weighted(lp, t, _W5, 2), [R(6, 5)], (np.array([0, 3, 2, 1, 2, 4]),)),
    ("nll_spatial_none", lambda lp, t: F.nll_loss(lp, t, reduction="none"),
     lambda lp, t: _nll_weighted(lp, t, None, -100, "none"), [R(2, 3, 4)],
     (np.array([[0, 1, -100, 2], [1, 1, 0, 2]]),)),
]


def _family_cases() -> list:
    """The ``CASES`` of every ``tests/op_cases_<family>.py`` (they import R and _on from here),
    so a new op family adds its own file."""
    import importlib
    import pathlib

    here = pathlib.Path(__file__).parent
    cases = []
    for path in sorted(here.glob("op_cases_*.py")):
        cases += importlib.import_module(path.stem).CASES
    return cases


ALL_CASES = CASES + INDEX_CASES + _family_cases()
_names = [c[0] for c in ALL_CASES]
assert len(_names) == len(set(_names)), "oracle case names must be unique (the cache key)"

# Per-case tolerances for the float32 pass (default: oracle.FLOAT32_TOL).
FLOAT32_TOL: dict[str, dict] = {}
