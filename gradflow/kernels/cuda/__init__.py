"""CUDA overrides of generic kernels (CuPy). Compiled lazily on first use and cached.

Most generic kernels run on CuPy unchanged; overrides here fuse several passes into one kernel
where that saves memory traffic, or use CuPy's own routine where NumPy's has no CuPy twin. Each
family's ``overrides(backend, generic)`` declares its table with :class:`._common.Overrides`:
``@table.fused(fits=...)`` runs the fused kernel where dtypes and layout fit and the generic
kernel otherwise, with the exact signature of the generic kernel it replaces (checked when the
table is built). Importing this package never needs a GPU (nor CuPy): kernels are built on their
first call. Nothing here imports above ``gradflow.kernels``; what a kernel needs from its backend
(``xp``, the TF32 switch ``allow_tf32``) it reads from the backend object it is given.

Families: ``elementwise`` (activations, dropout mask, erf), ``softmax`` (row softmax/log-softmax),
``loss`` (cross-entropy from class indices), ``normalization`` (layer norm, (N, C) batch norm),
``optim`` (SGD, Adam/AdamW, RMSprop updates), ``matmul`` (the TF32 switch), ``shape``
(scatter-add), ``conv`` (cuDNN convolutions where CuPy has cuDNN).
"""

from __future__ import annotations

from collections.abc import Callable

FAMILIES = ("elementwise", "softmax", "loss", "normalization", "optim", "matmul", "shape",
            "conv")


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
