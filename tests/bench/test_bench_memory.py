"""The peak-memory benchmark end to end at its quick size (files, fields, sanity of the numbers),
one measurement in this process, and its ratio helper."""

from __future__ import annotations

import csv

import pytest

from gradflow.bench.memory import (
    CSV_FIELDS,
    MB,
    QUICK_MLP_SIZES,
    measure,
    ratios,
    run_memory,
)


def test_quick_run_writes_rows_csv_and_markdown(tmp_path):
    rows = run_memory(tmp_path, models=("mlp",), frameworks=("gradflow",), quick=True)
    assert [(r["model"], r["batch_size"], r["framework"]) for r in rows] == [
        ("mlp", 16, "gradflow")]
    # 64-32-10 at batch 16: every gradient (2730 floats) is allocated within the step
    grad_bytes = (64 * 32 + 32 + 32 * 10 + 10) * 4
    rows.append(dict(measure("numpy", "mlp", 16, QUICK_MLP_SIZES, 1, 1), malloc_env=True))
    for r in rows:
        assert r["malloc_env"] is True
        assert r["tracemalloc_peak_mb"] * MB >= grad_bytes
        if r["rss_reset"]:
            # the kernel batches RSS counters per CPU: a fraction of a MiB either way is noise
            assert r["vmhwm_peak_mb"] > -1 and r["maxrss_peak_mb"] > -1
    with open(tmp_path / "memory.csv", encoding="utf-8") as f:
        got = list(csv.DictReader(f))
    assert list(got[0]) == list(CSV_FIELDS)
    assert float(got[0]["tracemalloc_peak_mb"]) == pytest.approx(rows[0]["tracemalloc_peak_mb"])
    md = (tmp_path / "memory.md").read_text(encoding="utf-8")
    assert "| mlp | 16 | gradflow |" in md and "VmHWM" in md


def test_cnn_step_in_process_counts_its_activations():
    row = measure("gradflow", "cnn", 2, warmup=1, repeats=1)
    # conv1's output alone is 2 x 8 x 24 x 24 float32: the step's peak holds at least that
    assert row["tracemalloc_peak_mb"] * MB >= 2 * 8 * 24 * 24 * 4
    assert row["state_mb"] > 0 and row["framework"] == "gradflow"


def test_ratios_and_argument_errors(tmp_path):
    rows = [{"model": "mlp", "batch_size": 8, "framework": "gradflow", "vmhwm_peak_mb": 3.0},
            {"model": "mlp", "batch_size": 8, "framework": "torch", "vmhwm_peak_mb": 6.0},
            {"model": "mlp", "batch_size": 8, "framework": "numpy", "vmhwm_peak_mb": None}]
    assert ratios(rows) == [{"model": "mlp", "batch_size": 8, "gradflow/torch": 0.5}]
    with pytest.raises(ValueError, match="unknown frameworks"):
        run_memory(tmp_path, frameworks=("jax",))
    with pytest.raises(ValueError, match="positive ints"):
        run_memory(tmp_path, batch_sizes=(0,))
