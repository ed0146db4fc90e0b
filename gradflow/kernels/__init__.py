"""Forward and backward kernels: plain functions of arrays, by op family.

A generic kernel takes the array module first, ``fn(xp, *arrays, **params)``, and so serves NumPy
and CuPy alike; each backend binds ``xp`` once (see :class:`gradflow.backends.base.KernelTable`).
The CUDA backend may override a kernel by name with a fused CuPy kernel (``kernels/cuda``).
Kernels never build graph nodes; :mod:`gradflow.ops` wires them into differentiable Functions.
"""

from __future__ import annotations

from collections.abc import Callable

_GENERIC: dict[str, Callable] = {}


def kernel(fn: Callable) -> Callable:
    """Register ``fn`` as the generic kernel named ``fn.__name__``."""
    if fn.__name__ in _GENERIC:
        raise ValueError(f"kernel {fn.__name__!r} is registered twice")
    _GENERIC[fn.__name__] = fn
    return fn


def generic_kernels() -> dict[str, Callable]:
    """Every generic kernel: importing each module of this package (``cuda`` aside) registers
    its kernels, so a new op family only adds its own file."""
    import importlib
    import pkgutil

    for info in pkgutil.iter_modules(__path__):
        if info.name != "cuda":
            importlib.import_module(f"{__name__}.{info.name}")
    return dict(_GENERIC)


def cuda_kernels(backend) -> dict[str, Callable]:
    from gradflow.kernels.cuda import overrides

    return overrides(backend)
