"""Logical and bitwise ops and the operators ``& | ^ ~ << >>`` against PyTorch: result dtypes
(promotion of int8/int32/int64/uint8/bool tensors and Python numbers), shift edge cases,
reflected and in-place forms, and the exception types for floating point operands."""

from __future__ import annotations

import operator

import numpy as np
import pytest

import gradflow as gf
from gradflow.ops import logical as L

torch = pytest.importorskip("torch")

ARRAYS = {
    "float32": np.array([[-1.5, 0.0, 2.0], [0.0, 3.0, np.nan]], dtype=np.float32),
    "float64": np.array([0.0, 1.0, -2.0]),
    "int64": np.array([[-7, 0, 5], [12, -1, 3]]),
    "int32": np.array([3, -4, 0], dtype=np.int32),
    "int8": np.array([[100], [-128]], dtype=np.int8),
    "uint8": np.array([0, 200, 255], dtype=np.uint8),
    "bool": np.array([True, False, True]),
}
NUMBERS = [3, -1, True, 2.5]


def _gf(a):
    return gf.tensor(a, dtype=a.dtype) if isinstance(a, np.ndarray) else a


def _torch(a):
    return torch.tensor(a) if isinstance(a, np.ndarray) else a


def both(gf_fn, torch_fn, *args):
    """The same values and dtype, or the same exception type."""
    try:
        want = torch_fn(*[_torch(a) for a in args])
    except Exception as exc:  # noqa: BLE001 - the exception type is what is compared
        with pytest.raises(type(exc)):
            gf_fn(*[_gf(a) for a in args])
        return
    got = gf_fn(*[_gf(a) for a in args])
    assert isinstance(got, gf.Tensor) and got.grad_fn is None
    assert got.dtype == want.numpy().dtype, (got.dtype, want.dtype)
    np.testing.assert_array_equal(got.numpy(), want.numpy())


PAIRS = [(a, b) for a in ARRAYS for b in ARRAYS]


@pytest.mark.parametrize("name", ["logical_and", "logical_or", "logical_xor"])
def test_logical_binary(name):
    for a, b in PAIRS:
        both(getattr(L, name), getattr(torch, name), ARRAYS[a], ARRAYS[b])
        both(lambda x, y: getattr(x, name)(y), lambda x, y: getattr(x, name)(y), ARRAYS[a],
             ARRAYS[b])
    both(getattr(L, name), getattr(torch, name), ARRAYS["int64"], 1)  # a number: TypeError


def test_logical_not_and_inplace_logical():
    for a in ARRAYS.values():
        both(L.logical_not, torch.logical_not, a)
        both(lambda t: t.logical_not_(), lambda t: t.logical_not_(), a)
        for b in (ARRAYS["bool"], ARRAYS["int32"]):
            both(lambda x, y: x.logical_and_(y), lambda x, y: x.logical_and_(y), a, b)
            both(lambda x, y: x.logical_xor_(y), lambda x, y: x.logical_xor_(y), a, b)


_BITWISE = {"bitwise_and": operator.and_, "bitwise_or": operator.or_,
            "bitwise_xor": operator.xor, "bitwise_left_shift": operator.lshift,
            "bitwise_right_shift": operator.rshift}


@pytest.mark.parametrize("name", list(_BITWISE))
def test_bitwise_functions_operators_and_promotion(name):
    op = _BITWISE[name]
    for a, b in PAIRS:
        x, y = ARRAYS[a], ARRAYS[b]
        if "shift" in name and (a == "uint8" or b in ("uint8", "int8")):
            continue  # shifts of uint8 by negative counts are outside PyTorch's defined range
        both(getattr(L, name), getattr(torch, name), x, y)
        both(op, op, x, y)
    for a in ARRAYS:
        for n in NUMBERS:
            if "shift" in name and a == "uint8":
                continue
            both(op, op, ARRAYS[a], n)
            both(lambda x, n=n: op(n, x), lambda x, n=n: op(n, x), ARRAYS[a])  # reflected
            both(lambda x, n=n: getattr(L, name)(x, n), lambda x, n=n: getattr(torch, name)(
                x, n), ARRAYS[a])


def test_shift_edges_as_pytorch():
    values = np.array([1, -8, 5, -1, 2**62, -(2**63)])
    counts = np.array([0, 1, 63, 64, 65, 200])
    for v in (values, values.astype(np.int32), values.astype(np.int8)):
        for c in (counts, counts[::-1].copy(), np.array([-1]), np.array([-70])):
            both(operator.lshift, operator.lshift, v, c.astype(v.dtype))
            both(operator.rshift, operator.rshift, v, c.astype(v.dtype))
    for c in (0, 3, 7, 8, 9):
        both(lambda t, c=c: t << c, lambda t, c=c: t << c, ARRAYS["uint8"])
        both(lambda t, c=c: t >> c, lambda t, c=c: t >> c, ARRAYS["uint8"])


def test_bitwise_not_and_invert():
    for a in ARRAYS.values():
        both(L.bitwise_not, torch.bitwise_not, a)
        both(operator.invert, operator.invert, a)  # float: TypeError; bool: logical not
        both(lambda t: t.bitwise_not_(), lambda t: t.bitwise_not_(), a)


@pytest.mark.parametrize("name", ["and", "or", "xor", "lshift", "rshift"])
def test_inplace_operators_and_methods(name):
    iop = getattr(operator, f"i{name}")
    method = {"and": "bitwise_and_", "or": "bitwise_or_", "xor": "bitwise_xor_",
              "lshift": "bitwise_left_shift_", "rshift": "bitwise_right_shift_"}[name]
    for a in ("int64", "int32", "bool", "float64"):
        for b in ("int64", "bool", "int8"):
            for fn in (iop, lambda x, y: getattr(x, method)(y)):
                both(lambda x, y, fn=fn: _same_object(fn, x, y),
                     lambda x, y, fn=fn: _same_object(fn, x, y), ARRAYS[a], ARRAYS[b][..., :1])
        for n in (1, True):
            both(lambda x, n=n: _same_object(iop, x, n), lambda x, n=n: _same_object(iop, x, n),
                 ARRAYS[a])


def _same_object(fn, x, y):
    version = x._version
    out = fn(x, y)
    assert out is x and x._version == version + 1
    return out


def test_operators_give_way_to_unsupported_operands():
    t = gf.tensor([1, 2])
    with pytest.raises(TypeError):
        t & None
    with pytest.raises(TypeError):
        None | t
    with pytest.raises(TypeError):
        t ^ "a"
    with pytest.raises(RuntimeError, match="can't be cast"):
        b = gf.tensor([True, False])
        b &= gf.tensor([1, 1])
    with pytest.raises(NotImplementedError, match="bitwise_and.*float32"):
        gf.tensor([1.0]) & 1


EXPORTS = ["logical_and", "logical_or", "logical_xor", "logical_not", "bitwise_and",
           "bitwise_or", "bitwise_xor", "bitwise_not", "bitwise_left_shift",
           "bitwise_right_shift"]


@pytest.mark.parametrize("name", EXPORTS)
def test_positional_parameters_are_pytorchs(name):
    import inspect

    from test_math_torch import _torch_positional

    params = inspect.signature(getattr(L, name)).parameters.values()
    assert [p.name for p in params] == _torch_positional(name)
