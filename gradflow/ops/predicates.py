"""Predicates and reductions to bool with PyTorch's semantics: isclose, allclose, equal,
isnan, isinf, isposinf, isneginf, isfinite, nan_to_num (differentiable: g where the input is
finite, 0 elsewhere), and ``all``/``any`` over ``dim`` (an int or a tuple) with ``keepdim``.
"""

from __future__ import annotations

from gradflow.dtypes import is_inexact
from gradflow.ops._util import norm_axes, tensor_arg
from gradflow.ops.math import Where, inplace
from gradflow.tensor import Tensor, tensor_methods


def _bool(t: Tensor, array) -> Tensor:
    return Tensor._make(array, t._backend)


def isnan(input: Tensor) -> Tensor:  # noqa: A002 - PyTorch's names
    tensor_arg(input, "isnan")
    return _bool(input, input.array != input.array)


def _float_class(input: Tensor, op: str, of_integers: bool) -> Tensor:
    """``xp.<op>`` (isinf, isfinite) elementwise; integer and bool tensors give ``of_integers``
    everywhere (never infinite, always finite)."""
    tensor_arg(input, op)
    xp = input._backend.xp
    if not is_inexact(input.dtype):
        return _bool(input, (xp.ones if of_integers else xp.zeros)(input.shape, bool))
    return _bool(input, getattr(xp, op)(input.array))


def _equals_inf(input: Tensor, op: str, inf: float) -> Tensor:
    """``input == inf`` for one signed infinity; complex tensors raise (as PyTorch)."""
    tensor_arg(input, op)
    if input.dtype.kind == "c":
        raise ValueError(f"{op}: complex tensors are not supported (as PyTorch); compare "
                         "the real and imaginary parts")
    return _bool(input, input.array == inf)


def isinf(input: Tensor) -> Tensor:  # noqa: A002
    """Whether each element is +inf or -inf (all False for integer and bool tensors)."""
    return _float_class(input, "isinf", False)


def isposinf(input: Tensor) -> Tensor:  # noqa: A002
    """Whether each element is +inf."""
    return _equals_inf(input, "isposinf", float("inf"))


def isneginf(input: Tensor) -> Tensor:  # noqa: A002
    """Whether each element is -inf."""
    return _equals_inf(input, "isneginf", float("-inf"))


def isfinite(input: Tensor) -> Tensor:  # noqa: A002
    """Whether each element is finite (all True for integer and bool tensors)."""
    return _float_class(input, "isfinite", True)


def nan_to_num(input: Tensor, nan: float = 0.0, posinf: float | None = None,  # noqa: A002
               neginf: float | None = None) -> Tensor:
    """NaN → ``nan``, +inf → ``posinf``, −inf → ``neginf`` (defaults: 0 and the dtype's
    largest/lowest finite value, as PyTorch); integer and bool tensors are copied. The gradient
    is g where the input is finite, 0 elsewhere."""
    tensor_arg(input, "nan_to_num")
    if not is_inexact(input.dtype):
        return Tensor._make(input.array.copy(), input._backend)
    xp = input._backend.xp
    a = input.array
    info = xp.finfo(a.dtype)
    filled = xp.nan_to_num(a, nan=nan, posinf=info.max if posinf is None else posinf,
                           neginf=info.min if neginf is None else neginf)
    return Where.apply(xp.isfinite(a), input, filled)


def isclose(input: Tensor, other: Tensor, rtol: float = 1e-05, atol: float = 1e-08,  # noqa: A002
            equal_nan: bool = False) -> Tensor:
    """|input − other| ≤ atol + rtol·|other| elementwise (broadcast), as PyTorch: equal
    infinities are close, NaN only with ``equal_nan``; both tensors of one dtype."""
    tensor_arg(input, "isclose")
    tensor_arg(other, "isclose", "other")
    if input.dtype != other.dtype:
        raise RuntimeError(f"isclose: the dtypes differ ({input.dtype} and {other.dtype}); "
                           "convert one, e.g. other.to(dtype=input.dtype)")
    if rtol < 0 or atol < 0:
        name, value = ("rtol", rtol) if rtol < 0 else ("atol", atol)
        raise RuntimeError(f"isclose: {name} must be greater than or equal to zero, but got "
                           f"{value}")
    if input._backend is not other._backend:
        raise RuntimeError(f"isclose: tensors on different devices ({input.device} and "
                           f"{other.device}); move one with .to(device)")
    try:
        out = input._backend.k.torch_isclose(input.array, other.array, rtol, atol, equal_nan)
    except ValueError as exc:
        raise RuntimeError(f"isclose: shapes {input.shape} and {other.shape} cannot be "
                           "broadcast together") from exc
    return _bool(input, out)


def allclose(input: Tensor, other: Tensor, rtol: float = 1e-05, atol: float = 1e-08,  # noqa: A002
             equal_nan: bool = False) -> bool:
    """Whether every element is :func:`isclose` (a Python bool)."""
    return bool(isclose(input, other, rtol, atol, equal_nan).array.all())


def equal(input: Tensor, other: Tensor) -> bool:  # noqa: A002
    """Whether the tensors have the same shape and the same values (NaN is never equal)."""
    tensor_arg(input, "equal")
    tensor_arg(other, "equal", "other")
    if input._backend is not other._backend:
        raise RuntimeError(f"equal: tensors on different devices ({input.device} and "
                           f"{other.device}); move one with .to(device)")
    if input.shape != other.shape:
        return False
    return bool((input.array == other.array).all())


def _reduce_bool(op: str, input: Tensor, dim, keepdim: bool) -> Tensor:
    tensor_arg(input, op)
    a = input.array
    if isinstance(dim, tuple | list) and len(set(dim)) != len(dim):
        raise RuntimeError(f"{op}: dim {tuple(dim)} names a dim more than once; name each once")
    if a.ndim == 0:  # dims 0 and -1 name the one element (norm_axes of a 1-d shape checks it)
        if dim is not None and dim != ():
            norm_axes(dim, 1, op)
        axes = None
    else:
        axes = () if dim == () else norm_axes(dim, a.ndim, op)
    out = getattr(a, op)(axis=axes, keepdims=keepdim)
    if a.dtype == "uint8":  # PyTorch keeps uint8 for uint8 inputs
        out = out.astype(a.dtype)
    return Tensor._make(input._backend.xp.asarray(out), input._backend)


def all(input: Tensor, dim=None, keepdim: bool = False) -> Tensor:  # noqa: A001, A002
    """Whether every element (over ``dim``: an int or a tuple) is nonzero; bool (uint8 for
    uint8 inputs, as PyTorch)."""
    return _reduce_bool("all", input, dim, keepdim)


def any(input: Tensor, dim=None, keepdim: bool = False) -> Tensor:  # noqa: A001, A002
    """Whether any element (over ``dim``: an int or a tuple) is nonzero; bool (uint8 for
    uint8 inputs)."""
    return _reduce_bool("any", input, dim, keepdim)


def _all_method(self: Tensor, dim=None, keepdim: bool = False, *, axis=None,
                keepdims=None) -> Tensor:
    """PyTorch's ``all(dim, keepdim)``; NumPy's ``axis=``/``keepdims=`` are aliases."""
    return all(self, axis if dim is None else dim, keepdim if keepdims is None else keepdims)


def _any_method(self: Tensor, dim=None, keepdim: bool = False, *, axis=None,
                keepdims=None) -> Tensor:
    """PyTorch's ``any(dim, keepdim)``; NumPy's ``axis=``/``keepdims=`` are aliases."""
    return any(self, axis if dim is None else dim, keepdim if keepdims is None else keepdims)


def _nan_to_num_(self: Tensor, nan: float = 0.0, posinf: float | None = None,
                 neginf: float | None = None) -> Tensor:
    return inplace(self, "nan_to_num_", lambda a: nan_to_num(a, nan, posinf, neginf))


tensor_methods(isnan=isnan, isinf=isinf, isposinf=isposinf, isneginf=isneginf,
               isfinite=isfinite, nan_to_num=nan_to_num, nan_to_num_=_nan_to_num_,
               isclose=isclose, allclose=allclose, equal=equal, all=_all_method,
               any=_any_method, replace=("all", "any"))
