"""The JAX oracle: run one expression in gradflow and in ``jax.numpy`` and compare, in float64,
the forward value, first-order gradients (VJP with a random cotangent) and second-order
gradients (Hessian-vector products of ⟨f(x), v⟩ against ``jax.jvp`` of ``jax.grad``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np

import gradflow as gf

jax.config.update("jax_enable_x64", True)

FWD_TOL = {"rtol": 1e-10, "atol": 1e-12}
GRAD_TOL = {"rtol": 1e-8, "atol": 1e-10}


def _host(t) -> np.ndarray:
    return t.numpy() if isinstance(t, gf.Tensor) else np.asarray(t)


def check_op(gf_fn: Callable, jax_fn: Callable, inputs: Sequence[np.ndarray], *,
             device: str = "cpu", diff: Sequence[bool] | None = None, second_order: bool = True,
             consts: Sequence = (), fwd_tol=None, grad_tol=None, seed: int = 0) -> None:
    """Compare ``gf_fn(*tensors, *consts)`` with ``jax_fn(*arrays, *consts)``.

    ``inputs`` are float64 arrays (differentiated where ``diff`` says so); ``consts`` are passed
    unchanged to both (integer targets, axes...).
    """
    fwd_tol = fwd_tol or FWD_TOL
    grad_tol = grad_tol or GRAD_TOL
    diff = list(diff) if diff is not None else [np.asarray(a).dtype.kind == "f" for a in inputs]
    rng = np.random.default_rng(seed)
    xs = [gf.tensor(a, dtype=np.asarray(a).dtype, device=device, requires_grad=d)
          for a, d in zip(inputs, diff)]
    out = gf_fn(*xs, *consts)
    ref = jax_fn(*[jnp.asarray(a) for a in inputs], *consts)
    np.testing.assert_allclose(_host(out), np.asarray(ref), **fwd_tol, err_msg="forward")
    idx = [i for i, d in enumerate(diff) if d]
    if not idx:
        return
    v = rng.standard_normal(np.shape(ref))

    def scalar_jax(*diff_args):
        args = [jnp.asarray(a) for a in inputs]
        for i, a in zip(idx, diff_args):
            args[i] = a
        return jnp.sum(jax_fn(*args, *consts) * v)

    primal = [jnp.asarray(inputs[i]) for i in idx]
    ref_grads = jax.grad(scalar_jax, argnums=tuple(range(len(idx))))(*primal)
    vt = gf.tensor(v, dtype="float64", device=device)
    grads = gf.grad(out, [xs[i] for i in idx], vt, create_graph=second_order, allow_unused=True)
    for k, (g, r) in enumerate(zip(grads, ref_grads)):
        got = np.zeros(np.shape(r)) if g is None else _host(g)
        np.testing.assert_allclose(got, np.asarray(r), **grad_tol,
                                   err_msg=f"first-order gradient of input {idx[k]}")
    if not second_order:
        return
    us = [rng.standard_normal(np.shape(inputs[i])) for i in idx]
    _, ref_hvp = jax.jvp(jax.grad(scalar_jax, argnums=tuple(range(len(idx)))), tuple(primal),
                         tuple(jnp.asarray(u) for u in us))
    live = [(g, u) for g, u in zip(grads, us) if g is not None and g.requires_grad]
    if not live:  # gradient is constant in the inputs: the Hessian is zero
        for r in ref_hvp:
            np.testing.assert_allclose(np.asarray(r), 0, atol=grad_tol["atol"])
        return
    inner = sum((g * gf.tensor(u, dtype="float64", device=device)).sum() for g, u in live)
    hv = gf.grad(inner, [xs[i] for i in idx], allow_unused=True)
    for k, (h, r) in enumerate(zip(hv, ref_hvp)):
        got = np.zeros(np.shape(r)) if h is None else _host(h)
        np.testing.assert_allclose(got, np.asarray(r), **grad_tol,
                                   err_msg=f"second-order (Hessian-vector) of input {idx[k]}")


def numeric_grad(f: Callable[[np.ndarray], float], x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Central finite differences of a scalar function, float64."""
    x = np.array(x, dtype=np.float64)
    g = np.zeros_like(x)
    flat, gflat = x.reshape(-1), g.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + eps
        hi = f(x)
        flat[i] = old - eps
        lo = f(x)
        flat[i] = old
        gflat[i] = (hi - lo) / (2 * eps)
    return g
