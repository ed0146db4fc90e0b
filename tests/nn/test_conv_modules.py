"""``nn.Conv*`` / ``nn.ConvTranspose*`` against torch.nn: state_dict keys and shapes, outputs and
gradients with torch's weights loaded by name, padding modes, ``output_size``, init, repr,
errors."""

import math

import numpy as np
import pytest

import gradflow as gf
from gradflow import nn

torch = pytest.importorskip("torch")

MODULES = [
    ("Conv1d", (3, 4, 3), {"stride": 2, "padding": 1}, (2, 3, 9)),
    ("Conv2d", (3, 4, 3), {"padding": 1, "padding_mode": "reflect"}, (2, 3, 6, 5)),
    ("Conv2d", (4, 6, (3, 2)), {"padding": "same", "padding_mode": "circular", "groups": 2,
                                "dilation": (1, 2)}, (2, 4, 6, 7)),
    ("Conv2d", (2, 3, 2), {"padding": 2, "padding_mode": "replicate", "bias": False},
     (1, 2, 4, 4)),
    ("Conv2d", (3, 5, 3), {"padding": "valid", "stride": 2}, (3, 5, 5)),  # unbatched
    ("Conv3d", (2, 3, 2), {"padding": 1}, (1, 2, 3, 4, 3)),
    ("ConvTranspose1d", (3, 2, 4), {"stride": 2, "padding": 1, "output_padding": 1}, (2, 3, 5)),
    ("ConvTranspose2d", (4, 6, 3), {"stride": 2, "groups": 2, "dilation": 2}, (2, 4, 3, 4)),
    ("ConvTranspose3d", (2, 2, 2), {"stride": 2}, (1, 2, 2, 3, 2)),
]


def _pair(name, args, kwargs):
    torch.manual_seed(0)
    tm = getattr(torch.nn, name)(*args, **kwargs).double()
    gm = getattr(nn, name)(*args, **kwargs, dtype=gf.float64)
    assert list(gm.state_dict()) == list(tm.state_dict())
    for k, v in tm.state_dict().items():
        assert tuple(gm.state_dict()[k].shape) == tuple(v.shape), k
    gm.load_state_dict({k: gf.tensor(v.numpy()) for k, v in tm.state_dict().items()})
    return gm, tm


@pytest.mark.parametrize("name,args,kwargs,xs", MODULES,
                         ids=[f"{m[0]}-{m[2]}" for m in MODULES])
def test_module_matches_torch(name, args, kwargs, xs):
    gm, tm = _pair(name, args, kwargs)
    assert repr(gm) == repr(tm)
    a = np.random.default_rng(0).standard_normal(xs)
    x, tx = gf.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    y, ty = gm(x), tm(tx)
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), atol=1e-10)
    cot = np.random.default_rng(1).standard_normal(tuple(ty.shape))
    (y * gf.tensor(cot)).sum().backward()
    (ty * torch.tensor(cot)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), atol=1e-10)
    for (k, p), (_, tp) in zip(gm.named_parameters(), tm.named_parameters()):
        np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), atol=1e-10, err_msg=k)


def test_conv_transpose_output_size_as_torch():
    gm, tm = _pair("ConvTranspose2d", (2, 3, 3), {"stride": 3, "padding": 1})
    a = np.random.default_rng(2).standard_normal((1, 2, 4, 4))
    for size in [(10, 10), (11, 12), (1, 3, 12, 10)]:
        y = gm(gf.tensor(a), output_size=size)
        ty = tm(torch.tensor(a), output_size=size)
        assert y.shape == tuple(ty.shape)
        np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), atol=1e-10)
    with pytest.raises(ValueError, match="not reachable"):
        gm(gf.tensor(a), output_size=(13, 10))


def test_default_init_is_torchs_uniform_bound():
    gf.manual_seed(0)
    m = nn.Conv2d(8, 16, 3, groups=2)
    bound = 1 / math.sqrt(4 * 9)  # fan_in = in/groups · kH · kW
    for p in (m.weight, m.bias):
        v = p.numpy()
        assert np.abs(v).max() <= bound and np.abs(v).max() > 0.9 * bound
    assert abs(m.weight.numpy().std() - bound / math.sqrt(3)) < 0.02


def test_float32_default_and_training_step_reduces_loss():
    gf.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Flatten(),
                          nn.Linear(4 * 6 * 6, 3))
    x, y = gf.randn(8, 1, 6, 6), gf.tensor([0, 1, 2, 0, 1, 2, 0, 1])
    assert model[0].weight.dtype == gf.float32
    opt = gf.optim.SGD(model.parameters(), lr=0.1)
    losses = []
    for _ in range(20):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


@pytest.mark.parametrize("call,exc,match", [
    (lambda: nn.Conv2d(3, 4, 3)(gf.zeros(2, 5, 8, 8)), RuntimeError,
     r"Conv2d\(3, 4, kernel_size=\(3, 3\).*expected input with 3 channels.*got 5"),
    (lambda: nn.Conv2d(3, 4, 3)(gf.zeros(8, 8)), RuntimeError, r"Conv2d.*3-D \(unbatched\)"),
    (lambda: nn.Conv1d(3, 4, 3)(gf.zeros(1, 3, 2)), RuntimeError, "larger than the padded"),
    (lambda: nn.Conv2d(3, 4, 3, groups=2), ValueError, "in_channels .* divisible by groups"),
    (lambda: nn.Conv2d(4, 3, 3, groups=2), ValueError, "out_channels .* divisible by groups"),
    (lambda: nn.Conv2d(3, 4, 3, groups=0), ValueError, "groups must be a positive"),
    (lambda: nn.Conv2d(3, 4, 3, padding="full"), ValueError, "invalid padding string"),
    (lambda: nn.Conv2d(3, 4, 3, stride=2, padding="same"), ValueError, "strided"),
    (lambda: nn.Conv2d(3, 4, 3, padding_mode="mirror"), ValueError, "padding_mode"),
    (lambda: nn.ConvTranspose2d(3, 4, 3, padding_mode="reflect"), ValueError, '"zeros"'),
    (lambda: nn.Conv2d(3, 4, 2.5), TypeError, "kernel_size"),
    (lambda: nn.Conv2d(0, 4, 3), ValueError, "in_channels must be a positive"),
])
def test_bad_layer_arguments(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
