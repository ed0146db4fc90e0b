"""PyTorch's top-level tensor functions (``torch.sum(x, dim)``, ``torch.transpose(x, 0, 1)``...)
as thin calls to the Tensor methods, so the two spellings can never mean different things."""

from __future__ import annotations

from typing import Any

from gradflow.ops.activation import log_softmax, logsumexp  # noqa: F401 - re-exported
from gradflow.ops.arithmetic import neg, pow  # noqa: A004, F401 - re-exported
from gradflow.ops.matmul import bmm, mm  # noqa: F401 - re-exported
from gradflow.tensor import Tensor


def _tensor(x: Any, op: str) -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}(): argument 'input' must be a Tensor, got {type(x).__name__}")
    return x


def is_tensor(obj: Any) -> bool:
    """Whether ``obj`` is a gradflow Tensor (Parameters included)."""
    return isinstance(obj, Tensor)


def numel(input: Tensor) -> int:  # noqa: A002 - PyTorch's argument names
    return _tensor(input, "numel").numel()


def sum(input: Tensor, dim=None, keepdim: bool = False) -> Tensor:  # noqa: A001, A002
    return _tensor(input, "sum").sum(dim, keepdim)


def mean(input: Tensor, dim=None, keepdim: bool = False) -> Tensor:  # noqa: A002
    return _tensor(input, "mean").mean(dim, keepdim)


def prod(input: Tensor, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:  # noqa: A002
    return _tensor(input, "prod").prod(dim, keepdim, dtype=dtype)


def max(input: Tensor, dim=None, keepdim: bool = False):  # noqa: A001, A002
    """The largest value; with ``dim`` ``(values, indices)``; with a Tensor ``dim`` the
    elementwise maximum (``torch.max(a, b)``)."""
    return _tensor(input, "max").max(dim, keepdim)


def min(input: Tensor, dim=None, keepdim: bool = False):  # noqa: A001, A002
    return _tensor(input, "min").min(dim, keepdim)


def amax(input: Tensor, dim=None, keepdim: bool = False) -> Tensor:  # noqa: A002
    return _tensor(input, "amax").amax(dim, keepdim)


def amin(input: Tensor, dim=None, keepdim: bool = False) -> Tensor:  # noqa: A002
    return _tensor(input, "amin").amin(dim, keepdim)


def argmax(input: Tensor, dim=None, keepdim: bool = False) -> Tensor:  # noqa: A002
    return _tensor(input, "argmax").argmax(dim, keepdim)


def argmin(input: Tensor, dim=None, keepdim: bool = False) -> Tensor:  # noqa: A002
    return _tensor(input, "argmin").argmin(dim, keepdim)


def var(input: Tensor, dim=None, unbiased: bool | None = None, keepdim: bool = False, *,  # noqa: A002
        correction: float | None = None) -> Tensor:
    return _tensor(input, "var").var(dim, unbiased, keepdim, correction=correction)


def std(input: Tensor, dim=None, unbiased: bool | None = None, keepdim: bool = False, *,  # noqa: A002
        correction: float | None = None) -> Tensor:
    return _tensor(input, "std").std(dim, unbiased, keepdim, correction=correction)


def transpose(input: Tensor, dim0: int, dim1: int) -> Tensor:  # noqa: A002
    return _tensor(input, "transpose").transpose(dim0, dim1)


def permute(input: Tensor, dims) -> Tensor:  # noqa: A002
    return _tensor(input, "permute").permute(dims)


def t(input: Tensor) -> Tensor:  # noqa: A002
    return _tensor(input, "t").t()


def reshape(input: Tensor, shape) -> Tensor:  # noqa: A002
    return _tensor(input, "reshape").reshape(shape)


def flatten(input: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:  # noqa: A002
    return _tensor(input, "flatten").flatten(start_dim, end_dim)


def squeeze(input: Tensor, dim=None) -> Tensor:  # noqa: A002
    return _tensor(input, "squeeze").squeeze(dim=dim)


def unsqueeze(input: Tensor, dim: int) -> Tensor:  # noqa: A002
    return _tensor(input, "unsqueeze").unsqueeze(dim)


def clamp(input: Tensor, min=None, max=None) -> Tensor:  # noqa: A001, A002
    return _tensor(input, "clamp").clamp(min, max)


def masked_fill(input: Tensor, mask: Tensor, value) -> Tensor:  # noqa: A002
    return _tensor(input, "masked_fill").masked_fill(mask, value)


__all__ = ["is_tensor", "numel", "sum", "mean", "max", "min", "amax", "amin", "argmax", "argmin",
           "var", "std", "transpose", "permute", "t", "reshape", "flatten", "squeeze",
           "unsqueeze", "clamp", "masked_fill", "log_softmax", "logsumexp", "neg", "pow", "mm",
           "bmm"]
