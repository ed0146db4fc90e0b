"""Bad input to the optimizers: one test per documented error, each naming what is wrong."""

from __future__ import annotations

import numpy as np
import pytest

import gradflow as gf
from gradflow import optim
from gradflow.nn import Parameter

OPTIMIZERS = [(optim.SGD, {"lr": 0.1}), (optim.Adam, {}), (optim.AdamW, {}),
              (optim.RMSprop, {})]
NAMES = [cls.__name__ for cls, _ in OPTIMIZERS]


def _w(*shape):
    return Parameter(gf.zeros(*shape, dtype="float64"))


# --- parameters ---------------------------------------------------------------------------
@pytest.mark.parametrize("cls,kwargs", OPTIMIZERS, ids=NAMES)
def test_single_tensor_instead_of_iterable(cls, kwargs):
    with pytest.raises(TypeError, match=r"single Tensor.*\[p\]"):
        cls(_w(2), **kwargs)


def test_params_not_iterable():
    with pytest.raises(TypeError, match="iterable of Tensors or dicts, got int"):
        optim.SGD(3, lr=0.1)


def test_single_group_dict_instead_of_list():
    with pytest.raises(TypeError, match="single dict"):
        optim.SGD({"params": [_w(2)]}, lr=0.1)


@pytest.mark.parametrize("cls,kwargs", OPTIMIZERS, ids=NAMES)
def test_param_not_a_tensor(cls, kwargs):
    with pytest.raises(TypeError, match=r"params\[1\] of group 0 is a ndarray"):
        cls([_w(2), np.zeros(2)], **kwargs)


@pytest.mark.parametrize("cls,kwargs", OPTIMIZERS, ids=NAMES)
def test_empty_parameter_list(cls, kwargs):
    with pytest.raises(ValueError, match=r"empty parameter list \(params=\[\]\)"):
        cls([], **kwargs)


def test_empty_generator_is_an_empty_list():
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.Adam(p for p in [])


def test_empty_parameter_group():
    with pytest.raises(ValueError, match="parameter group 1 has an empty parameter list"):
        optim.SGD([{"params": [_w(2)]}, {"params": []}], lr=0.1)


@pytest.mark.parametrize("cls,kwargs", OPTIMIZERS, ids=NAMES)
def test_non_leaf_tensor(cls, kwargs):
    w = _w(2)
    with pytest.raises(ValueError, match=r"non-leaf.*params\[0\].*shape \(2,\)"):
        cls([w * 2.0], **kwargs)


def test_integer_tensor():
    with pytest.raises(TypeError, match="dtype int64"):
        optim.SGD([gf.tensor([1, 2])], lr=0.1)


@pytest.mark.parametrize("cls,kwargs", OPTIMIZERS, ids=NAMES)
def test_duplicate_param_in_list(cls, kwargs):
    w = _w(3)
    with pytest.raises(ValueError, match=r"params\[2\] of group 0 \(shape \(3,\)\) appears "
                                         "more than once"):
        cls([w, _w(2), w], **kwargs)


def test_param_in_two_groups():
    w = _w(3)
    with pytest.raises(ValueError, match="already in another parameter group"):
        optim.SGD([{"params": [w]}, {"params": [_w(1), w]}], lr=0.1)


def test_add_param_group_with_a_taken_param():
    w = _w(3)
    opt = optim.Adam([w])
    with pytest.raises(ValueError, match="already in another parameter group"):
        opt.add_param_group({"params": [w]})


def test_group_not_a_dict():
    opt = optim.SGD([_w(2)], lr=0.1)
    with pytest.raises(TypeError, match="must be a dict with a 'params' key, got list"):
        opt.add_param_group([_w(2)])


def test_group_without_params_key():
    opt = optim.SGD([_w(2)], lr=0.1)
    with pytest.raises(ValueError, match="parameter group 1 has no 'params' key"):
        opt.add_param_group({"lr": 0.1})


def test_group_params_as_set():
    with pytest.raises(TypeError, match="set.*use a list"):
        optim.SGD([{"params": {_w(2)}}], lr=0.1)


# --- hyperparameters ----------------------------------------------------------------------
@pytest.mark.parametrize("cls,kwargs", OPTIMIZERS, ids=NAMES)
def test_negative_lr(cls, kwargs):
    with pytest.raises(ValueError, match=rf"{cls.__name__}: invalid lr=-0.1; it must be >= 0"):
        cls([_w(2)], **{**kwargs, "lr": -0.1})


def test_lr_not_a_number():
    with pytest.raises(TypeError, match="lr must be a real number, got '0.1'"):
        optim.SGD([_w(2)], lr="0.1")


def test_nan_lr():
    with pytest.raises(ValueError, match="invalid lr=nan"):
        optim.Adam([_w(2)], lr=float("nan"))


def test_negative_lr_in_a_group_names_the_group():
    with pytest.raises(ValueError, match=r"invalid lr=-1.0 \(parameter group 1\)"):
        optim.SGD([{"params": [_w(2)]}, {"params": [_w(1)], "lr": -1.0}], lr=0.1)


@pytest.mark.parametrize("cls", [optim.SGD, optim.RMSprop])
def test_negative_momentum(cls):
    with pytest.raises(ValueError, match="invalid momentum=-0.5; it must be >= 0"):
        cls([_w(2)], lr=0.1, momentum=-0.5)


@pytest.mark.parametrize("cls,kwargs", OPTIMIZERS, ids=NAMES)
def test_negative_weight_decay(cls, kwargs):
    with pytest.raises(ValueError, match="invalid weight_decay=-0.01; it must be >= 0"):
        cls([_w(2)], **{**kwargs, "weight_decay": -0.01})


@pytest.mark.parametrize("cls", [optim.Adam, optim.AdamW, optim.RMSprop])
def test_negative_eps(cls):
    with pytest.raises(ValueError, match=r"invalid eps=-1e-08; it must be >= 0"):
        cls([_w(2)], eps=-1e-8)


@pytest.mark.parametrize("betas,label", [((1.0, 0.999), r"betas\[0\]=1.0"),
                                         ((-0.1, 0.999), r"betas\[0\]=-0.1"),
                                         ((0.9, 1.5), r"betas\[1\]=1.5")])
@pytest.mark.parametrize("cls", [optim.Adam, optim.AdamW])
def test_betas_outside_unit_interval(cls, betas, label):
    with pytest.raises(ValueError, match=rf"invalid {label}; it must be in \[0, 1.0\)"):
        cls([_w(2)], betas=betas)


def test_betas_not_a_pair():
    with pytest.raises(TypeError, match=r"betas must be a pair \(beta1, beta2\), got 0.9"):
        optim.Adam([_w(2)], betas=0.9)


@pytest.mark.parametrize("alpha", [-0.1, 1.5])
def test_rmsprop_alpha_outside_unit_interval(alpha):
    with pytest.raises(ValueError, match=rf"invalid alpha={alpha}; it must be in \[0, 1.0\]"):
        optim.RMSprop([_w(2)], alpha=alpha)


def test_nesterov_without_momentum():
    with pytest.raises(ValueError, match="nesterov=True needs momentum > 0 and dampening=0, got "
                                         "momentum=0.0"):
        optim.SGD([_w(2)], lr=0.1, nesterov=True)


def test_nesterov_with_dampening():
    with pytest.raises(ValueError, match="nesterov=True needs.*dampening=0.5"):
        optim.SGD([_w(2)], lr=0.1, momentum=0.9, dampening=0.5, nesterov=True)


# --- load_state_dict ----------------------------------------------------------------------
def _trained_adam(*shapes):
    params = [_w(*s) for s in shapes]
    opt = optim.Adam(params)
    for p in params:
        p.grad = gf.ones(*p.shape, dtype="float64")
    opt.step()
    return opt


def test_load_not_a_state_dict():
    opt = optim.Adam([_w(2)])
    with pytest.raises(ValueError, match="keys 'state' and 'param_groups'.*got \\['state'\\]"):
        opt.load_state_dict({"state": {}})


def test_load_group_count_mismatch():
    sd = _trained_adam((2,)).state_dict()
    opt = optim.Adam([{"params": [_w(2)]}, {"params": [_w(3)]}])
    with pytest.raises(ValueError, match="state dict has 1 parameter groups, this optimizer has 2"):
        opt.load_state_dict(sd)


def test_load_param_count_mismatch():
    sd = _trained_adam((2,), (3,)).state_dict()
    with pytest.raises(ValueError, match="parameter group 0 of the state dict has 2 parameters, "
                                         "this optimizer's group has 1"):
        optim.Adam([_w(2)]).load_state_dict(sd)


def test_load_shape_mismatch():
    sd = _trained_adam((2,), (3,)).state_dict()
    with pytest.raises(ValueError, match=r"state\[1\]\['exp_avg'\] has shape \(3,\), but "
                                         r"parameter 1 has shape \(4,\)"):
        optim.Adam([_w(2), _w(4)]).load_state_dict(sd)


def test_load_from_another_optimizer_type():
    sd = _trained_adam((2,)).state_dict()
    with pytest.raises(ValueError, match=r"lacks \['momentum', 'dampening', 'nesterov'\]"):
        optim.SGD([_w(2)], lr=0.1).load_state_dict(sd)


def test_load_unknown_parameter_index():
    sd = _trained_adam((2,)).state_dict()
    sd["state"][5] = sd["state"][0]
    with pytest.raises(ValueError, match="state for parameter 5"):
        optim.Adam([_w(2)]).load_state_dict(sd)


def test_load_invalid_hyperparameter():
    sd = _trained_adam((2,)).state_dict()
    sd["param_groups"][0]["lr"] = -1.0
    with pytest.raises(ValueError, match="invalid lr=-1.0 .parameter group 0 of the loaded"):
        optim.Adam([_w(2)]).load_state_dict(sd)


def test_failed_load_leaves_the_optimizer_unchanged():
    opt = _trained_adam((2,))
    before = opt.state_dict()
    bad = _trained_adam((2,)).state_dict()
    bad["state"][0]["exp_avg"] = gf.zeros(7)
    with pytest.raises(ValueError, match="shape"):
        opt.load_state_dict(bad)
    after = opt.state_dict()
    assert after["param_groups"] == before["param_groups"]
    assert after["state"][0]["exp_avg"] is before["state"][0]["exp_avg"]
