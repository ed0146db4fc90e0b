"""pytest-benchmark suite configuration: import gradflow from this checkout, seed everything,
and keep these timings out of the test run (``testpaths = ["tests"]`` never collects them)."""

from __future__ import annotations

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import gradflow as gf  # noqa: E402


@pytest.fixture(autouse=True)
def _seed():
    gf.manual_seed(0)
    yield


def pytest_benchmark_update_machine_info(config, machine_info):
    """Record what the numbers depend on: the commit, the CPU, the load and the libraries."""
    from gradflow.bench._common import environment

    machine_info["gradflow_environment"] = environment()
