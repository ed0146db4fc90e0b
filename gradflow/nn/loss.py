"""Loss modules: each holds its ``reduction`` (``"mean"``, ``"sum"`` or ``"none"``) and calls
the fused, numerically stable functional form in :mod:`gradflow.ops.loss`."""

from __future__ import annotations

from typing import Any

from gradflow.nn.module import Module
from gradflow.ops import loss as L
from gradflow.tensor import Tensor

_REDUCTIONS = ("mean", "sum", "none")


class _Loss(Module):
    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        if reduction not in _REDUCTIONS:
            raise ValueError(f"{type(self).__name__}: reduction must be one of {_REDUCTIONS}, "
                             f"got {reduction!r}")
        self.reduction = reduction

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}" if self.reduction != "mean" else ""


class MSELoss(_Loss):
    """(input − target)², reduced."""

    def forward(self, input: Tensor, target: Any) -> Tensor:  # noqa: A002
        return L.mse_loss(input, target, self.reduction)


class L1Loss(_Loss):
    """|input − target|, reduced."""

    def forward(self, input: Tensor, target: Any) -> Tensor:  # noqa: A002
        return L.l1_loss(input, target, self.reduction)


class CrossEntropyLoss(_Loss):
    """−Σ_c q_c log softmax(z)_c over axis 1 of the logits ``z`` (``(N, C)`` or ``(N, C, d...)``).

    ``target``: class indices ``(N, d...)`` or class probabilities shaped like the logits.
    ``label_smoothing`` ε uses q' = (1 − ε) q + ε/C. Finite for logits of any size.
    """

    def __init__(self, reduction: str = "mean", label_smoothing: float = 0.0) -> None:
        super().__init__(reduction)
        if not 0.0 <= label_smoothing <= 1.0:
            raise ValueError(f"CrossEntropyLoss: label_smoothing must be in [0, 1], got "
                             f"{label_smoothing}")
        self.label_smoothing = float(label_smoothing)

    def forward(self, input: Tensor, target: Any) -> Tensor:  # noqa: A002
        return L.cross_entropy(input, target, self.reduction, self.label_smoothing)

    def extra_repr(self) -> str:
        parts = [super().extra_repr()]
        if self.label_smoothing:
            parts.append(f"label_smoothing={self.label_smoothing}")
        return ", ".join(p for p in parts if p)


class NLLLoss(_Loss):
    """−log_probs[n, target[n]] from log-probabilities (e.g. ``LogSoftmax(axis=1)`` output)."""

    def forward(self, input: Tensor, target: Any) -> Tensor:  # noqa: A002
        return L.nll_loss(input, target, self.reduction)


class BCELoss(_Loss):
    """−(t log p + (1 − t) log(1 − p)) on probabilities ``p``; each log clamped at −100."""

    def forward(self, input: Tensor, target: Any) -> Tensor:  # noqa: A002
        return L.binary_cross_entropy(input, target, self.reduction)


class BCEWithLogitsLoss(_Loss):
    """BCE on logits z in the stable form max(z, 0) − z t + log(1 + e^{−|z|})."""

    def forward(self, input: Tensor, target: Any) -> Tensor:  # noqa: A002
        return L.binary_cross_entropy_with_logits(input, target, self.reduction)
