"""The seed lecture's sigmoid neuron, f(w, x) = σ(w0·x0 + w1·x1 + w2), built from gradflow ops:
what ``gradflow graph-demo`` and ``examples/02_sigmoid_neuron_graph.py`` differentiate and draw.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

from gradflow.tensor import Tensor

__all__ = ["W", "X", "sigmoid_neuron", "NeuronDemo", "sigmoid_neuron_demo"]

#: The lecture's point: w = (2, -3, -3), x = (-1, -2), where f = 0.73.
W = (2.0, -3.0, -3.0)
X = (-1.0, -2.0)


def sigmoid_neuron(w: Sequence[float] = W, x: Sequence[float] = X,
                   decomposed: bool = True) -> dict[str, Tensor]:
    """Build f(w, x) (float64 leaves with ``requires_grad``); return every named node, leaves
    first and ``"f"`` last, registered with :func:`gradflow.viz.watch` (names for the drawing;
    intermediate nodes keep their gradients).

    ``decomposed=True`` writes σ as the lecture's gates, 1 / (1 + exp(-1 · z)); ``False`` uses
    one ``sigmoid`` op.
    """
    from gradflow.creation import tensor
    from gradflow.ops.activation import sigmoid
    from gradflow.ops.math import exp
    from gradflow.viz import watch

    w0, w1, w2 = (tensor(v, dtype="float64", requires_grad=True) for v in w)
    x0, x1 = (tensor(v, dtype="float64", requires_grad=True) for v in x)
    nodes = {"w0": w0, "x0": x0, "w1": w1, "x1": x1, "w2": w2}
    nodes["w0*x0"] = w0 * x0
    nodes["w1*x1"] = w1 * x1
    nodes["w0*x0+w1*x1"] = nodes["w0*x0"] + nodes["w1*x1"]
    nodes["z"] = nodes["w0*x0+w1*x1"] + w2
    if decomposed:
        nodes["-z"] = nodes["z"] * -1.0
        nodes["exp(-z)"] = exp(nodes["-z"])
        nodes["1+exp(-z)"] = 1.0 + nodes["exp(-z)"]
        nodes["f"] = 1.0 / nodes["1+exp(-z)"]
    else:
        nodes["f"] = sigmoid(nodes["z"])
    return watch(nodes)


@dataclass(frozen=True)
class NeuronDemo:
    """What :func:`sigmoid_neuron_demo` computed and drew."""

    output: float
    """f(w, x), rounded to 2 decimals (0.73)."""
    grads: dict[str, float]
    """df/dw0, df/dw1, df/dw2, df/dx0, df/dx1 by name, rounded to 2 decimals."""
    graph: str | bytes
    """The drawing: DOT or SVG text, or PNG bytes."""
    path: str | None
    """Where the drawing was written, if ``out_path`` was given."""


def sigmoid_neuron_demo(out_path: str | os.PathLike[str] | None = None,
                        format: str | None = None, decomposed: bool = False) -> NeuronDemo:
    """The lecture's neuron at its point, differentiated and drawn with every value and
    gradient (:func:`gradflow.viz.draw_graph`; ``format`` as there, default from
    ``out_path``'s suffix, else ``"svg"``); with ``out_path`` the drawing is also written."""
    from gradflow.io import atomic_write
    from gradflow.viz import draw_graph, resolve_format

    fmt = resolve_format(format, out_path)
    nodes = sigmoid_neuron(decomposed=decomposed)
    f = nodes["f"]
    f.backward()
    grads = {n: round(float(nodes[n].grad.item()), 2) for n in ("w0", "w1", "w2", "x0", "x1")}
    graph = draw_graph(f, fmt, params=nodes, precision=2)
    path = None if out_path is None else atomic_write(out_path, graph, who="draw_graph")
    return NeuronDemo(output=round(float(f.item()), 2), grads=grads, graph=graph, path=path)
