"""Loss kernels: fused softmax-cross-entropy, BCE (on probabilities and on logits), squared
error.

Cross-entropy with target distribution q over C classes (one-hot for class indices, mixed with the
uniform distribution by label smoothing ε: q' = (1 − ε) q + ε/C):

    ℓ = −Σ_c q'_c log softmax(z)_c = logsumexp(z) Σ_c q'_c − Σ_c q'_c z_c,
    dℓ/dz = softmax(z) Σ_c q'_c − q'.
"""

from __future__ import annotations

from gradflow.dtypes import compute_in_float32
from gradflow.kernels import kernel
from gradflow.kernels.activation import log_softmax, sigmoid


@kernel
def index_range(xp, target):
    """``[min, max]`` of a non-empty index array, as one array (one host read for both)."""
    return xp.stack((target.min(), target.max()))


@kernel
def value_bounds(xp, *arrays):
    """``[min a, max a, min b, max b, ...]`` of non-empty arrays, as one array (one host read);
    NaN where an array holds a NaN."""
    return xp.stack([f(a) for a in arrays for f in (xp.min, xp.max)])


@kernel
def smoothed_target(xp, target, num_classes, dtype, label_smoothing=0.0, indices=True):
    """The target distribution q' as a dense ``(N, C, ...)`` array."""
    if indices:
        shape = (target.shape[0], num_classes) + target.shape[1:]
        q = xp.zeros(shape, dtype=dtype)
        idx = xp.expand_dims(target, 1)
        xp.put_along_axis(q, idx, 1, axis=1)
    else:
        q = target.astype(dtype, copy=False)
    if label_smoothing:
        q = q * (1 - label_smoothing) + label_smoothing / num_classes
    return q


@kernel
@compute_in_float32
def softmax_cross_entropy(xp, logits, q):
    """Per-example loss over axis 1 and the log-probabilities (saved for backward)."""
    logp = log_softmax(xp, logits, axis=1)
    return -xp.sum(q * logp, axis=1), logp


@kernel
@compute_in_float32
def softmax_cross_entropy_backward(xp, g, logp, q, need_z=True, need_q=False):
    """(dℓ/dz, dℓ/dq) = ((softmax(z) Σ q − q) · g, −log softmax(z) · g), g broadcast over the
    class axis; None for a gradient not needed."""
    g1 = xp.expand_dims(g, 1)
    gz = gq = None
    if need_z:
        gz = xp.exp(logp)
        gz *= xp.sum(q, axis=1, keepdims=True)
        gz -= q
        gz *= g1
    if need_q:
        gq = xp.multiply(logp, g1)
        xp.negative(gq, out=gq)
    return gz, gq


@kernel
@compute_in_float32
def bce_with_logits(xp, z, t):
    """max(z, 0) − z t + log1p(e^{−|z|}): finite for logits of any size."""
    return xp.maximum(z, 0) - z * t + xp.log1p(xp.exp(-xp.abs(z)))


@kernel
@compute_in_float32
def bce_with_logits_backward(xp, g, z, t, need_z=True, need_t=False):
    """(dℓ/dz, dℓ/dt) = ((σ(z) − t) · g, −z · g); None for a gradient not needed."""
    gz = gt = None
    if need_z:
        gz = sigmoid(xp, z)
        gz -= t
        gz *= g
    if need_t:
        gt = xp.multiply(z, g)
        xp.negative(gt, out=gt)
    return gz, gt


BCE_EPS = 9.999999960041972e-13  # PyTorch's EPSILON of the BCE gradient: 1e-12 as a float32


def _logs(xp, p, floor):
    """(log p, log(1 − p)) with ``floor`` where the log would be −inf (no warning at 0 or 1)."""
    pos, below = p > 0, p < 1
    log_p = xp.where(pos, xp.log(xp.where(pos, p, 1)), floor)
    log_q = xp.where(below, xp.log1p(-xp.where(below, p, 0)), floor)
    return log_p, log_q


@kernel
@compute_in_float32
def binary_cross_entropy(xp, p, t):
    """−(t max(log p, −100) + (1 − t) max(log(1 − p), −100)) elementwise (PyTorch's clamp)."""
    log_p, log_q = _logs(xp, p, -100)
    return -(t * xp.maximum(log_p, -100) + (1 - t) * xp.maximum(log_q, -100))


@kernel
@compute_in_float32
def binary_cross_entropy_backward(xp, g, p, t, need_p=True, need_t=False):
    """(dℓ/dp, dℓ/dt) = ((p − t) / max(p (1 − p), ε) · g, (log(1 − p) − log p) · g), as
    PyTorch (the first finite at p ∈ {0, 1}, the second ±inf there)."""
    gp = gt = None
    if need_p:
        gp = xp.subtract(p, t)
        gp /= xp.maximum(p * (1 - p), BCE_EPS)
        gp *= g
    if need_t:
        log_p, log_q = _logs(xp, p, -float("inf"))
        gt = (log_q - log_p) * g
    return gp, gt


@kernel
def squared_error(xp, a, b):
    d = a - b
    return d * d


@kernel
def squared_error_backward(xp, g, a, b, need_a=True, need_b=False):
    """(dℓ/da, dℓ/db) = (2(a − b) · g, −2(a − b) · g); None for a gradient not needed."""
    d = xp.subtract(a, b)
    d *= 2
    d *= g
    return (d if need_a else None), (xp.negative(d) if need_b else None)


@kernel
@compute_in_float32
def softmax_cross_entropy_indices(xp, logits, target, label_smoothing=0.0):
    """Per-example loss from class indices (N, d...) without building the dense target:
    ℓ = −(1 − ε) log p_y − (ε/C) Σ_c log p_c. Returns the loss and log-probabilities."""
    logp = log_softmax(xp, logits, axis=1)
    picked = xp.take_along_axis(logp, xp.expand_dims(target, 1), axis=1).squeeze(1)
    if not label_smoothing:
        return -picked, logp
    c = logits.shape[1]
    return (-(1 - label_smoothing) * picked
            - (label_smoothing / c) * xp.sum(logp, axis=1)), logp


@kernel
@compute_in_float32
def softmax_cross_entropy_indices_backward(xp, g, logp, target, label_smoothing=0.0):
    """dℓ/dz = (softmax(z) − q') · g with q' = (1 − ε) onehot(y) + ε/C, in place on softmax."""
    p = xp.exp(logp)
    if label_smoothing:
        p -= label_smoothing / logp.shape[1]
    if p.ndim == 2:
        p[xp.arange(p.shape[0]), target] -= 1 - label_smoothing
    else:
        idx = xp.expand_dims(target, 1)
        xp.put_along_axis(p, idx, xp.take_along_axis(p, idx, axis=1) - (1 - label_smoothing),
                          axis=1)
    p *= xp.expand_dims(g, 1)
    return p
