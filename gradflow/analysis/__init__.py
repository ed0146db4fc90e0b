"""``gradflow.analysis``: checking derivatives and measuring curvature.

- ``gradcheck`` / ``gradgradcheck``: first and second derivatives against finite differences.
- ``hvp``, ``hessian``, ``top_hessian_eigenvalue``: exact Hessian-vector products by double
  backward, the dense Hessian, and its dominant eigenvalue by power iteration.
- ``suggest_lr``: ``η_opt = 1/λ_max`` and ``η_max = 2/λ_max`` (LeCun et al., *Efficient BackProp*).
"""

from gradflow.analysis.gradcheck import GradcheckError, gradcheck, gradgradcheck
from gradflow.analysis.hessian import (
    LRSuggestion,
    hessian,
    hvp,
    suggest_lr,
    top_hessian_eigenvalue,
)

__all__ = [
    "GradcheckError", "LRSuggestion", "gradcheck", "gradgradcheck", "hessian", "hvp",
    "suggest_lr", "top_hessian_eigenvalue",
]
