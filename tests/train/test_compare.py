"""``gradflow plot``: three runs (full batch, minibatch, stochastic) on shared axes."""

from __future__ import annotations

import math

import pytest

from gradflow.cli import main
from gradflow.train.compare import compare_figure, read_run, run_labels

pytest.importorskip("matplotlib")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    base = tmp_path_factory.mktemp("runs")
    for name, bs in (("full", "full"), ("mini", "16"), ("sgd", "1")):
        assert main(["train", "--dataset", "two-gaussians", "--n-samples", "40", "--epochs",
                     "2", "--batch-size", bs, "--no-progress", "--out",
                     str(base / name)]) == 0
    return [base / n for n in ("full", "mini", "sgd")]


def test_plot_three_runs_writes_png_with_three_labelled_lines_per_panel(runs, tmp_path,
                                                                        capsys):
    out = tmp_path / "cmp.png"
    assert main(["plot", *map(str, runs), "--out", str(out)]) == 0
    assert out.read_bytes()[:8] == PNG_MAGIC
    printed = capsys.readouterr().out
    for label in ("batch_size=full", "batch_size=16", "batch_size=1"):
        assert label in printed
    loaded = [read_run(r) for r in runs]
    assert run_labels(loaded) == ["batch_size=full", "batch_size=16", "batch_size=1"]
    fig = compare_figure(loaded)
    axes = fig.get_axes()
    assert len(axes) == 6
    for ax in axes:
        labelled = [ln.get_label() for ln in ax.get_lines() if not ln.get_label().startswith("_")]
        assert labelled == ["batch_size=full", "batch_size=16", "batch_size=1"]
        assert [t.get_text() for t in ax.get_legend().get_texts()] == labelled
    steps = [line.get_xdata().tolist() for line in axes[1].get_lines()[::2]]
    assert steps[0] == [1.0, 2.0] and steps[2][-1] > steps[1][-1] > 2  # vs step
    wall = axes[2].get_lines()[0].get_xdata()
    assert wall[1] > wall[0] > 0 and not math.isnan(wall[1])


def test_plot_errors(runs, tmp_path, capsys):
    code = main(["plot", str(tmp_path), "--out", str(tmp_path / "x.png")])
    assert code == 1 and "no metrics.csv" in capsys.readouterr().err
    code = main(["plot", str(runs[0]), "--label", "a", "--label", "b"])
    assert code == 2 and "2 --label for 1 runs" in capsys.readouterr().err
    assert main(["plot", str(runs[0]), "--label", "mine", "--out", str(tmp_path / "y.png")]) == 0
    assert "mine: " in capsys.readouterr().out
