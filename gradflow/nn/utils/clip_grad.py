"""Gradient clipping, in place on the ``.grad`` arrays (seed lecture 004, "Gradient Clipping").

All three run on the gradients' own devices with backend array ops (``p.backend.xp``). Only
``clip_grad_norm_`` with ``error_if_nonfinite=True`` reads a number back to the host (to decide
whether to raise), as PyTorch does.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from gradflow.tensor import Tensor

Params = Tensor | Iterable[Tensor]


def _with_grads(parameters: Params) -> list[Tensor]:
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    return [p for p in parameters if p.grad is not None]


def _number(fn: str, key: str, value, how: str) -> float:
    """``float(value)`` or an error naming ``fn`` and ``key``; NaN is refused."""
    if isinstance(value, bool):
        raise TypeError(f"{fn}: {key} must be a number, got {value!r}")
    try:
        out = float(value)
    except (TypeError, ValueError) as e:
        raise type(e)(f"{fn}: {key} must be a number ({how}), got {value!r}") from None
    if math.isnan(out):
        raise ValueError(f"{fn}: {key} is NaN; pass a number ({how})")
    return out


def _writable(g: Tensor):
    """``g``'s array, replaced by a writable copy (same Tensor object) if it is read-only (for
    instance a broadcast view), so that clipping always updates ``p.grad`` in place."""
    if not getattr(g.array.flags, "writeable", True):
        g.array = g.array.copy()
    return g.array


def _norm(xp, g, norm_type: float):
    """‖g‖_p of the flattened array as a 0-d array on g's device (‖·‖_∞ = max |g|)."""
    if g.size == 0:
        return xp.zeros((), dtype=g.dtype)
    flat = g.reshape(-1)
    if norm_type == 2.0:
        return xp.sqrt(xp.vdot(flat, flat).real)
    a = xp.abs(flat)
    if norm_type == math.inf:
        return a.max()
    if norm_type == 1.0:
        return a.sum()
    return (a**norm_type).sum() ** (1.0 / norm_type)


def clip_grad_norm_(parameters: Params, max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = True) -> Tensor:
    """Scale all gradients together so that their total norm is at most ``max_norm``.

    The total norm is the p-norm of the vector of every gradient, ‖(‖g₁‖_p, …, ‖g_k‖_p)‖_p
    (``norm_type=inf``: the largest |g|). Each gradient is multiplied by
    min(1, max_norm / (total + 1e-6)), as PyTorch (the lecture's rule g ← λ g/‖g‖ when ‖g‖ ≥ λ,
    applied to all parameters at once).

    Returns:
        The total norm *before* clipping, a 0-d Tensor on the first gradient's device (gradients
        on other devices contribute their norms, copied there).

    Raises:
        RuntimeError: the total norm is NaN or inf and ``error_if_nonfinite`` is True.
        ValueError: ``max_norm`` < 0 or NaN, or ``norm_type`` ≤ 0 or NaN (PyTorch accepts these
            and returns NaN or meaningless norms). ``max_norm=inf`` is allowed: nothing is
            scaled and the total norm is returned (the usual way to measure it).
        TypeError: ``max_norm`` or ``norm_type`` is not a number.
    """
    fn = "clip_grad_norm_"
    max_norm = _number(fn, "max_norm", max_norm, ">= 0; inf only measures the norm")
    norm_type = _number(fn, "norm_type", norm_type, "> 0, or inf for the largest |g|")
    if max_norm < 0:
        raise ValueError(f"clip_grad_norm_: max_norm must be >= 0, got {max_norm}")
    if not norm_type > 0:
        raise ValueError(f"clip_grad_norm_: norm_type must be > 0 or inf, got {norm_type}")
    if not isinstance(error_if_nonfinite, bool):
        raise TypeError(f"clip_grad_norm_: error_if_nonfinite must be a bool, got "
                        f"{error_if_nonfinite!r}")
    params = _with_grads(parameters)
    if not params:
        from gradflow.creation import tensor

        return tensor(0.0)
    first = params[0].grad._backend
    xp = first.xp
    norms = []
    for p in params:
        g = p.grad
        n = _norm(g._backend.xp, g.array, norm_type)
        if g._backend is not first:
            n = first.from_host(g._backend.to_host(n))
        norms.append(n)
    stacked = xp.stack([xp.asarray(n) for n in norms])
    total = stacked.max() if norm_type == math.inf else _norm(xp, stacked, norm_type)
    if error_if_nonfinite and not bool(xp.isfinite(total)):
        raise RuntimeError(
            f"clip_grad_norm_: the total norm of order {norm_type} of the gradients of "
            f"{len(params)} parameters is non-finite ({float(total)}), so they cannot be clipped. "
            "Find where the NaN/inf comes from (lower the learning rate, check the loss and "
            "inputs, run under gf.detect_anomaly()), or pass error_if_nonfinite=False to scale "
            "anyway (the gradients then become NaN).")
    coef = xp.minimum(max_norm / (total + 1e-6), 1.0)
    for p in params:
        g = p.grad
        c = coef if g._backend is first else g._backend.from_host(first.to_host(coef))
        _writable(g)[...] *= c.astype(g.dtype)
        g.increment_version()
    return Tensor.wrap(xp.asarray(total), first)


def clip_grad_value_(parameters: Params, clip_value: float) -> None:
    """Clamp every gradient element into [−clip_value, clip_value], in place.

    ``clip_value`` must be >= 0 (``inf`` leaves the gradients alone); a negative or NaN value is a
    ``ValueError`` (PyTorch would fill the gradients with it).
    """
    clip_value = _number("clip_grad_value_", "clip_value", clip_value, ">= 0")
    if clip_value < 0:
        raise ValueError(f"clip_grad_value_: clip_value must be >= 0, got {clip_value}")
    for p in _with_grads(parameters):
        g = p.grad
        a = _writable(g)
        g._backend.xp.clip(a, -clip_value, clip_value, out=a)
        g.increment_version()


def clip_grad_adaptive_(parameters: Params, clip_factor: float, eps: float = 1e-3) -> None:
    """Adaptive gradient clipping, per parameter, in place (seed lecture 004,
    "адаптивная обрезка", after deepmachinelearning.ru "Gradient clipping").

    With λ = ``clip_factor`` and ‖w‖* = max(‖w‖, eps) (Frobenius norms of the whole tensor;
    ``eps`` keeps zero-initialised parameters from freezing):

    .. math::

        g \\leftarrow \\begin{cases} g, & \\|g\\| / \\|w\\|^* \\le λ \\\\
                     λ \\|w\\|^* \\, g / \\|g\\|, & \\|g\\| / \\|w\\|^* > λ \\end{cases}

    so afterwards ‖g‖ / ‖w‖* ≤ λ: a step can change a weight by at most a fixed fraction of it.
    The decision is made on the device (no host sync).
    """
    clip_factor = _number("clip_grad_adaptive_", "clip_factor", clip_factor, "> 0")
    eps = _number("clip_grad_adaptive_", "eps", eps, "> 0")
    if not clip_factor > 0:
        raise ValueError(f"clip_grad_adaptive_: clip_factor must be > 0, got {clip_factor}")
    if not eps > 0:
        raise ValueError(f"clip_grad_adaptive_: eps must be > 0, got {eps}")
    for p in _with_grads(parameters):
        g = p.grad
        xp = g._backend.xp
        w_norm = xp.maximum(_norm(xp, p.array, 2.0), eps)
        g_norm = _norm(xp, g.array, 2.0)
        limit = clip_factor * w_norm
        tiny = float(np.finfo(g.dtype).tiny)
        scale = xp.where(g_norm > limit, limit / xp.maximum(g_norm, tiny), 1.0)
        _writable(g)[...] *= scale.astype(g.dtype)
        g.increment_version()
