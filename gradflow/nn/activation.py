"""Activation modules: thin wrappers over :mod:`gradflow.functional`."""

from __future__ import annotations

from gradflow.nn.module import Module
from gradflow.ops import activation as A
from gradflow.tensor import Tensor


class ReLU(Module):
    """max(x, 0)."""

    def forward(self, x: Tensor) -> Tensor:
        return A.relu(x)


class LeakyReLU(Module):
    """x for x ≥ 0, ``negative_slope`` · x otherwise."""

    def __init__(self, negative_slope: float = 0.01) -> None:
        super().__init__()
        self.negative_slope = float(negative_slope)

    def forward(self, x: Tensor) -> Tensor:
        return A.leaky_relu(x, self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"


class Sigmoid(Module):
    """σ(x) = 1 / (1 + e^{−x})."""

    def forward(self, x: Tensor) -> Tensor:
        return A.sigmoid(x)


class Tanh(Module):
    def forward(self, x: Tensor) -> Tensor:
        return A.tanh(x)


class GELU(Module):
    """x · Φ(x) (``approximate="none"``) or its tanh approximation (``"tanh"``)."""

    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, x: Tensor) -> Tensor:
        return A.gelu(x, self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


def _axis_arg(cls: str, axis: int, dim: int | None) -> int:
    if dim is None:
        return int(axis)
    if axis not in (-1, dim):
        raise ValueError(f"{cls}: got both axis={axis} and dim={dim}; pass one of them")
    return int(dim)


class Softmax(Module):
    """e^{x_i} / Σ_j e^{x_j} along ``axis`` (``dim=`` also accepted)."""

    def __init__(self, axis: int = -1, *, dim: int | None = None) -> None:
        super().__init__()
        self.axis = _axis_arg("Softmax", axis, dim)

    def forward(self, x: Tensor) -> Tensor:
        return A.softmax(x, self.axis)

    def extra_repr(self) -> str:
        return f"axis={self.axis}"


class LogSoftmax(Module):
    """log softmax(x) along ``axis``, computed stably as x − logsumexp(x)."""

    def __init__(self, axis: int = -1, *, dim: int | None = None) -> None:
        super().__init__()
        self.axis = _axis_arg("LogSoftmax", axis, dim)

    def forward(self, x: Tensor) -> Tensor:
        return A.log_softmax(x, self.axis)

    def extra_repr(self) -> str:
        return f"axis={self.axis}"
