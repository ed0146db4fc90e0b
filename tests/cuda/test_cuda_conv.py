"""Convolutions on the GPU equal the CPU's (cuDNN where CuPy has it, im2col + cuBLAS else),
values and gradients, for the geometries that take each path."""

import numpy as np
import pytest

import gradflow as gf
import gradflow.nn.functional as F

pytestmark = pytest.mark.skipif(not gf.cuda.is_available(),
                                reason=f"CUDA not tested: {gf.cuda.unavailable_reason()}")

CASES = [  # (fn, input, weight, kwargs): cuDNN 2-D/3-D; 1-D and even 'same' on the fallback
    (F.conv2d, (4, 6, 9, 8), (8, 3, 3, 3), {"stride": 2, "padding": 1, "groups": 2}),
    (F.conv2d, (2, 3, 8, 8), (4, 3, 4, 4), {"padding": "same"}),
    (F.conv3d, (2, 2, 5, 4, 6), (3, 2, 2, 3, 2), {"padding": 1}),
    (F.conv1d, (3, 4, 11), (4, 2, 3), {"groups": 2, "dilation": 2}),
    (F.conv_transpose2d, (2, 4, 5, 4), (4, 3, 3, 3), {"stride": 2, "output_padding": 1}),
]


@pytest.mark.parametrize("fn,xs,ws,kw", CASES)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_conv_on_gpu_equals_cpu(fn, xs, ws, kw, dtype):
    rng = np.random.default_rng(0)
    a, w = rng.standard_normal(xs).astype(dtype), rng.standard_normal(ws).astype(dtype)
    out = {}
    for dev in ("cpu", "cuda"):
        x = gf.tensor(a, device=dev, requires_grad=True)
        W = gf.tensor(w, device=dev, requires_grad=True)
        y = fn(x, W, **kw)
        (y * y).sum().backward()
        out[dev] = [t.detach().cpu().numpy() for t in (y, x.grad, W.grad)]
    # float32 may use TF32 on cuDNN (PyTorch's default): a relative 1e-2 bound on those
    tol = {"rtol": 1e-9, "atol": 1e-9} if dtype == "float64" else {"rtol": 2e-2, "atol": 2e-2}
    for got, want in zip(out["cuda"], out["cpu"]):
        scale = max(1.0, float(np.abs(want).max()))
        np.testing.assert_allclose(got / scale, want / scale, **tol)
