"""Losses. Cross-entropy, BCE-with-logits and squared error are fused (one node, a kernel pair)
and finite for logits of any size; the others are compositions."""

from __future__ import annotations

from gradflow.autograd.function import Function
from gradflow.ops.activation import log_softmax, sigmoid, softmax
from gradflow.ops.math import abs as abs_
from gradflow.ops.math import clip, log
from gradflow.ops.shape import reshape
from gradflow.tensor import Tensor

_REDUCTIONS = ("mean", "sum", "none")


def _reduce(loss: Tensor, reduction: str, op: str) -> Tensor:
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    if reduction == "none":
        return loss
    raise ValueError(f"{op}: reduction must be one of {_REDUCTIONS}, got {reduction!r}")


def _same_shape(a: Tensor, b: Tensor, op: str) -> None:
    if a.shape != b.shape:
        raise ValueError(f"{op}: input shape {a.shape} and target shape {b.shape} differ; "
                         "reshape one so they match (broadcasting here is almost always a bug)")


def _as_tensor_like(t, like: Tensor) -> Tensor:
    """The target as a Tensor on ``like``'s device; float targets take ``like``'s float dtype."""
    if isinstance(t, Tensor):
        if t._backend is not like._backend:
            raise RuntimeError(f"loss: target is on {t.device} but input is on {like.device}")
    else:
        t = Tensor.wrap(like._backend.asarray(t), like._backend)
    if t.dtype.kind == "f" and like.dtype.kind == "f" and t.dtype != like.dtype:
        t = t.to(dtype=like.dtype)
    return t


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


def _class_target(logits: Tensor, target, op: str):
    """Validate integer class indices for a ``(N, C, ...)`` input; returns the index array."""
    c = logits.shape[1]
    expected = (logits.shape[0],) + logits.shape[2:]
    if target.shape != expected:
        raise ValueError(f"{op}: class-index target must have shape {expected} for input of shape "
                         f"{logits.shape}, got {target.shape}")
    data = target.array
    if data.size:  # one host read of both bounds (a sync on a GPU): the error needs the values
        backend = logits.backend
        lo, hi = (int(v) for v in backend.to_host(backend.k.index_range(data)))
        if lo < 0 or hi >= c:
            bad = lo if lo < 0 else hi
            raise ValueError(f"{op}: class index {bad} is out of range [0, {c}) for {c} classes "
                             f"(input shape {logits.shape})")
    return data


def cross_entropy(logits: Tensor, target, reduction: str = "mean",
                  label_smoothing: float = 0.0) -> Tensor:
    """Softmax cross-entropy over axis 1 of ``(N, C)`` or ``(N, C, d...)`` logits (or ``(C,)``).

    ``target``: class indices (integers, shape ``(N, d...)``) or class probabilities (floats,
    same shape as ``logits``). ``label_smoothing`` ε mixes the target with the uniform
    distribution: q' = (1 − ε) q + ε / C.
    """
    if reduction not in _REDUCTIONS:
        raise ValueError(f"cross_entropy: reduction must be one of {_REDUCTIONS}, got "
                         f"{reduction!r}")
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be in [0, 1], got {label_smoothing}")
    target = _as_tensor_like(target, logits)
    if logits.ndim == 1:
        logits = reshape(logits, (1,) + logits.shape)
        target = reshape(target, (1,) + target.shape)
        out = cross_entropy(logits, target, "none", label_smoothing)
        return _reduce(reshape(out, ()), reduction, "cross_entropy")
    if logits.ndim < 2:
        raise ValueError(f"cross_entropy: logits must have shape (N, C, ...), got {logits.shape}")
    c = logits.shape[1]
    if target.dtype.kind in "iub":
        idx = _class_target(logits, target, "cross_entropy")
        loss = SoftmaxCrossEntropyIndices.apply(logits, idx, float(label_smoothing))
        return _reduce(loss, reduction, "cross_entropy")
    _same_shape(logits, target, "cross_entropy")
    q = target if not label_smoothing else target * (1 - label_smoothing) + label_smoothing / c
    loss = SoftmaxCrossEntropy.apply(logits, q)
    return _reduce(loss, reduction, "cross_entropy")


def nll_loss(log_probs: Tensor, target, reduction: str = "mean") -> Tensor:
    """−log p[target] from log-probabilities ``(N, C, ...)`` and class indices ``(N, ...)``."""
    target = _as_tensor_like(target, log_probs)
    if log_probs.ndim < 2:
        raise ValueError(f"nll_loss: log_probs must have shape (N, C, ...), got {log_probs.shape}")
    idx = _class_target(log_probs, target, "nll_loss")
    onehot = log_probs.backend.k.smoothed_target(idx, log_probs.shape[1], log_probs.dtype)
    loss = -(log_probs * Tensor.wrap(onehot, log_probs.backend)).sum(1)
    return _reduce(loss, reduction, "nll_loss")


def mse_loss(input: Tensor, target, reduction: str = "mean") -> Tensor:  # noqa: A002
    target = _as_tensor_like(target, input)
    _same_shape(input, target, "mse_loss")
    return _reduce(SquaredError.apply(input, target), reduction, "mse_loss")


def l1_loss(input: Tensor, target, reduction: str = "mean") -> Tensor:  # noqa: A002
    target = _as_tensor_like(target, input)
    _same_shape(input, target, "l1_loss")
    return _reduce(abs_(input - target), reduction, "l1_loss")


def binary_cross_entropy(probs: Tensor, target, reduction: str = "mean") -> Tensor:
    """−(t log p + (1 − t) log(1 − p)), each log clamped at −100 (as PyTorch)."""
    target = _as_tensor_like(target, probs)
    _same_shape(probs, target, "binary_cross_entropy")
    loss = -(target * clip(log(probs), -100.0, None)
             + (1 - target) * clip(log(1 - probs), -100.0, None))
    return _reduce(loss, reduction, "binary_cross_entropy")


def binary_cross_entropy_with_logits(logits: Tensor, target, reduction: str = "mean") -> Tensor:
    target = _as_tensor_like(target, logits)
    _same_shape(logits, target, "binary_cross_entropy_with_logits")
    if target.dtype.kind != "f":
        target = target.to(dtype=logits.dtype)
    return _reduce(BCEWithLogits.apply(logits, target), reduction,
                   "binary_cross_entropy_with_logits")
