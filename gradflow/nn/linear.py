"""``Linear`` (fully connected), ``LazyLinear`` (``in_features`` from the first input) and
``Identity``."""

from __future__ import annotations

import math
from typing import Any

from gradflow.creation import empty
from gradflow.nn import init
from gradflow.nn.module import Module
from gradflow.nn.parameter import Parameter, UninitializedParameter
from gradflow.ops.matmul import linear
from gradflow.tensor import Tensor


class Linear(Module):
    """y = x Wᵀ + b, with W of shape ``(out_features, in_features)``.

    Initialized as PyTorch: W ~ kaiming_uniform_(a=√5), i.e. U(−1/√fan_in, 1/√fan_in), and
    b ~ U(−1/√fan_in, 1/√fan_in). Input ``(*, in_features)``, output ``(*, out_features)``.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 device: Any = None, dtype: Any = None) -> None:
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


class LazyLinear(Linear):
    """A :class:`Linear` whose ``in_features`` is read from its first input (``x.shape[-1]``).

    Until the first forward pass ``in_features`` is 0 and ``weight``/``bias`` are
    :class:`~gradflow.nn.UninitializedParameter` objects: listed by ``parameters()``, without a
    shape. The first call gives them their shapes (in place: an optimizer that makes its state
    lazily, such as SGD or Adam, may be built before it), initializes them as ``Linear`` does and
    turns the module into a plain ``Linear``, as PyTorch does. The dtype and device are the
    module's (``dtype=``/``device=``, or what ``to()`` set), not the input's.
    """

    def __init__(self, out_features: int, bias: bool = True, device: Any = None,
                 dtype: Any = None) -> None:
        Module.__init__(self)
        if isinstance(out_features, bool) or not isinstance(out_features, int) or \
                out_features < 0:
            raise ValueError(f"LazyLinear: out_features must be a non-negative int, got "
                             f"{out_features!r}")
        self.in_features = 0
        self.out_features = out_features
        self.weight = UninitializedParameter(device=device, dtype=dtype)
        if bias:
            self.bias = UninitializedParameter(device=device, dtype=dtype)
        else:
            self.register_parameter("bias", None)

    def has_uninitialized_params(self) -> bool:
        return any(isinstance(p, UninitializedParameter) for p in self._parameters.values())

    def reset_parameters(self) -> None:
        if not self.has_uninitialized_params() and self.in_features != 0:
            super().reset_parameters()

    def initialize_parameters(self, x: Tensor) -> None:
        """Materialize ``weight`` ``(out_features, x.shape[-1])`` and ``bias`` and initialize
        them (what the first forward pass does)."""
        if not self.has_uninitialized_params():
            return
        if not isinstance(x, Tensor):
            raise TypeError(f"LazyLinear: the input must be a Tensor, got {type(x).__name__}")
        if x.ndim == 0:
            raise IndexError("LazyLinear: the input is 0-dimensional, so in_features (its last "
                             "dimension) cannot be inferred; pass a tensor of shape "
                             "(*, in_features)")
        self.in_features = int(x.shape[-1])
        self.weight.materialize((self.out_features, self.in_features))
        if self.bias is not None:
            self.bias.materialize((self.out_features,))
        Linear.reset_parameters(self)

    def forward(self, x: Tensor) -> Tensor:
        self.initialize_parameters(x)
        self.__class__ = Linear
        return linear(x, self.weight, self.bias)


class Identity(Module):
    """Returns its input unchanged (accepts and ignores any constructor arguments)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()

    def forward(self, x: Tensor) -> Tensor:
        return x
