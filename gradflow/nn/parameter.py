"""``Parameter``: a leaf Tensor that a Module registers as trainable."""

from __future__ import annotations

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
