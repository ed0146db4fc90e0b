"""The JAX oracle: run one expression in gradflow and in ``jax.numpy`` and compare.

The reference (float64, computed once per case and cached): the forward value, the VJP with a
random cotangent ``v`` and the Hessian-vector products of ⟨f(x), v⟩ (``jax.jvp`` of
``jax.grad``). gradflow is checked against it on the paths it runs:

- ``check_op``: float64 forward; first order through ``gf.grad(create_graph=False)`` (each
  node's ``vjp``, what training runs) and through ``create_graph=True`` (the composed
  ``backward``); second order from the latter.
- ``check_vjp``: forward and the ``vjp`` path only, optionally on float32 inputs (looser
  tolerances, against the float64 reference) or on non-contiguous leaves (transposed or strided
  views, a strided cotangent too), as Chainer's FunctionTestCase does. Inputs and cotangent
  must come back unmodified.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

import gradflow as gf

jax.config.update("jax_enable_x64", True)

FWD_TOL = {"rtol": 1e-10, "atol": 1e-12}
GRAD_TOL = {"rtol": 1e-8, "atol": 1e-10}
# float32 against the float64 reference; atol is relative to the largest reference magnitude.
FLOAT32_TOL = {"rtol": 1e-4, "atol": 1e-5}

LAYOUTS = ("contiguous", "noncontiguous")


@dataclass(frozen=True)
class Reference:
    """JAX's float64 answers for one case; ``v`` and ``us`` are the random directions."""

    out: np.ndarray
    v: np.ndarray  # cotangent of the output (values exact in float32)
    idx: tuple[int, ...]  # the differentiated inputs
    grads: tuple[np.ndarray, ...]  # VJP: ⟨v, ∂f/∂x_i⟩ for i in idx
    us: tuple[np.ndarray, ...] = ()
    hvp: tuple[np.ndarray, ...] | None = None  # H·u for i in idx (None: not computed)


_CACHE: dict[Hashable, Reference] = {}


def _diff_mask(inputs, diff) -> list[bool]:
    return list(diff) if diff is not None else [np.asarray(a).dtype.kind == "f" for a in inputs]


def reference(jax_fn: Callable, inputs: Sequence[np.ndarray], consts: Sequence = (), *,
              diff: Sequence[bool] | None = None, second_order: bool = True, seed: int = 0,
              key: Hashable | None = None) -> Reference:
    """The JAX reference, jitted (one compile per case), cached under ``key`` when given."""
    cache_key = None
    if key is not None:
        cache_key = (key, seed, tuple(np.shape(a) for a in inputs))
        hit = _CACHE.get(cache_key)
        if hit is not None and (hit.hvp is not None or not second_order or not hit.idx):
            return hit
    idx = tuple(i for i, d in enumerate(_diff_mask(inputs, diff)) if d)
    fixed = [jnp.asarray(a) for a in inputs]

    def f(*diff_args):
        args = list(fixed)
        for i, a in zip(idx, diff_args):
            args[i] = a
        return jax_fn(*args, *consts)

    primal = [fixed[i] for i in idx]
    rng = np.random.default_rng(seed)
    out_shape = jax.eval_shape(f, *primal).shape
    v = rng.standard_normal(out_shape).astype(np.float32).astype(np.float64)
    if not idx:
        ref = Reference(np.asarray(f()), v, idx, ())
    else:
        us = tuple(rng.standard_normal(np.shape(inputs[i])) for i in idx)

        def answers(primal, v, us):
            out, pullback = jax.vjp(f, *primal)
            res = (out, pullback(v))
            if second_order:
                argnums = tuple(range(len(primal)))
                grad = jax.grad(lambda *p: jnp.sum(f(*p) * v), argnums=argnums)
                res += (jax.jvp(grad, tuple(primal), tuple(us))[1],)
            return res

        res = jax.tree_util.tree_map(np.asarray, jax.jit(answers)(primal, v, us))
        ref = Reference(res[0], v, idx, tuple(res[1]), us,
                        tuple(res[2]) if second_order else None)
    if cache_key is not None:
        _CACHE[cache_key] = ref
    return ref


def _host(t) -> np.ndarray:
    return t.numpy() if isinstance(t, gf.Tensor) else np.asarray(t)


# --- input layouts ---------------------------------------------------------------------------
def noncontiguous(a: np.ndarray, device: str = "cpu") -> gf.Tensor:
    """A Tensor on ``device`` holding ``a``'s values in a non-contiguous view (no copy).

    Transposed storage when two axes are longer than 1, else every other element of a doubled
    axis; a 0-d or one-element array becomes a view at an offset into a bigger array.
    """
    a = np.asarray(a)

    def on_device(storage):
        return gf.tensor(storage, dtype=a.dtype, device=device).array

    if sum(s > 1 for s in a.shape) >= 2:
        view = on_device(np.ascontiguousarray(a.T)).T
    elif a.size > 1:
        ax = int(np.argmax(a.shape))
        view = on_device(np.repeat(a, 2, axis=ax))[(slice(None),) * ax + (slice(1, None, 2),)]
    else:
        view = on_device(np.concatenate([np.zeros(1, a.dtype), a.reshape(-1)]))[1:]
        view = view.reshape(a.shape)
    assert a.size <= 1 or not view.flags.c_contiguous
    return gf.Tensor.wrap(view)


def _leaf(a: np.ndarray, d: bool, device: str, layout: str) -> gf.Tensor:
    if layout == "noncontiguous" and a.dtype.kind == "f":  # integer inputs pass unchanged
        t = noncontiguous(a, device)
        return t.requires_grad_() if d else t
    return gf.tensor(a, dtype=a.dtype, device=device, requires_grad=d)


# --- checks ----------------------------------------------------------------------------------
def _scaled_tol(tol: dict, ref: np.ndarray, scale_atol: bool) -> dict:
    if not scale_atol or not np.size(ref):
        return tol
    finite = np.abs(ref[np.isfinite(ref)])
    top = float(finite.max()) if finite.size else 1.0
    return {"rtol": tol["rtol"], "atol": tol["atol"] * max(1.0, top)}


def _first_order(gf_fn, inputs, consts, ref: Reference, diff, *, device, dtype, layout,
                 create_graph, fwd_tol, grad_tol, tag):
    """Forward and first-order gradients of one gradflow run, compared with ``ref``."""
    f32 = dtype == "float32"
    arrays = [np.asarray(a) for a in inputs]
    if f32:
        arrays = [a.astype(np.float32) if a.dtype.kind == "f" else a for a in arrays]
    xs = [_leaf(a, d, device, layout) for a, d in zip(arrays, diff)]
    out = gf_fn(*xs, *consts)
    got = _host(out)
    if f32 and got.dtype.kind == "f":
        assert got.dtype == np.float32, f"{tag}: float32 inputs gave a {got.dtype} output"
    np.testing.assert_allclose(got, ref.out, **_scaled_tol(fwd_tol, ref.out, f32),
                               err_msg=f"{tag}: forward")
    if not ref.idx:
        return xs, None
    v = ref.v.astype(got.dtype) if got.dtype.kind == "f" else ref.v
    vt = noncontiguous(v, device) if layout == "noncontiguous" else gf.tensor(
        v, dtype=v.dtype, device=device)
    before = None if create_graph else ([_host(x).copy() for x in xs], _host(vt).copy())
    grads = gf.grad(out, [xs[i] for i in ref.idx], vt, create_graph=create_graph,
                    allow_unused=True)
    path = "composed (create_graph=True)" if create_graph else "vjp (create_graph=False)"
    for k, (g, r) in enumerate(zip(grads, ref.grads)):
        got = np.zeros(np.shape(r)) if g is None else _host(g)
        if f32 and g is not None:
            assert got.dtype == np.float32, f"{tag}: gradient {ref.idx[k]} is {got.dtype}"
        np.testing.assert_allclose(got, r, **_scaled_tol(grad_tol, r, f32),
                                   err_msg=f"{tag}: first-order gradient of input "
                                           f"{ref.idx[k]}, {path} path")
    if before is not None:
        for i, (x, old) in enumerate(zip(xs, before[0])):
            np.testing.assert_array_equal(_host(x), old, err_msg=f"{tag}: input {i} modified")
        np.testing.assert_array_equal(_host(vt), before[1],
                                      err_msg=f"{tag}: the cotangent was modified in place")
    return xs, grads


def check_vjp(gf_fn: Callable, jax_fn: Callable, inputs: Sequence[np.ndarray], *,
              device: str = "cpu", diff: Sequence[bool] | None = None, consts: Sequence = (),
              dtype: str = "float64", layout: str = "contiguous", fwd_tol=None, grad_tol=None,
              seed: int = 0, key: Hashable | None = None) -> None:
    """Forward and first order on the ``vjp`` path (``create_graph=False``) against JAX.

    ``dtype="float32"`` casts the floating inputs (tolerances default to ``FLOAT32_TOL``);
    ``layout="noncontiguous"`` makes every leaf and the cotangent a strided/transposed view.
    """
    assert layout in LAYOUTS, layout
    diff = _diff_mask(inputs, diff)
    ref = reference(jax_fn, inputs, consts, diff=diff, second_order=False, seed=seed, key=key)
    loose = FLOAT32_TOL if dtype == "float32" else None
    _first_order(gf_fn, inputs, consts, ref, diff, device=device, dtype=dtype, layout=layout,
                 create_graph=False, fwd_tol=fwd_tol or loose or FWD_TOL,
                 grad_tol=grad_tol or loose or GRAD_TOL, tag=f"{dtype}, {layout}")


def check_op(gf_fn: Callable, jax_fn: Callable, inputs: Sequence[np.ndarray], *,
             device: str = "cpu", diff: Sequence[bool] | None = None, second_order: bool = True,
             consts: Sequence = (), fwd_tol=None, grad_tol=None, seed: int = 0,
             key: Hashable | None = None) -> None:
    """Compare ``gf_fn(*tensors, *consts)`` with ``jax_fn(*arrays, *consts)`` in float64: the
    forward, both first-order paths and (``second_order``) Hessian-vector products.

    ``inputs`` are float64 arrays (differentiated where ``diff`` says so); ``consts`` are passed
    unchanged to both (integer targets, axes...). ``key`` names the case for the reference cache.
    """
    fwd_tol = fwd_tol or FWD_TOL
    grad_tol = grad_tol or GRAD_TOL
    diff = _diff_mask(inputs, diff)
    ref = reference(jax_fn, inputs, consts, diff=diff, second_order=second_order, seed=seed,
                    key=key)
    opts = {"device": device, "dtype": "float64", "layout": "contiguous", "fwd_tol": fwd_tol,
            "grad_tol": grad_tol}
    _first_order(gf_fn, inputs, consts, ref, diff, create_graph=False, tag="float64", **opts)
    xs, grads = _first_order(gf_fn, inputs, consts, ref, diff, create_graph=True,
                             tag="float64", **opts)
    if not second_order or not ref.idx:
        return
    live = [(g, u) for g, u in zip(grads, ref.us) if g is not None and g.requires_grad]
    if not live:  # gradient is constant in the inputs: the Hessian is zero
        for r in ref.hvp:
            np.testing.assert_allclose(r, 0, atol=grad_tol["atol"])
        return
    inner = sum((g * gf.tensor(u, dtype="float64", device=device)).sum() for g, u in live)
    hv = gf.grad(inner, [xs[i] for i in ref.idx], allow_unused=True)
    for k, (h, r) in enumerate(zip(hv, ref.hvp)):
        got = np.zeros(np.shape(r)) if h is None else _host(h)
        np.testing.assert_allclose(got, r, **grad_tol,
                                   err_msg=f"second-order (Hessian-vector) of input {ref.idx[k]}")


def numeric_grad(f: Callable[[np.ndarray], float], x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Central finite differences of a scalar function, float64."""
    # C order, so that the flat views below are views (a transposed input would make reshape
    # copy, and the perturbations and gradients would be written into the copies)
    x = np.array(x, dtype=np.float64, order="C")
    g = np.zeros(x.shape)
    flat, gflat = x.reshape(-1), g.reshape(-1)
    assert np.shares_memory(flat, x) and np.shares_memory(gflat, g)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + eps
        hi = f(x)
        flat[i] = old - eps
        lo = f(x)
        flat[i] = old
        gflat[i] = (hi - lo) / (2 * eps)
    return g
