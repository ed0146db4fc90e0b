"""Searching and counting with PyTorch's semantics: ``searchsorted``, ``bucketize``, ``unique``,
``unique_consecutive``, ``histc``, ``histogram``, ``bincount``. None has a gradient (their
results are indices and counts); they are kernels on the input's backend."""

from __future__ import annotations

import collections
import numbers
from typing import Any

from gradflow.dtypes import is_floating
from gradflow.ops._util import norm_axes, tensor_arg
from gradflow.tensor import Tensor

_histogram_t = collections.namedtuple("histogram", ["hist", "bin_edges"])


def _wrap(x, b) -> Tensor:
    return Tensor.wrap(x, b)


def _values(op: str, values, like: Tensor):
    """A Tensor or a number on ``like``'s device (a number gives a 0-d result)."""
    if isinstance(values, Tensor):
        if values._backend is not like._backend:
            raise RuntimeError(f"{op}(): expected all tensors on one device, got {like.device} "
                               f"and {values.device}")
        return values.array
    if isinstance(values, numbers.Number) and not isinstance(values, complex):
        return like._backend.xp.asarray(values)
    raise TypeError(f"{op}(): argument 'input' must be a Tensor or a number, got "
                    f"{type(values).__name__}")


def searchsorted(sorted_sequence: Tensor, input: Any, *, out_int32: bool = False,  # noqa: A002
                 right: bool = False, side: str | None = None, sorter: Tensor | None = None
                 ) -> Tensor:
    """For each value of input, the index in ``sorted_sequence`` (along its last dim) where it
    would be inserted to keep the order: the first such (``right``/``side='right'``: the last).
    A 1-d sequence serves every value; an N-d one must match input's leading dims."""
    op = "searchsorted"
    tensor_arg(sorted_sequence, op, "sorted_sequence")
    if side is not None:
        if side not in ("left", "right"):
            raise RuntimeError(f"{op}(): side must be 'left' or 'right', got {side!r}")
        if right and side == "left":
            raise RuntimeError(f"{op}(): side and right can't be set to opposites, got side "
                               "'left' while right was True")
        right = side == "right"
    seq_t = sorted_sequence
    xp, b = seq_t._backend.xp, seq_t._backend
    vals = _values(op, input, seq_t)
    seq = seq_t.array
    if sorter is not None:
        tensor_arg(sorter, op, "sorter")
        if tuple(sorter.shape) != tuple(seq.shape) or sorter.dtype.kind not in "iu":
            raise RuntimeError(f"{op}(): sorter must be an integer tensor of the sequence's "
                               f"shape {tuple(seq.shape)}, got {sorter.dtype} "
                               f"{tuple(sorter.shape)}")
        seq = xp.take_along_axis(seq, sorter.array.astype("int64"), axis=-1)
    if seq.ndim == 0:
        raise RuntimeError(f"{op}(): sorted_sequence must have at least one dimension")
    how = "right" if right else "left"
    dtype = "int32" if out_int32 else "int64"
    if seq.ndim == 1:
        return _wrap(xp.searchsorted(seq, vals, side=how).astype(dtype), b)
    if vals.ndim != seq.ndim or vals.shape[:-1] != seq.shape[:-1]:
        raise RuntimeError(f"{op}(): the sequence must be 1-d or its leading dims must match "
                           f"input's: got sorted_sequence {tuple(seq.shape)} and input "
                           f"{tuple(vals.shape)}")
    rows_s = seq.reshape(-1, seq.shape[-1])
    rows_v = vals.reshape(-1, vals.shape[-1])
    out = xp.stack([xp.searchsorted(s, v, side=how) for s, v in zip(rows_s, rows_v)]) \
        if rows_s.shape[0] else xp.zeros(rows_v.shape, dtype=dtype)
    return _wrap(out.reshape(vals.shape).astype(dtype), b)


def bucketize(input: Any, boundaries: Tensor, *, out_int32: bool = False,  # noqa: A002
              right: bool = False) -> Tensor:
    """The bucket of each value of input among the 1-d ``boundaries``: i with
    boundaries[i-1] < x <= boundaries[i] (``right``: boundaries[i-1] <= x < boundaries[i])."""
    tensor_arg(boundaries, "bucketize", "boundaries")
    if boundaries.ndim != 1:
        raise RuntimeError(f"bucketize(): boundaries must be 1-d, got shape "
                           f"{tuple(boundaries.shape)}")
    return searchsorted(boundaries, input, out_int32=out_int32, right=right)


def _moved_rows(arr, dim: int, xp):
    """``arr`` with ``dim`` first, flattened to (n, rest) rows for whole-slice comparisons."""
    moved = xp.moveaxis(arr, dim, 0)
    return moved, moved.reshape(moved.shape[0], -1)


def unique(input: Tensor, sorted: bool = True, return_inverse: bool = False,  # noqa: A002
           return_counts: bool = False, dim: int | None = None):
    """The distinct values (``dim``: the distinct slices along dim), sorted; with
    ``return_inverse`` each element's (slice's) position among them, with ``return_counts``
    how often each occurs. NaNs are all distinct, as in PyTorch. (``sorted=False`` also sorts:
    PyTorch leaves that order open.)"""
    return _runs("unique", input, True, return_inverse, return_counts, dim)


def unique_consecutive(input: Tensor, return_inverse: bool = False,  # noqa: A002
                       return_counts: bool = False, dim: int | None = None):
    """The values (``dim``: slices) with consecutive repeats collapsed to one; inverse and
    counts as in :func:`unique`."""
    return _runs("unique_consecutive", input, False, return_inverse, return_counts, dim)


def _runs(op: str, input: Tensor, ordered: bool, return_inverse: bool,  # noqa: A002
          return_counts: bool, dim: int | None):
    """One value (slice along ``dim``) per run of equal ones, in sorted order (``ordered``:
    :func:`unique`) or as they come (:func:`unique_consecutive`)."""
    tensor_arg(input, op)
    xp, b = input._backend.xp, input._backend
    arr = input.array
    if dim is None:
        flat = arr.reshape(-1)
        order = _argsort_stable(xp, flat) if ordered else xp.arange(flat.shape[0])
        s = flat[order] if ordered else flat
        new = _new_runs(xp, s[:, None])
        return _finish(xp, b, s[new], new, order, arr.shape, return_inverse, return_counts)
    d = norm_axes(dim, arr.ndim, op)[0]
    moved, rows = _moved_rows(arr, d, xp)
    if ordered and rows.shape[0] and rows.shape[1]:  # lexicographic (the last key is primary)
        order = xp.lexsort(rows.T[::-1])
        moved, rows = moved[order], rows[order]
    else:
        order = xp.arange(rows.shape[0])
    new = _new_runs(xp, rows)
    return _finish(xp, b, xp.moveaxis(moved[new], 0, d), new, order, (moved.shape[0],),
                   return_inverse, return_counts)


def _argsort_stable(xp, a):
    return xp.argsort(a, kind="stable") if xp.__name__ == "numpy" else xp.argsort(a)


def _new_runs(xp, rows):
    """Whether each row starts a new run (differs from the previous one; NaN differs)."""
    new = xp.ones(rows.shape[0], dtype=bool)
    if rows.shape[0] > 1:
        new[1:] = (rows[1:] != rows[:-1]).any(axis=1)
    return new


def _finish(xp, b, values, new, order, shape, return_inverse, return_counts):
    out = [_wrap(values, b)]
    if return_inverse:
        inv = xp.empty(order.shape[0], dtype="int64")
        inv[order] = xp.cumsum(new) - 1
        out.append(_wrap(inv.reshape(shape), b))
    if return_counts:
        starts = xp.flatnonzero(new)
        out.append(_wrap(xp.diff(xp.append(starts, new.shape[0])).astype("int64"), b))
    return out[0] if len(out) == 1 else tuple(out)


def _float_input(op: str, input: Tensor) -> None:  # noqa: A002
    tensor_arg(input, op)
    if not is_floating(input.dtype):
        raise NotImplementedError(f"{op}(): not implemented for {input.dtype} input; convert "
                                  "it to a floating dtype first (.float())")


def histc(input: Tensor, bins: int = 100, min: float = 0, max: float = 0) -> Tensor:  # noqa: A002
    """Counts of input's values in ``bins`` equal bins over [min, max] (both 0: the data's
    range; an empty range widens by 1 each side); values outside are ignored, max goes to the
    last bin. The result has input's dtype."""
    op = "histc"
    _float_input(op, input)
    if isinstance(bins, bool) or not isinstance(bins, int) or bins <= 0:
        raise RuntimeError(f"{op}(): bins must be a positive int, got {bins!r}")
    xp, b = input._backend.xp, input._backend
    a = input.array.reshape(-1)
    lo, hi = float(min), float(max)
    if lo == hi and a.size:
        finite = a[xp.isfinite(a)]
        if finite.size:
            lo, hi = float(finite.min()), float(finite.max())
    if lo == hi:
        lo, hi = lo - 1, hi + 1
    if lo > hi:
        raise RuntimeError(f"{op}(): max must be larger than min, got min={min} max={max}")
    lo_t, hi_t = a.dtype.type(lo), a.dtype.type(hi)
    keep = (a >= lo_t) & (a <= hi_t)
    v = a[keep]
    pos = ((v - lo_t) * a.dtype.type(bins) / (hi_t - lo_t)).astype("int64")
    pos = xp.minimum(pos, bins - 1)
    return _wrap(xp.bincount(pos, minlength=bins).astype(a.dtype), b)


def histogram(input: Tensor, bins: Any, *, range: tuple | None = None,  # noqa: A002
              weight: Tensor | None = None, density: bool = False):
    """``(hist, bin_edges)``: ``bins`` equal bins over ``range`` (default: the data's; an
    empty range widens by 0.5 each side) or the given 1-d edges; the last bin is closed.
    ``weight`` weighs each element; ``density`` divides by the total and the widths."""
    op = "histogram"
    _float_input(op, input)
    xp, b = input._backend.xp, input._backend
    a = input.array.reshape(-1)
    w = None
    if weight is not None:
        tensor_arg(weight, op, "weight")
        if tuple(weight.shape) != tuple(input.shape) or weight.dtype != input.dtype:
            raise RuntimeError(f"{op}(): weight must have input's shape {tuple(input.shape)} "
                               f"and dtype {input.dtype}, got {tuple(weight.shape)} "
                               f"{weight.dtype}")
        w = weight.array.reshape(-1)
    if isinstance(bins, Tensor):
        if bins.ndim != 1 or bins.shape[0] < 1 or bins.dtype != input.dtype:
            raise RuntimeError(f"{op}(): bins must be a 1-d tensor of edges of input's dtype "
                               f"{input.dtype}, got {bins.dtype} {tuple(bins.shape)}")
        edges = bins.array
    else:
        if isinstance(bins, bool) or not isinstance(bins, int) or bins <= 0:
            raise RuntimeError(f"{op}(): bins must be a positive int or a 1-d tensor of "
                               f"edges, got {bins!r}")
        if range is not None:
            lo, hi = float(range[0]), float(range[1])
            if lo > hi:
                raise RuntimeError(f"{op}(): range must satisfy min <= max, got {range}")
        elif a.size:
            lo, hi = float(a.min()), float(a.max())
        else:
            lo, hi = 0.0, 0.0
        if lo == hi:
            lo, hi = lo - 0.5, hi + 0.5
        edges = _linspace(xp, lo, hi, bins + 1, a.dtype)
    hist, _ = xp.histogram(a, bins=edges, weights=w)
    hist = hist.astype(a.dtype)
    if density:
        widths = xp.diff(edges)
        hist = hist / (hist.sum() * widths)
    return _histogram_t(_wrap(hist.astype(a.dtype), b), _wrap(edges, b))


def _linspace(xp, lo: float, hi: float, n: int, dtype):
    """PyTorch's linspace: the step in ``dtype``, then ``lo + step * i`` up to the halfway
    point and ``hi - step * (n - 1 - i)`` after it, each rounded once (torch's fused
    multiply-add, emulated in float64), so float32 edges equal torch's bit for bit."""
    t = xp.dtype(dtype).type
    step = float((t(hi) - t(lo)) / t(max(n - 1, 1)))
    i = xp.arange(n, dtype="float64")
    lo, hi = float(t(lo)), float(t(hi))
    return xp.where(i < n // 2, lo + step * i, hi - step * (n - 1 - i)).astype(dtype)


def bincount(input: Tensor, weights: Tensor | None = None, minlength: int = 0) -> Tensor:  # noqa: A002
    """How often each value 0..max occurs in the 1-d non-negative integer input (at least
    ``minlength`` bins); with ``weights`` the sum of their weights (float64; float32 weights
    give float32)."""
    op = "bincount"
    tensor_arg(input, op)
    xp, b = input._backend.xp, input._backend
    a = input.array
    if is_floating(a.dtype):
        raise NotImplementedError(f"{op}(): not implemented for {a.dtype} input; pass integers")
    if a.ndim != 1 or a.dtype.kind not in "iub" or (a.size and int(a.min()) < 0):
        raise RuntimeError(f"{op}(): only 1-d non-negative integral inputs are supported, got "
                           f"{a.dtype} of shape {tuple(a.shape)}")
    if isinstance(minlength, bool) or not isinstance(minlength, int) or minlength < 0:
        raise RuntimeError(f"{op}(): minlength must be a non-negative int, got {minlength!r}")
    if weights is None:
        return _wrap(xp.bincount(a, minlength=minlength).astype("int64"), b)
    tensor_arg(weights, op, "weights")
    if tuple(weights.shape) != tuple(a.shape):
        raise RuntimeError(f"{op}(): weights must have input's shape {tuple(a.shape)}, got "
                           f"{tuple(weights.shape)}")
    dtype = "float32" if weights.dtype.name == "float32" else "float64"
    return _wrap(xp.bincount(a, weights=weights.array, minlength=minlength).astype(dtype), b)


from gradflow.tensor import tensor_methods  # noqa: E402

tensor_methods(unique=unique, unique_consecutive=unique_consecutive, histc=histc,
               histogram=histogram, bincount=bincount)

__all__ = ["searchsorted", "bucketize", "unique", "unique_consecutive", "histc", "histogram",
           "bincount"]
