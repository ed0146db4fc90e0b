"""Linear, activations, Flatten/Identity, Sequential/ModuleList and Dropout against PyTorch."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import gradflow as gf
from gradflow import nn

TOL = {"rtol": 1e-10, "atol": 1e-12}


def _gf(a, grad=True):
    return gf.tensor(a, dtype="float64", requires_grad=grad)


def _t(a, grad=True):
    return torch.tensor(a, dtype=torch.float64, requires_grad=grad)


def _load_from_torch(ours: nn.Module, theirs: torch.nn.Module) -> None:
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})


def _check_fwd_bwd(ours, theirs, x: np.ndarray, rng) -> None:
    """Same forward and same gradients (input and parameters) for a random upstream gradient."""
    xg, xt = _gf(x), _t(x)
    yg, yt = ours(xg), theirs(xt)
    np.testing.assert_allclose(yg.numpy(), yt.detach().numpy(), **TOL)
    g = rng.standard_normal(yt.shape)
    (yg * gf.tensor(g, dtype="float64")).sum().backward()
    (yt * torch.tensor(g)).sum().backward()
    np.testing.assert_allclose(xg.grad.numpy(), xt.grad.numpy(), **TOL)
    for (n, p), (nt, pt) in zip(ours.named_parameters(), theirs.named_parameters()):
        assert n == nt
        np.testing.assert_allclose(p.grad.numpy(), pt.grad.numpy(), **TOL, err_msg=n)


# --- Linear ---------------------------------------------------------------------------------
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("shape", [(4, 5), (2, 3, 5), (5,)])
def test_linear_matches_torch(bias, shape, rng):
    theirs = torch.nn.Linear(5, 3, bias=bias).double()
    ours = nn.Linear(5, 3, bias=bias, dtype="float64")
    _load_from_torch(ours, theirs)
    _check_fwd_bwd(ours, theirs, rng.standard_normal(shape), rng)


def test_linear_shapes_and_default_init():
    m = nn.Linear(400, 300)
    assert m.weight.shape == (300, 400) and m.bias.shape == (300,)
    assert m.weight.dtype == np.float32 and m.weight.requires_grad
    bound = 1 / math.sqrt(400)  # kaiming_uniform_(a=√5) gives U(−1/√fan_in, 1/√fan_in)
    w, b = m.weight.numpy(), m.bias.numpy()
    assert np.abs(w).max() <= bound and np.abs(b).max() <= bound
    np.testing.assert_allclose(w.std(), bound / math.sqrt(3), rtol=0.02)
    np.testing.assert_allclose(w.mean(), 0, atol=0.01 * bound)
    assert nn.Linear(3, 2, bias=False).bias is None


def test_linear_default_init_is_seeded():
    gf.manual_seed(3)
    a = nn.Linear(6, 4)
    gf.manual_seed(3)
    b = nn.Linear(6, 4)
    np.testing.assert_array_equal(a.weight.numpy(), b.weight.numpy())
    np.testing.assert_array_equal(a.bias.numpy(), b.bias.numpy())


def test_linear_wrong_input_width_names_expected_and_got():
    m = nn.Linear(4, 2)
    with pytest.raises(ValueError, match=r"expected input with 4 features.*\(3, 5\)"):
        m(gf.randn(3, 5))


def test_linear_bad_sizes():
    with pytest.raises(ValueError, match="in_features"):
        nn.Linear(-1, 3)
    with pytest.raises(ValueError, match="out_features"):
        nn.Linear(3, 2.5)


# --- activations ----------------------------------------------------------------------------
@pytest.mark.parametrize("ours,theirs", [
    (nn.ReLU(), torch.nn.ReLU()),
    (nn.LeakyReLU(0.2), torch.nn.LeakyReLU(0.2)),
    (nn.LeakyReLU(), torch.nn.LeakyReLU()),
    (nn.Sigmoid(), torch.nn.Sigmoid()),
    (nn.Tanh(), torch.nn.Tanh()),
    (nn.GELU(), torch.nn.GELU()),
    (nn.GELU("tanh"), torch.nn.GELU("tanh")),
    (nn.Softmax(-1), torch.nn.Softmax(dim=-1)),
    (nn.Softmax(0), torch.nn.Softmax(0)),
    (nn.Softmax(dim=1), torch.nn.Softmax(dim=1)),
    (nn.LogSoftmax(dim=1), torch.nn.LogSoftmax(dim=1)),
    (nn.LogSoftmax(dim=-1), torch.nn.LogSoftmax(dim=-1)),
], ids=lambda m: repr(m))
def test_activation_matches_torch(ours, theirs, rng):
    _check_fwd_bwd(ours, theirs, 3 * rng.standard_normal((4, 6, 3)), rng)


def test_activation_reprs_and_errors():
    assert repr(nn.LeakyReLU(0.2)) == "LeakyReLU(negative_slope=0.2)"
    assert repr(nn.GELU("tanh")) == "GELU(approximate='tanh')"
    assert repr(nn.Softmax(dim=1)) == "Softmax(dim=1)"
    assert repr(nn.ReLU()) == "ReLU()"
    with pytest.raises(ValueError, match="approximate"):
        nn.GELU("fast")
    with pytest.raises(TypeError, match="axis"):  # PyTorch's dim only (no NumPy alias)
        nn.Softmax(axis=0)


# --- Flatten / Identity ---------------------------------------------------------------------
@pytest.mark.parametrize("args", [(), (0, 1), (1, 2), (2, -1), (0, -1)])
def test_flatten_matches_torch(args, rng):
    _check_fwd_bwd(nn.Flatten(*args), torch.nn.Flatten(*args), rng.standard_normal((2, 3, 4, 5)),
                   rng)


def test_identity_returns_input():
    x = gf.randn(3, 2)
    assert nn.Identity(7, foo=1)(x) is x
    assert repr(nn.Flatten()) == "Flatten(start_dim=1, end_dim=-1)"


# --- Sequential / ModuleList ----------------------------------------------------------------
def test_sequential_mlp_matches_torch(rng):
    theirs = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.Tanh(), torch.nn.Linear(8, 8),
                                 torch.nn.ReLU(), torch.nn.Linear(8, 3)).double()
    ours = nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 3))
    ours.double()
    _load_from_torch(ours, theirs)
    _check_fwd_bwd(ours, theirs, rng.standard_normal((5, 6)), rng)


def test_sequential_indexing_len_iteration():
    a, b, c = nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1)
    seq = nn.Sequential(a, b, c)
    assert len(seq) == 3 and list(seq) == [a, b, c]
    assert seq[0] is a and seq[-1] is c
    head = seq[:2]
    assert isinstance(head, nn.Sequential) and list(head) == [a, b]
    assert head[0].weight is a.weight  # a slice shares the modules
    x = gf.randn(4, 2)
    np.testing.assert_allclose(seq(x).numpy(), c(b(a(x))).numpy())
    seq.append(nn.Sigmoid())
    assert len(seq) == 4 and [n for n, _ in seq.named_children()] == ["0", "1", "2", "3"]
    del seq[1]
    assert [n for n, _ in seq.named_children()] == ["0", "1", "2"] and seq[1] is c
    seq[2] = nn.Tanh()
    assert isinstance(seq[2], nn.Tanh)


def test_sequential_from_ordered_dict():
    from collections import OrderedDict

    seq = nn.Sequential(OrderedDict(fc=nn.Linear(2, 3), act=nn.ReLU()))
    assert [n for n, _ in seq.named_parameters()] == ["fc.weight", "fc.bias"]
    assert isinstance(seq[1], nn.ReLU)


def test_sequential_errors():
    seq = nn.Sequential(nn.ReLU())
    with pytest.raises(IndexError, match="index 3 is out of range for 1 modules"):
        seq[3]
    with pytest.raises(TypeError, match="integers or slices"):
        seq["0"]
    with pytest.raises(TypeError, match="is not a Module"):
        nn.Sequential(lambda x: x)


def test_modulelist_registers_and_edits():
    layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    assert len(layers) == 3
    assert [n for n, _ in layers.named_parameters()] == [
        "0.weight", "0.bias", "1.weight", "1.bias", "2.weight", "2.bias"]
    layers.insert(0, nn.ReLU())
    assert isinstance(layers[0], nn.ReLU) and len(layers) == 4
    layers += [nn.Tanh()]
    assert isinstance(layers[-1], nn.Tanh)
    assert isinstance(layers[1:3], nn.ModuleList) and len(layers[1:3]) == 2
    del layers[0]
    assert [n for n, _ in layers.named_children()] == ["0", "1", "2", "3"]
    with pytest.raises(NotImplementedError, match="iterate over it"):
        layers(gf.randn(2))


# --- Dropout --------------------------------------------------------------------------------
@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_dropout_statistics(p):
    m = nn.Dropout(p)
    x = gf.ones(200_000)
    y = m(x).numpy()
    kept = y != 0
    assert abs(kept.mean() - (1 - p)) < 0.005  # about 4 standard deviations at n = 2e5
    np.testing.assert_allclose(y[kept], 1 / (1 - p), rtol=1e-6)  # inverted dropout scaling
    assert abs(y.mean() - 1) < 0.02


def test_dropout_gradient_is_the_mask():
    m = nn.Dropout(0.4)
    x = gf.randn(50, 40, dtype="float64", requires_grad=True)
    y = m(x)
    y.sum().backward()
    mask = y.numpy() / x.numpy()
    np.testing.assert_allclose(x.grad.numpy(), mask, rtol=1e-12)
    assert np.all(np.isclose(mask, 0) | np.isclose(mask, 1 / 0.6, rtol=1e-12))


def test_dropout_eval_is_identity_and_seeded():
    m = nn.Dropout(0.5)
    x = gf.randn(100)
    assert m.eval()(x) is x
    m.train()
    gf.manual_seed(7)
    a = m(x).numpy()
    gf.manual_seed(7)
    b = m(x).numpy()
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, m(x).numpy())
    assert nn.Dropout(0.0)(x) is x
    assert repr(m) == "Dropout(p=0.5, inplace=False)"


@pytest.mark.parametrize("p", [-0.1, 1.0, 1.5, "0.5"])
def test_dropout_p_out_of_range(p):
    with pytest.raises(ValueError, match=r"p must be a number in \[0, 1\)"):
        nn.Dropout(p)


def test_namespace_exports():
    import gradflow.functional as F
    import gradflow.nn.functional as nnF

    assert nnF.relu is F.relu and nn.functional.cross_entropy is F.cross_entropy
    assert nn.init.xavier_uniform_ is not None and nn.utils.clip_grad_norm_ is not None
    for name in nn.__all__:
        assert getattr(nn, name) is not None, name
