"""The top-level namespace tail (gradflow/ops/namespace_*.py, gradflow/torch_config.py) against
PyTorch: values, dtypes, gradients, errors, positional parameter names and Tensor methods."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

import gradflow as gf
from gradflow import torch_config as TC
from gradflow.ops import namespace_linalg as NL
from gradflow.ops import namespace_math as NM
from gradflow.ops import namespace_nn as NN
from gradflow.ops import namespace_shape as NS
from gradflow.ops import namespace_stats as ST

torch = pytest.importorskip("torch")

MODULES = (NM, NS, ST, NL, NN, TC)
EXPORTS = {name: getattr(m, name) for m in MODULES for name in dir(m)
           if not name.startswith("_") and inspect.isfunction(getattr(m, name))
           and getattr(m, name).__module__ == m.__name__}


def _rng(seed=0):
    return np.random.default_rng(seed)


def _to_gf(x, grad):
    if isinstance(x, np.ndarray):
        return gf.tensor(x, requires_grad=grad and x.dtype.kind == "f")
    return x


def _to_torch(x, grad):
    if isinstance(x, np.ndarray):
        return torch.tensor(x, requires_grad=grad and x.dtype.kind == "f")
    return x


def _flat(out):
    if isinstance(out, tuple | list):
        return [o for item in out for o in _flat(item)]
    return [out]


def _same(g, t, tol=1e-6):
    assert tuple(g.shape) == tuple(t.shape), (tuple(g.shape), tuple(t.shape))
    assert str(g.dtype) == str(t.dtype).replace("torch.", ""), (g.dtype, t.dtype)
    np.testing.assert_allclose(g.detach().numpy(), t.detach().numpy(), rtol=tol, atol=tol,
                               equal_nan=True)


def compare(gf_fn, torch_fn, args, kwargs=None, grad=True, tol=1e-6):  # noqa: C901
    """Run both on the same arguments (numpy arrays become tensors); compare every output, then
    the gradients of Σ wᵢ·outputᵢ (fixed random weights) to the float inputs."""
    kwargs = kwargs or {}
    ga = [_to_gf(a, grad) for a in args]
    ta = [_to_torch(a, grad) for a in args]
    gout, tout = _flat(gf_fn(*ga, **kwargs)), _flat(torch_fn(*ta, **kwargs))
    assert len(gout) == len(tout)
    for g, t in zip(gout, tout):
        _same(g, t, tol)
    if not grad:
        return
    rng = _rng(1)
    # (torch marks heaviside's output as requiring grad, then has no derivative for it)
    pairs = [(g, t) for g, t in zip(gout, tout) if t.requires_grad and g.requires_grad]
    if not pairs:
        return
    ws = [rng.standard_normal(tuple(t.shape)) for _, t in pairs]
    gl = sum((g * gf.tensor(w)).sum() for (g, _), w in zip(pairs, ws))
    tl = sum((t * torch.tensor(w)).sum() for (_, t), w in zip(pairs, ws))
    gl.backward()
    tl.backward()
    for g, t in zip(ga, ta):
        if isinstance(t, torch.Tensor) and t.requires_grad:
            if t.grad is None:
                assert g.grad is None
            elif g.grad is None:  # not in gradflow's graph: torch's zero gradient
                assert not t.grad.detach().numpy().any()
            else:
                _same(g.grad, t.grad, tol * 10)


X = _rng(0).standard_normal((3, 4))
Y = _rng(2).standard_normal((4,))
P = _rng(3).uniform(0.05, 0.95, (3, 4))
POS = _rng(4).uniform(0.3, 4.0, (3, 4))
NANX = X.copy()
NANX[1, 2] = NANX[0, 0] = np.nan
SPD = X @ X.T + 3 * np.eye(3)

# (id, gradflow fn, torch fn, args, kwargs)
VALUE_CASES = [
    ("erfc", NM.erfc, torch.erfc, [X * 3], {}),
    ("lgamma", NM.lgamma, torch.lgamma, [np.array([-2.5, -0.5, 0.2, 1.0, 3.5, 30.0])], {}),
    ("digamma", NM.digamma, torch.digamma, [POS], {}),
    ("polygamma", lambda x: NM.polygamma(2, x), lambda x: torch.polygamma(2, x), [POS], {}),
    ("absolute", NM.absolute, torch.absolute, [X], {}),
    ("negative", NM.negative, torch.negative, [X], {}),
    ("positive", NM.positive, torch.positive, [X], {}),
    ("multiply", NM.multiply, torch.multiply, [X, Y], {}),
    ("subtract", NM.subtract, torch.subtract, [X, Y], {"alpha": 2.5}),
    ("true_divide", NM.true_divide, torch.true_divide, [X, POS], {}),
    ("clamp_min", NM.clamp_min, torch.clamp_min, [X, 0.2], {}),
    ("clamp_max", NM.clamp_max, torch.clamp_max, [X, 0.2], {}),
    ("float_power", NM.float_power, torch.float_power, [POS, Y], {}),
    ("float_power_scalar_base", NM.float_power, torch.float_power, [2, X], {}),
    ("addcmul", NM.addcmul, torch.addcmul, [X, Y, X], {"value": -0.5}),
    ("addcdiv", NM.addcdiv, torch.addcdiv, [X, Y, POS], {"value": 2}),
    ("heaviside", NM.heaviside, torch.heaviside,
     [np.array([-1.0, 0.0, 2.0]), np.array([0.5, 0.5, 0.5])], {}),
    ("deg2rad", NM.deg2rad, torch.deg2rad, [X * 90], {}),
    ("rad2deg", NM.rad2deg, torch.rad2deg, [X], {}),
    ("sinc", NM.sinc, torch.sinc, [np.array([-1.5, -0.3, 0.0, 0.25, 2.0])], {}),
    ("logit", NM.logit, torch.logit, [P], {}),
    ("logit_eps", NM.logit, torch.logit, [np.array([0.0, 0.01, 0.5, 1.0])], {"eps": 0.05}),
    ("signbit", NM.signbit, torch.signbit, [np.array([-1.0, -0.0, 0.0, 2.0])], {}),
    ("copysign", NM.copysign, torch.copysign, [X, Y], {}),
    ("copysign_scalar", NM.copysign, torch.copysign, [X, -1.0], {}),
    ("fmax", NM.fmax, torch.fmax, [NANX, Y], {}),
    ("fmin", NM.fmin, torch.fmin, [NANX, Y], {}),
    ("logaddexp", NM.logaddexp, torch.logaddexp, [X, Y], {}),
    ("logaddexp_inf", NM.logaddexp, torch.logaddexp,
     [np.array([-np.inf, np.inf, 1e30, -np.inf]), np.array([-np.inf, np.inf, 1e30, 2.0])], {}),
    ("logaddexp2", NM.logaddexp2, torch.logaddexp2, [X, Y], {}),
    ("hypot", NM.hypot, torch.hypot, [X, Y], {}),
    ("hypot_large", NM.hypot, torch.hypot,
     [np.array([1e300, 3.0, 0.0, np.inf]), np.array([1e300, 4.0, 0.0, np.nan])], {}),
    # (at input = other = 0 torch's gradient to other is 0/0 = NaN, gradflow's 0: not compared)
    ("xlogy", NM.xlogy, torch.xlogy, [np.array([0.0, 0.0, 1.0, 2.0]),
                                      np.array([0.5, np.nan, 3.0, 0.5])], {}),
    ("xlogy_scalar", NM.xlogy, torch.xlogy, [2.0, POS], {}),
    # shapes
    ("clone", NS.clone, torch.clone, [X], {}),
    ("ravel", NS.ravel, torch.ravel, [X], {}),
    ("select", NS.select, torch.select, [X, 1, -1], {}),
    ("unflatten", NS.unflatten, torch.unflatten, [X, 1, (2, -1)], {}),
    ("broadcast_to", NS.broadcast_to, torch.broadcast_to, [Y, (3, -1)], {}),
    ("broadcast_tensors", NS.broadcast_tensors, torch.broadcast_tensors,
     [X[:, :1].copy(), Y], {}),
    ("atleast_1d", NS.atleast_1d, torch.atleast_1d, [np.array(2.0)], {}),
    ("atleast_2d", NS.atleast_2d, torch.atleast_2d, [np.array(2.0), Y], {}),
    ("atleast_3d", NS.atleast_3d, torch.atleast_3d, [Y, X], {}),
    ("hstack", lambda a, b: NS.hstack([a, b]), lambda a, b: torch.hstack([a, b]), [X, X], {}),
    ("vstack", lambda a, b: NS.vstack([a, b]), lambda a, b: torch.vstack([a, b]), [Y, X], {}),
    ("dstack", lambda a, b: NS.dstack([a, b]), lambda a, b: torch.dstack([a, b]), [X, X], {}),
    ("column_stack", lambda a, b: NS.column_stack([a, b]),
     lambda a, b: torch.column_stack([a, b]), [X[:, 0].copy(), X], {}),
    ("tensor_split", NS.tensor_split, torch.tensor_split, [X, 3, 1], {}),
    ("tensor_split_idx", NS.tensor_split, torch.tensor_split, [X, [1, -1, 9], 1], {}),
    ("hsplit", NS.hsplit, torch.hsplit, [X, 2], {}),
    ("vsplit", NS.vsplit, torch.vsplit, [X, [1]], {}),
    ("dsplit", NS.dsplit, torch.dsplit, [X.reshape(1, 3, 4), 2], {}),
    ("rot90", NS.rot90, torch.rot90, [X, 3, (1, 0)], {}),
    ("diagflat", NS.diagflat, torch.diagflat, [Y, 1], {}),
    ("block_diag", NS.block_diag, torch.block_diag, [X, Y, np.array(1.5)], {}),
    ("cartesian_prod", NS.cartesian_prod, torch.cartesian_prod, [Y, Y[:2].copy()], {}),
    ("combinations", NS.combinations, torch.combinations, [Y, 3, True], {}),
    ("vander", NS.vander, torch.vander, [Y, 3, True], {}),
    ("cross", NS.cross, torch.cross, [X[:, :3].copy(), X[::-1, 1:].copy()], {"dim": 1}),
    ("diff", NS.diff, torch.diff, [X, 2, 0], {"append": X[:1].copy()}),
    ("pixel_shuffle", NS.pixel_shuffle, torch.pixel_shuffle,
     [_rng(5).standard_normal((2, 8, 2, 3)), 2], {}),
    ("pixel_unshuffle", NS.pixel_unshuffle, torch.pixel_unshuffle,
     [_rng(5).standard_normal((2, 1, 4, 6)), 2], {}),
    ("chain_matmul", NS.chain_matmul, torch.chain_matmul,
     [X, X.T.copy(), X], {}),
    # statistics
    ("std_mean", ST.std_mean, torch.std_mean, [X, 1], {}),
    ("var_mean", ST.var_mean, torch.var_mean, [X, (0, 1)], {"correction": 0, "keepdim": True}),
    ("aminmax", ST.aminmax, torch.aminmax, [X], {"dim": 0}),
    ("nansum", ST.nansum, torch.nansum, [NANX, 1], {}),
    ("nanmean", ST.nanmean, torch.nanmean, [NANX, 1, True], {}),
    ("cov", ST.cov, torch.cov, [X], {"correction": 0}),
    ("cov_weights", ST.cov, torch.cov, [X],
     {"fweights": np.array([1, 2, 1, 3]), "aweights": np.array([0.5, 1.0, 2.0, 0.3])}),
    ("corrcoef", ST.corrcoef, torch.corrcoef, [X], {}),
    ("quantile", ST.quantile, torch.quantile, [X, np.array([0.0, 0.3, 1.0]), 1, True], {}),
    ("quantile_nearest", ST.quantile, torch.quantile, [X, 0.4],
     {"interpolation": "nearest"}),
    ("quantile_nan", ST.quantile, torch.quantile, [NANX, 0.5, 1], {}),
    ("nanquantile", ST.nanquantile, torch.nanquantile, [NANX, 0.5, 1],
     {"interpolation": "midpoint"}),
    ("trapezoid", ST.trapezoid, torch.trapezoid, [X, np.cumsum(POS[0])], {}),
    ("cumulative_trapezoid", ST.cumulative_trapezoid, torch.cumulative_trapezoid, [X],
     {"dx": 0.5, "dim": 0}),
    ("renorm", ST.renorm, torch.renorm, [X, 2, 0, 1.0], {}),
    ("dist", ST.dist, torch.dist, [X, Y, 3], {}),
    ("count_nonzero", ST.count_nonzero, torch.count_nonzero,
     [np.array([[0.0, 1.0], [2.0, 0.0]]), (0, 1)], {}),
    # linear algebra
    ("logdet", NL.logdet, torch.logdet, [SPD], {}),
    ("logdet_negative", NL.logdet, torch.logdet, [np.array([[-1.0, 0.0], [0.0, 2.0]])], {}),
    ("slogdet", NL.slogdet, torch.slogdet, [SPD], {}),
    ("cholesky", NL.cholesky, torch.cholesky, [SPD, True], {}),
    ("pinverse", NL.pinverse, torch.pinverse, [X], {}),
    ("svd_no_uv", lambda a: NL.svd(a, compute_uv=False),
     lambda a: torch.svd(a, compute_uv=False), [X], {}),
    # the torch-level functional aliases
    ("dropout_eval", NN.dropout, torch.dropout, [X, 0.5, False], {}),
    ("layer_norm", NN.layer_norm, torch.layer_norm, [X, (4,), Y, Y], {}),
    ("group_norm", NN.group_norm, torch.group_norm, [X.reshape(1, 4, 3), 2], {}),
    ("batch_norm", NN.batch_norm, torch.batch_norm,
     [X, Y, Y, None, None, True, 0.1, 1e-5, False], {}),
    ("instance_norm", NN.instance_norm, torch.instance_norm,
     [X.reshape(1, 3, 4), None, None, None, None, True, 0.1, 1e-5, False], {}),
    ("max_pool2d", NN.max_pool2d, torch.max_pool2d, [X.reshape(1, 1, 3, 4), 2], {}),
    ("max_pool1d", NN.max_pool1d, torch.max_pool1d, [X.reshape(1, 3, 4), 2, 1], {}),
    ("avg_pool1d", NN.avg_pool1d, torch.avg_pool1d, [X.reshape(1, 3, 4), 2], {}),
    ("adaptive_avg_pool1d", NN.adaptive_avg_pool1d, torch.adaptive_avg_pool1d,
     [X.reshape(1, 3, 4), 2], {}),
    ("adaptive_max_pool1d", NN.adaptive_max_pool1d, torch.adaptive_max_pool1d,
     [X.reshape(1, 3, 4), 2], {}),
    ("conv1d", NN.conv1d, torch.conv1d, [X.reshape(1, 3, 4), X.reshape(2, 3, 2)], {}),
    ("conv2d", NN.conv2d, torch.conv2d,
     [X.reshape(1, 1, 3, 4), X[:2, :2].reshape(1, 1, 2, 2).copy(), None, 1, 1], {}),
    ("conv_transpose1d", NN.conv_transpose1d, torch.conv_transpose1d,
     [X.reshape(1, 3, 4), X.reshape(3, 2, 2)], {}),
    ("celu", NN.celu, torch.celu, [X, 0.7], {}),
    ("selu", NN.selu, torch.selu, [X], {}),
    ("threshold", NN.threshold, torch.threshold, [X, 0.1, -2.0], {}),
    ("hardshrink", NN.hardshrink, torch.hardshrink, [X, 0.6], {}),
    ("prelu", NN.prelu, torch.prelu, [X, np.array([0.25])], {}),
    ("rrelu_eval", NN.rrelu, torch.rrelu, [X], {}),
    ("softmax", NN.softmax, torch.softmax, [X, 1], {}),
    ("log_softmax", NN.log_softmax, torch.log_softmax, [X, 0], {}),
    ("pdist", NN.pdist, torch.pdist, [X], {}),
    ("cosine_similarity", NN.cosine_similarity, torch.cosine_similarity, [X, Y[None]], {}),
    ("pairwise_distance", NN.pairwise_distance, torch.pairwise_distance, [X, Y], {}),
]


@pytest.mark.parametrize("name,gf_fn,torch_fn,args,kwargs", VALUE_CASES,
                         ids=[c[0] for c in VALUE_CASES])
def test_values_and_grads_match_torch(name, gf_fn, torch_fn, args, kwargs):
    if any(isinstance(v, np.ndarray) for v in kwargs.values()):
        _compare_array_kwargs(gf_fn, torch_fn, args, kwargs)
    else:
        # torch.vander's own backward fails (it modifies a saved view in place): the oracle
        # cases check vander's gradient against JAX instead
        compare(gf_fn, torch_fn, args, kwargs, grad=name != "vander")


def _compare_array_kwargs(gf_fn, torch_fn, args, kwargs):
    """Values only (tensor keyword arguments: weights, an appended slice)."""
    g = gf_fn(*[_to_gf(a, False) for a in args],
              **{k: _to_gf(v, False) for k, v in kwargs.items()})
    t = torch_fn(*[_to_torch(a, False) for a in args],
                 **{k: _to_torch(v, False) for k, v in kwargs.items()})
    for a, b in zip(_flat(g), _flat(t)):
        _same(a, b)


def test_torch_svd_qr_factors():
    a = _rng(6).standard_normal((4, 3))
    for some in (True, False):
        u, s, v = NL.svd(gf.tensor(a), some)
        tu, ts, tv = torch.svd(torch.tensor(a), some)
        assert tuple(u.shape) == tuple(tu.shape) and tuple(v.shape) == tuple(tv.shape)
        _same(s, ts)
        k = 3
        rec = (u[:, :k] * s) @ v.transpose(0, 1)  # V, not Vᴴ
        np.testing.assert_allclose(rec.numpy(), a, atol=1e-12)
        q, r = NL.qr(gf.tensor(a), some)
        tq, tr = torch.linalg.qr(torch.tensor(a), "reduced" if some else "complete")
        assert tuple(q.shape) == tuple(tq.shape) and tuple(r.shape) == tuple(tr.shape)
        np.testing.assert_allclose((q @ r).numpy(), a, atol=1e-12)


def test_embedding_and_dropout_aliases():
    w = gf.tensor(X, requires_grad=True)
    tw = torch.tensor(X, requires_grad=True)
    idx = np.array([[0, 2], [2, 1]])
    g = NN.embedding(w, gf.tensor(idx), 2)
    t = torch.embedding(tw, torch.tensor(idx), 2)
    _same(g, t)
    (g * g).sum().backward()
    (t * t).sum().backward()
    _same(w.grad, tw.grad)  # the padding row gets no gradient
    gf.manual_seed(0)
    d = NN.dropout(gf.ones(1000), 0.3, True)
    kept = d.numpy() != 0
    np.testing.assert_allclose(d.numpy()[kept], 1 / 0.7, rtol=1e-6)
    assert 0.6 < kept.mean() < 0.8
    with pytest.raises(TypeError, match="train"):
        NN.dropout(gf.ones(3), 0.5, 1)


INT = np.array([[3, -1, 0], [2, 5, 4]])


@pytest.mark.parametrize("name", ["erfc", "lgamma", "digamma", "deg2rad", "rad2deg", "sinc",
                                  "logit", "signbit", "absolute", "negative"])
def test_integer_inputs_unary_dtype(name):
    g = getattr(NM, name)(gf.tensor(INT))
    t = getattr(torch, name)(torch.tensor(INT))
    _same(g, t)


@pytest.mark.parametrize("name", ["copysign", "xlogy", "fmax", "fmin", "gcd", "lcm",
                                  "multiply", "subtract", "true_divide", "float_power"])
def test_integer_inputs_binary_dtype(name):
    other = np.array([2, 3, 1])
    g = getattr(NM, name)(gf.tensor(INT), gf.tensor(other))
    t = getattr(torch, name)(torch.tensor(INT), torch.tensor(other))
    _same(g, t)


def test_integer_and_mixed_dtypes_of_shape_and_stats():
    i32 = np.array([1, 2, 3], dtype=np.int32)
    for fn, tfn, args in [
        (NS.hstack, torch.hstack, [[i32, np.array([0.5])]]),
        (NS.block_diag, torch.block_diag, [i32, np.array([[1.5]], dtype=np.float32)]),
        (NS.vander, torch.vander, [i32]),
        (NS.diff, torch.diff, [np.array([True, False, False])]),
        (ST.nansum, torch.nansum, [i32]),
        (ST.cov, torch.cov, [INT]),
        (ST.count_nonzero, torch.count_nonzero, [INT]),
        (ST.trapezoid, torch.trapezoid, [i32]),
        (NS.tril_indices, torch.tril_indices, [3, 4, 1]),
        (NS.triu_indices, torch.triu_indices, [4, 3, -1]),
        (NS.combinations, torch.combinations, [i32, 0]),
        (NS.combinations, torch.combinations, [i32, 4]),
    ]:
        g = fn(*[gf.tensor(a) if isinstance(a, np.ndarray) else
                 [gf.tensor(x) for x in a] if isinstance(a, list) else a for a in args])
        t = tfn(*[torch.tensor(a) if isinstance(a, np.ndarray) else
                  [torch.tensor(x) for x in a] if isinstance(a, list) else a for a in args])
        _same(g, t)
    g = NM.addcmul(gf.tensor(INT), gf.tensor(INT), gf.tensor(INT), value=2)
    _same(g, torch.addcmul(torch.tensor(INT), torch.tensor(INT), torch.tensor(INT), value=2))
    assert NM.float_power(gf.tensor(INT), 2).dtype == gf.float64


def test_dtype_queries_match_torch():
    tdt = {gf.float16: torch.float16, gf.bfloat16: torch.bfloat16, gf.float32: torch.float32,
           gf.float64: torch.float64, gf.int8: torch.int8, gf.uint8: torch.uint8,
           gf.int16: torch.int16, gf.int32: torch.int32, gf.int64: torch.int64,
           gf.bool_: torch.bool,
           gf.complex64: torch.complex64, gf.complex128: torch.complex128}
    names = {v: k for k, v in tdt.items()}
    for a, ta in tdt.items():
        for b, tb in tdt.items():
            assert NM.can_cast(a, b) == torch.can_cast(ta, tb), (a, b)
            assert NM.promote_types(a, b) == names[torch.promote_types(ta, tb)], (a, b)
    for x, tx in [(gf.tensor([1, 2]), torch.tensor([1, 2])),
                  (gf.tensor(1.0, dtype=gf.float64), torch.tensor(1.0, dtype=torch.float64))]:
        for other, tother in [(2.5, 2.5), (3, 3), (gf.tensor([1.0]), torch.tensor([1.0]))]:
            assert NM.result_type(x, other) == names[torch.result_type(tx, tother)]
    assert NM.result_type(1, 2.0) == names[torch.result_type(1, 2.0)]
    for arr in (np.array([1.0]), np.array([1]), np.array([True])):  # (gradflow has no complex
        # tensors: is_complex is False and isreal all True for every gradflow tensor)
        g, t = gf.tensor(arr), torch.tensor(arr)
        assert NM.is_floating_point(g) == torch.is_floating_point(t)
        assert NM.is_complex(g) == torch.is_complex(t)
        assert g.is_floating_point() == t.is_floating_point()
        _same(NM.isreal(g), torch.isreal(t))
    assert NM.is_nonzero(gf.tensor([0.0])) is False and NM.is_nonzero(gf.tensor(3)) is True
    _same(NM.isin(gf.tensor(INT), gf.tensor([0, 5])), torch.isin(torch.tensor(INT),
                                                               torch.tensor([0, 5])))
    _same(NM.isin(gf.tensor(INT), 5, invert=True), torch.isin(torch.tensor(INT), 5, invert=True))


def _raises_like(gf_call, torch_call, *words):
    with pytest.raises(Exception) as texc:
        torch_call()
    with pytest.raises(type(texc.value)) as gexc:
        gf_call()
    msg = str(gexc.value)
    for w in words:
        assert w in msg, (w, msg)


T = torch.tensor


def test_errors_match_torch_types():
    g23, t23 = gf.ones(2, 3), torch.ones(2, 3)
    i2, ti2 = gf.tensor([1, 2]), T([1, 2])
    cases = [
        (lambda: NM.positive(gf.tensor([True])), lambda: torch.positive(T([True])),
         "positive", "bool"),
        (lambda: NM.hypot(i2, i2), lambda: torch.hypot(ti2, ti2), "hypot", "int64"),
        (lambda: NM.logaddexp(i2, i2), lambda: torch.logaddexp(ti2, ti2), "logaddexp"),
        (lambda: NM.gcd(g23, g23), lambda: torch.gcd(t23, t23), "gcd", "float32"),
        (lambda: NM.addcdiv(i2, i2, i2), lambda: torch.addcdiv(ti2, ti2, ti2), "addcdiv"),
        (lambda: NM.heaviside(g23, i2), lambda: torch.heaviside(t23, ti2), "heaviside"),
        (lambda: NM.is_nonzero(g23), lambda: torch.is_nonzero(t23), "is_nonzero", "6"),
        (lambda: NS.unflatten(g23, 1, (2, -1)), lambda: torch.unflatten(t23, 1, (2, -1)),
         "unflatten", "[2, -1]"),
        (lambda: NS.hsplit(g23, 2), lambda: torch.hsplit(t23, 2), "hsplit", "3"),
        (lambda: NS.vsplit(gf.ones(4), 2), lambda: torch.vsplit(torch.ones(4), 2), "vsplit"),
        (lambda: NS.dsplit(g23, 2), lambda: torch.dsplit(t23, 2), "dsplit"),
        (lambda: NS.rot90(g23, 1, (0, 0)), lambda: torch.rot90(t23, 1, (0, 0)), "rot90"),
        (lambda: NS.rot90(gf.ones(3)), lambda: torch.rot90(torch.ones(3)), "rot90"),
        (lambda: NS.select(g23, 1, 5), lambda: torch.select(t23, 1, 5), "select", "5"),
        (lambda: NS.select(g23, 2, 0), lambda: torch.select(t23, 2, 0), "select"),
        (lambda: NS.broadcast_shapes((2, 3), (4,)), lambda: torch.broadcast_shapes((2, 3), (4,)),
         "broadcast_shapes", "4"),
        (lambda: NS.block_diag(gf.ones(2, 2, 2)), lambda: torch.block_diag(torch.ones(2, 2, 2)),
         "block_diag", "3 dimensions"),
        (lambda: NS.cross(gf.ones(4, 2), gf.ones(4, 2)),
         lambda: torch.cross(torch.ones(4, 2), torch.ones(4, 2)), "cross", "size 3"),
        (lambda: NS.pixel_shuffle(gf.ones(1, 5, 2, 2), 2),
         lambda: torch.pixel_shuffle(torch.ones(1, 5, 2, 2), 2), "pixel_shuffle", "5"),
        (lambda: NS.pixel_unshuffle(gf.ones(1, 1, 3, 4), 2),
         lambda: torch.pixel_unshuffle(torch.ones(1, 1, 3, 4), 2), "pixel_unshuffle", "3"),
        (lambda: NS.diff(gf.tensor(1.0)), lambda: torch.diff(T(1.0)), "diff"),
        (lambda: NS.combinations(g23), lambda: torch.combinations(t23), "combinations"),
        (lambda: NS.cartesian_prod(g23), lambda: torch.cartesian_prod(t23), "cartesian_prod"),
        (lambda: NS.vander(g23), lambda: torch.vander(t23), "vander"),
        (lambda: NS.tensor_split(gf.tensor(1.0), 2), lambda: torch.tensor_split(T(1.0), 2),
         "tensor_split"),
        (lambda: ST.nanmean(i2), lambda: torch.nanmean(ti2), "nanmean", "int64"),
        (lambda: ST.aminmax(gf.ones(0)), lambda: torch.aminmax(torch.ones(0)), "aminmax"),
        (lambda: ST.quantile(g23, 1.5), lambda: torch.quantile(t23, 1.5), "quantile", "1.5"),
        (lambda: ST.quantile(i2, 0.5), lambda: torch.quantile(ti2, 0.5), "quantile", "int64"),
        (lambda: ST.quantile(g23, gf.tensor([0.5], dtype=gf.float64)),
         lambda: torch.quantile(t23, T([0.5], dtype=torch.float64)), "quantile", "float64"),
        (lambda: ST.quantile(g23, 0.5, interpolation="cubic"),
         lambda: torch.quantile(t23, 0.5, interpolation="cubic"), "quantile", "cubic"),
        (lambda: ST.cov(gf.ones(2, 2, 2)), lambda: torch.cov(torch.ones(2, 2, 2)), "cov"),
        (lambda: ST.cov(g23, fweights=gf.tensor([1.0, 2.0, 1.0])),
         lambda: torch.cov(t23, fweights=T([1.0, 2.0, 1.0])), "cov", "fweights"),
        (lambda: ST.renorm(gf.ones(3), 2, 0, 1.0), lambda: torch.renorm(torch.ones(3), 2, 0, 1.0),
         "renorm"),
        (lambda: ST.poisson(i2), lambda: torch.poisson(ti2), "poisson", "int64"),
        (lambda: NL.pinverse(i2.reshape(1, 2)), lambda: torch.pinverse(ti2.reshape(1, 2)),
         "pinverse"),
        (lambda: NM.promote_types(gf.tensor(1), gf.int32),
         lambda: torch.promote_types(T(1), torch.int32), "promote_types", "type1"),
        (lambda: TC.set_default_dtype(gf.int64), lambda: torch.set_default_dtype(torch.int64),
         "set_default_dtype", "int64"),
        (lambda: TC.set_num_threads(0), lambda: torch.set_num_threads(0), "set_num_threads"),
        (lambda: TC.set_num_threads(2.5), lambda: torch.set_num_threads(2.5), "int"),
        (lambda: TC.use_deterministic_algorithms(1),
         lambda: torch.use_deterministic_algorithms(1), "mode"),
    ]
    for gf_call, torch_call, *words in cases:
        _raises_like(gf_call, torch_call, *words)


def test_poisson_draws():
    rates = gf.tensor([0.0, 1.0, 50.0] * 400)
    a = ST.poisson(rates, generator=gf.Generator().manual_seed(3))
    b = ST.poisson(rates, generator=gf.Generator().manual_seed(3))
    assert a.dtype == gf.float32 and np.array_equal(a.numpy(), b.numpy())
    draws = a.numpy().reshape(-1, 3)
    assert (draws[:, 0] == 0).all()
    assert abs(draws[:, 1].mean() - 1.0) < 0.15 and abs(draws[:, 2].mean() - 50.0) < 1.5
    assert not a.requires_grad


def test_set_default_dtype_moves_creation_and_promotion():
    try:
        TC.set_default_dtype(gf.float64)
        torch.set_default_dtype(torch.float64)
        assert gf.get_default_dtype() == gf.float64
        for g, t in [(gf.tensor([1.5]), torch.tensor([1.5])), (gf.zeros(2), torch.zeros(2)),
                     (gf.ones(2), torch.ones(2)), (gf.rand(2), torch.rand(2)),
                     (gf.randn(2), torch.randn(2)), (gf.linspace(0, 1, 3),
                                                     torch.linspace(0, 1, 3)),
                     (gf.eye(2), torch.eye(2)), (gf.full((2,), 1.5), torch.full((2,), 1.5)),
                     (gf.arange(0.0, 2.0), torch.arange(0.0, 2.0)),
                     (gf.tensor([1, 2]) / 2, torch.tensor([1, 2]) / 2),
                     (gf.tensor([1, 2]) * 2.5, torch.tensor([1, 2]) * 2.5),
                     (gf.tensor([1, 2]).exp(), torch.tensor([1, 2]).exp()),
                     (NM.erfc(gf.tensor([1])), torch.erfc(torch.tensor([1])))]:
            assert str(g.dtype) == str(t.dtype).replace("torch.", ""), (g, t)
        TC.set_default_dtype(gf.float16)
        assert gf.zeros(1).dtype == gf.float16
    finally:
        TC.set_default_dtype(gf.float32)
        torch.set_default_dtype(torch.float32)
    assert gf.zeros(1).dtype == gf.float32 and gf.tensor([1.0]).dtype == gf.float32
    with pytest.raises(RuntimeError, match="bfloat16"):
        TC.set_default_dtype(gf.bfloat16)
    with pytest.raises(TypeError, match="floating"):
        TC.set_default_dtype("float64")


def test_deterministic_mode_and_threads():
    assert TC.are_deterministic_algorithms_enabled() is False
    try:
        TC.use_deterministic_algorithms(True, warn_only=True)
        assert TC.are_deterministic_algorithms_enabled() is True
        assert TC.is_deterministic_algorithms_warn_only_enabled() is True
    finally:
        TC.use_deterministic_algorithms(False)
    assert TC.are_deterministic_algorithms_enabled() is False
    pytest.importorskip("threadpoolctl")
    before = TC.get_num_threads()
    assert isinstance(before, int) and before >= 1
    try:
        TC.set_num_threads(1)
        assert TC.get_num_threads() == 1
    finally:
        TC.set_num_threads(before)
    assert TC.get_num_threads() == before


# ---- positional parameter names against torch's ---------------------------------------------

# torch's C functions have no inspect.signature; their docstring's first line (or, for the
# undocumented aliases, the "missing required positional arguments" list) names the parameters.
_UNDOCUMENTED = {  # torch.<name>'s positional parameters, read from its argument parser
    "dropout": ["input", "p", "train"],
    "embedding": ["weight", "indices", "padding_idx", "scale_grad_by_freq", "sparse"],
    "batch_norm": ["input", "weight", "bias", "running_mean", "running_var", "training",
                   "momentum", "eps", "cudnn_enabled"],
    "instance_norm": ["input", "weight", "bias", "running_mean", "running_var",
                      "use_input_stats", "momentum", "eps", "cudnn_enabled"],
    "layer_norm": ["input", "normalized_shape", "weight", "bias", "eps", "cudnn_enable"],
    "group_norm": ["input", "num_groups", "weight", "bias", "eps", "cudnn_enabled"],
    "max_pool1d": ["input", "kernel_size", "stride", "padding", "dilation", "ceil_mode"],
    "max_pool2d": ["input", "kernel_size", "stride", "padding", "dilation", "ceil_mode"],
    "celu": ["input", "alpha"], "selu": ["input"], "threshold": ["input", "threshold", "value"],
    "rrelu": ["input", "lower", "upper", "training", "generator"],
    "clamp_min": ["input", "min"], "clamp_max": ["input", "max"],
    "true_divide": ["input", "other"],  # the docstring's dividend/divisor are not the binding's
    "adaptive_avg_pool1d": ["input", "output_size"],
    "adaptive_max_pool1d": ["input", "output_size"],
    "softmax": ["input", "dim", "dtype"], "log_softmax": ["input", "dim", "dtype"],
    "conv_transpose1d": ["input", "weight", "bias", "stride", "padding", "output_padding",
                         "groups", "dilation"],
    "conv_transpose2d": ["input", "weight", "bias", "stride", "padding", "output_padding",
                         "groups", "dilation"],
    "conv_transpose3d": ["input", "weight", "bias", "stride", "padding", "output_padding",
                         "groups", "dilation"],
    "conv3d": ["input", "weight", "bias", "stride", "padding", "dilation", "groups"],
    "pdist": ["input", "p"], "polygamma": ["n", "input"],
    "set_default_dtype": ["d"], "set_num_threads": ["num"], "get_num_threads": [],
    "aminmax": ["input"],
}


def _torch_positional(name: str) -> list[str] | None:
    if name in _UNDOCUMENTED:
        return _UNDOCUMENTED[name]
    fn = getattr(torch, name)
    try:
        sig = inspect.signature(fn)
        return [p.name for p in sig.parameters.values()
                if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL)
                and p.name != "out"]
    except (TypeError, ValueError):
        pass
    doc = (fn.__doc__ or "").strip().split("\n")[0]
    if not doc.startswith(f"{name}("):
        return None
    names, depth, token = [], 0, ""
    for ch in doc[len(name) + 1:]:
        if depth == 0 and ch in ",)":
            token = token.split("=")[0].split(":")[0].strip()
            if token.startswith("*"):
                break
            if token:
                names.append(token)
            token = ""
            if ch == ")":
                break
            continue
        depth += ch in "([{"
        depth -= ch in ")]}"
        token += ch
    return names


_NOT_TORCH = {"is_deterministic_algorithms_warn_only_enabled"}  # torch has it; no signature
_SIGNATURE_NAMES = sorted(n for n in EXPORTS if hasattr(torch, n) and n not in _NOT_TORCH)


@pytest.mark.parametrize("name", _SIGNATURE_NAMES)
def test_positional_names_match_torch(name):
    expected = _torch_positional(name)
    assert expected is not None, f"no signature found for torch.{name}"
    ours = [p.name for p in inspect.signature(EXPORTS[name]).parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL)]
    assert ours[:len(expected)] == expected, (ours, expected)


def test_every_listed_name_exists_in_torch_and_here():
    listed = [
        "is_floating_point", "is_complex", "is_nonzero", "result_type", "can_cast",
        "promote_types", "set_default_dtype", "clone", "hstack", "vstack", "dstack",
        "column_stack", "broadcast_tensors", "broadcast_to", "broadcast_shapes", "atleast_1d",
        "atleast_2d", "atleast_3d", "unflatten", "count_nonzero", "diff", "cross", "std_mean",
        "var_mean", "aminmax", "logaddexp", "logaddexp2", "hypot", "xlogy", "nanmean", "nansum",
        "cov", "corrcoef", "cartesian_prod", "combinations", "block_diag", "rot90", "poisson",
        "tensor_split", "hsplit", "vsplit", "dsplit", "clamp_min", "clamp_max", "absolute",
        "negative", "positive", "float_power", "true_divide", "multiply", "subtract", "addcmul",
        "addcdiv", "heaviside", "gcd", "lcm", "deg2rad", "rad2deg", "sinc", "logit", "erfc",
        "lgamma", "digamma", "polygamma", "signbit", "copysign", "fmax", "fmin", "quantile",
        "nanquantile", "logdet", "pinverse", "chain_matmul", "trapezoid", "cumulative_trapezoid",
        "vander", "tril_indices", "triu_indices", "ravel", "select", "diagflat", "renorm", "dist",
        "isin", "isreal", "cosine_similarity", "pairwise_distance", "pixel_shuffle",
        "pixel_unshuffle", "use_deterministic_algorithms", "are_deterministic_algorithms_enabled",
        "set_num_threads", "get_num_threads", "dropout", "conv1d", "conv2d", "conv3d",
        "conv_transpose1d", "conv_transpose2d", "conv_transpose3d", "max_pool1d", "max_pool2d",
        "avg_pool1d", "adaptive_avg_pool1d", "adaptive_max_pool1d", "batch_norm", "layer_norm",
        "group_norm", "instance_norm", "embedding", "celu", "selu", "threshold", "hardshrink",
        "prelu", "rrelu", "softmax", "log_softmax", "pdist", "slogdet", "cholesky", "qr", "svd",
    ]
    for name in listed:
        assert hasattr(torch, name), name
        assert name in EXPORTS, name


_METHODS = [
    "erfc", "lgamma", "digamma", "polygamma", "absolute", "negative", "positive", "multiply",
    "subtract", "true_divide", "clamp_min", "clamp_max", "float_power", "addcmul", "addcdiv",
    "heaviside", "gcd", "lcm", "deg2rad", "rad2deg", "sinc", "logit", "signbit", "copysign",
    "fmax", "fmin", "logaddexp", "logaddexp2", "hypot", "xlogy", "is_floating_point",
    "is_complex", "is_nonzero", "isreal", "ravel", "select", "unflatten", "tensor_split",
    "hsplit", "vsplit", "dsplit", "rot90", "diagflat", "cross", "diff", "count_nonzero",
    "aminmax", "nansum", "nanmean", "cov", "corrcoef", "quantile", "nanquantile", "renorm",
    "dist", "svd", "qr", "cholesky", "slogdet", "logdet", "pinverse", "clamp_min_",
    "clamp_max_", "erfc_", "lgamma_", "digamma_", "absolute_", "negative_", "multiply_",
    "subtract_", "true_divide_", "addcmul_", "addcdiv_", "gcd_", "lcm_", "deg2rad_",
    "rad2deg_", "sinc_", "logit_", "copysign_", "hypot_", "xlogy_", "float_power_",
    "heaviside_",
]


@pytest.mark.parametrize("name", _METHODS)
def test_tensor_methods_exist_as_in_torch(name):
    assert hasattr(torch.Tensor, name), name
    assert hasattr(gf.Tensor, name), name


def test_tensor_methods_compute_as_functions():
    x = gf.tensor(X)
    np.testing.assert_allclose(x.logaddexp(gf.tensor(Y)).numpy(),
                               NM.logaddexp(x, gf.tensor(Y)).numpy())
    assert x.quantile(0.5, 1).shape == (3,)
    u, s, v = x.svd()
    assert tuple(v.shape) == (4, 3)
    assert [t.shape[1] for t in x.hsplit(2)] == [2, 2]
    assert x.unflatten(1, (2, 2)).shape == (3, 2, 2)
    assert x.aminmax(dim=0).max.shape == (4,)
    assert NM.polygamma(1, gf.tensor([1.0])).item() == pytest.approx(np.pi ** 2 / 6)
    assert gf.tensor([2.0]).polygamma(1).item() == pytest.approx(np.pi ** 2 / 6 - 1)


def test_inplace_methods_follow_torch():
    a, ta = gf.tensor(X.copy()), torch.tensor(X.copy())
    v0 = a._version if hasattr(a, "_version") else None
    a.clamp_min_(0.1).xlogy_(gf.tensor(POS)).addcmul_(a, a, value=0.5)
    ta.clamp_min_(0.1).xlogy_(torch.tensor(POS)).addcmul_(ta, ta, value=0.5)
    _same(a, ta)
    if v0 is not None:
        assert a._version > v0
    leaf = gf.tensor(X, requires_grad=True)
    with pytest.raises(RuntimeError):
        leaf.sinc_()
    i = gf.tensor(INT.copy())
    with pytest.raises(RuntimeError):  # the float result does not fit an integer tensor
        i.deg2rad_()
    b = gf.tensor(INT.copy())
    b.gcd_(gf.tensor([2, 3, 1]))
    _same(b, torch.tensor(INT.copy()).gcd_(torch.tensor([2, 3, 1])))


def test_second_order_through_special_functions():
    x = gf.tensor([0.7, 2.5], dtype=gf.float64, requires_grad=True)
    tx = torch.tensor([0.7, 2.5], dtype=torch.float64, requires_grad=True)
    for fn, tfn in [(NM.lgamma, torch.lgamma), (NM.digamma, torch.digamma),
                    (NM.erfc, torch.erfc), (NM.sinc, torch.sinc)]:
        (g,) = gf.grad(fn(x).sum(), [x], create_graph=True)
        (h,) = gf.grad(g.sum(), [x])
        (tg,) = torch.autograd.grad(tfn(tx).sum(), [tx], create_graph=True)
        (th,) = torch.autograd.grad(tg.sum(), [tx])
        np.testing.assert_allclose(h.numpy(), th.numpy(), rtol=1e-8)  # SciPy's vs torch's
