"""``Callback`` (the hooks :func:`~gradflow.train.fit` calls) and ``EarlyStopping``."""

from __future__ import annotations

import math
import numbers
from typing import TYPE_CHECKING, Any

from gradflow.autograd import no_grad

if TYPE_CHECKING:
    from gradflow.tensor import Tensor
    from gradflow.train.trainer import Trainer

__all__ = ["Callback", "EarlyStopping"]


class Callback:
    """Base class of training callbacks; override the hooks you need.

    ``trainer`` exposes ``model``, ``optimizer``, ``scheduler``, ``history``, ``epoch`` (the
    current epoch, counted from 1), ``step`` (optimizer steps done so far, across resumes) and
    ``stop_training`` (set it to True to stop after the current epoch). Epoch hooks get the epoch
    number (from 1) and ``logs``, the epoch's record (filled in by ``on_epoch_end``; add keys to
    it to have them recorded). ``on_step_end`` runs after each ``optimizer.step()`` with the
    step's detached loss Tensor: reading it (``float(loss)``) costs a host-device sync per step.

    ``every``: ``None`` (every hook, every time), or ``(N, "step")`` (``on_step_end`` only
    after every N-th global step) or ``N``/``(N, "epoch")`` (``on_epoch_end`` only at every
    N-th epoch); the counts are global, so a resumed run fires at the same steps.
    ``on_validation_end`` runs after each validation (per ``fit(val_every=...)``).

    Under ``mpiexec`` every rank runs the callbacks except those with ``rank_zero_only``
    (they run on rank 0 only); the logs they see are the same on every rank (global means).

    A callback with state to checkpoint (``ModelCheckpoint`` saves it, ``fit(resume=...)``
    restores it after ``on_train_begin``) overrides ``state_dict``/``load_state_dict``.
    """

    _order = 0  # callbacks run in (order, position) order; ModelCheckpoint runs last
    #: On several ranks, run only on rank 0 (writers: progress bars, tables, loggers, plots).
    #: Such a callback must not change training (its state is not seen by the other ranks).
    rank_zero_only = False
    every: Any = None  # a Trigger spec: N, (N, "step") or (N, "epoch")

    def on_train_begin(self, trainer: Trainer) -> None:
        """Before the first epoch (after a resumed run's state is loaded)."""

    def on_train_end(self, trainer: Trainer) -> None:
        """After the last epoch, also when training stops early or raises."""

    def on_epoch_begin(self, trainer: Trainer, epoch: int, logs: dict[str, Any]) -> None:
        """Before the epoch's first step."""

    def on_epoch_end(self, trainer: Trainer, epoch: int, logs: dict[str, Any]) -> None:
        """After the epoch's validation and scheduler step; ``logs`` holds its metrics."""

    def on_step_end(self, trainer: Trainer, step: int, loss: Tensor) -> None:
        """After each optimizer step (``step`` counts from 1 across epochs)."""

    def on_validation_end(self, trainer: Trainer, logs: dict[str, Any]) -> None:
        """After each validation: ``logs`` holds ``epoch``, ``step`` and the ``val_*`` metrics."""

    def state_dict(self) -> dict[str, Any]:
        """What a checkpoint must hold to resume this callback (``{}``: nothing)."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned."""


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved for ``patience`` epochs (seed lecture 004).

    Improvement is ``value < best - min_delta`` (``mode="min"``) or ``value > best + min_delta``
    (``"max"``); a NaN never improves. With ``restore_best``, the weights (parameters and
    buffers) of the best epoch are copied back into the model whenever training ends, whatever
    stopped it.

    Attributes:
        best: the best value seen; ``best_epoch``: its epoch (``None`` before any);
        wait: epochs since the last improvement; ``stopped_epoch``: the epoch that triggered
        the stop (``None`` if it did not).
    """

    def __init__(self, monitor: str = "val_loss", patience: int = 5, min_delta: float = 0.0,
                 mode: str = "min", restore_best: bool = True):
        if not isinstance(monitor, str):
            raise TypeError(f"EarlyStopping: monitor must be a metric name such as 'val_loss', "
                            f"got {type(monitor).__name__}")
        if isinstance(patience, bool) or not isinstance(patience, numbers.Integral) \
                or patience < 0:
            raise ValueError(f"EarlyStopping: patience must be an int >= 0, got {patience!r}")
        if isinstance(min_delta, bool) or not isinstance(min_delta, numbers.Real) \
                or not min_delta >= 0:
            raise ValueError(f"EarlyStopping: min_delta must be a number >= 0, got {min_delta!r}")
        if mode not in ("min", "max"):
            raise ValueError(f"EarlyStopping: mode must be 'min' or 'max', got {mode!r}")
        self.monitor, self.patience, self.min_delta = monitor, int(patience), float(min_delta)
        self.mode, self.restore_best = mode, bool(restore_best)
        self._reset()

    def _reset(self) -> None:
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_epoch: int | None = None
        self.wait = 0
        self.stopped_epoch: int | None = None
        self.best_weights: dict[str, Tensor] | None = None

    def _improved(self, value: float) -> bool:
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def on_train_begin(self, trainer: Trainer) -> None:
        self._reset()

    def on_epoch_end(self, trainer: Trainer, epoch: int, logs: dict[str, Any]) -> None:
        if self.monitor not in logs:
            hint = " (pass val_loader to fit for val_* metrics)" \
                if self.monitor.startswith("val_") else ""
            raise ValueError(f"EarlyStopping: monitor {self.monitor!r} is not among this epoch's "
                             f"metrics {sorted(logs)}{hint}")
        value = float(logs[self.monitor])
        if self._improved(value):
            self.best, self.best_epoch, self.wait = value, epoch, 0
            if self.restore_best:
                with no_grad():
                    self.best_weights = {k: v.clone()
                                         for k, v in trainer.model.state_dict().items()}
            return
        self.wait += 1
        if self.wait >= self.patience:
            self.stopped_epoch = epoch
            trainer.stop_training = True
            trainer.stop_reason = "early_stopping"

    def on_train_end(self, trainer: Trainer) -> None:
        if self.restore_best and self.best_weights is not None:
            trainer.model.load_state_dict(self.best_weights)

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "best_epoch": self.best_epoch, "wait": self.wait,
                "stopped_epoch": self.stopped_epoch, "best_weights": self.best_weights}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best, self.best_epoch = float(state["best"]), state["best_epoch"]
        self.wait, self.stopped_epoch = int(state["wait"]), state["stopped_epoch"]
        self.best_weights = state["best_weights"]

    def __repr__(self) -> str:
        return (f"EarlyStopping(monitor={self.monitor!r}, patience={self.patience}, "
                f"min_delta={self.min_delta}, mode={self.mode!r}, "
                f"restore_best={self.restore_best})")
