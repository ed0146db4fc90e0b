"""Shape ops: reshape, transpose, broadcasting and its adjoint, casts, device moves, joins."""

from __future__ import annotations

from gradflow.autograd.function import Function
from gradflow.ops._util import first_order, norm_axes, wrap
from gradflow.tensor import Tensor


class Reshape(Function):
    @staticmethod
    def forward(ctx, a, shape):
        ctx.in_shape = a.shape
        try:
            return ctx.k.reshape(a, shape)
        except ValueError as exc:
            raise ValueError(f"reshape: cannot reshape a tensor of shape {a.shape} "
                             f"({a.size} elements) into shape {shape}") from exc

    @staticmethod
    def backward(ctx, g):
        if first_order():
            return wrap(ctx, ctx.k.reshape(g.data, ctx.in_shape))
        return reshape(g, ctx.in_shape)


class Transpose(Function):
    @staticmethod
    def forward(ctx, a, axes):
        ctx.axes = axes
        return ctx.k.transpose(a, axes)

    @staticmethod
    def backward(ctx, g):
        axes = ctx.axes
        inverse = None if axes is None else tuple(sorted(range(len(axes)), key=axes.__getitem__))
        if first_order():
            return wrap(ctx, ctx.k.transpose(g.data, inverse))
        return Transpose.apply(g, inverse)


class BroadcastTo(Function):
    @staticmethod
    def forward(ctx, a, shape):
        ctx.in_shape = a.shape
        try:
            return ctx.k.broadcast_to(a, shape)
        except ValueError as exc:
            raise ValueError(f"broadcast_to: cannot broadcast shape {a.shape} to {shape}") from exc

    @staticmethod
    def backward(ctx, g):
        return sum_to(g, ctx.in_shape)


class SumTo(Function):
    """The adjoint of broadcasting: sum over the broadcast axes down to ``shape``."""

    @staticmethod
    def forward(ctx, g, shape):
        ctx.in_shape = g.shape
        return ctx.k.sum_to(g, shape)

    @staticmethod
    def backward(ctx, gg):
        return broadcast_to(gg, ctx.in_shape)


class Cast(Function):
    @staticmethod
    def forward(ctx, a, dtype):
        ctx.in_dtype = a.dtype
        return a.astype(dtype)

    @staticmethod
    def backward(ctx, g):
        if ctx.in_dtype.kind not in "fc":
            return None
        return cast(g, ctx.in_dtype)


class ToDevice(Function):
    @staticmethod
    def forward(ctx, a, target):
        ctx.source = ctx.backend
        ctx.backend = target  # the output lives on the target device
        return target.copy_from(a)  # GPU to GPU directly where the backend can

    @staticmethod
    def backward(ctx, g):
        return ToDevice.apply(g, ctx.source)


class Clone(Function):
    @staticmethod
    def forward(ctx, a):
        return a.copy()

    @staticmethod
    def backward(ctx, g):
        return g


class Concatenate(Function):
    @staticmethod
    def forward(ctx, *arrays, axis=0):
        ctx.axis = axis
        ctx.sizes = [a.shape[axis] for a in arrays]
        try:
            return ctx.k.concatenate(arrays, axis=axis)
        except ValueError as exc:
            raise ValueError(f"concatenate: shapes {[a.shape for a in arrays]} do not match "
                             f"outside axis {axis}") from exc

    @staticmethod
    def backward(ctx, g):
        from gradflow.ops.indexing import getitem

        out, start = [], 0
        lead = (slice(None),) * ctx.axis
        for size, need in zip(ctx.sizes, ctx.needs_input_grad):
            out.append(getitem(g, lead + (slice(start, start + size),)) if need else None)
            start += size
        return tuple(out)


class Stack(Function):
    @staticmethod
    def forward(ctx, *arrays, axis=0):
        ctx.axis = axis
        try:
            return ctx.k.stack(arrays, axis=axis)
        except ValueError as exc:
            raise ValueError(f"stack: all tensors must have the same shape, got "
                             f"{[a.shape for a in arrays]}") from exc

    @staticmethod
    def backward(ctx, g):
        from gradflow.ops.indexing import getitem

        lead = (slice(None),) * ctx.axis
        return tuple(getitem(g, lead + (i,)) if need else None
                     for i, need in enumerate(ctx.needs_input_grad))


def reshape(a: Tensor, shape) -> Tensor:
    shape = tuple(int(s) for s in shape)
    if shape == a.shape:
        return a
    return Reshape.apply(a, shape)


def transpose(a: Tensor, axes=None) -> Tensor:
    if axes is not None:
        axes = tuple(int(x) % max(a.ndim, 1) for x in axes)
        if sorted(axes) != list(range(a.ndim)):
            raise ValueError(f"transpose: axes {axes} are not a permutation of the {a.ndim} axes "
                             f"of a tensor of shape {a.shape}")
    return Transpose.apply(a, axes)


def swapaxes(a: Tensor, i: int, j: int) -> Tensor:
    axes = list(range(a.ndim))
    i, j = i % a.ndim, j % a.ndim
    axes[i], axes[j] = axes[j], axes[i]
    return Transpose.apply(a, tuple(axes))


def flatten(a: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    if a.ndim == 0:
        return reshape(a, (1,))
    s, e = start_dim % a.ndim, end_dim % a.ndim
    n = 1
    for d in a.shape[s:e + 1]:
        n *= d
    return reshape(a, a.shape[:s] + (n,) + a.shape[e + 1:])


def squeeze(a: Tensor, axis=None) -> Tensor:
    if axis is None:
        return reshape(a, tuple(d for d in a.shape if d != 1))
    axes = norm_axes(axis, a.ndim, "squeeze")
    for ax in axes:
        if a.shape[ax] != 1:
            raise ValueError(f"squeeze: axis {ax} has size {a.shape[ax]}, not 1 (shape {a.shape})")
    return reshape(a, tuple(d for i, d in enumerate(a.shape) if i not in axes))


def unsqueeze(a: Tensor, axis: int) -> Tensor:
    axis = axis % (a.ndim + 1)
    return reshape(a, a.shape[:axis] + (1,) + a.shape[axis:])


def broadcast_to(a: Tensor, shape) -> Tensor:
    shape = tuple(shape)
    if a.shape == shape:
        return a
    return BroadcastTo.apply(a, shape)


def sum_to(g: Tensor, shape) -> Tensor:
    if g.shape == shape:
        return g
    return SumTo.apply(g, tuple(shape))


def cast(a: Tensor, dtype) -> Tensor:
    return Cast.apply(a, dtype)


def to_device(a: Tensor, backend) -> Tensor:
    return ToDevice.apply(a, backend)


def clone(a: Tensor) -> Tensor:
    return Clone.apply(a)


def concatenate(tensors, axis: int = 0) -> Tensor:
    tensors = list(tensors)
    if not tensors:
        raise ValueError("concatenate: expected a non-empty sequence of tensors")
    axis = axis % tensors[0].ndim
    return Concatenate.apply(*tensors, axis=axis)


def stack(tensors, axis: int = 0) -> Tensor:
    tensors = list(tensors)
    if not tensors:
        raise ValueError("stack: expected a non-empty sequence of tensors")
    axis = axis % (tensors[0].ndim + 1)
    return Stack.apply(*tensors, axis=axis)
