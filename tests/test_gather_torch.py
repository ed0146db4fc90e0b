"""gather/scatter, index_*, masked_*, take and nonzero against PyTorch: values, dtypes,
gradients (repeated indices, ties and zeros included), in-place rules and errors."""

import warnings

import numpy as np
import pytest

import gradflow as gf
from gradflow.ops import gather as G

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(0)
X = RNG.standard_normal((3, 4))
S = RNG.standard_normal((2, 4))
I = np.array([[0, 2, 2, 1], [1, 1, 0, 0]])  # repeated targets
V = np.array([2, 0, 2, 3])
M = np.array([True, False, True, True])


def _both(fn_gf, fn_t, arrays, grad=True):
    """Run both; compare outputs (values, dtype) and the gradients of a weighted sum."""
    ga = [gf.tensor(a, dtype=a.dtype, requires_grad=grad and a.dtype.kind == "f")
          for a in arrays]
    ta = [torch.tensor(a, requires_grad=grad and a.dtype.kind == "f") for a in arrays]
    yg, yt = fn_gf(*ga), fn_t(*ta)
    assert str(yg.dtype) == str(yt.dtype).replace("torch.", "")
    np.testing.assert_allclose(yg.numpy(), yt.detach().numpy(), rtol=1e-12, atol=1e-12)
    if grad and yt.requires_grad:
        w = RNG.standard_normal(tuple(yt.shape))
        (yg * gf.tensor(w, dtype=yg.dtype)).sum().backward()
        (yt * torch.tensor(w, dtype=yt.dtype)).sum().backward()
        for g, t in zip(ga, ta):
            if t.requires_grad:
                np.testing.assert_allclose(g.grad.numpy(), t.grad.numpy(), rtol=1e-10,
                                           atol=1e-12)


def _i(a):
    return gf.tensor(a, dtype="int64")


def _t(a):
    return torch.tensor(a, dtype=torch.int64)


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_gather(dim):
    idx = I if dim != 0 else I[:, :3]
    _both(lambda x: G.gather(x, dim, _i(idx)), lambda x: torch.gather(x, dim, _t(idx)), [X])
    _both(lambda x: x.gather(dim, _i(idx)), lambda x: x.gather(dim, _t(idx)), [X])


def test_gather_scalar_and_int32_index():
    _both(lambda x: G.gather(x, 0, _i([0, 0])), lambda x: torch.gather(x, 0, _t([0, 0])),
          [np.array(5.0)])
    i32 = np.array([[1, 0]], dtype=np.int32)
    _both(lambda x: x.gather(1, gf.tensor(i32)), lambda x: x.gather(1, torch.tensor(i32)), [X])


def test_scatter_src_value_and_reduce():
    u = np.array([[0, 2, 1], [1, 0, 2]])
    _both(lambda x, s: x.scatter(1, _i(u), s), lambda x, s: x.scatter(1, _t(u), s),
          [X, S[:, :3]])
    _both(lambda x: x.scatter(0, _i(u), 2.5), lambda x: x.scatter(0, _t(u), 2.5), [X])
    _both(lambda x: G.scatter(x, 0, _i(u), value=2.5),
          lambda x: torch.scatter(x, 0, _t(u), value=2.5), [X])
    with warnings.catch_warnings():  # torch deprecates reduce= with a Tensor src
        warnings.simplefilter("ignore")
        for red in ("add", "multiply"):
            _both(lambda x, s, r=red: x.scatter(1, _i(I), s, reduce=r),
                  lambda x, s, r=red: x.scatter(1, _t(I), s, reduce=r), [X, S], grad=False)
            _both(lambda x, r=red: x.scatter(1, _i(I), 1.5, reduce=r),
                  lambda x, r=red: x.scatter(1, _t(I), 1.5, reduce=r), [X], grad=False)


def test_scatter_add_accumulates_repeats():
    _both(lambda x, s: x.scatter_add(1, _i(I), s), lambda x, s: x.scatter_add(1, _t(I), s),
          [X, S])
    _both(lambda x, s: G.scatter_add(x, 0, _i(I), s), lambda x, s: torch.scatter_add(
        x, 0, _t(I), s), [X, S])


@pytest.mark.parametrize("reduce", ["sum", "prod", "mean", "amax", "amin"])
@pytest.mark.parametrize("include_self", [True, False])
def test_scatter_reduce(reduce, include_self):
    _both(lambda x, s: x.scatter_reduce(1, _i(I), s, reduce, include_self=include_self),
          lambda x, s: x.scatter_reduce(1, _t(I), s, reduce, include_self=include_self),
          [X, S])


def _scatter_reduce_dim0(reduce, idx, x, s):
    """``x.scatter_reduce(0, idx, s, reduce)`` with ``include_self`` True and False."""
    for inc in (True, False):
        _both(lambda a, b, inc=inc: a.scatter_reduce(0, _i(idx), b, reduce, include_self=inc),
              lambda a, b, inc=inc: a.scatter_reduce(0, _t(idx), b, reduce, include_self=inc),
              [x, s])


@pytest.mark.parametrize("reduce", ["amax", "amin"])
def test_scatter_reduce_ties_share_the_gradient(reduce):
    _scatter_reduce_dim0(reduce, np.array([0, 0, 1, 3]), np.array([2.0, 2.0, 3.0, 1.0]),
                         np.array([2.0, 2.0, 3.0, -1.0]))


def test_scatter_reduce_prod_with_zeros():
    idx = np.array([0, 0, 1, 2, 2])
    for x, s in [([1.0, 2, 3], [0.0, 2, 0, 4, 5]), ([0.0, 2, 3], [0.0, 2, 5, 0, 0])]:
        _scatter_reduce_dim0("prod", idx, np.array(x), np.array(s))


@pytest.mark.parametrize("reduce", ["sum", "prod", "mean", "amax", "amin"])
def test_scatter_reduce_integers(reduce):
    _scatter_reduce_dim0(reduce, np.array([0, 0, 1, 4]), np.arange(5) - 2,
                         np.array([-3, -4, 6, 7]))


def test_index_select_add_copy_fill():
    _both(lambda x: x.index_select(1, _i(V)), lambda x: x.index_select(1, _t(V)), [X])
    _both(lambda x: G.index_select(x, 0, _i(2)), lambda x: torch.index_select(x, 0, _t(2)),
          [X])
    src = RNG.standard_normal((3, 4))
    _both(lambda x, s: x.index_add(1, _i(V), s, alpha=2.5),
          lambda x, s: x.index_add(1, _t(V), s, alpha=2.5), [X, src])
    _both(lambda x, s: x.index_copy(0, _i([2, 0]), s),
          lambda x, s: x.index_copy(0, _t([2, 0]), s), [X, src[:2]])
    _both(lambda x: x.index_fill(1, _i([-1, 1]), -7.0),
          lambda x: x.index_fill(1, _t([-1, 1]), -7.0), [X])
    _both(lambda x, v: x.index_fill(1, _i([0, 1]), v), lambda x, v: x.index_fill(
        1, _t([0, 1]), v), [X, np.array(0.5)])


def test_masked_select_and_scatter():
    _both(lambda x: x.masked_select(gf.tensor(M)), lambda x: x.masked_select(torch.tensor(M)),
          [X])
    _both(lambda x: G.masked_select(x, gf.tensor(M[:, None] | True)),
          lambda x: torch.masked_select(x, torch.tensor(M[:, None] | True)), [X[0]])
    src = RNG.standard_normal(12)
    _both(lambda x, s: x.masked_scatter(gf.tensor(M), s),
          lambda x, s: x.masked_scatter(torch.tensor(M), s), [X, src])


def test_take_and_take_along_dim():
    _both(lambda x: x.take(_i([[-1, 0], [5, 5]])), lambda x: x.take(_t([[-1, 0], [5, 5]])),
          [X])
    _both(lambda x: x.take_along_dim(_i([[0, -1, 0]]), 1),
          lambda x: x.take_along_dim(_t([[0, -1, 0]]), 1), [X])
    _both(lambda x: G.take_along_dim(x, _i([5, 0, 11])),
          lambda x: torch.take_along_dim(x, _t([5, 0, 11])), [X])
    col = RNG.standard_normal((3, 1))
    _both(lambda x: x.take_along_dim(_i(np.array([[0, 1, 1, 0]] * 2)), 0),
          lambda x: x.take_along_dim(_t(np.array([[0, 1, 1, 0]] * 2)), 0), [col])


@pytest.mark.parametrize("a", [np.array([[0, 1.5], [2, 0]]), np.array(5), np.array(0),
                               np.zeros((2, 0)), np.array([[[0, 1], [1, 1]]])])
def test_nonzero_and_argwhere(a):
    assert np.array_equal(gf.tensor(a).nonzero().numpy(), torch.tensor(a).nonzero().numpy())
    assert np.array_equal(G.argwhere(gf.tensor(a)).numpy(), torch.argwhere(torch.tensor(a)))
    ours = G.nonzero(gf.tensor(a), as_tuple=True)
    theirs = torch.nonzero(torch.tensor(a), as_tuple=True)
    assert len(ours) == len(theirs)
    for p, q in zip(ours, theirs):
        assert p.dtype == np.int64 and np.array_equal(p.numpy(), q.numpy())


def test_second_order_through_gather_and_scatter_add():
    x = gf.tensor(X, requires_grad=True)
    xt = torch.tensor(X, requires_grad=True)
    for a, mod, idx in ((x, gf, _i(I)), (xt, torch, _t(I))):
        y = (a.gather(1, idx) ** 3).sum()
        (g,) = (gf.grad if mod is gf else torch.autograd.grad)(y, a, create_graph=True)
        (g * g).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), rtol=1e-10)


# -- in place -----------------------------------------------------------------------------------

def test_inplace_methods_match_torch_and_bump_the_version():
    u = np.array([[0, 2, 1], [1, 0, 2]])
    src = RNG.standard_normal((3, 4))
    calls = [  # (method, args built from (index maker, tensor maker), keywords)
        ("scatter_", lambda i, w: (1, i(u), 3.0), {}),
        ("scatter_add_", lambda i, w: (1, i(I), w(S)), {}),
        ("scatter_reduce_", lambda i, w: (1, i(I), w(S), "amax"), {"include_self": False}),
        ("index_add_", lambda i, w: (1, i(V), w(src)), {"alpha": 2}),
        ("index_copy_", lambda i, w: (1, i([3, 0]), w(src[:, :2])), {}),
        ("index_fill_", lambda i, w: (0, i([1]), -1.0), {}),
        ("masked_scatter_", lambda i, w: (w(M), w(src)), {}),
    ]
    for name, args, kw in calls:
        outs = []
        for mk, wrap, version in ((_i, gf.tensor, lambda t: t._ver.v),
                                  (_t, torch.tensor, lambda t: t._version)):
            a = wrap(X.copy())
            before = version(a)
            assert getattr(a, name)(*args(mk, wrap), **kw) is a
            assert version(a) > before, name
            outs.append(a.numpy())
        np.testing.assert_allclose(outs[0], outs[1], err_msg=name)


def test_inplace_on_leaf_refuses_and_on_nonleaf_records():
    leaf = gf.tensor(X, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf"):
        leaf.scatter_add_(1, _i(I), gf.tensor(S))
    s = gf.tensor(S, requires_grad=True)
    y = leaf * 1
    y.scatter_add_(1, _i(I), s)
    (y * y).sum().backward()
    lt, st = torch.tensor(X, requires_grad=True), torch.tensor(S, requires_grad=True)
    yt = lt * 1
    yt.scatter_add_(1, _t(I), st)
    (yt * yt).sum().backward()
    np.testing.assert_allclose(leaf.grad.numpy(), lt.grad.numpy())
    np.testing.assert_allclose(s.grad.numpy(), st.grad.numpy())
    with gf.no_grad():
        leaf.index_fill_(0, _i([0]), 0.0)
    assert (leaf.numpy()[0] == 0).all()


# -- bad input ----------------------------------------------------------------------------------

@pytest.mark.parametrize("call,exc,words", [
    (lambda x: x.gather(1, _i([[4]])), RuntimeError, ["gather", "index 4", "size 4"]),
    (lambda x: x.gather(1, _i([[-1]])), RuntimeError, ["gather", "index -1", "size 4"]),
    (lambda x: x.gather(1, gf.tensor([[0.0]])), RuntimeError, ["gather", "int64", "float"]),
    (lambda x: x.gather(1, _i([0])), RuntimeError, ["gather", "dimensions"]),
    (lambda x: x.gather(1, _i([[0], [1], [0], [0]])), RuntimeError, ["gather", "dimension 0"]),
    (lambda x: x.gather(2, _i([[0]])), IndexError, ["gather", "dim 2"]),
    (lambda x: x.scatter(0, _i([[3]]), 1.0), RuntimeError, ["scatter", "index 3", "size 3"]),
    (lambda x: x.scatter(0, _i([[0]]), gf.ones(1, 1, dtype="float32")), RuntimeError,
     ["scatter", "dtype"]),
    (lambda x: x.scatter_add(1, _i([[0, 1]]), gf.ones(1, 1, dtype="float64")), RuntimeError,
     ["scatter_add", "src"]),
    (lambda x: x.scatter_reduce(0, _i([[0]]), x, "max"), RuntimeError, ["reduce", "'max'"]),
    (lambda x: x.index_select(1, _i([4])), RuntimeError, ["index_select", "index 4", "size 4"]),
    (lambda x: x.index_select(1, _i([[0]])), IndexError, ["index_select", "vector"]),
    (lambda x: x.index_add(0, _i([0]), gf.ones(2, 4, dtype="float64")), RuntimeError,
     ["index_add", "source", "(1, 4)"]),
    (lambda x: x.index_copy(1, _i([4]), gf.ones(3, 1, dtype="float64")), IndexError,
     ["index_copy", "index 4"]),
    (lambda x: x.index_fill(1, _i([-5]), 0.0), IndexError, ["index_fill", "index -5"]),
    (lambda x: x.masked_select(gf.tensor([1, 0, 1, 1])), RuntimeError, ["masked_select",
                                                                         "bool"]),
    (lambda x: x.masked_select(gf.tensor([True, False])), RuntimeError, ["broadcast"]),
    (lambda x: x.masked_scatter(gf.tensor(M), gf.ones(2, dtype="float64")), RuntimeError,
     ["masked_scatter", "2 elements", "9"]),
    (lambda x: x.take(_i([12])), IndexError, ["take", "index 12", "12 elements"]),
    (lambda x: x.take(gf.tensor([0], dtype="int32")), RuntimeError, ["take", "int64"]),
    (lambda x: x.take_along_dim(_i([[9]]), 1), RuntimeError, ["take_along_dim", "index 9"]),
    (lambda x: x.take_along_dim(_i([-1])), RuntimeError, ["take_along_dim", "index -1"]),
])
def test_errors(call, exc, words):
    with pytest.raises(exc) as info:
        call(gf.tensor(X))
    for w in words:
        assert w in str(info.value), (w, str(info.value))


def test_torch_raises_the_same_types():
    x = torch.tensor(X)
    for call, exc in [(lambda: x.gather(1, _t([[4]])), RuntimeError),
                      (lambda: x.index_select(1, _t([[0]])), IndexError),
                      (lambda: x.index_copy(1, _t([4]), torch.ones(3, 1, dtype=x.dtype)),
                       IndexError),
                      (lambda: x.take(_t([12])), IndexError),
                      (lambda: x.gather(2, _t([[0]])), IndexError)]:
        with pytest.raises(exc):
            call()


def test_positional_names_follow_torch():
    import inspect

    expected = {  # torch's documented positional parameters
        "gather": ["input", "dim", "index"], "scatter": ["input", "dim", "index", "src"],
        "scatter_add": ["input", "dim", "index", "src"],
        "scatter_reduce": ["input", "dim", "index", "src", "reduce"],
        "index_select": ["input", "dim", "index"],
        "index_add": ["input", "dim", "index", "source"],
        "index_copy": ["input", "dim", "index", "source"],
        "index_fill": ["input", "dim", "index", "value"], "masked_select": ["input", "mask"],
        "masked_scatter": ["input", "mask", "source"], "nonzero": ["input"],
        "argwhere": ["input"], "take": ["input", "index"],
        "take_along_dim": ["input", "indices", "dim"]}
    for name, params in expected.items():
        sig = inspect.signature(getattr(G, name))
        pos = [p.name for p in sig.parameters.values()
               if p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD]
        assert pos == params, name
