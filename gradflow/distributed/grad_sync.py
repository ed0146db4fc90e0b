"""``GradSync``: the data-parallel gradient all-reduce, bucketed, weighted by each rank's share."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from gradflow.distributed.comm import Communicator, init
from gradflow.tensor import Tensor

#: Bucket size in bytes (PyTorch DDP's default, 25 MB).
BUCKET_BYTES = 25 * 2**20


class _Bucket:
    """One flat buffer (allocated once, on the parameters' device) and where each parameter's
    gradient lies in it: ``(parameter index, offset, numel, shape)``. The last bucket also
    carries one used-flag per parameter after the gradients, from ``flags`` on."""

    __slots__ = ("slots", "numel", "dtype", "backend", "flat", "flags")

    def __init__(self, slots: list[tuple[int, int, int, tuple[int, ...]]], numel: int,
                 dtype: Any, backend: Any):
        self.slots, self.numel, self.dtype, self.backend = slots, numel, dtype, backend
        self.flat: Any = None
        self.flags = numel


def _writeable(array: Any) -> bool:
    return getattr(array.flags, "writeable", True)  # CuPy arrays have no such flag


class GradSync:
    """After ``backward()`` and before L2/clipping/``step()``: ``sync(share)`` replaces every
    gradient by ``Σ_ranks share_r · g_r`` (``share`` = this rank's examples / the global batch,
    so the result is the global batch's mean gradient).

    Gradients are packed into buckets of about :data:`BUCKET_BYTES`, one dtype and device per
    bucket, in reverse parameter order (the order backward produces them), with one in-place
    allreduce per bucket. A parameter without a gradient on a rank contributes zeros; a flag per
    parameter travels in the last bucket, so a parameter no rank used keeps ``grad=None``
    everywhere. With one rank it only scales the gradients by ``share`` (1 by default: nothing
    to do).

    The bucket buffers are allocated on the first ``sync`` and reused by every later one (no
    allocation, no page faults per step): each gradient is written into its bucket with one
    ``multiply(g, share, out=...)`` (a copy when ``share == 1``) and the sum is copied back into
    the gradient's own array (a new gradient Tensor only where the rank had none, or its array
    is read-only). CuPy gradients stay on their GPU (the communicator reduces them with NCCL).
    """

    def __init__(self, params: Iterable[Tensor], comm: Communicator | None = None,
                 bucket_bytes: int = BUCKET_BYTES):
        self.params = [p for p in params if p.requires_grad]
        self.comm = comm or init()
        self.buckets: list[list[int]] = []
        self._buckets: list[_Bucket] = []
        groups: dict[Any, list[int]] = {}
        for i in reversed(range(len(self.params))):
            p = self.params[i]
            groups.setdefault((p.dtype, str(p.device)), []).append(i)
        for idx in groups.values():
            bucket: list[int] = []
            nbytes = 0
            for i in idx:
                p = self.params[i]
                if bucket and nbytes + p.numel() * p.dtype.itemsize > bucket_bytes:
                    self.buckets.append(bucket)
                    bucket, nbytes = [], 0
                bucket.append(i)
                nbytes += p.numel() * p.dtype.itemsize
            if bucket:
                self.buckets.append(bucket)
        for bucket in self.buckets:
            slots, offset = [], 0
            for i in bucket:
                p = self.params[i]
                slots.append((i, offset, p.numel(), tuple(p.shape)))
                offset += p.numel()
            first = self.params[bucket[0]]
            self._buckets.append(_Bucket(slots, offset, first.dtype, first.backend))

    def __call__(self, share: float = 1.0) -> None:
        self.sync(share)

    def _allocate(self) -> None:
        last = len(self._buckets) - 1
        for b, bucket in enumerate(self._buckets):
            extra = len(self.params) if b == last else 0
            bucket.flat = bucket.backend.xp.zeros(bucket.numel + extra, dtype=bucket.dtype)

    def sync(self, share: float = 1.0) -> None:
        comm = self.comm
        params = self.params
        if comm.size == 1:
            if share != 1.0:
                for p in params:
                    g = p.grad
                    if g is None:
                        continue
                    if _writeable(g.array):
                        g.array *= share
                    else:
                        p.grad = Tensor.wrap(g.array * share, g.backend)
            return
        if not self._buckets:
            return
        if self._buckets[0].flat is None:
            self._allocate()
        grads = [p.grad for p in params]
        flags = self._buckets[-1]
        tail = flags.flat[flags.flags:]
        tail[...] = flags.backend.xp.asarray(np.fromiter(
            (g is not None for g in grads), dtype=bool, count=len(grads)))
        for bucket in self._buckets:
            flat, xp = bucket.flat, bucket.backend.xp
            for i, offset, n, shape in bucket.slots:
                view = flat[offset:offset + n]
                g = grads[i]
                if g is None:
                    view.fill(0)
                elif share == 1.0:
                    xp.copyto(view.reshape(shape), g.array)
                else:
                    xp.multiply(g.array, share, out=view.reshape(shape))
            comm.allreduce_sum_(flat)
        used = flags.backend.to_host(tail)
        for bucket in self._buckets:
            flat, xp = bucket.flat, bucket.backend.xp
            for i, offset, n, shape in bucket.slots:
                if used[i] == 0:
                    continue
                summed = flat[offset:offset + n].reshape(shape)
                g = grads[i]
                if g is None or not _writeable(g.array) or tuple(g.array.shape) != shape:
                    params[i].grad = Tensor.wrap(summed.copy(), bucket.backend)
                else:
                    xp.copyto(g.array, summed)


__all__ = ["BUCKET_BYTES", "GradSync"]
