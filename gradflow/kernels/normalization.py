"""Batch and layer normalization kernels with fused backward formulas.

Both normalize x̂ = (x − μ) · rstd with rstd = 1/√(σ² + ε), σ² the biased variance (two passes),
then y = γ x̂ + β. Given g = dL/dy over a group of n elements, the fused input gradient is

    dL/dx = rstd · (ĝ − mean(ĝ) − x̂ · mean(ĝ x̂)),   ĝ = γ g,

and dL/dγ = Σ g x̂, dL/dβ = Σ g over the other axes.
"""

from __future__ import annotations

from gradflow.dtypes import compute_in_float32
from gradflow.kernels import kernel

#: Batch norm on ``(N, C, *S)`` sums each (example, channel) row of ΠS ≤ this many positions
#: with one ``einsum`` (a plain running sum per row, then NumPy's pairwise sum over N): about 3×
#: faster than ``mean`` over axes (0, 2, …) and, on rows this short, as accurate.
ROW_SUM_MAX = 1024


def _channel_rows(x, axes):
    """``x`` as ``(N, C, L)`` when the statistics axes are (0, 2, …) of an N-d input whose
    rows are short enough for :func:`_row_sums`; else None."""
    if x.ndim < 3 or tuple(axes) != (0,) + tuple(range(2, x.ndim)) or not x.flags.c_contiguous:
        return None
    n, c = x.shape[:2]
    rows = x.size // max(n * c, 1)
    return x.reshape(n, c, rows) if 0 < rows <= ROW_SUM_MAX else None


def _row_sums(xp, spec, *ops):
    """Per-channel Σ over (N, L) of ``einsum(spec)`` (one pass, no temporary of x's size)."""
    return xp.einsum(spec, *ops).sum(axis=0)


def _normalize_rows(xp, x, x3, eps):
    """_normalize for batch norm on ``x3 = x`` as ``(N, C, L)`` (two passes, like _normalize)."""
    m = x3.shape[0] * x3.shape[2]
    shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
    mean = (_row_sums(xp, "ncl->nc", x3) / m).astype(x.dtype, copy=False).reshape(shape)
    d = x - mean
    d3 = d.reshape(x3.shape)
    var = (_row_sums(xp, "ncl,ncl->nc", d3, d3) / m).astype(x.dtype, copy=False).reshape(shape)
    rstd = 1 / xp.sqrt(var + eps)
    d *= rstd
    return d, mean, var, rstd


def _normalize(xp, x, axes, eps):
    mean = xp.mean(x, axis=axes, keepdims=True)
    d = x - mean
    var = xp.mean(d * d, axis=axes, keepdims=True)
    rstd = 1 / xp.sqrt(var + eps)
    d *= rstd  # x̂ in place: d is not needed after
    return d, mean, var, rstd


@kernel
@compute_in_float32
def batch_norm_train(xp, x, weight, bias, eps, axes):
    """Normalize with batch statistics; returns y, x̂, μ, biased σ², rstd (keepdims shapes)."""
    x3 = _channel_rows(x, axes)
    xhat, mean, var, rstd = (_normalize(xp, x, axes, eps) if x3 is None
                             else _normalize_rows(xp, x, x3, eps))
    y = xhat * weight if weight is not None else xhat.copy()
    if bias is not None:
        y += bias
    return y, xhat, mean, var, rstd


@kernel
def batch_norm_update_stats(xp, running_mean, running_var, mean, var, n, momentum):
    """In-place EMA of the statistics; the running variance is unbiased (n/(n−1)), as PyTorch."""
    unbiased = var * (n / max(n - 1, 1))
    running_mean *= 1 - momentum
    running_mean += momentum * mean.reshape(running_mean.shape).astype(running_mean.dtype)
    running_var *= 1 - momentum
    running_var += momentum * unbiased.reshape(running_var.shape).astype(running_var.dtype)


@kernel
@compute_in_float32
def layer_norm_forward(xp, x, weight, bias, eps, axes):
    xhat, mean, var, rstd = _normalize(xp, x, axes, eps)
    y = xhat * weight if weight is not None else xhat.copy()
    if bias is not None:
        y += bias
    return y, xhat, rstd


@kernel
@compute_in_float32
def norm_backward(xp, g, xhat, rstd, weight, axes, param_axes):
    """Fused backward shared by batch and layer norm.

    ``axes``: the normalized (statistics) axes; ``param_axes``: the axes γ and β are broadcast
    over (γ and β come back with the shape of x without those axes). Returns (dL/dx, dL/dγ or
    None, dL/dβ or None).
    """
    if axes == param_axes:  # batch norm: the per-channel sums serve both dL/dx and dL/dγ, dL/dβ
        n = g.size // rstd.size
        g3, h3 = _channel_rows(g, axes), _channel_rows(xhat, axes)
        if g3 is None or h3 is None:
            gb = xp.sum(g, axis=axes, keepdims=True)
            gw = xp.sum(g * xhat, axis=axes, keepdims=True)
        else:
            gb = _row_sums(xp, "ncl->nc", g3).astype(g.dtype, copy=False).reshape(rstd.shape)
            gw = _row_sums(xp, "ncl,ncl->nc", g3, h3).astype(g.dtype, copy=False).reshape(
                rstd.shape)
        gx = xhat * (gw / n)
        xp.subtract(g, gx, out=gx)
        gx -= gb / n
        gx *= rstd if weight is None else rstd * weight
        if weight is None:  # the CUDA kernels' contract: no parameter grads without γ
            return gx, None, None
        return gx, gw.reshape(-1), gb.reshape(-1)
    gh = g * weight if weight is not None else g
    gx = rstd * (gh - xp.mean(gh, axis=axes, keepdims=True)
                 - xhat * xp.mean(gh * xhat, axis=axes, keepdims=True))
    if weight is None:
        return gx, None, None
    gw = xp.sum(g * xhat, axis=param_axes)
    gb = xp.sum(g, axis=param_axes)
    return gx, gw, gb
