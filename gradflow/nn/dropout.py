"""``Dropout``: inverted dropout in training mode, the identity in eval mode."""

from __future__ import annotations

from gradflow.nn.module import Module
from gradflow.ops.dropout import dropout
from gradflow.tensor import Tensor


class Dropout(Module):
    """Zero each element with probability ``p`` and scale the kept ones by 1/(1 − p), so the
    expected output equals the input (seed lecture 004). Identity in ``eval()`` mode.
    The mask is drawn from the input device's generator (``gf.manual_seed`` makes it repeatable).
    """

    def __init__(self, p: float = 0.5) -> None:
        super().__init__()
        if isinstance(p, bool) or not isinstance(p, int | float) or not 0.0 <= p < 1.0:
            raise ValueError(f"Dropout: p must be a number in [0, 1), got {p!r} (p is the "
                             "probability of zeroing an element; p=1 would drop everything)")
        self.p = float(p)

    def forward(self, x: Tensor) -> Tensor:
        return dropout(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"
