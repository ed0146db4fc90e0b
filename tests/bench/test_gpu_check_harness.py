"""benchmarks/gpu_check.py uses the bench harness (its timer and tables), checked on the CPU:
the GPU-only sections run where a GPU is lent, but the shared parts must work everywhere."""

import importlib.util
from pathlib import Path

import pytest

PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "gpu_check.py"


@pytest.fixture(scope="module")
def gpu_check():
    spec = importlib.util.spec_from_file_location("gpu_check", PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_wall_times_steps_with_the_harness_timer(gpu_check):
    calls, syncs = [], []
    ms = gpu_check._wall(lambda: calls.append(1), lambda: syncs.append(1), steps=4, repeats=3)
    assert ms >= 0 and len(calls) == 5 + 1 + 4 * 3  # warm-up, calibration, 3 samples of 4
    assert len(syncs) >= 3


def test_report_tables_are_the_harness_markdown(gpu_check):
    from gradflow.bench._common import md_table

    report = gpu_check.Report()
    report.table(["a", "b"], [[1, 2]])
    assert report.md[:-1] == md_table(["a", "b"], [[1, 2]])


def test_without_a_gpu_it_says_so(gpu_check, capsys):
    import gradflow as gf

    if gf.cuda.is_available():
        pytest.skip("a CUDA GPU is usable here: the script would run its sections")
    assert gpu_check.main(["--quick", "--out", "unused"]) == 2
    assert "no usable CUDA GPU" in capsys.readouterr().err


@pytest.mark.parametrize("framework", ["gradflow", "torch"])
def test_mlp_section_runs_the_harness_steps(gpu_check, monkeypatch, framework):
    import numpy as np

    if framework == "torch":
        pytest.importorskip("torch")
    monkeypatch.setattr(gpu_check, "MLP_SIZES", [6, 5, 3])
    rng = np.random.default_rng(0)
    xb, yb = rng.standard_normal((4, 6)).astype(np.float32), rng.integers(0, 3, 4)
    ms = gpu_check._mlp_step(framework, xb, yb, False, steps=2, repeats=2, device="cpu")
    assert ms > 0
