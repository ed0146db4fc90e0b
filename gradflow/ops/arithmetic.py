"""Arithmetic: + − × ÷ and powers, with NumPy broadcasting and Python scalars kept weak."""

from __future__ import annotations

import math

from gradflow.autograd.function import Function
from gradflow.dtypes import DEFAULT_FLOAT
from gradflow.ops._util import as_operand, first_order, is_scalar, wrap
from gradflow.ops.shape import sum_to
from gradflow.tensor import Tensor


def _shape(x):
    return getattr(x, "shape", None)


def _broadcast_error(op: str, a, b, exc: Exception):
    return ValueError(f"{op}: operands with shapes {_shape(a)} and {_shape(b)} cannot be "
                      "broadcast together (trailing axes must match or be 1)") if \
        "broadcast" in str(exc) else exc


class _Binary(Function):
    """Shared forward of the broadcasting binary ops: remember both shapes and any Python-number
    operand, save the array operands when backward needs them, run the kernel, and name both
    shapes when they do not broadcast."""

    kernel: str
    saves_inputs = False

    @classmethod
    def forward(cls, ctx, a, b):
        ctx.shapes = (_shape(a), _shape(b))
        ctx.consts = (a if is_scalar(a) else None, b if is_scalar(b) else None)
        if cls.saves_inputs:
            ctx.save_for_backward(None if is_scalar(a) else a, None if is_scalar(b) else b)
        try:
            return getattr(ctx.k, cls.kernel)(a, b)
        except ValueError as exc:
            raise _broadcast_error(cls.kernel, a, b, exc) from exc


class Add(_Binary):
    kernel = "add"

    @staticmethod
    def backward(ctx, g):
        na, nb = ctx.needs_input_grad
        sa, sb = ctx.shapes
        return (sum_to(g, sa) if na else None, sum_to(g, sb) if nb else None)


class Sub(_Binary):
    kernel = "sub"

    @staticmethod
    def backward(ctx, g):
        na, nb = ctx.needs_input_grad
        sa, sb = ctx.shapes
        if first_order():
            k = ctx.k
            return (wrap(ctx, k.sum_to(g.data, sa)) if na else None,
                    wrap(ctx, k.sum_to(k.neg(g.data), sb)) if nb else None)
        return (sum_to(g, sa) if na else None, sum_to(-g, sb) if nb else None)


class Mul(_Binary):
    kernel = "mul"
    saves_inputs = True

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        ca, cb = ctx.consts
        na, nb = ctx.needs_input_grad
        sa, sb = ctx.shapes
        if first_order():
            k, gd = ctx.k, g.data
            ga = wrap(ctx, k.sum_to(gd * (cb if b is None else b.data), sa)) if na else None
            gb = wrap(ctx, k.sum_to(gd * (ca if a is None else a.data), sb)) if nb else None
            return ga, gb
        ga = sum_to(g * (cb if b is None else b), sa) if na else None
        gb = sum_to(g * (ca if a is None else a), sb) if nb else None
        return ga, gb


class Div(_Binary):
    kernel = "div"
    saves_inputs = True

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        ca, cb = ctx.consts
        na, nb = ctx.needs_input_grad
        sa, sb = ctx.shapes
        if first_order():
            k, gd = ctx.k, g.data
            bd = cb if b is None else b.data
            ad = ca if a is None else a.data
            ga = wrap(ctx, k.sum_to(gd / bd, sa)) if na else None
            gb = wrap(ctx, k.sum_to(-gd * ad / (bd * bd), sb)) if nb else None
            return ga, gb
        b_ = cb if b is None else b
        a_ = ca if a is None else a
        ga = sum_to(g / b_, sa) if na else None
        gb = sum_to(-g * a_ / (b_ * b_), sb) if nb else None
        return ga, gb


class Neg(Function):
    @staticmethod
    def forward(ctx, a):
        return ctx.k.neg(a)

    @staticmethod
    def backward(ctx, g):
        if first_order():
            return wrap(ctx, ctx.k.neg(g.data))
        return Neg.apply(g)


class Pow(_Binary):
    """a ** b. d/da = b a^(b−1); d/db = a^b log a (log 0 taken as 0, as JAX does)."""

    kernel = "power"
    saves_inputs = True

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
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
            base = ca if a is None else a
            if a is None:
                log_a = math.log(ca) if ca > 0 else (0.0 if ca == 0 else math.nan)
            else:
                from gradflow.ops.math import log, where

                log_a = log(where(a == 0, 1.0, a))
            gb = sum_to(g * (base ** b) * log_a, sb)
        return ga, gb


def _prepare(a, b, op: str):
    a = as_operand(a)
    b = as_operand(b)
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


def div(a, b) -> Tensor:
    a, b = _prepare(a, b, "div")
    # true division of integers is floating point (the default float, as PyTorch)
    if isinstance(a, Tensor) and a.dtype.kind in "biu":
        a = a.to(dtype=DEFAULT_FLOAT)
    if isinstance(b, Tensor) and b.dtype.kind in "biu":
        b = b.to(dtype=DEFAULT_FLOAT)
    return Div.apply(a, b)


def neg(a: Tensor) -> Tensor:
    return Neg.apply(a)


def pow(a, b) -> Tensor:  # noqa: A001 - the op's name
    a, b = _prepare(a, b, "pow")
    return Pow.apply(a, b)
