"""A composed ``backward`` for fused ops whose derivative is easiest stated as a composition.

Such an op declares how to compute its outputs from primitive gradflow ops (a *composite*
forward); its ``backward`` differentiates that composite, so it is exactly as differentiable as
the primitives, while the op's ``vjp`` runs the fused kernel for first-order gradients.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from gradflow.autograd.engine import grad
from gradflow.tensor import Tensor


def composite_vjp(composite: Callable[..., Tensor | tuple], inputs: Sequence,
                  needs: Sequence[bool], grads: Sequence[Tensor]) -> tuple:
    """Vector-Jacobian product of ``composite(*inputs)`` with ``grads``, recorded in the graph.

    Returns one entry per input: a Tensor where ``needs`` is true, else None.
    """
    outs = composite(*inputs)
    outs = list(outs) if isinstance(outs, tuple) else [outs]
    wanted = [t for t, n in zip(inputs, needs) if n]
    pairs = [(o, g) for o, g in zip(outs, grads) if g is not None and o.requires_grad]
    if not wanted or not pairs:
        return tuple(None for _ in inputs)
    res = iter(grad([o for o, _ in pairs], wanted, [g for _, g in pairs], create_graph=True,
                    allow_unused=True))
    out = []
    for t, n in zip(inputs, needs):
        if not n:
            out.append(None)
            continue
        g = next(res)
        out.append(g if g is not None else t * 0)
    return tuple(out)
