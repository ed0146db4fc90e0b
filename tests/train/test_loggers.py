"""CSVLogger, TensorBoardLogger, MLflowLogger and ProgressBar, read back."""

from __future__ import annotations

import csv
import io
import struct
import sys

import pytest
from train_helpers import regression_loader

from gradflow import nn, optim
from gradflow.train import (
    Callback,
    CSVLogger,
    MLflowLogger,
    ModelCheckpoint,
    ProgressBar,
    TensorBoardLogger,
    fit,
)


def _fit(build, epochs=3, callbacks=(), **kwargs):
    s = build(sched="step")
    return fit(s.model, s.loss_fn, s.optimizer, s.train, s.val, epochs=epochs,
               scheduler=s.scheduler, callbacks=list(callbacks), progress=False, **kwargs), s


def test_csv_logger_writes_one_row_per_epoch(tmp_path, build):
    path = tmp_path / "logs" / "train.csv"
    history, _ = _fit(build, callbacks=[CSVLogger(path)])
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == list(history.records[0])  # header: the record's keys
    assert len(rows) == 3
    for row, record in zip(rows, history.records):
        assert int(row["epoch"]) == record["epoch"]
        for key in ("loss", "accuracy", "val_loss", "val_accuracy", "lr"):
            assert float(row[key]) == record[key]  # written at full precision
    history.to_csv(tmp_path / "h.csv")
    assert (tmp_path / "h.csv").read_text() == path.read_text()


def test_csv_logger_after_resume_matches_the_history(tmp_path, build):
    path = tmp_path / "train.csv"
    _fit(build, epochs=2, callbacks=[CSVLogger(path), ModelCheckpoint(tmp_path / "ck")])
    history, _ = _fit(build, epochs=4, callbacks=[CSVLogger(path)], resume=tmp_path / "ck")
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    assert [float(r["loss"]) for r in rows] == history["loss"] and len(rows) == 4


def _read_tensorboard_scalars(logdir) -> dict[str, list[tuple[int, float]]]:
    """Parse the TFRecord event files (u64 length, u32 crc, Event proto, u32 crc)."""
    from tensorboardX.proto import event_pb2

    scalars: dict[str, list[tuple[int, float]]] = {}
    files = sorted(logdir.glob("events.out.tfevents.*"))
    assert files, f"no event file in {logdir}"
    for file in files:
        data, pos = file.read_bytes(), 0
        while pos < len(data):
            (length,) = struct.unpack("<Q", data[pos:pos + 8])
            event = event_pb2.Event.FromString(data[pos + 12:pos + 12 + length])
            pos += 12 + length + 4
            for value in event.summary.value:
                scalars.setdefault(value.tag, []).append((event.step, value.simple_value))
    return scalars


def test_tensorboard_logger_scalars_read_back(tmp_path, build):
    pytest.importorskip("tensorboardX")
    history, _ = _fit(build, callbacks=[TensorBoardLogger(tmp_path / "tb")])
    scalars = _read_tensorboard_scalars(tmp_path / "tb")
    assert {"loss", "accuracy", "val_loss", "val_accuracy", "lr", "epoch_time",
            "samples_per_s", "steps"} <= set(scalars)
    assert "epoch" not in scalars
    for key in ("loss", "val_loss", "val_accuracy", "lr"):
        assert [step for step, _ in scalars[key]] == [1, 2, 3]
        assert [v for _, v in scalars[key]] == pytest.approx(history[key], rel=1e-6)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # SQLAlchemy, inside MLflow
def test_mlflow_logger_run_reads_back(tmp_path, build):
    pytest.importorskip("mlflow")
    from mlflow.tracking import MlflowClient

    logger = MLflowLogger(experiment="gradflow-test", run_name="digits",
                          params={"note": "tiny", "lr": "overridden"}, logdir=tmp_path / "runs")
    history, s = _fit(build, callbacks=[logger])
    assert logger.tracking_uri == f"sqlite:///{tmp_path / 'runs' / 'mlflow.db'}"
    client = MlflowClient(logger.tracking_uri)
    run = client.get_run(logger.run_id)
    assert run.info.status == "FINISHED" and run.info.run_name == "digits"
    params = run.data.params
    assert params["note"] == "tiny" and params["lr"] == "overridden"
    assert params["optimizer"] == "SGD" and params["epochs"] == "3"
    assert params["momentum"] == "0.9" and params["batch_size"] == "32"
    assert params["scheduler"] == "StepLR"
    assert run.data.tags["stop_reason"] == "epochs"
    for key in ("loss", "val_loss", "val_accuracy", "lr"):
        metrics = sorted(client.get_metric_history(logger.run_id, key), key=lambda m: m.step)
        assert [m.step for m in metrics] == [1, 2, 3]
        assert [m.value for m in metrics] == history[key]
    exp = client.get_experiment_by_name("gradflow-test")
    assert exp.artifact_location.startswith("file://")
    assert (tmp_path / "runs").is_dir() and not (tmp_path / "mlruns").exists()


def test_loggers_name_the_extra_when_a_package_is_missing(monkeypatch, tmp_path):
    model = nn.Linear(4, 1)
    opt = optim.SGD(model.parameters(), lr=0.01)
    for module, logger in (("tensorboardX", TensorBoardLogger(tmp_path)),
                           ("mlflow", MLflowLogger(logdir=tmp_path)),
                           ("tqdm", ProgressBar())):
        monkeypatch.setitem(sys.modules, module, None)  # makes `import module` fail
        with pytest.raises(ImportError, match=rf"{type(logger).__name__} needs .*{module}.*"
                                              r"pip install gradflow\[logging\]"):
            fit(model, nn.MSELoss(), opt, regression_loader(), epochs=1, metrics=(),
                callbacks=[logger], progress=False)


def test_progress_bar_shows_loss_and_throughput(build):
    out = io.StringIO()
    _fit(build, epochs=2, callbacks=[ProgressBar(file=out, disable=False)])
    text = out.getvalue()
    assert "epoch 1/2" in text and "epoch 2/2" in text
    assert "loss=" in text and "val_acc=" in text and "samples/s=" in text


def test_progress_true_adds_one_bar(build):
    class Peek(Callback):
        def on_train_begin(self, trainer):
            self.bars = [cb for cb in trainer.callbacks if isinstance(cb, ProgressBar)]

    peek = Peek()
    s = build()
    fit(s.model, s.loss_fn, s.optimizer, s.train, epochs=1, callbacks=[peek], progress=True)
    assert len(peek.bars) == 1
    mine = ProgressBar(disable=True)
    fit(s.model, s.loss_fn, s.optimizer, s.train, epochs=1, callbacks=[peek, mine])
    assert peek.bars == [mine]
