"""Shared fixtures: the ``backend`` fixture runs a test on every available device."""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))  # tests/oracle.py and friends

import gradflow as gf  # noqa: E402

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
