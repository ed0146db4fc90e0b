"""Elementwise math: exp, log, sqrt, abs, sin, cos, erf, clip, maximum/minimum, where."""

from __future__ import annotations

import math

from gradflow.autograd.function import Function
from gradflow.ops._util import as_operand, first_order, wrap
from gradflow.ops.shape import sum_to
from gradflow.tensor import Tensor


class Exp(Function):
    @staticmethod
    def forward(ctx, a):
        y = ctx.k.exp(a)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return g * y


class Log(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return ctx.k.log(a)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        return g / a


class Sqrt(Function):
    @staticmethod
    def forward(ctx, a):
        y = ctx.k.sqrt(a)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return g / (2 * y)


class Abs(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return ctx.k.abs(a)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        return g * wrap(ctx, ctx.k.sign(a.data))


class Sin(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return ctx.k.sin(a)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        return g * cos(a)


class Cos(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return ctx.k.cos(a)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        return -g * sin(a)


class Erf(Function):
    """erf(x); d/dx = 2/√π · e^{−x²}."""

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return ctx.k.erf(a)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        return g * (2 / math.sqrt(math.pi)) * exp(-(a * a))


class Clip(Function):
    """Gradient passes where lo ≤ x ≤ hi (bounds inclusive, as PyTorch's clamp)."""

    @staticmethod
    def forward(ctx, a, lo, hi):
        ctx.save_for_backward(a)
        ctx.bounds = (lo, hi)
        return ctx.k.clip(a, lo, hi)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        lo, hi = ctx.bounds
        x = a.data
        inside = True
        if lo is not None:
            inside = x >= lo
        if hi is not None:
            inside = inside & (x <= hi) if lo is not None else x <= hi
        if first_order():
            return wrap(ctx, g.data * inside)
        return g * wrap(ctx, inside)


class _Extremum(Function):
    """maximum/minimum of two tensors; ties share the gradient equally (as JAX and PyTorch)."""

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        xa = a.data if a is not None else ctx.consts[0]
        xb = b.data if b is not None else ctx.consts[1]
        wa = ctx.k.where(xa == xb, 0.5, ctx.fn._pick_a(xa, xb)).astype(g.dtype)
        na, nb = ctx.needs_input_grad
        sa, sb = ctx.shapes
        ga = sum_to(g * wrap(ctx, wa), sa) if na else None
        gb = sum_to(g * wrap(ctx, 1 - wa), sb) if nb else None
        return ga, gb


class Maximum(_Extremum):
    @staticmethod
    def forward(ctx, a, b):
        _save_pair(ctx, a, b)
        return ctx.k.maximum(a, b)

    @staticmethod
    def _pick_a(xa, xb):
        return xa > xb


class Minimum(_Extremum):
    @staticmethod
    def forward(ctx, a, b):
        _save_pair(ctx, a, b)
        return ctx.k.minimum(a, b)

    @staticmethod
    def _pick_a(xa, xb):
        return xa < xb


def _save_pair(ctx, a, b):
    scalar = (not hasattr(a, "shape"), not hasattr(b, "shape"))
    ctx.shapes = (getattr(a, "shape", None), getattr(b, "shape", None))
    ctx.consts = (a if scalar[0] else None, b if scalar[1] else None)
    ctx.save_for_backward(None if scalar[0] else a, None if scalar[1] else b)


class Where(Function):
    @staticmethod
    def forward(ctx, cond, a, b):
        ctx.cond = cond
        ctx.shapes = (getattr(a, "shape", None), getattr(b, "shape", None))
        try:
            return ctx.k.where(cond, a, b)
        except ValueError as exc:
            raise ValueError(f"where: shapes {getattr(cond, 'shape', None)}, {ctx.shapes[0]} and "
                             f"{ctx.shapes[1]} cannot be broadcast together") from exc

    @staticmethod
    def backward(ctx, g):
        _, na, nb = ctx.needs_input_grad
        sa, sb = ctx.shapes
        cond = wrap(ctx, ctx.cond)
        ga = sum_to(Where.apply(cond, g, 0.0), sa) if na else None
        gb = sum_to(Where.apply(cond, 0.0, g), sb) if nb else None
        return None, ga, gb


def exp(a: Tensor) -> Tensor:
    return Exp.apply(a)


def log(a: Tensor) -> Tensor:
    return Log.apply(a)


def sqrt(a: Tensor) -> Tensor:
    return Sqrt.apply(a)


def abs(a: Tensor) -> Tensor:  # noqa: A001
    return Abs.apply(a)


def sin(a: Tensor) -> Tensor:
    return Sin.apply(a)


def cos(a: Tensor) -> Tensor:
    return Cos.apply(a)


def erf(a: Tensor) -> Tensor:
    return Erf.apply(a)


def clip(a: Tensor, min=None, max=None) -> Tensor:  # noqa: A002
    if min is None and max is None:
        raise ValueError("clip: at least one of min and max must be given")
    if isinstance(min, Tensor):
        min = min.data  # noqa: A001
    if isinstance(max, Tensor):
        max = max.data  # noqa: A001
    return Clip.apply(a, min, max)


def maximum(a, b) -> Tensor:
    return Maximum.apply(as_operand(a), as_operand(b))


def minimum(a, b) -> Tensor:
    return Minimum.apply(as_operand(a), as_operand(b))


def where(cond, a, b) -> Tensor:
    """``a`` where ``cond`` is true, else ``b`` (broadcast); gradients flow to ``a`` and ``b``."""
    a, b = as_operand(a), as_operand(b)
    if isinstance(cond, Tensor):
        cond = cond.data
    return Where.apply(cond, a, b)
