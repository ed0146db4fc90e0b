"""Communicators: a size-1 local one, and MPI through mpi4py (imported only under a launcher).

Failure policy (DISTRIBUTED.md: never hang). Under MPI with several ranks:

- an uncaught exception on a rank prints its traceback and calls ``MPI_Abort`` (excepthook);
- every collective runs under a watchdog: one that waits longer than ``GRADFLOW_DIST_TIMEOUT``
  seconds (default 600; ``0``: no limit) prints which collective, on which rank, then every
  thread's stack, and aborts the job;
- a rank that exits (``sys.exit(3)``, a ``main()`` returning 1, the end of the script) tells the
  others how many collectives it made; a rank waiting in a later one aborts the job (within a
  second) instead of leaving the exited rank waiting forever in ``MPI_Finalize``. :func:`fail`
  and :func:`abort_on_exit` abort at once, with the exit status itself.
"""

from __future__ import annotations

import atexit
import contextlib
import faulthandler
import functools
import os
import sys
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

_LAUNCHER_VARS = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "SLURM_NTASKS")
_LOCAL_RANK_VARS = ("MPI_LOCALRANKID", "OMPI_COMM_WORLD_LOCAL_RANK", "PMIX_LOCAL_RANK",
                    "SLURM_LOCALID")
BACKENDS = ("auto", "mpi", "nccl")

#: Environment variable: seconds a collective may wait before the watchdog aborts the job.
TIMEOUT_VAR = "GRADFLOW_DIST_TIMEOUT"
DEFAULT_TIMEOUT = 600.0
_EXIT_TAG = 0x6766  # on a private duplicate of the world communicator


def launched_by_mpi() -> bool:
    """Whether an MPI launcher (mpiexec, srun) started this process with more than one rank."""
    for var in _LAUNCHER_VARS:
        value = os.environ.get(var)
        if value is not None and (var == "PMIX_RANK" or int(value) > 1):
            return True
    return False


def collective_timeout() -> float | None:
    """``GRADFLOW_DIST_TIMEOUT`` in seconds (default 600); None when it is 0 (no limit)."""
    text = os.environ.get(TIMEOUT_VAR, "").strip()
    if not text:
        return DEFAULT_TIMEOUT
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{TIMEOUT_VAR}={text!r}: expected a number of seconds (0: collectives "
                         "may wait forever)") from None
    if value != value or value < 0:
        raise ValueError(f"{TIMEOUT_VAR}={text!r}: expected a number of seconds >= 0 (0: "
                         "collectives may wait forever)")
    return value or None


class Communicator:
    """What training needs from a communicator: rank, size, barrier, in-place sum-allreduce of an
    array, broadcasts, exact scalar sums, collective decisions and object gathers. This base is
    the one-process identity."""

    rank = 0
    size = 1
    backend = "local"

    @property
    def local_rank(self) -> int:
        for var in _LOCAL_RANK_VARS:
            if var in os.environ:
                return int(os.environ[var])
        return self.rank

    def barrier(self) -> None:
        pass

    def allreduce_sum_(self, array: Any) -> Any:
        """Replace ``array`` (NumPy, or CuPy) by its elementwise sum over the ranks, in place."""
        return array

    def broadcast_(self, array: Any, root: int = 0) -> Any:
        """Overwrite ``array`` in place with rank ``root``'s."""
        self._check_root(root, "broadcast_")
        return array

    def broadcast_object(self, obj: Any, root: int = 0) -> Any:
        self._check_root(root, "broadcast_object")
        return obj

    def allgather_object(self, obj: Any) -> list:
        return [obj]

    def gather_object(self, obj: Any, root: int = 0) -> list | None:
        """Every rank's ``obj`` in rank order on rank ``root``; None on the other ranks."""
        self._check_root(root, "gather_object")
        return [obj]

    def allreduce_scalars(self, values: Sequence[float]) -> list[float]:
        """The float64 sums over the ranks of ``values`` (one collective for all of them), the
        same on every rank: exact global means as ``sum / count``."""
        return _float64(values).tolist()

    def any_true(self, flag: Any) -> bool:
        """Whether ``flag`` is true on any rank (the same answer on every rank)."""
        return bool(flag)

    def abort(self, code: int = 1) -> None:
        raise SystemExit(code)

    def _check_root(self, root: int, who: str) -> None:
        if isinstance(root, bool) or not isinstance(root, (int, np.integer)) \
                or not 0 <= root < self.size:
            raise ValueError(f"{who}: root={root!r} is not a rank of this communicator "
                             f"(0..{self.size - 1})")


class LocalCommunicator(Communicator):
    """One process: every collective is the identity."""


def _float64(values: Sequence[float]) -> np.ndarray:
    try:
        out = np.array(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"allreduce_scalars: expected a sequence of real numbers, got "
                        f"{values!r}") from None
    if out.ndim != 1:
        raise ValueError(f"allreduce_scalars: expected a flat sequence of numbers, got shape "
                         f"{out.shape}")
    return out


def _describe(detail: Any) -> str:
    shape, dtype = getattr(detail, "shape", None), getattr(detail, "dtype", None)
    if shape is None or dtype is None:
        return ""
    nbytes = getattr(detail, "nbytes", 0)
    return f" of a {dtype}{list(shape)} array ({nbytes / 2**20:.2f} MiB)"


def _dump_stacks(file: Any) -> None:
    """Every thread's stack to ``file`` (faulthandler; Python's frames where it cannot write)."""
    try:
        faulthandler.dump_traceback(file=file, all_threads=True)
        return
    except (AttributeError, ValueError, OSError):
        pass
    names = {t.ident: t.name for t in threading.enumerate()}
    for ident, frame in sys._current_frames().items():
        file.write(f"Thread {names.get(ident, ident)}:\n")
        file.write("".join(traceback.format_stack(frame)))


class _Watchdog:
    """A daemon thread that looks every ``poll`` seconds at the collective in flight (a counter
    and one tuple written by the calling thread: nothing else is done per call) and aborts the
    job when it has waited past the timeout, or when a rank that has exited announced fewer
    collectives than the index of this one (it will never enter it)."""

    def __init__(self, owner: MPICommunicator, timeout: float | None):
        self.owner, self.timeout = owner, timeout
        self.count = 0  # collectives entered (the same sequence on every rank)
        self.inflight: tuple[str, Any, float, int] | None = None  # (name, array, start, index)
        self.device: tuple[str, Any, float, Callable[[], bool]] | None = None
        self.ctl: Any = None  # the private communicator exit notices arrive on
        self.exited: dict[int, int] = {}  # rank -> collectives it entered before exiting
        self.poll = 0.25 if timeout is None else min(0.25, timeout / 4)
        self._lock = threading.Lock()
        self._stopped = False
        threading.Thread(target=self._run, name="gradflow-dist-watchdog", daemon=True).start()

    def stop(self) -> None:
        with self._lock:  # waits for a check in progress (no MPI call from here once it returns)
            self._stopped = True

    def _run(self) -> None:
        while True:
            time.sleep(self.poll)
            with self._lock:
                if self._stopped:
                    return
                try:
                    self._check()
                except Exception as exc:  # noqa: BLE001 - the watchdog must not die silently
                    sys.stderr.write(f"gradflow.distributed: the collective watchdog failed: "
                                     f"{exc!r}; collectives are no longer watched\n")
                    return

    def _check(self) -> None:
        now = time.monotonic()
        cur = self.inflight
        if cur is not None:
            if self.ctl is not None and now - cur[2] >= self.poll:
                self._receive_notices()
            gone = sorted(r for r, n in self.exited.items() if n < cur[3])
            if gone:
                made = ", ".join(f"rank {r} exited after {self.exited[r]} collective(s)"
                                 for r in gone)
                self._fire(cur, now, f"(#{cur[3]} on this rank), but {made} (sys.exit, a "
                                     "main() that returned, or the end of the script) and will "
                                     "never enter it")
            elif self.timeout is not None and now - cur[2] >= self.timeout:
                self._fire(cur, now, f"longer than {TIMEOUT_VAR}={self.timeout:g} s: a rank "
                                     "skipped this collective (uneven collectives), failed or "
                                     "is stuck")
        dev = self.device
        if dev is not None and self.timeout is not None and now - dev[2] >= self.timeout \
                and not dev[3]():
            self._fire(dev, now, f"on the GPU, unfinished after {TIMEOUT_VAR}={self.timeout:g} "
                                 "s: a rank skipped it, failed or is stuck")

    def _receive_notices(self) -> None:
        MPI = self.owner.MPI
        status = MPI.Status()
        while self.ctl.Iprobe(source=MPI.ANY_SOURCE, tag=_EXIT_TAG, status=status):
            buf = np.empty(2, np.int64)
            self.ctl.Recv(buf, source=status.Get_source(), tag=_EXIT_TAG)
            self.exited[int(buf[0])] = int(buf[1])

    def _fire(self, what: tuple, now: float, why: str) -> None:
        owner = self.owner
        err = sys.stderr
        err.write(f"\ngradflow.distributed: rank {owner.rank} of {owner.size} waited "
                  f"{now - what[2]:.1f} s in collective {what[0]}{_describe(what[1])} {why}. "
                  f"Stacks of every thread of rank {owner.rank} follow; then MPI_Abort ends "
                  "the job.\n")
        err.flush()
        _dump_stacks(err)
        err.flush()
        owner.abort(1)


class MPICommunicator(Communicator):
    """``MPI.COMM_WORLD`` through mpi4py. NumPy buffers are reduced in place; CuPy arrays go
    through NCCL (backend ``"auto"`` where CuPy has it, ``"nccl"``) or through host memory
    (``"mpi"``; neither MPI wheel is CUDA-aware). Every collective is watched (module doc)."""

    backend = "mpi"

    def __init__(self, comm: Any = None, backend: str = "auto"):
        try:
            from mpi4py import MPI
        except ImportError as exc:
            raise ImportError(f"gradflow.distributed: an MPI launcher started this process but "
                              f"mpi4py cannot be imported ({exc}); install it with: "
                              'pip install "gradflow[mpi]" mpich') from exc

        if backend not in ("auto", "mpi"):
            raise ValueError(f"MPICommunicator: backend={backend!r}; expected 'auto' or 'mpi' "
                             "(for 'nccl' use NCCLCommunicator(MPICommunicator()))")
        self.MPI = MPI
        self.comm = comm if comm is not None else MPI.COMM_WORLD
        self.rank, self.size = self.comm.Get_rank(), self.comm.Get_size()
        self._in_place, self._sum = MPI.IN_PLACE, MPI.SUM
        self._device_backend = backend
        self._nccl: Any = None
        self._aborting = False
        self._watch = _Watchdog(self, collective_timeout()) if self.size > 1 else None
        self._local_rank = self.rank
        if self._watch is not None:
            if MPI.Query_thread() >= MPI.THREAD_MULTIPLE:  # the watchdog probes from its thread
                self._watch.ctl = self._collective("init (MPI_Comm_dup)", None, self.comm.Dup)
            node = self._collective("init (MPI_Comm_split_type)", None, self.comm.Split_type,
                                    MPI.COMM_TYPE_SHARED)
            self._local_rank = node.Get_rank()  # the rank among the processes of this node
            node.Free()
            self._pid = os.getpid()
            atexit.register(self._at_exit)

    @property
    def local_rank(self) -> int:
        return self._local_rank

    # --- collectives ---------------------------------------------------------------------------
    def _collective(self, name: str, detail: Any, fn: Callable, *args: Any, **kwargs: Any):
        watch = self._watch
        if watch is None:
            return fn(*args, **kwargs)
        watch.count = n = watch.count + 1
        watch.inflight = (name, detail, time.monotonic(), n)
        try:
            return fn(*args, **kwargs)
        finally:
            watch.inflight = None

    def barrier(self) -> None:
        self._collective("barrier", None, self.comm.Barrier)

    def allreduce_sum_(self, array: Any) -> Any:
        if type(array) is not np.ndarray:
            return self._device_collective("allreduce_sum_", array)
        watch = self._watch
        if watch is None:
            self.comm.Allreduce(self._in_place, array, op=self._sum)
            return array
        watch.count = n = watch.count + 1
        watch.inflight = ("allreduce_sum_", array, time.monotonic(), n)
        try:
            self.comm.Allreduce(self._in_place, array, op=self._sum)
        finally:
            watch.inflight = None
        return array

    def broadcast_(self, array: Any, root: int = 0) -> Any:
        self._check_root(root, "broadcast_")
        if type(array) is not np.ndarray:
            return self._device_collective("broadcast_", array, root)
        self._collective("broadcast_", array, self.comm.Bcast, array, root=root)
        return array

    def broadcast_object(self, obj: Any, root: int = 0) -> Any:
        self._check_root(root, "broadcast_object")
        return self._collective("broadcast_object", None, self.comm.bcast, obj, root=root)

    def allgather_object(self, obj: Any) -> list:
        return self._collective("allgather_object", None, self.comm.allgather, obj)

    def gather_object(self, obj: Any, root: int = 0) -> list | None:
        self._check_root(root, "gather_object")
        return self._collective("gather_object", None, self.comm.gather, obj, root=root)

    def allreduce_scalars(self, values: Sequence[float]) -> list[float]:
        buf = _float64(values)
        self._collective("allreduce_scalars", buf, self.comm.Allreduce, self._in_place, buf,
                         op=self._sum)
        return buf.tolist()

    def any_true(self, flag: Any) -> bool:
        buf = np.array([1 if flag else 0], dtype=np.int32)
        self._collective("any_true", None, self.comm.Allreduce, self._in_place, buf,
                         op=self.MPI.MAX)
        return bool(buf[0])

    # --- device arrays -------------------------------------------------------------------------
    def _device_collective(self, name: str, array: Any, *args: Any) -> Any:
        if not hasattr(array, "__cuda_array_interface__"):
            raise TypeError(f"{name}: expected a NumPy or CuPy array, got "
                            f"{type(array).__name__}")
        nccl = self._device_comm()
        if nccl is not None:
            return getattr(nccl, name)(array, *args)
        import cupy

        host = np.ascontiguousarray(cupy.asnumpy(array))  # backend "mpi": through host memory
        getattr(self, name)(host, *args)
        array[...] = cupy.asarray(host)
        return array

    def _device_comm(self) -> Any:
        """The NCCL communicator for CuPy arrays (created on first use, collectively: every rank
        reaches its first device collective at the same point); None where it is not used."""
        if self._nccl is None and self._device_backend == "auto":
            from gradflow.distributed.nccl import NCCLCommunicator, nccl_unavailable_reason

            reason = self._collective("init (NCCL availability)", None, self.comm.allgather,
                                      nccl_unavailable_reason())
            self._device_backend = "nccl" if not any(reason) else "mpi"
            if self._device_backend == "nccl":
                self._nccl = NCCLCommunicator(self)
        return self._nccl

    # --- failure -------------------------------------------------------------------------------
    def abort(self, code: int = 1) -> None:
        self._aborting = True
        sys.stderr.flush()
        sys.stdout.flush()
        if self._nccl is not None:
            self._nccl.abort_device()
        _abort(self.comm, code)

    def _at_exit(self) -> None:
        """Tell the other ranks this one is exiting (before mpi4py's MPI_Finalize): one still
        waiting in a collective then aborts the job instead of hanging."""
        if os.getpid() != self._pid:  # a forked child inherited the handler: not a rank
            return
        watch = self._watch
        watch.stop()
        if watch.ctl is None or self._aborting or self.MPI.Is_finalized():
            return
        note = np.array([self.rank, watch.count], dtype=np.int64)
        requests = [watch.ctl.Isend(note, dest=r, tag=_EXIT_TAG)
                    for r in range(self.size) if r != self.rank]
        self.MPI.Request.Waitall(requests)


_COMM: Communicator | None = None


def init(backend: str | None = None) -> Communicator:
    """The process's communicator (created once): MPI under a launcher, else size 1.

    ``backend`` says how CuPy arrays are reduced: ``"auto"`` (default) NCCL where CuPy has it,
    else through host memory; ``"mpi"`` always through host memory; ``"nccl"`` NCCL or an error
    (NCCLCommunicator: each rank on ``cuda:{local_rank}``). NumPy arrays, objects and decisions
    always go through MPI. Under MPI it installs the failure policy of the module doc."""
    global _COMM
    if backend is not None and backend not in BACKENDS:
        raise ValueError(f"init: backend={backend!r}; expected one of {', '.join(BACKENDS)}")
    if _COMM is None:
        if launched_by_mpi():
            mpi = MPICommunicator(backend="mpi" if backend == "mpi" else "auto")
            _install_abort_hook(mpi)
            _COMM = mpi
            if backend == "nccl":
                from gradflow.distributed.nccl import NCCLCommunicator

                _COMM = NCCLCommunicator(mpi)
        else:
            _COMM = LocalCommunicator()
    elif backend is not None and _COMM.size > 1 and backend != "auto" \
            and backend != _COMM.backend:
        raise RuntimeError(f"init: the communicator already exists with backend "
                           f"{_COMM.backend!r}; call init(backend={backend!r}) first, before "
                           "anything else uses gradflow.distributed")
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


# --- ending the job --------------------------------------------------------------------------
def _running_comm() -> Communicator | None:
    """The multi-rank communicator of this process, if one exists (never creates one)."""
    if _COMM is not None:
        return _COMM if _COMM.size > 1 else None
    mpi = sys.modules.get("mpi4py.MPI")  # mpi4py used directly, without gradflow's init()
    if mpi is not None and mpi.Is_initialized() and not mpi.Is_finalized() \
            and mpi.COMM_WORLD.Get_size() > 1:
        return _AbortOnly(mpi)
    return None


class _AbortOnly(Communicator):
    """MPI_COMM_WORLD of a program that uses mpi4py without :func:`init`: for abort() only."""

    def __init__(self, mpi: Any):
        self.comm = mpi.COMM_WORLD
        self.rank, self.size = self.comm.Get_rank(), self.comm.Get_size()

    def abort(self, code: int = 1) -> None:
        sys.stderr.flush()
        sys.stdout.flush()
        _abort(self.comm, code)


def _abort(comm: Any, code: int) -> None:
    """``MPI_Abort``, then ``_exit``: MPICH's MPI_Abort can return before the launcher kills the
    process, and nothing of this rank (another abort, atexit handlers) may run after it. A short
    pause first lets the launcher forward what this rank just wrote to stderr (MPI_Abort tears
    the job's output forwarding down; under load the last lines were lost)."""
    for stream in (sys.stderr, sys.stdout):
        with contextlib.suppress(Exception):
            stream.flush()
    time.sleep(0.2)
    try:
        comm.Abort(code)
    finally:
        os._exit(code)


def fail(code: int = 1, message: str | None = None) -> int:
    """End this rank with exit status ``code``, after printing ``message`` to stderr.

    On several ranks it calls ``MPI_Abort(code)``: the whole job ends with ``code`` instead of
    the other ranks waiting forever for this one (it does not return). In one process it only
    prints and returns ``code``, so ``return dist.fail(2, "error: ...")`` works in both.
    ``code == 0`` never aborts."""
    comm = _running_comm()
    if message:
        prefix = f"[rank {comm.rank}/{comm.size}] " if comm is not None else ""
        print(prefix + message, file=sys.stderr, flush=True)
    if comm is not None and code != 0:
        comm.abort(code)
    return code


class _AbortOnExit:
    """``with dist.abort_on_exit(): ...``: a non-zero ``SystemExit`` or an exception leaving the
    block ends the whole job (see :func:`abort_on_exit`)."""

    def __enter__(self) -> _AbortOnExit:
        return self

    def __exit__(self, kind: Any, value: Any, tb: Any) -> bool:
        if kind is None or _running_comm() is None:
            return False
        if issubclass(kind, SystemExit):
            code = value.code
            if code is None or code == 0:
                return False
            if not isinstance(code, int):  # sys.exit("message"): Python prints it, status 1
                fail(1, str(code))
            fail(code)
        traceback.print_exception(kind, value, tb)
        fail(130 if issubclass(kind, KeyboardInterrupt) else 1)
        return False

    def __call__(self, fn: Callable) -> Callable:
        return abort_on_exit(fn)


def abort_on_exit(fn: Callable | None = None) -> Any:
    """Make a rank's failure end the whole job (``MPI_Abort``) with its exit status.

    ``@dist.abort_on_exit`` on ``main``: a non-zero ``int`` returned, a ``SystemExit`` with a
    non-zero status (``sys.exit(3)``) or an exception ends every rank at once, with that status
    (1 for an exception). ``with dist.abort_on_exit(): ...`` does the same for a block. In one
    process nothing changes."""
    if fn is None:
        return _AbortOnExit()

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with _AbortOnExit():
            result = fn(*args, **kwargs)
        if isinstance(result, int) and not isinstance(result, bool) and result != 0:
            fail(result)
        return result

    return wrapper


# --- devices -----------------------------------------------------------------------------------
def map_device(requested: str, size: int, local_rank: int, cuda_count: int | None) -> str:
    """The device string a rank uses (the logic of :func:`device_for`): with ``size > 1``,
    ``"cuda"``/``"gpu"`` become ``"cuda:{local_rank}"`` and ``"auto"`` that or ``"cpu"`` without
    CUDA (``cuda_count`` None or 0); explicit ``"cuda:N"`` and ``"cpu"`` stay as given."""
    text = str(requested).strip().lower()
    if size <= 1 or text not in ("cuda", "gpu", "auto"):
        return str(requested)
    if text == "auto" and not cuda_count:
        return "cpu"
    if cuda_count and local_rank >= cuda_count:
        raise RuntimeError(f"device {requested!r}: local rank {local_rank} has no GPU of its own "
                           f"(this node has {cuda_count} CUDA device(s)); start at most "
                           f"{cuda_count} rank(s) per node, or use device 'cpu'")
    return f"cuda:{local_rank}"


def device_for(requested: str, comm: Communicator | None = None) -> str:
    """The device this rank should use for ``requested``: on several ranks ``"cuda"`` and
    ``"auto"`` mean ``"cuda:{local_rank}"`` (``"auto"``: ``"cpu"`` without CUDA), so each rank
    of a node gets its own GPU; in one process ``requested`` is returned unchanged."""
    comm = comm or init()
    if comm.size <= 1 or str(requested).strip().lower() not in ("cuda", "gpu", "auto"):
        return str(requested)
    import gradflow as gf

    count = gf.cuda.device_count() if gf.cuda.is_available() else 0
    return map_device(requested, comm.size, comm.local_rank, count)
