"""``gf.device``: PyTorch's device object, a ``str`` subclass (so ``t.device == "cpu"`` holds).

    gf.device("cuda:1")        # device(type='cuda', index=1)
    gf.device("cuda", 1)       # the same
    gf.device("cpu").type      # 'cpu'
"""

from __future__ import annotations

from typing import Any

_TYPES = ("cpu", "cuda")


class device(str):  # noqa: N801 - PyTorch's name
    """A device: ``type`` (``"cpu"`` or ``"cuda"``) and ``index`` (``None`` = the current one).

    It is its canonical string (``"cpu"``, ``"cuda"``, ``"cuda:N"``), so it compares equal to that
    string and goes wherever a device string does. ``"auto"`` is resolved by the backends, not
    here.
    """

    __slots__ = ()

    def __new__(cls, type_or_str: Any, index: int | None = None) -> device:
        if isinstance(type_or_str, device) and index is None:
            return type_or_str
        if isinstance(type_or_str, int) and not isinstance(type_or_str, bool) and index is None:
            type_or_str, index = "cuda", type_or_str  # torch.device(0) is cuda:0
        if not isinstance(type_or_str, str):
            raise TypeError(f"device: expected a string such as 'cpu' or 'cuda:0', got "
                            f"{type(type_or_str).__name__}")
        text = type_or_str.strip().lower()
        kind, sep, rest = text.partition(":")
        if kind == "gpu":
            kind = "cuda"
        if kind not in _TYPES:
            raise RuntimeError(f"device: unknown device type {type_or_str!r}; expected one of "
                               f"{', '.join(_TYPES)} (optionally 'cuda:N')")
        if sep:
            if index is not None:
                raise RuntimeError(f"device: type {type_or_str!r} already has an index; do not "
                                   f"pass index={index} too")
            if not rest.isdigit():
                raise RuntimeError(f"device: invalid device string {type_or_str!r}; expected "
                                   "'cuda:N' with N a non-negative integer")
            index = int(rest)
        if index is not None:
            if isinstance(index, bool) or not isinstance(index, int) or index < 0:
                raise RuntimeError(f"device: index must be a non-negative int, got {index!r}")
            if kind == "cpu" and index != 0:
                raise RuntimeError(f"device: the CPU has index 0 only, got {index}")
        name = kind if index is None or kind == "cpu" else f"{kind}:{index}"
        return str.__new__(cls, name)

    @property
    def type(self) -> str:
        return str.partition(self, ":")[0]

    @property
    def index(self) -> int | None:
        rest = str.partition(self, ":")[2]
        return int(rest) if rest else None

    def __repr__(self) -> str:
        i = self.index
        return f"device(type='{self.type}')" if i is None else \
            f"device(type='{self.type}', index={i})"

    def __str__(self) -> str:
        return str.__str__(self)

    def __hash__(self) -> int:
        return str.__hash__(self)

    def __eq__(self, other: object) -> bool:
        return str.__eq__(self, other)

    def __ne__(self, other: object) -> bool:
        return str.__ne__(self, other)

    def __reduce__(self):
        return (device, (str(self),))
