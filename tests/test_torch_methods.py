"""PyTorch's Tensor methods and top-level functions on gradflow, the same call in both: values,
shapes, dtypes, in-place identity, versions and the grad-mode rules."""

import numpy as np
import pytest
import torch

import gradflow as gf


def _pair(shape=(2, 3), seed=0):
    a = np.random.default_rng(seed).normal(size=shape)
    return gf.tensor(a, dtype="float64"), torch.tensor(a)


def _same(ours, theirs):
    assert ours.shape == tuple(theirs.shape)
    assert ours.dtype == theirs.detach().numpy().dtype
    np.testing.assert_allclose(ours.numpy(), theirs.detach().numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("call", [
    lambda t: t.add_(t * 2, alpha=3),
    lambda t: t.sub_(1.5, alpha=2),
    lambda t: t.mul_(t),
    lambda t: t.div_(4.0),
    lambda t: t.abs_().pow_(1.5),
    lambda t: t.clamp_(-0.5, 0.5),
    lambda t: t.clamp_(max=0.1),
    lambda t: t.neg_(),
    lambda t: t.exp_(),
    lambda t: t.abs_().sqrt_(),
    lambda t: t.relu_(),
    lambda t: t.zero_(),
    lambda t: t.fill_(2.5),
    lambda t: t.masked_fill_(t > 0, -1.0),
    lambda t: t.copy_(t * 0 + 7),
])
def test_inplace_methods_match_torch_and_keep_identity(call):
    ours, theirs = _pair()
    array, version = ours.array, ours._version
    out_ours, out_theirs = call(ours), call(theirs)
    assert out_ours is ours and out_theirs is theirs
    assert ours.array is array and ours._version > version
    _same(ours, theirs)


def test_inplace_on_a_leaf_that_requires_grad_is_refused_in_grad_mode():
    w = gf.zeros(3, requires_grad=True)
    for call in (lambda: w.add_(1), lambda: w.mul_(2), lambda: w.fill_(1), lambda: w.zero_(),
                 lambda: w.uniform_(), lambda: w.normal_(), lambda: w.clamp_(0, 1)):
        with pytest.raises(RuntimeError, match="leaf tensor that requires grad"):
            call()
    with gf.no_grad():  # as an optimizer step or an initialiser
        w.add_(1).mul_(3).clamp_(max=2.0)
    np.testing.assert_array_equal(w.numpy(), [2.0, 2.0, 2.0])


def test_inplace_on_a_non_leaf_is_recorded_as_in_torch():
    for mod in (gf, torch):
        a = mod.tensor([1.0, -2.0, 3.0], requires_grad=True)
        b = a * 2
        b.mul_(a).add_(a, alpha=3).clamp_(min=0.0)
        b.sum().backward()
        if mod is gf:
            ours = a.grad.numpy()
        else:
            np.testing.assert_allclose(ours, a.grad.numpy())


def test_value_saved_for_backward_then_changed_in_place_raises():
    a = gf.tensor([1.0, 2.0], requires_grad=True)
    b = a * 1
    c = b.exp()  # saves its output
    c.add_(1)
    with pytest.raises(RuntimeError, match="modified in place"):
        c.sum().backward()


def test_random_fills_are_reproducible_with_a_generator():
    g = gf.Generator().manual_seed(5)
    a = gf.empty(1000).uniform_(-2, 3, generator=g)
    assert a.numpy().min() >= -2 and a.numpy().max() < 3
    n = gf.empty(4000, dtype="float64").normal_(1.0, 0.5, generator=g)
    assert abs(n.numpy().mean() - 1.0) < 0.05 and abs(n.numpy().std() - 0.5) < 0.05
    b = gf.empty(1000).bernoulli_(0.3, generator=g)
    assert set(np.unique(b.numpy())) <= {0.0, 1.0}
    g.manual_seed(5)
    np.testing.assert_array_equal(gf.empty(1000).uniform_(-2, 3, generator=g).numpy(), a.numpy())


def test_masked_fill_out_of_place_is_differentiable():
    ours, theirs = _pair((3, 4))
    ours.requires_grad_(), theirs.requires_grad_()
    mo, mt = gf.tensor([True, False, True, False]), torch.tensor([True, False, True, False])
    (ours.masked_fill(mo, 0.5) ** 2).sum().backward()
    (theirs.masked_fill(mt, 0.5) ** 2).sum().backward()
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy())
    with pytest.raises(RuntimeError, match="bool mask"):
        ours.masked_fill(gf.tensor([1, 0, 1, 0]), 0.0)


@pytest.mark.parametrize("call", [
    lambda t: t.view(3, 2),
    lambda t: t.view(-1),
    lambda t: t.view_as(t.reshape(6, 1)),
    lambda t: t.reshape_as(t.reshape(3, 2)),
    lambda t: t.t(),
    lambda t: t.t().contiguous(),
    lambda t: t.unsqueeze(0).expand(4, -1, -1),
    lambda t: t[:, :1].expand_as(t),
    lambda t: t.repeat(2, 3),
    lambda t: t.repeat(2, 1, 2),
    lambda t: t.add(t, alpha=2),
    lambda t: t.sub(1.0, alpha=3),
    lambda t: t.mul(t).div(2.0).pow(2).neg(),
    lambda t: t.mm(t.t()),
    lambda t: t.reshape(1, 2, 3).bmm(t.reshape(1, 3, 2)),
    lambda t: t.double().half().float(),
    lambda t: (t * 10).long().int().short(),
    lambda t: (t > 0).bool(),
    lambda t: t.type(torch.float32) if isinstance(t, torch.Tensor) else t.type(gf.float32),
    lambda t: t.type_as(t.float()),
])
def test_methods_match_torch(call):
    ours, theirs = _pair()
    _same(call(ours), call(theirs))


def test_repeat_is_differentiable_like_torch():
    ours, theirs = _pair((2, 3))
    ours.requires_grad_(), theirs.requires_grad_()
    w = np.arange(2 * 4 * 6, dtype=np.float64).reshape(2, 4, 6)
    (ours.repeat(2, 2, 2) * gf.tensor(w, dtype="float64")).sum().backward()
    (theirs.repeat(2, 2, 2) * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy())


def test_view_refuses_what_only_a_copy_can_do():
    t = gf.zeros(2, 3).t()
    with pytest.raises(RuntimeError, match="use .reshape"):
        t.view(6)
    v = gf.zeros(2, 3)
    w = v.view(3, 2)
    w[0, 0] = 5.0  # a view shares storage
    assert v[0, 0].item() == 5.0 and v.is_contiguous() and not t.is_contiguous()


def test_type_names_match_torch():
    for name in ("float32", "float64", "float16", "int64", "int32", "uint8", "bool"):
        ours = gf.zeros(1, dtype=getattr(gf, name)).type()
        theirs = torch.zeros(1, dtype=getattr(torch, name)).type()
        assert ours.split(".")[1] == theirs.split(".")[1]


def test_errors_of_shape_methods_match_torch():
    t = gf.zeros(2, 3, 4)
    with pytest.raises(RuntimeError, match="<= 2 dimensions"):
        t.t()
    with pytest.raises(RuntimeError, match="repeat dims"):
        t.repeat(2, 2)
    with pytest.raises(RuntimeError, match="2-D"):
        gf.mm(t, t)
    with pytest.raises(RuntimeError, match="same batch size"):
        gf.bmm(t, gf.zeros(3, 4, 2))
    with pytest.raises(TypeError, match="'mat2' must be a Tensor"):
        gf.mm(gf.zeros(2, 2), None)


@pytest.mark.parametrize("name", ["exp", "log", "sqrt", "sin", "cos", "tanh", "sigmoid"])
def test_float_functions_of_integer_tensors_give_float32(name):
    ours = getattr(gf.arange(1, 4), name)()
    theirs = getattr(torch.arange(1, 4), name)()
    assert ours.dtype == theirs.numpy().dtype == np.float32
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6)


def test_mean_of_integers_is_refused_as_in_torch():
    with pytest.raises(RuntimeError, match="could not infer output dtype"):
        gf.arange(3).mean()
    with pytest.raises(RuntimeError):
        torch.arange(3).mean()


@pytest.mark.parametrize("call", [
    lambda m, t: m.sum(t, 1),
    lambda m, t: m.sum(t, dim=0, keepdim=True),
    lambda m, t: m.mean(t, -1),
    lambda m, t: m.max(t),
    lambda m, t: m.max(t, 1).values,
    lambda m, t: m.max(t, 1).indices,
    lambda m, t: m.min(t, dim=0)[0],
    lambda m, t: m.max(t, t * 0),
    lambda m, t: m.amax(t, 1),
    lambda m, t: m.amin(t, (0, 1)),
    lambda m, t: m.argmax(t, 1),
    lambda m, t: m.argmin(t),
    lambda m, t: m.var(t, 1),
    lambda m, t: m.std(t, 0, unbiased=False),
    lambda m, t: m.transpose(t, 0, 1),
    lambda m, t: m.permute(t, (1, 0)),
    lambda m, t: m.t(t),
    lambda m, t: m.reshape(t, (3, 2)),
    lambda m, t: m.flatten(t),
    lambda m, t: m.squeeze(t.reshape(1, 2, 3), 0),
    lambda m, t: m.unsqueeze(t, 1),
    lambda m, t: m.clamp(t, -0.1, 0.2),
    lambda m, t: m.log_softmax(t, 1),
    lambda m, t: m.logsumexp(t, 1),
    lambda m, t: m.neg(t),
    lambda m, t: m.pow(t, 2),
    lambda m, t: m.pow(2.0, t),
    lambda m, t: m.masked_fill(t, t > 0, 0.0),
])
def test_top_level_functions_match_torch(call):
    ours, theirs = _pair()
    _same(call(gf, ours), call(torch, theirs))


def test_is_tensor_and_numel():
    assert gf.is_tensor(gf.zeros(1)) and not gf.is_tensor(np.zeros(1))
    assert gf.numel(gf.zeros(2, 3)) == 6
    with pytest.raises(TypeError, match="argument 'input' must be a Tensor"):
        gf.sum(None)


def test_grad_modes_as_torch():
    with gf.inference_mode():
        assert not gf.is_grad_enabled() and gf.is_inference_mode_enabled()
        assert not (gf.ones(1, requires_grad=True) * 2).requires_grad
    assert gf.is_grad_enabled() and not gf.is_inference_mode_enabled()
    with gf.inference_mode(False):
        assert gf.is_grad_enabled()
    gf.set_grad_enabled(False)  # a plain call switches, as torch.set_grad_enabled(False)
    try:
        assert not gf.is_grad_enabled()
    finally:
        gf.set_grad_enabled(True)
    assert gf.is_grad_enabled()

    @gf.inference_mode()
    def f(x):
        return x * 2

    assert not f(gf.ones(1, requires_grad=True)).requires_grad


def test_accelerator_queries_on_a_cpu_machine():
    assert gf.backends.mps.is_available() is False
    assert gf.accelerator.is_available() == gf.cuda.is_available()
    if not gf.cuda.is_available():
        assert gf.accelerator.current_accelerator() is None
        gf.cuda.manual_seed_all(0)  # a no-op without CUDA, as in torch
        gf.cuda.manual_seed(0)
    with pytest.raises(TypeError, match="seed must be an int"):
        gf.cuda.manual_seed_all(0.5)


_INDICES = [
    (0, slice(None), [0, 1]),
    (0, [0, 1]),
    ([0, 1], slice(None), 0),
    (slice(None), [0, 1], slice(None), [0, 1]),
    (0, [0, 1], slice(None), [0, 1]),
    (0, slice(None), [1, 2], [0, 1]),
    (Ellipsis, 0, slice(None), [1, 2]),
    (0, None, slice(None), [0, 2]),
    ([[0], [1]], slice(None), 1, [0, 2, 3]),
    (1, slice(None), [True, False, True, False, True, False, True]),
    (1, slice(None), [[1], [2]], slice(None)),
    (slice(None), 1, slice(None), [1, 2]),
]


@pytest.mark.parametrize("index", _INDICES, ids=str)
def test_indexing_places_array_dims_as_torch(index):
    """PyTorch applies integers first, then the index arrays (NumPy counts integers as arrays,
    so ``x[0, :, [0, 1]]`` has shape (2, 6, 8) in NumPy and (6, 2, 8) in PyTorch)."""
    a = np.random.default_rng(1).normal(size=(5, 6, 7, 8))
    ours_i = tuple(np.array(i) if isinstance(i, list) else i for i in index)
    theirs_i = tuple(torch.tensor(i) if isinstance(i, list) else i for i in index)
    ours, theirs = gf.tensor(a, dtype="float64", requires_grad=True), \
        torch.tensor(a, requires_grad=True)
    got, want = ours[ours_i], theirs[theirs_i]
    _same(got, want)
    w = np.random.default_rng(2).normal(size=tuple(want.shape))
    (got * gf.tensor(w, dtype="float64")).sum().backward()
    (want * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy())
    # t[index] = value writes the same places, for a full value and a broadcast one
    for v in (w, w[..., -1:]):
        o, t = gf.tensor(a, dtype="float64"), torch.tensor(a)
        o[ours_i] = gf.tensor(v, dtype="float64")
        t[theirs_i] = torch.tensor(v)
        np.testing.assert_array_equal(o.numpy(), t.numpy())


def test_setitem_through_torch_layout_is_differentiable():
    a = np.zeros((3, 4, 5))
    v = np.random.default_rng(3).normal(size=(4, 2))
    results = []
    for mod in (gf, torch):
        base = mod.tensor(a, requires_grad=True) if mod is torch else \
            mod.tensor(a, dtype="float64", requires_grad=True)
        val = mod.tensor(v, requires_grad=True) if mod is torch else \
            mod.tensor(v, dtype="float64", requires_grad=True)
        x = base * 1
        x[0, :, [1, 3]] = val
        (x * x).sum().backward()
        results.append((base.grad.numpy(), val.grad.numpy()))
    for ours, theirs in zip(*results):
        np.testing.assert_allclose(ours, theirs)


def test_setitem_none_is_refused():
    t = gf.zeros(3)
    with pytest.raises(TypeError, match="can't assign None"):
        t[0] = None


@pytest.mark.parametrize("data, pattern", [
    ("a", "strings"),
    ([1, [2]], "same length"),
    (None, "data is None"),
    ([object()], "objects"),
    (np.datetime64("2020-01-01"), "datetimes"),
    (np.array(["a"]), "strings"),
    ([1 + 2j], "complex"),
])
def test_tensor_from_non_numeric_data_is_refused(data, pattern):
    with pytest.raises(TypeError, match=pattern):
        gf.tensor(data)


@pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")  # np.matrix itself warns
def test_ndarray_subclasses_become_plain_arrays():
    m = np.matrix([[1.0, 2.0]])
    for t in (gf.tensor(m), gf.from_numpy(m), gf.as_tensor(m)):
        assert type(t.array) is np.ndarray and t.shape == (1, 2)
    shared = gf.from_numpy(m)
    m[0, 0] = 9.0
    assert shared[0, 0].item() == 9.0  # still shares memory
