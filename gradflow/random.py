"""Random number generation: ``gf.Generator`` objects, the default generators and seeding.

Every random function takes ``generator=`` (as in PyTorch); without one it draws from the default
generator of the tensor's device (the backend's ``rng``), which ``gf.manual_seed`` reseeds.
"""

from __future__ import annotations

import json
import numbers
import secrets
from typing import Any

import numpy as np

from gradflow.backends import Backend, cpu_backend, get_backend
from gradflow.backends import manual_seed as _seed_backends


def check_seed(seed: Any, who: str = "manual_seed") -> int:
    """``seed`` as an int in [0, 2**64): a float, bool or anything else is a TypeError."""
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"{who}: seed must be an int, got {seed!r} ({type(seed).__name__})")
    seed = int(seed)
    if not -(2 ** 63) <= seed < 2 ** 64:
        raise ValueError(f"{who}: seed must lie in [-2**63, 2**64), got {seed}")
    return seed % 2 ** 64


class Generator:
    """A random number generator for one device (PyTorch's ``torch.Generator``).

    ``Generator(device="cpu")`` starts from a nondeterministic seed; ``manual_seed(s)`` makes it
    reproducible. Pass it as ``generator=`` to a random function, a sampler or a DataLoader.
    """

    def __init__(self, device: Any = "cpu"):
        self._backend: Backend = get_backend(device)
        self._default = False
        self.manual_seed(secrets.randbits(63))

    @classmethod
    def _default_for(cls, backend: Backend) -> Generator:
        g = cls.__new__(cls)
        g._backend, g._default, g._initial = backend, True, 0
        return g

    @property
    def device(self):
        from gradflow.device import device

        return device(self._backend.device)

    @property
    def rng(self):
        """The backend generator (``numpy.random.Generator`` / ``cupy.random.Generator``)."""
        return self._backend.rng if self._default else self._rng

    def manual_seed(self, seed: int) -> Generator:
        seed = check_seed(seed, "Generator.manual_seed")
        self._initial = seed
        if self._default:
            self._backend.seed(seed)
        else:
            self._rng = self._backend._make_rng(seed)
        return self

    def seed(self) -> int:
        """Reseed from a nondeterministic source and return the seed used."""
        s = secrets.randbits(63)
        self.manual_seed(s)
        return s

    def initial_seed(self) -> int:
        return self._initial

    def get_state(self):
        """The state as a uint8 Tensor (restore it with :meth:`set_state`); CPU only."""
        from gradflow.tensor import Tensor

        state = self._state_dict()
        raw = np.frombuffer(json.dumps(state).encode(), dtype=np.uint8).copy()
        return Tensor.wrap(raw, cpu_backend)

    def set_state(self, state) -> Generator:
        from gradflow.tensor import Tensor

        if not isinstance(state, Tensor) or state.dtype != np.uint8 or state.ndim != 1:
            raise TypeError("Generator.set_state: expected the uint8 Tensor get_state() returned")
        try:
            parsed = json.loads(bytes(state.numpy()).decode())
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValueError("Generator.set_state: not a state from Generator.get_state()") \
                from exc
        self._set_state_dict(parsed)
        return self

    def _state_dict(self) -> dict:
        if self._backend.device != "cpu":
            raise NotImplementedError("the state of a CUDA generator cannot be saved; reseed it "
                                      "with manual_seed")
        return self.rng.bit_generator.state

    def _set_state_dict(self, state: dict) -> None:
        if self._backend.device != "cpu":
            raise NotImplementedError("the state of a CUDA generator cannot be restored; "
                                      "reseed it with manual_seed")
        self.rng.bit_generator.state = state

    def __repr__(self) -> str:
        return f"gradflow.Generator(device='{self._backend.device}')"


default_generator = Generator._default_for(cpu_backend)
_DEFAULTS: dict[int, Generator] = {id(cpu_backend): default_generator}


def manual_seed(seed: int) -> Generator:
    """Seed every device's default generator (NumPy, and CuPy where in use); returns the CPU's
    default generator, as ``torch.manual_seed`` does."""
    _seed_backends(check_seed(seed))
    default_generator._initial = check_seed(seed)
    return default_generator


def initial_seed() -> int:
    return default_generator.initial_seed()


def seed() -> int:
    """Seed every default generator nondeterministically; returns the seed."""
    s = secrets.randbits(63)
    manual_seed(s)
    return s


def get_rng_state():
    return default_generator.get_state()


def set_rng_state(state) -> None:
    default_generator.set_state(state)


def rng_for(generator: Generator | None, backend: Backend, who: str):
    """The backend generator a random function ``who`` draws from on ``backend``."""
    if generator is None:
        return backend.rng
    if not isinstance(generator, Generator):
        raise TypeError(f"{who}: generator must be a gradflow.Generator, got "
                        f"{type(generator).__name__}")
    if generator._backend is not backend:
        raise RuntimeError(f"{who}: the generator is on {generator._backend.device} but the "
                           f"result is on {backend.device}; make the generator with "
                           f"gf.Generator(device={backend.device!r})")
    return generator.rng


def host_rng_for(generator: Generator | None, who: str) -> np.random.Generator:
    """A NumPy generator for host-side draws (sampler permutations): ``generator`` if it is a CPU
    one, the CPU default otherwise."""
    return rng_for(generator, cpu_backend, who)
