"""The CPU update driver (``optim._flat``): blocks and packs give the bits of the per-parameter
whole-array update, state stays per parameter and live, nothing stale survives a rebinding, a
copy or a load; PyTorch's ``foreach``/``fused``/``capturable``/``differentiable`` arguments."""

from __future__ import annotations

import copy
import inspect

import numpy as np
import pytest
import torch

import gradflow as gf
from gradflow import optim
from gradflow.nn import Parameter
from gradflow.optim import _flat

CONFIGS = [
    ("SGD", {"lr": 0.1}),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "dampening": 0.2, "weight_decay": 0.01,
             "maximize": True}),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01}),
    ("Adam", {"lr": 0.01, "weight_decay": 0.05, "maximize": True}),
    ("Adam", {"lr": 0.01, "amsgrad": True, "betas": (0.3, 0.6)}),
    ("AdamW", {"lr": 0.01, "amsgrad": True}),
    ("RMSprop", {"lr": 0.01, "momentum": 0.5, "centered": True, "weight_decay": 0.01}),
    ("RMSprop", {"lr": 0.01, "alpha": 0.3, "maximize": True}),
]
IDS = [n + "-" + ",".join(f"{k}={v}" for k, v in kw.items()) for n, kw in CONFIGS]
# larger than one block (float32: 65536 elements, float64: 32768) with a ragged tail; small ones
# (packed); a Fortran-ordered one (the whole-array fallback)
SHAPES = [(300, 257), (40001,), (33, 17), (5,), (64, 64), (4095,), (2, 3, 4)]


def _params(rng, dtype):
    ps = [Parameter(gf.tensor(rng.standard_normal(s).astype(dtype))) for s in SHAPES]
    ps.append(Parameter(gf.tensor(np.asfortranarray(rng.standard_normal((40, 30)).astype(dtype)))))
    return ps


def _grads(rng, ps, dtype, step):
    for i, p in enumerate(ps):
        # some parameters skip a step: their state and step counts differ from the rest
        p.grad = None if step == 2 and i in (1, 3) else gf.tensor(
            rng.standard_normal(p.shape).astype(dtype))


def _whole_array(monkeypatch):
    """The per-parameter, whole-array path: nothing packed, one block as large as any array."""
    monkeypatch.setattr(_flat, "SMALL", 0)
    monkeypatch.setattr(_flat, "BLOCK_BYTES", 1 << 23)  # 8 MiB: more than any array here


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name,kwargs", CONFIGS, ids=IDS)
def test_blocks_and_packs_are_bitwise_the_whole_array_update(monkeypatch, name, kwargs, dtype):
    rng = np.random.default_rng(1)
    a, b = _params(rng, dtype), None
    b = [Parameter(gf.tensor(p.numpy().copy(order="K"))) for p in a]
    opt_a = getattr(optim, name)(a, **kwargs)
    opt_b = getattr(optim, name)(b, **kwargs)
    for step in range(4):
        seed = 100 + step
        _grads(np.random.default_rng(seed), a, dtype, step)
        _grads(np.random.default_rng(seed), b, dtype, step)
        opt_a.step()
        with monkeypatch.context() as m:
            _whole_array(m)
            opt_b.step()
    for p, q in zip(a, b):
        assert p.numpy().tobytes() == q.numpy().tobytes()
        assert opt_a.state[p].keys() == opt_b.state[q].keys()
        for k, v in opt_a.state[p].items():
            w = opt_b.state[q][k]
            if isinstance(v, gf.Tensor):
                assert v.shape == p.shape and v.numpy().tobytes() == w.numpy().tobytes()
            else:
                assert v == w


def test_packed_state_is_per_parameter_and_live():
    ps = [Parameter(gf.ones(3, 4)), Parameter(gf.ones(4)), Parameter(gf.ones(7))]
    opt = optim.Adam(ps, lr=0.1)
    for p in ps:
        p.grad = gf.ones_like(p)
    opt.step()
    held = opt.state[ps[0]]["exp_avg"]  # a reference kept across steps sees the updates
    before = held.numpy().copy()
    opt.step()
    assert not np.array_equal(held.numpy(), before)
    assert held is opt.state[ps[0]]["exp_avg"]
    sd = opt.state_dict()["state"]
    assert [tuple(sd[i]["exp_avg_sq"].shape) for i in range(3)] == [(3, 4), (4,), (7,)]
    # the packed buffers: views into one flat array per state slot
    bases = [opt.state[p]["exp_avg"].array.base for p in ps]
    assert all(b is not None for b in bases) and len({id(b) for b in bases}) == 1


@pytest.mark.parametrize("shape", [(6, 5), (300, 300)], ids=["packed", "blocked"])
def test_rebinding_data_between_steps_updates_the_new_array(shape):
    p = Parameter(gf.ones(*shape, dtype=gf.float64))
    opt = optim.SGD([p], lr=0.5, momentum=0.9)
    p.grad = gf.ones_like(p)
    opt.step()
    p.data = gf.full(shape, 3.0, dtype=gf.float64)
    p.grad = gf.ones_like(p)
    opt.step()  # buf = 0.9 + 1 = 1.9; p = 3 - 0.5 * 1.9
    np.testing.assert_array_equal(p.numpy(), np.full(shape, 3.0 - 0.5 * 1.9))


def test_replaced_state_and_load_state_dict_are_used(monkeypatch):
    rng = np.random.default_rng(3)
    a = _params(rng, "float64")
    b = [Parameter(gf.tensor(p.numpy().copy(order="K"))) for p in a]
    opt_a, opt_b = optim.Adam(a, lr=0.01), optim.Adam(b, lr=0.01)
    for step in range(2):
        _grads(np.random.default_rng(step), a, "float64", step)
        _grads(np.random.default_rng(step), b, "float64", step)
        opt_a.step()
        opt_b.step()
    opt_a.state[a[2]]["exp_avg"] = gf.full(a[2].shape, 0.25, dtype=gf.float64)  # user code
    opt_b.state[b[2]]["exp_avg"] = gf.full(b[2].shape, 0.25, dtype=gf.float64)
    opt_a.load_state_dict(copy.deepcopy(opt_a.state_dict()))
    for step in range(2, 4):
        _grads(np.random.default_rng(step), a, "float64", step)
        _grads(np.random.default_rng(step), b, "float64", step)
        opt_a.step()
        with monkeypatch.context() as m:
            _whole_array(m)
            opt_b.step()
    for p, q in zip(a, b):
        assert p.numpy().tobytes() == q.numpy().tobytes()


def test_deepcopy_of_an_optimizer_steps_on_its_own_buffers():
    ps = [Parameter(gf.ones(5)), Parameter(gf.ones(2, 3))]
    opt = optim.RMSprop(ps, lr=0.1, momentum=0.9)
    for p in ps:
        p.grad = gf.ones_like(p)
    opt.step()
    twin_params, twin = copy.deepcopy((ps, opt))
    for p in twin_params:
        p.grad = gf.ones_like(p)
    twin.step()
    opt.step()
    for p, q in zip(ps, twin_params):
        np.testing.assert_array_equal(p.numpy(), q.numpy())
        for k in ("square_avg", "momentum_buffer"):
            np.testing.assert_array_equal(opt.state[p][k].numpy(), twin.state[q][k].numpy())
    assert not np.shares_memory(opt.state[ps[0]]["square_avg"].array,
                                twin.state[twin_params[0]]["square_avg"].array)


def test_mixed_dtypes_in_one_group():
    ps = [Parameter(gf.ones(4, dtype=gf.float32)), Parameter(gf.ones(4, dtype=gf.float64)),
          Parameter(gf.ones(70000, dtype=gf.float32))]
    opt = optim.SGD(ps, lr=0.25, momentum=0.5)
    for _ in range(2):
        for p in ps:
            p.grad = gf.ones_like(p)
        opt.step()
    for p in ps:  # buf: 1, then 1.5; p: 1 - 0.25 - 0.375
        assert p.dtype == opt.state[p]["momentum_buffer"].dtype
        np.testing.assert_array_equal(p.numpy(), np.full(p.shape, 0.375, dtype=p.dtype))


def test_zero_grad_set_to_none_false_keeps_and_accumulates_into_the_buffer():
    w = Parameter(gf.tensor(np.arange(6.0).reshape(2, 3)))
    x = gf.tensor(np.ones((4, 2)))
    opt = optim.SGD([w], lr=0.1)
    (x @ w).sum().backward()
    buf = w.grad.array
    for _ in range(2):
        opt.step()
        opt.zero_grad(set_to_none=False)
        assert w.grad.array is buf and not buf.any()
        (x @ w).sum().backward()
        assert w.grad.array is buf  # backward wrote into the existing buffer
    np.testing.assert_array_equal(buf, np.full((2, 3), 4.0))


TORCH_NAMES = ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta"]


@pytest.mark.parametrize("name", TORCH_NAMES)
def test_signature_and_group_keys_match_torch(name):
    ours, theirs = getattr(optim, name), getattr(torch.optim, name)

    def params(fn):
        return [(q.name, q.kind) for q in inspect.signature(fn).parameters.values()]

    assert params(ours.__init__) == params(theirs.__init__)
    g = ours([Parameter(gf.ones(2))]).param_groups[0]
    t = theirs([torch.ones(2, requires_grad=True)]).param_groups[0]
    assert g.keys() == t.keys()
    assert {k: g[k] for k in g if k != "params"} == {k: t[k] for k in t if k != "params"}


@pytest.mark.parametrize("modes", [{"foreach": True}, {"foreach": False}, {"fused": True},
                                   {"fused": False, "foreach": True}])
@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW"])
def test_foreach_and_fused_run_the_same_update(name, modes):
    def run(**kw):
        ps = [Parameter(gf.tensor(np.linspace(-1, 1, 12).reshape(3, 4)))]
        opt = getattr(optim, name)(ps, lr=0.1, **kw)
        for _ in range(3):
            ps[0].grad = gf.tensor(np.cos(ps[0].numpy()))
            opt.step()
        return ps[0].numpy()

    assert run(**modes).tobytes() == run().tobytes()


@pytest.mark.parametrize("name,kwargs,exc,match", [
    ("SGD", {"fused": True, "foreach": True}, RuntimeError, "cannot be `True` together"),
    ("Adam", {"fused": True, "differentiable": True}, RuntimeError, "does not support"),
    ("Adam", {"capturable": True}, NotImplementedError, "capturable=True.*capturable=False"),
    ("RMSprop", {"differentiable": True}, NotImplementedError, "differentiable=False"),
    ("SGD", {"foreach": "yes"}, TypeError, "foreach must be True, False or None, got 'yes'"),
    ("Adadelta", {"capturable": None}, TypeError, "capturable must be True or False"),
])
def test_mode_errors(name, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        getattr(optim, name)([Parameter(gf.ones(2))], **kwargs)


def test_mode_checked_in_added_and_loaded_groups():
    opt = optim.Adam([Parameter(gf.ones(2))])
    with pytest.raises(NotImplementedError, match="parameter group 1"):
        opt.add_param_group({"params": [Parameter(gf.ones(3))], "capturable": True})
    sd = opt.state_dict()
    sd["param_groups"][0]["differentiable"] = True
    with pytest.raises(NotImplementedError, match="loaded state dict"):
        opt.load_state_dict(sd)
    old = opt.state_dict()  # saved before these keys existed: loads with the defaults
    for k in ("foreach", "fused", "capturable", "differentiable"):
        del old["param_groups"][0][k]
    opt.load_state_dict(old)
    assert opt.param_groups[0]["foreach"] is None and opt.param_groups[0]["capturable"] is False


@pytest.mark.parametrize("maximize", [False, True])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_plain_sgd_is_one_fused_multiply_add_like_torch(dtype, maximize):
    rng = np.random.default_rng(4)
    shapes = [(300, 257), (70, 70), (7,), (80, 60)]
    arrays = [rng.standard_normal(s).astype(dtype) for s in shapes]
    arrays[3] = np.asfortranarray(arrays[3])  # not C-contiguous: the two-pass kernel instead
    grads = [rng.standard_normal(s).astype(dtype) for s in shapes]
    ps = [Parameter(gf.tensor(a.copy(order="K"))) for a in arrays]
    tps = [torch.tensor(a, requires_grad=True) for a in arrays]
    opt = optim.SGD(ps, lr=0.37, maximize=maximize)
    topt = torch.optim.SGD(tps, lr=0.37, maximize=maximize, foreach=False)
    for p, tp, g in zip(ps, tps, grads):
        p.grad, tp.grad = gf.tensor(g), torch.tensor(g)
    opt.step()
    topt.step()
    sign = 1.0 if maximize else -1.0
    two_pass = [a - 0.37 * g if not maximize else a - 0.37 * -g for a, g in zip(arrays, grads)]
    if _flat.axpy(0.0, np.zeros(1, dtype), np.zeros(1, dtype)):  # NumPy's bundled OpenBLAS
        for p, tp in zip(ps[:2], tps[:2]):  # PyTorch's add_(g, alpha=-lr) is a fused multiply-add
            assert p.numpy().tobytes() == tp.detach().numpy().tobytes()
    else:
        for p, want in zip(ps[:2], two_pass[:2]):
            assert p.numpy().tobytes() == want.tobytes()
    for p, want in zip(ps[2:], two_pass[2:]):  # small (below SMALL) or Fortran-ordered
        assert p.numpy().tobytes() == want.tobytes()
    np.testing.assert_allclose(ps[0].numpy(), arrays[0] + sign * 0.37 * grads[0], rtol=1e-6,
                               atol=1e-6)
