"""Containers: ``Sequential`` (a chain of modules) and ``ModuleList`` (an indexable list)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Iterator
from typing import Any

from gradflow.nn.module import Module


def _index(owner: Module, idx: Any) -> int:
    n = len(owner._modules)
    if isinstance(idx, bool) or not hasattr(idx, "__index__"):
        raise TypeError(f"{type(owner).__name__} indices must be integers or slices, got "
                        f"{type(idx).__name__}")
    i = idx.__index__()
    if not -n <= i < n:
        raise IndexError(f"{type(owner).__name__}: index {i} is out of range for {n} modules")
    return i % n


def _check_module(owner: Module, m: Any) -> Module:
    if not isinstance(m, Module):
        raise TypeError(f"{type(owner).__name__}: {type(m).__name__} is not a Module; wrap "
                        "functions in a Module subclass")
    return m


class _Indexed(Module):
    """Shared list behaviour; children are named "0", "1", ... in order."""

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def _renumber(self, modules: Iterable[Module]) -> None:
        modules = list(modules)
        for name in list(self._modules):
            delattr(self, name)
        for i, m in enumerate(modules):
            self.add_module(str(i), m)

    def __getitem__(self, idx: int | slice) -> Any:
        mods = list(self._modules.values())
        if isinstance(idx, slice):
            return type(self)(mods[idx]) if isinstance(self, ModuleList) else \
                type(self)(OrderedDict(list(self._modules.items())[idx]))
        return mods[_index(self, idx)]

    def __setitem__(self, idx: int, module: Module) -> None:
        key = list(self._modules)[_index(self, idx)]
        setattr(self, key, _check_module(self, module))

    def __delitem__(self, idx: int | slice) -> None:
        mods = list(self._modules.values())
        if isinstance(idx, slice):
            del mods[idx]
        else:
            del mods[_index(self, idx)]
        self._renumber(mods)

    def append(self, module: Module) -> _Indexed:
        self.add_module(str(len(self._modules)), _check_module(self, module))
        return self

    def extend(self, modules: Iterable[Module]) -> _Indexed:
        for m in modules:
            self.append(m)
        return self

    def insert(self, index: int, module: Module) -> None:
        mods = list(self._modules.values())
        mods.insert(index, _check_module(self, module))
        self._renumber(mods)

    def __iadd__(self, modules: Iterable[Module]) -> _Indexed:
        return self.extend(modules)


class Sequential(_Indexed):
    """Apply modules in order: ``Sequential(a, b, c)(x) == c(b(a(x)))``.

    Also ``Sequential(OrderedDict(name=module, ...))`` for named children. Supports ``len``,
    iteration, ``seq[i]``, ``seq[i:j]`` (a new Sequential sharing the modules) and ``append``.
    """

    def __init__(self, *modules: Module | OrderedDict[str, Module]) -> None:
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], OrderedDict):
            for name, m in modules[0].items():
                self.add_module(name, _check_module(self, m))
        else:
            for m in modules:
                self.append(m)

    def forward(self, x: Any) -> Any:
        for m in self._modules.values():
            x = m(x)
        return x


class ModuleList(_Indexed):
    """A list of modules whose parameters are registered (a plain list would hide them).

    It has no ``forward``: iterate over it in the parent's ``forward``.
    """

    def __init__(self, modules: Iterable[Module] | None = None) -> None:
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("ModuleList has no forward(); iterate over it in the parent "
                                  "module's forward, or use nn.Sequential to chain modules")
