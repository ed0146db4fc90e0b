"""PyTorch's vocabulary on gradflow: ``data``/``array``, ``Size``, ``device``, dtype names,
generators and the random functions, checked against torch where torch has the same call."""

import numpy as np
import pytest
import torch

import gradflow as gf


def test_data_is_a_detached_tensor_sharing_storage_and_version():
    p = gf.tensor([1.0, 2.0], requires_grad=True)
    d = p.data
    assert isinstance(d, gf.Tensor) and not d.requires_grad and d.grad_fn is None
    assert d.array is p.array and p.array is p.array  # array: the same object on every access
    before = p._version
    d -= 1.0  # PyTorch's idiom: update the values outside the graph
    np.testing.assert_array_equal(p.numpy(), [0.0, 1.0])
    assert p.array is d.array and p._version == before + 1


def test_data_assignment_replaces_the_values():
    p = gf.zeros(2, requires_grad=True)
    p.data = gf.ones(3)
    assert p.shape == (3,) and p.requires_grad and p.tolist() == [1.0, 1.0, 1.0]
    with pytest.raises(TypeError, match="data: expected a Tensor"):
        p.data = [1.0]


def test_manual_sgd_through_data_and_inplace_matches_torch():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(16, 3)), rng.normal(size=(16, 1))
    w0 = rng.normal(size=(3, 1))
    tw = torch.tensor(w0, requires_grad=True)
    gw = gf.tensor(w0, dtype="float64", requires_grad=True)
    tx, ty, gx, gy = torch.tensor(x), torch.tensor(y), gf.tensor(x, dtype="float64"), \
        gf.tensor(y, dtype="float64")
    for step in range(5):
        tl = ((tx @ tw - ty) ** 2).mean()
        gl = ((gx @ gw - gy) ** 2).mean()
        np.testing.assert_allclose(gl.item(), tl.item(), rtol=1e-12)
        tl.backward()
        gl.backward()
        if step % 2:  # both idioms: p.data -= ... and p -= ... under no_grad
            tw.data -= 0.1 * tw.grad
            gw.data -= 0.1 * gw.grad
        else:
            with torch.no_grad():
                tw -= 0.1 * tw.grad
            with gf.no_grad():
                gw -= 0.1 * gw.grad
        tw.grad = None
        gw.grad = None
    np.testing.assert_allclose(gw.numpy(), tw.detach().numpy(), rtol=1e-12)


def test_size_numel_and_shape_are_torch_like():
    t = gf.zeros(2, 3, 4)
    tt = torch.zeros(2, 3, 4)
    assert isinstance(t.size(), gf.Size) and isinstance(t.shape, gf.Size)
    assert t.size() == tuple(tt.size()) and t.size(1) == tt.size(1) == 3
    assert t.size(-1) == 4 and t.numel() == t.nelement() == tt.numel() == 24
    assert t.shape.numel() == 24 and repr(t.shape) == "gradflow.Size([2, 3, 4])"
    assert isinstance(t.shape[1:], gf.Size) and t.shape[1:] == (3, 4)
    assert str(t.shape) == "(2, 3, 4)"  # error messages read as the tuple
    with pytest.raises(IndexError, match="size"):
        t.size(3)


def test_grad_assignment_is_checked():
    p = gf.zeros(2, 3, requires_grad=True)
    p.grad = gf.ones(2, 3)
    p.grad = None
    with pytest.raises(TypeError, match="assigned grad expected to be a Tensor"):
        p.grad = np.ones((2, 3), np.float32)
    with pytest.raises(RuntimeError, match=r"shape \(3,\).*shape \(2, 3\)"):
        p.grad = gf.ones(3)
    with pytest.raises(RuntimeError, match="dtype float64.*float32"):
        p.grad = gf.ones(2, 3, dtype="float64")


def test_device_objects():
    d = gf.device("cuda", 1)
    assert d == "cuda:1" and d.type == "cuda" and d.index == 1
    assert repr(d) == repr(torch.device("cuda", 1))
    assert repr(gf.device("cpu")) == repr(torch.device("cpu")) and gf.device("cpu").index is None
    assert gf.device("cuda").index is None and gf.device(0) == "cuda:0"
    t = gf.zeros(2)
    assert t.device == "cpu" and isinstance(t.device, gf.device) and t.device.type == "cpu"
    assert gf.zeros(2, device=gf.device("cpu")).device == "cpu"
    with pytest.raises(RuntimeError, match="unknown device type"):
        gf.device("tpu")
    with pytest.raises(RuntimeError, match="index"):
        gf.device("cuda:1", 2)


@pytest.mark.parametrize("name", ["float32", "float", "float64", "double", "float16", "half",
                                  "bfloat16", "int64", "long", "int32", "int", "int16", "short",
                                  "int8", "uint8", "bool"])
def test_dtype_names_match_torch(name):
    ours, theirs = getattr(gf, name), getattr(torch, name)
    assert isinstance(ours, np.dtype)
    assert torch.zeros(1, dtype=theirs).numpy().dtype == ours if name != "bfloat16" else \
        ours.itemsize == 2
    assert gf.zeros(1, dtype=ours).dtype == ours
    assert gf.zeros(1, dtype=f"torch.{name}").dtype == ours


def test_dtype_equality_both_ways():
    t = gf.zeros(2)
    assert t.dtype == gf.float32 and t.dtype == np.float32 and t.dtype == gf.float
    assert gf.zeros(2, dtype=gf.long).dtype == np.int64


def test_generator_reproducible_and_independent_of_the_default():
    g = gf.Generator()
    assert g.manual_seed(7) is g and g.initial_seed() == 7 and g.device == "cpu"
    a = gf.rand(5, generator=g)
    gf.manual_seed(0)
    gf.rand(3)  # the default generator moves; g does not
    g.manual_seed(7)
    np.testing.assert_array_equal(gf.rand(5, generator=g).numpy(), a.numpy())
    state = g.get_state()
    assert state.dtype == gf.uint8
    b = gf.randn(4, generator=g)
    g.set_state(state)
    np.testing.assert_array_equal(gf.randn(4, generator=g).numpy(), b.numpy())


def test_manual_seed_returns_the_default_generator():
    g = gf.manual_seed(3)
    assert g is gf.default_generator and g.initial_seed() == gf.initial_seed() == 3
    a = gf.randn(3)
    gf.manual_seed(3)
    np.testing.assert_array_equal(gf.randn(3).numpy(), a.numpy())


@pytest.mark.parametrize("bad", [1.5, "3", True, None])
def test_manual_seed_refuses_non_integers(bad):
    with pytest.raises(TypeError, match="seed must be an int"):
        gf.manual_seed(bad)


def test_random_functions_signatures_match_torch():
    cases = [
        lambda m: m.randint(5, (2, 3)),
        lambda m: m.randint(3, 10, (4,)),
        lambda m: m.randint(0, 2, size=(2,)),
        lambda m: m.randperm(6),
        lambda m: m.rand(2, 3),
        lambda m: m.randn((2, 3)),
        lambda m: m.rand_like(m.zeros(2, 2)),
        lambda m: m.randn_like(m.zeros(3, dtype=m.float64)),
        lambda m: m.randint_like(m.zeros(3), 4),
        lambda m: m.empty_like(m.zeros(2, dtype=m.int32)),
    ]
    for make in cases:
        ours, theirs = make(gf), make(torch)
        assert ours.shape == tuple(theirs.shape)
        assert ours.dtype == theirs.numpy().dtype


def test_random_values_are_in_range():
    g = gf.Generator().manual_seed(1)
    r = gf.randint(3, 10, (1000,), generator=g).numpy()
    assert r.min() >= 3 and r.max() < 10 and len(np.unique(r)) == 7
    assert sorted(gf.randperm(50, generator=g).tolist()) == list(range(50))
    u = gf.rand(1000, generator=g).numpy()
    assert u.min() >= 0 and u.max() < 1


def test_generator_on_another_device_or_of_another_type_is_refused():
    with pytest.raises(TypeError, match="generator must be a gradflow.Generator"):
        gf.rand(2, generator=np.random.default_rng(0))


@pytest.mark.parametrize("make, error, pattern", [
    (lambda: gf.zeros(2.5), TypeError, "sizes must be ints"),
    (lambda: gf.ones("3"), TypeError, "sizes must be ints"),
    (lambda: gf.empty(True), TypeError, "sizes must be ints"),
    (lambda: gf.zeros(-1), RuntimeError, "non-negative"),
    (lambda: gf.full((2, 1.5), 0.0), TypeError, "sizes must be ints"),
    (lambda: gf.rand(2, "a"), TypeError, "sizes must be ints"),
    (lambda: gf.arange(0, 5, 0), RuntimeError, "step must be nonzero"),
    (lambda: gf.randint(5, 3, (2,)), ValueError, "low < high"),
    (lambda: gf.randint(0.5, 3, (2,)), TypeError, "low must be an int"),
    (lambda: gf.randperm(-1), RuntimeError, "non-negative"),
    (lambda: gf.rand(2, dtype=gf.int64), TypeError, "floating dtype"),
])
def test_creation_bad_sizes(make, error, pattern):
    with pytest.raises(error, match=pattern):
        make()
