"""nn.ModuleDict, nn.ParameterList, nn.ParameterDict, nn.LazyLinear and nn.init's generator=,
side by side with torch.nn."""

from __future__ import annotations

import inspect
from collections import OrderedDict

import numpy as np
import pytest

import gradflow as gf
from gradflow import nn, optim
from gradflow.nn import init

torch = pytest.importorskip("torch")
tnn = torch.nn


def _names(module):
    return [n for n, _ in module.named_parameters()]


# --- ModuleDict -----------------------------------------------------------------------------
def test_module_dict_api_as_torch():
    ours = nn.ModuleDict({"z": nn.Linear(2, 3), "a": nn.ReLU()})
    theirs = tnn.ModuleDict({"z": tnn.Linear(2, 3), "a": tnn.ReLU()})
    assert list(ours) == list(theirs) == ["z", "a"]  # a dict's order is kept (not sorted)
    assert list(ours.keys()) == list(theirs.keys())
    assert [type(m).__name__ for m in ours.values()] == [type(m).__name__ for m in
                                                         theirs.values()]
    assert [k for k, _ in ours.items()] == [k for k, _ in theirs.items()]
    assert len(ours) == len(theirs) == 2 and "z" in ours and "q" not in ours
    assert _names(ours) == _names(theirs) == ["z.weight", "z.bias"]
    assert list(ours.state_dict()) == list(theirs.state_dict())
    for md, lib in ((ours, nn), (theirs, tnn)):
        md["b"] = lib.Tanh()
        md.update([("c", lib.Sigmoid()), ("a", lib.GELU())])  # replacing keeps the position
        assert list(md) == ["z", "a", "b", "c"]
        assert type(md["a"]).__name__ == "GELU" and md.a is md["a"]
        del md["b"]
        assert type(md.pop("c")).__name__ == "Sigmoid"
        assert list(md) == ["z", "a"]
    ours.clear()
    theirs.clear()
    assert len(ours) == len(theirs) == 0 and _names(ours) == []


def test_module_dict_from_pairs_and_module_dict():
    pairs = [("b", nn.ReLU()), ("a", nn.Linear(1, 1))]
    md = nn.ModuleDict(pairs)
    assert list(md) == ["b", "a"]
    copy = nn.ModuleDict(md)
    assert list(copy) == ["b", "a"] and copy["a"] is md["a"]
    od = nn.ModuleDict(OrderedDict(pairs[::-1]))
    assert list(od) == ["a", "b"]


def test_module_dict_in_a_model_trains_and_moves():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.heads = nn.ModuleDict({"x": nn.Linear(2, 1), "y": nn.Linear(2, 1)})

        def forward(self, v):
            return self.heads["x"](v) + self.heads["y"](v)

    net = Net().double()
    assert all(p.dtype == np.float64 for p in net.parameters())
    assert _names(net) == ["heads.x.weight", "heads.x.bias", "heads.y.weight", "heads.y.bias"]
    net(gf.randn(3, 2, dtype="float64")).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    sd = net.state_dict()
    fresh = Net().double()
    fresh.load_state_dict(sd)
    np.testing.assert_array_equal(fresh.heads["y"].weight.numpy(), net.heads["y"].weight.numpy())


@pytest.mark.parametrize("op,exc,match", [
    (lambda md, lib: md["missing"], KeyError, "missing"),
    (lambda md, lib: md.__delitem__("missing"), KeyError, "missing"),
    (lambda md, lib: md.pop("missing"), KeyError, "missing"),
    (lambda md, lib: md.__setitem__(1, lib.ReLU()), TypeError, "name must be a str|string"),
    (lambda md, lib: md.__setitem__("a.b", lib.ReLU()), KeyError, r'"\."|contain no'),
    (lambda md, lib: md.__setitem__("", lib.ReLU()), KeyError, "empty"),
    (lambda md, lib: md.__setitem__("keys", lib.ReLU()), KeyError, "already exists"),
    (lambda md, lib: md.__setitem__("training", lib.ReLU()), KeyError, "already exists"),
    (lambda md, lib: md.__setitem__("c", 3), TypeError, "Module"),
    (lambda md, lib: md.update(3), TypeError, "update"),
    (lambda md, lib: md.update([3]), TypeError, "element #0"),
    (lambda md, lib: md.update([("x",)]), ValueError, "element #0 has length 1"),
    (lambda md, lib: md.update("ab"), (TypeError, ValueError), "update"),
    (lambda md, lib: md(1), NotImplementedError, "forward"),
])
def test_module_dict_errors_as_torch(op, exc, match):
    for lib in (nn, tnn):
        md = lib.ModuleDict({"a": lib.ReLU()})
        with pytest.raises(exc, match=match):
            op(md, lib)
        assert "a" in md


# --- ParameterList --------------------------------------------------------------------------
def test_parameter_list_registers_and_wraps_as_torch():
    p = nn.Parameter(gf.ones(2))
    frozen = nn.Parameter(gf.ones(2), requires_grad=False)
    plain = gf.zeros(3)
    pl = nn.ParameterList([p, plain, frozen])
    tpl = tnn.ParameterList([tnn.Parameter(torch.ones(2)), torch.zeros(3),
                             tnn.Parameter(torch.ones(2), requires_grad=False)])
    assert [type(v).__name__ for v in pl] == [type(v).__name__ for v in tpl]
    assert [v.requires_grad for v in pl] == [v.requires_grad for v in tpl] == [True, True, False]
    assert pl[0] is p and pl[1].array is plain.array  # wrapped, sharing the array
    assert _names(pl) == _names(tpl) == ["0", "1", "2"]
    assert pl[-1] is pl[2] and len(pl) == len(tpl) == 3
    sub = pl[0:3:2]
    assert type(sub) is nn.ParameterList and list(sub) == [pl[0], pl[2]]
    for lst, t in ((pl, gf.ones(4)), (tpl, torch.ones(4))):
        lst[1] = t
        lst.append(t * 2)
        lst.extend([t, t])
        lst += [t]
    assert len(pl) == len(tpl) == 7
    assert _names(pl) == _names(tpl)
    assert isinstance(pl[1], nn.Parameter) and pl[1].shape == (4,)
    assert repr(pl).replace("float32", "torch.float32") == repr(tpl)


def _net(lib, make):
    class Net(lib.Module):
        def __init__(self):
            super().__init__()
            self.plist = lib.ParameterList([make(2, 3), make(3)])
            self.pdict = lib.ParameterDict({"w": make(2), "b": make(1)})

    return Net()


def test_parameter_list_keys_in_a_model_as_torch():
    ours, theirs = _net(nn, gf.randn), _net(tnn, torch.randn)
    assert list(ours.state_dict()) == list(theirs.state_dict()) == \
        ["plist.0", "plist.1", "pdict.b", "pdict.w"]  # a plain dict's keys sorted, as torch
    assert _names(ours) == _names(theirs)
    opt = optim.SGD(ours.parameters(), lr=0.1)
    assert sum(len(g["params"]) for g in opt.param_groups) == 4
    ours.load_state_dict({k: gf.zeros(*v.shape) for k, v in ours.state_dict().items()})
    assert all((p.numpy() == 0).all() for p in ours.parameters())


@pytest.mark.parametrize("op,exc", [
    (lambda pl, lib: pl[5], IndexError),
    (lambda pl, lib: pl[-3], IndexError),
    (lambda pl, lib: pl["0"], TypeError),
    (lambda pl, lib: pl.__setitem__(4, lib.ones(1)), IndexError),
    (lambda pl, lib: pl.extend(3), TypeError),
    (lambda pl, lib: pl(1), RuntimeError),
    (lambda pl, lib: pl.append(lib.ones(2, dtype=lib.int64)), RuntimeError),
])
def test_parameter_list_errors_as_torch(op, exc):
    for lib in (torch, gf):
        pl = (nn if lib is gf else tnn).ParameterList([lib.ones(1), lib.ones(2)])
        with pytest.raises(exc):
            op(pl, lib)
    assert len(pl) == 2  # gradflow's is unchanged (torch's append leaves a hole here)


def test_parameter_list_holds_other_objects_as_torch():
    pl = nn.ParameterList([gf.ones(1)])
    pl.append("note")
    tpl = tnn.ParameterList([torch.ones(1)])
    tpl.append("note")
    assert pl[1] == tpl[1] == "note" and _names(pl) == _names(tpl) == ["0"]
    assert repr(pl).replace("float32", "torch.float32") == repr(tpl)


# --- ParameterDict --------------------------------------------------------------------------
def test_parameter_dict_api_as_torch():
    w = nn.Parameter(gf.ones(2))
    pd = nn.ParameterDict(OrderedDict([("w", w), ("b", gf.zeros(1))]))
    tpd = tnn.ParameterDict(OrderedDict([("w", tnn.Parameter(torch.ones(2))),
                                         ("b", torch.zeros(1))]))
    assert list(pd) == list(tpd) == ["w", "b"]  # an OrderedDict's order is kept
    assert pd["w"] is w and isinstance(pd["b"], nn.Parameter) and pd["b"].requires_grad
    assert list(reversed(pd)) == list(reversed(tpd))
    assert [k for k, _ in pd.items()] == [k for k, _ in tpd.items()]
    assert len(list(pd.values())) == 2 and "w" in pd and "x" not in pd
    for d, lib in ((pd, gf), (tpd, torch)):
        d["c"] = lib.ones(3)
        assert d.get("nope", 7) == 7
        assert d.setdefault("c", lib.zeros(3)) is d["c"]
        assert d.setdefault("e", lib.zeros(1)) is d["e"]
        d.update([("f", lib.ones(1))])
        assert d.pop("f").shape == (1,)
        assert d.popitem()[0] == "e"
        del d["c"]
    assert list(pd) == list(tpd) == ["w", "b"]
    assert _names(pd) == _names(tpd) == ["w", "b"]
    copy = pd.copy()
    assert type(copy) is nn.ParameterDict and copy["w"] is w
    merged = pd | {"z": gf.ones(1)}
    assert list(merged) == ["w", "b", "z"] and list(pd) == ["w", "b"]
    pd |= {"z": gf.ones(1)}
    assert list(pd) == ["w", "b", "z"]
    plain = {"q": gf.ones(1)} | pd
    assert type(plain) is dict and list(plain) == ["q", "w", "b", "z"]
    keys = pd.fromkeys(["x", "y"], gf.ones(2))
    assert list(keys) == ["x", "y"] and keys["x"] is not keys["y"]  # each wrapped on its own
    pd.clear()
    assert len(pd) == 0 and _names(pd) == []
    assert repr(nn.ParameterDict({"a": gf.ones(2, 3, dtype="float64")})) == \
        "ParameterDict(  (a): Parameter containing: [float64 of size 2x3])"


def test_parameter_dict_missing_key_is_key_error_and_attribute_error():
    pd = nn.ParameterDict({"w": gf.ones(1)})
    tpd = tnn.ParameterDict({"w": torch.ones(1)})
    with pytest.raises(AttributeError):  # torch's type
        tpd["missing"]
    for op in (lambda d: d["missing"], lambda d: d.pop("missing")):
        with pytest.raises(AttributeError, match="no entry under key 'missing'"):
            op(pd)
        with pytest.raises(KeyError, match="no entry under key 'missing'"):
            op(pd)
    with pytest.raises(KeyError):
        del pd["missing"]
    with pytest.raises(KeyError):
        del tpd["missing"]


@pytest.mark.parametrize("op,exc", [
    (lambda d, lib: d.__setitem__(1, lib.ones(1)), TypeError),
    (lambda d, lib: d.__setitem__("a.b", lib.ones(1)), KeyError),
    (lambda d, lib: d.update(3), TypeError),
    (lambda d, lib: d.update([3]), TypeError),
    (lambda d, lib: d.update([("x",)]), ValueError),
    (lambda d, lib: d(1), RuntimeError),
])
def test_parameter_dict_errors_as_torch(op, exc):
    for lib in (gf, torch):
        d = (nn if lib is gf else tnn).ParameterDict({"w": lib.ones(1)})
        with pytest.raises(exc):
            op(d, lib)
        assert "w" in d


def test_parameter_dict_refuses_keys_that_are_attributes():
    """torch would register a parameter named 'training' and shadow the flag; refused here."""
    pd = nn.ParameterDict()
    for key in ("training", "keys", "update"):
        with pytest.raises(KeyError, match=f"key '{key}' is already an attribute"):
            pd[key] = gf.ones(1)
    assert pd.training is True and len(pd) == 0


# --- LazyLinear -----------------------------------------------------------------------------
def test_lazy_linear_as_torch():
    lazy, tlazy = nn.LazyLinear(3), tnn.LazyLinear(3)
    assert lazy.in_features == tlazy.in_features == 0
    assert repr(lazy) == repr(tlazy) == "LazyLinear(in_features=0, out_features=3, bias=True)"
    assert [type(p).__name__ for p in lazy.parameters()] == \
        [type(p).__name__ for p in tlazy.parameters()] == ["UninitializedParameter"] * 2
    assert isinstance(lazy, nn.Linear) and isinstance(lazy.weight, nn.Parameter)
    with pytest.raises(RuntimeError, match="uninitialized parameter"):
        _ = tlazy.weight.shape
    with pytest.raises(RuntimeError, match="uninitialized parameter.*run one forward pass"):
        _ = lazy.weight.shape
    assert lazy.num_parameters() == 0
    y = lazy(gf.randn(5, 4))
    ty = tlazy(torch.randn(5, 4))
    assert type(lazy) is nn.Linear and type(tlazy) is tnn.Linear  # the class becomes Linear
    assert lazy.in_features == tlazy.in_features == 4
    assert y.shape == tuple(ty.shape) == (5, 3)
    assert lazy.weight.shape == tuple(tlazy.weight.shape) == (3, 4)
    assert type(lazy.weight) is nn.Parameter and lazy.weight.requires_grad
    assert repr(lazy) == repr(tlazy)
    assert list(lazy.state_dict()) == list(tlazy.state_dict())
    bound = 1 / np.sqrt(4)
    assert np.abs(lazy.weight.numpy()).max() <= bound and np.abs(lazy.bias.numpy()).max() <= bound


def test_lazy_linear_initialises_like_linear():
    x = gf.randn(2, 6)
    gf.manual_seed(3)
    lazy = nn.LazyLinear(4)
    lazy(x)
    gf.manual_seed(3)
    ref = nn.Linear(6, 4)
    np.testing.assert_array_equal(lazy.weight.numpy(), ref.weight.numpy())
    np.testing.assert_array_equal(lazy.bias.numpy(), ref.bias.numpy())


def test_lazy_linear_optimizer_built_before_the_first_forward():
    """As in torch: the same Parameter objects are materialized in place, so SGD/Adam work."""
    lazy = nn.LazyLinear(2, bias=False)
    params = list(lazy.parameters())
    opt = optim.Adam(lazy.parameters(), lr=0.1)
    x = gf.randn(8, 3)
    lazy(x).pow(2).mean().backward()
    before = lazy.weight.numpy().copy()
    opt.step()
    assert lazy.weight is params[0] and lazy.bias is None
    assert not np.allclose(lazy.weight.numpy(), before)
    assert opt.state[lazy.weight]["exp_avg"].shape == (2, 3)


def test_lazy_linear_dtype_device_and_errors():
    lazy = nn.LazyLinear(2, dtype="float64")
    lazy(gf.randn(3, 5, dtype="float64"))
    assert lazy.weight.dtype == np.float64 and lazy.bias.dtype == np.float64
    moved = nn.LazyLinear(2).double()  # to() before the first forward sets the dtype
    moved(gf.randn(1, 2, dtype="float64"))
    assert moved.weight.dtype == np.float64
    with pytest.raises(IndexError, match="0-dimensional"):
        nn.LazyLinear(2)(gf.tensor(1.0))
    with pytest.raises(TypeError, match="input must be a Tensor, got list"):
        nn.LazyLinear(2)([[1.0, 2.0]])
    with pytest.raises(ValueError, match="out_features must be a non-negative int, got 2.5"):
        nn.LazyLinear(2.5)
    later = nn.LazyLinear(2)
    later(gf.randn(1, 3))
    with pytest.raises(Exception):  # noqa: B017  (the weight is (2, 3) now: a shape error)
        later(gf.randn(1, 4))


def test_lazy_linear_in_sequential():
    model = nn.Sequential(nn.LazyLinear(8), nn.ReLU(), nn.LazyLinear(1))
    tmodel = tnn.Sequential(tnn.LazyLinear(8), tnn.ReLU(), tnn.LazyLinear(1))
    assert "Total parameters: 0" in repr(model)
    model(gf.randn(4, 5))
    tmodel(torch.randn(4, 5))
    assert [tuple(p.shape) for p in model.parameters()] == \
        [tuple(p.shape) for p in tmodel.parameters()]
    assert list(model.state_dict()) == list(tmodel.state_dict())


# --- nn.init with generator= ----------------------------------------------------------------
RANDOM_INITS = [
    ("uniform_", {"a": -0.5, "b": 2.0}), ("normal_", {"mean": 1.0, "std": 0.5}),
    ("xavier_uniform_", {"gain": 1.5}), ("xavier_normal_", {}),
    ("kaiming_uniform_", {"mode": "fan_out"}), ("kaiming_normal_", {"nonlinearity": "tanh"}),
]


@pytest.mark.parametrize("name,kwargs", RANDOM_INITS, ids=[n for n, _ in RANDOM_INITS])
def test_init_generator_reproducible_in_place(name, kwargs):
    fn = getattr(init, name)
    w1, w2 = nn.Parameter(gf.empty(6, 5)), nn.Parameter(gf.empty(6, 5))
    arr, ver = w1.array, w1._version
    state = gf.get_rng_state().numpy().copy()
    assert fn(w1, generator=gf.Generator().manual_seed(7), **kwargs) is w1
    fn(w2, generator=gf.Generator().manual_seed(7), **kwargs)
    np.testing.assert_array_equal(w1.numpy(), w2.numpy())
    np.testing.assert_array_equal(gf.get_rng_state().numpy(), state)  # default untouched
    assert w1.array is arr and w1._version == ver + 1 and w1.grad_fn is None
    fn(w2, generator=gf.Generator().manual_seed(8), **kwargs)
    assert not np.array_equal(w1.numpy(), w2.numpy())
    gen = gf.Generator().manual_seed(7)
    a = fn(gf.empty(6, 5), generator=gen, **kwargs).numpy().copy()
    b = fn(gf.empty(6, 5), generator=gen, **kwargs).numpy()
    assert not np.array_equal(a, b)  # the generator advances


@pytest.mark.parametrize("name", [n for n, _ in RANDOM_INITS])
def test_init_signatures_take_generator_as_torch(name):
    ours = inspect.signature(getattr(init, name)).parameters
    theirs = inspect.signature(getattr(tnn.init, name)).parameters
    assert list(ours)[1:] == list(theirs)[1:]
    assert ours["generator"].default is None
    for k in list(ours)[1:]:
        if k != "nonlinearity":  # "relu" here; a=0 gives torch's "leaky_relu" numbers
            assert ours[k].default == theirs[k].default, k


def test_init_generator_errors():
    with pytest.raises(TypeError, match="nn.init.normal_: generator must be a "
                                        "gradflow.Generator, got Generator"):
        init.normal_(gf.empty(2), generator=torch.Generator())
    with pytest.raises(TypeError, match="nn.init.kaiming_uniform_: generator must be"):
        init.kaiming_uniform_(gf.empty(2, 2), generator=0)


def test_init_on_a_parameter_requiring_grad_with_grad_mode_on():
    w = nn.Parameter(gf.empty(3, 4))
    with gf.enable_grad():
        init.xavier_uniform_(w, generator=gf.Generator().manual_seed(0))
    assert w.is_leaf and w.grad_fn is None and w.requires_grad
    (w * 2).sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), np.full((3, 4), 2.0))
