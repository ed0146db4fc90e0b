"""The seed lecture's learning-rate experiment, end to end at a small size."""

from __future__ import annotations

import csv

import pytest

from gradflow.bench.lr import main, run_lr_experiment

pytest.importorskip("matplotlib")

MULTIPLIERS = (0.5, 1, 1.5, 1.9, 2.1)


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    out = tmp_path_factory.mktemp("lr")
    return run_lr_experiment(out, multipliers=MULTIPLIERS, steps=40, sgd_epochs=2)


def test_lambda_max_matches_numpy(result):
    assert result["lambda_rel_error"] <= 1e-4
    assert result["eta_opt"] == pytest.approx(1 / result["lambda_max"])
    assert result["eta_max"] == pytest.approx(2 / result["lambda_max"])
    # The lecture's λ_max = 0.84 is the curvature of the two weights (the bias adds mean(1²) = 1).
    assert result["lambda_max_weights"] == pytest.approx(0.84, rel=1e-4)
    assert result["lambda_max_weights"] == pytest.approx(result["lambda_max_weights_exact"],
                                                         rel=1e-4)


def test_verdicts(result):
    verdicts = {r["multiplier"]: r["verdict"] for r in result["runs"]}
    assert verdicts == {0.5: "converged", 1.0: "converged", 1.5: "oscillating-converged",
                        1.9: "oscillating-converged", 2.1: "diverged"}
    for r in result["runs"]:
        assert r["eta"] == pytest.approx(r["multiplier"] * result["eta_opt"])
        assert len(r["losses"]) == len(r["weights"]) == 41
        if r["multiplier"] < 2:
            assert r["final_loss"] < r["losses"][0]
            assert r["final_loss"] >= result["loss_min"] - 1e-12
    assert result["sgd"]["verdict"] == "noisy-converged"
    assert result["sgd"]["final_loss"] < result["sgd"]["losses"][0]


def test_files_written(result):
    files = result["files"]
    with open(files["md"], encoding="utf-8") as f:
        md = f.read()
    assert "| 2.1 |" in md and "diverged" in md and "oscillating-converged" in md
    assert f"{result['lambda_max']:.8f}" in md
    with open(files["csv"], newline="") as f:
        rows = list(csv.DictReader(f))
    expected = sum(len(r["losses"]) for r in result["runs"]) + len(result["sgd"]["losses"])
    assert len(rows) == expected
    assert set(rows[0]) == {"run", "multiplier", "eta", "step", "loss", "w1", "w2", "b"}
    with open(files["png"], "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_weights_only_reproduces_the_lecture_numbers(tmp_path):
    """Bias held at 0: the Hessian is the weights' block, λ_max = 0.84, η_max = 2.38."""
    res = run_lr_experiment(tmp_path, multipliers=(1.9, 2.1), steps=30, sgd_epochs=0,
                            train_bias=False)
    assert res["lambda_max"] == pytest.approx(0.84, rel=1e-4)
    assert res["eta_max"] == pytest.approx(2.38, abs=0.005)
    assert [r["verdict"] for r in res["runs"]] == ["oscillating-converged", "diverged"]
    assert all(w[2] == 0.0 for r in res["runs"] for w in r["weights"])


def test_main(tmp_path, capsys):
    assert main(["--out", str(tmp_path / "o"), "--steps", "5", "--sgd-epochs", "1"]) == 0
    printed = capsys.readouterr().out
    assert "λ_max" in printed and "diverged" in printed
    assert (tmp_path / "o" / "lr_experiment.md").exists()


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="steps must be >= 1"):
        run_lr_experiment(tmp_path, steps=0)
