"""The throughput benchmark end to end at its quick size (no timing assertions), and the check
that its four step implementations do the same work."""

from __future__ import annotations

import csv
import re

import numpy as np
import pytest

from gradflow.bench.throughput import (
    CSV_FIELDS,
    FRAMEWORKS,
    init_mlp,
    main,
    make_data,
    one_step,
    ratios,
    run_throughput,
)

pytest.importorskip("matplotlib")
pytest.importorskip("torch")
pytest.importorskip("jax")

SIZES = (20, 16, 16, 5)


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    out = tmp_path_factory.mktemp("throughput")
    return out, run_throughput(out, quick=True, devices=("cpu",), threads=1, isolate=False)


@pytest.mark.parametrize("dtype, rtol, atol", [(np.float64, 1e-12, 1e-14),
                                               (np.float32, 1e-5, 1e-6)])
def test_frameworks_compute_the_same_step(dtype, rtol, atol):
    params = init_mlp(SIZES, seed=3, dtype=dtype)
    x, y = make_data(12, SIZES[0], SIZES[-1], seed=3, dtype=dtype)
    ref_loss, ref_w = one_step("numpy", params, x, y, lr=0.5, dtype=dtype)
    start = [a for w, b in params for a in (w, b)]
    assert all(not np.allclose(a, b) for a, b in zip(ref_w, start))  # the step moved every weight
    # the hand-written loss is the mean softmax cross-entropy
    z = x.astype(np.float64)
    for i, (w, b) in enumerate(params):
        z = z @ w.T.astype(np.float64) + b
        z = np.maximum(z, 0) if i < len(params) - 1 else z
    lse = np.log(np.exp(z - z.max(1, keepdims=True)).sum(1)) + z.max(1)
    assert ref_loss == pytest.approx(np.mean(lse - z[np.arange(len(y)), y]), rel=rtol * 10)
    for fw in FRAMEWORKS[::-1]:
        loss, weights = one_step(fw, params, x, y, lr=0.5, dtype=dtype)
        assert loss == pytest.approx(ref_loss, rel=rtol, abs=atol), fw
        assert len(weights) == len(ref_w)
        for got, want in zip(weights, ref_w):
            assert got.dtype == np.dtype(dtype), fw
            np.testing.assert_allclose(got, want, rtol=rtol, atol=atol, err_msg=fw)


def test_quick_run_rows(quick):
    _, rows = quick
    assert {(r["framework"], r["batch"]) for r in rows} == {
        (f, b) for f in FRAMEWORKS for b in ("1", "32")}
    for r in rows:
        assert r["device"] == "cpu" and r["sizes"] == "64-32-10" and r["repeats"] == 3
        assert r["step_ms"] > 0 and r["step_ms_iqr"] >= 0 and r["inner_steps"] >= 1
        assert r["samples_per_s"] == pytest.approx(r["batch_size"] / r["step_ms"] * 1e3)
    rat = ratios(rows)
    assert {r["batch"] for r in rat} == {"1", "32"}
    assert all({"gradflow/torch", "gradflow/numpy", "gradflow/jax"} <= set(r) for r in rat)


def test_quick_run_files(quick):
    out, rows = quick
    with open(out / "throughput.csv", newline="") as f:
        table = list(csv.DictReader(f))
    assert tuple(table[0]) == CSV_FIELDS
    assert len(table) == len(rows) == 8
    assert {r["framework"] for r in table} == set(FRAMEWORKS)
    md = (out / "throughput.md").read_text(encoding="utf-8")
    for text in ("| batch | gradflow (cpu) | numpy (cpu) | torch (cpu) | jax (cpu) |",
                 "gradflow/torch | gradflow/numpy | gradflow/jax", "| cpu | 32 |",
                 "torch_num_threads", "cpu:", "gradflow_commit", "throughput.png"):
        assert text in md, text
    assert "cuda skipped" not in md  # devices=("cpu",) asked for no CUDA
    assert (out / "throughput.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_main_cli_isolated(tmp_path, capsys):
    """The default: each framework timed in its own worker process."""
    assert main(["--quick", "--out", str(tmp_path), "--frameworks", "gradflow,numpy",
                 "--device", "all", "--threads", "1"]) == 0
    printed = capsys.readouterr().out
    assert "gradflow/numpy" in printed and "throughput.md" in printed
    md = (tmp_path / "throughput.md").read_text(encoding="utf-8")
    assert "gradflow (cpu) | numpy (cpu) |" in md
    assert "Each framework ran in its own process" in md
    assert re.search(r"blas_threads: `\w+=1`", md)  # the worker's BLAS pool was capped
    import gradflow as gf

    if not gf.cuda.is_available():
        assert "gradflow on cuda skipped" in md


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="unknown frameworks"):
        run_throughput(tmp_path, frameworks=("tensorflow",))
    with pytest.raises(ValueError, match="batch sizes"):
        run_throughput(tmp_path, batch_sizes=(0,), frameworks=("numpy",))
