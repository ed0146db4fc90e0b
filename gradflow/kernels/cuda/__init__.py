"""CUDA overrides of generic kernels (CuPy). Compiled lazily on first use and cached.

The generic kernels already run on CuPy unchanged; overrides here fuse several passes into one
kernel where that saves memory traffic. Every override has the exact signature of the generic
kernel it replaces and calls that kernel for dtypes or layouts it does not handle. Importing this
package never needs a GPU (nor CuPy): kernels are built on their first call.

Families: ``elementwise`` (activations, dropout mask), ``softmax`` (row softmax/log-softmax),
``loss`` (cross-entropy from class indices), ``normalization`` (layer norm, (N, C) batch norm),
``optim`` (SGD, Adam/AdamW, RMSprop updates), ``matmul`` (the TF32 switch).
"""

from __future__ import annotations

from collections.abc import Callable

FAMILIES = ("elementwise", "softmax", "loss", "normalization", "optim", "matmul")


def overrides(backend) -> dict[str, Callable]:
    """Fused kernels for ``backend`` keyed by the generic kernel they replace."""
    import importlib

    from gradflow.kernels import generic_kernels

    generic = generic_kernels()
    table: dict[str, Callable] = {}
    for family in FAMILIES:
        module = importlib.import_module(f"gradflow.kernels.cuda.{family}")
        for name, fn in module.overrides(backend, generic).items():
            if name not in generic:
                raise KeyError(f"CUDA override {family}.{name} replaces no generic kernel")
            table[name] = fn
    return table


def sources() -> dict[str, dict]:
    """Every kernel source, for compile checks: ``{"raw": {name: source}, "elementwise":
    {name: EW spec}}``. Raw sources are written against ``T`` (see ``_common.PRELUDE``)."""
    import importlib

    out: dict[str, dict] = {"raw": {}, "elementwise": {}}
    for family in FAMILIES:
        module = importlib.import_module(f"gradflow.kernels.cuda.{family}")
        out["raw"].update(getattr(module, "RAW_SOURCES", {}))
        out["elementwise"].update(getattr(module, "EW_SPECS", {}))
    return out
