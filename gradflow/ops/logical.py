"""Logical and bitwise ops with PyTorch's semantics, and the operators ``& | ^ ~ << >>``
(reflected and in-place forms too).

``logical_*`` take tensors of any dtype (nonzero is true) and give bool; ``bitwise_*`` take
integer and bool tensors (and Python ints/bools) at PyTorch's promoted dtype: a floating point
operand is PyTorch's NotImplementedError; ``~`` of a bool tensor is logical not. Shifts follow
PyTorch: by a negative amount or by at least the bit width they give 0 (−1 for a right shift of
a negative number). None of these has a gradient: the results are plain Tensors.
"""

from __future__ import annotations

from gradflow.ops._promote import result_dtype
from gradflow.ops._util import as_operand, is_scalar, tensor_arg
from gradflow.ops.math import inplace
from gradflow.tensor import Tensor, tensor_methods


def _backend_of(op: str, *xs):
    backend = None
    for x in xs:
        if isinstance(x, Tensor):
            if backend is None:
                backend = x._backend
            elif x._backend is not backend:
                raise RuntimeError(f"{op}: expected all tensors on one device, got {xs[0].device}"
                                   f" and {xs[1].device}; move them with .to(device)")
    return backend


def _logical_operands(op: str, input, other):
    tensor_arg(input, op)
    tensor_arg(other, op, "other")
    return _backend_of(op, input, other), input.array, other.array


def logical_and(input: Tensor, other: Tensor) -> Tensor:  # noqa: A002 - PyTorch's names
    """Elementwise ``input != 0 and other != 0`` (any dtypes, broadcast) as bool."""
    backend, a, b = _logical_operands("logical_and", input, other)
    return Tensor._make(backend.xp.logical_and(a, b), backend)


def logical_or(input: Tensor, other: Tensor) -> Tensor:  # noqa: A002
    backend, a, b = _logical_operands("logical_or", input, other)
    return Tensor._make(backend.xp.logical_or(a, b), backend)


def logical_xor(input: Tensor, other: Tensor) -> Tensor:  # noqa: A002
    backend, a, b = _logical_operands("logical_xor", input, other)
    return Tensor._make(backend.xp.logical_xor(a, b), backend)


def logical_not(input: Tensor) -> Tensor:  # noqa: A002
    """Elementwise ``input == 0`` as bool."""
    tensor_arg(input, "logical_not")
    return Tensor._make(input._backend.xp.logical_not(input.array), input._backend)


def _bitwise_operands(op: str, input, other, *, shift: bool = False):
    """(backend, a, b, dtype): both operands as arrays of PyTorch's result dtype (Python ints
    wrap into it, as PyTorch's ``uint8 & -1``); a float or complex result is PyTorch's
    NotImplementedError, a bool one too for the shifts."""
    a = as_operand(input)
    b = as_operand(other)
    for name, x in (("input", a), ("other", b)):
        if not isinstance(x, Tensor) and not is_scalar(x):
            raise TypeError(f"{op}(): argument '{name}' must be a Tensor or a number, got "
                            f"{type(x).__name__}")
    backend = _backend_of(op, a, b)
    dtype = result_dtype(op, a, b)
    if dtype.kind not in "biu" or (shift and dtype.kind == "b"):
        kinds = " and ".join(str(x.dtype) if isinstance(x, Tensor) else type(x).__name__
                             for x in (a, b))
        raise NotImplementedError(f"{op}: not implemented for {kinds} operands (result dtype "
                                  f"{dtype}); it needs integer{'' if shift else ' or bool'} "
                                  "tensors: convert with .long() or use a logical_* op")
    xp = backend.xp

    def array(x):
        if isinstance(x, Tensor):
            return x.array if x.dtype == dtype else x.array.astype(dtype)
        return xp.asarray(x).astype(dtype)

    return backend, array(a), array(b)


def _bitwise(op: str, input, other) -> Tensor:
    backend, a, b = _bitwise_operands(op, input, other)
    try:
        out = getattr(backend.xp, op)(a, b)
    except ValueError as exc:
        raise ValueError(f"{op}: shapes {a.shape} and {b.shape} cannot be broadcast "
                         "together") from exc
    return Tensor._make(out, backend)


def bitwise_and(input, other) -> Tensor:  # noqa: A002
    """Elementwise ``&`` of integer/bool tensors (bools: logical and)."""
    return _bitwise("bitwise_and", input, other)


def bitwise_or(input, other) -> Tensor:  # noqa: A002
    return _bitwise("bitwise_or", input, other)


def bitwise_xor(input, other) -> Tensor:  # noqa: A002
    return _bitwise("bitwise_xor", input, other)


def bitwise_not(input: Tensor) -> Tensor:  # noqa: A002
    """Elementwise ``~`` of an integer tensor (logical not for bools)."""
    tensor_arg(input, "bitwise_not")
    if input.dtype.kind not in "biu":
        raise NotImplementedError(f"bitwise_not: not implemented for {input.dtype} tensors; it "
                                  "needs integer or bool tensors (logical_not for any dtype)")
    return Tensor._make(input._backend.xp.invert(input.array), input._backend)


def _shift(op: str, input, other, left: bool) -> Tensor:
    backend, a, b = _bitwise_operands(op, input, other, shift=True)
    try:
        out = backend.k.torch_shift(a, b, left)
    except ValueError as exc:
        raise ValueError(f"{op}: shapes {a.shape} and {b.shape} cannot be broadcast "
                         "together") from exc
    return Tensor._make(out, backend)


def bitwise_left_shift(input, other) -> Tensor:  # noqa: A002
    """input · 2^other in the integer dtype (wrapping; 0 for shifts outside [0, bits))."""
    return _shift("bitwise_left_shift", input, other, True)


def bitwise_right_shift(input, other) -> Tensor:  # noqa: A002
    """input >> other, arithmetic for signed dtypes (0 or −1 for shifts outside [0, bits))."""
    return _shift("bitwise_right_shift", input, other, False)


def _invert(self: Tensor) -> Tensor:
    if self.dtype.kind not in "biu":
        raise TypeError(f"~ (operator.invert) is only implemented on integer and Boolean-type "
                        f"tensors, got {self.dtype}; use logical_not(x) or (x == 0)")
    return Tensor._make(self._backend.xp.invert(self.array), self._backend)


def _operator(fn, reflected: bool = False):
    def method(self: Tensor, other):
        if other is None or not (isinstance(other, Tensor) or is_scalar(other)
                                 or hasattr(other, "shape")):
            return NotImplemented
        return fn(other, self) if reflected else fn(self, other)

    method.__name__ = method.__qualname__ = fn.__name__ + ("_reflected" if reflected else "")
    return method


def _inplace_binary(name: str, fn):
    def method(self: Tensor, other) -> Tensor:
        return inplace(self, name, lambda a: fn(a, other).to(dtype=self.dtype))

    method.__name__ = method.__qualname__ = name
    method.__doc__ = f"In-place {fn.__name__} (the result cast to this tensor's dtype)."
    return method


def _checked_inplace(name: str, fn):
    """In-place bitwise op: the result must fit this tensor's dtype (bool ← int refused)."""
    def method(self: Tensor, other) -> Tensor:
        return inplace(self, name, lambda a: fn(a, other))

    method.__name__ = method.__qualname__ = name
    return method


def _logical_not_(self: Tensor) -> Tensor:
    return inplace(self, "logical_not_", lambda a: logical_not(a).to(dtype=self.dtype))


def _bitwise_not_(self: Tensor) -> Tensor:
    return inplace(self, "bitwise_not_", bitwise_not)


_OPS = {"and": bitwise_and, "or": bitwise_or, "xor": bitwise_xor,
        "lshift": bitwise_left_shift, "rshift": bitwise_right_shift}
tensor_methods(
    logical_and=logical_and, logical_or=logical_or, logical_xor=logical_xor,
    logical_not=logical_not, logical_and_=_inplace_binary("logical_and_", logical_and),
    logical_or_=_inplace_binary("logical_or_", logical_or),
    logical_xor_=_inplace_binary("logical_xor_", logical_xor), logical_not_=_logical_not_,
    bitwise_and=bitwise_and, bitwise_or=bitwise_or, bitwise_xor=bitwise_xor,
    bitwise_not=bitwise_not, bitwise_left_shift=bitwise_left_shift,
    bitwise_right_shift=bitwise_right_shift, bitwise_not_=_bitwise_not_,
    bitwise_and_=_checked_inplace("bitwise_and_", bitwise_and),
    bitwise_or_=_checked_inplace("bitwise_or_", bitwise_or),
    bitwise_xor_=_checked_inplace("bitwise_xor_", bitwise_xor),
    bitwise_left_shift_=_checked_inplace("bitwise_left_shift_", bitwise_left_shift),
    bitwise_right_shift_=_checked_inplace("bitwise_right_shift_", bitwise_right_shift),
    __invert__=_invert,
    **{f"__{k}__": _operator(f) for k, f in _OPS.items()},
    **{f"__r{k}__": _operator(f, reflected=True) for k, f in _OPS.items()},
    **{f"__i{k}__": _checked_inplace(f"__i{k}__", f) for k, f in _OPS.items()},
)
