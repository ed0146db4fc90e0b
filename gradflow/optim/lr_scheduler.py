"""Learning-rate schedulers: PyTorch's formulas, so the lr sequences match step for step.

Call ``scheduler.step()`` once per epoch (or per iteration), after ``optimizer.step()``.
``ReduceLROnPlateau.step(metric)`` takes the monitored value instead.
"""

from __future__ import annotations

import copy
import math
import numbers
import types
from collections.abc import Callable, Iterable
from typing import Any

from gradflow.optim.optimizer import Optimizer

__all__ = ["LRScheduler", "StepLR", "MultiStepLR", "ExponentialLR", "CosineAnnealingLR",
           "LambdaLR", "LinearLR", "ReduceLROnPlateau"]


def _check_optimizer(cls: str, optimizer: Any) -> None:
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"{cls}: optimizer must be a gradflow.optim.Optimizer, got "
                        f"{type(optimizer).__name__}")


def _positive_int(cls: str, key: str, value: Any, low: int = 1) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        rule = "a positive integer" if low == 1 else f"an integer >= {low}"
        raise ValueError(f"{cls}: invalid {key}={value!r}; it must be {rule}")


def _real(cls: str, key: str, value: Any, ok: Callable[[float], bool], rule: str) -> None:
    """Raise unless ``value`` is a finite real number with ``ok(value)`` (``rule`` says what)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{cls}: {key} must be a real number, got {value!r} "
                        f"({type(value).__name__})")
    if not math.isfinite(value) or not ok(value):
        raise ValueError(f"{cls}: invalid {key}={value!r}; it must be {rule}")


def _check_gamma(cls: str, gamma: Any) -> None:
    _real(cls, "gamma", gamma, lambda g: g > 0, "a finite number > 0 (the lr is multiplied by it)")


def _check_last_epoch(cls: str, last_epoch: Any) -> None:
    if isinstance(last_epoch, bool) or not isinstance(last_epoch, numbers.Integral):
        raise TypeError(f"{cls}: last_epoch must be an int, got {last_epoch!r}")
    if last_epoch < -1:
        raise ValueError(f"{cls}: invalid last_epoch={last_epoch}; use -1 to start fresh or the "
                         "index (>= 0) of the last finished epoch to resume")


class LRScheduler:
    """Base class: sets ``initial_lr`` in each param group, keeps ``base_lrs`` and ``last_epoch``,
    and on :meth:`step` writes :meth:`get_lr`'s values into ``group["lr"]``.

    Args:
        optimizer: the optimizer whose learning rates are scheduled.
        last_epoch: index of the last epoch; ``-1`` starts fresh, anything else resumes (the
            groups must then already hold ``initial_lr``).
    """

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1):
        cls = type(self).__name__
        _check_optimizer(cls, optimizer)
        _check_last_epoch(cls, last_epoch)
        self.optimizer = optimizer
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            for i, group in enumerate(optimizer.param_groups):
                if "initial_lr" not in group:
                    raise KeyError(f"{cls}: resuming with last_epoch={last_epoch}, but param "
                                   f"group {i} has no 'initial_lr'; load the optimizer's "
                                   "state_dict first, or start with last_epoch=-1")
        self.base_lrs: list[float] = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self._step_count = 0
        self._is_initial = True
        self.step()
        self._is_initial = False

    def get_lr(self) -> list[float]:
        """The learning rates for ``last_epoch`` (called by :meth:`step`)."""
        raise NotImplementedError(f"{type(self).__name__} does not implement get_lr()")

    def _current(self) -> list[float]:
        return [group["lr"] for group in self.optimizer.param_groups]

    def get_last_lr(self) -> list[float]:
        """The learning rates set by the latest :meth:`step`, one per param group."""
        return list(self._last_lr)

    def step(self) -> None:
        """Advance one epoch and set every group's ``lr``."""
        self._step_count += 1
        self.last_epoch += 1
        groups = self.optimizer.param_groups
        if len(groups) != len(self.base_lrs):
            raise RuntimeError(f"{type(self).__name__}: the optimizer has {len(groups)} param "
                               f"groups but the scheduler was built for {len(self.base_lrs)}; "
                               "create the scheduler after the last add_param_group()")
        for group, lr in zip(groups, self.get_lr()):
            group["lr"] = lr
        self._last_lr = self._current()

    def state_dict(self) -> dict[str, Any]:
        """Every attribute except the optimizer (plain numbers and lists)."""
        return {k: copy.deepcopy(v) for k, v in self.__dict__.items() if k != "optimizer"}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned (from a scheduler of the same type)."""
        unexpected = sorted(set(state_dict) - set(self.state_dict()))
        if unexpected:
            raise ValueError(f"{type(self).__name__}.load_state_dict: unexpected keys "
                             f"{unexpected}; was the state dict saved by another scheduler type?")
        self.__dict__.update(copy.deepcopy(state_dict))


class StepLR(LRScheduler):
    """Multiply the lr by ``gamma`` every ``step_size`` epochs: lr = base·γ^⌊epoch/step_size⌋."""

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1,
                 last_epoch: int = -1):
        _check_optimizer("StepLR", optimizer)
        _positive_int("StepLR", "step_size", step_size)
        _check_gamma("StepLR", gamma)
        self.step_size = step_size
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return self._current()
        return [lr * self.gamma for lr in self._current()]


class MultiStepLR(LRScheduler):
    """Multiply the lr by ``gamma`` at each milestone epoch (by γ^k at one listed k times)."""

    def __init__(self, optimizer: Optimizer, milestones: Iterable[int], gamma: float = 0.1,
                 last_epoch: int = -1):
        _check_optimizer("MultiStepLR", optimizer)
        try:
            milestones = list(milestones)
        except TypeError:
            raise TypeError(f"MultiStepLR: milestones must be an iterable of epoch indices, got "
                            f"{type(milestones).__name__}") from None
        for i, m in enumerate(milestones):
            _positive_int("MultiStepLR", f"milestones[{i}]", m, low=0)
        _check_gamma("MultiStepLR", gamma)
        self.milestones = sorted(int(m) for m in milestones)
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        count = self.milestones.count(self.last_epoch)
        if not count:
            return self._current()
        return [lr * self.gamma ** count for lr in self._current()]


class ExponentialLR(LRScheduler):
    """Multiply the lr by ``gamma`` every epoch: lr = base·γ^epoch."""

    def __init__(self, optimizer: Optimizer, gamma: float, last_epoch: int = -1):
        _check_optimizer("ExponentialLR", optimizer)
        _check_gamma("ExponentialLR", gamma)
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self._is_initial:
            return self._current()
        return [lr * self.gamma for lr in self._current()]


class CosineAnnealingLR(LRScheduler):
    r"""Cosine annealing from the base lr to ``eta_min`` over ``T_max`` epochs, by PyTorch's
    recursion

    .. math::
        \eta_{t} = \eta_{\min} + (\eta_{t-1} - \eta_{\min})
        \frac{1 + \cos(\pi t / T_{\max})}{1 + \cos(\pi (t-1) / T_{\max})},

    which follows :math:`\eta_{\min} + \tfrac12(\eta_0 - \eta_{\min})(1 + \cos(\pi t/T_{\max}))`
    (and keeps going as a cosine past ``T_max``).
    """

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0,  # noqa: N803
                 last_epoch: int = -1):
        _check_optimizer("CosineAnnealingLR", optimizer)
        _positive_int("CosineAnnealingLR", "T_max", T_max)
        _real("CosineAnnealingLR", "eta_min", eta_min, lambda v: v >= 0, "a finite number >= 0")
        self.T_max = T_max
        self.eta_min = eta_min
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        t, T, eta_min = self.last_epoch, self.T_max, self.eta_min  # noqa: N806
        if self._is_initial:
            return self._current()
        if self._step_count == 1 and t > 0:
            return [eta_min + (base - eta_min) * (1 + math.cos(t * math.pi / T)) / 2
                    for base in self.base_lrs]
        if (t - 1 - T) % (2 * T) == 0:
            return [lr + (base - eta_min) * (1 - math.cos(math.pi / T)) / 2
                    for base, lr in zip(self.base_lrs, self._current())]
        return [(1 + math.cos(math.pi * t / T)) / (1 + math.cos(math.pi * (t - 1) / T))
                * (lr - eta_min) + eta_min for lr in self._current()]


class LambdaLR(LRScheduler):
    """lr = base·``lr_lambda(epoch)``; one function for all groups or a list, one per group.

    ``state_dict()`` leaves plain functions and lambdas out (they cannot be saved); a callable
    object's ``__dict__`` is saved instead.
    """

    def __init__(self, optimizer: Optimizer,
                 lr_lambda: Callable[[int], float] | list[Callable[[int], float]],
                 last_epoch: int = -1):
        _check_optimizer("LambdaLR", optimizer)
        n = len(optimizer.param_groups)
        if isinstance(lr_lambda, list | tuple):
            if len(lr_lambda) != n:
                raise ValueError(f"LambdaLR: got {len(lr_lambda)} lr_lambdas for {n} param "
                                 "groups; pass one function, or one per group")
            self.lr_lambdas = list(lr_lambda)
        else:
            self.lr_lambdas = [lr_lambda] * n
        for i, fn in enumerate(self.lr_lambdas):
            if not callable(fn):
                raise TypeError(f"LambdaLR: lr_lambda[{i}] must be callable, got "
                                f"{type(fn).__name__}")
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        return [base * fn(self.last_epoch) for fn, base in zip(self.lr_lambdas, self.base_lrs)]

    def state_dict(self) -> dict[str, Any]:
        sd = {k: copy.deepcopy(v) for k, v in self.__dict__.items()
              if k not in ("optimizer", "lr_lambdas")}
        sd["lr_lambdas"] = [_callable_state(fn) for fn in self.lr_lambdas]
        return sd

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        state_dict = dict(state_dict)
        lambdas = state_dict.pop("lr_lambdas", [None] * len(self.lr_lambdas))
        super().load_state_dict(state_dict)
        for fn, saved in zip(self.lr_lambdas, lambdas):
            if saved is not None:
                fn.__dict__.update(copy.deepcopy(saved))


def _callable_state(fn: Callable) -> dict[str, Any] | None:
    """A callable object's attributes; None for functions and lambdas (not saveable)."""
    if isinstance(fn, types.FunctionType | types.MethodType | types.BuiltinFunctionType):
        return None
    attrs = getattr(fn, "__dict__", None)
    return None if attrs is None else copy.deepcopy(attrs)


class LinearLR(LRScheduler):
    """Linear warm-up (or decay) of the lr factor from ``start_factor`` to ``end_factor`` over
    ``total_iters`` epochs, then constant: lr = base·(s + (e − s)·min(epoch, total)/total)."""

    def __init__(self, optimizer: Optimizer, start_factor: float = 1.0 / 3,
                 end_factor: float = 1.0, total_iters: int = 5, last_epoch: int = -1):
        _check_optimizer("LinearLR", optimizer)
        _real("LinearLR", "start_factor", start_factor, lambda v: True, "in (0, 1]")
        _real("LinearLR", "end_factor", end_factor, lambda v: True, "in [0, 1]")
        if not 0 < start_factor <= 1:
            raise ValueError(f"LinearLR: invalid start_factor={start_factor!r}; it must be in "
                             "(0, 1]")
        if not 0 <= end_factor <= 1:
            raise ValueError(f"LinearLR: invalid end_factor={end_factor!r}; it must be in [0, 1]")
        _positive_int("LinearLR", "total_iters", total_iters)
        self.start_factor = start_factor
        self.end_factor = end_factor
        self.total_iters = total_iters
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        s, e, t = self.start_factor, self.end_factor, self.last_epoch
        if t == 0:
            return [lr * s for lr in self._current()]
        if self._is_initial or t > self.total_iters:
            return self._current()
        factor = 1.0 + (e - s) / (self.total_iters * s + (t - 1) * (e - s))
        return [lr * factor for lr in self._current()]


class ReduceLROnPlateau(LRScheduler):
    """Multiply the lr by ``factor`` once ``metric`` has not improved for ``patience`` epochs.

    Improvement in ``mode="min"`` is ``metric < best·(1 − threshold)`` (``threshold_mode="rel"``)
    or ``metric < best − threshold`` (``"abs"``); mirrored for ``"max"``. After a reduction,
    ``cooldown`` epochs pass before bad epochs count again. No lr goes below ``min_lr`` (a number
    or one per group), and a reduction smaller than ``eps`` is skipped.
    Unlike the other schedulers it does not set ``initial_lr`` (as in PyTorch).
    """

    def __init__(self, optimizer: Optimizer, mode: str = "min", factor: float = 0.1,
                 patience: int = 10, threshold: float = 1e-4, threshold_mode: str = "rel",
                 cooldown: int = 0, min_lr: float | list[float] = 0, eps: float = 1e-8):
        cls = "ReduceLROnPlateau"
        _check_optimizer(cls, optimizer)
        if mode not in ("min", "max"):
            raise ValueError(f"{cls}: invalid mode={mode!r}; use 'min' or 'max'")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError(f"{cls}: invalid threshold_mode={threshold_mode!r}; use 'rel' or "
                             "'abs'")
        _real(cls, "factor", factor, lambda v: 0 <= v < 1, "< 1 and >= 0 (the lr is multiplied "
              "by it)")
        _positive_int(cls, "patience", patience, low=0)
        _real(cls, "threshold", threshold, lambda v: v >= 0, "a finite number >= 0")
        _positive_int(cls, "cooldown", cooldown, low=0)
        _real(cls, "eps", eps, lambda v: v >= 0, "a finite number >= 0")
        n = len(optimizer.param_groups)
        if isinstance(min_lr, list | tuple):
            if len(min_lr) != n:
                raise ValueError(f"{cls}: got {len(min_lr)} min_lr values for {n} param groups")
            for i, v in enumerate(min_lr):
                _real(cls, f"min_lr[{i}]", v, lambda v: v >= 0, "a finite number >= 0")
            self.default_min_lr = None
            self.min_lrs = list(min_lr)
        else:
            _real(cls, "min_lr", min_lr, lambda v: v >= 0, "a finite number >= 0")
            self.default_min_lr = min_lr
            self.min_lrs = [min_lr] * n
        self.optimizer = optimizer
        self.mode, self.factor, self.patience = mode, factor, patience
        self.threshold, self.threshold_mode = threshold, threshold_mode
        self.cooldown, self.eps = cooldown, eps
        self.last_epoch = 0
        self.best = math.inf if mode == "min" else -math.inf
        self.cooldown_counter = 0
        self.num_bad_epochs = 0
        self._last_lr = self._current()

    def step(self, metric: Any) -> None:  # type: ignore[override]
        """Record ``metric`` (a number or a one-element Tensor) for one epoch."""
        current = float(metric)
        self.last_epoch += 1
        if self._is_better(current):
            self.best = current
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            self._reduce_lr()
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        self._last_lr = self._current()

    def _reduce_lr(self) -> None:
        groups = self.optimizer.param_groups
        if len(groups) != len(self.min_lrs):
            if self.default_min_lr is None:
                raise RuntimeError(f"ReduceLROnPlateau: the optimizer has {len(groups)} param "
                                   f"groups but min_lr has {len(self.min_lrs)} values; set "
                                   "scheduler.min_lrs to one value per group")
            self.min_lrs = [self.default_min_lr] * len(groups)
        for group, min_lr in zip(groups, self.min_lrs):
            old = float(group["lr"])
            new = max(old * self.factor, min_lr)
            if old - new > self.eps:
                group["lr"] = new

    def _is_better(self, a: float) -> bool:
        best, th = self.best, self.threshold
        if self.mode == "min":
            return a < best * (1.0 - th) if self.threshold_mode == "rel" else a < best - th
        return a > best * (th + 1.0) if self.threshold_mode == "rel" else a > best + th

    @property
    def in_cooldown(self) -> bool:
        return self.cooldown_counter > 0
