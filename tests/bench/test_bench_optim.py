"""The optimizer benchmark times the same update in every framework and writes its tables."""

import csv

import numpy as np
import pytest

from gradflow.bench import optim as bench

pytest.importorskip("torch")


@pytest.mark.parametrize("optimizer", sorted(bench.OPTIMIZERS))
def test_every_framework_runs_the_same_update(optimizer):
    updates = bench.make_updates("small-200x", optimizer, bench.FRAMEWORKS)
    start = [w.copy() for w in updates["numpy"].weights()]
    bench.check_same_update(updates, steps=3)  # raises if any two disagree
    moved = [not np.array_equal(a, b) for a, b in zip(updates["gradflow"].weights(), start)]
    assert all(moved)


def test_check_same_update_catches_a_different_update():
    updates = bench.make_updates("small-200x", "sgd", ("gradflow", "numpy"))
    updates["numpy"].kw["lr"] = 0.02
    with pytest.raises(AssertionError, match="numpy and gradflow disagree on parameter 0"):
        bench.check_same_update(updates)


def test_main_quick_writes_csv_and_markdown(tmp_path):
    assert bench.main(["--quick", "--out", str(tmp_path), "--train-batches", "4"]) == 0
    with open(tmp_path / "optim.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert {(r["optimizer"], r["framework"]) for r in rows} == {
        (o, fw) for o in ("sgd_momentum", "adam") for fw in bench.FRAMEWORKS}
    assert all(float(r["step_ms"]) > 0 for r in rows)
    md = (tmp_path / "optim.md").read_text(encoding="utf-8")
    assert "| small-200x | adam |" in md and "gradflow/torch" in md and "loadavg_end" in md
    assert "| adam | 4 |" in md and (tmp_path / "optim_train.csv").exists()


def test_unknown_names_are_refused():
    with pytest.raises(SystemExit, match="unknown optimizer \\['lbfgs'\\]"):
        bench.main(["--optimizers", "lbfgs"])
    with pytest.raises(ValueError, match="unknown framework 'jax'"):
        bench.make_updates("small-200x", "sgd", ("jax",))
