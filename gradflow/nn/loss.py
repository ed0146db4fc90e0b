"""Loss modules with PyTorch's constructors: each holds its ``reduction`` (``"mean"``, ``"sum"``
or ``"none"``) and options, class weights as buffers (they move with ``to()`` and are saved),
and calls the functional form in :mod:`gradflow.ops.loss`.

``size_average``/``reduce`` are PyTorch's deprecated spelling of ``reduction`` (they warn); a
string where PyTorch takes ``weight`` or ``size_average`` first is gradflow's former positional
``reduction`` (``nn.L1Loss("sum")``, ``nn.CrossEntropyLoss("none", 0.1)``).
"""

from __future__ import annotations

from typing import Any

from gradflow.nn.module import Module
from gradflow.ops import loss as L
from gradflow.tensor import Tensor

_REDUCTIONS = ("mean", "sum", "none")


class _Loss(Module):
    def __init__(self, size_average=None, reduce=None, reduction: str = "mean") -> None:
        super().__init__()
        name = type(self).__name__
        reduction = L._legacy(size_average, reduce, reduction, name)
        if reduction not in _REDUCTIONS:
            raise ValueError(f"{name}: reduction must be one of {_REDUCTIONS}, got "
                             f"{reduction!r}")
        self.reduction = reduction

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}" if self.reduction != "mean" else ""


class _WeightedLoss(_Loss):
    """A loss with an optional per-class ``weight`` buffer."""

    def __init__(self, weight: Tensor | None = None, size_average=None, reduce=None,
                 reduction: str = "mean") -> None:
        super().__init__(size_average, reduce, reduction)
        if weight is not None and not isinstance(weight, Tensor):
            raise TypeError(f"{type(self).__name__}: weight must be a Tensor or None, got "
                            f"{type(weight).__name__}")
        self.register_buffer("weight", weight)


class MSELoss(_Loss):
    """(input − target)², reduced."""

    def forward(self, input: Tensor, target: Any) -> Tensor:  # noqa: A002
        return L.mse_loss(input, target, reduction=self.reduction)


class L1Loss(_Loss):
    """|input − target|, reduced."""

    def forward(self, input: Tensor, target: Any) -> Tensor:  # noqa: A002
        return L.l1_loss(input, target, reduction=self.reduction)


class SmoothL1Loss(_Loss):
    """0.5 d²/β where |d| < β, else |d| − 0.5 β (d = input − target); β = 0 is L1."""

    def __init__(self, size_average=None, reduce=None, reduction: str = "mean",
                 beta: float = 1.0) -> None:
        super().__init__(size_average, reduce, reduction)
        if beta < 0:
            raise ValueError(f"SmoothL1Loss: beta must be >= 0, got {beta}")
        self.beta = float(beta)

    def forward(self, input: Tensor, target: Any) -> Tensor:  # noqa: A002
        return L.smooth_l1_loss(input, target, reduction=self.reduction, beta=self.beta)

    def extra_repr(self) -> str:
        parts = [super().extra_repr(), f"beta={self.beta}" if self.beta != 1.0 else ""]
        return ", ".join(p for p in parts if p)


class HuberLoss(_Loss):
    """0.5 d² where |d| < δ, else δ (|d| − 0.5 δ) (d = input − target)."""

    def __init__(self, reduction: str = "mean", delta: float = 1.0) -> None:
        super().__init__(None, None, reduction)
        if not delta > 0:
            raise ValueError(f"HuberLoss: delta must be > 0, got {delta}")
        self.delta = float(delta)

    def forward(self, input: Tensor, target: Any) -> Tensor:  # noqa: A002
        return L.huber_loss(input, target, reduction=self.reduction, delta=self.delta)

    def extra_repr(self) -> str:
        parts = [super().extra_repr(), f"delta={self.delta}" if self.delta != 1.0 else ""]
        return ", ".join(p for p in parts if p)


class CrossEntropyLoss(_WeightedLoss):
    """−Σ_c q_c log softmax(z)_c over axis 1 of the logits ``z`` (``(N, C)`` or ``(N, C, d...)``),
    as ``torch.nn.CrossEntropyLoss``.

    ``target``: class indices ``(N, d...)`` or class probabilities shaped like the logits.
    ``weight`` ``(C,)``, ``ignore_index`` and ``label_smoothing`` ε (q' = (1 − ε) q + ε/C) as
    :func:`gradflow.functional.cross_entropy`. Finite for logits of any size.
    """

    def __init__(self, weight: Tensor | None = None, size_average=None,
                 ignore_index: int = -100, reduce=None, reduction: str = "mean",
                 label_smoothing: float = 0.0) -> None:
        if isinstance(weight, str):  # gradflow's former (reduction, label_smoothing)
            weight, reduction = None, weight
            if size_average is not None:
                label_smoothing, size_average = size_average, None
        super().__init__(weight, size_average, reduce, reduction)
        if not 0.0 <= label_smoothing <= 1.0:
            raise ValueError(f"CrossEntropyLoss: label_smoothing must be in [0, 1], got "
                             f"{label_smoothing}")
        self.ignore_index = int(ignore_index)
        self.label_smoothing = float(label_smoothing)

    def forward(self, input: Tensor, target: Any) -> Tensor:  # noqa: A002
        return L.cross_entropy(input, target, self.weight, ignore_index=self.ignore_index,
                               reduction=self.reduction, label_smoothing=self.label_smoothing)

    def extra_repr(self) -> str:
        parts = [super().extra_repr()]
        if self.ignore_index != -100:
            parts.append(f"ignore_index={self.ignore_index}")
        if self.label_smoothing:
            parts.append(f"label_smoothing={self.label_smoothing}")
        return ", ".join(p for p in parts if p)


class NLLLoss(_WeightedLoss):
    """−w_y log_probs[n, y] from log-probabilities (e.g. ``LogSoftmax(dim=1)`` output), with
    ``weight`` and ``ignore_index`` as ``torch.nn.NLLLoss``."""

    def __init__(self, weight: Tensor | None = None, size_average=None,
                 ignore_index: int = -100, reduce=None, reduction: str = "mean") -> None:
        if isinstance(weight, str):  # gradflow's former positional reduction
            weight, reduction = None, weight
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index = int(ignore_index)

    def forward(self, input: Tensor, target: Any) -> Tensor:  # noqa: A002
        return L.nll_loss(input, target, self.weight, ignore_index=self.ignore_index,
                          reduction=self.reduction)

    def extra_repr(self) -> str:
        parts = [super().extra_repr()]
        if self.ignore_index != -100:
            parts.append(f"ignore_index={self.ignore_index}")
        return ", ".join(p for p in parts if p)


class BCELoss(_WeightedLoss):
    """−w (t log p + (1 − t) log(1 − p)) on probabilities ``p``; each log clamped at −100."""

    def __init__(self, weight: Tensor | None = None, size_average=None, reduce=None,
                 reduction: str = "mean") -> None:
        if isinstance(weight, str):  # gradflow's former positional reduction
            weight, reduction = None, weight
        super().__init__(weight, size_average, reduce, reduction)

    def forward(self, input: Tensor, target: Any) -> Tensor:  # noqa: A002
        return L.binary_cross_entropy(input, target, self.weight, reduction=self.reduction)


class BCEWithLogitsLoss(_WeightedLoss):
    """BCE on logits z in the stable form, with ``weight`` and ``pos_weight`` (buffers) as
    ``torch.nn.BCEWithLogitsLoss``."""

    def __init__(self, weight: Tensor | None = None, size_average=None, reduce=None,
                 reduction: str = "mean", pos_weight: Tensor | None = None) -> None:
        if isinstance(weight, str):  # gradflow's former positional reduction
            weight, reduction = None, weight
        super().__init__(weight, size_average, reduce, reduction)
        if pos_weight is not None and not isinstance(pos_weight, Tensor):
            raise TypeError(f"BCEWithLogitsLoss: pos_weight must be a Tensor or None, got "
                            f"{type(pos_weight).__name__}")
        self.register_buffer("pos_weight", pos_weight)

    def forward(self, input: Tensor, target: Any) -> Tensor:  # noqa: A002
        return L.binary_cross_entropy_with_logits(input, target, self.weight,
                                                  reduction=self.reduction,
                                                  pos_weight=self.pos_weight)
