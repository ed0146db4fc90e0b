"""PyTorch's top-level statistics tail: count_nonzero, std_mean/var_mean, aminmax, nanmean,
nansum, cov, corrcoef, quantile/nanquantile, trapezoid/cumulative_trapezoid, renorm, dist,
poisson. All but the counting and sampling ones compose differentiable ops."""

from __future__ import annotations

import math
from collections import namedtuple

from gradflow.dtypes import int64, is_floating
from gradflow.ops import math as M
from gradflow.ops._util import as_float, is_scalar, tensor_arg
from gradflow.ops.arithmetic import add, div, mul, sub
from gradflow.ops.gather import gather
from gradflow.ops.norms import vector_norm
from gradflow.ops.scan import cumsum
from gradflow.ops.sort import sort
from gradflow.tensor import Tensor, tensor_methods

aminmax_result = namedtuple("aminmax", ["min", "max"])


def _dims(dim, ndim: int, op: str) -> tuple[int, ...] | None:
    if dim is None:
        return None
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    n = max(ndim, 1)
    out = []
    for d in dims:
        if not isinstance(d, int) or isinstance(d, bool):
            raise TypeError(f"{op}(): argument 'dim' must be an int or a tuple of ints, got "
                            f"{dim!r}")
        if not -n <= d < n:
            raise IndexError(f"{op}: Dimension out of range (expected to be in range of [{-n}, "
                             f"{n - 1}], but got {d})")
        out.append(d % n)
    if len(set(out)) != len(out):
        raise RuntimeError(f"{op}: dim {dim!r} names a dimension twice")
    return tuple(out)


def _const(like: Tensor, array) -> Tensor:
    return Tensor.wrap(array, like.backend)


def count_nonzero(input: Tensor, dim=None) -> Tensor:  # noqa: A002 - PyTorch's names
    """The number of nonzero elements (over ``dim``, an int or tuple), an int64 tensor."""
    tensor_arg(input, "count_nonzero")
    dims = _dims(dim, input.ndim, "count_nonzero")
    xp = input.backend.xp
    nz = input.array != 0
    out = xp.count_nonzero(nz, axis=dims) if input.ndim else xp.asarray(int(nz))
    return _const(input, xp.asarray(out, dtype=int64))


def var_mean(input: Tensor, dim=None, unbiased: bool | None = None, keepdim: bool = False, *,  # noqa: A002
             correction: float | None = None) -> tuple[Tensor, Tensor]:
    """(var, mean) over ``dim`` (Bessel-corrected unless ``correction=0``/``unbiased=False``)."""
    tensor_arg(input, "var_mean")
    return (input.var(dim, unbiased, keepdim, correction=correction),
            input.mean(dim, keepdim))


def std_mean(input: Tensor, dim=None, unbiased: bool | None = None, keepdim: bool = False, *,  # noqa: A002
             correction: float | None = None) -> tuple[Tensor, Tensor]:
    """(std, mean) over ``dim`` (Bessel-corrected unless ``correction=0``/``unbiased=False``)."""
    tensor_arg(input, "std_mean")
    return (input.std(dim, unbiased, keepdim, correction=correction),
            input.mean(dim, keepdim))


def aminmax(input: Tensor, *, dim: int | None = None, keepdim: bool = False):  # noqa: A002
    """(min, max) over ``dim`` (all elements when None), a named tuple; differentiable as
    amin/amax (ties share the gradient)."""
    tensor_arg(input, "aminmax")
    if dim is not None:
        d = _dims(dim, input.ndim, "aminmax")[0]
        empty = input.ndim and input.shape[d] == 0
    else:
        empty = input.numel() == 0
    if empty:
        raise RuntimeError("aminmax(): cannot compute aminmax over an empty dimension as the "
                           "operation has no identity.")
    if dim is None:
        lo, hi = input.amin(), input.amax()
        if keepdim:
            shape = (1,) * input.ndim
            lo, hi = lo.reshape(shape), hi.reshape(shape)
        return aminmax_result(lo, hi)
    return aminmax_result(input.amin(dim, keepdim), input.amax(dim, keepdim))


def nansum(input: Tensor, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:  # noqa: A002
    """The sum treating NaN as 0 (integers sum as int64, as :func:`sum`)."""
    tensor_arg(input, "nansum")
    x = input if dtype is None else input.to(dtype=dtype)
    if is_floating(x.dtype) or x.dtype.kind == "c":
        x = M.where(x.backend.xp.isnan(x.array), 0.0, x)
    return x.sum(dim, keepdim)


def nanmean(input: Tensor, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:  # noqa: A002
    """The mean of the non-NaN elements (NaN where all are NaN); floating inputs only."""
    tensor_arg(input, "nanmean")
    x = input if dtype is None else input.to(dtype=dtype)
    if not (is_floating(x.dtype) or x.dtype.kind == "c"):
        raise RuntimeError(f"nanmean(): expected input to have floating point or complex dtype "
                           f"but got {x.dtype}; convert with .float()")
    valid = ~x.backend.xp.isnan(x.array)
    count = _const(x, valid.astype(x.dtype)).sum(dim, keepdim)
    return div(nansum(x, dim, keepdim), count)


def _float_like(t: Tensor, dtype) -> Tensor:
    return t if t.dtype == dtype else t.to(dtype=dtype)


def cov(input: Tensor, *, correction: int = 1, fweights: Tensor | None = None,  # noqa: A002
        aweights: Tensor | None = None) -> Tensor:
    """The covariance of the rows (variables) over the columns (observations) of a 1-d or 2-d
    ``input``, with integer frequency weights ``fweights`` and observation weights
    ``aweights``; ``correction`` as in :func:`var` (NumPy's ``ddof``)."""
    tensor_arg(input, "cov")
    if input.ndim > 2:
        raise RuntimeError(f"cov(): expected input to have two or fewer dimensions but got an "
                           f"input with {input.ndim} dimensions")
    x = as_float(input, "cov")
    x = x.reshape(1, -1) if x.ndim < 2 else x
    n = x.shape[1]
    w = None
    for name, wt in (("fweights", fweights), ("aweights", aweights)):
        if wt is None:
            continue
        tensor_arg(wt, "cov", name)
        if wt.ndim > 1 or wt.numel() != n:
            raise RuntimeError(f"cov(): expected {name} to have one dimension of size {n} (the "
                               f"number of observations), got shape {tuple(wt.shape)}")
        if name == "fweights" and wt.dtype.kind not in "iu":
            raise RuntimeError(f"cov(): expected fweights to have integral dtype, got {wt.dtype}")
        if name == "aweights" and not is_floating(wt.dtype):
            raise RuntimeError(f"cov(): expected aweights to have floating point dtype, got "
                               f"{wt.dtype}")
        if bool((wt.array < 0).any()):
            raise RuntimeError(f"cov(): {name} cannot be negative")
        wt = _float_like(wt.reshape(-1), x.dtype)
        w = wt if w is None else mul(w, wt)
    if w is None:
        w_sum = float(n)
        avg = x.mean(1, True)
        norm = w_sum - correction
    else:
        w_sum_t = w.sum()
        avg = div(mul(x, w).sum(1, True), w_sum_t)
        if correction == 0:
            norm = w_sum_t
        elif aweights is None:
            norm = sub(w_sum_t, correction)
        else:
            aw = _float_like(aweights.reshape(-1), x.dtype)
            norm = sub(w_sum_t, div(mul(mul(w, aw).sum(), correction), w_sum_t))
    if not isinstance(norm, Tensor) and norm <= 0:
        norm = 0.0
    xm = sub(x, avg)
    xw = xm if w is None else mul(xm, w)
    c = div(xw @ xm.transpose(0, 1), M.clamp(norm, min=0) if isinstance(norm, Tensor) else norm)
    return c.reshape(()) if x.shape[0] == 1 else c


def corrcoef(input: Tensor) -> Tensor:  # noqa: A002
    """Pearson's correlation coefficients of the rows of ``input`` (clipped to [−1, 1])."""
    c = cov(input)
    if c.ndim == 0:
        return div(c, c)
    d = M.sqrt(c.diagonal())
    r = div(div(c, d.reshape(-1, 1)), d.reshape(1, -1))
    return M.clamp(r, -1.0, 1.0)


_INTERPOLATIONS = ("linear", "lower", "higher", "midpoint", "nearest")


def _quantile(op: str, input, q, dim, keepdim, interpolation, ignore_nan: bool) -> Tensor:  # noqa: A002
    tensor_arg(input, op)
    if input.dtype.kind != "f" or input.dtype.itemsize < 4:
        raise RuntimeError(f"{op}() input tensor must be either float or double dtype (got "
                           f"{input.dtype})")
    if interpolation not in _INTERPOLATIONS:
        raise RuntimeError(f"{op}() interpolation must be one of linear, lower, higher, "
                           f"midpoint or nearest, but got {interpolation}")
    xp = input.backend.xp
    if isinstance(q, Tensor):
        if q.dtype != input.dtype:
            raise RuntimeError(f"{op}() q tensor must be same dtype as the input tensor (q "
                               f"{q.dtype}, input {input.dtype})")
        if q.ndim > 1:
            raise RuntimeError(f"{op}() q must be a scalar or 1D tensor, got shape "
                               f"{tuple(q.shape)}")
        qa, scalar_q = q.array.reshape(-1), q.ndim == 0
    elif is_scalar(q):
        qa, scalar_q = xp.asarray([q], dtype=input.dtype), True
    else:
        raise TypeError(f"{op}(): argument 'q' must be a float or a Tensor, got "
                        f"{type(q).__name__}")
    if bool(((qa < 0) | (qa > 1)).any()):
        bad = q if is_scalar(q) else qa.tolist()
        raise RuntimeError(f"{op}() q must be in the range [0, 1] but got {bad}")
    if input.numel() == 0:
        raise RuntimeError(f"{op}() input tensor must be non-empty")
    if dim is None:
        x, d = input.reshape(-1), 0
    else:
        d = _dims(dim, input.ndim, op)[0]
        x = input if input.ndim else input.reshape(1)
    x = x.movedim(d, -1)
    lead = tuple(x.shape[:-1])
    vals = sort(x, -1).values
    nan = xp.isnan(x.array)
    m = x.shape[-1]
    n = (~nan).sum(-1) if ignore_nan else xp.full(lead, m)
    span = (xp.maximum(n, 1) - 1)[..., None].astype(input.dtype)
    rank = qa.reshape((1,) * len(lead) + (-1,)) * span
    if not ignore_nan:  # a slice with a NaN takes its last sorted element, the NaN (as torch)
        rank = xp.where(nan.any(-1)[..., None], m - 1, rank).astype(input.dtype, copy=False)
    if interpolation == "lower":
        rank = xp.floor(rank)
    elif interpolation == "higher":
        rank = xp.ceil(rank)
    elif interpolation == "nearest":
        rank = xp.round(rank)
    lo = xp.floor(rank).astype(int64)
    hi = xp.ceil(rank).astype(int64)
    v_lo = gather(vals, -1, _const(x, lo))
    v_hi = gather(vals, -1, _const(x, hi))
    if interpolation == "midpoint":
        w = _const(x, xp.where(hi > lo, 0.5, 0.0).astype(input.dtype))
    elif interpolation == "linear" and isinstance(q, Tensor) and q.requires_grad:
        # the weight rank − ⌊rank⌋ = q·(n − 1) − ⌊rank⌋ carries the gradient to q
        w = sub(mul(q.reshape((1,) * len(lead) + (-1,)), _const(x, span)),
                _const(x, lo.astype(input.dtype)))
        if not ignore_nan:
            w = M.where(nan.any(-1)[..., None], 0.0, w)
    else:
        w = _const(x, (rank - lo).astype(input.dtype))
    out = add(v_lo, mul(sub(v_hi, v_lo), w))
    out = out.movedim(-1, 0)  # (Q, *lead)
    if keepdim:
        if dim is None:
            out = out.reshape((out.shape[0],) + (1,) * input.ndim)
        elif input.ndim:
            out = out.unsqueeze(d + 1)
    return out[0] if scalar_q else out


def quantile(input: Tensor, q, dim: int | None = None, keepdim: bool = False, *,  # noqa: A002
             interpolation: str = "linear") -> Tensor:
    """The ``q``-quantiles (a number or 1-d tensor in [0, 1]; a 1-d ``q`` adds a leading
    dimension) over ``dim`` (all elements when None), interpolating between the two nearest
    ranks as ``interpolation`` says (NaN where the slice holds a NaN)."""
    return _quantile("quantile", input, q, dim, keepdim, interpolation, False)


def nanquantile(input: Tensor, q, dim: int | None = None, keepdim: bool = False, *,  # noqa: A002
                interpolation: str = "linear") -> Tensor:
    """:func:`quantile` ignoring NaN (NaN only where a slice is all NaN)."""
    return _quantile("nanquantile", input, q, dim, keepdim, interpolation, True)


def _trapezoid_parts(op: str, y: Tensor, x, dx, dim: int):
    tensor_arg(y, op, "y")
    if x is not None and dx is not None:
        raise RuntimeError(f"{op}: pass either x or dx, not both")
    y = as_float(y, op)
    if y.ndim == 0:
        raise IndexError(f"{op}: y must have at least one dimension, got a 0-d tensor")
    d = _dims(dim, y.ndim, op)[0]
    y = y.movedim(d, -1)
    m = y.shape[-1]
    avg = mul(add(y[..., 1:], y[..., : max(m - 1, 0)]), 0.5)
    if x is None:
        return mul(avg, 1.0 if dx is None else dx), d
    tensor_arg(x, op, "x")
    x = as_float(x, op)
    if x.ndim == 1:
        if x.shape[0] != m:
            raise RuntimeError(f"{op}: There must be one `x` value for each sample point (x "
                               f"has {x.shape[0]}, y has {m} along dim {dim})")
    else:
        x = x.movedim(d, -1)
    spacing = sub(x[..., 1:], x[..., : max(x.shape[-1] - 1, 0)])
    return mul(avg, spacing), d


def trapezoid(y: Tensor, x: Tensor | None = None, *, dx: float | None = None,
              dim: int = -1) -> Tensor:
    """The trapezoidal rule along ``dim``: samples ``y`` at points ``x`` (or spacing ``dx``,
    default 1)."""
    parts, _ = _trapezoid_parts("trapezoid", y, x, dx, dim)
    return parts.sum(-1)


def cumulative_trapezoid(y: Tensor, x: Tensor | None = None, *, dx: float | None = None,
                         dim: int = -1) -> Tensor:
    """The running trapezoidal rule along ``dim`` (one element fewer than ``y`` there)."""
    parts, d = _trapezoid_parts("cumulative_trapezoid", y, x, dx, dim)
    return cumsum(parts, -1).movedim(-1, d)


def renorm(input: Tensor, p: float, dim: int, maxnorm: float) -> Tensor:  # noqa: A002
    """Each slice ``input.select(dim, i)`` with p-norm above ``maxnorm`` scaled to norm
    ``maxnorm`` (times 1/(norm + 1e-7), as PyTorch); the others unchanged."""
    tensor_arg(input, "renorm")
    if not is_floating(input.dtype):
        raise RuntimeError(f"renorm: expected a floating point tensor as input, got "
                           f"{input.dtype}")
    if not is_scalar(p) or p <= 0:
        raise RuntimeError(f"renorm: non-positive-norm not supported (p={p!r})")
    if not is_scalar(maxnorm) or maxnorm < 0:
        raise RuntimeError(f"renorm: expected maxnorm to be >= 0 but got {maxnorm!r}")
    if input.ndim <= 1:
        raise RuntimeError(f"renorm: input needs at least 2 dimensions, got {input.ndim} "
                           "dimensions")
    d = _dims(dim, input.ndim, "renorm")[0]
    others = tuple(i for i in range(input.ndim) if i != d)
    norm = vector_norm(input, p, others, True)
    over = norm.array > maxnorm
    factor = M.where(over, div(maxnorm, add(norm, 1e-7)), 1.0)
    return mul(input, factor)


def dist(input: Tensor, other: Tensor, p: float = 2) -> Tensor:  # noqa: A002
    """The p-norm of input − other (broadcast)."""
    tensor_arg(input, "dist")
    tensor_arg(other, "dist", "other")
    if not is_floating(input.dtype) or not is_floating(other.dtype):
        raise RuntimeError(f"dist: expected floating point tensors, got {input.dtype} and "
                           f"{other.dtype}")
    if not is_scalar(p):
        raise TypeError(f"dist(): argument 'p' must be a number, got {type(p).__name__}")
    return vector_norm(sub(input, other), p)


def poisson(input: Tensor, generator=None) -> Tensor:  # noqa: A002
    """A Poisson draw with rate ``input`` per element (floating dtype kept; no gradient)."""
    from gradflow.random import host_rng_for

    tensor_arg(input, "poisson")
    if not is_floating(input.dtype):
        raise NotImplementedError(f"poisson: not implemented for {input.dtype} rates; pass "
                                  "floating point rates (e.g. rates.float())")
    rates = input.numpy() if input.device.type == "cpu" else input.cpu().numpy()
    if rates.size and (not math.isfinite(float(rates.max())) or float(rates.min()) < 0):
        raise RuntimeError("poisson: rates must be finite and non-negative")
    draws = host_rng_for(generator, "poisson").poisson(rates.astype("float64"))
    out = Tensor.wrap(draws.astype(input.dtype))
    return out if input.device.type == "cpu" else out.to(input.device)


def _aminmax_method(self: Tensor, *, dim: int | None = None, keepdim: bool = False):
    return aminmax(self, dim=dim, keepdim=keepdim)


tensor_methods(
    count_nonzero=count_nonzero, aminmax=_aminmax_method, nansum=nansum, nanmean=nanmean,
    cov=cov, corrcoef=corrcoef, quantile=quantile, nanquantile=nanquantile, renorm=renorm,
    dist=dist,
)
