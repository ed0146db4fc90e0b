"""ModelCheckpoint (contents, rotation, last.gf) and bit-identical resume."""

from __future__ import annotations

import os

import numpy as np
import pytest
from train_helpers import Snapshots, assert_same_weights, regression_loader, snapshot

import gradflow as gf
from gradflow import nn, optim
from gradflow.train import Callback, EarlyStopping, ModelCheckpoint, fit
from gradflow.train.checkpoint import find_checkpoint, load_checkpoint


class Crash(Exception):
    pass


class CrashAt(Callback):
    """Simulates a crash (power cut, preemption) in the middle of a step."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_step_end(self, trainer, step, loss):
        if step == self.step:
            raise Crash(f"crash at step {step}")


def _files(directory) -> list[str]:
    return sorted(f for f in os.listdir(directory) if not f.startswith("."))


def _run(s, epochs, callbacks, resume=None):
    return fit(s.model, s.loss_fn, s.optimizer, s.train, s.val, epochs=epochs,
               scheduler=s.scheduler, callbacks=callbacks, resume=resume, progress=False)


def test_checkpoint_contents(tmp_path, build):
    s = build()
    es = EarlyStopping(patience=50)
    ckpt = ModelCheckpoint(tmp_path, keep_last=None)
    history = _run(s, 2, [ckpt, es])  # listed first, ModelCheckpoint still runs last
    assert _files(tmp_path) == ["ckpt-epoch0001.gf", "ckpt-epoch0002.gf", "last.gf"]
    assert ckpt.last_path == str(tmp_path / "ckpt-epoch0002.gf")
    state = gf.load(tmp_path / "ckpt-epoch0001.gf")
    assert state["epoch"] == 1 and state["step"] == len(s.train)
    assert set(state) >= {"model", "optimizer", "scheduler", "rng", "loader", "val_loader",
                          "history", "callbacks"}
    assert state["loader"]["epoch"] == 1 and state["loader"]["seed"] == s.train.seed
    assert state["scheduler"]["last_epoch"] == 1 and state["scheduler_type"] == "StepLR"
    assert len(state["optimizer"]["state"]) == 4  # momentum buffers
    assert state["history"]["records"][0]["loss"] == history["loss"][0]
    assert state["rng"]["cpu"]["bit_generator"] == "PCG64"
    saved_es = state["callbacks"]["EarlyStopping"]
    assert saved_es["best_epoch"] == 1 and saved_es["best"] == history["val_loss"][0]
    assert set(saved_es["best_weights"]) == set(s.model.state_dict())
    last = gf.load(tmp_path / "last.gf")
    assert last["epoch"] == 2
    assert_same_weights({k: v.numpy() for k, v in last["model"].items()}, snapshot(s.model))


def test_rotation_keeps_the_last_k(tmp_path, build):
    s = build(sched=None)
    _run(s, 5, [ModelCheckpoint(tmp_path, keep_last=2)])
    assert _files(tmp_path) == ["ckpt-epoch0004.gf", "ckpt-epoch0005.gf", "last.gf"]
    every = tmp_path / "every"
    s = build(sched=None)
    _run(s, 5, [ModelCheckpoint(every, every=2, keep_last=3)])
    assert _files(every) == ["ckpt-epoch0002.gf", "ckpt-epoch0004.gf", "last.gf"]
    assert find_checkpoint(every) == str(every / "last.gf")
    os.unlink(every / "last.gf")
    assert find_checkpoint(every) == str(every / "ckpt-epoch0004.gf")


def _lr_stopper() -> EarlyStopping:
    return EarlyStopping("lr", patience=50, mode="max", restore_best=False)


@pytest.mark.parametrize("how, opt, sched", [("stop", "sgd", "step"),
                                             ("crash", "adam", "cosine"),
                                             ("crash", "sgd", "plateau")])
def test_resume_is_bit_identical(tmp_path, build, how, opt, sched):
    """6 epochs straight == 3 epochs (stopped, or crashed in epoch 4) + resume, with shuffling
    (seed drawn from the generator), dropout, a scheduler and EarlyStopping's state."""
    gf.manual_seed(1)
    a = build(opt=opt, sched=sched)
    es_a, snaps_a = EarlyStopping(patience=50), Snapshots()
    lr_a = _lr_stopper()  # a second EarlyStopping, whose best epoch is 1
    full = _run(a, 6, [es_a, lr_a, snaps_a, ModelCheckpoint(tmp_path / "a")])

    gf.manual_seed(1)
    b = build(opt=opt, sched=sched)
    ckpt_b = ModelCheckpoint(tmp_path / "b")
    if how == "stop":
        _run(b, 3, [EarlyStopping(patience=50), ckpt_b, _lr_stopper()])
    else:
        with pytest.raises(Crash):
            _run(b, 6, [EarlyStopping(patience=50), ckpt_b, _lr_stopper(),
                        CrashAt(3 * len(b.train) + 5)])
    assert ckpt_b.last_path.endswith("ckpt-epoch0003.gf")

    gf.manual_seed(999)  # fresh objects and another random state: all must come from the file
    c = build(opt=opt, sched=sched)
    assert c.train.seed != a.train.seed
    es_c, snaps_c, lr_c = EarlyStopping(patience=50), Snapshots(), _lr_stopper()
    resumed = _run(c, 6, [es_c, lr_c, snaps_c, ModelCheckpoint(tmp_path / "b")],
                   resume=tmp_path / "b")

    assert len(resumed) == 6 and resumed.steps == full.steps
    for key in ("epoch", "loss", "accuracy", "val_loss", "val_accuracy", "lr", "steps"):
        assert resumed[key] == full[key], key
    for epoch in (4, 5, 6):
        assert_same_weights(snaps_c.weights[epoch], snaps_a.weights[epoch])
    assert_same_weights(snapshot(c.model), snapshot(a.model))  # both restored the best epoch
    assert (es_c.best, es_c.best_epoch, es_c.wait) == (es_a.best, es_a.best_epoch, es_a.wait)
    assert_same_weights({k: v.numpy() for k, v in es_c.best_weights.items()},
                        {k: v.numpy() for k, v in es_a.best_weights.items()})
    assert lr_c.best_epoch == lr_a.best_epoch == 1 and lr_c.wait == lr_a.wait == 5
    sa, sc = a.optimizer.state_dict()["state"], c.optimizer.state_dict()["state"]
    for i in sa:
        for k, v in sa[i].items():
            same = np.array_equal(v.numpy(), sc[i][k].numpy()) if isinstance(v, gf.Tensor) \
                else v == sc[i][k]
            assert same, (i, k)
    assert c.scheduler.state_dict() == a.scheduler.state_dict()
    assert _files(tmp_path / "b") == ["ckpt-epoch0004.gf", "ckpt-epoch0005.gf",
                                      "ckpt-epoch0006.gf", "last.gf"]


def test_resume_past_the_end_runs_nothing(tmp_path):
    model = nn.Linear(4, 1)
    opt = optim.SGD(model.parameters(), lr=0.01)
    fit(model, nn.MSELoss(), opt, regression_loader(), epochs=2, metrics=(),
        callbacks=[ModelCheckpoint(tmp_path)], progress=False)
    before = snapshot(model)
    history = fit(model, nn.MSELoss(), opt, regression_loader(), epochs=2, metrics=(),
                  resume=tmp_path, progress=False)
    assert len(history) == 2 and history.stop_reason == "epochs"
    assert_same_weights(snapshot(model), before)


def test_resume_errors(tmp_path, build):
    s = build(sched="step")
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        _run(s, 2, [], resume=tmp_path / "missing.gf")
    with pytest.raises(FileNotFoundError, match="holds no checkpoint"):
        _run(s, 2, [], resume=tmp_path)
    gf.save(s.model.state_dict(), tmp_path / "weights.gf")
    with pytest.raises(ValueError, match="not a training checkpoint"):
        load_checkpoint(tmp_path / "weights.gf")
    _run(s, 1, [ModelCheckpoint(tmp_path / "ck")])
    other = build(sched=None)
    with pytest.raises(ValueError, match="scheduler StepLR.*given None"):
        _run(other, 2, [], resume=tmp_path / "ck")


def test_checkpoint_errors(tmp_path):
    for kwargs in ({"every": 0}, {"keep_last": 0}, {"every": 1.5}, {"keep_last": True}):
        with pytest.raises(ValueError, match="positive int"):
            ModelCheckpoint(tmp_path, **kwargs)
    (tmp_path / "file").write_text("x")
    model = nn.Linear(4, 1)
    with pytest.raises(NotADirectoryError, match="not a directory"):
        fit(model, nn.MSELoss(), optim.SGD(model.parameters(), lr=0.01), regression_loader(),
            epochs=1, metrics=(), callbacks=[ModelCheckpoint(tmp_path / "file")],
            progress=False)
