"""Oracle cases of the elementwise math, rounding/division, clamp/lerp and nan_to_num ops,
appended to ``op_cases.ALL_CASES`` (vjp, composed and second-order paths against JAX).

Extreme inputs are float32-exact (the float32 pass casts the inputs and compares with the float64
reference of the same values): near the domain edges (log1p at −1 + 2⁻²⁰, asin/erfinv at ±0.999)
and large magnitudes (up to 1e30)."""

import jax
import jax.numpy as jnp
import jax.scipy.special as jsp
import numpy as np
from op_cases import R

import gradflow as gf
from gradflow.ops import math as M
from gradflow.ops import predicates as P
from gradflow.ops import rounding as RD


def _f32(*values):
    """Float64 values that float32 holds exactly."""
    return np.array(values, dtype=np.float32).astype(np.float64)


def _clamp_jax(x, lo=None, hi=None):
    if lo is not None:
        x = jnp.maximum(x, lo)
    return x if hi is None else jnp.minimum(x, hi)


def _lerp_jax(a, b, w):
    return jnp.where(jnp.abs(w) < 0.5, a + w * (b - a), b - (b - a) * (1 - w))


_sg = jax.lax.stop_gradient
_DIVISOR = np.array([0.7, -1.3, 2.1, -0.45])

CASES = [
    # unary float math: ordinary values, then the edges of the domain and large magnitudes
    ("math_log2", M.log2, jnp.log2, [R(3, 4, lo=0.1, hi=5)], ()),
    ("math_log2_extreme", M.log2, jnp.log2, [_f32(1e-30, 1e-6, 0.5, 1.0, 1e6, 1e30)], ()),
    ("math_log10", M.log10, jnp.log10, [R(3, 4, lo=0.1, hi=5)], ()),
    ("math_log10_extreme", M.log10, jnp.log10, [_f32(1e-30, 2**-20, 1.0, 1e30)], ()),
    ("math_log1p", M.log1p, jnp.log1p, [R(3, 4, lo=-0.9, hi=4)], ()),
    ("math_log1p_extreme", M.log1p, jnp.log1p,
     [_f32(-1 + 2**-20, -0.5, -2**-40, 0.0, 2**-40, 1e-5, 1e20)], ()),
    ("math_expm1", M.expm1, jnp.expm1, [R(3, 4)], ()),
    ("math_expm1_extreme", M.expm1, jnp.expm1, [_f32(-40.0, -2**-30, 0.0, 2**-40, 1.5, 40.0)],
     ()),
    ("math_exp2", M.exp2, jnp.exp2, [R(3, 4) * 3], ()),
    ("math_exp2_extreme", M.exp2, jnp.exp2, [_f32(-100.0, -2**-30, 0.0, 3.25, 100.0)], ()),
    ("math_sinh", M.sinh, jnp.sinh, [R(3, 4) * 2], ()),
    ("math_sinh_extreme", M.sinh, jnp.sinh, [_f32(-40.0, -2**-20, 0.0, 1.5, 40.0)], ()),
    ("math_cosh", M.cosh, jnp.cosh, [R(3, 4) * 2], ()),
    ("math_cosh_extreme", M.cosh, jnp.cosh, [_f32(-40.0, -2**-20, 0.0, 1.5, 40.0)], ()),
    ("math_tan", M.tan, jnp.tan, [R(3, 4, lo=-1.2, hi=1.2)], ()),
    ("math_tan_extreme", M.tan, jnp.tan, [_f32(-1.55, -2**-30, 0.0, 1.0, 1.5)], ()),
    ("math_asin", M.asin, jnp.arcsin, [R(3, 4, lo=-0.9, hi=0.9)], ()),
    ("math_asin_extreme", M.asin, jnp.arcsin, [_f32(-0.999, -0.5, 0.0, 2**-30, 0.999)], ()),
    ("math_acos", M.acos, jnp.arccos, [R(3, 4, lo=-0.9, hi=0.9)], ()),
    ("math_acos_extreme", M.acos, jnp.arccos, [_f32(-0.999, -0.5, 0.0, 2**-30, 0.999)], ()),
    ("math_atan", M.atan, jnp.arctan, [R(3, 4) * 3], ()),
    ("math_atan_extreme", M.atan, jnp.arctan, [_f32(-1e6, -3.0, 0.0, 2**-30, 0.5, 1e8)], ()),
    ("math_rsqrt", M.rsqrt, jax.lax.rsqrt, [R(3, 4, lo=0.1, hi=5)], ()),
    ("math_rsqrt_extreme", M.rsqrt, jax.lax.rsqrt, [_f32(1e-20, 2**-30, 0.25, 3.0, 1e20)], ()),
    ("math_reciprocal", M.reciprocal, jnp.reciprocal, [R(3, 4, lo=0.2, hi=3)], ()),
    ("math_reciprocal_extreme", M.reciprocal, jnp.reciprocal,
     [_f32(-1e-10, -3.0, 0.5, 1e10, 1e30)], ()),
    ("math_square", M.square, jnp.square, [R(3, 4)], ()),
    ("math_square_extreme", M.square, jnp.square, [_f32(-1e15, -2.0, 0.0, 3.5, 1e15)], ()),
    ("math_erfinv", M.erfinv, jsp.erfinv, [R(3, 4, lo=-0.9, hi=0.9)], ()),
    ("math_erfinv_extreme", M.erfinv, jsp.erfinv,
     [_f32(-0.999, -0.5, 0.0, 2**-20, 0.5, 0.9999)], ()),
    ("math_log1p_inplace", lambda a: (a * 1).log1p_() * a, lambda a: jnp.log1p(a) * a,
     [R(3, 4, lo=-0.5, hi=3)], ()),
    ("math_tan_method", lambda a: a.tan().atan(), lambda a: jnp.arctan(jnp.tan(a)),
     [R(5, lo=-1.2, hi=1.2)], ()),
    # atan2: every quadrant, broadcasting, tiny and huge magnitudes
    ("math_atan2", M.atan2, jnp.arctan2, [R(3, 4), R(4, seed=4)], ()),
    ("math_atan2_bcast", M.atan2, jnp.arctan2, [R(3, 1), R(1, 5, seed=2)], ()),
    ("math_atan2_extreme", M.atan2, jnp.arctan2,
     [_f32(1e10, -3.0, 0.5, -1e-10, 2.0, -1e15), _f32(-1e10, 2.0, -0.5, 1e-10, -1e-30, -5.0)],
     ()),
    # clamp with Tensor bounds (lo > hi in some places: the result is hi there)
    ("math_clamp_tensors", lambda x, lo, hi: M.clamp(x, lo, hi), _clamp_jax,
     [R(3, 4) * 2, R(4, seed=5) - 0.5, R(3, 1, seed=6) + 0.5], ()),
    ("math_clamp_min_tensor", lambda x, lo: M.clamp(x, lo), _clamp_jax,
     [R(3, 4), R(3, 1, seed=5)], ()),
    ("math_clamp_max_tensor", lambda x, hi: M.clamp(x, max=hi), lambda x, hi: jnp.minimum(x, hi),
     [R(2, 3), R(2, 3, seed=5)], ()),
    ("math_clamp_tensor_and_number", lambda x, lo: gf.clamp(x, lo, 0.4),
     lambda x, lo: _clamp_jax(x, lo, 0.4), [R(4, 3), R(3, seed=8) - 0.3], ()),
    ("math_clamp_bound_grows", lambda x, hi: M.clamp(x, -0.2, hi),
     lambda x, hi: _clamp_jax(x, -0.2, hi), [R(4), R(3, 4, seed=2)], ()),
    ("math_clamp_extreme", lambda x: x.clamp(-1e30, 1e20), lambda x: jnp.clip(x, -1e30, 1e20),
     [_f32(-1e38, -1e30 * 0.5, 0.0, 1e19, 1e25)], ()),
    # lerp: number and Tensor weights (both of PyTorch's branches)
    ("math_lerp_scalar_low", lambda a, b: M.lerp(a, b, 0.3), lambda a, b: a + 0.3 * (b - a),
     [R(3, 4), R(4, seed=2)], ()),
    ("math_lerp_scalar_high", lambda a, b: a.lerp(b, 0.8), lambda a, b: b - (b - a) * 0.2,
     [R(3, 4), R(3, 4, seed=2)], ()),
    ("math_lerp_tensor", M.lerp, _lerp_jax,
     [R(3, 4), R(4, seed=2), R(3, 1, lo=-0.5, hi=1.5, seed=3)], ()),
    ("math_lerp_extreme", M.lerp, _lerp_jax,
     [_f32(-1e30, 0.0, 1e20, 5.0), _f32(1e30, 1.0, -1e20, 5.0), _f32(0.5, 1.0, 0.25, -3.0)], ()),
    # rounding: gradient 0 (frac 1)
    ("rnd_round", RD.round, jnp.round, [R(3, 4) * 3], ()),
    ("rnd_round_decimals", lambda a: RD.round(a, decimals=2), lambda a: jnp.round(a, 2),
     [R(3, 4) * 3], ()),
    ("rnd_round_neg_decimals", lambda a: a.round(decimals=-1) * a,
     lambda a: jnp.round(a, -1) * a, [R(3, 4) * 300], ()),
    ("rnd_floor", lambda a: RD.floor(a) * a, lambda a: jnp.floor(a) * a, [R(3, 4) * 3], ()),
    ("rnd_ceil", RD.ceil, jnp.ceil, [R(3, 4) * 3], ()),
    ("rnd_trunc", lambda a: a.trunc() + a.fix(), lambda a: 2 * jnp.trunc(a), [R(3, 4) * 3], ()),
    ("rnd_sign", lambda a: RD.sign(a) * a, lambda a: jnp.sign(a) * a, [R(3, 4)], ()),
    ("rnd_sgn", RD.sgn, jnp.sign, [R(3, 4)], ()),
    ("rnd_frac", RD.frac, lambda a: a - jnp.trunc(a), [R(3, 4) * 3], ()),
    ("rnd_frac_extreme", RD.frac, lambda a: a - jnp.trunc(a),
     [_f32(-1e7 - 0.5, -2.75, -2**-30, 0.0, 0.5, 123456.5)], ()),
    # remainder (the divisor's sign) and fmod (the dividend's sign), both operands
    ("rnd_remainder", RD.remainder, jnp.remainder, [R(3, 4) * 5, _DIVISOR], ()),
    ("rnd_remainder_bcast", RD.remainder, jnp.remainder,
     [R(3, 1) * 5, R(1, 4, lo=0.5, hi=2, seed=3)], ()),
    ("rnd_remainder_scalar", lambda a: a % 0.7 + 1.3 % a, lambda a: a % 0.7 + 1.3 % a,
     [R(3, 4, lo=0.5, hi=3)], ()),
    ("rnd_remainder_extreme", RD.remainder, jnp.remainder,
     [_f32(1e6 + 0.25, -1e6 - 0.5, 1e-20, -3.5, 7.25), _f32(3.0, 7.0, -1.5, 1e10, -2.0)], ()),
    ("rnd_fmod", RD.fmod, jnp.fmod, [R(3, 4) * 5, _DIVISOR], ()),
    ("rnd_fmod_scalar", lambda a: a.fmod(-0.7), lambda a: jnp.fmod(a, -0.7), [R(3, 4) * 3], ()),
    ("rnd_fmod_extreme", RD.fmod, jnp.fmod,
     [_f32(1e6 + 0.25, -1e6 - 0.5, 1e-20, -3.5, 7.25), _f32(3.0, 7.0, -1.5, 1e10, -2.0)], ()),
    ("rnd_div_floor", lambda a, b: gf.div(a, b, rounding_mode="floor") * a,
     lambda a, b: _sg(jnp.floor_divide(a, b)) * a, [R(3, 4) * 5, _DIVISOR], ()),
    ("rnd_div_trunc", lambda a, b: a.div(b, rounding_mode="trunc") + b,
     lambda a, b: _sg(jnp.trunc(a / b)) + b, [R(3, 4) * 5, _DIVISOR], ()),
    # nan_to_num: gradient where the input is finite
    ("pred_nan_to_num", lambda a: P.nan_to_num(a, 0.5, 3.0, -4.0) ** 2,
     lambda a: jnp.nan_to_num(a, nan=0.5, posinf=3.0, neginf=-4.0) ** 2,
     [np.array([1.5, np.nan, np.inf, -np.inf, -2.0, 30.0])], ()),
    ("pred_nan_to_num_finite", P.nan_to_num, jnp.nan_to_num, [R(3, 4)], ()),
]
