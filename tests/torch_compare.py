"""One gradflow expression against the same PyTorch expression in float64: the value, the
vector-Jacobian product with a random cotangent and the Hessian-vector product of that VJP.

Used by the ``tests/test_*_torch.py`` files whose functions are differentiable twice
(distances, losses); the JAX oracle (``tests/oracle.py``) covers the op cases.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence

import numpy as np
import pytest

import gradflow as gf

torch = pytest.importorskip("torch")

TOL = {"rtol": 1e-9, "atol": 1e-11}


def compare_with_torch(ours: Callable, theirs: Callable, diff: Sequence[np.ndarray],
                       consts: Sequence[np.ndarray] = (), *, second_order: bool = True,
                       seed: int = 0, grad_mask: Sequence[np.ndarray | None] | None = None,
                       grad_tol: dict = TOL, hvp_tol: dict = TOL, quiet: bool = False) -> None:
    """Run ``ours(*gf tensors)`` and ``theirs(*torch tensors)`` on the float64 arrays ``diff``
    (differentiated) followed by ``consts`` (not) and compare:

    - the value (same shape, ``TOL``);
    - the VJP ``⟨v, ∂f/∂x_i⟩`` for a random ``v`` (finite, ``grad_tol``, only where
      ``grad_mask[i]`` is true when given: torch's gradient is NaN at some points where ours is
      the limit);
    - with ``second_order``, the HVP ``∂⟨∂f/∂x · v, u⟩/∂x`` for random ``u`` (finite, ``hvp_tol``,
      where torch's is finite: torch's second order is NaN at a few points, e.g. zero vectors).
      Where either side's gradient is piecewise linear (does not require grad), the other
      side's Hessian must be zero.

    ``quiet`` silences warnings of the forward calls (legacy options both libraries warn about).
    """
    rng = np.random.default_rng(seed)
    g_in = [gf.tensor(a, dtype="float64", requires_grad=True) for a in diff]
    t_in = [torch.tensor(a, requires_grad=True) for a in diff]
    g_c = [gf.tensor(c, dtype=c.dtype) for c in consts]
    t_c = [torch.tensor(c) for c in consts]
    with warnings.catch_warnings():
        if quiet:
            warnings.simplefilter("ignore")
        yg, yt = ours(*g_in, *g_c), theirs(*t_in, *t_c)
    assert tuple(yg.shape) == tuple(yt.shape)
    np.testing.assert_allclose(yg.numpy(), yt.detach().numpy(), **TOL, err_msg="value")
    v = rng.standard_normal(tuple(yt.shape))
    gg = gf.grad((yg * gf.tensor(v)).sum(), g_in, create_graph=second_order)
    gt = torch.autograd.grad((yt * torch.tensor(v)).sum(), t_in, create_graph=second_order)
    for i, (a, b) in enumerate(zip(gg, gt)):
        a, b = a.numpy(), b.detach().numpy()
        assert np.isfinite(a).all(), f"grad {i} not finite"
        keep = ... if grad_mask is None or grad_mask[i] is None else grad_mask[i]
        np.testing.assert_allclose(a[keep], b[keep], **grad_tol, err_msg=f"grad {i}")
    if not second_order:
        return
    if not any(b.requires_grad for b in gt):  # piecewise linear in torch: Hessian 0
        assert not any(a.requires_grad and a.numpy().any() for a in gg)
        return
    us = [rng.standard_normal(a.shape) for a in diff]
    ht = torch.autograd.grad(sum((a * torch.tensor(u)).sum() for a, u in zip(gt, us)), t_in,
                             allow_unused=True)
    if not any(a.requires_grad for a in gg):  # piecewise linear in ours: Hessian 0
        assert all(b is None or not b.any() for b in ht)
        return
    hg = gf.grad(sum((a * gf.tensor(u)).sum() for a, u in zip(gg, us)), g_in,
                 allow_unused=True)
    for i, (a, b) in enumerate(zip(hg, ht)):
        b = np.zeros(diff[i].shape) if b is None else b.detach().numpy()
        a = a.numpy()
        assert np.isfinite(a).all(), f"hvp {i} not finite"
        ok = np.isfinite(b)
        np.testing.assert_allclose(a[ok], b[ok], **hvp_tol, err_msg=f"hvp {i}")
