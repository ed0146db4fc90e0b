"""Small, fast training setups shared by the tests of ``gradflow.train``."""

from __future__ import annotations

import os
import sys

import pytest

from gradflow import nn, optim
from gradflow.data import DataLoader, TensorDataset
from gradflow.data.datasets import load_digits

sys.path.insert(0, os.path.dirname(__file__))  # train_helpers.py

from train_helpers import Setup  # noqa: E402


@pytest.fixture(scope="session")
def digits() -> tuple[TensorDataset, TensorDataset]:
    """A 400/100 split of scikit-learn's digits (stratified, fixed)."""
    train, test = load_digits(test_size=0.2, seed=0)
    (xtr, ytr), (xte, yte) = train.arrays, test.arrays
    return TensorDataset(xtr[:400], ytr[:400]), TensorDataset(xte[:100], yte[:100])


@pytest.fixture
def build(digits):
    """``build(opt="sgd", sched="step", dropout=0.2, ...)`` -> a fresh :class:`Setup`."""

    def make(opt: str = "sgd", sched: str | None = "step", dropout: float = 0.2,
             batch_size: int = 32, shuffle: bool = True, loader_seed: int | None = None,
             lr: float | None = None, hidden: int = 32) -> Setup:
        train, val = digits
        layers = [nn.Linear(64, hidden), nn.ReLU()]
        if dropout:
            layers.append(nn.Dropout(dropout))
        model = nn.Sequential(*layers, nn.Linear(hidden, 10))
        if opt == "sgd":
            optimizer = optim.SGD(model.parameters(), lr=lr or 0.1, momentum=0.9)
        else:
            optimizer = optim.Adam(model.parameters(), lr=lr or 0.01)
        scheduler = {None: None,
                     "step": lambda: optim.lr_scheduler.StepLR(optimizer, 2, gamma=0.5),
                     "cosine": lambda: optim.lr_scheduler.CosineAnnealingLR(optimizer, 4),
                     "plateau": lambda: optim.lr_scheduler.ReduceLROnPlateau(optimizer,
                                                                             patience=0)}[sched]
        return Setup(model, optimizer, scheduler() if scheduler else None,
                     DataLoader(train, batch_size=batch_size, shuffle=shuffle, seed=loader_seed),
                     DataLoader(val, batch_size=64), nn.CrossEntropyLoss())

    return make
