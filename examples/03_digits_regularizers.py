"""Every remedy for overfitting of lecture 004, one run each, on a small slice of the digits.

Overfitting shows when the model is big and the data few, so each run trains the same
64-128-128-10 ReLU network on only 300 training digits (150 more for validation, 360 held out
for the test) and changes one thing:

- ``baseline``: nothing;
- ``L2``: the penalty λ/2·Σ‖W‖² added to the loss gradient (``fit(l2=...)``);
- ``dropout``: ``nn.Dropout(0.3)`` after each hidden activation;
- ``augmentation``: random 1-pixel shifts and Gaussian noise on each batch
  (``DataLoader(transform=...)``);
- ``clip by norm``: the total gradient norm clipped to 0.3 (``fit(clip_grad_norm=0.3)``);
- ``clip adaptive``: per parameter ‖g‖/‖w‖ ≤ 0.01 (``fit(clip_grad_adaptive=0.01)``);
- ``batch norm`` / ``layer norm``: ``nn.BatchNorm1d`` / ``nn.LayerNorm`` before each activation;
- ``early stopping``: stop when the validation loss has not improved for 3 epochs and keep the
  best weights (``EarlyStopping(patience=3)``);
- ``Xavier init`` / ``He init``: Glorot-uniform or Kaiming-normal weights, zero biases.

It prints one row per run: final training accuracy, best validation accuracy, test accuracy,
the gap between training and test accuracy (the overfitting), epochs run and time. With so few
epochs the differences are small and depend on the seed; run more epochs (``--epochs 60``) to
see the baseline overfit and the remedies close the gap.

Run it (a few seconds on a CPU)::

    python examples/03_digits_regularizers.py
    python examples/03_digits_regularizers.py --epochs 2   # smoke test
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from typing import Any

import gradflow as gf
from gradflow import nn, optim
from gradflow.data import DataLoader, Subset, transforms
from gradflow.data.datasets import load_digits
from gradflow.models import mlp
from gradflow.train import EarlyStopping, fit

HIDDEN = (128, 128)
#: name -> (keyword arguments of ``mlp``, of ``fit``, and extras: "augment", "early_stopping")
RUNS: dict[str, tuple[dict[str, Any], dict[str, Any], tuple[str, ...]]] = {
    "baseline": ({}, {}, ()),
    "L2": ({}, {"l2": 1e-2}, ()),
    "dropout": ({"dropout": 0.3}, {}, ()),
    "augmentation": ({}, {}, ("augment",)),
    "clip by norm": ({}, {"clip_grad_norm": 0.3}, ()),
    "clip adaptive": ({}, {"clip_grad_adaptive": 0.01}, ()),
    "batch norm": ({"norm": "batch"}, {}, ()),
    "layer norm": ({"norm": "layer"}, {}, ()),
    "early stopping": ({}, {}, ("early_stopping",)),
    "Xavier init": ({"init": "xavier"}, {}, ()),
    "He init": ({"init": "he"}, {}, ()),
}


def splits(seed: int, n_train: int, n_val: int) -> tuple[Subset, Subset, Any]:
    """(train, validation, test): a small training slice makes overfitting visible."""
    rest, test = load_digits(test_size=0.2, seed=seed)
    return Subset(rest, range(n_train)), Subset(rest, range(n_train, n_train + n_val)), test


def accuracy(model: nn.Module, loader: DataLoader) -> float:
    model.eval()
    correct = total = 0
    with gf.no_grad():
        for x, y in loader:
            correct += int((model(x).argmax(axis=1) == y).sum())
            total += int(y.shape[0])
    return correct / total


def run(name: str, data: tuple[Subset, Subset, Any], epochs: int, seed: int) -> dict[str, Any]:
    """Train one configuration; return its row of the table."""
    model_kw, fit_kw, extras = RUNS[name]
    train_set, val_set, test_set = data
    augment = transforms.Compose([transforms.RandomShift(1, image_shape=(8, 8)),
                                  transforms.GaussianNoise(0.05, clip=(0.0, 1.0))])
    gf.manual_seed(seed)
    model = mlp(64, HIDDEN, 10, **model_kw)
    train_loader = DataLoader(train_set, batch_size=32, shuffle=True, seed=seed,
                              transform=augment if "augment" in extras else None)
    val_loader = DataLoader(val_set, batch_size=len(val_set))
    callbacks = [EarlyStopping(patience=3)] if "early_stopping" in extras else []
    start = time.perf_counter()
    history = fit(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=1e-3),
                  train_loader, val_loader, epochs=epochs, callbacks=callbacks, progress=False,
                  **fit_kw)
    seconds = time.perf_counter() - start
    train_acc = accuracy(model, DataLoader(train_set, batch_size=len(train_set)))
    test_acc = accuracy(model, DataLoader(test_set, batch_size=len(test_set)))
    return {"name": name, "train": train_acc, "val": max(history["val_accuracy"]),
            "test": test_acc, "gap": train_acc - test_acc, "epochs": len(history),
            "time": seconds}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=20, help="epochs per run (at most)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n-train", type=int, default=300, help="training examples")
    parser.add_argument("--only", nargs="*", choices=list(RUNS), metavar="NAME",
                        help=f"run only these ({', '.join(RUNS)})")
    args = parser.parse_args(argv)

    data = splits(args.seed, args.n_train, 150)
    print(f"{len(data[0])} train / {len(data[1])} val / {len(data[2])} test digits; "
          f"MLP 64-{'-'.join(map(str, HIDDEN))}-10, Adam lr 1e-3, up to {args.epochs} epochs")
    print(f"{'regularizer':<15} {'train acc':>9} {'best val':>9} {'test acc':>9} {'gap':>7} "
          f"{'epochs':>6} {'time':>7}")
    for name in args.only or RUNS:
        r = run(name, data, args.epochs, args.seed)
        print(f"{r['name']:<15} {r['train']:9.3f} {r['val']:9.3f} {r['test']:9.3f} "
              f"{r['gap']:+7.3f} {r['epochs']:6d} {r['time']:6.2f}s", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
