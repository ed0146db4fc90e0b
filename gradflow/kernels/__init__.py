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
    from gradflow.kernels import (  # noqa: F401  (importing registers the kernels)
        activation,
        conv,
        dropout,
        elementwise,
        loss,
        matmul,
        normalization,
        optim,
        pooling,
        reduction,
        shape,
    )

    return dict(_GENERIC)


def cuda_kernels(backend) -> dict[str, Callable]:
    from gradflow.kernels.cuda import overrides

    return overrides(backend)
