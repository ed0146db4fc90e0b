"""Per-batch metric counts computed on the device (no host sync), summed once per epoch."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from gradflow.tensor import Tensor

__all__ = ["METRICS", "check_metrics", "accuracy_count", "check_loss", "EpochMeter"]

#: Metric names ``fit(metrics=...)`` accepts.
METRICS = ("accuracy",)


def check_metrics(metrics: Any) -> tuple[str, ...]:
    """``metrics`` as a tuple of known names (a single string counts as one)."""
    if isinstance(metrics, str):
        metrics = (metrics,)
    try:
        names = tuple(metrics)
    except TypeError:
        raise TypeError(f"fit: metrics must be a tuple of metric names such as ('accuracy',), "
                        f"got {type(metrics).__name__}") from None
    for name in names:
        if name not in METRICS:
            raise ValueError(f"fit: unknown metric {name!r}; known metrics: {list(METRICS)} "
                             "(pass metrics=() for none)")
    return names


def accuracy_count(out: Any, target: Any) -> tuple[Any, int]:
    """(number of correct predictions as a 0-d device array, number of predictions).

    ``out`` and ``target`` are backend arrays. Multi-class logits ``(..., C)`` with ``C > 1``:
    the prediction is the argmax, the target a class index of shape ``(...)`` or a probability
    (one-hot) row of shape ``(..., C)``, compared by argmax. One logit (shape ``(N,)`` or
    ``(N, 1)``): positive iff the logit is > 0, the target positive iff > 0.5 (so 0/1 and
    -1/+1 labels both work).
    """
    oshape, tshape = tuple(out.shape), tuple(target.shape)
    if len(oshape) >= 2 and oshape[-1] > 1:
        if tshape == oshape[:-1]:
            return (out.argmax(-1) == target).sum(), int(_numel(target))
        if tshape == oshape:
            return (out.argmax(-1) == target.argmax(-1)).sum(), int(_numel(target)) // oshape[-1]
    elif _numel(out) == _numel(target) and len(oshape) >= 1:
        pred = out.reshape(-1) > 0
        return (pred == (target.reshape(-1) > 0.5)).sum(), int(_numel(out))
    raise ValueError(f"fit: cannot compute accuracy for model output of shape {oshape} and "
                     f"target of shape {tshape}: expected logits (N, C) with class indices (N,) "
                     "or probabilities (N, C), or one logit per example with a target of the "
                     "same size; pass metrics=() for other tasks (e.g. regression)")


def _numel(x) -> int:
    return math.prod(x.shape)


def check_loss(loss: Any) -> None:
    """Raise unless ``loss`` is a one-element Tensor (the batch mean)."""
    if not isinstance(loss, Tensor) or loss.numel() != 1:
        got = f"shape {loss.shape}" if isinstance(loss, Tensor) else type(loss).__name__
        raise ValueError(f"fit: loss_fn must return a scalar Tensor (the batch mean, "
                         f"reduction='mean'), got {got}")


class EpochMeter:
    """Per-batch losses (and correct counts) of one pass, kept on the device as they come and
    read to the host once by :meth:`read`: no host-device sync per step."""

    __slots__ = ("accuracy", "losses", "sizes", "correct", "seen", "backend")

    def __init__(self, accuracy: bool):
        self.accuracy = accuracy
        self.losses: list[Any] = []
        self.sizes: list[int] = []
        self.correct: list[Any] = []
        self.seen = 0
        self.backend: Any = None

    def __len__(self) -> int:
        return len(self.losses)

    def add(self, loss: Tensor, out: Any, target: Tensor) -> None:
        """Record a batch: its mean ``loss``, the model output and the target."""
        if not self.losses:
            check_loss(loss)
            self.backend = loss.backend
        self.losses.append(loss.array)
        self.sizes.append(int(target.shape[0]) if target.ndim else 1)
        if self.accuracy and out is not None:
            if not isinstance(out, Tensor):
                raise TypeError(f"fit: metric 'accuracy' needs the model to return a Tensor of "
                                f"logits, got {type(out).__name__}; pass metrics=()")
            count, total = accuracy_count(out.array, target.array)
            self.correct.append(count)
            self.seen += total

    def read(self, reduce: Any = None) -> tuple[np.ndarray, float, float | None, int]:
        """(per-batch losses on the host, mean loss over samples, accuracy or None, samples),
        with one device-to-host copy. ``reduce(losses, sizes, correct, seen)`` (on several
        ranks: :meth:`RankContext.reduce_meter`) turns this rank's per-batch means and counts
        into the global ones first."""
        n = len(self.losses)
        if n:
            xp = self.backend.xp
            parts = [xp.stack(self.losses).astype(xp.float64)]
            if self.correct:
                parts.append(xp.stack(self.correct).astype(xp.float64))
            vec = parts[0] if len(parts) == 1 else xp.concatenate(parts)
            host = np.asarray(self.backend.to_host(vec), dtype=np.float64)
        else:  # a rank whose shares of every batch were empty
            host = np.zeros(0)
        losses, counts = host[:n], host[n:]
        weights = np.asarray(self.sizes, dtype=np.float64)
        if reduce is None:
            mean = float((losses * weights).sum() / weights.sum())
            accuracy = None
            if self.accuracy and self.correct:
                accuracy = float(counts.sum() / self.seen) if self.seen else math.nan
            return losses, mean, accuracy, int(weights.sum())
        losses, weights, correct, seen = reduce(losses, weights, float(counts.sum()), self.seen)
        total = weights.sum()
        mean = float(np.where(weights > 0, losses * weights, 0.0).sum() / total) if total \
            else math.nan
        accuracy = correct / seen if self.accuracy and seen else None
        return losses, mean, accuracy, int(total)

    def state_dict(self) -> dict[str, Any]:
        """The batches so far as host lists (one device-to-host copy), for a mid-epoch
        checkpoint."""
        if not self.losses:
            return {"losses": [], "sizes": [], "correct": [], "seen": 0}
        xp = self.backend.xp
        losses = np.asarray(self.backend.to_host(xp.stack(self.losses).astype(xp.float64)))
        correct = [] if not self.correct else np.asarray(self.backend.to_host(
            xp.stack(self.correct).astype(xp.float64))).tolist()
        return {"losses": losses.tolist(), "sizes": list(self.sizes), "correct": correct,
                "seen": self.seen}

    def load_state_dict(self, state: dict[str, Any], backend: Any) -> None:
        xp = backend.xp
        self.backend = backend
        self.losses = [xp.asarray(v, dtype=xp.float64) for v in state["losses"]]
        self.sizes = [int(n) for n in state["sizes"]]
        self.correct = [xp.asarray(v, dtype=xp.float64) for v in state["correct"]]
        self.seen = int(state["seen"])
