"""Callback hooks, EarlyStopping (stop and restore best weights) and the NaN guard."""

from __future__ import annotations

import numpy as np
import pytest
from train_helpers import Scores, Snapshots, assert_same_weights, regression_loader, snapshot

import gradflow as gf
from gradflow import nn, optim
from gradflow.train import Callback, EarlyStopping, TrainingError, fit


class Recorder(Callback):
    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def on_train_begin(self, trainer):
        self.calls.append(("train_begin", trainer.epoch, trainer.step))

    def on_epoch_begin(self, trainer, epoch, logs):
        self.calls.append(("epoch_begin", epoch))

    def on_step_end(self, trainer, step, loss):
        assert isinstance(loss, gf.Tensor) and loss.grad_fn is None
        self.calls.append(("step", step))

    def on_epoch_end(self, trainer, epoch, logs):
        self.calls.append(("epoch_end", epoch, trainer.step))
        logs["extra"] = 10 * epoch  # recorded in the history

    def on_train_end(self, trainer):
        self.calls.append(("train_end", trainer.history.stop_reason))


def _linear_fit(**kwargs):
    model = nn.Linear(4, 1)
    opt = optim.SGD(model.parameters(), lr=kwargs.pop("lr", 0.01))
    loader = kwargs.pop("loader", None) or regression_loader(n=16, batch_size=8)
    history = fit(model, nn.MSELoss(), opt, loader, metrics=(), progress=False, **kwargs)
    return model, history


def test_hooks_run_in_order_and_see_the_trainer():
    rec = Recorder()
    _, history = _linear_fit(epochs=2, callbacks=[rec])
    assert rec.calls == [
        ("train_begin", 0, 0),
        ("epoch_begin", 1), ("step", 1), ("step", 2), ("epoch_end", 1, 2),
        ("epoch_begin", 2), ("step", 3), ("step", 4), ("epoch_end", 2, 4),
        ("train_end", "epochs")]
    assert history["extra"] == [10, 20]


def test_stop_training_from_a_step_hook_cuts_the_epoch():
    class StopAt(Callback):
        def on_step_end(self, trainer, step, loss):
            if step == 3:
                trainer.stop_training = True

    _, history = _linear_fit(epochs=5, callbacks=[StopAt()])
    assert history.stop_reason == "callback" and history.steps == 3 and len(history) == 2


def test_early_stopping_stops_and_restores_the_best_epoch():
    snaps = Snapshots()
    es = EarlyStopping(monitor="score", patience=2)
    model, history = _linear_fit(epochs=10, callbacks=[Scores([5, 3, 4, 3.5, 9, 1]), snaps, es])
    assert history.stop_reason == "early_stopping" and len(history) == 4
    assert (es.best, es.best_epoch, es.stopped_epoch) == (3, 2, 4)
    assert_same_weights(snapshot(model), snaps.weights[2])
    assert not np.array_equal(snaps.weights[2]["weight"], snaps.weights[4]["weight"])


def test_early_stopping_restores_best_also_when_epochs_run_out():
    snaps = Snapshots()
    es = EarlyStopping(monitor="accuracy_proxy", patience=10, mode="max")

    class Proxy(Callback):
        def on_epoch_end(self, trainer, epoch, logs):
            logs["accuracy_proxy"] = [0.1, 0.7, 0.6][epoch - 1]

    model, history = _linear_fit(epochs=3, callbacks=[Proxy(), snaps, es])
    assert history.stop_reason == "epochs" and es.stopped_epoch is None
    assert_same_weights(snapshot(model), snaps.weights[2])


def test_early_stopping_min_delta_and_no_restore():
    es = EarlyStopping(monitor="score", patience=1, min_delta=0.5, restore_best=False)
    snaps = Snapshots()
    model, history = _linear_fit(epochs=10, callbacks=[Scores([5, 4.6, 4.0, 3.9]), snaps, es])
    # 4.6 is not 0.5 better than 5: stop after epoch 2; 4.0 is never reached
    assert len(history) == 2 and es.best_epoch == 1 and es.best_weights is None
    assert_same_weights(snapshot(model), snaps.weights[2])


def test_early_stopping_on_real_val_loss(build):
    s = build(opt="adam", lr=0.05, sched=None, hidden=64, dropout=0.0)
    snaps = Snapshots()
    es = EarlyStopping(patience=2)
    history = fit(s.model, s.loss_fn, s.optimizer, s.train, s.val, epochs=40,
                  callbacks=[snaps, es], progress=False)
    best = history.best("val_loss")
    assert es.best_epoch == best["epoch"] and es.best == best["val_loss"]
    assert history.stop_reason == "early_stopping"
    assert_same_weights(snapshot(s.model), snaps.weights[best["epoch"]])


def test_early_stopping_needs_its_metric():
    with pytest.raises(ValueError, match=r"'val_loss'.*pass val_loader"):
        _linear_fit(epochs=2, callbacks=[EarlyStopping()])


def _diverging(nan_guard, callbacks=()):
    gf.manual_seed(0)
    model = nn.Linear(4, 1)
    loader = regression_loader(n=64, batch_size=4)  # 16 steps per epoch
    return model, fit(model, nn.MSELoss(), optim.SGD(model.parameters(), lr=1e6), loader,
                      epochs=3, metrics=(), nan_guard=nan_guard, callbacks=list(callbacks),
                      progress=False)


diverging_warnings = pytest.mark.filterwarnings("ignore::RuntimeWarning")  # overflow


@diverging_warnings
def test_nan_guard_names_epoch_and_step():
    with pytest.raises(TrainingError) as info:
        _diverging(True)
    err = info.value
    msg = str(err)
    assert f"epoch 1, step {err.step} of the epoch" in msg and "global step" in msg
    assert "learning rate" in msg and "clip_grad_norm" in msg and "nan_guard='step'" in msg
    assert err.epoch == 1 and 1 < err.step <= 16
    assert err.history.stop_reason == "nan" and not np.isfinite(err.history["loss"][0])
    with pytest.raises(TrainingError) as per_step:
        _diverging("step")
    assert per_step.value.step == err.step  # the same first bad step, found without waiting
    assert "nan_guard='step'" not in str(per_step.value)


@diverging_warnings
def test_nan_guard_off_records_the_nan():
    _, history = _diverging(False)
    assert history.stop_reason == "epochs" and not np.isfinite(history["loss"][-1])


@diverging_warnings
def test_early_stopping_restores_best_weights_when_training_diverges():
    snaps = Snapshots()

    class Explode(Callback):  # epoch 1 trains normally, then the lr is made huge
        def on_epoch_end(self, trainer, epoch, logs):
            trainer.optimizer.param_groups[0]["lr"] = 1e6

    es = EarlyStopping(monitor="loss")
    model = nn.Linear(4, 1)
    with pytest.raises(TrainingError, match="epoch 2"):
        fit(model, nn.MSELoss(), optim.SGD(model.parameters(), lr=0.01),
            regression_loader(n=64, batch_size=4), epochs=5, metrics=(),
            callbacks=[snaps, es, Explode()], progress=False)
    assert es.best_epoch == 1
    assert_same_weights(snapshot(model), snaps.weights[1])
