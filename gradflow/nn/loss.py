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
from gradflow.ops import loss_extra as LE
from gradflow.tensor import Tensor

_REDUCTIONS = ("mean", "sum", "none")


class _Loss(Module):
    _reductions = _REDUCTIONS

    def __init__(self, size_average=None, reduce=None, reduction: str = "mean") -> None:
        super().__init__()
        name = type(self).__name__
        reduction = L._legacy(size_average, reduce, reduction, name)
        if reduction not in self._reductions:
            raise ValueError(f"{name}: reduction must be one of {self._reductions}, got "
                             f"{reduction!r}")
        self.reduction = reduction

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}" if self.reduction != "mean" else ""

    def _repr_with(self, **options) -> str:
        """``extra_repr`` plus each ``name=value`` whose value is not the default given."""
        parts = [_Loss.extra_repr(self)]
        parts += [f"{k}={getattr(self, k)!r}" for k, default in options.items()
                  if getattr(self, k) != default]
        return ", ".join(p for p in parts if p)


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


# --- divergences and likelihoods ----------------------------------------------------------
class KLDivLoss(_Loss):
    """Pointwise KL divergence t (log t − x) from log-probabilities x (``log_target``:
    e^t (t − x)); ``reduction="batchmean"`` is the true KL divergence, as
    ``torch.nn.KLDivLoss``."""

    _reductions = _REDUCTIONS + ("batchmean",)

    def __init__(self, size_average=None, reduce=None, reduction: str = "mean",
                 log_target: bool = False) -> None:
        super().__init__(size_average, reduce, reduction)
        self.log_target = log_target

    def forward(self, input: Tensor, target: Any) -> Tensor:  # noqa: A002
        return LE.kl_div(input, target, reduction=self.reduction, log_target=self.log_target)

    def extra_repr(self) -> str:
        return self._repr_with(log_target=False)


class GaussianNLLLoss(_Loss):
    """½ (log max(var, ε) + (input − target)² / max(var, ε)), as ``torch.nn.GaussianNLLLoss``."""

    def __init__(self, *, full: bool = False, eps: float = 1e-6,
                 reduction: str = "mean") -> None:
        super().__init__(None, None, reduction)
        self.full = full
        self.eps = eps

    def forward(self, input: Tensor, target: Any, var: Any) -> Tensor:  # noqa: A002
        return LE.gaussian_nll_loss(input, target, var, full=self.full, eps=self.eps,
                                    reduction=self.reduction)

    def extra_repr(self) -> str:
        return self._repr_with(full=False, eps=1e-6)


class PoissonNLLLoss(_Loss):
    """e^x − t x (``log_input``) or x − t log(x + ε), with Stirling's term when ``full``, as
    ``torch.nn.PoissonNLLLoss``."""

    def __init__(self, log_input: bool = True, full: bool = False, size_average=None,
                 eps: float = 1e-8, reduce=None, reduction: str = "mean") -> None:
        super().__init__(size_average, reduce, reduction)
        self.log_input = log_input
        self.full = full
        self.eps = eps

    def forward(self, log_input: Tensor, target: Any) -> Tensor:
        return LE.poisson_nll_loss(log_input, target, log_input=self.log_input,
                                   full=self.full, eps=self.eps, reduction=self.reduction)

    def extra_repr(self) -> str:
        return self._repr_with(log_input=True, full=False, eps=1e-8)


# --- margins and ranking ------------------------------------------------------------------
class _MarginLoss(_Loss):
    def __init__(self, margin: float, size_average=None, reduce=None,
                 reduction: str = "mean") -> None:
        super().__init__(size_average, reduce, reduction)
        self.margin = margin


class MarginRankingLoss(_MarginLoss):
    """max(0, −y (x1 − x2) + margin), as ``torch.nn.MarginRankingLoss``."""

    def __init__(self, margin: float = 0.0, size_average=None, reduce=None,
                 reduction: str = "mean") -> None:
        super().__init__(margin, size_average, reduce, reduction)

    def forward(self, input1: Tensor, input2: Tensor, target: Any) -> Tensor:
        return LE.margin_ranking_loss(input1, input2, target, margin=self.margin,
                                      reduction=self.reduction)

    def extra_repr(self) -> str:
        return self._repr_with(margin=0.0)


class HingeEmbeddingLoss(_MarginLoss):
    """x where y = 1, max(0, margin − x) where y = −1, as ``torch.nn.HingeEmbeddingLoss``."""

    def __init__(self, margin: float = 1.0, size_average=None, reduce=None,
                 reduction: str = "mean") -> None:
        super().__init__(margin, size_average, reduce, reduction)

    def forward(self, input: Tensor, target: Any) -> Tensor:  # noqa: A002
        return LE.hinge_embedding_loss(input, target, margin=self.margin,
                                       reduction=self.reduction)

    def extra_repr(self) -> str:
        return self._repr_with(margin=1.0)


class CosineEmbeddingLoss(_MarginLoss):
    """1 − cos(x1, x2) where y = 1, max(0, cos(x1, x2) − margin) where y = −1, as
    ``torch.nn.CosineEmbeddingLoss``."""

    def __init__(self, margin: float = 0.0, size_average=None, reduce=None,
                 reduction: str = "mean") -> None:
        super().__init__(margin, size_average, reduce, reduction)

    def forward(self, input1: Tensor, input2: Tensor, target: Any) -> Tensor:
        return LE.cosine_embedding_loss(input1, input2, target, margin=self.margin,
                                        reduction=self.reduction)

    def extra_repr(self) -> str:
        return self._repr_with(margin=0.0)


class SoftMarginLoss(_Loss):
    """log(1 + e^{−y x}) (finite for inputs of any size), as ``torch.nn.SoftMarginLoss``."""

    def forward(self, input: Tensor, target: Any) -> Tensor:  # noqa: A002
        return LE.soft_margin_loss(input, target, reduction=self.reduction)


class MultiLabelMarginLoss(_Loss):
    """(1/C) Σ_j Σ_{i ∉ y} max(0, 1 − (x_{y_j} − x_i)) (targets padded with −1), as
    ``torch.nn.MultiLabelMarginLoss``."""

    def forward(self, input: Tensor, target: Any) -> Tensor:  # noqa: A002
        return LE.multilabel_margin_loss(input, target, reduction=self.reduction)


class MultiLabelSoftMarginLoss(_WeightedLoss):
    """The per-class logistic loss averaged over classes, with an optional ``weight`` buffer,
    as ``torch.nn.MultiLabelSoftMarginLoss``."""

    def forward(self, input: Tensor, target: Any) -> Tensor:  # noqa: A002
        return LE.multilabel_soft_margin_loss(input, target, weight=self.weight,
                                              reduction=self.reduction)


class MultiMarginLoss(_WeightedLoss):
    """The multi-class hinge (SVM) loss (1/C) Σ_{i≠y} w_y max(0, margin − x_y + x_i)^p, as
    ``torch.nn.MultiMarginLoss`` (``weight``: a ``(C,)`` buffer)."""

    def __init__(self, p: int = 1, margin: float = 1.0, weight: Tensor | None = None,
                 size_average=None, reduce=None, reduction: str = "mean") -> None:
        super().__init__(weight, size_average, reduce, reduction)
        if p not in (1, 2):
            raise ValueError(f"MultiMarginLoss: only p == 1 and p == 2 supported, got p={p}")
        if weight is not None and weight.ndim != 1:
            raise ValueError(f"MultiMarginLoss: expected weight to be None or 1D tensor, got "
                             f"{weight.ndim}D instead")
        self.p = p
        self.margin = margin

    def forward(self, input: Tensor, target: Any) -> Tensor:  # noqa: A002
        return LE.multi_margin_loss(input, target, p=self.p, margin=self.margin,
                                    weight=self.weight, reduction=self.reduction)

    def extra_repr(self) -> str:
        return self._repr_with(p=1, margin=1.0)


# --- triplets -----------------------------------------------------------------------------
def _positive_margin(name: str, margin: float) -> float:
    if margin <= 0:
        raise ValueError(f"{name}: expected margin to be greater than 0, got {margin} instead")
    return margin


class TripletMarginLoss(_Loss):
    """max(0, margin + d(a, p) − d(a, n)) with the pairwise p-norm distance, as
    ``torch.nn.TripletMarginLoss``."""

    def __init__(self, margin: float = 1.0, p: float = 2.0, eps: float = 1e-6,
                 swap: bool = False, size_average=None, reduce=None,
                 reduction: str = "mean") -> None:
        super().__init__(size_average, reduce, reduction)
        self.margin = _positive_margin("TripletMarginLoss", margin)
        self.p = p
        self.eps = eps
        self.swap = swap

    def forward(self, anchor: Tensor, positive: Tensor, negative: Tensor) -> Tensor:
        return LE.triplet_margin_loss(anchor, positive, negative, margin=self.margin, p=self.p,
                                      eps=self.eps, swap=self.swap, reduction=self.reduction)

    def extra_repr(self) -> str:
        return self._repr_with(margin=1.0, p=2.0, eps=1e-6, swap=False)


class TripletMarginWithDistanceLoss(_Loss):
    """:class:`TripletMarginLoss` with any ``distance_function(u, v)`` (default
    :class:`~gradflow.nn.PairwiseDistance`, a child module as in PyTorch)."""

    def __init__(self, *, distance_function=None, margin: float = 1.0, swap: bool = False,
                 reduction: str = "mean") -> None:
        super().__init__(None, None, reduction)
        from gradflow.nn.distance import PairwiseDistance

        self.margin = _positive_margin("TripletMarginWithDistanceLoss", margin)
        self.distance_function = (distance_function if distance_function is not None
                                  else PairwiseDistance())
        self.swap = swap

    def forward(self, anchor: Tensor, positive: Tensor, negative: Tensor) -> Tensor:
        return LE.triplet_margin_with_distance_loss(
            anchor, positive, negative, distance_function=self.distance_function,
            margin=self.margin, swap=self.swap, reduction=self.reduction)

    def extra_repr(self) -> str:
        return self._repr_with(margin=1.0, swap=False)
