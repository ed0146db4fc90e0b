"""The backward engine: iterative, topologically ordered, freeing the graph as it goes.

Graph nodes are :class:`~gradflow.autograd.function.Context` objects; an edge is ``None`` (no
gradient), ``(node, output_index)`` or a leaf Tensor. The engine counts, for every node, how many
edges point at it, then runs Kahn's algorithm from the roots: a node runs once all the gradient
for its outputs has arrived. No recursion, so graph depth is unbounded.

Two modes, fixed for a whole pass:

- **first order** (``create_graph=False``): gradients are backend arrays; each node runs its
  Function's ``vjp`` (or, lacking one, its ``backward`` on constant Tensors under no-grad).
- **recorded** (``create_graph=True``): gradients are Tensors; each node runs its Function's
  ``backward`` with grad mode on, so the backward pass is itself a graph.

Where the gradients go is the caller's job: :func:`backward` accumulates them into ``leaf.grad``
(:class:`_Accumulate`), :func:`grad` captures them for the requested inputs (:class:`_Capture`).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from gradflow.autograd.function import Context, check_finite_backward
from gradflow.autograd.grad_mode import _State
from gradflow.dtypes import is_inexact
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
            if t.array.size != 1:
                raise RuntimeError(
                    f"{who}: grad can be implicitly created only for scalar outputs, but output "
                    f"{i} has shape {t.shape}. Reduce it first (e.g. loss.sum() or loss.mean()) "
                    "or pass gradient=<tensor of the same shape>.")
            a = t.array
            g = Tensor._make(t._backend.xp.ones(a.shape, dtype=a.dtype), t._backend)
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


def _collect_counting(root_nodes: list[Context]):
    """Every node reachable from the roots, and how many edges point at each (``backward()``
    runs them all: one walk, no consumer lists)."""
    seen = set(root_nodes)
    stack = list(root_nodes)
    deps: dict[Context, int] = {}
    get = deps.get
    while stack:
        node = stack.pop()
        for edge in node.edges:
            if edge.__class__ is tuple:
                child = edge[0]
                deps[child] = get(child, 0) + 1
                if child not in seen:
                    seen.add(child)
                    stack.append(child)
    return seen, deps


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


def _sum_arrays(a, b):
    """a + b as a new array (NumPy gives a scalar for two 0-d arrays)."""
    if a.ndim:
        return a + b
    out = a.copy()
    out += b
    return out


# --- gradients only the engine holds (vjp_inplace) --------------------------------------------
class _Probe:
    base = None


def _base_refs(g) -> int:
    """The reference count of the array a view ``g`` looks into (as seen from this frame)."""
    b = g.base
    return sys.getrefcount(b)


def _loop_refs(grads: list) -> int:
    """The reference count a loop over ``grads`` reads for an item (``_owned``'s loop)."""
    for g in grads:
        return sys.getrefcount(g)
    return 0


def _calibrate() -> tuple[int, int]:
    """The counts ``_owned`` reads for an object held by one list only, and ``_base_refs`` for
    a base held by its one view (the interpreter's own temporaries differ across CPython
    versions); zeros where there are no reference counts (nothing is then overwritten)."""
    if not hasattr(sys, "getrefcount"):
        return 0, 0
    view = _Probe()
    view.base = _Probe()
    base = _base_refs(view)
    probe = [view]
    view = None  # held by the list alone, as a buffered gradient
    return _loop_refs(probe), base


_SOLE, _SOLE_BASE = _calibrate()

#: Gradients smaller than this are not overwritten: a small array is cheap to allocate (it comes
#: from the allocator's cache, while a large one is a fresh ``mmap`` with page faults) and the
#: ownership check would cost more than it saves.
INPLACE_MIN_BYTES = 1 << 16


def _owned(grads: list) -> bool:
    """True when every gradient is writeable and referenced by the engine's buffer list alone
    (a view counts when the array it looks into is held by that view alone): then a
    ``vjp_inplace`` node may overwrite it."""
    for g in grads:
        if g is None:
            return False
        if g.base is not None and (g.base.base is not None or _base_refs(g) > _SOLE_BASE):
            return False
        if not g.flags.writeable:  # a read-only array (np.broadcast_to, a user's flag)
            return False
        if sys.getrefcount(g) > _SOLE:  # the same loop as _loop_refs: the same temporaries
            return False
    return _SOLE > 0


# --- where gradients go ----------------------------------------------------------------------
class _Sink:
    """Where a pass delivers gradients. Both sinks fill ``retain_grad()`` tensors alike;
    ``handed_out`` holds the ids of arrays someone else may hold (never adopted as ``.grad``)."""

    def __init__(self, create_graph: bool, handed_out: set[int]):
        self.create_graph = create_graph
        self.handed_out = handed_out

    def retained(self, t: Tensor, g) -> None:
        if not self.create_graph:
            self.handed_out.add(id(g))
            g = Tensor._make(g, t._backend)
        t._grad = g if t._grad is None else t._grad + g


class _Accumulate(_Sink):
    """``backward()``: add each leaf's gradient into ``leaf.grad`` (in the leaf's dtype).

    In first-order mode ``.grad`` must be safe to modify in place, yet a ``vjp`` may hand the same
    array to several inputs (``Add`` returns ``g`` twice) or return a view. So a first delivery
    keeps the array only if no one else holds it (else copies), and a later delivery in the same
    pass adds in place only into an array this pass owns.
    """

    runs_everything = True

    def __init__(self, create_graph: bool, root_grads: list):
        super().__init__(create_graph, {id(g) for g in root_grads})
        self.borrowed: set[int] = set()  # leaves whose .grad aliases an array of this pass

    def leaf(self, leaf: Tensor, g) -> None:
        if self.create_graph:
            if g.dtype != leaf.dtype:
                g = g.to(dtype=leaf.dtype)
            leaf._grad = g if leaf._grad is None else leaf._grad + g
            return
        dtype = leaf.array.dtype
        if g.dtype != dtype:
            g = g.astype(dtype)
        current = leaf._grad
        if current is None:
            if id(g) in self.handed_out or getattr(g, "base", None) is not None:
                g = g.copy()
            else:
                self.borrowed.add(id(leaf))
            self.handed_out.add(id(g))
            leaf._grad = Tensor._make(g, leaf._backend)
        elif id(leaf) in self.borrowed:
            self.borrowed.discard(id(leaf))
            current.array = _sum_arrays(current.array, g)  # a fresh array, owned from now on
            current._ver.v += 1
        else:  # PyTorch: an existing .grad is accumulated in place (its version counts it)
            current.array += g
            current._ver.v += 1


class _Capture(_Sink):
    """``gf.grad()``: keep the gradients of the requested inputs (leaves by identity, non-leaves
    by ``(node, output index)``) in their slots; nothing accumulates into ``.grad``."""

    runs_everything = False

    def __init__(self, create_graph: bool, leaves: dict[int, int], nodes: dict):
        super().__init__(create_graph, set())
        self.leaves = leaves
        self.nodes = nodes
        self.results: dict[int, object] = {}

    def leaf(self, leaf: Tensor, g) -> None:
        slot = self.leaves.get(id(leaf))
        if slot is not None:
            prev = self.results.get(slot)
            self.results[slot] = g if prev is None else (
                prev + g if self.create_graph else _sum_arrays(prev, g))

    def node(self, node: Context, grads) -> None:
        for i, g in enumerate(grads):
            slot = self.nodes.get((node, i))
            if slot is not None and g is not None:
                self.results[slot] = g


# --- the pass --------------------------------------------------------------------------------
def _propagate(roots: list[Tensor], root_grads: list[Tensor], retain_graph: bool,
               create_graph: bool, sink) -> None:
    """Send ``root_grads`` from ``roots`` back through the graph into ``sink``."""
    recorded = create_graph
    buffers: dict[Context, list] = {}
    root_nodes: list[Context] = []
    for t, g in zip(roots, root_grads):
        g = g if recorded else g.array
        node = t.grad_fn
        if node is None:
            sink.leaf(t, g)
            continue
        buf = buffers.get(node)
        if buf is None:
            buf = buffers[node] = [None] * len(node.out_meta)
            root_nodes.append(node)
        i = t._out_idx
        buf[i] = g if buf[i] is None else (buf[i] + g if recorded else _sum_arrays(buf[i], g))

    if sink.runs_everything:
        runnable, deps = _collect_counting(root_nodes)
    else:
        nodes, parents = _collect(root_nodes)
        runnable = _useful_nodes(nodes, parents, {n for n, _ in sink.nodes}, sink.leaves)
        deps = {}
        for node in runnable:
            for edge in node.edges:
                if edge.__class__ is tuple:
                    deps[edge[0]] = deps.get(edge[0], 0) + 1

    run = _run_recorded if recorded else _run_first_order
    capture = None if sink.runs_everything else sink.node
    ready = [n for n in root_nodes if deps.get(n, 0) == 0]
    prev_mode = _State.grad_enabled
    _State.grad_enabled = recorded
    anomaly = _State.anomaly
    result = g = prev = None
    try:
        while ready:
            node = ready.pop()
            result = g = prev = None  # the last node's arrays: no stale reference to a buffer
            grads = buffers.pop(node, None)
            if grads is not None:
                if capture is not None:
                    capture(node, grads)
                if node.retained:
                    _deliver_retained(node, grads, sink)
            if node not in runnable:
                continue
            edges = node.edges
            if grads is None or (grads[0] is None and all(g is None for g in grads)):
                result = (None,) * len(edges)
            else:
                if node.freed:
                    raise RuntimeError(
                        f"{node.fn.__name__}: trying to backward through the graph a second "
                        "time, but its saved tensors were freed after the first backward. Pass "
                        "retain_graph=True to the first backward() if you need to do this.")
                if anomaly:  # report the failing backward by its node, not its inner ops
                    _State.anomaly = False
                    try:
                        result = run(node, grads)
                    finally:
                        _State.anomaly = True
                    check_finite_backward(node, result)
                else:
                    result = run(node, grads)
                if not retain_graph:
                    node.release()
            for edge, g in zip(edges, result):
                if edge is None:
                    continue
                if edge.__class__ is tuple:
                    child, idx = edge
                    if g is not None:
                        buf = buffers.get(child)
                        if buf is None:
                            buf = buffers[child] = [None] * len(child.out_meta)
                        prev = buf[idx]
                        buf[idx] = g if prev is None else (
                            prev + g if recorded else _sum_arrays(prev, g))
                    n = deps[child] - 1
                    deps[child] = n
                    if n == 0:
                        ready.append(child)
                elif g is not None:
                    sink.leaf(edge, g)
    finally:
        _State.grad_enabled = prev_mode


def _deliver_retained(node: Context, grads, sink) -> None:
    for i, ref in node.retained.items():
        t = ref()
        if t is not None and grads[i] is not None:
            sink.retained(t, grads[i])


def _missing(grads: list) -> bool:
    if len(grads) == 1:
        return grads[0] is None
    return any(g is None for g in grads)


def _run_first_order(node: Context, grads: list) -> tuple:
    """One node with arrays: its ``vjp``, else its ``backward`` under no-grad on constants."""
    fn = node.fn
    backend = node.backend
    if (grads[0] is None) if len(grads) == 1 else _missing(grads):
        grads = [g if g is not None or meta is None else backend.zeros(meta[0], meta[1])
                 for g, meta in zip(grads, node.out_meta)]
    if fn.has_vjp:
        if fn.vjp_inplace:  # no local name for grads[0]: it would count as a holder
            node.grad_owned = (grads[0] is not None and grads[0].nbytes >= INPLACE_MIN_BYTES
                               and _owned(grads))
        result = fn.vjp(node, *grads)
        if result.__class__ is not tuple:
            result = (result,)
        return _checked(node, result, "vjp", backend)
    result = fn.backward(node, *[None if g is None else Tensor._make(g, backend) for g in grads])
    if result.__class__ is not tuple:
        result = (result,)
    arrays = []
    for g in result:
        if g is not None and not isinstance(g, Tensor):
            raise TypeError(f"{fn.__name__}.backward must return Tensors (or None), got "
                            f"{type(g).__name__}; a function of arrays belongs in vjp")
        arrays.append(None if g is None else g.array)
    return _checked(node, arrays, "backward", backend)


def _run_recorded(node: Context, grads: list) -> tuple:
    """One node with Tensors: its ``backward``, recorded (``create_graph=True``)."""
    fn = node.fn
    if not fn.has_backward:
        raise RuntimeError(
            f"{fn.__name__} defines vjp but not backward, so it is differentiable once only: "
            "its backward cannot be recorded for create_graph=True. Define backward with "
            "gradflow ops, or call backward()/grad() without create_graph.")
    if _missing(grads):
        backend = node.backend
        grads = [g if g is not None or meta is None
                 else Tensor._make(backend.zeros(meta[0], meta[1]), backend)
                 for g, meta in zip(grads, node.out_meta)]
    result = fn.backward(node, *grads)
    if result.__class__ is not tuple:
        result = (result,)
    for g in result:
        if g is not None and not isinstance(g, Tensor):
            raise TypeError(f"{fn.__name__}.backward must return Tensors (or None), "
                            f"got {type(g).__name__}")
    return _checked(node, result, "backward", None)


def _checked(node: Context, result, method: str, backend) -> tuple:
    """One gradient per input, each of its input's shape and (floating) dtype.

    ``backend`` is given in first-order mode: NumPy's 0-d results (scalars) become arrays of
    the input's backend."""
    edges = node.edges
    n = len(edges)
    if len(result) != n:
        if len(result) < n and all(e is None for e in edges[len(result):]):
            result = tuple(result) + (None,) * (n - len(result))  # trailing non-tensor inputs
        else:
            raise RuntimeError(
                f"{node.fn.__name__}.{method} returned {len(result)} gradients but its forward "
                f"took {n} inputs; return one per input (None for none)")
    out = []
    for edge, g in zip(edges, result):
        if g is None or edge is None:
            out.append(None)
            continue
        if edge.__class__ is tuple:
            child = edge[0]
            shape, dtype = child.out_meta[edge[1]]
            owner = child.backend
        else:
            arr = edge.array  # a leaf Tensor: its array's shape (a tuple, no Size) and dtype
            shape, dtype, owner = arr.shape, arr.dtype, edge._backend
        # the input's device, not the node's (they differ for a device copy)
        if backend is not None and g.__class__ is not owner.xp.ndarray and not owner.owns(g):
            g = owner.asarray(g)
        if g.shape != shape:
            raise RuntimeError(f"{node.fn.__name__}.{method} returned a gradient of shape "
                               f"{tuple(g.shape)} for an input of shape {shape}")
        if g.dtype != dtype and is_inexact(dtype):  # a gradient takes its input's dtype
            g = g.astype(dtype) if backend is not None else g.to(dtype=dtype)
        out.append(g)
    return out


def backward(tensors, grad_tensors=None, retain_graph: bool | None = None,
             create_graph: bool = False) -> None:
    """Accumulate d(tensors)/d(leaf) · grad_tensors into the ``.grad`` of every leaf."""
    roots = _as_list(tensors)
    grads = _root_grads(roots, grad_tensors, "backward")
    if retain_graph is None:
        retain_graph = create_graph
    sink = _Accumulate(create_graph, [g.array for g in grads])
    _propagate(roots, grads, retain_graph, create_graph, sink)


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
    sink = _Capture(create_graph, leaves, nodes)
    _propagate(roots, grads, retain_graph, create_graph, sink)
    out = []
    seen = {id(g.array) for g in grads}
    for slot, t in enumerate(ins):
        g = sink.results.get(slot)
        if g is None:
            if not allow_unused:
                raise RuntimeError(f"grad: input {slot} (shape {t.shape}) is not used in "
                                   "computing the outputs; pass allow_unused=True to get None "
                                   "for it")
        elif not create_graph:
            if id(g) in seen:  # one array for two results, or the caller's own gradient
                g = g.copy()
            seen.add(id(g))
            g = Tensor._make(g, t._backend)
        out.append(g)
    return tuple(out)
