"""N-d batch norm (BatchNorm2d/3d), group norm and instance norm against torch (float64: values,
gradients, running statistics, state_dict names, reprs, errors), and a JAX float64
Hessian-vector product through group norm (instance norm is its one-channel-per-group case)."""

import warnings

import numpy as np
import pytest

import gradflow as gf
from gradflow.nn.normalization import (
    BatchNorm1d,
    BatchNorm2d,
    BatchNorm3d,
    GroupNorm,
    InstanceNorm1d,
    InstanceNorm2d,
    InstanceNorm3d,
)
from gradflow.ops.normalization import batch_norm, group_norm, instance_norm

torch = pytest.importorskip("torch")
TF = torch.nn.functional
TOL = {"rtol": 1e-9, "atol": 1e-11}


def _load_from(ours, theirs, rng):
    """Random affine parameters in torch, loaded into ours by name."""
    with torch.no_grad():
        for p in theirs.parameters():
            p.copy_(torch.tensor(rng.standard_normal(tuple(p.shape))))
    sd = theirs.state_dict()
    assert list(ours.state_dict()) == list(sd)
    ours.load_state_dict({k: v.numpy() for k, v in sd.items()})


def _step(ours, theirs, x, rng):
    """One forward/backward on both: output, input gradient, parameter gradients, state."""
    xg, xt = gf.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    yg, yt = ours(xg), theirs(xt)
    np.testing.assert_allclose(yg.numpy(), yt.detach().numpy(), **TOL)
    g = rng.standard_normal(x.shape)
    (yg * gf.tensor(g)).sum().backward()
    (yt * torch.tensor(g)).sum().backward()
    np.testing.assert_allclose(xg.grad.numpy(), xt.grad.numpy(), **TOL)
    for (n, p), (_, pt) in zip(ours.named_parameters(), theirs.named_parameters()):
        np.testing.assert_allclose(p.grad.numpy(), pt.grad.numpy(), **TOL, err_msg=n)
    for k, v in theirs.state_dict().items():
        np.testing.assert_allclose(ours.state_dict()[k].numpy(), v.numpy(), **TOL, err_msg=k)


@pytest.mark.parametrize("cls,shape", [("BatchNorm2d", (4, 3, 5, 6)),
                                       ("BatchNorm3d", (3, 2, 3, 4, 2))])
@pytest.mark.parametrize("momentum", [0.1, None])
def test_batchnorm_nd_train_eval_matches_torch(cls, shape, momentum):
    rng = np.random.default_rng(0)
    ours = {"BatchNorm2d": BatchNorm2d, "BatchNorm3d": BatchNorm3d}[cls](
        shape[1], momentum=momentum, dtype="float64")
    theirs = getattr(torch.nn, cls)(shape[1], momentum=momentum).double()
    assert repr(ours) == repr(theirs)
    _load_from(ours, theirs, rng)
    for step in range(3):
        _step(ours, theirs, 2 * rng.standard_normal(shape) + step, rng)
    ours.eval()
    theirs.eval()
    _step(ours, theirs, rng.standard_normal(shape), rng)


def test_batch_norm_functional_any_rank():
    rng = np.random.default_rng(1)
    for shape in [(3, 2, 4, 5), (2, 3, 2, 2, 3), (2, 2, 1, 2, 2, 3)]:
        a, c = rng.standard_normal(shape), shape[1]
        w, b = rng.standard_normal(c), rng.standard_normal(c)
        rm, rv = gf.zeros(c, dtype="float64"), gf.ones(c, dtype="float64")
        trm, trv = torch.zeros(c, dtype=torch.float64), torch.ones(c, dtype=torch.float64)
        got = batch_norm(gf.tensor(a), rm, rv, gf.tensor(w), gf.tensor(b), True, 0.2)
        want = TF.batch_norm(torch.tensor(a), trm, trv, torch.tensor(w), torch.tensor(b),
                             True, 0.2)
        np.testing.assert_allclose(got.numpy(), want.numpy(), **TOL)
        np.testing.assert_allclose(rm.numpy(), trm.numpy(), **TOL)
        np.testing.assert_allclose(rv.numpy(), trv.numpy(), **TOL)
        got = batch_norm(gf.tensor(a), rm, rv, gf.tensor(w), gf.tensor(b), False)
        want = TF.batch_norm(torch.tensor(a), trm, trv, torch.tensor(w), torch.tensor(b), False)
        np.testing.assert_allclose(got.numpy(), want.numpy(), **TOL)


def test_batchnorm_rank_errors_as_torch():
    for ours, theirs, x in [(BatchNorm2d(3), torch.nn.BatchNorm2d(3), (2, 3, 4)),
                            (BatchNorm3d(3), torch.nn.BatchNorm3d(3), (2, 3, 4, 4)),
                            (BatchNorm1d(3), torch.nn.BatchNorm1d(3), (2, 3, 4, 4))]:
        with pytest.raises(ValueError) as want:
            theirs(torch.ones(x))
        with pytest.raises(ValueError, match=str(want.value).replace("(", r"\(")
                           .replace(")", r"\)")):
            ours(gf.ones(x))
    with pytest.raises(ValueError, match=r"BatchNorm2d: expected input of shape \(N, 4, H, W\)"):
        BatchNorm2d(4)(gf.ones(2, 3, 4, 4))
    with pytest.raises(ValueError, match="BatchNorm3d: num_features"):
        BatchNorm3d(0)
    with pytest.raises(ValueError, match="at least 2 dims"):
        batch_norm(gf.ones(3), None, None, training=True)


@pytest.mark.parametrize("shape,groups", [((2, 6, 5), 3), ((2, 4, 3, 5), 2), ((3, 4, 2, 3), 4),
                                          ((2, 6, 2, 2, 2), 1)])
@pytest.mark.parametrize("affine", [True, False])
def test_group_norm_matches_torch(shape, groups, affine):
    rng = np.random.default_rng(2)
    ours = GroupNorm(groups, shape[1], eps=1e-3, affine=affine, dtype="float64")
    theirs = torch.nn.GroupNorm(groups, shape[1], eps=1e-3, affine=affine).double()
    assert repr(ours) == repr(theirs)
    _load_from(ours, theirs, rng)
    _step(ours, theirs, 3 * rng.standard_normal(shape) + 1, rng)


def test_group_norm_bias_false_and_errors():
    ours, theirs = GroupNorm(2, 4, bias=False), torch.nn.GroupNorm(2, 4, bias=False)
    assert repr(ours) == repr(theirs) and list(ours.state_dict()) == list(theirs.state_dict())
    with pytest.raises(ValueError, match=r"num_channels \(4\) must be divisible by num_groups "
                                         r"\(3\)"):
        GroupNorm(3, 4)
    x = gf.ones(2, 4, 5, 6)
    cases = [(dict(num_groups=3), "divisible by num_groups"),
             (dict(num_groups=2, weight=gf.ones(3)), "weight to be a vector of size"),
             (dict(num_groups=2, bias=gf.ones(3)), "bias to be a vector of size")]
    for kw, msg in cases:
        with pytest.raises(RuntimeError):
            TF.group_norm(torch.ones(2, 4, 5, 6), **{k: torch.ones(3) if k != "num_groups"
                                                     else v for k, v in kw.items()})
        with pytest.raises(RuntimeError, match=msg):
            group_norm(x, **kw)
    with pytest.raises(RuntimeError, match="at least 2 dimensions"):
        group_norm(gf.ones(4), 2)


@pytest.mark.parametrize("cls,shape", [("InstanceNorm1d", (3, 4, 5)),
                                       ("InstanceNorm2d", (2, 3, 4, 5)),
                                       ("InstanceNorm2d", (3, 4, 5)),  # unbatched (C, H, W)
                                       ("InstanceNorm3d", (2, 2, 3, 2, 3))])
@pytest.mark.parametrize("affine,track", [(False, False), (True, True), (False, True)])
def test_instance_norm_modules_match_torch(cls, shape, affine, track):
    rng = np.random.default_rng(3)
    c = shape[-3] if cls == "InstanceNorm2d" and len(shape) == 3 else shape[1]
    ours = {"InstanceNorm1d": InstanceNorm1d, "InstanceNorm2d": InstanceNorm2d,
            "InstanceNorm3d": InstanceNorm3d}[cls](c, affine=affine, track_running_stats=track,
                                                  momentum=0.3, dtype="float64")
    theirs = getattr(torch.nn, cls)(c, affine=affine, track_running_stats=track,
                                    momentum=0.3).double()
    assert repr(ours) == repr(theirs)
    _load_from(ours, theirs, rng)
    for step in range(2):
        _step(ours, theirs, 2 * rng.standard_normal(shape) + step, rng)
    ours.eval()
    theirs.eval()
    _step(ours, theirs, rng.standard_normal(shape), rng)


def test_instance_norm_functional_matches_torch():
    rng = np.random.default_rng(4)
    a, w, b = rng.standard_normal((3, 2, 4, 3)), rng.standard_normal(2), rng.standard_normal(2)
    rm, rv = gf.zeros(2, dtype="float64"), gf.ones(2, dtype="float64")
    trm, trv = torch.zeros(2, dtype=torch.float64), torch.ones(2, dtype=torch.float64)
    for use_input_stats in (True, False):
        got = instance_norm(gf.tensor(a), rm, rv, gf.tensor(w), gf.tensor(b), use_input_stats,
                            0.25, 1e-3)
        want = TF.instance_norm(torch.tensor(a), trm, trv, torch.tensor(w), torch.tensor(b),
                                use_input_stats, 0.25, 1e-3)
        np.testing.assert_allclose(got.numpy(), want.numpy(), **TOL)
        np.testing.assert_allclose(rm.numpy(), trm.numpy(), **TOL)
        np.testing.assert_allclose(rv.numpy(), trv.numpy(), **TOL)


def test_instance_norm_errors_and_warning_as_torch():
    with pytest.raises(ValueError, match="more than 1 spatial element"):
        instance_norm(gf.ones(2, 4, 1))
    with pytest.raises(ValueError, match=r"expected 3D or 4D input \(got 5D input\)"):
        InstanceNorm2d(4)(gf.ones(2, 4, 3, 3, 3))
    with pytest.raises(ValueError, match=r"size at dim=1 to match num_features \(4\)"):
        InstanceNorm1d(4, affine=True)(gf.ones(2, 3, 3))
    with pytest.raises(RuntimeError, match="weight has shape"):
        instance_norm(gf.ones(2, 4, 3), weight=gf.ones(3))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(UserWarning, match="dim=1 does not match num_features"):
            InstanceNorm2d(4)(gf.randn(2, 2, 4, 3))


@pytest.mark.parametrize("groups", [2, 4])
def test_group_norm_second_order_matches_jax(groups):
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    jnp = jax.numpy
    rng = np.random.default_rng(5)
    shape = (2, 4, 3, 2)
    a, v, w = (rng.standard_normal(shape) for _ in range(3))
    gamma, beta = rng.standard_normal(4), rng.standard_normal(4)

    def f(z):
        r = z.reshape(2, groups, -1)
        mu = r.mean(-1, keepdims=True)
        y = ((r - mu) / jnp.sqrt(((r - mu) ** 2).mean(-1, keepdims=True) + 1e-5))
        y = y.reshape(shape) * gamma[:, None, None] + beta[:, None, None]
        return (y ** 3 * w).sum()

    want = np.asarray(jax.jit(lambda p, t: jax.jvp(jax.grad(f), (p,), (t,))[1])(a, v))
    x = gf.tensor(a, requires_grad=True)
    y = group_norm(x, groups, gf.tensor(gamma), gf.tensor(beta))
    (g,) = gf.grad((y ** 3 * gf.tensor(w)).sum(), x, create_graph=True)
    (hv,) = gf.grad((g * gf.tensor(v)).sum(), x)
    np.testing.assert_allclose(hv.numpy(), want, atol=1e-9)
    if groups == 4:  # one channel per group: instance norm
        x = gf.tensor(a, requires_grad=True)
        y = instance_norm(x, weight=gf.tensor(gamma), bias=gf.tensor(beta))
        (g,) = gf.grad((y ** 3 * gf.tensor(w)).sum(), x, create_graph=True)
        (hv,) = gf.grad((g * gf.tensor(v)).sum(), x)
        np.testing.assert_allclose(hv.numpy(), want, atol=1e-9)


@pytest.mark.parametrize("layout", ["rows", "long rows", "transposed"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_batch_norm_row_sum_path_matches_torch(layout, dtype, monkeypatch):
    """The per-(example, channel) einsum sums of the batch-norm kernels (and their fallbacks:
    rows longer than ROW_SUM_MAX, a non-contiguous input) give torch's values and gradients."""
    from gradflow.kernels import normalization as kn

    rng = np.random.default_rng(21)
    a = (rng.standard_normal((6, 4, 5, 7)) * 3 + 2).astype(dtype)
    if layout == "long rows":
        monkeypatch.setattr(kn, "ROW_SUM_MAX", 8)
    w, b = rng.random(4).astype(dtype), rng.standard_normal(4).astype(dtype)
    cot = rng.standard_normal(a.shape).astype(dtype)
    x = gf.tensor(a, requires_grad=True)
    W, B = gf.tensor(w, requires_grad=True), gf.tensor(b, requires_grad=True)
    xin = x.permute(0, 1, 3, 2) if layout == "transposed" else x
    rows = []
    real = kn._row_sums
    monkeypatch.setattr(kn, "_row_sums", lambda *args: rows.append(1) or real(*args))
    y = batch_norm(xin, None, None, W, B, training=True)
    (y * gf.tensor(cot if layout != "transposed" else cot.transpose(0, 1, 3, 2))).sum().backward()
    t = torch.tensor(a, requires_grad=True)
    tw, tb = torch.tensor(w, requires_grad=True), torch.tensor(b, requires_grad=True)
    tin = t.permute(0, 1, 3, 2) if layout == "transposed" else t
    ty = torch.nn.functional.batch_norm(tin, None, None, tw, tb, training=True)
    (ty * torch.tensor(cot if layout != "transposed" else cot.transpose(0, 1, 3, 2))).sum(
    ).backward()
    tol = 1e-12 if dtype == "float64" else 2e-5
    for got, want in ((y, ty), (x.grad, t.grad), (W.grad, tw.grad), (B.grad, tb.grad)):
        np.testing.assert_allclose(got.numpy(), want.detach().numpy(), rtol=tol, atol=tol)
    if layout != "transposed":  # (transposed: the forward falls back, the backward may not)
        assert len(rows) == (4 if layout == "rows" else 0)  # mean, variance, Σg, Σg·x̂
