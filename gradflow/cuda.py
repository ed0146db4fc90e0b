"""``gf.cuda``: whether CUDA can be used, how many devices, memory statistics, the TF32 switch.

``gf.cuda.allow_tf32 = True`` lets cuBLAS use TF32 tensor cores for float32 matmul: it sets the
``allow_tf32`` switch of every CUDA backend (which their matmuls read) and the default of backends
created later. Reading it gives that default (``CUPY_TF32=1`` in the environment turns it on).
"""

from __future__ import annotations

import sys
import types

from gradflow.backends import cuda as _backend_cuda
from gradflow.backends.cuda import (
    OutOfMemoryError,
    device_count,
    is_available,
    oom_message,
    unavailable_reason,
)


def memory_info(device: str = "cuda:0") -> dict:
    """Memory pool and device memory in bytes (``RuntimeError`` if CUDA is unusable):
    ``pool_used_bytes``, ``pool_total_bytes``, ``device_free_bytes``, ``device_total_bytes``."""
    from gradflow.backends import get_backend

    return get_backend(device).memory_info()


def empty_cache(device: str = "cuda:0") -> None:
    """Return the memory pool's cached, unused blocks to the device."""
    from gradflow.backends import get_backend

    get_backend(device).empty_cache()


def synchronize(device: str = "cuda:0") -> None:
    from gradflow.backends import get_backend

    get_backend(device).synchronize()


def manual_seed(seed: int) -> None:
    """Seed the generator of the current CUDA device (gradflow seeds every device alike)."""
    manual_seed_all(seed)


def manual_seed_all(seed: int) -> None:
    """Seed the generators of every CUDA device in use (no-op without CUDA, as in PyTorch)."""
    from gradflow.backends import _BACKENDS
    from gradflow.random import check_seed

    seed = check_seed(seed, "cuda.manual_seed_all")
    for name, backend in list(_BACKENDS.items()):
        if name.startswith("cuda") and name == backend.device:
            backend.seed(seed)


def current_device() -> int:
    return 0


class _CudaModule(types.ModuleType):
    @property
    def allow_tf32(self) -> bool:
        return bool(_backend_cuda.default_allow_tf32)

    @allow_tf32.setter
    def allow_tf32(self, value: bool) -> None:
        _backend_cuda.set_allow_tf32(value)


sys.modules[__name__].__class__ = _CudaModule

__all__ = ["manual_seed", "manual_seed_all", "current_device",
           "is_available", "device_count", "unavailable_reason", "memory_info", "empty_cache",
           "synchronize", "OutOfMemoryError", "oom_message"]
