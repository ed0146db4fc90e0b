"""Rearranging ops (PyTorch's semantics): flip, roll, tile, repeat_interleave, chunk, split,
unbind, narrow, movedim/moveaxis, swapaxes/swapdims.

Each is composed of differentiable ops (indexing, ``cat``, ``permute``, ``repeat``), so its
gradients of every order come from theirs: the gradient of a gather by repeated indices
(``repeat_interleave``) accumulates, that of a slice (``split``, ``narrow``) is zero outside it.
"""

from __future__ import annotations

import numbers

from gradflow.ops._util import tensor_arg
from gradflow.ops.shape import _dim, concatenate, reshape, transpose
from gradflow.ops.shape import swapaxes as _swap
from gradflow.tensor import Tensor, tensor_methods


def _int(value, op: str, name: str) -> int:
    if isinstance(value, Tensor) and value.ndim == 0 and value.dtype.kind in "iu":
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{op}(): argument '{name}' must be an int, got {value!r} "
                        f"({type(value).__name__})")
    return int(value)


def _ints(values, op: str, name: str) -> tuple[int, ...]:
    """An int or a sequence of ints (also given as several arguments) as a tuple of ints."""
    if len(values) == 1 and isinstance(values[0], tuple | list):
        values = tuple(values[0])
    elif len(values) == 1 and isinstance(values[0], Tensor) and values[0].ndim == 1:
        values = tuple(values[0].tolist())
    return tuple(_int(v, op, name) for v in values)


def _dims(dims, ndim: int, op: str) -> tuple[int, ...]:
    out = tuple(_dim(d, ndim, op) for d in dims)
    for d in out:
        if out.count(d) > 1:
            raise RuntimeError(f"{op}: dim {d} appears multiple times in the list of dims "
                               f"{list(dims)}; name each dim once")
    return out


def _along(d: int, index) -> tuple:
    return (slice(None),) * d + (index,)


def flip(input: Tensor, *dims) -> Tensor:  # noqa: A002
    """The elements of ``input`` in reverse order along each of ``dims`` (a tuple, or ints as
    NumPy's ``flip`` and PyTorch's method take them)."""
    tensor_arg(input, "flip")
    axes = _dims(_ints(dims, "flip", "dims"), input.ndim, "flip")
    if not axes or input.ndim == 0:
        return input.clone()
    index = [slice(None)] * input.ndim
    for d in axes:
        index[d] = slice(None, None, -1)
    return input[tuple(index)]


def fliplr(input: Tensor) -> Tensor:  # noqa: A002
    """Columns reversed (dim 1); the input needs at least 2 dims."""
    tensor_arg(input, "fliplr")
    if input.ndim < 2:
        raise RuntimeError(f"fliplr: input must be >= 2-d, got shape {input.shape}")
    return flip(input, (1,))


def flipud(input: Tensor) -> Tensor:  # noqa: A002
    """Rows reversed (dim 0); the input needs at least 1 dim."""
    tensor_arg(input, "flipud")
    if input.ndim < 1:
        raise RuntimeError("flipud: input must be >= 1-d, got a 0-d tensor")
    return flip(input, (0,))


def roll(input: Tensor, shifts, dims=None) -> Tensor:  # noqa: A002
    """Elements shifted by ``shifts[i]`` along ``dims[i]``, wrapping around; with no ``dims``
    the tensor is rolled flattened and reshaped back."""
    tensor_arg(input, "roll")
    shifts = _ints((shifts,), "roll", "shifts")
    dims = () if dims is None else _ints((dims,), "roll", "dims")
    if not dims:
        if len(shifts) != 1:
            raise RuntimeError(f"roll: shifts and dimensions must align; got {len(shifts)} "
                               "shifts and no dims (pass one dim per shift)")
        flat = roll(reshape(input, (-1,)), shifts, (0,))
        return reshape(flat, input.shape)
    if len(shifts) != len(dims):
        raise RuntimeError(f"roll: shifts and dimensions must align; got {len(shifts)} shifts "
                           f"{shifts} and {len(dims)} dims {dims}")
    if input.ndim == 0:
        raise IndexError(f"roll: dimension specified as {dims[0]} but the tensor has no "
                         "dimensions")
    out = input
    for shift, dim in zip(shifts, dims):
        d = _dim(dim, input.ndim, "roll")
        n = input.shape[d]
        s = shift % n if n else 0
        if s:
            out = concatenate([out[_along(d, slice(n - s, n))], out[_along(d, slice(0, n - s))]],
                              d)
    return out if out is not input else input.clone()


def tile(input: Tensor, *dims) -> Tensor:  # noqa: A002
    """``input`` repeated ``dims[i]`` times along dim i; fewer ``dims`` than dimensions are
    padded with leading 1s (PyTorch's ``tile``; ``repeat`` with that padding)."""
    tensor_arg(input, "tile")
    reps = _ints(dims, "tile", "dims")
    for r in reps:
        if r < 0:
            raise RuntimeError(f"tile: repetitions must be non-negative, got dims={reps}")
    reps = (1,) * (input.ndim - len(reps)) + reps
    return input.repeat(reps) if reps else input.clone()


def repeat_interleave(input: Tensor, repeats=None, dim=None, *,  # noqa: A002
                      output_size: int | None = None) -> Tensor:
    """Each element (or slice along ``dim``) repeated ``repeats`` times in place, with
    ``repeats`` an int or a 0-d/1-d integer Tensor (one count per slice). ``dim=None``
    flattens first. ``repeat_interleave(counts)`` alone gives the indices ``0, 0, 1, ...``
    repeated by ``counts``."""
    tensor_arg(input, "repeat_interleave")
    backend = input._backend
    xp = backend.xp
    if repeats is None:  # repeat_interleave(repeats): the index of each repetition
        if input.dtype.kind not in "iu" or input.ndim > 1:
            raise RuntimeError(f"repeat_interleave: expected a 0-d or 1-d integer tensor of "
                               f"counts, got {input.dtype} of shape {input.shape}")
        counts = input.reshape(-1)
        idx = Tensor._make(xp.arange(counts.shape[0], dtype="int64"), backend)
        return repeat_interleave(idx, counts, 0, output_size=output_size)
    if dim is None:
        x, d = reshape(input, (-1,)), 0
    else:
        d = _dim(_int(dim, "repeat_interleave", "dim"), input.ndim, "repeat_interleave")
        x = input if input.ndim else reshape(input, (1,))
    n = x.shape[d]
    if isinstance(repeats, Tensor):
        if repeats.dtype.kind not in "iu":
            raise RuntimeError(f"repeat_interleave: repeats must be an integer tensor, got "
                               f"{repeats.dtype}")
        if repeats.ndim > 1:
            raise RuntimeError(f"repeat_interleave: repeats must be a 0-dim or 1-dim tensor, "
                               f"got shape {repeats.shape}")
        counts = repeats.array.reshape(-1)
        if counts.shape[0] == 1:
            counts = counts.repeat(n)
        if counts.shape[0] != n:
            raise RuntimeError(f"repeat_interleave: repeats must have the same size as input "
                               f"along dim {d}, but got repeats.size(0) = {counts.shape[0]} "
                               f"and input.size({d}) = {n}")
        if counts.size and bool((counts < 0).any()):
            raise RuntimeError("repeat_interleave: repeats can not be negative, got "
                               f"{repeats.tolist()}")
    else:
        r = _int(repeats, "repeat_interleave", "repeats")
        if r < 0:
            raise RuntimeError(f"repeat_interleave: repeats must be non-negative, got {r}")
        counts = r
    if not isinstance(counts, int):  # host ints: the output's size depends on them, and
        counts = [int(c) for c in counts.tolist()]  # CuPy's repeat takes a list, not an array
    idx = xp.repeat(xp.arange(n, dtype="int64"), counts) if n else xp.zeros(0, dtype="int64")
    if output_size is not None and int(output_size) != idx.shape[0]:
        raise RuntimeError(f"repeat_interleave: invalid output_size, expected {idx.shape[0]} "
                           f"but got {output_size}")
    return x[_along(d, idx)]


def _split_dim(input: Tensor, dim, op: str) -> int:  # noqa: A002
    tensor_arg(input, op)
    if input.ndim == 0:
        raise RuntimeError(f"{op}: expects at least a 1-dimensional tensor, got a 0-d tensor")
    return _dim(_int(dim, op, "dim"), input.ndim, op)


def _pieces(input: Tensor, d: int, sizes) -> tuple[Tensor, ...]:  # noqa: A002
    out, start = [], 0
    for s in sizes:
        out.append(input[_along(d, slice(start, start + s))])
        start += s
    return tuple(out)


def split(tensor: Tensor, split_size_or_sections, dim: int = 0) -> tuple[Tensor, ...]:
    """Pieces of ``split_size`` along ``dim`` (the last one smaller), or of the listed sizes
    (which must sum to the dim's size)."""
    d = _split_dim(tensor, dim, "split")
    n = tensor.shape[d]
    if isinstance(split_size_or_sections, tuple | list):
        sizes = [_int(s, "split", "split_size_or_sections") for s in split_size_or_sections]
        if any(s < 0 for s in sizes):
            raise RuntimeError(f"split_with_sizes expects split_sizes have only non-negative "
                               f"entries, but got split_sizes={sizes}")
        if sum(sizes) != n:
            raise RuntimeError(f"split_with_sizes expects split_sizes to sum exactly to {n} "
                               f"(input tensor's size at dimension {d}), but got "
                               f"split_sizes={sizes}")
        return _pieces(tensor, d, sizes)
    size = _int(split_size_or_sections, "split", "split_size_or_sections")
    if size < 0:
        raise RuntimeError(f"split expects split_size be non-negative, but got "
                           f"split_size={size}")
    if size == 0 and n:
        raise RuntimeError(f"split_size can only be 0 if dimension size is 0, but got "
                           f"dimension size of {n}")
    count = max(-(-n // size), 1) if size else 1
    return _pieces(tensor, d, [size] * (count - 1) + [n - size * (count - 1)])


def chunk(input: Tensor, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:  # noqa: A002
    """At most ``chunks`` pieces of ``ceil(n / chunks)`` along ``dim`` (fewer when they run
    out, as PyTorch)."""
    d = _split_dim(input, dim, "chunk")
    chunks = _int(chunks, "chunk", "chunks")
    if chunks <= 0:
        raise RuntimeError(f"chunk expects `chunks` to be greater than 0, got: {chunks}")
    n = input.shape[d]
    if n == 0:
        return _pieces(input, d, [0] * chunks)
    return split(input, -(-n // chunks), d)


def unbind(input: Tensor, dim: int = 0) -> tuple[Tensor, ...]:  # noqa: A002
    """The slices along ``dim``, with that dim removed."""
    tensor_arg(input, "unbind")
    dim = _int(dim, "unbind", "dim")
    if input.ndim == 0:
        raise IndexError(f"unbind: dimension specified as {dim} but the tensor has no "
                         "dimensions")
    d = _dim(dim, input.ndim, "unbind")
    return tuple(input[_along(d, i)] for i in range(input.shape[d]))


def narrow(input: Tensor, dim: int, start, length: int) -> Tensor:  # noqa: A002
    """``length`` elements along ``dim`` from ``start`` (an int or a 0-d integer Tensor;
    negative counts from the end)."""
    tensor_arg(input, "narrow")
    if input.ndim == 0:
        raise RuntimeError("narrow() cannot be applied to a 0-dim tensor")
    d = _dim(_int(dim, "narrow", "dim"), input.ndim, "narrow")
    if isinstance(start, Tensor) and (start.ndim != 0 or start.dtype.kind not in "iu"):
        raise RuntimeError(f"narrow: start must be a 0-dim integral Tensor, got {start.dtype} "
                           f"of shape {start.shape}")
    start, length = _int(start, "narrow", "start"), _int(length, "narrow", "length")
    n = input.shape[d]
    if not -n <= start <= n:
        raise IndexError(f"narrow: start out of range (expected to be in range of [{-n}, {n}], "
                         f"but got {start})")
    if length < 0:
        raise RuntimeError(f"narrow(): length must be non-negative, got {length}")
    start = start + n if start < 0 else start
    if start + length > n:
        raise RuntimeError(f"narrow: start ({start}) + length ({length}) exceeds dimension "
                           f"size ({n}) of dim {d}")
    return input[_along(d, slice(start, start + length))]


def movedim(input: Tensor, source, destination) -> Tensor:  # noqa: A002
    """Dims ``source`` moved to positions ``destination`` (ints or sequences); the others
    keep their order."""
    tensor_arg(input, "movedim")
    src = _ints((source,), "movedim", "source")
    dst = _ints((destination,), "movedim", "destination")
    if len(src) != len(dst):
        raise RuntimeError(f"movedim: invalid source or destination dims: source ({list(src)} "
                           f"dims) should contain the same number of dims as destination "
                           f"({list(dst)} dims)")
    nd = input.ndim
    src = tuple(_dim(s, nd, "movedim") for s in src)
    dst = tuple(_dim(s, nd, "movedim") for s in dst)
    for name, ds in (("source", src), ("destination", dst)):
        if len(set(ds)) != len(ds):
            raise RuntimeError(f"movedim: repeated dim in `{name}` ({list(ds)})")
    if nd == 0:
        return input
    order = [i for i in range(nd) if i not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return transpose(input, tuple(order))


def moveaxis(input: Tensor, source, destination) -> Tensor:  # noqa: A002
    """NumPy's name for :func:`movedim`."""
    return movedim(input, source, destination)


def swapaxes(input: Tensor, axis0: int, axis1: int) -> Tensor:  # noqa: A002
    """Dims ``axis0`` and ``axis1`` swapped (PyTorch's ``transpose``)."""
    tensor_arg(input, "swapaxes")
    return _swap(input, _int(axis0, "swapaxes", "axis0"), _int(axis1, "swapaxes", "axis1"))


def swapdims(input: Tensor, dim0: int, dim1: int) -> Tensor:  # noqa: A002
    """Dims ``dim0`` and ``dim1`` swapped (PyTorch's ``transpose``)."""
    tensor_arg(input, "swapdims")
    return _swap(input, _int(dim0, "swapdims", "dim0"), _int(dim1, "swapdims", "dim1"))


tensor_methods(flip=flip, fliplr=fliplr, flipud=flipud, roll=roll, tile=tile,
               repeat_interleave=repeat_interleave, split=split, chunk=chunk, unbind=unbind,
               narrow=narrow, movedim=movedim, moveaxis=moveaxis, swapdims=swapdims)
