"""In-place vjps (``Function.vjp_inplace``): the engine lets a vjp overwrite its incoming gradient
only when nothing but the engine holds it. Every way someone else can hold a gradient (the
caller's ``gradient=``, ``retain_grad()``, ``gf.grad`` capturing an intermediate, a second
consumer of one array, a view of a held array, ``retain_graph``) keeps it intact, and the values
are PyTorch's."""

from __future__ import annotations

import numpy as np
import pytest

import gradflow as gf
import gradflow.nn.functional as F
from gradflow.autograd import engine

torch = pytest.importorskip("torch")

seen_flags: list[bool] = []


class Double(gf.Function):
    """2x; its vjp doubles ``g`` in place when the engine says it owns ``g``."""

    vjp_inplace = True

    @staticmethod
    def forward(ctx, x):
        return x * 2

    @staticmethod
    def vjp(ctx, g):
        seen_flags.append(ctx.grad_owned)
        if ctx.grad_owned:
            g *= 2
            return g
        return g * 2

    @staticmethod
    def backward(ctx, g):
        return g * 2


@pytest.fixture(autouse=True)
def _small_arrays_too(monkeypatch):
    monkeypatch.setattr(engine, "INPLACE_MIN_BYTES", 0)


def _x(shape=(3, 4), seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


@pytest.fixture(autouse=True)
def _clear():
    seen_flags.clear()


def test_a_fresh_gradient_from_another_node_is_handed_over():
    x = gf.tensor(_x(), requires_grad=True)
    c = gf.tensor(_x(seed=1))
    (Double.apply(x) * c).sum().backward()  # mul's vjp makes a fresh array for Double
    assert seen_flags == [True]
    np.testing.assert_allclose(x.grad.numpy(), 2 * c.numpy())


def test_the_callers_gradient_is_never_overwritten():
    x = gf.tensor(_x(), requires_grad=True)
    g = gf.tensor(_x(seed=2))
    before = g.numpy().copy()
    Double.apply(x).backward(g)
    assert seen_flags == [False]
    np.testing.assert_array_equal(g.numpy(), before)
    np.testing.assert_allclose(x.grad.numpy(), 2 * before)
    # a view of the caller's gradient (reshape's vjp returns one) is not overwritten either
    y = Double.apply(x).reshape(12)
    g = gf.tensor(_x((12,), seed=3))
    before = g.numpy().copy()
    y.backward(g)
    assert seen_flags[-1] is False
    np.testing.assert_array_equal(g.numpy(), before)


def test_a_view_into_an_array_only_it_holds_is_handed_over():
    x = gf.tensor(_x(), requires_grad=True)
    c = gf.tensor(_x((12,), seed=1))
    (Double.apply(x).reshape(12) * c).sum().backward()
    assert seen_flags == [True]
    np.testing.assert_allclose(x.grad.numpy(), 2 * c.numpy().reshape(3, 4))


def test_retained_and_captured_gradients_stay_intact():
    x = gf.tensor(_x(), requires_grad=True)
    c = gf.tensor(_x(seed=1))
    h = x * 1.0
    y = Double.apply(h)
    y.retain_grad()
    (y * c).sum().backward()
    assert seen_flags == [False]
    np.testing.assert_allclose(y.grad.numpy(), c.numpy())
    seen_flags.clear()
    h = x * 1.0
    y = Double.apply(h)
    gy, gx = gf.grad((y * c).sum(), [y, x])
    assert seen_flags == [False]
    np.testing.assert_allclose(gy.numpy(), c.numpy())
    np.testing.assert_allclose(gx.numpy(), 2 * c.numpy())


def test_one_array_for_two_consumers_is_overwritten_by_the_last_one_only():
    x = gf.tensor(_x(), requires_grad=True)
    c = gf.tensor(_x(seed=1))
    a, b = Double.apply(x), Double.apply(x * 3.0)
    ((a + b) * c).sum().backward()  # add's vjp hands one array to both Doubles
    assert seen_flags == [False, True]
    np.testing.assert_allclose(x.grad.numpy(), 8 * c.numpy(), rtol=1e-6)


def test_retain_graph_and_a_second_backward_give_the_same_gradient():
    x = gf.tensor(_x(), requires_grad=True)
    c = gf.tensor(_x(seed=1))
    loss = (Double.apply(x) * c).sum()
    loss.backward(retain_graph=True)
    first = x.grad.numpy().copy()
    x.grad = None
    loss.backward()
    np.testing.assert_array_equal(x.grad.numpy(), first)


def test_the_refcount_calibration_matches_a_buffer_held_by_one_list():
    a = np.ones(4)
    assert engine._owned([a]) is False  # `a` above is a second holder
    assert engine._owned([np.ones(4)]) is True
    assert engine._owned([np.ones(4)[1:]]) is True  # a view of an array only it holds
    assert engine._owned([a[1:]]) is False
    assert engine._owned([np.broadcast_to(np.ones(1), (4,))]) is False  # read-only
    assert engine._owned([None]) is False


def test_relu_backward_in_place_matches_torch_through_an_mlp():
    rng = np.random.default_rng(0)
    x, w1, w2 = (rng.standard_normal(s).astype(np.float32) for s in ((16, 8), (12, 8), (5, 12)))
    y = rng.integers(0, 5, 16)
    grads = []
    for lib, f in ((gf, F), (torch, torch.nn.functional)):
        ws = [lib.tensor(w, requires_grad=True) for w in (w1, w2)]
        h = f.relu(f.linear(lib.tensor(x), ws[0]))
        f.cross_entropy(f.relu(f.linear(h, ws[1])), lib.tensor(y)).backward()
        grads.append([np.asarray(w.grad.numpy()) for w in ws])
    for a, b in zip(*grads):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_small_gradients_are_not_handed_over(monkeypatch):
    monkeypatch.setattr(engine, "INPLACE_MIN_BYTES", 1 << 16)
    for shape, owned in (((3, 4), False), ((128, 128), True)):  # 48 B and 64 KiB of float32
        seen_flags.clear()
        x = gf.tensor(_x(shape), requires_grad=True)
        (Double.apply(x) * gf.tensor(_x(shape, seed=1))).sum().backward()
        assert seen_flags == [owned]


def test_relu_in_place_and_out_of_place_agree_bit_for_bit():
    x0 = _x((64, 32))
    c = gf.tensor(_x((64, 32), seed=1))
    out = []
    for keep in (False, True):
        x = gf.tensor(x0, requires_grad=True)
        y = F.relu(x * 1.5)
        if keep:  # a retained gradient forces the copying path
            y.retain_grad()
        (y * c).sum().backward()
        out.append(x.grad.numpy())
    np.testing.assert_array_equal(out[0], out[1])


def test_an_existing_grad_is_accumulated_in_place_with_its_version_as_pytorch():
    versions = []
    for lib in (gf, torch):
        w = lib.ones(3, requires_grad=True)
        (w * 2).sum().backward()
        g = w.grad
        buf = g.array if lib is gf else g.data_ptr()
        (w * 2).sum().backward()
        w.grad.zero_()  # zero_grad(set_to_none=False)
        (w * 3).sum().backward()
        assert w.grad is g
        if lib is gf:  # the same buffer, written in place
            assert w.grad.array is buf
        else:
            assert w.grad.data_ptr() == buf
        versions.append(w.grad._version)
        np.testing.assert_array_equal(np.asarray(w.grad.detach().numpy()), [3.0, 3.0, 3.0])
    assert versions[0] == versions[1]
