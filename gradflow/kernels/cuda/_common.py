"""Shared pieces of the CUDA overrides: the dispatch to fused kernels, lazy kernel builders, the
per-dtype prelude, reductions.

* :class:`Overrides` declares a family's overrides: ``@table.fused(fits=...)`` runs a fused kernel
  where dtypes and layout fit and the generic kernel otherwise; ``@table.replace`` always runs
  its function. Both check once that the function has the generic kernel's exact parameters.

Every kernel source is a module-level string (so ``tests/cuda`` can compile it without a GPU);
nothing here imports CuPy until a kernel is first built.

* Elementwise kernels are described by an :class:`EW` spec and built once into a
  ``cupy.ElementwiseKernel`` (which itself compiles once per dtype on first call).
* Raw kernels are CUDA sources written against a type ``T``; :func:`raw` compiles one module
  per (source, dtype) with :data:`PRELUDE` defining ``T`` and cached with ``functools.cache``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from functools import cache, partial
from typing import Any, NamedTuple


def _parameters(fn: Callable) -> list[tuple[str, Any, Any]]:
    return [(p.name, p.kind, p.default) for p in inspect.signature(fn).parameters.values()]


def kernel_signature(generic: Callable) -> inspect.Signature:
    """The signature of ``generic`` without its leading ``xp``: what a backend's kernel takes."""
    sig = inspect.signature(generic)
    return sig.replace(parameters=list(sig.parameters.values())[1:])


def _check_parameters(name: str, role: str, fn: Callable, sig: inspect.Signature) -> None:
    want = [(p.name, p.kind, p.default) for p in sig.parameters.values()]
    if _parameters(fn) != want:
        raise TypeError(f"CUDA override {name!r}: the {role} takes {inspect.signature(fn)}, "
                        f"the generic kernel takes {sig}")


def fused(xp: Any, generic: Callable, fast: Callable, fits: Callable[..., bool]) -> Callable:
    """The kernel ``fast(...) if fits(...) else generic(xp, ...)``, built once.

    ``fast`` and ``fits`` take exactly the parameters of ``generic`` after ``xp`` (checked here,
    so defaults cannot drift); the result has that signature and exposes ``.fast``, ``.fits``
    and ``.generic``. The call costs one ``fits`` call on top of the chosen kernel.
    """
    name = generic.__name__
    sig = kernel_signature(generic)
    _check_parameters(name, "fused kernel", fast, sig)
    _check_parameters(name, "fits predicate", fits, sig)
    slow = partial(generic, xp)

    def kernel(*args, **kwargs):
        if fits(*args, **kwargs):
            return fast(*args, **kwargs)
        return slow(*args, **kwargs)

    kernel.__name__ = kernel.__qualname__ = name
    kernel.__doc__ = fast.__doc__ or generic.__doc__
    kernel.__signature__ = sig
    kernel.fast, kernel.fits, kernel.generic = fast, fits, generic
    return kernel


class Overrides:
    """A family's override table for one backend, declared beside the code it runs::

        table = Overrides(backend, generic)

        @table.fused(fits=lambda x: floats(x))   # dtypes/layout the fused kernel accepts
        def relu(x):                              # the generic kernel's name and parameters
            return elementwise("relu", SPEC)(x)

        return table.kernels

    ``replace`` registers a function that always runs (it may call ``table.generic(name)``).
    Names that are not generic kernels, and parameter lists that differ, raise at once.
    """

    def __init__(self, backend: Any, generic: dict[str, Callable]):
        self.xp = backend.xp
        self._generic = generic
        self.kernels: dict[str, Callable] = {}

    def generic(self, name: str) -> Callable:
        """The generic kernel ``name`` (unbound: it takes ``xp`` first)."""
        try:
            return self._generic[name]
        except KeyError:
            raise KeyError(f"CUDA override {name!r} replaces no generic kernel") from None

    def fused(self, fits: Callable[..., bool]) -> Callable[[Callable], Callable]:
        """Decorator: the kernel named like the function runs it where ``fits`` holds."""

        def register(fast: Callable) -> Callable:
            kernel = fused(self.xp, self.generic(fast.__name__), fast, fits)
            self.kernels[fast.__name__] = kernel
            return kernel

        return register

    def replace(self, fn: Callable) -> Callable:
        """Decorator: the kernel named like ``fn`` is ``fn`` (checked against its signature)."""
        _check_parameters(fn.__name__, "override", fn, kernel_signature(self.generic(fn.__name__)))
        self.kernels[fn.__name__] = fn
        return fn


def floats(*arrays) -> bool:
    """Whether the arrays (None entries skipped) are all float32 or all float64."""
    dtype = None
    for a in arrays:
        if a is None:
            continue
        if dtype is None:
            dtype = a.dtype
            if dtype.char not in "fd":
                return False
        elif a.dtype != dtype:
            return False
    return dtype is not None


def rows_fit(a) -> bool:
    """Whether ``a`` is a non-empty C-contiguous float32/float64 array (a row kernel's input)."""
    return a.dtype.char in "fd" and a.size > 0 and a.flags.c_contiguous


#: dtype.char -> C type of the raw kernels. Other dtypes fall back to the generic kernels.
CTYPES = {"f": "float", "d": "double"}

PRELUDE = {
    "f": ("typedef float T;\n#define GF_NEG_INF (-__int_as_float(0x7f800000))\n"
          "#define GF_NAN __int_as_float(0x7fffffff)\n"),
    "d": ("typedef double T;\n#define GF_NEG_INF (-__longlong_as_double(0x7ff0000000000000LL))\n"
          "#define GF_NAN __longlong_as_double(0x7ff8000000000000LL)\n"),
}

#: Warp and block reductions (sum, and the (max, Σ exp(x − max)) pair of online softmax).
#: ``block_*`` need blockDim.x a multiple of 32 and every thread of the block to call them;
#: with blockDim.x == 32 (one warp per row) they are warp-only and never touch shared memory.
REDUCE_SRC = r"""
#ifndef GF_REDUCE_SRC
#define GF_REDUCE_SRC
#define GF_FULL_MASK 0xffffffffu

__device__ __forceinline__ T gf_warp_sum(T v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(GF_FULL_MASK, v, o);
    return v;
}

__device__ __forceinline__ T gf_block_sum(T v, T* sh) {
    v = gf_warp_sum(v);
    if (blockDim.x == 32) return v;
    const int lane = threadIdx.x & 31, wid = threadIdx.x >> 5, nw = blockDim.x >> 5;
    __syncthreads();                 /* sh may still be read from a previous call */
    if (lane == 0) sh[wid] = v;
    __syncthreads();
    if (wid == 0) {
        v = lane < nw ? sh[lane] : (T)0;
        v = gf_warp_sum(v);
        if (lane == 0) sh[0] = v;
    }
    __syncthreads();
    return sh[0];
}

/* (m, s) with s = sum exp(x - m); merging keeps NaN in s and never forms inf - inf. */
__device__ __forceinline__ void gf_lse_push(T& m, T& s, T x) {
    if (x > m) { s = s * exp(m - x) + (T)1; m = x; }
    else { s += (x == m) ? (T)1 : exp(x - m); }
}

__device__ __forceinline__ void gf_lse_merge(T& m, T& s, T m2, T s2) {
    if (m2 > m) { s = s * exp(m - m2) + s2; m = m2; }
    else { s += (m2 == m) ? s2 : s2 * exp(m2 - m); }
}

__device__ __forceinline__ void gf_warp_lse(T& m, T& s) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) {
        T m2 = __shfl_xor_sync(GF_FULL_MASK, m, o);
        T s2 = __shfl_xor_sync(GF_FULL_MASK, s, o);
        gf_lse_merge(m, s, m2, s2);
    }
}

__device__ __forceinline__ void gf_block_lse(T& m, T& s, T* sh_m, T* sh_s) {
    gf_warp_lse(m, s);
    if (blockDim.x == 32) return;
    const int lane = threadIdx.x & 31, wid = threadIdx.x >> 5, nw = blockDim.x >> 5;
    __syncthreads();
    if (lane == 0) { sh_m[wid] = m; sh_s[wid] = s; }
    __syncthreads();
    if (wid == 0) {
        m = lane < nw ? sh_m[lane] : GF_NEG_INF;
        s = lane < nw ? sh_s[lane] : (T)0;
        gf_warp_lse(m, s);
        if (lane == 0) { sh_m[0] = m; sh_s[0] = s; }
    }
    __syncthreads();
    m = sh_m[0];
    s = sh_s[0];
}
#endif
"""


class EW(NamedTuple):
    """An ``ElementwiseKernel`` spec: the exact arguments it is built from."""

    in_params: str
    out_params: str
    operation: str
    preamble: str = ""
    options: tuple = ()


def ctype_of(dtype) -> str | None:
    return CTYPES.get(dtype.char)


@cache
def elementwise(name: str, spec: EW):
    """The ``cupy.ElementwiseKernel`` for ``spec`` (built on first use; CuPy compiles per dtype)."""
    import cupy

    return cupy.ElementwiseKernel(spec.in_params, spec.out_params, spec.operation,
                                  f"gradflow_{name}", preamble=spec.preamble,
                                  options=spec.options)


def raw_source(source: str, dtype_char: str) -> str:
    """The full CUDA source of a raw kernel for one dtype (what :func:`raw` compiles)."""
    return PRELUDE[dtype_char] + source


@cache
def _module(source: str, dtype_char: str):
    import cupy

    return cupy.RawModule(code=raw_source(source, dtype_char), options=("--std=c++17",))


@cache
def raw(source: str, name: str, dtype_char: str):
    """The kernel ``name`` of ``source`` compiled for ``dtype_char`` (one module per source and
    dtype, compiled on first use)."""
    return _module(source, dtype_char).get_function(name)


def row_launch(rows: int, cols: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Grid and block for a row kernel: one warp per row (8 rows a block) up to 1024 columns,
    else one block per row with a power of two ≥ 64 threads, about 8 elements each."""
    if cols <= 1024:
        return ((rows + 7) // 8,), (32, 8)
    threads = 1 << max(6, min(9, (cols // 8 - 1).bit_length()))
    return (rows,), (threads, 1)


def column_launch(rows: int, cols: int) -> tuple[tuple[int, int], tuple[int, int], int]:
    """Grid, block and rows per chunk for the column-strip kernels: 32 columns a block,
    the rows split into chunks so that about 512 blocks run."""
    col_blocks = (cols + 31) // 32
    chunks = max(1, min((rows + 31) // 32, 512 // col_blocks, 65535))
    per_chunk = (rows + chunks - 1) // chunks
    chunks = (rows + per_chunk - 1) // per_chunk
    return (col_blocks, chunks), (32, 8), per_chunk


def as_rows(a, ndim_tail: int = 1):
    """``a`` as a C-contiguous (rows, cols) view when it is one, else None."""
    if not a.flags.c_contiguous or a.size == 0 or a.ndim < ndim_tail:
        return None
    cols = 1
    for s in a.shape[a.ndim - ndim_tail:]:
        cols *= s
    return a.reshape(a.size // cols, cols)
