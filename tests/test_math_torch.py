"""Elementwise math, rounding/division, clamp/lerp and predicates against PyTorch: values,
result dtypes (float32/float64/int64/bool inputs, promotion), NaN/inf behaviour, gradients and
the exception types."""

from __future__ import annotations

import numpy as np
import pytest

import gradflow as gf
from gradflow.ops import math as M
from gradflow.ops import predicates as P
from gradflow.ops import rounding as RD

torch = pytest.importorskip("torch")

_FLOAT = np.array([-2.5, -1.0, -0.5, -0.0, 0.0, 0.3, 0.5, 1.0, 1.5, 2.5, 1e30, np.inf, -np.inf,
                   np.nan])
INPUTS = {
    "float32": _FLOAT.astype(np.float32),
    "float64": _FLOAT,
    "int64": np.array([-7, -2, -1, 0, 1, 2, 3, 9]),
    "bool": np.array([True, False, True]),
}


def _gf(a):
    return gf.tensor(a, dtype=a.dtype) if isinstance(a, np.ndarray) else a


def _torch(a):
    return torch.tensor(a) if isinstance(a, np.ndarray) else a


def _dense(t):
    """A torch gradient as NumPy (PyTorch's zero gradients are ZeroTensors)."""
    return (torch.zeros_like(t) + t).detach().numpy()


def same(ours, theirs, rtol=1e-6, atol=0.0):
    """Same value(s) and dtype (NaN positions included)."""
    if isinstance(theirs, torch.Tensor):
        assert isinstance(ours, gf.Tensor), type(ours)
        want = theirs.detach().numpy()
        got = ours.numpy()
        assert got.dtype == want.dtype, (got.dtype, want.dtype)
        assert got.shape == want.shape, (got.shape, want.shape)
        if want.dtype.kind == "f":
            np.testing.assert_allclose(got, want, rtol=rtol, atol=atol, equal_nan=True)
        else:
            np.testing.assert_array_equal(got, want)
    else:
        assert ours == theirs and type(ours) is type(theirs), (ours, theirs)


def both(gf_fn, torch_fn, *args, rtol=1e-6, atol=0.0):
    """Run the call in both; the same result, or the same exception type in gradflow."""
    try:
        want = torch_fn(*[_torch(a) for a in args])
    except Exception as exc:  # noqa: BLE001 - the exception type is what is compared
        with pytest.raises(type(exc)):
            gf_fn(*[_gf(a) for a in args])
        return None
    got = gf_fn(*[_gf(a) for a in args])
    same(got, want, rtol=rtol, atol=atol)
    return got


UNARY = ["log2", "log10", "log1p", "expm1", "exp2", "sinh", "cosh", "tan", "asin", "acos",
         "atan", "rsqrt", "reciprocal", "square", "erfinv"]


@pytest.mark.parametrize("dtype", list(INPUTS))
@pytest.mark.parametrize("name", UNARY)
def test_unary_float_math(name, dtype):
    a = INPUTS[dtype]
    with np.errstate(all="ignore"):
        both(getattr(M, name), getattr(torch, name), a, rtol=2e-6)
        both(lambda t: getattr(t, name)(), lambda t: getattr(t, name)(), a, rtol=2e-6)


@pytest.mark.parametrize("name", UNARY)
def test_unary_gradients_and_inplace(name):
    a = np.array([0.1, 0.35, 0.7, 0.95, 1.5]) if name not in ("asin", "acos", "erfinv") else \
        np.array([-0.9, -0.3, 0.0, 0.4, 0.95])
    x = gf.tensor(a, requires_grad=True)
    tx = torch.tensor(a, requires_grad=True)
    (g,) = gf.grad(getattr(M, name)(x).sum(), [x])
    (tg,) = torch.autograd.grad(getattr(torch, name)(tx).sum(), [tx])
    np.testing.assert_allclose(g.numpy(), tg.numpy(), rtol=1e-12)
    # in place: the same values, the version counter moves, a leaf that requires grad refuses
    t, tt = gf.tensor(a), torch.tensor(a)
    v = t._version
    assert getattr(t, name + "_")() is t and t._version == v + 1
    np.testing.assert_allclose(t.numpy(), getattr(tt, name + "_")().numpy(), rtol=1e-12)
    with pytest.raises(RuntimeError, match="leaf"):
        getattr(gf.tensor(a, requires_grad=True), name + "_")()
    if name != "square":  # an integer tensor cannot hold the float result (as PyTorch)
        with pytest.raises(RuntimeError):
            getattr(torch.tensor([1, 2]), name + "_")()
        with pytest.raises(RuntimeError), np.errstate(all="ignore"):
            getattr(gf.tensor([1, 2]), name + "_")()


def test_second_order_of_the_unary_ops():
    a = np.array([0.2, 0.5, 0.8])
    for name in UNARY:
        x = gf.tensor(a, requires_grad=True)
        tx = torch.tensor(a, requires_grad=True)
        (g,) = gf.grad(getattr(M, name)(x).sum(), [x], create_graph=True)
        (gg,) = gf.grad(g.sum(), [x])
        (tg,) = torch.autograd.grad(getattr(torch, name)(tx).sum(), [tx], create_graph=True)
        (tgg,) = torch.autograd.grad(tg.sum(), [tx])
        np.testing.assert_allclose(gg.numpy(), tgg.numpy(), rtol=1e-10, err_msg=name)


def test_atan2_dtypes_broadcasting_grads_and_errors():
    a, b = np.array([[1.0], [-2.0], [0.0]]), np.array([0.5, -3.0, 0.0, 1e-30])
    both(M.atan2, torch.atan2, a, b)
    both(M.atan2, torch.atan2, a.astype(np.float32), b)  # promotes to float64
    both(M.atan2, torch.atan2, np.array([1, -2, 0]), np.array([3, 0, 0]))  # int: float32
    both(lambda x, y: x.atan2(y), lambda x, y: x.atan2(y), INPUTS["float32"],
         INPUTS["float32"][::-1].copy())
    both(M.atan2, torch.atan2, INPUTS["float32"], 2.0)  # a number: TypeError in both
    x, y = gf.tensor(a, requires_grad=True), gf.tensor(b, requires_grad=True)
    tx, ty = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    got = gf.grad(M.atan2(x, y).sum(), [x, y])
    want = torch.autograd.grad(torch.atan2(tx, ty).sum(), [tx, ty])  # 0 at (0, 0)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g.numpy(), w.numpy(), rtol=1e-12)


@pytest.mark.parametrize("dtype", list(INPUTS))
@pytest.mark.parametrize("name", ["round", "floor", "ceil", "trunc", "fix", "frac", "sign",
                                  "sgn"])
def test_rounding_dtypes_and_values(name, dtype):
    a = INPUTS[dtype]
    with np.errstate(all="ignore"):
        both(getattr(RD, name), getattr(torch, name), a)
        both(lambda t: getattr(t, name)(), lambda t: getattr(t, name)(), a)


@pytest.mark.parametrize("decimals", [-2, -1, 0, 1, 3])
def test_round_decimals(decimals):
    a = np.array([1234.5678, -0.125, 2.5, 0.5, -1250.0, 1.005, np.inf, np.nan])
    for x in (a, a.astype(np.float32)):
        both(lambda t: RD.round(t, decimals=decimals),
             lambda t: torch.round(t, decimals=decimals), x)
    if decimals:  # NotImplementedError for integers, as PyTorch (which refuses decimals=0 too)
        both(lambda t: t.round(decimals=decimals), lambda t: t.round(decimals=decimals),
             INPUTS["int64"])


@pytest.mark.parametrize("name", ["round", "floor", "ceil", "trunc", "sign", "sgn", "frac"])
def test_rounding_gradients(name):
    a = np.array([-1.7, -0.2, 0.4, 2.5])
    x, tx = gf.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    (g,) = gf.grad(getattr(RD, name)(x).sum(), [x])
    # (torch.sgn's first backward takes seconds to set up: sign's gradient is the same)
    (tg,) = torch.autograd.grad(getattr(torch, "sign" if name == "sgn" else name)(tx).sum(), [tx])
    np.testing.assert_array_equal(g.numpy(), _dense(tg))
    t = gf.tensor(a)
    getattr(t, name + "_")()
    np.testing.assert_array_equal(t.numpy(), getattr(torch.tensor(a), name + "_")().numpy())


_PAIRS = [
    (np.array([-7.5, -3.0, -0.5, 0.0, 2.0, 5.25, 1e20]),
     np.array([2.0, -2.0, 0.3, -1.5, 0.0, -0.75, 3.0])),
    (np.array([-7, -3, 0, 5, 9]), np.array([2, -2, 3, -4, 4])),
    (np.array([-7, 3, 5]), np.array([0, 1, 2])),  # an integer zero divisor
    (np.array([True, False]), np.array([True, True])),
    (np.array([[-7.5], [3.25]], dtype=np.float32), np.array([2, -3, 4])),  # float32 with int64
    (np.array([-7, 3, 5]), 2.5), (np.array([-7, 3, 5]), -2), (7, np.array([-3, 2, 5])),
    (np.array([-7.5, 3.25], dtype=np.float32), -2), (np.array([1.5, -2.5]), 0.0),
]


@pytest.mark.parametrize("pair", range(len(_PAIRS)))
@pytest.mark.parametrize("name", ["remainder", "fmod", "floor_divide", "div_trunc",
                                  "div_floor", "mod_operator", "floordiv_operator"])
def test_division_family(name, pair):
    a, b = _PAIRS[pair]
    ops = {
        "div_trunc": (lambda x, y: gf.div(x, y, rounding_mode="trunc"),
                      lambda x, y: torch.div(x, y, rounding_mode="trunc")),
        "div_floor": (lambda x, y: gf.div(x, y, rounding_mode="floor"),
                      lambda x, y: torch.div(x, y, rounding_mode="floor")),
        "mod_operator": (lambda x, y: x % y, lambda x, y: x % y),
        "floordiv_operator": (lambda x, y: x // y, lambda x, y: x // y),
    }
    ours, theirs = ops[name] if name in ops else (getattr(RD, name), getattr(torch, name))
    with np.errstate(all="ignore"):
        both(ours, theirs, a, b)


def test_division_gradients_and_errors():
    a = np.array([-7.5, -3.2, 0.4, 5.25])
    b = np.array([2.0, -2.5, 0.3, -0.75])
    for name in ("remainder", "fmod"):
        x, y = gf.tensor(a, requires_grad=True), gf.tensor(b, requires_grad=True)
        tx, ty = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
        got = gf.grad(getattr(RD, name)(x, y).sum(), [x, y])
        want = torch.autograd.grad(getattr(torch, name)(tx, ty).sum(), [tx, ty])
        for g, w in zip(got, want):
            np.testing.assert_array_equal(g.numpy(), w.numpy())
    x, tx = gf.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    (g,) = gf.grad(gf.div(x, 2.0, rounding_mode="floor").sum(), [x])
    np.testing.assert_array_equal(g.numpy(), _dense(torch.autograd.grad(
        torch.div(tx, 2.0, rounding_mode="floor").sum(), [tx])[0]))
    with pytest.raises(RuntimeError, match="floor_divide"):
        gf.grad(RD.floor_divide(x, 2.0).sum(), [x])
    with pytest.raises(RuntimeError):
        torch.autograd.grad(torch.floor_divide(tx, 2.0).sum(), [tx])
    with pytest.raises(RuntimeError, match="rounding_mode"):
        gf.div(x, 2.0, rounding_mode="round")
    with pytest.raises(RuntimeError, match="division by zero"):
        gf.tensor([4, 5]) % 0
    assert (x / 2).dtype == gf.float64 and (gf.tensor([3]) / 2).dtype == gf.float32
    # in place: // and % keep the dtype, a float result does not fit an integer tensor
    t = gf.tensor([7, -7])
    t //= 2
    t %= 3
    tt = torch.tensor([7, -7])
    tt //= 2
    tt %= 3
    np.testing.assert_array_equal(t.numpy(), tt.numpy())
    with pytest.raises(RuntimeError):
        t %= 2.5
    t = gf.tensor([7.0, -7.5])
    t.div_(2, rounding_mode="trunc")
    np.testing.assert_array_equal(t.numpy(), [3.0, -3.0])
    t.remainder_(gf.tensor([2.0, -2.0])).fmod_(-1.5)
    np.testing.assert_array_equal(t.numpy(), torch.tensor([3.0, -3.0]).remainder_(
        torch.tensor([2.0, -2.0])).fmod_(-1.5).numpy())


_CLAMP_X = np.array([0.0, 1.0, 2.0, 3.0, 1.0, 2.0, 0.5, np.nan])
_CLAMP_LO = np.array([1.0, 1.0, 1.0, 1.0, 2.0, 2.0, 1.0, 0.0])
_CLAMP_HI = np.array([2.0, 2.0, 2.0, 2.0, 1.0, 2.0, 1.0, 1.0])


@pytest.mark.parametrize("bounds", ["both", "min", "max", "min_number", "max_number"])
def test_clamp_tensor_bounds_values_and_gradients(bounds):
    """PyTorch's rule at ties and where min > max (the result is max there)."""
    lo, hi = {"both": (_CLAMP_LO, _CLAMP_HI), "min": (_CLAMP_LO, None),
              "max": (None, _CLAMP_HI), "min_number": (_CLAMP_LO, 1.5),
              "max_number": (0.5, _CLAMP_HI)}[bounds]
    ours = [gf.tensor(v, requires_grad=True) if isinstance(v, np.ndarray) else v
            for v in (_CLAMP_X, lo, hi)]
    # PyTorch takes Tensor bounds or number bounds, not one of each: a 0-d Tensor there
    theirs = [torch.tensor(v, requires_grad=True) if isinstance(v, np.ndarray) else
              torch.tensor(v, dtype=torch.float64) if v is not None else None
              for v in (_CLAMP_X, lo, hi)]
    out, tout = gf.clamp(*ours), torch.clamp(*theirs)
    same(out, tout)
    leaves = [v for v in ours if isinstance(v, gf.Tensor)]
    tleaves = [v for v in theirs if isinstance(v, torch.Tensor) and v.requires_grad]
    grads = gf.grad(out.sum(), leaves)
    tgrads = torch.autograd.grad(tout.sum(), tleaves)
    for g, w in zip(grads, tgrads):
        np.testing.assert_array_equal(g.numpy(), w.numpy())
    t = gf.tensor(_CLAMP_X)
    t.clamp_(*(gf.tensor(v) if isinstance(v, np.ndarray) else v for v in (lo, hi)))
    same(t, torch.tensor(_CLAMP_X).clamp_(*(torch.tensor(v) if v is not None else None
                                            for v in (lo, hi))))


def test_clamp_broadcasting_dtypes_and_errors():
    x = np.array([[-2.0, 0.5, 3.0], [1.0, -1.0, 0.0]])
    both(lambda a, lo, hi: a.clamp(lo, hi), lambda a, lo, hi: a.clamp(lo, hi), x,
         np.array([[-1.0], [0.0]]), np.array([0.5, 1.0, 2.0]))
    both(lambda a, lo: gf.clip(a, lo), lambda a, lo: torch.clip(a, lo),
         x[0], np.array([[-1.0], [0.0]]))  # a bound can grow the result
    for a, lo, hi in [(INPUTS["int64"], 0.5, None), (INPUTS["int64"], -2, 3),
                      (INPUTS["bool"], 0, 1), (INPUTS["bool"], False, True),
                      (INPUTS["int64"], np.array(0.5), None),
                      (INPUTS["float32"], np.array([0.0]), None),
                      (INPUTS["float32"], np.array(0.0), 1),
                      (INPUTS["float32"], float("nan"), None), (INPUTS["float32"], 2, 1)]:
        both(lambda t, lo=lo, hi=hi: gf.clamp(t, _gf(lo), _gf(hi)),
             lambda t, lo=lo, hi=hi: torch.clamp(t, _torch(lo), _torch(hi)), a)
    both(gf.clamp, torch.clamp, INPUTS["float32"])  # no bound: RuntimeError in both


def test_lerp():
    a, b = np.array([[0.0, 1.0, -2.0]]), np.array([[4.0], [-1.0]])
    w = np.array([0.25, 0.5, 1.0])
    for weight in (0.0, 0.3, 0.5, 1.0, 2.5, -1.0):
        both(lambda x, y, weight=weight: M.lerp(x, y, weight),
             lambda x, y, weight=weight: torch.lerp(x, y, weight), a, b)
    xs = [gf.tensor(v, requires_grad=True) for v in (a, b, w)]
    ts = [torch.tensor(v, requires_grad=True) for v in (a, b, w)]
    out, tout = xs[0].lerp(xs[1], xs[2]), ts[0].lerp(ts[1], ts[2])
    same(out, tout, rtol=1e-15)
    for g, t in zip(gf.grad(out.sum(), xs), torch.autograd.grad(tout.sum(), ts)):
        np.testing.assert_allclose(g.numpy(), t.numpy(), rtol=1e-15)
    t = gf.tensor(a, dtype=gf.float64)
    t.lerp_(gf.tensor([[4.0, 4.0, 4.0]], dtype=gf.float64), 0.5)
    np.testing.assert_array_equal(t.numpy(), [[2.0, 2.5, 1.0]])
    both(M.lerp, torch.lerp, INPUTS["int64"], INPUTS["int64"], 0.5)  # NotImplementedError
    both(M.lerp, torch.lerp, a.astype(np.float32), b, 0.5)  # dtypes differ: RuntimeError
    both(M.lerp, torch.lerp, a, b, w.astype(np.float32))


@pytest.mark.parametrize("dtype", list(INPUTS))
@pytest.mark.parametrize("name", ["isnan", "isinf", "isposinf", "isneginf", "isfinite",
                                  "nan_to_num"])
def test_predicates(name, dtype):
    a = INPUTS[dtype]
    both(getattr(P, name), getattr(torch, name), a)
    both(lambda t: getattr(t, name)(), lambda t: getattr(t, name)(), a)


def test_nan_to_num_arguments_gradient_and_inplace():
    a = INPUTS["float32"]
    both(lambda t: P.nan_to_num(t, 1.5, 2.0, -3.0), lambda t: torch.nan_to_num(t, 1.5, 2.0, -3.0),
         a)
    both(lambda t: t.nan_to_num(posinf=7.0), lambda t: t.nan_to_num(posinf=7.0), INPUTS["float64"])
    x = gf.tensor(INPUTS["float64"], requires_grad=True)
    tx = torch.tensor(INPUTS["float64"], requires_grad=True)
    (g,) = gf.grad((P.nan_to_num(x) * 0.5).sum(), [x])
    (tg,) = torch.autograd.grad((torch.nan_to_num(tx) * 0.5).sum(), [tx])
    np.testing.assert_array_equal(g.numpy(), tg.numpy())
    t = gf.tensor(a)
    t.nan_to_num_(0.0, 1.0, -1.0)
    same(t, torch.tensor(a).nan_to_num_(0.0, 1.0, -1.0))


def test_isclose_allclose_equal():
    a = np.array([1.0, np.nan, np.inf, -np.inf, 1e10, 0.0, 1.0])
    b = np.array([1.0 + 1e-9, np.nan, np.inf, np.inf, 1.00001e10, 1e-9, 1.1])
    for kwargs in ({}, {"equal_nan": True}, {"rtol": 0.0, "atol": 0.0}, {"rtol": 0.2},
                   {"atol": 1e-3}):
        for x, y in ((a, b), (a.astype(np.float32), b.astype(np.float32))):
            both(lambda s, o, kw=kwargs: P.isclose(s, o, **kw),
                 lambda s, o, kw=kwargs: torch.isclose(s, o, **kw), x, y)
            both(lambda s, o, kw=kwargs: s.allclose(o, **kw),
                 lambda s, o, kw=kwargs: s.allclose(o, **kw), x, y)
    ints = (np.array([3, 4, 100]), np.array([4, 4, 101]))
    both(lambda s, o: P.isclose(s, o, rtol=0, atol=1), lambda s, o: torch.isclose(
        s, o, rtol=0, atol=1), *ints)
    both(P.isclose, torch.isclose, INPUTS["bool"], INPUTS["bool"][::-1].copy())
    both(P.isclose, torch.isclose, ints[0], ints[0].astype(np.float32))  # dtypes differ
    both(P.isclose, torch.isclose, a, 1.0)  # a number: TypeError
    both(lambda s, o: P.isclose(s, o, rtol=-1), lambda s, o: torch.isclose(s, o, rtol=-1), a, b)
    both(P.isclose, torch.isclose, np.ones((2, 1)), np.ones(3))  # broadcast
    for x, y in ((a, a), (a[:1], a[:1]), (ints[0], ints[0].astype(np.float64)), (a, b),
                 (np.ones(2), np.ones(3)), (np.array([1.0]), np.array([True]))):
        both(P.equal, torch.equal, x, y)
        both(lambda s, o: s.equal(o), lambda s, o: s.equal(o), x, y)


@pytest.mark.parametrize("name", ["all", "any"])
def test_all_any(name):
    x = np.array([[[0.0, 1.0, 2.0], [3.0, 0.0, 5.0]], [[1.0, 1.0, 1.0], [0.0, 0.0, 0.0]]])
    for arr in (x, x.astype(np.uint8), x.astype(bool), x.astype(np.int64), np.array(2.0)):
        both(getattr(P, name), getattr(torch, name), arr)
        dims = [0, -1] if arr.ndim == 0 else [0, 2, -1, (0, 2), (1,), ()]
        for dim in dims:
            for keepdim in (False, True):
                both(lambda t, d=dim, k=keepdim: getattr(P, name)(t, d, k),
                     lambda t, d=dim, k=keepdim: getattr(torch, name)(t, d, k), arr)
                both(lambda t, d=dim, k=keepdim: getattr(t, name)(dim=d, keepdim=k),
                     lambda t, d=dim, k=keepdim: getattr(t, name)(dim=d, keepdim=k), arr)
    both(lambda t: getattr(t, name)(3), lambda t: getattr(t, name)(3), x)  # IndexError
    both(lambda t: getattr(t, name)((0, 0)), lambda t: getattr(t, name)((0, 0)), x)
    # NumPy's spellings still work on the method
    got = getattr(gf.tensor(x), name)(axis=1, keepdims=True)
    same(got, getattr(torch.tensor(x), name)(1, True))


# The names this family adds at gf's top level (the lead exports them), with their functions.
EXPORTS = {
    **{n: getattr(M, n) for n in UNARY + ["atan2", "clamp", "clip", "lerp"]},
    "arcsin": M.asin, "arccos": M.acos, "arctan": M.atan, "arctan2": M.atan2,
    **{n: getattr(RD, n) for n in ["round", "floor", "ceil", "trunc", "fix", "frac", "sign",
                                   "sgn", "remainder", "fmod", "floor_divide"]},
    **{n: getattr(P, n) for n in ["isclose", "allclose", "isnan", "isinf", "isposinf",
                                  "isneginf", "isfinite", "nan_to_num", "equal", "all", "any"]},
}


def _torch_positional(name: str) -> list[str]:
    """The positional parameter names of torch.<name>, from its docstring's longest form."""
    import re

    forms = re.findall(rf"^\s*(?:.. function:: )?{name}\((.*?)\)", getattr(torch, name).__doc__,
                       re.M)
    best = []
    for form in forms:
        names = []
        for part in form.split(","):
            part = part.strip()
            if part.startswith("*"):
                break
            names.append(re.split(r"[:=]", part)[0].strip())
        best = max(best, names, key=len)
    return best


@pytest.mark.parametrize("name", sorted(EXPORTS))
def test_positional_parameters_are_pytorchs(name):
    import inspect

    sig = inspect.signature(EXPORTS[name])
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    mine = [p.name for p in sig.parameters.values() if p.kind in kinds]
    assert mine == _torch_positional(name), (mine, _torch_positional(name))
