"""Bad input to fit, callbacks and History: one test per documented error."""

from __future__ import annotations

import numpy as np
import pytest
from train_helpers import regression_loader

import gradflow as gf
from gradflow import nn, optim
from gradflow.train import Callback, EarlyStopping, History, MLflowLogger, fit


@pytest.fixture
def parts():
    model = nn.Linear(4, 1)
    return model, nn.MSELoss(), optim.SGD(model.parameters(), lr=0.01), regression_loader()


@pytest.mark.parametrize("kwargs, match", [
    ({"epochs": 0}, "epochs must be a positive int, got 0"),
    ({"epochs": -3}, "epochs must be a positive int"),
    ({"epochs": 2.5}, "epochs must be a positive int"),
    ({"epochs": True}, "epochs must be a positive int"),
    ({"metrics": ("accuracy", "f1")}, r"unknown metric 'f1'.*\['accuracy'\]"),
    ({"metrics": "precision"}, "unknown metric 'precision'"),
    ({"max_iters": 0}, "max_iters must be None or a finite int > 0"),
    ({"max_iters": 2.0}, "max_iters must be None or a finite int"),
    ({"loss_tol": -1e-3}, "loss_tol must be None or a finite number > 0"),
    ({"loss_tol": float("nan")}, "loss_tol must be"),
    ({"clip_grad_norm": 0}, "clip_grad_norm must be"),
    ({"clip_grad_adaptive": -0.1}, "clip_grad_adaptive must be"),
    ({"clip_grad_norm": 1.0, "clip_grad_adaptive": 0.1}, "not both"),
    ({"l2": -0.1}, r"l2 must be None or a finite number >= 0"),
    ({"nan_guard": "sometimes"}, "nan_guard must be True/'epoch'"),
    ({"nan_guard": 1}, "nan_guard must be"),
    ({"device": "tpu"}, "unknown device 'tpu'"),
])
def test_bad_arguments(parts, kwargs, match):
    model, loss_fn, opt, loader = parts
    kwargs = {"epochs": 1, **kwargs}
    with pytest.raises(ValueError, match=match):
        fit(model, loss_fn, opt, loader, metrics=kwargs.pop("metrics", ()), progress=False,
            **kwargs)


def test_bad_types(parts):
    model, loss_fn, opt, loader = parts
    cases = [
        ((object(), loss_fn, opt, loader), {}, "model must be a gradflow nn.Module"),
        ((model, "mse", opt, loader), {}, "loss_fn must be callable"),
        ((model, loss_fn, "sgd", loader), {}, "optimizer must be a gradflow.optim.Optimizer"),
        ((model, loss_fn, opt, 5), {}, "train_loader must be an iterable"),
        ((model, loss_fn, opt, loader, gf.zeros(3)), {}, "val_loader must be an iterable"),
        ((model, loss_fn, opt, loader), {"callbacks": [print]}, "Callback instances"),
        ((model, loss_fn, opt, loader), {"scheduler": 0.1}, "scheduler must have a step()"),
        ((model, loss_fn, opt, loader), {"metrics": 3}, "metrics must be a tuple"),
        ((model, loss_fn, opt, [gf.zeros(2, 4)]), {}, "each batch must be a tuple"),
        ((model, loss_fn, opt, [(gf.zeros(2, 4),)]), {}, "each batch must be a tuple"),
    ]
    for args, kwargs, match in cases:
        with pytest.raises(TypeError, match=match):
            fit(*args, epochs=1, progress=False, **{"metrics": (), **kwargs})


def test_bad_loss_and_data(parts):
    model, _, opt, loader = parts
    with pytest.raises(ValueError, match=r"scalar Tensor.*shape \(8, 1\)"):
        fit(model, nn.MSELoss(reduction="none"), opt, loader, epochs=1, metrics=(),
            progress=False)
    with pytest.raises(ValueError, match="yielded no batches in epoch 1"):
        fit(model, nn.MSELoss(), opt, [], epochs=1, metrics=(), progress=False)
    once = iter(list(loader))  # a one-shot iterator: empty from the second epoch on
    with pytest.raises(ValueError, match="yielded no batches in epoch 2"):
        fit(model, nn.MSELoss(), opt, once, epochs=2, metrics=(), progress=False)
    with pytest.raises(ValueError, match=r"cannot compute accuracy.*\(8, 1\).*\(8, 3\)"):
        y = np.zeros((8, 3), np.float32)
        fit(model, lambda out, t: (out - t).mean(), opt, [(gf.zeros(8, 4), y)], epochs=1,
            progress=False)


def test_callback_errors_do_not_hide_the_training_error(parts):
    model, loss_fn, opt, loader = parts

    class Boom(Exception):
        pass

    class BadEnd(Callback):
        def on_epoch_end(self, trainer, epoch, logs):
            raise Boom("in epoch end")

        def on_train_end(self, trainer):
            raise RuntimeError("cleanup failed")

    with pytest.raises(Boom), pytest.warns(UserWarning, match="cleanup failed"):
        fit(model, loss_fn, opt, loader, epochs=2, metrics=(), callbacks=[BadEnd()],
            progress=False)


def test_callback_argument_errors():
    with pytest.raises(ValueError, match="patience must be an int >= 0"):
        EarlyStopping(patience=-1)
    with pytest.raises(ValueError, match="min_delta must be a number >= 0"):
        EarlyStopping(min_delta=-0.1)
    with pytest.raises(ValueError, match="mode must be 'min' or 'max'"):
        EarlyStopping(mode="up")
    with pytest.raises(TypeError, match="monitor must be a metric name"):
        EarlyStopping(monitor=3)
    with pytest.raises(TypeError, match="params must be a dict"):
        MLflowLogger(params=[("a", 1)])


def test_history_access():
    h = History()
    h.append({"epoch": 1, "loss": 2.0, "val_loss": 1.5})
    h.append({"epoch": 2, "loss": 1.0, "val_loss": float("nan")})
    h.append({"epoch": 3, "loss": 0.5, "val_loss": 1.2})
    assert h["loss"] == [2.0, 1.0, 0.5] and len(h) == 3 and "val_loss" in h
    assert h.best()["epoch"] == 3 and h.best("loss", mode="max")["epoch"] == 1
    with pytest.raises(KeyError, match=r"no 'accuracy'.*\['epoch', 'loss', 'val_loss'\]"):
        h["accuracy"]
    with pytest.raises(ValueError, match="mode must be 'min' or 'max'"):
        h.best(mode="lowest")
    h.append({"epoch": 4, "loss": 0.4, "note": "x"})
    with pytest.raises(ValueError, match="no epoch has a finite 'note'"):
        h.best("note")
    assert h["note"] == [None, None, None, "x"]
    restored = History()
    restored.load_state_dict(h.state_dict())
    assert restored.records == h.records and "4 epochs" in repr(restored)
