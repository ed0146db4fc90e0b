"""Convolutions against torch (values, gradients, every geometry knob) and against
``jax.lax.conv_general_dilated`` in float64 to second order; finite differences; argument errors."""

import numpy as np
import pytest
from oracle import check_op, numeric_grad

import gradflow as gf
from gradflow.kernels import conv as conv_kernels
from gradflow.ops.conv import (
    conv1d,
    conv2d,
    conv3d,
    conv_transpose1d,
    conv_transpose2d,
    conv_transpose3d,
)

torch = pytest.importorskip("torch")
TF = torch.nn.functional

# (gradflow fn, torch fn, input shape, weight shape, bias?, kwargs)
CONV_CASES = [
    (conv2d, TF.conv2d, (2, 4, 7, 6), (6, 2, 3, 2), True,
     {"stride": (2, 1), "padding": (1, 2), "dilation": (1, 2), "groups": 2}),
    (conv2d, TF.conv2d, (2, 3, 8, 8), (5, 3, 3, 3), False, {"padding": "same"}),
    (conv2d, TF.conv2d, (2, 3, 8, 7), (5, 3, 4, 2), True, {"padding": "same", "dilation": 2}),
    (conv2d, TF.conv2d, (1, 2, 5, 5), (3, 2, 5, 5), True, {"padding": "valid"}),
    (conv2d, TF.conv2d, (3, 2, 9, 9), (4, 2, 3, 3), True, {"stride": 3, "padding": 1}),
    (conv2d, TF.conv2d, (2, 6, 5, 5), (6, 1, 3, 3), False, {"groups": 6, "padding": 1}),
    (conv1d, TF.conv1d, (3, 4, 11), (4, 1, 3), True, {"stride": 3, "padding": 2, "groups": 4}),
    (conv1d, TF.conv1d, (2, 3, 10), (2, 3, 4), False, {"dilation": 3}),
    (conv3d, TF.conv3d, (1, 2, 5, 4, 6), (3, 2, 2, 3, 2), True,
     {"stride": (1, 2, 1), "padding": 1}),
    (conv_transpose2d, TF.conv_transpose2d, (2, 4, 5, 4), (4, 3, 3, 2), True,
     {"stride": 2, "padding": 1, "output_padding": 1, "groups": 2}),
    (conv_transpose2d, TF.conv_transpose2d, (2, 4, 5, 4), (4, 3, 3, 3), False,
     {"output_padding": 1, "dilation": 2}),
    (conv_transpose1d, TF.conv_transpose1d, (2, 3, 7), (3, 2, 4), True,
     {"stride": 3, "padding": 2, "output_padding": 2}),
    (conv_transpose3d, TF.conv_transpose3d, (1, 2, 3, 3, 2), (2, 2, 2, 2, 2), True,
     {"stride": 2}),
]


def _ids(case):
    fn, _, xs, ws, _, kw = case
    return f"{fn.__name__}-{xs}-{ws}-{kw}"


@pytest.mark.parametrize("case", CONV_CASES, ids=[_ids(c) for c in CONV_CASES])
def test_conv_matches_torch(case):
    fn, tfn, xs, ws, has_bias, kw = case
    rng = np.random.default_rng(0)
    a, w = rng.standard_normal(xs), rng.standard_normal(ws)
    out_ch = ws[1] * kw.get("groups", 1) if "transpose" in fn.__name__ else ws[0]
    b = rng.standard_normal(out_ch) if has_bias else None
    x, W = gf.tensor(a, requires_grad=True), gf.tensor(w, requires_grad=True)
    tx, tW = torch.tensor(a, requires_grad=True), torch.tensor(w, requires_grad=True)
    B = gf.tensor(b, requires_grad=True) if has_bias else None
    tB = torch.tensor(b, requires_grad=True) if has_bias else None
    y, ty = fn(x, W, B, **kw), tfn(tx, tW, tB, **kw)
    assert y.shape == tuple(ty.shape)
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), atol=1e-10)
    cot = rng.standard_normal(tuple(ty.shape))
    (y * gf.tensor(cot)).sum().backward()
    (ty * torch.tensor(cot)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), atol=1e-10)
    np.testing.assert_allclose(W.grad.numpy(), tW.grad.numpy(), atol=1e-10)
    if has_bias:
        np.testing.assert_allclose(B.grad.numpy(), tB.grad.numpy(), atol=1e-10)


def test_unbatched_input_and_float32_as_torch():
    rng = np.random.default_rng(1)
    a, w = rng.standard_normal((3, 6, 5)).astype("float32"), rng.standard_normal(
        (2, 3, 3, 3)).astype("float32")
    y = conv2d(gf.tensor(a), gf.tensor(w), padding=1)
    ty = TF.conv2d(torch.tensor(a), torch.tensor(w), padding=1)
    assert y.shape == tuple(ty.shape) == (2, 6, 5) and y.dtype == gf.float32
    np.testing.assert_allclose(y.numpy(), ty.numpy(), rtol=1e-5, atol=1e-5)


def test_batch_chunking_gives_the_same_result(monkeypatch):
    rng = np.random.default_rng(2)
    a, w = rng.standard_normal((5, 3, 6, 6)), rng.standard_normal((4, 3, 3, 3))
    x, W = gf.tensor(a, requires_grad=True), gf.tensor(w, requires_grad=True)
    y = conv2d(x, W, padding=1, stride=2)
    (y * y).sum().backward()
    whole = (y.numpy(), x.grad.numpy(), W.grad.numpy())
    monkeypatch.setattr(conv_kernels, "COLUMN_BUDGET_BYTES", 1)  # one example per chunk
    x2, W2 = gf.tensor(a, requires_grad=True), gf.tensor(w, requires_grad=True)
    y2 = conv2d(x2, W2, padding=1, stride=2)
    (y2 * y2).sum().backward()
    for got, want in zip((y2.numpy(), x2.grad.numpy(), W2.grad.numpy()), whole):
        np.testing.assert_allclose(got, want, atol=1e-12)


# -- JAX: float64, both first-order paths and Hessian-vector products ----------------------------

def _jax_conv(x, w, stride, padding, dilation, groups):
    import jax

    nd = x.ndim - 2
    spec = {1: ("NCH", "OIH", "NCH"), 2: ("NCHW", "OIHW", "NCHW"),
            3: ("NCDHW", "OIDHW", "NCDHW")}[nd]
    return jax.lax.conv_general_dilated(x, w, stride, padding, rhs_dilation=dilation,
                                        dimension_numbers=spec, feature_group_count=groups)


JAX_CASES = [
    ((2, 4, 6, 5), (4, 2, 3, 2), (2, 1), [(1, 1), (0, 0)], (1, 2), 2),
    ((2, 3, 7), (2, 3, 3), (2,), [(2, 2)], (1,), 1),
    ((1, 2, 4, 4, 3), (2, 2, 2, 2, 2), (1, 1, 1), [(1, 1), (0, 0), (1, 1)], (1, 1, 1), 1),
]


@pytest.mark.parametrize("xs,ws,stride,pad,dil,groups", JAX_CASES)
def test_conv_second_order_matches_jax(xs, ws, stride, pad, dil, groups, device):
    import jax.numpy as jnp

    rng = np.random.default_rng(3)
    fn = {1: conv1d, 2: conv2d, 3: conv3d}[len(xs) - 2]
    sym = [p for p, _ in pad]

    def gf_fn(x, w):
        return fn(x, w, stride=stride, padding=sym, dilation=dil, groups=groups) ** 2 * x.sum()

    def jax_fn(x, w):
        return _jax_conv(x, w, stride, pad, dil, groups) ** 2 * jnp.sum(x)

    check_op(gf_fn, jax_fn, [rng.standard_normal(xs), rng.standard_normal(ws)], device=device,
             key=("conv", xs, ws, stride, dil, groups))


def test_conv_transpose_second_order_matches_jax(device):
    import jax

    rng = np.random.default_rng(4)

    def gf_fn(x, w):
        return conv_transpose2d(x, w, stride=2, padding=1, output_padding=1) ** 3

    def jax_fn(x, w):  # conv_transpose = the VJP of conv in its input
        def conv(z):
            return _jax_conv(z, w, (2, 2), [(1, 1), (1, 1)], (1, 1), 1)

        _, pullback = jax.vjp(conv, jax.numpy.zeros((2, 2, 8, 6)))
        return pullback(x)[0] ** 3

    check_op(gf_fn, jax_fn, [rng.standard_normal((2, 3, 4, 3)),
                             rng.standard_normal((3, 2, 3, 3))], device=device,
             key="test_conv.conv_transpose2d_cubed")


def test_conv_gradients_match_finite_differences():
    rng = np.random.default_rng(5)
    a, w = rng.standard_normal((2, 2, 5, 6)), rng.standard_normal((4, 1, 2, 3))
    kw = {"stride": (2, 1), "padding": (1, 0), "dilation": (1, 2), "groups": 2}
    cot = rng.standard_normal(tuple(conv2d(gf.tensor(a), gf.tensor(w), **kw).shape))

    def loss(xa, wa):
        return float((conv2d(gf.tensor(xa), gf.tensor(wa), **kw).numpy() ** 2 * cot).sum())

    x, W = gf.tensor(a, requires_grad=True), gf.tensor(w, requires_grad=True)
    (conv2d(x, W, **kw) ** 2 * gf.tensor(cot)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), numeric_grad(lambda z: loss(z, w), a), rtol=1e-6,
                               atol=1e-7)
    np.testing.assert_allclose(W.grad.numpy(), numeric_grad(lambda z: loss(a, z), w), rtol=1e-6,
                               atol=1e-7)


# -- bad input -----------------------------------------------------------------------------------

def _t(*shape):
    return gf.zeros(shape)


@pytest.mark.parametrize("call,exc,match", [
    (lambda: conv2d(_t(2, 3, 8, 8), _t(4, 2, 3, 3)), RuntimeError, "expected input with 2 chan"),
    (lambda: conv2d(_t(2, 3, 8), _t(4, 3, 3, 3)), RuntimeError, r"shape \(2, 3, 8\) with 2"),
    (lambda: conv2d(_t(3, 8), _t(4, 3, 3, 3)), RuntimeError, r"3-D \(unbatched\)"),
    (lambda: conv2d(_t(2, 3, 8, 8, 1), _t(4, 3, 3, 3)), RuntimeError, "4-D"),
    (lambda: conv2d(_t(1, 3, 2, 2), _t(4, 3, 3, 3)), RuntimeError, "larger than the padded"),
    (lambda: conv2d(_t(1, 3, 5, 5), _t(4, 3, 3, 3), stride=0), RuntimeError, "stride must be"),
    (lambda: conv2d(_t(1, 3, 5, 5), _t(4, 3, 3, 3), padding=-1), RuntimeError, "padding must"),
    (lambda: conv2d(_t(1, 3, 5, 5), _t(4, 3, 3, 3), dilation=1.5), TypeError, "dilation must"),
    (lambda: conv2d(_t(1, 4, 5, 5), _t(3, 2, 3, 3), groups=2), RuntimeError, "must divide"),
    (lambda: conv2d(_t(1, 3, 5, 5), _t(3, 3, 3, 3), padding="full"), ValueError, "'valid'"),
    (lambda: conv2d(_t(1, 3, 5, 5), _t(3, 3, 3, 3), stride=2, padding="same"), ValueError,
     "strided"),
    (lambda: conv2d(_t(1, 3, 5, 5), _t(3, 3, 3, 3), _t(4)), RuntimeError, "bias must"),
    (lambda: conv2d(_t(1, 3, 5, 5), _t(3, 3, 3, 3).double()), RuntimeError, "same dtype"),
    (lambda: conv2d(gf.zeros((1, 3, 5, 5), dtype=gf.int64), gf.zeros((3, 3, 3, 3),
                                                                     dtype=gf.int64)),
     RuntimeError, "floating"),
    (lambda: conv2d(None, _t(3, 3, 3, 3)), TypeError, "conv2d"),
    (lambda: conv_transpose2d(_t(1, 3, 5, 5), _t(3, 2, 3, 3), stride=2, output_padding=2),
     RuntimeError, "output_padding"),
    (lambda: conv_transpose2d(_t(1, 4, 5, 5), _t(3, 2, 3, 3)), RuntimeError, "3 channels"),
])
def test_bad_arguments_raise_clear_errors(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


# -- unfold / fold -------------------------------------------------------------------------------

BLOCKS = [((2, 3, 7, 6), (3, 2), {"dilation": (1, 2), "padding": (1, 0), "stride": (2, 1)}),
          ((1, 2, 5, 5), 2, {}), ((3, 4, 4), 3, {"padding": 1})]


@pytest.mark.parametrize("xs,k,kw", BLOCKS)
def test_unfold_fold_match_torch(xs, k, kw):
    import gradflow.nn.functional as F

    rng = np.random.default_rng(6)
    a = rng.standard_normal(xs)
    x, tx = gf.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    cols, tcols = F.unfold(x, k, **kw), TF.unfold(tx, k, **kw)
    np.testing.assert_array_equal(cols.numpy(), tcols.detach().numpy())
    c = rng.standard_normal(tuple(tcols.shape))
    folded = F.fold(gf.tensor(c, requires_grad=True), xs[-2:], k, **kw)
    np.testing.assert_allclose(folded.numpy(), TF.fold(torch.tensor(c), xs[-2:], k, **kw).numpy(),
                               atol=1e-12)
    (cols * gf.tensor(c)).sum().backward()
    (tcols * torch.tensor(c)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), atol=1e-12)
    assert repr(gf.nn.Unfold(k, **kw)) == repr(torch.nn.Unfold(k, **kw))


def test_unfold_second_order_and_module_errors():
    import gradflow.nn.functional as F

    a = np.random.default_rng(7).standard_normal((1, 2, 4, 4))
    x = gf.tensor(a, requires_grad=True)
    (g,) = gf.grad((F.unfold(x, 2) ** 3).sum(), x, create_graph=True)
    (h,) = gf.grad(g.sum(), x)
    # d²/dx² Σ_blocks u³ = 6 u · (times each element is copied into a block) per element
    counts = F.fold(F.unfold(gf.ones(1, 2, 4, 4), 2), (4, 4), 2).numpy()
    np.testing.assert_allclose(h.numpy(), 6 * a * counts, atol=1e-12)
    with pytest.raises(RuntimeError, match="divisible by the product of kernel_size"):
        F.fold(gf.zeros(1, 5, 9), (4, 4), 2)
    with pytest.raises(RuntimeError, match="last dimension to be 9"):
        F.fold(gf.zeros(1, 4, 8), (4, 4), 2)
    with pytest.raises(RuntimeError, match="does not fit"):
        F.unfold(gf.zeros(1, 1, 2, 2), 3)
    with pytest.raises(RuntimeError, match="4-D"):
        F.unfold(gf.zeros(1, 1, 1, 2, 2), 1)


# -- the Winograd F(2×2, 3×3) path (3×3, stride 1, dilation 1, groups 1) --------------------------

WINO_CASES = [  # (input shape, weight shape, conv2d kwargs): odd and even sizes, pad 0/1/2
    ((2, 3, 7, 6), (4, 3, 3, 3), {"padding": 1}),
    ((1, 2, 5, 9), (3, 2, 3, 3), {"padding": 0}),
    ((3, 4, 6, 5), (2, 4, 3, 3), {"padding": 2}),
    ((2, 3, 4, 4), (5, 3, 3, 3), {"padding": (0, 2)}),
    ((2, 2, 3, 8), (3, 2, 3, 3), {"padding": "same"}),
    ((1, 3, 3, 3), (2, 3, 3, 3), {}),
]


@pytest.fixture
def winograd_everywhere(monkeypatch):
    """Route every applicable conv through Winograd and count the calls that took it."""
    from gradflow.kernels import winograd

    calls = []
    real = winograd.winograd_conv3x3
    monkeypatch.setattr(conv_kernels, "WINOGRAD_MIN_CHANNELS", 1)
    monkeypatch.setattr(winograd, "winograd_conv3x3",
                        lambda *a, **k: calls.append(1) or real(*a, **k))
    return calls


@pytest.mark.parametrize("xs,ws,kw", WINO_CASES, ids=[f"{c[0]}-{c[2]}" for c in WINO_CASES])
def test_winograd_matches_torch(xs, ws, kw, winograd_everywhere):
    rng = np.random.default_rng(6)
    a, w, b = rng.standard_normal(xs), rng.standard_normal(ws), rng.standard_normal(ws[0])
    x, W, B = (gf.tensor(v, requires_grad=True) for v in (a, w, b))
    tx, tW, tB = (torch.tensor(v, requires_grad=True) for v in (a, w, b))
    y, ty = conv2d(x, W, B, **kw), TF.conv2d(tx, tW, tB, **kw)
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), atol=1e-12)
    cot = rng.standard_normal(tuple(ty.shape))
    (y * gf.tensor(cot)).sum().backward()
    (ty * torch.tensor(cot)).sum().backward()
    for got, want in ((x.grad, tx.grad), (W.grad, tW.grad), (B.grad, tB.grad)):
        np.testing.assert_allclose(got.numpy(), want.numpy(), atol=1e-12)
    assert len(winograd_everywhere) == 1  # the input gradient (the forward kept its columns)
    with gf.no_grad():  # no weight gradient: the forward takes Winograd too
        np.testing.assert_allclose(conv2d(x, W, B, **kw).numpy(), ty.detach().numpy(),
                                   atol=1e-12)
    assert len(winograd_everywhere) == 2


def test_winograd_conv_transpose_stride1_matches_torch(winograd_everywhere):
    rng = np.random.default_rng(7)
    a, w = rng.standard_normal((2, 3, 5, 4)), rng.standard_normal((3, 4, 3, 3))
    x, W = gf.tensor(a, requires_grad=True), gf.tensor(w, requires_grad=True)
    tx, tW = torch.tensor(a, requires_grad=True), torch.tensor(w, requires_grad=True)
    y, ty = conv_transpose2d(x, W, padding=1), TF.conv_transpose2d(tx, tW, padding=1)
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), atol=1e-12)
    (y ** 2).sum().backward()
    (ty ** 2).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), atol=1e-11)
    np.testing.assert_allclose(W.grad.numpy(), tW.grad.numpy(), atol=1e-11)
    assert winograd_everywhere


@pytest.mark.parametrize("kw", [{"groups": 2, "padding": 1}, {"stride": 2, "padding": 1},
                                {"dilation": 2, "padding": 2}, {"padding": 3}])
def test_winograd_falls_back_where_it_does_not_apply(kw, winograd_everywhere):
    rng = np.random.default_rng(8)
    a, w = rng.standard_normal((2, 4, 7, 7)), rng.standard_normal((4, 4 // kw.get("groups", 1),
                                                                      3, 3))
    x = gf.tensor(a, requires_grad=True)
    y = conv2d(x, gf.tensor(w), **kw)
    ty = TF.conv2d(torch.tensor(a), torch.tensor(w), **kw)
    np.testing.assert_allclose(y.numpy(), ty.numpy(), atol=1e-12)
    y.sum().backward()
    assert not winograd_everywhere


def test_winograd_second_order_matches_jax(winograd_everywhere):
    import jax.numpy as jnp

    rng = np.random.default_rng(9)

    def gf_fn(x, w):
        return conv2d(x, w, padding=1) ** 2 * x.sum()

    def jax_fn(x, w):
        return _jax_conv(x, w, (1, 1), [(1, 1), (1, 1)], (1, 1), 1) ** 2 * jnp.sum(x)

    check_op(gf_fn, jax_fn, [rng.standard_normal((2, 3, 5, 6)), rng.standard_normal((2, 3, 3, 3))],
             key="test_conv.winograd")
    assert winograd_everywhere


def test_winograd_float32_error_as_im2col(winograd_everywhere):
    """The float32 Winograd result (forward, 32 channels) is within a few float32 ulps of a
    float64 reference, as the im2col path is."""
    rng = np.random.default_rng(10)
    a = rng.standard_normal((4, 32, 9, 8)).astype("float32")
    w = (rng.standard_normal((32, 32, 3, 3)) / 17).astype("float32")
    ref = TF.conv2d(torch.tensor(a, dtype=torch.float64), torch.tensor(w, dtype=torch.float64),
                    padding=1).numpy()
    got = conv2d(gf.tensor(a), gf.tensor(w), padding=1).numpy()
    assert got.dtype == np.float32 and winograd_everywhere
    assert np.abs(got - ref).max() <= 2e-6 * np.abs(ref).max()


@pytest.mark.parametrize("kw", [{"padding": 1}, {"padding": (2, 0), "dilation": (1, 2)},
                                {"padding": "same", "dilation": 2}])
def test_row_col2im_equals_the_offset_col2im(kw, monkeypatch):
    """The stride-1 input gradient added back as whole padded rows equals the per-offset one
    (and torch), also with dilation, asymmetric padding and groups."""
    rng = np.random.default_rng(14)
    a, w = rng.standard_normal((3, 4, 7, 6)), rng.standard_normal((6, 2, 3, 2))
    cot = rng.standard_normal(tuple(TF.conv2d(torch.tensor(a), torch.tensor(w), groups=2,
                                              **kw).shape))
    grads = []
    for flag in (True, False):
        monkeypatch.setattr(conv_kernels, "ROW_COL2IM", flag)
        x = gf.tensor(a, requires_grad=True)
        (conv2d(x, gf.tensor(w), groups=2, **kw) * gf.tensor(cot)).sum().backward()
        grads.append(x.grad.numpy())
    tx = torch.tensor(a, requires_grad=True)
    (TF.conv2d(tx, torch.tensor(w), groups=2, **kw) * torch.tensor(cot)).sum().backward()
    np.testing.assert_allclose(grads[0], grads[1], atol=1e-12)
    np.testing.assert_allclose(grads[0], tx.grad.numpy(), atol=1e-12)
