"""``ProgressBar``: a tqdm bar per epoch with the loss and throughput in its postfix."""

from __future__ import annotations

import time
from typing import IO, TYPE_CHECKING, Any

from gradflow.train._optional import require
from gradflow.train.callbacks import Callback

if TYPE_CHECKING:
    from gradflow.tensor import Tensor
    from gradflow.train.trainer import Trainer

__all__ = ["ProgressBar"]

_SHOWN = (("loss", "loss"), ("accuracy", "acc"), ("val_loss", "val_loss"),
          ("val_accuracy", "val_acc"))


class ProgressBar(Callback):
    """One tqdm bar per epoch, advanced each step, showing the loss and ``samples/s``: read at
    most every ``refresh_s`` seconds during the epoch (one host sync each), and the epoch's
    mean loss and metrics at its end.

    Args:
        file: where to draw (tqdm's default: stderr).
        disable: ``None`` (default) hides the bar when ``file`` is not a terminal.
        leave: keep each finished epoch's bar on screen.

    Needs ``tqdm`` (``pip install gradflow[logging]``); ``fit(progress=True)`` adds one when tqdm
    is installed.
    """

    rank_zero_only = True

    def __init__(self, file: IO[str] | None = None, disable: bool | None = None,
                 leave: bool = True, refresh_s: float = 0.5):
        self.file, self.disable, self.leave = file, disable, leave
        self.refresh_s = float(refresh_s)
        self._tqdm: Any = None
        self._bar: Any = None
        self._start = self._shown = 0.0

    def on_train_begin(self, trainer: Trainer) -> None:
        self._tqdm = require("tqdm", "ProgressBar").tqdm

    def on_epoch_begin(self, trainer: Trainer, epoch: int, logs: dict[str, Any]) -> None:
        try:
            total = len(trainer.train_loader)
        except TypeError:
            total = None
        self._bar = self._tqdm(total=total, desc=f"epoch {epoch}/{trainer.epochs}", unit="step",
                               file=self.file, disable=self.disable, leave=self.leave,
                               dynamic_ncols=True)
        self._start = self._shown = time.perf_counter()

    def on_step_end(self, trainer: Trainer, step: int, loss: Tensor) -> None:
        if self._bar is None:
            return
        self._bar.update(1)
        now = time.perf_counter()
        if now - self._shown >= self.refresh_s and not self._bar.disable:
            self._shown = now
            epoch = getattr(trainer, "_epoch", None)
            samples = sum(epoch.meter.sizes) if epoch is not None else 0
            self._bar.set_postfix({"loss": f"{float(loss):.4g}",
                                   "samples/s": f"{samples / max(now - self._start, 1e-9):.0f}"},
                                  refresh=False)

    def on_epoch_end(self, trainer: Trainer, epoch: int, logs: dict[str, Any]) -> None:
        if self._bar is None:
            return
        postfix = {short: f"{logs[key]:.4g}" for key, short in _SHOWN if key in logs}
        postfix["samples/s"] = f"{logs.get('samples_per_s', 0.0):.0f}"
        self._bar.set_postfix(postfix, refresh=False)
        self._close()

    def on_train_end(self, trainer: Trainer) -> None:
        self._close()

    def _close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
