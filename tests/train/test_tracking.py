"""WandbLogger (offline) and DVCLiveLogger: runs written and read back; a missing package."""

from __future__ import annotations

import glob
import json
import struct
import sys

import pytest

from gradflow.train import DVCLiveLogger, WandbLogger, fit
from gradflow.train.recipe import OptionError, loggers_of


def _train(s, callbacks, epochs=3):
    return fit(s.model, s.loss_fn, s.optimizer, s.train, s.val, epochs=epochs,
               callbacks=callbacks, progress=False)


def _wandb_records(path: str) -> list:
    """The protobuf records of a ``.wandb`` file (W&B's LevelDB-style log: 32 KiB blocks,
    7-byte record headers, FULL/FIRST/MIDDLE/LAST fragments)."""
    from wandb.proto import wandb_internal_pb2 as pb

    with open(path, "rb") as f:
        data = f.read()
    assert data[:4] == b":W&B"
    block, pos, out, buf = 32768, 7, [], b""
    while pos + 7 <= len(data):
        left = block - pos % block
        if left < 7:
            pos += left
            continue
        _, length, kind = struct.unpack("<IHB", data[pos:pos + 7])
        if length == 0 and kind == 0:
            pos += left
            continue
        chunk, pos = data[pos + 7:pos + 7 + length], pos + 7 + length
        if kind == 1:
            out.append(chunk)
        elif kind == 2:
            buf = chunk
        elif kind == 3:
            buf += chunk
        elif kind == 4:
            out.append(buf + chunk)
    records = []
    for raw in out:
        r = pb.Record()
        r.ParseFromString(raw)
        records.append(r)
    return records


def test_wandb_offline_run_written_and_read_back(tmp_path, build, monkeypatch):
    pytest.importorskip("wandb")
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.delenv("WANDB_MODE", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.netrc: no account configured
    monkeypatch.setenv("WANDB_SILENT", "true")
    s = build(sched=None)
    logger = WandbLogger(tmp_path / "run", name="r1", config={"note": "test"})
    history = _train(s, [logger])
    assert logger.mode == "offline" and logger.run is None
    import wandb

    wandb.teardown()  # the service writes the run file asynchronously: let it finish
    files = glob.glob(str(tmp_path / "run" / "wandb" / "offline-run-*" / "run-*.wandb"))
    assert len(files) == 1
    config, losses, summary = {}, {}, {}
    for r in _wandb_records(files[0]):
        kind = r.WhichOneof("record_type")
        if kind in ("run", "config"):
            updates = r.run.config.update if kind == "run" else r.config.update
            config.update({u.key: json.loads(u.value_json) for u in updates})
        elif kind == "history":
            items = {i.key or "/".join(i.nested_key): json.loads(i.value_json)
                     for i in r.history.item}
            losses[r.history.step.num] = items["loss"]
        elif kind == "summary":
            summary.update({u.key or "/".join(u.nested_key): json.loads(u.value_json)
                            for u in r.summary.update})
    assert config["note"] == "test"
    assert config["optimizer"] == "SGD" and config["epochs"] == 3
    assert [losses[e] for e in (1, 2, 3)] == history["loss"]
    assert summary["stop_reason"] == "epochs"


def test_dvclive_run_written_and_read_back(tmp_path, build, monkeypatch):
    pytest.importorskip("dvclive")
    monkeypatch.chdir(tmp_path)  # outside any Git repository: DVCLive would `dvc init` it
    yaml = pytest.importorskip("yaml")
    s = build(sched=None)
    history = _train(s, [DVCLiveLogger(tmp_path / "dvclive", params={"batch": 32})])
    d = tmp_path / "dvclive"
    params = yaml.safe_load((d / "params.yaml").read_text())
    assert params["batch"] == 32 and params["optimizer"] == "SGD"
    metrics = json.loads((d / "metrics.json").read_text())
    assert metrics["loss"] == history["loss"][-1]
    assert metrics["val_accuracy"] == history["val_accuracy"][-1]
    rows = (d / "plots" / "metrics" / "loss.tsv").read_text().split()
    assert rows[:2] == ["step", "loss"]
    assert [float(v) for v in rows[3::2]] == history["loss"]
    assert [int(v) for v in rows[2::2]] == [1, 2, 3]  # step = epoch
    assert yaml.safe_load((tmp_path / "dvc.yaml").read_text())["metrics"] == [
        "dvclive/metrics.json"]


def test_missing_package_names_the_extra(monkeypatch, build):
    s = build(sched=None)
    for logger, module, extra in ((WandbLogger("w"), "wandb", "wandb"),
                                  (DVCLiveLogger("d"), "dvclive", "dvc")):
        monkeypatch.setitem(sys.modules, module, None)  # import fails
        with pytest.raises(ImportError, match=rf"pip install gradflow\[{extra}\]"):
            _train(s, [logger], epochs=1)


def test_logger_option_and_aliases():
    assert loggers_of({"logger": "wandb,dvclive"}) == ["csv", "wandb", "dvclive"]
    assert loggers_of({"logger": None, "tensorboard": True, "mlflow": True}) == [
        "csv", "tensorboard", "mlflow"]
    assert loggers_of({"logger": "csv,mlflow", "mlflow": True}) == ["csv", "mlflow"]
    with pytest.raises(OptionError, match="neptune"):
        loggers_of({"logger": "neptune"})
    with pytest.raises(TypeError, match="config must be a dict"):
        WandbLogger(config=[1])
