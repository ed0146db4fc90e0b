"""Batch vs minibatch vs stochastic gradient descent on the digits (lectures 002 and 003).

The same network (64-64-10, ReLU, plain SGD) is trained for the same number of epochs three
ways, and only the batch size changes:

- batch (full-gradient) descent: ``batch_size=len(train_set)``, one update per epoch from the
  gradient averaged over every example;
- minibatch descent: ``batch_size=32``, one update per 32 examples;
- stochastic descent: ``batch_size=1``, one update per example.

It prints the training loss after each epoch side by side, then the updates, the wall time and
the test accuracy of each. What to look for (lecture 003): per epoch, stochastic and minibatch
updates make far more progress than the batch update, because the digits are redundant (many
examples look alike); an epoch of stochastic descent costs the most time, since every example
is a separate step of Python and small matrix products; the minibatch is the usual compromise.

Run it (a few seconds on a CPU)::

    python examples/04_batch_vs_minibatch_vs_sgd.py
    python examples/04_batch_vs_minibatch_vs_sgd.py --epochs 1   # smoke test
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence

import gradflow as gf
from gradflow import nn, optim
from gradflow.data import DataLoader
from gradflow.data.datasets import load_digits
from gradflow.models import mlp
from gradflow.train import fit

#: (name, batch size for DataLoader, learning rate). Larger batches average away the noise and
#: tolerate a larger step.
REGIMES = (("batch", None, 0.5), ("minibatch 32", 32, 0.1), ("stochastic", 1, 0.01))


def test_accuracy(model: nn.Module, loader: DataLoader) -> float:
    model.eval()
    correct = total = 0
    with gf.no_grad():
        for x, y in loader:
            correct += int((model(x).argmax(axis=1) == y).sum())
            total += int(y.shape[0])
    return correct / total


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=5, help="epochs for every regime")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    train_set, test_set = load_digits(test_size=0.2, seed=args.seed)
    test_loader = DataLoader(test_set, batch_size=len(test_set))
    results = []
    for name, batch_size, lr in REGIMES:
        gf.manual_seed(args.seed)  # the same initial weights for every regime
        model = mlp(64, [64], 10)
        loader = DataLoader(train_set, batch_size=batch_size or len(train_set), shuffle=True,
                            seed=args.seed)
        start = time.perf_counter()
        history = fit(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=lr),
                      loader, epochs=args.epochs, progress=False)
        seconds = time.perf_counter() - start
        results.append((name, lr, history, seconds, test_accuracy(model, test_loader)))

    print(f"training loss per epoch ({len(train_set)} examples, SGD without momentum)")
    print("epoch  " + "  ".join(f"{name:>13}" for name, *_ in results))
    for epoch in range(args.epochs):
        print(f"{epoch + 1:5d}  " + "  ".join(f"{h['loss'][epoch]:13.4f}"
                                            for _, _, h, _, _ in results))
    print(f"\n{'regime':<13} {'lr':>5} {'updates':>8} {'updates/epoch':>14} {'time':>8} "
          f"{'s/epoch':>8} {'test acc':>9}")
    for name, lr, history, seconds, acc in results:
        per_epoch = history.steps // max(1, len(history))
        print(f"{name:<13} {lr:5g} {history.steps:8d} {per_epoch:14d} {seconds:7.2f}s "
              f"{seconds / len(history):7.3f}s {acc:9.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
