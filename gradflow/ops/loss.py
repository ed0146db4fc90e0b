"""Losses with PyTorch's signatures and semantics.

Cross-entropy (the default case: class indices, no weight, nothing ignored), BCE and
squared error are fused (one node, a kernel pair) and finite for logits of any size. The
options (``weight``, ``ignore_index`` present in the target, probability targets with weights)
and the other losses are compositions, so they are differentiable to every order.

For class indices y with weights w (1 when not given), ignore mask m (0 where y = ignore_index)
and label smoothing ε over C classes, per element (PyTorch's definition):

    ℓ = m · (−(1 − ε) w_y log p_y − (ε/C) Σ_c w_c log p_c),   p = softmax(z) over axis 1,

and ``reduction="mean"`` divides Σ ℓ by Σ m w_y (NaN when nothing counts, as PyTorch).
"""

from __future__ import annotations

import warnings

from gradflow import amp as _amp
from gradflow.autograd.function import Function
from gradflow.autograd.grad_mode import _State
from gradflow.dtypes import is_floating
from gradflow.ops.activation import log_softmax, sigmoid, softmax, softplus
from gradflow.ops.indexing import GetItem
from gradflow.ops.math import abs as abs_
from gradflow.ops.math import clip, log, where
from gradflow.ops.shape import broadcast_to, reshape
from gradflow.tensor import Tensor

_REDUCTIONS = ("mean", "sum", "none")
BCE_EPS = 9.999999960041972e-13  # PyTorch's ε of the BCE gradient (1e-12 as a float32), as in
# gradflow.kernels.loss


class LossIndexError(IndexError, ValueError):
    """A class index outside ``[0, C)``: an IndexError as in PyTorch (and a ValueError, as
    gradflow raised before)."""


class LossArgumentError(ValueError, RuntimeError):
    """A bad shape or option: PyTorch raises RuntimeError (or ValueError) for these."""


# --- arguments -------------------------------------------------------------------------------
def _input(x, op: str, name: str = "input") -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}(): argument '{name}' must be a Tensor, got {type(x).__name__}")
    return x


def _as_tensor_like(t, like: Tensor, op: str = "loss", name: str = "target") -> Tensor:
    """``t`` as a Tensor on ``like``'s device; float values take ``like``'s float dtype."""
    if t is None:
        raise TypeError(f"{op}(): argument '{name}' must be a Tensor, got NoneType")
    if isinstance(t, Tensor):
        if t._backend is not like._backend:
            raise RuntimeError(f"{op}: {name} is on {t.device} but input is on {like.device}; "
                               f"move both to one device")
    else:
        t = Tensor.wrap(like._backend.asarray(t), like._backend)
    if is_floating(t.dtype) and is_floating(like.dtype) and t.dtype != like.dtype:
        t = t.to(dtype=like.dtype)
    return t


def _const_weight(w, like: Tensor, op: str, name: str = "weight") -> Tensor | None:
    """A weight that PyTorch does not differentiate: requiring grad is PyTorch's error."""
    if w is None:
        return None
    w = _as_tensor_like(w, like, op, name)
    if w.requires_grad and _State.grad_enabled:
        raise RuntimeError(f"{op}: the loss is not differentiable with respect to argument "
                           f"'{name}'; this input cannot have requires_grad=True (pass "
                           f"{name}.detach())")
    return w


def _legacy(size_average, reduce, reduction: str, op: str, stacklevel: int = 3) -> str:
    """PyTorch's deprecated ``size_average``/``reduce`` pair, mapped to a reduction (warns).

    A string in the ``size_average`` slot is gradflow's former positional ``reduction``."""
    if isinstance(size_average, str):
        return size_average
    if size_average is None and reduce is None:
        return reduction
    mean = True if size_average is None else bool(size_average)
    keep = True if reduce is None else bool(reduce)
    out = "mean" if mean and keep else "sum" if keep else "none"
    warnings.warn(f"{op}: size_average and reduce args will be deprecated, please use "
                  f"reduction='{out}' instead.", UserWarning, stacklevel=stacklevel)
    return out


def _check_reduction(reduction, op: str) -> str:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{op}: reduction must be one of {_REDUCTIONS}, got {reduction!r}")
    return reduction


def _loss_args(op: str, input, target, reduction="mean", size_average=None,  # noqa: A002
               reduce=None, *, broadcast: bool = False, names=("input", "target"),
               reductions: tuple = _REDUCTIONS) -> tuple[Tensor, Tensor, str]:
    """The prologue every loss shares: the reduction (PyTorch's legacy ``size_average``/
    ``reduce`` mapped, then validated), the input checked to be a Tensor and the target made a
    Tensor like it. ``broadcast``: a target of another shape warns and broadcasts (as
    PyTorch's elementwise losses)."""
    reduction = _legacy(size_average, reduce, reduction, op, stacklevel=4)
    if reduction not in reductions:
        raise ValueError(f"{op}: reduction must be one of {reductions}, got {reduction!r}")
    if broadcast:
        x, t = _pair(input, target, op, stacklevel=4)
    else:
        x = _input(input, op, names[0])
        t = _as_tensor_like(target, x, op, names[1])
    return x, t, reduction


def _reduce(loss: Tensor, reduction: str, op: str) -> Tensor:
    """Mean (NaN for no elements, as PyTorch), sum or the elementwise loss."""
    if reduction == "mean":
        return loss.mean() if loss.numel() else loss.sum() * float("nan")
    if reduction == "sum":
        return loss.sum()
    if reduction == "none":
        return loss
    raise ValueError(f"{op}: reduction must be one of {_REDUCTIONS}, got {reduction!r}")


def _same_shape(a: Tensor, b: Tensor, op: str) -> None:
    if a.shape != b.shape:
        raise ValueError(f"{op}: Using a target size {b.shape} that is different to the input "
                         f"size {a.shape} is not supported; reshape the target to the input's "
                         "shape")


def _broadcast_shape(a: tuple, b: tuple, op: str) -> tuple:
    n = max(len(a), len(b))
    pa, pb = (1,) * (n - len(a)) + tuple(a), (1,) * (n - len(b)) + tuple(b)
    if any(x != y and 1 not in (x, y) for x, y in zip(pa, pb)):
        raise LossArgumentError(f"{op}: input shape {a} and target shape {b} cannot be "
                                "broadcast together; give the target the input's shape")
    return tuple(max(x, y) if 0 not in (x, y) else 0 for x, y in zip(pa, pb))


def _pair(input, target, op: str, stacklevel: int = 3) -> tuple[Tensor, Tensor]:
    """Input and target of an elementwise loss; a different target shape warns and broadcasts,
    as PyTorch does."""
    input = _input(input, op)
    target = _as_tensor_like(target, input, op)
    if target.shape != input.shape:
        warnings.warn(f"{op}: Using a target size ({target.shape}) that is different to the "
                      f"input size ({input.shape}). This will likely lead to incorrect results "
                      "due to broadcasting. Please ensure they have the same size.",
                      UserWarning, stacklevel=stacklevel)
        shape = _broadcast_shape(input.shape, target.shape, op)
        input, target = broadcast_to(input, shape), broadcast_to(target, shape)
    return input, target


def _elementwise_weight(w, input: Tensor, op: str) -> Tensor | None:
    if w is None:
        return None
    w = _as_tensor_like(w, input, op, "weight")
    if w.shape != input.shape:
        raise ValueError(f"{op}: Weights and input must have the same size: weight shape "
                         f"{w.shape}, input shape {input.shape}")
    return w


def _weighted_reduce(loss: Tensor, w: Tensor | None, reduction: str, op: str,
                     mean_by_weight: bool = True) -> Tensor:
    if w is None:
        return _reduce(loss, reduction, op)
    loss = loss * w
    if reduction == "mean" and mean_by_weight:
        return loss.sum() / w.sum()
    return _reduce(loss, reduction, op)


# --- fused Functions -------------------------------------------------------------------------
def _class_axis(g: Tensor) -> Tensor:
    """A per-example gradient ``(N, d...)`` as ``(N, 1, d...)``, to broadcast over classes."""
    return reshape(g, g.shape[:1] + (1,) + g.shape[1:])


class SoftmaxCrossEntropy(Function):
    """Per-example −Σ_c q_c log softmax(z)_c over axis 1 (q: class probabilities).

    Fused: one node instead of four (the ``cross_entropy`` row of benchmarks/overhead.py; 1.7×
    cheaper than the composition at 64×64 with probability targets)."""

    @staticmethod
    def forward(ctx, z, q):
        loss, logp = ctx.k.softmax_cross_entropy(z, q)
        ctx.save_for_backward(z, q, logp)
        return loss

    @staticmethod
    def vjp(ctx, g):
        _, q, logp = ctx.saved_arrays
        return ctx.k.softmax_cross_entropy_backward(g, logp, q, *ctx.needs_input_grad)

    @staticmethod
    def backward(ctx, g):
        z, q, _ = ctx.saved_tensors
        nz, nq = ctx.needs_input_grad
        g1 = _class_axis(g)
        gz = (softmax(z, 1) * q.sum(1, keepdims=True) - q) * g1 if nz else None
        gq = -log_softmax(z, 1) * g1 if nq else None
        return gz, gq


class SoftmaxCrossEntropyIndices(Function):
    """Per-example cross-entropy from class indices (target q' one-hot, label-smoothed).

    Fused, with a CUDA override: the classification hot path (the ``cross_entropy`` row of
    benchmarks/overhead.py)."""

    @staticmethod
    def forward(ctx, z, target, label_smoothing):
        ctx.target, ctx.smoothing = target, label_smoothing
        loss, logp = ctx.k.softmax_cross_entropy_indices(z, target, label_smoothing)
        ctx.save_for_backward(z, logp)
        return loss

    @staticmethod
    def vjp(ctx, g):
        _, logp = ctx.saved_arrays
        return ctx.k.softmax_cross_entropy_indices_backward(g, logp, ctx.target, ctx.smoothing)

    @staticmethod
    def backward(ctx, g):
        z, _ = ctx.saved_tensors
        q = Tensor.wrap(ctx.k.smoothed_target(ctx.target, z.shape[1], z.dtype, ctx.smoothing),
                        ctx.backend)
        return (softmax(z, 1) - q) * _class_axis(g)


class SoftmaxCrossEntropyIndicesMean(Function):
    """The mean over examples of :class:`SoftmaxCrossEntropyIndices`: ``reduction="mean"``
    without a separate ``mean`` node (the default ``cross_entropy`` of every classifier's
    step). dℓ/dz = (softmax(z) − q') · g / n, n the number of examples (and positions)."""

    @staticmethod
    def forward(ctx, z, target, label_smoothing):
        ctx.target, ctx.smoothing, ctx.count = target, label_smoothing, target.size
        loss, logp = ctx.k.softmax_cross_entropy_indices(z, target, label_smoothing)
        ctx.save_for_backward(z, logp)
        return ctx.k.mean(loss, axis=None, keepdims=False)

    @staticmethod
    def vjp(ctx, g):
        _, logp = ctx.saved_arrays
        xp, target = ctx.xp, ctx.target
        ge = g / ctx.count  # one g/n for every example, as Mean's vjp
        # NumPy broadcasts a (1, ...) factor; a device kernel wants g per example (a view)
        ge = (ge.reshape((1,) * target.ndim) if xp.__name__ == "numpy"
              else xp.broadcast_to(ge, target.shape))
        return ctx.k.softmax_cross_entropy_indices_backward(ge, logp, target, ctx.smoothing)

    @staticmethod
    def backward(ctx, g):
        z, _ = ctx.saved_tensors
        q = Tensor.wrap(ctx.k.smoothed_target(ctx.target, z.shape[1], z.dtype, ctx.smoothing),
                        ctx.backend)
        return (softmax(z, 1) - q) * (g / ctx.count)


class _PairLoss(Function):
    """Elementwise ℓ(a, b) through a kernel pair ``kernels = (forward, backward)``; the backward
    kernel ``(g, a, b, need_a, need_b)`` returns both gradients (None where not needed)."""

    kernels: tuple[str, str]

    @classmethod
    def forward(cls, ctx, a, b):
        ctx.save_for_backward(a, b)
        return getattr(ctx.k, cls.kernels[0])(a, b)

    @classmethod
    def vjp(cls, ctx, g):
        a, b = ctx.saved_arrays
        return getattr(ctx.k, cls.kernels[1])(g, a, b, *ctx.needs_input_grad)


class BCEWithLogits(_PairLoss):
    """max(z, 0) − z t + log(1 + e^{−|z|}) elementwise; d/dz = σ(z) − t, d/dt = −z.

    Fused: one node instead of six, 2.9× cheaper than the composition at 64×64."""

    kernels = ("bce_with_logits", "bce_with_logits_backward")

    @staticmethod
    def backward(ctx, g):
        z, t = ctx.saved_tensors
        nz, nt = ctx.needs_input_grad
        return ((sigmoid(z) - t) * g if nz else None), (-z * g if nt else None)


class BinaryCrossEntropy(_PairLoss):
    """−(t max(log p, −100) + (1 − t) max(log(1 − p), −100)) elementwise, with PyTorch's
    gradients: d/dp = (p − t) / max(p (1 − p), ε) (ε ≈ 1e−12; finite at p ∈ {0, 1}) and
    d/dt = log(1 − p) − log p."""

    kernels = ("binary_cross_entropy", "binary_cross_entropy_backward")

    @staticmethod
    def backward(ctx, g):
        p, t = ctx.saved_tensors
        np_, nt = ctx.needs_input_grad
        gp = (p - t) / clip(p * (1 - p), BCE_EPS, None) * g if np_ else None
        gt = (log(1 - p) - log(p)) * g if nt else None
        return gp, gt


class SquaredError(_PairLoss):
    """(a − b)² elementwise; d/da = 2(a − b), d/db = −2(a − b).

    Fused: one node instead of two, 1.9× cheaper than ``d = a − b; d * d`` at 64×64."""

    kernels = ("squared_error", "squared_error_backward")

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        na, nb = ctx.needs_input_grad
        d2 = 2 * (a - b) * g
        return (d2 if na else None), (-d2 if nb else None)


# --- class-index targets ---------------------------------------------------------------------
def _class_input(x: Tensor, op: str) -> None:
    if not is_floating(x.dtype):
        raise RuntimeError(f"{op}: input must be a floating-point tensor, got {x.dtype}; "
                           "convert it with .float()")
    if x.ndim < 1:
        raise LossArgumentError(f"{op}: input must have shape (C,), (N, C) or (N, C, d1, ...), "
                                f"got {x.shape}")


def _unbatched_target(x: Tensor, target: Tensor, op: str, probabilities: bool = True) -> None:
    if target.shape != () and not (probabilities and target.shape == x.shape):
        also = f" or class probabilities of shape {x.shape}" if probabilities else ""
        raise LossArgumentError(f"{op}: for an unbatched input of shape {x.shape} the target "
                                f"must be a class index of shape (){also}, got shape "
                                f"{target.shape}; add a batch axis to both for (N, C)")


def _index_dtype(x: Tensor, target: Tensor, op: str) -> None:
    if target.dtype.kind not in "iu":
        raise RuntimeError(f"{op}: expected scalar type Long for class-index targets, got "
                           f"{target.dtype} (target shape {target.shape}, input shape "
                           f"{x.shape}); class indices are an integer tensor of shape "
                           f"{(x.shape[0],) + x.shape[2:]} (.long()), class probabilities a "
                           "float tensor of the input's shape")


def _class_target(x: Tensor, target: Tensor, ignore_index: int, op: str):
    """Validate class indices for a ``(N, C, ...)`` input. Returns None when every target is
    a class (none ignored: the fused path), else the mask of the counted positions."""
    c = x.shape[1]
    expected = (x.shape[0],) + x.shape[2:]
    if target.shape != expected:
        raise LossArgumentError(f"{op}: class-index target must have shape {expected} for input "
                                f"of shape {x.shape}, got {target.shape}")
    data = target.array
    if not data.size:
        return None
    backend = x.backend
    if backend.xp.__name__ == "numpy":  # no device: two ufunc reductions, no stacking
        lo, hi = int(data.min()), int(data.max())
    else:  # one host read of both bounds (a sync on a GPU): the error needs the values
        lo, hi = (int(v) for v in backend.to_host(backend.k.index_range(data)))
    if lo >= 0 and hi < c and not lo <= ignore_index <= hi:
        return None
    valid = data != ignore_index
    if lo < 0 or hi >= c:
        bad = data[valid & ((data < 0) | (data >= c))]
        if bad.size:
            v = int(backend.to_host(bad[:1])[0])
            raise LossIndexError(f"{op}: class index {v} is out of range [0, {c}) for {c} "
                                 f"classes (input shape {x.shape}): Target {v} is out of "
                                 f"bounds; use indices in [0, {c}) or ignore_index "
                                 f"({ignore_index})")
    return valid


def _class_weight(weight, x: Tensor, op: str) -> Tensor | None:
    if weight is None:
        return None
    weight = _as_tensor_like(weight, x, op, "weight")
    c = x.shape[1]
    if weight.shape != (c,):
        raise LossArgumentError(f"{op}: weight tensor should be defined either for all {c} "
                                f"classes or no classes but got weight tensor of shape "
                                f"{weight.shape}")
    return weight


def _gather_index(xp, safe) -> tuple:
    """The advanced index that picks ``a[n, safe[n, d...], d...]`` from ``(N, C, d...)``."""
    n = safe.ndim
    ar = [xp.arange(s).reshape((1,) * i + (s,) + (1,) * (n - 1 - i))
          for i, s in enumerate(safe.shape)]
    return (ar[0], safe, *ar[1:])


def _weighted_nll(logp: Tensor, target, valid, weight: Tensor | None, smoothing: float,
                  reduction: str, op: str) -> Tensor:
    """The composed index-target loss (module docstring) from log-probabilities."""
    backend = logp.backend
    xp = backend.xp
    c = logp.shape[1]
    safe = target if valid is None else xp.where(valid, target, 0)
    picked = GetItem.apply(logp, _gather_index(xp, safe))
    if weight is None:
        elem = -picked
        coef = None if valid is None else valid.astype(logp.dtype)
    else:
        if weight.requires_grad and _State.grad_enabled:
            raise RuntimeError(f"{op}: the loss is not differentiable with respect to argument "
                               "'weight' for class-index targets; this input cannot have "
                               "requires_grad=True (pass weight.detach())")
        wy = weight.array[safe]
        elem = picked * Tensor.wrap(-wy, backend)
        coef = wy if valid is None else xp.where(valid, wy, 0)
    if smoothing:
        w_all = logp if weight is None else logp * reshape(weight, (1, c) + (1,) * (logp.ndim - 2))
        elem = elem * (1 - smoothing) - w_all.sum(1) * (smoothing / c)
    if valid is not None:
        elem = where(valid, elem, 0.0)
    if reduction != "mean" or coef is None:
        return _reduce(elem, reduction, op)
    denom = coef.sum()
    zero = denom == 0
    recip = xp.where(zero, float("nan"), 1 / xp.where(zero, 1, denom)).astype(logp.dtype)
    return elem.sum() * Tensor.wrap(recip, backend)


def _probability_loss(x: Tensor, q: Tensor, weight, ignore_index: int, reduction: str,
                      smoothing: float, op: str) -> Tensor:
    if not is_floating(q.dtype):
        raise RuntimeError(f"{op}: Expected floating point type for target with class "
                           f"probabilities, got {q.dtype} (a target of the input's shape "
                           f"{x.shape} holds probabilities; class indices have shape "
                           f"{(x.shape[0],) + x.shape[2:]})")
    if ignore_index >= 0:
        raise LossArgumentError(f"{op}: ignore_index is not supported for floating point "
                                f"target (got ignore_index={ignore_index})")
    c = x.shape[1]
    if smoothing:
        q = q * (1 - smoothing) + smoothing / c
    if weight is not None:
        q = q * reshape(_class_weight(weight, x, op), (1, c) + (1,) * (x.ndim - 2))
    return _reduce(SoftmaxCrossEntropy.apply(x, q), reduction, op)


def cross_entropy(input: Tensor, target, weight=None, size_average=None,  # noqa: A002
                  ignore_index: int = -100, reduce=None, reduction: str = "mean",
                  label_smoothing: float = 0.0) -> Tensor:
    """Softmax cross-entropy over axis 1 of ``(N, C)`` or ``(N, C, d1, ...)`` logits (or
    ``(C,)`` with a 0-d target), as ``torch.nn.functional.cross_entropy``.

    ``target``: class indices (an integer tensor of shape ``(N, d1, ...)``) or class
    probabilities (a float tensor of the input's shape). ``weight``: ``(C,)`` per-class
    weights; ``ignore_index``: a class index whose positions count for nothing (gradient 0,
    left out of the mean's denominator); ``label_smoothing`` ε mixes the target with the
    uniform distribution, q' = (1 − ε) q + ε/C. ``size_average``/``reduce`` are PyTorch's
    deprecated spelling of ``reduction``; a string there is gradflow's former positional
    ``cross_entropy(input, target, reduction, label_smoothing)``.
    """
    if _amp.STATE.on:
        input, target, weight = _amp.cast("cross_entropy", input, target, weight)
    if (weight is None and size_average is None and reduce is None and reduction == "mean"
            and label_smoothing.__class__ in (float, int) and 0.0 <= label_smoothing <= 1.0
            and isinstance(input, Tensor) and isinstance(target, Tensor)
            and target._backend is input._backend and not _amp.STATE.on):
        # the classifier's step (N, C) logits, (N,) class indices, on the CPU: the checks
        # below, on the arrays; anything else (or a failing check) takes the general path
        za, ya = input.array, target.array
        if (za.ndim == 2 and ya.ndim == 1 and za.dtype.kind == "f" and ya.dtype.kind in "iu"
                and ya.shape[0] == za.shape[0] and ya.size and input._backend.xp.__name__ ==
                "numpy"):
            lo, hi, c = int(ya.min()), int(ya.max()), za.shape[1]
            if lo >= 0 and hi < c and not lo <= ignore_index <= hi:
                return SoftmaxCrossEntropyIndicesMean.apply(input, ya, float(label_smoothing))
    op = "cross_entropy"
    if isinstance(weight, str):  # gradflow's former positional (reduction, label_smoothing)
        if size_average is not None:
            label_smoothing = size_average
        weight, reduction, size_average = None, weight, None
    x, target, reduction = _loss_args(op, input, target, reduction, size_average, reduce)
    if not 0.0 <= label_smoothing <= 1.0:
        raise LossArgumentError(f"{op}: label_smoothing must be in [0, 1] (between 0.0 and "
                                f"1.0), got {label_smoothing}")
    _class_input(x, op)
    if x.ndim == 1:
        _unbatched_target(x, target, op)
        out = cross_entropy(reshape(x, (1,) + x.shape), reshape(target, (1,) + target.shape),
                            weight, None, ignore_index, None, reduction, label_smoothing)
        return reshape(out, ()) if reduction == "none" else out
    if target.shape == x.shape:
        return _probability_loss(x, target, weight, ignore_index, reduction,
                                 float(label_smoothing), op)
    _index_dtype(x, target, op)
    valid = _class_target(x, target, ignore_index, op)
    idx = target.array
    if valid is None and weight is None:  # the fused hot path
        if reduction == "mean" and idx.size:
            return SoftmaxCrossEntropyIndicesMean.apply(x, idx, float(label_smoothing))
        loss = SoftmaxCrossEntropyIndices.apply(x, idx, float(label_smoothing))
        return _reduce(loss, reduction, op)
    return _weighted_nll(log_softmax(x, 1), idx, valid, _class_weight(weight, x, op),
                         float(label_smoothing), reduction, op)


def nll_loss(input: Tensor, target, weight=None, size_average=None,  # noqa: A002
             ignore_index: int = -100, reduce=None, reduction: str = "mean") -> Tensor:
    """−w_y · input[n, y, d...] from log-probabilities ``(N, C, d1, ...)`` (or ``(C,)``) and
    class indices ``(N, d1, ...)``, as ``torch.nn.functional.nll_loss``: ``weight``,
    ``ignore_index`` and the mean over Σ w_y of the counted positions as in
    :func:`cross_entropy`."""
    if _amp.STATE.on:
        input, target, weight = _amp.cast("nll_loss", input, target, weight)
    op = "nll_loss"
    if isinstance(weight, str):  # gradflow's former positional (reduction)
        weight, reduction = None, weight
    x, target, reduction = _loss_args(op, input, target, reduction, size_average, reduce)
    _class_input(x, op)
    if x.ndim == 1:
        _unbatched_target(x, target, op, probabilities=False)
        out = nll_loss(reshape(x, (1,) + x.shape), reshape(target, (1,) + target.shape), weight,
                       None, ignore_index, None, reduction)
        return reshape(out, ()) if reduction == "none" else out
    _index_dtype(x, target, op)
    valid = _class_target(x, target, ignore_index, op)
    return _weighted_nll(x, target.array, valid, _class_weight(weight, x, op), 0.0, reduction,
                         op)


# --- regression ------------------------------------------------------------------------------
def mse_loss(input: Tensor, target, size_average=None, reduce=None,  # noqa: A002
             reduction: str = "mean", weight=None) -> Tensor:
    """(input − target)², reduced; a target of another shape warns and broadcasts (PyTorch).
    With ``weight`` (the input's shape) the mean is Σ w ℓ / Σ w, as PyTorch."""
    if _amp.STATE.on:
        input, target, weight = _amp.cast("mse_loss", input, target, weight)
    op = "mse_loss"
    a, b, reduction = _loss_args(op, input, target, reduction, size_average, reduce,
                                 broadcast=True)
    w = _elementwise_weight(weight, input, op)
    return _weighted_reduce(SquaredError.apply(a, b), w, reduction, op)


def l1_loss(input: Tensor, target, size_average=None, reduce=None,  # noqa: A002
            reduction: str = "mean", weight=None) -> Tensor:
    """|input − target|, reduced (broadcasting and ``weight`` as :func:`mse_loss`)."""
    if _amp.STATE.on:
        input, target, weight = _amp.cast("l1_loss", input, target, weight)
    op = "l1_loss"
    a, b, reduction = _loss_args(op, input, target, reduction, size_average, reduce,
                                 broadcast=True)
    w = _elementwise_weight(weight, input, op)
    return _weighted_reduce(abs_(a - b), w, reduction, op)


def smooth_l1_loss(input: Tensor, target, size_average=None, reduce=None,  # noqa: A002
                   reduction: str = "mean", beta: float = 1.0) -> Tensor:
    """0.5 d²/β where |d| < β, else |d| − 0.5 β (d = input − target); β = 0 is the L1 loss."""
    if _amp.STATE.on:
        input, target = _amp.cast("smooth_l1_loss", input, target)
    op = "smooth_l1_loss"
    if beta < 0:
        _check_reduction(_legacy(size_average, reduce, reduction, op), op)
        raise LossArgumentError(f"{op}: smooth_l1_loss does not support negative values for "
                                f"beta, got beta={beta}")
    a, b, reduction = _loss_args(op, input, target, reduction, size_average, reduce,
                                 broadcast=True)
    d = a - b
    if beta == 0:
        return _reduce(abs_(d), reduction, op)
    ad = abs_(d)
    return _reduce(where(ad < beta, d * d * (0.5 / beta), ad - 0.5 * beta), reduction, op)


def huber_loss(input: Tensor, target, reduction: str = "mean", delta: float = 1.0,  # noqa: A002
               weight=None) -> Tensor:
    """0.5 d² where |d| < δ, else δ (|d| − 0.5 δ) (d = input − target), as PyTorch; with
    ``weight`` (the input's shape) the mean is the plain mean of w ℓ, as PyTorch."""
    if _amp.STATE.on:
        input, target, weight = _amp.cast("huber_loss", input, target, weight)
    op = "huber_loss"
    if not delta > 0:
        _check_reduction(reduction, op)
        raise LossArgumentError(f"{op}: huber_loss does not support non-positive values for "
                                f"delta, got delta={delta}")
    a, b, reduction = _loss_args(op, input, target, reduction, broadcast=True)
    w = _elementwise_weight(weight, input, op)
    d = a - b
    ad = abs_(d)
    loss = where(ad < delta, d * d * 0.5, (ad - 0.5 * delta) * delta)
    return _weighted_reduce(loss, w, reduction, op, mean_by_weight=False)


# --- binary ----------------------------------------------------------------------------------
def _binary_weight(w, x: Tensor, op: str, name: str = "weight") -> Tensor | None:
    w = _const_weight(w, x, op, name)
    if w is not None:
        shape = _broadcast_shape(w.shape, x.shape, op)
        if shape != x.shape:
            raise LossArgumentError(f"{op}: {name} of shape {w.shape} does not broadcast to "
                                    f"the input's shape {x.shape}")
    return w


def binary_cross_entropy(input: Tensor, target, weight=None, size_average=None,  # noqa: A002
                         reduce=None, reduction: str = "mean") -> Tensor:
    """−w (t log p + (1 − t) log(1 − p)) on probabilities ``p`` ∈ [0, 1], each log clamped at
    −100 (as PyTorch); values of ``p`` or ``t`` outside [0, 1] are PyTorch's RuntimeError."""
    if _amp.STATE.on:
        input, target, weight = _amp.cast("binary_cross_entropy", input, target, weight)
    op = "binary_cross_entropy"
    if isinstance(weight, str):  # gradflow's former positional (reduction)
        weight, reduction = None, weight
    p, target, reduction = _loss_args(op, input, target, reduction, size_average, reduce)
    _same_shape(p, target, op)
    w = _binary_weight(weight, p, op)
    if p.numel():
        backend = p.backend
        lo, hi, tlo, thi = (float(v) for v in backend.to_host(
            backend.k.value_bounds(p.array, target.array)))
        for name, a, b in (("input", lo, hi), ("target", tlo, thi)):
            if not (a >= 0 and b <= 1):
                bad = a if not a >= 0 else b
                raise RuntimeError(f"{op}: all elements of {name} should be between 0 and 1, "
                                   f"found {bad}")
    loss = BinaryCrossEntropy.apply(p, target)
    return _reduce(loss if w is None else loss * w, reduction, op)


def binary_cross_entropy_with_logits(input: Tensor, target, weight=None,  # noqa: A002
                                     size_average=None, reduce=None, reduction: str = "mean",
                                     pos_weight=None) -> Tensor:
    """BCE on logits z in the stable form: w ((1 − t) z + (1 + (p_w − 1) t) log(1 + e^{−z})),
    finite for logits of any size; ``pos_weight`` p_w weighs the positive term (broadcast
    over the last axis, as PyTorch)."""
    if _amp.STATE.on:
        input, target, weight, pos_weight = _amp.cast(
            "binary_cross_entropy_with_logits", input, target, weight, pos_weight)
    op = "binary_cross_entropy_with_logits"
    if isinstance(weight, str):  # gradflow's former positional (reduction)
        weight, reduction = None, weight
    z, target, reduction = _loss_args(op, input, target, reduction, size_average, reduce)
    if target.shape != z.shape:
        raise ValueError(f"{op}: Target size {target.shape} must be the same as input size "
                         f"{z.shape}")
    if not is_floating(target.dtype):
        target = target.to(dtype=z.dtype)
    w = _binary_weight(weight, z, op)
    pw = _binary_weight(pos_weight, z, op, "pos_weight")
    if pw is None:
        loss = BCEWithLogits.apply(z, target)
    else:
        loss = (1 - target) * z + ((pw - 1) * target + 1) * softplus(-z)
    return _reduce(loss if w is None else loss * w, reduction, op)
