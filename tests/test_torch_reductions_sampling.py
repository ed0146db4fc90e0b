"""``prod`` (values, dtypes and gradients against torch; second order against JAX), the
sampling functions (``multinomial``, ``bernoulli``, ``normal``) and ``gf.tensor``'s dtype
rule for arrays, each beside the same call in torch."""

import numpy as np
import pytest

import gradflow as gf

torch = pytest.importorskip("torch")


@pytest.fixture
def with_zeros():
    a = np.random.default_rng(0).standard_normal((3, 4, 5))
    a[0, 1, 2] = 0.0  # one zero in a row: the gradient there is the product of the others
    a[1, 2, :2] = 0.0  # two zeros: every gradient in that row is 0
    return a


@pytest.mark.parametrize("dim", [None, 0, 1, -1])
@pytest.mark.parametrize("keepdim", [False, True])
def test_prod_matches_torch_with_zeros(with_zeros, dim, keepdim):
    x = gf.tensor(with_zeros, requires_grad=True)
    t = torch.tensor(with_zeros, requires_grad=True)
    y = x.prod() if dim is None else x.prod(dim, keepdim)
    ty = t.prod() if dim is None else t.prod(dim, keepdim)
    assert y.shape == tuple(ty.shape) and y.dtype == np.float64
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-12)
    w = np.random.default_rng(1).standard_normal(tuple(ty.shape))
    (y * gf.tensor(w)).sum().backward()
    (ty * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=1e-10, atol=1e-14)
    # the no-grad path (the backend's kernel) gives the same values
    with gf.no_grad():
        z = x.prod() if dim is None else x.prod(dim, keepdim)
    np.testing.assert_allclose(z.numpy(), y.numpy(), rtol=1e-12)


def test_prod_second_order_matches_jax(with_zeros):
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    a = with_zeros[0]
    hessian = np.asarray(jax.hessian(lambda z: jax.numpy.prod(z, axis=1).sum())(a))
    x = gf.tensor(a, requires_grad=True)
    (g,) = gf.grad(x.prod(1).sum(), x, create_graph=True)
    v = np.random.default_rng(2).standard_normal(a.shape)
    (hv,) = gf.grad((g * gf.tensor(v)).sum(), x)
    np.testing.assert_allclose(hv.numpy(), np.einsum("ijkl,kl->ij", hessian, v), atol=1e-12)


def test_prod_dtypes_empty_and_errors():
    assert gf.tensor([1, 2, 3], dtype=gf.int32).prod().dtype == gf.int64  # as torch
    assert torch.tensor([1, 2, 3], dtype=torch.int32).prod().dtype == torch.int64
    assert gf.tensor([True, False]).prod().dtype == gf.int64
    assert gf.prod(gf.tensor([2.0, 3.0]), dtype=gf.float64).dtype == gf.float64
    assert gf.zeros(0).prod().item() == 1.0
    assert gf.zeros(2, 0).prod(1).tolist() == [1.0, 1.0]
    e = gf.zeros(0, requires_grad=True)
    e.prod().backward()
    assert e.grad.shape == (0,)
    with pytest.raises(TypeError, match="one int"):
        gf.ones(2, 2).prod((0, 1))
    with pytest.raises(IndexError):
        gf.ones(2).prod(2)
    with pytest.raises(TypeError, match="input"):
        gf.prod(None)


def test_tensor_from_an_array_keeps_its_dtype_as_torch():
    for a in (np.zeros(2), np.zeros(2, np.float32), np.float64(1.5), np.zeros(2, np.int16)):
        assert np.dtype(gf.tensor(a).dtype).name == str(torch.tensor(a).dtype).split(".")[1]
    assert gf.tensor([1.5]).dtype == gf.float32 and gf.tensor(1.5).dtype == gf.float32


def test_multinomial_frequencies_and_rules():
    g = gf.Generator().manual_seed(0)
    w = gf.tensor([1.0, 0.0, 3.0])
    draws = gf.multinomial(w, 4000, replacement=True, generator=g)
    assert draws.dtype == gf.int64 and draws.shape == (4000,)
    counts = np.bincount(draws.numpy(), minlength=3)
    assert counts[1] == 0 and abs(counts[2] / 4000 - 0.75) < 0.03
    rows = gf.multinomial(gf.tensor([[1.0, 2.0, 3.0, 4.0]] * 3), 4, generator=g)
    assert rows.shape == (3, 4)
    assert all(sorted(r) == [0, 1, 2, 3] for r in rows.tolist())  # without replacement
    same = [gf.multinomial(w, 5, True, generator=gf.Generator().manual_seed(7)).tolist()
            for _ in range(2)]
    assert same[0] == same[1]
    # without replacement the first draw follows the weights: P(first = 2) = 3/4
    first = [gf.multinomial(w, 1, generator=g).item() for _ in range(400)]
    assert abs(first.count(2) / 400 - 0.75) < 0.08
    for bad, match in [((w, 4), "without replacement"), ((gf.tensor([-1.0, 1.0]), 1), "< 0"),
                       ((gf.zeros(2), 1), "sum of"), ((w, 0), "positive"),
                       ((gf.tensor([1, 2]), 1), "floating"), ((w, 3), "non-zero")]:
        with pytest.raises(RuntimeError, match=match):
            gf.multinomial(*bad)
    with pytest.raises(RuntimeError):
        torch.multinomial(torch.tensor([1.0, 0.0, 3.0]), 4)  # torch refuses it too


def test_bernoulli_and_normal():
    g = gf.Generator().manual_seed(1)
    p = gf.tensor([0.0, 1.0, 0.5] * 1000)
    b = gf.bernoulli(p, generator=g)
    assert b.dtype == gf.float32 and b.shape == p.shape
    v = b.numpy().reshape(-1, 3)
    assert v[:, 0].sum() == 0 and v[:, 1].sum() == 1000 and abs(v[:, 2].mean() - 0.5) < 0.06
    assert gf.bernoulli(gf.zeros(4), p=1.0).tolist() == [1.0] * 4
    with pytest.raises(RuntimeError, match=r"\[0, 1\]"):
        gf.bernoulli(gf.tensor([1.5]))
    n = gf.normal(gf.full((20000,), 3.0), 2.0, generator=g)
    assert n.shape == (20000,) and abs(n.numpy().mean() - 3) < 0.05
    assert abs(n.numpy().std() - 2) < 0.05
    assert gf.normal(gf.zeros(2), gf.ones(3, 1)).shape == (3, 2)
    assert tuple(torch.normal(torch.zeros(2), torch.ones(3, 1)).shape) == (3, 2)
    f = gf.normal(1.0, 0.5, size=(4, 2), generator=g)
    assert f.shape == (4, 2) and f.dtype == gf.float32
    with pytest.raises(TypeError, match="size"):
        gf.normal(0.0, 1.0)
    with pytest.raises(RuntimeError, match=">= 0"):
        gf.normal(gf.zeros(2), -1.0)


@pytest.mark.parametrize("name", ["sum", "mean", "amax", "amin", "prod", "var", "argmax",
                                  "argmin", "max", "min", "all", "any", "logsumexp"])
def test_reductions_over_the_one_dim_of_a_0d_tensor_as_torch(name):
    torch = pytest.importorskip("torch")
    for dim in (0, -1):
        for keepdim in (False, True):
            want = getattr(torch, name)(torch.tensor(3.0), dim, keepdim=keepdim)
            got = getattr(gf, name)(gf.tensor(3.0), dim, keepdim=keepdim)
            want, got = (want[0], got[0]) if isinstance(want, tuple) else (want, got)
            assert tuple(got.shape) == tuple(want.shape) == ()
            np.testing.assert_allclose(got.numpy(), want.numpy())
    with pytest.raises(IndexError):
        getattr(gf, name)(gf.tensor(3.0), 1)
