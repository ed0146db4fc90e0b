"""Reporting callbacks: ``EpochTable`` (one printed row per epoch) and ``CurvesPlot`` (the loss and
accuracy curves of a run as a PNG), plus :func:`plot_curves` behind it.

matplotlib is optional: it is imported only when a picture is drawn, through the Agg canvas
(the global matplotlib backend is left alone).
"""

from __future__ import annotations

import io as _pyio
import os
import sys
from collections.abc import Callable
from typing import IO, TYPE_CHECKING, Any

from gradflow.io import atomic_write
from gradflow.train.callbacks import Callback

if TYPE_CHECKING:
    from gradflow.train.history import History
    from gradflow.train.trainer import Trainer

__all__ = ["EpochTable", "CurvesPlot", "plot_curves", "format_row", "format_header"]


def _loss_cell(value: float) -> str:
    return f"{value:8.4f}" if abs(value) < 1e3 else f"{value:8.2e}"


_COLUMNS: tuple[tuple[str, str, Callable[[Any], str]], ...] = (
    ("epoch", "epoch", "{:5d}".format), ("loss", "loss", _loss_cell),
    ("accuracy", "acc", "{:6.3f}".format), ("val_loss", "val_loss", _loss_cell),
    ("val_accuracy", "val_acc", "{:7.3f}".format), ("lr", "lr", "{:8.2e}".format),
    ("epoch_time", "time", "{:5.2f}s".format))


def format_row(record: dict[str, Any]) -> str:
    """One line of the per-epoch table (blank cells for missing values)."""
    cells = []
    for key, title, fmt in _COLUMNS:
        width = max(len(title), len(fmt(1)))
        value = record.get(key)
        cells.append(fmt(value).rjust(width) if isinstance(value, int | float)
                     else " " * width)
    return "  ".join(cells)


def format_header() -> str:
    """The titles of :func:`format_row`'s columns."""
    return "  ".join(title.rjust(max(len(title), len(fmt(1)))) for _, title, fmt in _COLUMNS)


class EpochTable(Callback):
    """Print a header, then one row per epoch (epoch, loss, acc, val_loss, val_acc, lr, time) to
    ``file`` (default: stdout); a resumed run first prints the rows it restored.

    Attributes:
        new_epochs: epochs trained (not restored) by this run.
    """

    rank_zero_only = True

    def __init__(self, file: IO[str] | None = None):
        self.file = file
        self.new_epochs = 0

    def _print(self, line: str) -> None:
        print(line, file=self.file if self.file is not None else sys.stdout, flush=True)

    def on_train_begin(self, trainer: Trainer) -> None:
        self.new_epochs = 0
        self._print(format_header())
        for record in trainer.history.records:
            self._print(format_row(record))

    def on_epoch_end(self, trainer: Trainer, epoch: int, logs: dict[str, Any]) -> None:
        self.new_epochs += 1
        self._print(format_row(logs))


def plot_curves(history: History, path: str | os.PathLike, *,
                lines: dict[str, float] | None = None) -> bool:
    """Train/validation loss and accuracy per epoch, two panels, written atomically to ``path``
    as a PNG; ``lines`` adds horizontal reference lines to the accuracy panel (e.g.
    ``{"test": 0.97}``). Returns False (and writes nothing) without matplotlib."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        from matplotlib.ticker import MaxNLocator
    except ImportError:
        return False
    fig = Figure(figsize=(10, 4), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    ax_loss, ax_acc = fig.subplots(1, 2)
    epochs = history["epoch"] if len(history) else []
    for ax, key, title in ((ax_loss, "loss", "loss (cross-entropy)"),
                           (ax_acc, "accuracy", "accuracy")):
        for prefix, label in (("", "train"), ("val_", "validation")):
            if f"{prefix}{key}" in history:
                ax.plot(epochs, history[f"{prefix}{key}"], marker="o", markersize=3, label=label)
        ax.set_title(title)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    for name, value in (lines or {}).items():
        ax_acc.axhline(value, color="gray", linestyle="--", label=f"{name} {value:.3f}")
    for ax in (ax_loss, ax_acc):
        if ax.get_legend_handles_labels()[0]:
            ax.legend()
    buf = _pyio.BytesIO()
    fig.savefig(buf, format="png")
    atomic_write(path, buf.getvalue(), who="plot_curves")
    return True


class CurvesPlot(Callback):
    """Draw the run's curves (:func:`plot_curves`) to ``path`` when training ends (also on an
    error or Ctrl-C), and with ``every=N`` after every N-th epoch too.

    ``lines`` (a dict, settable later) adds reference lines to the accuracy panel; call
    :meth:`write` to redraw, e.g. after a test evaluation. ``written`` says whether the last
    drawing succeeded (False: matplotlib is not installed).
    """

    rank_zero_only = True

    def __init__(self, path: str | os.PathLike, every: int | None = None,
                 lines: dict[str, float] | None = None):
        self.path = os.fspath(path)
        self.every = every
        self.lines = dict(lines or {})
        self.written = False
        self._history: History | None = None

    def on_train_begin(self, trainer: Trainer) -> None:
        self._history = trainer.history

    def on_epoch_end(self, trainer: Trainer, epoch: int, logs: dict[str, Any]) -> None:
        if self.every is not None:
            self.write(trainer.history)

    def on_train_end(self, trainer: Trainer) -> None:
        self.write(trainer.history)

    def write(self, history: History | None = None) -> bool:
        """Draw ``history`` (default: the last run's) now; False without matplotlib."""
        history = history if history is not None else self._history
        if history is None:
            raise ValueError("CurvesPlot.write: no history yet (pass one, or train first)")
        self.written = plot_curves(history, self.path, lines=self.lines)
        return self.written

    def __repr__(self) -> str:
        return f"CurvesPlot({self.path!r}, every={self.every})"
