"""The batch/minibatch/stochastic convergence benchmark end to end at its quick size. Counts
(epochs, examples, updates) are deterministic; wall times are only checked to exist."""

from __future__ import annotations

import csv

import pytest

from gradflow.bench.convergence import (
    HISTORY_FIELDS,
    REGIMES,
    SUMMARY_FIELDS,
    TUNING_FIELDS,
    main,
    run_convergence,
)

pytest.importorskip("matplotlib")
pytest.importorskip("sklearn")


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    return run_convergence(tmp_path_factory.mktemp("convergence"), quick=True, threads=1)


def _rows(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_summary(result):
    by = {(r["dataset"], r["regime"]): r for r in result["summary"]}
    assert set(by) == {(d, r) for d in ("digits", "digits_x10") for r in REGIMES}
    assert all(r["reached"] for r in result["summary"])
    for r in result["summary"]:
        assert r["final_loss"] <= result["config"]["target_loss"]
        assert r["wall_s"] > 0 and 0 <= r["test_accuracy"] <= 1
    b1, b10 = by[("digits", "batch")], by[("digits_x10", "batch")]
    # batch GD on 10 copies: the same gradient per update, ten times the examples per update
    assert abs(b10["updates"] - b1["updates"]) <= 1
    assert b10["examples"] == pytest.approx(10 * b1["examples"], rel=0.05)
    # the lecture's lesson: on the redundant set the stochastic regimes need far fewer epochs
    for regime in ("stochastic", "minibatch"):
        assert by[("digits_x10", regime)]["epochs"] < b10["epochs"] / 5
        assert by[("digits_x10", regime)]["epochs"] < by[("digits", regime)]["epochs"]


def test_lr_tuning(result):
    tuning = result["tuning"]
    assert {t["regime"] for t in tuning} == set(REGIMES)
    for regime in REGIMES:
        tried = [t for t in tuning if t["regime"] == regime]
        (best,) = [t for t in tried if t["chosen"]]
        assert best["lr"] == result["lrs"][regime]
        assert best["examples"] == min(t["examples"] for t in tried)


def test_files(result):
    files = result["files"]
    summary = _rows(files["csv"])
    assert tuple(summary[0]) == SUMMARY_FIELDS and len(summary) == 6
    history = _rows(files["history"])
    assert tuple(history[0]) == HISTORY_FIELDS
    assert {(h["dataset"], h["regime"]) for h in history} == {
        (r["dataset"], r["regime"]) for r in summary}
    assert tuple(_rows(files["tuning"])[0]) == TUNING_FIELDS
    with open(files["md"], encoding="utf-8") as f:
        md = f.read()
    for text in ("## Cost to reach both targets", "## The redundancy lesson",
                 "fewer epochs than batch", "## Learning-rate tuning", "| digits_x10 | stochastic",
                 "convergence.png", "gradflow_commit"):
        assert text in md, text
    with open(files["png"], "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_main_cli(tmp_path, capsys):
    assert main(["--quick", "--out", str(tmp_path), "--threads", "1", "--regimes", "minibatch",
                 "--datasets", "digits", "--lr", "minibatch=0.3"]) == 0
    assert "convergence.md" in capsys.readouterr().out
    (row,) = _rows(tmp_path / "convergence.csv")
    assert row["regime"] == "minibatch" and float(row["lr"]) == 0.3
    assert "(rates given, not tuned)" in (tmp_path / "convergence.md").read_text("utf-8")


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="unknown regimes"):
        run_convergence(tmp_path, regimes=("momentum",))
