"""Elementwise math: exp, log, sqrt, abs, sin, cos, erf, clip, maximum/minimum, where.

The unary functions are one :class:`_Unary` Function each, made by :func:`_unary` from a table
row: the forward kernel, whether the derivative reads the input x or the output y, the composed
gradient (Tensors, differentiable again) and the vjp kernel (arrays). The vjp pays on the hot
path: ``exp`` forward + backward at 64x64 takes ~23 µs with it, ~35 µs running the composed
formula as ops (benchmarks/overhead.py).
"""

from __future__ import annotations

import math
from collections.abc import Callable

from gradflow.autograd.function import Function
from gradflow.ops._util import as_float, as_operand, operand_arg, tensor_arg
from gradflow.ops.arithmetic import _Binary, operands
from gradflow.ops.shape import sum_to
from gradflow.tensor import Tensor

_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


class _Unary(Function):
    """y = f(x) elementwise; dL/dx = g · f′, with f′ read from the saved x or y."""

    kernel: str  # forward kernel
    vjp_kernel: str  # (g, saved array) -> dL/dx
    uses_output: bool  # f′ is written in y (saved output) rather than x (saved input)
    grad: Callable[[Tensor, Tensor], Tensor]  # (g, saved Tensor) -> dL/dx, with gradflow ops

    @classmethod
    def forward(cls, ctx, a):
        y = getattr(ctx.k, cls.kernel)(a)
        ctx.save_for_backward(y if cls.uses_output else a)
        return y

    @classmethod
    def vjp(cls, ctx, g):
        return getattr(ctx.k, cls.vjp_kernel)(g, ctx.saved_arrays[0])

    @classmethod
    def backward(cls, ctx, g):
        return cls.grad(g, ctx.saved_tensors[0])


def _unary(name: str, kernel: str, reads: str, grad: Callable, vjp_kernel: str) -> type:
    """A :class:`_Unary` named ``name`` (the graph shows it); ``reads`` is "x" or "y"."""
    return type(name, (_Unary,), {
        "kernel": kernel, "vjp_kernel": vjp_kernel, "uses_output": reads == "y",
        "grad": staticmethod(grad), "__doc__": f"{kernel}(x) elementwise.", "__module__": __name__,
    })


def _sign(x: Tensor) -> Tensor:
    """sign(x) as a constant (it is piecewise constant: its derivative is 0)."""
    backend = x.backend
    return Tensor.wrap(backend.k.sign(x.array), backend)


# name, forward kernel, f′ reads x or y, composed gradient of (g, x or y), vjp kernel (g, x or y)
Exp = _unary("Exp", "exp", "y", lambda g, y: g * y, "mul")
Log = _unary("Log", "log", "x", lambda g, x: g / x, "div")
Sqrt = _unary("Sqrt", "sqrt", "y", lambda g, y: g / (2 * y), "sqrt_backward")
Abs = _unary("Abs", "abs", "x", lambda g, x: g * _sign(x), "abs_backward")
Sin = _unary("Sin", "sin", "x", lambda g, x: g * cos(x), "sin_backward")
Cos = _unary("Cos", "cos", "x", lambda g, x: -g * sin(x), "cos_backward")
Erf = _unary("Erf", "erf", "x", lambda g, x: g * _TWO_OVER_SQRT_PI * exp(-(x * x)),
             "erf_backward")


class Clip(Function):
    """Gradient passes where lo ≤ x ≤ hi (bounds inclusive, as PyTorch's clamp)."""

    @staticmethod
    def forward(ctx, a, lo, hi):
        ctx.save_for_backward(a)
        ctx.bounds = (lo, hi)
        return ctx.k.clip(a, lo, hi)

    @staticmethod
    def vjp(ctx, g):
        (a,) = ctx.saved_arrays
        k = ctx.k
        return k.sum_to(k.mul(g, k.clip_mask(a, *ctx.bounds)), a.shape)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_arrays  # the mask is piecewise constant in a: a constant here
        inside = Tensor.wrap(ctx.k.clip_mask(a, *ctx.bounds), ctx.backend)
        return sum_to(g * inside, a.shape)


class _Extremum(_Binary):
    """maximum/minimum of two operands; ties share the gradient equally (as JAX and PyTorch)."""

    saves_inputs = True
    larger: bool

    @staticmethod
    def vjp(ctx, g):
        k = ctx.k
        a, b = operands(ctx, ctx.saved_arrays)
        na, nb = ctx.needs_input_grad
        sa, sb = ctx.shapes
        ga, gb = k.extremum_pair_backward(g, a, b, ctx.fn.larger)
        return (k.sum_to(ga, sa) if na else None), (k.sum_to(gb, sb) if nb else None)

    @staticmethod
    def backward(ctx, g):
        # the weights are piecewise constant: computed from the arrays, constants here
        a, b = operands(ctx, ctx.saved_arrays)
        na, nb = ctx.needs_input_grad
        sa, sb = ctx.shapes
        wa = ctx.k.extremum_weight(a, b, ctx.fn.larger, g.dtype)
        wa = Tensor.wrap(wa, ctx.backend)
        ga = sum_to(g * wa, sa) if na else None
        gb = sum_to(g * (1 - wa), sb) if nb else None
        return ga, gb


class Maximum(_Extremum):
    kernel = "maximum"
    larger = True


class Minimum(_Extremum):
    kernel = "minimum"
    larger = False


class Where(Function):
    """``a`` where ``cond`` else ``b``: g flows to ``a`` where cond holds, to ``b`` elsewhere."""

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
    def vjp(ctx, g):
        k = ctx.k
        _, na, nb = ctx.needs_input_grad
        sa, sb = ctx.shapes
        ga = k.sum_to(k.where(ctx.cond, g, 0.0), sa) if na else None
        gb = k.sum_to(k.where(ctx.cond, 0.0, g), sb) if nb else None
        return None, ga, gb

    @staticmethod
    def backward(ctx, g):
        _, na, nb = ctx.needs_input_grad
        sa, sb = ctx.shapes
        ga = sum_to(Where.apply(ctx.cond, g, 0.0), sa) if na else None
        gb = sum_to(Where.apply(ctx.cond, 0.0, g), sb) if nb else None
        return None, ga, gb


def exp(a: Tensor) -> Tensor:
    """eˣ elementwise."""
    return Exp.apply(as_float(a, 'exp'))


def log(a: Tensor) -> Tensor:
    """Natural logarithm elementwise."""
    return Log.apply(as_float(a, 'log'))


def sqrt(a: Tensor) -> Tensor:
    return Sqrt.apply(as_float(a, 'sqrt'))


def abs(a: Tensor) -> Tensor:  # noqa: A001
    return Abs.apply(tensor_arg(a, "abs"))


def sin(a: Tensor) -> Tensor:
    return Sin.apply(as_float(a, 'sin'))


def cos(a: Tensor) -> Tensor:
    return Cos.apply(as_float(a, 'cos'))


def erf(a: Tensor) -> Tensor:
    """The error function 2/√π ∫₀ˣ e^{−t²} dt elementwise."""
    return Erf.apply(as_float(a, 'erf'))


def clip(a: Tensor, min=None, max=None) -> Tensor:  # noqa: A002
    tensor_arg(a, "clip")
    if min is None and max is None:
        raise ValueError("clip: at least one of min and max must be given")
    if isinstance(min, Tensor):
        min = min.array  # noqa: A001
    if isinstance(max, Tensor):
        max = max.array  # noqa: A001
    return Clip.apply(a, min, max)


def maximum(a, b) -> Tensor:
    return Maximum.apply(as_operand(operand_arg(a, "maximum", "input")),
                         as_operand(operand_arg(b, "maximum", "other")))


def minimum(a, b) -> Tensor:
    return Minimum.apply(as_operand(operand_arg(a, "minimum", "input")),
                         as_operand(operand_arg(b, "minimum", "other")))


def where(cond, a, b) -> Tensor:
    """``a`` where ``cond`` is true, else ``b`` (broadcast); gradients flow to ``a`` and ``b``."""
    operand_arg(cond, "where", "condition")
    a = as_operand(operand_arg(a, "where", "input"))
    b = as_operand(operand_arg(b, "where", "other"))
    if isinstance(cond, Tensor):
        cond = cond.array
    return Where.apply(cond, a, b)
