"""Batch, instance, group and layer normalization modules (seed lecture 004:
ẑ = (z − μ)/√(σ² + ε), y = γ ẑ + β)."""

from __future__ import annotations

import warnings
from typing import Any

from gradflow.creation import ones, tensor, zeros
from gradflow.nn import init
from gradflow.nn.module import Module
from gradflow.nn.parameter import Parameter
from gradflow.ops.normalization import batch_norm, group_norm, instance_norm, layer_norm
from gradflow.tensor import Tensor


def _affine_parameters(module: Module, shape, affine: bool, bias: bool, dtype: Any,
                       device: Any) -> None:
    """``weight`` (γ, ones) and ``bias`` (β, zeros) of ``shape`` when ``affine`` (no bias when
    ``bias=False``); registered as None otherwise, as PyTorch's norm layers do."""
    module.register_parameter("weight", Parameter(ones(shape, dtype=dtype, device=device))
                              if affine else None)
    module.register_parameter("bias", Parameter(zeros(shape, dtype=dtype, device=device))
                              if affine and bias else None)


def _reset_affine(module: Module) -> None:
    if module.weight is not None:
        init.ones_(module.weight)
    if module.bias is not None:
        init.zeros_(module.bias)


class _NormBase(Module):
    """State shared by batch and instance norm: ``weight`` (γ, ones) and ``bias`` (β, zeros;
    unless ``bias=False``) when ``affine``; buffers ``running_mean`` (zeros), ``running_var``
    (ones), ``num_batches_tracked`` (int64 0) when ``track_running_stats`` (PyTorch's names,
    so state dicts load by name)."""

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True, device: Any = None,
                 dtype: Any = None, *, bias: bool = True) -> None:
        super().__init__()
        name = type(self).__name__
        if isinstance(num_features, bool) or not isinstance(num_features, int) or \
                num_features <= 0:
            raise ValueError(f"{name}: num_features must be a positive int, got "
                             f"{num_features!r}")
        if momentum is not None and not 0.0 <= momentum <= 1.0:
            raise ValueError(f"{name}: momentum must be in [0, 1] or None (cumulative "
                             f"average), got {momentum}")
        self.num_features = num_features
        self.eps = float(eps)
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        self.has_bias = affine and bias
        _affine_parameters(self, num_features, affine, bias, dtype, device)
        if track_running_stats:
            self.register_buffer("running_mean", zeros(num_features, dtype=dtype, device=device))
            self.register_buffer("running_var", ones(num_features, dtype=dtype, device=device))
            self.register_buffer("num_batches_tracked",
                                 tensor(0, dtype="int64", device=device))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    def reset_running_stats(self) -> None:
        if self.track_running_stats:
            init.zeros_(self.running_mean)
            init.ones_(self.running_var)
            init.zeros_(self.num_batches_tracked)

    def reset_parameters(self) -> None:
        self.reset_running_stats()
        _reset_affine(self)

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, bias={self.has_bias}, "
                f"track_running_stats={self.track_running_stats}")


class _BatchNorm(_NormBase):
    """Batch normalization over the channel axis (1) of a ``(N, C, *)`` input.

    Training: normalize with the batch mean and biased variance over every other axis, then
    update the running statistics: r ← (1 − m) r + m · s, with the running variance unbiased
    (·n/(n − 1)), as PyTorch. ``momentum=None`` uses the cumulative average (m = 1/t).
    Eval: normalize with the running statistics. ``track_running_stats=False`` always uses
    batch statistics and keeps no buffers. Subclasses fix the accepted ranks.
    """

    _ranks: tuple[int, ...] = ()
    _layout: str = ""

    def _check_input_dim(self, x: Tensor) -> None:
        name, c = type(self).__name__, self.num_features
        layout = self._layout.format(c=c)
        if x.ndim not in self._ranks:
            ranks = " or ".join(f"{r}D" for r in self._ranks)
            raise ValueError(f"{name}: expected {ranks} input (got {x.ndim}D input); expected "
                             f"input of shape {layout}, got {x.shape}")
        if x.shape[1] != c:
            raise ValueError(f"{name}: expected input of shape {layout}, got {x.shape}")

    def forward(self, x: Tensor) -> Tensor:
        self._check_input_dim(x)
        momentum = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked.array += 1  # stays on the device: no host sync
            self.num_batches_tracked.increment_version()
            if self.momentum is None:  # cumulative moving average needs the count
                momentum = 1.0 / float(self.num_batches_tracked.item())
        use_batch_stats = self.training or not self.track_running_stats
        track = not self.training or self.track_running_stats
        return batch_norm(x, self.running_mean if track else None,
                          self.running_var if track else None, self.weight, self.bias,
                          training=use_batch_stats, momentum=momentum, eps=self.eps)


class BatchNorm1d(_BatchNorm):
    """Batch normalization of ``(N, C)`` or ``(N, C, L)`` input (see ``_BatchNorm``)."""

    _ranks = (2, 3)
    _layout = "(N, {c}) or (N, {c}, L)"


class BatchNorm2d(_BatchNorm):
    """Batch normalization of ``(N, C, H, W)`` input: statistics over N, H and W per channel."""

    _ranks = (4,)
    _layout = "(N, {c}, H, W)"


class BatchNorm3d(_BatchNorm):
    """Batch normalization of ``(N, C, D, H, W)`` input."""

    _ranks = (5,)
    _layout = "(N, {c}, D, H, W)"


class _InstanceNorm(_NormBase):
    """Instance normalization: each (example, channel) over its positions (``F.instance_norm``).

    PyTorch's defaults ``affine=False``, ``track_running_stats=False``. With tracked statistics,
    training updates them with the batch average of the per-instance statistics and eval
    normalizes with them. An input one rank short is one unbatched example.
    """

    _rank: int = 0

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = False, track_running_stats: bool = False, device: Any = None,
                 dtype: Any = None, *, bias: bool = True) -> None:
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device,
                         dtype, bias=bias)

    def forward(self, x: Tensor) -> Tensor:
        name, r = type(self).__name__, self._rank
        if x.ndim not in (r - 1, r):
            raise ValueError(f"{name}: expected {r - 1}D or {r}D input (got {x.ndim}D input) "
                             f"of shape (N, C, ...) or unbatched (C, ...), got {x.shape}")
        dim = x.ndim - (r - 1)
        if x.shape[dim] != self.num_features:
            if self.affine:
                raise ValueError(f"{name}: expected input's size at dim={dim} to match "
                                 f"num_features ({self.num_features}), but got: "
                                 f"{x.shape[dim]} (input shape {x.shape}).")
            warnings.warn(f"{name}: input's size at dim={dim} does not match num_features. You "
                          f"can silence this warning by not passing in num_features, which is "
                          f"not used because affine=False", stacklevel=2)
        batched = x if x.ndim == r else x.unsqueeze(0)
        y = instance_norm(batched, self.running_mean, self.running_var, self.weight, self.bias,
                          self.training or not self.track_running_stats,
                          0.0 if self.momentum is None else self.momentum, self.eps)
        return y if x.ndim == r else y.squeeze(0)


class InstanceNorm1d(_InstanceNorm):
    """Instance normalization of ``(N, C, L)`` (or unbatched ``(C, L)``) input."""

    _rank = 3


class InstanceNorm2d(_InstanceNorm):
    """Instance normalization of ``(N, C, H, W)`` (or unbatched ``(C, H, W)``) input."""

    _rank = 4


class InstanceNorm3d(_InstanceNorm):
    """Instance normalization of ``(N, C, D, H, W)`` (or unbatched ``(C, D, H, W)``) input."""

    _rank = 5


class GroupNorm(Module):
    """Group normalization (``F.group_norm``): the channels split into ``num_groups`` groups,
    each (example, group) normalized over its channels and positions; then per-channel
    ``weight`` (ones) and ``bias`` (zeros; unless ``bias=False``) when ``affine``."""

    def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-5,
                 affine: bool = True, device: Any = None, dtype: Any = None, *,
                 bias: bool = True) -> None:
        super().__init__()
        for what, v in (("num_groups", num_groups), ("num_channels", num_channels)):
            if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
                raise ValueError(f"GroupNorm: {what} must be a positive int, got {v!r}")
        if num_channels % num_groups:
            raise ValueError(f"GroupNorm: num_channels ({num_channels}) must be divisible by "
                             f"num_groups ({num_groups})")
        self.num_groups = num_groups
        self.num_channels = num_channels
        self.eps = float(eps)
        self.affine = affine
        _affine_parameters(self, num_channels, affine, bias, dtype, device)

    def reset_parameters(self) -> None:
        _reset_affine(self)

    def forward(self, x: Tensor) -> Tensor:
        return group_norm(x, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.num_groups}, {self.num_channels}, eps={self.eps}, "
                f"affine={self.affine}, bias={self.bias is not None}")


class LayerNorm(Module):
    """Normalize each example over its trailing ``normalized_shape`` axes, then scale and shift
    elementwise by ``weight`` (ones) and ``bias`` (zeros) when ``elementwise_affine``."""

    def __init__(self, normalized_shape: int | tuple[int, ...], eps: float = 1e-5,
                 elementwise_affine: bool = True, bias: bool = True, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__()
        shape = (normalized_shape,) if isinstance(normalized_shape, int) else \
            tuple(normalized_shape)
        if not shape or any(isinstance(s, bool) or not isinstance(s, int) or s <= 0
                            for s in shape):
            raise ValueError(f"LayerNorm: normalized_shape must be a positive int or a non-empty "
                             f"tuple of them, got {normalized_shape!r}")
        self.normalized_shape = shape
        self.eps = float(eps)
        self.elementwise_affine = elementwise_affine
        _affine_parameters(self, shape, elementwise_affine, bias, dtype, device)

    def reset_parameters(self) -> None:
        _reset_affine(self)

    def forward(self, x: Tensor) -> Tensor:
        return layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}")
