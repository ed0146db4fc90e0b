"""Shared fixtures for the optimizer tests: one tiny MLP regression problem built twice, in
gradflow and in PyTorch (CPU), with identical weights and data."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import gradflow as gf
from gradflow.nn import Parameter

SHAPES = [(4, 6), (6,), (6, 3), (3,)]  # W1, b1, W2, b2


class Twin:
    """``loss = mean((tanh(X W1 + b1) W2 + b2 - Y)^2)`` with the same numbers in both frameworks."""

    def __init__(self, dtype: str = "float64", seed: int = 0, device: str = "cpu",
                 sign: float = 1.0):
        self.sign = sign  # -1: the negated loss (what a maximizing optimizer should climb)
        rng = np.random.default_rng(seed)
        self.x_np = rng.standard_normal((16, 4)).astype(dtype)
        self.y_np = rng.standard_normal((16, 3)).astype(dtype)
        self.init = [(0.5 * rng.standard_normal(s)).astype(dtype) for s in SHAPES]
        self.x = gf.tensor(self.x_np, dtype=dtype, device=device)
        self.y = gf.tensor(self.y_np, dtype=dtype, device=device)
        self.params = [Parameter(gf.tensor(a, dtype=dtype, device=device)) for a in self.init]
        self.tx = torch.from_numpy(self.x_np.copy())
        self.ty = torch.from_numpy(self.y_np.copy())
        self.tparams = [torch.tensor(a, requires_grad=True) for a in self.init]

    def loss(self):
        w1, b1, w2, b2 = self.params
        return ((((self.x @ w1 + b1).tanh()) @ w2 + b2 - self.y) ** 2).mean() * self.sign

    def torch_loss(self):
        w1, b1, w2, b2 = self.tparams
        return (((torch.tanh(self.tx @ w1 + b1)) @ w2 + b2 - self.ty) ** 2).mean() * self.sign

    def backward(self) -> None:
        self.loss().backward()

    def torch_backward(self) -> None:
        self.torch_loss().backward()


@pytest.fixture
def twin():
    """The :class:`Twin` class: ``twin(dtype="float64", seed=0, device="cpu", sign=1.0)``."""
    return Twin


def _groups(params, groups):
    """Split ``params`` into parameter-group dicts: ``groups`` is a list of (indices, options)."""
    if groups is None:
        return params
    return [{"params": [params[i] for i in idx], **opts} for idx, opts in groups]


def run_parity(gf_cls, torch_cls, kwargs, dtype="float64", steps=30, rtol=1e-10, atol=0.0,
               groups=None, sign=1.0, shared_grads=False, device="cpu"):
    """Train the twin with both optimizers; compare every parameter after every step.

    With ``shared_grads`` PyTorch gets gradflow's gradients (bit for bit), so that only the
    optimizers' arithmetic differs (used in float32, where the two backward passes round apart).
    """
    t = Twin(dtype, sign=sign, device=device)
    gopt = gf_cls(_groups(t.params, groups), **kwargs)
    topt = torch_cls(_groups(t.tparams, groups), foreach=False, **kwargs)
    for step in range(steps):
        gopt.zero_grad()
        t.backward()
        gopt.step()
        topt.zero_grad()
        if shared_grads:
            for p, tp in zip(t.params, t.tparams):
                tp.grad = torch.from_numpy(p.grad.numpy().copy())
        else:
            t.torch_backward()
        topt.step()
        for i, (p, tp) in enumerate(zip(t.params, t.tparams)):
            np.testing.assert_allclose(p.numpy(), tp.detach().numpy(), rtol=rtol, atol=atol,
                                       err_msg=f"parameter {i} after step {step + 1}")
    return t, gopt, topt


@pytest.fixture
def parity():
    """:func:`run_parity`."""
    return run_parity
