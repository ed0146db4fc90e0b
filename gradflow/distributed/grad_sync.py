"""``GradSync``: the data-parallel gradient all-reduce, bucketed, weighted by each rank's share."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from gradflow.distributed.comm import Communicator, init
from gradflow.tensor import Tensor

#: Bucket size in bytes (PyTorch DDP's default, 25 MB).
BUCKET_BYTES = 25 * 2**20
#: Gradients of at least this many bytes are reduced in their own array (no copies).
DIRECT_BYTES = 2**20


class _Bucket:
    """One flat buffer (allocated once, on the parameters' device) and where each parameter's
    gradient lies in it: ``(parameter index, offset, numel, shape)``. The last bucket also
    carries one used-flag per parameter after the gradients, from ``flags`` on."""

    __slots__ = ("slots", "numel", "dtype", "backend", "flat", "flags", "direct", "in_place")

    def __init__(self, slots: list[tuple[int, int, int, tuple[int, ...]]], numel: int,
                 dtype: Any, backend: Any, direct: bool = False):
        self.slots, self.numel, self.dtype, self.backend = slots, numel, dtype, backend
        self.flat: Any = None
        self.flags = numel
        self.direct = direct  # one large gradient, reduced in its own array where it can be
        self.in_place = False  # whether this sync reduced it there (nothing to copy back)

    def own_array(self, g: Any) -> Any:
        """The gradient's array if it can be scaled and reduced in place: contiguous, writeable,
        owning its memory (no other tensor sees it), of the parameter's dtype and shape."""
        a = None if g is None else g.array
        if a is None or a.base is not None or not a.flags.c_contiguous or not _writeable(a) \
                or a.dtype != self.dtype or tuple(a.shape) != self.slots[0][3]:
            return None
        return a


def _writeable(array: Any) -> bool:
    return getattr(array.flags, "writeable", True)  # CuPy arrays have no such flag


class GradSync:
    """After ``backward()`` and before L2/clipping/``step()``: ``sync(share)`` replaces every
    gradient by ``Σ_ranks share_r · g_r`` (``share`` = this rank's examples / the global batch,
    so the result is the global batch's mean gradient).

    Gradients are packed into buckets of about :data:`BUCKET_BYTES`, one dtype and device per
    bucket, in reverse parameter order (the order backward produces them), with one in-place
    allreduce per bucket; a gradient of at least ``direct_bytes`` (:data:`DIRECT_BYTES`) is
    reduced on its own, in its own array where that array is contiguous, writeable and its own
    memory (scaled by ``share`` in place: no copy in, no copy back), else through a buffer.
    A parameter without a gradient on a rank contributes zeros; a flag per parameter travels in
    the last packed bucket, so a parameter no rank used keeps ``grad=None`` everywhere. With
    one rank it only scales the gradients by ``share`` (1 by default: nothing to do).

    The bucket buffers are allocated on the first ``sync`` and reused by every later one (no
    allocation, no page faults per step): each small gradient is written into its bucket with
    one ``multiply(g, share, out=...)`` (a copy when ``share == 1``) and the sum is copied back
    into the gradient's own array (a new gradient Tensor only where the rank had none, or its
    array is read-only). CuPy gradients stay on their GPU (the communicator reduces them with
    NCCL).
    """

    def __init__(self, params: Iterable[Tensor], comm: Communicator | None = None,
                 bucket_bytes: int = BUCKET_BYTES, direct_bytes: int = DIRECT_BYTES):
        self.params = [p for p in params if p.requires_grad]
        self.comm = comm or init()
        self.buckets: list[list[int]] = []
        self._buckets: list[_Bucket] = []
        groups: dict[Any, list[int]] = {}
        for i in reversed(range(len(self.params))):
            p = self.params[i]
            groups.setdefault((p.dtype, str(p.device)), []).append(i)
        direct: set[int] = set()
        for idx in groups.values():
            bucket: list[int] = []
            nbytes = 0
            for i in idx:
                p = self.params[i]
                size = p.numel() * p.dtype.itemsize
                if size >= direct_bytes:
                    self.buckets.append([i])
                    direct.add(len(self.buckets) - 1)
                    continue
                if bucket and nbytes + size > bucket_bytes:
                    self.buckets.append(bucket)
                    bucket, nbytes = [], 0
                bucket.append(i)
                nbytes += size
            if bucket:
                self.buckets.append(bucket)
        for b, bucket in enumerate(self.buckets):
            slots, offset = [], 0
            for i in bucket:
                p = self.params[i]
                slots.append((i, offset, p.numel(), tuple(p.shape)))
                offset += p.numel()
            first = self.params[bucket[0]]
            self._buckets.append(_Bucket(slots, offset, first.dtype, first.backend,
                                         direct=b in direct))
        packed = [k for k in self._buckets if not k.direct]
        if self._buckets and not packed:  # the used-flags need a packed bucket
            first = self.params[0]
            self._buckets.append(_Bucket([], 0, first.dtype, first.backend))
            self.buckets.append([])
        self._flags = [k for k in self._buckets if not k.direct][-1] if self._buckets else None

    def __call__(self, share: float = 1.0) -> None:
        self.sync(share)

    def _allocate(self) -> None:
        for bucket in self._buckets:
            if bucket.direct:
                continue  # a buffer only if a rank's gradient cannot be reduced in place
            extra = len(self.params) if bucket is self._flags else 0
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
        flags = self._flags
        if flags.flat is None:
            self._allocate()
        grads = [p.grad for p in params]
        tail = flags.flat[flags.flags:]
        tail[...] = flags.backend.xp.asarray(np.fromiter(
            (g is not None for g in grads), dtype=bool, count=len(grads)))
        for bucket in self._buckets:
            xp = bucket.backend.xp
            if bucket.direct:
                own = bucket.own_array(grads[bucket.slots[0][0]])
                bucket.in_place = own is not None
                if own is not None:
                    if share != 1.0:
                        xp.multiply(own, share, out=own)
                    comm.allreduce_sum_(own)
                    continue
                if bucket.flat is None:
                    bucket.flat = xp.empty(bucket.numel, dtype=bucket.dtype)
            flat = bucket.flat
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
            if bucket.in_place:
                continue
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


__all__ = ["BUCKET_BYTES", "DIRECT_BYTES", "GradSync"]
