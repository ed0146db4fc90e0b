"""Property tests (hypothesis): broadcasting and reductions over random shapes agree with NumPy,
and their gradients have the inputs' shapes and the values the adjoint rules give."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import gradflow as gf

SETTINGS = settings(max_examples=40, deadline=None)


@st.composite
def broadcastable_pair(draw):
    shapes = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4,
                                                    max_side=4))
    a_shape, b_shape = shapes.input_shapes
    elems = st.floats(-10, 10, allow_nan=False, width=64)
    a = draw(hnp.arrays(np.float64, a_shape, elements=elems))
    b = draw(hnp.arrays(np.float64, b_shape, elements=elems))
    return a, b


@SETTINGS
@given(broadcastable_pair(), st.sampled_from(["add", "sub", "mul"]))
def test_broadcast_binary_ops_and_their_gradients(pair, op):
    a, b = pair
    ta = gf.tensor(a, dtype="float64", requires_grad=True)
    tb = gf.tensor(b, dtype="float64", requires_grad=True)
    out = {"add": ta + tb, "sub": ta - tb, "mul": ta * tb}[op]
    ref = {"add": a + b, "sub": a - b, "mul": a * b}[op]
    np.testing.assert_allclose(out.numpy(), ref)
    out.sum().backward()
    assert ta.grad.shape == a.shape and tb.grad.shape == b.shape
    ones = np.ones(np.broadcast_shapes(a.shape, b.shape))
    # d(sum)/da sums the broadcast ones (times b for mul) back to a's shape
    ga = {"add": ones, "sub": ones, "mul": ones * b}[op]
    gb = {"add": ones, "sub": -ones, "mul": ones * a}[op]
    np.testing.assert_allclose(ta.grad.numpy(), _sum_to(ga, a.shape), atol=1e-12)
    np.testing.assert_allclose(tb.grad.numpy(), _sum_to(gb, b.shape), atol=1e-12)


def _sum_to(g, shape):
    lead = g.ndim - len(shape)
    g = g.sum(axis=tuple(range(lead))) if lead else g
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1)
    return g.sum(axis=axes, keepdims=True) if axes else g


@st.composite
def array_and_axes(draw):
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=5))
    x = draw(hnp.arrays(np.float64, shape, elements=st.floats(-5, 5, allow_nan=False)))
    axes = draw(st.one_of(st.none(), st.lists(st.integers(0, len(shape) - 1), min_size=1,
                                              max_size=len(shape), unique=True)))
    keepdims = draw(st.booleans())
    return x, (tuple(axes) if axes is not None else None), keepdims


@SETTINGS
@given(array_and_axes(), st.sampled_from(["sum", "mean", "max", "min", "var"]))
def test_reductions_match_numpy_and_grads_have_input_shape(case, op):
    x, axes, keepdims = case
    t = gf.tensor(x, dtype="float64", requires_grad=True)
    if op in ("max", "min"):  # over several dims: PyTorch's amax/amin
        out = getattr(t, "a" + op)(axes, keepdim=keepdims)
    elif op == "var":  # NumPy's default: the population variance
        out = t.var(axes, keepdim=keepdims, correction=0)
    else:
        out = getattr(t, op)(axes, keepdim=keepdims)
    ref = getattr(np, {"max": "amax", "min": "amin"}.get(op, op))(x, axis=axes, keepdims=keepdims)
    np.testing.assert_allclose(out.numpy(), ref, rtol=1e-12, atol=1e-12)
    out.sum().backward()
    assert t.grad.shape == x.shape
    if op == "sum":
        np.testing.assert_allclose(t.grad.numpy(), np.ones_like(x))
    if op == "mean":
        n = x.size if axes is None else int(np.prod([x.shape[i] for i in axes]))
        np.testing.assert_allclose(t.grad.numpy(), np.full_like(x, 1 / n))
    if op in ("max", "min"):  # the gradient of each reduced group sums to one (ties share it)
        total = t.grad.numpy().sum(axis=axes)
        np.testing.assert_allclose(total, np.ones_like(total))


@SETTINGS
@given(hnp.arrays(np.float64, hnp.array_shapes(min_dims=2, max_dims=3, max_side=6),
                  elements=st.floats(-50, 50, allow_nan=False)))
def test_softmax_rows_are_distributions(x):
    p = gf.tensor(x, dtype="float64").softmax(-1).numpy()
    assert np.all(p >= 0)
    np.testing.assert_allclose(p.sum(-1), 1, rtol=1e-12)
    lp = gf.tensor(x, dtype="float64").log_softmax(-1).numpy()
    np.testing.assert_allclose(np.exp(lp), p, rtol=1e-10, atol=1e-300)
