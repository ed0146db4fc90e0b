"""Plain helpers of the ``gradflow.train`` tests (imported as ``train_helpers``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from gradflow import nn, optim
from gradflow.data import DataLoader, TensorDataset
from gradflow.train import Callback


@dataclass
class Setup:
    model: nn.Module
    optimizer: optim.Optimizer
    scheduler: Any
    train: DataLoader
    val: DataLoader
    loss_fn: Any


def snapshot(model: nn.Module) -> dict[str, np.ndarray]:
    """Host copies of the model's parameters and buffers."""
    return {k: np.array(v.numpy(), copy=True) for k, v in model.state_dict().items()}


def assert_same_weights(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert np.array_equal(a[k], b[k]), f"{k} differs"


class Snapshots(Callback):
    """Keeps the model's weights at the end of every epoch."""

    def __init__(self) -> None:
        self.weights: dict[int, dict[str, np.ndarray]] = {}

    def on_epoch_end(self, trainer, epoch, logs) -> None:
        self.weights[epoch] = snapshot(trainer.model)


class Scores(Callback):
    """Adds ``logs["score"]`` from a fixed sequence (to drive EarlyStopping exactly)."""

    def __init__(self, values: list[float]) -> None:
        self.values = values

    def on_epoch_end(self, trainer, epoch, logs) -> None:
        logs["score"] = self.values[epoch - 1]


def regression_loader(n: int = 32, batch_size: int = 8, seed: int = 0) -> DataLoader:
    """Random linear-regression data (4 inputs, 1 output)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 4)).astype(np.float32)
    y = (x @ rng.standard_normal((4, 1)) + 0.1).astype(np.float32)
    return DataLoader(TensorDataset(x, y), batch_size=batch_size)
