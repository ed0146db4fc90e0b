"""Stochastic gradient descent with momentum, dampening, Nesterov and L2 weight decay."""

from __future__ import annotations

from typing import Any

from gradflow.optim import _flat
from gradflow.optim.optimizer import Optimizer, ParamsT, check_number, zeros_like


class SGD(Optimizer):
    r"""Stochastic gradient descent (PyTorch's update, step for step).

    With gradient :math:`g_t` (negated when ``maximize``), weight decay :math:`\lambda`,
    momentum :math:`\mu` and dampening :math:`\tau`:

    .. math::
        d_t = g_t + \lambda p_{t-1}, \qquad
        b_t = \begin{cases} d_1 & t = 1 \\ \mu b_{t-1} + (1-\tau) d_t & t > 1 \end{cases}, \qquad
        p_t = p_{t-1} - \mathrm{lr}\,(d_t + \mu b_t \text{ if Nesterov else } b_t)

    (without momentum :math:`p_t = p_{t-1} - \mathrm{lr}\,d_t`). State: ``momentum_buffer``.

    Without momentum and weight decay, a contiguous float32/float64 CPU parameter (of at least
    ``optim._flat.AXPY_MIN`` elements: below, the call costs more than it saves) is updated by
    one BLAS ``axpy`` (a fused multiply-add, PyTorch's CPU ``p.add_(g, alpha=-lr)`` bit for bit);
    elsewhere, and on CUDA, by the two-step ``p - lr·g`` (the two may differ in the last bit).

    Args:
        params: Tensors or parameter-group dicts.
        lr: learning rate (>= 0; PyTorch's default 1e-3).
        momentum: momentum factor (>= 0).
        dampening: dampening of the momentum, in [0, 1].
        nesterov: Nesterov momentum (needs ``momentum > 0`` and ``dampening == 0``).
        weight_decay: L2 penalty (>= 0), added to the gradient.
        maximize: ascend the objective instead of descending it.
        foreach, fused: PyTorch's implementation switches, accepted and kept in the groups; every
            setting runs the same update (see :class:`~gradflow.optim.Optimizer`).
        differentiable: only ``False`` (no autograd through the step).
    """

    def __init__(self, params: ParamsT, lr: float = 1e-3, momentum: float = 0.0,
                 dampening: float = 0.0, weight_decay: float = 0.0, nesterov: bool = False,
                 *, maximize: bool = False, foreach: bool | None = None,
                 differentiable: bool = False, fused: bool | None = None):
        super().__init__(params, {"lr": lr, "momentum": momentum, "dampening": dampening,
                                  "weight_decay": weight_decay, "nesterov": nesterov,
                                  "maximize": maximize, "foreach": foreach,
                                  "differentiable": differentiable, "fused": fused})

    def _validate(self, group: dict[str, Any], where: str) -> None:
        check_number(self, "lr", group["lr"], where)
        check_number(self, "momentum", group["momentum"], where)
        check_number(self, "dampening", group["dampening"], where, high=1.0, closed=True)
        check_number(self, "weight_decay", group["weight_decay"], where)
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError(f"SGD: nesterov=True needs momentum > 0 and dampening=0, got "
                             f"momentum={group['momentum']!r}, dampening={group['dampening']!r}"
                             f"{where}")

    def _update(self, group: dict[str, Any]) -> None:
        lr, momentum, dampening = group["lr"], group["momentum"], group["dampening"]
        nesterov, weight_decay = group["nesterov"], group["weight_decay"]
        maximize = group["maximize"]
        state = self.state
        items = []
        keys = ("momentum_buffer",) if momentum else (None,)
        plain = not momentum and not weight_decay
        for p in group["params"]:
            g = p.grad
            if g is None:
                continue
            if plain:
                pa = p.array
                if pa.size < _flat.AXPY_MIN:  # small: one plain kernel call is cheapest
                    p._backend.k.sgd_update(pa, g.array, None, lr, 0.0, dampening, False, 0.0,
                                            False, maximize)
                    p.increment_version()
                    continue
                if _flat.on_cpu(p) and _flat.axpy(lr if maximize else -lr, g.array, pa):
                    p.increment_version()  # p += (-lr)·g in one pass, as PyTorch's add_(g, alpha)
                    continue
            st = None  # plain SGD keeps no state, as in PyTorch
            first = False
            if momentum:
                st = state[p]
                if st.get("momentum_buffer") is None:
                    st["momentum_buffer"] = zeros_like(p)
                    first = True
            items.append((p, g.array, st, keys, (lr, momentum, dampening, nesterov,
                                                 weight_decay, first, maximize)))
        self._run_kernel("sgd_update", items)
