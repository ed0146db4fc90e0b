"""Oracle cases of the products, einsum, norms and decompositions (gradflow.ops.linalg,
gradflow.ops.norms, gradflow.linalg): broadcasting (addmm, baddbmm, einsum's ellipsis and size-1
dims), diagonals, and norms of tiny and huge vectors."""

import jax.numpy as jnp
import numpy as np
from op_cases import R

import gradflow as gf
import gradflow.linalg as LA
from gradflow.ops import linalg as L
from gradflow.ops import norms as N

INF = float("inf")


def _spd(x):
    """A well-conditioned symmetric positive-definite matrix from any square x."""
    return x @ x.mT + 3 * gf.eye(x.shape[-1], dtype=x.dtype, device=x.device)


def _spd_jax(x):
    return x @ jnp.swapaxes(x, -1, -2) + 3 * jnp.eye(x.shape[-1])


def _well(x):
    return x + 4 * gf.eye(x.shape[-1], dtype=x.dtype, device=x.device)


def _well_jax(x):
    return x + 4 * jnp.eye(x.shape[-1])


def _svd_fn(x):
    u, s, vh = LA.svd(x, full_matrices=False)
    return (u * s.sin()[..., None, :]) @ vh  # invariant to the signs of singular vectors


def _svd_jax(x):
    u, s, vh = jnp.linalg.svd(x, full_matrices=False)
    return (u * jnp.sin(s)[..., None, :]) @ vh


def _vnorm_jax(x, p, axis, keepdims=False):
    a = jnp.abs(x)
    if p == INF:
        return a.max(axis=axis, keepdims=keepdims)
    if p == -INF:
        return a.min(axis=axis, keepdims=keepdims)
    return (a ** p).sum(axis=axis, keepdims=keepdims) ** (1 / p)


def _apart(*shape, seed=0):
    """Values at least 0.2 from zero and from each other in magnitude (no ties at the max)."""
    x = R(*shape, seed=seed)
    return np.sign(x) * (0.2 + np.abs(x)) * (1 + 0.01 * np.arange(x.size).reshape(shape))


CASES = [
    # products
    ("linalg_dot", L.dot, jnp.dot, [R(5), R(5, seed=1)], ()),
    ("linalg_vdot", L.vdot, jnp.vdot, [R(4), R(4, seed=1)], ()),
    ("linalg_outer", L.outer, jnp.outer, [R(3), R(4, seed=1)], ()),
    ("linalg_inner", L.inner, jnp.inner, [R(2, 3, 4), R(5, 4, seed=1)], ()),
    ("linalg_mv", L.mv, jnp.matmul, [R(3, 4), R(4, seed=1)], ()),
    ("linalg_addmm_bcast", lambda c, a, b: L.addmm(c, a, b, beta=0.5, alpha=2.0),
     lambda c, a, b: 0.5 * c + 2.0 * a @ b, [R(4), R(3, 2), R(2, 4, seed=1)], ()),
    ("linalg_addmm_beta0", lambda c, a, b: L.addmm(c, a, b, beta=0),
     lambda c, a, b: a @ b + 0 * c, [R(3, 4), R(3, 2), R(2, 4, seed=1)], ()),
    ("linalg_addmv", lambda c, a, b: L.addmv(c, a, b, beta=2.0, alpha=-1.0),
     lambda c, a, b: 2.0 * c - a @ b, [R(3), R(3, 2), R(2, seed=1)], ()),
    ("linalg_addbmm", lambda c, a, b: L.addbmm(c, a, b, alpha=0.5),
     lambda c, a, b: c + 0.5 * jnp.einsum("bij,bjk->ik", a, b),
     [R(3, 1), R(2, 3, 4), R(2, 4, 5, seed=1)], ()),
    ("linalg_baddbmm_bcast", lambda c, a, b: L.baddbmm(c, a, b, beta=1.5),
     lambda c, a, b: 1.5 * c + a @ b, [R(1, 3, 1), R(2, 3, 4), R(2, 4, 5, seed=1)], ()),
    ("linalg_kron", L.kron, lambda a, b: jnp.kron(a[None], b), [R(2, 3), R(4, 1, 2, seed=1)],
     ()),
    ("linalg_tensordot_int", lambda a, b: L.tensordot(a, b, 2),
     lambda a, b: jnp.tensordot(a, b, 2), [R(2, 3, 4), R(3, 4, 5, seed=1)], ()),
    ("linalg_tensordot_lists", lambda a, b: L.tensordot(a, b, ([1, 0], [0, 2])),
     lambda a, b: jnp.tensordot(a, b, ([1, 0], [0, 2])), [R(2, 3, 4), R(3, 5, 2, seed=1)], ()),
    # einsum
    ("einsum_matmul", lambda a, b: L.einsum("ij,jk->ik", a, b),
     lambda a, b: a @ b, [R(3, 4), R(4, 2, seed=1)], ()),
    ("einsum_ellipsis_bcast", lambda a, b: L.einsum("...ij,...jk->...ik", a, b),
     lambda a, b: a @ b, [R(2, 1, 3, 4), R(5, 4, 2, seed=1)], ()),
    ("einsum_size1_bcast", lambda a, b: L.einsum("ij,jk", [a, b]),
     lambda a, b: jnp.broadcast_to(a, (3, 4)) @ b, [R(3, 1), R(4, 2, seed=1)], ()),
    ("einsum_diag", lambda a: L.einsum("ii->i", a) ** 2, lambda a: jnp.diagonal(a) ** 2,
     [R(4, 4)], ()),
    ("einsum_trace_sum", lambda a, b: L.einsum("ii,jk->", a, b),
     lambda a, b: jnp.trace(a) * b.sum(), [R(3, 3), R(2, 5, seed=1)], ()),
    ("einsum_batch_diag", lambda a, b: L.einsum("bii,bj->bij", a, b),
     lambda a, b: jnp.diagonal(a, axis1=1, axis2=2)[:, :, None] * b[:, None, :],
     [R(2, 3, 3), R(2, 4, seed=1)], ()),
    ("einsum_three", lambda a, b, c: L.einsum("ij,jk,kl->il", a, b, c),
     lambda a, b, c: a @ b @ c, [R(2, 3), R(3, 4, seed=1), R(4, 2, seed=2)], ()),
    ("einsum_implicit_order", lambda a, b: L.einsum("bA,A", a, b),
     lambda a, b: a @ b, [R(3, 4), R(4, seed=1)], ()),
    ("einsum_ellipsis_sum", lambda a: L.einsum("i...j->j", a) ** 2,
     lambda a: a.sum(axis=(0, 1, 2)) ** 2, [R(2, 3, 4, 5)], ()),
    ("einsum_hadamard3", lambda a, b, c: L.einsum("i,i,i->i", a, b, c),
     lambda a, b, c: a * b * c, [R(4), R(4, seed=1), R(4, seed=2)], ()),
    # vector norms
    ("vnorm_2_dim", lambda x: N.vector_norm(x, 2, 1, True), lambda x: _vnorm_jax(x, 2, 1, True),
     [R(3, 4, 2)], ()),
    ("vnorm_2_all", lambda x: N.vector_norm(x), lambda x: jnp.sqrt((x * x).sum()),
     [R(3, 4)], ()),
    ("vnorm_1", lambda x: N.vector_norm(x, 1, (0, 2)), lambda x: _vnorm_jax(x, 1, (0, 2)),
     [_apart(3, 4, 2)], ()),
    ("vnorm_inf", lambda x: N.vector_norm(x, INF, -1), lambda x: _vnorm_jax(x, INF, -1),
     [_apart(3, 5)], ()),
    ("vnorm_neg_inf", lambda x: N.vector_norm(x, -INF, 0), lambda x: _vnorm_jax(x, -INF, 0),
     [_apart(4, 3)], ()),
    ("vnorm_3", lambda x: N.vector_norm(x, 3, 1), lambda x: _vnorm_jax(x, 3, 1),
     [_apart(2, 5)], ()),
    ("vnorm_frac", lambda x: N.vector_norm(x, 0.5, 1), lambda x: _vnorm_jax(x, 0.5, 1),
     [_apart(2, 5)], ()),
    ("vnorm_1p5", lambda x: N.vector_norm(x, 1.5), lambda x: _vnorm_jax(x, 1.5, None),
     [_apart(2, 5)], ()),
    ("vnorm_neg1", lambda x: N.vector_norm(x, -1, 1), lambda x: _vnorm_jax(x, -1, 1),
     [_apart(2, 5)], ()),
    ("vnorm_extreme_tiny", lambda x: N.vector_norm(x * 1e-15, 2, 1) * 1e15,
     lambda x: jnp.sqrt(((x * 1e-15) ** 2).sum(1)) * 1e15, [R(3, 4)], ()),
    ("vnorm_extreme_huge", lambda x: N.vector_norm(x * 1e15, 2, 1) * 1e-15,
     lambda x: jnp.sqrt(((x * 1e15) ** 2).sum(1)) * 1e-15, [R(3, 4)], ()),
    ("vnorm_extreme_huge_p3", lambda x: N.vector_norm(x * 1e10, 3) * 1e-10,
     lambda x: _vnorm_jax(x * 1e10, 3, None) * 1e-10, [_apart(3, 4)], ()),
    # matrix norms
    ("mnorm_fro", lambda x: N.matrix_norm(x), lambda x: jnp.linalg.norm(x, "fro", (-2, -1)),
     [R(2, 3, 4)], ()),
    ("mnorm_1", lambda x: N.matrix_norm(x, 1), lambda x: jnp.linalg.norm(x, 1, (-2, -1)),
     [_apart(2, 3, 4)], ()),
    ("mnorm_neg1", lambda x: N.matrix_norm(x, -1, (0, 2)),
     lambda x: jnp.linalg.norm(x, -1, (0, 2)), [_apart(3, 2, 4)], ()),
    ("mnorm_inf_keepdim", lambda x: N.matrix_norm(x, INF, keepdim=True),
     lambda x: jnp.linalg.norm(x, jnp.inf, (-2, -1), keepdims=True), [_apart(2, 3, 4)], ()),
    ("mnorm_neg_inf", lambda x: N.matrix_norm(x, -INF), lambda x: jnp.linalg.norm(x, -jnp.inf),
     [_apart(3, 4)], ()),
    ("mnorm_nuc", lambda x: N.matrix_norm(x, "nuc"),
     lambda x: jnp.linalg.norm(x, "nuc", (-2, -1)), [R(2, 3, 4)], ()),
    ("mnorm_2", lambda x: N.matrix_norm(x, 2, (2, 0)), lambda x: jnp.linalg.norm(x, 2, (2, 0)),
     [R(3, 2, 4)], ()),
    ("mnorm_neg2", lambda x: N.matrix_norm(x, -2), lambda x: jnp.linalg.norm(x, -2, (-2, -1)),
     [R(2, 4, 3)], ()),
    ("norm_legacy_fro_dim", lambda x: x.norm(dim=(1, 2), keepdim=True),
     lambda x: jnp.sqrt((x * x).sum((1, 2), keepdims=True)), [R(2, 3, 4)], ()),
    ("norm_legacy_p", lambda x: N.norm(x, 3, 0), lambda x: _vnorm_jax(x, 3, 0),
     [_apart(3, 4)], ()),
    ("linalg_norm_matrix", lambda x: LA.norm(x, INF), lambda x: jnp.linalg.norm(x, jnp.inf),
     [_apart(3, 4)], ()),
    # decompositions
    ("linalg_det", lambda x: LA.det(_well(x)), lambda x: jnp.linalg.det(_well_jax(x)),
     [R(2, 3, 3)], ()),
    ("linalg_inv", lambda x: LA.inv(_well(x)), lambda x: jnp.linalg.inv(_well_jax(x)),
     [R(2, 3, 3)], ()),
    ("linalg_solve_bcast", lambda a, b: LA.solve(_well(a), b),
     lambda a, b: jnp.linalg.solve(_well_jax(a), jnp.broadcast_to(b, (2, 3, 2))),
     [R(2, 3, 3), R(3, 2, seed=1)], ()),
    ("linalg_solve_vector", lambda a, b: LA.solve(_well(a), b),
     lambda a, b: jnp.linalg.solve(_well_jax(a), b[..., None])[..., 0],
     [R(2, 3, 3), R(2, 3, seed=1)], ()),
    ("linalg_cholesky", lambda x: LA.cholesky(_spd(x)),
     lambda x: jnp.linalg.cholesky(_spd_jax(x)), [R(2, 3, 3)], ()),
    ("linalg_svd", _svd_fn, _svd_jax, [R(2, 4, 3)], ()),
    ("linalg_qr", lambda x: gf.cat(LA.qr(x), -2),
     lambda x: jnp.concatenate(jnp.linalg.qr(x), -2), [R(2, 4, 3)], ()),
    ("linalg_qr_square", lambda x: LA.qr(x).Q.sin() + LA.qr(x).R,
     lambda x: jnp.sin(jnp.linalg.qr(x)[0]) + jnp.linalg.qr(x)[1], [R(3, 3)], ()),
    ("linalg_slogdet", lambda x: LA.slogdet(x).logabsdet,
     lambda x: jnp.linalg.slogdet(x)[1], [R(2, 3, 3)], ()),
    ("linalg_eigh", lambda x: (lambda w, q: (q * w.sin()[..., None, :]) @ q.mT)(
        *LA.eigh(x + x.mT)),
     lambda x: (lambda w, q: (q * jnp.sin(w)[..., None, :]) @ jnp.swapaxes(q, -1, -2))(
        *jnp.linalg.eigh(x + jnp.swapaxes(x, -1, -2))), [R(2, 3, 3)], ()),
    ("linalg_eigvalsh", lambda x: LA.eigvalsh(x @ x.mT) ** 2,
     lambda x: jnp.linalg.eigvalsh(x @ x.T) ** 2, [R(3, 4)], ()),
    ("linalg_multi_dot", lambda a, b, c: LA.multi_dot([a, b, c]),
     lambda a, b, c: a @ b @ c, [R(3), R(3, 4, seed=1), R(4, 2, seed=2)], ()),
    ("linalg_matrix_power", lambda x: LA.matrix_power(_well(x), -3),
     lambda x: jnp.linalg.matrix_power(_well_jax(x), -3), [R(2, 3, 3)], ()),
    ("linalg_svdvals", lambda x: LA.svdvals(x) ** 2,
     lambda x: jnp.linalg.svd(x, compute_uv=False) ** 2, [R(3, 4)], ()),
]
