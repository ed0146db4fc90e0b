"""Products, einsum, norms and gradflow.linalg against PyTorch: values, gradients, dtypes,
shapes, exception types, and positional signatures."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

import gradflow as gf
import gradflow.linalg as LA
from gradflow.ops import linalg as L
from gradflow.ops import norms as N

torch = pytest.importorskip("torch")

INF = float("inf")
RNG = np.random.default_rng(0)


def _pair(*arrays, grad=True):
    ts = [torch.tensor(a, requires_grad=grad and a.dtype.kind == "f") for a in arrays]
    gs = [gf.tensor(a, dtype=a.dtype, requires_grad=grad and a.dtype.kind == "f")
          for a in arrays]
    return ts, gs


def _same(ours, theirs, rtol=1e-10, atol=1e-12):
    assert tuple(ours.shape) == tuple(theirs.shape)
    assert str(ours.dtype) == str(theirs.dtype).replace("torch.", "")
    np.testing.assert_allclose(ours.numpy(), theirs.detach().numpy(), rtol=rtol, atol=atol)


def _check(torch_fn, gf_fn, *arrays):
    """Forward and the gradient of a random projection of the output, for every float input."""
    ts, gs = _pair(*arrays)
    ty, gy = torch_fn(*ts), gf_fn(*gs)
    _same(gy, ty)
    if not ty.requires_grad:
        return
    w = RNG.standard_normal(tuple(ty.shape))
    (ty * torch.tensor(w)).sum().backward()
    (gy * gf.tensor(w, dtype="float64")).sum().backward()
    for t, g in zip(ts, gs):
        if t.grad is None:
            assert g.grad is None
        else:
            _same(g.grad, t.grad, rtol=1e-8, atol=1e-10)


def R(*shape):
    return RNG.standard_normal(shape)


PRODUCTS = [  # (name, fn(module, *tensors) with module torch or gradflow.ops.linalg, inputs)
    ("dot_method", lambda m, a, b: a.dot(b), (R(4), R(4))),
    ("vdot", lambda m, a, b: m.vdot(a, b), (R(4), R(4))),
    ("outer", lambda m, a, b: m.outer(a, b), (R(3), R(2))),
    ("ger_method", lambda m, a, b: a.ger(b), (R(3), R(2))),
    ("inner", lambda m, a, b: m.inner(a, b), (R(2, 3), R(4, 3))),
    ("inner_scalar", lambda m, a, b: m.inner(a, b), (R(), R(2, 3))),
    ("mv_method", lambda m, a, b: a.mv(b), (R(2, 3), R(3))),
    ("addmm", lambda m, c, a, b: m.addmm(c, a, b, beta=0.3, alpha=-2),
     (R(1, 4), R(3, 2), R(2, 4))),
    ("addmv_method", lambda m, c, a, b: c.addmv(a, b, alpha=3), (R(3), R(3, 2), R(2))),
    ("addbmm", lambda m, c, a, b: m.addbmm(c, a, b, beta=2), (R(3, 5), R(2, 3, 4), R(2, 4, 5))),
    ("baddbmm_method", lambda m, c, a, b: c.baddbmm(a, b, beta=0.5, alpha=0.5),
     (R(2, 1, 5), R(2, 3, 4), R(2, 4, 5))),
    ("kron", lambda m, a, b: m.kron(a, b), (R(2, 1, 3), R(3, 2))),
    ("kron_method", lambda m, a, b: a.kron(b), (R(2), R(3, 2))),
    ("tensordot_lists", lambda m, a, b: m.tensordot(a, b, dims=([2, 0], [0, 1])),
     (R(2, 3, 4), R(4, 2, 5))),
    ("tensordot_0", lambda m, a, b: m.tensordot(a, b, 0), (R(2, 3), R(4))),
    ("tensordot_default", lambda m, a, b: m.tensordot(a, b), (R(2, 3, 4), R(3, 4, 2))),
]


@pytest.mark.parametrize("name,fn,arrays", PRODUCTS, ids=[p[0] for p in PRODUCTS])
def test_products_match_torch(name, fn, arrays):
    _check(lambda *t: fn(torch, *t), lambda *t: fn(L, *t), *arrays)


def test_integer_products_and_promotion_follow_torch():
    i, f = np.array([1, 2, 3]), np.array([0.5, 1.0, 2.0], dtype=np.float32)
    _check(torch.dot, L.dot, i, i)
    _check(torch.outer, L.outer, i, f)  # outer and kron promote
    _check(torch.kron, L.kron, i, f)
    m = np.arange(6).reshape(2, 3)
    _check(lambda a, b: torch.einsum("ij,jk->ik", a, b), lambda a, b: L.einsum("ij,jk->ik", a, b),
           m, m.T.copy())


def test_addmm_with_beta_zero_ignores_nan_input_and_gives_it_zero_grad():
    c = np.full((2, 2), np.nan)
    (tc, ta, tb), (gc, ga, gb) = _pair(c, R(2, 3), R(3, 2))
    ty, gy = torch.addmm(tc, ta, tb, beta=0), L.addmm(gc, ga, gb, beta=0)
    _same(gy, ty)
    ty.sum().backward()
    gy.sum().backward()
    _same(gc.grad, tc.grad)


@pytest.mark.parametrize("call", [
    lambda m: m.dot(np.ones(3, dtype=np.float32), np.ones(3)),
    lambda m: m.dot(np.ones(3), np.ones(4)),
    lambda m: m.dot(np.ones((3, 1)), np.ones(3)),
    lambda m: m.vdot(np.ones((3, 1)), np.ones(3)),
    lambda m: m.inner(np.ones(3, dtype=np.float32), np.ones(3)),
    lambda m: m.inner(np.ones((2, 3)), np.ones((2, 2))),
    lambda m: m.outer(np.ones((2, 2)), np.ones(3)),
    lambda m: m.mv(np.ones((2, 2)), np.ones(3)),
    lambda m: m.mv(np.ones(2), np.ones(2)),
    lambda m: m.addmm(np.ones(3), np.ones((2, 2)), np.ones((2, 2))),
    lambda m: m.addmm(np.ones(2), np.ones((2, 3)), np.ones((2, 2))),
    lambda m: m.addmm(np.ones(2), np.ones((2, 2)), np.ones((2, 2), dtype=np.float32)),
    lambda m: m.baddbmm(np.ones(2), np.ones((2, 2, 3)), np.ones((3, 3, 2))),
    lambda m: m.tensordot(np.ones((2, 2)), np.ones((3, 3)), 1),
    lambda m: m.tensordot(np.ones((2, 2)), np.ones((2, 2)), -1),
    lambda m: m.tensordot(np.ones((2, 2)), np.ones((2, 2)), ([0, 1], [0])),
], ids=lambda c: "")
def test_product_errors_are_torchs_type(call):
    class Torch:
        def __getattr__(self, name):
            fn = getattr(torch, name)
            return lambda *a, **k: fn(*[torch.tensor(x) if isinstance(x, np.ndarray) else x
                                        for x in a], **k)

    class Ours:
        def __getattr__(self, name):
            fn = getattr(L, name)
            return lambda *a, **k: fn(*[gf.tensor(x, dtype=x.dtype) if isinstance(x, np.ndarray)
                                        else x for x in a], **k)

    with pytest.raises(Exception) as theirs:
        call(Torch())
    with pytest.raises(Exception) as ours:
        call(Ours())
    assert isinstance(ours.value, type(theirs.value)), (ours.value, theirs.value)


EINSUMS = [
    ("ij,jk->ik", [(2, 3), (3, 4)]),
    ("...ij,...jk", [(2, 1, 2, 3), (4, 3, 5)]),
    ("ij,jk", [(2, 1), (3, 4)]),
    ("ii", [(3, 3)]),
    ("ii->i", [(3, 3)]),
    ("bA", [(2, 3)]),
    (" b A -> A b ", [(2, 3)]),
    ("...ij->ij", [(5, 2, 3)]),
    ("i...j,j", [(5, 2, 3), (3,)]),
    ("...,...", [(2, 3), (4, 1, 3)]),
    ("ij->", [(2, 3)]),
    ("bij,bjk,bkl->bil", [(2, 2, 3), (2, 3, 4), (1, 4, 2)]),
    ("iij->ji", [(3, 3, 2)]),
]


@pytest.mark.parametrize("eq,shapes", EINSUMS, ids=[e[0] for e in EINSUMS])
def test_einsum_matches_torch(eq, shapes):
    arrays = [R(*s) for s in shapes]
    _check(lambda *t: torch.einsum(eq, *t), lambda *t: L.einsum(eq, *t), *arrays)


def test_einsum_takes_a_list_and_is_twice_differentiable():
    a, b = R(3, 4), R(4, 2)
    (ta, tb), (ga, gb) = _pair(a, b)
    ty, gy = torch.einsum("ij,jk->ik", [ta, tb]), L.einsum("ij,jk->ik", [ga, gb])
    tg = torch.autograd.grad((ty ** 2).sum(), ta, create_graph=True)[0]
    gg = gf.grad((gy ** 2).sum(), ga, create_graph=True)[0]
    _same(gg, tg)
    _same(gf.grad(gg.sum(), gb)[0], torch.autograd.grad(tg.sum(), tb)[0])


@pytest.mark.parametrize("eq,shapes,words", [
    ("ij,jk->ik", [(2, 3), (4, 5)], "subscript j has size 4 for operand 1"),
    ("ij,jk->ik", [(2, 3)], "fewer operands"),
    ("i,i", [(2,), (2,), (2,)], "more operands"),
    ("ijk,jk->ik", [(2, 3), (3, 3)], "does not match the number of dimensions (2) for operand 0"),
    ("ij,jk->iz", [(2, 3), (3, 3)], "output subscript z"),
    ("ij->ii", [(2, 2)], "appears more than once"),
    ("i.j", [(2, 2)], "not part of any ellipsis"),
    ("...i...", [(2, 2)], "already found"),
    ("i1", [(2, 2)], "subscripts must be in [a-zA-Z]"),
    ("ii", [(2, 3)], "subscript i is repeated for operand 0"),
])
def test_einsum_errors_name_the_subscript_and_shapes(eq, shapes, words):
    with pytest.raises((RuntimeError, ValueError)) as theirs:
        torch.einsum(eq, *[torch.ones(s) for s in shapes])
    with pytest.raises(type(theirs.value) if type(theirs.value) is RuntimeError
                       else RuntimeError, match=None) as ours:
        L.einsum(eq, *[gf.ones(*s) for s in shapes])
    assert words in str(ours.value) and "einsum" in str(ours.value)


def test_einsum_dtype_mismatch_and_sublist_form_are_errors():
    with pytest.raises(RuntimeError, match="same dtype"):
        L.einsum("i,i", gf.ones(2), gf.ones(2, dtype=gf.float64))
    with pytest.raises(TypeError, match="sublist"):
        L.einsum(gf.ones(2), [0])


VECTOR_ORDS = [2, 1, 0, INF, -INF, 3, 0.5, 1.5, -1]


@pytest.mark.parametrize("ord", VECTOR_ORDS)
@pytest.mark.parametrize("dim,keepdim", [(None, False), (1, True), ((0, 2), False), (-1, False)])
def test_vector_norm_matches_torch_with_zero_rows(ord, dim, keepdim):
    x = R(3, 4, 5)
    x[0, 0, :] = 0  # a zero row: the 2-norm's gradient is its subgradient 0, not NaN
    x[1, :, 0] = 0
    if ord < 0 and dim is None:
        return
    _check(lambda t: torch.linalg.vector_norm(t, ord, dim, keepdim),
           lambda t: N.vector_norm(t, ord, dim, keepdim), x)


def test_norm_gradient_at_zero_is_zero_and_second_order_finite():
    x = gf.zeros(3, dtype=gf.float64, requires_grad=True)
    g = gf.grad(N.vector_norm(x), x, create_graph=True)[0]
    np.testing.assert_array_equal(g.numpy(), 0)
    (h,) = gf.grad(g.sum(), x, allow_unused=True)
    assert h is None or np.isfinite(h.numpy()).all()


@pytest.mark.parametrize("scale,dtype", [(1e-200, "float64"), (1e200, "float64"),
                                         (1e-30, "float32"), (1e30, "float32"),
                                         (1e-150, "float64"), (1e15, "float32")])
@pytest.mark.filterwarnings("ignore:overflow:RuntimeWarning")
def test_norms_of_tiny_and_huge_vectors_are_torchs(scale, dtype):
    """Like torch, no rescaling: |x|² underflows to 0 or overflows to inf where it does."""
    x = (np.array([3.0, 4.0]) * scale).astype(dtype)
    _check(torch.linalg.vector_norm, N.vector_norm, x)


@pytest.mark.parametrize("ord", ["fro", "nuc", 1, -1, 2, -2, INF, -INF])
@pytest.mark.parametrize("dim,keepdim", [((-2, -1), False), ((0, 2), True), ((2, 0), False)])
def test_matrix_norm_matches_torch(ord, dim, keepdim):
    _check(lambda t: torch.linalg.matrix_norm(t, ord, dim, keepdim),
           lambda t: N.matrix_norm(t, ord, dim, keepdim), R(3, 4, 5))


@pytest.mark.parametrize("args", [
    dict(), dict(ord=2), dict(ord="fro"), dict(ord=INF), dict(ord=1, dim=0),
    dict(ord=None, dim=(0, 1)), dict(ord="nuc", dim=(1, 0), keepdim=True), dict(dim=1),
])
@pytest.mark.parametrize("shape", [(4,), (3, 4)])
def test_linalg_norm_dispatches_as_torch(args, shape):
    x = R(*shape)
    try:
        torch.linalg.norm(torch.tensor(x), **args)
    except (RuntimeError, IndexError) as exc:
        with pytest.raises(type(exc)):
            LA.norm(gf.tensor(x, dtype="float64"), **args)
        return
    _check(lambda t: torch.linalg.norm(t, **args), lambda t: LA.norm(t, **args), x)


@pytest.mark.parametrize("args", [
    dict(), dict(p=2), dict(p="fro", dim=(0, 1)), dict(p=1, dim=1, keepdim=True),
    dict(p="nuc"), dict(p=INF, dim=0), dict(p=None), dict(dim=2),
])
def test_legacy_norm_and_the_method(args):
    x = R(3, 4, 2)
    if args.get("p") == "nuc":
        x = x[0]
    _check(lambda t: torch.norm(t, **args), lambda t: N.norm(t, **args), x)
    _check(lambda t: t.norm(**args), lambda t: t.norm(**args), x)


def test_norm_dtypes_and_errors_follow_torch():
    with pytest.raises(RuntimeError, match="floating point"):
        N.vector_norm(gf.tensor([1, 2]))
    y = N.vector_norm(gf.tensor([3.0, 4.0]), dtype=gf.float64)
    assert y.dtype == gf.float64 and y.item() == 5.0
    with pytest.raises(RuntimeError, match="ord must be a number"):
        N.vector_norm(gf.ones(3), "fro")
    with pytest.raises(RuntimeError, match="Order 3"):
        N.matrix_norm(gf.ones(2, 2), 3)
    with pytest.raises(RuntimeError, match="at least 2 dimensions"):
        N.matrix_norm(gf.ones(2))
    with pytest.raises(RuntimeError, match="must be 1D or 2D"):
        LA.norm(gf.ones(2, 2, 2), 2)
    with pytest.raises(IndexError):
        N.vector_norm(gf.ones(2, 2), 2, 2)


def _spd(t):
    return t @ t.mT + 3 * (torch.eye(t.shape[-1], dtype=t.dtype) if isinstance(t, torch.Tensor)
                           else gf.eye(t.shape[-1], dtype=t.dtype))


DECOMPOSITIONS = [
    ("det", lambda m, a: m.det(a), (2, 3, 3)),
    ("inv", lambda m, a: m.inv(a), (2, 3, 3)),
    ("cholesky", lambda m, a: m.cholesky(_spd(a)), (2, 3, 3)),
    ("cholesky_upper", lambda m, a: m.cholesky(_spd(a), upper=True), (3, 3)),
    ("solve", lambda m, a: m.solve(a[..., :3], a[..., 3:]), (2, 3, 5)),
    ("solve_vector", lambda m, a: m.solve(a[..., :3], a[..., 3]), (2, 3, 4)),
    ("solve_right", lambda m, a: m.solve(a[:3], a[3:], left=False), (5, 3)),
    ("svdvals", lambda m, a: m.svdvals(a), (2, 4, 3)),
    ("svd", lambda m, a: (lambda u, s, v: (u * s.sin()[..., None, :]) @ v)(
        *m.svd(a, full_matrices=False)), (2, 3, 5)),
    ("vecdot", lambda m, a: m.vecdot(a, a * 2, dim=0), (3, 4)),
    ("slogdet", lambda m, a: m.slogdet(a).logabsdet * m.slogdet(a).sign, (2, 3, 3)),
    ("eigh", lambda m, a: (lambda w, q: (q * w.sin()[..., None, :]) @ q.mT)(*m.eigh(a + a.mT)),
     (2, 3, 3)),
    ("eigh_upper", lambda m, a: (lambda w, q: q.abs() + w)(*m.eigh(a, UPLO="U")), (4, 4)),
    ("eigvalsh", lambda m, a: m.eigvalsh(a @ a.mT), (2, 3, 4)),
    ("multi_dot", lambda m, a: m.multi_dot([a[0], a[1:].mT, a[1:] * 2, a[0]]), (3, 3)),
    ("matrix_power", lambda m, a: m.matrix_power(a, 5), (2, 3, 3)),
    ("matrix_power_neg", lambda m, a: m.matrix_power(_spd(a), -2),
     (3, 3)),
    ("qr", lambda m, a: (lambda q, r: q.sin() + r.sum())(*m.qr(a)), (2, 5, 3)),
    ("qr_r", lambda m, a: m.qr(a.detach(), "r")[1], (4, 3)),
    ("qr_complete", lambda m, a: m.qr(a.detach(), mode="complete")[0], (4, 3)),
]


@pytest.mark.parametrize("name,fn,shape", DECOMPOSITIONS, ids=[d[0] for d in DECOMPOSITIONS])
def test_decompositions_match_torch(name, fn, shape):
    _check(lambda t: fn(torch.linalg, t), lambda t: fn(LA, t), R(*shape))


def test_matrix_power_zero_is_the_identity():
    y = LA.matrix_power(gf.ones(2, 3, 3), 0)
    np.testing.assert_array_equal(y.numpy(), np.broadcast_to(np.eye(3), (2, 3, 3)))


def test_svd_full_matrices_forward_and_decomposition_errors():
    a = R(4, 2)
    u, s, vh = LA.svd(gf.tensor(a, dtype="float64"))
    assert tuple(u.shape) == (4, 4) and tuple(vh.shape) == (2, 2)
    np.testing.assert_allclose((u[:, :2] * s) @ vh, a, atol=1e-12)
    with pytest.raises(RuntimeError, match="full_matrices=False"):
        LA.svd(gf.tensor(a, dtype="float64", requires_grad=True))
    with pytest.raises(RuntimeError, match="singular"):
        LA.inv(gf.zeros(2, 2))
    with pytest.raises(RuntimeError, match="positive-definite"):
        LA.cholesky(-gf.eye(2))
    with pytest.raises(RuntimeError, match="square"):
        LA.det(gf.ones(2, 3))
    with pytest.raises(RuntimeError, match="floating point"):
        LA.inv(gf.tensor([[1, 0], [0, 1]]))
    with pytest.raises(RuntimeError, match="mode='reduced'"):
        LA.qr(gf.ones(2, 3, requires_grad=True))
    with pytest.raises(RuntimeError, match="UPLO"):
        LA.eigh(gf.eye(2), "X")
    with pytest.raises(RuntimeError, match="cannot be multiplied"):
        LA.multi_dot([gf.ones(2, 3), gf.ones(2, 3)])
    with pytest.raises(RuntimeError, match="unrecognized mode"):
        LA.qr(gf.ones(2, 2), "full")


SIGNATURES = [(L.tensordot, torch.tensordot), (N.norm, torch.norm),
              (N._norm_method, torch.Tensor.norm)]
TEXT_SIGNATURES = {  # torch's builtins document their positional parameters in __doc__
    n: getattr(L, n) for n in ("dot", "vdot", "outer", "ger", "inner", "mv", "addmm", "addmv",
                               "addbmm", "baddbmm", "kron")}


def _positional(sig: inspect.Signature) -> list[str]:
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return [p.name for p in sig.parameters.values() if p.kind in kinds and p.name != "self"]


def _doc_positional(doc: str) -> list[str]:
    head = doc.strip().split("\n")[0]
    head = head[head.index("(") + 1:head.rindex(") ->") if " ->" in head else head.rindex(")")]
    params, depth, cur = [], 0, ""
    for c in head:  # split at top-level commas: "dim=(-2, -1)" is one parameter
        depth += (c in "([") - (c in ")]")
        if c == "," and depth == 0:
            params.append(cur)
            cur = ""
        else:
            cur += c
    params.append(cur)
    out = []
    for p in params:
        p = p.strip().split("=")[0].split(":")[0]
        if p == "*":
            break
        out.append(p)
    return out


@pytest.mark.parametrize("ours,theirs", SIGNATURES, ids=lambda f: getattr(f, "__name__", ""))
def test_positional_parameters_are_torchs(ours, theirs):
    mine = _positional(inspect.signature(ours))
    torchs = _positional(inspect.signature(theirs))
    assert mine == torchs[:len(mine)]


@pytest.mark.parametrize("name", sorted(TEXT_SIGNATURES))
def test_documented_positional_parameters_are_torchs(name):
    mine = _positional(inspect.signature(TEXT_SIGNATURES[name]))
    assert mine == _doc_positional(getattr(torch, name).__doc__)


def test_linalg_signatures_follow_torchs_docs():
    for name in ("vector_norm", "matrix_norm", "norm", "det", "inv", "solve", "cholesky", "svd",
                 "svdvals", "qr", "slogdet", "eigh", "eigvalsh", "multi_dot"):
        mine = _positional(inspect.signature(getattr(LA, name)))
        theirs = _doc_positional(getattr(torch.linalg, name).__doc__.replace("linalg.", ""))
        assert mine == theirs, name
