"""Oracle cases of the top-level namespace tail (gradflow/ops/namespace_*.py), appended to
``op_cases.ALL_CASES``: forward, vjp, composed and second-order paths against JAX. Outputs are
squared or multiplied where the op is linear so that the second order is not zero."""

import jax.numpy as jnp
import jax.scipy.linalg as jsl
import jax.scipy.special as jsp
import numpy as np
from op_cases import R

from gradflow.ops import namespace_linalg as NL
from gradflow.ops import namespace_math as NM
from gradflow.ops import namespace_shape as NS
from gradflow.ops import namespace_stats as ST


def _f32(*values):
    return np.array(values, dtype=np.float32).astype(np.float64)


def _sq(fn):
    return lambda *a: fn(*a) ** 2


def _logit_jax(p, eps=None):
    if eps is not None:
        p = jnp.clip(p, eps, 1 - eps)
    return jnp.log(p / (1 - p))


def _sinc_jax(x):
    px = jnp.pi * x
    return jnp.sin(px) / px


def _cross_jax(a, b):
    return jnp.cross(a, b, axis=1)


def _diff_jax(x, p):
    return jnp.diff(jnp.concatenate([p, x], axis=1), n=2, axis=1)


def _pixel_shuffle_jax(x, r):
    n, c, h, w = x.shape
    y = x.reshape(n, c // (r * r), r, r, h, w).transpose(0, 1, 4, 2, 5, 3)
    return y.reshape(n, c // (r * r), h * r, w * r)


def _pixel_unshuffle_jax(x, r):
    n, c, h, w = x.shape
    y = x.reshape(n, c, h // r, r, w // r, r).transpose(0, 1, 3, 5, 2, 4)
    return y.reshape(n, c * r * r, h // r, w // r)


def _vander_jax(x):
    return jnp.vander(x, 4)


def _combos_jax(x):
    idx = np.array([(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)])
    return x[idx] ** 2


def _renorm_jax(x):
    n = jnp.sqrt(jnp.sum(x * x, axis=1, keepdims=True))
    f = jnp.where(n > 1.5, 1.5 / (n + 1e-7), 1.0)
    return (x * f) ** 2


def _pinv_jax(a):
    u, s, vh = jnp.linalg.svd(a, full_matrices=False)
    return (vh.T / s) @ u.T


def _svd_v_jax(a):
    u, s, vh = jnp.linalg.svd(a, full_matrices=False)
    v = vh.T
    return (u * s) @ v.T + s.sum() ** 2  # the reconstruction with V, and S (sign-free parts)


def _svd_v(a):
    u, s, v = NL.svd(a)
    return (u * s) @ v.transpose(0, 1) + s.sum() ** 2


def _std_mean(x):
    s, m = ST.std_mean(x, 1)
    return s * m


def _std_mean_jax(x):
    return jnp.std(x, axis=1, ddof=1) * jnp.mean(x, axis=1)


def _var_mean(x):
    v, m = ST.var_mean(x, 0, correction=0)
    return v * m


def _aminmax(x):
    lo, hi = ST.aminmax(x, dim=1)
    return lo * hi


_NAN = R(3, 5, seed=11)
_NAN[1, 2] = _NAN[0, 0] = np.nan

_SPD = R(4, 4, seed=12) @ R(4, 4, seed=12).T + 4 * np.eye(4)
_AW = np.array([0.5, 1.0, 2.0, 1.0, 0.3])

CASES = [
    # special functions
    ("ns_erfc", NM.erfc, jsp.erfc, [R(3, 4) * 2], ()),
    ("ns_erfc_extreme", NM.erfc, jsp.erfc, [_f32(-6.0, -1.0, 0.0, 2**-20, 3.0, 9.0)], ()),
    ("ns_lgamma", NM.lgamma, jsp.gammaln, [R(3, 4, lo=0.2, hi=6)], ()),
    ("ns_lgamma_negative", NM.lgamma, jsp.gammaln, [_f32(-2.5, -1.5, -0.5, 0.25, 30.0)], ()),
    ("ns_digamma", NM.digamma, jsp.digamma, [R(3, 4, lo=0.3, hi=6)], ()),
    ("ns_polygamma1", lambda x: NM.polygamma(1, x), lambda x: jsp.polygamma(1, x),
     [R(2, 3, lo=0.5, hi=4)], ()),
    # elementwise compositions
    ("ns_sinc", NM.sinc, _sinc_jax, [R(3, 4) * 2 + 0.05], ()),
    ("ns_logit", NM.logit, _logit_jax, [R(3, 4, lo=0.05, hi=0.95)], ()),
    ("ns_logit_eps", NM.logit, _logit_jax, [_f32(0.01, 0.3, 0.5, 0.9, 0.99)], (0.05,)),
    # float_power computes in float64; the cast back lets the float32 pass compare dtypes
    ("ns_float_power", lambda a, b: NM.float_power(a, b).to(a.dtype), jnp.power,
     [R(3, 1, lo=0.5, hi=2), R(4)], ()),
    ("ns_addcmul", lambda a, b, c: NM.addcmul(a, b, c, value=0.5),
     lambda a, b, c: a + 0.5 * b * c, [R(3, 4), R(4), R(3, 1)], ()),
    ("ns_addcdiv", lambda a, b, c: NM.addcdiv(a, b, c, value=-2.0),
     lambda a, b, c: a - 2.0 * b / c, [R(3, 4), R(3, 4), R(4, lo=0.5, hi=2)], ()),
    ("ns_subtract_alpha", lambda a, b: NM.subtract(a, b, alpha=3) ** 2,
     lambda a, b: (a - 3 * b) ** 2, [R(3, 4), R(4)], ()),
    ("ns_deg2rad", _sq(NM.deg2rad), lambda x: jnp.deg2rad(x) ** 2, [R(5) * 90], ()),
    ("ns_rad2deg", _sq(NM.rad2deg), lambda x: jnp.rad2deg(x) ** 2, [R(5)], ()),
    ("ns_copysign", _sq(NM.copysign), lambda a, b: jnp.copysign(a, b) ** 2,
     [R(3, 4) + 0.1, R(4)], ()),
    ("ns_fmax", _sq(NM.fmax), lambda a, b: jnp.fmax(a, b) ** 2, [R(3, 4), R(4, seed=2)], ()),
    ("ns_fmin", _sq(NM.fmin), lambda a, b: jnp.fmin(a, b) ** 2, [R(3, 4), R(3, 1)], ()),
    ("ns_logaddexp", NM.logaddexp, jnp.logaddexp, [R(3, 4), R(4, seed=3)], ()),
    ("ns_logaddexp_large", NM.logaddexp, jnp.logaddexp,
     [_f32(-1000.0, 0.0, 500.0, 80.0), _f32(-999.0, 1.0, 500.0, -80.0)], ()),
    ("ns_logaddexp2", NM.logaddexp2, jnp.logaddexp2, [R(3, 4), R(3, 1)], ()),
    # (R(4, seed=4) would equal R(3, 4)[0]: JAX's hypot is not twice differentiable at |a| = |b|)
    ("ns_hypot", NM.hypot, jnp.hypot, [R(3, 4), R(4, seed=5)], ()),
    ("ns_xlogy", NM.xlogy, jsp.xlogy, [R(3, 4), R(4, lo=0.2, hi=3)], ()),
    ("ns_clamp_min", _sq(NM.clamp_min), lambda x, m: jnp.maximum(x, m) ** 2, [R(3, 4)], (0.1,)),
    ("ns_clamp_max", _sq(NM.clamp_max), lambda x, m: jnp.minimum(x, m) ** 2, [R(3, 4)], (0.1,)),
    # shapes
    ("ns_rot90", lambda x: NS.rot90(x, 1, (0, 2)) ** 2,
     lambda x: jnp.rot90(x, 1, (0, 2)) ** 2, [R(2, 3, 4)], ()),
    ("ns_rot90_k3", lambda x: NS.rot90(x, -1) ** 2, lambda x: jnp.rot90(x, -1) ** 2,
     [R(3, 4)], ()),
    ("ns_block_diag", lambda a, b: NS.block_diag(a, b) ** 2,
     lambda a, b: jsl.block_diag(a, b.reshape(1, -1)) ** 2, [R(2, 3), R(4)], ()),
    ("ns_cartesian_prod", lambda a, b: NS.cartesian_prod(a, b).prod(1),
     lambda a, b: jnp.stack(jnp.meshgrid(a, b, indexing="ij"), -1).reshape(-1, 2).prod(1),
     [R(3), R(2)], ()),
    ("ns_combinations", lambda x: NS.combinations(x) ** 2, _combos_jax, [R(4)], ()),
    ("ns_vander", lambda x: NS.vander(x, 4), _vander_jax, [R(5)], ()),
    ("ns_cross", NS.cross, _cross_jax, [R(2, 3, 4), R(2, 3, 1)], ()),
    ("ns_diff", lambda x, p: NS.diff(x, 2, 1, prepend=p) ** 2,
     lambda x, p: _diff_jax(x, p) ** 2, [R(3, 5), R(3, 2)], ()),
    ("ns_pixel_shuffle", lambda x: NS.pixel_shuffle(x, 2) ** 2,
     lambda x: _pixel_shuffle_jax(x, 2) ** 2, [R(2, 8, 2, 3)], ()),
    ("ns_pixel_unshuffle", lambda x: NS.pixel_unshuffle(x, 2) ** 2,
     lambda x: _pixel_unshuffle_jax(x, 2) ** 2, [R(1, 2, 4, 6)], ()),
    ("ns_tensor_split", lambda x: NS.tensor_split(x, 3, 1)[1] * NS.tensor_split(x, 3, 1)[2],
     lambda x: x[:, 3:5] * x[:, 5:7], [R(3, 7)], ()),
    ("ns_hstack", lambda a, b: NS.hstack([a, b]) ** 2,
     lambda a, b: jnp.hstack([a, b]) ** 2, [R(3, 2), R(3, 4)], ()),
    ("ns_vstack", lambda a, b: NS.vstack([a, b]) ** 2,
     lambda a, b: jnp.vstack([a, b]) ** 2, [R(4), R(2, 4)], ()),
    ("ns_dstack", lambda a, b: NS.dstack([a, b]) ** 2,
     lambda a, b: jnp.dstack([a, b]) ** 2, [R(3, 4), R(3, 4, 2)], ()),
    ("ns_column_stack", lambda a, b: NS.column_stack([a, b]) ** 2,
     lambda a, b: jnp.column_stack([a, b]) ** 2, [R(3), R(3, 2)], ()),
    ("ns_broadcast_tensors", lambda a, b: NS.broadcast_tensors(a, b)[0] * b,
     lambda a, b: jnp.broadcast_to(a, (3, 4)) * b, [R(3, 1), R(4)], ()),
    ("ns_unflatten", lambda x: NS.unflatten(x, 1, (2, -1)) ** 2,
     lambda x: x.reshape(3, 2, 3) ** 2, [R(3, 6)], ()),
    ("ns_select", lambda x: NS.select(x, 1, -1) ** 2, lambda x: x[:, -1] ** 2, [R(3, 4)], ()),
    ("ns_diagflat", lambda x: NS.diagflat(x, -1) ** 2,
     lambda x: jnp.diagflat(x, -1) ** 2, [R(2, 2)], ()),
    ("ns_chain_matmul", NS.chain_matmul, lambda a, b, c: a @ b @ c,
     [R(2, 3), R(3, 4), R(4, 2)], ()),
    # statistics
    ("ns_std_mean", _std_mean, _std_mean_jax, [R(3, 5)], ()),
    ("ns_var_mean", _var_mean, lambda x: jnp.var(x, 0) * jnp.mean(x, 0), [R(4, 3)], ()),
    ("ns_aminmax", _aminmax, lambda x: jnp.min(x, 1) * jnp.max(x, 1), [R(3, 5)], ()),
    ("ns_nansum", lambda x: ST.nansum(x, 1) ** 2, lambda x: jnp.nansum(x, 1) ** 2, [_NAN], ()),
    ("ns_nanmean", lambda x: ST.nanmean(x, 1) ** 2, lambda x: jnp.nanmean(x, 1) ** 2, [_NAN],
     ()),
    ("ns_cov", ST.cov, lambda x: jnp.cov(x), [R(3, 6)], ()),
    ("ns_cov_weights", lambda x, aw: ST.cov(x, fweights=None, aweights=aw),
     lambda x, aw: jnp.cov(x, aweights=aw), [R(2, 5), _AW], ()),
    ("ns_corrcoef", ST.corrcoef, jnp.corrcoef, [R(3, 6)], ()),
    ("ns_quantile", lambda x: ST.quantile(x, 0.3, 1) ** 2,
     lambda x: jnp.quantile(x, 0.3, axis=1) ** 2, [R(3, 6)], ()),
    ("ns_nanquantile", lambda x: ST.nanquantile(x, 0.6, 1) ** 2,
     lambda x: jnp.nanquantile(x, 0.6, axis=1) ** 2, [_NAN], ()),
    ("ns_trapezoid", lambda y, x: ST.trapezoid(y, x) ** 2,
     lambda y, x: jnp.trapezoid(y, x) ** 2, [R(3, 5), np.cumsum(R(5, lo=0.1, hi=1))], ()),
    ("ns_cumulative_trapezoid", lambda y: ST.cumulative_trapezoid(y, dx=0.5, dim=0) ** 2,
     lambda y: jnp.cumsum((y[1:] + y[:-1]) * 0.25, 0) ** 2, [R(4, 3)], ()),
    ("ns_renorm", lambda x: ST.renorm(x, 2, 0, 1.5) ** 2, _renorm_jax, [R(3, 4) * 2], ()),
    ("ns_dist", lambda a, b: ST.dist(a, b, 3), lambda a, b: jnp.sum(jnp.abs(a - b) ** 3) ** (1 / 3),
     [R(3, 4), R(4)], ()),
    # linear algebra
    ("ns_logdet", NL.logdet, lambda a: jnp.linalg.slogdet(a)[1], [_SPD], ()),
    ("ns_pinverse", NL.pinverse, _pinv_jax, [R(4, 3)], ()),
    ("ns_svd_v", _svd_v, _svd_v_jax, [R(4, 3)], ()),
]
