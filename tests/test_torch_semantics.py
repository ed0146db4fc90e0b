"""PyTorch's meaning where NumPy's differs and the difference would be silent (issue 10):
in-place arithmetic changes the tensor itself; ``transpose(d0, d1)`` swaps two dimensions."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import gradflow as gf
import gradflow.functional as F


def test_sgd_by_hand_under_no_grad_updates_the_parameters_in_place():
    w0 = np.array([1.0, -2.0, 3.0])
    p = gf.tensor(w0, dtype="float64", requires_grad=True)
    tp = torch.tensor(w0, requires_grad=True)
    params = [p]
    for _ in range(3):
        for t in (p, tp):
            t.grad = None
        (p * p).sum().backward()
        (tp * tp).sum().backward()
        with gf.no_grad():
            for q in params:
                q -= 0.1 * q.grad  # rebinds the loop variable only if -= is out of place
        with torch.no_grad():
            tp -= 0.1 * tp.grad
    assert params[0] is p and p.is_leaf and p.requires_grad
    np.testing.assert_allclose(p.numpy(), tp.detach().numpy())


@pytest.mark.parametrize("op", ["+=", "-=", "*=", "/=", "**="])
def test_inplace_operators_on_a_non_leaf_are_recorded_as_in_pytorch(op):
    rng = np.random.default_rng(0)
    xv, wv = rng.uniform(0.5, 2, 4), rng.uniform(0.5, 2, 4)

    def run(lib, x, w):
        h = x * 2
        alias = h
        exec(f"h {op} w", {}, {"h": h, "w": w})  # noqa: S102 - the operator under test
        assert alias is h
        (h * h).sum().backward()
        return h

    x = gf.tensor(xv, dtype="float64", requires_grad=True)
    w = gf.tensor(wv, dtype="float64", requires_grad=True)
    tx, tw = torch.tensor(xv, requires_grad=True), torch.tensor(wv, requires_grad=True)
    h, th = run(gf, x, w), run(torch, tx, tw)
    np.testing.assert_allclose(h.detach().numpy(), th.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(w.grad.numpy(), tw.grad.numpy(), rtol=1e-12)


def test_inplace_on_a_value_saved_for_backward_raises_at_backward():
    x = gf.tensor([1.0, 2.0], requires_grad=True)
    h = x * 1
    y = h * h  # saves h
    h += 1
    with pytest.raises(RuntimeError, match="modified in place"):
        y.sum().backward()


def test_inplace_errors_as_pytorch():
    w = gf.zeros(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf tensor that requires grad .* in-place"):
        w += 1
    with pytest.raises(RuntimeError, match="can't be cast"):
        a = gf.tensor([1, 2])
        a += 0.5
    with pytest.raises(RuntimeError, match=r"shape \(2, 3\).*\(3,\)"):
        b = gf.zeros(3)
        b += gf.ones(2, 3)
    c = gf.tensor([1.0, 2.0])
    c += gf.tensor([1, 1])  # an integer operand is cast into the float tensor, as PyTorch
    np.testing.assert_array_equal(c.numpy(), [2.0, 3.0])


def test_inplace_writes_through_views():
    base = gf.zeros(2, 3)
    row = base[0]
    row += 5
    tb = torch.zeros(2, 3)
    tr = tb[0]
    tr += 5
    np.testing.assert_array_equal(base.numpy(), tb.numpy())


@pytest.mark.parametrize("shape,dims", [((2, 3), (0, 1)), ((2, 3), (1, 0)), ((2, 3, 4), (0, -1)),
                                        ((2, 3, 4), (2, 1)), ((3,), (0, 0)), ((), (0, -1))])
def test_transpose_swaps_two_dims(shape, dims):
    x = np.arange(int(np.prod(shape)), dtype=np.float64).reshape(shape)
    got = gf.tensor(x).transpose(*dims)
    want = torch.tensor(x).transpose(*dims)
    assert got.shape == tuple(want.shape)
    np.testing.assert_array_equal(got.numpy(), want.numpy())


def test_permute_and_mT():
    x = np.arange(24.0).reshape(2, 3, 4)
    for dims in ((2, 0, 1), ((1, 2, 0),)):
        np.testing.assert_array_equal(gf.tensor(x).permute(*dims).numpy(),
                                      torch.tensor(x).permute(*dims).numpy())
    np.testing.assert_array_equal(gf.tensor(x).mT.numpy(), torch.tensor(x).mT.numpy())
    assert gf.tensor(x).transpose().shape == (4, 3, 2)  # NumPy's reversal, no PyTorch meaning
    with pytest.raises(IndexError, match="transpose: dimension 3 is out of range"):
        gf.tensor(x).transpose(0, 3)
    with pytest.raises(IndexError, match="permute: dimension 5 is out of range"):
        gf.tensor(x).permute(0, 1, 5)


@pytest.mark.parametrize("name", ["max", "min"])
@pytest.mark.parametrize("dim,keepdim", [(0, False), (1, True), (-1, False)])
def test_max_min_with_dim_return_values_and_indices(name, dim, keepdim):
    x = np.array([[1.0, 5.0, 5.0], [7.0, -2.0, 7.0]])  # ties: the gradient goes to one index
    g = gf.tensor(x, dtype="float64", requires_grad=True)
    t = torch.tensor(x, requires_grad=True)
    got, want = getattr(g, name)(dim, keepdim=keepdim), getattr(t, name)(dim, keepdim=keepdim)
    values, indices = got
    assert got.values is values and values.shape == tuple(want.values.shape)
    np.testing.assert_array_equal(values.numpy(), want.values.detach().numpy())
    np.testing.assert_array_equal(indices.numpy(), want.indices.numpy())
    w = np.arange(1.0, values.numel() + 1).reshape(values.shape)
    (values * gf.tensor(w, dtype="float64")).sum().backward()
    (want.values * torch.tensor(w)).sum().backward()
    np.testing.assert_array_equal(g.grad.numpy(), t.grad.numpy())


def test_max_without_dim_and_elementwise():
    x = np.array([[1.0, 5.0], [7.0, -2.0]])
    assert gf.tensor(x).max().item() == 7.0 and gf.tensor(x).min().item() == -2.0
    np.testing.assert_array_equal(gf.tensor(x).max(gf.tensor(x) * 0 + 2).numpy(),
                                  torch.tensor(x).max(torch.tensor(x) * 0 + 2).numpy())
    np.testing.assert_array_equal(gf.tensor(x).max(axis=1).numpy(), x.max(axis=1))  # NumPy's


def test_var_and_std_are_unbiased_by_default_as_pytorch():
    x = np.random.default_rng(1).standard_normal((4, 5))
    g, t = gf.tensor(x, dtype="float64"), torch.tensor(x)
    for args, kw in [((), {}), ((1,), {}), ((1, False), {}), ((0,), {"keepdim": True}),
                     ((), {"dim": 1, "correction": 0})]:
        np.testing.assert_allclose(g.var(*args, **kw).numpy(), t.var(*args, **kw).numpy(),
                                   rtol=1e-12)
        np.testing.assert_allclose(g.std(*args, **kw).numpy(), t.std(*args, **kw).numpy(),
                                   rtol=1e-12)
    with pytest.raises(TypeError, match="one of unbiased, correction"):
        g.var(1, unbiased=True, correction=0)


def test_dim_and_keepdim_spellings():
    x = np.arange(6.0).reshape(2, 3)
    g, t = gf.tensor(x, dtype="float64"), torch.tensor(x)
    np.testing.assert_allclose(F.softmax(g, dim=0).numpy(), torch.softmax(t, 0).numpy())
    np.testing.assert_allclose(F.log_softmax(g, dim=1).numpy(), torch.log_softmax(t, 1).numpy())
    np.testing.assert_allclose(F.logsumexp(g, dim=1, keepdim=True).numpy(),
                               torch.logsumexp(t, 1, keepdim=True).numpy())
    assert gf.cat([g, g], dim=1).shape == tuple(torch.cat([t, t], dim=1).shape)
    assert gf.concat([g, g]).shape == (4, 3)
    assert gf.stack([g, g], dim=-1).shape == tuple(torch.stack([t, t], dim=-1).shape)
    assert g.unsqueeze(dim=-1).shape == tuple(t.unsqueeze(dim=-1).shape)
    assert g.argmax(dim=1, keepdim=True).tolist() == t.argmax(dim=1, keepdim=True).tolist()
    assert g.sum(1, keepdim=True).shape == (2, 1) and g.mean(dim=0).shape == (3,)
    with pytest.raises(IndexError, match=r"unsqueeze: dimension 5 is out of range .*\[-2, 1\]"):
        gf.zeros(3).unsqueeze(5)
