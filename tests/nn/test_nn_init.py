"""nn.init: fans and gains equal PyTorch's; draws follow the stated distributions; in place."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import gradflow as gf
from gradflow import nn
from gradflow.nn import init


@pytest.mark.parametrize("shape", [(3, 4), (7, 2), (5, 3, 7), (2, 3, 4, 5), (6, 1, 1)])
def test_fans_equal_torch(shape):
    got = init._calculate_fan_in_and_fan_out(gf.zeros(*shape))
    assert got == torch.nn.init._calculate_fan_in_and_fan_out(torch.zeros(shape))


def test_fans_need_two_dimensions():
    with pytest.raises(ValueError, match=r"fewer than 2 dimensions \(got shape \(5,\)\)"):
        init.xavier_uniform_(gf.zeros(5))


@pytest.mark.parametrize("nonlinearity,param", [
    ("linear", None), ("conv2d", None), ("sigmoid", None), ("tanh", None), ("relu", None),
    ("leaky_relu", None), ("leaky_relu", 0.2), ("leaky_relu", 3), ("selu", None)])
def test_gain_equals_torch(nonlinearity, param):
    assert init.calculate_gain(nonlinearity, param) == pytest.approx(
        torch.nn.init.calculate_gain(nonlinearity, param), rel=1e-15)


def test_gain_errors():
    with pytest.raises(ValueError, match="unsupported nonlinearity 'swish'"):
        init.calculate_gain("swish")
    with pytest.raises(ValueError, match="not a valid number"):
        init.calculate_gain("leaky_relu", "0.1")


def _check_uniform(w: np.ndarray, bound: float) -> None:
    assert np.abs(w).max() <= bound
    assert np.abs(w).max() > 0.99 * bound  # the whole interval is used
    np.testing.assert_allclose(w.std(), bound / math.sqrt(3), rtol=0.02)
    assert abs(w.mean()) < 0.02 * bound


def _check_normal(w: np.ndarray, std: float) -> None:
    np.testing.assert_allclose(w.std(), std, rtol=0.02)
    assert abs(w.mean()) < 0.02 * std


SHAPE = (300, 40, 3)  # fan_in = 120, fan_out = 900: different, so mixing them up is caught


def test_xavier_uniform_bound():
    fan_in, fan_out = 120, 900
    w = init.xavier_uniform_(gf.empty(*SHAPE), gain=2.0).numpy()
    _check_uniform(w, 2.0 * math.sqrt(6 / (fan_in + fan_out)))


def test_xavier_normal_std():
    w = init.xavier_normal_(gf.empty(*SHAPE, dtype="float64"), gain=0.5).numpy()
    _check_normal(w, 0.5 * math.sqrt(2 / (120 + 900)))


@pytest.mark.parametrize("mode,fan", [("fan_in", 120), ("fan_out", 900)])
def test_kaiming_uniform_bound(mode, fan):
    w = init.kaiming_uniform_(gf.empty(*SHAPE), mode=mode).numpy()
    _check_uniform(w, math.sqrt(2) * math.sqrt(3 / fan))


@pytest.mark.parametrize("mode,fan", [("fan_in", 120), ("fan_out", 900)])
def test_kaiming_normal_is_he(mode, fan):
    w = init.kaiming_normal_(gf.empty(*SHAPE), mode=mode).numpy()
    _check_normal(w, math.sqrt(2 / fan))  # He: Var = 2 / fan for ReLU


def test_kaiming_leaky_relu_slope():
    a = 0.3
    w = init.kaiming_uniform_(gf.empty(400, 250), a=a, nonlinearity="leaky_relu").numpy()
    _check_uniform(w, math.sqrt(2 / (1 + a * a)) * math.sqrt(3 / 250))
    w = init.kaiming_normal_(gf.empty(400, 250), nonlinearity="tanh").numpy()
    _check_normal(w, (5 / 3) / math.sqrt(250))


def test_kaiming_errors():
    with pytest.raises(ValueError, match="only used with nonlinearity='leaky_relu'"):
        init.kaiming_uniform_(gf.empty(3, 4), a=0.1)
    with pytest.raises(ValueError, match="mode must be 'fan_in' or 'fan_out'"):
        init.kaiming_normal_(gf.empty(3, 4), mode="fan_avg")
    assert init.kaiming_uniform_(gf.empty(0, 4)).shape == (0, 4)  # nothing to fill


def test_uniform_normal_constant():
    w = init.uniform_(gf.empty(100_000, dtype="float64"), -2.0, 3.0).numpy()
    assert w.min() >= -2.0 and w.max() < 3.0
    np.testing.assert_allclose(w.mean(), 0.5, atol=0.03)
    np.testing.assert_allclose(w.var(), 25 / 12, rtol=0.02)
    w = init.normal_(gf.empty(100_000), 1.5, 0.5).numpy()
    np.testing.assert_allclose([w.mean(), w.std()], [1.5, 0.5], rtol=0.01)
    np.testing.assert_array_equal(init.zeros_(gf.randn(3, 2)).numpy(), 0)
    np.testing.assert_array_equal(init.ones_(gf.randn(3, 2)).numpy(), 1)
    np.testing.assert_array_equal(init.constant_(gf.randn(3, 2), 0.25).numpy(), 0.25)


def test_uniform_normal_errors():
    with pytest.raises(ValueError, match="need a <= b"):
        init.uniform_(gf.empty(3), 1.0, 0.0)
    with pytest.raises(ValueError, match="std must be >= 0"):
        init.normal_(gf.empty(3), 0.0, -1.0)
    with pytest.raises(TypeError, match="floating-point tensor, got int64"):
        init.normal_(gf.zeros(3, dtype="int64"))
    with pytest.raises(TypeError, match=r"uniform_: expected a Tensor, got ndarray"):
        init.uniform_(np.zeros(3))
    with pytest.raises(TypeError, match=r"constant_: expected a Tensor, got list"):
        init.constant_([0.0], 1.0)


@pytest.mark.parametrize("fn", [init.xavier_uniform_, init.xavier_normal_, init.kaiming_uniform_,
                                init.kaiming_normal_, init.uniform_, init.normal_, init.zeros_,
                                init.ones_])
@pytest.mark.parametrize("dtype", ["float32", "float64", "float16"])
def test_in_place_keeps_array_dtype_and_bumps_version(fn, dtype):
    p = nn.Parameter(gf.zeros(8, 5, dtype=dtype))
    array, version = p.array, p._version
    assert fn(p) is p
    assert p.array is array and p.dtype == np.dtype(dtype)
    assert p._version == version + 1
    assert p.grad_fn is None and p.grad is None


def test_draws_are_seeded():
    gf.manual_seed(11)
    a = init.kaiming_normal_(gf.empty(4, 4)).numpy().copy()
    gf.manual_seed(11)
    b = init.kaiming_normal_(gf.empty(4, 4)).numpy()
    np.testing.assert_array_equal(a, b)
