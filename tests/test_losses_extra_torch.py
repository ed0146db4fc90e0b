"""The extra losses (gradflow.ops.loss_extra) and their modules against PyTorch in float64:
values, gradients and Hessian-vector products for every reduction and option, extreme values,
the modules' arguments, repr and state, the legacy size_average/reduce, the signatures, and
the errors (PyTorch's exception types, messages naming the loss and the shapes)."""

from __future__ import annotations

import inspect
import re
import warnings
from functools import partial

import numpy as np
import pytest
from torch_compare import compare_with_torch

import gradflow as gf
from gradflow.nn import loss as NL
from gradflow.ops import loss_extra as LE

torch = pytest.importorskip("torch")
TF = torch.nn.functional
REDUCTIONS = ["mean", "sum", "none"]


_compare = partial(compare_with_torch, quiet=True, hvp_tol={"rtol": 1e-8, "atol": 1e-9})


def _probs(rng, shape):
    return rng.dirichlet(np.ones(shape[-1]), shape[:-1])


# --- divergences and likelihoods -----------------------------------------------------------
@pytest.mark.parametrize("reduction", REDUCTIONS + ["batchmean"])
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div(reduction, log_target, rng):
    x = np.log(_probs(rng, (4, 5)))
    t = _probs(rng, (4, 5))
    t[0, 1] = 0.0  # 0 log 0 = 0 (torch's target gradient there is NaN: not compared)
    t = np.log(t + 1e-3) if log_target else t
    mask = None if log_target else [None, t != 0]
    _compare(lambda a, b: LE.kl_div(a, b, reduction=reduction, log_target=log_target),
             lambda a, b: TF.kl_div(a, b, reduction=reduction, log_target=log_target), [x, t],
             grad_mask=mask)


def test_kl_div_mean_warns_batchmean_of_0d_is_the_sum():
    with pytest.warns(UserWarning, match="'batchmean' divides only by the batch size"):
        LE.kl_div(gf.zeros(2), gf.ones(2))
    out = LE.kl_div(gf.tensor(0.5), gf.tensor(0.25), reduction="batchmean")
    np.testing.assert_allclose(out.item(), TF.kl_div(torch.tensor(0.5), torch.tensor(0.25),
                                                     reduction="batchmean").item(), rtol=1e-6)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("full", [False, True])
@pytest.mark.parametrize("var_shape", [(4, 3), (4,), (4, 1), (1, 3)], ids=str)
def test_gaussian_nll_loss(reduction, full, var_shape, rng):
    x, t = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    var = rng.uniform(0.05, 2.0, var_shape)
    var.reshape(-1)[0] = 1e-9  # below eps: clamped, the gradient passes through as torch's
    diff = [x, t, var]

    def ours(a, b, v):
        return LE.gaussian_nll_loss(a, b, v, full, 1e-6, reduction)

    def theirs(a, b, v):
        return TF.gaussian_nll_loss(a, b, v, full, 1e-6, reduction)

    rng2 = np.random.default_rng(1)
    g_in = [gf.tensor(a, dtype="float64", requires_grad=True) for a in diff]
    t_in = [torch.tensor(a, requires_grad=True) for a in diff]
    lg, lt = ours(*g_in), theirs(*t_in)
    np.testing.assert_allclose(lg.numpy(), lt.detach().numpy(), rtol=1e-9)
    v = rng2.standard_normal(tuple(lt.shape))
    gg = gf.grad((lg * gf.tensor(v)).sum(), g_in)
    gt = torch.autograd.grad((lt * torch.tensor(v)).sum(), t_in)
    for a, b in zip(gg, gt):  # d/dvar is ~1e12 at the clamped entry: relative tolerance
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-9, atol=1e-9)
    _compare(lambda a, b: LE.gaussian_nll_loss(a, b, 0.7, full, reduction=reduction),
             lambda a, b: TF.gaussian_nll_loss(a, b, 0.7, full, reduction=reduction), [x, t])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("log_input", [True, False])
@pytest.mark.parametrize("full", [False, True])
def test_poisson_nll_loss(reduction, log_input, full, rng):
    counts = rng.poisson(3.0, (4, 5)).astype(float)
    counts[0, :3] = [0.0, 1.0, 1.5]
    x = rng.standard_normal((4, 5)) if log_input else rng.uniform(0.05, 5.0, (4, 5))
    # torch's target gradient is NaN where t <= 1 with full=True (0 · log 0): not compared
    mask = [None, counts > 1] if full else None
    _compare(lambda a, t: LE.poisson_nll_loss(a, t, log_input, full, reduction=reduction),
             lambda a, t: TF.poisson_nll_loss(a, t, log_input, full, reduction=reduction),
             [x, counts], grad_mask=mask)


def test_poisson_log_input_big_values_as_torch():
    x = np.array([50.0, 88.0, 100.0, -100.0])
    t = np.array([3.0, 2.0, 0.0, 5.0])
    for dtype, tdtype in [("float64", torch.float64), ("float32", torch.float32)]:
        with np.errstate(over="ignore"):
            ours = LE.poisson_nll_loss(gf.tensor(x, dtype=dtype), gf.tensor(t, dtype=dtype),
                                       reduction="none").numpy()
        theirs = TF.poisson_nll_loss(torch.tensor(x, dtype=tdtype), torch.tensor(t, dtype=tdtype),
                                     reduction="none").numpy()
        np.testing.assert_allclose(ours, theirs, rtol=1e-6)  # float32 e^100 is inf in both


# --- margins and ranking -------------------------------------------------------------------
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("margin", [0.0, 0.5, 100.0])
def test_margin_ranking_loss(reduction, margin, rng):
    a, b = rng.standard_normal((6, 2)), rng.standard_normal((6, 1))
    y = np.sign(rng.standard_normal((6, 2)))
    _compare(lambda x1, x2, t: LE.margin_ranking_loss(x1, x2, t, margin, reduction=reduction),
             lambda x1, x2, t: TF.margin_ranking_loss(x1, x2, t, margin, reduction=reduction),
             [a, b], [y])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("margin", [1.0, 0.3, 50.0])
def test_hinge_embedding_loss(reduction, margin, rng):
    x = 2 * rng.standard_normal((5, 4))
    y = np.sign(rng.standard_normal((5, 4)))
    y[0, 0] = 0.0  # neither 1 nor -1: both terms, as torch
    _compare(lambda a, t: LE.hinge_embedding_loss(a, t, margin, reduction=reduction),
             lambda a, t: TF.hinge_embedding_loss(a, t, margin, reduction=reduction), [x], [y])


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_soft_margin_loss(reduction, rng):
    x = 2 * rng.standard_normal((5, 4))
    y = np.sign(rng.standard_normal((5, 4)))
    _compare(lambda a, t: LE.soft_margin_loss(a, t, reduction=reduction),
             lambda a, t: TF.soft_margin_loss(a, t, reduction=reduction), [x], [y])


def test_soft_margin_loss_is_finite_where_torch_overflows():
    x = gf.tensor([1000.0, -1000.0, 800.0], dtype="float64", requires_grad=True)
    y = gf.tensor([-1.0, 1.0, 1.0], dtype="float64")
    loss = LE.soft_margin_loss(x, y, reduction="none")
    np.testing.assert_allclose(loss.numpy(), [1000.0, 1000.0, 0.0], atol=1e-12)
    loss.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [1.0, -1.0, 0.0], atol=1e-12)
    # torch computes log1p(exp(-y x)): inf (and a NaN gradient) for the first two
    assert np.isinf(TF.soft_margin_loss(torch.tensor([1000.0]), torch.tensor([-1.0])).item())


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("use_w", [False, True])
@pytest.mark.parametrize("shape", [(4, 5), (2, 3, 5), (5,)], ids=str)
def test_multilabel_soft_margin_loss(reduction, use_w, shape, rng):
    x = 3 * rng.standard_normal(shape)
    y = (rng.standard_normal(shape) > 0) * 1.0
    diff = [x, y] + ([rng.uniform(0.1, 2.0, shape[-1])] if use_w else [])
    _compare(lambda a, t, w=None: LE.multilabel_soft_margin_loss(a, t, w, reduction=reduction),
             lambda a, t, w=None: TF.multilabel_soft_margin_loss(a, t, w, reduction=reduction),
             diff)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("p", [1, 2])
@pytest.mark.parametrize("margin", [1.0, 0.2, 100.0])
@pytest.mark.parametrize("use_w", [False, True])
def test_multi_margin_loss(reduction, p, margin, use_w, rng):
    x = 2 * rng.standard_normal((6, 4))
    t = rng.integers(0, 4, 6)
    w = rng.uniform(0.1, 2.0, 4) if use_w else None
    _compare(lambda a, y: LE.multi_margin_loss(a, y, p, margin, None if w is None else
                                               gf.tensor(w, dtype="float64"),
                                               reduction=reduction),
             lambda a, y: TF.multi_margin_loss(a, y, p, margin, None if w is None else
                                               torch.tensor(w), reduction=reduction),
             [x], [t], second_order=False)  # torch's backward is not differentiable


def test_multi_margin_loss_unbatched_and_empty(rng):
    for reduction in REDUCTIONS:
        _compare(lambda a, y, r=reduction: LE.multi_margin_loss(a, y, 2, reduction=r),
                 lambda a, y, r=reduction: TF.multi_margin_loss(a, y, 2, reduction=r),
                 [rng.standard_normal(5)], [np.array(3)], second_order=False)
    ours = LE.multi_margin_loss(gf.zeros(0, 3), gf.zeros(0, dtype="int64"), reduction="none")
    assert ours.shape == TF.multi_margin_loss(torch.zeros(0, 3), torch.zeros(0).long(),
                                              reduction="none").shape == (0,)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_multilabel_margin_loss(reduction, rng):
    x = 2 * rng.standard_normal((4, 5))
    # target classes up to the first -1; a repeated class counts twice, as torch's loop
    t = np.array([[3, 0, -1, 1, 2], [1, 2, 3, 4, 0], [-1, 1, 1, 1, 1], [4, 4, -1, 0, 0]])
    _compare(lambda a, y: LE.multilabel_margin_loss(a, y, reduction=reduction),
             lambda a, y: TF.multilabel_margin_loss(a, y, reduction=reduction), [x], [t],
             second_order=False)  # torch's backward is not differentiable
    _compare(lambda a, y: LE.multilabel_margin_loss(a, y, reduction=reduction),
             lambda a, y: TF.multilabel_margin_loss(a, y, reduction=reduction), [x[0]], [t[0]],
             second_order=False)


# --- embeddings ----------------------------------------------------------------------------
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("margin", [0.0, 0.4, -0.5])
def test_cosine_embedding_loss(reduction, margin, rng):
    a, b = rng.standard_normal((5, 3)), rng.standard_normal((5, 3))
    a[0] = 0.0  # a zero vector: cos = 0 through torch's ε = 1e-12
    y = np.array([1.0, -1.0, 1.0, -1.0, -1.0])
    _compare(lambda x1, x2, t: LE.cosine_embedding_loss(x1, x2, t, margin, reduction=reduction),
             lambda x1, x2, t: TF.cosine_embedding_loss(x1, x2, t, margin, reduction=reduction),
             [a, b], [y], grad_tol={"rtol": 1e-8, "atol": 1e-11})  # gradients ~1e5: zero row
    _compare(lambda x1, x2, t: LE.cosine_embedding_loss(x1, x2, t, margin, reduction=reduction),
             lambda x1, x2, t: TF.cosine_embedding_loss(x1, x2, t, margin, reduction=reduction),
             [a[1], b[1]], [np.array(-1.0)])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("p,swap", [(2.0, False), (1.0, True), (3.0, False), (2.0, True)])
def test_triplet_margin_loss(reduction, p, swap, rng):
    a, pos, neg = (rng.standard_normal((6, 3)) for _ in range(3))
    _compare(lambda x, y, z: LE.triplet_margin_loss(x, y, z, 1.5, p, 1e-6, swap,
                                                    reduction=reduction),
             lambda x, y, z: TF.triplet_margin_loss(x, y, z, 1.5, p, 1e-6, swap,
                                                    reduction=reduction), [a, pos, neg],
             second_order=p != 1.0)  # torch's p=1 double backward takes seconds (Hessian 0;
    # the JAX case lossx_triplet_p1_swap checks ours)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_triplet_margin_with_distance_loss(reduction, rng):
    from gradflow.ops.distance import cosine_similarity

    a, pos, neg = (rng.standard_normal((6, 3)) for _ in range(3))
    _compare(lambda x, y, z: LE.triplet_margin_with_distance_loss(
        x, y, z, distance_function=lambda u, v: 1 - cosine_similarity(u, v), margin=0.3,
        swap=True, reduction=reduction),
        lambda x, y, z: TF.triplet_margin_with_distance_loss(
        x, y, z, distance_function=lambda u, v: 1 - TF.cosine_similarity(u, v), margin=0.3,
        swap=True, reduction=reduction), [a, pos, neg])
    _compare(lambda x, y, z: LE.triplet_margin_with_distance_loss(x, y, z, reduction=reduction),
             lambda x, y, z: TF.triplet_margin_with_distance_loss(x, y, z, reduction=reduction),
             [a, pos, neg])


# --- modules ---------------------------------------------------------------------------------
def _module_pairs(rng):
    w = rng.uniform(0.5, 2.0, 4)
    return [
        (NL.KLDivLoss(reduction="batchmean", log_target=True),
         torch.nn.KLDivLoss(reduction="batchmean", log_target=True), 2),
        (NL.GaussianNLLLoss(full=True, eps=1e-3), torch.nn.GaussianNLLLoss(full=True, eps=1e-3),
         "var"),
        (NL.PoissonNLLLoss(False, True, eps=1e-6, reduction="sum"),
         torch.nn.PoissonNLLLoss(False, True, eps=1e-6, reduction="sum"), "pos"),
        (NL.MarginRankingLoss(0.3), torch.nn.MarginRankingLoss(0.3), "rank"),
        (NL.HingeEmbeddingLoss(0.5, reduction="none"),
         torch.nn.HingeEmbeddingLoss(0.5, reduction="none"), "sign"),
        (NL.CosineEmbeddingLoss(0.1), torch.nn.CosineEmbeddingLoss(0.1), "pair"),
        (NL.SoftMarginLoss(), torch.nn.SoftMarginLoss(), "sign"),
        (NL.MultiLabelMarginLoss(), torch.nn.MultiLabelMarginLoss(), "labels"),
        (NL.MultiLabelSoftMarginLoss(gf.tensor(w, dtype="float64")),
         torch.nn.MultiLabelSoftMarginLoss(torch.tensor(w)), "bits"),
        (NL.MultiMarginLoss(2, 0.5, gf.tensor(w, dtype="float64")),
         torch.nn.MultiMarginLoss(2, 0.5, torch.tensor(w)), "class"),
        (NL.TripletMarginLoss(0.5, 3.0, swap=True), torch.nn.TripletMarginLoss(0.5, 3.0,
                                                                               swap=True), 3),
        (NL.TripletMarginWithDistanceLoss(margin=0.5),
         torch.nn.TripletMarginWithDistanceLoss(margin=0.5), 3),
    ]


def test_modules_match_torch(rng):
    x, z = rng.standard_normal((6, 4)), rng.standard_normal((6, 4))
    for ours, theirs, kind in _module_pairs(rng):
        if kind in ("labels", "class"):  # torch's backward is not differentiable
            y = np.tile(np.array([2, 0, -1, 1]), (6, 1)) if kind == "labels" else \
                rng.integers(0, 4, 6)
            _compare(ours, theirs, [x], [y], second_order=False)
        elif kind == 2:
            _compare(ours, theirs, [np.log(_probs(rng, (6, 4))), np.log(_probs(rng, (6, 4)))])
        elif kind == 3:
            _compare(ours, theirs, [x, z, rng.standard_normal((6, 4))])
        elif kind == "var":
            _compare(ours, theirs, [x, z, rng.uniform(0.1, 2, (6, 1))])
        elif kind == "pos":
            _compare(ours, theirs, [rng.uniform(0.1, 3, (6, 4))], [rng.poisson(2, (6, 4)) * 1.0])
        elif kind == "rank":
            _compare(ours, theirs, [x[:, 0], z[:, 0]], [np.sign(x[:, 1])])
        elif kind == "pair":
            _compare(ours, theirs, [x, z], [np.sign(x[:, 1])])
        elif kind == "sign":
            _compare(ours, theirs, [x], [np.sign(z)])
        else:
            _compare(ours, theirs, [x], [(z > 0) * 1.0])


def test_module_state_and_repr():
    assert list(NL.MultiMarginLoss(weight=gf.ones(3)).state_dict()) == \
        list(torch.nn.MultiMarginLoss(weight=torch.ones(3)).state_dict()) == ["weight"]
    assert list(NL.MultiLabelSoftMarginLoss(gf.ones(3)).state_dict()) == ["weight"]
    assert list(NL.MultiMarginLoss().state_dict()) == []
    for name in ("KLDivLoss", "MarginRankingLoss", "MultiMarginLoss", "SoftMarginLoss",
                 "CosineEmbeddingLoss", "GaussianNLLLoss", "PoissonNLLLoss", "TripletMarginLoss",
                 "HingeEmbeddingLoss", "MultiLabelMarginLoss", "MultiLabelSoftMarginLoss"):
        assert repr(getattr(NL, name)()) == repr(getattr(torch.nn, name)()) == f"{name}()"
    ours = repr(NL.TripletMarginWithDistanceLoss())
    theirs = repr(torch.nn.TripletMarginWithDistanceLoss())
    assert ours.splitlines()[:3] == theirs.splitlines()[:3]
    assert repr(NL.KLDivLoss(reduction="batchmean")) == "KLDivLoss(reduction='batchmean')"
    assert repr(NL.MultiMarginLoss(p=2, margin=0.5)) == "MultiMarginLoss(p=2, margin=0.5)"
    assert repr(NL.TripletMarginLoss(swap=True)) == "TripletMarginLoss(swap=True)"
    m = NL.PoissonNLLLoss(log_input=False, eps=1e-3)
    assert (m.log_input, m.full, m.eps, m.reduction) == (False, False, 1e-3, "mean")
    assert NL.GaussianNLLLoss().eps == torch.nn.GaussianNLLLoss().eps == 1e-6


def test_module_legacy_arguments():
    for name in ("KLDivLoss", "SoftMarginLoss", "MultiLabelMarginLoss"):
        with pytest.warns(UserWarning, match="reduction='sum'"):
            assert getattr(NL, name)(size_average=False).reduction == "sum"
    with pytest.warns(UserWarning, match="reduction='none'"):
        assert NL.MarginRankingLoss(0.1, reduce=False).reduction == "none"
    with pytest.warns(UserWarning, match="reduction='sum'"):
        assert NL.MultiMarginLoss(1, 1.0, None, False).reduction == "sum"
    with pytest.warns(UserWarning, match="reduction='none'"):
        assert NL.PoissonNLLLoss(True, False, None, 1e-8, False).reduction == "none"
    with pytest.warns(UserWarning, match="reduction='sum'"):
        assert NL.TripletMarginLoss(1.0, 2.0, 1e-6, False, False).reduction == "sum"
    x, y = gf.ones(3), gf.tensor([1.0, -1.0, 1.0])
    with pytest.warns(UserWarning, match="soft_margin_loss: size_average and reduce"):
        out = LE.soft_margin_loss(x, y, False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = TF.soft_margin_loss(torch.ones(3), torch.tensor([1.0, -1, 1]), False)
    np.testing.assert_allclose(out.item(), theirs.item(), rtol=1e-6)


def test_module_option_errors():
    with pytest.raises(ValueError, match="MultiMarginLoss: only p == 1 and p == 2"):
        NL.MultiMarginLoss(p=3)
    with pytest.raises(ValueError, match="expected weight to be None or 1D tensor, got 2D"):
        NL.MultiMarginLoss(weight=gf.ones(2, 2))
    for cls in ("TripletMarginLoss", "TripletMarginWithDistanceLoss"):
        with pytest.raises(ValueError):
            getattr(torch.nn, cls)(margin=0.0)
        with pytest.raises(ValueError, match=f"{cls}: expected margin to be greater than 0"):
            getattr(NL, cls)(margin=0.0)
    with pytest.raises(ValueError, match="KLDivLoss: reduction must be one of"):
        NL.KLDivLoss(reduction="avg")


FUNCS = ["kl_div", "margin_ranking_loss", "multi_margin_loss", "soft_margin_loss",
         "cosine_embedding_loss", "gaussian_nll_loss", "poisson_nll_loss", "triplet_margin_loss",
         "triplet_margin_with_distance_loss", "hinge_embedding_loss", "multilabel_margin_loss",
         "multilabel_soft_margin_loss"]
MODULES = ["KLDivLoss", "MarginRankingLoss", "MultiMarginLoss", "SoftMarginLoss",
           "CosineEmbeddingLoss", "GaussianNLLLoss", "PoissonNLLLoss", "TripletMarginLoss",
           "TripletMarginWithDistanceLoss", "HingeEmbeddingLoss", "MultiLabelMarginLoss",
           "MultiLabelSoftMarginLoss"]


def _params(f):
    return [(p.name, p.kind, p.default) for p in inspect.signature(f).parameters.values()]


@pytest.mark.parametrize("name", FUNCS)
def test_function_signatures_match_torch(name):
    assert _params(getattr(LE, name)) == _params(getattr(TF, name))


@pytest.mark.parametrize("name", MODULES)
def test_module_signatures_match_torch(name):
    ours, theirs = getattr(NL, name), getattr(torch.nn, name)
    assert _params(ours.__init__) == _params(theirs.__init__)
    assert [p[0] for p in _params(ours.forward)] == [p[0] for p in _params(theirs.forward)]


# --- bad input -------------------------------------------------------------------------------
class _M:
    def __init__(self, lib, F):
        self.lib, self.F = lib, F

    def ones(self, *shape, long=False):
        if self.lib is torch:
            return torch.ones(shape, dtype=torch.int64 if long else torch.float32)
        return gf.ones(*shape, dtype="int64" if long else "float32")


ERRORS = [
    ("kl_div", lambda m: m.F.kl_div(m.ones(3), m.ones(3), reduction="avg"), ValueError, "'avg'"),
    ("kl_div", lambda m: m.F.kl_div(m.ones(3, 2), m.ones(4)), RuntimeError,
     r"input \(3, 2\), target \(4,\) cannot be broadcast"),
    ("margin_ranking_loss", lambda m: m.F.margin_ranking_loss(m.ones(3), m.ones(3, 1),
                                                              m.ones(3)), RuntimeError,
     r"same dimension but got sizes: input1: \(3,\), input2: \(3, 1\), target: \(3,\)"),
    ("margin_ranking_loss", lambda m: m.F.margin_ranking_loss(m.ones(3), m.ones(2), m.ones(3)),
     RuntimeError, r"input1 \(3,\), input2 \(2,\), target \(3,\) cannot be broadcast"),
    ("hinge_embedding_loss", lambda m: m.F.hinge_embedding_loss(m.ones(3, 2), m.ones(3)),
     RuntimeError, r"input \(3, 2\), target \(3,\)"),
    ("soft_margin_loss", lambda m: m.F.soft_margin_loss(m.ones(3, 2), m.ones(3)), RuntimeError,
     r"input \(3, 2\), target \(3,\)"),
    ("multilabel_soft_margin_loss", lambda m: m.F.multilabel_soft_margin_loss(
        m.ones(2, 3), m.ones(2, 3), reduction="x"), ValueError, "'x'"),
    ("multi_margin_loss", lambda m: m.F.multi_margin_loss(m.ones(2, 3), m.ones(2, long=True),
                                                          p=3), ValueError, "p=3"),
    ("multi_margin_loss", lambda m: m.F.multi_margin_loss(m.ones(2, 3), m.ones(2, long=True),
                                                          weight=m.ones(3, 1)), ValueError,
     r"weight must be one-dimensional, got shape \(3, 1\)"),
    ("multi_margin_loss", lambda m: m.F.multi_margin_loss(m.ones(2, 3), m.ones(2, long=True),
                                                          weight=m.ones(4)), RuntimeError,
     r"inconsistent weight size, expected 3 but got \(4,\)"),
    ("multi_margin_loss", lambda m: m.F.multi_margin_loss(m.ones(2, 3), m.ones(3, long=True)),
     RuntimeError, r"expected 2 but got \(3,\) \(input shape \(2, 3\)\)"),
    ("multi_margin_loss", lambda m: m.F.multi_margin_loss(m.ones(2, 3),
                                                          m.ones(2, long=True) * 3),
     RuntimeError, r"class index 3 is out of range \[0, 3\)"),
    ("multi_margin_loss", lambda m: m.F.multi_margin_loss(m.ones(2, 3, 4), m.ones(2, long=True)),
     RuntimeError, r"vector or matrix .* got: \(2, 3, 4\)"),
    ("multi_margin_loss", lambda m: m.F.multi_margin_loss(m.ones(2, 3), m.ones(2)),
     RuntimeError, "expected scalar type Long .* float32"),
    ("multilabel_margin_loss", lambda m: m.F.multilabel_margin_loss(m.ones(2, 3),
                                                                    m.ones(2, long=True)),
     RuntimeError, r"inconsistent target size: \(2,\) for input of size: \(2, 3\)"),
    ("multilabel_margin_loss", lambda m: m.F.multilabel_margin_loss(
        m.ones(2, 3), m.ones(2, 3, long=True) * 3), RuntimeError, "target index 3 is out of"),
    ("multilabel_margin_loss", lambda m: m.F.multilabel_margin_loss(m.ones(2, 3), m.ones(2, 3)),
     RuntimeError, "expected scalar type Long"),
    ("cosine_embedding_loss", lambda m: m.F.cosine_embedding_loss(m.ones(2, 3), m.ones(2, 3),
                                                                  m.ones(2, 1)), RuntimeError,
     r"0D or 1D target tensor expected.*\(2, 1\)"),
    ("cosine_embedding_loss", lambda m: m.F.cosine_embedding_loss(m.ones(2, 3), m.ones(2),
                                                                  m.ones(2)), RuntimeError,
     r"1D target tensor expects 2D input tensors, but found inputs with sizes \(2, 3\) and "
     r"\(2,\)"),
    ("gaussian_nll_loss", lambda m: m.F.gaussian_nll_loss(m.ones(2, 3), m.ones(2, 3),
                                                          m.ones(2, 3) * -1), ValueError,
     "var has negative entry"),
    ("gaussian_nll_loss", lambda m: m.F.gaussian_nll_loss(m.ones(2, 3), m.ones(2, 3), -1.0),
     ValueError, "var has negative entry"),
    ("gaussian_nll_loss", lambda m: m.F.gaussian_nll_loss(m.ones(2, 3), m.ones(2, 3), m.ones(3)),
     ValueError, r"var is of incorrect size: var shape \(3,\) for input shape \(2, 3\)"),
    ("gaussian_nll_loss", lambda m: m.F.gaussian_nll_loss(m.ones(4, 3, 5), m.ones(4, 3, 5),
                                                          m.ones(1, 1, 5)), ValueError,
     "var is of incorrect size"),
    ("gaussian_nll_loss", lambda m: m.F.gaussian_nll_loss(m.ones(2), m.ones(2), m.ones(2),
                                                          reduction="x"), ValueError, "'x'"),
    ("poisson_nll_loss", lambda m: m.F.poisson_nll_loss(m.ones(2), m.ones(2), reduction="x"),
     ValueError, "'x'"),
    ("poisson_nll_loss", lambda m: m.F.poisson_nll_loss(m.ones(2, 3), m.ones(2)), RuntimeError,
     r"input \(2, 3\), target \(2,\)"),
    ("triplet_margin_loss", lambda m: m.F.triplet_margin_loss(m.ones(2, 3), m.ones(2, 3),
                                                              m.ones(2, 3), margin=0),
     ValueError, "margin must be greater than 0, got 0"),
    ("triplet_margin_loss", lambda m: m.F.triplet_margin_loss(m.ones(2, 3), m.ones(3),
                                                              m.ones(2, 3)), RuntimeError,
     "anchor 2D, positive 1D, and negative 2D"),
    ("triplet_margin_with_distance_loss", lambda m: m.F.triplet_margin_with_distance_loss(
        m.ones(2, 3), m.ones(2, 3), m.ones(2, 3), margin=-1), ValueError,
     "margin must be greater than 0, got -1"),
    ("triplet_margin_with_distance_loss", lambda m: m.F.triplet_margin_with_distance_loss(
        m.ones(2, 3), m.ones(2, 3), m.ones(2, 3), reduction="x"), ValueError, "'x'"),
    ("triplet_margin_with_distance_loss", lambda m: m.F.triplet_margin_with_distance_loss(
        m.ones(2, 3), m.ones(3), m.ones(2, 3)), RuntimeError, "anchor 2D, positive 1D"),
    ("soft_margin_loss", lambda m: m.F.soft_margin_loss(None, m.ones(3)), TypeError,
     r"argument 'input' must be a Tensor"),
    ("kl_div", lambda m: m.F.kl_div(m.ones(3), None), TypeError,
     r"argument 'target' must be a Tensor"),
    ("triplet_margin_loss", lambda m: m.F.triplet_margin_loss(m.ones(3), m.ones(3), None),
     TypeError, r"argument 'negative' must be a Tensor"),
]


@pytest.mark.parametrize("op,call,exc,match", ERRORS,
                         ids=[f"{e[0]}-{i}" for i, e in enumerate(ERRORS)])
def test_errors_as_torch(op, call, exc, match):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(exc):
            call(_M(torch, TF))
        with pytest.raises(exc, match=rf"{re.escape(op)}(\(\))?: .*{match}"):
            call(_M(gf, LE))


def test_none_second_input_is_a_type_error_naming_it():
    with pytest.raises(TypeError, match=r"margin_ranking_loss\(\): argument 'input2' must be"):
        LE.margin_ranking_loss(gf.ones(3), None, gf.ones(3))
    with pytest.raises(TypeError, match=r"gaussian_nll_loss\(\): argument 'var' must be"):
        LE.gaussian_nll_loss(gf.ones(3), gf.ones(3), None)


def test_multi_margin_weight_that_requires_grad_is_refused():
    with pytest.raises(RuntimeError, match="not differentiable with respect to argument "
                       "'weight'"):
        LE.multi_margin_loss(gf.ones(2, 3), gf.tensor([0, 1]),
                             weight=gf.ones(3, requires_grad=True))
