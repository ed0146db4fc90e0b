"""PyTorch's global configuration functions: the default floating dtype, deterministic
algorithms, and the number of CPU threads.

What differs from PyTorch:

- :func:`set_default_dtype` accepts float16, float32 and float64 (as PyTorch; bfloat16 and
  non-floating dtypes raise). It changes what Python floats, the float creation functions
  (``zeros``, ``rand``, ``linspace``, ``eye``, ...) and integer-to-float promotion give. Python
  ``complex`` numbers stay complex64 whatever the default (PyTorch gives complex128 under a
  float64 default, complex32 under float16; gradflow has no complex32).
- :func:`use_deterministic_algorithms` records the mode (``are_deterministic_algorithms_enabled``
  and ``is_deterministic_algorithms_warn_only_enabled`` report it). gradflow's CPU kernels are
  all deterministic, so on CPU the mode changes nothing; on CUDA the scatter-adds that run on
  atomics (``index_add``, ``scatter_add``, embedding backward) are not refused or warned about
  as PyTorch would.
- :func:`set_num_threads` / :func:`get_num_threads` limit the BLAS/OpenMP thread pools of the
  process through ``threadpoolctl`` (NumPy's OpenBLAS/MKL, which run gradflow's matmuls and
  convolutions); gradflow's elementwise kernels are single-threaded NumPy. Without
  threadpoolctl, ``set_num_threads`` raises RuntimeError saying so.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import numpy as np

from gradflow import dtypes as _dtypes

_ALLOWED_DEFAULTS = (_dtypes.float16, _dtypes.float32, _dtypes.float64)


def set_default_dtype(d: Any, /) -> None:
    """Make ``d`` (float16, float32 or float64) the default floating dtype: of Python floats
    in ``tensor``, of the float creation functions and of integer → float promotion."""
    if isinstance(d, str) or d is None:
        raise TypeError(f"set_default_dtype: invalid dtype object {d!r}: only floating-point "
                        "types are supported as the default type (gf.float32, gf.float64, "
                        "gf.float16)")
    dt = _dtypes.as_dtype(d)
    if not _dtypes.is_floating(dt):
        raise TypeError(f"set_default_dtype: only floating-point types are supported as the "
                        f"default type, got {dt}; pass gf.float32, gf.float64 or gf.float16")
    if dt not in _ALLOWED_DEFAULTS:
        raise RuntimeError(f"set_default_dtype: {dt} cannot be the default dtype (no complex "
                           "counterpart, as in PyTorch); use gf.float32, gf.float64 or "
                           "gf.float16")
    old = _dtypes.DEFAULT_FLOAT
    # The modules that read the default copied it at import (``from gradflow.dtypes import
    # DEFAULT_FLOAT``): rebind the copy in each, so every reader follows the new default.
    for name, module in list(sys.modules.items()):
        if (name == "gradflow" or name.startswith("gradflow.")) and module is not None \
                and getattr(module, "DEFAULT_FLOAT", None) is old:
            module.DEFAULT_FLOAT = dt


# ---- deterministic algorithms ---------------------------------------------------------------

_deterministic = {"mode": False, "warn_only": False}


def use_deterministic_algorithms(mode: bool, *, warn_only: bool = False) -> None:
    """Record whether deterministic algorithms are required (see the module docstring for what
    this changes in gradflow)."""
    if not isinstance(mode, bool):
        raise TypeError(f"use_deterministic_algorithms(): argument 'mode' must be bool, not "
                        f"{type(mode).__name__}")
    if not isinstance(warn_only, bool):
        raise TypeError(f"use_deterministic_algorithms(): argument 'warn_only' must be bool, "
                        f"not {type(warn_only).__name__}")
    _deterministic["mode"] = mode
    _deterministic["warn_only"] = warn_only


def are_deterministic_algorithms_enabled() -> bool:
    """Whether :func:`use_deterministic_algorithms` turned the mode on."""
    return _deterministic["mode"]


def is_deterministic_algorithms_warn_only_enabled() -> bool:
    """Whether the deterministic mode was set with ``warn_only=True``."""
    return _deterministic["warn_only"]


# ---- threads --------------------------------------------------------------------------------

_limits: list = []  # the live threadpoolctl limiter (kept so the limit stays in force)


def _controller():
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:
        return None
    np.dot(np.ones((2, 2)), np.ones((2, 2)))  # make sure NumPy's BLAS is loaded
    return ThreadpoolController()


def set_num_threads(num: int, /) -> None:
    """Use ``num`` threads in the process's BLAS/OpenMP pools (gradflow's matmuls and
    convolutions)."""
    if isinstance(num, bool) or not isinstance(num, int | np.integer):
        raise RuntimeError(f"set_num_threads expects an int, but got {type(num).__name__}")
    if num <= 0:
        raise RuntimeError(f"set_num_threads expects a positive integer, got {num}")
    controller = _controller()
    if controller is None:
        raise RuntimeError("set_num_threads: the threadpoolctl package is needed to change "
                           "NumPy's BLAS thread count at run time (pip install threadpoolctl),"
                           " or set OMP_NUM_THREADS/OPENBLAS_NUM_THREADS before starting")
    _limits.clear()
    _limits.append(controller.limit(limits=int(num)))


def get_num_threads() -> int:
    """The thread count of the BLAS pools (the largest if several), else the CPU count."""
    controller = _controller()
    if controller is not None:
        counts = [info["num_threads"] for info in controller.info()
                  if info.get("user_api") == "blas"]
        if counts:
            return max(counts)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        value = os.environ.get(var, "")
        if value.isdigit() and int(value) > 0:
            return int(value)
    return os.cpu_count() or 1
