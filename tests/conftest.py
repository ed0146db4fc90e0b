"""Shared fixtures: the ``backend`` fixture runs a test on every available device."""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))  # tests/oracle.py and friends
# One BLAS/OpenMP thread in tests: results do not depend on thread scheduling, and PyTorch's
# spinning OpenMP workers (torch is imported for parity tests) cannot starve OpenBLAS's threads
# on a 2-core CI machine (seen: 25x slower small matmuls). Subprocesses inherit the setting.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import gradflow as gf  # noqa: E402

try:  # NumPy may already have loaded OpenBLAS: limit its pool at run time too
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)
except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
    pass

BACKENDS = ["cpu", "cuda"]


@pytest.fixture(params=BACKENDS)
def device(request) -> str:
    """``"cpu"`` always; ``"cuda"`` when CuPy and a GPU are usable (skipped otherwise)."""
    if request.param == "cuda" and not gf.cuda.is_available():
        pytest.skip(f"CUDA backend not tested: {gf.cuda.unavailable_reason()}")
    return request.param


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(12345)


@pytest.fixture(autouse=True)
def _seed():
    gf.manual_seed(0)
    yield


@pytest.fixture(autouse=True, scope="session")
def _single_threaded_torch():
    try:
        import torch
    except ImportError:  # pragma: no cover
        yield
        return
    torch.set_num_threads(1)
    yield
