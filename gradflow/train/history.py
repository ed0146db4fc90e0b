"""``History``: the per-epoch records of a training run, why it stopped and how many steps ran."""

from __future__ import annotations

import csv
import io
import math
import os
from typing import Any

__all__ = ["History", "STOP_REASONS"]

#: Values of :attr:`History.stop_reason` (``None`` while training runs).
STOP_REASONS = ("epochs", "max_iters", "loss_tol", "early_stopping", "callback", "nan",
                "interrupted", "error")


class History:
    """What :func:`gradflow.train.fit` returns.

    Attributes:
        records: one dict per epoch, in order (``epoch``, ``loss``, ``accuracy``, ``val_loss``,
            ``val_accuracy``, ``lr``, ``epoch_time``, ``samples_per_s``, ``steps``; keys a
            callback adds to ``logs`` come along).
        stop_reason: ``"epochs"``, ``"max_iters"``, ``"loss_tol"``, ``"early_stopping"``,
            ``"callback"`` (a callback set ``trainer.stop_training``), ``"nan"``, or
            ``"interrupted"``/``"error"`` when an exception ended the run; ``None`` while running.
        steps: optimizer steps done in all (across resumes).
    """

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []
        self.stop_reason: str | None = None
        self.steps = 0

    def append(self, record: dict[str, Any]) -> None:
        """Add an epoch's record (kept as is: keys added to it later show up)."""
        self.records.append(record)

    @property
    def epochs(self) -> int:
        """Number of epochs recorded."""
        return len(self.records)

    def keys(self) -> list[str]:
        """Every key that appears in some record, in first-seen order."""
        seen: dict[str, None] = {}
        for r in self.records:
            seen.update(dict.fromkeys(r))
        return list(seen)

    def __getitem__(self, key: str) -> list[Any]:
        """``history["val_loss"]``: that value of every epoch (``None`` where an epoch lacks it)."""
        if key not in self.keys():
            raise KeyError(f"History has no {key!r}; it has {self.keys()}")
        return [r.get(key) for r in self.records]

    def __contains__(self, key: object) -> bool:
        return key in self.keys()

    def __len__(self) -> int:
        return len(self.records)

    def __iter__(self):
        return iter(self.records)

    def best(self, monitor: str = "val_loss", mode: str = "min") -> dict[str, Any]:
        """The record with the lowest (``mode="min"``) or highest (``"max"``) finite ``monitor``;
        ties go to the earliest epoch."""
        if mode not in ("min", "max"):
            raise ValueError(f"History.best: mode must be 'min' or 'max', got {mode!r}")
        values = self[monitor]
        candidates = [(v, i) for i, v in enumerate(values)
                      if isinstance(v, int | float) and math.isfinite(v)]
        if not candidates:
            raise ValueError(f"History.best: no epoch has a finite {monitor!r}")
        sign = 1.0 if mode == "min" else -1.0
        _, index = min(candidates, key=lambda c: (sign * c[0], c[1]))
        return dict(self.records[index])

    def to_csv(self, path: str | os.PathLike) -> None:
        """Write one row per epoch, with a header of every key (empty cells where missing),
        atomically (:func:`gradflow.io.atomic_write`)."""
        from gradflow.io import atomic_write

        buf = io.StringIO(newline="")
        writer = csv.DictWriter(buf, fieldnames=self.keys(), restval="")
        writer.writeheader()
        writer.writerows(self.records)
        atomic_write(path, buf.getvalue(), who="History.to_csv")

    def state_dict(self) -> dict[str, Any]:
        """Plain data for a checkpoint (records, stop reason, steps)."""
        return {"records": [dict(r) for r in self.records], "stop_reason": self.stop_reason,
                "steps": self.steps}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.records = [dict(r) for r in state["records"]]
        self.stop_reason = state.get("stop_reason")
        self.steps = int(state.get("steps", 0))

    def __repr__(self) -> str:
        last = ""
        if self.records:
            shown = {k: v for k, v in self.records[-1].items()
                     if k in ("loss", "accuracy", "val_loss", "val_accuracy")}
            last = ", last: " + ", ".join(f"{k}={v:.4g}" for k, v in shown.items()
                                          if isinstance(v, float))
        return (f"History({self.epochs} epochs, {self.steps} steps, "
                f"stop_reason={self.stop_reason!r}{last})")
