"""``ProgressBar``: a tqdm bar per epoch with the loss and throughput in its postfix."""

from __future__ import annotations

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
    """One tqdm bar per epoch, advanced each step (no host sync: the loss is shown at the end
    of the epoch, with ``samples/s``).

    Args:
        file: where to draw (tqdm's default: stderr).
        disable: ``None`` (default) hides the bar when ``file`` is not a terminal.
        leave: keep each finished epoch's bar on screen.

    Needs ``tqdm`` (``pip install gradflow[logging]``); ``fit(progress=True)`` adds one when tqdm
    is installed.
    """

    def __init__(self, file: IO[str] | None = None, disable: bool | None = None,
                 leave: bool = True):
        self.file, self.disable, self.leave = file, disable, leave
        self._tqdm: Any = None
        self._bar: Any = None

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

    def on_step_end(self, trainer: Trainer, step: int, loss: Tensor) -> None:
        if self._bar is not None:
            self._bar.update(1)

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
