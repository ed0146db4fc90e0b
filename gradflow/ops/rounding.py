"""Rounding and integer-style division with PyTorch's semantics: round (half to even,
``decimals=``), floor, ceil, trunc (fix), frac, sign/sgn, remainder (the divisor's sign, as
Python's %), fmod (the dividend's sign, as C), floor_divide (//), and ``div``'s rounding modes.

Integer inputs keep their dtype where PyTorch does (round/floor/ceil/trunc/sign, remainder,
fmod, floor_divide); dtypes of mixed operands follow PyTorch's promotion. The piecewise-constant
ops have gradient 0 (zeros, as PyTorch); frac has gradient 1; remainder and fmod pass g to the
dividend and −g·floor(a/b) (−g·trunc(a/b) for fmod) to the divisor; floor_divide has no
derivative (an error at backward, as in PyTorch).
"""

from __future__ import annotations

from gradflow.autograd.function import Function
from gradflow.dtypes import is_floating
from gradflow.ops._promote import result_dtype
from gradflow.ops._util import as_operand, is_scalar, operand_arg, tensor_arg
from gradflow.ops.arithmetic import _Binary, operands, sub
from gradflow.ops.math import inplace
from gradflow.ops.shape import sum_to
from gradflow.tensor import Tensor, tensor_methods


class _Piecewise(Function):
    """A piecewise-constant elementwise op: its gradient is zeros (PyTorch's, not None)."""

    kernel: str

    @classmethod
    def forward(cls, ctx, a, *params):
        return getattr(ctx.k, cls.kernel)(a, *params)

    @staticmethod
    def backward(ctx, g):
        zeros = Tensor.wrap(ctx.k.rnd_zeros_like(g.array), ctx.backend)
        return (zeros,) + (None,) * (len(ctx.needs_input_grad) - 1)


def _piecewise(name: str, kernel: str) -> type:
    return type(name, (_Piecewise,), {"kernel": kernel, "__module__": __name__,
                                      "__doc__": f"{kernel}(x): gradient 0."})


Round = _piecewise("Round", "round_decimals")
Floor = _piecewise("Floor", "rnd_floor")
Ceil = _piecewise("Ceil", "rnd_ceil")
Trunc = _piecewise("Trunc", "rnd_trunc")
Sign = _piecewise("Sign", "torch_sign")


class DivRounded(_Binary):
    """a / b rounded toward zero (``kernel`` trunc_div) or down (floor_div): gradient 0 for
    both operands (PyTorch's for ``div(..., rounding_mode=...)``)."""

    kernel = "trunc_div"

    @staticmethod
    def backward(ctx, g):
        k = ctx.k
        return tuple(Tensor.wrap(k.rnd_zeros_like(sum_to(g, s).array), ctx.backend)
                     if need else None for need, s in zip(ctx.needs_input_grad, ctx.shapes))


class DivFloor(DivRounded):
    kernel = "floor_div"


class FloorDivide(_Binary):
    """a // b: PyTorch defines no derivative for it; backward raises as PyTorch does."""

    kernel = "floor_div"

    @staticmethod
    def backward(ctx, g):
        raise RuntimeError("floor_divide: the derivative for floor_divide is not implemented "
                           "(as in PyTorch); use div(a, b, rounding_mode='floor'), whose "
                           "gradient is 0, or detach the operands")


class Remainder(_Binary):
    """remainder(a, b) = a − b·floor(a/b): dL/da = g, dL/db = −g·floor(a/b)."""

    kernel = "rnd_remainder"
    saves_inputs = True
    truncates = False

    @staticmethod
    def vjp(ctx, g):
        a, b = operands(ctx, ctx.saved_arrays)
        return ctx.k.remainder_grads(g, a, b, ctx.fn.truncates, ctx.shapes,
                                     ctx.needs_input_grad)

    @staticmethod
    def backward(ctx, g):
        a, b = operands(ctx, ctx.saved_arrays)  # the quotient is piecewise constant: a constant
        na, nb = ctx.needs_input_grad
        sa, sb = ctx.shapes
        gb = None
        if nb:
            k = ctx.k
            q = k.trunc_div(a, b) if ctx.fn.truncates else k.floor_div(a, b)
            gb = sum_to(-(g * Tensor.wrap(q, ctx.backend)), sb)
        return (sum_to(g, sa) if na else None), gb


class Fmod(Remainder):
    """fmod(a, b) = a − b·trunc(a/b): dL/da = g, dL/db = −g·trunc(a/b)."""

    kernel = "rnd_fmod"
    truncates = True


def _no_bool(t: Tensor, op: str) -> Tensor:
    if t.dtype.kind == "b":
        raise NotImplementedError(f"{op}: not implemented for bool tensors (shape {t.shape}); "
                                  "convert first, e.g. x.long() or x.float()")
    return t


def _unary(fn: type, input, op: str, *params) -> Tensor:
    return fn.apply(_no_bool(tensor_arg(input, op), op), *params)


def round(input: Tensor, *, decimals: int = 0) -> Tensor:  # noqa: A001, A002
    """Round to the nearest value with ``decimals`` decimal digits, half to even (as PyTorch);
    integers are returned unchanged (only for ``decimals=0``)."""
    tensor_arg(input, "round")
    if not isinstance(decimals, int) or isinstance(decimals, bool):
        raise TypeError(f"round(): argument 'decimals' must be an int, got "
                        f"{type(decimals).__name__}")
    if decimals != 0 and input.dtype.kind in "biu":
        raise NotImplementedError(f"round: decimals={decimals} is not implemented for "
                                  f"{input.dtype} tensors (as PyTorch); convert with .float()")
    return _unary(Round, input, "round", decimals)


def floor(input: Tensor) -> Tensor:  # noqa: A002
    """The largest integer ≤ x (integers unchanged); gradient 0."""
    return _unary(Floor, input, "floor")


def ceil(input: Tensor) -> Tensor:  # noqa: A002
    """The smallest integer ≥ x (integers unchanged); gradient 0."""
    return _unary(Ceil, input, "ceil")


def trunc(input: Tensor) -> Tensor:  # noqa: A002
    """x rounded toward zero (integers unchanged); gradient 0."""
    return _unary(Trunc, input, "trunc")


fix = trunc


def frac(input: Tensor) -> Tensor:  # noqa: A002
    """x − trunc(x) (the sign of x); gradient 1. Floating point tensors only (as PyTorch)."""
    tensor_arg(input, "frac")
    if not is_floating(input.dtype):
        raise NotImplementedError(f"frac: not implemented for {input.dtype} tensors (as "
                                  "PyTorch); integers have no fractional part")
    return sub(input, Trunc.apply(input))


def sign(input: Tensor) -> Tensor:  # noqa: A002
    """−1, 0 or 1 in the input's dtype (0 for NaN, as PyTorch; bools unchanged); gradient 0."""
    return Sign.apply(tensor_arg(input, "sign"))


def sgn(input: Tensor) -> Tensor:  # noqa: A002
    """sign for real tensors (PyTorch's sgn is x/|x| for complex ones)."""
    return Sign.apply(tensor_arg(input, "sgn"))


def _binary(input, other, op: str, *, tensor_input: bool = False) -> tuple:
    """Both operands at PyTorch's result dtype (bool results refused); numbers stay weak."""
    if tensor_input:
        tensor_arg(input, op)
    a = as_operand(operand_arg(input, op, "input"))
    b = as_operand(operand_arg(other, op, "other"))
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):
        raise TypeError(f"{op}(): at least one of 'input' and 'other' must be a Tensor, got "
                        f"{type(a).__name__} and {type(b).__name__}")
    dtype = result_dtype(op, a, b)
    if dtype.kind == "b":
        raise NotImplementedError(f"{op}: not implemented for bool operands; convert first, "
                                  "e.g. x.long()")
    if isinstance(a, Tensor) and a.dtype != dtype:
        a = a.to(dtype=dtype)
    if isinstance(b, Tensor) and b.dtype != dtype:
        b = b.to(dtype=dtype)
    if is_floating(dtype):  # an int number with a float tensor: keep the number weak
        a = float(a) if is_scalar(a) and not isinstance(a, complex) else a
        b = float(b) if is_scalar(b) and not isinstance(b, complex) else b
    return a, b


def remainder(input, other) -> Tensor:  # noqa: A002
    """Python's modulus a − b·floor(a/b): the result has the sign of ``other``."""
    return Remainder.apply(*_binary(input, other, "remainder"))


def fmod(input: Tensor, other) -> Tensor:  # noqa: A002
    """C's fmod a − b·trunc(a/b): the result has the sign of ``input``."""
    return Fmod.apply(*_binary(input, other, "fmod", tensor_input=True))


def floor_divide(input, other) -> Tensor:  # noqa: A002
    """floor(a / b) (Python's //) in the promoted dtype (integers stay integers)."""
    return FloorDivide.apply(*_binary(input, other, "floor_divide"))


def div_rounded(input, other, rounding_mode: str) -> Tensor:  # noqa: A002
    """``div(input, other, rounding_mode="trunc" | "floor")``: integers stay integers."""
    if rounding_mode not in ("trunc", "floor"):
        raise RuntimeError(f"div expected rounding_mode to be one of None, 'trunc', or 'floor' "
                           f"but found {rounding_mode!r}")
    op = DivRounded if rounding_mode == "trunc" else DivFloor
    return op.apply(*_binary(input, other, "div"))


def _round_(self: Tensor, *, decimals: int = 0) -> Tensor:
    return inplace(self, "round_", lambda a: round(a, decimals=decimals))


def _unary_(name: str, fn):
    def method(self: Tensor) -> Tensor:
        return inplace(self, f"{name}_", fn)

    method.__name__ = method.__qualname__ = f"{name}_"
    method.__doc__ = f"In-place :func:`{name}`."
    return method


def _binary_(name: str, fn):
    def method(self: Tensor, other) -> Tensor:
        return inplace(self, name, lambda a: fn(a, other), other)

    method.__name__ = method.__qualname__ = name
    method.__doc__ = f"In-place {fn.__name__}: self ← {fn.__name__}(self, other)."
    return method


def _round_method(self: Tensor, *, decimals: int = 0) -> Tensor:
    return round(self, decimals=decimals)


def _rmod(self: Tensor, other) -> Tensor:
    return remainder(other, self)


def _rfloordiv(self: Tensor, other) -> Tensor:
    return floor_divide(other, self)


tensor_methods(
    round=_round_method, round_=_round_,
    floor=floor, floor_=_unary_("floor", floor), ceil=ceil, ceil_=_unary_("ceil", ceil),
    trunc=trunc, trunc_=_unary_("trunc", trunc), fix=trunc, fix_=_unary_("fix", trunc),
    frac=frac, frac_=_unary_("frac", frac), sign=sign, sign_=_unary_("sign", sign),
    sgn=sgn, sgn_=_unary_("sgn", sgn),
    remainder=remainder, remainder_=_binary_("remainder_", remainder),
    fmod=fmod, fmod_=_binary_("fmod_", fmod),
    floor_divide=floor_divide, floor_divide_=_binary_("floor_divide_", floor_divide),
    __mod__=remainder, __rmod__=_rmod, __imod__=_binary_("__imod__", remainder),
    __floordiv__=floor_divide, __rfloordiv__=_rfloordiv,
    __ifloordiv__=_binary_("__ifloordiv__", floor_divide),
)
