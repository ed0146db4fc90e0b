"""The Module API: registration, traversal order, state_dict round trips and errors, modes,
to(), zero_grad, repr; names and orders checked against PyTorch where it has them."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import gradflow as gf
from gradflow import nn


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 4)
        self.bn = nn.BatchNorm1d(4)
        self.scale = nn.Parameter(gf.zeros(4))


def _net_forward(net, x):
    """Shared by Net and its PyTorch twin (the same attribute names)."""
    b = net.body[0]
    h = net.body[1](b.bn(b.fc(x)) + b.scale)
    h = net.drop(net.body[2](h)) * (1 + net.gain)
    for m in net.head:
        h = m(h)
    return h


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.gain = nn.Parameter(gf.zeros(1))
        self.body = nn.Sequential(Block(), nn.ReLU(), nn.Linear(4, 2))
        self.drop = nn.Dropout(0.5)
        self.head = nn.ModuleList([nn.Linear(2, 2), nn.Linear(2, 1, bias=False)])

    forward = _net_forward


def _torch_net():
    class TBlock(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = torch.nn.Linear(3, 4)
            self.bn = torch.nn.BatchNorm1d(4)
            self.scale = torch.nn.Parameter(torch.zeros(4))

    class TNet(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.gain = torch.nn.Parameter(torch.zeros(1))
            self.body = torch.nn.Sequential(TBlock(), torch.nn.ReLU(), torch.nn.Linear(4, 2))
            self.drop = torch.nn.Dropout(0.5)
            self.head = torch.nn.ModuleList([torch.nn.Linear(2, 2),
                                             torch.nn.Linear(2, 1, bias=False)])

        forward = _net_forward

    return TNet()


def test_names_and_orders_match_torch():
    ours, theirs = Net(), _torch_net()
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert [n for n, _ in ours.named_buffers()] == [n for n, _ in theirs.named_buffers()]
    assert [n for n, _ in ours.named_modules()] == [n for n, _ in theirs.named_modules()]
    assert [n for n, _ in ours.named_children()] == [n for n, _ in theirs.named_children()]
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert ours.num_parameters() == sum(p.numel() for p in theirs.parameters())
    assert len(list(ours.modules())) == len(list(theirs.modules()))
    assert [type(m).__name__ for m in ours.children()] == ["Sequential", "Dropout", "ModuleList"]
    assert all(isinstance(p, nn.Parameter) for p in ours.parameters())
    assert len(list(ours.buffers())) == 3


def test_recurse_false_and_prefix():
    net = Net()
    assert [n for n, _ in net.named_parameters(recurse=False)] == ["gain"]
    assert [n for n, _ in net.body.named_parameters(prefix="body")][:3] == [
        "body.0.scale", "body.0.fc.weight", "body.0.fc.bias"]  # own parameters first


def test_shared_parameters_and_modules_are_yielded_once():
    lin = nn.Linear(2, 2)
    seq = nn.Sequential(lin, nn.ReLU(), lin)
    assert len(list(seq.parameters())) == 2
    assert len(list(seq.modules())) == 3
    assert list(seq.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]  # as PyTorch


def test_state_dict_values_are_detached_and_share_memory():
    net = Net()
    sd = net.state_dict()
    w = sd["body.0.fc.weight"]
    assert isinstance(w, gf.Tensor) and not isinstance(w, nn.Parameter)
    assert not w.requires_grad and w.array is net.body[0].fc.weight.array


def test_state_dict_round_trip_copies_in_place(rng):
    a, b = Net(), Net()
    a.train()
    x = gf.tensor(rng.standard_normal((6, 3))).float()
    a(x)  # move the running statistics
    arrays = {n: t.array for n, t in b.state_dict().items()}
    snapshot = {k: v.numpy().copy() for k, v in a.state_dict().items()}
    result = b.load_state_dict(a.state_dict())
    assert result.missing_keys == [] and result.unexpected_keys == []
    for k, t in b.state_dict().items():
        assert t.array is arrays[k]  # same arrays: an optimizer built on b is unaffected
        np.testing.assert_array_equal(t.numpy(), snapshot[k])
    a.eval()
    b.eval()
    np.testing.assert_array_equal(a(x).numpy(), b(x).numpy())


def test_load_state_dict_from_torch_into_float64_model(rng):
    theirs = _torch_net().double()
    with torch.no_grad():
        for t in theirs.state_dict().values():
            if t.is_floating_point():
                t.copy_(torch.tensor(rng.uniform(0.5, 1.5, tuple(t.shape))))
    ours = Net().double()
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    ours.eval()
    theirs.eval()
    x = rng.standard_normal((5, 3))
    with torch.no_grad():
        ref = theirs(torch.tensor(x))
    np.testing.assert_allclose(ours(gf.tensor(x, dtype="float64")).numpy(), ref.numpy(),
                               rtol=1e-12)


def test_load_state_dict_missing_key_is_named():
    net = Net()
    sd = net.state_dict()
    del sd["body.0.bn.running_var"]
    with pytest.raises(RuntimeError, match=r"missing key 'body.0.bn.running_var' \(expected "
                                           r"shape \(4,\)\)"):
        net.load_state_dict(sd)


def test_load_state_dict_unexpected_key_is_named():
    net = Net()
    sd = dict(net.state_dict(), extra=gf.zeros(2, 3))
    with pytest.raises(RuntimeError, match=r"unexpected key 'extra' \(shape \(2, 3\)\)"):
        net.load_state_dict(sd)


def test_load_state_dict_shape_mismatch_names_key_and_both_shapes():
    net = Net()
    before = net.head[0].weight.numpy().copy()
    sd = dict(net.state_dict())
    sd["head.0.weight"] = gf.zeros(3, 2)
    sd["head.0.bias"] = gf.ones(2)
    for strict in (True, False):  # a wrong shape is an error even when not strict
        with pytest.raises(RuntimeError, match=r"size mismatch for 'head.0.weight': the "
                                               r"checkpoint has shape \(3, 2\), the module has "
                                               r"shape \(2, 2\)"):
            net.load_state_dict(sd, strict=strict)
    np.testing.assert_array_equal(net.head[0].weight.numpy(), before)  # nothing copied
    np.testing.assert_array_equal(net.head[0].bias.numpy() == 1, False)


def test_load_state_dict_not_strict_reports_keys():
    net = Net()
    sd = dict(net.state_dict())
    del sd["gain"]
    sd["bogus"] = np.zeros(1)
    sd["head.0.bias"] = np.array([5.0, 6.0])
    result = net.load_state_dict(sd, strict=False)
    assert result.missing_keys == ["gain"] and result.unexpected_keys == ["bogus"]
    np.testing.assert_array_equal(net.head[0].bias.numpy(), [5.0, 6.0])


def test_load_state_dict_rejects_non_dict():
    with pytest.raises(TypeError, match="expected a dict"):
        Net().load_state_dict([("gain", gf.zeros(1))])


def test_train_eval_propagate():
    net = Net()
    assert all(m.training for m in net.modules())
    assert net.eval() is net
    assert not any(m.training for m in net.modules())
    x = gf.randn(4, 3)
    np.testing.assert_array_equal(net(x).numpy(), net(x).numpy())  # dropout off, BN running
    net.body.train()
    assert net.body[0].bn.training and not net.training and not net.drop.training
    with pytest.raises(TypeError, match="mode must be a bool"):
        net.train("yes")


def test_to_float64_keeps_parameter_identity():
    net = Net()
    net.eval()
    params = list(net.parameters())
    bufs = dict(net.named_buffers())
    x = gf.randn(2, 3)
    net(x).sum().backward()
    assert net.to(dtype="float64") is net
    assert list(net.parameters()) == params and all(
        a is b for a, b in zip(net.parameters(), params))
    assert all(p.dtype == np.float64 and p.grad.dtype == np.float64 for p in params)
    assert all(isinstance(p, nn.Parameter) and p.requires_grad for p in params)
    assert bufs["body.0.bn.running_mean"].dtype == np.float64
    assert bufs["body.0.bn.num_batches_tracked"].dtype == np.int64  # integer buffers kept
    assert net(x.double()).dtype == np.float64
    net.to("float32")  # a dtype string passed positionally
    assert all(p.dtype == np.float32 for p in params)
    net.double()
    assert params[0].dtype == np.float64
    with pytest.raises(TypeError, match="floating-point dtype"):
        net.to(dtype="int64")


def test_to_device_keeps_identity(device):
    net = Net()
    params = list(net.parameters())
    net.to(device)
    assert all(a is b for a, b in zip(net.parameters(), params))
    assert all(t.device == gf.get_backend(device).device for t in net.state_dict().values())
    net.eval()
    out = net(gf.randn(2, 3, device=device))
    assert out.device == gf.get_backend(device).device
    net.cpu()
    assert all(p.device == "cpu" for p in params)


def test_zero_grad():
    net = Net()
    net.eval()
    net(gf.randn(2, 3)).sum().backward()
    grads = [p.grad for p in net.parameters()]
    assert all(g is not None for g in grads)
    net.zero_grad(set_to_none=False)
    for p, g in zip(net.parameters(), grads):
        assert p.grad.array is g.array  # zeroed in place
        np.testing.assert_array_equal(p.grad.numpy(), 0)
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


def test_buffers_persistent_and_not():
    m = nn.Module()
    m.register_buffer("kept", gf.ones(2))
    m.register_buffer("scratch", gf.zeros(3), persistent=False)
    m.register_buffer("absent", None)
    assert [n for n, _ in m.named_buffers()] == ["kept", "scratch"]
    assert list(m.state_dict()) == ["kept"]
    assert m.scratch.shape == (3,)
    m.to(dtype="float64")
    assert m.scratch.dtype == np.float64
    m.kept = gf.zeros(5)  # reassigning a buffer keeps it registered
    assert m.state_dict()["kept"].shape == (5,)
    with pytest.raises(TypeError, match="cannot assign list to buffer 'kept'"):
        m.kept = [1, 2]


def test_registration_errors():
    m = nn.Module()
    m.weight = nn.Parameter(gf.zeros(2))
    with pytest.raises(TypeError, match=r"cannot assign Tensor to parameter 'weight'.*"
                                        r"nn.Parameter\(value\)"):
        m.weight = gf.zeros(2)
    m.weight = None
    assert m.weight is None and list(m.parameters()) == []
    with pytest.raises(TypeError, match="must be an nn.Parameter or None"):
        m.register_parameter("b", gf.zeros(2))
    with pytest.raises(KeyError, match="contain no '.'"):
        m.register_buffer("a.b", gf.zeros(1))
    with pytest.raises(KeyError, match="already exists"):
        m.register_buffer("weight", gf.zeros(1))
    with pytest.raises(TypeError, match="must be a Module or None"):
        m.add_module("sub", gf.zeros(1))
    with pytest.raises(TypeError, match="must be a Tensor or None, got ndarray"):
        m.register_buffer("buf", np.zeros(2))
    with pytest.raises(TypeError, match="name must be a str, got int"):
        m.register_buffer(3, gf.zeros(1))
    m.register_buffer("buf", gf.zeros(1))
    m.register_buffer("buf", gf.ones(2))  # re-registering the same buffer replaces it
    assert m.buf.shape == (2,)
    with pytest.raises(AttributeError, match="'Module' object has no attribute 'nothing'"):
        m.nothing  # noqa: B018
    with pytest.raises(NotImplementedError, match="Module has no forward"):
        m(gf.zeros(1))


def test_forgetting_super_init_is_explained():
    class Bad(nn.Module):
        def __init__(self):
            self.fc = nn.Linear(2, 2)

    with pytest.raises(AttributeError, match=r"call super\(\).__init__\(\) first in Bad"):
        Bad()


def test_reassign_and_delete():
    m = nn.Module()
    m.add_module("a", nn.Linear(2, 2))
    m.a = nn.ReLU()
    assert isinstance(m.a, nn.ReLU) and list(m.parameters()) == []
    m.x = nn.Parameter(gf.zeros(1))
    assert "x" in dir(m) and "a" in dir(m)
    with pytest.raises(TypeError, match="cannot assign int to parameter 'x'"):
        m.x = 3
    with pytest.raises(TypeError, match="cannot assign int to child module 'a'"):
        m.a = 3
    m.y = 3  # a plain attribute
    m.y = nn.Parameter(gf.ones(1))  # now registered instead
    assert [n for n, _ in m.named_parameters()] == ["x", "y"] and m.y is m._parameters["y"]
    del m.a, m.x
    assert [n for n, _ in m.named_children()] == [] and [n for n, _ in m.named_parameters()] == [
        "y"]
    assert not hasattr(m, "a") and not hasattr(m, "x")
    m.register_parameter("x", None)  # a deleted name can be registered again
    assert m.x is None
    z = nn.Parameter(gf.zeros(2))
    m._parameters["z"] = z  # written into the registry directly: still an attribute
    assert m.z is z and [n for n, _ in m.named_parameters()] == ["y", "z"]


def test_apply_visits_children_first():
    seen = []
    net = nn.Sequential(nn.Linear(2, 2), nn.Sequential(nn.ReLU()))
    assert net.apply(lambda m: seen.append(type(m).__name__)) is net
    assert seen == ["Linear", "ReLU", "Sequential", "Sequential"]
    net.apply(lambda m: nn.init.zeros_(m.weight) if isinstance(m, nn.Linear) else None)
    np.testing.assert_array_equal(net[0].weight.numpy(), 0)


def test_requires_grad_and_trainable_count():
    net = nn.Sequential(nn.Linear(4, 3), nn.Linear(3, 2))
    net[0].requires_grad_(False)
    assert net.num_parameters() == 15 + 8
    assert net.num_parameters(trainable_only=True) == 8


def test_repr_is_pytorch_tree_with_count():
    model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))
    theirs = torch.nn.Sequential(torch.nn.Linear(64, 128), torch.nn.ReLU(),
                                 torch.nn.Linear(128, 10))
    assert repr(model) == repr(theirs) + "\nTotal parameters: 9,610 (9,610 trainable)"
    assert repr(nn.Linear(3, 2, bias=False)) == "Linear(in_features=3, out_features=2, bias=False)"


def test_repr_nested_matches_torch_tree():
    ours = repr(Net()).rsplit("\n", 1)[0]
    theirs = repr(_torch_net()).replace("TBlock", "Block").replace("TNet", "Net")
    assert ours == theirs
