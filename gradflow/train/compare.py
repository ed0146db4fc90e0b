"""Compare training runs in one picture: the loss and accuracy curves of several ``gradflow train``
run folders on shared axes, vs epoch, vs optimizer step and vs training time (``gradflow plot``).

    from gradflow.train.compare import plot_runs
    plot_runs(["runs/full", "runs/mini", "runs/sgd"], "cmp.png")   # labelled "batch_size=full"...
"""

from __future__ import annotations

import csv
import io as _pyio
import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from gradflow.io import atomic_write

__all__ = ["Run", "read_run", "run_labels", "compare_figure", "plot_runs"]

#: Options never used to tell runs apart (they do not change the training).
_IGNORED = ("out", "resume", "no_progress", "tensorboard", "mlflow", "logger", "device")
#: (x column, axis title) of the three columns of panels.
_X_AXES = (("epoch", "epoch"), ("steps", "optimizer step"), ("wall", "training time (s)"))
_PANELS = (("loss", "loss"), ("accuracy", "accuracy"))


@dataclass
class Run:
    """One run folder: its per-epoch ``records`` (from metrics.csv, numbers as floats, missing
    cells NaN) and its resolved ``options`` (config.json's, ``{}`` without one)."""

    path: str
    records: list[dict[str, float]]
    options: dict[str, Any] = field(default_factory=dict)

    def column(self, key: str) -> list[float]:
        """``key`` of every epoch; ``"wall"``: the cumulative training time."""
        if key == "wall":
            total, out = 0.0, []
            for r in self.records:
                total += r.get("epoch_time", math.nan)
                out.append(total)
            return out
        return [r.get(key, math.nan) for r in self.records]


def read_run(path: str | os.PathLike) -> Run:
    """The run in folder ``path`` (a FileNotFoundError naming it when metrics.csv is missing)."""
    path = os.fspath(path)
    metrics = os.path.join(path, "metrics.csv")
    if not os.path.isfile(metrics):
        raise FileNotFoundError(f"plot: {path!r} is not a training run folder (no metrics.csv; "
                                "runs of 'gradflow train' have one)")
    with open(metrics, newline="") as f:
        records = [{k: _number(v) for k, v in row.items() if k} for row in csv.DictReader(f)]
    if not records:
        raise ValueError(f"plot: {metrics!r} has no epochs yet")
    options: dict[str, Any] = {}
    config = os.path.join(path, "config.json")
    if os.path.isfile(config):
        with open(config) as f:
            saved = json.load(f)
        options = saved.get("options", {}) if isinstance(saved, dict) else {}
    return Run(path, records, options)


def _number(text: str | None) -> float:
    try:
        return float(text) if text not in (None, "") else math.nan
    except ValueError:
        return math.nan


def run_labels(runs: Sequence[Run]) -> list[str]:
    """A label per run: the options whose values differ between the runs (``batch_size=full,
    lr=0.1``), else the folder names."""
    keys = sorted({k for r in runs for k in r.options if k not in _IGNORED})
    differ = [k for k in keys if len({json.dumps(r.options.get(k), sort_keys=True)
                                      for r in runs}) > 1]
    labels = []
    for run in runs:
        parts = [f"{k}={run.options.get(k)}" for k in differ]
        labels.append(", ".join(parts) if parts else os.path.basename(os.path.normpath(run.path)))
    if len(set(labels)) < len(labels):  # same options: tell them apart by folder
        labels = [f"{label} ({os.path.basename(os.path.normpath(r.path))})"
                  for label, r in zip(labels, runs, strict=True)]
    return labels


def compare_figure(runs: Sequence[Run], labels: Sequence[str] | None = None) -> Any:
    """A matplotlib Figure (Agg canvas): rows loss and accuracy, columns vs epoch, vs step and vs
    training time; per run one labelled solid line (training) and, where recorded, a dashed
    unlabelled one of the same colour (validation)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    labels = list(labels) if labels is not None else run_labels(runs)
    fig = Figure(figsize=(15, 8), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(len(_PANELS), len(_X_AXES), sharey="row", squeeze=False)
    for row, (key, title) in enumerate(_PANELS):
        for col, (xkey, xtitle) in enumerate(_X_AXES):
            ax = axes[row][col]
            for i, (run, label) in enumerate(zip(runs, labels, strict=True)):
                color = f"C{i % 10}"
                x = run.column(xkey)
                ax.plot(x, run.column(key), color=color, marker="o", markersize=2.5,
                        label=label)
                val = run.column(f"val_{key}")
                if any(not math.isnan(v) for v in val):
                    ax.plot(x, val, color=color, linestyle="--", linewidth=1,
                            label="_validation")
            ax.set_xlabel(xtitle)
            ax.set_title(f"{title} vs {xtitle}")
            ax.grid(alpha=0.3)
            if xkey == "steps" and any(r.options.get("batch_size") == 1 for r in runs):
                ax.set_xscale("log")  # stochastic runs take many more steps
            if ax.get_legend_handles_labels()[0]:
                ax.legend(fontsize="small")
    fig.suptitle("solid: training, dashed: validation")
    return fig


def plot_runs(paths: Sequence[str | os.PathLike], out: str | os.PathLike,
              labels: Sequence[str] | None = None) -> list[str]:
    """Read the run folders ``paths``, draw :func:`compare_figure` and write it atomically to
    ``out`` as a PNG; return the labels used. Needs matplotlib."""
    if not paths:
        raise ValueError("plot: give at least one run folder")
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise ImportError("plot: needs matplotlib, which is not installed: pip install "
                          "matplotlib") from None
    runs = [read_run(p) for p in paths]
    labels = list(labels) if labels is not None else run_labels(runs)
    if len(labels) != len(runs):
        raise ValueError(f"plot: {len(labels)} labels for {len(runs)} runs")
    fig = compare_figure(runs, labels)
    buf = _pyio.BytesIO()
    fig.savefig(buf, format="png")
    atomic_write(out, buf.getvalue(), who="plot")
    return labels
