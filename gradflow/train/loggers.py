"""Logging callbacks: ``CSVLogger``, ``TensorBoardLogger`` (tensorboardX), ``MLflowLogger``,
``WandbLogger`` (Weights & Biases) and ``DVCLiveLogger`` (DVC).

tensorboardX and mlflow (``pip install gradflow[logging]``), wandb (``gradflow[wandb]``) and
dvclive (``gradflow[dvc]``) are optional and imported only when training begins.
"""

from __future__ import annotations

import csv
import os
import time
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from gradflow.train._optional import require
from gradflow.train.callbacks import Callback

if TYPE_CHECKING:
    from gradflow.train.trainer import Trainer

__all__ = ["CSVLogger", "TensorBoardLogger", "MLflowLogger", "WandbLogger", "DVCLiveLogger",
           "scalars"]


def scalars(logs: dict[str, Any]) -> dict[str, float]:
    """The numeric entries of an epoch's logs (not ``epoch`` itself) as floats."""
    return {k: float(v) for k, v in logs.items()
            if k != "epoch" and isinstance(v, int | float) and not isinstance(v, bool)}


def _make_parent(path: str) -> None:
    parent = os.path.dirname(path)
    if parent:
        os.makedirs(parent, exist_ok=True)


class CSVLogger(Callback):
    """Write one row per epoch to ``path`` (header: the first record's keys), flushed each epoch.

    The file is rewritten when training begins; a resumed run first writes the records it
    restored, so the file always matches ``history``.
    """

    rank_zero_only = True

    def __init__(self, path: str | os.PathLike):
        self.path = os.fspath(path)
        self._file: IO[str] | None = None
        self._writer: csv.DictWriter | None = None

    def on_train_begin(self, trainer: Trainer) -> None:
        _make_parent(self.path)
        self._file = open(self.path, "w", newline="")  # noqa: SIM115 - closed on train end
        self._writer = None
        for record in trainer.history.records:
            self._write(record)

    def on_epoch_end(self, trainer: Trainer, epoch: int, logs: dict[str, Any]) -> None:
        self._write(logs)

    def _write(self, record: dict[str, Any]) -> None:
        if self._file is None:
            return
        if self._writer is None:
            self._writer = csv.DictWriter(self._file, fieldnames=list(record), restval="",
                                          extrasaction="ignore")
            self._writer.writeheader()
        self._writer.writerow(record)
        self._file.flush()

    def on_train_end(self, trainer: Trainer) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def __repr__(self) -> str:
        return f"CSVLogger({self.path!r})"


class TensorBoardLogger(Callback):
    """Write every numeric metric of each epoch as a TensorBoard scalar (tag = the metric's name,
    step = the epoch) with tensorboardX's ``SummaryWriter(logdir)``."""

    rank_zero_only = True

    def __init__(self, logdir: str | os.PathLike = "runs"):
        self.logdir = os.fspath(logdir)
        self.writer: Any = None

    def on_train_begin(self, trainer: Trainer) -> None:
        tbx = require("tensorboardX", "TensorBoardLogger")
        self.writer = tbx.SummaryWriter(self.logdir)

    def on_epoch_end(self, trainer: Trainer, epoch: int, logs: dict[str, Any]) -> None:
        if self.writer is None:
            return
        for key, value in scalars(logs).items():
            self.writer.add_scalar(key, value, epoch)
        self.writer.flush()

    def on_train_end(self, trainer: Trainer) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None

    def __repr__(self) -> str:
        return f"TensorBoardLogger({self.logdir!r})"


class MLflowLogger(Callback):
    """Log a run to MLflow: parameters at the start, every numeric metric per epoch
    (``step`` = epoch), the run ended (FINISHED, or FAILED/KILLED) when training ends.

    Args:
        tracking_uri: the tracking store. ``None`` uses ``sqlite:///<logdir>/mlflow.db`` (MLflow
            3 no longer accepts the old ``./mlruns`` file store), with artifacts under
            ``<logdir>/mlartifacts``.
        experiment: experiment name (created if missing).
        run_name: the run's name (MLflow picks one if ``None``).
        params: extra parameters; they override the training configuration that is logged
            (``epochs``, optimizer and its hyperparameters, ``batch_size``, ``l2``, clipping, ...).
        logdir: where the default store lives.

    Attributes:
        run_id: the run's id once training has begun; ``tracking_uri``: the store in use.
    """

    rank_zero_only = True

    def __init__(self, tracking_uri: str | None = None, experiment: str = "gradflow",
                 run_name: str | None = None, params: dict[str, Any] | None = None,
                 logdir: str | os.PathLike = "runs"):
        if params is not None and not isinstance(params, dict):
            raise TypeError(f"MLflowLogger: params must be a dict, got {type(params).__name__}")
        self.tracking_uri = tracking_uri
        self.experiment, self.run_name = experiment, run_name
        self.params = dict(params or {})
        self.logdir = os.path.abspath(os.fspath(logdir))
        self.run_id: str | None = None
        self._client: Any = None

    def on_train_begin(self, trainer: Trainer) -> None:
        require("mlflow", "MLflowLogger")
        from mlflow.entities import Param
        from mlflow.tracking import MlflowClient

        artifacts = None
        if self.tracking_uri is None:
            os.makedirs(self.logdir, exist_ok=True)
            self.tracking_uri = f"sqlite:///{os.path.join(self.logdir, 'mlflow.db')}"
            artifacts = Path(self.logdir, "mlartifacts").as_uri()
        client = MlflowClient(tracking_uri=self.tracking_uri)
        exp = client.get_experiment_by_name(self.experiment)
        exp_id = exp.experiment_id if exp is not None else client.create_experiment(
            self.experiment, artifact_location=artifacts)
        self.run_id = client.create_run(exp_id, run_name=self.run_name).info.run_id
        self._client = client
        params = {**trainer.config, **self.params}
        client.log_batch(self.run_id, params=[Param(str(k), str(v)[:6000])
                                              for k, v in params.items()])

    def on_epoch_end(self, trainer: Trainer, epoch: int, logs: dict[str, Any]) -> None:
        if self._client is None:
            return
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        metrics = [Metric(k, v, now, epoch) for k, v in scalars(logs).items()]
        self._client.log_batch(self.run_id, metrics=metrics)

    def on_train_end(self, trainer: Trainer) -> None:
        if self._client is None:
            return
        error = getattr(trainer, "error", None)
        status = "FINISHED" if error is None else \
            "KILLED" if isinstance(error, KeyboardInterrupt) else "FAILED"
        reason = trainer.history.stop_reason
        if reason is not None:
            self._client.set_tag(self.run_id, "stop_reason", reason)
        self._client.set_terminated(self.run_id, status=status)
        self._client = None

    def __repr__(self) -> str:
        return (f"MLflowLogger(tracking_uri={self.tracking_uri!r}, "
                f"experiment={self.experiment!r}, run_name={self.run_name!r})")


def _wandb_account() -> bool:
    """Whether the user configured a W&B account (``WANDB_API_KEY`` or ``wandb login``)."""
    if os.environ.get("WANDB_API_KEY"):
        return True
    import netrc

    try:
        return netrc.netrc().authenticators("api.wandb.ai") is not None
    except (OSError, netrc.NetrcParseError):
        return False


class WandbLogger(Callback):
    """Log a run to Weights & Biases: the training configuration (plus ``config``) at the
    start, every numeric metric of each epoch (``step`` = the epoch), the stop reason in the
    summary, the run finished (exit code 1 on an error) when training ends.

    The run's files go under ``dir/wandb``. ``mode=None`` is ``"online"`` when the user has an
    account configured (``WANDB_API_KEY`` or ``wandb login``) and ``WANDB_MODE`` does not say
    otherwise, else ``"offline"`` (nothing leaves the machine; ``wandb sync dir/wandb/offline-*``
    uploads it later).

    Attributes:
        run: the ``wandb`` run once training has begun; ``mode``: the mode used.
    """

    rank_zero_only = True

    def __init__(self, dir: str | os.PathLike = "runs",  # noqa: A002 - wandb's name
                 project: str = "gradflow", name: str | None = None,
                 config: dict[str, Any] | None = None, mode: str | None = None,
                 **init_kwargs: Any):
        if config is not None and not isinstance(config, dict):
            raise TypeError(f"WandbLogger: config must be a dict, got {type(config).__name__}")
        if mode not in (None, "online", "offline", "disabled"):
            raise ValueError(f"WandbLogger: mode must be None, 'online', 'offline' or "
                             f"'disabled', got {mode!r}")
        self.dir = os.path.abspath(os.fspath(dir))
        self.project, self.name, self.config = project, name, dict(config or {})
        self.mode, self.init_kwargs = mode, init_kwargs
        self.run: Any = None

    def on_train_begin(self, trainer: Trainer) -> None:
        wandb = require("wandb", "WandbLogger", extra="wandb")
        mode = self.mode or os.environ.get("WANDB_MODE") or (
            "online" if _wandb_account() else "offline")
        self.mode = mode
        os.makedirs(self.dir, exist_ok=True)
        self.run = wandb.init(project=self.project, name=self.name, dir=self.dir, mode=mode,
                              config={**trainer.config, **self.config}, reinit="create_new",
                              **self.init_kwargs)
        for record in trainer.history.records:  # a resumed run: the restored epochs first
            self.run.log(scalars(record), step=int(record["epoch"]))

    def on_epoch_end(self, trainer: Trainer, epoch: int, logs: dict[str, Any]) -> None:
        if self.run is not None:
            self.run.log(scalars(logs), step=epoch)

    def on_train_end(self, trainer: Trainer) -> None:
        if self.run is None:
            return
        if trainer.history.stop_reason is not None:
            self.run.summary["stop_reason"] = trainer.history.stop_reason
        self.run.finish(exit_code=0 if trainer.error is None else 1)
        self.run = None

    def __repr__(self) -> str:
        return f"WandbLogger({self.dir!r}, project={self.project!r}, name={self.name!r})"


class DVCLiveLogger(Callback):
    """Log a run with DVCLive in DVC's format under ``dir``: ``params.yaml`` (the training
    configuration plus ``params``), ``metrics.json`` (the last epoch's metrics),
    ``plots/metrics/<name>.tsv`` (one row per epoch) and, beside ``dir``, ``dvc.yaml``, so
    ``dvc exp show``, ``dvc metrics show`` and ``dvc plots show`` read a gradflow run. A resumed
    run rewrites the restored epochs first, so the files match the history.

    Note: run inside a Git repository that is not a DVC one, DVCLive makes it one (``dvc
    init``: ``.dvc/``, ``.dvcignore``, staged in Git), as ``dvc exp`` needs; run elsewhere, it
    only writes ``dir``. ``live_kwargs`` go to ``dvclive.Live`` (default ``save_dvc_exp=False``).
    """

    rank_zero_only = True

    def __init__(self, dir: str | os.PathLike = "dvclive",  # noqa: A002 - DVCLive's name
                 params: dict[str, Any] | None = None, **live_kwargs: Any):
        if params is not None and not isinstance(params, dict):
            raise TypeError(f"DVCLiveLogger: params must be a dict, got {type(params).__name__}")
        self.dir = os.fspath(dir)
        self.params = dict(params or {})
        self.live_kwargs = live_kwargs
        self.live: Any = None

    def on_train_begin(self, trainer: Trainer) -> None:
        dvclive = require("dvclive", "DVCLiveLogger", extra="dvc")
        # dvc.yaml beside dir (DVCLive repeats its entries when it lies inside dir)
        dvcyaml = os.path.join(os.path.dirname(os.path.abspath(self.dir)), "dvc.yaml")
        kwargs = {"save_dvc_exp": False, "dvcyaml": dvcyaml, "report": None,
                  **self.live_kwargs}
        self.live = dvclive.Live(self.dir, **kwargs)
        params = {k: v if type(v) in (int, float, str, bool) or v is None else str(v)
                  for k, v in {**trainer.config, **self.params}.items()}
        self.live.log_params(params)
        for record in trainer.history.records:
            self._log(record)

    def _log(self, logs: dict[str, Any]) -> None:
        self.live.step = int(logs["epoch"])
        for key, value in scalars(logs).items():
            self.live.log_metric(key, value)
        self.live.next_step()

    def on_epoch_end(self, trainer: Trainer, epoch: int, logs: dict[str, Any]) -> None:
        if self.live is not None:
            self._log(logs)

    def on_train_end(self, trainer: Trainer) -> None:
        if self.live is not None:
            self.live.end()
            self.live = None

    def __repr__(self) -> str:
        return f"DVCLiveLogger({self.dir!r})"
