"""gradcheck / gradgradcheck: built-in ops pass, wrong derivatives are caught and named."""

from __future__ import annotations

import numpy as np
import pytest

import gradflow as gf
import gradflow.functional as F
from gradflow.analysis import GradcheckError, gradcheck, gradgradcheck


def _t(rng, *shape, positive=False, device="cpu"):
    a = rng.standard_normal(shape)
    if positive:
        a = np.abs(a) + 0.5
    return gf.tensor(a, dtype="float64", device=device, requires_grad=True)


TARGET = np.array([0, 3, 1])

# name -> (fn, input shapes, positive inputs)
OPS = {
    "matmul": (lambda a, b: a @ b, [(3, 4), (4, 2)], False),
    "matmul_vec": (lambda a, b: a @ b, [(3, 4), (4,)], False),
    "tanh": (lambda a: a.tanh(), [(3, 4)], False),
    "sigmoid": (lambda a: gf.sigmoid(a), [(3, 4)], False),
    "exp": (lambda a: a.exp(), [(2, 3)], False),
    "log": (lambda a: a.log(), [(2, 3)], True),
    "sqrt_div": (lambda a, b: a.sqrt() / b, [(2, 3), (3,)], True),
    "softmax": (lambda a: F.softmax(a, axis=-1), [(3, 4)], False),
    "log_softmax": (lambda a: F.log_softmax(a, axis=0), [(3, 4)], False),
    "logsumexp": (lambda a: F.logsumexp(a, axis=1), [(3, 4)], False),
    "layer_norm": (lambda x, w, b: F.layer_norm(x, (4,), w, b), [(3, 4), (4,), (4,)], False),
    "cross_entropy": (lambda z: F.cross_entropy(z, gf.tensor(TARGET)), [(3, 4)], False),
    "mse_loss": (lambda a, b: F.mse_loss(a, b), [(3, 2), (3, 2)], False),
    "bce_with_logits": (lambda z, t: F.binary_cross_entropy_with_logits(z, t.sigmoid()),
                        [(4,), (4,)], False),
    "broadcast_mul_sum": (lambda a, b: (a * b - a).sum(axis=0), [(3, 4), (1, 4)], False),
    "mean_var": (lambda a: a.var(axis=1) + a.mean(), [(3, 4)], False),
    "gelu_linear": (lambda x, w, b: F.gelu(F.linear(x, w, b)), [(2, 3), (4, 3), (4,)], False),
}

SECOND_ORDER = ["matmul", "tanh", "softmax", "log_softmax", "layer_norm", "cross_entropy",
                "sigmoid", "log", "gelu_linear"]


@pytest.mark.parametrize("name", sorted(OPS))
def test_builtin_ops_pass(name, rng, device):
    fn, shapes, positive = OPS[name]
    if name == "cross_entropy":
        def fn(z):
            return F.cross_entropy(z, gf.tensor(TARGET, device=device))
    assert gradcheck(fn, [_t(rng, *s, positive=positive, device=device) for s in shapes])


@pytest.mark.parametrize("name", SECOND_ORDER)
def test_builtin_ops_pass_second_order(name, rng):
    fn, shapes, positive = OPS[name]
    assert gradgradcheck(fn, [_t(rng, *s, positive=positive) for s in shapes])


def test_multiple_outputs_and_integer_outputs_ignored(rng):
    x = _t(rng, 3, 4)
    assert gradcheck(lambda a: (a.exp(), a.argmax(axis=1), a.sum(axis=0)), [x])


def test_large_output_is_checked_by_random_projections(rng):
    x = _t(rng, 30, 20)  # 600 outputs > max_full_outputs
    assert gradcheck(lambda a: F.softmax(a, axis=0), [x])
    with pytest.raises(GradcheckError, match="random projection"):
        gradcheck(lambda a: _WrongCube.apply(a), [x])


def test_constant_inputs_pass_through(rng):
    x = _t(rng, 3, 2)
    w = gf.tensor(rng.standard_normal((2, 2)), dtype="float64")  # no grad: a constant
    assert gradcheck(lambda a, b, k: (a @ b) * k, [x, w, 2.0])


class _CubeForward(gf.Function):
    """x³, saving x; the subclasses get its gradient wrong in two ways."""

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return a ** 3


class _WrongCube(_CubeForward):
    """x³ with a backward that says 2x² instead of 3x²."""

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        return g * 2 * a * a


class _FirstOrderOnlyCube(_CubeForward):
    """x³ whose backward is right but built from a constant: its own derivative is lost."""

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        return g * gf.tensor(3 * a.numpy() ** 2, dtype="float64")


def test_wrong_backward_is_caught_and_named(rng):
    x, y = _t(rng, 3), _t(rng, 2, 2)
    with pytest.raises(GradcheckError) as info:
        gradcheck(lambda a, b: a.sum() + _WrongCube.apply(b), [x, y])
    message = str(info.value)
    assert "input 1" in message and "shape (2, 2)" in message
    assert "analytic" in message and "numeric" in message and "element" in message
    assert isinstance(info.value, AssertionError) and isinstance(info.value, RuntimeError)


def test_worst_element_is_reported(rng):
    x = gf.tensor([0.1, 2.0, -0.5], dtype="float64", requires_grad=True)
    with pytest.raises(GradcheckError, match=r"its element \(1,\), output 0 element \(1,\)"):
        gradcheck(lambda a: _WrongCube.apply(a), [x])  # error 2² is largest at x = 2


def test_wrong_second_derivative_is_caught_by_gradgradcheck_only(rng):
    x = _t(rng, 4)
    assert gradcheck(lambda a: _FirstOrderOnlyCube.apply(a), [x])
    with pytest.raises(GradcheckError, match="gradgradcheck: Jacobian mismatch for input 0"):
        gradgradcheck(lambda a: _FirstOrderOnlyCube.apply(a), [x])


def test_gradgradcheck_with_given_grad_outputs(rng):
    x = _t(rng, 2, 3)
    v = gf.tensor(rng.standard_normal((2, 3)), dtype="float64", requires_grad=True)
    assert gradgradcheck(lambda a: a.tanh() * a, [x], grad_outputs=[v])
    with pytest.raises(ValueError, match="1 differentiable outputs but 2 grad_outputs"):
        gradgradcheck(lambda a: a.tanh(), [x], grad_outputs=[v, v])


def test_float32_input_is_a_clear_error():
    x = gf.tensor([1.0, 2.0], requires_grad=True)  # float32
    with pytest.raises(TypeError, match="input 0 is float32.*float64"):
        gradcheck(lambda a: a.tanh(), [x])
    with pytest.raises(TypeError, match="float64"):
        gradgradcheck(lambda a: a.tanh(), x)


def test_float32_output_is_a_clear_error(rng):
    with pytest.raises(TypeError, match="output 0 is float32"):
        gradcheck(lambda a: a.to(dtype="float32"), [_t(rng, 2)])


def test_no_input_requiring_grad_is_an_error():
    x = gf.tensor([1.0, 2.0], dtype="float64")
    with pytest.raises(ValueError, match="no input requires grad"):
        gradcheck(lambda a: a.tanh(), [x])


def test_inputs_are_restored(rng):
    x = _t(rng, 3, 3)
    before = x.numpy().copy()
    gradcheck(lambda a: (a @ a).exp(), x)
    np.testing.assert_array_equal(x.numpy(), before)
