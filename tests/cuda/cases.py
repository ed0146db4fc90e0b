"""Kernel parity cases shared by the GPU tests and the CPU emulation tests.

Each case calls one kernel of a table (``fused``: the CUDA overrides; ``ref``: the generic kernels
bound to the same ``xp``) on the same inputs and compares the outputs. ``xp`` is CuPy on a GPU, or
NumPy when the overrides run on the CPU emulation.
"""

from __future__ import annotations

import itertools

import numpy as np

# (rows, cols) that exercise one warp per row (≤ 1024 columns, rows not a multiple of 8) and one
# block per row (> 1024 columns, 128 to 512 threads).
ROW_SHAPES = [(1, 1), (5, 7), (9, 32), (3, 1024), (3, 1025), (2, 3000), (2, 4096)]
NORM_TAILS = [((6, 33), 1), ((4, 5, 300), 1), ((3, 4, 40), 2), ((3, 2048), 1), ((2, 5), 2)]
BN_SHAPES = [(2, 3), (64, 5), (300, 70), (40, 1100)]
BN_SHAPES_SMALL = BN_SHAPES[:3]   # for the CPU emulation (one OS thread per CUDA thread)


def tol(dtype):
    return dict(rtol=2e-5, atol=2e-6) if np.dtype(dtype) == np.float32 else \
        dict(rtol=1e-12, atol=1e-13)


def close(xp, got, want, dtype, scaled=False, **kw):
    """``scaled``: the absolute tolerance grows with the largest |value| (sums over many terms,
    added up in another order than the generic kernel's pairwise sums)."""
    got = got.get() if hasattr(got, "get") else got
    want = want.get() if hasattr(want, "get") else want
    assert got.shape == want.shape, (got.shape, want.shape)
    assert got.dtype == want.dtype, (got.dtype, want.dtype)
    kw = kw or tol(dtype)
    if scaled and want.size:
        kw = dict(kw, atol=kw["atol"] * max(1.0, float(np.nanmax(np.abs(want)))))
    np.testing.assert_allclose(got, want, **kw)


def data(xp, shape, dtype, seed=0, scale=3.0):
    rng = np.random.default_rng(seed)
    return xp.asarray((rng.standard_normal(shape) * scale).astype(dtype))


def check_activations(xp, fused, ref, dtype):
    x = data(xp, (37, 129), dtype, 1, 4.0)
    x[0, :6] = xp.asarray(np.array([0.0, -0.0, 80.0, -80.0, 1e-3, -1e-3], dtype=dtype))
    g = data(xp, x.shape, dtype, 2)
    for name, args in [
        ("relu", (x,)), ("leaky_relu", (x, 0.2)), ("sigmoid", (x,)), ("gelu", (x, "none")),
        ("gelu", (x, "tanh")),
    ]:
        close(xp, getattr(fused, name)(*args), getattr(ref, name)(*args), dtype)
    y_relu, y_sig, y_tanh = ref.relu(x), ref.sigmoid(x), xp.tanh(x)
    for name, args in [
        ("relu_backward", (g, y_relu)), ("leaky_relu_backward", (g, x, 0.2)),
        ("sigmoid_backward", (g, y_sig)), ("tanh_backward", (g, y_tanh)),
        ("gelu_backward", (g, x, "none")), ("gelu_backward", (g, x, "tanh")),
    ]:
        kw = tol(dtype)
        if name == "gelu_backward" and np.dtype(dtype) == np.float32:
            # 1 + tanh/erf cancels for x ≲ −3: a 1-ulp difference of tanh/erf near −1 (libm
            # against libm) is ~|g|·1e-7 absolute in both the fused and the generic kernel
            kw = dict(rtol=2e-5, atol=3e-5)
        close(xp, getattr(fused, name)(*args), getattr(ref, name)(*args), dtype, **kw)


def check_activation_fallbacks(xp, fused, ref):
    xi = xp.arange(-5, 5, dtype=np.int64)
    close(xp, fused.relu(xi), ref.relu(xi), np.float64, rtol=0, atol=0)
    close(xp, fused.sigmoid(xi), ref.sigmoid(xi), np.float32)
    close(xp, fused.leaky_relu(xi, 0.1), ref.leaky_relu(xi, 0.1), np.float64)
    x16 = xp.linspace(-3, 3, 11).astype(np.float16)
    close(xp, fused.gelu(x16, "none"), ref.gelu(x16, "none"), np.float32, rtol=1e-3, atol=1e-3)


def check_softmax(xp, fused, ref, dtype, shape):
    x = data(xp, shape, dtype, 3, 5.0)
    g = data(xp, shape, dtype, 4)
    for fwd, bwd in (("softmax", "softmax_backward"), ("log_softmax", "log_softmax_backward")):
        y_fused, y_ref = getattr(fused, fwd)(x, -1), getattr(ref, fwd)(x, -1)
        close(xp, y_fused, y_ref, dtype)
        close(xp, getattr(fused, bwd)(g, y_ref, -1), getattr(ref, bwd)(g, y_ref, -1), dtype)
        # a broadcast (non-contiguous) upstream gradient, as from a sum's backward
        gb = xp.broadcast_to(xp.ones((1,) + shape[1:], dtype=dtype), shape)
        close(xp, getattr(fused, bwd)(gb, y_ref, -1), getattr(ref, bwd)(gb, y_ref, -1), dtype)


def check_softmax_edge_rows(xp, fused, ref, dtype):
    x = xp.asarray(np.array([[0.0, -np.inf, 1.0, 2.0], [-np.inf, -np.inf, 3.0, -np.inf],
                             [1e4, -1e4, 0.0, 1e4]], dtype=dtype))
    for name in ("softmax", "log_softmax"):
        close(xp, getattr(fused, name)(x, 1), getattr(ref, name)(x, 1), dtype)


def check_softmax_fallbacks(xp, fused, ref, dtype):
    x = data(xp, (6, 5, 4), dtype, 5)
    for name in ("softmax", "log_softmax"):
        close(xp, getattr(fused, name)(x, 0), getattr(ref, name)(x, 0), dtype)
        xt = x.transpose(2, 1, 0)
        close(xp, getattr(fused, name)(xt, -1), getattr(ref, name)(xt, -1), dtype)


def check_cross_entropy(xp, fused, ref, dtype, shape, smoothing, tdtype=np.int64):
    rows, cols = shape
    z = data(xp, shape, dtype, 6, 4.0)
    t = xp.asarray(np.random.default_rng(7).integers(0, cols, rows).astype(tdtype))
    loss_f, logp_f = fused.softmax_cross_entropy_indices(z, t, smoothing)
    loss_r, logp_r = ref.softmax_cross_entropy_indices(z, t, smoothing)
    close(xp, loss_f, loss_r, dtype)
    close(xp, logp_f, logp_r, dtype)
    g = data(xp, (rows,), dtype, 8)
    close(xp, fused.softmax_cross_entropy_indices_backward(g, logp_r, t, smoothing),
          ref.softmax_cross_entropy_indices_backward(g, logp_r, t, smoothing), dtype)


def check_layer_norm(xp, fused, ref, dtype, shape, k, affine):
    x = data(xp, shape, dtype, 9, 2.0) + 1.5
    pshape = shape[len(shape) - k:]
    w = data(xp, pshape, dtype, 10) if affine else None
    b = data(xp, pshape, dtype, 11) if affine else None
    axes = tuple(range(len(shape) - k, len(shape)))
    out_f = fused.layer_norm_forward(x, w, b, 1e-5, axes)
    out_r = ref.layer_norm_forward(x, w, b, 1e-5, axes)
    for a, r in zip(out_f, out_r):
        close(xp, a, r, dtype)
    _, xhat, rstd = out_r
    g = data(xp, shape, dtype, 12)
    grads_f = fused.norm_backward(g, xhat, rstd, w, axes, tuple(range(len(shape) - k)))
    grads_r = ref.norm_backward(g, xhat, rstd, w, axes, tuple(range(len(shape) - k)))
    for a, r in zip(grads_f, grads_r):
        if r is None:
            assert a is None
        else:
            close(xp, a, r, dtype, scaled=True)


def check_batch_norm(xp, fused, ref, dtype, shape, affine):
    n, c = shape
    x = data(xp, shape, dtype, 13, 2.0) - 0.7
    w = data(xp, (1, c), dtype, 14) if affine else None
    b = data(xp, (1, c), dtype, 15) if affine else None
    out_f = fused.batch_norm_train(x, w, b, 1e-5, (0,))
    out_r = ref.batch_norm_train(x, w, b, 1e-5, (0,))
    for a, r in zip(out_f, out_r):
        close(xp, a, r, dtype)
    _, xhat, _, _, rstd = out_r
    g = data(xp, shape, dtype, 16)
    grads_f = fused.norm_backward(g, xhat, rstd, w, (0,), (0,))
    grads_r = ref.norm_backward(g, xhat, rstd, w, (0,), (0,))
    for a, r in zip(grads_f, grads_r):
        if r is None:
            assert a is None
        else:
            close(xp, a, r, dtype, scaled=True)


def check_dropout(xp, fused, ref, dtype, make_rng):
    for p in (0.0, 0.3, 0.9):
        m_f = fused.dropout_mask(make_rng(), (33, 65), p, np.dtype(dtype))
        m_r = ref.dropout_mask(make_rng(), (33, 65), p, np.dtype(dtype))
        close(xp, m_f, m_r, dtype, rtol=0, atol=0)


def _optim_arrays(xp, dtype, n, shape=(17, 31)):
    return [data(xp, shape, dtype, 20 + i, 0.5) for i in range(n)]


def _exact_or_tol(exact):
    return dict(rtol=0, atol=0) if exact else {}


def check_sgd(xp, fused, ref, dtype, exact):
    combos = itertools.product((0.0, 0.9), (0.0, 0.1), (False, True), (0.0, 1e-2), (False, True))
    for momentum, dampening, nesterov, wd, maximize in combos:
        if nesterov and (momentum == 0 or dampening):
            continue
        p0, g0 = _optim_arrays(xp, dtype, 2)
        states = []
        for table in (fused, ref):
            p, buf = p0.copy(), (xp.zeros_like(p0) if momentum else None)
            for step in range(3):
                g = g0 * (step + 1)
                table.sgd_update(p, g, buf, 0.05, momentum, dampening, nesterov, wd, step == 0,
                                 maximize)
            states.append((p, buf))
        (pf, bf), (pr, br) = states
        close(xp, pf, pr, dtype, **_exact_or_tol(exact))
        if momentum:
            close(xp, bf, br, dtype, **_exact_or_tol(exact))


def check_adam(xp, fused, ref, dtype, exact):
    combos = itertools.product((0.9, 0.3), (0.0, 1e-2), (False, True), (False, True),
                               (False, True))
    for beta1, wd, decoupled, amsgrad, maximize in combos:
        p0, g0 = _optim_arrays(xp, dtype, 2)
        states = []
        for table in (fused, ref):
            p, m, v = p0.copy(), xp.zeros_like(p0), xp.zeros_like(p0)
            vmax = xp.zeros_like(p0) if amsgrad else None
            for step in range(1, 4):
                g = g0 * (1 + 0.5 * step) * (-1) ** step
                table.adam_update(p, g, m, v, vmax, 1e-2, beta1, 0.999, 1e-8, wd, step,
                                  decoupled, maximize)
            states.append((p, m, v, vmax))
        for a, r in zip(*states):
            if r is not None:
                close(xp, a, r, dtype, **_exact_or_tol(exact))


def check_rmsprop(xp, fused, ref, dtype, exact):
    combos = itertools.product((0.99, 0.3), (0.0, 1e-2), (0.0, 0.9), (False, True),
                               (False, True))
    for alpha, wd, momentum, centered, maximize in combos:
        p0, g0 = _optim_arrays(xp, dtype, 2)
        states = []
        for table in (fused, ref):
            p, sq = p0.copy(), xp.zeros_like(p0)
            ga = xp.zeros_like(p0) if centered else None
            buf = xp.zeros_like(p0) if momentum else None
            for step in range(3):
                g = g0 * (step + 1)
                table.rmsprop_update(p, g, sq, ga, buf, 1e-2, alpha, 1e-8, wd, momentum,
                                     maximize)
            states.append((p, sq, ga, buf))
        for a, r in zip(*states):
            if r is not None:
                close(xp, a, r, dtype, **_exact_or_tol(exact))
