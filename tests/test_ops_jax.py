"""Every op against JAX: float64 forward, first order on both paths (vjp and composed) and
second order; then forward and vjp-path first order on float32 and on non-contiguous inputs."""

from __future__ import annotations

import numpy as np
import pytest
from op_cases import ALL_CASES, FLOAT32_TOL, R
from oracle import check_op, check_vjp, noncontiguous

import gradflow as gf
import gradflow.functional as F

IDS = [c[0] for c in ALL_CASES]


@pytest.mark.parametrize("name,gf_fn,jax_fn,inputs,consts", ALL_CASES, ids=IDS)
def test_op_matches_jax(name, gf_fn, jax_fn, inputs, consts, device):
    check_op(gf_fn, jax_fn, inputs, consts=consts, device=device, key=name)


@pytest.mark.parametrize("name,gf_fn,jax_fn,inputs,consts", ALL_CASES, ids=IDS)
def test_op_float32(name, gf_fn, jax_fn, inputs, consts, device):
    tol = FLOAT32_TOL.get(name)
    check_vjp(gf_fn, jax_fn, inputs, consts=consts, device=device, key=name, dtype="float32",
              fwd_tol=tol, grad_tol=tol)


@pytest.mark.parametrize("name,gf_fn,jax_fn,inputs,consts", ALL_CASES, ids=IDS)
def test_op_noncontiguous(name, gf_fn, jax_fn, inputs, consts, device):
    check_vjp(gf_fn, jax_fn, inputs, consts=consts, device=device, key=name,
              layout="noncontiguous")


@pytest.mark.parametrize("shape", [(), (1,), (5,), (3, 1), (1, 4), (2, 3, 4), (2, 1, 3)])
def test_noncontiguous_leaf_is_a_view_with_the_same_values(shape):
    a = np.asarray(R(*shape))
    t = noncontiguous(a)
    assert t.array.base is not None and t.shape == a.shape
    assert a.size <= 1 or not t.array.flags.c_contiguous
    np.testing.assert_array_equal(t.numpy(), a)


def test_extreme_logits_stay_finite():
    z = gf.tensor([[1000.0, -1000.0], [-1000.0, 1000.0]], requires_grad=True)
    loss = F.cross_entropy(z, gf.tensor([1, 1]))
    loss.backward()
    assert np.isfinite(loss.item()) and np.isfinite(z.grad.numpy()).all()
    np.testing.assert_allclose(loss.item(), 1000.0, rtol=1e-6)
    b = F.binary_cross_entropy_with_logits(gf.tensor([1e4, -1e4]), gf.tensor([0.0, 1.0]))
    np.testing.assert_allclose(b.item(), 1e4, rtol=1e-6)


def test_float32_forward_matches_float64():
    x = R(64, 32)
    w = R(16, 32)
    out32 = F.gelu(F.linear(gf.tensor(x).float(), gf.tensor(w).float())).numpy()
    out64 = F.gelu(F.linear(gf.tensor(x, dtype="float64"), gf.tensor(w, dtype="float64")))
    assert out32.dtype == np.float32
    np.testing.assert_allclose(out32, out64.numpy(), rtol=1e-4, atol=1e-4)
