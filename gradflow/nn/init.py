"""Weight initialization, in place, as PyTorch's ``torch.nn.init`` (same fans, gains, bounds).

Every initializer overwrites ``t.array`` in place (the tensor and its array object are kept, so
optimizers and views still see them), records no graph (as under ``no_grad``), bumps the tensor's
version counter and returns ``t``. The random ones take ``generator=`` (a ``gf.Generator`` on
``t``'s device) and otherwise draw from the device's default generator (``gf.manual_seed``).

Xavier/Glorot (seed lecture 004): keeps the variance of activations equal across a layer for
symmetric activations (tanh), Var(w) = gain² · 2 / (fan_in + fan_out).
He/Kaiming (seed lecture 004): for ReLU-like activations, Var(w) = gain² / fan, gain = √2 for ReLU.
"""

from __future__ import annotations

import math

from gradflow.dtypes import is_floating
from gradflow.random import Generator, rng_for
from gradflow.tensor import Tensor

__all__ = [
    "calculate_gain", "uniform_", "normal_", "constant_", "zeros_", "ones_", "xavier_uniform_",
    "xavier_normal_", "kaiming_uniform_", "kaiming_normal_",
]

_LINEAR_GAIN = ("linear", "identity", "conv1d", "conv2d", "conv3d", "conv_transpose1d",
                "conv_transpose2d", "conv_transpose3d", "sigmoid")


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The recommended gain for ``nonlinearity`` (PyTorch's table).

    linear/conv/sigmoid: 1; tanh: 5/3; relu: √2; leaky_relu: √(2 / (1 + slope²)) with
    slope ``param`` (default 0.01); selu: 3/4.
    """
    if nonlinearity in _LINEAR_GAIN:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, bool) or not isinstance(param, int | float):
            raise ValueError(f"calculate_gain: negative_slope {param!r} is not a valid number")
        else:
            slope = float(param)
        return math.sqrt(2.0 / (1 + slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r}; use one of "
                     f"{(*_LINEAR_GAIN, 'tanh', 'relu', 'leaky_relu', 'selu')}")


def _calculate_fan_in_and_fan_out(t: Tensor) -> tuple[int, int]:
    """(fan_in, fan_out) as PyTorch computes them for a weight of shape ``(out, in, *kernel)``:
    fan_in = in · ∏kernel, fan_out = out · ∏kernel."""
    if t.ndim < 2:
        raise ValueError(f"fan in and fan out cannot be computed for a tensor with fewer than 2 "
                         f"dimensions (got shape {t.shape}); use uniform_/normal_/constant_ for "
                         "biases")
    receptive = math.prod(t.shape[2:])
    return t.shape[1] * receptive, t.shape[0] * receptive


def _calculate_correct_fan(t: Tensor, mode: str) -> int:
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"kaiming init: mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(t)
    return fan_in if mode == "fan_in" else fan_out


def _draw_dtype(t: Tensor):
    """Generators draw float32/float64 only; half precision is drawn in float64 and cast."""
    return t.dtype if is_floating(t.dtype) and t.dtype.itemsize >= 4 else "float64"


def _write(t: Tensor, values) -> Tensor:
    t.array[...] = values
    t.increment_version()
    return t


def _check_float(t: Tensor, fn: str) -> None:
    if not isinstance(t, Tensor):
        raise TypeError(f"nn.init.{fn}: expected a Tensor, got {type(t).__name__}")
    if not is_floating(t.dtype):
        raise TypeError(f"nn.init.{fn}: random initialization needs a floating-point tensor, "
                        f"got {t.dtype}")


def _uniform(t: Tensor, a: float, b: float, generator: Generator | None, fn: str) -> Tensor:
    _check_float(t, fn)
    if not a <= b:
        raise ValueError(f"nn.init.{fn}: need a <= b, got a={a}, b={b}")
    rng = rng_for(generator, t._backend, f"nn.init.{fn}")
    u = rng.random(t.array.shape, dtype=_draw_dtype(t))
    return _write(t, u * (b - a) + a)


def _normal(t: Tensor, mean: float, std: float, generator: Generator | None, fn: str) -> Tensor:
    _check_float(t, fn)
    if not std >= 0:
        raise ValueError(f"nn.init.{fn}: std must be >= 0, got {std}")
    rng = rng_for(generator, t._backend, f"nn.init.{fn}")
    z = rng.standard_normal(t.array.shape, dtype=_draw_dtype(t))
    return _write(t, z * std + mean)


def uniform_(t: Tensor, a: float = 0.0, b: float = 1.0,
             generator: Generator | None = None) -> Tensor:
    """Fill ``t`` with draws from U(a, b)."""
    return _uniform(t, a, b, generator, "uniform_")


def normal_(t: Tensor, mean: float = 0.0, std: float = 1.0,
            generator: Generator | None = None) -> Tensor:
    """Fill ``t`` with draws from N(mean, std²)."""
    return _normal(t, mean, std, generator, "normal_")


def constant_(t: Tensor, val: float) -> Tensor:
    """Fill ``t`` with ``val``."""
    if not isinstance(t, Tensor):
        raise TypeError(f"nn.init.constant_: expected a Tensor, got {type(t).__name__}")
    return _write(t, val)


def zeros_(t: Tensor) -> Tensor:
    return constant_(t, 0)


def ones_(t: Tensor) -> Tensor:
    return constant_(t, 1)


def xavier_uniform_(t: Tensor, gain: float = 1.0, generator: Generator | None = None) -> Tensor:
    """Glorot uniform: U(−a, a) with a = gain · √(6 / (fan_in + fan_out))."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(t)
    a = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return _uniform(t, -a, a, generator, "xavier_uniform_")


def xavier_normal_(t: Tensor, gain: float = 1.0, generator: Generator | None = None) -> Tensor:
    """Glorot normal: N(0, σ²) with σ = gain · √(2 / (fan_in + fan_out))."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(t)
    return _normal(t, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)), generator,
                   "xavier_normal_")


def _kaiming_std(t: Tensor, a: float, mode: str, nonlinearity: str, fn: str) -> float:
    if a != 0 and nonlinearity != "leaky_relu":
        raise ValueError(f"nn.init.{fn}: a={a} is the negative slope of a leaky ReLU and is only "
                         f"used with nonlinearity='leaky_relu' (got {nonlinearity!r}); pass "
                         "nonlinearity='leaky_relu' (PyTorch's default) or drop a")
    fan = _calculate_correct_fan(t, mode)
    return calculate_gain(nonlinearity, a) / math.sqrt(fan)


def kaiming_uniform_(t: Tensor, a: float = 0.0, mode: str = "fan_in",
                     nonlinearity: str = "relu",
                     generator: Generator | None = None) -> Tensor:
    """He uniform: U(−b, b) with b = gain · √(3 / fan), fan = fan_in or fan_out (``mode``).

    ``a`` is the negative slope for ``nonlinearity="leaky_relu"`` (gain √(2 / (1 + a²))); at
    ``a = 0`` this equals ``"relu"`` (gain √2), the default: the same numbers as PyTorch's
    default ``"leaky_relu"`` with ``a = 0``; a nonzero ``a`` needs ``nonlinearity="leaky_relu"``.
    """
    if t.numel() == 0:
        return t
    std = _kaiming_std(t, a, mode, nonlinearity, "kaiming_uniform_")
    bound = math.sqrt(3.0) * std
    return _uniform(t, -bound, bound, generator, "kaiming_uniform_")


def kaiming_normal_(t: Tensor, a: float = 0.0, mode: str = "fan_in",
                    nonlinearity: str = "relu",
                    generator: Generator | None = None) -> Tensor:
    """He normal: N(0, σ²) with σ = gain / √fan (σ² = 2 / fan_in for ReLU, seed lecture 004)."""
    if t.numel() == 0:
        return t
    std = _kaiming_std(t, a, mode, nonlinearity, "kaiming_normal_")
    return _normal(t, 0.0, std, generator, "kaiming_normal_")
