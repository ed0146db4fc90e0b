"""Adagrad: per-coordinate learning rates from the running sum of squared gradients."""

from __future__ import annotations

from typing import Any

from gradflow.nn.parameter import UninitializedParameter
from gradflow.optim.optimizer import Optimizer, ParamsT, check_number
from gradflow.tensor import Tensor


def _adagrad_update(xp, p, g, state_sum, clr, eps, weight_decay, maximize):
    """One Adagrad step in place: s ← s + g², p ← p − clr · g / (√s + ε)."""
    if maximize:
        g = -g
    if weight_decay:
        g = g + weight_decay * p
    state_sum += g * g
    std = xp.sqrt(state_sum)
    std += eps
    xp.divide(g, std, out=std)
    std *= clr
    p -= std


class Adagrad(Optimizer):
    r"""Adagrad (Duchi et al.), PyTorch's update step for step.

    With gradient :math:`g_t` (plus :math:`\lambda p_{t-1}` for weight decay) and
    :math:`s_0` = ``initial_accumulator_value``:

    .. math::
        \eta_t = \frac{\mathrm{lr}}{1 + (t-1)\,\mathrm{lr\_decay}}, \qquad
        s_t = s_{t-1} + g_t^2, \qquad
        p_t = p_{t-1} - \eta_t \frac{g_t}{\sqrt{s_t} + \epsilon}.

    State (made for every parameter when the optimizer is built, as in PyTorch): ``step``
    (a Python int) and ``sum``. The parameters must therefore have their final shapes: a lazy
    module (``nn.LazyLinear``) must run one forward pass first.

    Args:
        params: Tensors or parameter-group dicts.
        lr: learning rate (>= 0).
        lr_decay: learning-rate decay per step (>= 0).
        weight_decay: L2 penalty (>= 0).
        initial_accumulator_value: starting value of ``sum`` (>= 0); a group may set its own.
        eps: added to the denominator (>= 0).
        foreach, fused: PyTorch's implementation switches, accepted and kept in the groups (same
            update).
        maximize: ascend the objective instead of descending it.
        differentiable: only ``False``.
    """

    def __init__(self, params: ParamsT, lr: float = 1e-2, lr_decay: float = 0.0,
                 weight_decay: float = 0.0, initial_accumulator_value: float = 0.0,
                 eps: float = 1e-10, foreach: bool | None = None, *, maximize: bool = False,
                 differentiable: bool = False, fused: bool | None = None):
        super().__init__(params, {"lr": lr, "lr_decay": lr_decay, "eps": eps,
                                  "weight_decay": weight_decay,
                                  "initial_accumulator_value": initial_accumulator_value,
                                  "foreach": foreach, "maximize": maximize,
                                  "differentiable": differentiable, "fused": fused})

    def _validate(self, group: dict[str, Any], where: str) -> None:
        check_number(self, "lr", group["lr"], where)
        check_number(self, "lr_decay", group["lr_decay"], where)
        check_number(self, "weight_decay", group["weight_decay"], where)
        check_number(self, "initial_accumulator_value", group["initial_accumulator_value"], where)
        check_number(self, "eps", group["eps"], where)

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group and make its parameters' state (``step`` 0, ``sum`` filled with
        ``initial_accumulator_value``)."""
        super().add_param_group(param_group)
        group = self.param_groups[-1]
        index = len(self.param_groups) - 1
        for i, p in enumerate(group["params"]):
            if isinstance(p, UninitializedParameter):
                self.param_groups.pop()
                raise ValueError(f"Adagrad: params[{i}] of group {index} is an uninitialized "
                                 "parameter (of a lazy module such as nn.LazyLinear); run one "
                                 "forward pass through the model before building Adagrad")
        init = group["initial_accumulator_value"]
        for p in group["params"]:
            xp = p._backend.xp
            self.state[p] = {"step": 0,
                             "sum": Tensor.wrap(xp.full(p.array.shape, init, dtype=p.dtype),
                                                p._backend)}

    def _update(self, group: dict[str, Any]) -> None:
        lr, lr_decay, eps = group["lr"], group["lr_decay"], group["eps"]
        weight_decay, maximize = group["weight_decay"], group["maximize"]
        state = self.state
        for p in group["params"]:
            g = p.grad
            if g is None:
                continue
            st = state[p]
            st["step"] += 1
            clr = lr / (1 + (st["step"] - 1) * lr_decay)
            _adagrad_update(p._backend.xp, p.array, g.array, st["sum"].array, clr, eps,
                            weight_decay, maximize)
            p.increment_version()
