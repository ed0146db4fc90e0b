"""PyTorch's top-level shape tail: clone, ravel, select, unflatten, broadcast_{tensors,to,shapes},
atleast_{1,2,3}d, {h,v,d,column_}stack, tensor_split and {h,v,d}split, rot90, diagflat,
block_diag, cartesian_prod, combinations, tril/triu_indices, vander, cross, diff,
pixel_(un)shuffle and chain_matmul. All compose differentiable ops (views, cat, flips, pads)."""

from __future__ import annotations

import itertools
import operator
from functools import reduce

from gradflow.dtypes import as_dtype, int64
from gradflow.ops._promote import result_dtype
from gradflow.ops._util import tensor_arg
from gradflow.ops.arithmetic import mul, sub
from gradflow.ops.logical import logical_xor
from gradflow.ops.padding import pad
from gradflow.ops.rearrange import flip
from gradflow.ops.scan import cumprod
from gradflow.ops.shape import concatenate, stack
from gradflow.ops.shape import reshape as _reshape
from gradflow.ops.triangular import diag
from gradflow.tensor import Size, Tensor, tensor_methods


def _dim(d, ndim: int, op: str, name: str = "dim") -> int:
    if not isinstance(d, int) or isinstance(d, bool):
        raise TypeError(f"{op}(): argument '{name}' must be an int, got {type(d).__name__}")
    n = max(ndim, 1)
    if not -n <= d < n:
        raise IndexError(f"{op}: Dimension out of range (expected to be in range of [{-n}, "
                         f"{n - 1}], but got {d})")
    return d % n


def _along(d: int, index) -> tuple:
    return (slice(None),) * d + (index,)


def _same_dtype(tensors: list, op: str) -> list:
    if not tensors:
        return tensors
    dt = result_dtype(op, *tensors)
    return [t if t.dtype == dt else t.to(dtype=dt) for t in tensors]


def _tensors(tensors, op: str) -> list:
    if isinstance(tensors, Tensor) or not isinstance(tensors, list | tuple):
        raise TypeError(f"{op}(): argument 'tensors' must be a tuple or list of Tensors, got "
                        f"{type(tensors).__name__}")
    for i, t in enumerate(tensors):
        tensor_arg(t, op, f"tensors[{i}]")
    if not tensors:
        raise RuntimeError(f"{op}: expects a non-empty TensorList")
    return list(tensors)


def clone(input: Tensor, *, memory_format=None) -> Tensor:  # noqa: A002
    """A copy of ``input`` with its own storage (differentiable; ``memory_format`` is accepted
    for PyTorch's signature: gradflow arrays are always contiguous)."""
    return tensor_arg(input, "clone").clone()


def ravel(input: Tensor) -> Tensor:  # noqa: A002
    """``input`` flattened to one dimension."""
    return _reshape(tensor_arg(input, "ravel"), (-1,))


def select(input: Tensor, dim: int, index: int) -> Tensor:  # noqa: A002
    """``input[..., index, ...]`` with ``index`` along ``dim`` (the dimension removed)."""
    tensor_arg(input, "select")
    if input.ndim == 0:
        raise IndexError("select() cannot be applied to a 0-dim tensor")
    d = _dim(dim, input.ndim, "select")
    n = input.shape[d]
    if not isinstance(index, int) or isinstance(index, bool):
        raise TypeError(f"select(): argument 'index' must be an int, got "
                        f"{type(index).__name__}")
    if not -n <= index < n:
        raise IndexError(f"select(): index {index} out of range for tensor of size "
                         f"{list(input.shape)} at dimension {d}")
    return input[_along(d, index)]


def unflatten(input: Tensor, dim: int, sizes) -> Tensor:  # noqa: A002
    """``input`` with dimension ``dim`` split into ``sizes`` (one entry may be −1)."""
    tensor_arg(input, "unflatten")
    d = _dim(dim, input.ndim, "unflatten")
    sizes = tuple(sizes)
    if not sizes:
        raise RuntimeError("unflatten: sizes must be non-empty")
    n = input.shape[d] if input.ndim else 1
    known = reduce(operator.mul, (s for s in sizes if s != -1), 1)
    if sizes.count(-1) > 1 or (-1 not in sizes and known != n) or \
            (-1 in sizes and (known == 0 or n % known)):
        raise RuntimeError(f"unflatten: Provided sizes {list(sizes)} don't multiply up to the "
                           f"size of dim {dim} ({n}) in the input tensor")
    shape = tuple(input.shape)
    return _reshape(input, shape[:d] + sizes + shape[d + 1:])


def broadcast_shapes(*shapes) -> Size:
    """The shape all ``shapes`` (ints or sequences of ints) broadcast to."""
    out: list[int] = []
    tuples = [(s,) if isinstance(s, int) else tuple(s) for s in shapes]
    for i, shape in enumerate(tuples):
        for k, size in enumerate(reversed(shape)):
            if not isinstance(size, int) or size < 0:
                raise RuntimeError(f"broadcast_shapes: shape {shape} (argument {i}) has an "
                                   f"invalid size {size!r}; sizes are non-negative ints")
            if k == len(out):
                out.append(size)
            elif out[k] == 1:
                out[k] = size
            elif size != 1 and size != out[k]:
                raise RuntimeError(
                    f"broadcast_shapes: shape mismatch: a dimension of length {size} at "
                    f"{-k - 1} of argument {i} ({shape}) cannot be broadcast to "
                    f"{list(reversed(out))}")
    return Size(tuple(reversed(out)))


def broadcast_to(input: Tensor, shape) -> Tensor:  # noqa: A002
    """``input`` expanded to ``shape`` (−1 keeps a size), as :meth:`Tensor.expand`."""
    return tensor_arg(input, "broadcast_to").expand(*tuple(shape))


def broadcast_tensors(*tensors) -> tuple[Tensor, ...]:
    """The tensors expanded to their common broadcast shape."""
    for i, t in enumerate(tensors):
        tensor_arg(t, "broadcast_tensors", f"tensors[{i}]")
    shape = broadcast_shapes(*(tuple(t.shape) for t in tensors))
    return tuple(t if tuple(t.shape) == tuple(shape) else t.expand(*shape) for t in tensors)


def _atleast(op: str, tensors, fix) -> Tensor | tuple[Tensor, ...]:
    single = len(tensors) == 1 and isinstance(tensors[0], Tensor)
    if len(tensors) == 1 and isinstance(tensors[0], list | tuple):
        tensors = tuple(tensors[0])
    for i, t in enumerate(tensors):
        tensor_arg(t, op, f"tensors[{i}]")
    out = tuple(fix(t) for t in tensors)
    return out[0] if single else out


def atleast_1d(*tensors) -> Tensor | tuple[Tensor, ...]:
    """Zero-dim tensors as shape (1,); others unchanged (one tensor in, one out)."""
    return _atleast("atleast_1d", tensors, lambda t: _reshape(t, (1,)) if t.ndim == 0 else t)


def _to_2d(t: Tensor) -> Tensor:
    if t.ndim == 0:
        return _reshape(t, (1, 1))
    return _reshape(t, (1, t.shape[0])) if t.ndim == 1 else t


def _to_3d(t: Tensor) -> Tensor:
    if t.ndim == 0:
        return _reshape(t, (1, 1, 1))
    if t.ndim == 1:
        return _reshape(t, (1, t.shape[0], 1))
    return _reshape(t, tuple(t.shape) + (1,)) if t.ndim == 2 else t


def atleast_2d(*tensors) -> Tensor | tuple[Tensor, ...]:
    """0-d as (1, 1), 1-d (n,) as (1, n); others unchanged."""
    return _atleast("atleast_2d", tensors, _to_2d)


def atleast_3d(*tensors) -> Tensor | tuple[Tensor, ...]:
    """0-d as (1, 1, 1), (n,) as (1, n, 1), (m, n) as (m, n, 1); others unchanged."""
    return _atleast("atleast_3d", tensors, _to_3d)


def hstack(tensors) -> Tensor:
    """Concatenate along dim 0 for 1-d tensors, else dim 1 (0-d tensors count as 1-d)."""
    ts = _same_dtype([atleast_1d(t) for t in _tensors(tensors, "hstack")], "hstack")
    return concatenate(ts, 0 if ts[0].ndim == 1 else 1)


def vstack(tensors) -> Tensor:
    """Concatenate the tensors made at least 2-d along dim 0."""
    ts = _same_dtype([_to_2d(t) for t in _tensors(tensors, "vstack")], "vstack")
    return concatenate(ts, 0)


def dstack(tensors) -> Tensor:
    """Concatenate the tensors made at least 3-d along dim 2."""
    ts = _same_dtype([_to_3d(t) for t in _tensors(tensors, "dstack")], "dstack")
    return concatenate(ts, 2)


def column_stack(tensors) -> Tensor:
    """0-d and 1-d tensors as columns (n, 1), then concatenated along dim 1."""
    ts = [_reshape(t, (t.numel(), 1)) if t.ndim <= 1 else t
          for t in _tensors(tensors, "column_stack")]
    return concatenate(_same_dtype(ts, "column_stack"), 1)


def _bounds(indices_or_sections, n: int, op: str) -> list[int]:
    ios = indices_or_sections
    if isinstance(ios, Tensor):
        if ios.dtype.kind not in "iu" or ios.ndim > 1:
            raise RuntimeError(f"{op}: a Tensor 'indices_or_sections' must be a 0-d or 1-d "
                               f"integer tensor, got {ios.dtype} of shape {tuple(ios.shape)}")
        ios = int(ios.item()) if ios.ndim == 0 else [int(i) for i in ios.tolist()]
    if isinstance(ios, int) and not isinstance(ios, bool):
        if ios <= 0:
            raise RuntimeError(f"{op}: number of sections must be larger than 0, got {ios}")
        q, r = divmod(n, ios)
        cuts, at = [], 0
        for i in range(ios - 1):
            at += q + (1 if i < r else 0)
            cuts.append(at)
        return cuts
    if isinstance(ios, list | tuple):
        return [int(i) for i in ios]
    raise TypeError(f"{op}(): argument 'indices_or_sections' must be an int, a sequence of "
                    f"ints or an integer Tensor, got {type(ios).__name__}")


def tensor_split(input: Tensor, indices_or_sections, dim: int = 0) -> tuple[Tensor, ...]:  # noqa: A002
    """Views of ``input`` along ``dim``: ``n`` sections (the first ``size % n`` one longer) or
    cut at the given indices (clamped to the size, possibly empty pieces)."""
    tensor_arg(input, "tensor_split")
    if input.ndim == 0:
        raise RuntimeError("tensor_split expected at least a 1-dimensional tensor, but got a "
                           "tensor with 0 dims")
    d = _dim(dim, input.ndim, "tensor_split")
    n = input.shape[d]
    cuts = _bounds(indices_or_sections, n, "tensor_split")
    edges = [0] + [min(max(c if c >= 0 else c + n, 0), n) for c in cuts] + [n]
    return tuple(input[_along(d, slice(s, max(s, e)))] for s, e in zip(edges, edges[1:]))


def _nsplit(op: str, input: Tensor, indices_or_sections, d: int, min_dims: int):  # noqa: A002
    tensor_arg(input, op)
    if input.ndim < min_dims:
        raise RuntimeError(f"torch.{op} requires a tensor with at least {min_dims} dimension, "
                           f"but got a tensor with {input.ndim} dimensions!")
    ios = indices_or_sections
    if isinstance(ios, int) and not isinstance(ios, bool) and (ios == 0 or input.shape[d] % ios):
        raise RuntimeError(f"torch.{op} attempted to split along dimension {d}, but the size "
                           f"of the dimension {input.shape[d]} is not divisible by the "
                           f"split_size {ios}!")
    return tensor_split(input, ios, d)


def hsplit(input: Tensor, indices_or_sections) -> tuple[Tensor, ...]:  # noqa: A002
    """tensor_split along dim 1 (dim 0 for 1-d tensors); sections must divide the size."""
    tensor_arg(input, "hsplit")
    return _nsplit("hsplit", input, indices_or_sections, 1 if input.ndim > 1 else 0, 1)


def vsplit(input: Tensor, indices_or_sections) -> tuple[Tensor, ...]:  # noqa: A002
    """tensor_split along dim 0 of an at least 2-d tensor; sections must divide the size."""
    return _nsplit("vsplit", input, indices_or_sections, 0, 2)


def dsplit(input: Tensor, indices_or_sections) -> tuple[Tensor, ...]:  # noqa: A002
    """tensor_split along dim 2 of an at least 3-d tensor; sections must divide the size."""
    return _nsplit("dsplit", input, indices_or_sections, 2, 3)


def rot90(input: Tensor, k: int = 1, dims=(0, 1)) -> Tensor:  # noqa: A002
    """Rotate by 90° ``k`` times in the plane ``dims`` (from the first axis toward the second)."""
    tensor_arg(input, "rot90")
    dims = tuple(dims)
    if len(dims) != 2:
        raise RuntimeError(f"rot90: expected total rotation dims == 2, but got dims = "
                           f"{len(dims)}")
    if input.ndim < 2:
        raise RuntimeError(f"rot90: expected total dims >= 2, but got total dims = {input.ndim}")
    d0, d1 = (_dim(d, input.ndim, "rot90", "dims") for d in dims)
    if d0 == d1:
        raise RuntimeError(f"rot90: expected rotation dims to be different, but got dim0 = "
                           f"{dims[0]} and dim1 = {dims[1]}")
    k %= 4
    if k == 1:
        return flip(input, d1).transpose(d0, d1)
    if k == 2:
        return flip(input, d0, d1)
    if k == 3:
        return flip(input, d0).transpose(d0, d1)
    return input.clone()


def diagflat(input: Tensor, offset: int = 0) -> Tensor:  # noqa: A002
    """The flattened ``input`` on the ``offset``-th diagonal of a square matrix."""
    return diag(ravel(tensor_arg(input, "diagflat")), offset)


def block_diag(*tensors) -> Tensor:
    """The tensors (0-d, 1-d as one row, or 2-d) as blocks on the diagonal of a zero matrix."""
    blocks = []
    for i, t in enumerate(tensors):
        tensor_arg(t, "block_diag", f"tensors[{i}]")
        if t.ndim > 2:
            raise RuntimeError(f"torch.block_diag: Input tensors must have 2 or fewer "
                               f"dimensions. Input {i} has {t.ndim} dimensions")
        blocks.append(_to_2d(t))
    if not blocks:
        from gradflow.creation import empty

        return empty(1, 0)
    blocks = _same_dtype(blocks, "block_diag")
    cols = sum(b.shape[1] for b in blocks)
    rows, at = [], 0
    for b in blocks:
        rows.append(pad(b, (at, cols - at - b.shape[1])))
        at += b.shape[1]
    return concatenate(rows, 0)


def cartesian_prod(*tensors) -> Tensor:
    """Rows of every combination of the 1-d tensors' elements (one tensor: itself)."""
    for i, t in enumerate(tensors):
        tensor_arg(t, "cartesian_prod", f"tensors[{i}]")
        if t.ndim != 1:
            raise RuntimeError(f"cartesian_prod: expect a 1D vector, but got tensors[{i}] of "
                               f"shape {tuple(t.shape)}")
    if len(tensors) == 1:
        return tensors[0]
    from gradflow.creation import meshgrid

    grids = meshgrid(*_same_dtype(list(tensors), "cartesian_prod"), indexing="ij")
    return stack([ravel(g) for g in grids], 1)


def combinations(input: Tensor, r: int = 2, with_replacement: bool = False) -> Tensor:  # noqa: A002
    """Rows of the length-``r`` combinations of the 1-d ``input``'s elements (Python's
    itertools.combinations order; ``with_replacement`` as combinations_with_replacement)."""
    tensor_arg(input, "combinations")
    if input.ndim != 1:
        raise RuntimeError(f"combinations: expect a 1D vector, but got shape "
                           f"{tuple(input.shape)}")
    if not isinstance(r, int) or r < 0:
        raise RuntimeError(f"combinations: expect a non-negative number, but got r={r!r}")
    n = input.shape[0]
    if r == 0:
        return input[0:0]
    pick = itertools.combinations_with_replacement if with_replacement else \
        itertools.combinations
    idx = list(pick(range(n), r))
    if not idx:
        return _reshape(input[0:0], (0, r))
    xp = input.backend.xp
    index = Tensor.wrap(xp.asarray(idx, dtype=int64), input.backend)
    return input[index]


def _indices(op: str, row: int, col: int, offset: int, dtype, device, lower: bool) -> Tensor:
    from gradflow.backends import get_backend

    for name, v in (("row", row), ("col", col), ("offset", offset)):
        if not isinstance(v, int) or isinstance(v, bool):
            raise TypeError(f"{op}(): argument '{name}' must be an int, got {type(v).__name__}")
    if row < 0 or col < 0:
        raise RuntimeError(f"{op}: row ({row}) and col ({col}) must be non-negative")
    dt = as_dtype(dtype) or int64
    if dt.kind not in "iu":
        raise RuntimeError(f"{op}: dtype must be an integer dtype, got {dt}")
    backend = get_backend(device)
    xp = backend.xp
    fn = xp.tril_indices if lower else xp.triu_indices
    r, c = fn(row, offset, col)
    return Tensor.wrap(xp.stack([r, c]).astype(dt).reshape(2, -1), backend)


def tril_indices(row: int, col: int, offset: int = 0, *, dtype=int64, device="cpu",
                 layout=None) -> Tensor:
    """The (2, N) row/column indices of the lower triangle of a row × col matrix, row-major."""
    return _indices("tril_indices", row, col, offset, dtype, device, True)


def triu_indices(row: int, col: int, offset: int = 0, *, dtype=int64, device="cpu",
                 layout=None) -> Tensor:
    """The (2, N) row/column indices of the upper triangle of a row × col matrix, row-major."""
    return _indices("triu_indices", row, col, offset, dtype, device, False)


def vander(x: Tensor, N: int | None = None, increasing: bool = False) -> Tensor:  # noqa: N803
    """The Vandermonde matrix: columns x⁰, x¹, ..., x^(N−1) (reversed unless ``increasing``);
    integer and bool inputs give int64, as PyTorch (a running product, differentiable)."""
    tensor_arg(x, "vander", "x")
    if x.ndim != 1:
        raise RuntimeError(f"vander: x must be a one-dimensional tensor, got shape "
                           f"{tuple(x.shape)}")
    n = x.shape[0] if N is None else N
    if n < 0:
        raise RuntimeError(f"vander: N must be non-negative, got {N}")
    if x.dtype.kind in "biu":
        x = x.to(dtype=int64)
    from gradflow.creation import ones

    one = ones(x.shape[0], 1, dtype=x.dtype, device=x.device)
    if n <= 1:
        out = one[:, :n]
    else:
        cols = _reshape(x, (-1, 1)).expand(x.shape[0], n - 1)
        out = concatenate([one, cumprod(cols, 1)], 1)
    return out if increasing else flip(out, 1)


def cross(input: Tensor, other: Tensor, dim: int | None = None) -> Tensor:  # noqa: A002
    """The 3-vector cross product along ``dim`` (broadcast); ``dim=None`` takes the first
    dimension of size 3, as PyTorch (which warns: pass ``dim`` or use linalg.cross)."""
    tensor_arg(input, "cross")
    tensor_arg(other, "cross", "other")
    a, b = broadcast_tensors(*_same_dtype([input, other], "cross"))
    if dim is None:
        dim = next((i for i, s in enumerate(a.shape) if s == 3), None)
        if dim is None:
            raise RuntimeError(f"cross: no dimension of size 3 in input (shape "
                               f"{tuple(a.shape)}); pass dim=")
    d = _dim(dim, a.ndim, "cross")
    if a.shape[d] != 3:
        raise RuntimeError(f"cross: inputs dimension {dim} must have length 3, got "
                           f"{a.shape[d]} (shapes {tuple(input.shape)}, {tuple(other.shape)})")
    a0, a1, a2 = (a[_along(d, i)] for i in range(3))
    b0, b1, b2 = (b[_along(d, i)] for i in range(3))
    return stack([sub(mul(a1, b2), mul(a2, b1)), sub(mul(a2, b0), mul(a0, b2)),
                  sub(mul(a0, b1), mul(a1, b0))], d)


def diff(input: Tensor, n: int = 1, dim: int = -1, prepend=None, append=None) -> Tensor:  # noqa: A002
    """The ``n``-th forward difference along ``dim`` (bool tensors: logical xor), after
    concatenating ``prepend``/``append``."""
    tensor_arg(input, "diff")
    if input.ndim == 0:
        raise RuntimeError("diff expects input to be at least one-dimensional")
    if not isinstance(n, int) or n < 0:
        raise RuntimeError(f"diff: order must be non-negative but got {n!r}")
    d = _dim(dim, input.ndim, "diff")
    parts = [t for t in (prepend, input, append) if t is not None]
    if len(parts) > 1:
        parts = _same_dtype([p if p.ndim == input.ndim else p.expand(
            *[1 if i == d else s for i, s in enumerate(input.shape)]) for p in parts], "diff")
        x = concatenate(parts, d)
    else:
        x = input
    for _ in range(n):
        m = x.shape[d]
        if m == 0:
            break
        hi, lo = x[_along(d, slice(1, m))], x[_along(d, slice(0, m - 1))]
        x = logical_xor(hi, lo) if x.dtype.kind == "b" else sub(hi, lo)
    return x


def _shuffle_check(op: str, input: Tensor, factor: int, name: str) -> None:  # noqa: A002
    tensor_arg(input, op)
    if not isinstance(factor, int) or isinstance(factor, bool) or factor <= 0:
        raise RuntimeError(f"{op}: {name} must be greater than 0, but got {factor!r}")
    if input.ndim < 3:
        raise RuntimeError(f"{op} expects input to have at least 3 dimensions, but got input "
                           f"with {input.ndim} dimension(s)")


def pixel_shuffle(input: Tensor, upscale_factor: int) -> Tensor:  # noqa: A002
    """(*, C·r², H, W) → (*, C, H·r, W·r), r = upscale_factor."""
    r = upscale_factor
    _shuffle_check("pixel_shuffle", input, r, "upscale_factor")
    *lead, c, h, w = input.shape
    if c % (r * r):
        raise RuntimeError(f"pixel_shuffle expects its input's 'channel' dimension to be "
                           f"divisible by the square of upscale_factor, but input.size(-3)={c} "
                           f"is not divisible by {r * r}")
    k = len(lead)
    x = _reshape(input, (*lead, c // (r * r), r, r, h, w))
    x = x.permute(*range(k), k, k + 3, k + 1, k + 4, k + 2)
    return _reshape(x, (*lead, c // (r * r), h * r, w * r))


def pixel_unshuffle(input: Tensor, downscale_factor: int) -> Tensor:  # noqa: A002
    """(*, C, H·r, W·r) → (*, C·r², H, W), r = downscale_factor (pixel_shuffle's inverse)."""
    r = downscale_factor
    _shuffle_check("pixel_unshuffle", input, r, "downscale_factor")
    *lead, c, h, w = input.shape
    if h % r or w % r:
        raise RuntimeError(f"pixel_unshuffle expects height ({h}) and width ({w}) to be "
                           f"divisible by downscale_factor ({r})")
    k = len(lead)
    x = _reshape(input, (*lead, c, h // r, r, w // r, r))
    x = x.permute(*range(k), k, k + 2, k + 4, k + 1, k + 3)
    return _reshape(x, (*lead, c * r * r, h // r, w // r))


def chain_matmul(*matrices) -> Tensor:
    """The product of the 2-d matrices in the cheapest order (``linalg.multi_dot``; PyTorch
    deprecates this name in its favour)."""
    from gradflow.linalg import multi_dot

    for i, m in enumerate(matrices):
        tensor_arg(m, "chain_matmul", f"matrices[{i}]")
        if m.ndim != 2:
            raise RuntimeError(f"chain_matmul: tensor {i} must be 2-D, got shape "
                               f"{tuple(m.shape)}")
    if not matrices:
        raise RuntimeError("chain_matmul(): Expected one or more matrices")
    if len(matrices) == 1:
        return matrices[0].clone()
    return multi_dot(list(matrices))


def _split_method(name: str, fn):
    def method(self: Tensor, indices_or_sections, *args) -> Tensor:
        return fn(self, indices_or_sections, *args)

    method.__name__ = method.__qualname__ = name
    return method


def _unflatten_method(self: Tensor, dim: int, sizes) -> Tensor:
    return unflatten(self, dim, sizes)


tensor_methods(
    ravel=ravel, select=select, unflatten=_unflatten_method, tensor_split=tensor_split,
    hsplit=_split_method("hsplit", hsplit), vsplit=_split_method("vsplit", vsplit),
    dsplit=_split_method("dsplit", dsplit), rot90=rot90, diagflat=diagflat, cross=cross,
    diff=diff,
)
