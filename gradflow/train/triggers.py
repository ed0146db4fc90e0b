"""``Trigger``: "every N steps" or "every N epochs", for validation, checkpoints and callbacks.

Steps and epochs are the Trainer's global counters (restored by a resume), so a trigger fires
at the same steps whether or not the run was interrupted.
"""

from __future__ import annotations

import numbers
from typing import Any

__all__ = ["Trigger", "UNITS"]

UNITS = ("step", "epoch")


class Trigger:
    """Fires at global step (or epoch) ``k·n`` for k = 1, 2, ...

    Build one with :meth:`parse` from ``N`` (every N epochs), ``(N, "step")`` or
    ``(N, "epoch")``.
    """

    __slots__ = ("n", "unit")

    def __init__(self, n: int, unit: str = "epoch"):
        if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
            raise ValueError(f"every: N must be a positive int, got {n!r}")
        if unit not in UNITS:
            raise ValueError(f"every: the unit must be 'step' or 'epoch', got {unit!r}")
        self.n, self.unit = int(n), unit

    @classmethod
    def parse(cls, every: Any, who: str = "every") -> Trigger:
        """``every`` as a Trigger; a ValueError naming ``who`` and the value otherwise."""
        if isinstance(every, Trigger):
            return every
        try:
            if isinstance(every, tuple | list) and len(every) == 2:
                return cls(every[0], every[1])
            return cls(every)
        except ValueError as exc:
            raise ValueError(f"{who}: expected N (every N epochs), (N, 'step') or (N, 'epoch') "
                             f"with N a positive int, got {every!r} ({exc})") from None

    def at_step(self, step: int) -> bool:
        """Whether it fires after global step ``step`` (from 1)."""
        return self.unit == "step" and step % self.n == 0

    def at_epoch(self, epoch: int) -> bool:
        """Whether it fires at the end of epoch ``epoch`` (from 1)."""
        return self.unit == "epoch" and epoch % self.n == 0

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Trigger):
            return (self.n, self.unit) == (other.n, other.unit)
        if isinstance(other, int) and not isinstance(other, bool):
            return (self.n, self.unit) == (other, "epoch")
        if isinstance(other, tuple):
            return (self.n, self.unit) == other
        return NotImplemented

    def __hash__(self) -> int:
        return hash((self.n, self.unit))

    def __repr__(self) -> str:
        return f"({self.n}, {self.unit!r})"
