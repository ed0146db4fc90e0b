"""Choosing the learning rate from the curvature (lecture 003; LeCun et al., *Efficient BackProp*).

The lecture's experiment: data set-1 (100 examples from two Gaussians, 2 inputs), one linear
neuron (2 weights, 1 bias), E = 1/(2P) Σ (w·x + b − t)², full-batch gradient descent. For a
quadratic E, one step along the stiffest direction (the Hessian's top eigenvalue λ_max) lands on
the minimum when η = η_opt = 1/λ_max, oscillates but converges for η_opt < η < 2η_opt and
diverges beyond η_max = 2/λ_max.

What it shows:

1. ``gradflow.analysis.suggest_lr`` measures λ_max by power iteration on exact Hessian-vector
   products (double backward) and suggests η_opt and η_max. For the two weights alone λ_max is
   the lecture's 0.84 (η_max = 2.38); with the bias trained too it is 1.0 (η_max = 2.0).
2. Gradient descent written with ``nn.Linear``, ``optim.SGD`` and a full-batch ``DataLoader`` at
   η = 0.5, 1, 1.5, 1.9 × η_opt converges (monotonically below η_opt, oscillating above), and at
   2.1 × η_opt, above 2/λ_max, diverges.

Run it (about a second)::

    python examples/05_learning_rate.py             # 40 epochs per rate
    python examples/05_learning_rate.py --epochs 5  # smoke test
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Sequence

import gradflow as gf
import gradflow.functional as F
from gradflow import nn, optim
from gradflow.analysis import suggest_lr
from gradflow.data import DataLoader, TensorDataset
from gradflow.data.datasets import two_gaussians

MULTIPLIERS = (0.5, 1.0, 1.5, 1.9, 2.1)
INIT = (-1.0, 1.0, 1.0)  # starting (w1, w2, b), far from the minimum


def neuron() -> nn.Linear:
    """One linear neuron in float64 (the oracle precision), at the same start every time."""
    model = nn.Linear(2, 1, dtype="float64")
    model.weight.data[...] = INIT[:2]
    model.bias.data[...] = INIT[2]
    return model


def half_mse(model: nn.Module, x: gf.Tensor, t: gf.Tensor) -> gf.Tensor:
    """E = 1/(2P) Σ_p (y_p − t_p)²: its Hessian is the second moment of (x, 1)."""
    return 0.5 * F.mse_loss(model(x), t)


def run(loader: DataLoader, eta: float, epochs: int) -> tuple[list[float], list[float]]:
    """Full-batch gradient descent (one step per epoch).

    Returns the loss before each step (and at the end) and dE/db before each step: the bias is
    the stiffest direction here (the inputs have mean zero), so the sign of dE/db shows whether
    the steps overshoot the minimum.
    """
    model = neuron()
    optimizer = optim.SGD(model.parameters(), lr=eta)
    losses, bias_grads = [], []
    for _ in range(epochs):
        for x, t in loader:
            optimizer.zero_grad()
            loss = half_mse(model, x, t)
            loss.backward()
            losses.append(loss.item())
            bias_grads.append(model.bias.grad.item())
            optimizer.step()
    x, t = next(iter(loader))
    with gf.no_grad():
        losses.append(half_mse(model, x, t).item())
    return losses, bias_grads


def regime(losses: list[float], bias_grads: list[float]) -> str:
    """diverged / oscillating / monotone, from the losses and the gradient along b."""
    if not math.isfinite(losses[-1]) or losses[-1] > losses[0]:
        return "diverged"
    big = [g for g in bias_grads if abs(g) > 1e-3 * abs(bias_grads[0])]  # above rounding noise
    if len(bias_grads) > 1 and len(big) == 1:
        return "converged along b in one step"
    flips = sum(a * b < 0 for a, b in zip(big[:-1], big[1:]))
    return "converging, oscillating in b" if flips else "converging, monotone"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=40, help="gradient-descent steps per rate")
    parser.add_argument("--seed", type=int, default=0, help="data set seed")
    args = parser.parse_args(argv)

    data = two_gaussians(n=100, seed=args.seed, targets="signed")
    data = TensorDataset(*(a.astype("float64") for a in data.arrays))
    loader = DataLoader(data, batch_size=len(data))  # batch gradient descent: the whole set
    x, t = next(iter(loader))

    probe = neuron()
    weights_only = suggest_lr(lambda: half_mse(probe, x, t), [probe.weight])
    full = suggest_lr(lambda: half_mse(probe, x, t), list(probe.parameters()))
    print(f"weights only:  λ_max = {weights_only.lambda_max:.3f}  η_opt = "
          f"{weights_only.eta_opt:.3f}  η_max = {weights_only.eta_max:.3f}   "
          "(lecture: λ_max = 0.84, η_max = 2.38)")
    print(f"weights + bias: λ_max = {full.lambda_max:.3f}  η_opt = {full.eta_opt:.3f}  "
          f"η_max = {full.eta_max:.3f}   (the rates used below)")
    print(f"\n{'η/η_opt':>8} {'η':>7} {'E start':>10} {'E end':>12}  {'dE/db, first steps':<28}"
          "regime")
    for m in MULTIPLIERS:
        losses, bias_grads = run(loader, m * full.eta_opt, args.epochs)
        side = "above" if m * full.eta_opt > full.eta_max else "below"
        first = " ".join(f"{g:+.2f}" for g in bias_grads[:4])
        print(f"{m:8.1f} {m * full.eta_opt:7.3f} {losses[0]:10.4f} {losses[-1]:12.4g}  "
              f"{first:<28}{regime(losses, bias_grads)} ({side} 2/λ_max)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
