"""Lazy imports of the optional logging packages, with an error that says what to install."""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["require"]


def require(module: str, user: str, pip_name: str | None = None,
            extra: str = "logging") -> ModuleType:
    """Import ``module`` for ``user`` (a class name) or raise an ImportError naming the extra."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(f"{user} needs the optional package {pip_name or module!r}, which is "
                          f"not installed: pip install gradflow[{extra}] (or pip install "
                          f"{pip_name or module})") from exc
