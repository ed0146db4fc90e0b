"""PyTorch's top-level elementwise tail: aliases (absolute, negative, multiply, subtract,
true_divide), clamp_min/clamp_max, float_power, addcmul/addcdiv, heaviside, gcd/lcm,
deg2rad/rad2deg, sinc, logit, erfc, lgamma, digamma/polygamma, signbit, copysign, fmax/fmin,
logaddexp/logaddexp2, hypot, xlogy; the dtype queries (is_floating_point, is_complex,
is_nonzero, isreal, isin, result_type, can_cast, promote_types).

Everything composes the differentiable ops (second order is free) except erfc, lgamma and
polygamma, which are Functions over SciPy kernels (kernels/namespace_special.py) whose
derivatives are again such Functions.
"""

from __future__ import annotations

import math

from gradflow.autograd.function import Function
from gradflow.dtypes import as_dtype, bool_, complex128, float64, is_floating
from gradflow.ops import math as M
from gradflow.ops._promote import promote_types as _promote_types
from gradflow.ops._promote import result_dtype
from gradflow.ops._util import as_float, as_operand, is_scalar, operand_arg, tensor_arg
from gradflow.ops.arithmetic import add, div, mul, neg, pow, sub  # noqa: A004
from gradflow.tensor import Tensor, tensor_methods

_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)
_LN2 = math.log(2.0)


def _const(like: Tensor, array) -> Tensor:
    return Tensor.wrap(array, like.backend)


def _to(t, dtype):
    return t.to(dtype=dtype) if isinstance(t, Tensor) and t.dtype != dtype else t


def _float_pair(input, other, op: str, names=("input", "other")):
    """Both operands (Tensors or numbers, one a Tensor) in their promoted floating dtype."""
    a = as_operand(operand_arg(input, op, names[0]))
    b = as_operand(operand_arg(other, op, names[1]))
    dt = result_dtype(op, a, b, floating=True)
    return _to(a, dt), _to(b, dt), dt


def _floats_only(op: str, *tensors) -> None:
    for t in tensors:
        if isinstance(t, Tensor) and not is_floating(t.dtype):
            raise NotImplementedError(f"{op}: not implemented for {t.dtype} tensors (shape "
                                      f"{tuple(t.shape)}), as PyTorch; convert with .float()")


# ---- special functions (Functions over SciPy kernels) --------------------------------------

class Polygamma(Function):
    """ψ⁽ⁿ⁾(x) elementwise; d/dx ψ⁽ⁿ⁾ = ψ⁽ⁿ⁺¹⁾ (so every order differentiates again)."""

    @staticmethod
    def forward(ctx, a, *, n):
        ctx.n = n
        ctx.save_for_backward(a)
        return ctx.k.ns_polygamma(a, n)

    @staticmethod
    def vjp(ctx, g):
        return g * ctx.k.ns_polygamma(ctx.saved_arrays[0], ctx.n + 1)

    @staticmethod
    def backward(ctx, g):
        return g * Polygamma.apply(ctx.saved_tensors[0], n=ctx.n + 1)


class Lgamma(Function):
    """log|Γ(x)| elementwise; d/dx = ψ(x)."""

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return ctx.k.ns_lgamma(a)

    @staticmethod
    def vjp(ctx, g):
        return g * ctx.k.ns_polygamma(ctx.saved_arrays[0], 0)

    @staticmethod
    def backward(ctx, g):
        return g * Polygamma.apply(ctx.saved_tensors[0], n=0)


class Erfc(Function):
    """1 − erf(x) without cancellation; d/dx = −2/√π · e^{−x²}."""

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return ctx.k.ns_erfc(a)

    @staticmethod
    def vjp(ctx, g):
        a = ctx.saved_arrays[0]
        return g * (-_TWO_OVER_SQRT_PI * ctx.backend.xp.exp(-(a * a)))

    @staticmethod
    def backward(ctx, g):
        a = ctx.saved_tensors[0]
        return g * (-_TWO_OVER_SQRT_PI * M.exp(-(a * a)))


def erfc(input: Tensor) -> Tensor:  # noqa: A002 - PyTorch's argument names
    """The complementary error function 1 − erf(x) (accurate where erf(x) rounds to 1)."""
    return Erfc.apply(as_float(input, "erfc"))


def lgamma(input: Tensor) -> Tensor:  # noqa: A002
    """log |Γ(x)| elementwise (+inf at 0, −1, −2, ...)."""
    return Lgamma.apply(as_float(input, "lgamma"))


def digamma(input: Tensor) -> Tensor:  # noqa: A002
    """ψ(x) = d/dx log Γ(x) (−inf at +0, NaN at the negative integers, as PyTorch)."""
    return Polygamma.apply(as_float(input, "digamma"), n=0)


def polygamma(n: int, input: Tensor) -> Tensor:  # noqa: A002
    """ψ⁽ⁿ⁾(x), the n-th derivative of the digamma function (n ≥ 0)."""
    if not isinstance(n, int) or isinstance(n, bool) or n < 0:
        raise RuntimeError(f"polygamma: argument 'n' must be a non-negative int, got {n!r}")
    return Polygamma.apply(as_float(input, "polygamma"), n=n)


# ---- aliases and simple compositions --------------------------------------------------------

def absolute(input: Tensor) -> Tensor:  # noqa: A002
    """Alias of :func:`abs`."""
    return M.abs(input)


def negative(input: Tensor) -> Tensor:  # noqa: A002
    """Alias of :func:`neg`."""
    return neg(input)


def positive(input: Tensor) -> Tensor:  # noqa: A002
    """``input`` itself (a bool tensor is a RuntimeError, as PyTorch)."""
    tensor_arg(input, "positive")
    if input.dtype.kind == "b":
        raise RuntimeError("positive: the `+` operator, on a bool tensor is not supported; "
                           "convert first, e.g. x.long()")
    return input


def multiply(input, other) -> Tensor:  # noqa: A002
    """Alias of :func:`mul`."""
    return mul(input, other)


def subtract(input, other, *, alpha=1) -> Tensor:  # noqa: A002
    """input − alpha · other (PyTorch's ``sub`` with ``alpha``)."""
    if alpha != 1:
        other = mul(as_operand(operand_arg(other, "subtract", "other")), alpha)
    return sub(input, other)


def true_divide(input, other) -> Tensor:  # noqa: A002
    """Alias of :func:`div` with ``rounding_mode=None``."""
    return div(input, other)


def clamp_min(input: Tensor, min) -> Tensor:  # noqa: A001, A002
    """clamp(input, min=min)."""
    return M.clamp(input, min=min)


def clamp_max(input: Tensor, max) -> Tensor:  # noqa: A001, A002
    """clamp(input, max=max)."""
    return M.clamp(input, max=max)


def float_power(input, exponent) -> Tensor:  # noqa: A002
    """input ** exponent in double precision (float64, complex128 for complex operands)."""
    a = as_operand(operand_arg(input, "float_power", "input"))
    b = as_operand(operand_arg(exponent, "float_power", "exponent"))
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):
        raise TypeError("float_power(): at least one of 'input' and 'exponent' must be a Tensor")
    cplx = any(isinstance(x, complex) or (isinstance(x, Tensor) and x.dtype.kind == "c")
               for x in (a, b))
    dt = complex128 if cplx else float64
    a = _to(a, dt) if isinstance(a, Tensor) else a
    b = _to(b, dt) if isinstance(b, Tensor) else b
    if not isinstance(a, Tensor):  # a number base: broadcast it as a float64 tensor
        a = _const(b, b.backend.xp.asarray(a, dtype=dt))
    return pow(a, b)


def _addc(op: str, input, tensor1, tensor2, value, combine) -> Tensor:
    for name, t in (("input", input), ("tensor1", tensor1), ("tensor2", tensor2)):
        tensor_arg(t, op, name)
    if not is_scalar(value):
        raise TypeError(f"{op}(): argument 'value' must be a number, got {type(value).__name__}")
    dt = result_dtype(op, input, tensor1, tensor2)
    if dt.kind in "biu":
        if op == "addcdiv":
            raise RuntimeError(f"addcdiv: integer division with addcdiv is not supported "
                               f"(tensor1 {tensor1.dtype}, tensor2 {tensor2.dtype}); use "
                               "floating tensors or floor_divide")
        if isinstance(value, float):
            raise RuntimeError(f"addcmul: value={value!r} (a float) cannot be used with "
                               f"{dt} tensors; pass an integer value or float tensors")
    t1, t2 = _to(tensor1, dt), _to(tensor2, dt)
    return add(_to(input, dt), mul(combine(t1, t2), value))


def addcmul(input: Tensor, tensor1: Tensor, tensor2: Tensor, *, value=1) -> Tensor:  # noqa: A002
    """input + value · tensor1 · tensor2 (broadcast)."""
    return _addc("addcmul", input, tensor1, tensor2, value, mul)


def addcdiv(input: Tensor, tensor1: Tensor, tensor2: Tensor, *, value=1) -> Tensor:  # noqa: A002
    """input + value · tensor1 / tensor2 (broadcast; integer tensors are an error, as PyTorch)."""
    return _addc("addcdiv", input, tensor1, tensor2, value, div)


def heaviside(input: Tensor, values: Tensor) -> Tensor:  # noqa: A002
    """0 where input < 0, ``values`` where input == 0, 1 where input > 0 (not differentiable:
    PyTorch has no derivative for it either). Both tensors must have the same dtype."""
    tensor_arg(input, "heaviside")
    tensor_arg(values, "heaviside", "values")
    if input.dtype != values.dtype:
        raise RuntimeError(f"heaviside: input ({input.dtype}) and values ({values.dtype}) must "
                           "have the same dtype; convert one with .to(other.dtype)")
    if input.dtype.kind == "c":
        raise RuntimeError("heaviside: not implemented for complex tensors")
    xp = input.backend.xp
    a = input.array
    out = xp.where(a == 0, values.array, (a > 0).astype(a.dtype))
    return _const(input, xp.asarray(out, dtype=a.dtype))


def _integer_pair(op: str, input, other):
    tensor_arg(input, op)
    b = as_operand(operand_arg(other, op, "other"))
    dt = result_dtype(op, input, b)
    if dt.kind not in "iu":
        raise NotImplementedError(f"{op}: not implemented for {dt} (input {input.dtype}); "
                                  f"{op} takes integer tensors")
    xp = input.backend.xp
    ba = b.array if isinstance(b, Tensor) else b
    return xp, input.array.astype(dt, copy=False), xp.asarray(ba, dtype=dt), dt


def gcd(input: Tensor, other: Tensor) -> Tensor:  # noqa: A002
    """The greatest common divisor, elementwise (integers only; gcd(0, 0) = 0)."""
    xp, a, b, dt = _integer_pair("gcd", input, other)
    return _const(input, xp.asarray(xp.gcd(a, b), dtype=dt))


def lcm(input: Tensor, other: Tensor) -> Tensor:  # noqa: A002
    """The least common multiple, elementwise (integers only; lcm(0, x) = 0)."""
    xp, a, b, dt = _integer_pair("lcm", input, other)
    return _const(input, xp.asarray(xp.lcm(a, b), dtype=dt))


def deg2rad(input: Tensor) -> Tensor:  # noqa: A002
    """Degrees to radians (integers give the default float dtype)."""
    return mul(as_float(input, "deg2rad"), math.pi / 180.0)


def rad2deg(input: Tensor) -> Tensor:  # noqa: A002
    """Radians to degrees (integers give the default float dtype)."""
    return mul(as_float(input, "rad2deg"), 180.0 / math.pi)


def sinc(input: Tensor) -> Tensor:  # noqa: A002
    """sin(πx)/(πx), 1 at x = 0 (gradient 0 there, as PyTorch)."""
    x = as_float(input, "sinc")
    zero = x.array == 0
    px = mul(M.where(zero, 1.0, x), math.pi)
    return M.where(zero, 1.0, div(M.sin(px), px))


def logit(input: Tensor, eps: float | None = None) -> Tensor:  # noqa: A002
    """log(p / (1 − p)), with p clamped to [eps, 1 − eps] when ``eps`` is given."""
    p = as_float(input, "logit")
    if eps is not None:
        if not is_scalar(eps):
            raise TypeError(f"logit(): argument 'eps' must be a float, got {type(eps).__name__}")
        p = M.clamp(p, eps, 1.0 - eps)
    return M.log(div(p, sub(1.0, p)))


def signbit(input: Tensor) -> Tensor:  # noqa: A002
    """Whether the sign bit is set (True for −0.0 and negative values), a bool tensor."""
    tensor_arg(input, "signbit")
    if input.dtype.kind == "c":
        raise RuntimeError("signbit: not implemented for complex tensors")
    a = input.array
    xp = input.backend.xp
    out = xp.signbit(a.astype(float64)) if a.dtype.kind == "V" else xp.signbit(a)
    return _const(input, xp.asarray(out, dtype=bool_))


def copysign(input, other) -> Tensor:  # noqa: A002
    """|input| with the sign of ``other`` (floating result; the gradient to ``other`` is 0)."""
    a, b, _ = _float_pair(input, other, "copysign")
    if not isinstance(a, Tensor):
        a = _const(b, b.backend.xp.asarray(a, dtype=b.dtype))
    xp = a.backend.xp
    neg_sign = xp.signbit(b.array) if isinstance(b, Tensor) else xp.signbit(xp.asarray(b))
    sign = xp.where(neg_sign, -1.0, 1.0).astype(a.dtype)
    return mul(M.abs(a), _const(a, sign))


def _nan_aware(op: str, input, other, keep):
    tensor_arg(input, op)
    tensor_arg(other, op, "other")
    dt = result_dtype(op, input, other)
    a, b = _to(input, dt), _to(other, dt)
    if dt.kind == "c":
        raise RuntimeError(f"{op}: not implemented for complex tensors")
    if not is_floating(dt):
        return M.where(keep(a.array, b.array), a, b)
    take_a = keep(a.array, b.array) | b.backend.xp.isnan(b.array)
    return M.where(take_a, a, b)


def fmax(input: Tensor, other: Tensor) -> Tensor:  # noqa: A002
    """Elementwise maximum that ignores NaN (NaN only where both are); the gradient goes to
    ``input`` where input ≥ other, as PyTorch."""
    return _nan_aware("fmax", input, other, lambda a, b: a >= b)


def fmin(input: Tensor, other: Tensor) -> Tensor:  # noqa: A002
    """Elementwise minimum that ignores NaN (NaN only where both are)."""
    return _nan_aware("fmin", input, other, lambda a, b: a <= b)


def _logaddexp(op: str, input, other, exp, log) -> Tensor:
    tensor_arg(input, op)
    tensor_arg(other, op, "other")
    a, b, _ = _float_pair(input, other, op)
    _floats_only(op, input, other)
    xp = a.backend.xp
    m = xp.maximum(a.array, b.array)
    m = xp.where(xp.isfinite(m), m, 0).astype(m.dtype, copy=False)
    mt = _const(a, m)  # a constant shift: its gradients cancel
    return add(mt, log(add(exp(sub(a, mt)), exp(sub(b, mt)))))


def logaddexp(input: Tensor, other: Tensor) -> Tensor:  # noqa: A002
    """log(eˣ + eʸ) without overflow (shifted by the larger operand)."""
    return _logaddexp("logaddexp", input, other, M.exp, M.log)


def logaddexp2(input: Tensor, other: Tensor) -> Tensor:  # noqa: A002
    """log₂(2ˣ + 2ʸ) without overflow."""
    return _logaddexp("logaddexp2", input, other, M.exp2, M.log2)


def hypot(input: Tensor, other: Tensor) -> Tensor:  # noqa: A002
    """√(x² + y²) without overflow (scaled by the larger magnitude); floating tensors only."""
    tensor_arg(input, "hypot")
    tensor_arg(other, "hypot", "other")
    _floats_only("hypot", input, other)
    a, b, _ = _float_pair(input, other, "hypot")
    xp = a.backend.xp
    s = xp.maximum(xp.abs(a.array), xp.abs(b.array))
    s = xp.where((s == 0) | ~xp.isfinite(s), 1, s).astype(s.dtype, copy=False)
    st = _const(a, s)
    r = mul(M.sqrt(add(M.square(div(a, st)), M.square(div(b, st)))), st)
    inf = xp.isinf(a.array) | xp.isinf(b.array)
    return M.where(inf, float("inf"), r) if inf.any() else r


def xlogy(input, other) -> Tensor:  # noqa: A002
    """input · log(other), 0 where input == 0 (unless other is NaN); integers give the default
    float dtype; either operand may be a number. (At input = other = 0 the gradient to other is
    0 here, NaN in PyTorch.)"""
    a, b, _ = _float_pair(input, other, "xlogy", ("self", "other"))
    ref = a if isinstance(a, Tensor) else b
    xp = ref.backend.xp
    aa = a.array if isinstance(a, Tensor) else xp.asarray(a)
    ba = b.array if isinstance(b, Tensor) else xp.asarray(b)
    # where input == 0 and log(other) is not finite (other 0, inf or negative) the product is
    # 0 by definition; elsewhere input · log(other) (its gradient to input is log(other))
    zero = (aa == 0) & ~xp.isnan(ba) & ~((ba > 0) & xp.isfinite(ba))
    safe_b = M.where(zero, 1.0, b) if isinstance(b, Tensor) else (1.0 if zero.all() else b)
    if not isinstance(safe_b, Tensor):
        safe_b = _const(ref, xp.asarray(safe_b, dtype=ref.dtype))
    return M.where(zero, 0.0, mul(a, M.log(safe_b)))


# ---- dtype queries ---------------------------------------------------------------------------

def is_floating_point(input: Tensor) -> bool:  # noqa: A002
    """Whether ``input`` has a floating dtype (float16, bfloat16, float32, float64)."""
    return is_floating(tensor_arg(input, "is_floating_point").dtype)


def is_complex(input: Tensor) -> bool:  # noqa: A002
    """Whether ``input`` has a complex dtype."""
    return tensor_arg(input, "is_complex").dtype.kind == "c"


def is_nonzero(input: Tensor) -> bool:  # noqa: A002
    """The truth of a one-element tensor (RuntimeError for none or several elements)."""
    tensor_arg(input, "is_nonzero")
    n = input.numel()
    if n != 1:
        what = "ambiguous" if n > 1 else "ambiguous for an empty tensor"
        raise RuntimeError(f"is_nonzero: a Tensor with {n} elements (shape {tuple(input.shape)})"
                           f" is {what}; it must have exactly one element")
    return bool(input.array.reshape(()) != 0)


def isreal(input: Tensor) -> Tensor:  # noqa: A002
    """Elementwise: the imaginary part is 0 (all True for real dtypes)."""
    tensor_arg(input, "isreal")
    xp = input.backend.xp
    a = input.array
    out = (a.imag == 0) if a.dtype.kind == "c" else xp.ones(a.shape, dtype=bool_)
    return _const(input, xp.asarray(out, dtype=bool_))


def isin(elements, test_elements, *, assume_unique: bool = False,
         invert: bool = False) -> Tensor:
    """Whether each of ``elements`` is in ``test_elements`` (either may be a number, not both);
    a bool tensor of ``elements``' shape."""
    if not isinstance(elements, Tensor) and not isinstance(test_elements, Tensor):
        raise TypeError("isin(): at least one of 'elements' and 'test_elements' must be a Tensor")
    ref = elements if isinstance(elements, Tensor) else test_elements
    xp = ref.backend.xp
    e = elements.array if isinstance(elements, Tensor) else xp.asarray(elements)
    t = test_elements.array if isinstance(test_elements, Tensor) else xp.asarray(test_elements)
    dt = result_dtype("isin", as_operand(elements), as_operand(test_elements))
    out = xp.isin(e.astype(dt, copy=False), t.astype(dt, copy=False).ravel(),
                  assume_unique=assume_unique, invert=invert)
    return _const(ref, xp.asarray(out, dtype=bool_))


def _dtype_arg(d, op: str, name: str):
    if isinstance(d, Tensor) or d is None:
        raise TypeError(f"{op}(): argument '{name}' must be a dtype, got "
                        f"{type(d).__name__}")
    return as_dtype(d)


def promote_types(type1, type2):
    """The smallest dtype both ``type1`` and ``type2`` cast to (PyTorch's table)."""
    return _promote_types(_dtype_arg(type1, "promote_types", "type1"),
                          _dtype_arg(type2, "promote_types", "type2"))


def result_type(tensor1, tensor2):
    """The dtype of an arithmetic op on ``tensor1`` and ``tensor2`` (Tensors or numbers), by
    PyTorch's promotion (dimensioned tensors over zero-dim ones over numbers)."""
    a, b = as_operand(tensor1), as_operand(tensor2)
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):
        # two numbers: their own promotion (int + float is the default float)
        from gradflow.ops._promote import _scalar_dtype

        return _promote_types(_scalar_dtype(a), _scalar_dtype(b))
    return result_dtype("result_type", a, b)


_KIND_RANK = {"b": 0, "u": 1, "i": 1, "f": 2, "V": 2, "c": 3}


def can_cast(from_, to) -> bool:
    """Whether PyTorch's type promotion casts ``from_`` to ``to`` (no float → integer, no complex
    → real, nothing but bool → bool; narrowing within a kind is allowed)."""
    a = _dtype_arg(from_, "can_cast", "from_")
    b = _dtype_arg(to, "can_cast", "to")
    ra, rb = _KIND_RANK[a.kind], _KIND_RANK[b.kind]
    if rb == 0:
        return ra == 0
    return rb >= ra


def _polygamma_method(self: Tensor, n: int) -> Tensor:
    return polygamma(n, self)


def _clamp_min_(self: Tensor, min) -> Tensor:  # noqa: A002
    return self.clamp_(min=min)


def _clamp_max_(self: Tensor, max) -> Tensor:  # noqa: A002
    return self.clamp_(max=max)


def _inplace(name: str, fn):
    def method(self: Tensor, *args, **kwargs) -> Tensor:
        return M.inplace(self, name, lambda t: fn(t, *args, **kwargs), *args)

    method.__name__ = method.__qualname__ = name
    method.__doc__ = f"In-place :func:`{fn.__name__}` (PyTorch's ``Tensor.{name}``)."
    return method


tensor_methods(
    erfc=erfc, lgamma=lgamma, digamma=digamma, polygamma=_polygamma_method,
    absolute=absolute, negative=negative, positive=positive, multiply=multiply,
    subtract=subtract, true_divide=true_divide, clamp_min=clamp_min, clamp_max=clamp_max,
    float_power=float_power, addcmul=addcmul, addcdiv=addcdiv, heaviside=heaviside, gcd=gcd,
    lcm=lcm, deg2rad=deg2rad, rad2deg=rad2deg, sinc=sinc, logit=logit, signbit=signbit,
    copysign=copysign, fmax=fmax, fmin=fmin, logaddexp=logaddexp, logaddexp2=logaddexp2,
    hypot=hypot, xlogy=xlogy, is_floating_point=is_floating_point, is_complex=is_complex,
    is_nonzero=is_nonzero, isreal=isreal,
    clamp_min_=_clamp_min_, clamp_max_=_clamp_max_,
    erfc_=_inplace("erfc_", erfc), lgamma_=_inplace("lgamma_", lgamma),
    digamma_=_inplace("digamma_", digamma), absolute_=_inplace("absolute_", absolute),
    negative_=_inplace("negative_", negative), multiply_=_inplace("multiply_", multiply),
    subtract_=_inplace("subtract_", subtract), true_divide_=_inplace("true_divide_", true_divide),
    addcmul_=_inplace("addcmul_", addcmul), addcdiv_=_inplace("addcdiv_", addcdiv),
    gcd_=_inplace("gcd_", gcd), lcm_=_inplace("lcm_", lcm),
    deg2rad_=_inplace("deg2rad_", deg2rad), rad2deg_=_inplace("rad2deg_", rad2deg),
    sinc_=_inplace("sinc_", sinc), logit_=_inplace("logit_", logit),
    copysign_=_inplace("copysign_", copysign), hypot_=_inplace("hypot_", hypot),
    xlogy_=_inplace("xlogy_", xlogy), float_power_=_inplace("float_power_", float_power),
    heaviside_=_inplace("heaviside_", heaviside),
)
