"""Samplers: the order in which a :class:`~gradflow.data.DataLoader` visits a map-style dataset
(PyTorch's ``torch.utils.data.sampler``).

A sampler is an iterable of dataset indices (``BatchSampler``: of lists of indices). The built-in
ones also answer ``_epoch_indices()`` with one epoch's indices as an int64 array, the same
sequence iteration yields, so that the loader can slice batches out of it without a Python loop.
"""

from __future__ import annotations

import itertools
import numbers
import warnings
from collections.abc import Iterable, Iterator, Sequence, Sized
from typing import Any

import numpy as np

from gradflow.backends import cpu_backend
from gradflow.random import Generator, host_rng_for
from gradflow.sampling import multinomial
from gradflow.tensor import Tensor

__all__ = ["Sampler", "SequentialSampler", "RandomSampler", "SubsetRandomSampler",
           "WeightedRandomSampler", "BatchSampler"]


class Sampler:
    """Base class: subclasses define ``__iter__`` (indices) and usually ``__len__``."""

    def __init__(self, data_source: Sized | None = None) -> None:
        if data_source is not None:
            warnings.warn("`data_source` argument is not used and will be removed in 2.2.0."
                          "You may still have custom implementation that utilizes it.",
                          UserWarning, stacklevel=2)

    def __iter__(self) -> Iterator[Any]:
        raise NotImplementedError(f"{type(self).__name__} must define __iter__")


def _fresh_rng(generator: Generator | None, who: str) -> np.random.Generator:
    """``generator``'s NumPy generator; without one a new generator seeded by one draw from the
    CPU default generator (as PyTorch's RandomSampler does, so ``gf.manual_seed`` governs it)."""
    if generator is None:
        return np.random.default_rng(int(host_rng_for(None, who).integers(2 ** 63)))
    return host_rng_for(generator, who)


class SequentialSampler(Sampler):
    """``0, 1, ..., len(data_source) - 1``."""

    def __init__(self, data_source: Sized) -> None:
        self.data_source = data_source

    def _epoch_indices(self) -> np.ndarray:
        return np.arange(len(self.data_source), dtype=np.int64)

    def __iter__(self) -> Iterator[int]:
        return iter(range(len(self.data_source)))

    def __len__(self) -> int:
        return len(self.data_source)


class RandomSampler(Sampler):
    """A random permutation of the indices per epoch, or ``num_samples`` indices drawn uniformly
    with ``replacement``.

    Without replacement and ``num_samples > len(data_source)``, whole permutations follow each
    other (the last one cut short). Each iteration continues ``generator``'s stream, so two
    samplers whose generators were seeded alike give the same epochs; without a generator each
    epoch seeds a fresh one from the CPU default generator (``gf.manual_seed`` makes it
    reproducible).
    """

    def __init__(self, data_source: Sized, replacement: bool = False,
                 num_samples: int | None = None, generator: Generator | None = None) -> None:
        self.data_source = data_source
        self.replacement = replacement
        self._num_samples = num_samples
        self.generator = generator
        if not isinstance(replacement, bool):
            raise TypeError(f"RandomSampler: replacement should be a boolean value, but got "
                            f"replacement={replacement!r}")
        n = self.num_samples
        if not isinstance(n, int) or n <= 0:
            raise ValueError(f"RandomSampler: num_samples should be a positive integer value, "
                             f"but got num_samples={n!r} (an empty dataset has nothing to "
                             "sample)")

    @property
    def num_samples(self) -> int:
        """``num_samples`` if given, else the current ``len(data_source)``."""
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def _epoch_indices(self) -> np.ndarray:
        n, k = len(self.data_source), self.num_samples
        rng = _fresh_rng(self.generator, "RandomSampler")
        if self.replacement:
            return rng.integers(0, n, size=k, dtype=np.int64)
        perms = [rng.permutation(n) for _ in range(k // n)]
        perms.append(rng.permutation(n)[:k % n])
        return np.concatenate(perms).astype(np.int64, copy=False)

    def __iter__(self) -> Iterator[int]:
        return iter(self._epoch_indices().tolist())

    def __len__(self) -> int:
        return self.num_samples


class SubsetRandomSampler(Sampler):
    """The given ``indices`` in a random order (a new permutation each epoch)."""

    def __init__(self, indices: Sequence[int], generator: Generator | None = None) -> None:
        self.indices = indices
        self.generator = generator

    def _epoch_indices(self) -> np.ndarray:
        perm = host_rng_for(self.generator, "SubsetRandomSampler").permutation(len(self.indices))
        return np.asarray(self.indices, dtype=np.int64).reshape(-1)[perm]

    def __iter__(self) -> Iterator[int]:
        perm = host_rng_for(self.generator, "SubsetRandomSampler").permutation(len(self.indices))
        return (self.indices[i] for i in perm.tolist())

    def __len__(self) -> int:
        return len(self.indices)


class WeightedRandomSampler(Sampler):
    """``num_samples`` indices drawn from ``0 .. len(weights) - 1`` with probabilities
    proportional to ``weights`` (``multinomial``; without ``replacement`` each at most once)."""

    def __init__(self, weights: Sequence[float], num_samples: int, replacement: bool = True,
                 generator: Generator | None = None) -> None:
        if isinstance(num_samples, bool) or not isinstance(num_samples, int) \
                or num_samples <= 0:
            raise ValueError(f"WeightedRandomSampler: num_samples should be a positive integer "
                             f"value, but got num_samples={num_samples!r}")
        if not isinstance(replacement, bool):
            raise ValueError(f"WeightedRandomSampler: replacement should be a boolean value, but "
                             f"got replacement={replacement!r}")
        w = (weights.detach().numpy() if isinstance(weights, Tensor) else
             np.asarray(weights)).astype(np.float64)
        if w.ndim != 1:
            raise ValueError(f"WeightedRandomSampler: weights should be a 1d sequence but given "
                             f"weights have shape {tuple(w.shape)}")
        self.weights = w
        self.num_samples = num_samples
        self.replacement = replacement
        self.generator = generator

    def _epoch_indices(self) -> np.ndarray:
        drawn = multinomial(Tensor.wrap(self.weights, cpu_backend), self.num_samples,
                            self.replacement, generator=self.generator)
        return drawn.array.astype(np.int64, copy=False)

    def __iter__(self) -> Iterator[int]:
        return iter(self._epoch_indices().tolist())

    def __len__(self) -> int:
        return self.num_samples


class BatchSampler(Sampler):
    """Group the indices of ``sampler`` into lists of ``batch_size`` (the last one shorter unless
    ``drop_last``)."""

    def __init__(self, sampler: Sampler | Iterable[int], batch_size: int,
                 drop_last: bool) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) \
                or batch_size <= 0:
            raise ValueError(f"BatchSampler: batch_size should be a positive integer value, but "
                             f"got batch_size={batch_size!r}")
        if not isinstance(drop_last, bool):
            raise ValueError(f"BatchSampler: drop_last should be a boolean value, but got "
                             f"drop_last={drop_last!r}")
        self.sampler = sampler
        self.batch_size = int(batch_size)
        self.drop_last = drop_last

    def __iter__(self) -> Iterator[list[int]]:
        it = iter(self.sampler)
        if self.drop_last:
            for batch in zip(*[it] * self.batch_size, strict=False):
                yield [*batch]
            return
        batch = [*itertools.islice(it, self.batch_size)]
        while batch:
            yield batch
            batch = [*itertools.islice(it, self.batch_size)]

    def __len__(self) -> int:
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
