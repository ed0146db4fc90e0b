"""Helpers shared by the op families."""

from __future__ import annotations

import numbers

from gradflow.backends import backend_of_array
from gradflow.dtypes import is_floating
from gradflow.tensor import Tensor

_PY_SCALARS = frozenset((float, int, bool, complex))


def is_scalar(x) -> bool:
    """A Python number (NumPy scalars are turned into these by :func:`as_operand`)."""
    return x.__class__ in _PY_SCALARS or isinstance(x, numbers.Number)


def tensor_arg(x, op: str, name: str = "input"):
    """``x`` if it is a Tensor, else a TypeError naming the op and the argument (PyTorch's
    wording): ``None`` where a tensor belongs fails here, not as an AttributeError inside."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}(): argument '{name}' must be a Tensor, got {type(x).__name__}")
    return x


def operand_arg(x, op: str, name: str):
    """A binary op's operand: None is a TypeError naming the argument (numbers and arrays pass)."""
    if x is None:
        raise TypeError(f"{op}(): argument '{name}' must be a Tensor or a number, got None")
    return x


def as_float(a, op: str):
    """``a`` itself, or for an integer/bool Tensor its float32 copy: PyTorch's float functions
    (exp, log, sqrt, sigmoid...) of integer tensors give the default float dtype. A non-Tensor
    is a TypeError naming ``op``."""
    tensor_arg(a, op)
    if a.array.dtype.kind in "biu":
        from gradflow.dtypes import DEFAULT_FLOAT

        return Tensor._make(a.array.astype(DEFAULT_FLOAT), a._backend)
    return a


def as_operand(x, like: Tensor | None = None):
    """Python numbers stay numbers (weakly typed: they never promote float32 to float64);
    NumPy scalars become Python numbers; arrays become Tensors on their own device."""
    if isinstance(x, Tensor) or x is None:
        return x
    cls = type(x)
    if cls is float or cls is int or cls is bool or cls is complex:
        return x
    if cls.__module__ == "numpy" and getattr(x, "ndim", 1) == 0:  # np.float64(2.0), np.int64...
        return x.item()
    if hasattr(x, "shape") and hasattr(x, "dtype"):
        return Tensor._make(x, backend_of_array(x))
    if isinstance(x, list | tuple):
        from gradflow.creation import tensor

        return tensor(x, device=like.device if like is not None else None,
                      dtype=like.dtype if like is not None and is_floating(like.dtype) else None)
    raise TypeError(f"unsupported operand of type {type(x).__name__}; expected a Tensor, a "
                    "number or an array")


class DimensionError(IndexError, ValueError):
    """A dim outside ``[-ndim, ndim)``: an ``IndexError`` as in PyTorch (and a ``ValueError``,
    what NumPy's ``axis`` errors are)."""


def norm_axes(axis, ndim: int, op: str) -> tuple[int, ...] | None:
    """``axis`` (None, int or sequence, negatives allowed) as a sorted tuple of axes >= 0. A 0-d
    tensor has one wrappable dim, as in PyTorch: ``dim`` -1 or 0 (both give ``(0,)``; a
    reduction over it of a 0-d tensor reduces nothing: see :func:`reduce_axes`)."""
    if axis is None:
        return None
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    out = []
    for a in axes:
        if not -max(ndim, 1) <= a < max(ndim, 1):
            raise DimensionError(f"{op}: dim {a} is out of range for a tensor with {ndim} "
                                 f"dimensions (expected one in [{-max(ndim, 1)}, "
                                 f"{max(ndim, 1) - 1}])")
        out.append(a % max(ndim, 1))
    if len(set(out)) != len(out):
        raise ValueError(f"{op}: repeated axis in {axis}")
    return tuple(sorted(out))


def reduce_axes(axis, ndim: int, op: str) -> tuple[int, ...] | None:
    """:func:`norm_axes` for a reduction: over a 0-d tensor, ``dim`` -1 or 0 reduces nothing."""
    axes = norm_axes(axis, ndim, op)
    return () if axes is not None and ndim == 0 else axes


def keepdims_shape(shape: tuple, axes) -> tuple:
    """``shape`` with the reduced ``axes`` set to 1 (all of them when ``axes`` is None)."""
    if axes is None:
        return (1,) * len(shape)
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


def count(shape: tuple, axes) -> int:
    n = 1
    for i, s in enumerate(shape):
        if axes is None or i in axes:
            n *= s
    return n


def int_tuple(value, n: int, op: str, name: str, minimum: int | None = None) -> tuple:
    """``value`` (an int, or a sequence of 1 or ``n`` ints) as ``n`` ints: ``3`` -> ``(3, 3)``
    for ``n = 2``. Not ints: TypeError naming ``op`` and ``name``; below ``minimum`` (when
    given): RuntimeError, PyTorch's types for kernel sizes, strides and paddings."""
    vals = tuple(value) if isinstance(value, tuple | list) else (value,) * n
    if len(vals) == 1:
        vals = vals * n
    if len(vals) != n or any(isinstance(v, bool) or not isinstance(v, int) for v in vals):
        raise TypeError(f"{op}: {name} must be an int or a tuple of {n} ints, got {value!r}")
    if minimum is not None and any(v < minimum for v in vals):
        raise RuntimeError(f"{op}: {name} must be {'positive' if minimum else 'non-negative'}, "
                           f"got {value!r}")
    return vals
