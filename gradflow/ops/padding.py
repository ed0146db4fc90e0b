"""``F.pad``: constant, reflect, replicate and circular padding (PyTorch's ``pad`` tuple:
``(left, right)`` of the last dim first, then of the dim before it, ...).

Composed from existing ops, so every mode is differentiable to any order: constant padding is a
``cat`` with filled blocks (negative widths crop); the other modes gather along each padded dim
with an index map (reflect ``i ↦ |i|`` mirrored at the ends without repeating the edge,
replicate ``i ↦ clamp(i)``, circular ``i ↦ i mod n``), whose backward accumulates repeated
indices."""

from __future__ import annotations

from gradflow.ops._util import tensor_arg
from gradflow.ops.shape import concatenate
from gradflow.tensor import Tensor

_MODES = ("constant", "reflect", "replicate", "circular")


def _source_index(i: int, n: int, mode: str) -> int:
    """The input position that output position ``i`` (``0 <= i + left``...) copies, ``i`` in
    input coordinates (negative: before the start)."""
    if mode == "replicate":
        return min(max(i, 0), n - 1)
    if mode == "circular":
        return i % n
    period = 2 * (n - 1)  # reflect: ... 2 1 [0 1 2 ... n-1] n-2 ...
    i = abs(i) % period if period else 0
    return period - i if i >= n else i


def pad(input: Tensor, pad: tuple[int, ...], mode: str = "constant",  # noqa: A002
        value: float | None = None) -> Tensor:
    """Pad the last ``len(pad) // 2`` dims of ``input``: ``pad = (left_{-1}, right_{-1},
    left_{-2}, right_{-2}, ...)``. ``value`` fills ``"constant"`` padding (default 0)."""
    x = tensor_arg(input, "pad")
    if isinstance(pad, int) or not all(isinstance(p, int) and not isinstance(p, bool)
                                       for p in pad):
        raise TypeError(f"pad(): argument 'pad' must be a tuple of ints, got {pad!r}")
    pad = tuple(pad)
    if len(pad) % 2 or len(pad) // 2 > x.ndim:
        raise ValueError(f"pad(): padding length must be even and at most twice the number of "
                         f"dims ({x.ndim}), got pad={pad}")
    if mode not in _MODES:
        raise NotImplementedError(f"pad(): mode must be one of {_MODES}, got {mode!r}")
    if mode != "constant" and value not in (None, 0, 0.0):
        raise ValueError(f"pad(): padding mode {mode!r} does not take a value (got {value})")
    for k in range(len(pad) // 2):
        dim = x.ndim - 1 - k
        left, right = pad[2 * k], pad[2 * k + 1]
        n = x.shape[dim]
        if mode == "constant":
            x = _constant(x, dim, left, right, 0.0 if value is None else value)
            continue
        if left < 0 or right < 0:
            raise ValueError(f"pad(): {mode} padding takes non-negative widths, got {pad}")
        limit = n - 1 if mode == "reflect" else n
        if n == 0 or (mode != "replicate" and max(left, right) > limit):
            raise ValueError(f"pad(): {mode} padding ({left}, {right}) of dim {dim} must be at "
                             f"most {limit} for its size {n} (input shape {x.shape})")
        if left == right == 0:
            continue
        idx = [_source_index(i, n, mode) for i in range(-left, n + right)]
        index = Tensor._make(x._backend.xp.asarray(idx, dtype="int64"), x._backend)
        x = x[(slice(None),) * dim + (index,)]
    return x


def _constant(x: Tensor, dim: int, left: int, right: int, value: float) -> Tensor:
    n = x.shape[dim]
    if left + n + right < 0:
        raise ValueError(f"pad(): negative padding ({left}, {right}) crops dim {dim} of size "
                         f"{n} below zero")
    start, stop = max(-left, 0), n - max(-right, 0)
    if start or stop != n:
        x = x[(slice(None),) * dim + (slice(start, max(stop, start)),)]
    parts = []
    for width in (left, right):
        shape = list(x.shape)
        shape[dim] = max(width, 0)
        parts.append(Tensor._make(x._backend.xp.full(tuple(shape), value, dtype=x.array.dtype),
                                  x._backend))
    if left <= 0 and right <= 0:
        return x
    return concatenate([parts[0], x, parts[1]], dim)
