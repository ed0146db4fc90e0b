"""Second-order information about a loss: Hessian-vector products, the dense Hessian, its top
eigenvalue, and the learning rates they suggest.

With ``g(θ) = ∇E(θ)`` recorded by ``gf.grad(E, θ, create_graph=True)``, one more backward pass
with cotangent ``v`` gives ``∇(gᵀv) = H v`` exactly (Pearlmutter's trick), at the cost of about
two gradient evaluations and without ever forming ``H``.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from gradflow.autograd.engine import grad
from gradflow.creation import tensor, zeros_like
from gradflow.tensor import Tensor

LossFn = Callable[[], Tensor]


def _params(params: Any, who: str) -> list[Tensor]:
    params = [params] if isinstance(params, Tensor) else list(params)
    if not params:
        raise ValueError(f"{who}: params is empty; pass the list of parameter Tensors")
    for i, p in enumerate(params):
        if not isinstance(p, Tensor) or not p.requires_grad:
            raise TypeError(f"{who}: params[{i}] must be a Tensor with requires_grad=True, got "
                            f"{type(p).__name__}"
                            + ("" if not isinstance(p, Tensor) else " that does not require grad"))
    return params


def _vectors(vectors: Any, params: list[Tensor], who: str) -> list[Tensor]:
    vectors = [vectors] if isinstance(vectors, Tensor) else list(vectors)
    if len(vectors) != len(params):
        raise ValueError(f"{who}: got {len(params)} params but {len(vectors)} vectors; pass one "
                         "vector per parameter, of the same shape")
    out = []
    for i, (v, p) in enumerate(zip(vectors, params)):
        v = v.detach() if isinstance(v, Tensor) else v
        v = tensor(v, dtype=p.dtype, device=p.device)
        if v.shape != p.shape:
            raise ValueError(f"{who}: vectors[{i}] has shape {v.shape} but params[{i}] has shape "
                             f"{p.shape}")
        out.append(v)
    return out


class _HessianOperator:
    """``v ↦ H v`` at the current parameters; the gradient graph is built once and reused."""

    def __init__(self, loss_fn: LossFn, params: list[Tensor], who: str):
        loss = loss_fn()
        if not isinstance(loss, Tensor) or loss.numel() != 1:
            shape = loss.shape if isinstance(loss, Tensor) else type(loss).__name__
            raise ValueError(f"{who}: loss_fn() must return a scalar Tensor, got {shape}; reduce "
                             "it with .sum() or .mean()")
        if not loss.requires_grad:
            raise RuntimeError(f"{who}: the loss does not depend on any of params (it does not "
                               "require grad); was it computed under gf.no_grad()?")
        self.params = params
        grads = grad(loss, params, create_graph=True, allow_unused=True)
        # A gradient that does not require grad is constant in θ: its rows of H are zero.
        self.live = [(i, g) for i, g in enumerate(grads) if g is not None and g.requires_grad]

    def __call__(self, vectors: list[Tensor]) -> list[Tensor]:
        out = [zeros_like(p) for p in self.params]
        if not self.live:
            return out
        hv = grad([g for _, g in self.live], self.params,
                  grad_outputs=[vectors[i] for i, _ in self.live], retain_graph=True,
                  allow_unused=True)
        return [h if h is not None else z for h, z in zip(hv, out)]


def _dot(a: Sequence[Tensor], b: Sequence[Tensor]) -> float:
    return math.fsum(float((x * y).sum()) for x, y in zip(a, b))


def hvp(loss_fn: LossFn, params: Sequence[Tensor] | Tensor,
        vectors: Sequence[Any] | Tensor) -> tuple[Tensor, ...]:
    """Exact Hessian-vector product ``H v`` of ``loss_fn()`` at the current ``params``.

    Args:
        loss_fn: computes the scalar loss from ``params`` (called once).
        params: Tensors with ``requires_grad=True``.
        vectors: one Tensor or array per parameter, of the same shape (``v`` in blocks).

    Returns:
        One Tensor per parameter (``(H v)`` in the same blocks), outside the graph.
    """
    params = _params(params, "hvp")
    vectors = _vectors(vectors, params, "hvp")
    return tuple(_HessianOperator(loss_fn, params, "hvp")(vectors))


def hessian(loss_fn: LossFn, params: Sequence[Tensor] | Tensor) -> Tensor:
    """The dense Hessian ``H[i, j] = ∂²E/∂θ_i∂θ_j`` as an ``(n, n)`` Tensor (for small ``n``).

    ``θ`` is the concatenation of the parameters, each flattened in row-major order; ``n``
    Hessian-vector products compute it, one row each.
    """
    params = _params(params, "hessian")
    op = _HessianOperator(loss_fn, params, "hessian")
    rows = []
    for k, p in enumerate(params):
        for j in range(p.numel()):
            unit = np.zeros(p.numel())
            unit[j] = 1.0
            vectors = [tensor(unit.reshape(p.shape), dtype=p.dtype, device=p.device) if i == k
                       else zeros_like(q) for i, q in enumerate(params)]
            rows.append(np.concatenate([np.asarray(h.numpy()).reshape(-1) for h in op(vectors)]))
    dtype = np.result_type(*[p.dtype for p in params])
    n = sum(p.numel() for p in params)
    return tensor(np.stack(rows) if rows else np.zeros((0, n)), dtype=dtype,
                  device=params[0].device)


def top_hessian_eigenvalue(loss_fn: LossFn, params: Sequence[Tensor] | Tensor, iters: int = 100,
                           tol: float = 1e-6, seed: int = 0, return_vector: bool = False
                           ) -> float | tuple[float, tuple[Tensor, ...]]:
    """The Hessian eigenvalue of largest magnitude, by power iteration on ``hvp``.

    ``v ← H v / ‖H v‖`` from a Gaussian start (``seed``); the estimate is the Rayleigh quotient
    ``λ = vᵀ H v`` (``‖v‖ = 1``), stopped when ``|λ_k − λ_{k−1}| ≤ tol·|λ_k|`` or after ``iters``
    products (a ``RuntimeWarning`` then says it has not converged). Its error shrinks like
    ``(λ₂/λ₁)^{2k}``. Near a minimum ``H`` is positive semi-definite and this is ``λ_max``; at a
    saddle or maximum the dominant eigenvalue may be negative, and it is returned with its sign.

    Returns:
        λ as a Python float, or ``(λ, v)`` with ``return_vector=True`` (``v`` a tuple of Tensors
        shaped like ``params``, unit norm over all of them).
    """
    params = _params(params, "top_hessian_eigenvalue")
    if iters < 1:
        raise ValueError(f"top_hessian_eigenvalue: iters must be >= 1, got {iters}")
    op = _HessianOperator(loss_fn, params, "top_hessian_eigenvalue")
    rng = np.random.default_rng(seed)
    v = [tensor(rng.standard_normal(p.shape), dtype=p.dtype, device=p.device) for p in params]
    norm = math.sqrt(_dot(v, v))
    v = [x / norm for x in v]
    lam = prev = math.nan
    change = math.inf
    for _ in range(iters):
        hv = op(v)
        lam = _dot(v, hv)
        norm = math.sqrt(_dot(hv, hv))
        if norm == 0.0:  # v lies in the null space (e.g. H = 0): λ = 0 along it
            lam = 0.0
            break
        v = [x / norm for x in hv]
        change = abs(lam - prev)
        if change <= tol * abs(lam):
            break
        prev = lam
    else:
        warnings.warn(f"top_hessian_eigenvalue: not converged after {iters} iterations (last "
                      f"relative change {change / max(abs(lam), 1e-300):.2e} > tol "
                      f"{tol:g}); raise iters", RuntimeWarning, stacklevel=2)
    return (lam, tuple(v)) if return_vector else lam


@dataclass(frozen=True)
class LRSuggestion:
    """Learning rates from the top Hessian eigenvalue (also readable as ``s["eta_opt"]``)."""

    lambda_max: float
    eta_opt: float
    eta_max: float

    def __getitem__(self, key: str) -> float:
        if key not in self.keys():
            raise KeyError(f"LRSuggestion has no {key!r}; keys are {self.keys()}")
        return getattr(self, key)

    def keys(self) -> tuple[str, ...]:
        return ("lambda_max", "eta_opt", "eta_max")

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def suggest_lr(loss_fn: LossFn, params: Sequence[Tensor] | Tensor, iters: int = 100,
               tol: float = 1e-6, seed: int = 0) -> LRSuggestion:
    """Learning rates for gradient descent from the curvature at the current ``params``.

    In 1-D, for a quadratic ``E``, one step ``Δω = −η ∂E/∂ω`` lands on the minimum when
    ``η_opt = (∂²E/∂ω²)⁻¹``, oscillates but converges for ``η_opt < η < 2η_opt`` and diverges
    beyond ``η_max = 2η_opt``. In many dimensions the eigen-directions of ``H`` decouple and the
    stiffest one limits the step (LeCun et al., *Efficient BackProp*, 1998):
    ``η_opt = 1/λ_max`` and ``η_max = 2/λ_max``.

    Raises:
        ValueError: the dominant eigenvalue is not positive (not locally convex here).
    """
    lam = top_hessian_eigenvalue(loss_fn, params, iters=iters, tol=tol, seed=seed)
    if not lam > 0:
        raise ValueError(f"suggest_lr: the Hessian's dominant eigenvalue is {lam:g}, not positive; "
                         "the loss is not locally convex at these parameters, so 1/λ_max is no "
                         "learning rate. Evaluate it nearer a minimum.")
    return LRSuggestion(lambda_max=lam, eta_opt=1.0 / lam, eta_max=2.0 / lam)


__all__ = ["LRSuggestion", "hessian", "hvp", "suggest_lr", "top_hessian_eigenvalue"]
