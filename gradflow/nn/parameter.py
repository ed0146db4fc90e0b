"""``Parameter``: a leaf Tensor that a Module registers as trainable; ``UninitializedParameter``:
the placeholder of a lazy module (``nn.LazyLinear``) until its first forward pass."""

from __future__ import annotations

from typing import Any

from gradflow.tensor import Tensor


class Parameter(Tensor):
    """A Tensor that requires grad by default and is found by ``Module.parameters()``.

    ``Parameter(t)`` shares ``t``'s array (no copy); ``t`` must be floating point.
    """

    __slots__ = ()

    def __init__(self, data: Tensor | None = None, requires_grad: bool = True):
        from gradflow.creation import tensor as make_tensor

        if data is None:
            data = make_tensor([])
        elif not isinstance(data, Tensor):
            data = make_tensor(data)
        self._init_leaf(data.array, data._backend)
        if requires_grad:
            self.requires_grad_(True)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()


class UninitializedParameter(Parameter):
    """A Parameter whose shape is not known yet (PyTorch's ``nn.UninitializedParameter``).

    It is listed by ``parameters()`` and may be handed to an optimizer that makes its state
    lazily (SGD, Adam, AdamW, RMSprop, Adadelta): :meth:`materialize` gives the same object its
    array and turns it into a plain :class:`Parameter`, so the optimizer then updates it.
    Until then ``shape``/``size()`` raise ``RuntimeError``; ``numel()`` is 0 (so parameter counts
    work) and ``state_dict()`` holds an empty tensor in its place.
    """

    __slots__ = ()

    def __init__(self, requires_grad: bool = True, device: Any = None, dtype: Any = None):
        from gradflow.creation import empty

        super().__init__(empty(0, dtype=dtype, device=device), requires_grad)

    def _uninitialized(self, what: str) -> RuntimeError:
        return RuntimeError(f"UninitializedParameter: can't access {what} of an uninitialized "
                            "parameter (of a lazy module such as nn.LazyLinear); run one forward "
                            "pass through the module first so that its shape is known")

    @property
    def shape(self):  # type: ignore[override]
        raise self._uninitialized("the shape")

    def size(self, dim: int | None = None):  # type: ignore[override]
        raise self._uninitialized("the size")

    def materialize(self, shape: tuple[int, ...], device: Any = None, dtype: Any = None) -> None:
        """Give this parameter an (uninitialized) array of ``shape`` on ``device`` with ``dtype``
        (default: its own) and make it a plain :class:`Parameter`, in place."""
        from gradflow.backends import get_backend

        backend = self._backend if device is None else get_backend(device)
        dt = self.array.dtype if dtype is None else dtype
        self.array = backend.xp.empty(tuple(shape), dtype=dt)
        self._backend = backend
        self.__class__ = Parameter
        self.increment_version()

    def __repr__(self) -> str:
        return f"<UninitializedParameter dtype={self.array.dtype} device={self.device}>"


def is_lazy(param: Any) -> bool:
    """Whether ``param`` is an :class:`UninitializedParameter` (PyTorch's
    ``nn.parameter.is_lazy``)."""
    return isinstance(param, UninitializedParameter)
