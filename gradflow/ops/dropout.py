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


def _channel_dropout(x: Tensor, p: float, training: bool, k: int) -> Tensor:
    """Zero whole channels: one mask value per (example, channel) of a ``(N, C, *k dims)``
    input, or per channel of an unbatched ``(C, *k dims)`` one, scaled by 1/(1 − p)."""
    op = f"dropout{k}d"
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}(): argument 'input' must be a Tensor, got {type(x).__name__}")
    if not 0.0 <= p < 1.0:
        raise ValueError(f"{op}: p must be in [0, 1), got {p}")
    if x.ndim not in (k + 1, k + 2):
        raise RuntimeError(f"{op}: expected a {k + 1}-D (unbatched) or {k + 2}-D (batched) "
                           f"input, got shape {x.shape}")
    if k == 2 and x.ndim == 3:  # PyTorch's reading of a 3-D input, with its warning
        import warnings

        warnings.warn("dropout2d: received a 3-D input; as PyTorch, it is read as (N, C, L) and "
                      "channel-wise 1-D dropout is applied (use dropout1d to say so, or pass a "
                      "4-D (N, C, H, W) input)", UserWarning, stacklevel=2)
        k = 1
    if not training or p == 0.0:
        return x
    lead = x.ndim - k
    shape = tuple(x.shape[:lead]) + (1,) * k
    backend = x.backend
    mask = backend.k.dropout_mask(backend.rng, shape, p, x.dtype)
    return mul(x, Tensor.wrap(mask, backend))


def dropout1d(x: Tensor, p: float = 0.5, training: bool = True) -> Tensor:
    """Channel dropout of ``(N, C, L)`` or ``(C, L)``: each channel zeroed with probability p."""
    return _channel_dropout(x, p, training, 1)


def dropout2d(x: Tensor, p: float = 0.5, training: bool = True) -> Tensor:
    """Channel dropout of ``(N, C, H, W)`` or ``(C, H, W)`` (a 3-D input is read as
    ``(N, C, L)``, with PyTorch's warning)."""
    return _channel_dropout(x, p, training, 2)


def dropout3d(x: Tensor, p: float = 0.5, training: bool = True) -> Tensor:
    """Channel dropout of ``(N, C, D, H, W)`` or ``(C, D, H, W)``."""
    return _channel_dropout(x, p, training, 3)


__all__ = ["dropout", "dropout1d", "dropout2d", "dropout3d"]
