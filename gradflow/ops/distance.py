"""Distances and similarities with PyTorch's signatures: ``normalize``, ``cosine_similarity``,
``pairwise_distance``, ``pdist`` and ``cdist``.

All are compositions of differentiable ops (second order is free). The p-norm
‖v‖_p = (Σ |v_i|^p)^{1/p} is written so that its gradient at v = 0 is 0, as PyTorch's
(the naive composition gives 0 · ∞ = NaN there): the root and the powers are taken of a
value replaced by 1 where it is 0, and the result masked back to 0.
"""

from __future__ import annotations

import math

from gradflow.dtypes import is_floating
from gradflow.ops._util import norm_axes, tensor_arg
from gradflow.ops.math import abs as abs_
from gradflow.ops.math import clip, sqrt, where
from gradflow.ops.matmul import matmul
from gradflow.ops.shape import broadcast_to, concatenate, reshape, swapaxes
from gradflow.tensor import Tensor

_CDIST_MODES = ("use_mm_for_euclid_dist_if_necessary", "use_mm_for_euclid_dist",
                "donot_use_mm_for_euclid_dist")


def _float(x: Tensor, op: str, name: str) -> Tensor:
    if not is_floating(x.dtype):
        raise RuntimeError(f"{op}: expected a floating-point tensor for '{name}', got "
                           f"{x.dtype}; convert it with .float() or .double()")
    return x


def _safe_root(s: Tensor, p: float) -> Tensor:
    """s^{1/p} for s >= 0 with gradient 0 (not ∞ · 0) where s = 0."""
    pos = s.array > 0
    safe = where(pos, s, 1.0)
    root = sqrt(safe) if p == 2 else safe ** (1.0 / p)
    return where(pos, root, 0.0)


def vector_norm(x: Tensor, p: float = 2.0, dim=None, keepdim: bool = False) -> Tensor:
    """‖x‖_p over ``dim`` (all elements when None), p ∈ [0, ∞] or −∞, with PyTorch's gradient
    0 at x = 0. p = 0 counts the nonzero elements (gradient 0), p = ±∞ is max/min |x|."""
    if p == math.inf:
        return abs_(x).amax(dim, keepdim)
    if p == -math.inf:
        return abs_(x).amin(dim, keepdim)
    if p == 0:
        nz = Tensor.wrap((x.array != 0).astype(x.dtype), x.backend)
        return nz.sum(dim, keepdim) + (x * 0.0).sum(dim, keepdim)  # in the graph, gradient 0
    if p == 1:
        return abs_(x).sum(dim, keepdim)
    if p == 2:
        return _safe_root((x * x).sum(dim, keepdim), 2)
    ax = abs_(x)
    nz = ax.array > 0
    powered = where(nz, where(nz, ax, 1.0) ** float(p), 0.0)
    return _safe_root(powered.sum(dim, keepdim), float(p))


def _dim(x: Tensor, dim: int, op: str) -> int:
    if not isinstance(dim, int):
        raise TypeError(f"{op}(): argument 'dim' must be int, got {type(dim).__name__}")
    return norm_axes(dim, x.ndim, op)[0]


def _broadcast_pair(x1: Tensor, x2: Tensor, op: str) -> tuple[Tensor, Tensor]:
    try:
        shape = x1.backend.xp.broadcast_shapes(x1.shape, x2.shape)
    except ValueError:
        raise RuntimeError(f"{op}: x1 of shape {tuple(x1.shape)} and x2 of shape "
                           f"{tuple(x2.shape)} cannot be broadcast together; give them "
                           "broadcastable shapes") from None
    return broadcast_to(x1, shape), broadcast_to(x2, shape)


def _same_device(x1: Tensor, x2: Tensor, op: str) -> None:
    if x1._backend is not x2._backend:
        raise RuntimeError(f"{op}: x1 is on {x1.device} but x2 is on {x2.device}; move both "
                           "to one device")


def normalize(input: Tensor, p: float = 2.0, dim: int = 1, eps: float = 1e-12,  # noqa: A002
              out: Tensor | None = None) -> Tensor:
    """v / max(‖v‖_p, ε) for each vector v along ``dim``, as
    ``torch.nn.functional.normalize`` (``out``, when given, receives the result and the call is
    not differentiable)."""
    op = "normalize"
    x = _float(tensor_arg(input, op), op, "input")
    axes = norm_axes(dim, x.ndim, op)
    if x.ndim == 0:
        axes = None
    y = x / clip(vector_norm(x, p, axes, True), eps, None)
    if out is not None:
        tensor_arg(out, op, "out")
        from gradflow.autograd.grad_mode import no_grad

        with no_grad():
            out.copy_(y.detach())
        return out
    return y


def _straight_clamp(n: Tensor, eps: float) -> Tensor:
    """max(n, ε) in value with the gradient of n (PyTorch clamps the norms in place under
    no_grad in cosine_similarity, so its gradient sees the unclamped norm's derivative)."""
    return n + (clip(n.detach(), eps, None) - n.detach())


def cosine_similarity(x1: Tensor, x2: Tensor, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """Σ (x1 / max(‖x1‖, ε)) (x2 / max(‖x2‖, ε)) along ``dim`` after broadcasting x1 and x2,
    as ``torch.nn.functional.cosine_similarity`` (each norm clamped separately at ε; 0 for a
    zero vector, with a finite gradient)."""
    op = "cosine_similarity"
    tensor_arg(x1, op, "x1")
    tensor_arg(x2, op, "x2")
    _same_device(x1, x2, op)
    if not is_floating(x1.dtype) and not is_floating(x2.dtype):
        raise RuntimeError(f"{op}: expected common dtype to be floating point, yet common "
                           f"dtype of x1 ({x1.dtype}) and x2 ({x2.dtype}) is not; convert them "
                           "with .float()")
    a, b = _broadcast_pair(x1, x2, op)
    if a.dtype != b.dtype:
        dt = x1.backend.xp.result_type(a.dtype, b.dtype)
        a, b = a.to(dtype=dt), b.to(dtype=dt)
    d = _dim(a, dim, op) if a.ndim else _dim(reshape(a, (1,)), dim, op)
    if a.ndim == 0:
        a, b = reshape(a, (1,)), reshape(b, (1,))
    n1 = _straight_clamp(vector_norm(a, 2, d, True), eps)
    n2 = _straight_clamp(vector_norm(b, 2, d, True), eps)
    return ((a / n1) * (b / n2)).sum(d)


def pairwise_distance(x1: Tensor, x2: Tensor, p: float = 2.0, eps: float = 1e-6,
                      keepdim: bool = False) -> Tensor:
    """‖x1 − x2 + ε‖_p over the last dim (after broadcasting), as
    ``torch.nn.functional.pairwise_distance``."""
    op = "pairwise_distance"
    tensor_arg(x1, op, "x1")
    tensor_arg(x2, op, "x2")
    _same_device(x1, x2, op)
    a, b = _broadcast_pair(x1, x2, op)
    diff = a - b + eps
    if diff.ndim == 0:
        return vector_norm(diff, p, None, False)
    return vector_norm(diff, p, diff.ndim - 1, keepdim)


def _check_p(p: float, op: str) -> float:
    if not p >= 0:
        raise RuntimeError(f"{op}: {op} only supports non-negative p values, got p={p}")
    return float(p)


def pdist(input: Tensor, p: float = 2) -> Tensor:  # noqa: A002
    """‖x_i − x_j‖_p for every pair of rows i < j of an ``(N, M)`` input, in row-major order
    of (i, j) (N(N−1)/2 values), as ``torch.nn.functional.pdist``."""
    op = "pdist"
    x = tensor_arg(input, op)
    if x.ndim != 2:
        raise RuntimeError(f"{op}: pdist only supports 2D tensors, got: {x.ndim}D (shape "
                           f"{tuple(x.shape)}); pass an (N, M) tensor of N row vectors")
    _float(x, op, "input")
    p = _check_p(p, op)
    xp = x.backend.xp
    i, j = xp.triu_indices(x.shape[0], 1)
    if i.size == 0:
        return Tensor.wrap(xp.zeros((0,), dtype=x.dtype), x.backend) * x.sum()
    return vector_norm(x[i] - x[j], p, 1)


def _euclid_mm(x1: Tensor, x2: Tensor) -> Tensor:
    """√max(‖a‖² − 2 a·b + ‖b‖², 0) by one matrix product (PyTorch's ``_euclidean_dist``)."""
    n1 = (x1 * x1).sum(-1, True)
    n2 = (x2 * x2).sum(-1, True)
    one1 = Tensor.wrap(x1.backend.xp.ones(n1.shape, dtype=x1.dtype), x1.backend)
    one2 = Tensor.wrap(x2.backend.xp.ones(n2.shape, dtype=x2.dtype), x2.backend)
    a = concatenate([x1 * -2, n1, one1], -1)
    b = concatenate([x2, one2, n2], -1)
    s = clip(matmul(a, swapaxes(b, -1, -2)), 0.0, None)
    return _safe_root(s, 2)


def cdist(x1: Tensor, x2: Tensor, p: float = 2.0,
          compute_mode: str = "use_mm_for_euclid_dist_if_necessary") -> Tensor:
    """‖x1[..., i, :] − x2[..., j, :]‖_p for ``(B..., P, M)`` and ``(B..., R, M)`` (batch dims
    broadcast) → ``(B..., P, R)``, as ``torch.cdist``. For p = 2 the distances come from one
    matrix product when P or R exceeds 25 (``compute_mode``'s default, PyTorch's rule; the
    other modes force it on or off). The gradient at distance 0 is 0, as PyTorch's."""
    op = "cdist"
    tensor_arg(x1, op, "x1")
    tensor_arg(x2, op, "x2")
    _same_device(x1, x2, op)
    for name, x in (("X1", x1), ("X2", x2)):
        if x.ndim < 2:
            raise RuntimeError(f"{op}: cdist only supports at least 2D tensors, {name} got: "
                               f"{x.ndim}D (shape {tuple(x.shape)})")
        if not is_floating(x.dtype):
            raise RuntimeError(f"{op}: cdist only supports floating-point dtypes, {name} got: "
                               f"{x.dtype}")
    if x1.shape[-1] != x2.shape[-1]:
        raise RuntimeError(f"{op}: X1 and X2 must have the same number of columns. X1: "
                           f"{x1.shape[-1]} X2: {x2.shape[-1]} (shapes {tuple(x1.shape)} and "
                           f"{tuple(x2.shape)})")
    if compute_mode not in _CDIST_MODES:
        raise ValueError(f"{op}: {compute_mode} is not a valid value for compute_mode; "
                         f"possible modes: {', '.join(_CDIST_MODES)}")
    p = _check_p(p, op)
    xp = x1.backend.xp
    try:
        batch = xp.broadcast_shapes(x1.shape[:-2], x2.shape[:-2])
    except ValueError:
        raise RuntimeError(f"{op}: the batch dims of X1 {tuple(x1.shape)} and X2 "
                           f"{tuple(x2.shape)} cannot be broadcast together") from None
    if x1.dtype != x2.dtype:
        dt = xp.result_type(x1.dtype, x2.dtype)
        x1, x2 = x1.to(dtype=dt), x2.to(dtype=dt)
    a = broadcast_to(x1, batch + tuple(x1.shape[-2:]))
    b = broadcast_to(x2, batch + tuple(x2.shape[-2:]))
    big = a.shape[-2] > 25 or b.shape[-2] > 25
    use_mm = p == 2 and (compute_mode == _CDIST_MODES[1]
                         or (compute_mode == _CDIST_MODES[0] and big))
    if use_mm:
        return _euclid_mm(a, b)
    n = a.ndim
    diff = reshape(a, a.shape[:-1] + (1, a.shape[-1])) - reshape(
        b, b.shape[:-2] + (1,) + b.shape[-2:])
    return vector_norm(diff, p, n)
