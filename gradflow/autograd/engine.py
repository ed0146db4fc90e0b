"""The backward engine: iterative, topologically ordered, freeing the graph as it goes.

Graph nodes are :class:`~gradflow.autograd.function.Context` objects; an edge is ``None`` (no
gradient), ``(node, output_index)`` or a leaf Tensor. The engine counts, for every node, how many
edges point at it, then runs Kahn's algorithm from the roots: a node's backward runs once all the
gradient for its outputs has arrived. No recursion, so graph depth is unbounded.
"""

from __future__ import annotations

from collections.abc import Sequence

from gradflow.autograd.function import Context, check_finite_backward
from gradflow.autograd.grad_mode import _State
from gradflow.tensor import Tensor


def _as_list(x) -> list:
    if x is None:
        return []
    if isinstance(x, Tensor):
        return [x]
    return list(x)


def _root_grads(roots: list[Tensor], grads, who: str) -> list[Tensor]:
    grads = _as_list(grads) if grads is not None else [None] * len(roots)
    if len(grads) != len(roots):
        raise ValueError(f"{who}: got {len(roots)} outputs but {len(grads)} gradients")
    out = []
    for i, (t, g) in enumerate(zip(roots, grads)):
        if not isinstance(t, Tensor):
            raise TypeError(f"{who}: output {i} is a {type(t).__name__}, not a Tensor")
        if not t.requires_grad:
            raise RuntimeError(
                f"{who}: output {i} (shape {t.shape}) does not require grad and has no grad_fn: "
                "nothing it depends on was created with requires_grad=True (or it was computed "
                "under gf.no_grad()).")
        if g is None:
            if t.size != 1:
                raise RuntimeError(
                    f"{who}: grad can be implicitly created only for scalar outputs, but output "
                    f"{i} has shape {t.shape}. Reduce it first (e.g. loss.sum() or loss.mean()) "
                    "or pass gradient=<tensor of the same shape>.")
            g = Tensor._make(t._backend.xp.ones(t.shape, dtype=t.dtype), t._backend)
        else:
            if not isinstance(g, Tensor):
                g = Tensor._make(t._backend.asarray(g, dtype=t.dtype), t._backend)
            if g.shape != t.shape:
                raise RuntimeError(f"{who}: gradient {i} has shape {g.shape} but its output has "
                                   f"shape {t.shape}; they must match")
            if g._backend is not t._backend:
                raise RuntimeError(f"{who}: gradient {i} is on {g.device} but its output is on "
                                   f"{t.device}")
        out.append(g)
    return out


def _collect(root_nodes: list[Context]):
    """Every node reachable from the roots, and each node's consumers (its parents in backward)."""
    seen = set(root_nodes)
    stack = list(root_nodes)
    parents: dict[Context, list[Context]] = {}
    while stack:
        node = stack.pop()
        for edge in node.edges:
            if edge.__class__ is tuple:
                child = edge[0]
                parents.setdefault(child, []).append(node)
                if child not in seen:
                    seen.add(child)
                    stack.append(child)
    return seen, parents


def _useful_nodes(nodes, parents, target_nodes, target_leaves) -> set:
    """Nodes whose backward leads to a requested input: only these run in ``gf.grad``."""
    useful: set = set()
    frontier = []
    for node in nodes:
        for edge in node.edges:
            if edge is None:
                continue
            if edge.__class__ is tuple:
                hit = edge[0] in target_nodes
            else:
                hit = id(edge) in target_leaves
            if hit:
                frontier.append(node)
                break
    while frontier:
        node = frontier.pop()
        if node in useful:
            continue
        useful.add(node)
        frontier.extend(parents.get(node, ()))
    return useful


def run_backward(roots: list[Tensor], root_grads: list[Tensor], retain_graph: bool,
                 create_graph: bool, capture: dict | None = None):
    """Propagate ``root_grads`` from ``roots`` through the graph.

    Without ``capture``, gradients of leaves accumulate into ``leaf.grad``. With ``capture``
    (``{id(leaf): slot}`` and ``{(node, index): slot}``), the gradients of those tensors are
    returned instead, nothing is accumulated and only the needed part of the graph runs.
    """
    results: dict = {}
    handed_out: set[int] = {id(g.data) for g in root_grads}
    cap_leaves = capture["leaves"] if capture else None
    cap_nodes = capture["nodes"] if capture else None

    def deliver_leaf(leaf: Tensor, g: Tensor) -> None:
        if capture is not None:
            slot = cap_leaves.get(id(leaf))
            if slot is not None:
                prev = results.get(slot)
                results[slot] = g if prev is None else prev + g
            return
        if g.dtype != leaf.dtype:
            g = g.to(dtype=leaf.dtype)
        if leaf.grad is None:
            if not create_graph:
                data = g.data
                # A gradient array shared with another leaf or the caller, or a view (e.g. a
                # read-only broadcast), is copied: .grad must be safe to modify in place.
                if id(data) in handed_out or getattr(data, "base", None) is not None:
                    g = Tensor._make(data.copy(), g._backend)
                handed_out.add(id(data))
            leaf.grad = g
        elif create_graph:
            leaf.grad = leaf.grad + g
        else:
            leaf.grad.data += g.data

    buffers: dict[Context, list] = {}
    root_nodes: list[Context] = []
    for t, g in zip(roots, root_grads):
        node = t.grad_fn
        if node is None:
            deliver_leaf(t, g)
            continue
        buf = buffers.get(node)
        if buf is None:
            buf = buffers[node] = [None] * len(node.out_meta)
            root_nodes.append(node)
        i = t._out_idx
        buf[i] = g if buf[i] is None else buf[i] + g

    nodes, parents = _collect(root_nodes)
    if capture is not None:
        runnable = _useful_nodes(nodes, parents, {n for n, _ in cap_nodes}, cap_leaves)
    else:
        runnable = nodes
    deps: dict[Context, int] = {}
    for node in runnable:
        for edge in node.edges:
            if edge.__class__ is tuple:
                deps[edge[0]] = deps.get(edge[0], 0) + 1

    ready = [n for n in root_nodes if deps.get(n, 0) == 0]
    prev_mode = _State.grad_enabled
    _State.grad_enabled = create_graph
    anomaly = _State.anomaly
    try:
        while ready:
            node = ready.pop()
            grads = buffers.pop(node, None)
            if cap_nodes and grads is not None:
                for i, g in enumerate(grads):
                    slot = cap_nodes.get((node, i))
                    if slot is not None and g is not None:
                        results[slot] = g
            retained = node.__dict__.get("retained") if grads is not None else None
            if retained:
                for i, ref in retained.items():
                    t = ref()
                    if t is not None and grads[i] is not None:
                        g = grads[i] if create_graph else grads[i].detach()
                        t.grad = g if t.grad is None else t.grad + g
            if node not in runnable:
                continue
            edges = node.edges
            if grads is None or all(g is None for g in grads):
                result = (None,) * len(edges)
            else:
                if node.freed:
                    raise RuntimeError(
                        f"{node.fn.__name__}: trying to backward through the graph a second "
                        "time, but its saved tensors were freed after the first backward. Pass "
                        "retain_graph=True to the first backward() if you need to do this.")
                grads = _fill_missing(node, grads)
                if anomaly:  # report the failing backward by its node, not its inner ops
                    _State.anomaly = False
                    try:
                        result = node.fn.backward(node, *grads)
                    finally:
                        _State.anomaly = True
                else:
                    result = node.fn.backward(node, *grads)
                if result.__class__ is not tuple:
                    result = (result,)
                if len(result) < len(edges) and all(e is None for e in edges[len(result):]):
                    result = result + (None,) * (len(edges) - len(result))  # trailing non-tensors
                elif len(result) != len(edges):
                    raise RuntimeError(
                        f"{node.fn.__name__}.backward returned {len(result)} gradients but its "
                        f"forward took {len(edges)} inputs; return one per input (None for none)")
                if anomaly:
                    check_finite_backward(node, result)
                if not retain_graph:
                    node.freed = True
                    node._saved = ()
            for edge, g in zip(edges, result):
                if edge is None:
                    continue
                if edge.__class__ is tuple:
                    child, idx = edge
                    if g is not None:
                        g = _checked(node, child.out_meta[idx], g)
                        buf = buffers.get(child)
                        if buf is None:
                            buf = buffers[child] = [None] * len(child.out_meta)
                        buf[idx] = g if buf[idx] is None else buf[idx] + g
                    n = deps[child] - 1
                    deps[child] = n
                    if n == 0:
                        ready.append(child)
                elif g is not None:
                    deliver_leaf(edge, _checked(node, (edge.shape, edge.dtype), g))
    finally:
        _State.grad_enabled = prev_mode
    return results


def _fill_missing(node: Context, grads: list) -> list:
    if all(g is not None for g in grads):
        return grads
    xp = node.backend.xp
    return [g if g is not None or meta is None
            else Tensor._make(xp.zeros(meta[0], dtype=meta[1]), node.backend)
            for g, meta in zip(grads, node.out_meta)]


def _checked(node: Context, meta, g):
    if not isinstance(g, Tensor):
        raise TypeError(f"{node.fn.__name__}.backward must return Tensors (or None), "
                        f"got {type(g).__name__}")
    if g.shape != meta[0]:
        raise RuntimeError(f"{node.fn.__name__}.backward returned a gradient of shape {g.shape} "
                           f"for an input of shape {meta[0]}")
    if g.dtype != meta[1] and meta[1].kind in "fc":
        g = g.to(dtype=meta[1])  # gradients take the dtype of what they are the gradient of
    return g


def backward(tensors, grad_tensors=None, retain_graph: bool | None = None,
             create_graph: bool = False) -> None:
    """Accumulate d(tensors)/d(leaf) · grad_tensors into the ``.grad`` of every leaf."""
    roots = _as_list(tensors)
    grads = _root_grads(roots, grad_tensors, "backward")
    if retain_graph is None:
        retain_graph = create_graph
    run_backward(roots, grads, retain_graph, create_graph)


def grad(outputs, inputs, grad_outputs=None, retain_graph: bool | None = None,
         create_graph: bool = False, allow_unused: bool = False) -> tuple:
    """The gradients of ``outputs`` with respect to ``inputs``, as a tuple (nothing accumulates).

    With ``create_graph=True`` the result is itself differentiable (gradients of gradients).
    """
    roots = _as_list(outputs)
    ins: Sequence[Tensor] = _as_list(inputs)
    grads = _root_grads(roots, grad_outputs, "grad")
    if retain_graph is None:
        retain_graph = create_graph
    leaves: dict[int, int] = {}
    nodes: dict = {}
    for slot, t in enumerate(ins):
        if not isinstance(t, Tensor) or not t.requires_grad:
            raise RuntimeError(f"grad: input {slot} does not require grad; every input must be "
                               "a Tensor with requires_grad=True")
        if t.grad_fn is None:
            leaves[id(t)] = slot
        else:
            nodes[(t.grad_fn, t._out_idx)] = slot
    results = run_backward(roots, grads, retain_graph, create_graph,
                           capture={"leaves": leaves, "nodes": nodes})
    out = []
    for slot, t in enumerate(ins):
        g = results.get(slot)
        if g is None and not allow_unused:
            raise RuntimeError(f"grad: input {slot} (shape {t.shape}) is not used in computing "
                               "the outputs; pass allow_unused=True to get None for it")
        if g is not None and not create_graph:
            g = g.detach()
        out.append(g)
    return tuple(out)
