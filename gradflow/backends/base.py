"""The backend abstraction: one device, its array module, its kernels and its RNG."""

from __future__ import annotations

from typing import Any


class KernelTable:
    """Attribute access to a backend's kernels, each already bound to the backend's ``xp``.

    ``backend.k.relu(x)`` calls the generic ``kernels.activation.relu(xp, x)`` or, where the
    backend registered one, its override. Lookups are plain attribute reads (no per-call dispatch).
    """

    def __init__(self, backend: Backend, generic: dict, overrides: dict):
        import functools

        for name, fn in generic.items():
            setattr(self, name, functools.partial(fn, backend.xp))
        for name, fn in overrides.items():
            setattr(self, name, fn)

    def __getattr__(self, name: str):  # only reached for names that are not kernels
        raise AttributeError(f"no kernel named {name!r} is registered for this backend")


class Backend:
    """A device and everything needed to compute on it.

    Attributes:
        name: ``"numpy"`` or ``"cupy"``.
        device: canonical device string (``"cpu"``, ``"cuda:0"``, ...).
        xp: the array module (``numpy`` or ``cupy``).
        k: the kernel table (see :class:`KernelTable`).
        rng: the backend's random generator (``xp.random.Generator``).
    """

    name: str = "abstract"
    device: str
    xp: Any
    k: KernelTable
    rng: Any

    # --- arrays -----------------------------------------------------------------------------
    def asarray(self, data: Any, dtype: Any = None) -> Any:
        return self.xp.asarray(data, dtype=dtype)

    def to_host(self, array: Any):
        """Return a NumPy array with the contents of ``array`` (a copy if it lives elsewhere)."""
        raise NotImplementedError

    def from_host(self, array: Any) -> Any:
        """Return an array of this backend holding the contents of the NumPy ``array``."""
        raise NotImplementedError

    def copy_from(self, array: Any) -> Any:
        """A copy on this device of an array from any backend (through the host by default)."""
        from gradflow.backends import backend_of_array

        return self.from_host(backend_of_array(array).to_host(array))

    def empty(self, shape: tuple, dtype: Any) -> Any:
        return self.xp.empty(shape, dtype=dtype)

    def zeros(self, shape: tuple, dtype: Any) -> Any:
        return self.xp.zeros(shape, dtype=dtype)

    def ones(self, shape: tuple, dtype: Any) -> Any:
        return self.xp.ones(shape, dtype=dtype)

    def full(self, shape: tuple, value: Any, dtype: Any) -> Any:
        return self.xp.full(shape, value, dtype=dtype)

    def owns(self, array: Any) -> bool:
        """Whether ``array`` is an array of this backend's device."""
        raise NotImplementedError

    # --- randomness -------------------------------------------------------------------------
    def seed(self, seed: int) -> None:
        self.rng = self._make_rng(seed)

    def _make_rng(self, seed: int | None):
        raise NotImplementedError

    def get_rng_state(self) -> dict:
        """A JSON-serialisable snapshot of the generator state."""
        raise NotImplementedError

    def set_rng_state(self, state: dict) -> None:
        raise NotImplementedError

    def synchronize(self) -> None:
        """Wait for queued work to finish (a no-op on the CPU)."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} device={self.device!r}>"
