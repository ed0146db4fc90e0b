"""More losses with PyTorch's signatures: divergences and likelihoods (``kl_div``,
``gaussian_nll_loss``, ``poisson_nll_loss``), margin and ranking losses (``margin_ranking_loss``,
``hinge_embedding_loss``, ``soft_margin_loss``, ``multi_margin_loss``,
``multilabel_margin_loss``, ``multilabel_soft_margin_loss``) and embedding losses
(``cosine_embedding_loss``, ``triplet_margin_loss``, ``triplet_margin_with_distance_loss``).

Each is a composition of differentiable ops (so differentiable to every order). Hinges
max(0, u) take PyTorch's gradient convention: ``clamp_min`` (gradient 1 at u = 0) where
PyTorch clamps, ``relu`` (gradient 0 at u = 0) where its kernels test u > 0. Softplus keeps
the soft-margin losses finite for inputs of any size.
"""

from __future__ import annotations

import math
import warnings

from gradflow import amp as _amp
from gradflow.dtypes import is_floating
from gradflow.ops.activation import relu, softplus
from gradflow.ops.distance import pairwise_distance
from gradflow.ops.indexing import GetItem
from gradflow.ops.loss import (
    _REDUCTIONS,
    LossArgumentError,
    LossIndexError,
    _as_tensor_like,
    _const_weight,
    _input,
    _loss_args,
    _reduce,
)
from gradflow.ops.math import clip, exp, log, minimum, where
from gradflow.ops.shape import reshape
from gradflow.tensor import Tensor

_LOG_2PI = math.log(2 * math.pi)


class TargetRangeError(LossIndexError, RuntimeError):
    """A class index outside ``[0, C)`` in the margin losses: PyTorch's RuntimeError there
    (and gradflow's IndexError/ValueError of the other class-index losses)."""


def _clamp_min0(u: Tensor) -> Tensor:
    return clip(u, 0.0, None)


def _xlogy_self(t: Tensor) -> Tensor:
    """t log t with 0 log 0 = 0 (gradient there taken as 0)."""
    zero = t.array == 0
    return where(zero, 0.0, t * log(where(zero, 1.0, t)))


def _broadcast(*ts: Tensor, op: str, names: tuple) -> list[Tensor]:
    xp = ts[0].backend.xp
    try:
        shape = xp.broadcast_shapes(*(t.shape for t in ts))
    except ValueError:
        shapes = ", ".join(f"{n} {tuple(t.shape)}" for n, t in zip(names, ts))
        raise LossArgumentError(f"{op}: the shapes of {shapes} cannot be broadcast together; "
                                "give them matching shapes") from None
    from gradflow.ops.shape import broadcast_to

    return [t if t.shape == shape else broadcast_to(t, shape) for t in ts]


def _three(op: str, a, b, target, names: tuple, reduction, size_average, reduce):
    a, target, reduction = _loss_args(op, a, target, reduction, size_average, reduce,
                                      names=(names[0], names[2]))
    b = _as_tensor_like(_input(b, op, names[1]), a, op, names[1])
    return a, b, target, reduction


# --- divergences and likelihoods ----------------------------------------------------------
def kl_div(input: Tensor, target, size_average=None, reduce=None,  # noqa: A002
           reduction: str = "mean", log_target: bool = False) -> Tensor:
    """Pointwise KL divergence from log-probabilities ``input`` to ``target``:
    t (log t − x) (0 where t = 0), or e^t (t − x) with ``log_target``, as
    ``torch.nn.functional.kl_div``. ``reduction="batchmean"`` is Σ / N (N = input.size(0)),
    the true KL divergence; ``"mean"`` divides by every element and warns, as PyTorch."""
    if _amp.STATE.on:
        input, target = _amp.cast("kl_div", input, target)
    op = "kl_div"
    legacy = size_average is not None or reduce is not None
    if not legacy and reduction == "mean":
        warnings.warn("reduction: 'mean' divides the total loss by both the batch size and the "
                      "support size.'batchmean' divides only by the batch size, and aligns with "
                      "the KL div math definition.'mean' will be changed to behave the same as "
                      "'batchmean' in the next major release.", UserWarning, stacklevel=2)
    x, t, reduction = _loss_args(op, input, target, reduction, size_average, reduce,
                                 reductions=_REDUCTIONS + ("batchmean",))
    x, t = _broadcast(x, t, op=op, names=("input", "target"))
    loss = exp(t) * (t - x) if log_target else _xlogy_self(t) - t * x
    if reduction == "batchmean":
        total = loss.sum()
        return total / x.shape[0] if x.ndim else total
    return _reduce(loss, reduction, op)


def _check_var(var, x: Tensor, op: str) -> Tensor:
    if isinstance(var, (int, float)) and not isinstance(var, bool):
        if var < 0:
            raise ValueError(f"{op}: var has negative entry/entries (var={var}); variances "
                             "must be >= 0")
        return Tensor.wrap(x.backend.xp.full(x.shape, float(var), dtype=x.dtype), x.backend)
    var = _as_tensor_like(_input(var, op, "var"), x, op, "var")
    if var.numel() and bool(x.backend.to_host((var.array < 0).any())):
        raise ValueError(f"{op}: var has negative entry/entries; variances must be >= 0")
    if var.shape != x.shape:
        if tuple(x.shape[:-1]) == tuple(var.shape):
            var = reshape(var, tuple(var.shape) + (1,))
        elif not (x.ndim == var.ndim and sum(v for a, v in zip(x.shape, var.shape)
                                             if a != v) == 1):
            raise ValueError(f"{op}: var is of incorrect size: var shape {tuple(var.shape)} "
                             f"for input shape {tuple(x.shape)}; give var the input's shape, "
                             "the input's shape without its last dim, or ones in place of "
                             "one dim")
    return var


def gaussian_nll_loss(input: Tensor, target, var, full: bool = False,  # noqa: A002
                      eps: float = 1e-6, reduction: str = "mean") -> Tensor:
    """½ (log max(var, ε) + (input − target)² / max(var, ε)) (+ ½ log 2π with ``full``), as
    ``torch.nn.functional.gaussian_nll_loss``: ``var`` is the input's shape, that shape without
    its last dim, one with a single dim 1, or a number; the clamp at ε passes the gradient
    through unchanged (PyTorch clamps in place under no_grad)."""
    op = "gaussian_nll_loss"
    x = _input(input, op)
    t = _as_tensor_like(target, x, op)
    var = _check_var(var, x, op)
    _, _, reduction = _loss_args(op, x, t, reduction)
    v = var + (clip(var.detach(), eps, None) - var.detach())
    loss = 0.5 * (log(v) + (x - t) ** 2 / v)
    if full:
        loss = loss + 0.5 * _LOG_2PI
    return _reduce(loss, reduction, op)


def poisson_nll_loss(input: Tensor, target, log_input: bool = True,  # noqa: A002
                     full: bool = False, size_average=None, eps: float = 1e-8, reduce=None,
                     reduction: str = "mean") -> Tensor:
    """Poisson negative log-likelihood: e^x − t x (``log_input``, x the log-rate) or
    x − t log(x + ε), plus with ``full`` Stirling's t log t − t + ½ log(2π t) where t > 1, as
    ``torch.nn.functional.poisson_nll_loss``."""
    op = "poisson_nll_loss"
    x, t, reduction = _loss_args(op, input, target, reduction, size_average, reduce)
    x, t = _broadcast(x, t, op=op, names=("input", "target"))
    loss = exp(x) - t * x if log_input else x - t * log(x + eps)
    if full:
        big = t.array > 1
        ts = where(big, t, 2.0)
        stirling = ts * log(ts) - ts + 0.5 * log(ts * (2 * math.pi))
        loss = loss + where(big, stirling, 0.0)
    return _reduce(loss, reduction, op)


# --- margins and ranking ------------------------------------------------------------------
def margin_ranking_loss(input1: Tensor, input2: Tensor, target, margin: float = 0,
                        size_average=None, reduce=None, reduction: str = "mean") -> Tensor:
    """max(0, −y (x1 − x2) + margin), as ``torch.nn.functional.margin_ranking_loss``
    (y ∈ {1, −1}; the three tensors have one number of dims and broadcast)."""
    op = "margin_ranking_loss"
    a, b, y, reduction = _three(op, input1, input2, target, ("input1", "input2", "target"),
                                reduction, size_average, reduce)
    if not a.ndim == b.ndim == y.ndim:
        raise LossArgumentError(f"{op}: All input tensors should have same dimension but got "
                                f"sizes: input1: {tuple(a.shape)}, input2: {tuple(b.shape)}, "
                                f"target: {tuple(y.shape)}")
    a, b, y = _broadcast(a, b, y, op=op, names=("input1", "input2", "target"))
    return _reduce(_clamp_min0(-y * (a - b) + margin), reduction, op)


def hinge_embedding_loss(input: Tensor, target, margin: float = 1.0,  # noqa: A002
                         size_average=None, reduce=None, reduction: str = "mean") -> Tensor:
    """x where y = 1, max(0, margin − x) where y = −1 (both terms where y is neither), as
    ``torch.nn.functional.hinge_embedding_loss``."""
    op = "hinge_embedding_loss"
    x, y, reduction = _loss_args(op, input, target, reduction, size_average, reduce)
    x, y = _broadcast(x, y, op=op, names=("input", "target"))
    ya = y.array
    loss = where(ya != 1, _clamp_min0(margin - x), 0.0) + where(ya != -1, x, 0.0)
    return _reduce(loss, reduction, op)


def soft_margin_loss(input: Tensor, target, size_average=None, reduce=None,  # noqa: A002
                     reduction: str = "mean") -> Tensor:
    """log(1 + e^{−y x}), as ``torch.nn.functional.soft_margin_loss``; computed as
    softplus(−y x), finite for inputs of any size."""
    op = "soft_margin_loss"
    x, y, reduction = _loss_args(op, input, target, reduction, size_average, reduce)
    x, y = _broadcast(x, y, op=op, names=("input", "target"))
    return _reduce(softplus(-y * x), reduction, op)


def multilabel_soft_margin_loss(input: Tensor, target, weight=None,  # noqa: A002
                                size_average=None, reduce=None,
                                reduction: str = "mean") -> Tensor:
    """−(1/C) Σ_c w_c (y_c log σ(x_c) + (1 − y_c) log σ(−x_c)) over the last dim, as
    ``torch.nn.functional.multilabel_soft_margin_loss`` (one value per sample; ``weight``
    broadcasts and is differentiable, as PyTorch's composition)."""
    op = "multilabel_soft_margin_loss"
    x, y, reduction = _loss_args(op, input, target, reduction, size_average, reduce)
    if x.ndim == 0:
        raise LossArgumentError(f"{op}: input must have at least one dim (the classes), got "
                                "shape ()")
    loss = y * softplus(-x) + (1 - y) * softplus(x)
    if weight is not None:
        loss = loss * _as_tensor_like(_input(weight, op, "weight"), x, op, "weight")
    loss = loss.sum(-1) / x.shape[-1]
    return _reduce(loss, reduction, op)


def _class_rows(x: Tensor, op: str) -> Tensor:
    """A 0-d, ``(C,)`` or ``(N, C)`` input as ``(N, C)``."""
    if x.ndim > 2 or (x.ndim == 2 and x.shape[1] == 0) or (x.ndim == 1 and x.shape[0] == 0):
        raise LossArgumentError(f"{op}: Expected non-empty vector or matrix with optional 0-dim "
                                f"batch size, but got: {tuple(x.shape)}; pass (C,) or (N, C)")
    if not is_floating(x.dtype):
        raise RuntimeError(f"{op}: input must be a floating-point tensor, got {x.dtype}; "
                           "convert it with .float()")
    return reshape(x, (1, 1) if x.ndim == 0 else (1,) + tuple(x.shape) if x.ndim == 1 else
                   x.shape)


def _check_index_range(t, lo: int, c: int, backend, op: str, what: str) -> None:
    if not t.size:
        return
    bad = (t < lo) | (t >= c)
    if bool(backend.to_host(bad.any())):
        v = int(backend.to_host(t[bad][:1])[0])
        raise TargetRangeError(f"{op}: {what} {v} is out of range [{max(lo, 0)}, {c}) for {c} "
                             f"classes: target out of range; use class indices in [0, {c})")


def multi_margin_loss(input: Tensor, target, p: int = 1, margin: float = 1.0,  # noqa: A002
                      weight=None, size_average=None, reduce=None,
                      reduction: str = "mean") -> Tensor:
    """The multi-class hinge (SVM) loss (1/C) Σ_{i≠y} w_y max(0, margin − x_y + x_i)^p,
    p ∈ {1, 2}, for ``(N, C)`` (or ``(C,)``) inputs and class indices ``(N,)`` (or ``()``),
    as ``torch.nn.functional.multi_margin_loss``."""
    op = "multi_margin_loss"
    x, t, reduction = _loss_args(op, input, target, reduction, size_average, reduce)
    if p not in (1, 2):
        raise ValueError(f"{op}: only p == 1 and p == 2 supported, got p={p}")
    w = _const_weight(weight, x, op)
    if w is not None and w.ndim != 1:
        raise ValueError(f"{op}: weight must be one-dimensional, got shape {tuple(w.shape)}")
    z = _class_rows(x, op)
    n, c = z.shape
    if not (t.ndim <= 1 and t.numel() == n):
        raise LossArgumentError(f"{op}: inconsistent target size, expected {n} but got "
                                f"{tuple(t.shape)} (input shape {tuple(x.shape)}); give one "
                                "class index per sample")
    if t.dtype.kind not in "iu":
        raise RuntimeError(f"{op}: expected scalar type Long for the class-index target, got "
                           f"{t.dtype}; convert it with .long()")
    if w is not None and w.numel() != c:
        raise LossArgumentError(f"{op}: inconsistent weight size, expected {c} but got "
                                f"{tuple(w.shape)}; give one weight per class")
    backend = x.backend
    xp = backend.xp
    idx = t.array.reshape(n)
    _check_index_range(idx, 0, c, backend, op, "class index")
    rows = xp.arange(n)
    zy = reshape(GetItem.apply(z, (rows, idx)), (n, 1))
    h = relu(margin - zy + z)
    if p == 2:
        h = h * h
    h = where(idx[:, None] == xp.arange(c)[None, :], 0.0, h)
    if w is not None:
        h = h * reshape(GetItem.apply(w, (idx,)), (n, 1))
    loss = h.sum(1) / c
    if x.ndim < 2:
        loss = reshape(loss, ())
    return _reduce(loss, reduction, op)


def multilabel_margin_loss(input: Tensor, target, size_average=None,  # noqa: A002
                           reduce=None, reduction: str = "mean") -> Tensor:
    """(1/C) Σ_j Σ_{i ∉ y} max(0, 1 − (x_{y_j} − x_i)) over the target classes y_j (the
    leading entries of each target row, up to the first −1), as
    ``torch.nn.functional.multilabel_margin_loss``."""
    op = "multilabel_margin_loss"
    x, t, reduction = _loss_args(op, input, target, reduction, size_average, reduce)
    z = _class_rows(x, op)
    n, c = z.shape
    if tuple(t.shape) != tuple(x.shape):
        raise LossArgumentError(f"{op}: inconsistent target size: {tuple(t.shape)} for input "
                                f"of size: {tuple(x.shape)}; the target holds up to C class "
                                "indices per sample, padded with -1")
    if t.dtype.kind not in "iu":
        raise RuntimeError(f"{op}: expected scalar type Long for the target, got {t.dtype}; "
                           "convert it with .long()")
    backend = x.backend
    xp = backend.xp
    ta = t.array.reshape(n, c)
    valid = xp.cumprod(ta >= 0, axis=1).astype(bool)
    _check_index_range(ta[valid], 0, c, backend, op, "target index")
    safe = xp.where(valid, ta, 0)
    is_target = ((safe[:, :, None] == xp.arange(c)[None, None, :]) & valid[:, :, None]).any(1)
    rows = xp.arange(n)[:, None]
    zy = GetItem.apply(z, (rows, safe))  # (n, c): x at each target entry
    h = relu(1 - reshape(zy, (n, c, 1)) + reshape(z, (n, 1, c)))
    h = where(valid[:, :, None] & ~is_target[:, None, :], h, 0.0)
    loss = h.sum((1, 2)) / c
    if x.ndim < 2:
        loss = reshape(loss, ())
    return _reduce(loss, reduction, op)


# --- embeddings ---------------------------------------------------------------------------
_COS_EPS = 1e-12  # PyTorch's EPSILON in cosine_embedding_loss


def cosine_embedding_loss(input1: Tensor, input2: Tensor, target, margin: float = 0,
                          size_average=None, reduce=None, reduction: str = "mean") -> Tensor:
    """1 − cos(x1, x2) where y = 1, max(0, cos(x1, x2) − margin) where y = −1, with
    cos = x1·x2 / √((‖x1‖² + ε)(‖x2‖² + ε)), ε = 1e−12 (0 for zero vectors), as
    ``torch.nn.functional.cosine_embedding_loss``: ``(N, D)`` inputs with an ``(N,)`` target,
    or ``(D,)`` with a 0-d one."""
    op = "cosine_embedding_loss"
    a, b, y, reduction = _three(op, input1, input2, target, ("input1", "input2", "target"),
                                reduction, size_average, reduce)
    k = y.ndim
    if k not in (0, 1):
        raise LossArgumentError(f"{op}: 0D or 1D target tensor expected, multi-target not "
                                f"supported (target shape {tuple(y.shape)})")
    if not a.ndim == b.ndim == k + 1:
        raise LossArgumentError(f"{op}: {k}D target tensor expects {k + 1}D input tensors, but "
                                f"found inputs with sizes {tuple(a.shape)} and "
                                f"{tuple(b.shape)}.")
    a, b = _broadcast(a, b, op=op, names=("input1", "input2"))
    prod = (a * b).sum(k)
    m1 = (a * a).sum(k) + _COS_EPS
    m2 = (b * b).sum(k) + _COS_EPS
    cos = prod / (m1 * m2) ** 0.5
    ya = y.array
    loss = where(ya == 1, 1 - cos, 0.0) + where(ya == -1, _clamp_min0(cos - margin), 0.0)
    return _reduce(loss, reduction, op)


def _triplet(op: str, anchor, positive, negative, dist, margin: float, swap: bool,
             reduction: str) -> Tensor:
    if margin <= 0:
        raise ValueError(f"{op}: margin must be greater than 0, got {margin}")
    dims = (anchor.ndim, positive.ndim, negative.ndim)
    if not dims[0] == dims[1] == dims[2]:
        raise LossArgumentError(f"{op}: The anchor, positive, and negative tensors are expected "
                                f"to have the same number of dimensions, but got: anchor "
                                f"{dims[0]}D, positive {dims[1]}D, and negative {dims[2]}D "
                                "inputs")
    d_pos = dist(anchor, positive)
    d_neg = dist(anchor, negative)
    if swap:
        d_neg = minimum(d_neg, dist(positive, negative))
    return _reduce(_clamp_min0(margin + d_pos - d_neg), reduction, op)


def triplet_margin_loss(anchor: Tensor, positive: Tensor, negative: Tensor,
                        margin: float = 1.0, p: float = 2, eps: float = 1e-6,
                        swap: bool = False, size_average=None, reduce=None,
                        reduction: str = "mean") -> Tensor:
    """max(0, margin + d(a, p) − d(a, n)) with d the pairwise p-norm distance
    ‖u − v + ε‖_p over the last dim (``swap``: d(a, n) ← min(d(a, n), d(p, n))), as
    ``torch.nn.functional.triplet_margin_loss``."""
    op = "triplet_margin_loss"
    a, pos, reduction = _loss_args(op, anchor, positive, reduction, size_average, reduce,
                                   names=("anchor", "positive"))
    neg = _as_tensor_like(_input(negative, op, "negative"), a, op, "negative")
    return _triplet(op, a, pos, neg, lambda u, v: pairwise_distance(u, v, p, eps), margin,
                    swap, reduction)


def triplet_margin_with_distance_loss(anchor: Tensor, positive: Tensor, negative: Tensor, *,
                                      distance_function=None, margin: float = 1.0,
                                      swap: bool = False, reduction: str = "mean") -> Tensor:
    """:func:`triplet_margin_loss` with any ``distance_function(u, v)`` (default
    :func:`pairwise_distance`), as ``torch.nn.functional.triplet_margin_with_distance_loss``."""
    op = "triplet_margin_with_distance_loss"
    a, pos, reduction = _loss_args(op, anchor, positive, reduction,
                                   names=("anchor", "positive"))
    neg = _as_tensor_like(_input(negative, op, "negative"), a, op, "negative")
    dist = pairwise_distance if distance_function is None else distance_function
    return _triplet(op, a, pos, neg, dist, margin, swap, reduction)
