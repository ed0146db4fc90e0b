"""``F.interpolate``: nearest, nearest-exact and (bi/tri)linear resizing of ``(N, C, *)`` input.

Composed from index gathers, so every order differentiates: each spatial axis is resized in
turn, gathering with integer source indices (and, for the linear modes, mixing the two
neighbours with fixed weights) computed on the host side with the backend's ``xp`` by PyTorch's
own formulas, in PyTorch's arithmetic (float32 for the index scales of float32 input, float64 for
float64), so the chosen sources agree exactly:

- nearest: ``src = min(floor(dst · s), in − 1)``; nearest-exact: ``floor((dst + ½) · s)``;
  ``s = 1/scale_factor`` when a scale factor is given (and not recomputed), else ``in/out``;
- linear, ``align_corners=False``: ``src = max(s · (dst + ½) − ½, 0)``;
  ``align_corners=True``: ``src = dst · (in − 1)/(out − 1)``; then
  ``y = (1 − λ) x[i₀] + λ x[i₀ + 1]``, ``i₀ = floor(src)``, ``λ = src − i₀``.

In the linear modes an axis whose output size equals its input size is copied unchanged, as
PyTorch.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

from gradflow.dtypes import is_floating
from gradflow.ops._util import tensor_arg
from gradflow.tensor import Tensor

_LINEAR = {"linear": 3, "bilinear": 4, "trilinear": 5}
_NEAREST = ("nearest", "nearest-exact")
_TORCH_MODES = ("nearest", "linear", "bilinear", "bicubic", "trilinear", "area", "nearest-exact")


def _per_axis(value, k: int, what: str, x: Tensor, kind):
    if isinstance(value, Sequence) and not isinstance(value, str):
        value = tuple(value)
        if len(value) != k:
            fmt = "(o1, o2, ...,oK)" if what == "output size" else "(s1, s2, ...,sK)"
            raise ValueError(
                f"interpolate(): Input and {'output' if what == 'output size' else what} must "
                f"have the same number of spatial dimensions, but got input with spatial "
                f"dimensions of {list(x.shape[2:])} and {what} "
                f"{'of' if what == 'output size' else 'of shape'} {value}. Please provide input "
                f"tensor in (N, C, d1, d2, ...,dK) format and {what.split()[0]} in {fmt} format.")
    else:
        value = (value,) * k
    for v in value:
        if isinstance(v, bool) or not isinstance(v, kind):
            raise TypeError(f"interpolate(): {what} must be "
                            f"{'ints' if what == 'output size' else 'numbers'} (or a tuple of "
                            f"them), "
                            f"got {value!r}")
    return value


def _nearest_index(xp, n_in: int, n_out: int, scale: float | None, exact: bool, dtype):
    """PyTorch's nearest source indices (aten UpSample.h): the scale in the opmath type (float64
    for float64 input, else float32), the product rounded to float32 before ``floorf``; no
    identity shortcut (a scale factor 1.2 on 2 elements gives [0, 0], as PyTorch's CPU kernel)."""
    op = "float64" if dtype == "float64" else "float32"
    if scale is not None and scale > 0:
        s = xp.asarray(1.0 / scale, dtype=op)
    else:
        s = xp.asarray(n_in, dtype=op) / xp.asarray(n_out, dtype=op)
    if exact:  # (dst + 0.5) is a double, so is the product
        src = (xp.arange(n_out, dtype="float64") + 0.5) * s.astype("float64")
    else:
        src = xp.arange(n_out, dtype=op) * s
    src = xp.floor(src.astype("float32"))
    return xp.minimum(src.astype("int64"), n_in - 1)


def _linear_weights(xp, n_in: int, n_out: int, scale: float | None, align_corners: bool,
                    dtype):
    """Source indices i₀, i₁ and weights λ₀, λ₁ (PyTorch's ``compute_source_index_and_lambda``
    in the opmath type: float32 for float16/32 input, float64 for float64)."""
    op = "float64" if dtype == "float64" else "float32"
    dst = xp.arange(n_out, dtype=op)
    if align_corners:
        s = xp.asarray(n_in - 1, dtype=op) / xp.asarray(n_out - 1, dtype=op) \
            if n_out > 1 else xp.asarray(0, dtype=op)
        src = s * dst
    else:
        if scale is not None and scale > 0:
            s = xp.asarray(1.0 / scale, dtype=op)
        else:
            s = xp.asarray(n_in, dtype=op) / xp.asarray(n_out, dtype=op)
        src = xp.maximum(s * (dst + xp.asarray(0.5, dtype=op)) - xp.asarray(0.5, dtype=op),
                         xp.asarray(0, dtype=op))
    i0 = xp.minimum(xp.floor(src.astype("float32")).astype("int64"), n_in - 1)  # floorf
    lam1 = xp.clip(src - i0.astype(op), 0, 1).astype(dtype)
    lam0 = (1 - lam1).astype(dtype)
    i1 = i0 + (i0 < n_in - 1).astype("int64")
    return i0, i1, lam0, lam1


def interpolate(input: Tensor, size: int | Sequence[int] | None = None,  # noqa: A002
                scale_factor: float | Sequence[float] | None = None, mode: str = "nearest",
                align_corners: bool | None = None, recompute_scale_factor: bool | None = None,
                antialias: bool = False) -> Tensor:
    """Resize the spatial dims of an ``(N, C, L)``, ``(N, C, H, W)`` or ``(N, C, D, H, W)``
    input to ``size``, or by ``scale_factor`` (output ``floor(in · scale)``), with PyTorch's
    index rules (module docstring). ``recompute_scale_factor=True`` uses ``in/out`` as the
    scale instead of the given factor."""
    x = tensor_arg(input, "interpolate")
    if mode not in _TORCH_MODES:
        raise NotImplementedError(
            f"interpolate(): Input Error: Only 3D, 4D and 5D input Tensors supported (got "
            f"{x.ndim}D) for the modes: nearest | linear | bilinear | trilinear | "
            f"nearest-exact (got {mode!r})")
    if mode not in _NEAREST and mode not in _LINEAR or antialias:
        raise NotImplementedError(f"interpolate(): mode={mode!r}"
                                  f"{' with antialias=True' if antialias else ''} is not "
                                  f"supported by gradflow; use one of nearest, nearest-exact, "
                                  f"linear, bilinear, trilinear")
    if mode in _NEAREST and align_corners is not None:
        raise ValueError("interpolate(): align_corners option can only be set with the "
                         "interpolating modes: linear | bilinear | bicubic | trilinear "
                         f"(got mode={mode!r}, align_corners={align_corners})")
    align_corners = bool(align_corners)
    if x.ndim not in (3, 4, 5):
        raise NotImplementedError(f"interpolate(): Input Error: Only 3D, 4D and 5D input "
                                  f"Tensors supported (got {x.ndim}D, shape {x.shape}) for "
                                  f"mode {mode!r}; pass (N, C, d1, ...)")
    if mode in _LINEAR and x.ndim != _LINEAR[mode]:
        raise NotImplementedError(f"interpolate(): Got {x.ndim}D input, but {mode} mode needs "
                                  f"{_LINEAR[mode]}D input (input shape {x.shape})")
    if mode in _LINEAR and not is_floating(x.array.dtype):
        raise NotImplementedError(f"interpolate(): {mode} mode needs a floating-point input, got "
                                  f"dtype {x.dtype}; convert with .float()")
    if size is not None and scale_factor is not None:
        raise ValueError("interpolate(): only one of size or scale_factor should be defined")
    if size is None and scale_factor is None:
        raise ValueError("interpolate(): either size or scale_factor should be defined")
    k = x.ndim - 2
    if size is not None:
        out = tuple(int(o) for o in _per_axis(size, k, "output size", x, numbers.Integral))
        scales = (None,) * k
    else:
        scales = tuple(float(s) for s in _per_axis(scale_factor, k, "scale_factor", x,
                                                    numbers.Real))
        out = tuple(math.floor(float(n) * s) for n, s in zip(x.shape[2:], scales))
        if recompute_scale_factor:
            scales = (None,) * k
    if any(o <= 0 for o in out) or any(n <= 0 for n in x.shape[2:]):
        raise RuntimeError(f"interpolate(): input and output sizes should be greater than 0, "
                           f"but got input {tuple(x.shape[2:])} and output {out}")
    xp, backend = x._backend.xp, x._backend
    for a in range(k):
        dim, n_in, n_out = 2 + a, x.shape[2 + a], out[a]
        lead = (slice(None),) * dim
        if mode in _NEAREST:
            idx = _nearest_index(xp, n_in, n_out, scales[a], mode == "nearest-exact",
                                 x.array.dtype)
            x = x[lead + (Tensor._make(idx, backend),)]
            continue
        if n_out == n_in:
            continue
        i0, i1, l0, l1 = _linear_weights(xp, n_in, n_out, scales[a], align_corners,
                                         x.array.dtype)
        wshape = (n_out,) + (1,) * (x.ndim - dim - 1)
        x = (x[lead + (Tensor._make(i0, backend),)] * Tensor._make(l0.reshape(wshape), backend)
             + x[lead + (Tensor._make(i1, backend),)]
             * Tensor._make(l1.reshape(wshape), backend))
    return x
