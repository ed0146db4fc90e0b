"""F.embedding, F.one_hot and nn.Embedding against PyTorch: values, weight gradients (repeated
indices, padding_idx, scale_grad_by_freq), in-place max_norm renormalization, init, repr,
from_pretrained, and one test per class of bad input."""

from __future__ import annotations

import inspect

import numpy as np
import op_cases  # noqa: F401  (loads op_cases_seq through it: no circular import)
import pytest
from op_cases_seq import GRADIENT_RULE_CASES
from oracle import check_op

import gradflow as gf
from gradflow.nn.sparse import Embedding
from gradflow.ops.embedding import embedding, one_hot

torch = pytest.importorskip("torch")
TF = torch.nn.functional

IDX = np.array([[1, 3, 1, 1], [0, 4, 4, 2]])


@pytest.mark.parametrize("name,gf_fn,jax_fn,inputs,consts", GRADIENT_RULE_CASES,
                         ids=[c[0] for c in GRADIENT_RULE_CASES])
def test_gradient_rules_match_the_oracle(name, gf_fn, jax_fn, inputs, consts, device):
    check_op(gf_fn, jax_fn, inputs, consts=consts, device=device, key=name)


@pytest.mark.parametrize("kw", [{}, {"padding_idx": 1}, {"padding_idx": -1},
                                {"scale_grad_by_freq": True},
                                {"scale_grad_by_freq": True, "padding_idx": 4}])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_embedding_values_and_weight_grad_match_torch(kw, dtype):
    rng = np.random.default_rng(0)
    w = rng.standard_normal((5, 3)).astype(dtype)
    g = rng.standard_normal(IDX.shape + (3,)).astype(dtype)
    wg, wt = gf.tensor(w, requires_grad=True), torch.tensor(w, requires_grad=True)
    yg, yt = embedding(gf.tensor(IDX), wg, **kw), TF.embedding(torch.tensor(IDX), wt, **kw)
    assert yg.shape == tuple(yt.shape) and yg.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(yg.numpy(), yt.detach().numpy())
    yg.backward(gf.tensor(g))
    yt.backward(torch.tensor(g))
    np.testing.assert_allclose(wg.grad.numpy(), wt.grad.numpy(), rtol=1e-6, atol=1e-6)


def test_int32_indices_and_scalar_index():
    w = gf.randn(6, 2)
    np.testing.assert_array_equal(embedding(gf.tensor([5, 0], dtype="int32"), w).numpy(),
                                  w.numpy()[[5, 0]])
    assert embedding(gf.tensor(3), w).shape == (2,)


@pytest.mark.parametrize("norm_type", [2.0, 1.0, float("inf")])
def test_max_norm_renormalizes_looked_up_rows_in_place_as_torch(norm_type):
    rng = np.random.default_rng(1)
    w = (rng.standard_normal((6, 4)) * 3).astype("float32")
    wg, wt = gf.tensor(w.copy(), requires_grad=True), torch.tensor(w.copy(), requires_grad=True)
    idx = np.array([0, 2, 2, 5])
    yg = embedding(gf.tensor(idx), wg, max_norm=1.5, norm_type=norm_type)
    yt = TF.embedding(torch.tensor(idx), wt, max_norm=1.5, norm_type=norm_type)
    np.testing.assert_allclose(wg.numpy(), wt.detach().numpy(), rtol=1e-6)
    np.testing.assert_allclose(yg.numpy(), yt.detach().numpy(), rtol=1e-6)
    np.testing.assert_array_equal(wg.numpy()[[1, 3, 4]], w[[1, 3, 4]])  # rows not looked up
    (yg * yg).sum().backward()
    (yt * yt).sum().backward()
    np.testing.assert_allclose(wg.grad.numpy(), wt.grad.numpy(), rtol=1e-5)


def test_second_order_through_the_scatter():
    w = gf.tensor(np.random.default_rng(2).standard_normal((5, 3)), dtype="float64",
                  requires_grad=True)
    y = embedding(gf.tensor(IDX), w, padding_idx=0)
    (g,) = gf.grad((y ** 3).sum(), [w], create_graph=True)
    (h,) = gf.grad(g.sum(), [w])
    wt = torch.tensor(w.numpy(), requires_grad=True)
    (gt,) = torch.autograd.grad((TF.embedding(torch.tensor(IDX), wt, padding_idx=0) ** 3).sum(),
                                [wt], create_graph=True)
    (ht,) = torch.autograd.grad(gt.sum(), [wt])
    np.testing.assert_allclose(h.numpy(), ht.numpy(), rtol=1e-12)


def test_one_hot_matches_torch():
    t = np.array([[0, 3], [2, 2]])
    for nc in (-1, 5):
        a, b = one_hot(gf.tensor(t), nc), TF.one_hot(torch.tensor(t), nc)
        assert a.dtype == np.int64 and a.shape == tuple(b.shape)
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert one_hot(gf.tensor(np.zeros(0, np.int64)), 3).shape == (0, 3)


@pytest.mark.parametrize("call,exc,words", [
    (lambda: one_hot(gf.tensor([1.0, 2.0])), RuntimeError, "LongTensor"),
    (lambda: one_hot(gf.tensor([1, 2], dtype="int32")), RuntimeError, "int64"),
    (lambda: one_hot(gf.tensor([1, -2])), RuntimeError, "non-negative"),
    (lambda: one_hot(gf.tensor([1, 2]), 2), RuntimeError, "smaller than num_classes (2)"),
    (lambda: one_hot(gf.tensor(np.zeros(0, np.int64))), RuntimeError, "empty"),
])
def test_one_hot_errors(call, exc, words):
    with pytest.raises(exc, match=words.replace("(", r"\(").replace(")", r"\)")):
        call()


@pytest.mark.parametrize("call,exc,words", [
    (lambda w: embedding(gf.tensor([5]), w), IndexError, "index 5 .* num_embeddings=5"),
    (lambda w: embedding(gf.tensor([[0, -1]]), w), IndexError, "index -1 .* num_embeddings=5"),
    (lambda w: embedding(gf.tensor([1.0]), w), RuntimeError, "integer dtype"),
    (lambda w: embedding(gf.tensor([1]), gf.randn(5)), RuntimeError, "2-D"),
    (lambda w: embedding(gf.tensor([1]), w, padding_idx=5), AssertionError, "padding_idx"),
    (lambda w: embedding(gf.tensor([1]), w, padding_idx=-6), AssertionError, "padding_idx"),
    (lambda w: embedding(gf.tensor([1]), w, sparse=True), NotImplementedError, "dense"),
    (lambda w: embedding([1], w), TypeError, "input"),
])
def test_embedding_errors(call, exc, words):
    with pytest.raises(exc, match=words):
        call(gf.randn(5, 3))


def test_embedding_module_init_padding_row_and_grad():
    gf.manual_seed(0)
    e = Embedding(400, 50, padding_idx=3)
    w = e.weight.numpy()
    assert e.weight.shape == (400, 50) and e.weight.requires_grad
    np.testing.assert_array_equal(w[3], 0)
    assert abs(w.mean()) < 0.02 and abs(w.std() - 1) < 0.02  # N(0, 1)
    e(gf.tensor([[3, 7, 7]])).sum().backward()
    g = e.weight.grad.numpy()
    np.testing.assert_array_equal(g[3], 0)
    np.testing.assert_array_equal(g[7], 2)


def test_embedding_module_matches_torch_after_loading_its_state_dict():
    te = torch.nn.Embedding(7, 4, padding_idx=2, max_norm=2.0, scale_grad_by_freq=True)
    ge = Embedding(7, 4, padding_idx=2, max_norm=2.0, scale_grad_by_freq=True)
    ge.load_state_dict({k: gf.tensor(v.detach().numpy()) for k, v in te.state_dict().items()})
    idx = np.array([[2, 6, 6], [1, 0, 6]])
    yt, yg = te(torch.tensor(idx)), ge(gf.tensor(idx))
    np.testing.assert_allclose(yg.numpy(), yt.detach().numpy(), rtol=1e-6)
    yt.pow(2).sum().backward()
    yg.pow(2).sum().backward()
    np.testing.assert_allclose(ge.weight.grad.numpy(), te.weight.grad.numpy(), rtol=1e-5)


@pytest.mark.parametrize("args,kw", [((10, 3), {}), ((10, 3), {"padding_idx": 0, "max_norm": 1.0}),
                                     ((10, 3), {"padding_idx": -2, "norm_type": 1.0,
                                                "scale_grad_by_freq": True})])
def test_embedding_repr_as_torch(args, kw):
    assert repr(Embedding(*args, **kw)) == repr(torch.nn.Embedding(*args, **kw))


def test_from_pretrained_shares_and_freezes():
    w = gf.randn(4, 2)
    e = Embedding.from_pretrained(w)
    assert not e.weight.requires_grad and e.weight.array is w.array
    e2 = Embedding.from_pretrained(w, freeze=False, padding_idx=1)
    assert e2.weight.requires_grad and e2.padding_idx == 1
    np.testing.assert_array_equal(e2(gf.tensor([1])).numpy(), w.numpy()[[1]])  # not zeroed
    with pytest.raises(ValueError, match="2-dimensional"):
        Embedding.from_pretrained(gf.randn(4))
    with pytest.raises(NotImplementedError, match="dense"):
        Embedding(4, 2, sparse=True)
    with pytest.raises(ValueError, match="_weight has shape"):
        Embedding(4, 2, _weight=gf.randn(3, 2))


def _positional(fn):
    return [p.name for p in inspect.signature(fn).parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.name != "self"]


def test_signatures_as_torch():
    assert _positional(embedding) == _positional(TF.embedding)
    assert _positional(Embedding.__init__) == _positional(torch.nn.Embedding.__init__)
    assert _positional(Embedding.from_pretrained) == _positional(
        torch.nn.Embedding.from_pretrained)
    assert _positional(one_hot) == ["input", "num_classes"]
