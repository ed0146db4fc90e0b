"""gradflow.amp against torch.amp on the CPU: autocast's output dtypes, values and gradients on
a small MLP and a conv net, its nesting/decorator/cache rules, GradScaler's scale trajectory,
skipped steps, errors and state_dict, and float32 master copies of a float16 model."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import gradflow as gf
import gradflow.functional as F
from gradflow import amp

torch = pytest.importorskip("torch")
TF = torch.nn.functional

LOW = {"float16": (gf.float16, torch.float16), "bfloat16": (gf.bfloat16, torch.bfloat16)}
TORCH = {gf.float16: torch.float16, gf.bfloat16: torch.bfloat16, gf.float32: torch.float32,
         gf.float64: torch.float64}

rng = np.random.default_rng(0)
X = rng.standard_normal((8, 6)).astype(np.float32)
Y = np.arange(8) % 3
MLP = [(rng.standard_normal((16, 6)) * 0.4).astype(np.float32),
       (rng.standard_normal(16) * 0.1).astype(np.float32),
       (rng.standard_normal((3, 16)) * 0.4).astype(np.float32),
       np.zeros(3, np.float32)]


def _mlp(lib, f, x, w1, b1, w2, b2):
    h = f.relu(f.linear(x, w1, b1))
    out = f.linear(h, w2, b2)
    return {"hidden": h, "logits": out, "matmul": h @ w2.T, "softmax": f.softmax(out, dim=-1),
            "log_softmax": f.log_softmax(out, dim=-1), "sum": out.sum(),
            "layer_norm": f.layer_norm(out, (3,)), "mse": f.mse_loss(out, out.detach() * 0.5),
            "loss": f.cross_entropy(out, lib.tensor(Y))}


@pytest.mark.parametrize("name", sorted(LOW))
def test_autocast_mlp_matches_torch(name):
    gdt, tdt = LOW[name]
    gp = [gf.tensor(a, requires_grad=True) for a in MLP]
    tp = [torch.tensor(a, requires_grad=True) for a in MLP]
    with amp.autocast("cpu", dtype=gdt):
        assert amp.is_autocast_enabled("cpu") and amp.get_autocast_dtype("cpu") == gdt
        ours = _mlp(gf, F, gf.tensor(X), *gp)
    with torch.autocast("cpu", dtype=tdt):
        theirs = _mlp(torch, TF, torch.tensor(X), *tp)
    assert not amp.is_autocast_enabled("cpu")
    for key in ours:
        assert TORCH[ours[key].dtype] == theirs[key].dtype, key
        np.testing.assert_allclose(ours[key].float().numpy(), theirs[key].detach().float().numpy(),
                                   rtol=1e-2, atol=1e-2 if name == "bfloat16" else 2e-3,
                                   err_msg=key)
    assert ours["loss"].dtype == gf.float32 and ours["logits"].dtype == gdt
    ours["loss"].backward()
    theirs["loss"].backward()
    for g, t in zip(gp, tp):
        assert g.grad.dtype == gf.float32  # float32 parameters get float32 gradients
        np.testing.assert_allclose(g.grad.numpy(), t.grad.numpy(), rtol=2e-2, atol=2e-3)


def test_autocast_conv_and_float64():
    img = rng.standard_normal((2, 3, 6, 6)).astype(np.float32)
    ker = (rng.standard_normal((4, 3, 3, 3)) * 0.3).astype(np.float32)
    with amp.autocast("cpu"):
        y = F.conv2d(gf.tensor(img), gf.tensor(ker), padding=1)
        d = gf.tensor(X, dtype=gf.float64) @ gf.tensor(X.T, dtype=gf.float64)
    with torch.autocast("cpu"):
        ty = TF.conv2d(torch.tensor(img), torch.tensor(ker), padding=1)
        td = torch.tensor(X, dtype=torch.float64) @ torch.tensor(X.T, dtype=torch.float64)
    assert y.dtype == gf.bfloat16 and ty.dtype == torch.bfloat16  # the CPU default
    np.testing.assert_allclose(y.float().numpy(), ty.float().numpy(), rtol=2e-2, atol=2e-2)
    assert d.dtype == gf.float64 and td.dtype == torch.float64  # float64 is never cast


def test_autocast_nesting_decorator_and_cache():
    w = gf.tensor(MLP[0], requires_grad=True)
    x = gf.tensor(X)
    with amp.autocast("cpu", dtype=gf.float16):
        with amp.autocast("cpu", enabled=False):
            assert F.linear(x, w).dtype == gf.float32
        assert F.linear(x, w).dtype == gf.float16
        # a weight is cast once per region; an in-place change invalidates the cached cast
        assert amp.cast("linear", w)[0] is amp.cast("linear", w)[0]
        before = amp.cast("linear", w)[0]
        with gf.no_grad():
            w.mul_(2)
        after = amp.cast("linear", w)[0]
        assert after is not before and after.tolist() == w.half().tolist()

    @amp.autocast("cpu", dtype=gf.bfloat16)
    def forward(a):
        return a @ w.T

    assert forward(x).dtype == gf.bfloat16 and (x @ w.T).dtype == gf.float32
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with amp.autocast("cpu", dtype=gf.float32) as ctx:  # as torch: warn, run in float32
            assert not ctx.enabled and (x @ w.T).dtype == gf.float32
    assert any("not supported" in str(c.message) for c in caught)
    with pytest.raises(RuntimeError, match="device_type"):
        amp.autocast("xpu")


def _train(lib, scaler, params, grads):
    """Steps of SGD through the scaler with given (unscaled) gradients; the scale after
    each update and the parameters."""
    opt = (gf.optim.SGD if lib is gf else torch.optim.SGD)(params, lr=0.1, momentum=0.9)
    scales, returned = [], []
    for g in grads:
        opt.zero_grad()
        loss = (params[0] * lib.tensor(g)).sum()
        scaler.scale(loss).backward()
        returned.append(scaler.step(opt))
        scaler.update()
        scales.append(scaler.get_scale())
    return scales, returned


def test_grad_scaler_matches_torch():
    grads = [np.array([1.0, -2.0], np.float32)] * 3 + [np.array([np.inf, 1.0], np.float32)] \
        + [np.array([0.5, 0.25], np.float32)] * 4 + [np.array([np.nan, 0.0], np.float32)]
    kw = dict(init_scale=1024.0, growth_factor=4.0, backoff_factor=0.25, growth_interval=3)
    gs, ts = amp.GradScaler("cpu", **kw), torch.amp.GradScaler("cpu", **kw)
    gp = [gf.nn.Parameter(gf.tensor([1.0, 1.0]))]
    tp = [torch.nn.Parameter(torch.tensor([1.0, 1.0]))]
    ours, ours_ret = _train(gf, gs, gp, grads)
    theirs, theirs_ret = _train(torch, ts, tp, grads)
    assert ours == theirs == [1024.0, 1024.0, 4096.0, 1024.0, 1024.0, 1024.0, 4096.0, 4096.0,
                              1024.0]
    assert [r is None for r in ours_ret] == [r is None for r in theirs_ret]
    np.testing.assert_allclose(gp[0].detach().numpy(), tp[0].detach().numpy(), rtol=1e-6)
    sd = gs.state_dict()
    assert sd == {k: (v.item() if hasattr(v, "item") else v) for k, v in ts.state_dict().items()}
    fresh = amp.GradScaler()
    fresh.load_state_dict(sd)
    assert fresh.state_dict() == sd and fresh.get_scale() == 1024.0


def test_grad_scaler_unscale_before_clipping():
    p = gf.nn.Parameter(gf.tensor([3.0, 4.0]))
    opt = gf.optim.SGD([p], lr=1.0)
    s = amp.GradScaler(init_scale=8.0)
    s.scale((p * p).sum()).backward()
    assert p.grad.tolist() == [48.0, 64.0]
    s.unscale_(opt)
    assert p.grad.tolist() == [6.0, 8.0]
    gf.nn.utils.clip_grad_norm_([p], 5.0)
    s.step(opt)  # does not unscale a second time
    s.update()
    np.testing.assert_allclose(p.detach().numpy(), [0.0, 0.0], atol=1e-6)


def test_grad_scaler_errors_as_torch():
    p = gf.nn.Parameter(gf.ones(2))
    opt = gf.optim.SGD([p], lr=0.1)
    s = amp.GradScaler("cpu")
    p.grad = gf.ones(2)
    s.unscale_(opt)
    with pytest.raises(RuntimeError, match="already been called"):
        s.unscale_(opt)
    s.step(opt)
    with pytest.raises(RuntimeError, match="step\\(\\) has already been called"):
        s.step(opt)
    with pytest.raises(RuntimeError, match="after step"):
        s.unscale_(opt)
    s.update()
    with pytest.raises(AssertionError, match="No inf checks"):
        s.update()
    with pytest.raises(RuntimeError, match="Closure"):
        s.step(opt, closure=lambda: 0.0)
    half = gf.nn.Parameter(gf.ones(2, dtype=gf.float16))
    half.grad = gf.ones(2, dtype=gf.float16)
    with pytest.raises(ValueError, match="FP16"):
        s.unscale_(gf.optim.SGD([half], lr=0.1))
    with pytest.raises(ValueError, match="Tensor"):
        s.scale(3.0)
    with pytest.raises(RuntimeError, match="empty"):
        amp.GradScaler().load_state_dict({})
    scaled = s.scale([gf.ones(1), (gf.ones(1),)])
    assert isinstance(scaled, list) and isinstance(scaled[1], tuple)
    assert scaled[1][0].item() == s.get_scale() == 65536.0
    off = amp.GradScaler(enabled=False)
    x = gf.ones(1)
    assert off.scale(x) is x and off.get_scale() == 1.0 and off.state_dict() == {}
    assert not off.is_enabled()


def test_master_params_train_a_float16_model():
    gf.manual_seed(0)
    model = gf.nn.Sequential(gf.nn.Linear(6, 16), gf.nn.ReLU(), gf.nn.Linear(16, 3)).half()
    master = amp.MasterParams(model.parameters())
    assert all(m.dtype == gf.float32 for m in master.parameters())
    opt = gf.optim.SGD(master.parameters(), lr=0.5)
    scaler = amp.GradScaler("cpu", init_scale=2.0 ** 20)
    x, y = gf.tensor(X).half(), gf.tensor(Y)
    losses = []
    for _ in range(20):
        model.zero_grad()
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        with np.errstate(over="ignore", invalid="ignore"):
            scaler.scale(loss).backward()  # 2**20 * loss overflows float16: a skipped step
        master.copy_grads_to_master()
        scaler.step(opt)
        scaler.update()
        master.copy_master_to_model()
        losses.append(loss.item())
    assert scaler.get_scale() < 2.0 ** 20  # backed off after the overflows
    assert losses[-1] < 0.8 * losses[0]
    for p, m in zip(model.parameters(), master.parameters()):
        assert p.dtype == gf.float16 and p.tolist() == m.half().tolist()
