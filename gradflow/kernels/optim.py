"""Optimizer update kernels. Every update is in place on the parameter and state arrays.

The formulas and their order follow PyTorch's single-tensor (``foreach=False``) implementations,
so results agree to float rounding. Hyperparameters are Python numbers: nothing here reads a
value back from the device, so a step never synchronises host and GPU.
"""

from __future__ import annotations

from gradflow.kernels import kernel


def _lerp_(xp, a, b, weight):
    """``a ← a + weight·(b − a)`` in place, in PyTorch's two-branch form (``torch.lerp``)."""
    if abs(weight) < 0.5:
        d = b - a
        d *= weight
        a += d
    else:
        d = b - a
        d *= 1 - weight
        xp.subtract(b, d, out=a)


@kernel
def sgd_update(xp, p, g, buf, lr, momentum, dampening, nesterov, weight_decay, first_step,
               maximize=False):
    """SGD with L2 weight decay, momentum (``buf`` updated in place), dampening and Nesterov.

    d ← ±g + wd·p;  buf ← d on the first step, else μ·buf + (1 − τ)·d;
    d ← d + μ·buf (Nesterov) or buf;  p ← p − lr·d.
    """
    d = -g if maximize else g
    if weight_decay:
        d = d + weight_decay * p
    if momentum:
        if first_step:
            buf[...] = d
        else:
            buf *= momentum
            buf += (1 - dampening) * d
        d = d + momentum * buf if nesterov else buf
    p -= lr * d


@kernel
def adam_update(xp, p, g, m, v, vmax, lr, beta1, beta2, eps, weight_decay, step, decoupled,
                maximize=False):
    """Adam (L2 decay added to g) or AdamW (decoupled: p ← p·(1 − lr·wd)); ``vmax`` for AMSGrad.

    m ← lerp(m, g, 1 − β1);  v ← β2·v + (1 − β2)·g²;  v̂ = max(v̂, v) (AMSGrad);
    p ← p − lr/(1 − β1^t) · m / (√v / √(1 − β2^t) + ε).
    """
    if maximize:
        g = -g
    if weight_decay:
        if decoupled:
            p *= 1 - lr * weight_decay
        else:
            g = g + weight_decay * p
    _lerp_(xp, m, g, 1 - beta1)
    v *= beta2
    v += (1 - beta2) * g * g
    bc1 = 1 - beta1 ** step
    bc2_sqrt = (1 - beta2 ** step) ** 0.5
    if vmax is not None:
        xp.maximum(vmax, v, out=vmax)
        denom = xp.sqrt(vmax)
    else:
        denom = xp.sqrt(v)
    denom /= bc2_sqrt
    denom += eps
    xp.divide(m, denom, out=denom)
    denom *= lr / bc1
    p -= denom


@kernel
def rmsprop_update(xp, p, g, square_avg, grad_avg, buf, lr, alpha, eps, weight_decay, momentum,
                   maximize=False):
    """RMSprop, optionally centered (``grad_avg``) and with momentum (``buf``).

    s ← α·s + (1 − α)·g²;  ḡ ← lerp(ḡ, g, 1 − α) (centered);  a = √(s − ḡ²) + ε;
    buf ← μ·buf + g/a, p ← p − lr·buf (momentum) or p ← p − lr·g/a.
    """
    if maximize:
        g = -g
    if weight_decay:
        g = g + weight_decay * p
    square_avg *= alpha
    square_avg += (1 - alpha) * g * g
    if grad_avg is not None:
        _lerp_(xp, grad_avg, g, 1 - alpha)
        avg = square_avg - grad_avg * grad_avg
        xp.sqrt(avg, out=avg)
    else:
        avg = xp.sqrt(square_avg)
    avg += eps
    if momentum:
        buf *= momentum
        xp.divide(g, avg, out=avg)
        buf += avg
        p -= lr * buf
    else:
        xp.divide(g, avg, out=avg)
        avg *= lr
        p -= avg
