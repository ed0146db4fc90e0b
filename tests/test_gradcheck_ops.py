"""Finite-difference gradcheck in float64 for every op in the table (independent of JAX)."""

from __future__ import annotations

import numpy as np
import pytest
from op_cases import ALL_CASES
from oracle import numeric_grad

import gradflow as gf

# Cases whose finite differences mean nothing (the JAX oracle covers them).
NO_FINITE_DIFFERENCES = {"cast_roundtrip": "the float32 round trip swallows the 1e-6 step"}


@pytest.mark.parametrize("name,gf_fn,jax_fn,inputs,consts", ALL_CASES,
                         ids=[c[0] for c in ALL_CASES])
def test_finite_differences(name, gf_fn, jax_fn, inputs, consts):
    if "extreme" in name:
        pytest.skip(reason="finite differences are meaningless at ±1000; the JAX oracle covers it")
    if name in NO_FINITE_DIFFERENCES:
        pytest.skip(reason=NO_FINITE_DIFFERENCES[name])
    rng = np.random.default_rng(1)
    out_shape = np.shape(gf_fn(*[gf.tensor(a, dtype="float64") for a in inputs], *consts).numpy())
    v = rng.standard_normal(out_shape)

    def scalar(arrays):
        with gf.no_grad():
            out = gf_fn(*[gf.tensor(a, dtype="float64") for a in arrays], *consts)
        return float((out.numpy() * v).sum())

    xs = [gf.tensor(a, dtype="float64", requires_grad=True) for a in inputs]
    out = gf_fn(*xs, *consts)
    grads = gf.grad(out, xs, gf.tensor(v, dtype="float64"), allow_unused=True)
    for i, (_a, g) in enumerate(zip(inputs, grads)):
        arrays = [np.array(x, dtype=np.float64) for x in inputs]

        def f(x, i=i, arrays=arrays):
            arrays[i] = x
            return scalar(arrays)

        num = numeric_grad(f, arrays[i])
        got = np.zeros_like(num) if g is None else g.numpy()
        np.testing.assert_allclose(got, num, rtol=1e-5, atol=1e-6,
                                   err_msg=f"{name}: input {i}")
