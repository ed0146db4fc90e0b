"""Collation: turning the examples of a batch into batched Tensors (PyTorch's
``torch.utils.data._utils.collate``: ``default_collate``, ``default_convert``, ``collate`` with a
``collate_fn_map``), producing gradflow Tensors.
"""

from __future__ import annotations

import collections.abc
import copy
import re
from collections.abc import Callable
from typing import Any

import numpy as np

from gradflow.backends import cpu_backend
from gradflow.tensor import Tensor

__all__ = ["default_collate", "default_convert", "collate", "default_collate_fn_map"]

_STR_OR_OBJECT = re.compile(r"[SaUO]")  # NumPy dtype codes that do not make a Tensor
_ERR = ("default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; "
        "found {}")


def _host_tensor(array: np.ndarray) -> Tensor:
    return Tensor._make(array, cpu_backend)


def _rebuild(elem: Any, items: dict | list, mapping: bool) -> Any:
    """A container of ``elem``'s type holding ``items`` (a copy updated in place when it is
    mutable, as PyTorch does, so subclasses keep their attributes); plain dict/list if the type
    cannot be rebuilt."""
    try:
        if mapping:
            if isinstance(elem, collections.abc.MutableMapping):
                clone = copy.copy(elem)
                clone.update(items)
                return clone
            return type(elem)(items)
        if isinstance(elem, collections.abc.MutableSequence):
            clone = copy.copy(elem)
            for i, v in enumerate(items):
                clone[i] = v
            return clone
        return type(elem)(items)
    except TypeError:
        return items


def collate(batch: list[Any], *,
            collate_fn_map: dict[type | tuple[type, ...], Callable] | None = None) -> Any:
    """Collate ``batch`` (a list of examples), dispatching leaves on their type through
    ``collate_fn_map`` and recursing into mappings, namedtuples and sequences (tuples become
    lists)."""
    elem = batch[0]
    elem_type = type(elem)
    if collate_fn_map is not None:
        if elem_type in collate_fn_map:
            return collate_fn_map[elem_type](batch, collate_fn_map=collate_fn_map)
        for kind, fn in collate_fn_map.items():
            if isinstance(elem, kind):
                return fn(batch, collate_fn_map=collate_fn_map)
    if isinstance(elem, collections.abc.Mapping):
        return _rebuild(elem, {k: collate([d[k] for d in batch], collate_fn_map=collate_fn_map)
                               for k in elem}, mapping=True)
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # namedtuple
        return elem_type(*(collate(list(s), collate_fn_map=collate_fn_map)
                           for s in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        size = len(elem)
        if any(len(e) != size for e in batch):
            raise RuntimeError(f"default_collate: each element in list of batch should be of "
                               f"equal size, got sizes {[len(e) for e in batch]}")
        columns = [collate(list(s), collate_fn_map=collate_fn_map) for s in zip(*batch)]
        return columns if isinstance(elem, tuple) else _rebuild(elem, columns, mapping=False)
    raise TypeError(_ERR.format(elem_type))


def collate_tensor_fn(batch: list[Tensor], *, collate_fn_map=None) -> Tensor:
    """Stack along a new dim 0 (host arrays directly when nothing needs a graph)."""
    if all(t.device == "cpu" and not t.requires_grad for t in batch):
        shapes = {t.shape for t in batch}
        if len(shapes) > 1:
            raise RuntimeError(f"default_collate: stack expects each tensor to be equal size, "
                               f"but got shapes {sorted(map(tuple, shapes))}")
        return _host_tensor(np.stack([t.array for t in batch]))
    from gradflow.ops.shape import stack  # noqa: PLC0415 (ops are heavy; rare path)

    return stack(batch, 0)


def collate_numpy_array_fn(batch: list[np.ndarray], *, collate_fn_map=None) -> Tensor:
    if _STR_OR_OBJECT.search(batch[0].dtype.str) is not None:
        raise TypeError(_ERR.format(batch[0].dtype))
    shapes = {a.shape for a in batch}
    if len(shapes) > 1:
        raise RuntimeError(f"default_collate: stack expects each array to be equal size, but got "
                           f"shapes {sorted(shapes)}")
    return _host_tensor(np.stack(batch))


def collate_numpy_scalar_fn(batch: list[Any], *, collate_fn_map=None) -> Tensor:
    return _host_tensor(np.asarray(batch))


def collate_float_fn(batch: list[float], *, collate_fn_map=None) -> Tensor:
    return _host_tensor(np.asarray(batch, dtype=np.float64))


def collate_int_fn(batch: list[int], *, collate_fn_map=None) -> Tensor:
    from gradflow.creation import tensor  # noqa: PLC0415 (bools, ints and mixes as gf.tensor)

    return tensor(batch)


def collate_str_fn(batch: list[Any], *, collate_fn_map=None) -> list[Any]:
    return batch


default_collate_fn_map: dict[type | tuple[type, ...], Callable] = {
    Tensor: collate_tensor_fn,
    np.ndarray: collate_numpy_array_fn,
    (np.bool_, np.number, np.object_): collate_numpy_scalar_fn,
    float: collate_float_fn,
    int: collate_int_fn,
    str: collate_str_fn,
    bytes: collate_str_fn,
}


def default_collate(batch: list[Any]) -> Any:
    """Batch a list of examples into gradflow Tensors with a new outer (batch) dimension.

    Tensors and NumPy arrays are stacked (dtype kept), Python floats become float64, ints int64
    (bools bool), NumPy scalars keep their dtype, strings and bytes stay a list; mappings,
    namedtuples and sequences are collated field by field (a tuple becomes a list), as PyTorch's
    ``default_collate``.
    """
    return collate(batch, collate_fn_map=default_collate_fn_map)


def default_convert(data: Any) -> Any:
    """Turn the NumPy arrays inside ``data`` into Tensors (no batching): the collate function of
    a loader with ``batch_size=None``. Tuples become lists; anything else is left as it is."""
    elem_type = type(data)
    if isinstance(data, Tensor):
        return data
    if elem_type.__module__ == "numpy" and elem_type.__name__ not in ("str_", "bytes_"):
        if isinstance(data, np.ndarray) and _STR_OR_OBJECT.search(data.dtype.str) is not None:
            return data
        return _host_tensor(np.asarray(data))
    if isinstance(data, collections.abc.Mapping):
        return _rebuild(data, {k: default_convert(data[k]) for k in data}, mapping=True)
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return elem_type(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]
    if isinstance(data, collections.abc.Sequence) and not isinstance(data, str | bytes):
        return _rebuild(data, [default_convert(d) for d in data], mapping=False)
    return data


class _Packed:
    """A Tensor in transit between processes: its host array (Tensors do not pickle)."""

    __slots__ = ("array",)

    def __init__(self, array: np.ndarray):
        self.array = array


def map_tensors(obj: Any, fn: Callable[[Any], Any], kind: type) -> Any:
    """``obj`` with every leaf of type ``kind`` replaced by ``fn(leaf)``, through mappings,
    namedtuples, lists and tuples (other objects are kept as they are)."""
    if isinstance(obj, kind):
        return fn(obj)
    if isinstance(obj, collections.abc.Mapping):
        return _rebuild(obj, {k: map_tensors(v, fn, kind) for k, v in obj.items()}, mapping=True)
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):
        return type(obj)(*(map_tensors(v, fn, kind) for v in obj))
    if isinstance(obj, list | tuple):
        return type(obj)(map_tensors(v, fn, kind) for v in obj)
    return obj


def pack(obj: Any) -> Any:
    """``obj`` with its Tensors as host arrays, ready to pickle to the main process."""
    return map_tensors(obj, lambda t: _Packed(t.detach().numpy()), Tensor)


def unpack(obj: Any) -> Any:
    """Undo :func:`pack`: the arrays become CPU Tensors again (no copy)."""
    return map_tensors(obj, lambda p: _host_tensor(p.array), _Packed)
