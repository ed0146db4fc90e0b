"""Vector and matrix norms with PyTorch's definitions, dispatch rules and gradients.

``VectorNorm`` is one Function (``‖x‖_p = (Σ|x_i|^p)^{1/p}``; ``p = 0`` counts non-zeros,
``±inf`` is the max/min of ``|x|``) whose gradient is PyTorch's: ``x |x|^{p-2} g / ‖x‖^{p-1}``,
0 where the norm is 0 (the subgradient, no NaN), ``sign(x) g`` for p = 1, and for ±inf ``g``
shared equally by the entries at the extremum. Its ``backward`` is written with gradflow ops
(divisions guarded on both sides of ``where``), so second derivatives are exact too.
Matrix norms compose: ``'fro'`` is the vector 2-norm over two dims, ``±1``/``±inf`` are max/min
of absolute column/row sums, ``'nuc'``/``±2`` reduce the singular values (:mod:`gradflow.linalg`).
"""

from __future__ import annotations

from gradflow.autograd.function import Function
from gradflow.dtypes import is_inexact
from gradflow.ops._util import norm_axes, tensor_arg
from gradflow.ops.math import abs as _abs
from gradflow.ops.math import where
from gradflow.tensor import Tensor

_INF = float("inf")


def _const(backend, array) -> Tensor:
    return Tensor.wrap(array, backend)


class VectorNorm(Function):
    """‖x‖_ord over ``axes`` (dims kept: the caller squeezes)."""

    @staticmethod
    def forward(ctx, x, ord, axes):  # noqa: A002 - torch's name
        ctx.ord = ord
        out = ctx.k.linalg_vector_norm(x, ord, axes, True)
        ctx.save_for_backward(x, out)
        return out

    @staticmethod
    def vjp(ctx, g):
        x, norm = ctx.saved_arrays
        if ctx.ord == 0:
            return None
        return ctx.k.linalg_vector_norm_backward(g, x, norm, ctx.ord)

    @staticmethod
    def backward(ctx, g):
        x, norm = ctx.saved_tensors
        p, backend = ctx.ord, ctx.backend
        xp, k = backend.xp, backend.k
        xa, na = x.array, norm.array
        sign = _const(backend, k.sign(xa))
        if p == 0:  # piecewise constant: no gradient (None, as torch)
            return None
        if p == 1:
            return sign * g
        zero = _const(backend, na == 0)
        safe = where(zero, 1.0, norm)
        if p == 2:
            return x * where(zero, 0.0, g / safe)
        if p in (_INF, -_INF):
            mask = (xp.abs(xa) == na).astype(xa.dtype)
            share = mask / mask.sum(axis=_kept_axes(xa, na), keepdims=True)
            return _const(backend, k.sign(xa) * share) * g
        a = _abs(x)
        if p < 1:
            nz = _const(backend, xa == 0)
            return sign * where(nz, 1.0, a) ** (p - 1) * g * norm ** (1 - p)
        scaled = sign * a ** (p - 1) if p < 2 else x * a ** (p - 2)
        return scaled * where(zero, 0.0, g / safe ** (p - 1))


def _kept_axes(x, kept) -> tuple:
    return tuple(i for i, (n, k) in enumerate(zip(x.shape, kept.shape)) if k == 1 and n != 1)


def _float_input(x: Tensor, op: str, dtype) -> Tensor:
    tensor_arg(x, op)
    if dtype is not None:
        from gradflow.dtypes import as_dtype

        dtype = as_dtype(dtype)
        if dtype is None or not is_inexact(dtype):
            raise RuntimeError(f"{op}: dtype should be floating point or complex, got {dtype}")
        if is_inexact(x.dtype) and x.dtype != dtype and x.dtype.itemsize > dtype.itemsize:
            raise RuntimeError(f"{op}: the dtype ({dtype}) must not be narrower than the "
                               f"input's ({x.dtype})")
    if not is_inexact(x.dtype):
        raise RuntimeError(f"{op}: Expected a floating point or complex tensor as input. Got "
                           f"{x.dtype}; convert it (e.g. .float())")
    if x.dtype.kind == "c" or (dtype is not None and dtype.kind == "c"):
        raise RuntimeError(f"{op}: complex tensors are not supported yet (got {x.dtype}); "
                           "take the norm of the real and imaginary parts stacked as a real tensor")
    if dtype is not None and dtype != x.dtype:
        x = x.to(dtype=dtype)
    return x


def _squeeze(y: Tensor, axes, ndim: int, keepdim: bool) -> Tensor:
    if keepdim:
        return y
    from gradflow.ops.shape import reshape

    axes = range(ndim) if axes is None else axes
    return reshape(y, tuple(n for i, n in enumerate(y.shape) if i not in axes))


def _ord_value(ord, op: str) -> float:  # noqa: A002
    if isinstance(ord, bool) or not isinstance(ord, int | float):
        if isinstance(ord, str):
            raise RuntimeError(f"{op}: ord must be a number for a vector norm, got {ord!r}; "
                               "use linalg.matrix_norm for 'fro' and 'nuc'")
        raise TypeError(f"{op}: ord must be a number, got {type(ord).__name__}")
    return float(ord)


def vector_norm(x: Tensor, ord=2, dim=None, keepdim: bool = False, *,  # noqa: A002
                dtype=None) -> Tensor:
    """‖x‖_ord over ``dim`` (an int, a tuple, or None for all elements)."""
    op = "linalg.vector_norm"
    x = _float_input(x, op, dtype)
    p = _ord_value(ord, op)
    if dim is not None and not isinstance(dim, int) and len(tuple(dim)) == 0:
        dim = None
    axes = norm_axes(dim, x.ndim, op)
    if x.ndim == 0:  # dim 0 (or -1) of a 0-d tensor is the tensor itself
        axes = None
    if x.numel() == 0 and p < 0 or (x.numel() == 0 and p == _INF and (
            axes is None or any(x.shape[a] == 0 for a in axes))):
        raise RuntimeError(f"{op}: cannot compute the {ord} norm of an empty tensor (shape "
                           f"{tuple(x.shape)}) over the dims {dim}: the reduction has no "
                           "identity")
    y = VectorNorm.apply(x, p, axes)
    return _squeeze(y, axes, x.ndim, keepdim)


def _two_dims(dim, ndim: int, op: str) -> tuple[int, int]:
    try:
        d0, d1 = dim
    except (TypeError, ValueError) as exc:
        raise RuntimeError(f"{op}: dim must be a 2-tuple of ints, got {dim!r}") from exc
    if ndim < 2:
        raise RuntimeError(f"{op}: The input tensor A must have at least 2 dimensions, got "
                           f"{ndim}")
    axes = [d % ndim if -ndim <= d < ndim else None for d in (int(d0), int(d1))]
    if None in axes:
        raise IndexError(f"{op}: dim {dim} is out of range for a tensor with {ndim} dimensions "
                         f"(expected dims in [{-ndim}, {ndim - 1}])")
    if axes[0] == axes[1]:
        raise RuntimeError(f"{op}: dims must be different. Got ({d0}, {d1})")
    return axes[0], axes[1]


def matrix_norm(A: Tensor, ord="fro", dim=(-2, -1), keepdim: bool = False, *,  # noqa: A002
                dtype=None) -> Tensor:
    """The matrix norm over the two dims ``dim``: 'fro', 'nuc', ±1 (max/min absolute column
    sum), ±inf (row sum), ±2 (largest/smallest singular value)."""
    op = "linalg.matrix_norm"
    A = _float_input(A, op, dtype)
    d0, d1 = _two_dims(dim, A.ndim, op)
    if ord == "fro":
        return vector_norm(A, 2, (d0, d1), keepdim)
    if ord == "nuc" or ord in (2, -2):
        from gradflow.linalg import svdvals

        perm = [i for i in range(A.ndim) if i not in (d0, d1)] + [d0, d1]
        s = svdvals(A.permute(*perm))
        y = s.sum(-1) if ord == "nuc" else (s.amax(-1) if ord == 2 else s.amin(-1))
        if keepdim:
            for d in sorted((d0, d1)):
                y = y.unsqueeze(d)
        return y
    if isinstance(ord, str) or ord not in (1, -1, _INF, -_INF):
        raise RuntimeError(f"{op}: Order {ord} not supported; use 'fro', 'nuc', 1, -1, 2, -2, "
                           "inf or -inf")
    if A.shape[d0] == 0 or A.shape[d1] == 0:
        raise RuntimeError(f"{op}: cannot compute the {ord} norm of a matrix of shape "
                           f"{tuple(A.shape)} with an empty dim")
    sum_dim, ext_dim = (d0, d1) if ord in (1, -1) else (d1, d0)
    s = _abs(A).sum(sum_dim, keepdim=True)
    y = s.amax(ext_dim, keepdim=True) if ord > 0 else s.amin(ext_dim, keepdim=True)
    return _squeeze(y, (d0, d1), A.ndim, keepdim)


def linalg_norm(input: Tensor, ord=None, dim=None, keepdim: bool = False, *,  # noqa: A002
                dtype=None) -> Tensor:
    """``torch.linalg.norm``: a vector norm for ``dim`` an int (or 1-D input), a matrix norm for
    a 2-tuple ``dim`` (or 2-D input with ``ord`` given); ``ord=None, dim=None`` is the 2-norm
    of all elements."""
    op = "linalg.norm"
    tensor_arg(input, op)
    if dim is not None:
        dims = (dim,) if isinstance(dim, int) else tuple(dim)
        if len(dims) == 1:
            return vector_norm(input, 2 if ord is None else ord, dims, keepdim, dtype=dtype)
        if len(dims) == 2:
            if ord is None:  # torch: the 2-norm of the elements over both dims
                return vector_norm(input, 2, dims, keepdim, dtype=dtype)
            return matrix_norm(input, ord, dims, keepdim, dtype=dtype)
        raise RuntimeError(f"{op}: If dim is specified, it must be of length 1 or 2. Got {dim}")
    if ord is None:
        return vector_norm(input, 2, None, keepdim, dtype=dtype)
    if input.ndim == 1:
        return vector_norm(input, ord, None, keepdim, dtype=dtype)
    if input.ndim == 2:
        return matrix_norm(input, ord, (-2, -1), keepdim, dtype=dtype)
    raise RuntimeError(f"{op}: If dim is not specified but ord is, the input must be 1D or 2D. "
                       f"Got {input.ndim}D (shape {tuple(input.shape)}); pass dim")


def norm(input: Tensor, p="fro", dim=None, keepdim: bool = False, out=None,  # noqa: A002
         dtype=None) -> Tensor:
    """``torch.norm`` (legacy): ``p='fro'`` is the 2-norm over ``dim`` (all elements when None),
    another string a matrix norm, a number a vector norm over ``dim``."""
    if out is not None:
        raise TypeError("norm: out= is not supported; use the returned tensor")
    tensor_arg(input, "norm")
    dims = [dim] if isinstance(dim, int) else dim
    if isinstance(p, str):
        if p == "fro" and (dim is None or isinstance(dim, int) or len(dim) <= 2):
            return vector_norm(input, 2, dims, keepdim, dtype=dtype)
        if dims is None:
            dims = list(range(input.ndim))
        return matrix_norm(input, p, dims, keepdim, dtype=dtype)
    return vector_norm(input, 2.0 if p is None else p, dims, keepdim, dtype=dtype)


def _norm_method(self: Tensor, p="fro", dim=None, keepdim: bool = False,
                 dtype=None) -> Tensor:
    return norm(self, p, dim, keepdim, dtype=dtype)


_norm_method.__name__ = "norm"
_norm_method.__doc__ = norm.__doc__

from gradflow.tensor import tensor_methods  # noqa: E402

tensor_methods(norm=_norm_method)
