"""``DataLoader`` (PyTorch's ``torch.utils.data.DataLoader``): batches of a dataset, in the order
of a sampler, collated into gradflow Tensors, in this process or in worker processes.

gradflow additions (keyword-only): ``seed=`` (``shuffle=True`` without a ``generator`` visits
epoch ``e`` in a permutation that depends only on ``(seed, e)``, so a run resumed with
:meth:`DataLoader.set_epoch` / :meth:`DataLoader.load_state_dict` sees the batches it would have
seen), ``device=`` (where batches go) and ``transform=`` (augmentation of each batch's features,
seeded by ``(seed, epoch, step)``) and ``shard=`` (data-parallel training: each rank takes its
contiguous share of every global batch; see :class:`DataLoader`).
"""

from __future__ import annotations

import multiprocessing
import os
import warnings
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np

from gradflow.backends import cpu_backend, get_backend
from gradflow.data.collate import default_collate, default_convert, map_tensors
from gradflow.data.dataset import Dataset, IterableDataset
from gradflow.data.sampler import BatchSampler, RandomSampler, Sampler, SequentialSampler
from gradflow.random import Generator, host_rng_for
from gradflow.tensor import Tensor

__all__ = ["DataLoader"]

# Leading domain tags keep the permutation and augmentation seed sequences apart
# (NumPy's SeedSequence treats [a, b] and [a, b, 0] as the same entropy).
_PERMUTE, _AUGMENT = 0x5EED, 0xA064

Transform = Callable[[np.ndarray, np.random.Generator], np.ndarray]

#: Attributes PyTorch refuses to change once a DataLoader is built.
_FROZEN = ("batch_size", "batch_sampler", "sampler", "drop_last", "dataset",
           "persistent_workers")


class _EpochRandomSampler(RandomSampler):
    """``shuffle=True`` without a generator: epoch ``e`` is the permutation seeded by
    ``(seed, e)``; the loader sets ``epoch`` before each iteration."""

    def __init__(self, data_source: Any, seed: int):
        super().__init__(data_source)
        self.seed, self.epoch = seed, 0

    def _epoch_indices(self, epoch: int | None = None) -> np.ndarray:
        e = self.epoch if epoch is None else epoch
        return np.random.default_rng([_PERMUTE, self.seed, int(e)]).permutation(
            len(self.data_source))


class _InfiniteConstantSampler(Sampler):
    """The sampler of an iterable dataset: ``None`` forever (the dataset decides)."""

    def __init__(self) -> None:
        pass

    def __iter__(self) -> Iterator[None]:
        while True:
            yield None


def _check_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise TypeError(f"DataLoader: {name} must be an int, got {value!r} "
                        f"({type(value).__name__})")
    return int(value)


def _context(ctx: Any, num_workers: int) -> Any:
    if ctx is None:
        return None
    if num_workers == 0:
        raise ValueError(f"DataLoader: multiprocessing_context can only be used with "
                         f"multi-process loading (num_workers > 0), but got "
                         f"num_workers={num_workers}")
    if isinstance(ctx, str):
        methods = multiprocessing.get_all_start_methods()
        if ctx not in methods:
            raise ValueError(f"DataLoader: multiprocessing_context option should specify a "
                             f"valid start method in {methods!r}, but got "
                             f"multiprocessing_context={ctx!r}")
        return multiprocessing.get_context(ctx)
    if not isinstance(ctx, multiprocessing.context.BaseContext):
        raise TypeError(f"DataLoader: multiprocessing_context option should be a valid context "
                        f"object or a string specifying the start method, but got "
                        f"multiprocessing_context={ctx!r}")
    return ctx


class DataLoader:
    """Iterate over ``dataset`` in batches of gradflow Tensors (PyTorch's arguments and rules).

    Args:
        dataset: a map-style :class:`Dataset` (``__getitem__``/``__len__``) or an
            :class:`IterableDataset`.
        batch_size: examples per batch; ``None`` disables batching (each example is yielded on
            its own, its arrays turned into Tensors by ``default_convert``).
        shuffle: a new random order each epoch (``RandomSampler``; see ``seed`` and
            ``generator``).
        sampler: the order of the indices (exclusive with ``shuffle``).
        batch_sampler: yields lists of indices (exclusive with ``batch_size``, ``shuffle``,
            ``sampler`` and ``drop_last``).
        num_workers: worker processes loading the batches (0: this process). An in-memory
            dataset (``TensorDataset``, a ``Subset`` of one: anything with ``get_batch``) with
            the default ``collate_fn`` is always batched here by slicing its arrays, which is
            faster than any worker; other datasets get real processes (see
            :mod:`gradflow.data.worker`).
        collate_fn: merges a list of examples into a batch (default :func:`default_collate`,
            or :func:`default_convert` when ``batch_size=None``).
        pin_memory: accepted for compatibility; a no-op (gradflow's host arrays are handed to
            the device directly).
        drop_last: drop the last, smaller batch.
        timeout: seconds to wait for a batch from the workers (0: forever, while they live).
        worker_init_fn: ``worker_init_fn(worker_id)``, called in each worker after seeding.
        multiprocessing_context: a start method name (``"fork"``, ``"spawn"``...) or context.
        generator: the ``gf.Generator`` of ``RandomSampler`` and of the workers' base seed.
        prefetch_factor: batches in flight per worker (default 2; needs ``num_workers > 0``).
        persistent_workers: keep the workers across epochs (needs ``num_workers > 0``).
        seed: (gradflow) non-negative int for ``shuffle=True`` without a ``generator``: epoch
            ``e`` is a permutation that depends only on ``(seed, e)``. ``None`` draws one from the
            CPU default generator when needed (``gf.manual_seed`` makes it reproducible).
        device: (gradflow) where batches go (``"cpu"``, ``"cuda"``, ``"auto"``...).
        transform: (gradflow) ``transform(features, rng) -> features``, applied to the first
            field of each batch (as a NumPy array) with ``rng`` seeded by
            ``(seed, epoch, step)`` (and the rank, when sharded).
        shard: (gradflow) data-parallel loading with global-batch semantics. ``"auto"``: the
            rank and size of :func:`gradflow.distributed.init` (one process: no sharding);
            ``(rank, world_size)``: explicit. ``batch_size`` stays the *global* batch: at step
            ``s`` every rank takes its contiguous share (``[n·r/R, n·(r+1)/R)``) of the batch
            one process would take, so every rank runs ``len(loader)`` steps and the union
            over ranks is exactly the one-process epoch (no padding, no duplicates; a share
            of a short last batch may be empty). The order depends on ``(seed, epoch)`` only:
            under ``"auto"`` a drawn seed is broadcast from rank 0. ``last_batch_share`` is
            ``(local rows, global rows)`` of the batch handed out last (the gradient weight of
            this rank). ``None`` (the default) is PyTorch's behaviour (every process sees the
            whole dataset); ``fit`` shards such a DataLoader when run on several ranks, and
            ``shard=False`` keeps it whole there.

    Attributes:
        epoch: the epoch the next ``iter(loader)`` runs; it starts at 0 and each new iteration
            increments it (so inside the loop the current epoch is ``loader.epoch - 1``).
    """

    __initialized = False

    def __init__(self, dataset: Dataset, batch_size: int | None = 1, shuffle: bool | None = None,
                 sampler: Sampler | Iterable | None = None,
                 batch_sampler: Sampler | Iterable | None = None, num_workers: int = 0,
                 collate_fn: Callable[[list], Any] | None = None, pin_memory: bool = False,
                 drop_last: bool = False, timeout: float = 0,
                 worker_init_fn: Callable[[int], None] | None = None,
                 multiprocessing_context: Any = None, generator: Generator | None = None, *,
                 prefetch_factor: int | None = None, persistent_workers: bool = False,
                 pin_memory_device: str = "", in_order: bool = True, seed: int | None = None,
                 device: Any = None, transform: Transform | None = None, shard: Any = None):
        seed_given = seed is not None
        num_workers = _check_int(num_workers, "num_workers")
        if num_workers < 0:
            raise ValueError(f"DataLoader: num_workers option should be non-negative (got "
                             f"{num_workers}); use num_workers=0 to disable multiprocessing.")
        if timeout < 0:
            raise ValueError(f"DataLoader: timeout option should be non-negative, got {timeout}")
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError("DataLoader: prefetch_factor option could only be specified in "
                             "multiprocessing. Let num_workers > 0 to enable multiprocessing, "
                             f"otherwise set prefetch_factor to None (got {prefetch_factor!r})")
        if num_workers > 0 and prefetch_factor is None:
            prefetch_factor = 2
        elif prefetch_factor is not None:
            prefetch_factor = _check_int(prefetch_factor, "prefetch_factor")
            if prefetch_factor < 0:
                raise ValueError(f"DataLoader: prefetch_factor option should be non-negative, "
                                 f"got {prefetch_factor}")
        if persistent_workers and num_workers == 0:
            raise ValueError("DataLoader: persistent_workers option needs num_workers > 0")
        if generator is not None and not isinstance(generator, Generator):
            raise TypeError(f"DataLoader: generator must be a gradflow.Generator, got "
                            f"{type(generator).__name__}")
        if transform is not None and not callable(transform):
            raise TypeError(f"DataLoader: transform must be callable as transform(x, rng), got "
                            f"{type(transform).__name__}")

        iterable = isinstance(dataset, IterableDataset)
        if iterable:
            if shuffle not in (False, None):
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified shuffle "
                                 f"option, but got shuffle={shuffle!r}")
            if sampler is not None:
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified sampler "
                                 f"option, but got sampler={sampler!r}")
            if batch_sampler is not None:
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified "
                                 f"batch_sampler option, but got batch_sampler={batch_sampler!r}")
        shuffle = bool(shuffle)
        if sampler is not None and shuffle:
            raise ValueError("DataLoader: sampler option is mutually exclusive with shuffle "
                             "(shuffle inside the sampler, e.g. RandomSampler)")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("DataLoader: batch_sampler option is mutually exclusive with "
                                 "batch_size, shuffle, sampler, and drop_last (the batch sampler "
                                 "decides them)")
            batch_size, drop_last = None, False
        elif batch_size is None and drop_last:
            raise ValueError("DataLoader: batch_size=None option disables auto-batching and is "
                             "mutually exclusive with drop_last")

        if seed is not None:
            if generator is not None:
                raise ValueError("DataLoader: pass generator= (PyTorch) or seed= (gradflow), "
                                 "not both")
            if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
                raise ValueError(f"DataLoader: seed must be a non-negative int or None, got "
                                 f"{seed!r}")
        elif (shuffle and sampler is None and generator is None) or transform is not None:
            seed = int(host_rng_for(generator, "DataLoader").integers(2 ** 63))
        self.seed = 0 if seed is None else int(seed)

        if sampler is None:
            if iterable:
                sampler = _InfiniteConstantSampler()
            elif shuffle:
                sampler = (RandomSampler(dataset, generator=generator) if generator is not None
                           else _EpochRandomSampler(dataset, self.seed))
            else:
                sampler = SequentialSampler(dataset)
        if batch_size is not None and batch_sampler is None:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)

        self.dataset = dataset
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.num_workers = num_workers
        self.prefetch_factor = prefetch_factor
        self.pin_memory = pin_memory
        self.pin_memory_device = pin_memory_device
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.multiprocessing_context = _context(multiprocessing_context, num_workers)
        self.generator = generator
        self.persistent_workers = persistent_workers
        self.in_order = in_order
        self.shuffle = shuffle
        self.collate_fn = collate_fn if collate_fn is not None else (
            default_collate if self._auto_collation else default_convert)
        self.transform = transform
        self._backend = get_backend(device)
        self.device = self._backend.device
        self.epoch = 0
        self._pool = None
        self._sliceable = (not iterable and collate_fn is None and self._auto_collation
                           and callable(getattr(dataset, "get_batch", None)))
        self.shard = shard
        self.shard_rank, self.shard_size = 0, 1
        self.last_batch_share: tuple[int, int] | None = None
        self._pending_shares: deque[tuple[int, int]] | None = None
        self._seed_given = seed_given
        if shard is not None and shard is not False:
            self._set_shard(shard)
        if num_workers > (os.cpu_count() or 1) and not self._sliceable:
            warnings.warn(f"DataLoader: num_workers={num_workers} exceeds the {os.cpu_count()} "
                          "CPUs of this machine; loading may be slow or freeze", UserWarning,
                          stacklevel=2)
        self.__initialized = True

    def __setattr__(self, name: str, value: Any) -> None:
        if self.__initialized and name in _FROZEN:
            raise ValueError(f"DataLoader: {name} attribute should not be set after DataLoader "
                             "is initialized; build a new DataLoader")
        super().__setattr__(name, value)

    def _set_shard(self, shard: Any, comm: Any = None) -> None:
        """Shard this loader (``"auto"``, ``(rank, world_size)``; ``comm`` for ``"auto"``)."""
        if shard == "auto":
            if comm is None:
                from gradflow.distributed import init  # noqa: PLC0415

                comm = init()
            rank, size = comm.rank, comm.size
        elif (isinstance(shard, tuple | list) and len(shard) == 2
              and all(isinstance(v, int | np.integer) and not isinstance(v, bool)
                      for v in shard) and 0 <= shard[0] < shard[1]):
            rank, size = int(shard[0]), int(shard[1])
        else:
            raise ValueError(f"DataLoader: shard must be None, False, 'auto' or (rank, "
                             f"world_size) with 0 <= rank < world_size, got {shard!r}")
        if size > 1:
            if isinstance(self.dataset, IterableDataset) or not self._auto_collation:
                raise ValueError("DataLoader: shard= needs a map-style dataset with batching "
                                 "(batch_size or batch_sampler): each rank takes a share of "
                                 "every batch")
            if not self.in_order:
                raise ValueError("DataLoader: shard= needs in_order=True (the shares of a "
                                 "batch must be handed out in order)")
            if self.shuffle and self.generator is not None:
                raise ValueError("DataLoader: shard= with shuffle=True needs seed= instead of "
                                 "generator= (every rank must draw the same order)")
            if self.shuffle and not self._seed_given and \
                    isinstance(self.sampler, _EpochRandomSampler):
                if comm is None:
                    raise ValueError(f"DataLoader: shard={shard!r} with shuffle=True needs an "
                                     "explicit seed= (the same on every rank)")
                self.seed = int(comm.broadcast_object(self.seed))
                self.sampler.seed = self.seed
        self.shard = shard
        self.shard_rank, self.shard_size = rank, size

    @property
    def sharded(self) -> bool:
        """Whether each rank loads only its share of every batch (``shard`` over > 1 ranks)."""
        return self.shard_size > 1

    def _share(self, n: int) -> tuple[int, int]:
        """This rank's rows ``[lo, hi)`` of a global batch of ``n`` rows."""
        r, size = self.shard_rank, self.shard_size
        return n * r // size, n * (r + 1) // size

    def _local(self, idx: Any) -> Any:
        """This rank's share of a global batch's indices (a slice, an array or a list), noted
        in the queue of shares handed out with the batches."""
        if isinstance(idx, slice):
            n = idx.stop - idx.start
            lo, hi = self._share(n)
            local = slice(idx.start + lo, idx.start + hi)
        else:
            n = len(idx)
            lo, hi = self._share(n)
            local = idx[lo:hi]
        self._pending_shares.append((hi - lo, n))
        return local

    def _hand_out(self) -> None:
        if self._pending_shares is not None:
            self.last_batch_share = self._pending_shares.popleft()

    @property
    def _auto_collation(self) -> bool:
        return self.batch_sampler is not None

    @property
    def _index_sampler(self) -> Any:
        return self.batch_sampler if self._auto_collation else self.sampler

    def __len__(self) -> int:
        """Batches per epoch (for an IterableDataset: from ``len(dataset)``)."""
        if isinstance(self.dataset, IterableDataset):
            n = len(self.dataset)
            if self.batch_size is None:
                return n
            return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
        return len(self._index_sampler)

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
        if isinstance(self.sampler, _EpochRandomSampler):
            self.sampler.seed = self.seed

    def order(self, epoch: int) -> np.ndarray:
        """The example indices of epoch ``epoch`` in visiting order (sequential, or shuffled by
        ``seed``: an order drawn from a generator is only known when the epoch runs)."""
        if isinstance(self.sampler, _EpochRandomSampler):
            return self.sampler._epoch_indices(epoch)
        if isinstance(self.sampler, SequentialSampler):
            return self.sampler._epoch_indices()
        raise TypeError(f"DataLoader.order: the order of a {type(self.sampler).__name__} is "
                        "drawn when the epoch runs; only sequential loaders and shuffle=True "
                        "with seed= know it in advance")

    def __iter__(self) -> Iterator[Any]:
        epoch = self.epoch
        self.epoch += 1
        if isinstance(self.sampler, _EpochRandomSampler):
            self.sampler.epoch = epoch
        base_seed = int(host_rng_for(self.generator, "DataLoader").integers(2 ** 63))
        self._pending_shares = deque() if self.sharded else None
        if self._sliceable:
            return self._array_batches(epoch, self._index_arrays())
        tasks = None if isinstance(self.dataset, IterableDataset) else self._index_batches()
        if self.num_workers == 0:
            return self._single_process(epoch, tasks)
        return self._multi_process(epoch, base_seed, tasks)

    # -- the order of an epoch ------------------------------------------------------------

    def _epoch_order(self) -> np.ndarray | None:
        """The whole epoch's indices when the batches come from our own BatchSampler over a
        built-in sampler (so batches can be sliced out of one array), else None."""
        bs = self.batch_sampler
        if type(bs) is BatchSampler and hasattr(bs.sampler, "_epoch_indices"):
            return bs.sampler._epoch_indices()
        return None

    def _index_arrays(self) -> Iterator[np.ndarray | slice]:
        """Per batch, the indices as an int array (a slice when sequential)."""
        bs = self.batch_sampler
        order = self._epoch_order()
        if order is None:
            batches = (np.asarray(b, dtype=np.int64) for b in bs)
        else:
            n, size = len(order), bs.batch_size
            steps = n // size if bs.drop_last else -(-n // size)
            if type(bs.sampler) is SequentialSampler:
                batches = (slice(s * size, min(s * size + size, n)) for s in range(steps))
            else:
                batches = (order[s * size:s * size + size] for s in range(steps))
        return (self._local(b) for b in batches) if self.sharded else batches

    def _index_batches(self) -> Iterator[Any]:
        """The tasks of an epoch: lists of indices (single indices without auto-collation)."""
        order = self._epoch_order()
        if order is None:
            batches = iter(self._index_sampler)
        else:
            bs = self.batch_sampler
            n, size = len(order), bs.batch_size
            steps = n // size if bs.drop_last else -(-n // size)
            batches = (order[s * size:s * size + size].tolist() for s in range(steps))
        return (self._local(list(b)) for b in batches) if self.sharded else batches

    # -- the three ways of loading -------------------------------------------------------

    def _array_batches(self, epoch: int, indices: Iterator) -> Iterator[list[Tensor]]:
        get_batch = self.dataset.get_batch
        for step, idx in enumerate(indices):
            arrays = get_batch(idx)
            if isinstance(idx, slice):  # a view of the dataset: copy before handing it out
                arrays = [np.array(a) for a in arrays]
            if self.transform is not None:
                arrays = [self._augment(arrays[0], epoch, step), *arrays[1:]]
            self._hand_out()
            yield [self._to_device(a) for a in arrays]

    def _single_process(self, epoch: int, tasks: Iterator | None) -> Iterator[Any]:
        collate, dataset = self.collate_fn, self.dataset
        if tasks is None:
            items = self._iterable_batches(iter(dataset))
        elif self._auto_collation:
            getitems = getattr(dataset, "__getitems__", None)
            fetch = getitems if callable(getitems) else (lambda b: [dataset[i] for i in b])
            items = (fetch(b) for b in tasks)
        else:
            items = (dataset[i] for i in tasks)
        for step, item in enumerate(items):
            yield self._finish(collate(item), epoch, step)

    def _iterable_batches(self, it: Iterator) -> Iterator[Any]:
        if not self._auto_collation:
            yield from it
            return
        while True:
            batch = []
            for item in it:
                batch.append(item)
                if len(batch) == self.batch_size:
                    break
            if not batch or (self.drop_last and len(batch) < self.batch_size):
                return
            yield batch

    def _multi_process(self, epoch: int, base_seed: int, tasks: Iterator | None
                       ) -> Iterator[Any]:
        from gradflow.data.worker import MultiProcessIter, WorkerPool  # noqa: PLC0415

        pool = self._pool
        if pool is None or not pool.alive:
            pool = WorkerPool(self, base_seed)
            if self.persistent_workers:
                object.__setattr__(self, "_pool", pool)
        step = iter(range(2 ** 62))

        def finish(batch: Any) -> Any:
            return self._finish(batch, epoch, next(step))

        return MultiProcessIter(self, pool, epoch, tasks, finish, self.persistent_workers)

    # -- after collation -----------------------------------------------------------------

    def _finish(self, batch: Any, epoch: int, step: int) -> Any:
        self._hand_out()
        if self.transform is not None:
            if not (isinstance(batch, list | tuple) and batch and isinstance(batch[0], Tensor)):
                raise TypeError(f"DataLoader: transform needs batches whose first field is a "
                                f"Tensor (features, ...), got {type(batch).__name__}")
            x = self._augment(batch[0].numpy(), epoch, step)
            batch = type(batch)([Tensor._make(np.ascontiguousarray(x), cpu_backend),
                                 *batch[1:]])
        if self._backend is not cpu_backend:
            batch = map_tensors(batch, lambda t: t.to(self._backend), Tensor)
        return batch

    def _augment(self, x: np.ndarray, epoch: int, step: int) -> np.ndarray:
        key = [_AUGMENT, self.seed, epoch, step] + ([self.shard_rank] if self.sharded else [])
        rng = np.random.default_rng(key)
        out = self.transform(x, rng)
        if not isinstance(out, np.ndarray) or out.shape[:1] != x.shape[:1]:
            got = out.shape if isinstance(out, np.ndarray) else type(out).__name__
            raise ValueError(f"DataLoader: transform {self.transform!r} must return a NumPy "
                             f"array with the batch's {x.shape[0]} rows, got {got}")
        return out

    def _to_device(self, a: np.ndarray) -> Tensor:
        t = Tensor._make(np.ascontiguousarray(a), cpu_backend)
        return t if self._backend is cpu_backend else t.to(self._backend)

    def __repr__(self) -> str:
        try:
            steps = f", {len(self)} batches/epoch"
        except TypeError:
            steps = ""
        return (f"DataLoader({type(self.dataset).__name__}, batch_size={self.batch_size}"
                f"{steps}, sampler={type(self.sampler).__name__}, "
                f"num_workers={self.num_workers}, device={self.device!r}, epoch={self.epoch})")
