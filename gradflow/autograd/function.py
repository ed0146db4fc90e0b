"""``Function`` (a differentiable operation) and ``Context`` (its node in the graph).

A Function's ``forward(ctx, *arrays, **params)`` runs kernels on backend arrays and returns an
array or a tuple of arrays. Its gradient comes in up to two declared forms:

- ``vjp(ctx, *grad_arrays) -> array(s)``: the first-order path. Arrays in, arrays out, kernels
  only, never recorded. The engine calls it whenever the backward pass is not being recorded
  (``create_graph=False``, i.e. every training step).
- ``backward(ctx, *grads) -> Tensor(s)``: the composed path, written with gradflow ops so that it
  is itself recorded under ``create_graph=True`` (gradients of gradients). A Function without
  ``vjp`` has its ``backward`` run under no-grad for first-order gradients.

A Function with ``vjp`` and no ``backward`` is once differentiable: recording its backward raises
an error naming it. Both return one gradient (or ``None``) per positional input.

A ``vjp`` must not modify its incoming gradients: the engine may hand the same array to several
nodes, or a gradient the caller still holds. A Function that sets ``vjp_inplace = True`` may
write its result into them when ``ctx.grad_owned`` is True: the engine sets it, before each
``vjp`` of such a Function, only when nothing but the engine references any of those arrays (no
other node, Tensor, ``.grad``, view or caller), as CPython's reference count shows, and the
first of them holds at least ``engine.INPLACE_MIN_BYTES``. That is how an activation's backward
works in place without a second activation-sized array.
The Context is the graph node: it holds the edges to the inputs' nodes and what was saved.
"""

from __future__ import annotations

import traceback
from typing import Any

from gradflow.autograd.grad_mode import _State
from gradflow.dtypes import is_inexact
from gradflow.tensor import Tensor, _Version

# What a saved entry refers to: an input Tensor of the call, one of the call's outputs, or any
# other array (a constant of the node).
INPUT = "input"
OUTPUT = "output"
CONSTANT = "constant"


class Context:
    """Per-call state of a Function and, when recorded, its node in the graph.

    User code may set any attribute on it (``ctx.axis = axis``) in ``forward`` for ``backward``;
    array-valued attributes are freed with the graph, other values (numbers, shapes) are kept.
    """

    __slots__ = ("fn", "backend", "needs_input_grad", "edges", "out_meta", "freed", "retained",
                 "_to_save", "_saved", "_non_diff", "_stack", "_input_shapes", "grad_owned",
                 "__dict__")

    def __init__(self, fn: type, backend):
        self.fn = fn
        self.backend = backend
        self.needs_input_grad: tuple[bool, ...] = ()
        self.edges: tuple = ()
        self.out_meta: tuple = ()
        self.freed = False
        self.retained: dict | None = None  # output index -> weakref of a retain_grad() Tensor
        self._to_save: tuple = ()
        self._saved: tuple = ()
        self._non_diff: tuple = ()
        self._stack = None
        self._input_shapes = None
        self.grad_owned = False  # vjp_inplace Functions: the engine says "g may be overwritten"

    @property
    def xp(self):
        """The array module of this op's backend (``numpy`` or ``cupy``)."""
        return self.backend.xp

    @property
    def k(self):
        """The kernel table of this op's backend."""
        return self.backend.k

    def save_for_backward(self, *arrays: Any) -> None:
        """Save input or output arrays (or other arrays) for ``backward`` and ``vjp``."""
        self._to_save = arrays

    def mark_non_differentiable(self, *arrays: Any) -> None:
        """Declare outputs (by identity) that have no gradient (e.g. indices, masks)."""
        self._non_diff = arrays

    def _check_saved(self, entry) -> None:
        ver = entry[3]
        if ver.v != entry[4]:
            raise RuntimeError(
                f"{self.fn.__name__}: a tensor of shape {tuple(entry[1].shape)} saved for "
                f"backward was modified in place (version {ver.v}, expected {entry[4]}). Avoid "
                "the in-place change, or apply it to a copy (t = t.detach().clone() / t * 1).")

    def _raise_freed(self):
        raise RuntimeError(
            f"{self.fn.__name__}: trying to backward through the graph a second time (or to "
            "read saved tensors after they were freed). Pass retain_graph=True to the first "
            "backward() or gf.grad() if you need to backward through the graph again.")

    def _entries(self) -> tuple:
        """The saved entries, once the graph is known not to be freed and nothing saved to have
        been modified in place since."""
        if self.freed:
            self._raise_freed()
        for entry in self._saved:
            if entry is not None and entry[3] is not None:
                self._check_saved(entry)
        return self._saved

    @property
    def saved_arrays(self) -> tuple:
        """What ``save_for_backward`` received, as backend arrays (for ``vjp``)."""
        return tuple([None if entry is None else entry[1] for entry in self._entries()])

    @property
    def saved_tensors(self) -> tuple:
        """What ``save_for_backward`` received, as Tensors (for ``backward``).

        Saved inputs come back as the input Tensors themselves and saved outputs as Tensors whose
        ``grad_fn`` is this node, so a backward written with gradflow ops is differentiable again.
        """
        out = []
        for entry in self._entries():
            if entry is None:
                out.append(None)
                continue
            kind, array, source, ver, _ = entry
            if kind is INPUT:
                out.append(source)
            elif kind is OUTPUT:
                out.append(Tensor._make(array, self.backend, True, self, source, ver))
            else:
                out.append(Tensor._make(array, self.backend))
        return tuple(out)

    def release(self) -> None:
        """Free what the forward saved (entries and array-valued attributes): the graph is done.

        Numbers, shapes and other small values stay (graph drawings read ``consts``)."""
        self.freed = True
        self._saved = ()
        attrs = self.__dict__
        if attrs:
            for name in [n for n, v in attrs.items() if _holds_array(v)]:
                del attrs[name]

    def __repr__(self) -> str:
        return f"<{self.fn.__name__}Backward>"

    @property
    def name(self) -> str:
        return self.fn.__name__

    @property
    def next_functions(self) -> tuple:
        """The nodes this node's gradients flow to (``(node, output_index)``, a leaf or None)."""
        return self.edges


_PLAIN = frozenset((int, float, bool, complex, str, type(None)))
_PLAIN_OR_SEQUENCE = _PLAIN | {tuple, list}


def _holds_array(value) -> bool:
    """An array, or a tuple/list with an array among its items (shapes and numbers are not)."""
    cls = value.__class__
    if cls in _PLAIN:
        return False
    if cls is tuple or cls is list:
        for v in value:  # noqa: SIM110 - a loop: no generator frame per node on the hot path
            if v.__class__ not in _PLAIN_OR_SEQUENCE and hasattr(v, "dtype"):
                return True
        return False
    return hasattr(value, "dtype") and hasattr(value, "shape")


def _defines(cls: type, name: str) -> bool:
    return any(name in k.__dict__ for k in cls.__mro__ if k is not Function and k is not object)


class Function:
    """Base class of differentiable operations. Subclass and define ``forward`` and ``backward``
    (and optionally ``vjp``) as static methods, then call ``YourFunction.apply(*inputs)``."""

    #: Whether the class defines ``vjp`` / ``backward`` (set for every subclass).
    has_vjp = False
    has_backward = False
    #: Whether ``vjp`` may write into its incoming gradients when ``ctx.grad_owned`` is True.
    vjp_inplace = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.has_vjp = _defines(cls, "vjp")
        cls.has_backward = _defines(cls, "backward")

    @staticmethod
    def forward(ctx: Context, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError

    @staticmethod
    def backward(ctx: Context, *grads: Tensor) -> Any:
        raise NotImplementedError(f"{ctx.fn.__name__} does not define backward")

    @classmethod
    def apply(cls, *args: Any, **kwargs: Any):
        """Run ``forward`` on the inputs' arrays and, when gradients are needed, record the node."""
        backend = None
        requires = False
        arrays = []
        append = arrays.append
        needs = []  # per input: requires grad (one pass, no generator frames on the hot path)
        need = needs.append
        for a in args:
            if isinstance(a, Tensor):
                b = a._backend
                if backend is None:
                    backend = b
                elif b is not backend:
                    _raise_mixed_devices(cls, args)
                append(a.array)
                if a._requires_grad:
                    requires = True
                    need(True)
                else:
                    need(False)
            else:
                append(a)
                need(False)
        if backend is None:
            if args and args[0] is None:
                raise TypeError(f"{cls.__name__}: argument 'input' must be a Tensor, got None")
            from gradflow.backends import cpu_backend

            backend = cpu_backend
        ctx = Context(cls, backend)
        record = requires and _State.grad_enabled
        ctx.needs_input_grad = tuple(needs) if record else (False,) * len(args)
        raw = cls.forward(ctx, *arrays, **kwargs)
        backend = ctx.backend  # a forward may move its result to another device (ToDevice)
        single = raw.__class__ is not tuple
        owns = backend.owns
        if single:
            if raw is not None and not owns(raw):  # NumPy returns scalars for 0-d results
                raw = backend.asarray(raw)
            outs = (raw,)
        else:
            outs = raw
            for o in outs:
                if o is not None and not owns(o):
                    outs = tuple(o if o is None or owns(o) else backend.asarray(o) for o in outs)
                    break
        if _State.anomaly:
            _check_finite_forward(cls, args, outs, backend)
        if not record:
            if single:
                return Tensor._make(outs[0], backend)
            return tuple(None if o is None else Tensor._make(o, backend) for o in outs)
        edges = []
        edge = edges.append
        for a, n in zip(args, needs):
            if n:
                fn = a.grad_fn
                edge(a if fn is None else (fn, a._out_idx))
            else:
                edge(None)
        ctx.edges = tuple(edges)
        non_diff = ctx._non_diff
        if single and not non_diff:
            o = outs[0]
            result = Tensor._make(o, backend, True, ctx, 0)
            ctx.out_meta = ((o.shape, o.dtype),)
            results = (result,)
        else:
            results = []
            meta = []
            for i, o in enumerate(outs):
                if o is None:
                    results.append(None)
                    meta.append(None)
                    continue
                diff = not any(o is nd for nd in non_diff)
                results.append(Tensor._make(o, backend, diff, ctx if diff else None, i))
                meta.append((o.shape, o.dtype))
            ctx.out_meta = tuple(meta)
        if ctx._to_save:
            ctx._saved = _resolve_saved(ctx._to_save, args, outs, results)
            ctx._to_save = ()
        if _State.anomaly:
            ctx._stack = "".join(traceback.format_stack(limit=12)[:-2])
            ctx._input_shapes = [tuple(a.shape) if isinstance(a, Tensor) else type(a).__name__
                                 for a in args]
        return results[0] if single else tuple(results)


def _resolve_saved(to_save, args, outs, results):
    saved = []
    for s in to_save:
        if s is None:
            saved.append(None)
            continue
        if isinstance(s, Tensor):
            s = s.array
        entry = None
        for a in args:
            if isinstance(a, Tensor) and a.array is s:
                entry = (INPUT, s, a, a._ver, a._ver.v)
                break
        else:
            for i, o in enumerate(outs):
                if o is s:
                    ver = results[i]._ver
                    entry = (OUTPUT, o, i, ver, ver.v)
                    break
            else:
                entry = (CONSTANT, s, None, None, None)
        saved.append(entry)
    return tuple(saved)


def _raise_mixed_devices(cls, args):
    devices = [f"argument {i} on {a.device}" for i, a in enumerate(args) if isinstance(a, Tensor)]
    raise RuntimeError(
        f"{cls.__name__}: expected all tensors on one device, got " + ", ".join(devices)
        + ". Move them to the same device first with .to(device); gradflow never copies "
        "between devices silently.")


def _check_finite_forward(cls, args, outs, backend):
    xp = backend.xp
    for i, o in enumerate(outs):
        if o is None or not is_inexact(o.dtype):
            continue
        if not bool(xp.isfinite(o).all()):
            shapes = [tuple(a.shape) if isinstance(a, Tensor) else repr(a) for a in args]
            where = "".join(traceback.format_stack(limit=8)[:-3])
            raise RuntimeError(
                f"detect_anomaly: {cls.__name__} produced NaN or inf in forward output {i} "
                f"(shape {tuple(o.shape)}); inputs: {shapes}. Called from:\n{where}")


def check_finite_backward(node: Context, grads) -> None:
    """Anomaly mode: name the node whose backward (or vjp) returned NaN or inf."""
    xp = node.backend.xp
    for i, g in enumerate(grads):
        if g is None or not is_inexact(g.dtype):
            continue
        if isinstance(g, Tensor):
            g = g.array
        if not bool(xp.isfinite(g).all()):
            raise RuntimeError(
                f"detect_anomaly: {node.fn.__name__}Backward returned NaN or inf in the gradient "
                f"of input {i} (shape {tuple(g.shape)}); forward inputs: {node._input_shapes}. "
                f"The forward op was created at:\n{node._stack or '(unknown)'}")


__all__ = ["Context", "Function", "INPUT", "OUTPUT", "CONSTANT", "_Version"]
