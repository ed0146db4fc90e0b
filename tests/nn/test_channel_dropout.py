"""``dropout1d/2d/3d`` and ``nn.Dropout1d/2d/3d``: whole channels zeroed (one draw per example and
channel), the rest scaled by 1/(1 − p), gradient = the mask, identity in eval; shapes as torch."""

import numpy as np
import pytest

import gradflow as gf
import gradflow.nn as nn
import gradflow.nn.functional as F

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("k,shape", [(1, (8, 16, 5)), (1, (16, 5)), (2, (8, 16, 3, 4)),
                                     (3, (16, 2, 3, 2)), (3, (4, 16, 2, 3, 2))])
def test_whole_channels_dropped_and_scaled(k, shape):
    gf.manual_seed(0)
    p = 0.25
    x = gf.ones(*shape, dtype=gf.float64, requires_grad=True)
    y = getattr(F, f"dropout{k}d")(x, p)
    assert y.shape == x.shape
    lead = len(shape) - k
    v = y.numpy().reshape(*shape[:lead], -1)
    per_channel = v[..., :1]
    assert np.all(v == per_channel)  # one value per channel
    assert set(np.unique(per_channel)) <= {0.0, 1 / (1 - p)}
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), y.numpy())  # d(x * mask)/dx = mask
    t = torch.ones(*shape)
    assert tuple(getattr(torch.nn.functional, f"dropout{k}d")(t, p).shape) == shape


def test_drop_rate_and_eval_identity():
    gf.manual_seed(1)
    y = F.dropout2d(gf.ones(200, 50, 2, 2), 0.3).numpy()[:, :, 0, 0]
    assert abs((y == 0).mean() - 0.3) < 0.03
    m = nn.Dropout2d(0.3)
    x = gf.ones(2, 3, 4, 4)
    assert m.eval()(x) is x and F.dropout2d(x, 0.3, training=False) is x
    assert repr(m) == "Dropout2d(p=0.3, inplace=False)"


def test_dropout2d_of_3d_input_warns_as_torch_and_errors():
    with pytest.warns(UserWarning, match="3-D input"):
        y = F.dropout2d(gf.ones(4, 6, 5), 0.5)
    assert np.all(y.numpy() == y.numpy()[:, :, :1])  # read as (N, C, L)
    with pytest.raises(RuntimeError, match="expected a 3-D .* or 4-D"):
        F.dropout2d(gf.ones(2, 3), 0.5)
    with pytest.raises(ValueError, match=r"p must be in \[0, 1\)"):
        F.dropout1d(gf.ones(2, 3), 1.5)
    with pytest.raises(TypeError, match="argument 'input'"):
        F.dropout3d(None)
    with pytest.raises(ValueError):
        nn.Dropout3d(-0.1)


@pytest.mark.parametrize("fn,shape", [(F.dropout, (4, 6)), (F.dropout2d, (2, 3, 4, 4))])
def test_inplace_dropout_writes_the_input_and_keeps_the_gradient(fn, shape):
    gf.manual_seed(0)
    leaf = gf.randn(*shape, requires_grad=True)
    x = leaf * 1.0
    out = fn(x, 0.5, True, True)
    assert out is x  # PyTorch returns the input it overwrote
    kept = (x.detach() != 0).to(dtype=gf.float32)
    x.sum().backward()
    np.testing.assert_allclose(leaf.grad.numpy(), 2.0 * kept.numpy())
    m = gf.nn.Dropout(0.5, inplace=True)
    assert repr(m) == "Dropout(p=0.5, inplace=True)"
