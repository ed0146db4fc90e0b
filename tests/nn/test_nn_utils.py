"""nn.utils: gradient clipping against PyTorch and a NumPy reference; parameter vectors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import gradflow as gf
from gradflow import nn
from gradflow.nn.utils import (
    clip_grad_adaptive_,
    clip_grad_norm_,
    clip_grad_value_,
    parameters_to_vector,
    vector_to_parameters,
)

SHAPES = [(3, 4), (5,), (2, 2, 3)]


def _params(rng, scale=1.0, dtype="float64"):
    """Matching gradflow and torch parameters with the same values and gradients."""
    ours, theirs = [], []
    for shape in SHAPES:
        w, g = rng.standard_normal(shape), scale * rng.standard_normal(shape)
        p = nn.Parameter(gf.tensor(w, dtype=dtype))
        p.grad = gf.tensor(g, dtype=dtype)
        pt = torch.nn.Parameter(torch.tensor(w))
        pt.grad = torch.tensor(g)
        ours.append(p)
        theirs.append(pt)
    return ours, theirs


def _same_grads(ours, theirs, **tol):
    for p, pt in zip(ours, theirs):
        np.testing.assert_allclose(p.grad.numpy(), pt.grad.numpy(), **(tol or {"rtol": 1e-12}))


@pytest.mark.parametrize("norm_type", [2.0, 1, 3.0, math.inf, "inf"])
@pytest.mark.parametrize("max_norm", [0.5, 1e3])
def test_clip_grad_norm_matches_torch(norm_type, max_norm, rng):
    ours, theirs = _params(rng, scale=3.0)
    nt = float(norm_type)
    total = clip_grad_norm_(ours, max_norm, norm_type=nt)
    ref = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type=nt)
    assert isinstance(total, gf.Tensor) and total.shape == ()
    np.testing.assert_allclose(total.item(), ref.item(), rtol=1e-12)
    _same_grads(ours, theirs)
    if max_norm == 1e3:  # nothing to clip: gradients unchanged
        for p, pt in zip(ours, theirs):
            np.testing.assert_array_equal(p.grad.numpy(), pt.grad.numpy())


def test_clip_grad_norm_after_backward_matches_torch(rng):
    theirs = torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.Tanh(),
                                 torch.nn.Linear(6, 2)).double()
    ours = nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 2)).double()
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    x, y = rng.standard_normal((8, 4)), rng.standard_normal((8, 2))
    nn.MSELoss()(ours(gf.tensor(x, dtype="float64")), gf.tensor(y, dtype="float64")).backward()
    torch.nn.MSELoss()(theirs(torch.tensor(x)), torch.tensor(y)).backward()
    total = clip_grad_norm_(ours.parameters(), 0.05)
    ref = torch.nn.utils.clip_grad_norm_(theirs.parameters(), 0.05)
    np.testing.assert_allclose(total.item(), ref.item(), rtol=1e-12)
    _same_grads(list(ours.parameters()), list(theirs.parameters()))
    new_norm = math.sqrt(sum((p.grad.numpy() ** 2).sum() for p in ours.parameters()))
    np.testing.assert_allclose(new_norm, 0.05, rtol=1e-4)


def test_clip_grad_norm_float32_single_tensor_and_no_grads(rng):
    p = nn.Parameter(gf.randn(10))
    p.grad = gf.tensor(np.full(10, 2.0, dtype=np.float32))
    total = clip_grad_norm_(p, 1.0)
    assert total.dtype == np.float32 and p.grad.dtype == np.float32
    np.testing.assert_allclose(total.item(), math.sqrt(40), rtol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(p.grad.numpy()), 1.0, rtol=1e-5)
    q = nn.Parameter(gf.randn(3))  # no grad: skipped
    assert clip_grad_norm_([q], 1.0).item() == 0.0
    assert q.grad is None


@pytest.mark.filterwarnings("ignore:invalid value encountered in multiply:RuntimeWarning")
def test_clip_grad_norm_nonfinite(rng):
    ours, theirs = _params(rng)
    ours[1].grad.array[2] = np.nan
    with pytest.raises(RuntimeError, match=r"non-finite \(nan\).*error_if_nonfinite=False"):
        clip_grad_norm_(ours, 1.0)
    ours[1].grad.array[2] = np.inf
    with pytest.raises(RuntimeError, match=r"non-finite \(inf\)"):
        clip_grad_norm_(ours, 1.0, norm_type=math.inf)
    theirs[1].grad[2] = math.inf
    total = clip_grad_norm_(ours, 1.0, error_if_nonfinite=False)
    ref = torch.nn.utils.clip_grad_norm_(theirs, 1.0, error_if_nonfinite=False)
    assert math.isinf(total.item()) and math.isinf(ref.item())
    _same_grads(ours, theirs, equal_nan=True, rtol=0)


def test_clip_grad_norm_bad_arguments(rng):
    ours, _ = _params(rng)
    with pytest.raises(ValueError, match="max_norm must be >= 0"):
        clip_grad_norm_(ours, -1.0)
    with pytest.raises(ValueError, match="norm_type must be > 0"):
        clip_grad_norm_(ours, 1.0, norm_type=0)


def test_clip_grad_norm_bumps_version_and_keeps_arrays(rng):
    ours, _ = _params(rng, scale=10.0)
    arrays = [p.grad.array for p in ours]
    versions = [p.grad._version for p in ours]
    clip_grad_norm_(ours, 0.1)
    assert all(p.grad.array is a for p, a in zip(ours, arrays))
    assert all(p.grad._version == v + 1 for p, v in zip(ours, versions))


def test_clipping_grads_of_a_plain_sum():
    """Regression: sum's backward is a read-only broadcast view; the engine must hand the leaf a
    writable copy so that clipping (and zero_grad(set_to_none=False)) can work in place."""
    w = nn.Parameter(gf.ones(4))
    w.sum().backward()
    clip_grad_norm_([w], 1.0)
    np.testing.assert_allclose(np.linalg.norm(w.grad.numpy()), 1.0, rtol=1e-5)
    w.grad = None
    w.mean().backward()
    clip_grad_value_([w], 0.1)
    np.testing.assert_allclose(w.grad.numpy(), 0.1)


@pytest.mark.parametrize("clip_value", [0.3, 10.0])
def test_clip_grad_value_matches_torch(clip_value, rng):
    ours, theirs = _params(rng)
    assert clip_grad_value_(ours, clip_value) is None
    torch.nn.utils.clip_grad_value_(theirs, clip_value)
    _same_grads(ours, theirs, rtol=0)
    with pytest.raises(ValueError, match="clip_value must be >= 0"):
        clip_grad_value_(ours, -1)


def _agc_reference(w: np.ndarray, g: np.ndarray, lam: float, eps: float) -> np.ndarray:
    """Seed lecture 004: if ‖g‖/max(‖w‖, eps) > λ then g ← λ·max(‖w‖, eps)/‖g‖ · g."""
    wn = max(np.linalg.norm(w), eps)
    gn = np.linalg.norm(g)
    return lam * wn / gn * g if gn / wn > lam else g


def test_clip_grad_adaptive_against_numpy_reference(rng):
    lam, eps = 0.1, 1e-3
    weights = [rng.standard_normal((4, 3)),                 # ratio ≈ 1: clipped
               rng.standard_normal(5),                      # ratio ≈ 0.01: kept
               np.zeros((2, 3)),                            # ‖w‖ = 0: eps takes over, clipped
               np.zeros(3)]                                 # no gradient: skipped
    grads = [rng.standard_normal((4, 3)), 0.01 * rng.standard_normal(5),
             rng.standard_normal((2, 3)), None]
    params = []
    for w, g in zip(weights, grads):
        p = nn.Parameter(gf.tensor(w, dtype="float64"))
        p.grad = None if g is None else gf.tensor(g, dtype="float64")
        params.append(p)
    clip_grad_adaptive_(params, lam, eps)
    for p, w, g in zip(params[:3], weights, grads):
        np.testing.assert_allclose(p.grad.numpy(), _agc_reference(w, g, lam, eps), rtol=1e-13)
        ratio = np.linalg.norm(p.grad.numpy()) / max(np.linalg.norm(w), eps)
        assert ratio <= lam * (1 + 1e-12)
    np.testing.assert_array_equal(params[1].grad.numpy(), grads[1])  # below λ: untouched
    assert params[3].grad is None


def test_clip_grad_adaptive_float32_and_errors(rng):
    p = nn.Parameter(gf.ones(10))
    p.grad = gf.full((10,), 5.0)
    clip_grad_adaptive_(p, 0.5)
    assert p.grad.dtype == np.float32
    np.testing.assert_allclose(p.grad.numpy(), 0.5 * math.sqrt(10) / math.sqrt(10), rtol=1e-6)
    with pytest.raises(ValueError, match="clip_factor must be > 0"):
        clip_grad_adaptive_(p, 0.0)
    with pytest.raises(ValueError, match="eps must be > 0"):
        clip_grad_adaptive_(p, 0.1, eps=0.0)


def test_parameters_to_vector_and_back_match_torch(rng):
    ours, theirs = _params(rng)
    vec = parameters_to_vector(ours)
    ref = torch.nn.utils.parameters_to_vector(theirs)
    np.testing.assert_array_equal(vec.numpy(), ref.detach().numpy())
    new = rng.standard_normal(vec.shape)
    arrays = [p.array for p in ours]
    vector_to_parameters(gf.tensor(new, dtype="float64"), ours)
    torch.nn.utils.vector_to_parameters(torch.tensor(new), theirs)
    for p, pt, a in zip(ours, theirs, arrays):
        assert p.array is a  # in place: optimizers keep seeing the same arrays
        np.testing.assert_array_equal(p.numpy(), pt.detach().numpy())


def test_parameters_to_vector_is_differentiable(rng):
    ours, _ = _params(rng)
    for p in ours:
        p.grad = None
    (parameters_to_vector(ours) * 2.0).sum().backward()
    for p in ours:
        np.testing.assert_array_equal(p.grad.numpy(), 2.0)


def test_vector_conversion_errors(rng):
    ours, _ = _params(rng)
    with pytest.raises(ValueError, match="vec has 3 elements but the parameters have 29"):
        vector_to_parameters(gf.zeros(3, dtype="float64"), ours)
    with pytest.raises(ValueError, match="must be 1-D"):
        vector_to_parameters(gf.zeros(29, 1), ours)
    with pytest.raises(TypeError, match="must be a Tensor"):
        vector_to_parameters(np.zeros(29), ours)
    with pytest.raises(ValueError, match="no parameters"):
        parameters_to_vector([])
