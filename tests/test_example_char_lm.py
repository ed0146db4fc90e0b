"""examples/char_lm.py: both models train on the Zen of Python and sample from it."""

import importlib.util
import re
from pathlib import Path

import pytest

PATH = Path(__file__).resolve().parents[1] / "examples" / "char_lm.py"


def _example():
    spec = importlib.util.spec_from_file_location("gradflow_example_char_lm", PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _losses(out: str) -> list[float]:
    return [float(x) for x in re.findall(r"loss (\d+\.\d+) nats", out)]


def test_docstring_help_and_text():
    module = _example()
    assert "Run it" in module.__doc__ and "char_lm.py" in module.__doc__
    with pytest.raises(SystemExit) as exit_info:
        module.main(["--help"])
    assert exit_info.value.code == 0
    text = module.zen_of_python()
    assert text.startswith("The Zen of Python, by Tim Peters") and len(text) > 800


@pytest.mark.parametrize("model,epochs", [("mlp", 3), ("transformer", 2)])
def test_trains_and_samples(capsys, model, epochs):
    assert _example().main(["--model", model, "--epochs", str(epochs), "--context", "8",
                            "--sample", "30", "--lr", "1e-2"]) == 0
    out = capsys.readouterr().out
    first, last = _losses(out)
    assert last < first  # it learns
    sample = re.search(r"sample: '(.*)'", out, re.S) or re.search(r'sample: "(.*)"', out, re.S)
    assert sample and sample.group(1).startswith("Beautifu") and len(sample.group(1)) > 30
