"""``gradflow bench batch-size`` end to end at its CI size, and its trade-off fit."""

import math

import pytest

from gradflow.analysis.noise_scale import steps_examples_tradeoff
from gradflow.bench.batch_size import fit_tradeoff, run_batch_size


def test_fit_recovers_the_hyperbola():
    sizes = [4, 16, 64, 256]
    steps = [steps_examples_tradeoff(b, s_min=120.0, e_min=3000.0, b_noise=25.0)[0]
             for b in sizes]
    fit = fit_tradeoff(sizes, steps)
    assert fit["s_min"] == pytest.approx(120.0) and fit["e_min"] == pytest.approx(3000.0)
    assert fit["b_crit"] == pytest.approx(25.0)


def test_bench_runs_end_to_end_and_writes_its_table_csv_and_plot(tmp_path):
    pytest.importorskip("matplotlib")
    res = run_batch_size(tmp_path, quick=True, repeat=False)
    for path in res["files"].values():
        assert (tmp_path / path.split("/")[-1]).stat().st_size > 0
    assert {r["batch_size"] for r in res["rows"]} == {8, 200}
    assert sum("tuned" in r["kind"] for r in res["rows"]) == 2
    for where in ("init", "target"):
        noise = res["noise"][where]
        assert noise["b_simple"] > 0 and math.isfinite(noise["b_simple_se"])
        assert noise["lr_max"] > 0 and noise["inv_lambda_max"] > 0
    text = (tmp_path / "batch_size.md").read_text()
    assert "B_simple" in text and "| digits | 8 |" in text
    if res["fits"]:
        assert "measured knee" in text
