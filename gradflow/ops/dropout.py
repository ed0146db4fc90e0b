"""Dropout: multiply by an inverted-dropout mask from the backend's generator.

A composition (no Function of its own): the mask is a constant, so ``mul`` gives the gradient
g · mask to every order.
"""

from __future__ import annotations

from gradflow.ops.arithmetic import mul
from gradflow.tensor import Tensor


def dropout(input: Tensor, p: float = 0.5, training: bool = True,  # noqa: A002
            inplace: bool = False) -> Tensor:
    """Zero each element with probability ``p`` and scale the rest by 1/(1 − p) (training only);
    ``inplace`` writes the result into ``input`` (an in-place op of the graph, as PyTorch's)."""
    if not isinstance(input, Tensor):
        raise TypeError(f"dropout(): argument 'input' must be a Tensor, got {type(input).__name__}")
    if not 0.0 <= p < 1.0:
        raise ValueError(f"dropout: p must be in [0, 1), got {p} (p is the probability of "
                         "dropping an element)")
    if not training or p == 0.0:
        return input
    backend = input.backend
    mask = backend.k.dropout_mask(backend.rng, input.shape, p, input.dtype)
    return _apply(input, Tensor.wrap(mask, backend), inplace)


def _apply(x: Tensor, mask: Tensor, inplace: bool) -> Tensor:
    """``x · mask``; in place (``mul_``: only the mask is saved, so ``x`` may be overwritten)."""
    return x.mul_(mask) if inplace else mul(x, mask)


def _channel_dropout(x: Tensor, p: float, training: bool, k: int, inplace: bool) -> Tensor:
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
    return _apply(x, Tensor.wrap(mask, backend), inplace)


def dropout1d(input: Tensor, p: float = 0.5, training: bool = True,  # noqa: A002
              inplace: bool = False) -> Tensor:
    """Channel dropout of ``(N, C, L)`` or ``(C, L)``: each channel zeroed with probability p."""
    return _channel_dropout(input, p, training, 1, inplace)


def dropout2d(input: Tensor, p: float = 0.5, training: bool = True,  # noqa: A002
              inplace: bool = False) -> Tensor:
    """Channel dropout of ``(N, C, H, W)`` or ``(C, H, W)`` (a 3-D input is read as
    ``(N, C, L)``, with PyTorch's warning)."""
    return _channel_dropout(input, p, training, 2, inplace)


def dropout3d(input: Tensor, p: float = 0.5, training: bool = True,  # noqa: A002
              inplace: bool = False) -> Tensor:
    """Channel dropout of ``(N, C, D, H, W)`` or ``(C, D, H, W)``."""
    return _channel_dropout(input, p, training, 3, inplace)


__all__ = ["dropout", "dropout1d", "dropout2d", "dropout3d"]
