"""Optimizer state_dict: PyTorch's layout and a bit-identical save/resume."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest
import torch

import gradflow as gf
from gradflow import optim
from gradflow.nn import Parameter

CONFIGS = [
    (optim.SGD, {"lr": 0.1, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01}),
    (optim.Adam, {"lr": 0.01, "amsgrad": True, "weight_decay": 0.01}),
    (optim.AdamW, {"lr": 0.01}),
    (optim.RMSprop, {"lr": 0.01, "momentum": 0.5, "centered": True}),
]
IDS = [cls.__name__ for cls, _ in CONFIGS]


def _groups(params):
    return [{"params": params[:2]}, {"params": params[2:], "lr": 0.003}]


def _train(t, opt, steps):
    for _ in range(steps):
        opt.zero_grad()
        t.backward()
        opt.step()


def _to_plain(sd):
    """What a save to disk and a load back gives: numpy arrays, string keys, lists for tuples."""
    state = {str(i): {k: (v.numpy().copy() if isinstance(v, gf.Tensor) else v)
                      for k, v in entry.items()} for i, entry in sd["state"].items()}
    return {"state": state, "param_groups": json.loads(json.dumps(sd["param_groups"]))}


@pytest.mark.parametrize("plain", [False, True], ids=["tensors", "numpy-json"])
@pytest.mark.parametrize("cls,kwargs", CONFIGS, ids=IDS)
def test_resume_is_bit_identical(twin, cls, kwargs, plain):
    ref = twin()
    ref_opt = cls(_groups(ref.params), **kwargs)
    _train(ref, ref_opt, 20)

    t = twin()
    opt = cls(_groups(t.params), **kwargs)
    _train(t, opt, 8)
    sd = opt.state_dict()
    if plain:
        sd = _to_plain(sd)
    resumed = cls(_groups(t.params), lr=123.0)  # hyperparameters come from the state dict
    resumed.load_state_dict(sd)
    assert resumed.param_groups[1]["lr"] == 0.003
    _train(t, resumed, 12)
    for p, q in zip(t.params, ref.params):
        np.testing.assert_array_equal(p.numpy(), q.numpy())


@pytest.mark.parametrize("cls,kwargs", CONFIGS, ids=IDS)
def test_layout_matches_torch(twin, cls, kwargs):
    t = twin()
    opt = cls(_groups(t.params), foreach=False, **kwargs)
    topt = getattr(torch.optim, cls.__name__)(_groups(t.tparams), foreach=False, **kwargs)
    for _ in range(3):
        opt.zero_grad()
        topt.zero_grad()
        t.backward()
        t.torch_backward()
        opt.step()
        topt.step()
    sd, tsd = opt.state_dict(), topt.state_dict()
    assert list(sd["state"]) == sorted(tsd["state"]) == [0, 1, 2, 3]
    assert [g["params"] for g in sd["param_groups"]] == [[0, 1], [2, 3]]
    assert [g["params"] for g in tsd["param_groups"]] == [[0, 1], [2, 3]]
    for i, entry in sd["state"].items():
        assert set(entry) == set(tsd["state"][i])
        for key, value in entry.items():
            expected = tsd["state"][i][key]
            if key == "step":
                assert isinstance(value, int) and value == int(expected)
            else:
                assert isinstance(value, gf.Tensor)
                np.testing.assert_allclose(value.numpy(), expected.numpy(), rtol=1e-10,
                                           atol=1e-300)
    for g, tg in zip(sd["param_groups"], tsd["param_groups"]):
        assert g.keys() == tg.keys()  # PyTorch's keys, foreach/fused/... included
        assert all(g[k] == tg[k] for k in g if k != "params")


def test_load_copies_state_and_keeps_loader_independent(twin):
    t = twin()
    opt = optim.Adam(t.params)
    _train(t, opt, 2)
    sd = opt.state_dict()
    other = optim.Adam(t.params)
    other.load_state_dict(sd)
    p = t.params[0]
    assert other.state[p]["exp_avg"].array is not opt.state[p]["exp_avg"].array
    np.testing.assert_array_equal(other.state[p]["exp_avg"].numpy(),
                                  opt.state[p]["exp_avg"].numpy())


def test_load_accepts_torch_style_step_tensor_and_casts_dtype(twin):
    t = twin("float32")
    opt = optim.Adam(t.params)
    _train(t, opt, 2)
    sd = copy.deepcopy(_to_plain(opt.state_dict()))
    for entry in sd["state"].values():
        entry["step"] = np.array(2.0)  # PyTorch keeps step as a 0-d tensor
        entry["exp_avg"] = entry["exp_avg"].astype("float64")
    fresh = optim.Adam(t.params)
    fresh.load_state_dict(sd)
    st = fresh.state[t.params[0]]
    assert st["step"] == 2 and st["exp_avg"].dtype == np.float32
    _train(t, fresh, 1)
    assert fresh.state[t.params[0]]["step"] == 3


def test_state_dict_before_any_step():
    w = Parameter(gf.zeros(3))
    opt = optim.SGD([w], lr=0.1, momentum=0.9)
    sd = opt.state_dict()
    assert sd["state"] == {} and sd["param_groups"][0]["params"] == [0]
    opt2 = optim.SGD([w], lr=0.5)
    opt2.load_state_dict(sd)
    assert opt2.param_groups[0]["lr"] == 0.1 and opt2.param_groups[0]["momentum"] == 0.9


def test_state_dict_keeps_scheduler_initial_lr():
    w = Parameter(gf.zeros(3))
    opt = optim.SGD([w], lr=0.1)
    optim.lr_scheduler.StepLR(opt, step_size=2)
    opt2 = optim.SGD([w], lr=0.1)
    opt2.load_state_dict(opt.state_dict())
    assert opt2.param_groups[0]["initial_lr"] == 0.1


@pytest.mark.parametrize("cls,kwargs", CONFIGS, ids=IDS)
def test_loads_a_torch_state_dict_and_continues_like_torch(twin, cls, kwargs):
    t = twin()
    topt = getattr(torch.optim, cls.__name__)(_groups(t.tparams), foreach=False, **kwargs)
    for _ in range(5):
        topt.zero_grad()
        t.torch_backward()
        topt.step()
    with torch.no_grad():
        for p, tp in zip(t.params, t.tparams):
            p.array[...] = tp.numpy()
    opt = cls(_groups(t.params), **kwargs)
    opt.load_state_dict(topt.state_dict())
    for _ in range(10):
        opt.zero_grad()
        topt.zero_grad()
        t.backward()
        t.torch_backward()
        opt.step()
        topt.step()
    for p, tp in zip(t.params, t.tparams):
        np.testing.assert_allclose(p.numpy(), tp.detach().numpy(), rtol=1e-10)
