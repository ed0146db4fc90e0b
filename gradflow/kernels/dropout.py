"""Dropout kernel: an inverted-dropout mask drawn from the backend's generator."""

from __future__ import annotations

from gradflow.kernels import kernel


@kernel
def dropout_mask(xp, rng, shape, p, dtype):
    """Each element kept with probability 1 − p and scaled by 1/(1 − p), so E[mask] = 1."""
    keep = rng.random(shape, dtype="float32") >= p
    return keep.astype(dtype) * (1.0 / (1.0 - p))
