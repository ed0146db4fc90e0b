"""NCCL through CuPy for GPU gradients; MPI stays the control plane (DISTRIBUTED.md).

The NCCL communicator is created from a unique id that rank 0 draws and broadcasts over MPI
(never a TCP store). Reductions run in place on the current CuPy stream, without host copies;
the collective watchdog also watches the last NCCL operation (a CUDA event) and aborts the job
(``ncclCommAbort``, then ``MPI_Abort``) when it is unfinished after ``GRADFLOW_DIST_TIMEOUT``.
Importing this module needs neither CuPy nor a GPU.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Sequence
from typing import Any, NamedTuple

from gradflow.distributed.comm import Communicator, MPICommunicator


class ArrayShape(NamedTuple):
    """What the watchdog reports of a device buffer (it must not keep the buffer alive)."""

    shape: tuple
    dtype: Any
    nbytes: int


#: NumPy/CuPy dtype name -> the name of CuPy's NCCL datatype constant.
NCCL_DTYPES = {"int8": "NCCL_INT8", "uint8": "NCCL_UINT8", "int32": "NCCL_INT32",
               "uint32": "NCCL_UINT32", "int64": "NCCL_INT64", "uint64": "NCCL_UINT64",
               "float16": "NCCL_FLOAT16", "float32": "NCCL_FLOAT32", "float64": "NCCL_FLOAT64",
               "bfloat16": "NCCL_BFLOAT16"}


def nccl_unavailable_reason() -> str:
    """Why NCCL cannot be used in this process ("" when it can)."""
    try:
        import cupy
    except Exception as exc:  # noqa: BLE001 - ImportError, or a broken CUDA installation
        return f"CuPy is not importable ({type(exc).__name__}: {exc}); pip install cupy-cuda12x"
    try:
        from cupy.cuda import nccl
    except Exception as exc:  # noqa: BLE001
        return f"CuPy has no NCCL ({exc}); install NCCL (pip install nvidia-nccl-cu12)"
    if not getattr(nccl, "available", True):
        return "CuPy was built without NCCL"
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:  # noqa: BLE001 - no driver
        return f"no CUDA device ({exc})"
    return "" if count > 0 else "no CUDA device"


class NCCLCommunicator(Communicator):
    """NCCL for CuPy arrays, ``mpi_comm`` (an :class:`MPICommunicator`) for the rest.

    ``device``: the GPU index of this rank (default: its local rank, as
    :func:`gradflow.distributed.device_for` maps ``"cuda"``). Collective on every rank."""

    backend = "nccl"

    def __init__(self, mpi_comm: MPICommunicator, device: int | None = None):
        if not isinstance(mpi_comm, MPICommunicator):
            raise TypeError(f"NCCLCommunicator: expected an MPICommunicator (the control "
                            f"plane), got {type(mpi_comm).__name__}")
        reason = nccl_unavailable_reason()
        if reason:
            raise RuntimeError(f"NCCLCommunicator: NCCL is unavailable on rank {mpi_comm.rank}: "
                               f"{reason}; or use init(backend='mpi')")
        import cupy
        from cupy.cuda import nccl

        self.cupy, self._lib, self.mpi = cupy, nccl, mpi_comm
        self.rank, self.size = mpi_comm.rank, mpi_comm.size
        count = cupy.cuda.runtime.getDeviceCount()
        index = mpi_comm.local_rank if device is None else int(device)
        if not 0 <= index < count:
            raise RuntimeError(f"NCCLCommunicator: rank {self.rank} wants cuda:{index} but this "
                               f"node has {count} CUDA device(s); start at most {count} rank(s) "
                               "per node or pass device=")
        self.device = cupy.cuda.Device(index)
        uid = nccl.get_unique_id() if self.rank == 0 else None
        uid = mpi_comm.broadcast_object(uid, 0)
        with self.device:
            self.nccl = mpi_comm._collective("init (ncclCommInitRank)", None,
                                             nccl.NcclCommunicator, self.size, uid, self.rank)
        mpi_comm._nccl, mpi_comm._device_backend = self, "nccl"

    @property
    def local_rank(self) -> int:
        return self.mpi.local_rank

    # --- device collectives --------------------------------------------------------------------
    def _args(self, array: Any, who: str) -> tuple[int, int]:
        if not isinstance(array, self.cupy.ndarray):
            raise TypeError(f"{who}: expected a CuPy array, got {type(array).__name__}")
        if not array.flags.c_contiguous:
            raise ValueError(f"{who}: the array must be C-contiguous (shape {array.shape}, "
                             f"strides {array.strides}); pass cupy.ascontiguousarray(a) and "
                             "copy the result back")
        if array.device.id != self.device.id:
            raise ValueError(f"{who}: the array is on cuda:{array.device.id} but this rank's "
                             f"NCCL communicator is on cuda:{self.device.id}")
        name = NCCL_DTYPES.get(array.dtype.name)
        if name is None or not hasattr(self._lib, name):
            known = ", ".join(k for k, v in NCCL_DTYPES.items() if hasattr(self._lib, v))
            raise TypeError(f"{who}: NCCL cannot reduce dtype {array.dtype}; supported: {known}")
        return array.size, getattr(self._lib, name)

    def _tick(self) -> None:
        """Count a device collective (the exit notices compare counts across ranks)."""
        watch = self.mpi._watch
        if watch is not None:
            watch.count += 1

    def _track(self, who: str, array: Any, stream: Any) -> None:
        watch = self.mpi._watch
        if watch is not None:
            event = self.cupy.cuda.Event(block=False, disable_timing=True)
            event.record(stream)
            shape = ArrayShape(array.shape, array.dtype, array.nbytes)  # not the array itself
            watch.device = (who, shape, time.monotonic(), lambda: event.done)

    def allreduce_sum_(self, array: Any) -> Any:
        if not isinstance(array, self.cupy.ndarray):
            return self.mpi.allreduce_sum_(array)
        count, dtype = self._args(array, "allreduce_sum_")
        self._tick()
        if count:
            with self.device:
                stream = self.cupy.cuda.get_current_stream()
                ptr = array.data.ptr
                self.nccl.allReduce(ptr, ptr, count, dtype, self._lib.NCCL_SUM, stream.ptr)
                self._track("allreduce_sum_", array, stream)
        return array

    def broadcast_(self, array: Any, root: int = 0) -> Any:
        self._check_root(root, "broadcast_")
        if not isinstance(array, self.cupy.ndarray):
            return self.mpi.broadcast_(array, root)
        count, dtype = self._args(array, "broadcast_")
        self._tick()
        if count:
            with self.device:
                stream = self.cupy.cuda.get_current_stream()
                self.nccl.bcast(array.data.ptr, count, dtype, root, stream.ptr)
                self._track("broadcast_", array, stream)
        return array

    # --- the control plane: MPI ----------------------------------------------------------------
    def barrier(self) -> None:
        self.mpi.barrier()

    def broadcast_object(self, obj: Any, root: int = 0) -> Any:
        return self.mpi.broadcast_object(obj, root)

    def allgather_object(self, obj: Any) -> list:
        return self.mpi.allgather_object(obj)

    def gather_object(self, obj: Any, root: int = 0) -> list | None:
        return self.mpi.gather_object(obj, root)

    def allreduce_scalars(self, values: Sequence[float]) -> list[float]:
        return self.mpi.allreduce_scalars(values)

    def any_true(self, flag: Any) -> bool:
        return self.mpi.any_true(flag)

    def abort_device(self) -> None:
        """``ncclCommAbort`` (best effort: the job is being aborted anyway)."""
        with contextlib.suppress(Exception):
            self.nccl.abort()

    def abort(self, code: int = 1) -> None:
        self.mpi.abort(code)  # aborts NCCL first

    def destroy(self) -> None:
        """Free the NCCL communicator (collective); CuPy arrays then go through host memory."""
        self.cupy.cuda.get_current_stream().synchronize()
        self.nccl.destroy()
        self.mpi._nccl, self.mpi._device_backend = None, "mpi"


__all__ = ["NCCL_DTYPES", "NCCLCommunicator", "nccl_unavailable_reason"]
