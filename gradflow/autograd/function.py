"""``Function`` (a differentiable operation) and ``Context`` (its node in the graph).

A Function's ``forward(ctx, *arrays, **params)`` runs kernels on backend arrays and returns an
array or a tuple of arrays. Its ``backward(ctx, *grads)`` receives one gradient Tensor per output
and returns one Tensor (or ``None``) per positional input, built from gradflow ops so that the
backward pass is itself recorded when ``create_graph=True``.
The Context is the graph node: it holds the edges to the inputs' nodes and what was saved.
"""

from __future__ import annotations

import traceback
from typing import Any

from gradflow.autograd.grad_mode import _State
from gradflow.tensor import Tensor, _Version


class Context:
    """Per-call state of a Function and, when recorded, its node in the graph.

    User code may set any attribute on it (``ctx.axis = axis``) in ``forward`` for ``backward``.
    """

    __slots__ = ("fn", "backend", "needs_input_grad", "edges", "out_meta", "freed",
                 "_to_save", "_saved", "_non_diff", "_stack", "_input_shapes", "__dict__")

    def __init__(self, fn: type, backend):
        self.fn = fn
        self.backend = backend
        self.needs_input_grad: tuple[bool, ...] = ()
        self.edges: tuple = ()
        self.out_meta: tuple = ()
        self.freed = False
        self._to_save: tuple = ()
        self._saved: tuple = ()
        self._non_diff: tuple = ()
        self._stack = None
        self._input_shapes = None

    @property
    def xp(self):
        """The array module of this op's backend (``numpy`` or ``cupy``)."""
        return self.backend.xp

    @property
    def k(self):
        """The kernel table of this op's backend."""
        return self.backend.k

    def save_for_backward(self, *arrays: Any) -> None:
        """Save input or output arrays (or other arrays) for ``backward``."""
        self._to_save = arrays

    def mark_non_differentiable(self, *arrays: Any) -> None:
        """Declare outputs (by identity) that have no gradient (e.g. indices, masks)."""
        self._non_diff = arrays

    @property
    def saved_tensors(self) -> tuple:
        """What ``save_for_backward`` received, as Tensors.

        Saved inputs come back as the input Tensors themselves and saved outputs as Tensors whose
        ``grad_fn`` is this node, so a backward written with gradflow ops is differentiable again.
        """
        if self.freed:
            raise RuntimeError(
                f"{self.fn.__name__}: trying to backward through the graph a second time (or to "
                "read saved tensors after they were freed). Pass retain_graph=True to the first "
                "backward() or gf.grad() if you need to backward through the graph again.")
        out = []
        for entry in self._saved:
            if entry is None:
                out.append(None)
                continue
            kind, obj, ver, expected = entry
            if ver is not None and ver.v != expected:
                raise RuntimeError(
                    f"{self.fn.__name__}: a tensor of shape {tuple(obj.shape)} saved for backward "
                    f"was modified in place (version {ver.v}, expected {expected}). Avoid the "
                    "in-place change, or apply it to a copy (t = t.detach().clone() / t * 1).")
            if kind == 0:
                out.append(obj)
            elif kind == 1:
                array, index = obj
                out.append(Tensor._make(array, self.backend, True, self, index, ver))
            else:
                out.append(Tensor._make(obj, self.backend))
        return tuple(out)

    def __repr__(self) -> str:
        return f"<{self.fn.__name__}Backward>"

    @property
    def name(self) -> str:
        return self.fn.__name__

    @property
    def next_functions(self) -> tuple:
        """The nodes this node's gradients flow to (``(node, output_index)``, a leaf or None)."""
        return self.edges


class Function:
    """Base class of differentiable operations. Subclass and define ``forward`` and ``backward``
    as static methods, then call ``YourFunction.apply(*inputs, **params)``."""

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
        for a in args:
            if isinstance(a, Tensor):
                b = a._backend
                if backend is None:
                    backend = b
                elif b is not backend:
                    _raise_mixed_devices(cls, args)
                append(a.data)
                if a._requires_grad:
                    requires = True
            else:
                append(a)
        if backend is None:
            from gradflow.backends import cpu_backend

            backend = cpu_backend
        ctx = Context(cls, backend)
        record = requires and _State.grad_enabled
        if record:
            ctx.needs_input_grad = tuple(isinstance(a, Tensor) and a._requires_grad for a in args)
        else:
            ctx.needs_input_grad = (False,) * len(args)
        raw = cls.forward(ctx, *arrays, **kwargs)
        backend = ctx.backend  # a forward may move its result to another device (ToDevice)
        single = raw.__class__ is not tuple
        outs = (raw,) if single else raw
        owns = backend.owns
        if not all(o is None or owns(o) for o in outs):  # NumPy returns scalars for 0-d results
            outs = tuple(o if o is None or owns(o) else backend.asarray(o) for o in outs)
        if _State.anomaly:
            _check_finite_forward(cls, args, outs, backend)
        if not record:
            if single:
                return Tensor._make(outs[0], backend)
            return tuple(None if o is None else Tensor._make(o, backend) for o in outs)
        ctx.edges = tuple(
            ((a.grad_fn, a._out_idx) if a.grad_fn is not None else a)
            if isinstance(a, Tensor) and a._requires_grad else None
            for a in args)
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
            s = s.data
        entry = None
        for a in args:
            if isinstance(a, Tensor) and a.data is s:
                entry = (0, a, a._ver, a._ver.v)
                break
        else:
            for i, o in enumerate(outs):
                if o is s:
                    ver = results[i]._ver
                    entry = (1, (o, i), ver, ver.v)
                    break
            else:
                entry = (2, s, None, None)
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
        if o is None or o.dtype.kind not in "fc":
            continue
        if not bool(xp.isfinite(o).all()):
            shapes = [tuple(a.shape) if isinstance(a, Tensor) else repr(a) for a in args]
            where = "".join(traceback.format_stack(limit=8)[:-3])
            raise RuntimeError(
                f"detect_anomaly: {cls.__name__} produced NaN or inf in forward output {i} "
                f"(shape {tuple(o.shape)}); inputs: {shapes}. Called from:\n{where}")


def check_finite_backward(node: Context, grads) -> None:
    xp = node.backend.xp
    for i, g in enumerate(grads):
        if g is None or g.dtype.kind not in "fc":
            continue
        if not bool(xp.isfinite(g.data).all()):
            raise RuntimeError(
                f"detect_anomaly: {node.fn.__name__}Backward returned NaN or inf in the gradient "
                f"of input {i} (shape {tuple(g.shape)}); forward inputs: {node._input_shapes}. "
                f"The forward op was created at:\n{node._stack or '(unknown)'}")


__all__ = ["Context", "Function", "_Version"]
