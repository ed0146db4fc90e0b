"""``RMSNorm``: y = x / √(mean(x²) + ε) · γ over the trailing ``normalized_shape`` axes."""

from __future__ import annotations

from typing import Any

from gradflow.creation import ones
from gradflow.nn import init
from gradflow.nn.module import Module
from gradflow.nn.parameter import Parameter
from gradflow.ops.rms_norm import rms_norm
from gradflow.tensor import Tensor


class RMSNorm(Module):
    """Root-mean-square normalization with a learnable ``weight`` (γ, ones) when
    ``elementwise_affine``; ``eps=None`` is the input dtype's machine epsilon."""

    def __init__(self, normalized_shape: int | tuple[int, ...], eps: float | None = None,
                 elementwise_affine: bool = True, device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        shape = (normalized_shape,) if isinstance(normalized_shape, int) else \
            tuple(normalized_shape)
        if any(isinstance(s, bool) or not isinstance(s, int) or s < 0 for s in shape):
            raise ValueError(f"RMSNorm: normalized_shape must be an int or a tuple of "
                             f"non-negative ints, got {normalized_shape!r}")
        self.normalized_shape = shape
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        self.register_parameter("weight", Parameter(ones(shape, dtype=dtype, device=device))
                                if elementwise_affine else None)

    def reset_parameters(self) -> None:
        if self.weight is not None:
            init.ones_(self.weight)

    def forward(self, x: Tensor) -> Tensor:
        return rms_norm(x, self.normalized_shape, self.weight, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}")


__all__ = ["RMSNorm"]
