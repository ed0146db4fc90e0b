"""Linear-algebra kernels: einsum, vector norms and the decompositions (LAPACK through NumPy on
the CPU, cuSOLVER through CuPy on the GPU)."""

from __future__ import annotations

from gradflow.kernels import kernel

# Contractions at least this big (elements of the largest operand) go through ``optimize``
# (BLAS-backed tensordot); small ones use the C loop, which has no path-finding overhead.
_OPTIMIZE_FROM = 4096


@kernel
def linalg_einsum(xp, equation, *arrays):
    """``xp.einsum`` of an equation with explicit output and letters only (no ellipsis)."""
    big = len(arrays) > 2 or max(a.size for a in arrays) >= _OPTIMIZE_FROM
    out = xp.einsum(equation, *arrays, optimize=bool(big))
    return xp.asarray(out)


@kernel
def linalg_vector_norm(xp, x, ord, axis, keepdims):  # noqa: A002 - torch's name
    """‖x‖_ord over ``axis`` (None: all), PyTorch's definitions (ord 0 counts non-zeros)."""
    a = xp.abs(x)
    if ord == 2:
        out = xp.sqrt(xp.sum(a * a, axis=axis, keepdims=keepdims))
    elif ord == 1:
        out = xp.sum(a, axis=axis, keepdims=keepdims)
    elif ord == float("inf"):
        out = xp.max(a, axis=axis, keepdims=keepdims)
    elif ord == float("-inf"):
        out = xp.min(a, axis=axis, keepdims=keepdims)
    elif ord == 0:
        out = xp.sum(a != 0, axis=axis, keepdims=keepdims).astype(x.dtype)
    elif ord < 0:  # |0|^ord = inf (stated, not computed: no divide-by-zero warning)
        powered = xp.where(a == 0, float("inf"), xp.where(a == 0, 1, a) ** ord)
        out = xp.sum(powered, axis=axis, keepdims=keepdims) ** (1.0 / ord)
    else:
        out = xp.sum(a ** ord, axis=axis, keepdims=keepdims) ** (1.0 / ord)
    return xp.asarray(out, dtype=x.dtype)


@kernel
def linalg_vector_norm_backward(xp, g, x, norm, ord):  # noqa: A002
    """PyTorch's gradient of the vector norm (``g`` and ``norm`` with kept dims): 0 where the
    norm is 0 (the subgradient), inf-norms share g equally among the entries at the extremum."""
    zero = norm == 0
    safe = xp.where(zero, 1, norm)
    if ord == 1:
        return xp.sign(x) * g
    if ord == 2:
        return x * xp.where(zero, 0, g / safe)
    if ord in (float("inf"), float("-inf")):
        mask = (xp.abs(x) == norm).astype(x.dtype)
        return xp.sign(x) * mask * (g / mask.sum(axis=_kept_axes(x, norm), keepdims=True))
    a = xp.abs(x)
    if ord < 1:
        scaled = xp.sign(x) * xp.where(x == 0, 1, a) ** (ord - 1)
        return scaled * g * norm ** (1 - ord)
    if ord < 2:
        scaled = xp.sign(x) * a ** (ord - 1)
    else:
        scaled = x * a ** (ord - 2)
    return scaled * xp.where(zero, 0, g / safe ** (ord - 1))


def _kept_axes(x, kept) -> tuple:
    return tuple(i for i, (n, k) in enumerate(zip(x.shape, kept.shape)) if k == 1 and n != 1)


@kernel
def linalg_svd(xp, a, full_matrices=False):
    return xp.linalg.svd(a, full_matrices=full_matrices)


@kernel
def linalg_svdvals(xp, a):
    return xp.linalg.svd(a, compute_uv=False)


@kernel
def linalg_det(xp, a):
    return xp.asarray(xp.linalg.det(a))


@kernel
def linalg_inv(xp, a):
    return xp.linalg.inv(a)


@kernel
def linalg_solve(xp, a, b):
    """X with A X = B (B batched as A: (..., n, k))."""
    return xp.linalg.solve(a, b)


@kernel
def linalg_cholesky(xp, a):
    return xp.linalg.cholesky(a)


@kernel
def linalg_qr(xp, a, mode):
    return xp.linalg.qr(a, mode=mode)
