"""Datasets: the indexable collections a :class:`~gradflow.data.DataLoader` draws batches from.

A dataset that can also answer ``get_batch(indices)`` with whole host arrays (``TensorDataset``,
and ``Subset`` of one) is batched by fancy-indexing those arrays; any other dataset is batched
item by item and stacked.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from gradflow.tensor import Tensor

__all__ = ["Dataset", "TensorDataset", "Subset", "random_split", "to_host_array"]


class Dataset:
    """A map-style dataset: subclasses define ``__len__`` and ``__getitem__(i)``.

    ``__getitem__`` returns one example, usually a tuple ``(features, target)`` of NumPy arrays or
    numbers; the loader stacks the examples of a batch field by field.
    """

    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__} must define __len__")

    def __getitem__(self, index: int) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__")


def to_host_array(x: Any) -> np.ndarray:
    """``x`` as a host NumPy array, with gradflow's dtype rule for raw data.

    A Tensor keeps its dtype (its values are copied from the GPU if needed). NumPy/CuPy arrays and
    nested lists follow ``gf.tensor``: float64 becomes float32, integers and bools are kept.
    """
    if isinstance(x, Tensor):
        return x.detach().numpy()
    if type(x).__module__.startswith("cupy"):
        x = x.get()
    a = np.asarray(x)
    if a.dtype == object:
        raise TypeError(f"cannot turn {type(x).__name__} data into an array (ragged or "
                        "non-numeric items?)")
    return a.astype(np.float32) if a.dtype == np.float64 else a


class TensorDataset(Dataset):
    """Examples ``i`` are ``(a[i] for a in arrays)``; the arrays are kept on the host.

    Args:
        *arrays: gradflow Tensors, NumPy or CuPy arrays, or nested lists, all with the same
            first dimension. Tensors keep their dtype; raw float64 data becomes float32 (as
            ``gf.tensor`` does), integer labels stay integers (int64 from Python ints).
    """

    def __init__(self, *arrays: Any):
        if not arrays:
            raise ValueError("TensorDataset needs at least one array")
        host = tuple(to_host_array(a) for a in arrays)
        for i, a in enumerate(host):
            if a.ndim == 0:
                raise ValueError(f"TensorDataset: array {i} is 0-d; every array needs a first "
                                 "(example) dimension")
        lengths = [a.shape[0] for a in host]
        if len(set(lengths)) > 1:
            raise ValueError(f"TensorDataset: arrays have different lengths {lengths}; every "
                             "array needs one row per example")
        self.arrays: tuple[np.ndarray, ...] = host

    def __len__(self) -> int:
        return self.arrays[0].shape[0]

    def __getitem__(self, index: int) -> tuple[np.ndarray, ...]:
        return tuple(a[index] for a in self.arrays)

    def get_batch(self, indices: np.ndarray | slice) -> tuple[np.ndarray, ...]:
        """The rows ``indices`` of every array (fancy indexing or a slice)."""
        return tuple(a[indices] for a in self.arrays)

    def __repr__(self) -> str:
        fields = ", ".join(f"{a.shape} {a.dtype}" for a in self.arrays)
        return f"TensorDataset({len(self)} examples: {fields})"


class Subset(Dataset):
    """The examples of ``dataset`` at ``indices`` (in that order; repeats allowed)."""

    def __init__(self, dataset: Dataset, indices: Sequence[int] | np.ndarray):
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
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

    def __getitem__(self, index: int) -> Any:
        return self.dataset[int(self.indices[index])]

    def _get_batch(self, indices: np.ndarray | slice) -> tuple[np.ndarray, ...]:
        return self.dataset.get_batch(self.indices[indices])

    def __repr__(self) -> str:
        return f"Subset({len(self)} of {self.dataset!r})"


def random_split(dataset: Dataset, lengths: Sequence[int | float],
                 seed: int = 0) -> list[Subset]:
    """Split ``dataset`` into non-overlapping random Subsets.

    ``lengths`` are counts summing to ``len(dataset)`` or fractions summing to 1 (counts are then
    rounded down and the remainder handed out one by one from the first part).
    """
    n = len(dataset)
    lengths = list(lengths)
    if lengths and all(isinstance(x, float) for x in lengths):
        if abs(sum(lengths) - 1.0) > 1e-6 or min(lengths) < 0:
            raise ValueError(f"random_split: fractions {lengths} must be >= 0 and sum to 1")
        counts = [int(np.floor(f * n)) for f in lengths]
        for i in range(n - sum(counts)):
            counts[i % len(counts)] += 1
    else:
        counts = [int(x) for x in lengths]
        if sum(counts) != n or min(counts, default=0) < 0:
            raise ValueError(f"random_split: lengths {lengths} must be >= 0 and sum to "
                             f"len(dataset) = {n} (or pass fractions summing to 1)")
    order = np.random.default_rng(seed).permutation(n)
    bounds = np.cumsum([0, *counts])
    return [Subset(dataset, order[a:b]) for a, b in zip(bounds[:-1], bounds[1:])]
