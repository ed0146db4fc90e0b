"""Arithmetic: + − × ÷ and powers, with NumPy broadcasting and Python scalars kept weak.

Every binary op's gradient for an input is reduced to that input's shape with ``sum_to``
(broadcasting in reverse); a Python-number operand is a constant and gets no gradient.
"""

from __future__ import annotations

import math

from gradflow.autograd.function import Function
from gradflow.dtypes import DEFAULT_FLOAT
from gradflow.ops._util import as_operand, is_scalar, operand_arg, tensor_arg
from gradflow.ops.shape import sum_to
from gradflow.tensor import Tensor, tensor_methods


def _broadcast_error(op: str, a, b, exc: Exception):
    return ValueError(f"{op}: operands with shapes {getattr(a, 'shape', None)} and "
                      f"{getattr(b, 'shape', None)} cannot be broadcast together (trailing axes "
                      "must match or be 1)") if "broadcast" in str(exc) else exc


class _Binary(Function):
    """Shared forward of the broadcasting binary ops (also maximum/minimum).

    Records ``ctx.shapes`` (None for a number), ``ctx.consts`` (the Python-number operands, else
    None), saves the array operands when ``saves_inputs`` (None for a number), runs the kernel
    named ``kernel``, and names both shapes when they do not broadcast."""

    kernel: str
    saves_inputs = False

    @classmethod
    def forward(cls, ctx, a, b):
        sa = None if is_scalar(a) else a
        sb = None if is_scalar(b) else b
        ctx.shapes = (None if sa is None else a.shape, None if sb is None else b.shape)
        ctx.consts = (a if sa is None else None, b if sb is None else None)
        if cls.saves_inputs:
            ctx.save_for_backward(sa, sb)
        try:
            return getattr(ctx.k, cls.kernel)(a, b)
        except ValueError as exc:
            raise _broadcast_error(cls.kernel, a, b, exc) from exc


def operands(ctx, saved) -> tuple:
    """Both operands of a ``_Binary`` node: the saved arrays or Tensors (``saved``), with the
    Python numbers (``ctx.consts``) in place of the operands that were numbers."""
    ca, cb = ctx.consts
    return (ca if saved[0] is None else saved[0]), (cb if saved[1] is None else saved[1])


class _AddSub(_Binary):
    """a ± b: dL/da = g, dL/db = ±g (each summed to its input's shape).

    One Function each, sharing this vjp: composing a − b as a + (−b) costs a second node
    (~40 µs vs ~27 µs forward + backward at 64x64); with equal shapes the vjp hands ``g``
    through without a kernel call."""

    negate_b = False

    @staticmethod
    def vjp(ctx, g):
        k = ctx.k
        na, nb = ctx.needs_input_grad
        sa, sb = ctx.shapes
        gb = None
        if nb:
            gb = k.sum_to(g, sb)
            if ctx.fn.negate_b:
                gb = k.neg(gb)
        return (k.sum_to(g, sa) if na else None), gb

    @staticmethod
    def backward(ctx, g):
        na, nb = ctx.needs_input_grad
        sa, sb = ctx.shapes
        gb = None
        if nb:
            gb = sum_to(g, sb)
            if ctx.fn.negate_b:
                gb = -gb
        return (sum_to(g, sa) if na else None), gb


class Add(_AddSub):
    kernel = "add"


class Sub(_AddSub):
    kernel = "sub"
    negate_b = True


class Mul(_Binary):
    """a · b: dL/da = g b, dL/db = g a.

    Saves each operand only for the other's gradient (as PyTorch): ``x.copy_(x * mask)`` (an
    in-place dropout) leaves nothing stale when only ``x`` needs a gradient."""

    kernel = "mul"

    @classmethod
    def forward(cls, ctx, a, b):
        out = super().forward(ctx, a, b)
        na, nb = ctx.needs_input_grad
        if na or nb:
            ctx.save_for_backward(a if nb and not is_scalar(a) else None,
                                  b if na and not is_scalar(b) else None)
        return out

    @staticmethod
    def vjp(ctx, g):
        k = ctx.k
        a, b = operands(ctx, ctx.saved_arrays)
        na, nb = ctx.needs_input_grad
        sa, sb = ctx.shapes
        ga = k.sum_to(k.mul(g, b), sa) if na else None
        gb = k.sum_to(k.mul(g, a), sb) if nb else None
        return ga, gb

    @staticmethod
    def backward(ctx, g):
        a, b = operands(ctx, ctx.saved_tensors)
        na, nb = ctx.needs_input_grad
        sa, sb = ctx.shapes
        ga = sum_to(g * b, sa) if na else None
        gb = sum_to(g * a, sb) if nb else None
        return ga, gb


class Div(_Binary):
    """a / b: dL/da = g / b, dL/db = −g a / b²."""

    kernel = "div"
    saves_inputs = True

    @staticmethod
    def vjp(ctx, g):
        k = ctx.k
        a, b = operands(ctx, ctx.saved_arrays)
        na, nb = ctx.needs_input_grad
        sa, sb = ctx.shapes
        ga = k.sum_to(k.div(g, b), sa) if na else None
        gb = k.sum_to(k.div_grad_divisor(g, a, b), sb) if nb else None
        return ga, gb

    @staticmethod
    def backward(ctx, g):
        a, b = operands(ctx, ctx.saved_tensors)
        na, nb = ctx.needs_input_grad
        sa, sb = ctx.shapes
        ga = sum_to(g / b, sa) if na else None
        gb = sum_to(-g * a / (b * b), sb) if nb else None
        return ga, gb


class Neg(Function):
    """−a: dL/da = −g."""

    @staticmethod
    def forward(ctx, a):
        return ctx.k.neg(a)

    @staticmethod
    def vjp(ctx, g):
        return ctx.k.neg(g)

    @staticmethod
    def backward(ctx, g):
        return Neg.apply(g)


def _log_const(a: float) -> float:
    """log a for a Python-number base, with log 0 taken as 0 (NaN for a < 0), as JAX has it."""
    return math.log(a) if a > 0 else (0.0 if a == 0 else math.nan)


class Pow(_Binary):
    """a ** b. d/da = b a^(b−1); d/db = a^b log a (log 0 taken as 0, as JAX does).

    Saves a^b (the output) for the exponent's gradient, only when b needs one."""

    kernel = "power"

    @classmethod
    def forward(cls, ctx, a, b):
        out = super().forward(ctx, a, b)
        ca, cb = ctx.consts
        ctx.save_for_backward(None if ca is not None else a, None if cb is not None else b,
                              out if ctx.needs_input_grad[1] else None)
        return out

    @staticmethod
    def vjp(ctx, g):
        k = ctx.k
        a, b, out = ctx.saved_arrays
        ca, cb = ctx.consts
        na, nb = ctx.needs_input_grad
        sa, sb = ctx.shapes
        ga = gb = None
        if na:
            ga = k.mul(g, 0) if cb == 0 else k.pow_grad_base(g, a, cb if b is None else b)
            ga = k.sum_to(ga, sa)
        if nb:
            log_a = _log_const(ca) if a is None else k.log_nonzero(a)
            gb = k.sum_to(k.pow_grad_exponent(g, out, log_a), sb)
        return ga, gb

    @staticmethod
    def backward(ctx, g):
        a, b, out = ctx.saved_tensors
        ca, cb = ctx.consts
        na, nb = ctx.needs_input_grad
        sa, sb = ctx.shapes
        ga = gb = None
        if na:
            if b is None:
                if cb == 0:
                    ga = g * 0
                elif cb == 1:
                    ga = g
                elif cb == 2:
                    ga = g * (2 * a)
                else:
                    ga = g * (cb * a ** (cb - 1))
            else:
                ga = g * (b * a ** (b - 1))
            ga = sum_to(ga, sa)
        if nb:
            if a is None:
                log_a = _log_const(ca)
            else:
                from gradflow.ops.math import log, where  # math imports this module

                log_a = log(where(a == 0, 1.0, a))
            gb = sum_to(g * out * log_a, sb)
        return ga, gb


def _prepare(a, b, op: str):
    a = as_operand(operand_arg(a, op, "input"))
    b = as_operand(operand_arg(b, op, "other"))
    ta = isinstance(a, Tensor)
    tb = isinstance(b, Tensor)
    if not ta and not tb:
        raise TypeError(f"{op}: at least one operand must be a Tensor")
    # A float scalar with an integer tensor gives the default float dtype (as PyTorch), not
    # NumPy's float64.
    if ta and isinstance(b, float) and a.dtype.kind in "biu":
        a = a.to(dtype=DEFAULT_FLOAT)
    elif tb and isinstance(a, float) and b.dtype.kind in "biu":
        b = b.to(dtype=DEFAULT_FLOAT)
    elif ta and tb and a.array.dtype is not b.array.dtype and a.dtype != b.dtype:
        # PyTorch's tiers (a zero-dim tensor does not widen a dimensioned one; float16 with
        # bfloat16 is float32; an int tensor with a bfloat16 one is bfloat16), not NumPy's
        from gradflow.ops._promote import result_dtype

        dt = result_dtype(op, a, b)
        a, b = a.to(dtype=dt), b.to(dtype=dt)
    return a, b


def add(a, b) -> Tensor:
    a, b = _prepare(a, b, "add")
    return Add.apply(a, b)


def sub(a, b) -> Tensor:
    a, b = _prepare(a, b, "sub")
    return Sub.apply(a, b)


def mul(a, b) -> Tensor:
    a, b = _prepare(a, b, "mul")
    return Mul.apply(a, b)


def div(input, other, *, rounding_mode: str | None = None) -> Tensor:  # noqa: A002
    """input / other: true division (integers give the default float dtype), or with
    ``rounding_mode="trunc"``/``"floor"`` the quotient rounded toward zero/down in the promoted
    dtype (integers stay integers; gradient 0), as PyTorch."""
    if rounding_mode is not None:
        from gradflow.ops.rounding import div_rounded  # rounding imports this module

        return div_rounded(input, other, rounding_mode)
    a, b = _prepare(input, other, "div")
    # true division of integers is floating point (the default float, as PyTorch)
    if isinstance(a, Tensor) and a.dtype.kind in "biu":
        a = a.to(dtype=DEFAULT_FLOAT)
    if isinstance(b, Tensor) and b.dtype.kind in "biu":
        b = b.to(dtype=DEFAULT_FLOAT)
    return Div.apply(a, b)


def neg(a: Tensor) -> Tensor:
    return Neg.apply(tensor_arg(a, "neg"))


def pow(a, b) -> Tensor:  # noqa: A001 - the op's name
    a, b = _prepare(a, b, "pow")
    return Pow.apply(a, b)


divide = div


def _div_(self: Tensor, other, *, rounding_mode: str | None = None) -> Tensor:
    """In-place :func:`div` (``rounding_mode`` too)."""
    from gradflow.ops.math import inplace  # math imports this module

    return inplace(self, "div_", lambda a: div(a, other, rounding_mode=rounding_mode), other)


def _div_method(self: Tensor, other, *, rounding_mode: str | None = None) -> Tensor:
    return div(self, other, rounding_mode=rounding_mode)


tensor_methods(div=_div_method, div_=_div_, divide=_div_method, divide_=_div_,
               replace=("div", "div_"))
