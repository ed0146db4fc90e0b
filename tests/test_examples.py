"""The examples/ scripts run (with tiny epochs) and show what their docstrings promise."""

from __future__ import annotations

import importlib.util
import re
import shutil
from pathlib import Path
from types import ModuleType

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
NAMES = ["01_pytorch_style_loop", "02_sigmoid_neuron_graph", "03_digits_regularizers",
         "04_batch_vs_minibatch_vs_sgd", "05_learning_rate", "cnn_digits"]


def load(name: str) -> ModuleType:
    """Import ``examples/<name>.py`` (its name starts with a digit, so not by ``import``)."""
    spec = importlib.util.spec_from_file_location(f"gradflow_example_{name}",
                                                  EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run(capsys, name: str, *argv: str) -> str:
    assert load(name).main(list(argv)) == 0
    return capsys.readouterr().out


def numbers(line: str) -> list[float]:
    return [float(x) for x in re.findall(r"[-+]?\d+\.\d+(?:e[-+]?\d+)?", line)]


@pytest.mark.parametrize("name", NAMES)
def test_docstring_and_epochs_flag(capsys, name):
    module = load(name)
    doc = module.__doc__ or ""
    assert len(doc.splitlines()) > 3 and "Run it" in doc and f"{name}.py" in doc
    with pytest.raises(SystemExit) as exit_info:
        module.main(["--help"])
    assert exit_info.value.code == 0
    assert "--epochs" in capsys.readouterr().out


def test_01_pytorch_style_loop(capsys):
    out = run(capsys, "01_pytorch_style_loop", "--epochs", "1")
    assert "H = [0.13 0.96 0.4 ]  O = [0.35 0.85]" in out
    autograd, formula = numbers(next(line for line in out.splitlines() if "dE/dw" in line))
    assert autograd == formula == pytest.approx(-0.01631, abs=1e-5)
    assert "[stochastic] iterations per epoch: 200; 200 iterations in 1 epochs" in out
    assert "[full gradient] iterations per epoch: 1; 1 iterations in 1 epochs" in out


def test_02_sigmoid_neuron_graph(capsys, tmp_path):
    pytest.importorskip("graphviz")
    out_path = tmp_path / ("neuron.svg" if shutil.which("dot") else "neuron.dot")
    out = run(capsys, "02_sigmoid_neuron_graph", "--out", str(out_path), "--epochs", "2")
    assert "f = 0.73" in out
    table = {line.split()[0]: numbers(line) for line in out.splitlines()
             if line.split() and line.split()[0] in ("w0", "w1", "w2", "x0", "x1")}
    grads = {name: values[1] for name, values in table.items()}
    assert grads == {"w0": -0.2, "w1": -0.39, "w2": 0.2, "x0": 0.39, "x1": -0.59}
    assert "sigmoid gate: dσ/dz = σ(1 − σ) = 0.20" in out
    assert out_path.is_file() and out_path.stat().st_size > 0
    steps = [numbers(line)[0] for line in out.splitlines() if line.strip().startswith("step")]
    assert len(steps) == 2 and steps[1] > steps[0]  # gradient ascent raises f


def test_03_digits_regularizers(capsys):
    out = run(capsys, "03_digits_regularizers", "--epochs", "2", "--n-train", "64")
    module = load("03_digits_regularizers")
    rows = [line for line in out.splitlines()
            if any(line.startswith(name) for name in module.RUNS)]
    assert [r[:15].strip() for r in rows] == list(module.RUNS)
    for row in rows:
        train, val, test, gap = numbers(row)[:4]
        assert 0 <= test <= 1 and 0 <= val <= 1 and int(row.split()[-2]) <= 2
        assert gap == pytest.approx(train - test, abs=2e-3)


def test_04_batch_vs_minibatch_vs_sgd(capsys):
    out = run(capsys, "04_batch_vs_minibatch_vs_sgd", "--epochs", "2")
    lines = out.splitlines()
    assert lines[1].split() == ["epoch", "batch", "minibatch", "32", "stochastic"]
    assert [line.split()[0] for line in lines[2:4]] == ["1", "2"]
    summary = {line.split()[0]: line.split() for line in lines
               if line.split() and line.split()[0] in ("batch", "minibatch", "stochastic")}
    assert summary["batch"][2:4] == ["2", "1"]  # 2 updates, 1 per epoch
    assert summary["stochastic"][2:4] == ["2874", "1437"]  # one update per example


def test_05_learning_rate(capsys):
    out = run(capsys, "05_learning_rate", "--epochs", "20")
    weights = numbers(next(line for line in out.splitlines() if line.startswith("weights only")))
    assert weights[:3] == pytest.approx([0.84, 1 / 0.84, 2 / 0.84], abs=2e-3)  # the lecture's
    rows = {line.split()[0]: line for line in out.splitlines()
            if re.match(r"\s+\d\.\d\s", line)}
    assert list(rows) == ["0.5", "1.0", "1.5", "1.9", "2.1"]
    assert "monotone" in rows["0.5"]
    assert "one step" in rows["1.0"]
    assert "oscillating" in rows["1.5"] and "oscillating" in rows["1.9"]
    assert "diverged (above 2/λ_max)" in rows["2.1"]
    for m in ("0.5", "1.0", "1.5", "1.9"):
        assert "below 2/λ_max" in rows[m]


def test_cnn_digits(capsys):
    out = run(capsys, "cnn_digits", "--epochs", "2")
    assert "DigitsCNN, 34,170 parameters; 1437 train / 360 test digits" in out
    rows = [line.split() for line in out.splitlines() if re.match(r"\s+\d+\s", line)]
    assert [r[0] for r in rows] == ["1", "2"]
    final = numbers(next(line for line in out.splitlines() if line.startswith("test accuracy")))
    assert final[0] == float(rows[-1][2]) >= 0.7  # ~0.85 after 2 epochs, ~0.99 after 15


def test_cnn_digits_runs_on_pytorch_too(capsys):
    pytest.importorskip("torch")
    out = run(capsys, "cnn_digits", "--epochs", "1", "--torch")
    assert out.startswith("torch ") and "DigitsCNN, 34,170 parameters" in out
    assert "test accuracy after 1 epochs" in out
