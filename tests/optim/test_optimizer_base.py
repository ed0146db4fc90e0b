"""Optimizer semantics: in-place updates, zero_grad, closure, groups, grad modes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import gradflow as gf
from gradflow import optim
from gradflow.nn import Parameter

ALL = [(optim.SGD, {"lr": 0.1, "momentum": 0.9}), (optim.Adam, {"amsgrad": True}),
       (optim.AdamW, {}), (optim.RMSprop, {"momentum": 0.5, "centered": True})]


def test_exports():
    assert optim.lr_scheduler.StepLR is not None
    assert issubclass(optim.AdamW, optim.Adam)
    for cls in (optim.SGD, optim.Adam, optim.AdamW, optim.RMSprop):
        assert issubclass(cls, optim.Optimizer)


@pytest.mark.parametrize("cls,kwargs", ALL, ids=lambda v: getattr(v, "__name__", ""))
def test_updates_are_in_place(twin, cls, kwargs):
    t = twin()
    opt = cls(t.params, **kwargs)
    arrays = [p.array for p in t.params]
    versions = [p._version for p in t.params]
    buffers = None
    for step in range(4):
        opt.zero_grad()
        t.backward()
        opt.step()
        assert all(p.array is a for p, a in zip(t.params, arrays))
        assert [p._version for p in t.params] == [v + step + 1 for v in versions]
        now = {(id(p), k): v.array for p in t.params for k, v in opt.state[p].items()
               if isinstance(v, gf.Tensor)}
        if buffers is None:
            buffers = now
        assert all(now[k] is a for k, a in buffers.items())  # state allocated once
    assert all(not np.array_equal(p.numpy(), a) for p, a in zip(t.params, t.init))


def test_step_bumps_version_so_stale_saved_tensors_are_caught():
    w = Parameter(gf.tensor([1.0, 2.0], dtype="float64"))
    y = (w * w).sum()
    (w * 3.0).sum().backward()
    optim.SGD([w], lr=0.1).step()
    with pytest.raises(RuntimeError, match="modified in place"):
        y.backward()


def test_state_is_float32_for_float32_params(twin):
    t = twin("float32")
    opt = optim.Adam(t.params, amsgrad=True)
    t.backward()
    opt.step()
    for p in t.params:
        assert p.dtype == np.float32
        for key in ("exp_avg", "exp_avg_sq", "max_exp_avg_sq"):
            assert opt.state[p][key].dtype == np.float32
        assert opt.state[p]["step"] == 1


def test_zero_grad_set_to_none(twin):
    t = twin()
    opt = optim.SGD(t.params, lr=0.1)
    t.backward()
    opt.zero_grad()
    assert all(p.grad is None for p in t.params)
    opt.zero_grad()  # no gradients at all: nothing to do
    assert all(p.grad is None for p in t.params)


def test_zero_grad_in_place(twin):
    t = twin()
    opt = optim.SGD(t.params, lr=0.1)
    t.backward()
    grads = [p.grad for p in t.params]
    arrays = [g.array for g in grads]
    opt.zero_grad(set_to_none=False)
    for p, g, a in zip(t.params, grads, arrays):
        assert p.grad is g and g.array is a
        assert not g.numpy().any()
        assert not g.requires_grad and g.grad_fn is None
    t.backward()  # accumulates into the zeroed arrays: the same as a fresh gradient
    fresh = twin()
    fresh.backward()
    for p, q in zip(t.params, fresh.params):
        np.testing.assert_array_equal(p.grad.numpy(), q.grad.numpy())


def test_zero_grad_in_place_with_a_broadcast_gradient():
    w = Parameter(gf.tensor(np.ones((3, 2)), dtype="float64"))
    w.sum().backward()  # the gradient may be a read-only broadcast view
    opt = optim.SGD([w], lr=0.1)
    opt.zero_grad(set_to_none=False)
    assert w.grad is not None and w.grad.shape == (3, 2) and not w.grad.numpy().any()


def test_zero_grad_detaches_a_graph_gradient():
    w = Parameter(gf.tensor([1.0, 2.0], dtype="float64"))
    (w ** 3).sum().backward(create_graph=True)
    assert w.grad.grad_fn is not None
    optim.SGD([w], lr=0.1).zero_grad(set_to_none=False)
    assert w.grad.grad_fn is None and not w.grad.numpy().any()


def test_closure_runs_with_grad_enabled_and_step_runs_without(twin):
    t = twin()
    opt = optim.SGD(t.params, lr=0.1)
    seen = []

    def closure():
        seen.append(gf.is_grad_enabled())
        opt.zero_grad()
        loss = t.loss()
        loss.backward()
        return loss

    with gf.no_grad():
        loss = opt.step(closure)
    assert seen == [True]
    assert isinstance(loss, gf.Tensor) and loss.grad_fn is not None
    assert opt.step() is None
    assert gf.is_grad_enabled()


def test_update_records_no_graph(twin):
    t = twin()
    opt = optim.Adam(t.params)
    t.backward()
    opt.step()
    assert all(p.is_leaf and p.requires_grad and p.grad_fn is None for p in t.params)


def test_param_groups_hold_defaults_and_overrides():
    a = Parameter(gf.zeros(2))
    b = Parameter(gf.zeros(3))
    opt = optim.Adam([{"params": [a]}, {"params": b, "lr": 0.5, "tag": "head"}], lr=0.01)
    g0, g1 = opt.param_groups
    assert len(g0["params"]) == 1 and g0["params"][0] is a
    assert g1["params"][0] is b  # a single tensor becomes a list
    assert g0["lr"] == 0.01 and g1["lr"] == 0.5 and g1["tag"] == "head"
    assert g0["betas"] == g1["betas"] == (0.9, 0.999)
    assert opt.defaults["lr"] == 0.01


def test_param_groups_keys_match_torch_for_shared_hyperparameters():
    cases = [(optim.SGD, torch.optim.SGD, {"lr": 0.1}), (optim.Adam, torch.optim.Adam, {}),
             (optim.AdamW, torch.optim.AdamW, {}), (optim.RMSprop, torch.optim.RMSprop, {})]
    for cls, tcls, kwargs in cases:
        ours = cls([Parameter(gf.zeros(2))], **kwargs).param_groups[0]
        theirs = tcls([torch.zeros(2, requires_grad=True)], **kwargs).param_groups[0]
        for key in ours:
            if key != "params":
                assert ours[key] == theirs[key], (cls.__name__, key)


def test_add_param_group_extends_training(twin):
    t = twin()
    opt = optim.SGD(t.params[:2], lr=0.1)
    opt.add_param_group({"params": t.params[2:], "lr": 0.01, "momentum": 0.9})
    assert len(opt.param_groups) == 2 and opt.param_groups[1]["dampening"] == 0.0
    t.backward()
    before = [p.numpy().copy() for p in t.params]
    opt.step()
    assert all(not np.array_equal(p.numpy(), b) for p, b in zip(t.params, before))
    assert "momentum_buffer" in opt.state[t.params[2]]
    assert t.params[0] not in opt.state  # plain SGD keeps no state, as in PyTorch


def test_lr_changes_between_steps_take_effect():
    w = Parameter(gf.tensor([1.0], dtype="float64"))
    opt = optim.SGD([w], lr=0.1)
    w.grad = gf.tensor([1.0], dtype="float64")
    opt.step()
    opt.param_groups[0]["lr"] = 0.5
    opt.step()
    np.testing.assert_allclose(w.numpy(), [1.0 - 0.1 - 0.5])


def test_repr_lists_groups():
    opt = optim.SGD([Parameter(gf.zeros(2))], lr=0.1, momentum=0.9)
    text = repr(opt)
    assert text.startswith("SGD (") and "Parameter Group 0" in text and "momentum: 0.9" in text
