"""Pooling kernels for any number of spatial dims, PyTorch's layout ``(N, C, *S)``.

Sliding windows are read by strided slicing of a padded copy of the input, one slice per window
offset (ΠK slices, no loop over the batch); adaptive windows (start = ⌊i·n/o⌋, end =
⌈(i+1)·n/o⌉) by one index gather per offset, clamped to the window's last element.

- ``max_pool_forward`` / ``adaptive_max_forward``: y and the argmax as a flat index into each
  input plane (``int64``, PyTorch's), the first maximum in window order, NaN propagating.
- ``pool_scatter`` / ``pool_gather``: g ↦ gx (sum of g at the indices) and its adjoint; together
  they are max pooling's backward to every order.
- ``avg_pool_forward`` / ``avg_pool_adjoint``: the linear map y = A x (window sum / divisor) and
  x̄ = Aᵀ ȳ (col2im of ȳ / divisor), each other's vector-Jacobian product.
- ``adaptive_avg_weights``: the (o, n) averaging matrix of adaptive average pooling on one axis.
"""

from __future__ import annotations

import itertools
import math

from gradflow.dtypes import is_floating
from gradflow.kernels import kernel


def _lowest(xp, dtype):
    return -math.inf if is_floating(dtype) else xp.iinfo(dtype).min


def _vec(xp, values, axis: int, nd: int):
    """A 1-D int64 vector shaped to broadcast along spatial axis ``axis`` of ``nd``."""
    shape = [1] * nd
    shape[axis] = -1
    return xp.asarray(values, dtype=xp.int64).reshape(shape)


def _flat(xp, positions, spatial):
    """Flat plane index Σ_d pos_d · stride_d of broadcastable per-axis positions."""
    nd = len(spatial)
    flat = 0
    for d, pos in enumerate(positions):
        flat = flat + _vec(xp, pos, d, nd) * math.prod(spatial[d + 1:])
    return flat


def _padded(xp, x, lo, hi, fill):
    if not any(lo) and not any(hi):
        return x
    shape = x.shape[:2] + tuple(n + a + b for n, a, b in zip(x.shape[2:], lo, hi))
    xpad = xp.full(shape, fill, dtype=x.dtype)
    xpad[(Ellipsis,) + tuple(slice(a, a + n) for n, a in zip(x.shape[2:], lo))] = x
    return xpad


def _high(spatial, kshape, stride, pad, dilation, oshape):
    """Padding on the high side that every window (ceil_mode's last one too) fits in."""
    return tuple(max(p, (o - 1) * s + (k - 1) * d + 1 - n - p)
                 for n, k, s, p, d, o in zip(spatial, kshape, stride, pad, dilation, oshape))


def _offsets(kshape, stride, dilation, oshape):
    """(kernel offset, strided slices of the padded input it reads) for each offset."""
    lead = (slice(None), slice(None))
    for offs in itertools.product(*(range(k) for k in kshape)):
        yield offs, lead + tuple(slice(o * d, o * d + (n - 1) * s + 1, s)
                                 for o, d, s, n in zip(offs, dilation, stride, oshape))


def _update(xp, best, idx, v, flat):
    """best, idx ← v, flat where v > best or v is NaN (PyTorch's rule: first max, NaN wins)."""
    take = v > best
    if is_floating(v.dtype):
        take |= v != v
    xp.copyto(best, v, where=take)
    xp.copyto(idx, flat, where=take)


@kernel
def max_pool_forward(xp, x, kshape, stride, pad, dilation, oshape):
    """y[n,c,i] = max over the window of x (implicit −inf padding) and its flat plane index.

    y is a chain of ``maximum`` over the window offsets (NaN propagates); the index is then the
    first offset equal to y (offsets visited in reverse, the last write wins), the first input
    element of the window where y is the lowest value, and the last NaN where y is NaN
    (PyTorch's rule: ``val > max || isnan(val)`` from max = −inf at the first element)."""
    spatial = x.shape[2:]
    low = _lowest(xp, x.dtype)
    xpad = _padded(xp, x, pad, _high(spatial, kshape, stride, pad, dilation, oshape), low)
    offsets = list(_offsets(kshape, stride, dilation, oshape))
    best = None
    for _, sl in offsets:
        best = xpad[sl].copy() if best is None else xp.maximum(best, xpad[sl], out=best)
    starts = [xp.arange(o) * s - p for o, s, p in zip(oshape, stride, pad)]

    def flat(offs):
        return _flat(xp, [st + o * d for st, o, d in zip(starts, offs, dilation)], spatial)

    idx = xp.empty(best.shape, dtype=xp.int64)
    for offs, sl in reversed(offsets):
        xp.copyto(idx, flat(offs), where=xpad[sl] == best)
    first = [st + xp.maximum(-st + d - 1, 0) // d * d for st, d in zip(starts, dilation)]
    xp.copyto(idx, _flat(xp, first, spatial), where=best == low)
    if is_floating(x.dtype):
        nan = best != best
        if xp.__name__ != "numpy" or nan.any():  # no host sync on a GPU: always run the pass
            for offs, sl in offsets:
                v = xpad[sl]
                xp.copyto(idx, flat(offs), where=v != v)
    return best, idx


def _adaptive_bounds(xp, n: int, o: int):
    i = xp.arange(o)
    return (i * n) // o, ((i + 1) * n + o - 1) // o


@kernel
def adaptive_max_forward(xp, x, oshape):
    """Adaptive max pooling: y and the flat plane index of each window's (first) maximum."""
    spatial, nd = x.shape[2:], x.ndim - 2
    bounds = [_adaptive_bounds(xp, n, o) for n, o in zip(spatial, oshape)]
    lens = [int((e - s).max()) if o else 0 for (s, e), o in zip(bounds, oshape)]
    out = x.shape[:2] + tuple(oshape)
    best = xp.full(out, -math.inf, dtype=x.dtype)
    idx = xp.empty(out, dtype=xp.int64)
    idx[...] = _flat(xp, [s for s, _ in bounds], spatial)
    for offs in itertools.product(*(range(k) for k in lens)):
        pos = [xp.minimum(s + o, e - 1) for (s, e), o in zip(bounds, offs)]
        sl = (slice(None), slice(None)) + tuple(_vec(xp, p, d, nd) for d, p in enumerate(pos))
        _update(xp, best, idx, x[sl], _flat(xp, pos, spatial))
    return best, idx


@kernel
def pool_scatter(xp, g, idx, in_spatial, unique=False):
    """gx[n,c,j] = Σ_{i: idx[n,c,i] = j} g[n,c,i] (``unique``: no index repeats in a plane)."""
    n, c = g.shape[:2]
    plane = math.prod(in_spatial)
    flat = (idx.reshape(n * c, -1) + xp.arange(n * c).reshape(-1, 1) * plane).reshape(-1)
    if unique:
        gx = xp.zeros(n * c * plane, dtype=g.dtype)
        gx[flat] = g.reshape(-1)
    else:
        gx = xp.bincount(flat, weights=g.reshape(-1), minlength=n * c * plane).astype(g.dtype)
    return gx.reshape((n, c) + tuple(in_spatial))


@kernel
def pool_gather(xp, h, idx):
    """y[n,c,i] = h[n,c,idx[n,c,i]] (the adjoint of ``pool_scatter``)."""
    n, c = h.shape[:2]
    out = xp.take_along_axis(h.reshape(n, c, -1), idx.reshape(n, c, -1), axis=2)
    return out.reshape(idx.shape)


def _divisor(xp, spatial, kshape, stride, pad, oshape, count_include_pad, divisor_override):
    """PyTorch's avg-pool divisor per output position (1 where a window holds no input)."""
    nd = len(spatial)
    div, empty = 1, False
    for d, (n, k, s, p, o) in enumerate(zip(spatial, kshape, stride, pad, oshape)):
        start = xp.arange(o) * s - p
        end = xp.minimum(start + k, n + p)
        size = xp.minimum(end, n) - xp.maximum(start, 0)
        empty = empty | (_vec(xp, size, d, nd) <= 0)
        if divisor_override is None:
            div = div * _vec(xp, (end - start) if count_include_pad else size, d, nd)
    if divisor_override is not None:
        div = xp.full(tuple(oshape), divisor_override, dtype=xp.int64)
    return xp.where(empty, 1, div)


def _divide(xp, s, div, dtype):
    if is_floating(dtype):
        return (s / div.astype(dtype)).astype(dtype, copy=False)
    q = xp.abs(s) // xp.abs(div)  # C++ integer division: truncation toward zero
    return (xp.sign(s) * xp.sign(div) * q).astype(dtype, copy=False)


@kernel
def avg_pool_forward(xp, x, kshape, stride, pad, oshape, count_include_pad, divisor_override):
    """y[n,c,i] = Σ_window x (zero padding) / divisor."""
    spatial = x.shape[2:]
    ones = (1,) * len(kshape)
    xpad = _padded(xp, x, pad, _high(spatial, kshape, stride, pad, ones, oshape), 0)
    acc = xp.zeros(x.shape[:2] + tuple(oshape),
                   dtype=x.dtype if is_floating(x.dtype) else xp.int64)
    for _, sl in _offsets(kshape, stride, ones, oshape):
        acc += xpad[sl]
    div = _divisor(xp, spatial, kshape, stride, pad, oshape, count_include_pad, divisor_override)
    return _divide(xp, acc, div, x.dtype)


@kernel
def avg_pool_adjoint(xp, g, in_spatial, kshape, stride, pad, count_include_pad,
                     divisor_override):
    """x̄ = Aᵀ ȳ: each ȳ / divisor added back over its window (padding cropped)."""
    oshape = g.shape[2:]
    ones = (1,) * len(kshape)
    div = _divisor(xp, in_spatial, kshape, stride, pad, oshape, count_include_pad,
                   divisor_override)
    gs = g / div.astype(g.dtype)
    hi = _high(in_spatial, kshape, stride, pad, ones, oshape)
    gpad = xp.zeros(g.shape[:2] + tuple(n + a + b for n, a, b in zip(in_spatial, pad, hi)),
                    dtype=g.dtype)
    for _, sl in _offsets(kshape, stride, ones, oshape):
        gpad[sl] += gs
    return gpad[(Ellipsis,) + tuple(slice(a, a + n) for n, a in zip(in_spatial, pad))]


@kernel
def adaptive_avg_weights(xp, n, o, dtype):
    """A[i, j] = 1 / (end_i − start_i) for start_i ≤ j < end_i: y = A x averages axis n → o."""
    start, end = _adaptive_bounds(xp, n, o)
    j = xp.arange(n)
    inside = (j >= start[:, None]) & (j < end[:, None])
    return (inside / (end - start)[:, None]).astype(dtype)


def pool2x2_applies(x_shape, kshape, stride, pad, dilation, oshape) -> bool:
    """Whether ``max_pool2x2_forward`` computes this max pooling: 2-D, 2×2 windows at stride 2,
    no padding or dilation, no partial (ceil_mode) window."""
    return (len(kshape) == 2 and tuple(kshape) == (2, 2) and tuple(stride) == (2, 2)
            and not any(pad) and tuple(dilation) == (1, 1)
            and tuple(oshape) == (x_shape[2] // 2, x_shape[3] // 2))


@kernel
def max_pool2x2_forward(xp, x):
    """``max_pool_forward`` for 2×2 windows at stride 2 (same y and indices), without the
    padded copy and the masked index passes: the four window offsets are copied once into a
    contiguous ``(4, N, C, Ho, Wo)`` stack, and the first offset holding the max is
    ``ne₀ + ne₀ne₁ + ne₀ne₁ne₂`` with ``ne_k = (s_k ≠ max)`` (NaN: the last NaN, as PyTorch)."""
    n, c, h, w = x.shape
    oh, ow = h // 2, w // 2
    s = xp.empty((4, n, c, oh, ow), dtype=x.dtype)
    for k in range(4):
        a, b = divmod(k, 2)
        s[k] = x[:, :, a:2 * oh:2, b:2 * ow:2]
    best = xp.maximum(s[0], s[1])
    xp.maximum(best, xp.maximum(s[2], s[3]), out=best)
    ne = (s != best).view(xp.uint8)
    run = ne[0].copy()
    code = run.copy()
    for k in (1, 2):
        run &= ne[k]
        code += run
    if is_floating(x.dtype):
        nan = best != best
        if xp.__name__ != "numpy" or nan.any():  # no host sync on a GPU: always run the pass
            for k in range(4):
                xp.copyto(code, k, where=s[k] != s[k])
    idx = (code >> 1).astype(xp.int64)
    idx *= w
    idx += code & 1
    idx += (xp.arange(oh, dtype=xp.int64) * (2 * w))[:, None] + xp.arange(ow, dtype=xp.int64) * 2
    return best, idx
