"""Hyperparameters are checked when the object is made: optimizers, schedulers, gradient clipping
and fit's scheduler. Exception types as PyTorch's where PyTorch refuses the value too; non-finite
values are refused even where PyTorch takes them silently (they turn the parameters into NaN)."""

from __future__ import annotations

import math

import numpy as np
import pytest

import gradflow as gf
from gradflow import nn, optim
from gradflow.nn.utils import clip_grad_adaptive_, clip_grad_norm_, clip_grad_value_
from gradflow.optim import lr_scheduler

torch = pytest.importorskip("torch")

OPTIMIZERS = {"SGD": {"lr": 0.1}, "Adam": {}, "AdamW": {}, "RMSprop": {}, "Adagrad": {},
              "Adadelta": {}}
KEYS = {  # the real-valued hyperparameters of each optimizer
    "SGD": ["lr", "momentum", "dampening", "weight_decay"],
    "Adam": ["lr", "eps", "weight_decay"], "AdamW": ["lr", "eps", "weight_decay"],
    "RMSprop": ["lr", "alpha", "eps", "weight_decay", "momentum"],
    "Adagrad": ["lr", "lr_decay", "weight_decay", "initial_accumulator_value", "eps"],
    "Adadelta": ["lr", "rho", "eps", "weight_decay"],
}
CASES = [(n, k) for n, ks in KEYS.items() for k in ks]


def _w():
    return nn.Parameter(gf.zeros(2, dtype="float64"))


def _tw():
    return torch.zeros(2, dtype=torch.float64, requires_grad=True)


def _make(name, key, value, lib="gf"):
    kwargs = {**OPTIMIZERS[name], key: value}
    if lib == "gf":
        return getattr(optim, name)([_w()], **kwargs)
    return getattr(torch.optim, name)([_tw()], **kwargs)


TORCH_CHECKED = [c for c in CASES if c != ("SGD", "dampening")]  # torch takes any dampening


@pytest.mark.parametrize("name,key", TORCH_CHECKED, ids=[f"{n}-{k}" for n, k in TORCH_CHECKED])
def test_negative_values_raise_value_error_as_torch(name, key):
    with pytest.raises(ValueError) as theirs:
        _make(name, key, -0.5, "torch")
    with pytest.raises(ValueError, match=rf"{name}: invalid {key}=-0.5; it must be"):
        _make(name, key, -0.5)
    assert str(-0.5) in str(theirs.value)


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf], ids=["nan", "inf", "-inf"])
@pytest.mark.parametrize("name,key", CASES, ids=[f"{n}-{k}" for n, k in CASES])
def test_non_finite_values_are_refused(name, key, value):
    with pytest.raises(ValueError, match=rf"{name}: invalid {key}={value!r}; it must be"):
        _make(name, key, value)


@pytest.mark.parametrize("name", ["SGD", "Adam", "Adagrad", "Adadelta"])
def test_torch_takes_lr_inf_silently_gradflow_refuses(name):
    _make(name, "lr", math.inf, "torch")  # no error in PyTorch...
    with pytest.raises(ValueError, match="invalid lr=inf; it must be a finite number"):
        _make(name, "lr", math.inf)


@pytest.mark.parametrize("name", ["Adam", "AdamW"])
@pytest.mark.parametrize("betas,label", [((1.0, 0.9), r"betas\[0\]=1.0"),
                                         ((-0.1, 0.9), r"betas\[0\]=-0.1"),
                                         ((0.9, 1.0), r"betas\[1\]=1.0"),
                                         ((0.9, math.nan), r"betas\[1\]=nan"),
                                         ((math.inf, 0.9), r"betas\[0\]=inf")])
def test_betas_each_in_unit_interval(name, betas, label):
    if not any(math.isinf(b) for b in betas):
        with pytest.raises(ValueError):
            getattr(torch.optim, name)([_tw()], betas=betas)
    with pytest.raises(ValueError, match=rf"{name}: invalid {label}"):
        getattr(optim, name)([_w()], betas=betas)
    getattr(optim, name)([_w()], betas=(0.0, 0.0))  # the closed end is allowed


@pytest.mark.parametrize("rho", [-0.1, 1.5, math.nan])
def test_adadelta_rho_in_closed_unit_interval(rho):
    with pytest.raises(ValueError):
        torch.optim.Adadelta([_tw()], rho=rho)
    with pytest.raises(ValueError, match=rf"Adadelta: invalid rho={rho!r}"):
        optim.Adadelta([_w()], rho=rho)
    for ok in (0.0, 1.0):
        optim.Adadelta([_w()], rho=ok)
        torch.optim.Adadelta([_tw()], rho=ok)


@pytest.mark.parametrize("dampening", [-0.1, 1.5])
def test_sgd_dampening_range(dampening):
    with pytest.raises(ValueError, match=rf"SGD: invalid dampening={dampening}; it must be in "
                                         r"\[0, 1.0\]"):
        optim.SGD([_w()], lr=0.1, momentum=0.9, dampening=dampening)


def test_momentum_above_one_is_allowed_as_in_torch():
    optim.SGD([_w()], lr=0.1, momentum=1.5)
    torch.optim.SGD([_tw()], lr=0.1, momentum=1.5)


@pytest.mark.parametrize("kwargs", [{"nesterov": True}, {"nesterov": True, "momentum": 0.9,
                                                         "dampening": 0.1}])
def test_nesterov_requirements(kwargs):
    with pytest.raises(ValueError, match="Nesterov momentum requires"):
        torch.optim.SGD([_tw()], lr=0.1, **kwargs)
    with pytest.raises(ValueError, match="nesterov=True needs momentum > 0 and dampening=0"):
        optim.SGD([_w()], lr=0.1, **kwargs)


@pytest.mark.parametrize("value", ["0.1", None, True])
def test_non_numbers_are_type_errors(value):
    with pytest.raises(TypeError, match=rf"Adagrad: lr must be a real number, got {value!r}"):
        optim.Adagrad([_w()], lr=value)


def test_param_group_values_are_checked_and_named():
    opt = optim.Adadelta([_w()])
    with pytest.raises(ValueError, match=r"invalid weight_decay=inf \(parameter group 1\)"):
        opt.add_param_group({"params": [_w()], "weight_decay": math.inf})
    assert len(opt.param_groups) == 1
    with pytest.raises(ValueError, match=r"invalid lr=nan \(parameter group 1\)"):
        optim.Adagrad([{"params": [_w()]}, {"params": [_w()], "lr": math.nan}])


def test_sgd_default_lr_is_torchs():
    assert optim.SGD([_w()]).defaults["lr"] == torch.optim.SGD([_tw()]).defaults["lr"] == 1e-3


# --- schedulers -----------------------------------------------------------------------------
def _opt():
    return optim.SGD([_w()], lr=0.1)


SCHEDULERS = [
    ("StepLR", {"step_size": 2}), ("MultiStepLR", {"milestones": [1, 3]}),
    ("ExponentialLR", {"gamma": 0.9}), ("CosineAnnealingLR", {"T_max": 5}),
    ("LambdaLR", {"lr_lambda": lambda e: 1.0}), ("LinearLR", {}), ("ReduceLROnPlateau", {}),
]


@pytest.mark.parametrize("name,kwargs", SCHEDULERS, ids=[n for n, _ in SCHEDULERS])
def test_scheduler_on_a_non_optimizer_is_a_type_error_as_torch(name, kwargs):
    for bad in (object(), [_w()], torch.optim.SGD([_tw()], lr=0.1)):
        if not isinstance(bad, torch.optim.Optimizer) and name != "LambdaLR":
            with pytest.raises(TypeError):
                getattr(torch.optim.lr_scheduler, name)(bad, **kwargs)
        with pytest.raises(TypeError, match=rf"{name}: optimizer must be a "
                                            r"gradflow.optim.Optimizer, got"):
            getattr(lr_scheduler, name)(bad, **kwargs)


GAMMA = ["StepLR", "MultiStepLR", "ExponentialLR"]
REQUIRED = {"StepLR": {"step_size": 2}, "MultiStepLR": {"milestones": [2]}, "ExponentialLR": {}}


@pytest.mark.parametrize("gamma", [math.nan, math.inf, -0.5, 0.0])
@pytest.mark.parametrize("name", GAMMA)
def test_gamma_must_be_finite_and_positive(name, gamma):
    with pytest.raises(ValueError, match=rf"{name}: invalid gamma={gamma!r}; it must be a "
                                         "finite number > 0"):
        getattr(lr_scheduler, name)(_opt(), gamma=gamma, **REQUIRED[name])


@pytest.mark.parametrize("name", GAMMA)
def test_gamma_not_a_number(name):
    with pytest.raises(TypeError, match=rf"{name}: gamma must be a real number, got '0.1'"):
        getattr(lr_scheduler, name)(_opt(), gamma="0.1", **REQUIRED[name])


def test_gamma_above_one_is_allowed():
    opt = _opt()
    sched = lr_scheduler.ExponentialLR(opt, gamma=2.0)
    sched.step()
    assert opt.param_groups[0]["lr"] == pytest.approx(0.2)


@pytest.mark.parametrize("make,exc,match", [
    (lambda o: lr_scheduler.StepLR(o, step_size=-1), ValueError, "invalid step_size=-1"),
    (lambda o: lr_scheduler.StepLR(o, step_size=True), ValueError, "invalid step_size=True"),
    (lambda o: lr_scheduler.StepLR(o, 2, last_epoch=-2), ValueError, "invalid last_epoch=-2"),
    (lambda o: lr_scheduler.StepLR(o, 2, last_epoch=0.5), TypeError,
     "last_epoch must be an int"),
    (lambda o: lr_scheduler.MultiStepLR(o, [2, -1]), ValueError,
     r"invalid milestones\[1\]=-1; it must be an integer >= 0"),
    (lambda o: lr_scheduler.MultiStepLR(o, [1.5]), ValueError, r"invalid milestones\[0\]=1.5"),
    (lambda o: lr_scheduler.MultiStepLR(o, 3), TypeError, "milestones must be an iterable"),
    (lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=math.inf), ValueError,
     "invalid T_max=inf"),
    (lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=4, eta_min=math.nan), ValueError,
     "invalid eta_min=nan; it must be a finite number >= 0"),
    (lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=4, eta_min=-1e-3), ValueError,
     "invalid eta_min=-0.001"),
    (lambda o: lr_scheduler.LinearLR(o, start_factor=math.nan), ValueError,
     "invalid start_factor=nan"),
    (lambda o: lr_scheduler.LinearLR(o, end_factor=math.nan), ValueError,
     "invalid end_factor=nan"),
    (lambda o: lr_scheduler.ReduceLROnPlateau(o, factor=math.nan), ValueError,
     "invalid factor=nan"),
    (lambda o: lr_scheduler.ReduceLROnPlateau(o, factor=-0.5), ValueError,
     "invalid factor=-0.5; it must be < 1 and >= 0"),
    (lambda o: lr_scheduler.ReduceLROnPlateau(o, patience=1.5), ValueError,
     "invalid patience=1.5"),
    (lambda o: lr_scheduler.ReduceLROnPlateau(o, threshold=math.inf), ValueError,
     "invalid threshold=inf"),
    (lambda o: lr_scheduler.ReduceLROnPlateau(o, cooldown=-1), ValueError,
     "invalid cooldown=-1"),
    (lambda o: lr_scheduler.ReduceLROnPlateau(o, min_lr=math.nan), ValueError,
     "invalid min_lr=nan"),
    (lambda o: lr_scheduler.ReduceLROnPlateau(o, min_lr=[-1.0]), ValueError,
     r"invalid min_lr\[0\]=-1.0"),
    (lambda o: lr_scheduler.ReduceLROnPlateau(o, eps=math.nan), ValueError, "invalid eps=nan"),
])
def test_scheduler_arguments(make, exc, match):
    with pytest.raises(exc, match=match):
        make(_opt())


def test_factor_one_is_refused_as_torch():
    with pytest.raises(ValueError):
        torch.optim.lr_scheduler.ReduceLROnPlateau(torch.optim.SGD([_tw()], lr=0.1), factor=1.0)
    with pytest.raises(ValueError, match="invalid factor=1.0"):
        lr_scheduler.ReduceLROnPlateau(_opt(), factor=1.0)


# --- gradient clipping ----------------------------------------------------------------------
def _with_grad(values):
    p = nn.Parameter(gf.tensor(values, dtype="float64"))
    p.grad = gf.tensor(values, dtype="float64")
    tp = torch.nn.Parameter(torch.tensor(values, dtype=torch.float64))
    tp.grad = torch.tensor(values, dtype=torch.float64)
    return p, tp


@pytest.mark.parametrize("max_norm,match", [(-1.0, "max_norm must be >= 0, got -1.0"),
                                            (math.nan, "max_norm is NaN")])
def test_clip_norm_max_norm(max_norm, match):
    p, _ = _with_grad([3.0, 4.0])
    with pytest.raises(ValueError, match=rf"clip_grad_norm_: {match}"):
        clip_grad_norm_([p], max_norm)
    np.testing.assert_array_equal(p.grad.numpy(), [3.0, 4.0])  # untouched


def test_clip_norm_max_norm_inf_measures_as_torch():
    p, tp = _with_grad([3.0, 4.0])
    total = clip_grad_norm_([p], math.inf)
    ttotal = torch.nn.utils.clip_grad_norm_([tp], math.inf)
    assert float(total) == float(ttotal) == 5.0
    np.testing.assert_array_equal(p.grad.numpy(), tp.grad.numpy())


@pytest.mark.parametrize("norm_type,exc,match", [
    (0, ValueError, "norm_type must be > 0 or inf, got 0.0"),
    (-1, ValueError, "norm_type must be > 0 or inf, got -1.0"),
    (-math.inf, ValueError, "norm_type must be > 0 or inf, got -inf"),
    (math.nan, ValueError, "norm_type is NaN"),
    ("fro", ValueError, "norm_type must be a number"),
    (None, TypeError, "norm_type must be a number"),
    (True, TypeError, "norm_type must be a number, got True"),
])
def test_clip_norm_norm_type(norm_type, exc, match):
    p, _ = _with_grad([3.0, 4.0])
    with pytest.raises(exc, match=rf"clip_grad_norm_: {match}"):
        clip_grad_norm_([p], 1.0, norm_type=norm_type)


@pytest.mark.parametrize("norm_type", [1, 2.0, 3, math.inf, "inf"])
def test_clip_norm_matches_torch_in_place(norm_type):
    p, tp = _with_grad([3.0, -4.0, 0.5])
    g, arr = p.grad, p.grad.array
    total = clip_grad_norm_([p], 1.0, norm_type=norm_type)
    ttotal = torch.nn.utils.clip_grad_norm_([tp], 1.0, norm_type=norm_type)
    np.testing.assert_allclose(float(total), float(ttotal), rtol=1e-12)
    np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), rtol=1e-12)
    assert p.grad is g and p.grad.array is arr


def test_clip_norm_error_if_nonfinite_must_be_bool():
    p, _ = _with_grad([3.0, 4.0])
    with pytest.raises(TypeError, match="error_if_nonfinite must be a bool, got 'yes'"):
        clip_grad_norm_([p], 1.0, error_if_nonfinite="yes")


def test_clip_read_only_gradient_updated_on_the_same_tensor():
    p = nn.Parameter(gf.ones(3, dtype="float64"))
    ro = np.broadcast_to(np.float64(2.0), (3,))
    assert not ro.flags.writeable
    p.grad = gf.Tensor.wrap(ro)
    g, ver = p.grad, p.grad._version
    clip_grad_norm_([p], 1.0)
    assert p.grad is g and g._version == ver + 1
    np.testing.assert_allclose(g.numpy(), np.full(3, 1 / math.sqrt(3)), rtol=1e-5)
    p.grad = gf.Tensor.wrap(np.broadcast_to(np.float64(2.0), (3,)))
    g = p.grad
    clip_grad_value_([p], 0.5)
    assert p.grad is g
    np.testing.assert_array_equal(g.numpy(), [0.5, 0.5, 0.5])


@pytest.mark.parametrize("value,match", [(-0.5, "clip_value must be >= 0, got -0.5"),
                                         (math.nan, "clip_value is NaN"),
                                         (None, "clip_value must be a number")])
def test_clip_value_argument(value, match):
    p, _ = _with_grad([3.0, 4.0])
    with pytest.raises((ValueError, TypeError), match=rf"clip_grad_value_: {match}"):
        clip_grad_value_([p], value)


def test_clip_value_in_place_matches_torch():
    p, tp = _with_grad([3.0, -4.0, 0.5])
    g = p.grad
    clip_grad_value_([p], 1.0)
    torch.nn.utils.clip_grad_value_([tp], 1.0)
    assert p.grad is g
    np.testing.assert_array_equal(p.grad.numpy(), tp.grad.numpy())
    clip_grad_value_([p], math.inf)
    np.testing.assert_array_equal(p.grad.numpy(), tp.grad.numpy())


def test_clip_adaptive_nan_refused():
    p, _ = _with_grad([3.0, 4.0])
    with pytest.raises(ValueError, match="clip_grad_adaptive_: clip_factor is NaN"):
        clip_grad_adaptive_([p], math.nan)


# --- fit --------------------------------------------------------------------------------------
def test_fit_refuses_a_scheduler_of_another_optimizer():
    from gradflow.train import fit

    model = nn.Linear(2, 1)
    used, other = optim.SGD(model.parameters(), lr=0.1), optim.SGD(model.parameters(), lr=0.1)
    batches = [(gf.randn(4, 2), gf.randn(4, 1))]
    with pytest.raises(ValueError, match=r"fit: the scheduler \(StepLR\) was built on another "
                                         r"optimizer .* build it on the optimizer passed to fit"):
        fit(model, nn.MSELoss(), used, batches, epochs=1,
            scheduler=lr_scheduler.StepLR(other, step_size=1), progress=False)
    assert used.param_groups[0]["lr"] == 0.1
    fit(model, nn.MSELoss(), used, batches, epochs=1,
        scheduler=lr_scheduler.StepLR(used, step_size=1, gamma=0.5), progress=False)
    assert used.param_groups[0]["lr"] == pytest.approx(0.05)
