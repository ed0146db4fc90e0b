"""Worker processes of a :class:`~gradflow.data.DataLoader` with ``num_workers > 0``.

Each worker is a real process (the loader's ``multiprocessing_context``, else the default start
method) holding its own copy of the dataset. The main process sends it ``(epoch, task, indices)``
on its index queue, round robin, keeping ``prefetch_factor * num_workers`` tasks in flight; the
worker fetches and collates the examples, turns Tensors into host arrays (Tensors do not cross
processes), pickles the batch and answers on the shared result queue. The main process rebuilds
the Tensors and yields the batches in task order.

Worker ``i`` of an iteration is seeded with ``base_seed + i`` (``random``, NumPy's legacy global
generator and gradflow's default generators), where ``base_seed`` is drawn from the loader's
``generator``; :func:`get_worker_info` tells the dataset, ``worker_init_fn`` and the collate
function which worker they run in.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import pickle
import queue
import random
import sys
import time
import traceback
import weakref
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from gradflow.data.collate import pack, unpack

__all__ = ["WorkerInfo", "get_worker_info"]

_POLL_S = 1.0  # how often a waiting worker checks its parent, and the main process its workers
_JOIN_S = 5.0  # how long shutdown waits for a worker before terminating it


class WorkerInfo:
    """What :func:`get_worker_info` returns inside a worker: ``id``, ``num_workers``, ``seed``
    and ``dataset`` (this worker's copy). Read-only."""

    __initialized = False

    def __init__(self, **kwargs: Any):
        for k, v in kwargs.items():
            setattr(self, k, v)
        self.__keys = tuple(kwargs)
        self.__initialized = True

    def __setattr__(self, key: str, value: Any) -> None:
        if self.__initialized:
            raise RuntimeError(f"Cannot assign attributes to {type(self).__name__} objects "
                               f"(tried to set {key!r})")
        super().__setattr__(key, value)

    def __repr__(self) -> str:
        items = ", ".join(f"{k}={getattr(self, k)}" for k in self.__keys)
        return f"{type(self).__name__}({items})"


_worker_info: WorkerInfo | None = None


def get_worker_info() -> WorkerInfo | None:
    """The :class:`WorkerInfo` of the current DataLoader worker process; ``None`` in the main
    process (and in single-process loading)."""
    return _worker_info


class _ExceptionWrapper:
    """An exception raised in a worker, carried to the main process to be raised again there."""

    def __init__(self, worker_id: int, where: str):
        exc = traceback.format_exc()
        self.exc_type: type = RuntimeError
        exc_type = sys.exc_info()[0]
        try:
            pickle.dumps(exc_type)
            self.exc_type = exc_type
        except Exception:  # noqa: BLE001, S110 (a local exception class: report a RuntimeError)
            pass
        name = exc_type.__name__ if exc_type is not None else "exception"
        self.message = (f"Caught {name} in DataLoader worker process {worker_id}{where}.\n"
                        f"Original {exc}")

    def reraise(self) -> None:
        msg = self.message
        if self.exc_type is KeyError:  # KeyError's str() is the repr: keep the traceback legible
            msg = _KeyErrorMessage(msg)
        try:
            exc = self.exc_type(msg)
        except Exception:  # noqa: BLE001 (an exception type that wants other arguments)
            raise RuntimeError(msg) from None
        raise exc


class _KeyErrorMessage(str):
    def __repr__(self) -> str:
        return str(self)


class _IterableEnd:
    """A worker's answer once its copy of an iterable dataset is exhausted."""

    def __init__(self, worker_id: int):
        self.worker_id = worker_id


def _seed_worker(seed: int) -> None:
    from gradflow.random import manual_seed  # noqa: PLC0415 (the worker's own default generators)

    random.seed(seed)
    np.random.seed(seed % 2 ** 32)
    manual_seed(seed)


def _fetch_map(dataset: Any, indices: Any, auto_collation: bool, collate_fn: Callable) -> Any:
    if not auto_collation:
        return collate_fn(dataset[indices])
    getitems = getattr(dataset, "__getitems__", None)
    items = getitems(indices) if callable(getitems) else [dataset[i] for i in indices]
    return collate_fn(items)


def _worker_loop(is_iterable: bool, dataset: Any, index_queue: Any, result_queue: Any,
                 auto_collation: bool, collate_fn: Callable, batch_size: int | None,
                 drop_last: bool, seed: int, init_fn: Callable | None, worker_id: int,
                 num_workers: int, parent_pid: int) -> None:
    """The body of worker ``worker_id``: answer tasks until told to stop (``None``) or the parent
    process is gone."""
    global _worker_info
    try:
        _seed_worker(seed)
        _worker_info = WorkerInfo(id=worker_id, num_workers=num_workers, seed=seed,
                                  dataset=dataset)
        init_error = None
        try:
            if init_fn is not None:
                init_fn(worker_id)
        except Exception:  # noqa: BLE001 (reported on every task of this worker)
            init_error = _ExceptionWrapper(worker_id, " (in worker_init_fn)")
        iterator, iterator_epoch, exhausted = None, None, False
        while True:
            try:
                task = index_queue.get(timeout=_POLL_S)
            except queue.Empty:
                if os.getppid() != parent_pid:
                    return
                continue
            if task is None:  # shutdown: answers still in flight are not wanted
                result_queue.cancel_join_thread()
                return
            epoch, idx, indices = task
            try:
                if init_error is not None:
                    payload: Any = init_error
                elif is_iterable:
                    if iterator_epoch != epoch:
                        iterator, iterator_epoch, exhausted = iter(dataset), epoch, False
                    payload = _IterableEnd(worker_id) if exhausted else None
                    if payload is None:
                        if auto_collation:
                            items = list(itertools.islice(iterator, batch_size))
                            if not items or (drop_last and len(items) < batch_size):
                                exhausted, payload = True, _IterableEnd(worker_id)
                            else:
                                payload = pickle.dumps(pack(collate_fn(items)), protocol=-1)
                        else:
                            try:
                                item = next(iterator)
                            except StopIteration:
                                exhausted, payload = True, _IterableEnd(worker_id)
                            else:
                                payload = pickle.dumps(pack(collate_fn(item)), protocol=-1)
                else:
                    data = _fetch_map(dataset, indices, auto_collation, collate_fn)
                    payload = pickle.dumps(pack(data), protocol=-1)
            except Exception:  # noqa: BLE001 (re-raised in the main process)
                payload = _ExceptionWrapper(worker_id, "")
            result_queue.put((epoch, idx, payload))
    except KeyboardInterrupt:  # the main process is handling it
        pass


def _shutdown(workers: list, index_queues: list, result_queue: Any) -> None:
    """Tell every worker to stop, wait a little, terminate the stragglers, close the queues."""
    for q, w in zip(index_queues, workers):
        if w.is_alive():
            with contextlib.suppress(OSError, ValueError):
                q.put(None)
    deadline = time.monotonic() + _JOIN_S
    for w in workers:
        w.join(max(0.0, deadline - time.monotonic()))
        if w.is_alive():
            w.terminate()
            w.join()
    for q in [*index_queues, result_queue]:
        q.cancel_join_thread()
        q.close()


class WorkerPool:
    """``num_workers`` worker processes for one loader: started at construction, stopped by
    :meth:`shutdown` or when the pool is garbage-collected (or at interpreter exit)."""

    def __init__(self, loader: Any, base_seed: int):
        ctx = loader.multiprocessing_context
        if ctx is None:
            import multiprocessing  # noqa: PLC0415

            ctx = multiprocessing.get_context()
        from gradflow.data.dataset import IterableDataset  # noqa: PLC0415

        self.num_workers = n = loader.num_workers
        self.is_iterable = isinstance(loader.dataset, IterableDataset)
        self.result_queue = ctx.Queue()
        self.index_queues, self.workers = [], []
        for wid in range(n):
            q = ctx.Queue()
            w = ctx.Process(target=_worker_loop, daemon=True, name=f"DataLoader worker {wid}",
                            args=(self.is_iterable, loader.dataset, q, self.result_queue,
                                  loader._auto_collation, loader.collate_fn, loader.batch_size,
                                  loader.drop_last, base_seed + wid, loader.worker_init_fn, wid,
                                  n, os.getpid()))
            w.start()
            self.index_queues.append(q)
            self.workers.append(w)
        self._finalizer = weakref.finalize(self, _shutdown, self.workers, self.index_queues,
                                           self.result_queue)

    @property
    def alive(self) -> bool:
        return self._finalizer.alive

    def shutdown(self) -> None:
        self._finalizer()

    def check_alive(self) -> None:
        dead = [(w.pid, w.exitcode) for w in self.workers if not w.is_alive()]
        if dead:
            self.shutdown()
            pids = ", ".join(f"pid {pid} (exit code {code})" for pid, code in dead)
            raise RuntimeError(f"DataLoader worker(s) exited unexpectedly: {pids}")


class MultiProcessIter:
    """One epoch over a :class:`WorkerPool`: yields the batches in task order."""

    def __init__(self, loader: Any, pool: WorkerPool, epoch: int, tasks: Iterator | None,
                 finish: Callable[[Any], Any], persistent: bool):
        self.pool, self.epoch, self.tasks = pool, epoch, tasks
        self.finish, self.persistent, self.timeout = finish, persistent, loader.timeout
        self.active = [True] * pool.num_workers
        self.turn = itertools.cycle(range(pool.num_workers))
        self.pending: dict[int, int] = {}  # task -> worker
        self.ready: dict[int, Any] = {}
        self.sent = self.yielded = 0
        self.exhausted = False
        for _ in range(loader.prefetch_factor * pool.num_workers):
            if not self._send():
                break

    def _send(self) -> bool:
        if self.exhausted or not any(self.active):
            return False
        if self.tasks is None:
            indices = None
        else:
            indices = next(self.tasks, None)
            if indices is None:
                self.exhausted = True
                return False
        w = next(self.turn)
        while not self.active[w]:
            w = next(self.turn)
        self.pool.index_queues[w].put((self.epoch, self.sent, indices))
        self.pending[self.sent] = w
        self.sent += 1
        return True

    def _receive(self) -> None:
        start = time.monotonic()
        while True:
            wait = _POLL_S if self.timeout <= 0 else min(_POLL_S, self.timeout)
            try:
                epoch, idx, payload = self.pool.result_queue.get(timeout=wait)
            except queue.Empty:
                if self.timeout > 0 and time.monotonic() - start >= self.timeout:
                    self.close()
                    raise RuntimeError(f"DataLoader timed out after {self.timeout} seconds "
                                       "waiting for a batch from its workers") from None
                self.pool.check_alive()
                continue
            if epoch == self.epoch and idx in self.pending:  # else a stale answer: drop it
                self.pending.pop(idx)
                self.ready[idx] = payload
                return

    def __iter__(self) -> MultiProcessIter:
        return self

    def __next__(self) -> Any:
        while True:
            if self.yielded in self.ready:
                payload = self.ready.pop(self.yielded)
                self.yielded += 1
                if isinstance(payload, _IterableEnd):
                    self.active[payload.worker_id] = False
                    self._send()
                    continue
                if isinstance(payload, _ExceptionWrapper):
                    self.close()
                    payload.reraise()
                self._send()
                return self.finish(unpack(pickle.loads(payload)))
            if self.yielded not in self.pending:
                self.close()
                raise StopIteration
            self._receive()

    def close(self) -> None:
        """End this epoch: stop the workers unless they persist across epochs."""
        self.exhausted = True
        if not self.persistent:
            self.pool.shutdown()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):  # at interpreter shutdown
            self.close()
