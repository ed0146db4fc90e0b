"""Finite-difference checks of first and second derivatives.

For every input ``x_k`` that requires grad, the Jacobian ``J_k = ∂f/∂x_k`` is estimated column by
column with central differences in float64,

    J_k[:, j] ≈ (f(x_k + ε e_j) − f(x_k − ε e_j)) / 2ε      (error O(ε²) + O(u/ε), u ≈ 1e-16),

and compared with the rows ``vᵀ J_k`` that ``gf.grad`` computes for cotangents ``v``: the unit
vectors when the outputs are small (the full Jacobian), else a few random Gaussian projections.
An entry passes when ``|analytic − numeric| ≤ atol + rtol·|numeric|``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from gradflow.autograd.engine import grad
from gradflow.creation import tensor, zeros_like
from gradflow.tensor import Tensor

_F64 = np.dtype(np.float64)


class GradcheckError(AssertionError, RuntimeError):
    """Analytic and finite-difference derivatives disagree (raised by ``gradcheck``)."""


def _as_tuple(inputs: Any) -> tuple:
    return (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)


def _differentiable(inputs: tuple, who: str, labels: Sequence[str]) -> list[int]:
    """Indices of the inputs to check; floating inputs that require grad must be float64."""
    idx = []
    for i, x in enumerate(inputs):
        if not (isinstance(x, Tensor) and x.requires_grad):
            continue
        if x.dtype != _F64:
            raise TypeError(
                f"{who}: {labels[i]} is {x.dtype}, but finite differences need float64 (in "
                f"float32 the rounding error alone is ~1e-3). Use float64 inputs, e.g. "
                f"gf.tensor(data, dtype='float64', requires_grad=True) or "
                f"x.detach().double().requires_grad_().")
        idx.append(i)
    if not idx:
        raise ValueError(f"{who}: no input requires grad; pass float64 Tensors created with "
                         "requires_grad=True (other inputs are treated as constants)")
    return idx


def _float_outputs(fn: Callable, inputs: tuple, who: str) -> list[Tensor]:
    out = fn(*inputs)
    outs = (out,) if isinstance(out, Tensor) else tuple(out)
    result = []
    for i, o in enumerate(outs):
        if not isinstance(o, Tensor):
            raise TypeError(f"{who}: fn must return a Tensor or a tuple of Tensors; output {i} "
                            f"is a {type(o).__name__}")
        if o.dtype.kind != "f":
            continue  # integer/bool outputs (indices, masks) have no derivative
        if o.dtype != _F64:
            raise TypeError(f"{who}: output {i} is {o.dtype}; the check needs float64 outputs "
                            "(does fn cast to float32 or create float32 constants?)")
        result.append(o)
    if not result:
        raise ValueError(f"{who}: fn returned no floating-point output to check")
    return result


def _flat(outs: list[Tensor]) -> np.ndarray:
    return np.concatenate([np.asarray(o.numpy(), dtype=np.float64).reshape(-1) for o in outs])


def _numeric_jacobian(fn: Callable, inputs: tuple, k: int, eps: float, who: str) -> np.ndarray:
    """Central differences of every output element w.r.t. input ``k``: shape (outputs, inputs_k)."""
    x = inputs[k]
    data = x.array
    cols = []
    for j in range(x.numel()):
        at = np.unravel_index(j, x.shape)
        orig = data[at].copy()
        try:
            data[at] = orig + eps
            plus = _flat(_float_outputs(fn, inputs, who))
            data[at] = orig - eps
            minus = _flat(_float_outputs(fn, inputs, who))
        finally:
            data[at] = orig
        cols.append((plus - minus) / (2 * eps))
    n_out = cols[0].size if cols else 0
    return np.stack(cols, axis=1) if cols else np.zeros((n_out, 0))


def _analytic_rows(outs: list[Tensor], targets: list[Tensor], rows: np.ndarray) -> list[np.ndarray]:
    """``rows @ J_k`` for every target input, one ``gf.grad`` call per row."""
    result = [np.zeros((rows.shape[0], t.numel())) for t in targets]
    offsets = np.cumsum([0] + [o.numel() for o in outs])
    live = [(o, offsets[i]) for i, o in enumerate(outs) if o.requires_grad]
    if not live:
        return result  # nothing in fn's outputs is connected to the inputs: J = 0
    for r, row in enumerate(rows):
        cot = [tensor(row[off:off + o.numel()].reshape(o.shape), dtype=o.dtype, device=o.device)
               for o, off in live]
        grads = grad([o for o, _ in live], targets, grad_outputs=cot, retain_graph=True,
                     allow_unused=True)
        for k, g in enumerate(grads):
            if g is not None:
                result[k][r] = np.asarray(g.numpy(), dtype=np.float64).reshape(-1)
    return result


def _out_position(outs: list[Tensor], flat_index: int) -> str:
    for i, o in enumerate(outs):
        if flat_index < o.numel():
            at = tuple(int(v) for v in np.unravel_index(flat_index, o.shape))
            return f"output {i} element {at}"
        flat_index -= o.numel()
    return "?"


def _check(fn: Callable, inputs: Any, eps: float, atol: float, rtol: float, who: str,
           labels: Sequence[str] | None, max_full_outputs: int, n_projections: int,
           seed: int) -> bool:
    inputs = _as_tuple(inputs)
    labels = labels or [f"input {i}" for i in range(len(inputs))]
    idx = _differentiable(inputs, who, labels)
    outs = _float_outputs(fn, inputs, who)
    n_out = sum(o.numel() for o in outs)
    full = n_out <= max_full_outputs
    if full:
        rows = np.eye(n_out)
    else:
        rows = np.random.default_rng(seed).standard_normal((n_projections, n_out))
    analytic = _analytic_rows(outs, [inputs[k] for k in idx], rows)
    del outs
    for k, a in zip(idx, analytic):
        numeric = rows @ _numeric_jacobian(fn, inputs, k, eps, who)
        err = np.abs(a - numeric)
        excess = err - (atol + rtol * np.abs(numeric))
        bad = ~(excess <= 0)  # NaN counts as a mismatch
        if not bad.any():
            continue
        score = np.where(np.isnan(excess), np.inf, excess)
        r, j = np.unravel_index(int(np.argmax(score)), score.shape)
        x_at = tuple(int(v) for v in np.unravel_index(j, inputs[k].shape))
        where = (_out_position(_float_outputs(fn, inputs, who), r) if full
                 else f"random projection {r} of the outputs")
        finite = err[np.isfinite(err)]
        max_err = finite.max() if finite.size else np.nan
        raise GradcheckError(
            f"{who}: Jacobian mismatch for {labels[k]} (shape {inputs[k].shape}) at its element "
            f"{x_at}, {where}: analytic {a[r, j]:.10g} vs numeric {numeric[r, j]:.10g} "
            f"(|difference| {err[r, j]:.3g} > atol + rtol·|numeric| = "
            f"{atol + rtol * abs(numeric[r, j]):.3g}); {int(bad.sum())} of {bad.size} entries "
            f"fail, max finite |difference| {max_err:.3g}.")
    return True


def gradcheck(fn: Callable[..., Tensor | tuple], inputs: Tensor | Sequence[Any],
              eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3, *,
              max_full_outputs: int = 256, n_projections: int = 8, seed: int = 0) -> bool:
    """Check ``gf.grad`` of ``fn(*inputs)`` against central finite differences.

    Args:
        fn: returns a Tensor or a tuple of Tensors (integer outputs are ignored).
        inputs: a Tensor or a sequence; float64 Tensors with ``requires_grad=True`` are checked,
            anything else is passed through as a constant.
        eps: finite-difference step ε.
        atol, rtol: an entry passes when ``|analytic − numeric| ≤ atol + rtol·|numeric|``.
        max_full_outputs: up to this many output elements the full Jacobian is compared, else
            ``n_projections`` random projections ``vᵀJ`` (``v`` Gaussian, drawn from ``seed``).

    Returns:
        True.

    Raises:
        GradcheckError: naming the input, the worst element, and the analytic and numeric values.
        TypeError: an input that requires grad (or an output) is not float64.
    """
    return _check(fn, inputs, eps, atol, rtol, "gradcheck", None, max_full_outputs,
                  n_projections, seed)


def gradgradcheck(fn: Callable[..., Tensor | tuple], inputs: Tensor | Sequence[Any],
                  grad_outputs: Sequence[Tensor] | None = None, eps: float = 1e-6,
                  atol: float = 1e-5, rtol: float = 1e-3, *, max_full_outputs: int = 256,
                  n_projections: int = 8, seed: int = 0) -> bool:
    """Check second derivatives: ``gradcheck`` of ``(x, v) ↦ vᵀ ∂f/∂x`` computed with
    ``gf.grad(..., create_graph=True)``.

    The first-order gradient is differentiated both analytically (double backward) and by finite
    differences, with respect to the inputs and to the cotangents ``v`` (``grad_outputs``: one
    float64 Tensor per differentiable output; random Gaussian from ``seed`` when None).
    Raises ``GradcheckError`` like ``gradcheck``.
    """
    inputs = _as_tuple(inputs)
    idx = _differentiable(inputs, "gradgradcheck", [f"input {i}" for i in range(len(inputs))])
    live = [o for o in _float_outputs(fn, inputs, "gradgradcheck") if o.requires_grad]
    if not live:
        raise ValueError("gradgradcheck: no output of fn depends on an input that requires grad")
    if grad_outputs is None:
        rng = np.random.default_rng(seed)
        grad_outputs = [tensor(rng.standard_normal(o.shape), dtype=_F64, device=o.device,
                               requires_grad=True) for o in live]
    grad_outputs = list(grad_outputs)
    if len(grad_outputs) != len(live):
        raise ValueError(f"gradgradcheck: fn has {len(live)} differentiable outputs but "
                         f"{len(grad_outputs)} grad_outputs were given")
    n_in = len(inputs)

    def first_order(*args):
        xs = args[:n_in]
        outs = [o for o in _float_outputs(fn, xs, "gradgradcheck") if o.requires_grad]
        targets = [xs[k] for k in idx]
        grads = grad(outs, targets, grad_outputs=list(args[n_in:]), create_graph=True,
                     allow_unused=True)
        return tuple(g if g is not None else zeros_like(t) for g, t in zip(grads, targets))

    labels = [f"input {i}" for i in range(n_in)] + [
        f"grad_output {i}" for i in range(len(grad_outputs))]
    return _check(first_order, (*inputs, *grad_outputs), eps, atol, rtol, "gradgradcheck",
                  labels, max_full_outputs, n_projections, seed)


__all__ = ["GradcheckError", "gradcheck", "gradgradcheck"]
