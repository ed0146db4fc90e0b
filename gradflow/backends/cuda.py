"""The CUDA backend: CuPy arrays on one GPU.

CuPy is imported lazily and guarded, so ``import gradflow`` works on machines with no CuPy and no
GPU. On a machine without a driver CuPy imports fine and fails at its first CUDA call
(``cudaErrorInsufficientDriver``); :func:`is_available` catches that and answers ``False``.
"""

from __future__ import annotations

from functools import lru_cache

from gradflow.backends.base import Backend, KernelTable

#: Let cuBLAS use TF32 tensor cores for float32 matmul (faster, ~1e-3 relative error).
#: Off by default.
allow_tf32: bool = False


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


class CupyBackend(Backend):
    name = "cupy"

    def __init__(self, index: int, seed: int | None = None):
        import cupy

        from gradflow.kernels import cuda_kernels, generic_kernels

        self.index = index
        self.device = f"cuda:{index}"
        self.xp = cupy
        self._cupy_device = cupy.cuda.Device(index)
        with self._cupy_device:
            self.rng = self._make_rng(seed)
        self.k = KernelTable(self, generic_kernels(), cuda_kernels(self))

    def to_host(self, array):
        return array.get()

    def from_host(self, array):
        with self._cupy_device:
            return self.xp.asarray(array)

    def asarray(self, data, dtype=None):
        with self._cupy_device:
            return self.xp.asarray(data, dtype=dtype)

    def owns(self, array) -> bool:
        return isinstance(array, self.xp.ndarray) and array.device.id == self.index

    def _make_rng(self, seed):
        return self.xp.random.default_rng(seed)

    def get_rng_state(self) -> dict:
        # CuPy's XORWOW generator exposes no portable state; reseeding is the supported path.
        raise NotImplementedError("the CuPy generator state cannot be saved; use gf.manual_seed")

    def set_rng_state(self, state: dict) -> None:
        raise NotImplementedError("the CuPy generator state cannot be restored; use gf.manual_seed")

    def synchronize(self) -> None:
        self._cupy_device.synchronize()

    def memory_info(self) -> dict:
        pool = self.xp.get_default_memory_pool()
        free, total = self.xp.cuda.runtime.memGetInfo()
        return {"pool_used_bytes": pool.used_bytes(), "pool_total_bytes": pool.total_bytes(),
                "device_free_bytes": free, "device_total_bytes": total}
