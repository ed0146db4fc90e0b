"""Communicators: a size-1 local one, and MPI through mpi4py (imported only under a launcher)."""

from __future__ import annotations

import os
import sys
from typing import Any

import numpy as np

_LAUNCHER_VARS = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "SLURM_NTASKS")
_LOCAL_RANK_VARS = ("MPI_LOCALRANKID", "OMPI_COMM_WORLD_LOCAL_RANK", "PMIX_LOCAL_RANK",
                    "SLURM_LOCALID")


def launched_by_mpi() -> bool:
    """Whether an MPI launcher (mpiexec, srun) started this process with more than one rank."""
    for var in _LAUNCHER_VARS:
        value = os.environ.get(var)
        if value is not None and (var == "PMIX_RANK" or int(value) > 1):
            return True
    return False


class Communicator:
    """What training needs from a communicator: rank, size, barrier, in-place sum-allreduce of a
    host array, broadcast of an array or a Python object, allgather of objects."""

    rank = 0
    size = 1

    @property
    def local_rank(self) -> int:
        for var in _LOCAL_RANK_VARS:
            if var in os.environ:
                return int(os.environ[var])
        return self.rank

    def barrier(self) -> None:
        pass

    def allreduce_sum_(self, array: np.ndarray) -> np.ndarray:
        return array

    def broadcast_(self, array: np.ndarray, root: int = 0) -> np.ndarray:
        return array

    def broadcast_object(self, obj: Any, root: int = 0) -> Any:
        return obj

    def allgather_object(self, obj: Any) -> list:
        return [obj]

    def abort(self, code: int = 1) -> None:
        raise SystemExit(code)


class LocalCommunicator(Communicator):
    """One process: every collective is the identity."""


class MPICommunicator(Communicator):
    """``MPI.COMM_WORLD`` through mpi4py (host buffers: NumPy arrays, in place)."""

    def __init__(self, comm: Any = None):
        from mpi4py import MPI

        self.MPI = MPI
        self.comm = comm if comm is not None else MPI.COMM_WORLD
        self.rank, self.size = self.comm.Get_rank(), self.comm.Get_size()

    def barrier(self) -> None:
        self.comm.Barrier()

    def allreduce_sum_(self, array: np.ndarray) -> np.ndarray:
        self.comm.Allreduce(self.MPI.IN_PLACE, array, op=self.MPI.SUM)
        return array

    def broadcast_(self, array: np.ndarray, root: int = 0) -> np.ndarray:
        self.comm.Bcast(array, root=root)
        return array

    def broadcast_object(self, obj: Any, root: int = 0) -> Any:
        return self.comm.bcast(obj, root=root)

    def allgather_object(self, obj: Any) -> list:
        return self.comm.allgather(obj)

    def abort(self, code: int = 1) -> None:
        self.comm.Abort(code)


_COMM: Communicator | None = None


def init() -> Communicator:
    """The process's communicator (created once): MPI under a launcher, else size 1. Under MPI
    it installs an excepthook that aborts the job on an uncaught exception (a failing rank would
    otherwise leave the others waiting in a collective forever)."""
    global _COMM
    if _COMM is None:
        if launched_by_mpi():
            _COMM = MPICommunicator()
            _install_abort_hook(_COMM)
        else:
            _COMM = LocalCommunicator()
    return _COMM


def get_communicator() -> Communicator:
    return init()


def _install_abort_hook(comm: Communicator) -> None:
    previous = sys.excepthook

    def hook(kind, value, tb):
        previous(kind, value, tb)
        sys.stderr.flush()
        comm.abort(1)

    sys.excepthook = hook


def rank() -> int:
    return init().rank


def size() -> int:
    return init().size


def local_rank() -> int:
    return init().local_rank


def barrier() -> None:
    init().barrier()


def broadcast_parameters(module: Any, root: int = 0, comm: Communicator | None = None) -> None:
    """Overwrite every parameter and buffer of ``module`` (in place, as ``state_dict`` orders
    them) with rank ``root``'s values, so all ranks start alike."""
    comm = comm or init()
    if comm.size == 1:
        return
    for t in module.state_dict().values():  # detached Tensors sharing the module's arrays
        host = np.ascontiguousarray(t.numpy())
        comm.broadcast_(host, root)
        t.array[...] = t.backend.xp.asarray(host)
        t.increment_version()
