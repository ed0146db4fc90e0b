"""The gradient noise scale: how large a batch pays before more examples stop helping.

McCandlish, Kaplan, Amodei et al., *An Empirical Model of Large-Batch Training* (2018). With
``G`` the true gradient and ``Σ`` the per-example gradient covariance, a batch of ``B`` examples
gives ``E|G_B|² = |G|² + tr(Σ)/B``; the *simple noise scale* ``B_simple = tr(Σ)/|G|²`` predicts
the critical batch size (the knee of the steps-vs-examples trade-off
``(S/S_min − 1)(E/E_min − 1) = 1``) and the learning rate per batch size
``ε_opt(B) = ε_max / (1 + B_noise/B)``.

Two estimators:

- ``"two-batch"`` (the paper's appendix A): each loader batch of ``B_big`` examples is split into
  chunks of ``B_small``; the chunk gradients give ``|G_small|²`` (their mean squared norm) and,
  averaged, the batch gradient ``|G_big|²``. Then, unbiasedly,

  ``|G|² ≈ (B_big |G_big|² − B_small |G_small|²) / (B_big − B_small)``,
  ``tr Σ ≈ (|G_small|² − |G_big|²) / (1/B_small − 1/B_big)``,

  averaged over the batches, with standard errors from their spread (and the delta method for
  the ratio). It costs one gradient of the data it reads, and reads nothing back from the device
  before the end. Batches drawn without replacement from a training set of ``N`` examples (a
  shuffling loader) are less noisy: ``E|G_B|² = |G|² + tr Σ · c_B`` with
  ``c_B = (N − B)/(N B)`` instead of ``1/B`` (the finite-population correction, ``Σ`` the
  covariance over the set with the ``1/(N − 1)`` convention); it is applied when ``N`` is known
  (``dataset_size``, or ``len(loader.dataset)``). It leaves ``tr Σ`` as it is and raises
  ``|G|²`` by ``tr Σ / N``, so it matters once ``B_simple`` is a sizable share of ``N``.
- ``"per-example"``: the exact per-example gradients (one backward per example; small models),
  ``tr Σ`` their sample covariance's trace and ``|G|² = |ḡ|² − tr Σ / n`` (unbiased).

The loss must be the *mean* over the batch (PyTorch's default reduction), so that a batch's
gradient is the mean of its examples'.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from gradflow.autograd.engine import grad
from gradflow.creation import zeros_like
from gradflow.tensor import Tensor

METHODS = ("two-batch", "per-example")


@dataclass(frozen=True)
class NoiseScale:
    """An estimate of the gradient noise scale, with standard errors (``*_se``)."""

    b_simple: float  #: tr(Σ) / |G|²: the predicted critical batch size
    b_simple_se: float
    grad_sq_norm: float  #: |G|², the squared norm of the true gradient
    grad_sq_norm_se: float
    trace_sigma: float  #: tr(Σ), the per-example gradient variance summed over parameters
    trace_sigma_se: float
    method: str
    n_batches: int  #: batches read (per-example: examples)
    b_small: int
    b_big: int

    def suggest(self, lr_max: float | None = None) -> dict[str, float]:
        """The batch size to use (``B_simple``, rounded) and, given ``ε_max`` (e.g. from
        :func:`gradflow.analysis.suggest_lr`), the learning rate ``ε_max / (1 + B_simple/B)``
        at that batch size (half of ``ε_max``)."""
        batch = max(1, round(self.b_simple))
        out = {"batch_size": float(batch)}
        if lr_max is not None:
            out["lr"] = lr_max / (1.0 + self.b_simple / batch)
        return out

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def optimal_lr(batch_size: float, lr_max: float, b_noise: float) -> float:
    """``ε_opt(B) = ε_max / (1 + B_noise/B)``: the learning rate that pays at batch size ``B``."""
    return lr_max / (1.0 + b_noise / batch_size)


def steps_examples_tradeoff(batch_size: float, s_min: float, e_min: float, b_noise: float
                            ) -> tuple[float, float]:
    """The predicted ``(S, E)`` at batch size ``B``: ``S = S_min (1 + B_noise/B)`` optimisation
    steps and ``E = E_min (1 + B/B_noise)`` examples, on the hyperbola
    ``(S/S_min − 1)(E/E_min − 1) = 1``."""
    return s_min * (1.0 + b_noise / batch_size), e_min * (1.0 + batch_size / b_noise)


def noise_scale(model: Any, loss_fn: Callable[[Tensor, Tensor], Tensor], loader: Iterable, *,
                small_batch: int | None = None, max_batches: int | None = None,
                method: str = "two-batch", dataset_size: int | None = None) -> NoiseScale:
    """Estimate ``B_simple``, ``|G|²`` and ``tr Σ`` at the model's current parameters.

    Args:
        model: a ``Module`` (its parameters that require grad are differentiated) called on the
            inputs; its mode (train/eval) is left as it is.
        loss_fn: ``loss_fn(model(x), y)``, the mean loss of a batch.
        loader: an iterable of ``(x, y)`` batches (a ``DataLoader``); ``"two-batch"`` uses the
            batches of the most common size ``B_big`` and skips others (a short last batch).
        small_batch: ``B_small`` for ``"two-batch"``, a divisor of ``B_big`` smaller than it
            (default: ``B_big // 8``, at least 1, rounded down to a divisor).
        max_batches: read at most this many batches (default: all).
        method: ``"two-batch"`` or ``"per-example"``.
        dataset_size: ``N`` for the finite-population correction of ``"two-batch"`` (default:
            ``len(loader.dataset)`` when the loader has one, else none: ``c_B = 1/B``).

    Leaves every ``.grad`` untouched (gradients come from ``gf.grad``).
    """
    if method not in METHODS:
        raise ValueError(f"noise_scale: unknown method {method!r}; choose one of "
                         f"{', '.join(METHODS)}")
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("noise_scale: the model has no parameters that require grad")
    if dataset_size is None and hasattr(loader, "dataset"):
        dataset_size = len(loader.dataset)
    batches = _batches(loader, max_batches)
    if method == "per-example":
        return _per_example(model, loss_fn, params, batches)
    return _two_batch(model, loss_fn, params, batches, small_batch, dataset_size)


def _batches(loader: Iterable, max_batches: int | None) -> list[tuple[Any, Any]]:
    if max_batches is not None and (isinstance(max_batches, bool) or
                                    not isinstance(max_batches, int) or max_batches < 1):
        raise ValueError(f"noise_scale: max_batches must be a positive int or None, got "
                         f"{max_batches!r}")
    out = []
    for batch in loader:
        if not isinstance(batch, tuple | list) or len(batch) != 2:
            raise TypeError("noise_scale: the loader must yield (inputs, targets) pairs, got "
                            f"{type(batch).__name__}")
        out.append((batch[0], batch[1]))
        if max_batches is not None and len(out) >= max_batches:
            break
    if not out:
        raise ValueError("noise_scale: the loader yielded no batches")
    return out


def _gradient(model, loss_fn, params, x, y) -> list[Tensor]:
    loss = loss_fn(model(x), y)
    if not isinstance(loss, Tensor) or loss.numel() != 1:
        raise ValueError("noise_scale: loss_fn must return a scalar Tensor (the mean loss of the "
                         "batch)")
    grads = grad(loss, params, allow_unused=True)
    return [zeros_like(p) if g is None else g for g, p in zip(grads, params)]


def _sq_norm(grads: Iterable[Tensor]) -> Tensor:
    """Σ_p |g_p|² as a 0-d Tensor on the parameters' device (no host read)."""
    total = None
    for g in grads:
        s = (g * g).sum()
        total = s if total is None else total + s
    return total


def _two_batch(model, loss_fn, params, batches, small_batch, dataset_size) -> NoiseScale:
    sizes = [len(x) for x, _ in batches]
    b_big = max(set(sizes), key=lambda s: (sizes.count(s), s))
    if b_big < 2:
        raise ValueError(f"noise_scale: the two-batch estimator needs batches of at least 2 "
                         f"examples, got batch size {b_big}; use a larger batch_size or "
                         f"method='per-example'")
    b_small = small_batch_for(small_batch, b_big)
    if dataset_size is not None and (isinstance(dataset_size, bool) or
                                     not isinstance(dataset_size, int) or dataset_size < b_big):
        raise ValueError(f"noise_scale: dataset_size must be an int >= the batch size {b_big}, "
                         f"got {dataset_size!r}")
    small_sq, big_sq = [], []
    for x, y in batches:
        if len(x) != b_big:
            continue
        s, b = batch_sq_norms(model, loss_fn, params, x, y, b_small)
        small_sq.append(s)
        big_sq.append(b)
    small = np.array([float(s) for s in small_sq])  # the one read back, at the end
    big = np.array([float(s) for s in big_sq])
    g2, trace = two_batch_estimates(small, big, b_small, b_big, dataset_size)
    return _result(g2, trace, "two-batch", len(small), b_small, b_big)


def batch_sq_norms(model, loss_fn, params, x, y, b_small: int) -> tuple[Tensor, Tensor]:
    """``(|G_small|², |G_big|²)`` of one batch as 0-d Tensors on the device (no host read): the
    mean squared norm of the gradients of its ``B_small``-example chunks, and the squared norm
    of their mean (the batch's gradient)."""
    k = len(x) // b_small
    acc, sq = None, None
    for i in range(k):
        gs = _gradient(model, loss_fn, params, x[i * b_small:(i + 1) * b_small],
                       y[i * b_small:(i + 1) * b_small])
        s = _sq_norm(gs)
        sq = s if sq is None else sq + s
        acc = [g.detach() for g in gs] if acc is None else [a + g for a, g in zip(acc, gs)]
    return sq / k, _sq_norm(a / k for a in acc)


def two_batch_estimates(small, big, b_small: int, b_big: int, dataset_size: int | None = None):
    """The unbiased ``(|G|², tr Σ)`` from ``|G_small|²`` and ``|G_big|²`` (numbers or arrays),
    with the finite-population correction when ``dataset_size`` is given."""
    def c(b: int) -> float:  # E|G_B|² = |G|² + tr Σ · c(B)
        return 1.0 / b if dataset_size is None else (dataset_size - b) / (dataset_size * b)

    cs, cb = c(b_small), c(b_big)
    return (cs * big - cb * small) / (cs - cb), (small - big) / (cs - cb)


def small_batch_for(small_batch: int | None, b_big: int, who: str = "noise_scale") -> int:
    """``B_small`` for batches of ``b_big``: ``small_batch`` checked (a divisor smaller than
    ``b_big``), or by default ``b_big // 8`` rounded down to a divisor (at least 1)."""
    if b_big < 2:
        raise ValueError(f"{who}: the two-batch estimator needs batches of at least 2 examples, "
                         f"got batch size {b_big}")
    if small_batch is None:
        small_batch = max(1, b_big // 8)
        while b_big % small_batch:
            small_batch -= 1
        return small_batch
    if isinstance(small_batch, bool) or not isinstance(small_batch, int) or \
            not 1 <= small_batch < b_big or b_big % small_batch:
        raise ValueError(f"{who}: small_batch must be a divisor of the batch size {b_big} "
                         f"smaller than it, got {small_batch!r}")
    return small_batch


def _result(g2: np.ndarray, trace: np.ndarray, method: str, n: int, b_small: int, b_big: int
            ) -> NoiseScale:
    """Means, standard errors, and the ratio's by the delta method (with the covariance)."""
    mg, mt = float(g2.mean()), float(trace.mean())
    if n > 1:
        cov = np.cov(np.stack([g2, trace]), ddof=1) / n
        se_g, se_t, c = math.sqrt(cov[0, 0]), math.sqrt(cov[1, 1]), cov[0, 1]
    else:
        se_g = se_t = c = math.nan
    b = mt / mg if mg != 0 else math.inf
    rel = (se_t / mt) ** 2 + (se_g / mg) ** 2 - 2 * c / (mt * mg) if mt and mg else math.nan
    se_b = abs(b) * math.sqrt(max(rel, 0.0)) if math.isfinite(rel) else math.nan
    return NoiseScale(b, se_b, mg, se_g, mt, se_t, method, n, b_small, b_big)


def _per_example(model, loss_fn, params, batches) -> NoiseScale:
    """Two passes over the examples: the mean gradient ḡ, then per example ``|g_i − ḡ|²`` and
    ``(g_i − ḡ)·ḡ`` (for tr Σ, |G|² and their standard errors)."""
    examples = [(x[i:i + 1], y[i:i + 1]) for x, y in batches for i in range(len(x))]
    n = len(examples)
    if n < 2:
        raise ValueError("noise_scale: the per-example estimator needs at least 2 examples")
    mean = None
    for x, y in examples:
        gs = [g.detach() for g in _gradient(model, loss_fn, params, x, y)]
        mean = gs if mean is None else [m + g for m, g in zip(mean, gs)]
    mean = [m / n for m in mean]
    dev_sq, proj = [], []
    for x, y in examples:
        gs = _gradient(model, loss_fn, params, x, y)
        d = [g.detach() - m for g, m in zip(gs, mean)]
        dev_sq.append(_sq_norm(d))
        proj.append(sum((a * m).sum() for a, m in zip(d, mean)))
    dev = np.array([float(v) for v in dev_sq])
    pr = np.array([float(v) for v in proj])
    trace = float(dev.sum() / (n - 1))
    mean_sq = float(_sq_norm(mean))
    g2 = mean_sq - trace / n
    se_t = float(dev.std(ddof=1) / math.sqrt(n))
    se_g = float(2.0 * math.sqrt(max(float((pr ** 2).mean()), 0.0) / n))
    b = trace / g2 if g2 != 0 else math.inf
    se_b = abs(b) * math.sqrt((se_t / trace) ** 2 + (se_g / g2) ** 2) if trace and g2 else math.nan
    return NoiseScale(b, se_b, g2, se_g, trace, se_t, "per-example", n, 1, 1)


def noise_report(model: Any, loss_fn: Callable[[Tensor, Tensor], Tensor], dataset: Any, *,
                 big: int = 256, small: int = 16, epochs: int = 6, seed: int = 0,
                 device: Any = None) -> dict[str, float]:
    """What the batch-size question needs at ``model``'s weights: ``b_simple`` (± ``b_simple_se``)
    by the two-batch estimator over ``epochs`` shuffled passes of ``dataset`` (batches of
    ``big``, chunks of ``small``, finite-population corrected), ``grad_sq_norm``,
    ``trace_sigma``, ``lr_max = |G|²/GᵀHG`` (the best step along the full-batch gradient ``G``,
    one Hessian-vector product) and ``inv_lambda_max = 1/λ_max``. The full-batch quantities use
    every example of ``dataset`` at once (small data sets)."""
    from gradflow.analysis.hessian import hvp, top_hessian_eigenvalue
    from gradflow.data import DataLoader

    n = len(dataset)
    big = min(big, n)
    small = max(1, min(small, big // 2))
    while big % small:
        small -= 1
    batches = []
    for epoch in range(epochs):
        batches += list(DataLoader(dataset, batch_size=big, shuffle=True, seed=seed + epoch,
                                   device=device, drop_last=True))
    est = noise_scale(model, loss_fn, batches, small_batch=small, dataset_size=n)
    x, y = next(iter(DataLoader(dataset, batch_size=n, device=device)))
    params = [p for p in model.parameters() if p.requires_grad]

    def full_loss():
        return loss_fn(model(x), y)

    g = grad(full_loss(), params)
    hg = hvp(full_loss, params, [t.detach() for t in g])
    g_sq = sum(float((t * t).sum()) for t in g)
    curv = sum(float((a * b).sum()) for a, b in zip(g, hg))
    lam = top_hessian_eigenvalue(full_loss, params, iters=100, tol=1e-4, seed=seed)
    return {"b_simple": est.b_simple, "b_simple_se": est.b_simple_se,
            "grad_sq_norm": est.grad_sq_norm, "trace_sigma": est.trace_sigma,
            "lr_max": g_sq / curv if curv > 0 else math.nan, "inv_lambda_max": 1.0 / lam}


__all__ = ["METHODS", "NoiseScale", "batch_sq_norms", "noise_scale", "optimal_lr",
           "noise_report", "small_batch_for", "steps_examples_tradeoff", "two_batch_estimates"]
