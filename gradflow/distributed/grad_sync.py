"""``GradSync``: the data-parallel gradient all-reduce, bucketed, weighted by each rank's share."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from gradflow.distributed.comm import Communicator, init
from gradflow.tensor import Tensor

#: Bucket size in bytes (PyTorch DDP's default, 25 MB).
BUCKET_BYTES = 25 * 2**20


class GradSync:
    """After ``backward()`` and before L2/clipping/``step()``: ``sync(share)`` replaces every
    gradient by ``Σ_ranks share_r · g_r`` (``share`` = this rank's examples / the global batch,
    so the result is the global batch's mean gradient).

    Gradients are packed into buckets of about :data:`BUCKET_BYTES`, one dtype per bucket, in
    reverse parameter order (the order backward produces them), with one in-place allreduce per
    bucket. A parameter without a gradient on a rank contributes zeros; a flag per parameter
    travels in the last bucket, so a parameter no rank used keeps ``grad=None`` everywhere.
    With one rank it only scales the gradients by ``share`` (1 by default: nothing to do).
    """

    def __init__(self, params: Iterable[Tensor], comm: Communicator | None = None,
                 bucket_bytes: int = BUCKET_BYTES):
        self.params = [p for p in params if p.requires_grad]
        self.comm = comm or init()
        self.buckets: list[list[int]] = []
        by_dtype: dict[Any, list[int]] = {}
        for i in reversed(range(len(self.params))):
            by_dtype.setdefault(self.params[i].dtype, []).append(i)
        for idx in by_dtype.values():
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

    def __call__(self, share: float = 1.0) -> None:
        self.sync(share)

    def sync(self, share: float = 1.0) -> None:
        comm = self.comm
        if comm.size == 1:
            if share != 1.0:
                for p in self.params:
                    if p.grad is not None:
                        p.grad.array[...] *= share
            return
        used = np.array([p.grad is not None for p in self.params], dtype=np.float64)
        results: dict[int, np.ndarray] = {}
        for b, bucket in enumerate(self.buckets):
            last = b == len(self.buckets) - 1
            dtype = self.params[bucket[0]].dtype
            sizes = [self.params[i].numel() for i in bucket]
            flat = np.zeros(sum(sizes) + (len(used) if last else 0), dtype=dtype)
            offset = 0
            for i, n in zip(bucket, sizes):
                g = self.params[i].grad
                if g is not None:
                    np.multiply(np.asarray(g.numpy()).reshape(-1), share,
                                out=flat[offset:offset + n])
                offset += n
            if last:
                flat[offset:] = used
            comm.allreduce_sum_(flat)
            offset = 0
            for i, n in zip(bucket, sizes):
                results[i] = flat[offset:offset + n]
                offset += n
            if last:
                used = flat[offset:]
        for i, p in enumerate(self.params):
            if used[i] == 0:
                continue
            summed = results[i].reshape(tuple(p.shape))
            if p.grad is None:
                p.grad = Tensor.wrap(p.backend.xp.asarray(summed).copy(), p.backend)
            else:
                p.grad.array[...] = p.backend.xp.asarray(summed)


__all__ = ["BUCKET_BYTES", "GradSync"]
