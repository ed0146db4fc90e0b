"""Convolutions on cuDNN through CuPy (``cupy.cudnn``), where the installed CuPy provides it.

The three generic kernels (im2col + cuBLAS, which CuPy runs unchanged) stay the fallback: for
CuPy builds without cuDNN, 1-D convolutions, asymmetric padding (``padding="same"`` with an even
kernel), dtypes cuDNN does not take here, and the trimmed outputs of a transposed conv's adjoint.
``tensor_core="auto"`` lets cuDNN use TF32 for float32, as PyTorch's default
(``torch.backends.cudnn.allow_tf32 = True``).
"""

from __future__ import annotations

from functools import cache

from gradflow.kernels.conv import out_size
from gradflow.kernels.cuda._common import Overrides


@cache
def cudnn():
    """``cupy.cudnn`` when CuPy was built with cuDNN and the library loads, else None."""
    try:
        import cupy
        from cupy import cudnn as module

        return module if getattr(cupy.cuda, "cudnn_enabled", True) else None
    except Exception:  # noqa: BLE001 - any failure to load cuDNN means: use the generic kernels
        return None


def _symmetric(pad) -> tuple | None:
    return tuple(lo for lo, _ in pad) if all(lo == hi for lo, hi in pad) else None


def _full_output(in_shape, kshape, stride, pad, dilation, oshape) -> bool:
    return tuple(oshape) == tuple(out_size(n, k, s, lo, hi, d) for n, k, s, (lo, hi), d
                                  in zip(in_shape, kshape, stride, pad, dilation))


def _fits(a, nd: int, pad) -> bool:
    return (cudnn() is not None and nd in (2, 3) and a.dtype.char in "fd"
            and _symmetric(pad) is not None)


def overrides(backend, generic) -> dict:
    xp = backend.xp
    table = Overrides(backend, generic)

    def c(a):
        return xp.ascontiguousarray(a)

    @table.fused(fits=lambda x, w, stride, pad, dilation, groups, oshape=None:
                 _fits(x, x.ndim - 2, pad) and x.dtype == w.dtype and (
                     oshape is None or _full_output(x.shape[2:], w.shape[2:], stride, pad,
                                                    dilation, oshape)))
    def conv_forward(x, w, stride, pad, dilation, groups, oshape=None):
        full = tuple(out_size(n, k, s, lo, hi, d) for n, k, s, (lo, hi), d
                     in zip(x.shape[2:], w.shape[2:], stride, pad, dilation))
        y = xp.empty((x.shape[0], w.shape[0]) + full, dtype=x.dtype)
        cudnn().convolution_forward(c(x), c(w), None, y, _symmetric(pad), tuple(stride),
                                    tuple(dilation), groups, auto_tune=False,
                                    tensor_core="auto")
        return y

    @table.fused(fits=lambda g, w, in_shape, stride, pad, dilation, groups:
                 _fits(g, g.ndim - 2, pad) and g.dtype == w.dtype and _full_output(
                     in_shape, w.shape[2:], stride, pad, dilation, g.shape[2:]))
    def conv_input_grad(g, w, in_shape, stride, pad, dilation, groups):
        gx = xp.empty((g.shape[0], w.shape[1] * groups) + tuple(in_shape), dtype=g.dtype)
        cudnn().convolution_backward_data(c(w), c(g), None, gx, _symmetric(pad), tuple(stride),
                                          tuple(dilation), groups, deterministic=False,
                                          auto_tune=False, tensor_core="auto")
        return gx

    @table.fused(fits=lambda x, g, kshape, stride, pad, dilation, groups:
                 _fits(x, x.ndim - 2, pad) and x.dtype == g.dtype and _full_output(
                     x.shape[2:], kshape, stride, pad, dilation, g.shape[2:]))
    def conv_weight_grad(x, g, kshape, stride, pad, dilation, groups):
        gw = xp.empty((g.shape[1], x.shape[1] // groups) + tuple(kshape), dtype=x.dtype)
        cudnn().convolution_backward_filter(c(x), c(g), gw, _symmetric(pad), tuple(stride),
                                            tuple(dilation), groups, deterministic=False,
                                            auto_tune=False, tensor_core="auto")
        return gw

    return table.kernels
