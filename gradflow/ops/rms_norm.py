"""Root-mean-square normalization (Zhang & Sennrich 2019), composed from differentiable ops:
y = x / √(mean(x², trailing axes) + ε) · γ."""

from __future__ import annotations

from gradflow.ops._util import as_float, tensor_arg
from gradflow.tensor import Tensor


def rms_norm(input: Tensor, normalized_shape, weight: Tensor | None = None,  # noqa: A002
             eps: float | None = None) -> Tensor:
    """Normalize over the trailing ``normalized_shape`` axes by their root mean square, then
    scale by ``weight`` (shape ``normalized_shape``). ``eps=None`` is the machine epsilon of
    the input's dtype (``torch.finfo(dtype).eps``), as PyTorch."""
    x = as_float(tensor_arg(input, "rms_norm"), "rms_norm")
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    k = len(shape)
    if tuple(x.shape[x.ndim - k:]) != shape or k > x.ndim:
        raise RuntimeError(f"rms_norm: normalized_shape {list(shape)} must match the trailing "
                           f"dimensions of the input, got input of shape {list(x.shape)}")
    if weight is not None and tuple(weight.shape) != shape:
        raise RuntimeError(f"rms_norm: weight has shape {list(weight.shape)}, expected "
                           f"normalized_shape {list(shape)}")
    if eps is None:
        eps = float(x.backend.xp.finfo(x.dtype).eps)
    axes = tuple(range(x.ndim - k, x.ndim))
    y = x * ((x * x).mean(axes, keepdims=True) + eps) ** -0.5 if k else x * (x * x + eps) ** -0.5
    return y if weight is None else y * weight


__all__ = ["rms_norm"]
