"""Loss modules against PyTorch: every reduction, class-index and probability targets, label
smoothing, and gradients, in float64."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import gradflow as gf
from gradflow import nn

TOL = {"rtol": 1e-10, "atol": 1e-12}
REDUCTIONS = ["mean", "sum", "none"]


def _compare(ours, theirs, x: np.ndarray, target: np.ndarray, rng) -> None:
    xg = gf.tensor(x, dtype="float64", requires_grad=True)
    xt = torch.tensor(x, requires_grad=True)
    tg = gf.tensor(target, dtype=target.dtype)
    tt = torch.tensor(target)
    lg, lt = ours(xg, tg), theirs(xt, tt)
    np.testing.assert_allclose(lg.numpy(), lt.detach().numpy(), **TOL, err_msg="loss")
    g = rng.standard_normal(tuple(lt.shape))
    (lg * gf.tensor(g, dtype="float64")).sum().backward()
    (lt * torch.tensor(g)).sum().backward()
    np.testing.assert_allclose(xg.grad.numpy(), xt.grad.numpy(), **TOL, err_msg="grad")


def _probs(rng, shape, axis=1):
    e = np.exp(rng.standard_normal(shape))
    return e / e.sum(axis, keepdims=True)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name", ["MSELoss", "L1Loss"])
def test_regression_losses(name, reduction, rng):
    _compare(getattr(nn, name)(reduction=reduction), getattr(torch.nn, name)(reduction=reduction),
             rng.standard_normal((5, 3)), rng.standard_normal((5, 3)), rng)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
@pytest.mark.parametrize("shape", [(6, 4), (3, 4, 5)])
def test_cross_entropy_class_indices(reduction, smoothing, shape, rng):
    x = 3 * rng.standard_normal(shape)
    target = rng.integers(0, shape[1], (shape[0],) + shape[2:])
    _compare(nn.CrossEntropyLoss(reduction, smoothing),
             torch.nn.CrossEntropyLoss(reduction=reduction, label_smoothing=smoothing),
             x, target, rng)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_cross_entropy_probability_targets(reduction, smoothing, rng):
    _compare(nn.CrossEntropyLoss(reduction=reduction, label_smoothing=smoothing),
             torch.nn.CrossEntropyLoss(reduction=reduction, label_smoothing=smoothing),
             rng.standard_normal((6, 4)), _probs(rng, (6, 4)), rng)


def test_cross_entropy_is_finite_for_huge_logits(rng):
    x = np.array([[1e4, -1e4, 0.0], [-5e3, 5e3, 1.0]])
    _compare(nn.CrossEntropyLoss(), torch.nn.CrossEntropyLoss(), x, np.array([1, 0]), rng)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_nll_loss(reduction, rng):
    logp = np.log(_probs(rng, (7, 5)))
    _compare(nn.NLLLoss(reduction), torch.nn.NLLLoss(reduction=reduction), logp,
             rng.integers(0, 5, 7), rng)


def test_log_softmax_then_nll_equals_cross_entropy(rng):
    x = gf.tensor(rng.standard_normal((4, 3)), dtype="float64")
    t = gf.tensor([0, 2, 1, 2])
    a = nn.NLLLoss()(nn.LogSoftmax(dim=1)(x), t)
    b = nn.CrossEntropyLoss()(x, t)
    np.testing.assert_allclose(a.numpy(), b.numpy(), **TOL)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_loss(reduction, rng):
    p = rng.uniform(0.02, 0.98, (6, 2))
    _compare(nn.BCELoss(reduction), torch.nn.BCELoss(reduction=reduction), p,
             rng.uniform(0, 1, (6, 2)), rng)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_with_logits_loss(reduction, rng):
    z = 4 * rng.standard_normal((6, 3))
    z[0, :] = [200.0, -200.0, 50.0]  # stable form: no overflow
    _compare(nn.BCEWithLogitsLoss(reduction), torch.nn.BCEWithLogitsLoss(reduction=reduction), z,
             (rng.uniform(0, 1, (6, 3)) > 0.5).astype(np.float64), rng)


@pytest.mark.parametrize("cls", [nn.MSELoss, nn.L1Loss, nn.CrossEntropyLoss, nn.NLLLoss,
                                 nn.BCELoss, nn.BCEWithLogitsLoss])
def test_bad_reduction(cls):
    with pytest.raises(ValueError, match=r"reduction must be one of .*'avg'"):
        cls(reduction="avg")


@pytest.mark.parametrize("eps", [-0.1, 1.5])
def test_cross_entropy_bad_label_smoothing(eps):
    with pytest.raises(ValueError, match="label_smoothing must be in"):
        nn.CrossEntropyLoss(label_smoothing=eps)


def test_loss_reprs():
    assert repr(nn.MSELoss()) == "MSELoss()"
    assert repr(nn.L1Loss("sum")) == "L1Loss(reduction='sum')"
    assert repr(nn.CrossEntropyLoss(label_smoothing=0.1)) == \
        "CrossEntropyLoss(label_smoothing=0.1)"
