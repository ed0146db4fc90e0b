"""Graph drawing (gradflow.viz): DOT labels, SVG/PNG through Graphviz's dot, the demo, the CLI."""

from __future__ import annotations

import os
import re
import shutil
import xml.etree.ElementTree as ET
from collections import Counter

import pytest

import gradflow as gf

pytest.importorskip("graphviz")

from gradflow import demos, viz  # noqa: E402

needs_dot = pytest.mark.skipif(shutil.which("dot") is None,
                               reason="Graphviz's dot program is not installed")

LECTURE_GRADS = {"w0": -0.2, "w1": -0.39, "w2": 0.2, "x0": 0.39, "x1": -0.59}


def _svg_texts(svg: str) -> list[str]:
    root = ET.fromstring(svg)
    assert root.tag.rsplit("}", 1)[-1] == "svg"
    return ["".join(el.itertext()).strip() for el in root.iter() if el.tag.endswith("text")]


@pytest.mark.parametrize("decomposed", [False, True])
def test_demo_values_and_dot_labels(decomposed):
    demo = demos.sigmoid_neuron_demo(format="dot", decomposed=decomposed)
    assert demo.output == 0.73
    assert demo.grads == LECTURE_GRADS
    assert demo.path is None
    dot = demo.graph
    assert isinstance(dot, str) and dot.startswith("digraph")
    ops = ["Mul", "Add", "Div", "Exp"] if decomposed else ["Mul", "Add", "Sigmoid"]
    for op in ops:
        assert f"label={op} " in dot
    assert ("label=Sigmoid" in dot) is not decomposed
    for name in ("w0", "w1", "w2", "x0", "x1", "z", "f"):
        assert f"<B>{name}</B>" in dot
    # values (green) and gradients (red), 2 decimals as in the lecture
    for text in ("0.73", "2.00", "-3.00", "-1.00", "-2.00", "4.00", "6.00", "grad 1.00",
                 "grad -0.20", "grad -0.39", "grad 0.20", "grad 0.39", "grad -0.59"):
        assert text in dot, text
    if decomposed:  # the lecture's intermediate values: exp(-z) = 0.37, 1 + exp(-z) = 1.37
        for text in ("<B>exp(-z)</B>", "0.37", "1.37", "grad -0.53"):
            assert text in dot, text


def test_intermediates_need_retain_or_name():
    w = gf.tensor([2.0, -3.0], dtype="float64", requires_grad=True)
    x = gf.tensor([-1.0, -2.0], dtype="float64", requires_grad=True)
    p = w * x
    q = p * 3.0
    kept = q.retain_grad()  # unnamed but retained: value and gradient are drawn
    out = q.sum()
    out.backward()
    dot = viz.draw_graph(out, format="dot", params={"w": w}, precision=2)
    assert "[-2.00, 6.00]" not in dot  # w * x: neither named nor retained -> dtype and shape

    assert "float64 (2,)" in dot
    assert "[-6.00, 18.00]" in dot and "grad [1.00, 1.00]" in dot  # q, from retain_grad
    assert "grad [-3.00, -6.00]" in dot  # w.grad = 3x
    assert dot.count("<B>") == 1  # only w is named
    assert "label=3.00" in dot  # the recorded Python-number constant of the Mul
    assert kept is q


def test_options_and_large_tensors():
    a = gf.ones((3, 4), requires_grad=True)
    b = (a * a).sum()
    b.backward()
    dot = viz.draw_graph(b, format="dot", params={"a": a}, rankdir="TB")
    assert "rankdir=TB" in dot
    assert "float32 (3, 4)" in dot  # more than max_values elements: the shape, not the values
    assert "|grad| 6.9282" in dot  # and the gradient's norm: ||2a|| = 2 sqrt(12)
    edges = re.findall(r"^\t(t\d+ -> op\d+)$", dot, flags=re.M)
    assert sorted(Counter(edges).values()) == [1, 2]  # a feeds the Mul twice, a*a the Sum once
    bare = viz.draw_graph(b, format="dot", params={"a": a}, show_values=False, show_grads=False)
    assert "grad " not in bare and "|grad|" not in bare and "1.0000" not in bare
    assert "float32 scalar" in bare
    many = viz.draw_graph(b, format="dot", params={"a": a}, max_values=12, precision=1)
    assert "[[1.0, 1.0, 1.0, 1.0]," in many and "12.0" in many


def test_leaf_without_grad_fn():
    x = gf.tensor([1.5, -2.0], requires_grad=True)
    dot = viz.draw_graph(x, format="dot", params={"x": x}, precision=2)
    assert "<B>x</B>" in dot and "[1.50, -2.00]" in dot and "op0" not in dot
    plain = viz.draw_graph(gf.tensor(3.0), format="dot")  # no grad, no name, no graph
    assert "3.0000" in plain


def test_multiple_roots_share_one_graph():
    x = gf.tensor(2.0, requires_grad=True)
    y = x * x
    u, v = y + 1.0, gf.exp(y)
    dot = viz.draw_graph([u, v], format="dot", params={"x": x, "y": y})
    assert dot.count("label=Mul") == 1 and "label=Add" in dot and "label=Exp" in dot
    assert dot.count("<B>y</B>") == 1
    odd = viz.draw_graph(u, format="dot", params={"<y & 1>": u})
    assert "<B>&lt;y &amp; 1&gt;</B>" in odd  # names are escaped in the HTML labels


def test_deep_graph_is_iterative():
    x = gf.tensor(0.5, requires_grad=True)
    y = x
    for _ in range(2000):
        y = gf.sin(y)
    y.backward()
    dot = viz.draw_graph(y, format="dot", params={"x": x})
    assert dot.count("label=Sin") == 2000
    assert "op1999" in dot and "t2000" in dot


@needs_dot
def test_svg_parses_and_has_labels():
    demo = demos.sigmoid_neuron_demo(format="svg")
    assert isinstance(demo.graph, str) and "<svg" in demo.graph
    texts = _svg_texts(demo.graph)
    for label in ("Mul", "Add", "Sigmoid", "w0", "x1", "0.73", "grad -0.20", "grad -0.39",
                  "grad 0.20", "grad 0.39", "grad -0.59"):
        assert label in texts, label


@needs_dot
def test_png_and_path_written_atomically(tmp_path):
    x = gf.tensor(1.0, requires_grad=True)
    y = gf.sigmoid(x * 2.0)
    png = viz.draw_graph(y, format="png")
    assert isinstance(png, bytes) and png.startswith(b"\x89PNG\r\n\x1a\n")
    target = tmp_path / "graph.png"
    assert viz.draw_graph(y, path=target) == str(target)  # format from the suffix
    assert target.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert sorted(os.listdir(tmp_path)) == ["graph.png"]  # no temporary file left behind


def test_missing_dot_gives_clear_error_and_dot_still_works(monkeypatch, tmp_path):
    monkeypatch.setattr(viz, "_find_dot", lambda: None)
    x = gf.tensor(1.0, requires_grad=True)
    y = gf.tanh(x)
    for fmt in ("svg", "png"):
        with pytest.raises(RuntimeError, match="apt-get install graphviz") as info:
            viz.draw_graph(y, format=fmt, path=tmp_path / f"g.{fmt}")
        assert "brew install graphviz" in str(info.value)
        assert "format='dot'" in str(info.value)
    assert not list(tmp_path.iterdir())
    assert "label=Tanh" in viz.draw_graph(y, format="dot")
    path = viz.draw_graph(y, path=tmp_path / "g.dot")
    assert (tmp_path / "g.dot").read_text().startswith("digraph") and path.endswith("g.dot")


def test_bad_arguments():
    x = gf.tensor(1.0, requires_grad=True)
    with pytest.raises(ValueError, match="format must be one of"):
        viz.draw_graph(x, format="jpeg")
    with pytest.raises(ValueError, match="rankdir"):
        viz.draw_graph(x, format="dot", rankdir="XY")
    with pytest.raises(TypeError, match="params\\['x'\\]"):
        viz.draw_graph(x, format="dot", params={"x": 1.0})
    with pytest.raises(TypeError, match="item 1"):
        viz.draw_graph([x, 2.0], format="dot")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        viz.draw_graph(x, format="dot", path="/nonexistent-folder/g.dot")


def test_watch_retains_non_leaf_grads():
    x = gf.tensor(3.0, requires_grad=True)
    y = x * x
    names = viz.watch({"x^2": y}, x=x)
    assert list(names) == ["x^2", "x"]
    y.backward()
    assert float(y.grad) == 1.0 and float(x.grad) == 6.0
    with pytest.raises(TypeError, match="not a Tensor"):
        viz.watch(x=3.0)


def test_graph_demo_command(tmp_path, capsys, monkeypatch):
    from gradflow.cli import main

    out = tmp_path / "neuron.dot"
    assert main(["graph-demo", "--out", str(out), "--decomposed"]) == 0
    printed = capsys.readouterr().out
    for text in ("f = 0.73", "df/dw0 = -0.20", "df/dw1 = -0.39", "df/dw2 = 0.20",
                 "df/dx0 = 0.39", "df/dx1 = -0.59", f"written to {out}"):
        assert text in printed
    assert "label=Exp" in out.read_text()
    monkeypatch.setattr(viz, "_find_dot", lambda: None)
    assert main(["graph-demo", "--out", str(tmp_path / "n.svg")]) == 1
    captured = capsys.readouterr()
    assert "f = 0.73" in captured.out and "apt-get install graphviz" in captured.err
