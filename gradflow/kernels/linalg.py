"""Linear-algebra kernels: einsum, vector norms and the decompositions (LAPACK through NumPy on
the CPU, cuSOLVER through CuPy on the GPU)."""

from __future__ import annotations

from gradflow.dtypes import compute_in_float32
from gradflow.kernels import kernel


@kernel
@compute_in_float32
def linalg_einsum(xp, equation, *arrays):
    """``xp.einsum`` of an equation with explicit output and letters only (no ellipsis).

    Two operands without a repeated subscript contract as one batched matmul (BLAS; NumPy's
    own einsum loop is ~40× slower at 64×64 and its ``optimize`` path search costs ~60 µs a
    call); more operands go through ``optimize='greedy'``, one operand through the plain loop.
    """
    ins, out = equation.split("->")
    subs = ins.split(",")
    if len(arrays) == 2 and all(len(set(s)) == len(s) for s in subs):
        return _contract2(xp, arrays[0], subs[0], arrays[1], subs[1], out)
    return xp.asarray(xp.einsum(equation, *arrays, optimize="greedy" if len(arrays) > 2
                                else False))


def _contract2(xp, a, sa: str, b, sb: str, out: str):
    """einsum(sa,sb->out) as transpose, reshape and one matmul: batch letters (in a, b and
    out), a's and b's kept letters, contracted letters (in a and b only); letters in one
    operand alone and not in out are summed first."""
    a_sum = tuple(i for i, c in enumerate(sa) if c not in sb and c not in out)
    b_sum = tuple(i for i, c in enumerate(sb) if c not in sa and c not in out)
    if a_sum:
        a, sa = a.sum(axis=a_sum), "".join(c for i, c in enumerate(sa) if i not in a_sum)
    if b_sum:
        b, sb = b.sum(axis=b_sum), "".join(c for i, c in enumerate(sb) if i not in b_sum)
    batch = [c for c in sa if c in sb and c in out]
    con = [c for c in sa if c in sb and c not in out]
    ka = [c for c in sa if c not in sb]
    kb = [c for c in sb if c not in sa]
    size = dict(zip(sa, a.shape)) | dict(zip(sb, b.shape))

    def prod(letters):
        n = 1
        for c in letters:
            n *= size[c]
        return n

    lead = (prod(batch),) if batch else ()  # no batch letters: one 2-D gemm
    a2 = a.transpose([sa.index(c) for c in batch + ka + con]).reshape(
        lead + (prod(ka), prod(con)))
    b2 = b.transpose([sb.index(c) for c in batch + con + kb]).reshape(
        lead + (prod(con), prod(kb)))
    y = xp.matmul(a2, b2).reshape([size[c] for c in batch + ka + kb])
    order = batch + ka + kb
    return y.transpose([order.index(c) for c in out])


@kernel
@compute_in_float32
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
@compute_in_float32
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
