"""``gf.cuda``: whether CUDA can be used, how many devices, memory statistics."""

from __future__ import annotations

from gradflow.backends.cuda import device_count, is_available, unavailable_reason


def memory_info(device: str = "cuda:0") -> dict:
    """Memory pool and device memory in bytes (``RuntimeError`` if CUDA is unusable)."""
    from gradflow.backends import get_backend

    return get_backend(device).memory_info()


def synchronize(device: str = "cuda:0") -> None:
    from gradflow.backends import get_backend

    get_backend(device).synchronize()


__all__ = ["is_available", "device_count", "unavailable_reason", "memory_info", "synchronize"]
