"""The callgrind benchmark end to end at its quick size (counts, files; no count assertions
beyond sanity), and its parsing helpers."""

from __future__ import annotations

import argparse
import csv

import pytest

from gradflow.bench.callgrind import (
    CONFIGS,
    CSV_FIELDS,
    _config_arg,
    _dumps,
    ratios,
    run_callgrind,
    valgrind_missing,
)

needs_valgrind = pytest.mark.skipif(valgrind_missing() is not None,
                                    reason=f"callgrind benchmark: {valgrind_missing()}")


@needs_valgrind
def test_quick_run_counts_gradflow_steps(tmp_path):
    rows = run_callgrind(tmp_path, quick=True, frameworks=("gradflow",))
    assert [(r["config"], r["framework"]) for r in rows] == [("tiny_b8", "gradflow")]
    # a 4-4-4-2 step is Python overhead: well above 10^4 and below 10^9 instructions
    assert 1e4 < rows[0]["instructions_per_step"] < 1e9
    with open(tmp_path / "callgrind.csv", encoding="utf-8") as f:
        got = list(csv.DictReader(f))
    assert list(got[0]) == list(CSV_FIELDS)
    assert float(got[0]["instructions_per_step"]) == pytest.approx(
        rows[0]["instructions_per_step"])
    md = (tmp_path / "callgrind.md").read_text(encoding="utf-8")
    assert "| tiny_b8 | 4-4-4-2 | 8 |" in md


def test_ratios_and_config_parsing():
    rows = [{"config": "a", "framework": "gradflow", "instructions_per_step": 300.0},
            {"config": "a", "framework": "torch", "instructions_per_step": 600.0},
            {"config": "a", "framework": "numpy", "instructions_per_step": 100.0},
            {"config": "b", "framework": "numpy", "instructions_per_step": 100.0}]
    assert ratios(rows) == [{"config": "a", "gradflow/torch": 0.5, "gradflow/numpy": 3.0}]
    assert _config_arg("mlp_b1, 20-8-3@16") == {"mlp_b1": CONFIGS["mlp_b1"],
                                                "20-8-3@16": ((20, 8, 3), 16)}
    with pytest.raises(argparse.ArgumentTypeError, match="SIZES@BATCH"):
        _config_arg("mlp")


def test_dumps_are_read_by_their_client_request_name(tmp_path):
    (tmp_path / "callgrind.out.1").write_text(
        "version: 1\ndesc: Trigger: Client Request: gf:tiny_b8\nevents: Ir\nsummary: 1234\n"
        "totals: 1234\n")
    (tmp_path / "callgrind.out").write_text("desc: Trigger: Program termination\ntotals: 9\n")
    assert _dumps(str(tmp_path)) == {"tiny_b8": 1234}
