"""Adam and AdamW (decoupled weight decay), with optional AMSGrad."""

from __future__ import annotations

from typing import Any

from gradflow.optim.optimizer import Optimizer, ParamsT, check_number, zeros_like


class Adam(Optimizer):
    r"""Adam (Kingma & Ba), PyTorch's update step for step.

    With gradient :math:`g_t` (plus :math:`\lambda p_{t-1}` for L2 weight decay; AdamW instead
    scales :math:`p_{t-1}` by :math:`1 - \mathrm{lr}\,\lambda`):

    .. math::
        m_t = \beta_1 m_{t-1} + (1-\beta_1) g_t, \qquad
        v_t = \beta_2 v_{t-1} + (1-\beta_2) g_t^2, \qquad
        \hat v_t = \max(\hat v_{t-1}, v_t) \text{ (AMSGrad, else } v_t),

        p_t = p_{t-1} - \frac{\mathrm{lr}}{1-\beta_1^t}\,
              \frac{m_t}{\sqrt{\hat v_t}/\sqrt{1-\beta_2^t} + \epsilon}.

    State: ``step`` (a Python int), ``exp_avg``, ``exp_avg_sq``, ``max_exp_avg_sq`` (AMSGrad).

    Args:
        params: Tensors or parameter-group dicts.
        lr: learning rate (>= 0).
        betas: decay rates of the first and second moments, each in [0, 1).
        eps: added to the denominator (>= 0).
        weight_decay: L2 penalty (>= 0).
        amsgrad: use the running maximum of the second moment.
        maximize: ascend the objective instead of descending it.
        decoupled_weight_decay: decay the weights directly (AdamW) instead of adding to g.
        foreach, fused: PyTorch's implementation switches, accepted and kept in the groups; every
            setting runs the same update (see :class:`~gradflow.optim.Optimizer`).
        capturable, differentiable: only ``False`` (no CUDA-graph capture, no autograd through
            the step).
    """

    def __init__(self, params: ParamsT, lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, amsgrad: bool = False, *,
                 foreach: bool | None = None, maximize: bool = False, capturable: bool = False,
                 differentiable: bool = False, fused: bool | None = None,
                 decoupled_weight_decay: bool = False):
        super().__init__(params, {"lr": lr, "betas": betas, "eps": eps,
                                  "weight_decay": weight_decay, "amsgrad": amsgrad,
                                  "maximize": maximize, "foreach": foreach,
                                  "capturable": capturable, "differentiable": differentiable,
                                  "fused": fused,
                                  "decoupled_weight_decay": decoupled_weight_decay})

    def _validate(self, group: dict[str, Any], where: str) -> None:
        check_number(self, "lr", group["lr"], where)
        check_number(self, "eps", group["eps"], where)
        check_number(self, "weight_decay", group["weight_decay"], where)
        betas = group["betas"]
        if not isinstance(betas, tuple | list) or len(betas) != 2:
            raise TypeError(f"{type(self).__name__}: betas must be a pair (beta1, beta2), got "
                            f"{betas!r}{where}")
        check_number(self, "betas[0]", betas[0], where, high=1.0)
        check_number(self, "betas[1]", betas[1], where, high=1.0)

    def _update(self, group: dict[str, Any]) -> None:
        lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
        weight_decay, amsgrad, maximize = group["weight_decay"], group["amsgrad"], group["maximize"]
        decoupled = group["decoupled_weight_decay"]
        state = self.state
        keys = ("exp_avg", "exp_avg_sq", "max_exp_avg_sq" if amsgrad else None)
        items = []
        for p in group["params"]:
            g = p.grad
            if g is None:
                continue
            st = state[p]
            if not st:
                st["step"] = 0
                st["exp_avg"] = zeros_like(p)
                st["exp_avg_sq"] = zeros_like(p)
            if amsgrad and "max_exp_avg_sq" not in st:
                st["max_exp_avg_sq"] = zeros_like(p)
            st["step"] += 1
            items.append((p, g.array, st, keys, (lr, beta1, beta2, eps, weight_decay, st["step"],
                                                 decoupled, maximize)))
        self._run_kernel("adam_update", items)


class AdamW(Adam):
    r"""Adam with decoupled weight decay (Loshchilov & Hutter): before the Adam step,
    :math:`p \leftarrow p\,(1 - \mathrm{lr}\,\lambda)`; the gradient is left alone.

    Same arguments as :class:`Adam`; ``weight_decay`` defaults to ``1e-2``.
    """

    def __init__(self, params: ParamsT, lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2, amsgrad: bool = False, *, maximize: bool = False,
                 foreach: bool | None = None, capturable: bool = False,
                 differentiable: bool = False, fused: bool | None = None):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize,
                         foreach=foreach, capturable=capturable, differentiable=differentiable,
                         fused=fused, decoupled_weight_decay=True)
