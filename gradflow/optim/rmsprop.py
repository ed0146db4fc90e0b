"""RMSprop, optionally centered and with momentum."""

from __future__ import annotations

from typing import Any

from gradflow.optim.optimizer import Optimizer, ParamsT, check_number, zeros_like


class RMSprop(Optimizer):
    r"""RMSprop (Hinton), PyTorch's update step for step.

    With gradient :math:`g_t` (plus :math:`\lambda p_{t-1}` for weight decay):

    .. math::
        s_t = \alpha s_{t-1} + (1-\alpha) g_t^2, \qquad
        \bar g_t = \alpha \bar g_{t-1} + (1-\alpha) g_t \text{ (centered)}, \qquad
        a_t = \sqrt{s_t - \bar g_t^2} + \epsilon \text{ (centered, else } \sqrt{s_t} + \epsilon),

        b_t = \mu b_{t-1} + g_t / a_t, \quad p_t = p_{t-1} - \mathrm{lr}\,b_t
        \qquad (\text{without momentum: } p_t = p_{t-1} - \mathrm{lr}\,g_t / a_t).

    State: ``step``, ``square_avg``, ``momentum_buffer`` (momentum > 0), ``grad_avg`` (centered).

    Args:
        params: Tensors or parameter-group dicts.
        lr: learning rate (>= 0).
        alpha: smoothing constant in [0, 1].
        eps: added to the denominator (>= 0).
        weight_decay: L2 penalty (>= 0).
        momentum: momentum factor (>= 0).
        centered: normalise by the estimated variance of the gradient instead of its second moment.
        capturable, differentiable: only ``False`` (no CUDA-graph capture, no autograd through
            the step).
        foreach: PyTorch's implementation switch, accepted and kept in the groups; every
            setting runs the same update (see :class:`~gradflow.optim.Optimizer`).
        maximize: ascend the objective instead of descending it.
    """

    def __init__(self, params: ParamsT, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum: float = 0.0, centered: bool = False,
                 capturable: bool = False, foreach: bool | None = None, maximize: bool = False,
                 differentiable: bool = False):
        super().__init__(params, {"lr": lr, "alpha": alpha, "eps": eps,
                                  "weight_decay": weight_decay, "momentum": momentum,
                                  "centered": centered, "capturable": capturable,
                                  "foreach": foreach, "maximize": maximize,
                                  "differentiable": differentiable})

    def _validate(self, group: dict[str, Any], where: str) -> None:
        check_number(self, "lr", group["lr"], where)
        check_number(self, "alpha", group["alpha"], where, high=1.0, closed=True)
        check_number(self, "eps", group["eps"], where)
        check_number(self, "weight_decay", group["weight_decay"], where)
        check_number(self, "momentum", group["momentum"], where)

    def _update(self, group: dict[str, Any]) -> None:
        lr, alpha, eps = group["lr"], group["alpha"], group["eps"]
        weight_decay, momentum = group["weight_decay"], group["momentum"]
        centered, maximize = group["centered"], group["maximize"]
        state = self.state
        keys = ("square_avg", "grad_avg" if centered else None,
                "momentum_buffer" if momentum > 0 else None)
        items = []
        for p in group["params"]:
            g = p.grad
            if g is None:
                continue
            st = state[p]
            if not st:
                st["step"] = 0
                st["square_avg"] = zeros_like(p)
            if centered and "grad_avg" not in st:
                st["grad_avg"] = zeros_like(p)
            if momentum > 0 and "momentum_buffer" not in st:
                st["momentum_buffer"] = zeros_like(p)
            st["step"] += 1
            items.append((p, g.array, st, keys, (lr, alpha, eps, weight_decay, momentum,
                                                 maximize)))
        self._run_kernel("rmsprop_update", items)
