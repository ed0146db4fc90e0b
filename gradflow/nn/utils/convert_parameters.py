"""Flatten parameters into one vector and back (for line searches, second-order methods)."""

from __future__ import annotations

from collections.abc import Iterable

from gradflow.ops.shape import concatenate, reshape
from gradflow.tensor import Tensor


def parameters_to_vector(parameters: Iterable[Tensor]) -> Tensor:
    """All parameters flattened and concatenated in order into one 1-D Tensor (differentiable)."""
    params = list(parameters)
    if not params:
        raise ValueError("parameters_to_vector: got no parameters")
    return concatenate([reshape(p, (-1,)) for p in params], 0)


def vector_to_parameters(vec: Tensor, parameters: Iterable[Tensor]) -> None:
    """Copy consecutive slices of the 1-D ``vec`` into the parameters, in place (each keeps its
    array, so optimizers and views still see it). ``vec.size`` must equal the total size."""
    if not isinstance(vec, Tensor):
        raise TypeError(f"vector_to_parameters: vec must be a Tensor, got {type(vec).__name__}")
    if vec.ndim != 1:
        raise ValueError(f"vector_to_parameters: vec must be 1-D, got shape {vec.shape}")
    params = list(parameters)
    total = sum(p.numel() for p in params)
    if vec.numel() != total:
        raise ValueError(f"vector_to_parameters: vec has {vec.numel()} elements but the parameters "
                         f"have {total} in all (shapes {[p.shape for p in params]})")
    offset = 0
    for p in params:
        if p._backend is not vec._backend:
            raise RuntimeError(f"vector_to_parameters: vec is on {vec.device} but a parameter of "
                               f"shape {p.shape} is on {p.device}; move one with .to()")
        n = p.numel()
        p.array[...] = vec.array[offset:offset + n].reshape(p.shape)
        p.increment_version()
        offset += n
