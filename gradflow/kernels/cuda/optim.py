"""Fused in-place optimizer updates: one ``ElementwiseKernel`` per optimizer (and state layout).

Same arguments and in-place semantics as :mod:`gradflow.kernels.optim`, and the same sequence
of float operations: every hyperparameter is rounded to the array dtype exactly where NumPy
would round the Python scalar, the lerp uses PyTorch's two-branch form chosen on the host, and
the kernels are compiled with ``--fmad=false`` so no multiply-add is contracted. The fused update
therefore matches the generic one to the last bit (float32 and float64), with one pass over
memory instead of about ten. Branches on the flags are uniform across the launch. ``tmp`` (the
generic kernels' optional scratch arrays) is accepted and unused: nothing is kept between passes.
"""

from __future__ import annotations

from gradflow.kernels.cuda._common import EW, Overrides, elementwise, floats

_NO_FMA = ("--fmad=false",)

# flags: 1 maximize, 2 weight decay, 4 first step (buf ← d), 8 Nesterov
_SGD_IN = "T g, T lr, T wd, T mom, T damp_c, int32 flags"
_SGD_HEAD = "T d = (flags & 1) ? -g : g; if (flags & 2) d = d + wd * p; "
_SGD_MOMENTUM = ("if (flags & 4) { buf = d; } else { buf = buf * mom; buf = buf + damp_c * d; } "
                 "d = (flags & 8) ? d + mom * buf : buf; ")
_SGD_TAIL = "p = p - lr * d"

# flags: 1 maximize, 2 decoupled decay (p ← p·decay), 4 L2 decay (g ← g + wd·p),
#        8 lerp in its second branch (m ← g − (g − m)·lw)
_ADAM_IN = "T g, T decay, T wd, T lw, T beta2, T c2, T bc2s, T eps, T step_size, int32 flags"
_ADAM_HEAD = ("T gg = (flags & 1) ? -g : g; if (flags & 2) p = p * decay; "
              "if (flags & 4) gg = gg + wd * p; "
              "T d = gg - m; d = d * lw; if (flags & 8) { m = gg - d; } else { m = m + d; } "
              "v = v * beta2; v = v + c2 * gg * gg; ")
_ADAM_AMS = "vmax = (v > vmax || v != v) ? v : vmax; T den = sqrt(vmax); "
_ADAM_PLAIN = "T den = sqrt(v); "
_ADAM_TAIL = "den = den / bc2s; den = den + eps; den = m / den; den = den * step_size; p = p - den"

# flags: 1 maximize, 2 weight decay, 8 lerp in its second branch
_RMS_IN = "T g, T wd, T alpha, T c1, T lw, T eps, T lr, T mom, int32 flags"
_RMS_HEAD = ("T gg = (flags & 1) ? -g : g; if (flags & 2) gg = gg + wd * p; "
             "sq = sq * alpha; sq = sq + c1 * gg * gg; ")
_RMS_CENTERED = ("T d = gg - ga; d = d * lw; if (flags & 8) { ga = gg - d; } else { ga = ga + d; } "
                 "T avg = sq - ga * ga; avg = sqrt(avg); ")
_RMS_PLAIN = "T avg = sqrt(sq); "
_RMS_MOMENTUM = ("avg = avg + eps; buf = buf * mom; avg = gg / avg; buf = buf + avg; "
                 "p = p - lr * buf")
_RMS_NO_MOMENTUM = "avg = avg + eps; avg = gg / avg; avg = avg * lr; p = p - avg"

EW_SPECS = {
    "sgd": EW(_SGD_IN, "T p", _SGD_HEAD + _SGD_TAIL, options=_NO_FMA),
    "sgd_momentum": EW(_SGD_IN, "T p, T buf", _SGD_HEAD + _SGD_MOMENTUM + _SGD_TAIL,
                       options=_NO_FMA),
    "adam": EW(_ADAM_IN, "T p, T m, T v", _ADAM_HEAD + _ADAM_PLAIN + _ADAM_TAIL, options=_NO_FMA),
    "adam_amsgrad": EW(_ADAM_IN, "T p, T m, T v, T vmax", _ADAM_HEAD + _ADAM_AMS + _ADAM_TAIL,
                       options=_NO_FMA),
    "rmsprop": EW(_RMS_IN, "T p, T sq", _RMS_HEAD + _RMS_PLAIN + _RMS_NO_MOMENTUM,
                  options=_NO_FMA),
    "rmsprop_momentum": EW(_RMS_IN, "T p, T sq, T buf", _RMS_HEAD + _RMS_PLAIN + _RMS_MOMENTUM,
                           options=_NO_FMA),
    "rmsprop_centered": EW(_RMS_IN, "T p, T sq, T ga",
                           _RMS_HEAD + _RMS_CENTERED + _RMS_NO_MOMENTUM, options=_NO_FMA),
    "rmsprop_centered_momentum": EW(_RMS_IN, "T p, T sq, T ga, T buf",
                                    _RMS_HEAD + _RMS_CENTERED + _RMS_MOMENTUM, options=_NO_FMA),
}


def _lerp_args(weight: float) -> tuple[float, int]:
    """PyTorch's lerp branch for ``weight`` as (scalar, flag bit): |w| < 0.5 multiplies by w,
    else by 1 − w (both computed in Python double, as the generic kernel does)."""
    return (weight, 0) if abs(weight) < 0.5 else (1 - weight, 8)


def _same(p, *arrays) -> bool:
    """p is float32/float64 and every state array given has its dtype and shape."""
    return floats(p, *arrays) and all(a is None or a.shape == p.shape for a in arrays)


def _sgd_fits(p, g, buf, lr, momentum, dampening, nesterov, weight_decay, first_step,
              maximize=False, tmp=None) -> bool:
    return _same(p, g, buf) and not (momentum and buf is None)


def _adam_fits(p, g, m, v, vmax, lr, beta1, beta2, eps, weight_decay, step, decoupled,
               maximize=False, tmp=None) -> bool:
    return _same(p, g, m, v, vmax)


def _rmsprop_fits(p, g, square_avg, grad_avg, buf, lr, alpha, eps, weight_decay, momentum,
                  maximize=False, tmp=None) -> bool:
    return _same(p, g, square_avg, grad_avg, buf) and not (momentum and buf is None)


def _ew(name: str):
    return elementwise(name, EW_SPECS[name])


def overrides(backend, generic) -> dict:
    table = Overrides(backend, generic)

    @table.fused(fits=_sgd_fits)
    def sgd_update(p, g, buf, lr, momentum, dampening, nesterov, weight_decay, first_step,
                   maximize=False, tmp=None):
        flags = ((1 if maximize else 0) | (2 if weight_decay else 0) | (4 if first_step else 0)
                 | (8 if nesterov else 0))
        args = (g, lr, weight_decay, momentum, 1 - dampening, flags)
        if momentum:
            _ew("sgd_momentum")(*args, p, buf)
        else:
            _ew("sgd")(*args, p)

    @table.fused(fits=_adam_fits)
    def adam_update(p, g, m, v, vmax, lr, beta1, beta2, eps, weight_decay, step, decoupled,
                    maximize=False, tmp=None):
        lw, hi = _lerp_args(1 - beta1)
        flags = (1 if maximize else 0) | hi
        if weight_decay:
            flags |= 2 if decoupled else 4
        bc1 = 1 - beta1 ** step
        bc2_sqrt = (1 - beta2 ** step) ** 0.5
        args = (g, 1 - lr * weight_decay, weight_decay, lw, beta2, 1 - beta2, bc2_sqrt, eps,
                lr / bc1, flags)
        if vmax is not None:
            _ew("adam_amsgrad")(*args, p, m, v, vmax)
        else:
            _ew("adam")(*args, p, m, v)

    @table.fused(fits=_rmsprop_fits)
    def rmsprop_update(p, g, square_avg, grad_avg, buf, lr, alpha, eps, weight_decay, momentum,
                       maximize=False, tmp=None):
        lw, hi = _lerp_args(1 - alpha)
        flags = (1 if maximize else 0) | (2 if weight_decay else 0) | hi
        args = (g, weight_decay, alpha, 1 - alpha, lw, eps, lr, momentum, flags)
        name = "rmsprop" + ("_centered" if grad_avg is not None else "") + (
            "_momentum" if momentum else "")
        state = (square_avg,) + ((grad_avg,) if grad_avg is not None else ()) + (
            (buf,) if momentum else ())
        _ew(name)(*args, p, *state)

    return table.kernels
