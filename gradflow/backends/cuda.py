"""The CUDA backend: CuPy arrays on one GPU.

CuPy is imported lazily and guarded, so ``import gradflow`` works on machines with no CuPy and no
GPU. On a machine without a driver CuPy imports fine and fails at its first CUDA call
(``cudaErrorInsufficientDriver``); :func:`is_available` catches that and answers ``False``.

Out of memory: the backend's allocating entry points (``from_host``, ``asarray``, ``copy_from``,
``empty``/``zeros``/``full``) turn CuPy's ``OutOfMemoryError`` into :class:`OutOfMemoryError`
whose message (:func:`oom_message`) says how much was asked, what the memory pool holds and what to
try. Allocations inside kernels raise CuPy's own error.

TF32: each backend's ``allow_tf32`` lets cuBLAS round float32 matmul inputs to TF32 on tensor
cores; the matmul overrides (``gradflow.kernels.cuda.matmul``) read it from the backend they were
built for. Backends start from :data:`default_allow_tf32`, which follows CuPy's documented switch,
the ``CUPY_TF32`` environment variable; :func:`set_allow_tf32` (``gf.cuda.allow_tf32 = ...``)
changes every backend and the default of those created later.
"""

from __future__ import annotations

import os
import weakref
from functools import lru_cache

from gradflow.backends.base import Backend, KernelTable
from gradflow.device import device


def tf32_from_environment(environ=os.environ) -> bool:
    """CuPy's documented TF32 switch: on when ``CUPY_TF32`` is set to anything but 0 or empty."""
    return environ.get("CUPY_TF32", "0").strip() not in ("", "0")


#: The TF32 switch new CUDA backends start with: off unless the environment sets ``CUPY_TF32=1``.
default_allow_tf32: bool = tf32_from_environment()

_LIVE: weakref.WeakSet = weakref.WeakSet()   # every CupyBackend, for set_allow_tf32


def set_allow_tf32(flag: bool) -> None:
    """Let (or stop letting) cuBLAS use TF32 for float32 matmul on every CUDA backend, now and
    for backends created later (faster, ~1e-3 relative error)."""
    global default_allow_tf32
    default_allow_tf32 = bool(flag)
    for backend in list(_LIVE):
        backend.allow_tf32 = default_allow_tf32


class OutOfMemoryError(MemoryError):
    """The GPU could not hold an allocation; the message says how much and what to try."""


@lru_cache(maxsize=1)
def _probe() -> tuple[bool, str]:
    try:
        import cupy
    except Exception as exc:  # ImportError, or a broken install raising something else
        return False, (f"CuPy is not installed or failed to import ({exc.__class__.__name__}: "
                       f"{exc}); install gradflow[cuda12] or gradflow[cuda13]")
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:  # cudaErrorInsufficientDriver, cudaErrorNoDevice, ...
        return False, f"CuPy is installed but CUDA is unusable ({exc.__class__.__name__}: {exc})"
    if count < 1:
        return False, "CuPy is installed but no CUDA device was found"
    return True, f"{count} CUDA device(s)"


def is_available() -> bool:
    """True when CuPy imports and at least one CUDA device can be used. Never raises."""
    return _probe()[0]


def unavailable_reason() -> str:
    return _probe()[1]


def device_count() -> int:
    if not is_available():
        return 0
    import cupy

    return cupy.cuda.runtime.getDeviceCount()


def format_bytes(n: float | None) -> str:
    """``1536`` -> ``'1.50 KiB'``; None -> ``'an unknown amount'``."""
    if n is None:
        return "an unknown amount"
    n = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} B" if unit == "B" else f"{n:.2f} {unit}"
        n /= 1024
    return f"{n:.2f} TiB"  # pragma: no cover - unreachable


def oom_message(exc: BaseException | None, requested_bytes: int | None, pool=None,
                device: str | None = None, mem_get_info=None) -> str:
    """The message for an out-of-memory error: what was asked, what the pool holds, what to try.

    Args:
        exc: the allocator's exception (its text is appended), or None.
        requested_bytes: the size of the allocation that failed, if known.
        pool: a CuPy ``MemoryPool`` (``used_bytes()``/``total_bytes()``); the default pool of
            CuPy when None and CuPy imports.
        device: the device string to name, e.g. ``"cuda:0"``.
        mem_get_info: a callable returning (free, total) device bytes (CuPy's
            ``runtime.memGetInfo`` when None and CuPy imports).
    """
    where = f" on {device}" if device else ""
    parts = [f"CUDA out of memory{where}: tried to allocate {format_bytes(requested_bytes)}"]
    if pool is None or mem_get_info is None:
        try:
            import cupy

            pool = pool if pool is not None else cupy.get_default_memory_pool()
            mem_get_info = mem_get_info or cupy.cuda.runtime.memGetInfo
        except Exception:
            pass
    try:
        parts.append(f"the memory pool holds {format_bytes(pool.total_bytes())} "
                     f"({format_bytes(pool.used_bytes())} in use by arrays, the rest cached)")
    except Exception:
        parts.append("the memory pool's state is unknown")
    try:
        free, total = mem_get_info()
        parts.append(f"the device has {format_bytes(free)} free of {format_bytes(total)}")
    except Exception:
        pass
    msg = "; ".join(parts) + (". Try a smaller batch size, free tensors you no longer need "
                              "(drop references, then gf.cuda.empty_cache()), or use a smaller "
                              "model.")
    if exc is not None and str(exc):
        msg += f" (CuPy: {exc})"
    return msg


def _oom_types() -> tuple:
    try:
        from cupy.cuda.memory import OutOfMemoryError as CupyOOM
    except Exception:  # pragma: no cover - CuPy without the class
        return ()
    return (CupyOOM,)


def _nbytes(data, dtype=None) -> int | None:
    n = getattr(data, "nbytes", None)
    if n is not None and dtype is not None:
        import numpy

        n = data.size * numpy.dtype(dtype).itemsize
    return n


class CupyBackend(Backend):
    """CuPy on GPU ``index``. ``allow_tf32``: let cuBLAS use TF32 tensor cores for float32 matmul
    on this backend (read at every matmul; set all backends at once with ``gf.cuda.allow_tf32``).
    """

    name = "cupy"
    allow_tf32: bool

    def __init__(self, index: int, seed: int | None = None):
        import cupy

        from gradflow.kernels import cuda_kernels, generic_kernels

        self.index = index
        self.device = device("cuda", index)
        self.xp = cupy
        self._cupy_device = cupy.cuda.Device(index)
        self._oom = _oom_types()
        with self._cupy_device:
            self.rng = self._make_rng(seed)
        self.allow_tf32 = default_allow_tf32
        _LIVE.add(self)
        self.k = KernelTable(self, generic_kernels(), cuda_kernels(self))

    # --- out of memory ----------------------------------------------------------------------
    def _oom_error(self, exc: BaseException, nbytes: int | None) -> OutOfMemoryError:
        try:
            pool = self.xp.get_default_memory_pool()
        except Exception:
            pool = None

        def mem_get_info():
            with self._cupy_device:
                return self.xp.cuda.runtime.memGetInfo()

        return OutOfMemoryError(oom_message(exc, nbytes, pool, self.device, mem_get_info))

    # --- arrays -----------------------------------------------------------------------------
    def to_host(self, array):
        return array.get()

    def from_host(self, array):
        try:
            with self._cupy_device:
                return self.xp.asarray(array)
        except self._oom as exc:
            raise self._oom_error(exc, _nbytes(array)) from exc

    def copy_from(self, array):
        """A copy on this GPU of a NumPy array or of a CuPy array on any GPU (device to device,
        peer to peer where the GPUs allow it; never through the host)."""
        try:
            with self._cupy_device:
                return self.xp.array(array, copy=True)
        except self._oom as exc:
            raise self._oom_error(exc, _nbytes(array)) from exc

    def asarray(self, data, dtype=None):
        try:
            with self._cupy_device:
                return self.xp.asarray(data, dtype=dtype)
        except self._oom as exc:
            raise self._oom_error(exc, _nbytes(data, dtype)) from exc

    def _create(self, fn, shape, dtype, *args):
        try:
            with self._cupy_device:
                return fn(shape, *args, dtype=dtype)
        except self._oom as exc:
            import math

            import numpy

            shape_t = (shape,) if isinstance(shape, int) else tuple(shape)
            nbytes = math.prod(shape_t) * numpy.dtype(dtype or "float64").itemsize
            raise self._oom_error(exc, nbytes) from exc

    def empty(self, shape, dtype):
        return self._create(self.xp.empty, shape, dtype)

    def zeros(self, shape, dtype):
        return self._create(self.xp.zeros, shape, dtype)

    def ones(self, shape, dtype):
        return self._create(self.xp.ones, shape, dtype)

    def full(self, shape, value, dtype):
        return self._create(self.xp.full, shape, dtype, value)

    def owns(self, array) -> bool:
        return isinstance(array, self.xp.ndarray) and array.device.id == self.index

    # --- randomness -------------------------------------------------------------------------
    def seed(self, seed: int) -> None:
        with self._cupy_device:  # the generator's state lives on this GPU
            self.rng = self._make_rng(seed)

    def _make_rng(self, seed):
        return self.xp.random.default_rng(seed)

    def get_rng_state(self) -> dict:
        # CuPy's XORWOW generator exposes no portable state; reseeding is the supported path.
        raise NotImplementedError("the CuPy generator state cannot be saved; use gf.manual_seed")

    def set_rng_state(self, state: dict) -> None:
        raise NotImplementedError("the CuPy generator state cannot be restored; use gf.manual_seed")

    # --- device -----------------------------------------------------------------------------
    def synchronize(self) -> None:
        self._cupy_device.synchronize()

    def memory_info(self) -> dict:
        """Bytes: the pool's in-use and reserved totals and the device's free and total memory.
        (Querying the device is a driver call, not a synchronisation of the stream.)"""
        with self._cupy_device:
            pool = self.xp.get_default_memory_pool()
            free, total = self.xp.cuda.runtime.memGetInfo()
            return {"pool_used_bytes": pool.used_bytes(), "pool_total_bytes": pool.total_bytes(),
                    "device_free_bytes": free, "device_total_bytes": total}

    def empty_cache(self) -> None:
        """Give the pool's cached, unused blocks back to the device."""
        with self._cupy_device:
            self.xp.get_default_memory_pool().free_all_blocks()
