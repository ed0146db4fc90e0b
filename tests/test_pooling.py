"""Pooling (max/avg/adaptive, 1-D and 2-D) against ``torch.nn.functional`` (values, indices,
gradients, unbatched inputs, integer inputs, NaN) and JAX float64 second order; the layers'
printed form against torch's; argument errors."""

import numpy as np
import pytest

import gradflow as gf
from gradflow.nn import pooling as nnp
from gradflow.ops import pooling as P

torch = pytest.importorskip("torch")
F = torch.nn.functional


def _inputs(shape, seed, ties=False):
    rng = np.random.default_rng(seed)
    a = rng.integers(-2, 3, shape).astype(np.float64) if ties else rng.standard_normal(shape)
    return a, gf.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)


def _check(fn, tfn, shape, kwargs, *, seed=0, ties=False, indices=False, device="cpu"):
    """Values (and indices) and first-order gradients, through vjp and through the recorded
    backward, against torch."""
    a, x, t = _inputs(shape, seed, ties)
    x = x.to(device) if device != "cpu" else x
    out, tout = fn(x, **kwargs), tfn(t, **kwargs)
    if indices:
        (out, idx), (tout, tidx) = out, tout
        assert idx.dtype == gf.int64
        np.testing.assert_array_equal(idx.cpu().numpy(), tidx.numpy())
    assert out.shape == tuple(tout.shape)
    np.testing.assert_allclose(out.cpu().numpy(), tout.detach().numpy(), rtol=1e-12, atol=1e-12)
    w = np.random.default_rng(seed + 1).standard_normal(tuple(tout.shape))
    loss = (out * gf.tensor(w, device=device)).sum()
    (g1,) = gf.grad(loss, x, retain_graph=True)
    (g2,) = gf.grad(loss, x, create_graph=True)
    if tout.numel() == 0:  # torch refuses the backward of an empty adaptive pool
        tg = torch.zeros_like(t)
    else:
        (tg,) = torch.autograd.grad((tout * torch.tensor(w)).sum(), t)
    np.testing.assert_allclose(g1.cpu().numpy(), tg.numpy(), atol=1e-12)
    np.testing.assert_allclose(g2.cpu().numpy(), tg.numpy(), atol=1e-12)


MAX2D = [dict(kernel_size=2), dict(kernel_size=3, stride=2), dict(kernel_size=3, padding=1),
         dict(kernel_size=(3, 2), stride=(2, 1), padding=(1, 0), dilation=(1, 2)),
         dict(kernel_size=2, stride=2, ceil_mode=True),
         dict(kernel_size=3, stride=2, padding=1, dilation=2, ceil_mode=True),
         dict(kernel_size=(2, 4), stride=(3, 1), padding=(1, 2), ceil_mode=True),
         dict(kernel_size=1, stride=3), dict(kernel_size=[3], stride=[], padding=[1])]


@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("kwargs", MAX2D)
def test_max_pool2d_matches_torch(kwargs, ties):
    _check(P.max_pool2d, F.max_pool2d, (2, 3, 7, 6), dict(kwargs, return_indices=True),
           ties=ties, indices=True)


MAX1D = [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1),
         dict(kernel_size=3, stride=2, padding=1, dilation=2, ceil_mode=True),
         dict(kernel_size=4, stride=3, padding=2, ceil_mode=True), dict(kernel_size=(2,))]


@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("kwargs", MAX1D)
def test_max_pool1d_matches_torch(kwargs, ties):
    _check(P.max_pool1d, F.max_pool1d, (2, 3, 11), dict(kwargs, return_indices=True),
           ties=ties, indices=True)


AVG2D = [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1),
         dict(kernel_size=3, stride=2, padding=1, count_include_pad=False),
         dict(kernel_size=3, stride=2, padding=1, ceil_mode=True),
         dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=False),
         dict(kernel_size=(2, 3), stride=(3, 2), padding=(1, 1), ceil_mode=True),
         dict(kernel_size=2, stride=1, padding=1, divisor_override=3),
         dict(kernel_size=3, stride=2, ceil_mode=True, divisor_override=-2)]


@pytest.mark.parametrize("kwargs", AVG2D)
def test_avg_pool2d_matches_torch(kwargs):
    _check(P.avg_pool2d, F.avg_pool2d, (2, 3, 7, 6), kwargs)


@pytest.mark.parametrize("kwargs", [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1),
                                    dict(kernel_size=4, stride=3, padding=2, ceil_mode=True),
                                    dict(kernel_size=4, stride=3, padding=2, ceil_mode=True,
                                         count_include_pad=False)])
def test_avg_pool1d_matches_torch(kwargs):
    _check(P.avg_pool1d, F.avg_pool1d, (2, 3, 11), kwargs)


@pytest.mark.parametrize("size", [(3, 4), (5, None), 1, (7, 6), (4, 1), (None, 4), 2, (0, 3)])
def test_adaptive_pool2d_matches_torch(size):
    _check(P.adaptive_avg_pool2d, F.adaptive_avg_pool2d, (2, 3, 7, 6), dict(output_size=size))
    for ties in (False, True):
        _check(P.adaptive_max_pool2d, F.adaptive_max_pool2d, (2, 3, 7, 6),
               dict(output_size=size, return_indices=True), indices=True, ties=ties)


@pytest.mark.parametrize("size", [3, 4, 1, 11, (5,), 0])
def test_adaptive_pool1d_matches_torch(size):
    _check(P.adaptive_avg_pool1d, F.adaptive_avg_pool1d, (2, 3, 11), dict(output_size=size))
    for ties in (False, True):
        _check(P.adaptive_max_pool1d, F.adaptive_max_pool1d, (2, 3, 11),
               dict(output_size=size, return_indices=True), indices=True, ties=ties)


UNBATCHED = [("max_pool2d", (3, 7, 6), dict(kernel_size=3, stride=2, padding=1,
                                            return_indices=True)),
             ("max_pool1d", (3, 9), dict(kernel_size=2, return_indices=True)),
             ("avg_pool2d", (3, 7, 6), dict(kernel_size=2, ceil_mode=True)),
             ("avg_pool1d", (3, 9), dict(kernel_size=2, padding=1)),
             ("adaptive_avg_pool2d", (3, 7, 6), dict(output_size=(2, 4))),
             ("adaptive_avg_pool1d", (3, 9), dict(output_size=4)),
             ("adaptive_max_pool2d", (3, 7, 6), dict(output_size=(2, 4), return_indices=True)),
             ("adaptive_max_pool1d", (3, 9), dict(output_size=4, return_indices=True))]


@pytest.mark.parametrize("name,shape,kwargs", UNBATCHED)
def test_unbatched_inputs_match_torch(name, shape, kwargs):
    _check(getattr(P, name), getattr(F, name), shape, kwargs,
           indices=kwargs.get("return_indices", False))


def test_empty_batch_and_nan_and_minus_inf_as_torch():
    x = P.max_pool2d(gf.zeros(0, 2, 5, 5), 2)
    assert x.shape == (0, 2, 2, 2)
    a = np.array([[[1.0, np.nan, 3.0, np.nan, 0.0, 2.0]]])
    for fn, tfn, kw in [(P.max_pool1d, F.max_pool1d, dict(kernel_size=5, stride=1)),
                        (P.adaptive_max_pool1d, F.adaptive_max_pool1d, dict(output_size=2))]:
        y, i = fn(gf.tensor(a), return_indices=True, **kw)
        ty, ti = tfn(torch.tensor(a), return_indices=True, **kw)
        np.testing.assert_array_equal(y.numpy(), ty.numpy())
        np.testing.assert_array_equal(i.numpy(), ti.numpy())
    b = np.full((1, 1, 3, 3), -np.inf)
    y, i = P.max_pool2d(gf.tensor(b), 2, padding=1, return_indices=True)
    ty, ti = F.max_pool2d(torch.tensor(b), 2, padding=1, return_indices=True)
    np.testing.assert_array_equal(y.numpy(), ty.numpy())
    np.testing.assert_array_equal(i.numpy(), ti.numpy())


def test_integer_inputs_match_torch():
    a = np.random.default_rng(5).integers(-9, 10, (2, 2, 5, 5))
    for fn, tfn, kw in [(P.max_pool2d, F.max_pool2d, dict(kernel_size=2, padding=1)),
                        (P.avg_pool2d, F.avg_pool2d, dict(kernel_size=2)),
                        (P.avg_pool2d, F.avg_pool2d, dict(kernel_size=3, padding=1,
                                                          count_include_pad=False)),
                        (P.avg_pool1d, F.avg_pool1d, dict(kernel_size=2))]:
        x = a[0] if fn is P.avg_pool1d else a
        y, ty = fn(gf.tensor(x), **kw), tfn(torch.tensor(x), **kw)
        assert y.dtype == gf.int64
        np.testing.assert_array_equal(y.numpy(), ty.numpy())


def test_float32_stays_float32():
    x = gf.tensor(np.random.default_rng(0).standard_normal((1, 2, 6, 6)).astype(np.float32))
    for y in (P.max_pool2d(x, 2), P.avg_pool2d(x, 2), P.adaptive_avg_pool2d(x, 4),
              P.adaptive_max_pool2d(x, 4)):
        assert y.dtype == gf.float32


# -- second order against JAX ------------------------------------------------------------------

def _jax():
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    return jax, jax.numpy


def _hvp_check(gf_pool, jax_pool, shape, seed=0):
    jax, jnp = _jax()
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(shape)
    out_shape = jax_pool(jnp.asarray(a)).shape
    w, v = rng.standard_normal(out_shape), rng.standard_normal(shape)

    def f(z):
        return (jax_pool(z) ** 3 * w).sum()

    want = jax.jvp(jax.grad(f), (a,), (v,))[1]
    x = gf.tensor(a, requires_grad=True)
    (g,) = gf.grad((gf_pool(x) ** 3 * gf.tensor(w)).sum(), x, create_graph=True)
    (hv,) = gf.grad((g * gf.tensor(v)).sum(), x)
    np.testing.assert_allclose(hv.numpy(), np.asarray(want), atol=1e-10)


def test_max_pool2d_second_order_matches_jax():
    jax, jnp = _jax()

    def ref(z):  # kernel 3, stride 2, padding 1, dilation 1 (-inf padding)
        return jax.lax.reduce_window(z, -jnp.inf, jax.lax.max, (1, 1, 3, 3), (1, 1, 2, 2),
                                     ((0, 0), (0, 0), (1, 1), (1, 1)))

    _hvp_check(lambda x: P.max_pool2d(x, 3, stride=2, padding=1), ref, (2, 2, 7, 6))


def test_avg_pool2d_second_order_matches_jax():
    jax, jnp = _jax()

    def ref(z):  # count_include_pad=True: window sum / 9
        return jax.lax.reduce_window(z, 0.0, jax.lax.add, (1, 1, 3, 3), (1, 1, 2, 2),
                                     ((0, 0), (0, 0), (1, 1), (1, 1))) / 9.0

    _hvp_check(lambda x: P.avg_pool2d(x, 3, stride=2, padding=1), ref, (2, 2, 7, 6))


SECOND_ORDER_TORCH = [
    ("max_pool1d", (2, 3, 11), dict(kernel_size=3, stride=2, padding=1, dilation=2)),
    ("max_pool2d", (2, 2, 7, 6), dict(kernel_size=(3, 2), stride=1, padding=1, ceil_mode=True)),
    ("adaptive_max_pool2d", (2, 2, 7, 6), dict(output_size=(3, 4))),
    ("adaptive_max_pool1d", (2, 3, 11), dict(output_size=4)),
    ("avg_pool1d", (2, 3, 11), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True,
                                    count_include_pad=False)),
    ("adaptive_avg_pool1d", (2, 3, 11), dict(output_size=4)),
    ("adaptive_avg_pool2d", (2, 2, 7, 6), dict(output_size=(3, None)))]


@pytest.mark.parametrize("name,shape,kwargs", SECOND_ORDER_TORCH)
def test_second_order_matches_torch(name, shape, kwargs):
    """Hessian-vector products of Σ pool(x)³ · w (overlapping windows) against torch."""
    a, x, t = _inputs(shape, 7)
    rng = np.random.default_rng(8)
    tout = getattr(F, name)(t, **kwargs)
    w, v = rng.standard_normal(tuple(tout.shape)), rng.standard_normal(shape)
    (tg,) = torch.autograd.grad((tout ** 3 * torch.tensor(w)).sum(), t, create_graph=True)
    (thv,) = torch.autograd.grad((tg * torch.tensor(v)).sum(), t)
    out = getattr(P, name)(x, **kwargs)
    (g,) = gf.grad((out ** 3 * gf.tensor(w)).sum(), x, create_graph=True)
    (hv,) = gf.grad((g * gf.tensor(v)).sum(), x)
    np.testing.assert_allclose(hv.numpy(), thv.numpy(), atol=1e-10)


def test_avg_pool_squared_third_order_matches_torch():
    a = np.random.default_rng(3).standard_normal((1, 2, 5, 5))
    x, t = gf.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    y = (P.avg_pool2d(x, 2, stride=1, padding=1, ceil_mode=True) ** 2).sum()
    ty = (F.avg_pool2d(t, 2, stride=1, padding=1, ceil_mode=True) ** 2).sum()
    (g,) = gf.grad(y, x, create_graph=True)
    (tg,) = torch.autograd.grad(ty, t, create_graph=True)
    (h,) = gf.grad((g ** 2).sum(), x)
    (th,) = torch.autograd.grad((tg ** 2).sum(), t)
    np.testing.assert_allclose(h.numpy(), th.numpy(), atol=1e-12)


# -- layers --------------------------------------------------------------------------------------

LAYERS = [("MaxPool1d", (3,), {}), ("MaxPool1d", (3, 2, 1, 2, True, True), {}),
          ("MaxPool2d", (3,), {}),
          ("MaxPool2d", ((3, 2),), dict(stride=(2, 1), padding=1, dilation=(1, 2),
                                        ceil_mode=True, return_indices=True)),
          ("AvgPool1d", (3,), {}), ("AvgPool1d", (3, 2, 1, True, False), {}),
          ("AvgPool2d", (3,), {}), ("AvgPool2d", ((3, 2), 1, 1, True, False, 3), {}),
          ("AdaptiveAvgPool1d", (3,), {}), ("AdaptiveAvgPool2d", ((3, None),), {}),
          ("AdaptiveAvgPool2d", (5,), {}), ("AdaptiveMaxPool1d", (3,), {}),
          ("AdaptiveMaxPool2d", ((None, 2),), dict(return_indices=True))]


@pytest.mark.parametrize("name,args,kwargs", LAYERS)
def test_layers_match_torch(name, args, kwargs):
    m, tm = getattr(nnp, name)(*args, **kwargs), getattr(torch.nn, name)(*args, **kwargs)
    assert repr(m) == repr(tm)
    shape = (2, 3, 9) if name.endswith("1d") else (2, 3, 9, 8)
    a = np.random.default_rng(0).standard_normal(shape)
    out, tout = m(gf.tensor(a)), tm(torch.tensor(a))
    if kwargs.get("return_indices") or (len(args) > 4 and args[4]):
        np.testing.assert_array_equal(out[1].numpy(), tout[1].numpy())
        out, tout = out[0], tout[0]
    np.testing.assert_allclose(out.numpy(), tout.numpy(), atol=1e-12)


# -- errors ----------------------------------------------------------------------------------------

X4 = np.zeros((1, 2, 5, 5))
X3 = np.zeros((2, 5, 5))
ERRORS = [
    ("max_pool2d", X4, (3,), dict(padding=2), RuntimeError, "at most half of kernel_size"),
    ("max_pool2d", X4, (0,), {}, RuntimeError, "kernel_size must be greater than zero"),
    ("max_pool2d", X4, (2,), dict(stride=0), RuntimeError, "stride must be greater than zero"),
    ("max_pool2d", X4, (2,), dict(stride=-1), RuntimeError, "stride must be greater than zero"),
    ("max_pool2d", X4, (2,), dict(dilation=0), RuntimeError, "dilation must be greater"),
    ("max_pool2d", X4, (2,), dict(padding=-1), RuntimeError, "padding must be non-negative"),
    ("max_pool2d", X4, (2.5,), {}, TypeError, "argument 'kernel_size' must be an int"),
    ("max_pool2d", X4, (True,), {}, TypeError, "argument 'kernel_size'"),
    ("max_pool2d", X4, ((2, 2, 2),), {}, RuntimeError, "kernel_size must be a single int or"),
    ("max_pool2d", X4, (7,), {}, RuntimeError, "kernel is larger than the padded input"),
    ("max_pool2d", X4[0, 0], (2,), {}, RuntimeError, r"3-D \(unbatched.*shape \(5, 5\)"),
    ("max_pool2d", X4[None], (2,), {}, RuntimeError, "4-D"),
    ("max_pool2d", X4, (2,), dict(ceil_mode="a"), TypeError, "'ceil_mode' must be bool"),
    ("max_pool2d", np.zeros((1, 0, 5, 5)), (2,), {}, RuntimeError, "non-zero sizes"),
    ("max_pool1d", X3, (2.0,), {}, TypeError, "max_pool1d.*'kernel_size'"),
    ("max_pool1d", X3, (3,), dict(padding=2), RuntimeError, "max_pool1d: padding should be"),
    ("max_pool1d", X3, (6,), {}, RuntimeError, "max_pool1d: the output size"),
    ("max_pool1d", X3, ((2, 2),), {}, RuntimeError, "max_pool1d: kernel_size must be a single"),
    ("max_pool1d", X4, (2,), {}, RuntimeError, "max_pool1d: expected a 2-D"),
    ("max_pool1d", X3.astype(np.int64), (2,), {}, NotImplementedError, "int64"),
    ("avg_pool2d", X4, (3,), dict(padding=2), RuntimeError, "at most half"),
    ("avg_pool2d", X4, (2,), dict(stride=0), RuntimeError, "stride must be greater"),
    ("avg_pool2d", X4, (7,), {}, RuntimeError, "too small"),
    ("avg_pool2d", X4, (2,), dict(divisor_override=0), RuntimeError, "must not be zero"),
    ("avg_pool2d", X4, (2,), dict(divisor_override=2.5), TypeError, "divisor_override"),
    ("avg_pool2d", X4, (2,), dict(ceil_mode=1), TypeError, "'ceil_mode' must be bool"),
    ("avg_pool2d", X4, (2,), dict(count_include_pad=None), TypeError, "count_include_pad"),
    ("avg_pool1d", X3, ((2, 2),), {}, RuntimeError, "avg_pool1d: kernel_size"),
    ("avg_pool1d", X4, (2,), {}, RuntimeError, "avg_pool1d: expected"),
    ("avg_pool1d", X3, (6,), {}, RuntimeError, "avg_pool1d: the output size"),
    ("adaptive_avg_pool2d", X4, (-1,), {}, RuntimeError, "greater than or equal to 0"),
    ("adaptive_avg_pool2d", X4, ((2, 2, 2),), {}, RuntimeError, "must have 2 values"),
    ("adaptive_avg_pool2d", X4, ((2.5, 2),), {}, TypeError, "'output_size'"),
    ("adaptive_avg_pool2d", X4[0, 0], (2,), {}, RuntimeError, "3-D"),
    ("adaptive_avg_pool2d", X4.astype(np.int64), (2,), {}, NotImplementedError, "int64"),
    ("adaptive_avg_pool2d", np.zeros((1, 2, 0, 5)), (2,), {}, RuntimeError, "non-zero"),
    ("adaptive_max_pool2d", X4, (-1,), {}, RuntimeError, "greater than or equal to 0"),
    ("adaptive_max_pool2d", X4.astype(np.int64), (2,), {}, NotImplementedError, "int64"),
    ("adaptive_max_pool1d", X3, (None,), {}, TypeError, "'output_size'"),
    ("adaptive_avg_pool1d", X3, ((2, 3),), {}, RuntimeError, "must have 1 value"),
    ("adaptive_max_pool1d", X3, (2.5,), {}, TypeError, "adaptive_max_pool1d.*'output_size'"),
    ("adaptive_max_pool1d", X4, (2,), {}, RuntimeError, "adaptive_max_pool1d: expected"),
]


@pytest.mark.parametrize("name,a,args,kwargs,exc,match", ERRORS)
def test_errors_as_torch(name, a, args, kwargs, exc, match):
    with pytest.raises(exc):
        getattr(F, name)(torch.tensor(a), *args, **kwargs)
    with pytest.raises(exc, match=match):
        getattr(P, name)(gf.tensor(a), *args, **kwargs)


def test_non_tensor_input_is_a_type_error():
    with pytest.raises(TypeError, match="max_pool2d.*'input'"):
        P.max_pool2d(None, 2)


def test_kernels_on_each_device(device):
    """The same kernels on CuPy: values, indices and gradients of each pool."""
    _check(P.max_pool2d, F.max_pool2d, (2, 3, 7, 6),
           dict(kernel_size=3, stride=2, padding=1, return_indices=True), indices=True,
           device=device, ties=True)
    _check(P.avg_pool2d, F.avg_pool2d, (2, 3, 7, 6),
           dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=False),
           device=device)
    _check(P.adaptive_max_pool2d, F.adaptive_max_pool2d, (2, 3, 7, 6),
           dict(output_size=(3, 4), return_indices=True), indices=True, device=device)
    _check(P.adaptive_avg_pool2d, F.adaptive_avg_pool2d, (2, 3, 7, 6),
           dict(output_size=(3, 4)), device=device)


# -- the 2×2 stride-2 fast path (kernels.pooling.max_pool2x2_forward) -----------------------------

@pytest.mark.parametrize("shape", [(2, 3, 6, 8), (2, 3, 7, 5), (1, 2, 2, 3)])
@pytest.mark.parametrize("dtype", ["float64", "float32", "int64", "int16"])
def test_max_pool_2x2_fast_path_equals_the_window_kernel(shape, dtype):
    """Same values and indices as the generic window kernel: ties (first max), NaN (the last
    NaN of the window), all −inf windows, odd sizes (the trailing row/column unread)."""
    from gradflow.kernels import pooling as kp

    rng = np.random.default_rng(11)
    a = rng.integers(-2, 3, shape).astype(dtype)
    if dtype.startswith("float"):
        a[0, 0, 0, 0] = a[0, 0, 1, 1] = np.nan
        a[0, 0, :2, 2:4] = -np.inf
    geom = dict(kshape=(2, 2), stride=(2, 2), pad=(0, 0), dilation=(1, 1),
                oshape=(shape[2] // 2, shape[3] // 2))
    assert kp.pool2x2_applies(shape, **geom)
    want, got = kp.max_pool_forward(np, a, **geom), kp.max_pool2x2_forward(np, a)
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])
    assert got[0].dtype == a.dtype and got[1].dtype == np.int64


@pytest.mark.parametrize("kw", [{}, {"stride": 2}, {"kernel_size": (2, 2), "ceil_mode": True}])
def test_max_pool_2x2_fast_path_matches_torch(kw):
    kw = {"kernel_size": 2, "return_indices": True, **kw}
    _check(P.max_pool2d, F.max_pool2d, (2, 3, 7, 6), kw, seed=12, ties=True, indices=True)
    _check(P.max_pool2d, F.max_pool2d, (2, 3, 8, 6), kw, seed=13, indices=True)
