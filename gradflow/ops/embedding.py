"""Embedding lookup (rows of a weight matrix by integer index) and one-hot encoding.

The gradient of a lookup is a scatter-add of the upstream rows into a zero weight gradient
(repeated indices accumulate), never a dense one-hot product: ``EmbeddingGather`` and
``EmbeddingScatter`` are each other's adjoints, so the lookup is differentiable to every order.
"""

from __future__ import annotations

from gradflow.autograd.function import Function
from gradflow.autograd.grad_mode import no_grad
from gradflow.ops._util import tensor_arg
from gradflow.tensor import Tensor

_INDEX_KINDS = ("int64", "int32")


class EmbeddingGather(Function):
    """``weight[indices]`` (times ``factor`` when ``scaled``); its vjp scatters the upstream
    rows, each times its ``factor`` (0 at ``padding_idx``, 1/count with
    ``scale_grad_by_freq``), into a ``(num_weights, D)`` gradient."""

    @staticmethod
    def forward(ctx, weight, indices, factor, scaled):
        ctx.indices, ctx.factor, ctx.num_weights = indices, factor, weight.shape[0]
        return ctx.k.embedding_gather(weight, indices, factor if scaled else None)

    @staticmethod
    def vjp(ctx, g):
        return ctx.k.embedding_scatter(g, ctx.indices, ctx.factor, ctx.num_weights)

    @staticmethod
    def backward(ctx, g):
        return EmbeddingScatter.apply(g, ctx.indices, ctx.factor, ctx.num_weights)


class EmbeddingScatter(Function):
    """Zeros ``(num_weights, D)`` with row i of ``g`` times ``factor[i]`` added at
    ``indices[i]`` (the adjoint of the scaled gather)."""

    @staticmethod
    def forward(ctx, g, indices, factor, num_weights):
        ctx.indices, ctx.factor = indices, factor
        return ctx.k.embedding_scatter(g, indices, factor, num_weights)

    @staticmethod
    def vjp(ctx, gg):
        return ctx.k.embedding_gather(gg, ctx.indices, ctx.factor)

    @staticmethod
    def backward(ctx, gg):
        return EmbeddingGather.apply(gg, ctx.indices, ctx.factor, True)


def _check_indices(input: Tensor, op: str, argument: str) -> None:  # noqa: A002
    if input.dtype.name not in _INDEX_KINDS:
        raise RuntimeError(f"{op}: expected '{argument}' to have an integer dtype (int64 or "
                           f"int32), got {input.dtype}; convert it with .long()")


def embedding(input: Tensor, weight: Tensor, padding_idx: int | None = None,  # noqa: A002
              max_norm: float | None = None, norm_type: float = 2.0,
              scale_grad_by_freq: bool = False, sparse: bool = False) -> Tensor:
    """Rows of ``weight`` ``(num_embeddings, D)`` at the integer ``input`` (any shape): the
    result has shape ``input.shape + (D,)``.

    ``padding_idx``: that row receives no gradient. ``max_norm``: the looked-up rows whose
    ``norm_type``-norm exceeds it are rescaled in place to norm ``max_norm`` first (as
    PyTorch). ``scale_grad_by_freq``: each row's gradient is divided by how often its index
    occurs in ``input``. Gradients are dense; ``sparse=True`` is not supported.
    """
    tensor_arg(input, "embedding")
    tensor_arg(weight, "embedding", "weight")
    _check_indices(input, "embedding", "input (the indices)")
    if weight.ndim != 2:
        raise RuntimeError(f"embedding: 'weight' must be 2-D (num_embeddings, embedding_dim), "
                           f"got shape {tuple(weight.shape)}")
    if sparse:
        raise NotImplementedError("embedding: sparse=True (a sparse weight gradient) is not "
                                  "supported: gradflow's gradients are dense; pass sparse=False")
    n = weight.shape[0]
    if padding_idx is not None:
        if not -n <= padding_idx < n:
            raise AssertionError(f"embedding: padding_idx must be within num_embeddings "
                                 f"({n}), i.e. in [-{n}, {n}), got {padding_idx}")
        padding_idx = padding_idx + n if padding_idx < 0 else padding_idx
    xp = input.backend.xp
    idx = input.array
    if idx.size:
        lo, hi = int(idx.min()), int(idx.max())
        if lo < 0 or hi >= n:
            bad = lo if lo < 0 else hi
            raise IndexError(f"embedding: index {bad} is out of range for a weight of "
                             f"num_embeddings={n} (indices must be in [0, {n})); index out of "
                             "range in self")
    if idx.dtype != xp.int64:
        idx = idx.astype(xp.int64)
    if max_norm is not None:
        with no_grad():
            weight.backend.k.embedding_renorm_(weight.array, idx, float(max_norm),
                                               float(norm_type))
        weight.increment_version()
    factor = None
    if padding_idx is not None or scale_grad_by_freq:
        factor = weight.backend.k.embedding_grad_factor(idx, n, padding_idx,
                                                        bool(scale_grad_by_freq), weight.dtype)
    return EmbeddingGather.apply(weight, idx, factor, False)


def one_hot(input: Tensor, num_classes: int = -1) -> Tensor:  # noqa: A002
    """int64 ``input.shape + (num_classes,)``: 1 at each value's position, 0 elsewhere
    (``num_classes=-1``: max(input) + 1). Not differentiable."""
    tensor_arg(input, "one_hot")
    if input.dtype.name != "int64":
        raise RuntimeError(f"one_hot is only applicable to index tensor of type LongTensor "
                           f"(int64), got {input.dtype}; convert it with .long()")
    a = input.array
    xp = input.backend.xp
    if num_classes == -1:
        if a.size == 0:
            raise RuntimeError("one_hot: can not infer total number of classes from empty "
                               "tensor; pass num_classes")
        num_classes = int(a.max()) + 1
    if a.size:
        if int(a.min()) < 0:
            raise RuntimeError(f"one_hot: class values must be non-negative, got "
                               f"{int(a.min())}")
        if int(a.max()) >= num_classes:
            raise RuntimeError(f"one_hot: class values must be smaller than num_classes "
                               f"({num_classes}), got {int(a.max())}")
    out = (a[..., None] == xp.arange(num_classes)).astype(xp.int64)
    return Tensor.wrap(out, input.backend)


__all__ = ["embedding", "one_hot"]
