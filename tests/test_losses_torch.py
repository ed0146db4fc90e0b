"""Losses against PyTorch in float64: every option (weight, ignore_index, label smoothing,
probability targets, K-dim inputs, beta/delta, pos_weight) and reduction, values, first-order
gradients and Hessian-vector products; then one test per class of bad input."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from torch_compare import TOL
from torch_compare import compare_with_torch as _compare

import gradflow as gf
import gradflow.functional as F
from gradflow import nn

torch = pytest.importorskip("torch")
TF = torch.nn.functional

REDUCTIONS = ["mean", "sum", "none"]


def _tt(a):
    return None if a is None else torch.tensor(a)


def _gt(a):
    return None if a is None else gf.tensor(a, dtype="float64")


# --- cross_entropy / nll_loss with class indices ----------------------------------------------
SHAPES = [(6, 5), (3, 4, 5), (2, 3, 4, 2), (5,)]
# (weight?, ignore_index, put ignored targets in?, label_smoothing)
OPTIONS = [(False, -100, False, 0.0), (False, -100, True, 0.0), (True, -100, False, 0.0),
           (True, 1, True, 0.0), (False, 2, True, 0.3), (True, -100, True, 0.25)]


def _targets(rng, shape, ignore_index, put_ignored):
    c = shape[0] if len(shape) == 1 else shape[1]
    tshape = () if len(shape) == 1 else (shape[0],) + shape[2:]
    t = rng.integers(0, c, tshape)
    if put_ignored and t.ndim:
        t.reshape(-1)[::3] = ignore_index
    return t, c


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("options", OPTIONS, ids=str)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_cross_entropy_indices(shape, options, reduction, rng):
    use_w, ii, put, eps = options
    x = 3 * rng.standard_normal(shape)
    t, c = _targets(rng, shape, ii, put)
    w = rng.uniform(0.2, 2.0, c) if use_w else None
    _compare(lambda z, t: F.cross_entropy(z, t, _gt(w), ignore_index=ii, reduction=reduction,
                                          label_smoothing=eps),
             lambda z, t: TF.cross_entropy(z, t, _tt(w), ignore_index=ii, reduction=reduction,
                                           label_smoothing=eps), [x], [t])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("options", OPTIONS[:4], ids=str)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_nll_loss(shape, options, reduction, rng):
    use_w, ii, put, _ = options
    logp = np.log(rng.dirichlet(np.ones(shape[0] if len(shape) == 1 else shape[1]),
                                size=int(np.prod(shape)) // (shape[0] if len(shape) == 1
                                                             else shape[1])))
    x = np.moveaxis(logp.reshape((shape[:1] + shape[2:] if len(shape) > 1 else ())
                                 + logp.shape[-1:]), -1, 0 if len(shape) == 1 else 1)
    t, c = _targets(rng, shape, ii, put)
    w = rng.uniform(0.2, 2.0, c) if use_w else None
    _compare(lambda a, t: F.nll_loss(a, t, _gt(w), ignore_index=ii, reduction=reduction),
             lambda a, t: TF.nll_loss(a, t, _tt(w), ignore_index=ii, reduction=reduction),
             [np.ascontiguousarray(x)], [t])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("options", OPTIONS, ids=str)
def test_cross_entropy_extreme_logits(options, reduction, rng):
    use_w, ii, put, eps = options
    x = np.array([[1e4, -1e4, 0.0, 3.0], [-1e4, 1e4, 9999.0, 0.0], [0.0, 0.0, -1e4, 1e4],
                  [5e3, -5e3, 1.0, 2.0]])
    t = np.array([1, 2, 3, 0])
    if put:
        t[1] = ii
    w = rng.uniform(0.2, 2.0, 4) if use_w else None
    _compare(lambda z, t: F.cross_entropy(z, t, _gt(w), ignore_index=ii, reduction=reduction,
                                          label_smoothing=eps),
             lambda z, t: TF.cross_entropy(z, t, _tt(w), ignore_index=ii, reduction=reduction,
                                           label_smoothing=eps), [x], [t])


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_nll_loss_ignores_infinite_log_probs_off_target(reduction):
    x = np.array([[np.log(0.5), np.log(0.5), -np.inf], [-np.inf, np.log(0.25), np.log(0.75)]])
    _compare(lambda a, t: F.nll_loss(a, t, reduction=reduction),
             lambda a, t: TF.nll_loss(a, t, reduction=reduction), [x], [np.array([1, 2])])


@pytest.mark.parametrize("use_w", [False, True])
@pytest.mark.parametrize("eps", [0.0, 0.2])
def test_all_ignored_mean_is_nan_with_zero_gradient(use_w, eps):
    x = np.random.default_rng(0).standard_normal((3, 4))
    t = np.array([-100, -100, -100])
    w = np.linspace(0.5, 2, 4) if use_w else None
    zg = gf.tensor(x, dtype="float64", requires_grad=True)
    zt = torch.tensor(x, requires_grad=True)
    lg = F.cross_entropy(zg, gf.tensor(t), _gt(w), label_smoothing=eps)
    lt = TF.cross_entropy(zt, torch.tensor(t), _tt(w), label_smoothing=eps)
    assert np.isnan(lg.item()) and np.isnan(lt.item())
    lg.backward()
    lt.backward()
    np.testing.assert_array_equal(zg.grad.numpy(), zt.grad.numpy())
    assert F.cross_entropy(zg, gf.tensor(t), reduction="sum").item() == 0.0
    assert np.isnan(F.nll_loss(zg, gf.tensor(t)).item())


def test_empty_batch_mean_is_nan_sum_is_zero():
    z = gf.zeros(0, 3, dtype="float64", requires_grad=True)
    assert np.isnan(F.cross_entropy(z, gf.zeros(0, dtype="int64")).item())
    assert F.cross_entropy(z, gf.zeros(0, dtype="int64"), reduction="sum").item() == 0.0
    assert np.isnan(F.cross_entropy(z, gf.zeros(0, 3, dtype="float64")).item())
    assert np.isnan(F.mse_loss(gf.zeros(0), gf.zeros(0)).item())


@pytest.mark.parametrize("dtype", ["int32", "uint8", "int16"])
def test_other_integer_targets_match_long(dtype, rng):
    x = rng.standard_normal((5, 4))
    t = rng.integers(0, 4, 5)
    ours = F.cross_entropy(gf.tensor(x, dtype="float64"), gf.tensor(t, dtype=dtype))
    np.testing.assert_allclose(ours.item(), TF.cross_entropy(torch.tensor(x),
                                                             torch.tensor(t)).item(), **TOL)


# --- probability targets ------------------------------------------------------------------
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("use_w", [False, True])
@pytest.mark.parametrize("eps", [0.0, 0.15])
@pytest.mark.parametrize("shape", [(6, 4), (2, 4, 3), (4,)], ids=str)
def test_cross_entropy_probabilities(shape, eps, use_w, reduction, rng):
    x = 2 * rng.standard_normal(shape)
    axis = 0 if len(shape) == 1 else 1
    e = np.exp(rng.standard_normal(shape))
    q = e / e.sum(axis, keepdims=True)
    w = rng.uniform(0.2, 2.0, shape[axis]) if use_w else None
    # the weight is differentiable here in PyTorch too (a composition there)
    diff = [x, q] + ([w] if use_w else [])

    def ours(z, q, w=None):
        return F.cross_entropy(z, q, w, reduction=reduction, label_smoothing=eps)

    def theirs(z, q, w=None):
        return TF.cross_entropy(z, q, w, reduction=reduction, label_smoothing=eps)

    _compare(ours, theirs, diff)


def test_cross_entropy_probabilities_extreme_logits():
    x = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 9999.0]])
    q = np.array([[0.5, 0.25, 0.25], [0.0, 0.0, 1.0]])
    _compare(lambda z: F.cross_entropy(z, gf.tensor(q, dtype="float64"), label_smoothing=0.1),
             lambda z: TF.cross_entropy(z, torch.tensor(q), label_smoothing=0.1), [x])


# --- regression --------------------------------------------------------------------------------
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("beta", [0.0, 0.5, 1.0, 2.5])
def test_smooth_l1_loss(beta, reduction, rng):
    a = 2 * rng.standard_normal((5, 4))
    b = a + rng.uniform(-4, 4, (5, 4))
    _compare(lambda a, b: F.smooth_l1_loss(a, b, reduction=reduction, beta=beta),
             lambda a, b: TF.smooth_l1_loss(a, b, reduction=reduction, beta=beta), [a, b])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("delta", [0.3, 1.0, 3.0])
@pytest.mark.parametrize("use_w", [False, True])
def test_huber_loss(delta, reduction, use_w, rng):
    a = 2 * rng.standard_normal((5, 4))
    b = a + rng.uniform(-5, 5, (5, 4))
    w = rng.uniform(0.1, 2, (5, 4)) if use_w else None
    _compare(lambda a, b: F.huber_loss(a, b, reduction, delta, _gt(w)),
             lambda a, b: TF.huber_loss(a, b, reduction, delta, _tt(w)), [a, b])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name", ["mse_loss", "l1_loss"])
def test_mse_l1_weight(name, reduction, rng):
    a = rng.standard_normal((4, 3))
    b = rng.standard_normal((4, 3))
    w = rng.uniform(0.1, 2, (4, 3))
    _compare(lambda a, b, w: getattr(F, name)(a, b, reduction=reduction, weight=w),
             lambda a, b, w: getattr(TF, name)(a, b, reduction=reduction, weight=w),
             [a, b, w])


@pytest.mark.parametrize("name", ["mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss"])
def test_target_of_another_shape_warns_and_broadcasts(name, rng):
    a, b = rng.standard_normal((4, 1)), rng.standard_normal(4)
    with pytest.warns(UserWarning, match=rf"{name}: Using a target size \(\(4,\)\) that is "
                      r"different to the input size \(\(4, 1\)\)"):
        ours = getattr(F, name)(gf.tensor(a, dtype="float64"), gf.tensor(b, dtype="float64"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = getattr(TF, name)(torch.tensor(a), torch.tensor(b))
        _compare(lambda a, b: getattr(F, name)(a, b, reduction="none"),
                 lambda a, b: getattr(TF, name)(a, b, reduction="none"), [a, b])
    np.testing.assert_allclose(ours.item(), theirs.item(), **TOL)


@pytest.mark.parametrize("name", ["mse_loss", "l1_loss"])
def test_size_average_and_reduce_as_torch(name, rng):
    a, b = rng.standard_normal(5), rng.standard_normal(5)
    for sa, rd in [(False, None), (None, False), (True, True)]:
        with pytest.warns(UserWarning, match="size_average and reduce args will be deprecated"):
            ours = getattr(F, name)(gf.tensor(a, dtype="float64"), gf.tensor(b, dtype="float64"),
                                    sa, rd)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            theirs = getattr(TF, name)(torch.tensor(a), torch.tensor(b), sa, rd)
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), **TOL)


# --- binary cross-entropy ----------------------------------------------------------------------
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("use_w", [False, True])
def test_binary_cross_entropy(reduction, use_w, rng):
    p = rng.uniform(0.02, 0.98, (5, 3))
    t = rng.uniform(0, 1, (5, 3))
    w = rng.uniform(0.1, 2, (3,)) if use_w else None
    _compare(lambda p, t: F.binary_cross_entropy(p, t, _gt(w), reduction=reduction),
             lambda p, t: TF.binary_cross_entropy(p, t, _tt(w), reduction=reduction), [p, t])


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_binary_cross_entropy_at_zero_and_one_is_clamped_as_torch(reduction):
    p = np.array([0.0, 1.0, 1e-13, 1 - 1e-13, 0.5, 1e-50, 1e-10])
    t = np.array([1.0, 0.0, 1.0, 0.0, 0.3, 0.0, 0.0])
    # the input gradient is finite; d/dt is ±inf where p ∈ {0, 1}
    _compare(lambda p: F.binary_cross_entropy(p, gf.tensor(t, dtype="float64"),
                                              reduction=reduction),
             lambda p: TF.binary_cross_entropy(p, torch.tensor(t), reduction=reduction),
             [p], second_order=False)
    pg = gf.tensor(p, dtype="float64")
    tg = gf.tensor(t, dtype="float64", requires_grad=True)
    pt, tt = torch.tensor(p), torch.tensor(t, requires_grad=True)
    F.binary_cross_entropy(pg, tg).backward()
    TF.binary_cross_entropy(pt, tt).backward()
    np.testing.assert_allclose(tg.grad.numpy(), tt.grad.numpy(), **TOL)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weights", [(False, False), (True, False), (False, True), (True, True)],
                         ids=str)
def test_binary_cross_entropy_with_logits(reduction, weights, rng):
    z = 4 * rng.standard_normal((5, 3))
    z[0] = [1e4, -1e4, 50.0]
    t = rng.uniform(0, 1, (5, 3))
    w = rng.uniform(0.1, 2, (5, 1)) if weights[0] else None
    pw = rng.uniform(0.1, 3, (3,)) if weights[1] else None
    _compare(lambda z, t: F.binary_cross_entropy_with_logits(
        z, t, _gt(w), reduction=reduction, pos_weight=_gt(pw)),
        lambda z, t: TF.binary_cross_entropy_with_logits(
        z, t, _tt(w), reduction=reduction, pos_weight=_tt(pw)), [z, t])


# --- modules -----------------------------------------------------------------------------------
def test_modules_take_torch_arguments(rng):
    x = rng.standard_normal((6, 4))
    t = rng.integers(0, 4, 6)
    t[2] = 3
    w = rng.uniform(0.5, 2, 4)
    pairs = [
        (nn.CrossEntropyLoss(gf.tensor(w, dtype="float64"), ignore_index=3, reduction="sum",
                             label_smoothing=0.1),
         torch.nn.CrossEntropyLoss(torch.tensor(w), ignore_index=3, reduction="sum",
                                   label_smoothing=0.1)),
        (nn.NLLLoss(weight=gf.tensor(w, dtype="float64"), ignore_index=3),
         torch.nn.NLLLoss(weight=torch.tensor(w), ignore_index=3)),
    ]
    for ours, theirs in pairs:
        _compare(ours, theirs, [x], [t])
    b = rng.standard_normal((6, 4))
    for ours, theirs in [(nn.SmoothL1Loss(beta=0.5), torch.nn.SmoothL1Loss(beta=0.5)),
                         (nn.HuberLoss("sum", 0.7), torch.nn.HuberLoss("sum", 0.7))]:
        _compare(ours, theirs, [x, b])
    p = rng.uniform(0, 1, (6, 4))
    pw = rng.uniform(0.5, 2, 4)
    _compare(nn.BCEWithLogitsLoss(pos_weight=gf.tensor(pw, dtype="float64")),
             torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor(pw)), [x, p])
    _compare(nn.BCELoss(gf.tensor(w, dtype="float64")), torch.nn.BCELoss(torch.tensor(w)),
             [p, rng.uniform(0, 1, (6, 4))])


def test_module_weights_are_buffers_and_state():
    m = nn.CrossEntropyLoss(weight=gf.ones(3), ignore_index=2)
    assert list(m.state_dict()) == list(torch.nn.CrossEntropyLoss(torch.ones(3)).state_dict())
    assert m.weight.shape == (3,) and m.ignore_index == 2
    assert list(nn.CrossEntropyLoss().state_dict()) == []
    assert list(nn.BCEWithLogitsLoss(pos_weight=gf.ones(2)).state_dict()) == ["pos_weight"]
    assert nn.SmoothL1Loss().beta == 1.0 and nn.HuberLoss().delta == 1.0
    assert repr(nn.CrossEntropyLoss(ignore_index=0)) == "CrossEntropyLoss(ignore_index=0)"
    assert repr(nn.HuberLoss(delta=2)) == "HuberLoss(delta=2.0)"


def test_module_legacy_arguments():
    with pytest.warns(UserWarning, match="reduction='sum'"):
        assert nn.MSELoss(reduce=True, size_average=False).reduction == "sum"
    with pytest.warns(UserWarning, match="reduction='none'"):
        assert nn.CrossEntropyLoss(reduce=False).reduction == "none"
    m = nn.CrossEntropyLoss("sum", 0.2)  # gradflow's former positional (reduction, smoothing)
    assert (m.reduction, m.label_smoothing, m.weight) == ("sum", 0.2, None)
    assert nn.NLLLoss("none").reduction == "none" and nn.L1Loss("sum").reduction == "sum"


# --- bad input -------------------------------------------------------------------------------
def test_bool_target_is_an_error():
    with pytest.raises(RuntimeError, match="cross_entropy: expected scalar type Long .* bool"):
        F.cross_entropy(gf.zeros(3, 4), gf.tensor([True, False, True]))
    with pytest.raises(RuntimeError, match="nll_loss: expected scalar type Long"):
        F.nll_loss(gf.zeros(3, 4), gf.tensor([True, False, True]))


def test_float_target_of_another_shape_is_an_error():
    with pytest.raises(RuntimeError, match="expected scalar type Long .* float32"):
        F.cross_entropy(gf.zeros(3, 4), gf.zeros(3))
    with pytest.raises(RuntimeError, match=r"got float32 \(target shape \(3, 5\), input shape "
                       r"\(3, 4\)\); class indices are an integer tensor of shape \(3,\)"):
        F.cross_entropy(gf.zeros(3, 4), gf.zeros(3, 5))


def test_integer_target_of_the_input_shape_is_an_error():
    with pytest.raises(RuntimeError, match="Expected floating point type for target with class "
                       "probabilities, got int64"):
        F.cross_entropy(gf.zeros(3, 4), gf.zeros(3, 4, dtype="int64"))


@pytest.mark.parametrize("bad", [4, -1, 7])
def test_target_out_of_range_names_the_value(bad):
    t = gf.tensor([0, bad, -100])
    for fn in (F.cross_entropy, F.nll_loss):
        with pytest.raises(IndexError, match=rf"class index {bad} is out of range \[0, 4\)"):
            fn(gf.zeros(3, 4), t)
    with pytest.raises(IndexError, match=rf"class index {bad} is out"):
        F.cross_entropy(gf.zeros(3, 4), t, gf.ones(4), label_smoothing=0.1)
    assert np.isfinite(F.cross_entropy(gf.zeros(3, 4), gf.tensor([0, 9, 1]),
                                       ignore_index=9).item())


def test_wrong_shapes_name_both():
    with pytest.raises(ValueError, match=r"target must have shape \(3,\) for input of shape "
                       r"\(3, 4\), got \(2,\)"):
        F.cross_entropy(gf.zeros(3, 4), gf.tensor([0, 1]))
    with pytest.raises(RuntimeError, match=r"target must have shape \(3, 5\) for input of shape "
                       r"\(3, 4, 5\), got \(3, 6\)"):
        F.nll_loss(gf.zeros(3, 4, 5), gf.zeros(3, 6, dtype="int64"))
    with pytest.raises(RuntimeError, match=r"for all 4 classes .* shape \(3,\)"):
        F.cross_entropy(gf.zeros(3, 4), gf.tensor([0, 1, 2]), weight=gf.ones(3))
    with pytest.raises(RuntimeError, match=r"mse_loss: input shape \(3, 2\) and target shape "
                       r"\(3,\) cannot be broadcast"), pytest.warns(UserWarning):
        F.mse_loss(gf.zeros(3, 2), gf.zeros(3))
    with pytest.raises(ValueError, match=r"binary_cross_entropy: Using a target size \(4,\) "
                       r"that is different to the input size \(4, 1\)"):
        F.binary_cross_entropy(gf.zeros(4, 1), gf.zeros(4))
    with pytest.raises(ValueError, match=r"Target size \(4,\) must be the same as input size "
                       r"\(4, 1\)"):
        F.binary_cross_entropy_with_logits(gf.zeros(4, 1), gf.zeros(4))
    with pytest.raises(RuntimeError, match=r"unbatched input of shape \(4,\) the target must be "
                       r"a class index of shape \(\) or class probabilities of shape \(4,\), "
                       r"got shape \(1,\)"):
        F.cross_entropy(gf.zeros(4), gf.tensor([1]))
    with pytest.raises(ValueError, match="Weights and input must have the same size"):
        F.mse_loss(gf.zeros(3), gf.zeros(3), weight=gf.ones(2))


LOSSES = {
    "cross_entropy": (F.cross_entropy, gf.zeros(2, 3), gf.tensor([0, 1])),
    "nll_loss": (F.nll_loss, gf.zeros(2, 3), gf.tensor([0, 1])),
    "mse_loss": (F.mse_loss, gf.zeros(2), gf.zeros(2)),
    "l1_loss": (F.l1_loss, gf.zeros(2), gf.zeros(2)),
    "smooth_l1_loss": (F.smooth_l1_loss, gf.zeros(2), gf.zeros(2)),
    "huber_loss": (F.huber_loss, gf.zeros(2), gf.zeros(2)),
    "binary_cross_entropy": (F.binary_cross_entropy, gf.full((2,), 0.5), gf.zeros(2)),
    "binary_cross_entropy_with_logits": (F.binary_cross_entropy_with_logits, gf.zeros(2),
                                         gf.zeros(2)),
}


@pytest.mark.parametrize("name", list(LOSSES))
def test_none_input_or_target_is_a_type_error_naming_it(name):
    fn, x, t = LOSSES[name]
    fn(x, t)  # the valid call works
    with pytest.raises(TypeError, match=rf"{name}\(\): argument 'input' must be a Tensor, got "
                       "NoneType"):
        fn(None, t)
    with pytest.raises(TypeError, match=rf"{name}\(\): argument 'target' must be a Tensor, got "
                       "NoneType"):
        fn(x, None)


def test_probability_targets_refuse_ignore_index():
    with pytest.raises(RuntimeError, match="ignore_index is not supported for floating point "
                       r"target \(got ignore_index=1\)"):
        F.cross_entropy(gf.zeros(2, 3), gf.full((2, 3), 1 / 3), ignore_index=1)


def test_binary_cross_entropy_values_outside_0_1():
    with pytest.raises(RuntimeError, match="all elements of input should be between 0 and 1, "
                       "found 1.5"):
        F.binary_cross_entropy(gf.tensor([0.5, 1.5]), gf.tensor([0.0, 1.0]))
    with pytest.raises(RuntimeError, match="all elements of input should be between 0 and 1, "
                       "found nan"):
        F.binary_cross_entropy(gf.tensor([0.5, float("nan")]), gf.tensor([0.0, 1.0]))
    with pytest.raises(RuntimeError, match="all elements of target should be between 0 and 1, "
                       "found -1"):
        F.binary_cross_entropy(gf.tensor([0.5, 0.5]), gf.tensor([-1.0, 1.0]))


def test_bad_options():
    with pytest.raises(RuntimeError, match=r"label_smoothing must be in \[0, 1\].*got 1.5"):
        F.cross_entropy(gf.zeros(2, 3), gf.tensor([0, 1]), label_smoothing=1.5)
    with pytest.raises(RuntimeError, match="does not support negative values for beta"):
        F.smooth_l1_loss(gf.zeros(2), gf.zeros(2), beta=-1.0)
    with pytest.raises(RuntimeError, match="does not support non-positive values for delta"):
        F.huber_loss(gf.zeros(2), gf.zeros(2), delta=0.0)
    with pytest.raises(ValueError, match=r"reduction must be one of .*'avg'"):
        F.cross_entropy(gf.zeros(2, 3), gf.tensor([0, 1]), reduction="avg")
    with pytest.raises(RuntimeError, match="input must be a floating-point tensor, got int64"):
        F.cross_entropy(gf.zeros(2, 3, dtype="int64"), gf.tensor([0, 1]))


def test_weight_that_requires_grad_is_refused_where_torch_refuses():
    w = gf.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="not differentiable with respect to argument "
                       "'weight'"):
        F.cross_entropy(gf.zeros(2, 3), gf.tensor([0, 1]), w)
    with pytest.raises(RuntimeError, match="'pos_weight'"):
        F.binary_cross_entropy_with_logits(gf.zeros(2, 3), gf.zeros(2, 3), pos_weight=w)
    with pytest.raises(RuntimeError, match="'weight'"):
        F.binary_cross_entropy(gf.full((2, 3), 0.5), gf.zeros(2, 3), w)
