"""Distances against PyTorch in float64: normalize, cosine_similarity, pairwise_distance, pdist
and cdist (every p, both cdist paths, broadcasting), values, gradients and Hessian-vector
products, zero distances and zero vectors (finite gradients as PyTorch's), the modules, the
signatures and the errors."""

from __future__ import annotations

import inspect
import math
from functools import partial

import numpy as np
import pytest
from torch_compare import TOL, compare_with_torch

import gradflow as gf
from gradflow.nn.distance import CosineSimilarity, PairwiseDistance
from gradflow.ops import distance as D

torch = pytest.importorskip("torch")
TF = torch.nn.functional
PS = [2.0, 1.0, 3.0, 1.5, 0.5, math.inf]


# torch's second order is NaN at a zero vector (not compared there); ours is finite
_compare = partial(compare_with_torch, hvp_tol={"rtol": 1e-8, "atol": 1e-10})


@pytest.mark.parametrize("p", PS, ids=str)
def test_cdist_every_p_with_zero_distances(p, rng):
    a, b = rng.standard_normal((2, 4, 3)), rng.standard_normal((5, 3))
    b[2] = a[0, 1]  # a zero distance: gradient 0, not NaN
    # torch's cdist backward is not differentiable (the JAX cases check our second order)
    _compare(lambda x, y: D.cdist(x, y, p), lambda x, y: torch.cdist(x, y, p), [a, b],
             second_order=False)


@pytest.mark.parametrize("mode", ["use_mm_for_euclid_dist_if_necessary", "use_mm_for_euclid_dist",
                                  "donot_use_mm_for_euclid_dist"])
def test_cdist_matrix_product_path(mode, rng):
    a, b = rng.standard_normal((30, 4)), rng.standard_normal((3, 26, 4))
    b[1, 3] = a[7]
    _compare(lambda x, y: D.cdist(x, y, compute_mode=mode),
             lambda x, y: torch.cdist(x, y, compute_mode=mode), [a, b], second_order=False)


def test_cdist_p0_counts_and_float32(rng):
    a, b = rng.standard_normal((3, 2)), rng.standard_normal((4, 2))
    a[0, 0] = b[1, 0]
    np.testing.assert_array_equal(D.cdist(gf.tensor(a), gf.tensor(b), 0.0).numpy(),
                                  torch.cdist(torch.tensor(a).float(), torch.tensor(b).float(),
                                              0.0).numpy())
    out = D.cdist(gf.tensor(a, dtype="float32"), gf.tensor(b, dtype="float32"))
    assert out.dtype == gf.float32


@pytest.mark.parametrize("p", PS, ids=str)
def test_pdist(p, rng):
    x = rng.standard_normal((5, 3))
    x[3] = x[1]
    _compare(lambda a: D.pdist(a, p), lambda a: TF.pdist(a, p), [x], second_order=False)
    assert D.pdist(gf.zeros(1, 3)).shape == TF.pdist(torch.zeros(1, 3)).shape == (0,)


@pytest.mark.parametrize("p", PS, ids=str)
@pytest.mark.parametrize("keepdim", [False, True])
def test_pairwise_distance(p, keepdim, rng):
    a, b = rng.standard_normal((4, 3)), rng.standard_normal((1, 3))
    # torch's double backward for a fractional p imports torch._dynamo (~7 s): the JAX case
    # dist_pdist_p1_5 checks our second order there
    _compare(lambda x, y: D.pairwise_distance(x, y, p, 1e-6, keepdim),
             lambda x, y: TF.pairwise_distance(x, y, p, 1e-6, keepdim), [a, b],
             second_order=p == int(p) if p != math.inf else True)
    for s1, s2 in [((3,), (3,)), ((), ()), ((2, 1, 3), (4, 3))]:
        ours = D.pairwise_distance(gf.ones(*s1), gf.zeros(*s2), p, keepdim=keepdim)
        assert ours.shape == TF.pairwise_distance(torch.ones(s1), torch.zeros(s2), p,
                                                  keepdim=keepdim).shape


@pytest.mark.parametrize("p,dim", [(2.0, 1), (1.0, 0), (3.0, -1), (math.inf, 1), (0.5, 1)])
def test_normalize_with_a_zero_vector(p, dim, rng):
    x = rng.standard_normal((4, 3))
    x[:, 1] = 0
    x[2] = 0
    _compare(lambda a: D.normalize(a, p, dim), lambda a: TF.normalize(a, p, dim), [x],
             second_order=p == 2.0)
    out = gf.zeros(4, 3, dtype="float64")
    assert D.normalize(gf.tensor(x, dtype="float64"), p, dim, out=out) is out
    np.testing.assert_allclose(out.numpy(), TF.normalize(torch.tensor(x), p, dim).numpy(), **TOL)


@pytest.mark.parametrize("eps", [1e-8, 1e-4])
def test_cosine_similarity_zero_and_small_vectors(eps):
    """PyTorch clamps each norm at eps in place under no_grad: the value uses max(‖x‖, eps)
    while the gradient sees the unclamped norm; a zero vector gives 0 with a finite gradient."""
    x1 = np.array([[0.0, 0, 0], [1e-5, 2e-5, 0], [1.0, 2, 3], [1e5, -3e5, 2e5]])
    x2 = np.array([[1.0, 2, 3], [1.0, 1, 1], [0.0, 0, 0], [2.0, 1, -1]])
    _compare(lambda a, b: D.cosine_similarity(a, b, 1, eps),
             lambda a, b: TF.cosine_similarity(a, b, 1, eps), [x1, x2], second_order=False)


def test_cosine_similarity_broadcasts(rng):
    a, b = rng.standard_normal((2, 1, 4)), rng.standard_normal((3, 4))
    _compare(lambda x, y: D.cosine_similarity(x, y, -1),
             lambda x, y: TF.cosine_similarity(x, y, -1), [a, b])
    _compare(lambda x, y: D.cosine_similarity(x, y, 0),
             lambda x, y: TF.cosine_similarity(x, y, 0), [a[0, 0], b[0]])
    assert D.cosine_similarity(gf.tensor(2.0), gf.tensor(-3.0), 0).item() == \
        TF.cosine_similarity(torch.tensor(2.0), torch.tensor(-3.0), 0).item()


def test_modules(rng):
    a, b = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    _compare(CosineSimilarity(0, 1e-6), torch.nn.CosineSimilarity(0, 1e-6), [a, b])
    _compare(PairwiseDistance(1.0, 1e-3, True), torch.nn.PairwiseDistance(1.0, 1e-3, True),
             [a, b])
    assert PairwiseDistance(3).norm == torch.nn.PairwiseDistance(3).norm == 3
    assert repr(CosineSimilarity()) == repr(torch.nn.CosineSimilarity()) == "CosineSimilarity()"
    assert repr(PairwiseDistance()) == "PairwiseDistance()"
    assert repr(PairwiseDistance(p=1, keepdim=True)) == "PairwiseDistance(p=1, keepdim=True)"


@pytest.mark.parametrize("ours,theirs", [
    (D.normalize, TF.normalize), (D.cosine_similarity, TF.cosine_similarity),
    (D.pairwise_distance, TF.pairwise_distance), (D.pdist, TF.pdist), (D.cdist, torch.cdist),
    (CosineSimilarity, torch.nn.CosineSimilarity), (PairwiseDistance, torch.nn.PairwiseDistance),
], ids=lambda f: getattr(f, "__name__", ""))
def test_signatures_match_torch(ours, theirs):
    def names(f):
        doc = (f.__doc__ or "").strip().splitlines()[0] if f in (TF.cosine_similarity,
                                                              TF.pairwise_distance,
                                                              TF.pdist) else ""
        if doc:  # C functions: the signature is the docstring's first line
            return [a.split("=")[0].strip() for a in doc[doc.index("(") + 1:
                                                       doc.index(")")].split(",")]
        return list(inspect.signature(f).parameters)

    assert names(ours) == names(theirs)


ERRORS = [
    ("pdist 1-D", lambda m: m.pdist(m.ones(3)), RuntimeError, r"pdist.*2D.*got: 1D"),
    ("pdist p<0", lambda m: m.pdist(m.ones(3, 2), -1), RuntimeError, "non-negative p"),
    ("cdist columns", lambda m: m.cdist(m.ones(3, 2), m.ones(3, 4)), RuntimeError,
     r"cdist: X1 and X2 must have the same number of columns. X1: 2 X2: 4"),
    ("cdist 1-D", lambda m: m.cdist(m.ones(3), m.ones(3, 3)), RuntimeError,
     r"at least 2D tensors, X1 got: 1D \(shape \(3,\)\)"),
    ("cdist batch", lambda m: m.cdist(m.ones(2, 3, 2), m.ones(3, 3, 2)), RuntimeError,
     r"batch dims of X1 \(2, 3, 2\) and X2 \(3, 3, 2\)"),
    ("cdist p<0", lambda m: m.cdist(m.ones(3, 2), m.ones(3, 2), -1.0), RuntimeError,
     "non-negative p values, got p=-1.0"),
    ("cdist mode", lambda m: m.cdist(m.ones(3, 2), m.ones(3, 2), compute_mode="x"), ValueError,
     "x is not a valid value for compute_mode"),
    ("cdist int", lambda m: m.cdist(m.ones(3, 2, dtype=m.int64), m.ones(3, 2)), RuntimeError,
     "floating-point dtypes, X1 got: int64"),
    ("cosine shapes", lambda m: m.cosine_similarity(m.ones(3, 2), m.ones(3)), RuntimeError,
     r"x1 of shape \(3, 2\) and x2 of shape \(3,\) cannot be broadcast"),
    ("cosine dim", lambda m: m.cosine_similarity(m.ones(3, 2), m.ones(3, 2), dim=2), IndexError,
     "cosine_similarity: dim 2 is out of range"),
    ("cosine ints", lambda m: m.cosine_similarity(m.ones(3, dtype=m.int64),
                                                  m.ones(3, dtype=m.int64), 0), RuntimeError,
     "common dtype to be floating point"),
    ("normalize int", lambda m: m.normalize(m.ones(3, 2, dtype=m.int64)), RuntimeError,
     "normalize: expected a floating-point tensor"),
    ("normalize dim", lambda m: m.normalize(m.ones(3)), IndexError,
     "normalize: dim 1 is out of range"),
    ("pairwise shapes", lambda m: m.pairwise_distance(m.ones(3, 2), m.ones(3)), RuntimeError,
     r"pairwise_distance: x1 of shape \(3, 2\)"),
]


class _Torch:
    ones, int64, cdist = torch.ones, torch.int64, torch.cdist
    pdist, cosine_similarity = TF.pdist, TF.cosine_similarity
    normalize, pairwise_distance = TF.normalize, TF.pairwise_distance


class _Ours:
    ones, int64, cdist, pdist = gf.ones, gf.int64, D.cdist, D.pdist
    cosine_similarity, normalize, pairwise_distance = (D.cosine_similarity, D.normalize,
                                                       D.pairwise_distance)


@pytest.mark.parametrize("name,call,exc,match", ERRORS, ids=[e[0] for e in ERRORS])
def test_errors_as_torch(name, call, exc, match):
    with pytest.raises(exc):
        call(_Torch)
    with pytest.raises(exc, match=match):
        call(_Ours)


def test_none_is_a_type_error_naming_the_argument():
    with pytest.raises(TypeError, match=r"cdist\(\): argument 'x2' must be a Tensor"):
        D.cdist(gf.ones(2, 2), None)
    with pytest.raises(TypeError, match=r"cosine_similarity\(\): argument 'x1' must be a Tensor"):
        D.cosine_similarity(None, gf.ones(2))
