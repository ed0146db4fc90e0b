"""F.rms_norm and nn.RMSNorm against PyTorch: values and gradients (with and without weight,
several normalized shapes, eps=None as the dtype's machine epsilon), repr, bad input."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

import gradflow as gf
from gradflow.nn.rms_norm import RMSNorm
from gradflow.ops.rms_norm import rms_norm

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape,norm,weight,eps", [((2, 3, 4), (4,), True, None),
                                                   ((2, 3, 4), (3, 4), False, 1e-3),
                                                   ((5, 6), 6, True, 1e-6),
                                                   ((3, 4), (4,), False, None)])
def test_rms_norm_matches_torch(shape, norm, weight, eps, dtype):
    rng = np.random.default_rng(0)
    x = (rng.standard_normal(shape) * 1e-3).astype(dtype)  # small: eps matters
    nshape = (norm,) if isinstance(norm, int) else norm
    w = rng.standard_normal(nshape).astype(dtype) if weight else None
    xg, xt = gf.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    wg = None if w is None else gf.tensor(w, requires_grad=True)
    wt = None if w is None else torch.tensor(w, requires_grad=True)
    yg = rms_norm(xg, norm, wg, eps)
    yt = torch.nn.functional.rms_norm(xt, list(nshape), wt, eps)
    tol = {"rtol": 2e-5, "atol": 1e-6} if dtype == "float32" else {"rtol": 1e-10, "atol": 1e-12}
    assert yg.dtype == np.dtype(dtype)
    np.testing.assert_allclose(yg.numpy(), yt.detach().numpy(), **tol)
    g = rng.standard_normal(shape).astype(dtype)
    yg.backward(gf.tensor(g))
    yt.backward(torch.tensor(g))
    # gradients scale as 1/rms (~1e3 here): compare relative to their size
    scale = np.abs(xt.grad.numpy()).max()
    np.testing.assert_allclose(xg.grad.numpy() / scale, xt.grad.numpy() / scale, **tol)
    if w is not None:
        np.testing.assert_allclose(wg.grad.numpy(), wt.grad.numpy(), **tol)


def test_module_matches_torch_and_repr():
    for args, kw in [((4,), {}), (([2, 3],), {"eps": 1e-5, "elementwise_affine": False})]:
        ours, theirs = RMSNorm(*args, **kw), torch.nn.RMSNorm(*args, **kw)
        assert repr(ours).split("\nTotal parameters")[0] == repr(theirs)
        assert sorted(ours.state_dict()) == sorted(theirs.state_dict())
    m, t = RMSNorm(4, dtype="float64"), torch.nn.RMSNorm(4).double()
    with torch.no_grad():
        t.weight.copy_(torch.arange(1.0, 5.0))
    m.load_state_dict({"weight": gf.tensor(t.weight.detach().numpy())})
    x = np.random.default_rng(1).standard_normal((3, 4))
    np.testing.assert_allclose(m(gf.tensor(x, dtype="float64")).numpy(),
                               t(torch.tensor(x)).detach().numpy(), rtol=1e-12)
    assert m.weight.dtype == np.float64


def test_signatures_as_torch():
    def names(f):
        return [p.name for p in inspect.signature(f).parameters.values() if p.name != "self"]
    assert names(rms_norm) == names(torch.nn.functional.rms_norm)
    assert names(RMSNorm.__init__) == names(torch.nn.RMSNorm.__init__)


def test_rms_norm_errors():
    with pytest.raises(RuntimeError, match=r"normalized_shape \[3\] must match"):
        rms_norm(gf.randn(2, 4), (3,))
    with pytest.raises(RuntimeError, match=r"normalized_shape \[2, 2, 4\]"):
        rms_norm(gf.randn(2, 4), (2, 2, 4))
    with pytest.raises(RuntimeError, match="weight has shape"):
        rms_norm(gf.randn(2, 4), (4,), gf.ones(3))
    with pytest.raises(TypeError, match="input"):
        rms_norm(None, (4,))
    with pytest.raises(ValueError, match="normalized_shape"):
        RMSNorm((4, -1))
