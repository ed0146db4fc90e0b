"""Rearranging, triangular and creation ops against PyTorch: flip, roll, tile,
repeat_interleave, chunk, split, unbind, narrow, movedim/moveaxis, swapaxes/swapdims, tril,
triu, diag, diagonal, diag_embed, trace, linspace, logspace, arange, meshgrid (values, dtypes,
gradients, errors)."""

from __future__ import annotations

import inspect
import warnings

import numpy as np
import pytest
from test_scan_torch import _DT, _pair, raises_like, same

import gradflow as gf
from gradflow import creation as C
from gradflow.ops import rearrange as A
from gradflow.ops import scan as S
from gradflow.ops import triangular as T

torch = pytest.importorskip("torch")

X = np.arange(24.0).reshape(2, 3, 4) - 7.5
M = np.arange(1.0, 13.0).reshape(3, 4)

# (label, call): each is run on gradflow (module ``ns``) and on torch with the same arguments
CALLS = [
    ("flip", lambda ns, x: ns.flip(x, (0, 2))),
    ("flip_neg", lambda ns, x: ns.flip(x, (-1,))),
    ("flip_none", lambda ns, x: ns.flip(x, ())),
    ("roll_flat", lambda ns, x: ns.roll(x, 7)),
    ("roll_dims", lambda ns, x: ns.roll(x, (1, -5), (0, 2))),
    ("roll_same_dim", lambda ns, x: ns.roll(x, (1, 2), (1, 1))),
    ("roll_tuple_one", lambda ns, x: ns.roll(x, (2,), None)),
    ("tile_short", lambda ns, x: ns.tile(x, (2,))),
    ("tile_long", lambda ns, x: ns.tile(x, (2, 1, 1, 3))),
    ("tile_zero", lambda ns, x: ns.tile(x, (0, 1))),
    ("repeat_interleave_flat", lambda ns, x: ns.repeat_interleave(x, 2)),
    ("repeat_interleave_dim", lambda ns, x: ns.repeat_interleave(x, 3, -1)),
    ("repeat_interleave_counts",
     lambda ns, x: ns.repeat_interleave(x, ns.tensor([2, 0, 1]), 1)),
    ("repeat_interleave_count_1", lambda ns, x: ns.repeat_interleave(x, ns.tensor([2]), 1)),
    ("repeat_interleave_0d_count", lambda ns, x: ns.repeat_interleave(x, ns.tensor(2), 0)),
    ("repeat_interleave_output_size",
     lambda ns, x: ns.repeat_interleave(x, 2, 0, output_size=4)),
    ("chunk", lambda ns, x: ns.chunk(x, 3, 2)),
    ("chunk_more", lambda ns, x: ns.chunk(x, 5, -1)),
    ("split_size", lambda ns, x: ns.split(x, 3, 2)),
    ("split_sizes", lambda ns, x: ns.split(x, [1, 0, 2], 1)),
    ("split_big", lambda ns, x: ns.split(x, 10)),
    ("unbind", lambda ns, x: ns.unbind(x, 1)),
    ("unbind_neg", lambda ns, x: ns.unbind(x, -1)),
    ("narrow", lambda ns, x: ns.narrow(x, 2, 1, 2)),
    ("narrow_neg_start", lambda ns, x: ns.narrow(x, -1, -3, 2)),
    ("narrow_end", lambda ns, x: ns.narrow(x, 1, 3, 0)),
    ("narrow_tensor_start", lambda ns, x: ns.narrow(x, 2, ns.tensor(1), 3)),
    ("movedim", lambda ns, x: ns.movedim(x, 0, 2)),
    ("movedim_many", lambda ns, x: ns.movedim(x, (0, -1), (2, 0))),
    ("moveaxis", lambda ns, x: ns.moveaxis(x, [1], [-1])),
    ("swapaxes", lambda ns, x: ns.swapaxes(x, 0, -1)),
    ("swapdims", lambda ns, x: ns.swapdims(x, 1, 2)),
    ("tril", lambda ns, x: ns.tril(x, 1)),
    ("triu", lambda ns, x: ns.triu(x, -1)),
    ("tril_far", lambda ns, x: ns.tril(x, -9)),
    ("diagonal", lambda ns, x: ns.diagonal(x, 0, 1, 2)),
    ("diagonal_offset", lambda ns, x: ns.diagonal(x, 1, 2, 0)),
    ("diagonal_neg", lambda ns, x: ns.diagonal(x, -1, -1, 1)),
    ("diagonal_out", lambda ns, x: ns.diagonal(x, 10, 1, 2)),
    ("diag_embed", lambda ns, x: ns.diag_embed(x)),
    ("diag_embed_dims", lambda ns, x: ns.diag_embed(x, 1, 0, 2)),
    ("diag_embed_reversed", lambda ns, x: ns.diag_embed(x, -2, 3, 1)),
]

MATRIX_CALLS = [
    ("diag_of_matrix", lambda ns, x: ns.diag(x, 1)),
    ("diag_of_matrix_neg", lambda ns, x: ns.diag(x, -2)),
    ("diag_of_matrix_out", lambda ns, x: ns.diag(x, 5)),
    ("diag_of_vector", lambda ns, x: ns.diag(x[0], -1)),
    ("trace", lambda ns, x: ns.trace(x)),
    ("fliplr", lambda ns, x: ns.fliplr(x)),
    ("flipud", lambda ns, x: ns.flipud(x)),
]


class _GF:
    """gradflow's functions under torch's names (the modules plus gf.tensor)."""

    def __getattr__(self, name):
        for module in (A, T, S, C, gf):
            if hasattr(module, name):
                return getattr(module, name)
        raise AttributeError(name)


GF = _GF()


def _outputs(out):
    return out if isinstance(out, tuple) else (out,)


def _check(call, x, dtype="float64"):
    (g, t) = _pair(x.astype(dtype), requires_grad=dtype == "float64")
    ours, theirs = call(GF, g), call(torch, t)
    same(ours, theirs, rtol=0, atol=0)
    if dtype != "float64":
        return
    ours, theirs = _outputs(ours), _outputs(theirs)
    ws = [RNG.standard_normal(tuple(o.shape)) for o in theirs]
    if not theirs:  # no outputs (unbind of an empty dim): nothing to differentiate
        return
    gg = gf.grad(ours, [g], [gf.tensor(w) for w in ws])
    tg = torch.autograd.grad(theirs, [t], [torch.tensor(w) for w in ws])
    same(gg[0], tg[0], rtol=1e-12, atol=1e-12)


RNG = np.random.default_rng(1)


@pytest.mark.parametrize("label,call", CALLS, ids=[c[0] for c in CALLS])
def test_ops_match_torch(label, call):
    _check(call, X)
    _check(call, X, "int32")


@pytest.mark.parametrize("label,call", MATRIX_CALLS, ids=[c[0] for c in MATRIX_CALLS])
def test_matrix_ops_match_torch(label, call):
    _check(call, M)
    _check(call, M, "int32" if label != "trace" else "uint8")


def test_bool_and_empty_inputs_match_torch():
    b = np.array([[True, False, True], [True, True, False]])
    for call in (lambda ns, x: ns.tril(x), lambda ns, x: ns.triu(x, 1),
                 lambda ns, x: ns.flip(x, (1,)), lambda ns, x: ns.roll(x, 1, 1),
                 lambda ns, x: ns.diagonal(x), lambda ns, x: ns.diag_embed(x),
                 lambda ns, x: ns.repeat_interleave(x, 2, 0)):
        _check(call, b, "bool")
    for shape in [(0,), (0, 3), (2, 0)]:
        e = np.zeros(shape)
        for call in (lambda ns, x: ns.flip(x, (0,)), lambda ns, x: ns.roll(x, 1, 0),
                     lambda ns, x: ns.tile(x, (2, 2)), lambda ns, x: ns.chunk(x, 3),
                     lambda ns, x: ns.split(x, 2), lambda ns, x: ns.split(x, 0)
                     if x.shape[0] == 0 else ns.split(x, 1),
                     lambda ns, x: ns.unbind(x), lambda ns, x: ns.repeat_interleave(x, 2, 0),
                     lambda ns, x: ns.narrow(x, 0, 0, 0), lambda ns, x: ns.diag_embed(x)):
            _check(call, e)
        if len(shape) == 2:
            for call in (lambda ns, x: ns.tril(x), lambda ns, x: ns.diagonal(x),
                         lambda ns, x: ns.trace(x), lambda ns, x: ns.diag(x)):
                _check(call, e)
    s = np.array(3.0)
    for call in (lambda ns, x: ns.flip(x, (0,)), lambda ns, x: ns.roll(x, 1),
                 lambda ns, x: ns.repeat_interleave(x, 2), lambda ns, x: ns.movedim(x, 0, -1),
                 lambda ns, x: ns.tile(x, (2, 3))):
        _check(call, s)


def test_repeat_interleave_of_counts_gives_indices():
    same(A.repeat_interleave(gf.tensor([1, 2, 0, 3])),
         torch.repeat_interleave(torch.tensor([1, 2, 0, 3])))


def test_methods_match_torch():
    (g, t) = _pair(X)
    same(g.flip(0, 1), t.flip(0, 1))
    same(g.flip((2,)), t.flip((2,)))
    same(g.roll(2, 1), t.roll(2, 1))
    same(g.tile(2, 2), t.tile(2, 2))
    same(g.tile((1, 2)), t.tile((1, 2)))
    same(g.repeat_interleave(2, dim=1), t.repeat_interleave(2, dim=1))
    same(g.chunk(2, dim=2), t.chunk(2, dim=2))
    same(g.split(2, -1), t.split(2, -1))
    same(g.split([1, 2], dim=1), t.split([1, 2], dim=1))
    same(g.unbind(0), t.unbind(0))
    same(g.narrow(1, 1, 1), t.narrow(1, 1, 1))
    same(g.movedim(0, -1), t.movedim(0, -1))
    same(g.moveaxis((0, 1), (1, 0)), t.moveaxis((0, 1), (1, 0)))
    same(g.swapdims(0, 2), t.swapdims(0, 2))
    same(g.tril(), t.tril())
    same(g.triu(diagonal=1), t.triu(diagonal=1))
    same(g.diagonal(offset=1, dim1=0, dim2=2), t.diagonal(offset=1, dim1=0, dim2=2))
    same(g.diag_embed(), t.diag_embed())
    (m, tm) = _pair(M)
    same(m.diag(), tm.diag())
    same(m.trace(), tm.trace())
    same(m.fliplr(), tm.fliplr())


def test_in_place_triangles_match_torch():
    (g, t) = _pair(M.copy())
    v = g._version
    assert g.tril_(1) is g
    t.tril_(1)
    same(g, t)
    assert g._version > v
    g.triu_(-1)
    t.triu_(-1)
    same(g, t)
    leaf = gf.tensor(M, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf"):
        leaf.triu_()


ERRORS = [
    lambda ns, x: ns.flip(x, (0, 0)),
    lambda ns, x: ns.flip(x, (3,)),
    lambda ns, x: ns.roll(x, (1, 2)),
    lambda ns, x: ns.roll(x, (1, 2), (0,)),
    lambda ns, x: ns.roll(x, 1, 3),
    lambda ns, x: ns.tile(x, (-1,)),
    lambda ns, x: ns.repeat_interleave(x, -1),
    lambda ns, x: ns.repeat_interleave(x, ns.tensor([1, 2]), 1),
    lambda ns, x: ns.repeat_interleave(x, ns.tensor([1, -2]), 0),
    lambda ns, x: ns.repeat_interleave(x, ns.tensor([[1, 2]]), 0),
    lambda ns, x: ns.repeat_interleave(x, 2, 0, output_size=5),
    lambda ns, x: ns.repeat_interleave(x, 2, dim=3),
    lambda ns, x: ns.chunk(x, 0),
    lambda ns, x: ns.chunk(x, 2, 3),
    lambda ns, x: ns.split(x, [1, 1], 1),
    lambda ns, x: ns.split(x, [4, -1], 1),
    lambda ns, x: ns.split(x, 0, 1),
    lambda ns, x: ns.split(x, -1),
    lambda ns, x: ns.split(x, 1, -4),
    lambda ns, x: ns.unbind(x, 3),
    lambda ns, x: ns.narrow(x, 1, 2, 2),
    lambda ns, x: ns.narrow(x, 1, 4, 0),
    lambda ns, x: ns.narrow(x, 1, -4, 1),
    lambda ns, x: ns.narrow(x, 1, 0, -1),
    lambda ns, x: ns.narrow(x, 3, 0, 1),
    lambda ns, x: ns.narrow(x, 1, ns.tensor([1]), 1),
    lambda ns, x: ns.narrow(x, 1, ns.tensor(1.0), 1),
    lambda ns, x: ns.narrow(x, 1, 1.0, 1),
    lambda ns, x: ns.movedim(x, (0, 0), (1, 2)),
    lambda ns, x: ns.movedim(x, (0, 1), (1, 1)),
    lambda ns, x: ns.movedim(x, (0, 1), (1,)),
    lambda ns, x: ns.movedim(x, 3, 0),
    lambda ns, x: ns.movedim(x, 0, -4),
    lambda ns, x: ns.swapaxes(x, 0, 3),
    lambda ns, x: ns.swapdims(x, -4, 0),
    lambda ns, x: ns.tril(x, 1.5),
    lambda ns, x: ns.diagonal(x, 0, 1, 1),
    lambda ns, x: ns.diagonal(x, 0, 3, 1),
    lambda ns, x: ns.diag_embed(x, 0, 0, 0),
    lambda ns, x: ns.diag_embed(x, 0, 0, 4),
    lambda ns, x: ns.diag(x),
    lambda ns, x: ns.trace(x),
    lambda ns, x: ns.fliplr(x[0, 0]),
    lambda ns, x: ns.flipud(x[0, 0, 0]),
    lambda ns, x: ns.tril(x[0, 0]),
    lambda ns, x: ns.diagonal(x[0, 0]),
    lambda ns, x: ns.chunk(x[0, 0, 0], 1),
    lambda ns, x: ns.split(x[0, 0, 0], 1),
    lambda ns, x: ns.unbind(x[0, 0, 0]),
    lambda ns, x: ns.narrow(x[0, 0, 0], 0, 0, 1),
    lambda ns, x: ns.roll(x[0, 0, 0], 1, 0),
    lambda ns, x: ns.diag_embed(x[0, 0, 0]),
    lambda ns, x: ns.trace(x[0] > 0),
]


@pytest.mark.parametrize("i", range(len(ERRORS)))
def test_errors_match_torch(i):
    (g, t) = _pair(X)
    raises_like(lambda: ERRORS[i](GF, g), lambda: ERRORS[i](torch, t))


def test_error_messages_name_the_op_and_the_value():
    g = gf.tensor(X)
    with pytest.raises(IndexError, match=r"narrow: start out of range.*\[-3, 3\].*4"):
        A.narrow(g, 1, 4, 0)
    with pytest.raises(RuntimeError, match=r"split_with_sizes.*sum exactly to 3.*\[1, 1\]"):
        A.split(g, [1, 1], 1)
    with pytest.raises(RuntimeError, match=r"roll: shifts and dimensions must align"):
        A.roll(g, (1, 2), (0,))
    with pytest.raises(IndexError, match=r"movedim: dimension 3 is out of range"):
        A.movedim(g, 3, 0)
    with pytest.raises(RuntimeError, match=r"trace: expected a matrix.*dim 3"):
        T.trace(g)


# --- creation ----------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["int64", "int32", "uint8", "float32", "float64", "float16"])
def test_linspace_matches_torch_bit_for_bit(dtype):
    for steps in (0, 1, 2, 3, 4, 7, 8, 17, 30, 100):
        for start, end in ((0, 10), (0, 100), (-5, 5), (0.3, 7.9), (10, 0), (-3.3, 2.1)):
            if dtype == "uint8" and steps and min(start, end) < 0 and isinstance(start, float):
                raises_like(lambda a=start, b=end, n=steps: C.linspace(a, b, n, dtype=dtype),
                            lambda a=start, b=end, n=steps: torch.linspace(a, b, n,
                                                                           dtype=torch.uint8))
                continue
            same(C.linspace(start, end, steps, dtype=dtype),
                 torch.linspace(start, end, steps, dtype=_DT[dtype]), rtol=0, atol=0)
    same(C.linspace(0, 10, 4, dtype=gf.int64), torch.linspace(0, 10, 4, dtype=torch.int64))
    assert C.linspace(0, 10, 4, dtype=gf.int64).tolist() == [0, 3, 6, 10]
    same(C.linspace(gf.tensor(1.0), 2, gf.tensor(3)), torch.linspace(torch.tensor(1.0), 2, 3))


@pytest.mark.parametrize("dtype", ["int64", "int32", "uint8", "float32", "float64"])
def test_logspace_matches_torch_bit_for_bit(dtype):
    for steps in (0, 1, 2, 3, 5, 7, 16, 33):
        for start, end in ((0, 2), (0.5, 2), (-2, 3), (0, 10), (1, 0)):
            for base in (10.0, 2.0, 0.5):
                same(C.logspace(start, end, steps, base, dtype=dtype),
                     torch.logspace(start, end, steps, base, dtype=_DT[dtype]), rtol=0, atol=0)


def test_arange_matches_torch():
    cases = [((5,), {}), ((0, 1, 0.3), {}), ((0.5, 5, 1.5), {"dtype": "int64"}),
             ((0.5, 5, 1.5), {"dtype": "int32"}), ((2.5,), {"dtype": "int64"}),
             ((-3.7, 0, 1.1), {"dtype": "int64"}), ((5, 0, -1.5), {}),
             ((0, 3), {"dtype": "float64"}), ((0, 5), {"dtype": "float16"}),
             ((1, 4), {"dtype": "uint8"}), ((0, 1, 0.1), {}), ((1, 2, 1 / 3), {}),
             ((0, 3, True), {}), ((0, -3, -1), {}), ((1e20, 1e20 + 1), {})]
    for args, kw in cases:
        tkw = {k: _DT[v] for k, v in kw.items()}
        same(C.arange(*args, **kw), torch.arange(*args, **tkw), rtol=0, atol=0)
    same(C.arange(end=4), torch.arange(end=4))
    same(C.arange(gf.tensor(3)), torch.arange(torch.tensor(3)))
    for args, kw in [((0, 5, 0), {}), ((1, 0), {}), ((0, 10, -1), {}),
                     ((0, float("inf")), {}), ((1, 2.5, 0.5), {"dtype": "int64"}),
                     ((5,), {"dtype": "bool"})]:
        tkw = {k: _DT[v] for k, v in kw.items()}
        raises_like(lambda a=args, k=kw: C.arange(*a, **k),
                    lambda a=args, k=tkw: torch.arange(*a, **k))


def test_creation_errors_match_torch():
    for ours, theirs in [(lambda: C.linspace(0, 1, -1), lambda: torch.linspace(0, 1, -1)),
                         (lambda: C.linspace(0, 1, 2.5), lambda: torch.linspace(0, 1, 2.5)),
                         (lambda: C.linspace(0, 1, 3, dtype="bool"),
                          lambda: torch.linspace(0, 1, 3, dtype=torch.bool)),
                         (lambda: C.logspace(0, 1, -1), lambda: torch.logspace(0, 1, -1))]:
        raises_like(ours, theirs)


def test_meshgrid_matches_torch():
    (x, tx) = _pair(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    (y, ty) = _pair(np.array([4.0, 5.0]), requires_grad=True)
    (z, tz) = _pair(np.array([6.0, 7.0, 8.0, 9.0]))
    for indexing in ("ij", "xy"):
        same(C.meshgrid(x, y, z, indexing=indexing), torch.meshgrid(tx, ty, tz,
                                                                     indexing=indexing))
        same(C.meshgrid([x, y], indexing=indexing), torch.meshgrid([tx, ty], indexing=indexing))
        same(C.meshgrid(x, indexing=indexing), torch.meshgrid(tx, indexing=indexing))
        gx, gy = C.meshgrid(x, y, indexing=indexing)
        hx, hy = torch.meshgrid(tx, ty, indexing=indexing)
        ours = gf.grad((gx * gy * gy).sum(), [x, y])
        theirs = torch.autograd.grad((hx * hy * hy).sum(), [tx, ty])
        same(ours, theirs)
    (s, ts) = _pair(np.array(1.0))
    same(C.meshgrid(s, x, indexing="ij"), torch.meshgrid(ts, tx, indexing="ij"))
    with pytest.warns(UserWarning, match="indexing"):
        default = C.meshgrid(x, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        same(default, torch.meshgrid(tx, ty))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        C.meshgrid(x, y, indexing="ij")  # no warning once indexing is given
    (i, ti) = _pair(np.array([1, 2]))
    for ours, theirs in [(lambda: C.meshgrid(), lambda: torch.meshgrid()),
                         (lambda: C.meshgrid(x, i, indexing="ij"),
                          lambda: torch.meshgrid(tx, ti, indexing="ij")),
                         (lambda: C.meshgrid(x, y, indexing="yx"),
                          lambda: torch.meshgrid(tx, ty, indexing="yx")),
                         (lambda: C.meshgrid(gf.ones(2, 2), x, indexing="ij"),
                          lambda: torch.meshgrid(torch.ones(2, 2), tx, indexing="ij")),
                         (lambda: C.meshgrid(x, [1.0], indexing="ij"),
                          lambda: torch.meshgrid(tx, [1.0], indexing="ij"))]:
        raises_like(ours, theirs)


# --- signatures: the positional parameters are torch's, in torch's order ------------------

_TORCH_POSITIONAL = {
    "cumsum": ["input", "dim"], "flip": ["input"], "roll": ["input", "shifts", "dims"],
    "repeat_interleave": ["input", "repeats", "dim"], "chunk": ["input", "chunks", "dim"],
    "split": ["tensor", "split_size_or_sections", "dim"], "unbind": ["input", "dim"],
    "narrow": ["input", "dim", "start", "length"],
    "movedim": ["input", "source", "destination"],
    "moveaxis": ["input", "source", "destination"], "swapaxes": ["input", "axis0", "axis1"],
    "swapdims": ["input", "dim0", "dim1"], "tril": ["input", "diagonal"],
    "triu": ["input", "diagonal"], "diag": ["input", "diagonal"],
    "diagonal": ["input", "offset", "dim1", "dim2"],
    "diag_embed": ["input", "offset", "dim1", "dim2"], "trace": ["input"],
    "logspace": ["start", "end", "steps", "base"], "linspace": ["start", "end", "steps"],
    "arange": ["start", "end", "step"], "fliplr": ["input"], "flipud": ["input"],
}


@pytest.mark.parametrize("name", sorted(_TORCH_POSITIONAL))
def test_positional_parameters_are_torchs(name):
    fn = getattr(GF, name)
    params = [p.name for p in inspect.signature(fn).parameters.values()
              if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    want = _TORCH_POSITIONAL[name]
    assert params[:len(want)] == want, (name, params)
