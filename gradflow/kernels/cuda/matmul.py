"""Matrix products on cuBLAS that honour ``gradflow.backends.cuda.allow_tf32``.

The flag is read on every call (one attribute read); CuPy's compute type is changed only when
the flag changed since the last call, so there is no per-call cost beyond that comparison.
"""

from __future__ import annotations

from gradflow.backends import cuda as cuda_backend

_APPLIED: list = [None]   # the allow_tf32 value last handed to CuPy


def _sync_tf32() -> None:
    flag = bool(cuda_backend.allow_tf32)
    if flag is not _APPLIED[0]:
        cuda_backend.apply_tf32(flag)
        _APPLIED[0] = flag


def overrides(backend, generic) -> dict:
    xp = backend.xp
    g_matmul, g_linear = generic["matmul"], generic["linear"]

    def matmul(a, b):
        _sync_tf32()
        return g_matmul(xp, a, b)

    def linear(x, weight, bias=None):
        _sync_tf32()
        return g_linear(xp, x, weight, bias)

    return {"matmul": matmul, "linear": linear}
