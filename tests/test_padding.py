"""``F.pad`` against ``torch.nn.functional.pad`` (values, shapes and gradients, every mode) and
against ``jax.numpy.pad`` for second order; its argument errors."""

import numpy as np
import pytest

import gradflow as gf
import gradflow.nn.functional as F

torch = pytest.importorskip("torch")

CASES = [((2, 3, 5), (2, 1)), ((1, 2, 4, 5), (1, 2, 3, 0)), ((2, 3, 4, 5, 6), (1, 1, 2, 2, 0, 3)),
         ((2, 3, 5), (0, 0)), ((2, 3, 5), (4, 4))]


@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
@pytest.mark.parametrize("shape,widths", CASES)
def test_pad_matches_torch(mode, shape, widths):
    a = np.random.default_rng(0).standard_normal(shape)
    x, t = gf.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    if mode == "reflect" and max(widths) >= shape[-1]:  # refused by both
        with pytest.raises(RuntimeError):
            torch.nn.functional.pad(t, widths, mode=mode)
        with pytest.raises(ValueError, match="reflect padding"):
            F.pad(x, widths, mode=mode)
        return
    y, ty = F.pad(x, widths, mode=mode), torch.nn.functional.pad(t, widths, mode=mode)
    assert y.shape == tuple(ty.shape)
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy())
    w = np.random.default_rng(1).standard_normal(tuple(ty.shape))
    (y * gf.tensor(w)).sum().backward()
    (ty * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), atol=1e-12)


def test_constant_value_and_negative_widths_crop_as_torch():
    a = np.arange(12.0).reshape(3, 4)
    for widths, value in [((1, 2), 7.5), ((-1, 2), 0.0), ((-1, -2, 1, 0), -3.0)]:
        got = F.pad(gf.tensor(a), widths, value=value).numpy()
        want = torch.nn.functional.pad(torch.tensor(a), widths, value=value).numpy()
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("mode,jax_mode", [("constant", "constant"), ("reflect", "reflect"),
                                           ("replicate", "edge"), ("circular", "wrap")])
def test_pad_second_order_matches_jax(mode, jax_mode):
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    jnp = jax.numpy
    a = np.random.default_rng(2).standard_normal((2, 5))
    w = np.random.default_rng(3).standard_normal((2, 8))

    def f(z):
        return (jnp.pad(z, ((0, 0), (2, 1)), mode=jax_mode) ** 3 * w).sum()

    v = np.random.default_rng(4).standard_normal(a.shape)
    want = np.einsum("ijkl,kl->ij", np.asarray(jax.hessian(f)(a)), v)
    x = gf.tensor(a, requires_grad=True)
    (g,) = gf.grad((F.pad(x, (2, 1), mode=mode) ** 3 * gf.tensor(w)).sum(), x,
                   create_graph=True)
    (hv,) = gf.grad((g * gf.tensor(v)).sum(), x)
    np.testing.assert_allclose(hv.numpy(), want, atol=1e-10)


def test_pad_errors():
    x = gf.ones(2, 3)
    with pytest.raises(ValueError, match="even"):
        F.pad(x, (1,))
    with pytest.raises(ValueError, match="at most twice"):
        F.pad(x, (1, 1, 1, 1, 1, 1))
    with pytest.raises(ValueError, match="reflect padding .* at most 2"):
        F.pad(x, (3, 0), mode="reflect")
    with pytest.raises(RuntimeError):
        torch.nn.functional.pad(torch.ones(1, 2, 3), (3, 0), mode="reflect")
    with pytest.raises(NotImplementedError, match="mode"):
        F.pad(x, (1, 1), mode="symmetric")
    with pytest.raises(TypeError, match="tuple of ints"):
        F.pad(x, (1.5, 1))
    with pytest.raises(TypeError, match="argument 'input'"):
        F.pad(None, (1, 1))
    with pytest.raises(ValueError, match="does not take a value"):
        F.pad(x, (1, 1), mode="replicate", value=2.0)
