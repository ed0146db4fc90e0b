"""The CPU backend: NumPy arrays and the generic kernels."""

from __future__ import annotations

import numpy as np

from gradflow.backends.base import Backend, KernelTable
from gradflow.device import device


class NumpyBackend(Backend):
    name = "numpy"

    def __init__(self, seed: int | None = None):
        from gradflow.kernels import generic_kernels

        self.device = device("cpu")
        self.xp = np
        self.rng = self._make_rng(seed)
        self.k = KernelTable(self, generic_kernels(), {})

    def to_host(self, array):
        return array

    def from_host(self, array):
        return np.asarray(array)

    def owns(self, array) -> bool:
        return isinstance(array, np.ndarray)

    def _make_rng(self, seed):
        return np.random.Generator(np.random.PCG64(seed))

    def get_rng_state(self) -> dict:
        return self.rng.bit_generator.state

    def set_rng_state(self, state: dict) -> None:
        self.rng.bit_generator.state = state
