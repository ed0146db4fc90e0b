"""``Dropout`` (elements) and ``Dropout1d/2d/3d`` (whole channels): inverted dropout in
training mode, the identity in eval mode."""

from __future__ import annotations

from gradflow.nn.module import Module
from gradflow.ops.dropout import dropout, dropout1d, dropout2d, dropout3d
from gradflow.tensor import Tensor


class Dropout(Module):
    """Zero each element with probability ``p`` and scale the kept ones by 1/(1 − p), so the
    expected output equals the input (seed lecture 004). Identity in ``eval()`` mode.
    The mask is drawn from the input device's generator (``gf.manual_seed`` makes it repeatable).
    """

    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__()
        if isinstance(p, bool) or not isinstance(p, int | float) or not 0.0 <= p < 1.0:
            raise ValueError(f"Dropout: p must be a number in [0, 1), got {p!r} (p is the "
                             "probability of zeroing an element; p=1 would drop everything)")
        self.p = float(p)
        self.inplace = bool(inplace)

    def forward(self, x: Tensor) -> Tensor:
        return dropout(x, self.p, self.training, self.inplace)

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"


class _ChannelDropout(Dropout):
    _fn = staticmethod(dropout2d)

    def forward(self, x: Tensor) -> Tensor:
        return type(self)._fn(x, self.p, self.training, self.inplace)


class Dropout1d(_ChannelDropout):
    """Zero whole channels of ``(N, C, L)`` / ``(C, L)`` with probability ``p``."""

    _fn = staticmethod(dropout1d)


class Dropout2d(_ChannelDropout):
    """Zero whole channels of ``(N, C, H, W)`` / ``(C, H, W)`` with probability ``p``."""

    _fn = staticmethod(dropout2d)


class Dropout3d(_ChannelDropout):
    """Zero whole channels of ``(N, C, D, H, W)`` / ``(C, D, H, W)`` with probability ``p``."""

    _fn = staticmethod(dropout3d)
