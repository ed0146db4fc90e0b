"""The noise-scale estimators against a linear regression whose |G|² and tr Σ are known exactly.

Model ``ŷ = w·x`` with ``x ~ N(0, I_d)``, ``y = w*·x + ε``, ``ε ~ N(0, σ²)`` and the loss
``½(ŷ − y)²``. With ``δ = w − w*`` the per-example gradient is ``g = (x·δ − ε) x``, so
``G = δ`` and (Isserlis) ``E[g gᵀ] = |δ|² I + 2δδᵀ + σ² I``: ``Σ = (|δ|² + σ²) I + δδᵀ``,
``tr Σ = (d + 1)|δ|² + dσ²``, ``|G|² = |δ|²``.
"""

import math

import numpy as np
import pytest

import gradflow as gf
from gradflow.analysis.noise_scale import (
    NoiseScale,
    noise_scale,
    optimal_lr,
    steps_examples_tradeoff,
)

D, SIGMA = 6, 0.7


def _problem(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    w_star = rng.standard_normal(D)
    delta = 0.3 * rng.standard_normal(D)
    x = rng.standard_normal((n, D))
    y = x @ w_star + SIGMA * rng.standard_normal(n)
    model = gf.nn.Linear(D, 1, bias=False, dtype=gf.float64)
    with gf.no_grad():
        model.weight.copy_(gf.tensor((w_star + delta)[None]))
    g2 = float(delta @ delta)
    trace = (D + 1) * g2 + D * SIGMA ** 2
    return model, gf.tensor(x), gf.tensor(y), g2, trace


def _loss(out, y):
    return 0.5 * ((out.squeeze(-1) - y) ** 2).mean()


def _loader(x, y, batch):
    return [(x[i:i + batch], y[i:i + batch]) for i in range(0, len(x), batch)]


def test_two_batch_estimator_recovers_the_analytic_values():
    model, x, y, g2, trace = _problem(32_768)
    est = noise_scale(model, _loss, _loader(x, y, 512), small_batch=32)
    assert isinstance(est, NoiseScale) and est.method == "two-batch"
    assert (est.b_small, est.b_big, est.n_batches) == (32, 512, 64)
    truth = {"grad_sq_norm": g2, "trace_sigma": trace, "b_simple": trace / g2}
    for key, value in truth.items():
        got, se = getattr(est, key), getattr(est, f"{key}_se")
        assert got == pytest.approx(value, rel=0.10), key
        assert abs(got - value) < 3.5 * se, (key, got, value, se)  # the error bar covers it
        assert 0 < se < 0.1 * abs(value), key


def test_per_example_estimator_recovers_the_analytic_values():
    model, x, y, g2, trace = _problem(2000, seed=2)
    est = noise_scale(model, _loss, _loader(x, y, 500), method="per-example")
    assert est.method == "per-example" and est.n_batches == 2000
    assert est.trace_sigma == pytest.approx(trace, rel=0.10)
    assert abs(est.trace_sigma - trace) < 3.5 * est.trace_sigma_se
    assert est.grad_sq_norm == pytest.approx(g2, rel=0.15)
    assert abs(est.grad_sq_norm - g2) < 3.5 * est.grad_sq_norm_se


def test_the_two_estimators_agree_on_a_small_mlp():
    from gradflow.data.datasets import load_digits

    gf.manual_seed(0)
    train, _ = load_digits(test_size=0.2, seed=0)
    xs, ys = train.arrays
    x, y = gf.tensor(xs[:512]), gf.tensor(ys[:512])
    model = gf.nn.Sequential(gf.nn.Linear(64, 32), gf.nn.Tanh(), gf.nn.Linear(32, 10))
    loss = gf.nn.functional.cross_entropy
    exact = noise_scale(model, loss, _loader(x, y, 256), method="per-example")
    two = noise_scale(model, loss, _loader(x, y, 64), small_batch=4)
    assert two.trace_sigma == pytest.approx(exact.trace_sigma, rel=0.15)
    assert two.grad_sq_norm == pytest.approx(exact.grad_sq_norm, rel=0.25)
    assert abs(two.b_simple - exact.b_simple) < 3 * math.hypot(two.b_simple_se, exact.b_simple_se)
    assert all(p.grad is None for p in model.parameters())  # gradients left untouched


def test_suggestions_and_the_tradeoff_curve():
    est = NoiseScale(100.0, 5.0, 2.0, 0.1, 200.0, 10.0, "two-batch", 10, 8, 64)
    assert est.suggest(lr_max=0.4) == {"batch_size": 100.0, "lr": 0.2}
    assert optimal_lr(1e9, 0.4, 100.0) == pytest.approx(0.4)  # huge batches: ε → ε_max
    s, e = steps_examples_tradeoff(50.0, s_min=1000.0, e_min=5000.0, b_noise=100.0)
    assert (s / 1000.0 - 1) * (e / 5000.0 - 1) == pytest.approx(1.0)


@pytest.mark.parametrize("kwargs,match", [
    (dict(method="hutchinson"), "unknown method"),
    (dict(small_batch=7), "divisor"),
    (dict(small_batch=16), "divisor"),
    (dict(max_batches=0), "max_batches"),
])
def test_bad_arguments(kwargs, match):
    model, x, y, _, _ = _problem(64)
    with pytest.raises(ValueError, match=match):
        noise_scale(model, _loss, _loader(x, y, 16), **kwargs)


def test_bad_loaders():
    model, x, y, _, _ = _problem(8)
    with pytest.raises(ValueError, match="no batches"):
        noise_scale(model, _loss, [])
    with pytest.raises(TypeError, match="pairs"):
        noise_scale(model, _loss, [x])
    with pytest.raises(ValueError, match="at least 2 examples"):
        noise_scale(model, _loss, _loader(x, y, 1))


def test_finite_population_correction_for_batches_without_replacement():
    n = 512
    model, x, y, _, _ = _problem(n, seed=3)
    xs, ys, w = x.numpy(), y.numpy(), model.weight.detach().numpy()[0]
    per_example = (xs @ w - ys)[:, None] * xs  # the exact gradients of the finite set
    mean = per_example.mean(0)
    g2, trace = float(mean @ mean), float(((per_example - mean) ** 2).sum() / (n - 1))
    rng = np.random.default_rng(0)
    batches = []
    for _ in range(60):  # shuffled epochs of two 256-example batches: without replacement
        order = rng.permutation(n)
        batches += [(x[order[i:i + 256]], y[order[i:i + 256]]) for i in (0, 256)]
    fixed = noise_scale(model, _loss, batches, small_batch=16, dataset_size=n)
    assert fixed.trace_sigma == pytest.approx(trace, rel=0.05)
    assert fixed.grad_sq_norm == pytest.approx(g2, rel=0.10)
    naive = noise_scale(model, _loss, batches, small_batch=16)  # as if drawn with replacement
    assert naive.trace_sigma == pytest.approx(fixed.trace_sigma)  # c_s - c_b is the same
    # ... but |G|² is underestimated by tr Σ / N, so B_simple is overestimated
    assert fixed.grad_sq_norm - naive.grad_sq_norm == pytest.approx(fixed.trace_sigma / n)
    with pytest.raises(ValueError, match="dataset_size"):
        noise_scale(model, _loss, batches, dataset_size=100)
