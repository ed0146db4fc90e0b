"""Scans against PyTorch: cumsum, cumprod, cummax, cummin, logcumsumexp (values, dtypes,
indices, gradients of first and second order, in-place forms, errors)."""

from __future__ import annotations

import numpy as np
import pytest

import gradflow as gf
from gradflow.ops import scan as S

torch = pytest.importorskip("torch")

_DT = {"float32": torch.float32, "float64": torch.float64, "float16": torch.float16,
       "int64": torch.int64, "int32": torch.int32, "int16": torch.int16, "uint8": torch.uint8,
       "bool": torch.bool}


def _pair(array, requires_grad=False):
    a = np.asarray(array)
    return (gf.tensor(a, dtype=a.dtype, requires_grad=requires_grad),
            torch.tensor(a, requires_grad=requires_grad))


def same(ours, theirs, rtol=1e-6, atol=1e-6):
    """Equal values, shapes and dtypes (tuples element by element)."""
    if isinstance(theirs, tuple):
        assert isinstance(ours, tuple) and len(ours) == len(theirs)
        for o, t in zip(ours, theirs):
            same(o, t, rtol, atol)
        return
    t = theirs.detach()
    assert ours.dtype.name == str(t.dtype).removeprefix("torch."), (ours.dtype, t.dtype)
    assert tuple(ours.shape) == tuple(t.shape)
    if t.dtype in (torch.float16, torch.float32, torch.float64):
        np.testing.assert_allclose(ours.numpy().astype(float), t.double().numpy(), rtol=rtol,
                                   atol=atol, equal_nan=True)
    else:
        np.testing.assert_array_equal(ours.numpy(), t.numpy())


def raises_like(ours, theirs):
    """Both calls raise, and ours raises torch's exception type."""
    with pytest.raises(Exception) as t_exc:
        theirs()
    with pytest.raises(t_exc.type):
        ours()


RNG = np.random.default_rng(0)
X = RNG.standard_normal((3, 4, 5))


@pytest.mark.parametrize("name", ["cumsum", "cumprod", "logcumsumexp"])
@pytest.mark.parametrize("dim", [0, 1, 2, -1, -3])
def test_scan_values_and_grads_match_torch(name, dim):
    (g, t) = _pair(X, requires_grad=True)
    ours, theirs = getattr(S, name)(g, dim), getattr(torch, name)(t, dim)
    same(ours, theirs, rtol=1e-10)
    w = RNG.standard_normal(X.shape)
    (gg,) = gf.grad(ours, [g], gf.tensor(w))
    (tg,) = torch.autograd.grad(theirs, [t], torch.tensor(w))
    same(gg, tg, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("name", ["cummax", "cummin"])
@pytest.mark.parametrize("dim", [0, 2, -2])
def test_cummax_cummin_values_indices_grads(name, dim):
    (g, t) = _pair(np.round(X * 2) / 2, requires_grad=True)  # many ties
    ours, theirs = getattr(S, name)(g, dim), getattr(torch, name)(t, dim)
    same(ours.values, theirs.values)
    same(ours.indices, theirs.indices)
    assert ours.indices.requires_grad is False and type(ours).__name__ == name
    (gg,) = gf.grad(ours.values.sum(), [g])
    (tg,) = torch.autograd.grad(theirs.values.sum(), [t])
    same(gg, tg)


def test_cummax_ties_nan_and_other_dtypes_match_torch():
    for data in ([1.0, 3.0, 3.0, 2.0, 5.0, 5.0], [1.0, np.nan, 3.0, np.nan, 0.0],
                 [np.nan, 1.0, np.nan], [True, False, True, True],
                 np.array([3, 1, 1, 2, 1], dtype=np.int32)):
        (g, t) = _pair(np.asarray(data))
        for name in ("cummax", "cummin"):
            same(tuple(getattr(S, name)(g, 0)), tuple(getattr(torch, name)(t, 0)))


def test_cumprod_gradient_with_zeros_matches_torch_to_second_order():
    x = RNG.standard_normal((4, 6))
    x[0, 2] = 0.0
    x[1, 1] = x[1, 4] = 0.0
    x[2, 0] = 0.0
    x[3, 5] = 0.0
    (g, t) = _pair(x, requires_grad=True)
    w = RNG.standard_normal(x.shape)
    (gg,) = gf.grad(S.cumprod(g, 1), [g], gf.tensor(w), create_graph=True)
    (tg,) = torch.autograd.grad(torch.cumprod(t, 1), [t], torch.tensor(w), create_graph=True)
    same(gg, tg, rtol=1e-10, atol=1e-12)
    (g2,) = gf.grad((gg * gg).sum(), [g])
    (t2,) = torch.autograd.grad((tg * tg).sum(), [t])
    same(g2, t2, rtol=1e-9, atol=1e-10)


def test_logcumsumexp_extreme_values_and_second_order_match_torch():
    x = np.array([[-1000.0, 0.0, 1000.0, 999.0, -5.0, 1001.0],
                  [-np.inf, 2.0, 3.0, np.inf, 1.0, 0.0]])
    (g, t) = _pair(x)
    same(S.logcumsumexp(g, 1), torch.logcumsumexp(t, 1))
    (g, t) = _pair(x[:1], requires_grad=True)
    w = np.array([[1.0, -2.0, 0.5, 3.0, -1.0, 0.25]])
    (gg,) = gf.grad(S.logcumsumexp(g, 1), [g], gf.tensor(w), create_graph=True)
    (tg,) = torch.autograd.grad(torch.logcumsumexp(t, 1), [t], torch.tensor(w),
                                create_graph=True)
    same(gg, tg, rtol=1e-9, atol=1e-12)
    (g2,) = gf.grad((gg * gg).sum(), [g])
    (t2,) = torch.autograd.grad((tg * tg).sum(), [t])
    same(g2, t2, rtol=1e-8, atol=1e-10)
    f32 = S.logcumsumexp(gf.tensor([[1e4, 1e4 + 1]]), 1)
    assert f32.dtype == gf.float32 and np.isfinite(f32.numpy()).all()


@pytest.mark.parametrize("dtype", ["int32", "int16", "uint8", "bool", "float16", "float64"])
@pytest.mark.parametrize("name", ["cumsum", "cumprod"])
def test_scan_result_dtypes_match_torch(name, dtype):
    (g, t) = _pair(np.array([[1, 2, 0], [3, 1, 2]]).astype(dtype))
    same(getattr(S, name)(g, 1), getattr(torch, name)(t, 1), rtol=1e-3)
    for out in ("float64", "int64", "int8"):
        same(getattr(S, name)(g, 0, dtype=out), getattr(torch, name)(t, 0, dtype=_DT.get(out,
             torch.int8)), rtol=1e-3)


def test_scan_empty_zero_dim_and_methods():
    for shape in [(0,), (2, 0), (0, 3)]:
        (g, t) = _pair(np.zeros(shape))
        for name in ("cumsum", "cumprod", "logcumsumexp"):
            same(getattr(S, name)(g, -1), getattr(torch, name)(t, -1))
        same(tuple(S.cummax(g, 0)), tuple(torch.cummax(t, 0)))
    (g, t) = _pair(np.array(2.5))
    for name in ("cumsum", "cumprod", "logcumsumexp"):
        same(getattr(S, name)(g, 0), getattr(torch, name)(t, 0))
        same(getattr(S, name)(g, -1), getattr(torch, name)(t, -1))
    same(tuple(S.cummin(g, 0)), tuple(torch.cummin(t, 0)))
    (g, t) = _pair(X)
    same(g.cumsum(1), t.cumsum(1))
    same(g.cumprod(dim=0), t.cumprod(dim=0))
    same(g.logcumsumexp(2), t.logcumsumexp(2))
    same(tuple(g.cummax(1)), tuple(t.cummax(1)))
    same(tuple(g.cummin(-1)), tuple(t.cummin(-1)))
    same(g.cumsum(1, dtype=gf.float32), t.cumsum(1, dtype=torch.float32))


def test_scan_errors_match_torch():
    (g, t) = _pair(X)
    for name in ("cumsum", "cumprod", "logcumsumexp", "cummax", "cummin"):
        for dim in (3, -4):
            raises_like(lambda n=name, d=dim: getattr(S, n)(g, d),
                        lambda n=name, d=dim: getattr(torch, n)(t, d))
        raises_like(lambda n=name: getattr(S, n)(g), lambda n=name: getattr(torch, n)(t))
    (g0, t0) = _pair(np.array(1.0))
    raises_like(lambda: S.cumsum(g0, 1), lambda: torch.cumsum(t0, 1))
    (gi, ti) = _pair(np.array([1, 2]))
    raises_like(lambda: S.logcumsumexp(gi, 0), lambda: torch.logcumsumexp(ti, 0))
    with pytest.raises(IndexError, match=r"cumsum.*dimension 3 is out of range"):
        S.cumsum(g, 3)
    with pytest.raises(TypeError, match="cumprod.*dim"):
        S.cumprod(g, 1.5)


def test_in_place_scans_match_torch():
    for dtype in ("float32", "int32"):
        (g, t) = _pair(np.array([[1, 2, 3], [4, 0, 6]]).astype(dtype))
        v = g._version
        assert g.cumsum_(1) is g
        t.cumsum_(1)
        same(g, t)
        assert g._version > v
        g.cumprod_(0)
        t.cumprod_(0)
        same(g, t)
    leaf = gf.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf"):
        leaf.cumsum_(0)
    # on a non-leaf the in-place scan is recorded: the gradient flows through it
    (g, t) = _pair(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    y, ty = g * 2, t * 2
    y.cumsum_(0)
    ty.cumsum_(0)
    (gg,) = gf.grad((y * y).sum(), [g])
    (tg,) = torch.autograd.grad((ty * ty).sum(), [t])
    same(gg, tg)


def test_no_grad_paths_match_the_recorded_ones():
    x = np.array([[0.5, 0.0, 2.0, -1.5], [1.0, 3.0, 0.0, 0.0]])
    recorded = S.cumprod(gf.tensor(x, requires_grad=True), 1)
    with gf.no_grad():
        plain = S.cumprod(gf.tensor(x, requires_grad=True), 1)
    assert recorded.requires_grad and not plain.requires_grad
    np.testing.assert_allclose(recorded.numpy(), plain.numpy(), rtol=1e-15)
    np.testing.assert_array_equal(plain.numpy(), np.cumprod(x, 1))


def test_hillis_steele_fallback_matches_accumulate():
    """The kernels' scan without ``ufunc.accumulate`` (as on a backend that lacks it)."""
    from gradflow.kernels import scan as K

    class NoAccumulate:  # a ufunc-like callable without .accumulate
        def __init__(self, op):
            self.op = op

        def __call__(self, a, b):
            return self.op(a, b)

    a = RNG.standard_normal((3, 7, 2))
    for op in (np.maximum, np.minimum, np.logaddexp):
        for axis in (0, 1, 2):
            np.testing.assert_allclose(K._accumulate(np, NoAccumulate(op), a, axis),
                                       op.accumulate(a, axis=axis), rtol=1e-12)
