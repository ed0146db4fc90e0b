"""Optimizer update kernels. Every update is in place on the parameter and state arrays.

The formulas and their order follow PyTorch's single-tensor (``foreach=False``) implementations,
so results agree to float rounding.
"""

from __future__ import annotations

from gradflow.kernels import kernel


@kernel
def sgd_update(xp, p, g, buf, lr, momentum, dampening, nesterov, weight_decay, first_step):
    """SGD with L2 weight decay, momentum (buf updated in place), dampening and Nesterov."""
    d = g + weight_decay * p if weight_decay else g
    if momentum:
        if first_step:
            buf[...] = d
        else:
            buf *= momentum
            buf += (1 - dampening) * d
        d = d + momentum * buf if nesterov else buf
    p -= lr * d


@kernel
def adam_update(xp, p, g, m, v, vmax, lr, beta1, beta2, eps, weight_decay, step, decoupled):
    """Adam (L2 decay added to g) or AdamW (decoupled: p ← p(1 − lr·wd)); ``vmax`` for AMSGrad."""
    if weight_decay:
        if decoupled:
            p *= 1 - lr * weight_decay
        else:
            g = g + weight_decay * p
    m *= beta1
    m += (1 - beta1) * g
    v *= beta2
    v += (1 - beta2) * (g * g)
    bc1 = 1 - beta1 ** step
    bc2_sqrt = (1 - beta2 ** step) ** 0.5
    if vmax is not None:
        xp.maximum(vmax, v, out=vmax)
        denom = xp.sqrt(vmax) / bc2_sqrt + eps
    else:
        denom = xp.sqrt(v) / bc2_sqrt + eps
    p -= (lr / bc1) * (m / denom)


@kernel
def rmsprop_update(xp, p, g, square_avg, grad_avg, buf, lr, alpha, eps, weight_decay, momentum):
    if weight_decay:
        g = g + weight_decay * p
    square_avg *= alpha
    square_avg += (1 - alpha) * (g * g)
    if grad_avg is not None:
        grad_avg *= alpha
        grad_avg += (1 - alpha) * g
        avg = xp.sqrt(square_avg - grad_avg * grad_avg) + eps
    else:
        avg = xp.sqrt(square_avg) + eps
    if momentum:
        buf *= momentum
        buf += g / avg
        p -= lr * buf
    else:
        p -= lr * (g / avg)
