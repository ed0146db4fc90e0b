"""Lecture 000's sigmoid neuron, f(w, x) = σ(w0·x0 + w1·x1 + w2), with its graph drawn.

What it shows:

1. The forward pass at the lecture's point w = (2, −3, −3), x = (−1, −2) gives f = 0.73.
2. The backward pass node by node, as the lecture writes it: the gates 1/x, c + x, exp, ·(−1),
   the additions and the multiplications, each multiplying its local derivative by the gradient
   coming from above; and the shortcut through the sigmoid gate, dσ/dz = σ(1 − σ) = 0.20.
   Gradients: df/dw = (−0.20, −0.39, 0.20), df/dx = (0.39, −0.59).
3. The computational graph with every value (green, above) and gradient (red, below), drawn
   with :func:`gradflow.viz.draw_graph` (SVG or PNG need Graphviz's ``dot``; ``--format dot``
   writes the DOT text and needs only the ``graphviz`` Python package).
4. What the gradient is for: ``--epochs`` steps of gradient ascent on w push f towards 1.

Run it::

    python examples/02_sigmoid_neuron_graph.py                   # writes sigmoid_neuron.svg
    python examples/02_sigmoid_neuron_graph.py --out n.png --epochs 1
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Sequence

import gradflow as gf
from gradflow.demos import W, X, sigmoid_neuron
from gradflow.viz import FORMATS, draw_graph


def neuron(w: Sequence[float], x: Sequence[float]) -> dict[str, gf.Tensor]:
    """f with the lecture's gates (gradflow's own neuron, :func:`gradflow.demos.sigmoid_neuron`):
    every named node, leaves first, f last, watched for the drawing."""
    return sigmoid_neuron(w, x, decomposed=True)


def backward_table(nodes: dict[str, gf.Tensor]) -> None:
    """Print each node's forward value and df/d(node), from the output back to the inputs."""
    print(f"{'node':>10}  {'value':>8}  {'df/dnode':>8}")
    for name in reversed(list(nodes)):
        t = nodes[name]
        print(f"{name:>10}  {t.item():8.2f}  {t.grad.item():8.2f}")
    f = nodes["f"].item()
    print(f"sigmoid gate: dσ/dz = σ(1 − σ) = {f * (1 - f):.2f} = df/dz "
          f"({nodes['z'].grad.item():.2f})")


def draw(nodes: dict[str, gf.Tensor], out: str, fmt: str | None) -> None:
    try:
        path = draw_graph(nodes["f"], fmt, out, params=nodes, precision=2)
    except RuntimeError as exc:  # no Graphviz `dot` program: fall back to DOT text
        dot_path = out.rsplit(".", 1)[0] + ".dot"
        path = draw_graph(nodes["f"], "dot", dot_path, params=nodes, precision=2)
        print(f"({exc}; wrote DOT text instead)")
    print(f"graph written to {path}")


def ascend(steps: int, lr: float) -> None:
    """Gradient ascent on w with x fixed: f grows, as the sign of df/dw promises."""
    w = list(W)
    for step in range(1, steps + 1):
        nodes = neuron(w, X)
        nodes["f"].backward()
        w = [v + lr * nodes[f"w{i}"].grad.item() for i, v in enumerate(w)]
        print(f"  step {step}: f = {nodes['f'].item():.4f} -> w = "
              f"({', '.join(f'{v:.3f}' for v in w)})")
    z = w[0] * X[0] + w[1] * X[1] + w[2]
    print(f"  after {steps} step(s): f = {1 / (1 + math.exp(-z)):.4f}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="sigmoid_neuron.svg", help="where to draw the graph")
    parser.add_argument("--format", choices=FORMATS, default=None,
                        help="svg, png or dot (default: from --out's suffix)")
    parser.add_argument("--epochs", type=int, default=5,
                        help="steps of gradient ascent on w after the drawing (0: none)")
    parser.add_argument("--lr", type=float, default=1.0, help="step size of the ascent")
    args = parser.parse_args(argv)

    nodes = neuron(W, X)
    nodes["f"].backward()
    print(f"f(w, x) = sigmoid(w0*x0 + w1*x1 + w2) at w = {W}, x = {X}: f = "
          f"{nodes['f'].item():.2f}")
    backward_table(nodes)
    draw(nodes, args.out, args.format)
    if args.epochs > 0:
        print(f"gradient ascent on w (lr = {args.lr}):")
        ascend(args.epochs, args.lr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
