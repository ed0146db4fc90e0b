"""``F.interpolate``, ``nn.Upsample`` (and its 2-D forms) and ``nn.Unflatten`` against torch
(values, shapes, gradients, reprs, errors), and a JAX float64 Hessian-vector product through
bilinear resizing (the reference map taken from torch itself)."""

import numpy as np
import pytest

import gradflow as gf
from gradflow.nn.flatten import Unflatten
from gradflow.nn.upsample import Upsample, UpsamplingBilinear2d, UpsamplingNearest2d
from gradflow.ops.resize import interpolate

torch = pytest.importorskip("torch")
TF = torch.nn.functional

SIZES = [dict(size=1), dict(size=4), dict(size=7), dict(size=13)]
SCALES = [dict(scale_factor=s) for s in (0.5, 1.2, 2, 2.3, 2.7, 1 / 3, 4.1)]
RECOMPUTE = [dict(scale_factor=2.5, recompute_scale_factor=True)]
MODES = [("nearest", None), ("nearest-exact", None), ("linear", False), ("linear", True)]


def _forward_vjp(a, w, **kw):
    """dL/dx of sum(interpolate(x) * w) from torch's *forward* map (resizing is linear in x,
    the same map for every (n, c)): torch's own backward disagrees with its forward for some
    non-integer nearest scale factors (it takes the size-based shortcuts, e.g. scale_factor=1.2
    on 2 elements copies x[0] twice forward but routes the gradient as the identity)."""
    spatial = a.shape[2:]
    p = int(np.prod(spatial))
    basis = torch.eye(p, dtype=torch.from_numpy(a).dtype).reshape((p, 1) + spatial)
    m = TF.interpolate(basis, **kw).reshape(p, -1).double().numpy()
    return (w.reshape(a.shape[0] * a.shape[1], -1).astype("float64") @ m.T).reshape(a.shape)


def _check(a, mode, align, kw, atol):
    want = TF.interpolate(torch.tensor(a), mode=mode, align_corners=align, **kw).numpy()
    x = gf.tensor(a, requires_grad=True)
    got = interpolate(x, mode=mode, align_corners=align, **kw)
    assert got.shape == want.shape and got.dtype == a.dtype
    np.testing.assert_allclose(got.numpy(), want, atol=atol, rtol=0)
    w = np.random.default_rng(1).standard_normal(want.shape).astype(a.dtype)
    (got * gf.tensor(w)).sum().backward()
    ref = _forward_vjp(a, w, mode=mode, align_corners=align, **kw)
    np.testing.assert_allclose(x.grad.numpy(), ref, atol=10 * atol, rtol=0)


@pytest.mark.parametrize("dtype,atol", [("float64", 1e-13), ("float32", 1e-5)])
@pytest.mark.parametrize("mode,align", MODES)
@pytest.mark.parametrize("n_in", [1, 2, 16, 33])
def test_interpolate_1d_matches_torch(dtype, atol, mode, align, n_in):
    a = np.random.default_rng(n_in).standard_normal((2, 3, n_in)).astype(dtype)
    for kw in SIZES + SCALES + RECOMPUTE:
        if int(n_in * kw.get("scale_factor", 1)) == 0:  # refused by both (see the errors test)
            continue
        _check(a, mode, align, kw, atol)


@pytest.mark.parametrize("dtype,atol", [("float64", 1e-13), ("float32", 1e-5)])
@pytest.mark.parametrize("mode,align", [("nearest", None), ("nearest-exact", None),
                                        ("bilinear", False), ("bilinear", True)])
@pytest.mark.parametrize("kw", [dict(size=(7, 3)), dict(size=9), dict(scale_factor=2),
                                dict(scale_factor=(1.7, 0.6)), dict(scale_factor=(2, 3.2)),
                                dict(scale_factor=1.5, recompute_scale_factor=True)])
def test_interpolate_2d_matches_torch(dtype, atol, mode, align, kw):
    a = np.random.default_rng(0).standard_normal((2, 3, 5, 6)).astype(dtype)
    _check(a, mode, align, kw, atol)


def test_nearest_upsampling_of_uint8_and_trilinear():
    a = np.arange(24, dtype=np.uint8).reshape(1, 2, 3, 4)
    got = interpolate(gf.tensor(a), scale_factor=2.7).numpy()
    np.testing.assert_array_equal(got, TF.interpolate(torch.tensor(a), scale_factor=2.7).numpy())
    b = np.random.default_rng(0).standard_normal((1, 2, 3, 4, 2))
    _check(b, "trilinear", False, dict(size=(5, 2, 3)), 1e-13)
    _check(b, "nearest", None, dict(scale_factor=(1.5, 2, 0.5)), 1e-14)


def test_bilinear_second_order_matches_jax():
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    shape, size = (1, 2, 3, 4), (5, 7)
    # bilinear resizing is linear in x, the same map m for every channel: m from torch itself
    basis = torch.eye(12, dtype=torch.float64).reshape(12, 1, 3, 4)
    m = TF.interpolate(basis, size=size, mode="bilinear").reshape(12, -1).numpy()
    w = np.random.default_rng(3).standard_normal((2, 35))
    v = np.random.default_rng(4).standard_normal(shape)
    a = np.random.default_rng(2).standard_normal(shape)

    def f(z):
        return ((z.reshape(2, 12) @ m) ** 3 * w).sum()

    want = np.asarray(jax.jit(lambda p, t: jax.jvp(jax.grad(f), (p,), (t,))[1])(a, v))
    x = gf.tensor(a, requires_grad=True)
    y = interpolate(x, size=size, mode="bilinear").reshape(2, 35)
    (g,) = gf.grad((y ** 3 * gf.tensor(w)).sum(), x, create_graph=True)
    (hv,) = gf.grad((g * gf.tensor(v)).sum(), x)
    np.testing.assert_allclose(hv.numpy(), want, atol=1e-10)


def test_upsample_modules_match_torch():
    a = np.random.default_rng(5).standard_normal((2, 3, 4, 5)).astype("float32")
    pairs = [(Upsample(scale_factor=2), torch.nn.Upsample(scale_factor=2)),
             (Upsample(size=(3, 7), mode="bilinear"),
              torch.nn.Upsample(size=(3, 7), mode="bilinear")),
             (Upsample(scale_factor=(1.5, 2), mode="bilinear", align_corners=True),
              torch.nn.Upsample(scale_factor=(1.5, 2), mode="bilinear", align_corners=True)),
             (UpsamplingNearest2d(size=6), torch.nn.UpsamplingNearest2d(size=6)),
             (UpsamplingBilinear2d(scale_factor=2.5),
              torch.nn.UpsamplingBilinear2d(scale_factor=2.5))]
    for ours, theirs in pairs:
        assert repr(ours) == repr(theirs)
        np.testing.assert_allclose(ours(gf.tensor(a)).numpy(),
                                   theirs(torch.tensor(a)).numpy(), atol=1e-6)


def test_interpolate_errors_as_torch():
    x3, x4 = gf.ones(2, 4, 5), gf.ones(2, 4, 5, 6)
    cases = [
        (ValueError, "only one of size or scale_factor", dict(size=3, scale_factor=2)),
        (ValueError, "either size or scale_factor", {}),
        (ValueError, "align_corners option", dict(size=3, align_corners=True)),
        (ValueError, "same number of spatial dimensions.*output size", dict(size=(3, 4))),
        (ValueError, "same number of spatial dimensions.*scale_factor",
         dict(scale_factor=(3, 4))),
        (NotImplementedError, "bilinear mode needs 4D", dict(size=3, mode="bilinear")),
    ]
    for exc, msg, kw in cases:
        with pytest.raises(exc):
            TF.interpolate(torch.ones(2, 4, 5), **kw)
        with pytest.raises(exc, match=msg):
            interpolate(x3, **kw)
    with pytest.raises(NotImplementedError, match="linear mode needs 3D"):
        interpolate(x4, size=3, mode="linear")
    with pytest.raises(NotImplementedError, match="Only 3D, 4D and 5D"):
        interpolate(gf.ones(2, 3), size=3)
    with pytest.raises(NotImplementedError, match="bicubic"):
        interpolate(x4, size=3, mode="bicubic")
    with pytest.raises(RuntimeError, match="greater than 0"):
        interpolate(x3, scale_factor=0.1)
    with pytest.raises(TypeError, match="output size must be ints"):
        interpolate(x3, size=2.5)
    with pytest.raises(TypeError, match="argument 'input'"):
        interpolate(None, size=2)


def test_unflatten_matches_torch():
    a = np.arange(2 * 12 * 3.0).reshape(2, 12, 3)
    for dim, sizes in [(1, (3, 4)), (1, (2, -1, 3)), (-1, [3, 1]), (0, (1, 2))]:
        ours, theirs = Unflatten(dim, sizes), torch.nn.Unflatten(dim, sizes)
        assert repr(ours) == repr(theirs)
        np.testing.assert_array_equal(ours(gf.tensor(a)).numpy(), theirs(torch.tensor(a)).numpy())
    x = gf.tensor(a, requires_grad=True)
    Unflatten(1, (4, -1))(x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.ones_like(a))
    with pytest.raises(TypeError, match="found type int"):
        Unflatten(1, 5)
    with pytest.raises(TypeError, match="element of type float at pos 1"):
        Unflatten(1, (2, 2.0))
    for sizes in [(5, -1), (2, -1, -1), (5, 2)]:
        with pytest.raises(RuntimeError):
            torch.nn.Unflatten(1, sizes)(torch.tensor(a))
        with pytest.raises(RuntimeError, match="don't multiply up"):
            Unflatten(1, sizes)(gf.tensor(a))
    with pytest.raises(IndexError, match="out of range"):
        Unflatten(3, (2, 6))(gf.tensor(a))


def test_linear_modes_refuse_integer_input_as_torch():
    for dtype, tdtype in ((gf.int64, torch.int64), (gf.uint8, torch.uint8)):
        with pytest.raises(NotImplementedError):
            TF.interpolate(torch.ones(1, 1, 4, dtype=tdtype), scale_factor=2, mode="linear")
        with pytest.raises(NotImplementedError, match="linear mode needs a floating-point"):
            interpolate(gf.ones(1, 1, 4, dtype=dtype), scale_factor=2, mode="linear")
    # nearest of uint8 images works in both; gradflow also takes the wider integer dtypes
    # (torch has no kernel for them), with the same values
    out = interpolate(gf.tensor([[[1, 2]]], dtype=gf.uint8), scale_factor=2)
    assert out.dtype == gf.uint8 and out.tolist() == [[[1, 1, 2, 2]]]
