"""The Function contract: ``vjp`` (arrays, first order) beside ``backward`` (Tensors, recorded),
and the engine's bookkeeping around it (dtype/shape checks, aliasing, freeing, retained grads)."""

from __future__ import annotations

import ast
import pathlib
import types

import numpy as np
import pytest
import torch

import gradflow as gf
from gradflow.backends.numpy_backend import NumpyBackend

CALLS: list[str] = []


class _CubeForward(gf.Function):
    """x³, saving x; the subclasses declare its gradient in each of the three ways."""

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return a ** 3


class Cube(_CubeForward):
    @staticmethod
    def backward(ctx, g):
        CALLS.append("backward")
        (a,) = ctx.saved_tensors
        return g * 3 * a * a

    @staticmethod
    def vjp(ctx, g):
        CALLS.append("vjp")
        (a,) = ctx.saved_arrays
        assert isinstance(a, np.ndarray) and isinstance(g, np.ndarray)
        return g * 3 * a * a


class CubeOnce(_CubeForward):
    """Once differentiable: vjp only."""

    @staticmethod
    def vjp(ctx, g):
        (a,) = ctx.saved_arrays
        return g * 3 * a * a


class CubeComposed(_CubeForward):
    """backward only: it also serves first-order gradients, run under no-grad."""

    @staticmethod
    def backward(ctx, g):
        CALLS.append(("backward", gf.is_grad_enabled()))
        (a,) = ctx.saved_tensors
        return g * 3 * a * a


def test_engine_calls_vjp_first_order_and_backward_when_recording():
    x = gf.tensor([1.0, -2.0], dtype="float64", requires_grad=True)
    CALLS.clear()
    Cube.apply(x).sum().backward()
    assert CALLS == ["vjp"]
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 12.0])
    CALLS.clear()
    (g,) = gf.grad(Cube.apply(x).sum(), [x], create_graph=True)
    assert CALLS == ["backward"] and g.requires_grad
    (h,) = gf.grad(g.sum(), [x])
    np.testing.assert_allclose(h.numpy(), [6.0, -12.0])  # 6x


def test_function_without_vjp_runs_backward_under_no_grad():
    x = gf.tensor([1.0, 2.0], requires_grad=True)
    CALLS.clear()
    CubeComposed.apply(x).sum().backward()
    assert CALLS == [("backward", False)]
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 12.0])
    CALLS.clear()
    (g,) = gf.grad(CubeComposed.apply(x).sum(), [x], create_graph=True)
    assert CALLS == [("backward", True)] and g.requires_grad


def test_has_vjp_and_has_backward_are_declared_per_class():
    assert Cube.has_vjp and Cube.has_backward
    assert CubeOnce.has_vjp and not CubeOnce.has_backward
    assert not CubeComposed.has_vjp and CubeComposed.has_backward


def test_vjp_only_function_is_once_differentiable():
    x = gf.tensor([1.0, 2.0], requires_grad=True)
    (g,) = gf.grad(CubeOnce.apply(x).sum(), [x])
    np.testing.assert_allclose(g.numpy(), [3.0, 12.0])
    with pytest.raises(RuntimeError, match="CubeOnce defines vjp but not backward"):
        gf.grad(CubeOnce.apply(x).sum(), [x], create_graph=True)


class _Double(gf.Function):
    """2x, saving nothing; the tests' subclasses return malformed gradients."""

    @staticmethod
    def forward(ctx, a):
        return a * 2


def test_vjp_results_are_checked_and_normalised():
    class Bad(_Double):
        @staticmethod
        def vjp(ctx, g):
            return g.sum(axis=0)  # wrong shape

    x = gf.tensor([[1.0, 2.0]], requires_grad=True)
    with pytest.raises(RuntimeError, match=r"Bad.vjp returned a gradient of shape \(2,\) for an "
                                           r"input of shape \(1, 2\)"):
        Bad.apply(x).sum().backward()

    class Scalar(_Double):  # NumPy's 0-d arithmetic returns scalars; float64 math on float32
        @staticmethod
        def vjp(ctx, g):
            return g.astype("float64").sum() * 2.0

    s = gf.tensor(3.0, requires_grad=True)
    Scalar.apply(s).backward()
    assert isinstance(s.grad.array, np.ndarray) and s.grad.dtype == np.float32
    assert s.grad.item() == 2.0

    class TooMany(_Double):
        @staticmethod
        def vjp(ctx, g):
            return g, g

    with pytest.raises(RuntimeError, match="TooMany.vjp returned 2 gradients but its forward "
                                           "took 1 inputs"):
        TooMany.apply(x).sum().backward()


def test_backward_returning_arrays_is_a_clear_error():
    class Arrays(_Double):
        @staticmethod
        def backward(ctx, g):
            return g.array * 2

    x = gf.tensor([1.0], requires_grad=True)
    with pytest.raises(TypeError, match="Arrays.backward must return Tensors.*belongs in vjp"):
        Arrays.apply(x).sum().backward()


def test_shared_gradient_arrays_are_not_aliased_into_grad():
    # Add's vjp hands the same array to both inputs; .grad must be safe to modify in place,
    # and a leaf's later accumulation must not leak into a gradient still in flight.
    x = gf.tensor([1.0, 2.0], requires_grad=True)
    y = gf.tensor([3.0, 4.0], requires_grad=True)
    z = x + y
    ((z + x * 2) * 1).sum().backward()
    tx = torch.tensor([1.0, 2.0], requires_grad=True)
    ty = torch.tensor([3.0, 4.0], requires_grad=True)
    (((tx + ty) + tx * 2) * 1).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy())
    np.testing.assert_allclose(y.grad.numpy(), ty.grad.numpy())
    x.grad.array += 100
    np.testing.assert_allclose(y.grad.numpy(), ty.grad.numpy())
    # the caller's gradient is never adopted as .grad
    a = gf.tensor([1.0, 2.0], requires_grad=True)
    v = gf.tensor([5.0, 6.0])
    (a * 1).backward(v)
    a.grad.array[0] = -1
    assert v.numpy()[0] == 5.0


def test_gf_grad_results_do_not_alias_each_other_or_the_cotangent():
    x = gf.tensor([1.0, 2.0], requires_grad=True)
    y = gf.tensor([3.0, 4.0], requires_grad=True)
    v = gf.tensor([1.0, 1.0])
    gx, gy = gf.grad(x + y, [x, y], v)
    assert gx.array is not gy.array and gx.array is not v.array


def test_graph_frees_saved_arrays_and_array_attributes_but_keeps_numbers():
    x = gf.tensor([1.0, -2.0], requires_grad=True)
    y = x * 3.0
    node = y.grad_fn
    node.extra_mask = np.ones(2)
    assert node._saved
    y.sum().backward()
    assert node.freed and node._saved == ()
    assert "extra_mask" not in node.__dict__
    assert node.consts == (None, 3.0)  # graph drawings still read the constants
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        node.saved_arrays  # noqa: B018


def test_in_place_change_of_saved_input_is_caught_on_the_vjp_path():
    x = gf.tensor([1.0, 2.0], requires_grad=True)
    h = x * 1
    y = Cube.apply(h)
    h.array[0] = 5
    h.increment_version()
    with pytest.raises(RuntimeError, match="Cube: a tensor of shape \\(2,\\) saved for backward "
                                           "was modified in place"):
        y.sum().backward()


@pytest.mark.parametrize("create_graph", [False, True])
def test_retained_grads_in_backward_and_grad(create_graph):
    x = gf.tensor([1.0, 2.0], requires_grad=True)
    h = (x * 2).retain_grad()
    out = (h * h).sum()
    tx = torch.tensor([1.0, 2.0], requires_grad=True)
    th = tx * 2
    th.retain_grad()
    (th * th).sum().backward()
    out.backward(create_graph=create_graph)
    np.testing.assert_allclose(h.grad.numpy(), th.grad.numpy())
    assert h.grad_fn.retained is not None and "retained" not in h.grad_fn.__dict__
    h2 = (x * 2).retain_grad()
    gf.grad((h2 * h2).sum(), [x], create_graph=create_graph)  # PyTorch fills it here too
    np.testing.assert_allclose(h2.grad.numpy(), th.grad.numpy())


def test_wrap_increment_version_copy_and_fill():
    a = np.arange(3.0)
    t = gf.Tensor.wrap(a)
    assert t.array is a and not t.requires_grad and t.grad_fn is None
    s = gf.Tensor.wrap(np.float64(2.0), t.backend)  # a NumPy scalar becomes a 0-d array
    assert isinstance(s.array, np.ndarray) and s.shape == ()
    v = t._version
    assert t.increment_version() is t and t._version == v + 1
    u = gf.zeros(2, 3)
    tt = torch.zeros(2, 3)
    u.copy_(gf.tensor([1.0, 2.0, 3.0]))
    tt.copy_(torch.tensor([1.0, 2.0, 3.0]))
    np.testing.assert_array_equal(u.numpy(), tt.numpy())
    assert u._version > 0
    u.fill_(7)
    tt.fill_(7)
    np.testing.assert_array_equal(u.numpy(), tt.numpy())


def test_copy_into_a_leaf_that_requires_grad_is_an_error_as_in_pytorch():
    w = gf.zeros(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf tensor that requires grad"):
        w.copy_(gf.ones(3))
    with gf.no_grad():
        w.copy_(gf.ones(3))
    np.testing.assert_array_equal(w.numpy(), [1, 1, 1])


def test_tensor_module_does_not_import_creation():
    tree = ast.parse((pathlib.Path(gf.__file__).parent / "tensor.py").read_text())
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert "gradflow.creation" not in imported


class _OnFakeDevice(np.ndarray):
    """Arrays of a second, fake device (NumPy underneath), to test device bookkeeping on a CPU."""


class _FakeXp(types.ModuleType):
    """NumPy, except that its ``ndarray`` is the fake device's array type."""

    ndarray = _OnFakeDevice

    def __getattr__(self, name):
        return getattr(np, name)


class _FakeDeviceBackend(NumpyBackend):
    def __init__(self):
        super().__init__()  # kernels bound to NumPy
        self.device = "fake:0"
        self.xp = _FakeXp("fake_numpy")

    def owns(self, array) -> bool:
        return isinstance(array, _OnFakeDevice)

    def asarray(self, data, dtype=None):
        return np.asarray(data, dtype=dtype).view(_OnFakeDevice)

    def from_host(self, array):
        return np.array(array, copy=True).view(_OnFakeDevice)

    def to_host(self, array):
        return np.asarray(array)


def test_first_order_gradients_land_on_their_inputs_device():
    # A device copy's node lives on the target device; its input's gradient belongs to the source.
    fake = _FakeDeviceBackend()
    x = gf.tensor([1.0, 2.0], requires_grad=True)
    y = x.to(fake)
    assert isinstance(y.array, _OnFakeDevice) and y.device == "fake:0"
    (y * y).sum().backward()
    assert type(x.grad.array) is np.ndarray and x.grad.device == "cpu"
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 4.0])
