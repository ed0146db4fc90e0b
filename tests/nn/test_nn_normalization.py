"""BatchNorm1d and LayerNorm against PyTorch (float64, identical weights and data)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import gradflow as gf
from gradflow import nn

TOL = {"rtol": 1e-9, "atol": 1e-11}


def _pair(ours: nn.Module, theirs: torch.nn.Module, rng) -> None:
    """Give both modules the same random affine parameters."""
    with torch.no_grad():
        for p in theirs.parameters():
            p.copy_(torch.tensor(rng.standard_normal(tuple(p.shape))))
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})


def _step(ours, theirs, x, rng):
    """One forward/backward on both; compare output and every gradient."""
    xg = gf.tensor(x, dtype="float64", requires_grad=True)
    xt = torch.tensor(x, requires_grad=True)
    yg, yt = ours(xg), theirs(xt)
    np.testing.assert_allclose(yg.numpy(), yt.detach().numpy(), **TOL, err_msg="output")
    g = rng.standard_normal(x.shape)
    (yg * gf.tensor(g, dtype="float64")).sum().backward()
    (yt * torch.tensor(g)).sum().backward()
    np.testing.assert_allclose(xg.grad.numpy(), xt.grad.numpy(), **TOL, err_msg="input grad")
    for (n, p), (_, pt) in zip(ours.named_parameters(), theirs.named_parameters()):
        np.testing.assert_allclose(p.grad.numpy(), pt.grad.numpy(), **TOL, err_msg=n)


def _same_state(ours, theirs):
    sd = theirs.state_dict()
    mine = ours.state_dict()
    assert list(mine) == list(sd)
    for k, v in sd.items():
        np.testing.assert_allclose(mine[k].numpy(), v.numpy(), **TOL, err_msg=k)


@pytest.mark.parametrize("shape", [(8, 4), (5, 4, 7)])
@pytest.mark.parametrize("momentum", [0.1, 0.3, None])
def test_batchnorm1d_train_then_eval_matches_torch(shape, momentum, rng):
    theirs = torch.nn.BatchNorm1d(4, momentum=momentum).double()
    ours = nn.BatchNorm1d(4, momentum=momentum, dtype="float64")
    _pair(ours, theirs, rng)
    for step in range(4):  # running statistics accumulate over several steps
        x = 2.0 * rng.standard_normal(shape) + step
        _step(ours, theirs, x, rng)
        _same_state(ours, theirs)
    assert int(ours.num_batches_tracked) == 4
    ours.eval()
    theirs.eval()
    _step(ours, theirs, rng.standard_normal(shape), rng)
    _same_state(ours, theirs)  # eval does not touch the running statistics


@pytest.mark.parametrize("affine,track,bias", [(False, True, True), (True, False, True),
                                               (False, False, True), (True, True, False)])
def test_batchnorm1d_options_match_torch(affine, track, bias, rng):
    theirs = torch.nn.BatchNorm1d(3, affine=affine, track_running_stats=track, bias=bias).double()
    ours = nn.BatchNorm1d(3, affine=affine, track_running_stats=track, bias=bias,
                          dtype="float64")
    assert repr(ours) == repr(theirs)
    _pair(ours, theirs, rng)
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert list(ours.state_dict()) == list(theirs.state_dict())
    for train in (True, False):  # without running stats, eval also uses batch statistics
        ours.train(train)
        theirs.train(train)
        _step(ours, theirs, rng.standard_normal((6, 3, 2)), rng)
        _same_state(ours, theirs)


def test_batchnorm1d_float32_default_and_repr():
    m = nn.BatchNorm1d(5)
    assert m.weight.dtype == np.float32 and m.running_var.dtype == np.float32
    assert m.num_batches_tracked.dtype == np.int64
    assert repr(m) == repr(torch.nn.BatchNorm1d(5))
    y = m(gf.randn(16, 5))
    assert y.dtype == np.float32
    np.testing.assert_allclose(y.numpy().mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(y.numpy().var(0), 1, atol=1e-3)


def test_batchnorm1d_reset_running_stats():
    m = nn.BatchNorm1d(2)
    m(gf.randn(4, 2) + 3)
    m.reset_running_stats()
    np.testing.assert_array_equal(m.running_mean.numpy(), 0)
    np.testing.assert_array_equal(m.running_var.numpy(), 1)
    assert int(m.num_batches_tracked) == 0


def test_batchnorm1d_wrong_channels():
    with pytest.raises(ValueError, match=r"expected input of shape \(N, 4\).*\(2, 3\)"):
        nn.BatchNorm1d(4)(gf.randn(2, 3))
    with pytest.raises(ValueError, match=r"\(N, 4, L\)"):
        nn.BatchNorm1d(4)(gf.randn(2, 4, 3, 3))


def test_batchnorm1d_single_value_per_channel_in_training():
    m = nn.BatchNorm1d(3)
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        m(gf.randn(1, 3))
    m.eval()
    assert m(gf.randn(1, 3)).shape == (1, 3)  # eval uses running statistics: fine


@pytest.mark.parametrize("bad", [dict(num_features=0), dict(num_features=3, momentum=1.5)])
def test_batchnorm1d_bad_arguments(bad):
    with pytest.raises(ValueError, match="BatchNorm1d"):
        nn.BatchNorm1d(**bad)


@pytest.mark.parametrize("normalized_shape,shape", [(6, (4, 6)), ((3, 6), (2, 3, 6)),
                                                    ([6], (2, 5, 6))])
@pytest.mark.parametrize("affine", [True, False])
def test_layernorm_matches_torch(normalized_shape, shape, affine, rng):
    theirs = torch.nn.LayerNorm(normalized_shape, elementwise_affine=affine).double()
    ours = nn.LayerNorm(normalized_shape, elementwise_affine=affine, dtype="float64")
    _pair(ours, theirs, rng)
    _step(ours, theirs, 3 * rng.standard_normal(shape) + 1, rng)


def test_layernorm_without_bias_matches_torch(rng):
    theirs = torch.nn.LayerNorm(5, bias=False).double()
    ours = nn.LayerNorm(5, bias=False, dtype="float64")
    assert ours.bias is None
    _pair(ours, theirs, rng)
    _step(ours, theirs, rng.standard_normal((3, 5)), rng)


def test_layernorm_repr_and_errors():
    assert repr(nn.LayerNorm(8)) == "LayerNorm((8,), eps=1e-05, elementwise_affine=True)"
    with pytest.raises(ValueError, match="normalized_shape"):
        nn.LayerNorm(())
    with pytest.raises(ValueError, match=r"normalized_shape \(8,\) must match"):
        nn.LayerNorm(8)(gf.randn(2, 7))
