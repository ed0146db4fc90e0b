"""Grad modes: whether operations are recorded, and anomaly detection."""

from __future__ import annotations

import contextlib
import functools


class _State:
    """Process-wide switches read on every op (plain class attributes: the fastest lookup)."""

    grad_enabled: bool = True
    anomaly: bool = False
    inference: bool = False


def is_grad_enabled() -> bool:
    """Whether new operations are recorded for backward."""
    return _State.grad_enabled


class _GradSwitch(contextlib.ContextDecorator):
    """Base of :class:`no_grad` and :class:`enable_grad`: a context manager and a decorator."""

    enabled: bool

    def __enter__(self):
        self._prev = _State.grad_enabled
        _State.grad_enabled = self.enabled
        return self

    def __exit__(self, *exc):
        _State.grad_enabled = self._prev
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with type(self)():
                return fn(*args, **kwargs)

        return wrapper


class no_grad(_GradSwitch):  # noqa: N801 - PyTorch's name
    """Disable graph recording: ``with gf.no_grad(): ...`` or ``@gf.no_grad()``."""

    enabled = False


class enable_grad(_GradSwitch):  # noqa: N801
    """Enable graph recording inside a ``no_grad`` region."""

    enabled = True


class set_grad_enabled(_GradSwitch):  # noqa: N801
    """Set grad mode to ``mode``: for a ``with`` block, a decorated function, or (called as a
    plain statement, as in PyTorch) from now on."""

    def __init__(self, mode: bool):
        self.enabled = bool(mode)
        self._prev = _State.grad_enabled
        _State.grad_enabled = self.enabled  # PyTorch switches at construction

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        _State.grad_enabled = self._prev
        return False

    def __call__(self, fn):
        mode = self.enabled

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with set_grad_enabled(mode):
                return fn(*args, **kwargs)

        return wrapper


class inference_mode(_GradSwitch):  # noqa: N801
    """PyTorch's ``inference_mode(mode=True)``: here the same as ``no_grad`` (no graph is
    recorded); ``inference_mode(False)`` leaves grad mode as it is."""

    def __init__(self, mode: bool = True):
        self.mode = bool(mode)

    def __enter__(self):
        self._prev = (_State.grad_enabled, _State.inference)
        if self.mode:
            _State.grad_enabled, _State.inference = False, True
        return self

    def __exit__(self, *exc):
        _State.grad_enabled, _State.inference = self._prev
        return False

    def __call__(self, fn):
        mode = self.mode

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with inference_mode(mode):
                return fn(*args, **kwargs)

        return wrapper


def is_inference_mode_enabled() -> bool:
    return _State.inference


class detect_anomaly(contextlib.ContextDecorator):  # noqa: N801
    """Within the block, the first op whose forward or backward produces NaN or inf raises a
    ``RuntimeError`` naming the op, its input shapes and the line that created it."""

    def __init__(self, check_nan: bool = True):
        self.check_nan = check_nan

    def __enter__(self):
        self._prev = _State.anomaly
        _State.anomaly = self.check_nan
        return self

    def __exit__(self, *exc):
        _State.anomaly = self._prev
        return False


def is_anomaly_enabled() -> bool:
    return _State.anomaly
