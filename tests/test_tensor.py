"""The Tensor API: construction and dtype rules, attributes, conversions, operators, indexing."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import gradflow as gf


def test_dtype_rules():
    assert gf.tensor(1.5).dtype == np.float32
    assert gf.tensor([1.0, 2.0]).dtype == np.float32
    assert gf.tensor(np.arange(3.0)).dtype == np.float64  # an array keeps its dtype (torch)
    assert gf.tensor([np.float32(1.0)]).dtype == np.float32
    assert gf.tensor(np.arange(3.0), dtype="float64").dtype == np.float64
    assert gf.tensor(3).dtype == np.int64
    assert gf.tensor([True, False]).dtype == np.bool_
    assert gf.tensor([1, 2], dtype=np.float64).dtype == np.float64
    assert gf.tensor(np.ones(2, dtype=np.float16)).dtype == np.float16
    t64 = gf.tensor([1.0], dtype="float64")
    assert gf.tensor(t64).dtype == np.float64  # copying a tensor keeps its dtype
    assert (t64 * 2.0).dtype == np.float64  # float64 kept everywhere
    assert (gf.tensor([1, 2]) * 2.5).dtype == np.float32  # int tensor × float → default float
    assert (gf.tensor([1, 2]) / gf.tensor([2, 4])).dtype == np.float32
    with pytest.raises(TypeError, match="unknown dtype"):
        gf.tensor([1.0], dtype="floaty")


def test_tensor_copies_its_input_and_from_numpy_shares():
    a = np.ones(3, dtype=np.float32)
    t = gf.tensor(a)
    a[0] = 5
    assert t.numpy()[0] == 1
    s = gf.from_numpy(a)
    a[1] = 7
    assert s.numpy()[1] == 7 and s.dtype == np.float32


def test_attributes():
    t = gf.zeros(2, 3)
    assert t.shape == (2, 3) and t.ndim == 2 and t.numel() == 6 and t.device == "cpu"
    assert t.T.shape == (3, 2)
    assert t.is_leaf and not t.requires_grad and t.grad_fn is None
    assert t.array is t.array and isinstance(t.array, np.ndarray)
    x = gf.ones(2, requires_grad=True)
    y = x * 2
    assert not y.is_leaf and y.grad_fn is not None and y.grad_fn.name == "Mul"
    x.grad = gf.ones(2)
    x.grad = None
    assert x.grad is None


def test_creation_functions():
    assert gf.ones(2, 3).numpy().sum() == 6
    assert gf.zeros((2, 3)).shape == (2, 3)
    assert gf.empty(4).shape == (4,)
    f = gf.full((2, 2), 3.5)
    assert f.dtype == np.float32 and f.numpy().tolist() == [[3.5, 3.5], [3.5, 3.5]]
    assert gf.arange(5).dtype == np.int64 and gf.arange(0, 1, 0.25).dtype == np.float32
    assert gf.zeros_like(f).shape == (2, 2) and gf.ones_like(f, dtype="float64").dtype == "float64"
    r = gf.rand(1000)
    assert r.numpy().min() >= 0 and r.numpy().max() < 1 and r.dtype == np.float32
    n = gf.randn(10000, dtype="float64")
    assert abs(n.numpy().mean()) < 0.05 and abs(n.numpy().std() - 1) < 0.05
    assert gf.ones(2, requires_grad=True).requires_grad


def test_manual_seed_is_deterministic():
    gf.manual_seed(7)
    a = gf.randn(5).numpy()
    b = gf.rand(3).numpy()
    gf.manual_seed(7)
    np.testing.assert_array_equal(a, gf.randn(5).numpy())
    np.testing.assert_array_equal(b, gf.rand(3).numpy())


def test_conversions():
    t = gf.tensor([[1.5, 2.0]])
    assert t.tolist() == [[1.5, 2.0]]
    assert float(gf.tensor(2.5)) == 2.5 and int(gf.tensor(3)) == 3
    assert gf.tensor([4.0]).item() == 4.0
    with pytest.raises(ValueError, match="one-element"):
        t.item()
    assert t.to(dtype="float64").dtype == np.float64
    assert t.to("cpu") is t and t.cpu() is t
    np.testing.assert_array_equal(np.asarray(t), t.numpy())
    d = t.detach()
    assert d.array is t.array and not d.requires_grad


def test_requires_grad_only_for_floats():
    with pytest.raises(RuntimeError, match="floating-point"):
        gf.tensor([1, 2], requires_grad=True)


def test_cast_is_differentiable():
    x = gf.tensor([1.0, 2.0], requires_grad=True)
    y = x.to(dtype="float64") * 3
    assert y.dtype == np.float64
    y.sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_allclose(x.grad.numpy(), [3, 3])


def test_operators_and_reflected_forms():
    a = gf.tensor([1.0, 2.0, 4.0])
    arr = np.array([1.0, 1.0, 1.0], dtype=np.float32)
    np.testing.assert_allclose((2 - a).numpy(), [1, 0, -2])
    np.testing.assert_allclose((2 / a).numpy(), [2, 1, 0.5])
    np.testing.assert_allclose((2 ** a).numpy(), [2, 4, 16])
    np.testing.assert_allclose((arr + a).numpy(), [2, 3, 5])
    assert isinstance(arr * a, gf.Tensor)
    np.testing.assert_allclose((-a).numpy(), [-1, -2, -4])
    np.testing.assert_allclose(abs(gf.tensor([-1.0, 2.0])).numpy(), [1, 2])
    m = gf.tensor([[1.0, 2.0], [3.0, 4.0]])
    np.testing.assert_allclose((m @ m).numpy(), np.array([[7, 10], [15, 22]]))
    np.testing.assert_allclose((np.eye(2, dtype=np.float32) @ m).numpy(), m.numpy())


def test_comparisons_have_no_gradient():
    a = gf.tensor([1.0, 2.0, 3.0], requires_grad=True)
    for r in (a < 2, a <= 2, a > 2, a >= 2, a == 2, a != 2):
        assert r.dtype == np.bool_ and not r.requires_grad
    assert (a > 1.5).tolist() == [False, True, True]


def test_inplace_operators():
    a = gf.tensor([1.0, 2.0])
    data = a.array
    a += 1
    a *= 2
    assert a.array is data and a.tolist() == [4.0, 6.0] and a._version == 2
    x = gf.tensor([1.0], requires_grad=True)
    y = x * 1
    y += 1  # out of place when a graph is needed
    y.sum().backward()
    assert x.grad.tolist() == [1.0]


def test_setitem_in_place_and_version():
    t = gf.zeros(3, 2)
    t[1] = 5.0
    t[:, 0] = gf.tensor([1.0, 2.0, 3.0])
    t[np.array([2, 2])] = 9.0
    assert t.tolist() == [[1, 0], [2, 5], [9, 9]]
    assert t._version == 3


def test_methods():
    t = gf.tensor([[1.0, -2.0, 3.0], [4.0, 5.0, -6.0]])
    assert t.sum().item() == 5 and t.sum(axis=0).tolist() == [5, 3, -3]
    assert t.sum(dim=1, keepdims=True).shape == (2, 1)
    assert t.max().item() == 5 and t.min(1).values.tolist() == [-2, -6]
    assert t.argmax(1).tolist() == [2, 1] and t.argmax().item() == 4
    tt = torch.tensor(t.numpy())
    np.testing.assert_allclose(t.var(1).numpy(), tt.var(1).numpy(), rtol=1e-6)  # unbiased
    np.testing.assert_allclose(t.var(1, False).numpy(), tt.var(1, False).numpy(), rtol=1e-6)
    np.testing.assert_allclose(t.std(dim=1, correction=0, keepdim=True).numpy(),
                               tt.std(dim=1, correction=0, keepdim=True).numpy(), rtol=1e-6)
    np.testing.assert_allclose(t.var(1, ddof=0).numpy(), t.numpy().var(1), rtol=1e-6)
    assert t.reshape(3, 2).shape == (3, 2) and t.reshape((6,)).shape == (6,)
    assert t.transpose(1, 0).shape == (3, 2) and t.flatten().shape == (6,)
    assert t.unsqueeze(0).shape == (1, 2, 3) and t.unsqueeze(0).squeeze().shape == (2, 3)
    assert t.clip(-1, 1).tolist() == [[1, -1, 1], [1, 1, -1]]
    np.testing.assert_allclose(t.softmax(1).sum(1).numpy(), [1, 1], rtol=1e-6)
    np.testing.assert_allclose(t.log_softmax(axis=0).exp().sum(0).numpy(), [1, 1, 1], rtol=1e-6)
    for name in ("exp", "tanh", "sigmoid", "relu", "abs"):
        assert getattr(t, name)().shape == (2, 3)
    assert gf.tensor([4.0]).sqrt().tolist() == [2.0] and gf.tensor([1.0]).log().tolist() == [0.0]


def test_gf_functions():
    a = gf.tensor([1.0, 5.0])
    b = gf.tensor([3.0, 2.0])
    assert gf.maximum(a, b).tolist() == [3, 5] and gf.minimum(a, b).tolist() == [1, 2]
    assert gf.where(a > b, a, b).tolist() == [3, 5]
    assert gf.concatenate([a, b]).tolist() == [1, 5, 3, 2]
    assert gf.stack([a, b], axis=1).shape == (2, 2)
    np.testing.assert_allclose(gf.sin(gf.tensor([0.0])).numpy(), [0])
    np.testing.assert_allclose(gf.cos(gf.tensor([0.0])).numpy(), [1])


def test_indexing_forms():
    t = gf.arange(24).reshape(2, 3, 4)
    assert t[1].shape == (3, 4) and t[:, 1:].shape == (2, 2, 4)
    assert t[None, ..., 0].shape == (1, 2, 3)
    assert t[gf.tensor([1, 0])].shape == (2, 3, 4)
    assert t[t > 20].tolist() == [21, 22, 23]
    assert t[[0, 1], [2, 0]].shape == (2, 4)
    with pytest.raises(IndexError, match="shape"):
        t[5]


def test_repeated_indices_accumulate_gradient():
    x = gf.tensor([1.0, 2.0, 3.0], requires_grad=True)
    x[gf.tensor([0, 0, 2, 0])].sum().backward()
    assert x.grad.tolist() == [3.0, 0.0, 1.0]


def test_repr():
    assert repr(gf.tensor([1.0, 2.0])) == "tensor([1., 2.])"
    assert "requires_grad=True" in repr(gf.tensor([1.0], requires_grad=True))
    assert "grad_fn=<MulBackward>" in repr(gf.tensor([1.0], requires_grad=True) * 2)
    assert "dtype=float64" in repr(gf.tensor([1.0], dtype="float64"))


def test_dlpack_with_numpy_torch_and_jax():
    import jax.numpy as jnp
    import torch

    t = gf.tensor([1.0, 2.0, 3.0])
    tt = torch.from_dlpack(t)
    tt[0] = 10.0  # shares memory
    assert t.tolist()[0] == 10.0
    back = gf.from_dlpack(torch.arange(4, dtype=torch.float32))
    assert back.tolist() == [0, 1, 2, 3] and back.device == "cpu"
    j = gf.from_dlpack(jnp.arange(3.0))
    assert j.tolist() == [0, 1, 2]
    np.testing.assert_array_equal(np.from_dlpack(t), t.numpy())


def test_tensor_methods_binds_and_refuses_silent_override():
    from gradflow.tensor import Tensor, tensor_methods

    def twice_plus(t, k=1):
        return t * 2 + k

    try:
        tensor_methods(_test_twice_plus=twice_plus)
        assert gf.tensor([1.0, 2.0])._test_twice_plus(k=3).tolist() == [5.0, 7.0]
        with pytest.raises(RuntimeError, match="Tensor.sum is defined already"):
            tensor_methods(sum=twice_plus)
    finally:
        if "_test_twice_plus" in Tensor.__dict__:
            delattr(Tensor, "_test_twice_plus")


def test_deepcopy_of_tensors_and_modules_as_torch():
    import copy

    model = gf.nn.Sequential(gf.nn.Linear(3, 2), gf.nn.BatchNorm1d(2))
    model(gf.randn(4, 3)).sum().backward()
    twin = copy.deepcopy(model)
    w, w2 = model[0].weight, twin[0].weight
    assert isinstance(w2, gf.nn.Parameter) and w2.requires_grad and w2 is not w
    np.testing.assert_array_equal(w2.numpy(), w.numpy())
    np.testing.assert_array_equal(w2.grad.numpy(), w.grad.numpy())
    with gf.no_grad():
        w2.add_(1.0)
    assert not np.allclose(w2.numpy(), w.numpy())  # independent storage
    np.testing.assert_array_equal(twin[1].running_var.numpy(), model[1].running_var.numpy())
    shared = gf.ones(2)
    a, b = copy.deepcopy([shared, shared])
    assert a is b  # the memo keeps aliasing, as torch
    with pytest.raises(RuntimeError, match="graph leaves"):
        copy.deepcopy(w * 2)
    tw = torch.nn.Linear(3, 2)
    with pytest.raises(RuntimeError, match="graph leaves"):
        copy.deepcopy(tw.weight * 2)
