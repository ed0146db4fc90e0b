"""Adadelta: steps scaled by the ratio of running RMS of past updates and of gradients."""

from __future__ import annotations

from typing import Any

from gradflow.optim.optimizer import Optimizer, ParamsT, check_number, zeros_like


def _adadelta_update(xp, p, g, square_avg, acc_delta, lr, rho, eps, weight_decay, maximize):
    """One Adadelta step in place (PyTorch's order of operations)."""
    if maximize:
        g = -g
    if weight_decay:
        g = g + weight_decay * p
    square_avg *= rho
    square_avg += (1 - rho) * g * g
    std = square_avg + eps
    xp.sqrt(std, out=std)
    delta = acc_delta + eps
    xp.sqrt(delta, out=delta)
    delta /= std
    delta *= g
    acc_delta *= rho
    acc_delta += (1 - rho) * delta * delta
    delta *= lr
    p -= delta


class Adadelta(Optimizer):
    r"""Adadelta (Zeiler), PyTorch's update step for step.

    With gradient :math:`g_t` (plus :math:`\lambda p_{t-1}` for weight decay):

    .. math::
        v_t = \rho v_{t-1} + (1-\rho) g_t^2, \qquad
        \Delta_t = \frac{\sqrt{u_{t-1} + \epsilon}}{\sqrt{v_t + \epsilon}}\, g_t, \qquad
        u_t = \rho u_{t-1} + (1-\rho) \Delta_t^2, \qquad
        p_t = p_{t-1} - \mathrm{lr}\,\Delta_t.

    State: ``step`` (a Python int), ``square_avg`` (:math:`v`), ``acc_delta`` (:math:`u`).

    Args:
        params: Tensors or parameter-group dicts.
        lr: scale of the update (>= 0; 1.0 is the method as published).
        rho: decay of the running averages, in [0, 1].
        eps: added inside both square roots (>= 0).
        weight_decay: L2 penalty (>= 0).
        foreach: PyTorch's implementation switch, accepted and kept in the groups (same update).
        capturable, differentiable: only ``False``.
        maximize: ascend the objective instead of descending it.
    """

    def __init__(self, params: ParamsT, lr: float = 1.0, rho: float = 0.9, eps: float = 1e-6,
                 weight_decay: float = 0.0, foreach: bool | None = None, *,
                 capturable: bool = False, maximize: bool = False, differentiable: bool = False):
        super().__init__(params, {"lr": lr, "rho": rho, "eps": eps,
                                  "weight_decay": weight_decay, "foreach": foreach,
                                  "capturable": capturable, "maximize": maximize,
                                  "differentiable": differentiable})

    def _validate(self, group: dict[str, Any], where: str) -> None:
        check_number(self, "lr", group["lr"], where)
        check_number(self, "rho", group["rho"], where, high=1.0, closed=True)
        check_number(self, "eps", group["eps"], where)
        check_number(self, "weight_decay", group["weight_decay"], where)

    def _update(self, group: dict[str, Any]) -> None:
        lr, rho, eps = group["lr"], group["rho"], group["eps"]
        weight_decay, maximize = group["weight_decay"], group["maximize"]
        state = self.state
        for p in group["params"]:
            g = p.grad
            if g is None:
                continue
            st = state[p]
            if not st:
                st["step"] = 0
                st["square_avg"] = zeros_like(p)
                st["acc_delta"] = zeros_like(p)
            st["step"] += 1
            _adadelta_update(p._backend.xp, p.array, g.array, st["square_avg"].array,
                             st["acc_delta"].array, lr, rho, eps, weight_decay, maximize)
            p.increment_version()
