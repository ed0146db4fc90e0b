"""What a :class:`~gradflow.train.Trainer` does differently on several ranks (DISTRIBUTED.md).

One process never builds a :class:`RankContext` (the trainer keeps ``None``), so single-process
training is unchanged. On ``R > 1`` ranks (``mpiexec -n R``):

- gradflow ``DataLoader``s built without ``shard=`` are sharded (global-batch semantics: each
  rank takes its contiguous share of every batch, the order from ``(seed, epoch)`` alone);
- rank 0's parameters and buffers are broadcast when ``fit`` begins; every rank then draws
  dropout from its own stream, derived from ``(the common stream, rank)``;
- after ``backward()`` the gradients become the global batch's mean gradient
  (:class:`~gradflow.distributed.GradSync`, each rank weighted by its share of the batch),
  before the L2 term and clipping, so those see the global gradient;
- epoch metrics are reduced as sums and counts (exact global means), so the NaN guard,
  ``loss_tol``, schedulers on plateau and ``EarlyStopping`` decide alike on every rank, and a
  ``stop_training`` set on any rank stops all of them;
- BatchNorm running statistics are averaged across ranks before each validation and at the
  end of every epoch;
- callbacks marked ``rank_zero_only`` (progress bar, tables, loggers, plots) run on rank 0 only;
  checkpoints gather every rank's random state and in-epoch progress and rank 0 writes them.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from gradflow.distributed import GradSync, broadcast_parameters
from gradflow.random import host_rng_for, manual_seed

__all__ = ["RankContext", "is_sharded"]


class RankContext:
    """The data-parallel side of one trainer on ``comm`` (``comm.size > 1``)."""

    def __init__(self, trainer: Any, comm: Any):
        self.comm, self.rank, self.size = comm, comm.rank, comm.size
        self.trainer = trainer
        self.grad_sync = GradSync(trainer.params, comm)
        for loader in (trainer.train_loader, trainer.val_loader):
            self.adopt(loader)

    def adopt(self, loader: Any) -> None:
        """Shard a gradflow DataLoader that was built without ``shard=`` (collective)."""
        from gradflow.data import DataLoader  # noqa: PLC0415

        if isinstance(loader, DataLoader) and loader.shard is None:
            loader._set_shard("auto", self.comm)

    # --- per step ---------------------------------------------------------------------------
    def share(self, loader: Any) -> tuple[float, int]:
        """(this rank's weight in the global batch, its local rows) for the batch the loader
        handed out last; an unsharded loader gives every rank the same batch: weight 1/R."""
        shares = getattr(loader, "last_batch_share", None) if is_sharded(loader) else None
        if shares is None:
            return 1.0 / self.size, -1
        local, total = shares
        return (local / total if total else 0.0), local

    def sync(self, share: float) -> None:
        self.grad_sync.sync(share)

    def global_mean(self, value: float, rows: int) -> float:
        """The global batch's mean of a per-rank mean ``value`` over ``rows`` examples."""
        total, count = self.comm.allreduce_scalars([value * rows if rows else 0.0, rows])
        return total / count if count else float("nan")

    def any(self, flag: bool) -> bool:
        return self.comm.any_true(flag)

    # --- per epoch --------------------------------------------------------------------------
    def reduce_meter(self, losses: np.ndarray, sizes: np.ndarray, correct: float, seen: int
                     ) -> tuple[np.ndarray, np.ndarray, float, int]:
        """Per-batch global mean losses and sizes, global correct count and seen examples, from
        one rank's per-batch means and sizes (one allreduce)."""
        counts = self.comm.allgather_object(len(losses))
        if len(set(counts)) != 1:
            raise RuntimeError(f"fit: the ranks ran different numbers of batches this epoch "
                               f"({counts}); shard the training data with DataLoader(shard=) "
                               "so every rank runs the same steps")
        n = len(losses)
        weighted = np.where(sizes > 0, losses * sizes, 0.0)
        buf = np.concatenate([weighted, sizes, [correct, seen]]).astype(np.float64)
        self.comm.allreduce_sum_(buf)
        total = buf[n:2 * n]
        with np.errstate(invalid="ignore", divide="ignore"):
            means = np.where(total > 0, buf[:n] / np.where(total > 0, total, 1.0), np.nan)
        return means, total, float(buf[-2]), int(buf[-1])

    def reduce_totals(self, losses: np.ndarray, sizes: np.ndarray, correct: float, seen: int
                      ) -> tuple[np.ndarray, np.ndarray, float, int]:
        """As :meth:`reduce_meter` for an evaluation, whose ranks may skip different (empty)
        batches: one global mean over all examples (a one-element "batch")."""
        weighted = float(np.where(sizes > 0, losses * sizes, 0.0).sum())
        weighted, total, correct, seen = self.comm.allreduce_scalars(
            [weighted, float(sizes.sum()), correct, seen])
        mean = weighted / total if total else np.nan
        return np.array([mean]), np.array([total]), correct, int(seen)

    def average_running_stats(self, model: Any) -> None:
        """Average the floating-point ``running_*`` buffers (BatchNorm's) across ranks."""
        for name, buf in model.named_buffers():
            if buf is None or not name.rsplit(".", 1)[-1].startswith("running_"):
                continue
            host = np.ascontiguousarray(buf.numpy(), dtype=np.float64)
            self.comm.allreduce_sum_(host)
            buf.array[...] = buf.backend.xp.asarray(host / self.size, dtype=buf.array.dtype)
            buf.increment_version()

    # --- start and state ----------------------------------------------------------------------
    def start(self, model: Any, reseed: bool) -> None:
        """Rank 0's weights everywhere; with ``reseed`` (a fresh run) each rank gets its own
        random stream, seeded by a draw from the common one and the rank."""
        broadcast_parameters(model, comm=self.comm)
        if reseed:
            common = int(host_rng_for(None, "fit").integers(2 ** 63))
            seed = np.random.SeedSequence([common, self.rank]).generate_state(1, np.uint64)[0]
            manual_seed(int(seed))

    def gather(self, state: dict[str, Any]) -> list[dict[str, Any]]:
        """Every rank's ``state`` (its random state and in-epoch progress), in rank order."""
        return self.comm.allgather_object(state)

    def mine(self, state: dict[str, Any]) -> dict[str, Any] | None:
        """This rank's part of a checkpoint written on ``state["world_size"]`` ranks (None:
        written by one process or another world size, which resumes but not bit for bit)."""
        ranks, saved = state.get("ranks"), state.get("world_size", 1)
        if ranks is not None and saved == self.size:
            return ranks[self.rank]
        if state.get("in_epoch") is not None:
            raise ValueError(f"resume: the checkpoint was written mid-epoch on {saved} rank(s) "
                             f"and this run has {self.size}; resume it on {saved} rank(s), or "
                             "from a checkpoint written at the end of an epoch")
        if self.rank == 0:
            warnings.warn(f"resume: the checkpoint was written on {saved} rank(s), this run has "
                          f"{self.size}: training continues, but not bit for bit (the ranks' "
                          "random streams and data shares differ)", stacklevel=3)
        return None


def is_sharded(loader: Any) -> bool:
    """Whether ``loader`` hands each rank only its share of every batch."""
    return bool(getattr(loader, "sharded", False))
