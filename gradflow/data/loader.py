"""``DataLoader``: batch, stochastic and minibatch iteration over a dataset, reproducibly.

Epoch ``e`` is shuffled by a permutation that depends only on ``(seed, e)`` and the augmentation
of step ``s`` of epoch ``e`` draws from a generator seeded by ``(seed, e, s)``, so an interrupted
run resumed with :meth:`DataLoader.set_epoch` sees exactly the batches it would have seen.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from gradflow.backends import cpu_backend, get_backend
from gradflow.creation import from_numpy
from gradflow.data.dataset import Dataset, to_host_array
from gradflow.tensor import Tensor

__all__ = ["DataLoader"]

# Leading domain tags keep the permutation and augmentation seed sequences apart
# (NumPy's SeedSequence treats [a, b] and [a, b, 0] as the same entropy).
_PERMUTE, _AUGMENT = 0x5EED, 0xA064

Transform = Callable[[np.ndarray, np.random.Generator], np.ndarray]


def _check_batch_size(batch_size: Any) -> int | None:
    if batch_size is None:
        return None
    if isinstance(batch_size, bool) or not isinstance(batch_size, int | np.integer) \
            or batch_size <= 0:
        raise ValueError(f"DataLoader: batch_size must be a positive int (1 = stochastic, "
                         f"k = minibatch) or None (full batch), got {batch_size!r}")
    return int(batch_size)


class DataLoader:
    """Iterate over ``dataset`` in batches, yielding tuples of Tensors.

    Args:
        dataset: a :class:`Dataset`. A ``TensorDataset`` (or a ``Subset``/``repeat`` of one) is
            batched by indexing its whole host arrays; any other dataset item by item, each
            field stacked (raw float64 data becomes float32, as ``gf.tensor`` does).
        batch_size: ``None`` = full batch (one step per epoch: batch gradient descent),
            ``1`` = stochastic, any other positive int = minibatch.
        shuffle: visit the examples of epoch ``e`` in the order of a permutation that depends
            only on ``(seed, e)``.
        drop_last: drop the last, smaller batch of each epoch.
        seed: non-negative int. ``None`` draws one from gradflow's CPU generator (so
            ``gf.manual_seed`` makes it reproducible) when ``shuffle`` or ``transform`` needs it.
        device: where batches go (``"cpu"``, ``"cuda"``, ``"auto"``...; ``None`` is the CPU).
            Each batch is gathered on the host and moved once.
        transform: ``transform(features, rng) -> features`` applied to the first array of each
            batch (a NumPy array) before it moves, with ``rng`` seeded by ``(seed, epoch, step)``.

    Attributes:
        epoch: the epoch the next ``iter(loader)`` runs; it starts at 0 and each new iteration
            increments it (so inside the loop the current epoch is ``loader.epoch - 1``).
    """

    def __init__(self, dataset: Dataset, batch_size: int | None = 1, shuffle: bool = False,
                 drop_last: bool = False, seed: int | None = None, device: Any = None,
                 transform: Transform | None = None):
        n = len(dataset)
        if n == 0:
            raise ValueError("DataLoader: the dataset is empty")
        self.batch_size = _check_batch_size(batch_size)
        if drop_last and self.batch_size is not None and self.batch_size > n:
            raise ValueError(f"DataLoader: batch_size={self.batch_size} is larger than the "
                             f"dataset ({n} examples) and drop_last=True would yield no batch; "
                             "lower batch_size or set drop_last=False")
        if transform is not None and not callable(transform):
            raise TypeError(f"DataLoader: transform must be callable as transform(x, rng), got "
                            f"{type(transform).__name__}")
        if seed is None:
            seed = int(cpu_backend.rng.integers(2**63)) if (shuffle or transform) else 0
        if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
            raise ValueError(f"DataLoader: seed must be a non-negative int or None, got {seed!r}")
        self.dataset = dataset
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.seed = int(seed)
        self.transform = transform
        self._backend = get_backend(device)
        self.device = self._backend.device
        self.epoch = 0

    def __len__(self) -> int:
        """Steps per epoch."""
        n = len(self.dataset)
        if self.batch_size is None:
            return 1
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def set_epoch(self, epoch: int) -> None:
        """Make the next iteration epoch ``epoch`` (to resume a run where it stopped)."""
        if isinstance(epoch, bool) or not isinstance(epoch, int | np.integer) or epoch < 0:
            raise ValueError(f"set_epoch: epoch must be a non-negative int, got {epoch!r}")
        self.epoch = int(epoch)

    def state_dict(self) -> dict[str, int]:
        """``{"epoch", "seed"}``: what a checkpoint needs to resume the same batch order."""
        return {"epoch": self.epoch, "seed": self.seed}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.set_epoch(state["epoch"])
        self.seed = int(state["seed"])

    def __iter__(self) -> Iterator[tuple[Tensor, ...]]:
        epoch = self.epoch
        self.epoch += 1
        return self._batches(epoch)

    def order(self, epoch: int) -> np.ndarray:
        """The example indices of epoch ``epoch`` in visiting order."""
        n = len(self.dataset)
        if not self.shuffle:
            return np.arange(n)
        return np.random.default_rng([_PERMUTE, self.seed, int(epoch)]).permutation(n)

    def _batches(self, epoch: int) -> Iterator[tuple[Tensor, ...]]:
        n = len(self.dataset)
        size = n if self.batch_size is None else self.batch_size
        order = self.order(epoch) if self.shuffle else None
        get_batch = getattr(self.dataset, "get_batch", None)
        for step in range(len(self)):
            lo, hi = step * size, min(step * size + size, n)
            if get_batch is None:
                arrays = self._collate(range(lo, hi) if order is None else order[lo:hi])
            else:  # a slice is a view of the dataset: copy before handing it out
                arrays = get_batch(slice(lo, hi) if order is None else order[lo:hi])
                if order is None:
                    arrays = tuple(np.array(a) for a in arrays)
            if self.transform is not None:
                arrays = (self._augment(arrays[0], epoch, step), *arrays[1:])
            yield tuple(self._to_device(a) for a in arrays)

    def _collate(self, indices) -> tuple[np.ndarray, ...]:
        items = [self.dataset[int(i)] for i in indices]
        if isinstance(items[0], tuple | list):
            return tuple(np.stack([to_host_array(x) for x in field]) for field in zip(*items))
        return (np.stack([to_host_array(x) for x in items]),)

    def _augment(self, x: np.ndarray, epoch: int, step: int) -> np.ndarray:
        rng = np.random.default_rng([_AUGMENT, self.seed, epoch, step])
        out = self.transform(x, rng)
        if not isinstance(out, np.ndarray) or out.shape[:1] != x.shape[:1]:
            got = out.shape if isinstance(out, np.ndarray) else type(out).__name__
            raise ValueError(f"DataLoader: transform {self.transform!r} must return a NumPy "
                             f"array with the batch's {x.shape[0]} rows, got {got}")
        return out

    def _to_device(self, a: np.ndarray) -> Tensor:
        t = from_numpy(np.ascontiguousarray(a))
        return t if self._backend is cpu_backend else t.to(self._backend)

    def __repr__(self) -> str:
        mode = ("full batch" if self.batch_size is None else "stochastic"
                if self.batch_size == 1 else f"minibatch of {self.batch_size}")
        return (f"DataLoader({len(self.dataset)} examples, {mode}, {len(self)} steps/epoch, "
                f"shuffle={self.shuffle}, device={self.device!r}, epoch={self.epoch})")
