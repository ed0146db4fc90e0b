"""Matrix functions and decompositions (``det``, ``inv``, ``solve``, ``cholesky``, ``svd``,
``svdvals``) as Functions with their known vector-Jacobian products (batched over leading dims).

Each ``backward`` is written with these same ops (and matmul), so higher derivatives are exact:

- det: Ā = ḡ det(A) A⁻ᵀ;  inv: Ā = -A⁻ᵀ Ḡ A⁻ᵀ;  solve (A X = B): B̄ = A⁻ᵀ Ḡ, Ā = -B̄ Xᵀ.
- cholesky (A = L Lᵀ): S = L⁻ᵀ Φ(Lᵀ L̄) L⁻¹ with Φ the lower triangle, diagonal halved;
  Ā = (S + Sᵀ)/2.
- svd (A = U diag(s) Vᵀ, reduced; PyTorch's formula): with E_jk = s_k² - s_j² (1 on the
  diagonal) and skew(X) = X - Xᵀ,
  Ā = U [(skew(UᵀŪ)/E) diag(s) + diag(s) (skew(VᵀV̄)/E) + diag(s̄)] Vᵀ
      + (I - UUᵀ) Ū diag(1/s) Vᵀ + U diag(1/s) V̄ᵀ (I - VVᵀ).
  It holds for distinct non-zero singular values; functions of the singular values alone
  (svdvals, nuclear and spectral norms) need only Ā = U diag(s̄) Vᵀ.
"""

from __future__ import annotations

from gradflow.autograd.function import Function
from gradflow.ops.shape import sum_to
from gradflow.tensor import Tensor


def _mT(x):
    return x.swapaxes(-1, -2)


class Det(Function):
    @staticmethod
    def forward(ctx, a):
        d = ctx.k.linalg_det(a)
        ctx.save_for_backward(a, d)
        return d

    @staticmethod
    def vjp(ctx, g):
        a, d = ctx.saved_arrays
        return (g * d)[..., None, None] * _mT(ctx.k.linalg_inv(a))

    @staticmethod
    def backward(ctx, g):
        a, d = ctx.saved_tensors
        return (g * d)[..., None, None] * _mT(Inv.apply(a))


class _Arrays:
    """What a gradient formula needs beyond ``@`` and arithmetic, on the ``vjp`` path: kernels
    on backend arrays."""

    __slots__ = ("xp", "k")

    def __init__(self, ctx):
        self.xp, self.k = ctx.xp, ctx.k

    def const(self, a):
        return a

    def tril(self, x):
        return self.xp.tril(x)

    def inv(self, x):
        return self.k.linalg_inv(x)


class _Tensors:
    """The same on the composed ``backward`` path: recorded gradflow ops, constants wrapped."""

    __slots__ = ("xp", "backend")

    def __init__(self, ctx):
        self.xp, self.backend = ctx.xp, ctx.backend

    def const(self, a):
        return Tensor.wrap(a, self.backend)

    def tril(self, x):
        n = x.shape[-1]
        return x * self.const(self.xp.tril(self.xp.ones((n, n), dtype=x.dtype)))

    def inv(self, x):
        return Inv.apply(x)


class _FromOutput(Function):
    """Y = ``kernel``(A) whose gradient needs Y alone: ``grad(y, g, ops)`` is written once for
    both paths, on arrays with :class:`_Arrays` (``vjp``) and on Tensors with :class:`_Tensors`
    (``backward``, so it is differentiable again)."""

    kernel = ""  # the name of the kernel in the backend's table

    @staticmethod
    def grad(y, g, ops):
        raise NotImplementedError

    @staticmethod
    def forward(ctx, a):
        y = getattr(ctx.k, ctx.fn.kernel)(a)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def vjp(ctx, g):
        return ctx.fn.grad(ctx.saved_arrays[0], g, _Arrays(ctx))

    @staticmethod
    def backward(ctx, g):
        return ctx.fn.grad(ctx.saved_tensors[0], g, _Tensors(ctx))


class Inv(_FromOutput):
    kernel = "linalg_inv"

    @staticmethod
    def grad(ai, g, ops):
        t = _mT(ai)
        return -(t @ g @ t)


class Solve(Function):
    """X = A⁻¹ B with B of shape (..., n, k); batch dims broadcast."""

    @staticmethod
    def forward(ctx, a, b):
        x = ctx.k.linalg_solve(a, b)
        ctx.save_for_backward(a, x)
        ctx.shapes = (a.shape, b.shape)
        return x

    @staticmethod
    def vjp(ctx, g):
        a, x = ctx.saved_arrays
        na, nb = ctx.needs_input_grad
        k = ctx.k
        gb = k.linalg_solve(_mT(a), g) if g.shape[:-2] == a.shape[:-2] else \
            k.linalg_solve(ctx.xp.broadcast_to(_mT(a), g.shape[:-2] + a.shape[-2:]), g)
        ga = k.sum_to(-(gb @ _mT(x)), ctx.shapes[0]) if na else None
        return ga, (k.sum_to(gb, ctx.shapes[1]) if nb else None)

    @staticmethod
    def backward(ctx, g):
        a, x = ctx.saved_tensors
        na, nb = ctx.needs_input_grad
        at = _mT(a)
        if g.shape[:-2] != a.shape[:-2]:
            at = at.broadcast_to(tuple(g.shape[:-2]) + tuple(a.shape[-2:]))
        gb = Solve.apply(at, g)
        ga = sum_to(-(gb @ _mT(x)), ctx.shapes[0]) if na else None
        return ga, (sum_to(gb, ctx.shapes[1]) if nb else None)


def _tril_half(xp, n: int, dtype):
    """The mask of Φ: ones below the diagonal, 1/2 on it, zeros above."""
    return xp.tril(xp.ones((n, n), dtype=dtype)) - 0.5 * xp.eye(n, dtype=dtype)


class Cholesky(_FromOutput):
    kernel = "linalg_cholesky"

    @staticmethod
    def grad(low, g, ops):
        li = ops.inv(low)
        half = ops.const(_tril_half(ops.xp, low.shape[-1], g.dtype))
        s = _mT(li) @ ((_mT(low) @ ops.tril(g)) * half) @ li
        return 0.5 * (s + _mT(s))


def _svd_grad(u, s, vh, gu, gs, gvh, const, m: int, n: int):
    """PyTorch's reduced-SVD gradient (module docstring), on arrays or on Tensors alike:
    ``const(array)`` wraps a constant for the Tensor path."""
    k = s.shape[-1]
    if gu is None and gvh is None:
        return (u * gs[..., None, :]) @ vh
    xp_eye = const("eye", k)
    sj, sk = s[..., :, None], s[..., None, :]
    e = sk * sk - sj * sj + xp_eye  # 1 on the diagonal (where skew is 0)
    v = _mT(vh)
    inner = None
    if gu is not None:
        uhgu = _mT(u) @ gu
        inner = ((uhgu - _mT(uhgu)) / e) * sk
    if gvh is not None:
        gv = _mT(gvh)
        vhgv = vh @ gv
        term = sj * ((vhgv - _mT(vhgv)) / e)
        inner = term if inner is None else inner + term
    if gs is not None:
        diag = gs[..., None, :] * xp_eye
        inner = diag if inner is None else inner + diag
    ga = u @ inner @ vh
    if gu is not None and m > k:
        ga = ga + ((gu - u @ (_mT(u) @ gu)) / sk) @ vh
    if gvh is not None and n > k:
        ga = ga + u @ ((gvh - (gvh @ v) @ vh) / sj)
    return ga


class SVD(Function):
    """(U, S, Vh) = svd(A), reduced (U: (..., m, k), Vh: (..., k, n), k = min(m, n))."""

    @staticmethod
    def forward(ctx, a):
        u, s, vh = ctx.k.linalg_svd(a, False)
        ctx.save_for_backward(u, s, vh)
        ctx.mn = a.shape[-2:]
        return u, s, vh

    @staticmethod
    def vjp(ctx, gu, gs, gvh):
        u, s, vh = ctx.saved_arrays
        xp = ctx.xp

        def const(kind, k):
            return xp.eye(k, dtype=s.dtype)

        if gs is None:
            gs = xp.zeros_like(s)
        return _svd_grad(u, s, vh, gu, gs, gvh, const, *ctx.mn)

    @staticmethod
    def backward(ctx, gu, gs, gvh):
        u, s, vh = ctx.saved_tensors
        backend = ctx.backend

        def const(kind, k):
            return Tensor.wrap(backend.xp.eye(k, dtype=s.dtype), backend)

        if gs is None:
            gs = Tensor.wrap(backend.xp.zeros(s.shape, dtype=s.dtype), backend)
        return _svd_grad(u, s, vh, gu, gs, gvh, const, *ctx.mn)


class SvdVals(Function):
    """The singular values alone: Ā = U diag(s̄) Vᵀ (backward through :class:`SVD`)."""

    @staticmethod
    def forward(ctx, a):
        u, s, vh = ctx.k.linalg_svd(a, False)
        ctx.save_for_backward(a, u, vh)
        return s

    @staticmethod
    def vjp(ctx, g):
        _, u, vh = ctx.saved_arrays
        return (u * g[..., None, :]) @ vh

    @staticmethod
    def backward(ctx, g):
        a = ctx.saved_tensors[0]
        u, _, vh = SVD.apply(a)
        return (u * g[..., None, :]) @ vh


def _qr_grad(q, r, gq, gr, triu, solve_rt):
    """PyTorch's QR gradient for m >= n (reduced):
    Ā = [Q̄ + Q syminvadj(triu(R̄ Rᵀ - Qᵀ Q̄))] R⁻ᵀ, syminvadj(X) = X + Xᵀ with the diagonal
    halved."""
    m = None
    if gr is not None:
        m = gr @ _mT(r)
    if gq is not None:
        m = -(_mT(q) @ gq) if m is None else m - _mT(q) @ gq
    m = triu(m)
    ga = q @ (m + _mT(m) - triu(m, diag_only=True))
    if gq is not None:
        ga = ga + gq
    return solve_rt(ga)


class QR(Function):
    """(Q, R) = qr(A), reduced, for m >= n (Q: (..., m, n), R: (..., n, n))."""

    @staticmethod
    def forward(ctx, a):
        q, r = ctx.k.linalg_qr(a, "reduced")
        ctx.save_for_backward(q, r)
        return q, r

    @staticmethod
    def vjp(ctx, gq, gr):
        q, r = ctx.saved_arrays
        xp, k = ctx.xp, ctx.k

        def triu(x, diag_only=False):
            if diag_only:
                return x * xp.eye(x.shape[-1], dtype=x.dtype)
            return xp.triu(x)

        return _qr_grad(q, r, gq, gr, triu, lambda b: b @ _mT(k.linalg_inv(r)))

    @staticmethod
    def backward(ctx, gq, gr):
        q, r = ctx.saved_tensors
        backend = ctx.backend
        xp = backend.xp
        n = r.shape[-1]
        masks = {False: xp.triu(xp.ones((n, n), dtype=r.dtype)),
                 True: xp.eye(n, dtype=r.dtype)}

        def triu(x, diag_only=False):
            return x * Tensor.wrap(masks[diag_only], backend)

        return _qr_grad(q, r, gq, gr, triu, lambda b: b @ _mT(Inv.apply(r)))


class SlogDet(Function):
    """(sign, log|det A|); the sign is piecewise constant (no gradient), and
    d log|det A| = tr(A⁻¹ dA), so Ā = ḡ A⁻ᵀ."""

    @staticmethod
    def forward(ctx, a):
        sign, logabs = ctx.xp.linalg.slogdet(a)
        sign, logabs = ctx.xp.asarray(sign), ctx.xp.asarray(logabs)
        ctx.save_for_backward(a)
        ctx.mark_non_differentiable(sign)
        return sign, logabs

    @staticmethod
    def vjp(ctx, _, g):
        (a,) = ctx.saved_arrays
        return g[..., None, None] * _mT(ctx.k.linalg_inv(a))

    @staticmethod
    def backward(ctx, _, g):
        (a,) = ctx.saved_tensors
        return g[..., None, None] * _mT(Inv.apply(a))


def _eigh_grad(q, w, gw, gq, eye):
    """PyTorch's eigh gradient: Ā = Q [skew(QᵀQ̄)/2 / E + diag(w̄)] Qᵀ with E_ij = w_j - w_i
    (1 on the diagonal, where the skew part is 0)."""
    n = w.shape[-1]
    inner = None
    if gq is not None:
        x = _mT(q) @ gq
        e = w[..., None, :] - w[..., :, None] + eye(n)
        inner = 0.5 * (x - _mT(x)) / e
    if gw is not None:
        d = gw[..., None, :] * eye(n)
        inner = d if inner is None else inner + d
    return q @ inner @ _mT(q)


class Eigh(Function):
    """(w, Q) = eigh(A) for symmetric A (its ``UPLO`` triangle is read), w ascending."""

    @staticmethod
    def forward(ctx, a, *, uplo):
        w, q = ctx.xp.linalg.eigh(a, UPLO=uplo)
        ctx.save_for_backward(w, q)
        return w, q

    @staticmethod
    def vjp(ctx, gw, gq):
        w, q = ctx.saved_arrays
        xp = ctx.xp
        return _eigh_grad(q, w, gw, gq, lambda n: xp.eye(n, dtype=w.dtype))

    @staticmethod
    def backward(ctx, gw, gq):
        w, q = ctx.saved_tensors
        backend = ctx.backend
        return _eigh_grad(q, w, gw, gq,
                          lambda n: Tensor.wrap(backend.xp.eye(n, dtype=w.dtype), backend))
