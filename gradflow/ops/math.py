"""Elementwise math: exp, log (log2, log10, log1p), expm1, exp2, sqrt, rsqrt, reciprocal, square,
abs, trigonometric and hyperbolic functions, erf, erfinv, atan2, clamp, lerp, maximum/minimum,
where; with PyTorch's in-place ``foo_`` methods.

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
from gradflow.dtypes import is_floating
from gradflow.ops._promote import result_dtype
from gradflow.ops._util import as_float, as_operand, is_scalar, operand_arg, tensor_arg
from gradflow.ops.arithmetic import _Binary, operands
from gradflow.ops.shape import sum_to
from gradflow.tensor import Tensor, _inplace, tensor_methods

_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)
_LN2 = math.log(2.0)
_LN10 = math.log(10.0)
_SQRT_PI_OVER_2 = math.sqrt(math.pi) / 2


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
Log2 = _unary("Log2", "log2", "x", lambda g, x: g / (x * _LN2), "log2_backward")
Log10 = _unary("Log10", "log10", "x", lambda g, x: g / (x * _LN10), "log10_backward")
Log1p = _unary("Log1p", "log1p", "x", lambda g, x: g / (x + 1), "log1p_backward")
Expm1 = _unary("Expm1", "expm1", "y", lambda g, y: g * (y + 1), "expm1_backward")
Exp2 = _unary("Exp2", "exp2", "y", lambda g, y: g * y * _LN2, "exp2_backward")
Sinh = _unary("Sinh", "sinh", "x", lambda g, x: g * cosh(x), "sinh_backward")
Cosh = _unary("Cosh", "cosh", "x", lambda g, x: g * sinh(x), "cosh_backward")
Tan = _unary("Tan", "tan", "y", lambda g, y: g * (y * y + 1), "tan_backward")
Asin = _unary("Asin", "asin", "x", lambda g, x: g * rsqrt(1 - x * x), "asin_backward")
Acos = _unary("Acos", "acos", "x", lambda g, x: -g * rsqrt(1 - x * x), "acos_backward")
Atan = _unary("Atan", "atan", "x", lambda g, x: g / (x * x + 1), "atan_backward")
Rsqrt = _unary("Rsqrt", "rsqrt", "y", lambda g, y: g * (y * y * y) * -0.5, "rsqrt_backward")
Reciprocal = _unary("Reciprocal", "reciprocal", "y", lambda g, y: -g * (y * y),
                    "reciprocal_backward")
Square = _unary("Square", "square", "x", lambda g, x: g * (2 * x), "square_backward")
Erfinv = _unary("Erfinv", "erfinv", "y", lambda g, y: g * _SQRT_PI_OVER_2 * exp(y * y),
                "erfinv_backward")


class Atan2(_Binary):
    """atan2(a, b): dL/da = g b / (a² + b²), dL/db = −g a / (a² + b²) (0 at a = b = 0)."""

    kernel = "atan2"
    saves_inputs = True

    @staticmethod
    def vjp(ctx, g):
        k = ctx.k
        a, b = ctx.saved_arrays
        na, nb = ctx.needs_input_grad
        sa, sb = ctx.shapes
        ga, gb = k.atan2_backward(g, a, b)
        return (k.sum_to(ga, sa) if na else None), (k.sum_to(gb, sb) if nb else None)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        na, nb = ctx.needs_input_grad
        sa, sb = ctx.shapes
        den = a * a + b * b
        zero = den.array == 0
        r = Where.apply(zero, 0.0, g / Where.apply(zero, 1.0, den))
        return (sum_to(r * b, sa) if na else None), (sum_to(-(r * a), sb) if nb else None)


class Clip(Function):
    """clamp(a, lo, hi) = min(max(a, lo), hi); ``lo``/``hi`` are arrays, numbers or None.

    PyTorch's gradient rule: g flows to ``a`` where lo ≤ a ≤ hi (bounds inclusive), to ``lo``
    where lo > a and lo < hi, to ``hi`` where hi < a or hi < lo (each summed to its shape)."""

    @staticmethod
    def forward(ctx, a, lo, hi):
        ctx.save_for_backward(a, lo if hasattr(lo, "shape") else None,
                              hi if hasattr(hi, "shape") else None)
        ctx.bounds = (lo, hi)
        ctx.shapes = tuple(getattr(x, "shape", None) for x in (a, lo, hi))
        try:
            return ctx.k.clip(a, lo, hi)
        except ValueError as exc:
            raise ValueError(f"clamp: input {ctx.shapes[0]}, min {ctx.shapes[1]} and max "
                             f"{ctx.shapes[2]} cannot be broadcast together") from exc

    @staticmethod
    def _arrays(ctx):
        a, lo, hi = ctx.saved_arrays
        blo, bhi = ctx.bounds
        return a, (blo if lo is None else lo), (bhi if hi is None else hi)

    @staticmethod
    def vjp(ctx, g):
        return ctx.k.clamp_backward(g, *Clip._arrays(ctx), ctx.needs_input_grad, ctx.shapes)

    @staticmethod
    def backward(ctx, g):
        # the masks are piecewise constant in the inputs: constants here
        masks = ctx.k.clamp_masks(*Clip._arrays(ctx), ctx.needs_input_grad)
        return tuple(None if m is None else sum_to(Where.apply(m, g, 0.0), s)
                     for m, s in zip(masks, ctx.shapes))


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


def exp(input: Tensor) -> Tensor:  # noqa: A002 - PyTorch's argument names
    """eˣ elementwise."""
    return Exp.apply(as_float(input, "exp"))


def log(input: Tensor) -> Tensor:  # noqa: A002
    """Natural logarithm elementwise."""
    return Log.apply(as_float(input, "log"))


def sqrt(input: Tensor) -> Tensor:  # noqa: A002
    return Sqrt.apply(as_float(input, "sqrt"))


def abs(input: Tensor) -> Tensor:  # noqa: A001, A002
    return Abs.apply(tensor_arg(input, "abs"))


def sin(input: Tensor) -> Tensor:  # noqa: A002
    return Sin.apply(as_float(input, "sin"))


def cos(input: Tensor) -> Tensor:  # noqa: A002
    return Cos.apply(as_float(input, "cos"))


def erf(input: Tensor) -> Tensor:  # noqa: A002
    """The error function 2/√π ∫₀ˣ e^{−t²} dt elementwise."""
    return Erf.apply(as_float(input, "erf"))


def log2(input: Tensor) -> Tensor:  # noqa: A002
    return Log2.apply(as_float(input, "log2"))


def log10(input: Tensor) -> Tensor:  # noqa: A002
    return Log10.apply(as_float(input, "log10"))


def log1p(input: Tensor) -> Tensor:  # noqa: A002
    """log(1 + x), accurate for small x."""
    return Log1p.apply(as_float(input, "log1p"))


def expm1(input: Tensor) -> Tensor:  # noqa: A002
    """eˣ − 1, accurate for small x."""
    return Expm1.apply(as_float(input, "expm1"))


def exp2(input: Tensor) -> Tensor:  # noqa: A002
    return Exp2.apply(as_float(input, "exp2"))


def sinh(input: Tensor) -> Tensor:  # noqa: A002
    return Sinh.apply(as_float(input, "sinh"))


def cosh(input: Tensor) -> Tensor:  # noqa: A002
    return Cosh.apply(as_float(input, "cosh"))


def tan(input: Tensor) -> Tensor:  # noqa: A002
    return Tan.apply(as_float(input, "tan"))


def asin(input: Tensor) -> Tensor:  # noqa: A002
    return Asin.apply(as_float(input, "asin"))


def acos(input: Tensor) -> Tensor:  # noqa: A002
    return Acos.apply(as_float(input, "acos"))


def atan(input: Tensor) -> Tensor:  # noqa: A002
    return Atan.apply(as_float(input, "atan"))


def rsqrt(input: Tensor) -> Tensor:  # noqa: A002
    """1/√x elementwise."""
    return Rsqrt.apply(as_float(input, "rsqrt"))


def reciprocal(input: Tensor) -> Tensor:  # noqa: A002
    """1/x elementwise (integers give the default float dtype)."""
    return Reciprocal.apply(as_float(input, "reciprocal"))


def square(input: Tensor) -> Tensor:  # noqa: A002
    """x² elementwise; integers stay integers, bools give int64 (as PyTorch)."""
    tensor_arg(input, "square")
    if input.dtype.kind == "b":
        input = input.long()  # noqa: A001
    return Square.apply(input)


def erfinv(input: Tensor) -> Tensor:  # noqa: A002
    """The inverse of erf on (−1, 1) (±inf at ±1, NaN outside)."""
    return Erfinv.apply(as_float(input, "erfinv"))


def atan2(input: Tensor, other: Tensor) -> Tensor:  # noqa: A002
    """The angle of the point (other, input), in (−π, π], elementwise with broadcasting."""
    tensor_arg(input, "atan2")
    tensor_arg(other, "atan2", "other")
    dtype = result_dtype("atan2", input, other, floating=True)
    if input.dtype != dtype:
        input = input.to(dtype=dtype)  # noqa: A001
    if other.dtype != dtype:
        other = other.to(dtype=dtype)
    return Atan2.apply(input, other)


def clamp(input: Tensor, min=None, max=None) -> Tensor:  # noqa: A001, A002
    """min(max(input, min), max) elementwise; ``min``/``max`` are numbers, Tensors (broadcast;
    they promote the result dtype as PyTorch) or None. Where min > max the result is max."""
    tensor_arg(input, "clamp")
    if min is None and max is None:
        raise RuntimeError("clamp: at least one of 'min' or 'max' must not be None; pass a "
                           "bound, e.g. clamp(x, min=0)")
    for name, b in (("min", min), ("max", max)):
        if b is not None and not isinstance(b, Tensor) and not is_scalar(b):
            raise TypeError(f"clamp(): argument '{name}' must be a number or a Tensor, got "
                            f"{type(b).__name__}")
    if is_floating(input.dtype) and not isinstance(min, Tensor) and not isinstance(max, Tensor) \
            and not isinstance(min, complex) and not isinstance(max, complex):
        return Clip.apply(input, min, max)  # the hot path: float input, number bounds
    dtype = result_dtype("clamp", input, min, max)
    if dtype.kind == "b":
        raise NotImplementedError(f"clamp: not implemented for bool results (input {input.dtype}"
                                  f", min {min!r}, max {max!r}); use integer bounds, e.g. "
                                  "clamp(x, 0, 1), or logical ops")
    if input.dtype != dtype:
        input = input.to(dtype=dtype)  # noqa: A001
    if isinstance(min, Tensor) and min.dtype != dtype:
        min = min.to(dtype=dtype)  # noqa: A001
    if isinstance(max, Tensor) and max.dtype != dtype:
        max = max.to(dtype=dtype)  # noqa: A001
    return Clip.apply(input, min, max)


clip = clamp


def lerp(input: Tensor, end: Tensor, weight) -> Tensor:  # noqa: A002
    """input + weight · (end − input), computed as PyTorch does: from ``end`` where
    |weight| ≥ 1/2 (exact at weight = 1). ``weight`` is a number or a Tensor (broadcast)."""
    tensor_arg(input, "lerp")
    tensor_arg(end, "lerp", "end")
    for name, t in (("input", input), ("end", end), ("weight", weight)):
        if isinstance(t, Tensor) and not is_floating(t.dtype):
            raise NotImplementedError(f"lerp: argument '{name}' has dtype {t.dtype}; lerp is "
                                      "implemented for floating point tensors only (convert "
                                      "with .float())")
    for name, t in (("end", end), ("weight", weight)):
        if isinstance(t, Tensor) and t.dtype != input.dtype:
            raise RuntimeError(f"lerp: expected dtype {input.dtype} for '{name}' (the input's) "
                               f"but got {t.dtype}; convert it with .to(dtype=...)")
    if not isinstance(weight, Tensor):
        if not is_scalar(weight):
            raise TypeError(f"lerp(): argument 'weight' must be a number or a Tensor, got "
                            f"{type(weight).__name__}")
        if weight < 0.5:
            return input + weight * (end - input)
        return end - (end - input) * (1 - weight)
    diff = end - input
    small = weight.abs().array < 0.5
    return where(small, input + weight * diff, end - diff * (1 - weight))


def maximum(input, other) -> Tensor:  # noqa: A002
    return Maximum.apply(as_operand(operand_arg(input, "maximum", "input")),
                         as_operand(operand_arg(other, "maximum", "other")))


def minimum(input, other) -> Tensor:  # noqa: A002
    return Minimum.apply(as_operand(operand_arg(input, "minimum", "input")),
                         as_operand(operand_arg(other, "minimum", "other")))


def where(condition, input, other) -> Tensor:  # noqa: A002
    """``input`` where ``condition`` is true, else ``other`` (broadcast); gradients flow to
    ``input`` and ``other``."""
    operand_arg(condition, "where", "condition")
    a = as_operand(operand_arg(input, "where", "input"))
    b = as_operand(operand_arg(other, "where", "other"))
    if isinstance(condition, Tensor):
        condition = condition.array
    return Where.apply(condition, a, b)


def inplace(self: Tensor, name: str, fn: Callable[[Tensor], Tensor], *others) -> Tensor:
    """``self`` ← ``fn(self)`` in place with PyTorch's rules (as ``add_``): the version counter
    moves; a leaf that requires grad refuses in grad mode; the result must keep the shape and
    fit the dtype. ``others`` are the op's other operands (a Tensor among them that requires
    grad records the op in the graph)."""
    dep = next((o for o in others if isinstance(o, Tensor) and o._requires_grad), None)
    return _inplace(self, dep, lambda a, _: fn(a), name)


def _inplace_method(name: str, fn: Callable) -> Callable:
    def method(self: Tensor) -> Tensor:
        return inplace(self, f"{name}_", fn)

    method.__name__ = method.__qualname__ = f"{name}_"
    method.__doc__ = f"In-place :func:`{name}`."
    return method


def _clamp_(self: Tensor, min=None, max=None) -> Tensor:  # noqa: A002
    """In-place :func:`clamp` (Tensor bounds too)."""
    return inplace(self, "clamp_", lambda a: clamp(a, min, max), min, max)


def _atan2_(self: Tensor, other: Tensor) -> Tensor:
    return inplace(self, "atan2_", lambda a: atan2(a, other), other)


def _lerp_(self: Tensor, end: Tensor, weight) -> Tensor:
    return inplace(self, "lerp_", lambda a: lerp(a, end, weight), end, weight)


_UNARY = {"log2": log2, "log10": log10, "log1p": log1p, "expm1": expm1, "exp2": exp2,
          "sinh": sinh, "cosh": cosh, "tan": tan, "asin": asin, "acos": acos, "atan": atan,
          "rsqrt": rsqrt, "reciprocal": reciprocal, "square": square, "erfinv": erfinv}
tensor_methods(**_UNARY, **{f"{n}_": _inplace_method(n, f) for n, f in _UNARY.items()},
               sin_=_inplace_method("sin", sin), cos_=_inplace_method("cos", cos),
               log_=_inplace_method("log", log), erf=erf, erf_=_inplace_method("erf", erf),
               arcsin=asin, arccos=acos, arctan=atan, arctan2=atan2,
               atan2=atan2, atan2_=_atan2_, lerp=lerp, lerp_=_lerp_,
               clamp_=_clamp_, clip_=_clamp_, replace=("clamp_", "clip_"))
