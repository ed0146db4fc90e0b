"""``Module``: the base class of layers and models (PyTorch's vocabulary on gradflow tensors).

A Module owns Parameters, buffers (non-trainable state such as running statistics) and child
Modules, registered by plain attribute assignment::

    class MLP(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = nn.Linear(2, 8)      # child module
            self.fc2 = nn.Linear(8, 1)

        def forward(self, x):
            return self.fc2(F.relu(self.fc1(x)))
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

import numpy as np

from gradflow.backends import backend_of_array, get_backend, parse_device
from gradflow.dtypes import as_dtype, is_inexact
from gradflow.nn.parameter import Parameter
from gradflow.tensor import Tensor


class IncompatibleKeys(NamedTuple):
    """What ``load_state_dict(strict=False)`` skipped."""

    missing_keys: list[str]
    unexpected_keys: list[str]


def _addindent(s: str, spaces: int) -> str:
    lines = s.split("\n")
    if len(lines) == 1:
        return s
    return lines[0] + "\n" + "\n".join(" " * spaces + line for line in lines[1:])


def _check_name(owner: Module, kind: str, name: Any) -> None:
    if not isinstance(name, str):
        raise TypeError(f"{type(owner).__name__}.{kind}: name must be a str, got "
                        f"{type(name).__name__}")
    if name == "" or "." in name:
        raise KeyError(f"{type(owner).__name__}.{kind}: name {name!r} must be non-empty and "
                       "contain no '.' (dots separate the levels of state_dict keys)")


def _split_to_args(device: Any, dtype: Any) -> tuple[Any, Any]:
    """Allow ``module.to("float64")`` / ``module.to(gf.float64)`` as well as ``to("cuda")``."""
    if device is None or dtype is not None:
        return device, dtype
    if isinstance(device, np.dtype | type):
        return None, device
    if isinstance(device, str):
        try:
            parse_device(device)
        except ValueError:
            try:
                return None, as_dtype(device)
            except TypeError:
                pass
    return device, dtype


class Module:
    """Base class of every layer and model.

    Subclasses call ``super().__init__()`` first, assign Parameters, Modules and buffers as
    attributes, and define ``forward``. ``module(x)`` runs ``forward(x)``.
    """

    training: bool

    def __init__(self) -> None:
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent_buffers", set())
        object.__setattr__(self, "_modules", OrderedDict())

    # --- forward ------------------------------------------------------------------------------
    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} has no forward(); define "
                                  f"forward(self, ...) in the subclass")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.forward(*args, **kwargs)

    # --- registration -------------------------------------------------------------------------
    # The three registries (_parameters, _buffers, _modules) are the truth for traversal and
    # state_dict. Each registered value is mirrored in the instance __dict__ so that
    # ``self.weight`` in a forward pass is a plain attribute read (no __getattr__ round trip).
    def _registry(self, kind: str) -> OrderedDict:
        try:
            return self.__dict__[kind]
        except KeyError:
            raise AttributeError(f"cannot register on {type(self).__name__} before "
                                 f"Module.__init__(): call super().__init__() first in "
                                 f"{type(self).__name__}.__init__") from None

    def _register(self, kind: str, name: str, value: Any) -> None:
        reg = self._registry(kind)
        if name not in reg:
            self._forget(name)
        reg[name] = value
        self.__dict__[name] = value

    def __setattr__(self, name: str, value: Any) -> None:
        d = self.__dict__
        if isinstance(value, Parameter):
            self._register("_parameters", name, value)
        elif isinstance(value, Module):
            self._register("_modules", name, value)
        elif "_parameters" in d and name in d["_parameters"]:
            if value is not None:
                raise TypeError(f"cannot assign {type(value).__name__} to parameter {name!r} of "
                                f"{type(self).__name__} (nn.Parameter or None expected); wrap it: "
                                f"nn.Parameter(value)")
            self._register("_parameters", name, None)
        elif "_modules" in d and name in d["_modules"]:
            if value is not None:
                raise TypeError(f"cannot assign {type(value).__name__} to child module {name!r} "
                                f"of {type(self).__name__} (Module or None expected)")
            self._register("_modules", name, None)
        elif "_buffers" in d and name in d["_buffers"]:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign {type(value).__name__} to buffer {name!r} of "
                                f"{type(self).__name__} (Tensor or None expected)")
            self._register("_buffers", name, value)
        else:
            object.__setattr__(self, name, value)

    def _forget(self, name: str) -> None:
        d = self.__dict__
        d.pop(name, None)
        for kind in ("_parameters", "_buffers", "_modules"):
            d[kind].pop(name, None)
        d["_non_persistent_buffers"].discard(name)

    def __getattr__(self, name: str) -> Any:  # only reached when normal lookup fails
        d = self.__dict__
        for kind in ("_parameters", "_buffers", "_modules"):
            if kind in d and name in d[kind]:
                return d[kind][name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __delattr__(self, name: str) -> None:
        d = self.__dict__
        if any(name in d.get(kind, ()) for kind in ("_parameters", "_buffers", "_modules")):
            self._forget(name)
        else:
            object.__delattr__(self, name)

    def _check_free(self, kind: str, name: Any, what: str) -> None:
        _check_name(self, what, name)
        if hasattr(self, name) and name not in self._registry(kind):
            raise KeyError(f"{what}: attribute {name!r} already exists on "
                           f"{type(self).__name__}; pick another name")

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Register ``param`` (a Parameter, or None for an absent one) under ``name``."""
        self._check_free("_parameters", name, "register_parameter")
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"register_parameter: {name!r} must be an nn.Parameter or None, got "
                            f"{type(param).__name__}; wrap it: nn.Parameter(tensor)")
        self._register("_parameters", name, param)

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """Register non-trainable state (e.g. running statistics) under ``name``.

        Buffers move with ``to()``; persistent ones are saved by ``state_dict()``.
        """
        self._check_free("_buffers", name, "register_buffer")
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"register_buffer: {name!r} must be a Tensor or None, got "
                            f"{type(tensor).__name__}")
        self._register("_buffers", name, tensor)
        if persistent:
            self._non_persistent_buffers.discard(name)
        else:
            self._non_persistent_buffers.add(name)

    def add_module(self, name: str, module: Module | None) -> None:
        """Register ``module`` as a child under ``name``."""
        self._check_free("_modules", name, "add_module")
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"add_module: {name!r} must be a Module or None, got "
                            f"{type(module).__name__}")
        self._register("_modules", name, module)

    register_module = add_module

    # --- traversal ----------------------------------------------------------------------------
    def named_modules(self, memo: set | None = None, prefix: str = "",
                      remove_duplicate: bool = True) -> Iterator[tuple[str, Module]]:
        """``(dotted name, module)`` for this module (name ``""``) and every descendant, in
        registration order (depth first). A module reachable twice is yielded once."""
        if memo is None:
            memo = set()
        if remove_duplicate:
            if id(self) in memo:
                return
            memo.add(id(self))
        yield prefix, self
        for name, child in self._modules.items():
            if child is None:
                continue
            yield from child.named_modules(memo, prefix + ("." if prefix else "") + name,
                                           remove_duplicate)

    def modules(self) -> Iterator[Module]:
        for _, m in self.named_modules():
            yield m

    def named_children(self) -> Iterator[tuple[str, Module]]:
        seen: set[int] = set()
        for name, child in self._modules.items():
            if child is not None and id(child) not in seen:
                seen.add(id(child))
                yield name, child

    def children(self) -> Iterator[Module]:
        for _, m in self.named_children():
            yield m

    def _named_members(self, kind: str, prefix: str, recurse: bool,
                       remove_duplicate: bool = True) -> Iterator[tuple[str, Tensor]]:
        seen: set[int] = set()
        mods = self.named_modules(prefix=prefix) if recurse else [(prefix, self)]
        for mod_prefix, mod in mods:
            for name, value in mod.__dict__[kind].items():
                if value is None or (remove_duplicate and id(value) in seen):
                    continue
                seen.add(id(value))
                yield mod_prefix + ("." if mod_prefix else "") + name, value

    def named_parameters(self, prefix: str = "", recurse: bool = True,
                         remove_duplicate: bool = True) -> Iterator[tuple[str, Parameter]]:
        """``(dotted name, Parameter)`` pairs: this module's own first, then each child's in
        registration order. A shared Parameter is yielded once."""
        yield from self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "", recurse: bool = True,
                      remove_duplicate: bool = True) -> Iterator[tuple[str, Tensor]]:
        yield from self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def num_parameters(self, trainable_only: bool = False) -> int:
        """Number of scalar parameters (only those with ``requires_grad`` if ``trainable_only``)."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad or not trainable_only)

    def apply(self, fn: Callable[[Module], Any]) -> Module:
        """Call ``fn`` on every child (recursively), then on self; returns self."""
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

    # --- modes --------------------------------------------------------------------------------
    def train(self, mode: bool = True) -> Module:
        """Set training mode (``True``) or evaluation mode on this module and every descendant."""
        if not isinstance(mode, bool):
            raise TypeError(f"train(mode): mode must be a bool, got {type(mode).__name__}")
        for m in self.modules():
            object.__setattr__(m, "training", mode)
        return self

    def eval(self) -> Module:
        """Evaluation mode: dropout is the identity, batch norm uses its running statistics."""
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the parameters' gradients (``grad = None``), or fill them with zeros."""
        for p in self.parameters():
            if p.grad is None:
                continue
            if set_to_none:
                p.grad = None
            else:
                p.grad = p.grad.detach()
                p.grad.zero_()

    # --- devices and dtypes -------------------------------------------------------------------
    def to(self, device: Any = None, dtype: Any = None) -> Module:
        """Move every parameter and buffer to ``device`` and cast floating ones to ``dtype``.

        In place: each Parameter keeps its identity (``p.array`` and its backend are replaced),
        so an optimizer built before ``to()`` still holds the right tensors. Gradients move too.
        Integer buffers (``num_batches_tracked``) keep their dtype. Returns self.
        """
        device, dtype = _split_to_args(device, dtype)
        backend = get_backend(device) if device is not None else None
        dt = as_dtype(dtype)
        if dt is not None and not is_inexact(dt):
            raise TypeError(f"Module.to: dtype must be a floating-point dtype, got {dt}")
        for m in self.modules():
            for reg in (m._parameters, m._buffers):
                for t in reg.values():
                    if t is not None:
                        _move_(t, backend, dt)
                        if t.grad is not None:
                            _move_(t.grad, backend, dt)
        return self

    def cpu(self) -> Module:
        return self.to("cpu")

    def cuda(self, index: int | None = None) -> Module:
        return self.to("cuda" if index is None else f"cuda:{index}")

    def float(self) -> Module:
        return self.to(dtype="float32")

    def double(self) -> Module:
        return self.to(dtype="float64")

    def half(self) -> Module:
        return self.to(dtype="float16")

    def bfloat16(self) -> Module:
        return self.to(dtype="bfloat16")

    # --- state --------------------------------------------------------------------------------
    def _state_items(self) -> Iterator[tuple[str, Tensor]]:
        """Every (dotted key, live tensor) that ``state_dict`` saves: per module its
        parameters, then its persistent buffers, then its children's (PyTorch's order)."""
        for prefix, m in self.named_modules(remove_duplicate=False):
            dot = prefix + "." if prefix else ""
            for name, p in m._parameters.items():
                if p is not None:
                    yield dot + name, p
            for name, b in m._buffers.items():
                if b is not None and name not in m._non_persistent_buffers:
                    yield dot + name, b

    def state_dict(self) -> OrderedDict[str, Tensor]:
        """Parameters and persistent buffers by dotted name (``"0.weight"``, ``"bn.running_mean"``).

        Values are detached Tensors sharing memory with the module's (copy them to snapshot).
        """
        return OrderedDict((k, v.detach()) for k, v in self._state_items())

    def load_state_dict(self, state_dict: dict[str, Any], strict: bool = True) -> IncompatibleKeys:
        """Copy values from ``state_dict`` into this module's parameters and buffers, in place.

        Values may be Tensors or arrays on any device; they are copied to each tensor's own
        device and cast to its dtype. ``strict``: a missing or unexpected key is an error
        (otherwise they are returned). A shape mismatch is always an error. Nothing is copied
        unless every entry checks out.
        """
        if not isinstance(state_dict, dict):
            raise TypeError(f"load_state_dict: expected a dict of name -> tensor, got "
                            f"{type(state_dict).__name__}")
        own = OrderedDict(self._state_items())
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        errors = []
        if strict:
            errors += [f"missing key {k!r} (expected shape {own[k].shape})" for k in missing]
            errors += [f"unexpected key {k!r} (shape {_shape_of(state_dict[k])})"
                       for k in unexpected]
        for k, dst in own.items():
            if k in state_dict:
                shape = _shape_of(state_dict[k])
                if shape != dst.shape:
                    errors.append(f"size mismatch for {k!r}: the checkpoint has shape {shape}, "
                                  f"the module has shape {dst.shape}")
        if errors:
            raise RuntimeError(f"load_state_dict: error(s) loading into {type(self).__name__}:\n  "
                               + "\n  ".join(errors))
        for k, dst in own.items():
            if k in state_dict:
                _copy_into(dst, state_dict[k])
        return IncompatibleKeys(missing, unexpected)

    # --- representation -----------------------------------------------------------------------
    def extra_repr(self) -> str:
        """The text inside ``Name(...)`` for this module's own settings (override it)."""
        return ""

    def _tree_repr(self) -> str:
        extra = self.extra_repr()
        extra_lines = extra.split("\n") if extra else []
        child_lines = [f"({name}): " + _addindent(child._tree_repr(), 2)
                       for name, child in self._modules.items() if child is not None]
        lines = extra_lines + child_lines
        body = ""
        if len(extra_lines) == 1 and not child_lines:
            body = extra_lines[0]
        elif lines:
            body = "\n  " + "\n  ".join(lines) + "\n"
        return f"{type(self).__name__}({body})"

    def __repr__(self) -> str:
        """The module tree as PyTorch prints it; a container also gets a parameter count line."""
        tree = self._tree_repr()
        if not any(True for _ in self.children()):
            return tree
        total = self.num_parameters()
        trainable = self.num_parameters(trainable_only=True)
        return f"{tree}\nTotal parameters: {total:,} ({trainable:,} trainable)"

    def __dir__(self) -> list[str]:
        extra = [*self._parameters, *self._buffers, *self._modules]
        return sorted(set(super().__dir__()) | set(extra))


def _shape_of(value: Any) -> tuple[int, ...]:
    shape = getattr(value, "shape", None)  # no host copy for device arrays
    return tuple(shape) if shape is not None else tuple(np.shape(value))


def _move_(t: Tensor, backend, dtype) -> None:
    """Replace ``t``'s array by a copy on ``backend`` with ``dtype`` (floating tensors only)."""
    data, old = t.array, t._backend
    new_backend = backend if backend is not None else old
    if new_backend is not old:
        data = new_backend.from_host(old.to_host(data))
    if dtype is not None and is_inexact(data.dtype) and data.dtype != dtype:
        data = data.astype(dtype)
    if data is not t.array:
        t.array = data
        t._backend = new_backend
        t.increment_version()


def _copy_into(dst: Tensor, value: Any) -> None:
    """``dst.array[...] = value`` across devices and dtypes (no new array for ``dst``)."""
    src = value.array if isinstance(value, Tensor) else value
    if not dst._backend.owns(src):
        try:
            host = backend_of_array(src).to_host(src)
        except TypeError:
            host = np.asarray(src)
        src = dst._backend.from_host(host)
    dst.array[...] = src
    dst.increment_version()
