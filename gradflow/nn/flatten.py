"""``Flatten``: merge a range of axes into one; ``Unflatten``: split one axis into several."""

from __future__ import annotations

from gradflow.nn.module import Module
from gradflow.tensor import Tensor


class Flatten(Module):
    """Flatten axes ``start_dim..end_dim`` (inclusive) into one; by default all but the batch."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim = int(start_dim)
        self.end_dim = int(end_dim)

    def forward(self, x: Tensor) -> Tensor:
        return x.flatten(self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Split axis ``dim`` into ``unflattened_size`` (a tuple or list of ints; one of them may
    be -1, inferred from the others), the inverse of ``Flatten``."""

    def __init__(self, dim: int, unflattened_size: tuple[int, ...] | list[int]) -> None:
        super().__init__()
        if not isinstance(unflattened_size, (tuple, list)):
            raise TypeError(f"Unflatten: unflattened_size must be a tuple of ints, but found "
                            f"type {type(unflattened_size).__name__}")
        for i, s in enumerate(unflattened_size):
            if isinstance(s, bool) or not isinstance(s, int):
                raise TypeError(f"Unflatten: unflattened_size must be tuple of ints, but found "
                                f"element of type {type(s).__name__} at pos {i}")
        self.dim = int(dim)
        self.unflattened_size = unflattened_size

    def forward(self, x: Tensor) -> Tensor:
        d = self.dim
        if not -x.ndim <= d < x.ndim:
            raise IndexError(f"Unflatten: dim {d} is out of range for a {x.ndim}-D input of "
                             f"shape {x.shape} (expected [{-x.ndim}, {x.ndim - 1}])")
        d %= x.ndim
        sizes, n = tuple(self.unflattened_size), x.shape[d]
        known = 1
        for s in sizes:
            known *= s if s != -1 else 1
        free = sizes.count(-1)
        if free > 1 or any(s < -1 for s in sizes) or \
                (n != known if not free else known == 0 or n % known):
            raise RuntimeError(f"unflatten: Provided sizes {list(sizes)} don't multiply up to "
                               f"the size of dim {d} ({n}) in the input tensor of shape "
                               f"{x.shape}")
        if free:
            sizes = tuple(n // known if s == -1 else s for s in sizes)
        return x.reshape(x.shape[:d] + sizes + x.shape[d + 1:])

    def extra_repr(self) -> str:
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"
