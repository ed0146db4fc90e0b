"""Convolution kernels for any number of spatial dims: im2col + one GEMM per group and chunk.

Layouts (PyTorch's): input ``(N, C, *S)``, weight ``(O, C/g, *K)``, output ``(N, O, *L)``.
``pad`` is one ``(lo, hi)`` pair per spatial dim (zeros), so ``padding="same"`` with an even
kernel (asymmetric) needs nothing special. The column buffer ``(g, C/g·ΠK, n·ΠL)`` is built by
one strided copy per kernel offset (ΠK copies, no loop over the batch); the batch is processed in
chunks so that the buffer stays within :data:`COLUMN_BUDGET_BYTES`.

Three kernels close the algebra (each is the vector-Jacobian product of the others), so the ops
built on them differentiate to any order:

- ``conv_forward(x, w)``:         y[n,o,l] = Σ_{c,k} w[o,c,k] · xpad[n,c, l·s + k·d]
- ``conv_input_grad(g, w)``:      the adjoint in x (col2im of wᵀ g; also ``conv_transpose``)
- ``conv_weight_grad(x, g)``:     the adjoint in w (Σ over n, l of g ⊗ columns)
"""

from __future__ import annotations

import itertools
import math

from gradflow.dtypes import compute_in_float32
from gradflow.kernels import kernel
from gradflow.kernels import winograd as _wino

#: Upper bound on the im2col buffer of one chunk of the batch (bytes): 16 MiB keeps the
#: backward of a batch-2048 CNN step at 120 MiB (PyTorch 159; 64 MiB: 198) and its GEMMs large.
COLUMN_BUDGET_BYTES = 16 * 2**20

#: 3×3 stride-1 convolutions (forward and input gradient) take the Winograd F(2×2, 3×3) path
#: of :mod:`gradflow.kernels.winograd` when both the input and the output channel counts are at
#: least this (the GEMM work it saves grows as C·O, the transforms it adds as C + O; with 16
#: channels on either side it loses to im2col). Off (None) by default: with one BLAS thread it
#: wins (the 32→64 layer's step 10-30% faster), but its 16 small GEMMs lost 1.5× with two
#: threads on the (overloaded) machine measured (benchmarks/results/conv_speed_2026-12-03.md);
#: set it to 32 where BLAS runs single-threaded, or after a quiet two-thread measurement.
WINOGRAD_MIN_CHANNELS: int | None = None


def out_size(size: int, k: int, stride: int, lo: int, hi: int, dilation: int) -> int:
    return (size + lo + hi - dilation * (k - 1) - 1) // stride + 1


def _offsets(kshape, stride, dilation, oshape):
    """For each kernel offset: ``(index into the kernel axes, strided slices of the padded
    input it reads)``, both prefixed with the two leading (batch, channel) axes."""
    lead = (slice(None), slice(None))
    for offs in itertools.product(*(range(k) for k in kshape)):
        yield lead + offs, lead + tuple(slice(o * d, o * d + (n - 1) * s + 1, s)
                                        for o, d, s, n in zip(offs, dilation, stride, oshape))


def _padded(xp, x, pad):
    if not any(lo or hi for lo, hi in pad):
        return x
    shape = x.shape[:2] + tuple(n + lo + hi for n, (lo, hi) in zip(x.shape[2:], pad))
    xpad = xp.zeros(shape, dtype=x.dtype)
    xpad[(Ellipsis,) + tuple(slice(lo, lo + n) for n, (lo, _) in zip(x.shape[2:], pad))] = x
    return xpad


def _chunk(n: int, per_example_bytes: int) -> int:
    return max(1, min(n, COLUMN_BUDGET_BYTES // max(per_example_bytes, 1)))


def _winograd(w_shape, stride, pad, dilation, groups) -> bool:
    return (WINOGRAD_MIN_CHANNELS is not None and min(w_shape[:2]) >= WINOGRAD_MIN_CHANNELS
            and _wino.applicable(w_shape, stride, pad, dilation, groups))


def _winograd_batched(xp, fn, a, w, pad, out_channels, out_spatial):
    """``fn(a[chunk], w, pad)`` over batch chunks whose transformed tiles (≈ 4 values per
    output pixel and channel, in and out) stay within :data:`COLUMN_BUDGET_BYTES`."""
    n = a.shape[0]
    step = _chunk(n, 8 * (a.shape[1] + out_channels) * math.prod(out_spatial) * a.dtype.itemsize)
    if step >= n:
        return fn(xp, a, w, pad)
    out = xp.empty((n, out_channels) + tuple(out_spatial), dtype=a.dtype)
    for i in range(0, n, step):
        out[i:i + step] = fn(xp, a[i:i + step], w, pad)
    return out


def _columns(xp, xpad, groups, kshape, stride, dilation, oshape):
    """im2col, channels first: ``(g, C/g·ΠK, n·ΠL)`` from the padded input chunk ``(n, C, *S)``,
    so that one GEMM per group covers the whole chunk."""
    n, c = xpad.shape[:2]
    cols = xp.empty((c,) + tuple(kshape) + (n,) + tuple(oshape), dtype=xpad.dtype)
    xt = xpad.swapaxes(0, 1)
    for k, sl in _offsets(kshape, stride, dilation, oshape):
        cols[k[1:]] = xt[sl]
    return cols.reshape(groups, (c // groups) * math.prod(kshape), n * math.prod(oshape))


def _channels_first(xp, a, groups):
    """``(n, O, *L)`` → ``(g, O/g, n·ΠL)`` (one copy)."""
    n, o = a.shape[:2]
    return xp.ascontiguousarray(a.swapaxes(0, 1)).reshape(groups, o // groups, -1)


def _forward(xp, x, w, stride, pad, dilation, groups, oshape, keep):
    n, c = x.shape[:2]
    o, kshape = w.shape[0], w.shape[2:]
    if oshape is None:
        oshape = tuple(out_size(sz, k, s, lo, hi, d) for sz, k, s, (lo, hi), d
                       in zip(x.shape[2:], kshape, stride, pad, dilation))
    oshape = tuple(oshape)
    if not keep and _winograd(w.shape, stride, pad, dilation, groups) and oshape == tuple(
            out_size(sz, 3, 1, lo, hi, 1) for sz, (lo, hi) in zip(x.shape[2:], pad)):
        return _winograd_batched(xp, _wino.winograd_conv3x3, x, w, pad, o, oshape), None
    ck, nl = (c // groups) * math.prod(kshape), math.prod(oshape)
    wm = w.reshape(groups, o // groups, ck)
    y = xp.empty((n, o) + oshape, dtype=x.dtype)
    step = _chunk(n, c * math.prod(kshape) * nl * x.dtype.itemsize)
    cols = None
    for a in range(0, n, step):
        cols = _columns(xp, _padded(xp, x[a:a + step], pad), groups, kshape, stride, dilation,
                        oshape)
        m = cols.shape[-1] // nl
        y[a:a + step] = xp.matmul(wm, cols).reshape((o, m) + oshape).swapaxes(0, 1)
    return y, (cols if keep and step >= n else None)


@kernel
@compute_in_float32
def conv_forward(xp, x, w, stride, pad, dilation, groups, oshape=None):
    """y = conv(x, w) (cross-correlation as PyTorch), no bias. ``oshape`` (the output's spatial
    shape) may be given smaller than the full one (the adjoint of a transposed conv whose
    output_padding left trailing inputs unread)."""
    return _forward(xp, x, w, stride, pad, dilation, groups, oshape, False)[0]


@kernel
@compute_in_float32
def conv_forward_keep_columns(xp, x, w, stride, pad, dilation, groups):
    """``(conv_forward(x, w), columns)``: the im2col buffer ``(g, C/g·ΠK, N·ΠL)`` too, for
    :func:`conv_weight_grad_from_columns` (None where the batch took several chunks). Always
    im2col: the columns it keeps save more in the weight gradient than Winograd saves here."""
    return _forward(xp, x, w, stride, pad, dilation, groups, None, True)


@kernel
@compute_in_float32
def conv_weight_grad_from_columns(xp, cols, g, kshape):
    """``conv_weight_grad`` from the forward's columns: one GEMM per group, no im2col."""
    groups, o = cols.shape[0], g.shape[1]
    gw = xp.matmul(_channels_first(xp, g, groups), cols.swapaxes(-1, -2))
    return gw.reshape((o, cols.shape[1] // math.prod(kshape)) + tuple(kshape))


@kernel
@compute_in_float32
def conv_input_grad(xp, g, w, in_shape, stride, pad, dilation, groups):
    """The adjoint of ``conv_forward`` in x: gx of spatial shape ``in_shape`` (col2im of wᵀ g)."""
    n, o = g.shape[:2]
    oshape, kshape = tuple(g.shape[2:]), tuple(w.shape[2:])
    cg = w.shape[1]
    c = cg * groups
    if _winograd(w.shape, stride, pad, dilation, groups) and oshape == tuple(
            out_size(sz, 3, 1, lo, hi, 1) for sz, (lo, hi) in zip(in_shape, pad)):
        return _winograd_batched(xp, _wino.winograd_input_grad, g, w, pad, c, in_shape)
    ck, nl = cg * math.prod(kshape), math.prod(oshape)
    wt = w.reshape(groups, o // groups, ck).swapaxes(-1, -2)
    pshape = tuple(sz + lo + hi for sz, (lo, hi) in zip(in_shape, pad))
    gx = xp.empty((n, c) + tuple(in_shape), dtype=g.dtype)
    inner = (slice(None), slice(None)) + tuple(slice(lo, lo + sz)
                                               for sz, (lo, _) in zip(in_shape, pad))
    rows = ROW_COL2IM and len(oshape) == 2 and tuple(stride) == (1, 1)
    wide = pshape[1] if rows else oshape[-1]
    step = _chunk(n, c * math.prod(kshape) * nl // oshape[-1] * wide * g.dtype.itemsize)
    for a in range(0, n, step):
        if rows:
            gpad = _col2im_rows(xp, g[a:a + step], wt, groups, c, kshape, dilation, pshape)
        else:
            gc = _channels_first(xp, g[a:a + step], groups)
            m = gc.shape[-1] // nl
            cols = xp.matmul(wt, gc).reshape((c,) + kshape + (m,) + oshape)
            gpad = xp.zeros((c, m) + pshape, dtype=g.dtype)
            for k, sl in _offsets(kshape, stride, dilation, oshape):
                gpad[sl] += cols[k[1:]]
        gx[a:a + step] = gpad[inner].swapaxes(0, 1)
    return gx


#: Stride-1 2-D input gradients add the columns back as whole rows of the padded input.
ROW_COL2IM = True


def _col2im_rows(xp, g, wt, groups, c, kshape, dilation, pshape):
    """col2im of ``wᵀ g`` for a stride-1 2-D conv, as ``(C, n, Hp, Wp)`` (padded).

    The cotangent is widened to the padded row width ``Wp`` with zeros, so that the columns of
    kernel offset (i, j) land on the flat padded plane as one contiguous run starting at
    ``i·d·Wp + j·d`` (the zero columns fall on positions that no real column reaches, or add
    zero): ΠK adds of ``Ho·Wp``-long runs instead of ``Ho`` runs of ``Wo``."""
    m, o, oh, ow = g.shape
    hp, wp = pshape
    (kh, kw), (dh, dw) = kshape, dilation
    gc = xp.zeros((o, m, oh, wp), dtype=g.dtype)
    gc[..., :ow] = g.swapaxes(0, 1)
    cols = xp.matmul(wt, gc.reshape(groups, o // groups, m * oh * wp))
    cols = cols.reshape(c, kh, kw, m, oh * wp)
    flat = xp.zeros((c, m, hp * wp + (kw - 1) * dw), dtype=g.dtype)
    for i in range(kh):
        for j in range(kw):
            start = i * dh * wp + j * dw
            flat[:, :, start:start + oh * wp] += cols[:, i, j]
    return flat[:, :, :hp * wp].reshape(c, m, hp, wp)


@kernel
@compute_in_float32
def conv_weight_grad(xp, x, g, kshape, stride, pad, dilation, groups):
    """The adjoint of ``conv_forward`` in w: gw of shape ``(O, C/g, *kshape)``."""
    n, c = x.shape[:2]
    o, oshape = g.shape[1], g.shape[2:]
    nl = math.prod(oshape)
    gw = None
    step = _chunk(n, c * math.prod(kshape) * nl * x.dtype.itemsize)
    for a in range(0, n, step):
        cols = _columns(xp, _padded(xp, x[a:a + step], pad), groups, kshape, stride, dilation,
                        oshape)
        part = xp.matmul(_channels_first(xp, g[a:a + step], groups), cols.swapaxes(-1, -2))
        gw = part if gw is None else gw + part
    return gw.reshape((o, c // groups) + tuple(kshape))


@kernel
def im2col(xp, x, kshape, stride, pad, dilation):
    """``F.unfold``: ``(N, C, *S)`` → ``(N, C·ΠK, ΠL)`` sliding blocks (channel-major rows)."""
    n, c = x.shape[:2]
    oshape = tuple(out_size(sz, k, s, lo, hi, d) for sz, k, s, (lo, hi), d
                   in zip(x.shape[2:], kshape, stride, pad, dilation))
    cols = _columns(xp, _padded(xp, x, pad), 1, kshape, stride, dilation, oshape)
    ck, nl = cols.shape[1], math.prod(oshape)
    return xp.ascontiguousarray(cols.reshape(ck, n, nl).swapaxes(0, 1))


@kernel
def col2im(xp, cols, in_shape, kshape, stride, pad, dilation):
    """``F.fold``, the adjoint of ``im2col``: sums the blocks ``(N, C·ΠK, ΠL)`` back into
    ``(N, C, *in_shape)``."""
    n, ck, nl = cols.shape
    c = ck // math.prod(kshape)
    oshape = tuple(out_size(sz, k, s, lo, hi, d) for sz, k, s, (lo, hi), d
                   in zip(in_shape, kshape, stride, pad, dilation))
    pshape = tuple(sz + lo + hi for sz, (lo, hi) in zip(in_shape, pad))
    blocks = cols.reshape((n, c) + tuple(kshape) + oshape)
    gpad = xp.zeros((n, c) + pshape, dtype=cols.dtype)
    for k, sl in _offsets(kshape, stride, dilation, oshape):
        gpad[sl] += blocks[k]
    inner = (slice(None), slice(None)) + tuple(slice(lo, lo + sz)
                                               for sz, (lo, _) in zip(in_shape, pad))
    return xp.ascontiguousarray(gpad[inner])
