"""optim.Adagrad and optim.Adadelta against PyTorch (foreach=False): trajectories, state,
state dicts, groups, devices."""

from __future__ import annotations

import numpy as np
import pytest

import gradflow as gf
from gradflow import nn, optim

torch = pytest.importorskip("torch")

CONFIGS = [
    ("Adagrad", {}),
    ("Adagrad", {"lr": 0.1}),
    ("Adagrad", {"lr": 0.1, "lr_decay": 0.05}),
    ("Adagrad", {"lr": 0.05, "weight_decay": 0.1}),
    ("Adagrad", {"lr": 0.1, "initial_accumulator_value": 0.5, "eps": 1e-6}),
    ("Adagrad", {"lr": 0.2, "lr_decay": 0.01, "weight_decay": 0.02,
                 "initial_accumulator_value": 0.1, "eps": 1e-8}),
    ("Adadelta", {}),
    ("Adadelta", {"lr": 0.5, "rho": 0.5}),
    ("Adadelta", {"rho": 0.99, "eps": 1e-4}),
    ("Adadelta", {"lr": 2.0, "weight_decay": 0.1}),
    ("Adadelta", {"rho": 0.0}),
    ("Adadelta", {"rho": 1.0, "lr": 0.3}),
]
IDS = [name + "-" + ",".join(f"{k}={v}" for k, v in kw.items()) for name, kw in CONFIGS]


@pytest.mark.parametrize("name,kwargs", CONFIGS, ids=IDS)
def test_trajectory_matches_torch_float64(parity, name, kwargs):
    parity(getattr(optim, name), getattr(torch.optim, name), kwargs, "float64", steps=20,
           rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("name,kwargs", CONFIGS[1::2], ids=IDS[1::2])
def test_trajectory_matches_torch_float32(parity, name, kwargs):
    t, _, _ = parity(getattr(optim, name), getattr(torch.optim, name), kwargs, "float32",
                     steps=20, rtol=1e-5, atol=1e-6, shared_grads=True)
    assert all(p.dtype == np.float32 for p in t.params)


@pytest.mark.parametrize("name,kwargs", [("Adagrad", {"lr": 0.1, "lr_decay": 0.01}),
                                         ("Adadelta", {"lr": 0.5, "weight_decay": 0.01})])
def test_maximize_and_groups_match_torch(parity, name, kwargs):
    groups = [([0, 1], {}), ([2, 3], {"lr": 0.05, "weight_decay": 0.2})]
    parity(getattr(optim, name), getattr(torch.optim, name), {**kwargs, "maximize": True},
           steps=20, rtol=1e-9, atol=1e-12, groups=groups, sign=-1.0)


def test_adagrad_group_initial_accumulator_value():
    """Each group fills its ``sum`` with its own initial_accumulator_value."""
    a, b = nn.Parameter(gf.zeros(2, dtype="float64")), nn.Parameter(gf.zeros(3, dtype="float64"))
    opt = optim.Adagrad([{"params": [a]}, {"params": [b], "initial_accumulator_value": 0.25}],
                        initial_accumulator_value=1.5)
    np.testing.assert_array_equal(opt.state[a]["sum"].numpy(), [1.5, 1.5])
    np.testing.assert_array_equal(opt.state[b]["sum"].numpy(), [0.25] * 3)


@pytest.mark.parametrize("name,keys", [("Adagrad", ["step", "sum"]),
                                       ("Adadelta", ["step", "square_avg", "acc_delta"])])
def test_state_matches_torch(twin, name, keys):
    t = twin()
    gopt = getattr(optim, name)(t.params, lr=0.1)
    topt = getattr(torch.optim, name)(t.tparams, lr=0.1, foreach=False)
    if name == "Adagrad":  # made for every parameter when the optimizer is built, as in torch
        assert len(gopt.state) == len(topt.state) == 4
    for _ in range(3):
        gopt.zero_grad()
        t.backward()
        gopt.step()
        topt.zero_grad()
        t.torch_backward()
        topt.step()
    gsd, tsd = gopt.state_dict(), topt.state_dict()
    assert sorted(gsd["state"]) == sorted(tsd["state"]) == [0, 1, 2, 3]
    for i in range(4):
        assert sorted(gsd["state"][i]) == sorted(tsd["state"][i]) == sorted(keys)
        assert gsd["state"][i]["step"] == int(tsd["state"][i]["step"]) == 3
        for k in keys[1:]:
            np.testing.assert_allclose(gsd["state"][i][k].numpy(), tsd["state"][i][k].numpy(),
                                       rtol=1e-10, atol=1e-14)
    defaults = {k for k in tsd["param_groups"][0]
                if k not in ("foreach", "differentiable", "fused", "capturable", "params")}
    assert defaults <= set(gsd["param_groups"][0])


@pytest.mark.parametrize("name", ["Adagrad", "Adadelta"])
def test_resume_from_torch_state_dict(twin, name):
    """Load PyTorch's state dict midway: the rest of the trajectory is PyTorch's."""
    kwargs = {"lr": 0.1, "weight_decay": 0.01}
    t = twin()
    topt = getattr(torch.optim, name)(t.tparams, foreach=False, **kwargs)
    for _ in range(4):
        topt.zero_grad()
        t.torch_backward()
        topt.step()
    with torch.no_grad():
        for p, tp in zip(t.params, t.tparams):
            p.array[...] = tp.numpy()
    gopt = getattr(optim, name)(t.params, **kwargs)
    gopt.load_state_dict(topt.state_dict())
    for _ in range(6):
        gopt.zero_grad()
        t.backward()
        gopt.step()
        topt.zero_grad()
        t.torch_backward()
        topt.step()
    for p, tp in zip(t.params, t.tparams):
        np.testing.assert_allclose(p.numpy(), tp.detach().numpy(), rtol=1e-9, atol=1e-12)
    assert gopt.state[t.params[0]]["step"] == 10


@pytest.mark.parametrize("cls", [optim.Adagrad, optim.Adadelta])
def test_state_dict_round_trip(cls):
    def run(opt, p, steps):
        for _ in range(steps):
            p.grad = (p * p).detach() + 0.5
            opt.step()

    p = nn.Parameter(gf.tensor([1.0, -2.0, 0.5], dtype="float64"))
    opt = cls([p], lr=0.2)
    run(opt, p, 3)
    saved, values = opt.state_dict(), p.numpy().copy()
    saved = {"state": {k: {n: (v.numpy().copy() if isinstance(v, gf.Tensor) else v)
                           for n, v in s.items()} for k, s in saved["state"].items()},
             "param_groups": saved["param_groups"]}
    run(opt, p, 4)
    expected = p.numpy().copy()
    q = nn.Parameter(gf.tensor(values, dtype="float64"))
    opt2 = cls([q], lr=0.2)
    opt2.load_state_dict(saved)
    run(opt2, q, 4)
    np.testing.assert_array_equal(q.numpy(), expected)


@pytest.mark.parametrize("cls", [optim.Adagrad, optim.Adadelta])
def test_in_place_and_skips_params_without_grad(cls):
    a, b = nn.Parameter(gf.ones(3, dtype="float64")), nn.Parameter(gf.ones(2, dtype="float64"))
    opt = cls([a, b])
    arr, ver = a.array, a._version
    a.grad = gf.ones(3, dtype="float64")
    opt.step()
    assert a.array is arr and a._version == ver + 1
    assert (a.numpy() < 1).all()
    np.testing.assert_array_equal(b.numpy(), [1.0, 1.0])
    assert opt.state[a]["step"] == 1
    assert opt.state.get(b, {}).get("step", 0) == 0


def test_adagrad_refuses_uninitialized_parameters():
    lazy = nn.LazyLinear(3)
    with pytest.raises(ValueError, match=r"Adagrad: params\[0\] of group 0 is an uninitialized "
                                         r"parameter.*run one forward pass"):
        optim.Adagrad(lazy.parameters())
    lazy(gf.randn(2, 4))
    opt = optim.Adagrad(lazy.parameters())
    assert opt.state[lazy.weight]["sum"].shape == (3, 4)


@pytest.mark.parametrize("cls", [optim.Adagrad, optim.Adadelta])
def test_on_each_device(parity, device, cls):
    t, opt, _ = parity(cls, getattr(torch.optim, cls.__name__), {"lr": 0.1}, steps=10,
                       rtol=1e-9, atol=1e-12, device=device)
    assert all(v.device.startswith(device) for st in opt.state.values() for v in st.values()
               if isinstance(v, gf.Tensor))


def test_defaults_and_signatures_match_torch():
    import inspect

    for name in ("Adagrad", "Adadelta"):
        ours = inspect.signature(getattr(optim, name)).parameters
        theirs = inspect.signature(getattr(torch.optim, name)).parameters
        for k, v in ours.items():
            assert k in theirs and v.default == theirs[k].default, (name, k)
