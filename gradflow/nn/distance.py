"""Distance modules with PyTorch's constructors, calling :mod:`gradflow.ops.distance`."""

from __future__ import annotations

from gradflow.nn.module import Module
from gradflow.ops import distance as D
from gradflow.tensor import Tensor


class CosineSimilarity(Module):
    """Σ x̂1 x̂2 along ``dim`` (each norm clamped at ``eps``), as ``torch.nn.CosineSimilarity``."""

    def __init__(self, dim: int = 1, eps: float = 1e-8) -> None:
        super().__init__()
        self.dim = dim
        self.eps = eps

    def forward(self, x1: Tensor, x2: Tensor) -> Tensor:
        return D.cosine_similarity(x1, x2, self.dim, self.eps)

    def extra_repr(self) -> str:
        parts = [f"dim={self.dim}" if self.dim != 1 else "",
                 f"eps={self.eps}" if self.eps != 1e-8 else ""]
        return ", ".join(p for p in parts if p)


class PairwiseDistance(Module):
    """‖x1 − x2 + ε‖_p over the last dim, as ``torch.nn.PairwiseDistance`` (the exponent is
    stored as ``norm``, PyTorch's attribute name)."""

    def __init__(self, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False) -> None:
        super().__init__()
        self.norm = p
        self.eps = eps
        self.keepdim = keepdim

    def forward(self, x1: Tensor, x2: Tensor) -> Tensor:
        return D.pairwise_distance(x1, x2, self.norm, self.eps, self.keepdim)

    def extra_repr(self) -> str:
        parts = [f"p={self.norm}" if self.norm != 2.0 else "",
                 f"eps={self.eps}" if self.eps != 1e-6 else "",
                 "keepdim=True" if self.keepdim else ""]
        return ", ".join(p for p in parts if p)
