"""Matrix products: ``matmul`` (batched, broadcasting, vector cases) and the fused ``linear``."""

from __future__ import annotations

from gradflow import amp as _amp
from gradflow.autograd.function import Function
from gradflow.ops._util import as_operand, operand_arg, tensor_arg
from gradflow.ops.shape import reshape, sum_to, swapaxes, unsqueeze
from gradflow.tensor import Tensor


class MatMul(Function):
    """C = A B over the last two axes (leading axes broadcast).

    dL/dA = G Bᵀ, dL/dB = Aᵀ G, each summed over broadcast batch axes.
    """

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return ctx.k.matmul(a, b)

    @staticmethod
    def vjp(ctx, g):
        a, b = ctx.saved_arrays
        na, nb = ctx.needs_input_grad
        k = ctx.k
        ga = k.sum_to(k.matmul(g, b.swapaxes(-1, -2)), a.shape) if na else None
        gb = k.sum_to(k.matmul(a.swapaxes(-1, -2), g), b.shape) if nb else None
        return ga, gb

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        na, nb = ctx.needs_input_grad
        ga = sum_to(matmul(g, swapaxes(b, -1, -2)), a.shape) if na else None
        gb = sum_to(matmul(swapaxes(a, -1, -2), g), b.shape) if nb else None
        return ga, gb


class Linear(Function):
    """y = x Wᵀ + b with W of shape (out, in).

    dL/dx = G W, dL/dW = Gᵀ x, dL/db = Σ G (over all but the last axis; x and G are seen as
    matrices of rows). Kept fused: one node instead of transpose, matmul and add pays on the
    ``linear`` row of benchmarks/overhead.py (64×64 float32 step: 51 µs fused, 89 µs composed).
    """

    @staticmethod
    def forward(ctx, x, weight, bias):
        ctx.save_for_backward(x, weight)
        return ctx.k.linear(x, weight, bias)

    @staticmethod
    def vjp(ctx, g):
        x, w = ctx.saved_arrays
        nx, nw, nb = ctx.needs_input_grad
        n_out, n_in = w.shape
        k = ctx.k
        g2 = g.reshape(-1, n_out)
        gx = k.matmul(g2, w).reshape(x.shape) if nx else None  # one GEMM
        gw = k.matmul(g2.T, x.reshape(-1, n_in)) if nw else None
        if nb:  # the method skips np.sum's dispatch layers; half precision sums in float32
            gb = k.sum(g2, axis=0) if g2.dtype.char in "eE" else g2.sum(axis=0)
        else:
            gb = None
        return gx, gw, gb

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.saved_tensors
        nx, nw, nb = ctx.needs_input_grad
        n_out, n_in = w.shape
        g2 = reshape(g, (-1, n_out)) if g.ndim != 2 else g
        gx = matmul(g, w) if nx else None
        gw = matmul(g2.T, reshape(x, (-1, n_in)) if x.ndim != 2 else x) if nw else None
        gb = g2.sum(0) if nb else None
        return gx, gw, gb


def _same_dtype(op: str, **tensors: Tensor) -> None:
    """PyTorch's products never promote: float32 @ float64 is an error, not a float64 result."""
    (n0, t0), *rest = tensors.items()
    for name, t in rest:
        if t.dtype != t0.dtype:
            raise RuntimeError(f"{op}: expected {n0} and {name} to have the same dtype, got "
                               f"{t0.dtype} and {t.dtype}; convert one (e.g. .float() or "
                               f".to(dtype={str(t0.dtype)!r}))")


def _check_matmul(a: Tensor, b: Tensor) -> None:
    _same_dtype("matmul", input=a, other=b)
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"matmul: both operands need at least 1 dimension, got shapes {a.shape} "
                         f"and {b.shape}; use * for scalars")
    k_a = a.shape[-1]
    k_b = b.shape[0] if b.ndim == 1 else b.shape[-2]
    if k_a != k_b:
        raise ValueError(
            f"matmul: shapes {a.shape} and {b.shape} are not aligned: the last axis of the first "
            f"({k_a}) must equal the {'only' if b.ndim == 1 else 'second-to-last'} axis of the "
            f"second ({k_b})")
    batch_a, batch_b = a.shape[:-2], b.shape[:-2]
    for x, y in zip(reversed(batch_a), reversed(batch_b)):
        if x != y and x != 1 and y != 1:
            raise ValueError(f"matmul: batch axes of shapes {a.shape} and {b.shape} cannot be "
                             "broadcast together")


def matmul(a, b) -> Tensor:
    """Matrix product with NumPy's rules (1-D operands are promoted and the axis removed)."""
    a = as_operand(operand_arg(a, "matmul", "input"))
    b = as_operand(operand_arg(b, "matmul", "other"))
    if _amp.STATE.on:
        a, b = _amp.cast("matmul", a, b)
    if not isinstance(a, Tensor):
        a = Tensor.wrap(b._backend.asarray(a), b._backend)
    if not isinstance(b, Tensor):
        b = Tensor.wrap(a._backend.asarray(b), a._backend)
    _check_matmul(a, b)
    if a.ndim >= 2 and b.ndim >= 2:
        return MatMul.apply(a, b)
    a2 = unsqueeze(a, 0) if a.ndim == 1 else a
    b2 = unsqueeze(b, -1) if b.ndim == 1 else b
    out = MatMul.apply(a2, b2)
    shape = list(out.shape)
    if b.ndim == 1:
        del shape[-1]
    if a.ndim == 1:
        del shape[-1 if b.ndim == 1 else -2]
    return reshape(out, tuple(shape))


def mm(a: Tensor, b: Tensor) -> Tensor:
    """The product of two matrices (both 2-D, as ``torch.mm``: no broadcasting)."""
    _require_tensor(a, "mm", "input")
    _require_tensor(b, "mm", "mat2")
    if a.ndim != 2 or b.ndim != 2:
        raise RuntimeError(f"mm: both arguments must be 2-D matrices, got shapes {a.shape} and "
                           f"{b.shape}; use matmul for batches or vectors")
    return matmul(a, b)


def bmm(a: Tensor, b: Tensor) -> Tensor:
    """Batched product ``(B, n, m) @ (B, m, p)`` (both 3-D with one batch size, as
    ``torch.bmm``)."""
    _require_tensor(a, "bmm", "input")
    _require_tensor(b, "bmm", "mat2")
    if a.ndim != 3 or b.ndim != 3 or a.shape[0] != b.shape[0]:
        raise RuntimeError(f"bmm: expected 3-D tensors with the same batch size, got shapes "
                           f"{a.shape} and {b.shape}")
    return matmul(a, b)


def _require_tensor(x, op: str, name: str) -> None:
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: argument '{name}' must be a Tensor, got {type(x).__name__}")


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``x @ weight.T + bias``; weight has shape ``(out_features, in_features)``."""
    if not _amp.STATE.on and isinstance(x, Tensor) and isinstance(weight, Tensor):
        # the checks below, on the arrays (no Size objects, no dtype messages on the hot path)
        xa, wa = x.array, weight.array
        if (wa.ndim == 2 and xa.ndim and xa.shape[-1] == wa.shape[1] and xa.dtype == wa.dtype
                and (bias is None or (isinstance(bias, Tensor) and bias.array.dtype == wa.dtype
                                      and bias.array.shape == (wa.shape[0],)))):
            return Linear.apply(x, weight, bias)
    tensor_arg(x, "linear")
    tensor_arg(weight, "linear", "weight")
    if _amp.STATE.on:
        x, weight, bias = _amp.cast("linear", x, weight, bias)
    if bias is not None:
        tensor_arg(bias, "linear", "bias")
        _same_dtype("linear", input=x, weight=weight, bias=bias)
    else:
        _same_dtype("linear", input=x, weight=weight)
    if weight.ndim != 2:
        raise ValueError(f"linear: weight must be 2-D (out_features, in_features), got shape "
                         f"{weight.shape}")
    if x.ndim == 0 or x.shape[-1] != weight.shape[1]:
        raise ValueError(
            f"linear: expected input with {weight.shape[1]} features in its last axis "
            f"(weight shape {weight.shape}), got input of shape {x.shape}")
    if bias is not None and bias.shape != (weight.shape[0],):
        raise ValueError(f"linear: bias must have shape ({weight.shape[0]},), got {bias.shape}")
    return Linear.apply(x, weight, bias)
