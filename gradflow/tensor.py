"""``Tensor``: one backend array plus what autograd needs to differentiate through it."""

from __future__ import annotations

import collections
import weakref
from collections.abc import Callable
from typing import Any

import numpy as np

from gradflow.backends import Backend, backend_of_array, cpu_backend, get_backend
from gradflow.dtypes import DEFAULT_FLOAT, as_dtype, is_floating, is_inexact


class _Version:
    """In-place modification counter, shared by a tensor and its detached aliases."""

    __slots__ = ("v",)

    def __init__(self):
        self.v = 0


_new = object.__new__


def _axis(axis, dim):
    if axis is not None and dim is not None:
        raise TypeError("pass dim (PyTorch) or axis (NumPy), not both")
    return dim if axis is None else axis


def _keep(keepdim, keepdims) -> bool:
    return bool(keepdim) if keepdims is None else bool(keepdims)


def _correction(unbiased, correction, ddof):
    given = [c for c in (unbiased, correction, ddof) if c is not None]
    if len(given) > 1:
        raise TypeError("var/std: pass one of unbiased, correction (PyTorch) or ddof (NumPy)")
    if unbiased is not None:
        return 1 if unbiased else 0
    return given[0] if given else 1


_MaxMin = {name: collections.namedtuple(name, ["values", "indices"]) for name in ("max", "min")}


def _max_min(t, dim, keepdim, axis, keepdims, name: str):
    larger = name == "max"
    if isinstance(dim, Tensor):  # max(other): elementwise, as torch.max(a, b)
        return (_math.maximum if larger else _math.minimum)(t, dim)
    if dim is None:  # no dim: the reduction (NumPy's axis= included), ties share the gradient
        reduce = _reduce.amax if larger else _reduce.amin
        return reduce(t, axis, _keep(keepdim, keepdims) if axis is not None else False)
    if not isinstance(dim, int):
        raise TypeError(f"{name}: dim must be an int, got {dim!r} (amax/amin reduce over "
                        "several dims)")
    keep = _keep(keepdim, keepdims)
    d = _shape._dim(dim, t.ndim, name)
    find = _reduce.argmax if larger else _reduce.argmin
    if t.ndim == 0:
        return _MaxMin[name](t.clone(), find(t, None, False))
    idx = find(t, d, True)
    # the values are picked at the indices, so the gradient goes to the chosen element only
    xp = t._backend.xp
    index = [xp.arange(n).reshape((-1,) + (1,) * (t.ndim - 1 - i)) for i, n in enumerate(t.shape)]
    index[d] = idx.array
    values = t[tuple(index)]
    if not keep:
        values, idx = values.squeeze(d), idx.squeeze(d)
    return _MaxMin[name](values, idx)


class Size(tuple):
    """A tensor's shape: a tuple of ints (PyTorch's ``torch.Size``)."""

    __slots__ = ()

    def numel(self) -> int:
        """The number of elements a tensor of this shape holds."""
        n = 1
        for s in self:
            n *= s
        return n

    def __repr__(self) -> str:
        return f"gradflow.Size({list(self)})"

    def __str__(self) -> str:  # error messages and f-strings read as the plain tuple
        return tuple.__repr__(self)

    def __getitem__(self, index):
        out = tuple.__getitem__(self, index)
        return Size(out) if isinstance(index, slice) else out

    def __add__(self, other):
        return Size(tuple.__add__(self, tuple(other)))


def _check_grad(t, value) -> None:
    """``t.grad = value`` takes a Tensor of ``t``'s shape, dtype and device (as PyTorch)."""
    if not isinstance(value, Tensor):
        raise TypeError(f"assigned grad expected to be a Tensor or None but got "
                        f"{type(value).__name__}")
    if value._backend is not t._backend:
        raise RuntimeError(f"assigned grad is on {value.device}, but the tensor is on "
                           f"{t.device}; move it with .to({t.device!r})")
    if value.array.dtype != t.array.dtype:
        raise RuntimeError(f"assigned grad has dtype {value.array.dtype}, but the tensor has "
                           f"dtype {t.array.dtype}; convert it with .to(dtype=...)")
    if value.array.shape != t.array.shape:
        raise RuntimeError(f"assigned grad has shape {tuple(value.array.shape)}, but the "
                           f"tensor has shape {tuple(t.array.shape)}")


class Tensor:
    """An n-dimensional array on a device, recorded in the autograd graph when it requires grad.

    Build one with :func:`gradflow.tensor` (or ``Tensor(data, ...)``, the same thing).
    ``array`` is the backend array itself (``numpy.ndarray`` or ``cupy.ndarray``); ``data`` is
    PyTorch's: a detached Tensor sharing that array.
    """

    __slots__ = ("array", "_requires_grad", "_grad", "grad_fn", "_out_idx", "_ver", "_backend",
                 "_retains_grad", "__weakref__")
    __array_priority__ = 1000  # NumPy defers binary operators to Tensor
    __array_ufunc__ = None

    def __init__(self, data: Any, dtype: Any = None, device: Any = None,
                 requires_grad: bool = False):
        array, backend = _to_array(data, dtype, device)
        self._init_leaf(array, backend)
        if requires_grad:
            self.requires_grad_(True)

    def _init_leaf(self, array, backend: Backend) -> None:
        """Set every slot for a fresh leaf holding ``array`` (used by subclasses' __init__)."""
        self.array = array
        self._backend = backend
        self._requires_grad = False
        self._grad = None
        self.grad_fn = None
        self._out_idx = 0
        self._ver = _Version()
        self._retains_grad = False

    @staticmethod
    def wrap(array: Any, backend: Backend | None = None) -> Tensor:
        """A constant Tensor around a backend ``array`` (no copy): the constructor for library
        code that computed an array with kernels. NumPy 0-d results (scalars) become arrays."""
        if backend is None:
            backend = backend_of_array(array)
        elif not backend.owns(array):
            array = backend.asarray(array)
        return Tensor._make(array, backend)

    @staticmethod
    def _make(data, backend: Backend, requires_grad: bool = False, grad_fn=None,
              out_idx: int = 0, ver: _Version | None = None) -> Tensor:
        t = _new(Tensor)
        t.array = data
        t._backend = backend
        t._requires_grad = requires_grad
        t._grad = None
        t.grad_fn = grad_fn
        t._out_idx = out_idx
        t._ver = _Version() if ver is None else ver
        t._retains_grad = False
        return t

    # --- attributes -------------------------------------------------------------------------
    @property
    def data(self) -> Tensor:
        """PyTorch's ``data``: this tensor's values as a detached Tensor sharing its array and
        version counter, so ``p.data -= lr * p.grad`` updates ``p`` outside the graph.
        Assigning a Tensor (or a backend array) replaces the values held by this tensor."""
        return Tensor._make(self.array, self._backend, False, None, 0, self._ver)

    @data.setter
    def data(self, value: Any) -> None:
        if isinstance(value, Tensor):
            if value._backend is not self._backend:
                raise RuntimeError(f"data: the new value is on {value.device}, this tensor on "
                                   f"{self.device}; move it first with .to(...)")
            value = value.array
        elif not self._backend.owns(value):
            raise TypeError(f"data: expected a Tensor or a {self._backend.xp.__name__} array, "
                            f"got {type(value).__name__}")
        self.array = value

    @property
    def grad(self) -> Tensor | None:
        """The gradient accumulated by ``backward`` (None until then)."""
        return self._grad

    @grad.setter
    def grad(self, value: Tensor | None) -> None:
        if value is not None:
            _check_grad(self, value)
        self._grad = value

    @property
    def shape(self) -> Size:
        return Size(self.array.shape)

    @property
    def dtype(self) -> np.dtype:
        return self.array.dtype

    @property
    def device(self) -> str:
        return self._backend.device

    @property
    def backend(self) -> Backend:
        return self._backend

    @property
    def ndim(self) -> int:
        return self.array.ndim

    def size(self, dim: int | None = None) -> Size | int:
        """PyTorch's ``size``: the shape (a :class:`Size`), or the length of dimension ``dim``."""
        if dim is None:
            return Size(self.array.shape)
        return self.array.shape[_shape._dim(dim, self.array.ndim, "size")]

    def numel(self) -> int:
        """The number of elements."""
        return self.array.size

    nelement = numel

    def dim(self) -> int:
        return self.array.ndim

    @property
    def T(self) -> Tensor:  # noqa: N802
        return self.transpose()

    @property
    def is_leaf(self) -> bool:
        return self.grad_fn is None

    @property
    def requires_grad(self) -> bool:
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        self.requires_grad_(value)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Set ``requires_grad`` in place (leaves only) and return self."""
        if self.grad_fn is not None and not requires_grad:
            raise RuntimeError("requires_grad can only be turned off on leaf tensors; use "
                               ".detach() to get a tensor outside the graph")
        if requires_grad and not is_inexact(self.dtype):
            raise RuntimeError(f"only floating-point tensors can require gradients, this one is "
                               f"{self.dtype}; convert it first with .to(dtype='float32')")
        self._requires_grad = bool(requires_grad)
        return self

    def retain_grad(self) -> Tensor:
        """Keep ``.grad`` for this non-leaf tensor on the next backward."""
        if self.grad_fn is not None and not self._retains_grad:
            self._retains_grad = True
            node = self.grad_fn
            if node.retained is None:
                node.retained = {}
            node.retained[self._out_idx] = weakref.ref(self)
        return self

    @property
    def _version(self) -> int:
        return self._ver.v

    # --- conversion -------------------------------------------------------------------------
    def numpy(self) -> np.ndarray:
        """The values as a NumPy array (the same memory on the CPU, a host copy from a GPU)."""
        return self._backend.to_host(self.array)

    def __array__(self, dtype=None, copy=None):
        a = self.numpy()
        return a if dtype is None else a.astype(dtype, copy=False)

    def item(self) -> Any:
        if self.array.size != 1:
            raise ValueError(f"item(): only one-element tensors can be converted to a Python "
                             f"number, this one has shape {self.shape}")
        return self.array.item()

    def tolist(self) -> Any:
        return self.numpy().tolist()

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __bool__(self) -> bool:
        if self.array.size != 1:
            raise RuntimeError(f"the truth value of a tensor with {self.array.size} elements is "
                               "ambiguous; use .any() or .all()")
        return bool(self.item())

    def __index__(self) -> int:
        if self.dtype.kind not in "iub" or self.array.size != 1:
            raise TypeError("only one-element integer tensors can be used as an index")
        return int(self.item())

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    def __hash__(self) -> int:
        return id(self)

    def to(self, device: Any = None, dtype: Any = None) -> Tensor:
        """This tensor on ``device`` and/or with ``dtype`` (self when nothing changes).

        As torch: ``t.to(dtype)``, ``t.to(device, dtype)`` and ``t.to(other)`` (other's device
        and dtype). Differentiable: gradients flow back across the copy.
        """
        from gradflow.ops.shape import cast, to_device

        if isinstance(device, Tensor):  # t.to(other): other's device and dtype
            device, dtype = device.device, device.dtype if dtype is None else dtype
        elif isinstance(device, np.dtype) or (isinstance(device, type)
                                              and issubclass(device, np.generic)):
            device, dtype = None, device  # t.to(gf.float16), as torch's to(dtype)
        out = self
        if device is not None:
            backend = get_backend(device)
            if backend is not self._backend:
                out = to_device(out, backend)
        if dtype is not None:
            dt = as_dtype(dtype)
            if dt != out.dtype:
                out = cast(out, dt)
        return out

    def cpu(self) -> Tensor:
        return self.to("cpu")

    def cuda(self, index: int | None = None) -> Tensor:
        return self.to("cuda" if index is None else f"cuda:{index}")

    def float(self) -> Tensor:
        return self.to(dtype="float32")

    def double(self) -> Tensor:
        return self.to(dtype="float64")

    def long(self) -> Tensor:
        return self.to(dtype="int64")

    def int(self) -> Tensor:
        return self.to(dtype="int32")

    def short(self) -> Tensor:
        return self.to(dtype="int16")

    def half(self) -> Tensor:
        return self.to(dtype="float16")

    def bfloat16(self) -> Tensor:
        return self.to(dtype="bfloat16")

    def bool(self) -> Tensor:
        return self.to(dtype="bool")

    def type(self, dtype: Any = None):
        """PyTorch's ``type``: with no argument the type name (``"gradflow.FloatTensor"``), else
        the tensor converted to ``dtype``."""
        if dtype is None:
            return _type_name(self.array.dtype)
        return self.to(dtype=dtype)

    def type_as(self, other: Tensor) -> Tensor:
        return self.to(dtype=other.dtype)

    def astype(self, dtype: Any) -> Tensor:
        return self.to(dtype=dtype)

    def detach(self) -> Tensor:
        """A tensor sharing this one's data (and version counter) but outside the graph."""
        return Tensor._make(self.array, self._backend, False, None, 0, self._ver)

    def detach_(self) -> Tensor:
        self.grad_fn = None
        self._requires_grad = False
        return self

    def clone(self) -> Tensor:
        from gradflow.ops.shape import clone

        return clone(self)

    def __deepcopy__(self, memo: dict) -> Tensor:
        """``copy.deepcopy``: a new leaf (same class, so a Parameter stays a Parameter) with a
        copy of the array, the same ``requires_grad`` and a deep copy of ``.grad``; as PyTorch,
        only graph leaves can be deep-copied (``copy.deepcopy(model)`` works)."""
        if not self.is_leaf:
            raise RuntimeError("Only Tensors created explicitly by the user (graph leaves) "
                               "support the deepcopy protocol at the moment; deep-copy "
                               "t.detach() instead")
        new = _new(type(self))
        new._init_leaf(self.array.copy(), self._backend)
        new._requires_grad = self._requires_grad
        memo[id(self)] = new
        if self._grad is not None:
            new._grad = self._grad.__deepcopy__(memo)
        return new

    def __dlpack__(self, *args, **kwargs):
        return self.array.__dlpack__(*args, **kwargs)

    def __dlpack_device__(self):
        return self.array.__dlpack_device__()

    # --- autograd ---------------------------------------------------------------------------
    def backward(self, gradient: Any = None, retain_graph: bool | None = None,
                 create_graph: bool = False) -> None:
        """Accumulate the gradient of this tensor with respect to every leaf into ``leaf.grad``."""
        from gradflow.autograd.engine import backward

        backward([self], None if gradient is None else [gradient], retain_graph, create_graph)

    def increment_version(self) -> Tensor:
        """Record that ``data`` was modified in place (by a kernel, an optimizer step...), so a
        graph that saved this tensor for backward reports the change instead of a wrong
        gradient. (PyTorch: ``torch.autograd.graph.increment_version``.)"""
        self._ver.v += 1
        return self

    def zero_(self) -> Tensor:
        return self.fill_(0)

    def fill_(self, value: Any) -> Tensor:
        """Every element set to ``value`` (a number or a one-element Tensor), in place."""
        _setitem(self, Ellipsis, value)
        return self

    def uniform_(self, a: float = 0.0, b: float = 1.0, *, generator=None) -> Tensor:
        """Fill with values uniform on [a, b), in place."""
        return self.copy_(_rand_array(self, generator, "uniform_") * (b - a) + a)

    def normal_(self, mean: float = 0.0, std: float = 1.0, *, generator=None) -> Tensor:
        """Fill with normal values of ``mean`` and ``std``, in place."""
        return self.copy_(_randn_array(self, generator, "normal_") * std + mean)

    def bernoulli_(self, p: float = 0.5, *, generator=None) -> Tensor:
        """Fill with 1 (probability ``p``) or 0, in place."""
        return self.copy_(_rand_array(self, generator, "bernoulli_") < p)

    def masked_fill_(self, mask: Tensor, value: Any) -> Tensor:
        """``value`` where ``mask`` (bool, broadcastable to this shape) holds, in place."""
        _setitem(self, _mask_index(self, mask, "masked_fill_"), value)
        return self

    def masked_fill(self, mask: Tensor, value: Any) -> Tensor:
        """A copy with ``value`` where ``mask`` holds (differentiable in self and value)."""
        m = _mask_index(self, mask, "masked_fill")
        return _math.where(Tensor._make(m, self._backend), value, self)

    # in-place arithmetic (PyTorch's methods; the operators += ... are the same path)
    def add_(self, other: Any, *, alpha: float = 1) -> Tensor:
        return _inplace(self, other if alpha == 1 else other * alpha, _add, "add_")

    def sub_(self, other: Any, *, alpha: float = 1) -> Tensor:
        return _inplace(self, other if alpha == 1 else other * alpha, _sub, "sub_")

    def mul_(self, other: Any) -> Tensor:
        return _inplace(self, other, _mul, "mul_")

    def div_(self, other: Any) -> Tensor:
        return _inplace(self, other, _div, "div_")

    def pow_(self, exponent: Any) -> Tensor:
        return _inplace(self, exponent, _pow, "pow_")

    def clamp_(self, min: Any = None, max: Any = None) -> Tensor:  # noqa: A002
        return _inplace(self, (min, max), lambda a, mm: _math.clip(a, *mm), "clamp_")

    clip_ = clamp_

    def neg_(self) -> Tensor:
        return _inplace(self, None, lambda a, _: _neg(a), "neg_")

    def abs_(self) -> Tensor:
        return _inplace(self, None, lambda a, _: _math.abs(a), "abs_")

    def exp_(self) -> Tensor:
        return _inplace(self, None, lambda a, _: _math.exp(a), "exp_")

    def sqrt_(self) -> Tensor:
        return _inplace(self, None, lambda a, _: _math.sqrt(a), "sqrt_")

    def relu_(self) -> Tensor:
        return _inplace(self, None, lambda a, _: _act.relu(a), "relu_")

    # out-of-place forms of the same (PyTorch's methods)
    def add(self, other: Any, *, alpha: float = 1) -> Tensor:
        return _add(self, other if alpha == 1 else other * alpha)

    def sub(self, other: Any, *, alpha: float = 1) -> Tensor:
        return _sub(self, other if alpha == 1 else other * alpha)

    def mul(self, other: Any) -> Tensor:
        return _mul(self, other)

    def div(self, other: Any) -> Tensor:
        return _div(self, other)

    def pow(self, exponent: Any) -> Tensor:
        return _pow(self, exponent)

    def neg(self) -> Tensor:
        return _neg(self)

    def matmul(self, other: Any) -> Tensor:
        return _matmul(self, other)

    def mm(self, other: Any) -> Tensor:
        return _mm(self, other)

    def bmm(self, other: Any) -> Tensor:
        return _bmm(self, other)

    def copy_(self, src: Any) -> Tensor:
        """Copy ``src`` (broadcast, cast to this dtype, same device) into this tensor in place;
        differentiable as ``self[...] = src``."""
        if src is None:
            raise TypeError("copy_(): argument 'src' must be a Tensor, an array or a number, "
                            "got None")
        _setitem(self, Ellipsis, src)
        return self

    # --- representation ---------------------------------------------------------------------
    def __repr__(self) -> str:
        host = self.numpy()
        if host.dtype.char in "eE":  # float16/bfloat16 print as their float32 values (as torch)
            host = host.astype(np.float32)
        body = np.array2string(host, separator=", ", precision=4, threshold=50,
                               prefix="tensor(")
        extra = []
        if self.device != "cpu":
            extra.append(f"device='{self.device}'")
        if self.dtype != DEFAULT_FLOAT and is_floating(self.dtype):
            extra.append(f"dtype={self.dtype}")
        if self.grad_fn is not None:
            extra.append(f"grad_fn={self.grad_fn!r}")
        elif self._requires_grad:
            extra.append("requires_grad=True")
        return "tensor(" + body + "".join(", " + e for e in extra) + ")"

    # --- operators ---------------------------------------------------------------------------
    def __add__(self, other):
        return _add(self, other)

    def __radd__(self, other):
        return _add(other, self)

    def __sub__(self, other):
        return _sub(self, other)

    def __rsub__(self, other):
        return _sub(other, self)

    def __mul__(self, other):
        return _mul(self, other)

    def __rmul__(self, other):
        return _mul(other, self)

    def __truediv__(self, other):
        return _div(self, other)

    def __rtruediv__(self, other):
        return _div(other, self)

    def __pow__(self, other):
        return _pow(self, other)

    def __rpow__(self, other):
        return _pow(other, self)

    def __matmul__(self, other):
        return _matmul(self, other)

    def __rmatmul__(self, other):
        return _matmul(other, self)

    def __neg__(self):
        return _neg(self)

    def __pos__(self):
        return self

    def __abs__(self):
        return _abs(self)

    def __iadd__(self, other):
        return _inplace(self, other, _add)

    def __isub__(self, other):
        return _inplace(self, other, _sub)

    def __imul__(self, other):
        return _inplace(self, other, _mul)

    def __itruediv__(self, other):
        return _inplace(self, other, _div)

    def __ipow__(self, other):
        return _inplace(self, other, _pow)

    def __lt__(self, other):
        return _compare(self, other, "__lt__")

    def __le__(self, other):
        return _compare(self, other, "__le__")

    def __gt__(self, other):
        return _compare(self, other, "__gt__")

    def __ge__(self, other):
        return _compare(self, other, "__ge__")

    def __eq__(self, other):  # type: ignore[override]
        return _compare(self, other, "__eq__")

    def __ne__(self, other):  # type: ignore[override]
        return _compare(self, other, "__ne__")

    def __getitem__(self, index):
        return _getitem(self, index)

    def __setitem__(self, index, value):
        _setitem(self, index, value)

    # --- methods ------------------------------------------------------------------------------
    def sum(self, dim=None, keepdim: bool = False, *, axis=None, keepdims=None) -> Tensor:
        return _reduce.sum(self, _axis(axis, dim), _keep(keepdim, keepdims))

    def mean(self, dim=None, keepdim: bool = False, *, axis=None, keepdims=None) -> Tensor:
        return _reduce.mean(self, _axis(axis, dim), _keep(keepdim, keepdims))

    def prod(self, dim=None, keepdim: bool = False, *, dtype=None, axis=None,
             keepdims=None) -> Tensor:
        """The product over ``dim`` (one dim) or of all elements; ints and bools give int64."""
        return _reduce.prod(self, _axis(axis, dim), _keep(keepdim, keepdims), dtype)

    def max(self, dim=None, keepdim: bool = False, *, axis=None, keepdims=None):
        """PyTorch's ``max``: the largest value; with ``dim`` (or another tensor) it is
        ``(values, indices)`` along ``dim`` (or ``maximum(self, other)``). NumPy's ``axis=``
        keeps NumPy's meaning: the values only."""
        return _max_min(self, dim, keepdim, axis, keepdims, "max")

    def min(self, dim=None, keepdim: bool = False, *, axis=None, keepdims=None):
        """PyTorch's ``min``: see :meth:`max`."""
        return _max_min(self, dim, keepdim, axis, keepdims, "min")

    def amax(self, dim=None, keepdim: bool = False) -> Tensor:
        return _reduce.amax(self, dim, keepdim)

    def amin(self, dim=None, keepdim: bool = False) -> Tensor:
        return _reduce.amin(self, dim, keepdim)

    def var(self, dim=None, unbiased: bool | None = None, keepdim: bool = False, *,
            correction: float | None = None, axis=None, keepdims=None, ddof=None) -> Tensor:
        """PyTorch's variance: Bessel-corrected (``correction=1``) unless ``unbiased=False``,
        ``correction=0`` or NumPy's ``ddof=0`` asks for the population variance."""
        return _reduce.var(self, _axis(axis, dim), _keep(keepdim, keepdims),
                           _correction(unbiased, correction, ddof))

    def std(self, dim=None, unbiased: bool | None = None, keepdim: bool = False, *,
            correction: float | None = None, axis=None, keepdims=None, ddof=None) -> Tensor:
        """The square root of :meth:`var` (same arguments and default)."""
        return _reduce.var(self, _axis(axis, dim), _keep(keepdim, keepdims),
                           _correction(unbiased, correction, ddof)).sqrt()

    def argmax(self, dim=None, keepdim: bool = False, *, axis=None, keepdims=None) -> Tensor:
        return _reduce.argmax(self, _axis(axis, dim), _keep(keepdim, keepdims))

    def argmin(self, dim=None, keepdim: bool = False, *, axis=None, keepdims=None) -> Tensor:
        return _reduce.argmin(self, _axis(axis, dim), _keep(keepdim, keepdims))

    def any(self, axis=None, keepdims: bool = False) -> Tensor:
        return Tensor._make(self._backend.xp.asarray(self.array.any(axis=axis, keepdims=keepdims)),
                            self._backend)

    def all(self, axis=None, keepdims: bool = False) -> Tensor:
        return Tensor._make(self._backend.xp.asarray(self.array.all(axis=axis, keepdims=keepdims)),
                            self._backend)

    def exp(self) -> Tensor:
        return _math.exp(self)

    def log(self) -> Tensor:
        return _math.log(self)

    def sqrt(self) -> Tensor:
        return _math.sqrt(self)

    def abs(self) -> Tensor:
        return _math.abs(self)

    def sin(self) -> Tensor:
        return _math.sin(self)

    def cos(self) -> Tensor:
        return _math.cos(self)

    def tanh(self) -> Tensor:
        return _act.tanh(self)

    def sigmoid(self) -> Tensor:
        return _act.sigmoid(self)

    def relu(self) -> Tensor:
        return _act.relu(self)

    def clip(self, min=None, max=None) -> Tensor:  # noqa: A002 - NumPy/PyTorch names
        return _math.clip(self, min, max)

    clamp = clip

    def softmax(self, dim: int | None = None, *, axis: int | None = None) -> Tensor:
        return _act.softmax(self, dim, axis=axis)

    def log_softmax(self, dim: int | None = None, *, axis: int | None = None) -> Tensor:
        return _act.log_softmax(self, dim, axis=axis)

    def reshape(self, *shape) -> Tensor:
        if len(shape) == 1 and isinstance(shape[0], tuple | list):
            shape = tuple(shape[0])
        return _shape.reshape(self, shape)

    def view(self, *shape) -> Tensor:
        """The same data with another shape (one size may be -1). Unlike :meth:`reshape` it never
        copies: a shape the strides cannot express is an error, as in PyTorch."""
        if len(shape) == 1 and isinstance(shape[0], tuple | list):
            shape = tuple(shape[0])
        if len(shape) == 1 and not isinstance(shape[0], int | np.integer):
            raise TypeError(f"view: expected a shape, got {shape[0]!r} (reinterpreting the "
                            "bytes as another dtype is not supported: use .to(dtype=...))")
        out = _shape.reshape(self, shape)
        if not self.array.flags.c_contiguous and self.array.size > 1 and \
                not self._backend.xp.may_share_memory(out.array, self.array):
            raise RuntimeError(f"view: the shape {tuple(out.shape)} is not compatible with the "
                               f"input's size and strides (shape {tuple(self.shape)}, not "
                               "contiguous); use .reshape(...) instead")
        return out

    def view_as(self, other: Tensor) -> Tensor:
        return self.view(other.shape)

    def reshape_as(self, other: Tensor) -> Tensor:
        return self.reshape(other.shape)

    def is_contiguous(self) -> bool:
        return bool(self.array.flags.c_contiguous)

    def contiguous(self) -> Tensor:
        """Self when already contiguous, else a contiguous copy (differentiable)."""
        return self if self.array.flags.c_contiguous else self.clone()

    def t(self) -> Tensor:
        """The transpose of a tensor of at most 2 dimensions (PyTorch's ``t``)."""
        if self.ndim > 2:
            raise RuntimeError(f"t: expects a tensor with <= 2 dimensions, got shape "
                               f"{self.shape}; use transpose(dim0, dim1) or mT")
        return self if self.ndim < 2 else _shape.swapaxes(self, 0, 1)

    def repeat(self, *sizes) -> Tensor:
        """PyTorch's ``repeat``: the tensor tiled ``sizes[i]`` times along dim i (extra leading
        sizes add dimensions), built from broadcast + reshape so it is differentiable."""
        if len(sizes) == 1 and isinstance(sizes[0], tuple | list):
            sizes = tuple(sizes[0])
        if len(sizes) < self.ndim:
            raise RuntimeError(f"repeat: the number of repeat dims ({len(sizes)}) can not be "
                               f"smaller than the number of tensor dims ({self.ndim})")
        shape = (1,) * (len(sizes) - self.ndim) + tuple(self.shape)
        x = self.reshape(tuple(v for n in shape for v in (1, n)))
        x = x.expand(tuple(v for r, n in zip(sizes, shape) for v in (r, n)))
        return x.reshape(tuple(r * n for r, n in zip(sizes, shape)))

    def expand_as(self, other: Tensor) -> Tensor:
        return self.expand(other.shape)

    def transpose(self, *dims) -> Tensor:
        """PyTorch's ``transpose(dim0, dim1)``: two dimensions swapped. NumPy's spellings stay
        where PyTorch has none: no argument reverses the dimensions, a tuple (or more than two
        ints) permutes them."""
        if len(dims) == 2 and isinstance(dims[0], int) and isinstance(dims[1], int):
            return _shape.swapaxes(self, dims[0], dims[1])
        return self.permute(*dims) if dims else _shape.transpose(self, None)

    def permute(self, *dims) -> Tensor:
        """The dimensions in the order ``dims`` (ints or one tuple)."""
        if len(dims) == 1 and isinstance(dims[0], tuple | list):
            dims = tuple(dims[0])
        return _shape.transpose(self, dims)

    @property
    def mT(self) -> Tensor:  # noqa: N802 - PyTorch's name
        """The last two dimensions swapped (a batch of matrices transposed)."""
        if self.ndim < 2:
            raise RuntimeError(f"mT: expected a tensor with at least 2 dimensions, got shape "
                               f"{self.shape}")
        return _shape.swapaxes(self, -2, -1)

    def swapaxes(self, a: int, b: int) -> Tensor:
        return _shape.swapaxes(self, a, b)

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> Tensor:
        return _shape.flatten(self, start_dim, end_dim)

    def squeeze(self, axis=None, *, dim=None) -> Tensor:
        return _shape.squeeze(self, _axis(axis, dim))

    def unsqueeze(self, dim: int | None = None, *, axis: int | None = None) -> Tensor:
        if (dim is None) == (axis is None):
            raise TypeError("unsqueeze: pass the new dimension as dim (or NumPy's axis)")
        return _shape.unsqueeze(self, dim if axis is None else axis)

    def expand(self, *shape) -> Tensor:
        """A broadcast view to ``shape``; -1 keeps that dimension's size (PyTorch's rule)."""
        if len(shape) == 1 and isinstance(shape[0], tuple | list):
            shape = tuple(shape[0])
        lead = len(shape) - self.ndim
        if lead < 0:
            raise RuntimeError(f"expand: the number of sizes ({len(shape)}) must be at least "
                               f"the number of dimensions ({self.ndim})")
        shape = tuple(self.shape[i - lead] if s == -1 and i >= lead else s
                      for i, s in enumerate(shape))
        return _shape.broadcast_to(self, shape)

    broadcast_to = expand


_TYPE_NAMES = {"float32": "FloatTensor", "float64": "DoubleTensor", "float16": "HalfTensor",
               "bfloat16": "BFloat16Tensor", "int64": "LongTensor", "int32": "IntTensor",
               "int16": "ShortTensor", "int8": "CharTensor", "uint8": "ByteTensor",
               "bool": "BoolTensor"}


def _type_name(dtype) -> str:
    return "gradflow." + _TYPE_NAMES.get(dtype.name, f"{dtype.name}Tensor")


def _rand_array(t: Tensor, generator, who: str):
    from gradflow.random import rng_for

    draw = t.dtype if t.dtype.name in ("float32", "float64") else "float64"
    return rng_for(generator, t._backend, who).random(t.shape, dtype=draw)


def _randn_array(t: Tensor, generator, who: str):
    from gradflow.random import rng_for

    draw = t.dtype if t.dtype.name in ("float32", "float64") else "float64"
    return rng_for(generator, t._backend, who).standard_normal(t.shape, dtype=draw)


def _mask_index(t: Tensor, mask, who: str):
    """``mask`` as a bool array of ``t``'s shape (broadcast), on ``t``'s device."""
    if not isinstance(mask, Tensor):
        raise TypeError(f"{who}: mask must be a bool Tensor, got {type(mask).__name__}")
    if mask.dtype.kind != "b":
        raise RuntimeError(f"{who}: expected a bool mask, got {mask.dtype}; compare first, "
                           "e.g. mask = x > 0")
    if mask._backend is not t._backend:
        raise RuntimeError(f"{who}: the mask is on {mask.device}, the tensor on {t.device}")
    try:
        return t._backend.xp.broadcast_to(mask.array, t.shape)
    except ValueError as exc:
        raise RuntimeError(f"{who}: the mask of shape {mask.shape} cannot be broadcast to the "
                           f"tensor's shape {t.shape}") from exc


def _is_cupy(x) -> bool:
    return type(x).__module__.startswith("cupy")


def _to_array(data: Any, dtype: Any = None, device: Any = None):
    """(array, backend) for ``gf.tensor``: a fresh array. Python floats (and lists of them)
    become float32 unless ``dtype`` says otherwise; an array keeps its dtype (float64 included),
    as ``torch.tensor`` does."""
    dt = as_dtype(dtype)
    if isinstance(data, Tensor):
        src_backend, data = data._backend, data.array
        if dt is None:
            dt = data.dtype  # copying a tensor keeps its dtype
    elif _is_cupy(data):
        src_backend = backend_of_array(data)
    else:
        src_backend = None
    backend = get_backend(device) if device is not None else (src_backend or get_backend(None))
    if src_backend is not None and src_backend is not backend:
        data = src_backend.to_host(data)
    if src_backend is None or src_backend is not backend:
        if data is None:
            raise TypeError("tensor: data is None; pass a number, a (nested) list or an array")
        try:
            host = np.asarray(data) if dt is None else np.asarray(data, dtype=dt)
        except ValueError as exc:
            raise TypeError(f"tensor: cannot build a tensor from this {type(data).__name__}: "
                            f"{exc} (every row of a nested list must have the same length)") \
                from exc
        _check_numeric(host, data)
        if dt is None and not isinstance(data, np.ndarray | np.generic):
            host = host.astype(_default_dtype(host), copy=False)
        return backend.from_host(np.array(host, copy=True)), backend
    array = data.astype(dt if dt is not None else data.dtype, copy=True)
    return array, backend


def _check_numeric(host: np.ndarray, data: Any) -> None:
    """gradflow holds bool, integer and real floating values (bfloat16 included)."""
    kind = host.dtype.kind
    if kind in "biuf" or host.dtype.name == "bfloat16":
        return
    if kind == "c":
        raise TypeError("tensor: complex values are not supported by gradflow's ops; pass the "
                        "real and imaginary parts as two real tensors")
    what = {"O": "objects (ragged nested lists, None or non-numeric items?)", "U": "strings",
            "S": "bytes", "M": "datetimes", "m": "timedeltas"}.get(kind, f"dtype {host.dtype}")
    raise TypeError(f"tensor: cannot build a tensor from {type(data).__name__} holding {what}; "
                    "expected numbers, bools or numeric arrays")


def _default_dtype(a) -> np.dtype:
    """Python floats (parsed by NumPy as float64) become float32; everything else is kept
    (Python ints are already int64 and bools bool)."""
    return DEFAULT_FLOAT if a.dtype == np.float64 else a.dtype


def _inplace(self: Tensor, other, op, name: str | None = None) -> Tensor:
    """``a += b`` (and ``-= *= /= **=``) changes ``a`` itself, as in PyTorch.

    Outside the graph (grad mode off, or nothing requires grad: e.g. ``p -= lr * p.grad`` under
    ``no_grad``) the result is written into ``a``'s array. In the graph, a leaf that requires
    grad is an error (its gradient would be lost); a non-leaf takes the op's node: the op runs on
    a copy of ``a`` and the result is written back, so values saved earlier from ``a`` raise at
    backward (its version moved). The result must keep ``a``'s shape and dtype."""
    from gradflow.autograd.grad_mode import _State

    needs_graph = _State.grad_enabled and (
        self._requires_grad or (isinstance(other, Tensor) and other._requires_grad))
    if not needs_graph:
        result = op(Tensor._make(self.array, self._backend), other)
        _check_inplace_result(self, result)
        self.array[...] = result.array
        self._ver.v += 1
        return self
    refuse_leaf_inplace(self, name or f"in-place {op.__name__}")
    result = op(self.clone(), other)
    _check_inplace_result(self, result)
    _setitem(self, Ellipsis, result)
    return self


def refuse_leaf_inplace(t: Tensor, op: str) -> None:
    """In grad mode, a leaf that requires grad may not change in place (as in PyTorch)."""
    if t.grad_fn is None and t._requires_grad:
        raise RuntimeError(
            f"{op}: a leaf tensor that requires grad (shape {t.shape}) is being used in an "
            "in-place operation; its gradient would be lost. Do it under gf.no_grad() (as an "
            "optimizer step or weight initialisation does), or on a copy (t = t.clone()).")


def _check_inplace_result(self: Tensor, result: Tensor) -> None:
    if result.shape != self.shape:
        raise RuntimeError(f"in-place operation: the result has shape {result.shape}, which "
                           f"does not fit the tensor's shape {self.shape} (broadcasting may "
                           "not grow the tensor being updated); write it out of place")
    # a cast within a kind (float64 into float32) or of a real result into a float tensor
    castable = result.dtype.kind == self.dtype.kind or (
        is_inexact(self.dtype) and result.dtype.kind in "biuf")
    if not castable:
        raise RuntimeError(f"in-place operation: result type {result.dtype} can't be cast to "
                           f"the tensor's dtype {self.dtype}; write it out of place or convert "
                           "first (.to(dtype=...))")


def _compare(a: Tensor, b, name: str) -> Tensor:
    if b is None:  # as PyTorch: t == None is False, t != None True, t < None a TypeError
        if name in ("__eq__", "__ne__"):
            return name == "__ne__"
        raise TypeError(f"'{name.strip('_')}' is not supported between a Tensor and None")
    other = b.array if isinstance(b, Tensor) else b
    if isinstance(b, Tensor) and b._backend is not a._backend:
        raise RuntimeError(f"comparison {name}: tensors on different devices ({a.device} and "
                           f"{b.device})")
    out = getattr(a.array, name)(other)
    if out is NotImplemented:
        return NotImplemented
    return Tensor._make(out, a._backend)


def tensor_backend(t: Tensor) -> Backend:
    return t._backend


def tensor_methods(*, replace: tuple[str, ...] = (), **methods: Callable) -> None:
    """Bind op-family functions as Tensor methods: ``tensor_methods(cumsum=cumsum)`` makes
    ``t.cumsum(dim)`` call ``cumsum(t, dim)`` (PyTorch's methods are its functions with the
    input as ``self``). An op module calls it once, at its end, so the method exists as soon as
    the op does. Binding over an existing attribute is an error unless it is named in
    ``replace`` (no silent override of a method another family defined)."""
    for name, fn in methods.items():
        if name in Tensor.__dict__ and name not in replace:
            raise RuntimeError(f"Tensor.{name} is defined already; name it in replace=(...) to "
                               f"rebind it to {fn.__module__}.{fn.__qualname__}")
        setattr(Tensor, name, fn)


# The ops modules import Tensor; bind the operators' implementations once they exist.
from gradflow.ops import activation as _act  # noqa: E402
from gradflow.ops import math as _math  # noqa: E402
from gradflow.ops import reduction as _reduce  # noqa: E402
from gradflow.ops import shape as _shape  # noqa: E402
from gradflow.ops.arithmetic import add as _add  # noqa: E402
from gradflow.ops.arithmetic import div as _div  # noqa: E402
from gradflow.ops.arithmetic import mul as _mul  # noqa: E402
from gradflow.ops.arithmetic import neg as _neg  # noqa: E402
from gradflow.ops.arithmetic import pow as _pow  # noqa: E402
from gradflow.ops.arithmetic import sub as _sub  # noqa: E402
from gradflow.ops.indexing import getitem as _getitem  # noqa: E402
from gradflow.ops.indexing import setitem as _setitem  # noqa: E402
from gradflow.ops.math import abs as _abs  # noqa: E402
from gradflow.ops.matmul import bmm as _bmm  # noqa: E402
from gradflow.ops.matmul import matmul as _matmul  # noqa: E402
from gradflow.ops.matmul import mm as _mm  # noqa: E402

__all__ = ["Size", "Tensor", "backend_of_array", "cpu_backend", "tensor_methods"]
