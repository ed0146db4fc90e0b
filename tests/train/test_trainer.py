"""Trainer: an overridden train_step is what fit runs, evaluate, state_dict, and the triggers
(every N steps / epochs), also across a mid-epoch resume."""

from __future__ import annotations

import numpy as np
import pytest
from train_helpers import Snapshots, assert_same_weights, regression_loader, snapshot

import gradflow as gf
from gradflow import nn, optim
from gradflow.train import Callback, ModelCheckpoint, Trainer, fit
from gradflow.train.triggers import Trigger


class Steps(Callback):
    def __init__(self, every=None) -> None:
        self.every = every
        self.steps: list[int] = []
        self.epochs: list[int] = []
        self.validations: list[tuple[int, int]] = []

    def on_step_end(self, trainer, step, loss):
        self.steps.append(step)

    def on_epoch_end(self, trainer, epoch, logs):
        self.epochs.append(epoch)

    def on_validation_end(self, trainer, logs):
        self.validations.append((logs["epoch"], logs["step"]))


class Crash(Exception):
    pass


class CrashAt(Callback):
    def __init__(self, step: int) -> None:
        self.at = step

    def on_step_end(self, trainer, step, loss):
        if step == self.at:
            raise Crash(step)


class HalfStep(Trainer):
    """A custom step: plain SGD by hand at half the learning rate, counting its calls."""

    calls = 0

    def train_step(self, batch):
        x, y = batch
        self.optimizer.zero_grad()
        loss = self.loss_fn(self.model(x), y)
        loss.backward()
        with gf.no_grad():
            for p in self.model.parameters():
                p.sub_(p.grad * 0.005)
        type(self).calls += 1
        return loss


def test_overridden_train_step_is_what_fit_runs():
    model = nn.Linear(4, 1)
    opt = optim.SGD(model.parameters(), lr=0.01)
    before = snapshot(model)
    HalfStep.calls = 0
    history = fit(model, nn.MSELoss(), opt, regression_loader(), epochs=2, metrics=("accuracy",),
                  progress=False, trainer=HalfStep)
    assert HalfStep.calls == history.steps == 8
    assert "accuracy" not in history  # the override set no output
    # the same updates by hand
    ref = nn.Linear(4, 1)
    ref.load_state_dict({k: gf.tensor(v) for k, v in before.items()})
    for _ in range(2):
        for x, y in regression_loader():
            ref.zero_grad()
            nn.MSELoss()(ref(x), y).backward()
            with gf.no_grad():
                for p in ref.parameters():
                    p.sub_(p.grad * 0.005)
    assert_same_weights(snapshot(model), snapshot(ref))
    # Trainer.fit of a subclass runs it too
    t = HalfStep(model, nn.MSELoss(), opt, regression_loader(), epochs=1, metrics=())
    t.fit()
    assert HalfStep.calls == 12 and t.step == 4
    with pytest.raises(TypeError, match="Trainer subclass"):
        fit(model, nn.MSELoss(), opt, regression_loader(), progress=False, trainer=object)


def test_evaluate_and_state_dict_round_trip(build):
    s = build(sched=None)
    t = Trainer(s.model, s.loss_fn, s.optimizer, s.train, s.val, epochs=2)
    t.fit()
    metrics = t.evaluate(s.val)
    assert set(metrics) == {"loss", "accuracy", "examples"} and metrics["examples"] == 100
    assert metrics["loss"] == t.history["val_loss"][-1]
    assert metrics["accuracy"] == t.history["val_accuracy"][-1]
    assert s.model.training  # the mode is restored
    state = t.state_dict()
    assert state["epoch"] == 2 and state["step"] == 26 and state["in_epoch"] is None
    u = build(sched=None)
    t2 = Trainer(u.model, u.loss_fn, u.optimizer, u.train, u.val, epochs=2)
    t2.load_state_dict(state)
    assert (t2.epoch, t2.step, t2.history["loss"]) == (2, 26, t.history["loss"])
    assert_same_weights(snapshot(u.model), snapshot(s.model))


def test_triggers_fire_at_their_steps_and_epochs():
    model = nn.Linear(4, 1)
    opt = optim.SGD(model.parameters(), lr=0.01)
    every3, every2e, always = Steps((3, "step")), Steps(2), Steps()
    loader = regression_loader()  # 4 batches per epoch
    history = fit(model, nn.MSELoss(), opt, loader, loader, epochs=5, metrics=(),
                  val_every=(6, "step"), callbacks=[every3, every2e, always], progress=False)
    assert every3.steps == [3, 6, 9, 12, 15, 18] and every3.epochs == [1, 2, 3, 4, 5]
    assert every2e.epochs == [2, 4] and every2e.steps == list(range(1, 21))
    assert always.validations == [(2, 6), (3, 12), (5, 18)]
    assert history["val_loss"][0] is None and history["val_loss"][1] is not None
    assert Trigger.parse((3, "step")) == (3, "step") and Trigger.parse(2) == 2
    for bad in (0, (2, "minute"), (1.5, "step"), "3"):
        with pytest.raises(ValueError, match="val_every"):
            fit(model, nn.MSELoss(), opt, loader, epochs=1, val_every=bad, progress=False)


def _setup(build):
    s = build(sched="step", dropout=0.2, loader_seed=3)  # dropout: the RNG state matters
    return s


def test_step_checkpoint_resumes_mid_epoch_bit_identical(tmp_path, build):
    gf.manual_seed(0)
    a = _setup(build)
    snaps_a, steps_a = Snapshots(), Steps((5, "step"))
    full = fit(a.model, a.loss_fn, a.optimizer, a.train, a.val, epochs=3, scheduler=a.scheduler,
               val_every=(4, "step"), callbacks=[snaps_a, steps_a], progress=False)

    gf.manual_seed(0)
    b = _setup(build)
    ckpt = ModelCheckpoint(tmp_path, every=(5, "step"), keep_last=2)
    with pytest.raises(Crash):  # epoch 2 of 13 batches each: step 20 is its 7th
        fit(b.model, b.loss_fn, b.optimizer, b.train, b.val, epochs=3, scheduler=b.scheduler,
            val_every=(4, "step"), callbacks=[ckpt, CrashAt(23)], progress=False)
    assert ckpt.last_path.endswith("ckpt-step0000020.gf")
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "ckpt-step0000015.gf", "ckpt-step0000020.gf", "last.gf"]
    state = gf.load(tmp_path / "last.gf")
    assert state["epoch"] == 2 and state["in_epoch"]["batches"] == 7

    gf.manual_seed(123)
    c = _setup(build)
    snaps_c, steps_c = Snapshots(), Steps((5, "step"))
    resumed = fit(c.model, c.loss_fn, c.optimizer, c.train, c.val, epochs=3,
                  scheduler=c.scheduler, val_every=(4, "step"), callbacks=[snaps_c, steps_c],
                  resume=tmp_path, progress=False)
    assert steps_c.steps == [s for s in steps_a.steps if s > 20]
    assert resumed.steps == full.steps == 39
    for key in ("epoch", "loss", "accuracy", "val_loss", "val_accuracy", "lr", "steps"):
        assert resumed[key] == full[key], key
    for epoch in (2, 3):
        assert_same_weights(snaps_c.weights[epoch], snaps_a.weights[epoch])
    assert np.isfinite(resumed["loss"]).all()
