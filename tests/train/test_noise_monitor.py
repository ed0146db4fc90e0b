"""NoiseScaleMonitor: B_simple logged every epoch from the batches the steps train on."""

import math

import numpy as np
import pytest

import gradflow as gf
from gradflow import nn
from gradflow.analysis import noise_scale
from gradflow.data import DataLoader, TensorDataset
from gradflow.train import CSVLogger, NoiseScaleMonitor, fit


def _setup(n=512, seed=0):
    gf.manual_seed(seed)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 8)).astype(np.float32)
    y = (x[:, :3].sum(1) > 0).astype(np.int64)
    data = TensorDataset(gf.tensor(x), gf.tensor(y))
    model = nn.Sequential(nn.Linear(8, 16), nn.Tanh(), nn.Linear(16, 2))
    return model, data


def test_monitor_logs_b_simple_every_epoch_to_history_and_loggers(tmp_path):
    model, data = _setup()
    loader = DataLoader(data, batch_size=64, shuffle=True, seed=0)
    monitor = NoiseScaleMonitor(every=(2, "step"), small_batch=8)
    csv = CSVLogger(str(tmp_path / "metrics.csv"))
    history = fit(model, nn.CrossEntropyLoss(), gf.optim.SGD(model.parameters(), lr=0.5),
                  loader, epochs=3, callbacks=[csv, monitor], progress=False)
    values = history["b_simple"]
    assert len(values) == 3 and all(v > 0 and math.isfinite(v) for v in values)
    assert [e["epoch"] for e in monitor.estimates] == [1, 2, 3]
    assert "b_simple" in (tmp_path / "metrics.csv").read_text().splitlines()[0]  # loggers see it
    # the noise scale grows as the loss falls (it starts ~ the noise of a random init)
    assert values[-1] > values[0]


def test_monitor_matches_the_offline_estimator_at_fixed_weights():
    model, data = _setup()
    x, y = data.tensors if hasattr(data, "tensors") else (data[:][0], data[:][1])
    loss_fn = nn.CrossEntropyLoss()
    batches = [(x[i:i + 64], y[i:i + 64]) for i in range(0, 512, 64)]
    offline = noise_scale(model, loss_fn, batches, small_batch=8, dataset_size=512)
    monitor = NoiseScaleMonitor(small_batch=8)

    class Frozen:  # a trainer that never moves the weights
        train_loader = DataLoader(data, batch_size=64)

    trainer = Frozen()
    trainer.model, trainer.loss_fn = model, loss_fn
    for xb, yb in batches:
        trainer.batch = [xb, yb]
        monitor.on_step_end(trainer, 0, None)
    logs = {}
    monitor.on_epoch_end(trainer, 1, logs)
    assert logs["b_simple"] == pytest.approx(offline.b_simple, rel=1e-9)
    assert logs["grad_sq_norm"] == pytest.approx(offline.grad_sq_norm, rel=1e-9)


def test_monitor_errors():
    with pytest.raises(ValueError, match="NoiseScaleMonitor: small_batch must be a divisor"):
        model, data = _setup(64)
        fit(model, nn.CrossEntropyLoss(), gf.optim.SGD(model.parameters(), lr=0.1),
            DataLoader(data, batch_size=16), epochs=1,
            callbacks=[NoiseScaleMonitor(every=(1, "step"), small_batch=5)], progress=False)
