"""PyTorch's sampling functions: ``multinomial``, ``bernoulli``, ``normal``.

Draws come from a ``gf.Generator`` (``generator=``) or the device's default one, so
``gf.manual_seed`` makes them repeatable. No gradient flows through a sample."""

from __future__ import annotations

import math
from typing import Any

from gradflow.dtypes import is_floating
from gradflow.random import rng_for
from gradflow.tensor import Tensor


def _input(x: Any, who: str) -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(f"{who}(): argument 'input' must be a Tensor, got {type(x).__name__}")
    return x


def multinomial(input: Tensor, num_samples: int, replacement: bool = False, *,  # noqa: A002
                generator=None) -> Tensor:
    """Indices drawn from the categorical distribution(s) with weights ``input`` (1-D: one
    distribution, 2-D: one per row; weights need not sum to 1). int64, shape ``(num_samples,)``
    or ``(rows, num_samples)``. Without ``replacement`` an index is drawn at most once per row."""
    w = _input(input, "multinomial")
    if w.ndim not in (1, 2):
        raise RuntimeError(f"multinomial(): prob_dist must be 1 or 2 dim, got shape {w.shape}")
    if not is_floating(w.array.dtype):
        raise RuntimeError(f"multinomial(): expected a floating-point weight tensor, got "
                           f"{w.dtype}; convert with .float()")
    if isinstance(num_samples, bool) or not isinstance(num_samples, int) or num_samples <= 0:
        raise RuntimeError(f"multinomial(): num_samples must be a positive int, got "
                           f"{num_samples!r}")
    xp, backend = w._backend.xp, w._backend
    p = w.array.reshape(-1, w.shape[-1]).astype("float64")
    n = p.shape[1]
    if not replacement and num_samples > n:
        raise RuntimeError(f"multinomial(): cannot sample n_sample > prob_dist.size(-1) samples "
                           f"without replacement (num_samples={num_samples}, {n} categories); "
                           "pass replacement=True or draw fewer")
    if bool(xp.any(~xp.isfinite(p))) or bool(xp.any(p < 0)):
        raise RuntimeError("multinomial(): probability tensor contains either inf, nan or an "
                           "element < 0")
    total = p.sum(axis=1, keepdims=True)
    if bool(xp.any(total <= 0)):
        raise RuntimeError("multinomial(): invalid multinomial distribution (sum of "
                           "probabilities <= 0)")
    if not replacement and bool(xp.any((p > 0).sum(axis=1) < num_samples)):
        raise RuntimeError(f"multinomial(): fewer than {num_samples} categories have a "
                           "non-zero weight; cannot draw that many without replacement")
    rng = rng_for(generator, backend, "multinomial")
    u = rng.random((p.shape[0], num_samples))
    if replacement:
        cdf = xp.cumsum(p / total, axis=1)
        cdf[:, -1] = 1.0
        out = xp.stack([xp.searchsorted(cdf[r], u[r], side="right") for r in range(p.shape[0])])
        out = xp.minimum(out, n - 1)
    else:
        # Gumbel-top-k (Efraimidis-Spirakis): the k largest log p - log(-log u) are a draw of
        # k categories without replacement, in order of selection
        logp = xp.where(p > 0, xp.log(xp.where(p > 0, p, 1.0)), -xp.inf)
        keys = logp - xp.log(-xp.log(rng.random(p.shape)))
        out = xp.argsort(-keys, axis=1, kind="stable")[:, :num_samples]
    out = out.astype("int64")
    return Tensor._make(out.reshape(num_samples) if w.ndim == 1 else out, backend)


def bernoulli(input: Tensor, p: float | None = None, *, generator=None) -> Tensor:  # noqa: A002
    """1 with probability ``input`` (elementwise, in [0, 1]) else 0, in ``input``'s dtype and
    shape; with ``p`` every element uses probability ``p``."""
    x = _input(input, "bernoulli")
    if not is_floating(x.array.dtype):
        raise RuntimeError(f"bernoulli(): expected a floating-point tensor, got {x.dtype}")
    xp = x._backend.xp
    prob = x.array if p is None else p
    if p is None and x.numel() and (bool(xp.any(prob < 0)) or bool(xp.any(prob > 1))
                                    or bool(xp.any(prob != prob))):
        raise RuntimeError("bernoulli(): expected all probabilities in [0, 1]")
    if p is not None and not 0 <= p <= 1:
        raise RuntimeError(f"bernoulli(): p must be in [0, 1], got {p}")
    u = rng_for(generator, x._backend, "bernoulli").random(x.shape)
    return Tensor._make((u < prob).astype(x.array.dtype), x._backend)


def normal(mean: Any = 0.0, std: Any = 1.0, size=None, *, generator=None, dtype=None,
           device=None, requires_grad: bool = False) -> Tensor:
    """Normal samples: ``normal(mean_tensor, std_tensor)`` (broadcast, elementwise parameters),
    ``normal(mean_tensor, float)``, ``normal(float, std_tensor)``, or ``normal(float, float,
    size)``. ``std`` must be >= 0."""
    tensors = [t for t in (mean, std) if isinstance(t, Tensor)]
    if not tensors:
        if size is None:
            raise TypeError("normal(): with float mean and std, pass size= (e.g. "
                            "gf.normal(0.0, 1.0, size=(3,)))")
        if not math.isfinite(std) or std < 0:
            raise RuntimeError(f"normal(): std must be finite and >= 0, got {std}")
        from gradflow.creation import randn
        out = randn(size, generator=generator, dtype=dtype, device=device)
        out.array[...] = out.array * std + mean
        return out.requires_grad_(requires_grad)
    backend = tensors[0]._backend
    xp = backend.xp
    m = mean.array if isinstance(mean, Tensor) else mean
    s = std.array if isinstance(std, Tensor) else std
    if bool(xp.any(xp.asarray(s) < 0)):
        raise RuntimeError("normal(): expected all elements of std >= 0")
    shape = xp.broadcast_shapes(xp.shape(m), xp.shape(s))
    dt = next(t.array.dtype for t in tensors)
    if not is_floating(dt):
        raise RuntimeError(f"normal(): expected floating-point mean/std, got {dt}")
    z = rng_for(generator, backend, "normal").standard_normal(shape)
    return Tensor._make((z * s + m).astype(dt), backend).requires_grad_(requires_grad)
