"""``Linear`` (fully connected) and ``Identity``."""

from __future__ import annotations

import math
from typing import Any

from gradflow.creation import empty
from gradflow.nn import init
from gradflow.nn.module import Module
from gradflow.nn.parameter import Parameter
from gradflow.ops.matmul import linear
from gradflow.tensor import Tensor


class Linear(Module):
    """y = x Wᵀ + b, with W of shape ``(out_features, in_features)``.

    Initialized as PyTorch: W ~ kaiming_uniform_(a=√5), i.e. U(−1/√fan_in, 1/√fan_in), and
    b ~ U(−1/√fan_in, 1/√fan_in). Input ``(*, in_features)``, output ``(*, out_features)``.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 dtype: Any = None, device: Any = None) -> None:
        super().__init__()
        for name, v in (("in_features", in_features), ("out_features", out_features)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise ValueError(f"Linear: {name} must be a non-negative int, got {v!r}")
        self.in_features = in_features
        self.out_features = out_features
        self.weight = Parameter(empty(out_features, in_features, dtype=dtype, device=device))
        if bias:
            self.bias = Parameter(empty(out_features, dtype=dtype, device=device))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.kaiming_uniform_(self.weight, a=math.sqrt(5), nonlinearity="leaky_relu")
        if self.bias is not None:
            bound = 1 / math.sqrt(self.in_features) if self.in_features > 0 else 0.0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, x: Tensor) -> Tensor:
        return linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


class Identity(Module):
    """Returns its input unchanged (accepts and ignores any constructor arguments)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()

    def forward(self, x: Tensor) -> Tensor:
        return x
