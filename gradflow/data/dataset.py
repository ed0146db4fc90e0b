"""Datasets (PyTorch's ``torch.utils.data.dataset``): map-style (``__getitem__``/``__len__``) and
iterable-style (``__iter__``) collections a :class:`~gradflow.data.DataLoader` draws from.

In-memory sets (``TensorDataset``, and a ``Subset`` of one) also answer ``get_batch(indices)``
with whole host arrays: the loader batches them by fancy-indexing those arrays, not item by item.
"""

from __future__ import annotations

import bisect
import itertools
import math
import warnings
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import numpy as np

from gradflow.backends import cpu_backend
from gradflow.random import Generator, default_generator, host_rng_for
from gradflow.tensor import Tensor

__all__ = ["Dataset", "IterableDataset", "TensorDataset", "StackDataset", "ConcatDataset",
           "ChainDataset", "Subset", "random_split", "to_host_array"]


class SizeMismatchError(ValueError, AssertionError):
    """Parts of a dataset disagree in length. An ``AssertionError`` as in PyTorch, and a
    ``ValueError`` as the rest of gradflow's argument errors."""


class Dataset:
    """A map-style dataset: subclasses define ``__getitem__(i)`` and usually ``__len__``.

    ``dataset + other`` is ``ConcatDataset([dataset, other])``.
    """

    def __getitem__(self, index: Any) -> Any:
        raise NotImplementedError(f"Subclasses of Dataset should implement __getitem__ "
                                  f"({type(self).__name__} does not)")

    def __add__(self, other: Dataset) -> ConcatDataset:
        return ConcatDataset([self, other])


class IterableDataset(Dataset):
    """An iterable-style dataset: subclasses define ``__iter__``. With ``num_workers > 0`` every
    worker iterates its own copy; split the work with :func:`~gradflow.data.get_worker_info`.

    ``dataset + other`` is ``ChainDataset([dataset, other])``.
    """

    def __iter__(self) -> Iterator[Any]:
        raise NotImplementedError(f"Subclasses of IterableDataset should implement __iter__ "
                                  f"({type(self).__name__} does not)")

    def __add__(self, other: Dataset) -> ChainDataset:  # type: ignore[override]
        return ChainDataset([self, other])


def to_host_array(x: Any) -> np.ndarray:
    """``x`` as a host NumPy array with ``gf.tensor``'s dtype rule: a Tensor or a NumPy/CuPy
    array keeps its dtype (copied from the GPU if needed); Python numbers and nested lists become
    float32 / int64 / bool."""
    if isinstance(x, Tensor):
        return x.detach().numpy()
    if type(x).__module__.startswith("cupy"):
        x = x.get()
    if isinstance(x, np.ndarray):
        if x.dtype.kind in "OSUV":
            raise TypeError(f"cannot use a NumPy array of dtype {x.dtype} as data: it must be "
                            "numeric or bool")
        return x
    from gradflow.creation import tensor  # noqa: PLC0415 (creation imports this package's deps)

    return tensor(x).numpy()


def _wrap(a: Any) -> Tensor:
    """A CPU Tensor around host data (a view when ``a`` is an array)."""
    return Tensor._make(a if isinstance(a, np.ndarray) else np.asarray(a), cpu_backend)


class TensorDataset(Dataset):
    """Example ``i`` is ``tuple(t[i] for t in tensors)``, a tuple of Tensors.

    Args:
        *tensors: gradflow Tensors (any device; kept on the host), NumPy/CuPy arrays or nested
            lists, all with the same size along dim 0. Tensors and arrays keep their dtype, lists
            follow ``gf.tensor`` (float32, int64, bool).

    Attributes:
        arrays: the host arrays (NumPy); ``tensors`` are CPU Tensors sharing their memory.
    """

    def __init__(self, *tensors: Any):
        if not tensors:
            raise ValueError("TensorDataset needs at least one tensor")
        host = tuple(to_host_array(t) for t in tensors)
        for i, a in enumerate(host):
            if a.ndim == 0:
                raise ValueError(f"TensorDataset: tensor {i} is 0-d; every tensor needs a first "
                                 "(example) dimension")
        lengths = [a.shape[0] for a in host]
        if len(set(lengths)) > 1:
            raise SizeMismatchError(f"TensorDataset: size mismatch between tensors: different "
                                    f"lengths {lengths} along dim 0; every tensor needs one row "
                                    "per example")
        self.arrays: tuple[np.ndarray, ...] = host

    @property
    def tensors(self) -> tuple[Tensor, ...]:
        return tuple(_wrap(a) for a in self.arrays)

    def __len__(self) -> int:
        return self.arrays[0].shape[0]

    def __getitem__(self, index: Any) -> tuple[Tensor, ...]:
        return tuple(_wrap(a[index]) for a in self.arrays)

    def get_batch(self, indices: np.ndarray | slice) -> tuple[np.ndarray, ...]:
        """The rows ``indices`` of every array (fancy indexing, or a view for a slice)."""
        return tuple(a[indices] for a in self.arrays)

    def __repr__(self) -> str:
        fields = ", ".join(f"{a.shape} {a.dtype}" for a in self.arrays)
        return f"TensorDataset({len(self)} examples: {fields})"


class StackDataset(Dataset):
    """Example ``i`` is ``tuple(d[i] for d in args)`` or ``{k: d[i] for k, d in kwargs}``."""

    def __init__(self, *args: Dataset, **kwargs: Dataset):
        if args and kwargs:
            raise ValueError("StackDataset: pass datasets either positionally (tuple examples) "
                             "or by keyword (dict examples), not both")
        parts = list(args or kwargs.values())
        if not parts:
            raise ValueError("StackDataset: at least one dataset should be passed")
        lengths = [len(d) for d in parts]
        if len(set(lengths)) > 1:
            raise ValueError(f"StackDataset: size mismatch between datasets: lengths {lengths}")
        self._length = lengths[0]
        self.datasets: tuple | dict = args if args else kwargs

    def __getitem__(self, index: Any) -> Any:
        if isinstance(self.datasets, dict):
            return {k: d[index] for k, d in self.datasets.items()}
        return tuple(d[index] for d in self.datasets)

    def __len__(self) -> int:
        return self._length


class ConcatDataset(Dataset):
    """The examples of ``datasets`` one after the other."""

    @staticmethod
    def cumsum(sequence: Iterable[Dataset]) -> list[int]:
        return list(itertools.accumulate(len(d) for d in sequence))

    def __init__(self, datasets: Iterable[Dataset]):
        self.datasets = list(datasets)
        if not self.datasets:
            raise SizeMismatchError("ConcatDataset: datasets should not be an empty iterable")
        for d in self.datasets:
            if isinstance(d, IterableDataset):
                raise SizeMismatchError("ConcatDataset does not support IterableDataset; use "
                                        "ChainDataset")
        self.cumulative_sizes = self.cumsum(self.datasets)

    def __len__(self) -> int:
        return self.cumulative_sizes[-1]

    def __getitem__(self, idx: int) -> Any:
        n = len(self)
        if idx < 0:
            if -idx > n:
                raise ValueError(f"ConcatDataset: absolute value of index {idx} should not "
                                 f"exceed dataset length {n}")
            idx += n
        part = bisect.bisect_right(self.cumulative_sizes, idx)
        start = self.cumulative_sizes[part - 1] if part else 0
        if part == len(self.datasets):
            raise IndexError(f"ConcatDataset: index {idx} is out of range for {n} examples")
        return self.datasets[part][idx - start]


class ChainDataset(IterableDataset):
    """The iterable datasets ``datasets`` one after the other."""

    def __init__(self, datasets: Iterable[Dataset]):
        self.datasets = datasets

    def _parts(self) -> Iterator[IterableDataset]:
        for d in self.datasets:
            if not isinstance(d, IterableDataset):
                raise SizeMismatchError(f"ChainDataset only supports IterableDataset, got "
                                        f"{type(d).__name__}")
            yield d

    def __iter__(self) -> Iterator[Any]:
        for d in self._parts():
            yield from d

    def __len__(self) -> int:
        return sum(len(d) for d in self._parts())


class Subset(Dataset):
    """The examples of ``dataset`` at ``indices`` (in that order; repeats allowed).

    ``indices`` is kept as an int64 NumPy array (negative indices counted from the end).
    """

    def __init__(self, dataset: Dataset, indices: Sequence[int] | np.ndarray):
        idx = np.asarray(indices.numpy() if isinstance(indices, Tensor) else indices,
                         dtype=np.int64).reshape(-1)
        n = len(dataset)
        if idx.size and (idx.min() < -n or idx.max() >= n):
            bad = idx[(idx < -n) | (idx >= n)][0]
            raise IndexError(f"Subset: index {bad} is out of range for a dataset of {n} examples")
        self.dataset = dataset
        self.indices = np.where(idx < 0, idx + n, idx)
        if hasattr(dataset, "get_batch"):  # batch by whole arrays exactly when the base can
            self.get_batch = self._get_batch

    def __len__(self) -> int:
        return int(self.indices.size)

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, list):
            return self.dataset[[int(self.indices[i]) for i in index]]
        return self.dataset[int(self.indices[index])]

    def __getitems__(self, indices: list[int]) -> list[Any]:
        """The examples at ``indices`` (through the base's ``__getitems__`` where it has one)."""
        base = [int(self.indices[i]) for i in indices]
        getitems = getattr(self.dataset, "__getitems__", None)
        if callable(getitems):
            return getitems(base)
        return [self.dataset[i] for i in base]

    def _get_batch(self, indices: np.ndarray | slice) -> tuple[np.ndarray, ...]:
        return self.dataset.get_batch(self.indices[indices])

    def __repr__(self) -> str:
        return f"Subset({len(self)} of {self.dataset!r})"


def random_split(dataset: Dataset, lengths: Sequence[int | float],
                 generator: Generator | None = default_generator, *,
                 seed: int | None = None) -> list[Subset]:
    """Split ``dataset`` into non-overlapping random Subsets of the given ``lengths``.

    ``lengths`` are counts summing to ``len(dataset)``, or fractions summing to 1: each part then
    gets ``floor(n * fraction)`` examples and the remainder is handed out one by one, round robin
    from the first part (PyTorch's rule). The order is ``randperm(n, generator=generator)``;
    ``seed=s`` (gradflow) is short for ``generator=gf.Generator().manual_seed(s)``.
    """
    if seed is not None:
        if generator is not default_generator:
            raise ValueError("random_split: pass generator= or seed=, not both")
        generator = Generator().manual_seed(seed)
    n = len(dataset)
    lengths = list(lengths)
    total = sum(lengths)
    if math.isclose(total, 1) and total <= 1:
        counts = []
        for i, frac in enumerate(lengths):
            if frac < 0 or frac > 1:
                raise ValueError(f"random_split: fraction at index {i} is not between 0 and 1 "
                                 f"(got {frac})")
            counts.append(math.floor(n * frac))
        for i in range(n - sum(counts)):
            counts[i % len(counts)] += 1
        for i, c in enumerate(counts):
            if c == 0:
                warnings.warn(f"Length of split at index {i} is 0. This might result in an "
                              "empty dataset.", stacklevel=2)
        lengths = counts
    if sum(lengths) != n:
        raise ValueError(f"random_split: sum of input lengths does not equal the length of the "
                         f"input dataset: {lengths} sum to {sum(lengths)}, not {n}; pass counts "
                         f"summing to {n} or fractions summing to 1")
    if any(not float(x).is_integer() or x < 0 for x in lengths):
        raise ValueError(f"random_split: lengths {lengths} must be non-negative integers (or "
                         "fractions summing to 1)")
    order = host_rng_for(generator, "random_split").permutation(n)
    bounds = list(itertools.accumulate(int(x) for x in lengths))
    return [Subset(dataset, order[hi - int(x):hi]) for hi, x in zip(bounds, lengths)]
