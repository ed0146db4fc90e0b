"""The conv benchmark's references: the hand-written NumPy im2col equals gradflow's conv2d
(values and both gradients), and one CNN step changes gradflow's, torch's and the hand-written
NumPy step's weights alike."""

import numpy as np
import pytest

import gradflow as gf
from gradflow.bench.conv import LAYERS, _cnn_steps, numpy_conv_step


@pytest.mark.parametrize("pad,stride", [(0, 1), (1, 1), (1, 2)])
def test_numpy_im2col_matches_gradflow(pad, stride):
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((2, 3, 9, 9)), rng.standard_normal((4, 3, 3, 3))
    tx, tw = gf.tensor(x, requires_grad=True), gf.tensor(w, requires_grad=True)
    ty = gf.nn.functional.conv2d(tx, tw, padding=pad, stride=stride)
    g = rng.standard_normal(tuple(ty.shape))
    ty.backward(gf.tensor(g))
    y, gx, gw = numpy_conv_step(x, w, g, pad, stride)
    for got, want in ((y, ty), (gx, tx.grad), (gw, tw.grad)):
        np.testing.assert_allclose(got, want.numpy(), atol=1e-10)


def test_cnn_step_is_the_same_program_in_both_frameworks():
    torch = pytest.importorskip("torch")
    steps = _cnn_steps(4, ("gradflow", "torch", "numpy"))
    for fw in ("gradflow", "torch", "numpy"):
        steps[fw](0)
    gmodel = steps["gradflow"].__defaults__[0]
    tmodel = steps["torch"].__defaults__[0]
    own = steps["numpy"].__defaults__[0]
    for p, q, r in zip(gmodel.parameters(), tmodel.parameters(), own):
        np.testing.assert_allclose(p.numpy(), q.detach().numpy(), rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(r, q.detach().numpy(), rtol=1e-4, atol=1e-5)
    assert len(LAYERS) >= 4 and torch is not None
