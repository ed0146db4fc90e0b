"""``Flatten``: merge a range of axes into one."""

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
