"""hvp, hessian, top_hessian_eigenvalue and suggest_lr against JAX and NumPy."""

from __future__ import annotations

import functools
import warnings

import numpy as np
import pytest

import gradflow as gf
from gradflow.analysis import hessian, hvp, suggest_lr, top_hessian_eigenvalue

jax = pytest.importorskip("jax")
jnp = pytest.importorskip("jax.numpy")
jax.config.update("jax_enable_x64", True)

SHAPES = [(3, 4), (4,), (4, 2), (2,)]  # W1, b1, W2, b2 of a 3-4-2 tanh MLP


@functools.lru_cache(maxsize=1)
def _mlp_data():
    """Data, parameters and JAX's Hessian (computed once: JAX's first call is slow)."""
    rng = np.random.default_rng(7)
    x = rng.standard_normal((5, 3))
    y = rng.standard_normal((5, 2))
    values = [rng.standard_normal(s) * 0.7 for s in SHAPES]

    def jax_loss(theta):
        parts, at = [], 0
        for s in SHAPES:
            n = int(np.prod(s))
            parts.append(theta[at:at + n].reshape(s))
            at += n
        w1, b1, w2, b2 = parts
        return jnp.mean((jnp.tanh(x @ w1 + b1) @ w2 + b2 - y) ** 2)

    theta = np.concatenate([v.ravel() for v in values])
    return x, y, values, np.asarray(jax.jit(jax.hessian(jax_loss))(theta))


@pytest.fixture
def mlp(device):
    """A 3-4-2 tanh MLP's mean squared error in gradflow, and its Hessian from JAX."""
    x, y, values, h_jax = _mlp_data()
    params = [gf.tensor(v, dtype="float64", device=device, requires_grad=True) for v in values]
    xt = gf.tensor(x, dtype="float64", device=device)
    yt = gf.tensor(y, dtype="float64", device=device)

    def loss_fn():
        w1, b1, w2, b2 = params
        return (((xt @ w1 + b1).tanh() @ w2 + b2 - yt) ** 2).mean()

    return loss_fn, params, h_jax


def _flat(tensors) -> np.ndarray:
    return np.concatenate([t.numpy().ravel() for t in tensors])


def test_hvp_matches_jax_hessian(mlp, rng):
    loss_fn, params, h_jax = mlp
    vectors = [rng.standard_normal(s) for s in SHAPES]
    got = hvp(loss_fn, params, vectors)
    assert [g.shape for g in got] == SHAPES
    assert all(not g.requires_grad for g in got)
    expected = h_jax @ np.concatenate([v.ravel() for v in vectors])
    np.testing.assert_allclose(_flat(got), expected, rtol=1e-10, atol=1e-12)


def test_hvp_accepts_tensor_vectors(mlp, rng):
    loss_fn, params, _ = mlp
    arrays = [rng.standard_normal(s) for s in SHAPES]
    tensors = [gf.tensor(a, dtype="float64", device=p.device) for a, p in zip(arrays, params)]
    np.testing.assert_allclose(_flat(hvp(loss_fn, params, tensors)),
                               _flat(hvp(loss_fn, params, arrays)), rtol=1e-13)


def test_dense_hessian_matches_jax(mlp):
    loss_fn, params, h_jax = mlp
    h = hessian(loss_fn, params)
    assert h.shape == h_jax.shape == (26, 26) and h.dtype == np.float64
    np.testing.assert_allclose(h.numpy(), h_jax, rtol=1e-10, atol=1e-12)


def _quadratic(rng, device="cpu", p=40):
    """E = 1/(2P) ‖X w − t‖² with X's columns scaled apart: H = XᵀX/P."""
    x = rng.standard_normal((p, 3)) * np.array([2.0, 1.0, 0.3])
    t = rng.standard_normal(p)
    w = gf.tensor(rng.standard_normal(3), dtype="float64", device=device, requires_grad=True)
    xt = gf.tensor(x, dtype="float64", device=device)
    tt = gf.tensor(t, dtype="float64", device=device)

    def loss_fn():
        return 0.5 * ((xt @ w - tt) ** 2).mean()

    return loss_fn, w, x.T @ x / p


def test_quadratic_hessian_is_input_second_moment(rng, device):
    loss_fn, w, h = _quadratic(rng, device)
    np.testing.assert_allclose(hessian(loss_fn, [w]).numpy(), h, rtol=1e-12)
    v = rng.standard_normal(3)
    np.testing.assert_allclose(hvp(loss_fn, [w], [v])[0].numpy(), h @ v, rtol=1e-12)


def test_top_eigenvalue_and_vector(rng, device):
    loss_fn, w, h = _quadratic(rng, device)
    lam, (v,) = top_hessian_eigenvalue(loss_fn, [w], return_vector=True)
    exact = np.linalg.eigvalsh(h)[-1]
    assert isinstance(lam, float)
    assert abs(lam - exact) / exact <= 1e-4
    v = v.numpy()
    assert np.linalg.norm(v) == pytest.approx(1.0)
    np.testing.assert_allclose(h @ v, exact * v, atol=1e-3 * exact)


def test_top_eigenvalue_of_mlp_matches_jax(mlp):
    loss_fn, params, h_jax = mlp
    evals = np.linalg.eigvalsh(h_jax)
    dominant = evals[np.argmax(np.abs(evals))]
    lam = top_hessian_eigenvalue(loss_fn, params, iters=2000, tol=1e-10)
    assert abs(lam - dominant) / abs(dominant) <= 1e-4


def test_suggest_lr(rng):
    loss_fn, w, h = _quadratic(rng)
    s = suggest_lr(loss_fn, [w])
    exact = np.linalg.eigvalsh(h)[-1]
    assert abs(s.lambda_max - exact) / exact <= 1e-4
    assert s.eta_opt == pytest.approx(1 / s.lambda_max)
    assert s.eta_max == pytest.approx(2 / s.lambda_max)
    assert s["eta_max"] == s.eta_max and dict(s) == s.as_dict()
    assert set(s.as_dict()) == {"lambda_max", "eta_opt", "eta_max"}
    with pytest.raises(KeyError, match="eta"):
        s["lr"]


def test_gradient_descent_at_eta_max_is_the_stability_edge(rng):
    """GD on the quadratic converges just below η_max = 2/λ_max and diverges just above."""
    loss_fn, w, _ = _quadratic(rng)
    s = suggest_lr(loss_fn, [w], tol=1e-10)
    start = w.numpy().copy()
    finals = {}
    for m in (0.95, 1.05):
        w.array[...] = start
        for _ in range(300):
            (g,) = gf.grad(loss_fn(), [w])
            w.array -= m * s.eta_max * g.array
        finals[m] = float(loss_fn())
    w.array[...] = start
    assert finals[0.95] < float(loss_fn()) < finals[1.05]


def test_negative_dominant_eigenvalue(rng):
    x = gf.tensor([0.3, -0.2], dtype="float64", requires_grad=True)
    c = gf.tensor([3.0, 1.0], dtype="float64")

    def loss_fn():
        return -0.5 * (c * x * x).sum()  # H = diag(-3, -1)

    assert top_hessian_eigenvalue(loss_fn, [x]) == pytest.approx(-3.0, rel=1e-4)
    with pytest.raises(ValueError, match="not positive"):
        suggest_lr(loss_fn, [x])


def test_zero_hessian_and_unused_parameter():
    a = gf.tensor([1.0, 2.0], dtype="float64", requires_grad=True)
    unused = gf.tensor([5.0], dtype="float64", requires_grad=True)

    def loss_fn():
        return (a * 3.0).sum()  # linear: H = 0

    hv = hvp(loss_fn, [a, unused], [np.ones(2), np.ones(1)])
    np.testing.assert_array_equal(_flat(hv), np.zeros(3))
    assert top_hessian_eigenvalue(loss_fn, [a, unused]) == 0.0
    np.testing.assert_array_equal(hessian(loss_fn, [a, unused]).numpy(), np.zeros((3, 3)))


def test_float32_parameters_keep_their_dtype(rng):
    w = gf.tensor(rng.standard_normal(3), dtype="float32", requires_grad=True)
    x = gf.tensor(rng.standard_normal((6, 3))).float()
    (out,) = hvp(lambda: ((x @ w) ** 2).mean(), [w], [np.ones(3)])
    assert out.dtype == np.float32
    expected = 2 * x.numpy().T @ x.numpy() @ np.ones(3) / 6
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-5)


def test_not_converged_warns(rng):
    loss_fn, w, _ = _quadratic(rng)
    with pytest.warns(RuntimeWarning, match="not converged after 2 iterations") as caught:
        top_hessian_eigenvalue(loss_fn, [w], iters=2, tol=1e-15)
    change = float(str(caught[0].message).split("relative change ")[1].split()[0])
    assert change > 1e-15  # the change that failed the test, not 0 after the update
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        top_hessian_eigenvalue(loss_fn, [w], iters=500)


def test_bad_arguments(rng):
    loss_fn, w, _ = _quadratic(rng)
    with pytest.raises(ValueError, match=r"vectors\[0\] has shape \(2,\) but params\[0\]"):
        hvp(loss_fn, [w], [np.ones(2)])
    with pytest.raises(ValueError, match="1 params but 2 vectors"):
        hvp(loss_fn, [w], [np.ones(3), np.ones(3)])
    with pytest.raises(ValueError, match="scalar Tensor"):
        hvp(lambda: w * 2, [w], [np.ones(3)])
    with pytest.raises(TypeError, match=r"params\[0\] must be a Tensor with requires_grad=True"):
        hessian(loss_fn, [gf.tensor([1.0, 2.0], dtype="float64")])
    with pytest.raises(ValueError, match="params is empty"):
        suggest_lr(loss_fn, [])
    with pytest.raises(RuntimeError, match="does not depend on any of params"), gf.no_grad():
        hvp(loss_fn, [w], [np.ones(3)])
    with pytest.raises(ValueError, match="iters must be >= 1"):
        top_hessian_eigenvalue(loss_fn, [w], iters=0)
