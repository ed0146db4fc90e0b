"""float16 and bfloat16 tensors on the CPU against PyTorch's CPU half/bfloat16: creation,
conversion, printing, promotion, and the values, result dtypes and gradients of the core ops
(computed in float32 where PyTorch accumulates in float32, stored in the tensor's dtype)."""

from __future__ import annotations

import numpy as np
import pytest

import gradflow as gf
import gradflow.functional as F
from gradflow.dtypes import is_floating, is_inexact, is_low_precision
from gradflow.ops._promote import result_dtype

torch = pytest.importorskip("torch")
TF = torch.nn.functional

LOW = {"float16": (gf.float16, torch.float16), "bfloat16": (gf.bfloat16, torch.bfloat16)}
# a few ulps of each format (float16: 11 significant bits, bfloat16: 8)
TOL = {"float16": 4e-3, "bfloat16": 3e-2}
TORCH = {gf.float16: torch.float16, gf.bfloat16: torch.bfloat16, gf.float32: torch.float32,
         gf.float64: torch.float64, gf.int64: torch.int64, gf.int32: torch.int32,
         gf.uint8: torch.uint8, gf.bool: torch.bool, gf.complex64: torch.complex64,
         gf.complex128: torch.complex128}


def _pair(a: np.ndarray, name: str, grad: bool = True):
    """The same float32 values rounded to ``name`` in gradflow and torch."""
    gdt, tdt = LOW[name]
    g = gf.tensor(a).to(gdt).detach().requires_grad_(grad)
    t = torch.tensor(a).to(tdt).detach().requires_grad_(grad)
    return g, t


def _f32(x) -> np.ndarray:
    return x.detach().float().numpy() if isinstance(x, torch.Tensor) else x.float().numpy()


def close(ours, theirs, name, scale=1.0):
    tol = TOL[name] * scale
    np.testing.assert_allclose(_f32(ours), _f32(theirs), rtol=tol, atol=tol)


rng = np.random.default_rng(0)
X = rng.standard_normal((4, 6)).astype(np.float32)
Y = rng.standard_normal((4, 6)).astype(np.float32)
W = (rng.standard_normal((5, 6)) * 0.5).astype(np.float32)
B = rng.standard_normal(5).astype(np.float32)
G = rng.standard_normal(6).astype(np.float32) + 1
TARGET = np.array([0, 3, 5, 1])
IMG = rng.standard_normal((2, 3, 6, 6)).astype(np.float32)
KER = (rng.standard_normal((4, 3, 3, 3)) * 0.3).astype(np.float32)

# name -> (fn(lib, F, *tensors), float32 inputs); lib/F are gradflow or torch
OPS = {
    "add": (lambda m, f, x, y: x + y, (X, Y)),
    "sub": (lambda m, f, x, y: x - y, (X, Y)),
    "mul": (lambda m, f, x, y: x * y, (X, Y)),
    "div": (lambda m, f, x, y: x / (y.abs() + 0.5), (X, Y)),
    "scalar": (lambda m, f, x: 2.5 * x - 1 + x / 3, (X,)),
    "matmul": (lambda m, f, x, w: x @ w.T, (X, W)),
    "linear": (lambda m, f, x, w, b: f.linear(x, w, b), (X, W, B)),
    "exp": (lambda m, f, x: x.exp(), (X,)),
    "log": (lambda m, f, x: (x.abs() + 0.1).log(), (X,)),
    "tanh": (lambda m, f, x: x.tanh(), (X,)),
    "sigmoid": (lambda m, f, x: x.sigmoid(), (X,)),
    "relu": (lambda m, f, x: f.relu(x), (X,)),
    "softmax": (lambda m, f, x: f.softmax(x, dim=-1), (X,)),
    "log_softmax": (lambda m, f, x: f.log_softmax(x, dim=1), (X,)),
    "sum": (lambda m, f, x: x.sum(dim=0), (X,)),
    "mean": (lambda m, f, x: x.mean(), (X,)),
    "cross_entropy": (lambda m, f, x: f.cross_entropy(x, m.tensor(TARGET)), (X,)),
    "layer_norm": (lambda m, f, x, g, b: f.layer_norm(x, (6,), g, b[:1].expand(6)), (X, G, B)),
    "batch_norm": (lambda m, f, x, g: f.batch_norm(x, None, None, g, None, training=True),
                   (X, G)),
    "conv2d": (lambda m, f, x, w: f.conv2d(x, w, padding=1), (IMG, KER)),
}


@pytest.mark.parametrize("name", sorted(LOW))
@pytest.mark.parametrize("op", sorted(OPS))
def test_op_values_dtypes_and_grads_match_torch(op, name):
    """Values and gradients within a few ulps of torch's float32 result on the same rounded
    inputs (what computing in float32 and storing in the low dtype gives), and close to torch's
    own float16/bfloat16 result (which rounds some intermediates: its bfloat16 batch_norm is off
    by up to 0.09 on values of 2.4)."""
    fn, inputs = OPS[op]
    pairs = [_pair(a, name) for a in inputs]
    exact = [p[1].detach().float().requires_grad_() for p in pairs]
    ours = fn(gf, F, *[p[0] for p in pairs])
    theirs = fn(torch, TF, *[p[1] for p in pairs])
    ref = fn(torch, TF, *exact)
    assert ours.dtype == LOW[name][0] and theirs.dtype == LOW[name][1]
    close(ours, ref, name)
    close(ours, theirs, name, scale=4.0)
    r = rng.standard_normal(tuple(theirs.shape)).astype(np.float32)
    (ours.float() * gf.tensor(r)).sum().backward()
    (theirs.float() * torch.tensor(r)).sum().backward()
    (ref * torch.tensor(r)).sum().backward()
    for (g, t), e in zip(pairs, exact):
        assert g.grad.dtype == g.dtype  # the gradient takes the parameter's dtype
        close(g.grad, e.grad, name, scale=2.0)
        close(g.grad, t.grad, name, scale=4.0)


@pytest.mark.parametrize("name", sorted(LOW))
def test_reductions_accumulate_in_float32(name):
    """NumPy's bfloat16 sum accumulates in bfloat16 (4096 ones sum to 256); torch's and ours
    accumulate in float32."""
    g, t = _pair(np.ones(4096, np.float32), name, grad=False)
    assert g.sum().item() == t.sum().item() == 4096
    assert g.mean().item() == t.mean().item() == 1
    big = rng.standard_normal((64, 256)).astype(np.float32)
    g, t = _pair(big, name, grad=False)
    close(g @ g.T, t @ t.T, name, scale=4)


@pytest.mark.parametrize("name", sorted(LOW))
def test_creation_and_conversion(name):
    gdt, tdt = LOW[name]
    for fn in ("zeros", "ones", "empty", "rand", "randn"):
        assert getattr(gf, fn)(2, 3, dtype=gdt).dtype == gdt
    assert gf.full((2,), 1.5, dtype=gdt).dtype == gdt
    assert gf.arange(4, dtype=gdt).tolist() == torch.arange(4, dtype=tdt).tolist()
    assert gf.linspace(0, 1, 5, dtype=gdt).tolist() == torch.linspace(0, 1, 5, dtype=tdt).tolist()
    assert gf.eye(3, dtype=gdt).dtype == gdt
    assert gf.zeros_like(gf.zeros(2, dtype=gdt)).dtype == gdt
    with np.errstate(over="ignore"):  # 70000 overflows float16 (inf, as torch, silently)
        x = gf.tensor([1 / 3, 1e-3, 70000.0, -2.0], dtype=gdt)
    tx = torch.tensor([1 / 3, 1e-3, 70000.0, -2.0], dtype=tdt)
    assert x.tolist() == tx.tolist()  # the same rounding (float16 overflows to inf)
    item = gf.tensor(1 / 3, dtype=gdt).item()
    assert type(item) is float and item == torch.tensor(1 / 3, dtype=tdt).item()
    f32 = gf.tensor([0.1, 2.7])
    for conv in (getattr(f32, "half" if name == "float16" else "bfloat16")(), f32.to(gdt),
                 f32.to("cpu", gdt), f32.to(dtype=gdt), f32.to(gf.zeros(1, dtype=gdt)),
                 f32.type(gdt)):
        assert conv.dtype == gdt
        assert conv.tolist() == torch.tensor([0.1, 2.7]).to(tdt).tolist()
    assert x.float().dtype == gf.float32
    assert x[[0, 1, 3]].to(gf.int64).tolist() == tx[[0, 1, 3]].long().tolist()
    m = gf.nn.Linear(3, 2)
    assert getattr(m, "half" if name == "float16" else "bfloat16")().weight.dtype == gdt
    assert gf.nn.Linear(3, 2, dtype=gdt).bias.dtype == gdt


@pytest.mark.parametrize("name", sorted(LOW))
def test_printing_matches_torch(name):
    gdt, tdt = LOW[name]
    v = [0.7656, -1.5, -1.0625, 1.3887]
    ours = repr(gf.tensor(v, dtype=gdt))
    theirs = repr(torch.tensor(v, dtype=tdt))
    assert ours.endswith(f", dtype={name})") and theirs.endswith(f", dtype=torch.{name})")
    # the same digits (torch pads trailing zeros: 1.5000 vs 1.5)
    ours_nums = [float(s) for s in ours[8:ours.index("]")].split(",")]
    theirs_nums = [float(s) for s in theirs[8:theirs.index("]")].split(",")]
    assert ours_nums == theirs_nums


def test_numpy_of_bfloat16_is_an_ml_dtypes_array():
    """torch refuses ``bfloat16.numpy()`` (no NumPy bfloat16); gradflow's arrays ARE NumPy
    arrays of ml_dtypes' bfloat16, so ``numpy()`` returns them as they are."""
    x = gf.tensor([1.5, -2.25], dtype=gf.bfloat16)
    with pytest.raises(TypeError):
        torch.tensor([1.5], dtype=torch.bfloat16).numpy()
    a = x.numpy()
    assert a.dtype == gf.bfloat16 and a.astype(np.float32).tolist() == [1.5, -2.25]
    assert gf.tensor(a).dtype == gf.bfloat16
    assert gf.tensor([1.0], dtype=gf.float16).numpy().dtype == np.float16


def test_dtype_helpers():
    assert is_floating(gf.bfloat16) and is_floating(gf.float16) and is_floating(gf.float64)
    assert not is_floating(gf.int64) and not is_floating(gf.complex64)
    assert is_inexact(gf.bfloat16) and is_inexact(gf.complex64) and not is_inexact(gf.bool)
    assert gf.bfloat16.kind == "V"  # why dtype.kind == "f" is never the test
    assert is_low_precision(gf.float16) and is_low_precision(gf.bfloat16)
    assert not is_low_precision(gf.float32)
    assert gf.zeros(2, dtype=gf.bfloat16).requires_grad_().requires_grad


def test_promotion_matches_torch_result_type():
    dtypes = list(TORCH)
    for a in dtypes:
        for b in dtypes:
            for da in (0, 1):
                for db in (0, 1):
                    if {a, b} & {gf.float16} and {a, b} & {gf.complex64, gf.complex128}:
                        continue  # torch gives complex32, which gradflow does not have
                    ga, gb = gf.zeros((2,) * da, dtype=a), gf.zeros((2,) * db, dtype=b)
                    ta = torch.zeros((2,) * da, dtype=TORCH[a])
                    tb = torch.zeros((2,) * db, dtype=TORCH[b])
                    assert TORCH[result_dtype("t", ga, gb)] == torch.result_type(ta, tb), (
                        a, b, da, db)
        for s in (3, 2.5, True):
            for d in (0, 1):
                ours = result_dtype("t", gf.zeros((2,) * d, dtype=a), s)
                assert TORCH[ours] == torch.result_type(torch.zeros((2,) * d, dtype=TORCH[a]),
                                                        s), (a, s, d)


@pytest.mark.parametrize("name", sorted(LOW))
def test_mixed_dtype_arithmetic(name):
    gdt, tdt = LOW[name]
    x, tx = _pair(X, name)
    y32 = gf.tensor(Y, requires_grad=True)
    ty32 = torch.tensor(Y, requires_grad=True)
    out, tout = x * y32, tx * ty32
    assert out.dtype == gf.float32 and tout.dtype == torch.float32
    close(out, tout, name)
    out.sum().backward()
    tout.sum().backward()
    assert x.grad.dtype == gdt and y32.grad.dtype == gf.float32
    close(x.grad, tx.grad, name)
    close(y32.grad, ty32.grad, name)
    assert (x + gf.tensor([1, 2, 3, 4, 5, 6])).dtype == gdt
    assert (x + gf.tensor(2.0, dtype=gf.float64)).dtype == gdt
    h, b = gf.zeros(2, dtype=gf.float16), gf.zeros(2, dtype=gf.bfloat16)
    assert (h + b).dtype == gf.float32 and torch.result_type(
        torch.zeros(2, dtype=torch.float16), torch.zeros(2, dtype=torch.bfloat16)) == torch.float32


@pytest.mark.parametrize("name", sorted(LOW))
def test_training_step_keeps_the_parameter_dtype(name):
    gdt, _ = LOW[name]
    gf.manual_seed(0)
    model = gf.nn.Sequential(gf.nn.Linear(6, 8), gf.nn.ReLU(), gf.nn.Linear(8, 3)).to(gdt)
    opt = gf.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    x = gf.tensor(X).to(gdt)
    losses = []
    for _ in range(5):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), gf.tensor(TARGET % 3))
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert all(p.dtype == gdt and p.grad.dtype == gdt for p in model.parameters())
    assert losses[-1] < losses[0]
