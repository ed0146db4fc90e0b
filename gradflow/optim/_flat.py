"""The CPU driver of the elementwise optimizer updates: cache-sized blocks and packed small tensors.

An update such as Adam's is a chain of about ten NumPy passes. Run over a whole 1M-element
parameter, each pass streams its operands through memory; run over blocks of ``BLOCK_BYTES``,
the intermediates (two scratch blocks) stay in the L2 cache and only the parameter, its gradient
and its state are read and written once per step. Parameters smaller than ``SMALL`` elements
(biases, norm scales) of an update with state are *packed*: their state lives in one flat
buffer per slot (each state Tensor is a view into it, so ``state_dict`` keeps PyTorch's
per-parameter layout), their values and gradients are gathered into one block, updated by one
kernel call and scattered back. The float operations are those of the kernel applied to each
parameter alone, so results are bit-identical to the per-parameter loop.

Nothing here holds a view of a parameter or of a gradient: they are read from ``p.array`` and
``p.grad`` on every step, so rebinding ``p.data`` (or ``p.array``) between steps is always seen.
State Tensors are checked by identity each step; one that was replaced (``load_state_dict``,
user code) rebuilds its pack, copying the current values.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gradflow.tensor import Tensor

BLOCK_BYTES = 262144  # bytes per operand and kernel call (65536 float32): the ~6 operands of a
#                      block stay in a 2 MiB L2 (measured best of 16-128 Ki float32 elements)
SMALL = 4096  # parameters with fewer elements than this are packed with their neighbours
AXPY_MIN = 4096  # below this, a BLAS call through ctypes costs more than the two NumPy passes
_MAX_PACKS = 64  # layouts kept per optimizer; a changing set of gradients rebuilds beyond this

# one item: (param, grad array, state dict, state keys in kernel order (None: slot unused),
#            the kernel's scalar arguments)
Item = tuple[Tensor, Any, dict, tuple, tuple]


def on_cpu(p: Tensor) -> bool:
    """Whether ``p`` lives in a NumPy array (the blocked driver's domain)."""
    return p._backend.xp is np


def run(kernel, items: list[Item], packs: dict) -> None:
    """Apply ``kernel(p, g, *states, *scalars, tmp=...)`` to every item (all with the same state
    keys: one parameter group), in place, and bump each parameter's version. ``packs`` is the
    optimizer's cache of packed layouts."""
    small: dict[tuple, list[Item]] = {}
    scratch: dict[Any, tuple[np.ndarray, np.ndarray]] = {}
    # without state (plain SGD) a small tensor costs two passes alone: gathering and scattering
    # it would cost more than they save
    stateful = any(k is not None for k in items[0][3]) if items else False
    for item in items:
        p, g, st, keys, scalars = item
        pa = p.array
        dtype = pa.dtype
        if pa.size < SMALL:
            if stateful and g.dtype == dtype:
                small.setdefault((dtype.str, keys, scalars), []).append(item)
                continue
            # a small stateless update: the plain call (its temporaries are small too)
            kernel(pa, g, *(None if k is None else st[k].array for k in keys), *scalars)
            p.increment_version()
            continue
        tmp = scratch.get(dtype.str)
        if tmp is None:
            block = _block(dtype)
            tmp = scratch[dtype.str] = (np.empty(block, dtype), np.empty(block, dtype))
        states = [None if k is None else st[k].array for k in keys]
        _blocked(kernel, pa, g, states, scalars, tmp)
        p.increment_version()
    for (_, keys, scalars), members in small.items():
        block = _block(members[0][0].array.dtype)
        start = 0
        while start < len(members):  # consecutive runs of at most one block
            end, total = start, 0
            while end < len(members) and (end == start or
                                          total + members[end][0].array.size <= block):
                total += members[end][0].array.size
                end += 1
            _packed(kernel, members[start:end], keys, scalars, packs)
            start = end


def _block(dtype) -> int:
    """Elements per block for ``dtype``."""
    return max(1024, BLOCK_BYTES // dtype.itemsize)


def _blocked(kernel, pa, g, states, scalars, tmp) -> None:
    arrays = [pa, g, *(s for s in states if s is not None)]
    n = pa.size
    if not all(a.flags.c_contiguous and a.shape == pa.shape and a.dtype == pa.dtype
               for a in arrays):
        kernel(pa, g, *states, *scalars)  # odd layout or dtype: one whole-array call
        return
    t1, t2 = tmp
    block = t1.size
    if n <= block:
        kernel(pa, g, *states, *scalars, tmp=(t1[:n].reshape(pa.shape), t2[:n].reshape(pa.shape)))
        return
    fp, fg = pa.reshape(-1), g.reshape(-1)
    fs = [None if s is None else s.reshape(-1) for s in states]
    for s in range(0, n, block):
        e = min(s + block, n)
        k = e - s
        kernel(fp[s:e], fg[s:e], *(None if a is None else a[s:e] for a in fs), *scalars,
               tmp=(t1[:k], t2[:k]))


class _Pack:
    """A run of small parameters: flat state buffers and their per-parameter views, the
    gather buffers for values and gradients, and two scratch blocks."""

    __slots__ = ("params", "views", "flats", "pbuf", "gbuf", "pviews", "tmp", "total")

    def __init__(self, members: list[Item], keys: tuple):
        params = [m[0] for m in members]
        sizes = [p.array.size for p in params]
        total = sum(sizes)
        dtype = params[0].array.dtype
        offsets = np.cumsum([0] + sizes).tolist()
        self.params = params
        self.total = total
        self.flats = [None if k is None else np.empty(total, dtype) for k in keys]
        self.views: list[list[Any]] = []  # per slot, per parameter: the state array (a view)
        for k, flat in zip(keys, self.flats):
            if flat is None:
                self.views.append([])
                continue
            slot = []
            for (p, _, st, _, _), o, e in zip(members, offsets, offsets[1:]):
                view = flat[o:e].reshape(p.array.shape)
                t = st[k]
                view[...] = t.array  # the current values (zeros on a first step)
                t.array = view  # the same Tensor, now a view: references to it stay live
                slot.append(view)
            self.views.append(slot)
        self.pbuf = np.empty(total, dtype)
        self.gbuf = np.empty(total, dtype)
        self.pviews = [self.pbuf[o:e].reshape(p.array.shape)
                       for p, o, e in zip(params, offsets, offsets[1:])]
        self.tmp = (np.empty(total, dtype), np.empty(total, dtype))

    def valid(self, members: list[Item], keys: tuple) -> bool:
        """The same parameters (shapes unchanged) whose state Tensors still hold our views."""
        if len(members) != len(self.params):
            return False
        if not all(m[0] is p and m[0].array.shape == v.shape
                   for m, p, v in zip(members, self.params, self.pviews)):
            return False
        return all(m[2][k].array is view for k, slot in zip(keys, self.views) if k is not None
                   for m, view in zip(members, slot))


def _packed(kernel, members: list[Item], keys: tuple, scalars: tuple, packs: dict) -> None:
    key = (keys, tuple(id(m[0]) for m in members))
    pack = packs.get(key)
    if pack is None or not pack.valid(members, keys):
        if len(packs) >= _MAX_PACKS:
            packs.clear()
        pack = packs[key] = _Pack(members, keys)
    arrays = [m[0].array for m in members]
    np.concatenate(arrays, axis=None, out=pack.pbuf)
    np.concatenate([m[1] for m in members], axis=None, out=pack.gbuf)
    kernel(pack.pbuf, pack.gbuf, *pack.flats, *scalars, tmp=pack.tmp)
    copyto = np.copyto
    for pa, v in zip(arrays, pack.pviews):
        copyto(pa, v)
    for m in members:
        m[0].increment_version()


# --- y += alpha * x in one pass: NumPy's own BLAS (no second thread pool) -----------------------
_AXPY: dict[str, Any] | None = None


def _load_axpy() -> dict[str, Any]:
    """``{dtype.str: cblas ?axpy}`` from the OpenBLAS that NumPy's wheels bundle (ILP64,
    ``scipy_cblas_?axpy64_``); empty where NumPy uses another BLAS (then nothing uses it)."""
    import ctypes
    import glob
    import os

    found: dict[str, Any] = {}
    libs = os.path.join(os.path.dirname(os.path.dirname(np.__file__)), "numpy.libs")
    for path in sorted(glob.glob(os.path.join(libs, "*openblas64_*"))):
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for code, ctype, dtype in (("s", ctypes.c_float, "<f4"), ("d", ctypes.c_double, "<f8")):
            fn = getattr(lib, f"scipy_cblas_{code}axpy64_", None)
            if fn is None:
                continue
            fn.restype = None
            fn.argtypes = [ctypes.c_int64, ctype, ctypes.c_void_p, ctypes.c_int64,
                           ctypes.c_void_p, ctypes.c_int64]
            found[dtype] = fn
        if found:
            break
    return found


def axpy(alpha: float, x: np.ndarray, y: np.ndarray) -> bool:
    """``y += alpha·x`` in place as one fused multiply-add pass (BLAS ``axpy``, PyTorch's
    ``y.add_(x, alpha=alpha)`` bit for bit); ``False`` (nothing done) unless both arrays are
    C-contiguous float32/float64 of one shape and dtype and NumPy's bundled BLAS has it."""
    global _AXPY
    if _AXPY is None:
        _AXPY = _load_axpy()
    fn = _AXPY.get(y.dtype.str)
    if (fn is None or x.dtype != y.dtype or x.shape != y.shape or not y.flags.c_contiguous
            or not x.flags.c_contiguous or not y.flags.writeable):
        return False
    fn(y.size, alpha, x.ctypes.data, 1, y.ctypes.data, 1)
    return True
