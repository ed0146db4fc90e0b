"""``Optimizer``: parameter groups, per-parameter state and PyTorch's state-dict layout."""

from __future__ import annotations

import copy
import math
import numbers
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from gradflow.autograd.grad_mode import enable_grad, no_grad
from gradflow.dtypes import is_floating
from gradflow.optim import _flat
from gradflow.tensor import Tensor

ParamsT = Iterable[Tensor] | Iterable[dict[str, Any]]


class Optimizer:
    """Base class of the optimizers.

    Args:
        params: an iterable of Tensors (e.g. ``model.parameters()``) or of dicts, each a parameter
            group ``{"params": [...], "lr": ..., ...}`` whose keys override ``defaults``.
        defaults: the hyperparameters of every group that does not set its own.

    Attributes:
        param_groups: list of dicts, each with ``"params"`` (a list of Tensors) and the group's
            hyperparameters (a scheduler changes ``group["lr"]`` between steps).
        state: per-parameter dict of buffers (Tensors) and counters (Python numbers).

    A subclass implements ``_update(group)`` (one in-place step of the group's parameters that
    have a gradient, usually through :meth:`_run_kernel`) and ``_validate(group, where)`` (raise
    on bad hyperparameters).

    How a step runs: on the CPU, the update kernel goes over each large parameter in cache-sized
    blocks and over the small ones packed together (:mod:`gradflow.optim._flat`); on CUDA, one
    fused kernel per parameter. PyTorch's ``foreach`` and ``fused`` arguments are accepted and
    kept in the groups (as in PyTorch's ``state_dict``) but choose nothing: every setting runs
    that same update, whose float operations are PyTorch's single-tensor ones.
    """

    def __init__(self, params: ParamsT, defaults: dict[str, Any]):
        name = type(self).__name__
        self.defaults = dict(defaults)
        self._validate(self.defaults, "")
        _check_modes(name, self.defaults)
        self.state: defaultdict[Tensor, dict[str, Any]] = defaultdict(dict)
        self._packs: dict = {}
        self.param_groups: list[dict[str, Any]] = []
        if isinstance(params, Tensor):
            raise TypeError(f"{name}: params must be an iterable of Tensors or dicts, got a single "
                            f"Tensor of shape {params.shape}; wrap it in a list: [p]")
        if isinstance(params, dict):
            raise TypeError(f"{name}: params must be an iterable of Tensors or of parameter-group "
                            "dicts, got a single dict; wrap it in a list: [group]")
        try:
            params = list(params)
        except TypeError:
            raise TypeError(f"{name}: params must be an iterable of Tensors or dicts, got "
                            f"{type(params).__name__}") from None
        if not params:
            raise ValueError(f"{name}: got an empty parameter list (params=[]); pass "
                             "model.parameters() or a list of Tensors")
        if not isinstance(params[0], dict):
            params = [{"params": params}]
        for group in params:
            self.add_param_group(group)

    # --- to implement -----------------------------------------------------------------------
    def _validate(self, group: dict[str, Any], where: str) -> None:
        """Raise ``ValueError``/``TypeError`` naming a bad hyperparameter of ``group``."""

    def _update(self, group: dict[str, Any]) -> None:
        raise NotImplementedError(f"{type(self).__name__} does not implement _update(group)")

    def _run_kernel(self, name: str, items: list[_flat.Item]) -> None:
        """Run the update kernel ``name`` on ``items`` (each ``(p, grad array, state dict,
        state keys in kernel order or None, scalar arguments)``) and bump the versions."""
        cpu = []
        for item in items:
            p = item[0]
            if _flat.on_cpu(p):
                cpu.append(item)
                continue
            _, g, st, keys, scalars = item
            getattr(p._backend.k, name)(p.array, g, *(None if k is None else st[k].array
                                                      for k in keys), *scalars)
            p.increment_version()
        if cpu:
            packs = self.__dict__.setdefault("_packs", {})
            _flat.run(getattr(cpu[0][0]._backend.k, name), cpu, packs)

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_packs"] = {}  # views into flat buffers: never copied (a copy would not alias)
        return state

    # --- groups -----------------------------------------------------------------------------
    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group of parameters (a dict with ``"params"`` and optional hyperparameters)."""
        name = type(self).__name__
        index = len(self.param_groups)
        if not isinstance(param_group, dict):
            raise TypeError(f"{name}: a parameter group must be a dict with a 'params' key, got "
                            f"{type(param_group).__name__}")
        if "params" not in param_group:
            raise ValueError(f"{name}: parameter group {index} has no 'params' key "
                             f"(keys: {sorted(param_group)})")
        params = param_group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, set | frozenset):
            raise TypeError(f"{name}: the params of group {index} are a set, whose order changes "
                            "between runs (and breaks state_dict); use a list")
        else:
            try:
                params = list(params)
            except TypeError:
                raise TypeError(f"{name}: the params of group {index} must be an iterable of "
                                f"Tensors, got {type(params).__name__}") from None
        if not params:
            raise ValueError(f"{name}: parameter group {index} has an empty parameter list "
                             "(params=[])")
        taken = {id(p) for g in self.param_groups for p in g["params"]}
        seen: set[int] = set()
        for i, p in enumerate(params):
            _check_param(name, p, i, index)
            if id(p) in seen:
                raise ValueError(f"{name}: params[{i}] of group {index} (shape {p.shape}) appears "
                                 "more than once in the parameter list; pass each parameter once")
            if id(p) in taken:
                raise ValueError(f"{name}: params[{i}] of group {index} (shape {p.shape}) is "
                                 "already in another parameter group; a parameter may belong to "
                                 "one group only")
            seen.add(id(p))
        group = dict(param_group)
        group["params"] = params
        for key, value in self.defaults.items():
            group.setdefault(key, value)
        self._validate(group, f" (parameter group {index})")
        _check_modes(name, group, f" (parameter group {index})")
        self.param_groups.append(group)

    # --- stepping ---------------------------------------------------------------------------
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Update every parameter that has a gradient, in place; return ``closure()``'s loss.

        ``closure`` (optional) re-evaluates the model and returns the loss; it runs with
        gradient recording enabled, before the update.
        """
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        with no_grad():
            for group in self.param_groups:
                self._update(group)
        return loss

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients: ``p.grad = None`` (default), or fill them with zeros in place."""
        for group in self.param_groups:
            for p in group["params"]:
                g = p.grad
                if g is None:
                    continue
                if set_to_none:
                    p.grad = None
                    continue
                g.detach_()
                if getattr(g.array.flags, "writeable", True):
                    g.zero_()
                else:  # a read-only (broadcast) gradient array: replace it by zeros
                    p.grad = Tensor.wrap(g._backend.xp.zeros(g.shape, g.dtype), g._backend)

    # --- state dict -------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """``{"state": {index: {...}}, "param_groups": [{..., "params": [indices]}]}``.

        Parameters are numbered in group order, as in PyTorch. State values are Tensors (sharing
        memory with the live buffers: copy or save them before training on) or Python numbers.
        """
        index: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            packed["params"] = [index.setdefault(id(p), len(index)) for p in group["params"]]
            groups.append(packed)
        state = {index[id(p)]: dict(s) for p, s in self.state.items() if id(p) in index}
        return {"state": dict(sorted(state.items())), "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Load what :meth:`state_dict` returned (possibly saved and read back).

        Group and parameter counts, hyperparameter names and buffer shapes must match; buffers
        are copied to each parameter's device (floating ones cast to its dtype).
        """
        name = f"{type(self).__name__}.load_state_dict"
        if not isinstance(state_dict, dict) or not {"state", "param_groups"} <= state_dict.keys():
            got = sorted(state_dict) if isinstance(state_dict, dict) else type(state_dict).__name__
            raise ValueError(f"{name}: expected a dict with keys 'state' and 'param_groups' (from "
                             f"Optimizer.state_dict()), got {got}")
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(f"{name}: the state dict has {len(saved_groups)} parameter groups, "
                             f"this optimizer has {len(self.param_groups)}")
        params_by_index: dict[int, Tensor] = {}
        new_groups = []
        for gi, (group, saved) in enumerate(zip(self.param_groups, saved_groups)):
            if len(saved["params"]) != len(group["params"]):
                raise ValueError(f"{name}: parameter group {gi} of the state dict has "
                                 f"{len(saved['params'])} parameters, this optimizer's group has "
                                 f"{len(group['params'])}")
            missing = [k for k in self.defaults if k not in saved and k not in MODE_KEYS]
            if missing:
                raise ValueError(f"{name}: parameter group {gi} of the state dict lacks "
                                 f"{missing}; was it saved by another optimizer type?")
            for idx, p in zip(saved["params"], group["params"]):
                params_by_index[int(idx)] = p
            new = {k: _restore(v, group.get(k)) for k, v in saved.items() if k != "params"}
            for k in MODE_KEYS:  # a state dict saved before these keys existed
                if k in self.defaults:
                    new.setdefault(k, self.defaults[k])
            new["params"] = group["params"]
            self._validate(new, f" (parameter group {gi} of the loaded state dict)")
            _check_modes(type(self).__name__, new,
                         f" (parameter group {gi} of the loaded state dict)")
            new_groups.append(new)
        new_state: defaultdict[Tensor, dict[str, Any]] = defaultdict(dict)
        for key, entry in state_dict["state"].items():
            p = params_by_index.get(int(key))
            if p is None:
                raise ValueError(f"{name}: the state dict has state for parameter {key}, but its "
                                 f"param_groups only number {sorted(params_by_index)}")
            new_state[p] = {k: _load_value(name, v, p, key, k) for k, v in entry.items()}
        for group, new in zip(self.param_groups, new_groups):
            group.clear()
            group.update(new)
        self.state = new_state
        self._packs = {}

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {v}" for k, v in sorted(group.items()) if k != "params"]
        return "\n".join(lines) + "\n)"


MODE_KEYS = ("foreach", "fused", "capturable", "differentiable")


def _check_modes(name: str, group: dict[str, Any], where: str = "") -> None:
    """PyTorch's checks of ``foreach``/``fused``; ``capturable`` and ``differentiable`` only at
    their defaults (gradflow has no CUDA-graph capture and no differentiable optimizer step)."""
    for key in MODE_KEYS:
        if key not in group:
            continue
        value = group[key]
        optional = key in ("foreach", "fused")
        if not (isinstance(value, bool) or (optional and value is None)):
            kind = "True, False or None" if optional else "True or False"
            raise TypeError(f"{name}: {key} must be {kind}, got {value!r}{where}")
    if group.get("fused") and group.get("foreach"):
        raise RuntimeError(f"{name}: `fused` and `foreach` cannot be `True` together{where}")
    if group.get("fused") and group.get("differentiable"):
        raise RuntimeError(f"{name}: `fused` does not support `differentiable`{where}")
    if group.get("capturable"):
        raise NotImplementedError(
            f"{name}: capturable=True (steps recorded into a CUDA graph) is not supported by "
            f"gradflow{where}; pass capturable=False (the default)")
    if group.get("differentiable"):
        raise NotImplementedError(
            f"{name}: differentiable=True (autograd through optimizer.step()) is not supported "
            f"by gradflow{where}; pass differentiable=False (the default), or write the update "
            "with Tensor operations under gf.enable_grad()")


def _check_param(name: str, p: Any, i: int, index: int) -> None:
    if not isinstance(p, Tensor):
        raise TypeError(f"{name}: can only optimize gradflow Tensors/Parameters, but params[{i}] "
                        f"of group {index} is a {type(p).__name__}")
    if not p.is_leaf:
        raise ValueError(f"{name}: can't optimize a non-leaf tensor: params[{i}] of group "
                         f"{index} (shape {p.shape}) was computed by {p.grad_fn!r}; optimize the "
                         "leaf it came from, or make a new leaf with nn.Parameter(t.detach())")
    if not is_floating(p.dtype):
        raise TypeError(f"{name}: params[{i}] of group {index} has dtype {p.dtype}; only "
                        "floating-point tensors can be optimized")


def _restore(value: Any, current: Any) -> Any:
    """A loaded hyperparameter; a list read back from JSON becomes a tuple where one was."""
    value = copy.deepcopy(value)
    if isinstance(current, tuple) and isinstance(value, list):
        value = tuple(value)
    return value


def _load_value(name: str, value: Any, p: Tensor, index: Any, key: str) -> Any:
    """A state value for parameter ``p``: a fresh Tensor on ``p``'s device, or a number."""
    if not (isinstance(value, Tensor) or (hasattr(value, "shape") and hasattr(value, "dtype"))):
        return copy.deepcopy(value)
    if not hasattr(value.dtype, "kind"):  # another framework's tensor (e.g. PyTorch's)
        value = np.asarray(value)
    shape = tuple(value.shape)
    if shape == ():  # a 0-d counter (e.g. PyTorch's "step" tensor)
        return value.item()
    if shape != p.shape:
        raise ValueError(f"{name}: state[{index}][{key!r}] has shape {shape}, but parameter "
                         f"{index} has shape {p.shape}")
    dtype = p.dtype if is_floating(value.dtype) else value.dtype
    return Tensor(value, dtype=dtype, device=p.device)


def check_number(opt: Optimizer, key: str, value: Any, where: str, high: float | None = None,
                 closed: bool = False) -> None:
    """Raise unless ``value`` (hyperparameter ``key``) is a finite real number in ``[0, high)``
    (``[0, high]`` if ``closed``; ``[0, inf)`` without ``high``).

    PyTorch accepts ``lr=inf`` or ``weight_decay=inf`` (and some optimizers ``nan``) silently and
    then fills the parameters with NaN; here any non-finite value is a ``ValueError``.
    """
    name = type(opt).__name__
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name}: {key} must be a real number, got {value!r}{where}")
    if not math.isfinite(value):
        raise ValueError(f"{name}: invalid {key}={value!r}{where}; it must be a finite number "
                         "(NaN and inf would turn every parameter into NaN)")
    if high is None:
        ok, rule = value >= 0, "it must be >= 0"
    elif closed:
        ok, rule = 0 <= value <= high, f"it must be in [0, {high}]"
    else:
        ok, rule = 0 <= value < high, f"it must be in [0, {high})"
    if not ok:
        raise ValueError(f"{name}: invalid {key}={value!r}{where}; {rule}")


def zeros_like(p: Tensor) -> Tensor:
    """A zero state buffer shaped, typed and placed like ``p`` (allocated once per parameter)."""
    return Tensor.wrap(p._backend.xp.zeros_like(p.array), p._backend)
