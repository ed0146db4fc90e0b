"""Sorting, order statistics, searching and counting against PyTorch: values, indices, dtypes,
NaN order, named-tuple results, gradients routed to the chosen elements, and errors."""

import numpy as np
import pytest

import gradflow as gf
from gradflow.ops import counting as C
from gradflow.ops import sort as S

torch = pytest.importorskip("torch")

NAN = float("nan")
RNG = np.random.default_rng(1)
X = RNG.standard_normal((4, 5))
XN = X.copy()
XN[1, 2] = XN[0, 0] = XN[0, 3] = NAN
XN[3, :] = NAN
TIES = np.array([[1.0, 2, 2, 1, 3], [3, 3, 1, 1, 0], [0, 0, 0, 0, 0], [5, 4, 4, 5, 1]])


def _same(ours, theirs, rtol=1e-6):
    if isinstance(theirs, tuple):
        assert len(ours) == len(theirs)
        if hasattr(theirs, "_fields"):  # torch.return_types: the same name and fields
            assert type(ours).__name__ == type(theirs).__name__
            assert all(hasattr(theirs, f) for f in ours._fields)
        for p, q in zip(ours, theirs):
            _same(p, q, rtol)
        return
    p, q = ours.numpy(), theirs.detach().numpy()
    assert p.shape == q.shape and str(p.dtype) == str(q.dtype), (p, q)
    np.testing.assert_allclose(p, q, rtol=rtol, equal_nan=True)


def _grad_same(fn_gf, fn_t, x):
    a, t = gf.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    va, vt = fn_gf(a), fn_t(t)
    w = RNG.standard_normal(tuple(vt.shape))
    (va * gf.tensor(w)).sum().backward()
    (vt * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), t.grad.numpy(), rtol=1e-12)


@pytest.mark.parametrize("x", [X, XN, TIES], ids=["distinct", "nan", "ties"])
@pytest.mark.parametrize("dim", [0, 1, -1])
@pytest.mark.parametrize("descending", [False, True])
def test_sort_and_argsort_stable(x, dim, descending):
    _same(gf.tensor(x).sort(dim, descending, stable=True),
          torch.tensor(x).sort(dim=dim, descending=descending, stable=True))
    _same(S.argsort(gf.tensor(x), dim, descending, stable=True),
          torch.argsort(torch.tensor(x), dim=dim, descending=descending, stable=True))


@pytest.mark.parametrize("x", [X, XN, TIES], ids=["distinct", "nan", "ties"])
@pytest.mark.parametrize("dim", [0, 1])
def test_median_nanmedian_and_mode(x, dim):
    for keepdim in (False, True):
        _same(gf.tensor(x).median(dim, keepdim), torch.tensor(x).median(dim, keepdim))
        _same(gf.tensor(x).nanmedian(dim, keepdim), torch.tensor(x).nanmedian(dim, keepdim))
    _same(gf.tensor(x).median(), torch.tensor(x).median())
    _same(S.nanmedian(gf.tensor(x)), torch.nanmedian(torch.tensor(x)))
    if x is not XN:  # PyTorch's index of a NaN mode is its own
        _same(gf.tensor(x).mode(dim), torch.tensor(x).mode(dim))
    _same(gf.tensor(x).msort(), torch.tensor(x).msort())


@pytest.mark.parametrize("dim", [0, 1])
@pytest.mark.parametrize("k", [1, 3])
def test_topk_and_kthvalue(dim, k):
    # distinct values (PyTorch's order among ties depends on its selection algorithm)
    for largest in (True, False):
        _same(gf.tensor(X).topk(k, dim, largest), torch.tensor(X).topk(k, dim, largest))
    _same(gf.tensor(XN[1:3]).topk(2, 1), torch.tensor(XN[1:3]).topk(2, 1))  # one NaN a row
    for keepdim in (False, True):
        _same(gf.tensor(X).kthvalue(k, dim, keepdim), torch.tensor(X).kthvalue(k, dim, keepdim))


def test_scalar_inputs():
    for name in ("sort", "median", "mode"):
        _same(getattr(gf.tensor(3.0), name)(dim=0), getattr(torch.tensor(3.0), name)(dim=0))
    _same(gf.tensor(3.0).topk(1), torch.tensor(3.0).topk(1))
    _same(gf.tensor(3.0).kthvalue(1), torch.tensor(3.0).kthvalue(1))


def test_integer_inputs_keep_their_dtype():
    a = np.array([[3, 1, 2, 1], [0, 5, 5, 2]])
    _same(gf.tensor(a).sort(1, True, stable=True),
          torch.tensor(a).sort(dim=1, descending=True, stable=True))
    _same(gf.tensor(a).median(1), torch.tensor(a).median(1))
    _same(gf.tensor(a).mode(1), torch.tensor(a).mode(1))


def test_gradients_route_to_the_chosen_elements():
    _grad_same(lambda a: a.sort(1, True)[0], lambda t: t.sort(1, True)[0], X)
    _grad_same(lambda a: a.topk(2, 0).values, lambda t: t.topk(2, 0).values, X)
    _grad_same(lambda a: a.kthvalue(2, 1).values, lambda t: t.kthvalue(2, 1).values, X)
    _grad_same(lambda a: a.median(), lambda t: t.median(), X)
    _grad_same(lambda a: a.median(0).values, lambda t: t.median(0).values, X)
    _grad_same(lambda a: a.nanmedian(1).values, lambda t: t.nanmedian(1).values, XN[:3])
    _grad_same(lambda a: a.mode(1).values, lambda t: t.mode(1).values, TIES)
    _grad_same(lambda a: a.msort(), lambda t: t.msort(), X)


def test_indices_have_no_gradient():
    v, i = gf.tensor(X, requires_grad=True).sort()
    assert v.requires_grad and not i.requires_grad and i.dtype == np.int64


@pytest.mark.parametrize("call,words", [
    (lambda x: x.topk(6), ["topk", "k=6", "size 5"]),
    (lambda x: x.kthvalue(0), ["kthvalue", "k=0"]),
    (lambda x: x.kthvalue(6, 1), ["kthvalue", "k=6", "dimension 1"]),
])
def test_k_out_of_range(call, words):
    with pytest.raises(RuntimeError) as info:
        call(gf.tensor(X))
    for w in words:
        assert w in str(info.value)
    with pytest.raises(RuntimeError):
        call(torch.tensor(X))


def test_dim_out_of_range_is_an_index_error():
    for fn in (lambda x: x.sort(2), lambda x: x.median(-3), lambda x: x.mode(5)):
        with pytest.raises(IndexError, match="dim"):
            fn(gf.tensor(X))
        with pytest.raises(IndexError):
            fn(torch.tensor(X))


# -- searching and counting ---------------------------------------------------------------------

SEQ = np.array([1, 3, 5, 5, 7])
VALS = np.array([[0, 5, 6], [8, 1, 5]])


@pytest.mark.parametrize("right", [False, True])
def test_searchsorted_and_bucketize(right):
    side = "right" if right else "left"
    _same(C.searchsorted(gf.tensor(SEQ), gf.tensor(VALS), right=right),
          torch.searchsorted(torch.tensor(SEQ), torch.tensor(VALS), right=right))
    _same(C.searchsorted(gf.tensor(SEQ), gf.tensor(VALS), side=side, out_int32=True),
          torch.searchsorted(torch.tensor(SEQ), torch.tensor(VALS), side=side, out_int32=True))
    rows = np.array([[1, 3, 5], [2, 4, 6]])
    _same(C.searchsorted(gf.tensor(rows), gf.tensor(VALS), right=right),
          torch.searchsorted(torch.tensor(rows), torch.tensor(VALS), right=right))
    _same(C.searchsorted(gf.tensor(SEQ), 5, right=right),
          torch.searchsorted(torch.tensor(SEQ), 5, right=right))
    _same(C.bucketize(gf.tensor(VALS), gf.tensor(SEQ), right=right),
          torch.bucketize(torch.tensor(VALS), torch.tensor(SEQ), right=right))
    seq, sorter = np.array([5, 1, 3, 3]), np.array([1, 2, 3, 0])
    _same(C.searchsorted(gf.tensor(seq), gf.tensor(VALS), right=right, sorter=gf.tensor(sorter)),
          torch.searchsorted(torch.tensor(seq), torch.tensor(VALS), right=right,
                             sorter=torch.tensor(sorter)))
    f = np.array([-np.inf, -1.0, 0.5, 2.0, NAN])
    _same(C.searchsorted(gf.tensor(np.sort(X[0])), gf.tensor(f), right=right),
          torch.searchsorted(torch.tensor(np.sort(X[0])), torch.tensor(f), right=right))


def test_searchsorted_errors():
    with pytest.raises(RuntimeError, match="opposites"):
        C.searchsorted(gf.tensor(SEQ), gf.tensor(VALS), right=True, side="left")
    with pytest.raises(RuntimeError, match="leading dims"):
        C.searchsorted(gf.tensor(np.ones((2, 3))), gf.tensor(np.ones(3)))
    with pytest.raises(RuntimeError, match="1-d"):
        C.bucketize(gf.tensor(VALS), gf.tensor(np.ones((2, 3))))


U = np.array([[3, 1, 2], [1, 3, 3], [3, 1, 2]])


@pytest.mark.parametrize("dim", [None, 0, 1])
@pytest.mark.parametrize("inverse,counts", [(False, False), (True, False), (False, True),
                                            (True, True)])
def test_unique_and_unique_consecutive(dim, inverse, counts):
    kw = {"return_inverse": inverse, "return_counts": counts, "dim": dim}
    _same(C.unique(gf.tensor(U), **kw), torch.unique(torch.tensor(U), **kw))
    _same(gf.tensor(U).unique_consecutive(**kw), torch.tensor(U).unique_consecutive(**kw))


def test_unique_keeps_nans_apart():
    a = np.array([3.0, NAN, 1, NAN, 1])
    _same(C.unique(gf.tensor(a), return_counts=True),
          torch.unique(torch.tensor(a), return_counts=True))


F32 = RNG.standard_normal(500).astype(np.float32)


@pytest.mark.parametrize("bins,lo,hi", [(10, 0, 0), (7, -1, 1), (100, 0, 0), (3, 0.5, 0.5)])
def test_histc(bins, lo, hi):
    _same(C.histc(gf.tensor(F32), bins, lo, hi), torch.histc(torch.tensor(F32), bins, lo, hi))
    _same(gf.tensor([0.0, 1, 2, 3, 4]).histc(4), torch.tensor([0.0, 1, 2, 3, 4]).histc(4))
    _same(gf.tensor([1.0, 1]).histc(4), torch.tensor([1.0, 1]).histc(4))


@pytest.mark.parametrize("bins", [4, 13])
@pytest.mark.parametrize("rng", [None, (-1.0, 2.0)])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("density", [False, True])
def test_histogram(bins, rng, weighted, density):
    w = RNG.random(500).astype(np.float32) if weighted else None
    ours = C.histogram(gf.tensor(F32), bins, range=rng, density=density,
                       weight=None if w is None else gf.tensor(w))
    theirs = torch.histogram(torch.tensor(F32), bins, range=rng, density=density,
                             weight=None if w is None else torch.tensor(w))
    _same(ours, theirs, rtol=1e-5)  # weights: float32 sums in another order


def test_histogram_edges_and_constant_input():
    edges = np.array([-1.0, 0, 0.5, 3], dtype=np.float32)
    _same(gf.tensor(F32).histogram(gf.tensor(edges)),
          torch.tensor(F32).histogram(torch.tensor(edges)))
    _same(C.histogram(gf.tensor([1.0, 1]), 4), torch.histogram(torch.tensor([1.0, 1]), 4))


@pytest.mark.parametrize("wdtype", [None, np.float32, np.float64, np.int64])
def test_bincount(wdtype):
    i = np.array([1, 3, 3, 0, 7])
    w = None if wdtype is None else np.arange(5).astype(wdtype)
    for minlength in (0, 10):
        _same(gf.tensor(i).bincount(None if w is None else gf.tensor(w), minlength),
              torch.tensor(i).bincount(None if w is None else torch.tensor(w), minlength))
    _same(C.bincount(gf.tensor(np.zeros(0, dtype=np.int64))),
          torch.bincount(torch.zeros(0, dtype=torch.int64)))


def test_counting_errors_are_torchs_types():
    for call, exc in [(lambda m: m.bincount(m.tensor([-1])), RuntimeError),
                      (lambda m: m.bincount(m.tensor([[1]])), RuntimeError),
                      (lambda m: m.bincount(m.tensor([1.0])), NotImplementedError),
                      (lambda m: m.histc(m.tensor([1, 2])), NotImplementedError),
                      (lambda m: m.histc(m.tensor([1.0, 2]), 4, 3, 1), RuntimeError)]:
        with pytest.raises(exc):
            call(torch)
        mod = type("M", (), {"tensor": staticmethod(gf.tensor), "bincount": C.bincount,
                             "histc": C.histc})
        with pytest.raises(exc) as info:
            call(mod)
        assert "bincount" in str(info.value) or "histc" in str(info.value)


def test_positional_names_follow_torch():
    import inspect

    expected = {
        S.sort: ["input", "dim", "descending"], S.argsort: ["input", "dim", "descending"],
        S.topk: ["input", "k", "dim", "largest", "sorted"],
        S.kthvalue: ["input", "k", "dim", "keepdim"], S.median: ["input", "dim", "keepdim"],
        S.nanmedian: ["input", "dim", "keepdim"], S.mode: ["input", "dim", "keepdim"],
        S.msort: ["input"], C.searchsorted: ["sorted_sequence", "input"],
        C.bucketize: ["input", "boundaries"],
        C.unique: ["input", "sorted", "return_inverse", "return_counts", "dim"],
        C.unique_consecutive: ["input", "return_inverse", "return_counts", "dim"],
        C.histc: ["input", "bins", "min", "max"], C.histogram: ["input", "bins"],
        C.bincount: ["input", "weights", "minlength"]}
    for fn, params in expected.items():
        pos = [p.name for p in inspect.signature(fn).parameters.values()
               if p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD]
        assert pos == params, fn.__name__
