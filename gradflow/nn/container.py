"""Containers: ``Sequential`` (a chain of modules), ``ModuleList`` and ``ModuleDict`` (a list
and a dict of registered modules), ``ParameterList`` and ``ParameterDict`` (of Parameters)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from gradflow.nn.module import Module, _check_name
from gradflow.nn.parameter import Parameter
from gradflow.tensor import Tensor


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


def _pairs(owner: str, values: Any, keep_order: tuple[type, ...]) -> Iterator[tuple[Any, Any]]:
    """``(key, value)`` pairs of ``values`` for ``owner.update`` (PyTorch's rules): a mapping's
    items (a plain mapping's sorted by key unless its type is in ``keep_order``) or an iterable
    of 2-sequences."""
    if not isinstance(values, Iterable) or isinstance(values, str | Tensor):
        raise TypeError(f"{owner}.update: expected a mapping or an iterable of (key, value) "
                        f"pairs, got {type(values).__name__}")
    if isinstance(values, ModuleDict | ParameterDict):
        yield from list(values.items())
        return
    if isinstance(values, Mapping):
        items = list(values.items())
        yield from items if isinstance(values, keep_order) else sorted(items)
        return
    for j, pair in enumerate(values):
        if not isinstance(pair, Iterable) or isinstance(pair, str | Tensor | Module):
            raise TypeError(f"{owner}.update: sequence element #{j} should be a (key, value) "
                            f"pair, got {type(pair).__name__}")
        pair = tuple(pair)
        if len(pair) != 2:
            raise ValueError(f"{owner}.update: sequence element #{j} has length {len(pair)}; "
                             "2 (key, value) is required")
        yield pair


class ModuleDict(Module):
    """A dict of modules whose parameters are registered, in insertion order.

    ``ModuleDict({"enc": ..., "dec": ...})`` or from ``(key, module)`` pairs. Dict API: ``md[k]``,
    ``md[k] = m``, ``del md[k]``, ``len``, iteration over keys, ``in``, ``keys``/``items``/
    ``values``, ``update``, ``pop``, ``clear``. Keys are non-empty strs without ``"."`` that
    are not already attributes of the module (``"keys"``, ``"training"``...). No ``forward``.
    """

    def __init__(self, modules: Mapping[str, Module] | Iterable[tuple[str, Module]] | None = None
                 ) -> None:
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key: str) -> Module:
        try:
            return self._modules[key]
        except (KeyError, TypeError):
            raise KeyError(f"ModuleDict: no module under key {key!r} (keys: "
                           f"{list(self._modules)})") from None

    def __setitem__(self, key: str, module: Module) -> None:
        self.add_module(key, module)

    def __delitem__(self, key: str) -> None:
        self[key]  # noqa: B018  (KeyError naming the key)
        delattr(self, key)

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[str]:
        return iter(self._modules)

    def __contains__(self, key: object) -> bool:
        return key in self._modules

    def keys(self):
        return self._modules.keys()

    def items(self):
        return self._modules.items()

    def values(self):
        return self._modules.values()

    def pop(self, key: str) -> Module:
        """Remove ``key`` and return its module."""
        module = self[key]
        del self[key]
        return module

    def clear(self) -> None:
        for key in list(self._modules):
            delattr(self, key)

    def update(self, modules: Mapping[str, Module] | Iterable[tuple[str, Module]]) -> None:
        """Add or replace entries from a mapping (its order kept) or ``(key, module)`` pairs."""
        for key, module in _pairs("ModuleDict", modules, (Mapping,)):
            self[key] = module


def _as_parameter(value: Any) -> Any:
    """PyTorch's rule: a plain Tensor becomes a Parameter (sharing its array, requires_grad);
    a Parameter is kept; any other value is stored as a plain attribute."""
    if isinstance(value, Tensor) and not isinstance(value, Parameter):
        return Parameter(value)
    return value


def _param_repr(value: Any) -> str:
    if not isinstance(value, Tensor):
        return f"Object of type: {type(value).__name__}"
    size = "x".join(str(n) for n in value.array.shape)
    where = "" if value.device == "cpu" else f" ({value.device})"
    kind = "Parameter" if isinstance(value, Parameter) else "Tensor"
    return f"{kind} containing: [{value.array.dtype} of size {size}{where}]"


class ParameterList(Module):
    """A list of Parameters registered under ``"0"``, ``"1"``, ... (so ``state_dict`` keys are
    ``"plist.0"``...). Plain Tensors are wrapped into Parameters (sharing their arrays, requiring
    grad), as in PyTorch; other values are kept as plain attributes.

    List API: ``pl[i]``, ``pl[i] = t``, ``pl[i:j]`` (a new list of the same Parameters), ``len``,
    iteration, ``append``, ``extend``, ``+=``. It cannot be called.
    """

    def __init__(self, values: Iterable[Any] | None = None) -> None:
        super().__init__()
        self._size = 0
        if values is not None:
            self.extend(values)

    def _key(self, idx: Any) -> str:
        if isinstance(idx, bool) or not hasattr(idx, "__index__"):
            raise TypeError(f"ParameterList indices must be integers or slices, got "
                            f"{type(idx).__name__}")
        i = idx.__index__()
        if not -self._size <= i < self._size:
            raise IndexError(f"ParameterList: index {i} is out of range for {self._size} "
                             "parameters")
        return str(i % self._size)

    def __getitem__(self, idx: int | slice) -> Any:
        if isinstance(idx, slice):
            return type(self)(self[i] for i in range(*idx.indices(self._size)))
        return getattr(self, self._key(idx))

    def __setitem__(self, idx: int, value: Any) -> None:
        setattr(self, self._key(idx), _as_parameter(value))

    def __len__(self) -> int:
        return self._size

    def __iter__(self) -> Iterator[Any]:
        return (self[i] for i in range(self._size))

    def append(self, value: Any) -> ParameterList:
        self._size += 1
        try:
            self[self._size - 1] = value
        except BaseException:
            self._size -= 1
            raise
        return self

    def extend(self, values: Iterable[Any]) -> ParameterList:
        if not isinstance(values, Iterable) or isinstance(values, Tensor):
            raise TypeError(f"ParameterList.extend: expected an iterable of Parameters/Tensors, "
                            f"got {type(values).__name__}; use append() for one value")
        for v in values:
            self.append(v)
        return self

    def __iadd__(self, values: Iterable[Any]) -> ParameterList:
        return self.extend(values)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("ParameterList should not be called; index it (plist[i]) or iterate "
                           "over it in the parent module's forward")

    def extra_repr(self) -> str:
        return "\n".join(f"  ({i}): {_param_repr(v)}" for i, v in enumerate(self))


class _MissingKeyError(KeyError, AttributeError):
    """A missing ParameterDict key: a KeyError (dict API), also an AttributeError (what PyTorch
    raises there, since it reads the key as an attribute)."""


class ParameterDict(Module):
    """A dict of Parameters registered under their keys (``state_dict`` keys ``"pdict.key"``).

    Plain Tensors are wrapped into Parameters, other values kept as plain attributes (PyTorch's
    rule). Built from an ``OrderedDict``/``ParameterDict`` (order kept), any other mapping (keys
    sorted, as PyTorch does) or ``(key, value)`` pairs. Dict API: ``pd[k]``, ``pd[k] = v``,
    ``del pd[k]``, ``len``, iteration over keys, ``reversed``, ``in``, ``keys``/``items``/
    ``values``, ``get``, ``setdefault``, ``pop``, ``popitem``, ``clear``, ``update``, ``copy``,
    ``fromkeys``, ``|``, ``|=``. A missing key raises an error that is both a ``KeyError`` and an
    ``AttributeError`` (PyTorch's type). It cannot be called.
    """

    def __init__(self, parameters: Any = None) -> None:
        super().__init__()
        self._keys: dict[str, None] = {}
        if parameters is not None:
            self.update(parameters)

    def _missing(self, key: Any) -> _MissingKeyError:
        return _MissingKeyError(f"ParameterDict: no entry under key {key!r} (keys: "
                                f"{list(self._keys)})")

    def __getitem__(self, key: str) -> Any:
        if not isinstance(key, str) or key not in self._keys:
            raise self._missing(key)
        return getattr(self, key)

    def __setitem__(self, key: str, value: Any) -> None:
        _check_name(self, "__setitem__", key)
        if key not in self._keys and hasattr(self, key):
            raise KeyError(f"ParameterDict: key {key!r} is already an attribute of the module; "
                           "pick another key")
        setattr(self, key, _as_parameter(value))
        self._keys[key] = None

    def __delitem__(self, key: str) -> None:
        if not isinstance(key, str) or key not in self._keys:
            raise self._missing(key)
        del self._keys[key]
        delattr(self, key)

    def __len__(self) -> int:
        return len(self._keys)

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys)

    def __reversed__(self) -> Iterator[str]:
        return reversed(list(self._keys))

    def __contains__(self, key: object) -> bool:
        return key in self._keys

    def keys(self):
        return self._keys.keys()

    def items(self) -> Iterator[tuple[str, Any]]:
        return ((k, self[k]) for k in list(self._keys))

    def values(self) -> Iterator[Any]:
        return (self[k] for k in list(self._keys))

    def get(self, key: str, default: Any = None) -> Any:
        return self[key] if key in self._keys else default

    def setdefault(self, key: str, default: Any = None) -> Any:
        if key not in self._keys:
            self[key] = default
        return self[key]

    def pop(self, key: str) -> Any:
        value = self[key]
        del self[key]
        return value

    def popitem(self) -> tuple[str, Any]:
        """Remove and return the last inserted ``(key, value)``."""
        if not self._keys:
            raise KeyError("ParameterDict.popitem: the dict is empty")
        key = next(reversed(self._keys))
        return key, self.pop(key)

    def clear(self) -> None:
        for key in list(self._keys):
            del self[key]

    def copy(self) -> ParameterDict:
        """A new ParameterDict holding the same Parameters."""
        return ParameterDict(OrderedDict((k, self[k]) for k in self._keys))

    def fromkeys(self, keys: Iterable[str], default: Any = None) -> ParameterDict:
        return ParameterDict((k, default) for k in keys)

    def update(self, parameters: Any) -> None:
        """Add or replace entries (a plain mapping in sorted key order, as PyTorch)."""
        for key, value in _pairs("ParameterDict", parameters, (OrderedDict,)):
            self[key] = value

    def __or__(self, other: Any) -> ParameterDict:
        out = self.copy()
        out.update(other)
        return out

    def __ror__(self, other: Any) -> Any:
        out = other.copy()  # PyTorch's rule: a dict | ParameterDict is a dict
        out.update(self)
        return out

    def __ior__(self, other: Any) -> ParameterDict:
        self.update(other)
        return self

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("ParameterDict should not be called; index it (pdict[key]) in the "
                           "parent module's forward")

    def extra_repr(self) -> str:
        return "\n".join(f"  ({k}): {_param_repr(v)}" for k, v in self.items())
