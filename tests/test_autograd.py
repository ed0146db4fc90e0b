"""The engine: the seed lectures' worked examples, accumulation, graph freeing, higher order,
custom Functions, grad modes, anomaly detection and in-place checks."""

from __future__ import annotations

import numpy as np
import pytest

import gradflow as gf
import gradflow.functional as F


def test_sigmoid_neuron_lecture_example():
    """Lecture 000: f(w, x) = σ(w0 x0 + w1 x1 + w2), w = (2, −3, −3), x = (−1, −2)."""
    w = gf.tensor([2.0, -3.0, -3.0], requires_grad=True)
    x = gf.tensor([-1.0, -2.0], requires_grad=True)
    f = F.sigmoid(w[0] * x[0] + w[1] * x[1] + w[2])
    f.backward()
    assert round(f.item(), 2) == 0.73
    np.testing.assert_allclose(np.round(w.grad.numpy(), 2), [-0.20, -0.39, 0.20])
    np.testing.assert_allclose(np.round(x.grad.numpy(), 2), [0.39, -0.59])
    # the sigmoid gate's local derivative is σ(1 − σ)
    s = f.item()
    np.testing.assert_allclose(w.grad.numpy()[2], s * (1 - s), rtol=1e-6)


def test_decomposed_sigmoid_matches_fused():
    """The same neuron with the lecture's gates 1/(1 + exp(−z)) gives the same gradients."""
    w1 = gf.tensor([2.0, -3.0, -3.0], dtype="float64", requires_grad=True)
    w2 = gf.tensor([2.0, -3.0, -3.0], dtype="float64", requires_grad=True)
    x = gf.tensor([-1.0, -2.0], dtype="float64")
    z1 = w1[0] * x[0] + w1[1] * x[1] + w1[2]
    (1 / (1 + gf.exp(-z1))).backward()
    z2 = w2[0] * x[0] + w2[1] * x[1] + w2[2]
    F.sigmoid(z2).backward()
    np.testing.assert_allclose(w1.grad.numpy(), w2.grad.numpy(), rtol=1e-12)


def test_relu_neuron_mse_lecture_example():
    """Lecture 001: y = max(0, w·x + b), E = (y − t)²; dE/dw = 2(y − t)·[z > 0]·x."""
    w = gf.tensor([0.5, -0.25, 1.0], dtype="float64", requires_grad=True)
    b = gf.tensor(0.1, dtype="float64", requires_grad=True)
    x = gf.tensor([1.0, 2.0, 3.0], dtype="float64")
    t = 2.0
    y = F.relu((w * x).sum() + b)
    loss = (y - t) ** 2
    loss.backward()
    z = 0.5 - 0.5 + 3.0 + 0.1
    np.testing.assert_allclose(w.grad.numpy(), 2 * (z - t) * x.numpy())
    np.testing.assert_allclose(b.grad.item(), 2 * (z - t))
    with gf.no_grad():  # one gradient-descent step lowers the loss
        w2 = w - 0.01 * w.grad
        b2 = b - 0.01 * b.grad
        assert ((F.relu((w2 * x).sum() + b2) - t) ** 2).item() < loss.item()


def test_gradients_accumulate_into_leaves():
    x = gf.tensor([1.0, 2.0], requires_grad=True)
    (x * 3).sum().backward()
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3 + 2, 3 + 4])
    x.grad = None
    (x * 2).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2, 2])


def test_shared_gradient_arrays_are_not_aliased():
    a = gf.tensor([1.0, 2.0], requires_grad=True)
    b = gf.tensor([3.0, 4.0], requires_grad=True)
    (a + b).sum().backward()
    a.grad.array *= 10  # e.g. in-place clipping of one parameter's gradient
    np.testing.assert_allclose(b.grad.numpy(), [1, 1])


def test_broadcast_gradient_is_writable():
    x = gf.tensor([[1.0, 2.0]], requires_grad=True)
    y = gf.ones(3, 2, requires_grad=True)
    (x + y).sum().backward()
    x.grad.array += 1
    y.grad.array += 1
    np.testing.assert_allclose(x.grad.numpy(), [[4, 4]])


def test_second_backward_without_retain_graph_raises():
    x = gf.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="retain_graph"):
        y.backward()


def test_retain_graph_allows_second_backward():
    x = gf.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), [4, 8])


def test_graph_is_freed_after_backward():
    x = gf.tensor([1.0, 2.0], requires_grad=True)
    y = gf.exp(x * x)
    node = y.grad_fn
    assert node._saved
    y.sum().backward()
    assert node.freed and node._saved == ()


def test_nonscalar_backward_needs_gradient():
    x = gf.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    with pytest.raises(RuntimeError, match="scalar"):
        y.backward()
    y.backward(gf.tensor([1.0, 10.0]))
    np.testing.assert_allclose(x.grad.numpy(), [2, 20])


def test_backward_of_tensor_without_grad_raises():
    with pytest.raises(RuntimeError, match="does not require grad"):
        (gf.tensor([1.0]) * 2).sum().backward()


def test_gradient_shape_mismatch_raises():
    x = gf.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="shape"):
        (x * 2).backward(gf.tensor([1.0, 2.0, 3.0]))


def test_deep_chain_has_no_recursion_limit():
    x = gf.tensor(1.0, dtype="float64", requires_grad=True)
    y = x
    for _ in range(5000):
        y = y * 1.0001
    y.backward()
    np.testing.assert_allclose(x.grad.item(), 1.0001 ** 5000, rtol=1e-9)


def test_grad_returns_tuple_and_does_not_accumulate():
    x = gf.tensor([1.0, 2.0], requires_grad=True)
    y = gf.tensor([3.0], requires_grad=True)
    gx, gy = gf.grad((x * y).sum(), [x, y])
    np.testing.assert_allclose(gx.numpy(), [3, 3])
    np.testing.assert_allclose(gy.numpy(), [3])
    assert x.grad is None and y.grad is None


def test_grad_with_respect_to_intermediate():
    x = gf.tensor([1.0, 2.0], requires_grad=True)
    h = x * 3
    out = (h * h).sum()
    (gh,) = gf.grad(out, [h])
    np.testing.assert_allclose(gh.numpy(), 2 * h.numpy())


def test_grad_unused_input():
    x = gf.tensor([1.0], requires_grad=True)
    z = gf.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="allow_unused"):
        gf.grad((x * 2).sum(), [z])
    assert gf.grad((x * 2).sum(), [z], allow_unused=True) == (None,)


def test_create_graph_hessian_vector_product():
    x = gf.tensor([0.5, -1.0, 2.0], dtype="float64", requires_grad=True)
    (g,) = gf.grad((gf.tanh(x) * x ** 2).sum(), [x], create_graph=True)
    v = gf.tensor([1.0, 2.0, 3.0], dtype="float64")
    (hv,) = gf.grad((g * v).sum(), [x])
    xs = x.numpy()
    t = np.tanh(xs)
    d2 = (-2 * t * (1 - t ** 2)) * xs ** 2 + 4 * xs * (1 - t ** 2) + 2 * t  # diagonal Hessian
    np.testing.assert_allclose(hv.numpy(), d2 * v.numpy(), rtol=1e-10)


def test_third_order_derivative():
    x = gf.tensor(0.7, dtype="float64", requires_grad=True)
    (g1,) = gf.grad(x ** 4, [x], create_graph=True)
    (g2,) = gf.grad(g1, [x], create_graph=True)
    (g3,) = gf.grad(g2, [x])
    np.testing.assert_allclose(g3.item(), 24 * 0.7, rtol=1e-12)


def test_backward_create_graph_makes_grad_differentiable():
    x = gf.tensor([1.0, 2.0], dtype="float64", requires_grad=True)
    (x ** 3).sum().backward(create_graph=True)
    assert x.grad.requires_grad
    (h,) = gf.grad(x.grad.sum(), [x])
    np.testing.assert_allclose(h.numpy(), 6 * x.numpy())


class Cube(gf.Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return a ** 3

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        return g * 3 * a * a


def test_custom_function_first_and_second_order():
    x = gf.tensor([1.0, -2.0], dtype="float64", requires_grad=True)
    y = Cube.apply(x)
    np.testing.assert_allclose(y.numpy(), [1, -8])
    (g,) = gf.grad(y.sum(), [x], create_graph=True)
    np.testing.assert_allclose(g.numpy(), [3, 12])
    (h,) = gf.grad(g.sum(), [x])
    np.testing.assert_allclose(h.numpy(), [6, -12])


def test_custom_function_needs_input_grad_and_non_differentiable():
    class SortWithIndex(gf.Function):
        @staticmethod
        def forward(ctx, a, flag):
            order = ctx.xp.argsort(a)
            ctx.order = order
            ctx.seen = ctx.needs_input_grad
            ctx.mark_non_differentiable(order)
            return a[order], order

        @staticmethod
        def backward(ctx, g, g_order):
            out = ctx.xp.zeros_like(g.array)
            out[ctx.order] = g.array
            return gf.tensor(out, dtype=g.dtype), None

    x = gf.tensor([3.0, 1.0, 2.0], requires_grad=True)
    values, order = SortWithIndex.apply(x, "flag")
    assert values.requires_grad and not order.requires_grad
    assert values.grad_fn.seen == (True, False)
    (values * gf.tensor([1.0, 2.0, 3.0])).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3, 1, 2])


def test_custom_function_wrong_number_of_gradients():
    class Bad(gf.Function):
        @staticmethod
        def forward(ctx, a, b):
            return a + b

        @staticmethod
        def backward(ctx, g):
            return (g,)

    a = gf.tensor([1.0], requires_grad=True)
    b = gf.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="returned 1 gradients"):
        Bad.apply(a, b).sum().backward()


def test_no_grad_and_enable_grad():
    x = gf.tensor([1.0], requires_grad=True)
    with gf.no_grad():
        assert not gf.is_grad_enabled()
        y = x * 2
        with gf.enable_grad():
            z = x * 2
    assert gf.is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None
    assert z.requires_grad

    @gf.no_grad()
    def f(t):
        return t * 2

    assert not f(x).requires_grad
    assert gf.is_grad_enabled()


def test_retain_grad_on_intermediate():
    x = gf.tensor([1.0, 2.0], requires_grad=True)
    h = x * 3
    h.retain_grad()
    (h * h).sum().backward()
    np.testing.assert_allclose(h.grad.numpy(), 2 * h.numpy())


def test_in_place_change_of_saved_tensor_raises():
    x = gf.tensor([1.0, 2.0], requires_grad=True)
    h = x * 2
    y = (h * h).sum()  # Mul saves h
    h[0] = 5.0  # recorded in place (h is not a leaf)
    with pytest.raises(RuntimeError, match="modified in place"):
        y.backward()


def test_in_place_change_of_saved_leaf_data_raises():
    w = gf.tensor([1.0, 2.0], requires_grad=True)
    x = gf.tensor([3.0, 4.0])
    y = (w * x).sum()  # saves x
    x[1] = 0.0
    with pytest.raises(RuntimeError, match="modified in place"):
        y.backward()


def test_setitem_on_leaf_requiring_grad_raises():
    w = gf.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf"):
        w[0] = 3.0
    with gf.no_grad():
        w[0] = 3.0
    np.testing.assert_allclose(w.numpy(), [3, 2])


def test_setitem_gradient_flows_to_value_and_tensor():
    x = gf.tensor([1.0, 2.0, 3.0], requires_grad=True)
    v = gf.tensor(10.0, requires_grad=True)
    y = x * 1
    y[1] = v * 2
    (y * gf.tensor([1.0, 2.0, 3.0])).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [1, 0, 3])
    np.testing.assert_allclose(v.grad.item(), 4.0)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # NaN/inf on purpose
def test_detect_anomaly_forward_names_op():
    x = gf.tensor([-1.0, 2.0], requires_grad=True)
    with gf.detect_anomaly(), pytest.raises(RuntimeError, match="Log.*NaN or inf"):
        gf.log(x)
    gf.log(x)  # outside the block: no check (NumPy returns nan)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # NaN/inf on purpose
def test_detect_anomaly_backward_names_op():
    x = gf.tensor([0.0, 4.0], requires_grad=True)
    with gf.detect_anomaly():
        y = gf.sqrt(x).sum()
        with pytest.raises(RuntimeError, match="SqrtBackward.*NaN or inf"):
            y.backward()


def test_float32_leaf_gets_float32_grad_from_float64_ops():
    w = gf.tensor([1.0, 2.0], requires_grad=True)
    x = gf.tensor([3.0, 4.0], dtype="float64")
    (w * x).sum().backward()
    assert w.grad.dtype == np.float32


def test_python_scalars_do_not_promote():
    x = gf.ones(3, requires_grad=True)
    y = (x * 2.5 + 1.0) / 3.0 - 0.5
    assert y.dtype == np.float32
    y.sum().backward()
    assert x.grad.dtype == np.float32
    assert (x * np.float64(2.0)).dtype == np.float32


@pytest.mark.parametrize("fn", [F.sigmoid, F.tanh, F.relu, gf.exp, F.gelu, lambda t: t * t,
                                lambda t: t / 2.0, lambda t: F.softmax(t.reshape(1), 0)])
def test_zero_dimensional_tensors_forward_and_backward(fn):
    x = gf.tensor(0.3, requires_grad=True)
    y = fn(x)
    y.sum().backward()
    assert isinstance(x.grad.array, np.ndarray) and x.grad.shape == ()
    assert isinstance(y.array, np.ndarray)
