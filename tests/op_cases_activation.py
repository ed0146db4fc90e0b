"""Oracle cases of the activations (gradflow.ops.activation): every differentiable one on
random inputs away from its kinks, and an ``_extreme`` case at ±30, ±1e4 and at its kinks, where
the JAX twin is written with PyTorch's gradient convention (``where`` picks the branch whose
derivative PyTorch takes; the ``safe`` inputs keep the untaken branch finite)."""

import jax
import jax.numpy as jnp
import numpy as np
from op_cases import R

import gradflow as gf
from gradflow.ops import activation as A

_EXT = np.array([-1e4, -30.0, -3.0, -1.0, -0.5, 0.0, 0.5, 1.0, 3.0, 6.0, 20.0, 30.0, 1e4])
_SELU_A, _SELU_S = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946


def _avoid(x, kinks, gap=0.05):
    """``x`` with the values within ``gap`` of a kink moved off it (finite differences)."""
    for k in kinks:
        x = np.where(np.abs(x - k) < gap, k + 2 * gap, x)
    return x


def _x(scale=2.0, kinks=(0.0,), shape=(4, 5), seed=0):
    return _avoid(R(*shape, seed=seed) * scale, kinks)


def _neg(x):
    """x where x ≤ 0, else 0, with derivative 1 at 0 (JAX's minimum would share it)."""
    return jnp.where(x > 0, 0.0, x)


def _elu(x, alpha=1.0, scale=1.0, s=1.0):
    """At 0 PyTorch's slope is the negative branch's, its second derivative 0."""
    neg = jnp.where(x < 0, scale * alpha * jnp.expm1(_neg(x) * s), x * (scale * alpha * s))
    return jnp.where(x > 0, scale * x, neg)


def _hardtanh(x, lo, hi):
    return jnp.where((x > lo) & (x < hi), x, jnp.where(x <= lo, lo, hi))


def _hardswish(x):
    return jnp.where(x <= -3, 0.0, jnp.where(x >= 3, x, x * (x + 3) / 6))


def _hardsigmoid(x):
    return jnp.where(x <= -3, 0.0, jnp.where(x >= 3, 1.0, x / 6 + 0.5))


def _softplus(x, beta=1.0, threshold=20.0):
    """Linear above the threshold; at βx = threshold PyTorch's second derivative is 0."""
    bx = x * beta
    s, sp = jax.nn.sigmoid(threshold), jax.nn.softplus(threshold)
    inner = jnp.where(bx < threshold, jax.nn.softplus(jnp.where(bx < threshold, bx, 0.0)) / beta,
                      x * s + (sp - threshold * s) / beta)  # the tangent there
    return jnp.where(bx > threshold, x, inner)


def _softshrink(x, lambd):
    return jnp.where(x > lambd, x - lambd, jnp.where(x < -lambd, x + lambd, 0.0))


def _hardshrink(x, lambd):
    return jnp.where((x > lambd) | (x < -lambd), x, 0.0)


def _leaky(x, slope):
    return jnp.where(x > 0, x, slope * x)


def _mish(x):
    return x * jnp.tanh(jax.nn.softplus(x))


def _rrelu_noise(shape, seed=5):
    """The slopes F.rrelu draws from a CPU Generator seeded with ``seed`` (float64)."""
    g = gf.Generator().manual_seed(seed)
    return g.rng.random(shape, dtype="float64") * (0.3 - 0.1) + 0.1


def _rrelu_train(x):
    g = gf.Generator(device=x.device).manual_seed(5)
    return A.rrelu(x, 0.1, 0.3, True, generator=g)


def _prelu_jax(x, w):
    return jnp.where(x > 0, x, w.reshape((1, -1) + (1,) * (x.ndim - 2)) * x)


def _inplace(fn, **kw):
    """``fn`` applied in place to a non-leaf copy (the in-place path through the graph)."""
    return lambda x: fn(x * 1.0, inplace=True, **kw) * 1.0


def _pair(name, gf_fn, jax_fn, x, kinks=(0.0,)):
    """A random case away from ``kinks`` and the ``_extreme`` case on _EXT."""
    return [(f"act_{name}", gf_fn, jax_fn, [x], ()),
            (f"act_{name}_extreme", gf_fn, jax_fn, [_EXT.copy()], ())]


CASES = [
    *_pair("silu", A.silu, jax.nn.silu, _x(3)),
    *_pair("mish", A.mish, _mish, _x(3)),
    *_pair("elu", A.elu, _elu, _x()),
    *_pair("elu_alpha", lambda x: A.elu(x, 0.7), lambda x: _elu(x, 0.7), _x()),
    *_pair("selu", A.selu, lambda x: _elu(x, _SELU_A, _SELU_S), _x()),
    *_pair("celu", lambda x: A.celu(x, 2.0), lambda x: _elu(x, 2.0, 1.0, 0.5), _x()),
    *_pair("hardtanh", lambda x: A.hardtanh(x, -1.0, 3.0), lambda x: _hardtanh(x, -1.0, 3.0),
           _x(3, (-1.0, 3.0))),
    *_pair("relu6", A.relu6, lambda x: _hardtanh(x, 0.0, 6.0), _x(5, (0.0, 6.0))),
    *_pair("hardswish", A.hardswish, _hardswish, _x(3, (-3.0, 3.0))),
    *_pair("hardsigmoid", A.hardsigmoid, _hardsigmoid, _x(3, (-3.0, 3.0))),
    # |x| as x·sign(x): derivative sign(0) = 0 at 0, as PyTorch's abs (JAX's abs takes 1)
    *_pair("softsign", A.softsign, lambda x: x / (1 + x * jnp.sign(x)), _x(3)),
    *_pair("softplus", A.softplus, _softplus, _x(3)),
    *_pair("softplus_beta", lambda x: A.softplus(x, 2.0, 10.0), lambda x: _softplus(x, 2.0, 10.0),
           _x(4, (5.0,))),
    *_pair("logsigmoid", A.logsigmoid, jax.nn.log_sigmoid, _x(3)),
    *_pair("threshold", lambda x: A.threshold(x, 0.5, -2.0), lambda x: jnp.where(x > 0.5, x, -2.0),
           _x(2, (0.5,))),
    *_pair("tanhshrink", A.tanhshrink, lambda x: x - jnp.tanh(x), _x()),
    *_pair("softshrink", lambda x: A.softshrink(x, 0.5), lambda x: _softshrink(x, 0.5),
           _x(2, (-0.5, 0.5))),
    *_pair("hardshrink", lambda x: A.hardshrink(x, 0.5), lambda x: _hardshrink(x, 0.5),
           _x(2, (-0.5, 0.5))),
    *_pair("leaky_relu", lambda x: A.leaky_relu(x, 0.2), lambda x: _leaky(x, 0.2), _x()),
    *_pair("relu", A.relu, lambda x: jnp.where(x > 0, x, 0.0), _x()),
    *_pair("rrelu_eval", A.rrelu, lambda x: _leaky(x, (1 / 8 + 1 / 3) / 2), _x()),
    *_pair("gelu", A.gelu, lambda x: jax.nn.gelu(x, approximate=False), _x(3)),
    *_pair("gelu_tanh", lambda x: A.gelu(x, "tanh"), lambda x: jax.nn.gelu(x, approximate=True),
           _x(3)),
    ("act_rrelu_train", _rrelu_train, lambda x: _leaky(x, _rrelu_noise(x.shape)), [_x()], ()),
    ("act_rrelu_train_extreme", _rrelu_train, lambda x: _leaky(x, _rrelu_noise(x.shape)),
     [_EXT.copy()], ()),
    # in place on a non-leaf: the result goes back into the input through the graph
    ("act_elu_inplace", _inplace(A.elu, alpha=0.5), lambda x: _elu(x, 0.5), [_x()], ()),
    ("act_relu6_inplace_extreme", _inplace(A.relu6), lambda x: _hardtanh(x, 0.0, 6.0),
     [_EXT.copy()], ()),
    ("act_silu_inplace", _inplace(A.silu), jax.nn.silu, [_x()], ()),
    # prelu: one slope per channel (dim 1) or one for all; the slopes get gradients too
    ("act_prelu", A.prelu, _prelu_jax, [_x(shape=(2, 3, 4)), R(3, lo=0.1, hi=0.5)], ()),
    ("act_prelu_2d", A.prelu, _prelu_jax, [_x(shape=(4, 3)), R(3, lo=-0.5, hi=0.5)], ()),
    ("act_prelu_shared", A.prelu, lambda x, w: jnp.where(x > 0, x, w[0] * x),
     [_x(shape=(2, 3, 4)), np.array([0.25])], ()),
    ("act_prelu_extreme", A.prelu, _prelu_jax, [_EXT.reshape(1, -1, 1), R(13, lo=0.1, hi=0.5)],
     ()),
    # glu, softmin
    ("act_glu", A.glu, lambda x: x[:, :3] * jax.nn.sigmoid(x[:, 3:]), [R(4, 6)], ()),
    ("act_glu_dim0", lambda x: A.glu(x, 0), lambda x: x[:2] * jax.nn.sigmoid(x[2:]),
     [R(4, 3, 2)], ()),
    ("act_glu_extreme", A.glu, lambda x: x[:, :2] * jax.nn.sigmoid(x[:, 2:]),
     [np.array([[1e4, -30.0, -1e4, 30.0], [-1e4, 30.0, 1e4, -30.0]])], ()),
    ("act_softmin", lambda x: A.softmin(x, 1), lambda x: jax.nn.softmax(-x, axis=1),
     [R(3, 5)], ()),
    ("act_softmin_extreme", lambda x: A.softmin(x, -1), lambda x: jax.nn.softmax(-x, axis=-1),
     [np.array([[1e4, -1e4, 0.0], [30.0, -30.0, 1e4]])], ()),
    ("act_softmax_dim0_3d", lambda x: A.softmax(x, 0), lambda x: jax.nn.softmax(x, axis=0),
     [R(3, 2, 4)], ()),
]
