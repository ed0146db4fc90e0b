"""``gradflow.analysis``: checking derivatives and measuring curvature.

- ``gradcheck`` / ``gradgradcheck``: first and second derivatives against finite differences.
- ``hvp``, ``hessian``, ``top_hessian_eigenvalue``: exact Hessian-vector products by double
  backward, the dense Hessian, and its dominant eigenvalue by power iteration.
- ``suggest_lr``: ``η_opt = 1/λ_max`` and ``η_max = 2/λ_max`` (LeCun et al., *Efficient BackProp*).
- ``noise_scale``: the gradient noise scale ``B_simple = tr Σ / |G|²`` (McCandlish et al. 2018),
  the critical batch size, with ``optimal_lr`` and ``steps_examples_tradeoff`` from its model.
"""

from gradflow.analysis.gradcheck import GradcheckError, gradcheck, gradgradcheck
from gradflow.analysis.hessian import (
    LRSuggestion,
    hessian,
    hvp,
    suggest_lr,
    top_hessian_eigenvalue,
)
from gradflow.analysis.noise_scale import (
    NoiseScale,
    noise_scale,
    optimal_lr,
    steps_examples_tradeoff,
)

__all__ = [
    "GradcheckError", "LRSuggestion", "gradcheck", "gradgradcheck", "hessian", "hvp",
    "suggest_lr", "top_hessian_eigenvalue", "NoiseScale", "noise_scale", "optimal_lr",
    "steps_examples_tradeoff",
]
