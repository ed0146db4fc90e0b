"""Dropout: multiply by an inverted-dropout mask from the backend's generator.

A composition (no Function of its own): the mask is a constant, so ``mul`` gives the gradient
g · mask to every order.
"""

from __future__ import annotations

from gradflow.ops.arithmetic import mul
from gradflow.tensor import Tensor


def dropout(x: Tensor, p: float = 0.5, training: bool = True) -> Tensor:
    """Zero each element with probability ``p`` and scale the rest by 1/(1 − p) (training only)."""
    if not isinstance(x, Tensor):
        raise TypeError(f"dropout(): argument 'input' must be a Tensor, got {type(x).__name__}")
    if not 0.0 <= p < 1.0:
        raise ValueError(f"dropout: p must be in [0, 1), got {p} (p is the probability of "
                         "dropping an element)")
    if not training or p == 0.0:
        return x
    backend = x.backend
    mask = backend.k.dropout_mask(backend.rng, x.shape, p, x.dtype)
    return mul(x, Tensor.wrap(mask, backend))


__all__ = ["dropout"]
