"""Optimizer update kernels. Every update is in place on the parameter and state arrays.

The formulas and their order follow PyTorch's single-tensor (``foreach=False``) implementations,
so results agree to float rounding. Hyperparameters are Python numbers: nothing here reads a
value back from the device, so a step never synchronises host and GPU.
"""

from __future__ import annotations

from gradflow.kernels import kernel


def _lerp_(xp, a, b, weight, tmp=None):
    """``a ← a + weight·(b − a)`` in place, in PyTorch's two-branch form (``torch.lerp``);
    ``tmp`` (shaped like ``a``, or None: a new array) receives the difference; returned."""
    d = xp.subtract(b, a, out=tmp)
    if abs(weight) < 0.5:
        d *= weight
        a += d
    else:
        d *= 1 - weight
        xp.subtract(b, d, out=a)
    return d


def _scratch(tmp):
    """The two scratch arrays for the intermediates, or ``(None, None)``: each ``out=`` below
    then makes a new array, as the plain expressions would."""
    return (None, None) if tmp is None else tmp


@kernel
def sgd_update(xp, p, g, buf, lr, momentum, dampening, nesterov, weight_decay, first_step,
               maximize=False, tmp=None):
    """SGD with L2 weight decay, momentum (``buf`` updated in place), dampening and Nesterov.

    d ← ±g + wd·p;  buf ← d on the first step, else μ·buf + (1 − τ)·d;
    d ← d + μ·buf (Nesterov) or buf;  p ← p − lr·d.

    ``tmp``: optional pair of scratch arrays shaped like ``p`` for the intermediates (the CPU
    optimizers pass cache-sized blocks); the float operations are the same either way.
    """
    t1, t2 = _scratch(tmp)
    d = xp.negative(g, out=t1) if maximize else g
    if weight_decay:
        t2 = xp.multiply(p, weight_decay, out=t2)
        d = t1 = xp.add(d, t2, out=t1)
    if momentum:
        if first_step:
            buf[...] = d
        else:
            buf *= momentum
            t2 = xp.multiply(d, 1 - dampening, out=t2)
            buf += t2
        if nesterov:
            t2 = xp.multiply(buf, momentum, out=t2)
            d = xp.add(d, t2, out=t1)
        else:
            d = buf
    t2 = xp.multiply(d, lr, out=t2)
    p -= t2


@kernel
def adam_update(xp, p, g, m, v, vmax, lr, beta1, beta2, eps, weight_decay, step, decoupled,
                maximize=False, tmp=None):
    """Adam (L2 decay added to g) or AdamW (decoupled: p ← p·(1 − lr·wd)); ``vmax`` for AMSGrad.

    m ← lerp(m, g, 1 − β1);  v ← β2·v + (1 − β2)·g²;  v̂ = max(v̂, v) (AMSGrad);
    p ← p − lr/(1 − β1^t) · m / (√v / √(1 − β2^t) + ε).  ``tmp``: as in :func:`sgd_update`.
    """
    t1, t2 = _scratch(tmp)
    if maximize:
        g = t1 = xp.negative(g, out=t1)
    if weight_decay:
        if decoupled:
            p *= 1 - lr * weight_decay
        else:
            t2 = xp.multiply(p, weight_decay, out=t2)
            g = t1 = xp.add(g, t2, out=t1)
    t2 = _lerp_(xp, m, g, 1 - beta1, t2)
    v *= beta2
    t2 = xp.multiply(g, 1 - beta2, out=t2)
    t2 *= g
    v += t2
    bc1 = 1 - beta1 ** step
    bc2_sqrt = (1 - beta2 ** step) ** 0.5
    if vmax is not None:
        xp.maximum(vmax, v, out=vmax)
        denom = xp.sqrt(vmax, out=t1)
    else:
        denom = xp.sqrt(v, out=t1)
    denom /= bc2_sqrt
    denom += eps
    xp.divide(m, denom, out=denom)
    denom *= lr / bc1
    p -= denom


@kernel
def rmsprop_update(xp, p, g, square_avg, grad_avg, buf, lr, alpha, eps, weight_decay, momentum,
                   maximize=False, tmp=None):
    """RMSprop, optionally centered (``grad_avg``) and with momentum (``buf``).

    s ← α·s + (1 − α)·g²;  ḡ ← lerp(ḡ, g, 1 − α) (centered);  a = √(s − ḡ²) + ε;
    buf ← μ·buf + g/a, p ← p − lr·buf (momentum) or p ← p − lr·g/a.
    ``tmp``: as in :func:`sgd_update`.
    """
    t1, t2 = _scratch(tmp)
    if maximize:
        g = t1 = xp.negative(g, out=t1)
    if weight_decay:
        t2 = xp.multiply(p, weight_decay, out=t2)
        g = t1 = xp.add(g, t2, out=t1)
    square_avg *= alpha
    t2 = xp.multiply(g, 1 - alpha, out=t2)
    t2 *= g
    square_avg += t2
    if grad_avg is not None:
        t2 = _lerp_(xp, grad_avg, g, 1 - alpha, t2)
        t2 = xp.multiply(grad_avg, grad_avg, out=t2)
        avg = xp.subtract(square_avg, t2, out=t2)
        xp.sqrt(avg, out=avg)
    else:
        avg = xp.sqrt(square_avg, out=t2)
    avg += eps
    xp.divide(g, avg, out=avg)
    if momentum:
        buf *= momentum
        buf += avg
        xp.multiply(buf, lr, out=avg)
    else:
        avg *= lr
    p -= avg
