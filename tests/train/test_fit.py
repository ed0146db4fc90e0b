"""fit: learning, metrics, stopping rules, scheduler stepping, L2 and clipping."""

from __future__ import annotations

import math

import numpy as np
import pytest
from train_helpers import regression_loader

import gradflow as gf
from gradflow import nn, optim
from gradflow.data import DataLoader
from gradflow.data.datasets import two_gaussians
from gradflow.train import Callback, History, fit
from gradflow.train.metrics import accuracy_count


class Grads(Callback):
    """Host copies of every parameter's gradient after each step (after clipping)."""

    def __init__(self) -> None:
        self.steps: list[dict[str, np.ndarray]] = []

    def on_step_end(self, trainer, step, loss) -> None:
        self.steps.append({k: p.grad.numpy().copy()
                           for k, p in trainer.model.named_parameters()})


def _manual_accuracy(model: nn.Module, loader: DataLoader) -> float:
    model.eval()
    correct = total = 0
    with gf.no_grad():
        for x, y in loader:
            out = model(x).numpy()
            t = y.numpy()
            pred = out.argmax(-1) if out.shape[-1] > 1 else (out.reshape(-1) > 0)
            want = t if out.shape[-1] > 1 else (t.reshape(-1) > 0.5)
            correct += int((pred == want).sum())
            total += want.size
    model.train()
    return correct / total


def test_fit_learns_digits(build):
    s = build(opt="sgd", sched=None, dropout=0.0, lr=0.1)
    history = fit(s.model, s.loss_fn, s.optimizer, s.train, s.val, epochs=10, progress=False)
    assert isinstance(history, History)
    assert len(history) == 10 and history.stop_reason == "epochs"
    assert history.steps == 10 * len(s.train) == history["steps"][-1]
    assert history["val_accuracy"][-1] >= 0.9
    assert history["loss"][-1] < history["loss"][0] / 4
    assert history["epoch"] == list(range(1, 11))
    # the logged validation numbers are those of the final model
    assert history["val_accuracy"][-1] == pytest.approx(_manual_accuracy(s.model, s.val))
    for key in ("accuracy", "lr", "epoch_time", "samples_per_s"):
        assert all(isinstance(v, float) for v in history[key])
    assert all(v > 0 for v in history["samples_per_s"])
    assert s.model.training  # validation switched eval mode back


def test_train_loss_is_the_sample_mean_of_step_losses(build):
    """The epoch loss is Σ n_b·loss_b / Σ n_b over the steps (last batch smaller)."""
    s = build(dropout=0.0, sched=None, batch_size=48)  # 400 = 8·48 + 16

    class Losses(Callback):
        def __init__(self):
            self.values = []

        def on_step_end(self, trainer, step, loss):
            self.values.append(float(loss))

    spy = Losses()
    history = fit(s.model, s.loss_fn, s.optimizer, s.train, epochs=1, callbacks=[spy],
                  progress=False)
    sizes = np.array([48] * 8 + [16], dtype=np.float64)
    assert history["loss"][0] == pytest.approx(float(np.dot(spy.values, sizes) / 400), rel=1e-12)
    assert "val_loss" not in history


def test_binary_accuracy_from_one_logit():
    for targets, loss_fn in (("binary", nn.BCEWithLogitsLoss()), ("signed", nn.MSELoss())):
        data = two_gaussians(n=60, targets=targets)
        model = nn.Linear(2, 1)
        opt = optim.SGD(model.parameters(), lr=0.2)
        loader = DataLoader(data, batch_size=10)
        history = fit(model, loss_fn, opt, loader, loader, epochs=3, progress=False)
        assert history["val_accuracy"][-1] == pytest.approx(_manual_accuracy(model, loader))
        assert history["val_accuracy"][-1] > 0.9


def test_accuracy_count_kinds():
    logits = np.array([[2.0, 1.0, 0.0], [0.0, 0.0, 3.0]])
    assert accuracy_count(logits, np.array([0, 1])) == (1, 2)
    assert accuracy_count(logits, np.array([[1, 0, 0], [0, 0, 1.0]])) == (2, 2)
    one = np.array([[0.5], [-1.0], [2.0]])
    assert accuracy_count(one, np.array([[1.0], [0.0], [0.0]])) == (2, 3)
    assert accuracy_count(one.reshape(-1), np.array([1.0, -1.0, 1.0])) == (3, 3)
    with pytest.raises(ValueError, match=r"cannot compute accuracy.*\(2, 3\).*\(2, 2\)"):
        accuracy_count(logits, np.zeros((2, 2)))


def test_metrics_empty_skips_accuracy():
    model = nn.Linear(4, 1)
    history = fit(model, nn.MSELoss(), optim.SGD(model.parameters(), lr=0.05),
                  regression_loader(), epochs=2, metrics=(), progress=False)
    assert "accuracy" not in history and history["loss"][1] < history["loss"][0]


@pytest.mark.parametrize("max_iters", [7, 8])
def test_max_iters_is_an_exact_step_count(max_iters):
    model = nn.Linear(4, 1)
    loader = regression_loader(n=32, batch_size=8)  # 4 steps per epoch
    counted = []

    class Count(Callback):
        def on_step_end(self, trainer, step, loss):
            counted.append(step)

    history = fit(model, nn.MSELoss(), optim.SGD(model.parameters(), lr=0.01), loader,
                  epochs=100, max_iters=max_iters, metrics=(), callbacks=[Count()],
                  progress=False)
    assert counted == list(range(1, max_iters + 1))
    assert history.steps == max_iters and history.stop_reason == "max_iters"
    assert len(history) == 2 and history["steps"] == [4, max_iters]


def test_loss_tol_stops_at_first_epoch_below(build):
    s = build(opt="adam", sched=None, dropout=0.0)
    history = fit(s.model, s.loss_fn, s.optimizer, s.train, epochs=50, loss_tol=0.3,
                  progress=False)
    assert history.stop_reason == "loss_tol"
    assert history["loss"][-1] < 0.3 and all(v >= 0.3 for v in history["loss"][:-1])
    assert len(history) < 50


def test_scheduler_steps_once_per_epoch(build):
    s = build(sched="step")  # StepLR(step_size=2, gamma=0.5) from lr 0.1
    history = fit(s.model, s.loss_fn, s.optimizer, s.train, epochs=5, scheduler=s.scheduler,
                  progress=False)
    assert history["lr"] == pytest.approx([0.1, 0.1, 0.05, 0.05, 0.025])
    assert s.scheduler.last_epoch == 5


@pytest.mark.parametrize("with_val", [True, False])
def test_reduce_on_plateau_gets_the_monitored_loss(build, with_val):
    s = build(sched="plateau", dropout=0.0)
    seen = []
    step = s.scheduler.step
    s.scheduler.step = lambda metric: (seen.append(metric), step(metric))
    history = fit(s.model, s.loss_fn, s.optimizer, s.train, s.val if with_val else None,
                  epochs=3, scheduler=s.scheduler, progress=False)
    assert seen == history["val_loss" if with_val else "loss"]


def _one_step_grads(l2: float) -> tuple[Grads, History, nn.Module]:
    gf.manual_seed(3)
    model = nn.Sequential(nn.Linear(4, 3), nn.Tanh(), nn.Linear(3, 1))
    spy = Grads()
    history = fit(model, nn.MSELoss(), optim.SGD(model.parameters(), lr=0.0),
                  regression_loader(), epochs=1, max_iters=1, l2=l2, metrics=(),
                  callbacks=[spy], progress=False)
    return spy, history, model


def test_l2_adds_lambda_w_to_weight_gradients_only():
    plain, h0, _ = _one_step_grads(0.0)
    reg, h1, model = _one_step_grads(0.5)
    weights = {k: p.numpy() for k, p in model.named_parameters()}
    for key, g in reg.steps[0].items():
        if key.endswith("weight"):
            np.testing.assert_allclose(g, plain.steps[0][key] + 0.5 * weights[key], rtol=1e-6)
        else:  # biases are not penalised
            assert np.array_equal(g, plain.steps[0][key])
    assert h0["loss"] == h1["loss"]  # the logged loss is the data loss


def _clipped(**clip) -> tuple[list[dict[str, np.ndarray]], nn.Module]:
    gf.manual_seed(5)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))
    spy = Grads()
    fit(model, nn.MSELoss(), optim.SGD(model.parameters(), lr=0.0), regression_loader(),
        epochs=2, metrics=(), callbacks=[spy], progress=False, **clip)
    return spy.steps, model


def _total_norm(grads: dict[str, np.ndarray]) -> float:
    return math.sqrt(sum(float((g.astype(np.float64) ** 2).sum()) for g in grads.values()))


def test_clip_grad_norm_is_applied():
    raw, _ = _clipped()
    assert min(_total_norm(g) for g in raw) > 0.05  # clipping has work to do
    clipped, _ = _clipped(clip_grad_norm=0.05)
    for before, after in zip(raw, clipped):
        assert _total_norm(after) <= 0.05 * (1 + 1e-5)
        scale = after["0.weight"].ravel() @ before["0.weight"].ravel() / (
            before["0.weight"].ravel() @ before["0.weight"].ravel())
        np.testing.assert_allclose(after["0.weight"], scale * before["0.weight"], rtol=1e-5)


def test_clip_grad_adaptive_is_applied():
    raw, model = _clipped()
    clipped, _ = _clipped(clip_grad_adaptive=0.01)
    weights = {k: p.numpy() for k, p in model.named_parameters()}  # lr=0: unchanged
    ratios = [np.linalg.norm(g[k]) / max(np.linalg.norm(weights[k]), 1e-3)
              for g in raw for k in g]
    assert max(ratios) > 0.01
    for grads in clipped:
        for k, g in grads.items():
            assert np.linalg.norm(g) / max(np.linalg.norm(weights[k]), 1e-3) <= 0.01 * (1 + 1e-5)


def test_batches_follow_the_model_device_and_extra_inputs():
    class Two(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = nn.Linear(2, 3), nn.Linear(2, 3)

        def forward(self, x1, x2):
            return self.a(x1) + self.b(x2)

    rng = np.random.default_rng(0)
    x1, x2 = rng.standard_normal((2, 12, 2)).astype(np.float32)
    y = rng.integers(0, 3, 12)
    batches = [(x1[:6], x2[:6], y[:6]), (x1[6:], x2[6:], y[6:])]  # NumPy batches are wrapped
    model = Two()
    history = fit(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), batches,
                  epochs=2, device="cpu", progress=False)
    assert history.steps == 4 and 0.0 <= history["accuracy"][-1] <= 1.0


def test_fit_on_each_device(build, device):
    """The model moves to ``device``; CPU batches follow it; metrics are read once per epoch."""
    s = build(opt="adam", sched="step", dropout=0.0)
    history = fit(s.model, s.loss_fn, s.optimizer, s.train, s.val, epochs=8,
                  scheduler=s.scheduler, device=device, l2=1e-4, clip_grad_norm=5.0,
                  progress=False)
    assert all(p.device == gf.get_backend(device).device for p in s.model.parameters())
    assert history["val_accuracy"][-1] >= 0.85
    assert all(math.isfinite(v) for v in history["loss"] + history["val_loss"])
