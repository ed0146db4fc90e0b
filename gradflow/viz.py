"""Drawing the computational graph, as the lectures draw it.

    import gradflow as gf
    from gradflow.viz import draw_graph, watch

    w = gf.tensor([2.0, -3.0], requires_grad=True)
    x = gf.tensor([-1.0, -2.0], requires_grad=True)
    z = (w * x).sum()
    f = gf.sigmoid(z)
    names = watch(w=w, x=x, z=z, f=f)    # names for the labels; keeps z.grad and f.grad
    f.backward()
    draw_graph(f, params=names, path="neuron.svg")

Every op is a node (its Function's name: ``Mul``, ``Sigmoid``), and so is every tensor that flows
between ops: a box with the tensor's name (when given), its forward value (above, green) and its
gradient after backward (below, red), as the lecture's diagrams write values above and gradients
below each wire. Tensors with more than ``max_values`` elements show their dtype and shape instead
of values and the norm of their gradient instead of the gradient.

What can be shown. The graph keeps no reference to the tensors an op produced, only their shape
and dtype, so the value of an intermediate result is shown when that tensor is known: it is
passed to ``draw_graph`` (as the root or in ``params``) or ``retain_grad()`` was called on it.
Its gradient is shown when ``retain_grad()`` was called before ``backward`` (leaves always keep
theirs). :func:`watch` does both in one call: it names tensors and retains the gradients of the
non-leaf ones. Inputs that do not require grad are not part of the graph and are not drawn,
except Python-number constants that an op recorded (``Mul``, ``Div``, ``Pow``), which appear as
small grey labels.

Images (SVG, PNG) are made by Graphviz's ``dot`` program; DOT text (``format="dot"``) needs only
the ``graphviz`` Python package. The traversal is iterative: graphs of any depth can be drawn.
"""

from __future__ import annotations

import html
import numbers
import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from gradflow.tensor import Tensor

if TYPE_CHECKING:
    import graphviz

FORMATS = ("svg", "png", "dot")
_SUFFIXES = {".svg": "svg", ".png": "png", ".dot": "dot", ".gv": "dot"}
_RANKDIRS = ("LR", "RL", "TB", "BT")

_LEAF_FILL = "#dbeafe"
_ROOT_FILL = "#fef3c7"
_TENSOR_FILL = "#ffffff"
_OP_FILL = "#e5e7eb"
_VALUE_COLOR = "#15803d"
_GRAD_COLOR = "#b91c1c"
_MUTED_COLOR = "#6b7280"


def watch(named: Mapping[str, Tensor] | None = None, /, **tensors: Tensor) -> dict[str, Tensor]:
    """Name tensors for ``draw_graph(params=...)`` and keep the gradients of non-leaf ones.

    Call it after the forward pass and before ``backward``: it calls ``retain_grad()`` on every
    tensor that has a ``grad_fn``, so the drawing can show its value and gradient. Names that are
    not identifiers go in the positional mapping: ``watch({"w0*x0": p}, z=z)``.
    """
    out = dict(named or {})
    out.update(tensors)
    for name, t in out.items():
        if not isinstance(t, Tensor):
            raise TypeError(f"watch: {name!r} is a {type(t).__name__}, not a Tensor")
        if t.grad_fn is not None:
            t.retain_grad()
    return out


def to_digraph(tensor: Tensor | Sequence[Tensor], *, show_values: bool = True,
               show_grads: bool = True, params: Mapping[str, Tensor] | None = None,
               rankdir: str = "LR", precision: int = 4, max_values: int = 4) -> graphviz.Digraph:
    """The graph that produced ``tensor`` (or several tensors) as a ``graphviz.Digraph``.

    Same arguments as :func:`draw_graph`; useful in notebooks, where a Digraph displays itself.
    """
    gv = _import_graphviz()
    if rankdir not in _RANKDIRS:
        raise ValueError(f"draw_graph: rankdir must be one of {_RANKDIRS}, got {rankdir!r}")
    if precision < 0 or max_values < 0:
        raise ValueError(f"draw_graph: precision and max_values must be >= 0, got {precision} "
                         f"and {max_values}")
    roots = [tensor] if isinstance(tensor, Tensor) else list(tensor)
    for i, r in enumerate(roots):
        if not isinstance(r, Tensor):
            raise TypeError(f"draw_graph: expected a Tensor or a sequence of Tensors, item {i} "
                            f"is a {type(r).__name__}")
    return _Builder(gv, show_values, show_grads, params, rankdir, precision,
                    max_values).build(roots)


def draw_graph(tensor: Tensor | Sequence[Tensor], format: str | None = None,
               path: str | os.PathLike[str] | None = None, *, show_values: bool = True,
               show_grads: bool = True, params: Mapping[str, Tensor] | None = None,
               rankdir: str = "LR", precision: int = 4, max_values: int = 4) -> str | bytes:
    """Draw the computational graph that produced ``tensor`` (a Tensor or a sequence of them).

    Args:
        tensor: the output(s) whose graph to draw; a leaf draws as a single tensor node.
        format: ``"svg"`` (text), ``"png"`` (bytes) or ``"dot"`` (DOT source text). Default: from
            the suffix of ``path`` (``.svg``, ``.png``, ``.dot``/``.gv``), else ``"svg"``.
        path: when given, the result is written there (atomically) and the path is returned.
        show_values: show forward values (of tensors that are known, see the module docstring).
        show_grads: show ``.grad`` of tensors that have one (leaves after backward; non-leaves
            after ``retain_grad()`` and backward).
        params: names for tensors, ``{name: tensor}``: leaves (parameters, inputs) and
            intermediate results alike; see :func:`watch`.
        rankdir: Graphviz layout direction, ``"LR"`` (inputs left, output right) or ``"TB"``...
        precision: decimals shown for values and gradients.
        max_values: tensors with more elements show their shape instead of their values.

    Raises:
        RuntimeError: for ``svg``/``png`` when Graphviz's ``dot`` program is not installed.
    """
    fmt = _resolve_format(format, path)
    graph = to_digraph(tensor, show_values=show_values, show_grads=show_grads, params=params,
                       rankdir=rankdir, precision=precision, max_values=max_values)
    source = graph.source
    if fmt == "dot":
        result: str | bytes = source
    else:
        data = _render(source, fmt)
        result = data.decode("utf-8") if fmt == "svg" else data
    if path is None:
        return result
    return _write_atomic(path, result)


# --- building the graph -----------------------------------------------------------------------
class _Builder:
    """One drawing: walks the graph from the roots with an explicit stack, emitting DOT."""

    def __init__(self, gv, show_values, show_grads, params, rankdir, precision, max_values):
        self.show_values = show_values
        self.show_grads = show_grads
        self.precision = precision
        self.max_values = max_values
        self.graph = gv.Digraph(
            "gradflow",
            graph_attr={"rankdir": rankdir, "nodesep": "0.3", "ranksep": "0.4"},
            node_attr={"fontname": "Helvetica", "fontsize": "11"},
            edge_attr={"arrowsize": "0.7"})
        self.names: dict[Any, str] = {}   # tensor key -> name
        self.known: dict[Any, Tensor] = {}  # tensor key -> the Tensor (for value and grad)
        self.tensor_ids: dict[Any, str] = {}
        self.op_ids: dict[Any, str] = {}
        self.stack: list = []
        self.n_const = 0
        for name, t in (params or {}).items():
            if not isinstance(t, Tensor):
                raise TypeError(f"draw_graph: params[{name!r}] is a {type(t).__name__}, not a "
                                "Tensor")
            key = _key(t)
            self.known[key] = t
            self.names[key] = f"{self.names[key]}, {name}" if key in self.names else str(name)

    def build(self, roots: list[Tensor]):
        for r in roots:
            key = _key(r)
            self.known.setdefault(key, r)
            if r.grad_fn is None:
                self._leaf(r, root=True)
            else:
                self._output(r.grad_fn, r._out_idx, root=True)
        while self.stack:
            node = self.stack.pop()
            op_id = self.op_ids[node]
            consts = node.__dict__.get("consts")
            for i, edge in enumerate(node.edges):
                if edge is None:
                    c = consts[i] if isinstance(consts, tuple) and i < len(consts) else None
                    if isinstance(c, numbers.Number) and not isinstance(c, bool):
                        self._const(c, op_id)
                    continue
                if edge.__class__ is tuple:
                    src = self._output(edge[0], edge[1])
                else:
                    src = self._leaf(edge)
                self.graph.edge(src, op_id)
        return self.graph

    def _op(self, node) -> str:
        op_id = self.op_ids.get(node)
        if op_id is None:
            op_id = self.op_ids[node] = f"op{len(self.op_ids)}"
            self.graph.node(op_id, label=node.name, shape="ellipse", style="filled",
                            fillcolor=_OP_FILL)
            self.stack.append(node)
        return op_id

    def _output(self, node, index: int, root: bool = False) -> str:
        key = (node, index)
        tid = self.tensor_ids.get(key)
        if tid is None:
            tid = self.tensor_ids[key] = f"t{len(self.tensor_ids)}"
            t = self.known.get(key)
            if t is None:
                ref = (node.retained or {}).get(index)
                t = ref() if ref is not None else None
            meta = node.out_meta[index] if index < len(node.out_meta) else None
            shape, dtype = (t.shape, t.dtype) if t is not None else (meta or ((), None))
            fill = _ROOT_FILL if root else _TENSOR_FILL
            self.graph.node(tid, label=self._label(self.names.get(key), t, shape, dtype, fill),
                            shape="none", margin="0")
            self.graph.edge(self._op(node), tid)
        return tid

    def _leaf(self, t: Tensor, root: bool = False) -> str:
        key = _key(t)
        tid = self.tensor_ids.get(key)
        if tid is None:
            tid = self.tensor_ids[key] = f"t{len(self.tensor_ids)}"
            self.known.setdefault(key, t)
            fill = _ROOT_FILL if root else _LEAF_FILL
            self.graph.node(tid, label=self._label(self.names.get(key), t, t.shape, t.dtype, fill),
                            shape="none", margin="0")
        return tid

    def _const(self, value, op_id: str) -> None:
        cid = f"c{self.n_const}"
        self.n_const += 1
        text = str(value) if isinstance(value, numbers.Integral) else self._num(value)
        self.graph.node(cid, label=text, shape="plaintext", fontcolor=_MUTED_COLOR)
        self.graph.edge(cid, op_id, style="dashed", color=_MUTED_COLOR)

    def _label(self, name, t: Tensor | None, shape, dtype, fill: str) -> str:
        rows = []
        if name:
            rows.append(f"<B>{html.escape(name)}</B>")
        small = t is not None and t.numel() <= self.max_values
        if self.show_values and small:
            rows.append(_font(self._values(t.numpy()), _VALUE_COLOR))
        else:
            rows.append(_font(_describe(shape, dtype), _MUTED_COLOR))
        g = t.grad if t is not None and self.show_grads else None
        if g is not None:
            if g.numel() <= self.max_values:
                text = "grad " + self._values(g.numpy())
            else:
                xp = g.backend.xp
                text = "|grad| " + self._num(float(xp.linalg.norm(g.array.ravel())))
            rows.append(_font(text, _GRAD_COLOR))
        body = "".join(f"<TR><TD>{r}</TD></TR>" for r in rows)
        return (f'<<TABLE BORDER="1" CELLBORDER="0" CELLSPACING="0" CELLPADDING="3" '
                f'BGCOLOR="{fill}">{body}</TABLE>>')

    def _values(self, a: np.ndarray) -> str:
        if a.dtype.kind in "fc":
            return np.array2string(a, separator=", ", max_line_width=10_000,
                                   formatter={"float_kind": self._num, "complex_kind": str})
        return np.array2string(a, separator=", ", max_line_width=10_000)

    def _num(self, v: float) -> str:
        v = float(v)
        if not np.isfinite(v):
            return str(v)
        p = self.precision
        if v != 0 and not 10.0 ** -p <= abs(v) < 1e6:
            return f"{v:.{p}e}"
        text = f"{v:.{p}f}"
        return text[1:] if text.startswith("-") and float(text) == 0 else text


def _key(t: Tensor):
    return ("leaf", id(t)) if t.grad_fn is None else (t.grad_fn, t._out_idx)


def _font(text: str, color: str) -> str:
    return f'<FONT COLOR="{color}">{html.escape(text)}</FONT>'


def _describe(shape, dtype) -> str:
    dims = "scalar" if len(shape) == 0 else str(tuple(int(s) for s in shape))
    return dims if dtype is None else f"{dtype} {dims}"


# --- rendering and writing --------------------------------------------------------------------
def _import_graphviz():
    try:
        import graphviz
    except ImportError as exc:
        raise ImportError("draw_graph needs the `graphviz` Python package to build DOT: "
                          "pip install graphviz") from exc
    return graphviz


def _find_dot() -> str | None:
    """The path of Graphviz's ``dot`` program, or None when it is not installed."""
    return shutil.which("dot")


def _resolve_format(format: str | None, path) -> str:
    if format is None:
        suffix = os.path.splitext(os.fspath(path))[1].lower() if path is not None else ""
        return _SUFFIXES.get(suffix, "svg")
    fmt = format.lower()
    if fmt not in FORMATS:
        raise ValueError(f"draw_graph: format must be one of {FORMATS}, got {format!r}")
    return fmt


def _render(source: str, fmt: str) -> bytes:
    dot = _find_dot()
    if dot is None:
        raise RuntimeError(
            f"draw_graph: format={fmt!r} needs Graphviz's `dot` program, which was not found on "
            "PATH. Install Graphviz (Debian/Ubuntu: `sudo apt-get install graphviz`; macOS: "
            "`brew install graphviz`; conda: `conda install graphviz`), or get the DOT text "
            "with format='dot' and render it elsewhere (`dot -Tsvg graph.dot -o graph.svg`).")
    proc = subprocess.run([dot, f"-T{fmt}"], input=source.encode("utf-8"), capture_output=True,
                          check=False)
    if proc.returncode != 0:
        err = proc.stderr.decode("utf-8", "replace").strip()
        raise RuntimeError(f"draw_graph: `{dot} -T{fmt}` failed with exit code "
                           f"{proc.returncode}: {err}")
    return proc.stdout


def _write_atomic(path: str | os.PathLike[str], content: str | bytes) -> str:
    """Write ``content`` to ``path`` atomically (:func:`gradflow.io.atomic_write`)."""
    from gradflow.io import atomic_write

    return atomic_write(path, content, who="draw_graph")


def resolve_format(format: str | None, path: str | os.PathLike[str] | None) -> str:
    """The drawing format: ``format``, else ``path``'s suffix, else ``"svg"``."""
    return _resolve_format(format, path)


__all__ = ["FORMATS", "draw_graph", "resolve_format", "to_digraph", "watch"]
