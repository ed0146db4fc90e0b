"""Every nn module and functional op gradflow shares with PyTorch takes its positional arguments
in PyTorch's order: ``nn.Linear(4, 3, True, "cpu")`` must not bind "cpu" to dtype. gradflow may
stop early (a missing trailing argument is a TypeError, not a silent difference) but never
reorders or renames."""

import inspect

import pytest

import gradflow.functional as F
import gradflow.nn as gnn

torch = pytest.importorskip("torch")


def _positional(fn) -> list[str]:
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):  # builtins without a signature
        return None
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    if any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in sig.parameters.values()):
        return None  # torch's boolean_dispatch wrappers (max_pool2d...) take *args
    return [p.name for p in sig.parameters.values() if p.kind in kinds and p.name != "self"]


def _shared_modules():
    for name in sorted(gnn.__all__):
        ours, theirs = getattr(gnn, name), getattr(torch.nn, name, None)
        if isinstance(ours, type) and issubclass(ours, gnn.Module) and isinstance(theirs, type):
            yield name, ours.__init__, theirs.__init__


def _shared_functions():
    for name in sorted(F.__all__):
        theirs = getattr(torch.nn.functional, name, None)
        if callable(theirs):
            yield name, getattr(F, name), theirs


CASES = list(_shared_modules()) + [(f"F.{n}", a, b) for n, a, b in _shared_functions()]


@pytest.mark.parametrize("name,ours,theirs", CASES, ids=[c[0] for c in CASES])
def test_positional_arguments_in_pytorch_order(name, ours, theirs):
    mine, torchs = _positional(ours), _positional(theirs)
    if torchs is None:
        pytest.skip(f"torch's {name} exposes no signature to compare")
    assert mine == torchs[:len(mine)], f"{name}: gradflow {mine} vs PyTorch {torchs}"
