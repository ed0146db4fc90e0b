"""Run the CUDA kernels of ``gradflow.kernels.cuda`` on the CPU, to check their logic without a GPU.

The raw kernel sources and the ElementwiseKernel bodies are compiled as C++ (g++, C++20) against
a small emulation of the CUDA execution model (``EMU_H``): blocks run one after another, each with
one OS thread per CUDA thread; ``__syncthreads`` is a block barrier, ``__shfl_xor_sync`` a warp
barrier around a per-warp buffer, ``__shared__`` memory a function-static array (shared by the
threads of the running block). Threads that return early drop out of the barriers, as on a GPU.

:func:`patch` swaps the families' ``raw``/``elementwise`` builders for these emulated kernels, so
the real override code (argument checks, launch geometry, reshapes, fallbacks) runs with NumPy as
``xp``. What this does not check: CUDA's own math library and FMA contraction, real memory
coalescing and timing. ``cuda_compile_check.py`` covers the CUDA toolchain side.
"""

from __future__ import annotations

import ctypes
import os
import re
import shutil
import subprocess
import tempfile

import numpy as np
from cuda_compile_check import _params, emulated_elementwise

from gradflow.kernels.cuda import sources
from gradflow.kernels.cuda._common import PRELUDE

EMU_H = r"""
#include <algorithm>
#include <barrier>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>
using std::erf; using std::exp; using std::fabs; using std::log; using std::sqrt; using std::tanh;

struct emu_dim3 { unsigned x, y, z; };
inline thread_local emu_dim3 threadIdx = {0, 0, 0};
inline thread_local emu_dim3 blockIdx = {0, 0, 0};
inline emu_dim3 blockDim = {1, 1, 1};
inline emu_dim3 gridDim = {1, 1, 1};

struct EmuBlock {
    std::unique_ptr<std::barrier<>> block;
    std::vector<std::unique_ptr<std::barrier<>>> warps;
    std::vector<double> wbuf;
};
inline EmuBlock* emu_blk = nullptr;
inline thread_local int emu_warp = 0, emu_lane = 0;

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __restrict__ __restrict
#define __shared__ static

inline void __syncthreads() { emu_blk->block->arrive_and_wait(); }

template <typename U> inline U __shfl_xor_sync(unsigned, U v, int o) {
    double* buf = &emu_blk->wbuf[emu_warp * 32];
    buf[emu_lane] = (double)v;
    emu_blk->warps[emu_warp]->arrive_and_wait();
    U r = (U)buf[emu_lane ^ o];
    emu_blk->warps[emu_warp]->arrive_and_wait();
    return r;
}
inline float __int_as_float(int i) { float f; std::memcpy(&f, &i, 4); return f; }
inline double __longlong_as_double(long long i) { double d; std::memcpy(&d, &i, 8); return d; }

/* Elementwise kernels run as one thread in a 1x1 grid: reset what the last launch left. */
extern "C" void emu_reset() {
    blockDim = {1, 1, 1};
    gridDim = {1, 1, 1};
}

template <class F> void emu_launch(unsigned gx, unsigned gy, unsigned bx, unsigned by, F f) {
    gridDim = {gx, gy, 1};
    blockDim = {bx, by, 1};
    const unsigned nt = bx * by, nw = (nt + 31) / 32;
    for (unsigned b_y = 0; b_y < gy; ++b_y)
        for (unsigned b_x = 0; b_x < gx; ++b_x) {
            EmuBlock blk;
            blk.block = std::make_unique<std::barrier<>>(nt);
            for (unsigned w = 0; w < nw; ++w)
                blk.warps.push_back(std::make_unique<std::barrier<>>(
                    (std::ptrdiff_t)std::min(32u, nt - 32 * w)));
            blk.wbuf.assign(nw * 32, 0.0);
            emu_blk = &blk;
            std::vector<std::thread> ts;
            for (unsigned t = 0; t < nt; ++t)
                ts.emplace_back([&, t] {
                    threadIdx = {t % bx, t / bx, 0};
                    blockIdx = {b_x, b_y, 0};
                    emu_warp = (int)(t / 32);
                    emu_lane = (int)(t % 32);
                    f();
                    blk.block->arrive_and_drop();
                    blk.warps[emu_warp]->arrive_and_drop();
                });
            for (auto& th : ts) th.join();
        }
}
"""

_KERNEL_RE = re.compile(r'extern "C" __global__ void (\w+)\(([^)]*)\)')


def _launchers(source: str) -> str:
    """``launch_<name>(gx, gy, bx, by, params...)`` for every kernel in ``source``."""
    out = []
    for name, params in _KERNEL_RE.findall(source):
        decls = [" ".join(p.split()) for p in params.split(",")]
        names = [d.split()[-1] for d in decls]
        out.append(f'extern "C" void launch_{name}(unsigned emu_gx, unsigned emu_gy, '
                   f'unsigned emu_bx, unsigned emu_by, {", ".join(decls)}) {{\n'
                   f'    emu_launch(emu_gx, emu_gy, emu_bx, emu_by, '
                   f'[=] {{ {name}({", ".join(names)}); }});\n}}\n')
    return "\n".join(out)


def library_source(dtype_char: str) -> str:
    src = sources()
    raw = "\n".join(src["raw"].values())
    ew = "\n".join(emulated_elementwise(n, s, dtype_char) for n, s in src["elementwise"].items())
    return EMU_H + PRELUDE[dtype_char] + raw + _launchers(raw) + ew


def build(directory: str | None = None) -> dict[str, ctypes.CDLL]:
    """Compile the float32 and float64 libraries; {dtype.char: CDLL}."""
    cxx = shutil.which("g++") or shutil.which("c++")
    if cxx is None:
        raise FileNotFoundError("no C++ compiler (g++) found")
    directory = directory or tempfile.mkdtemp(prefix="gradflow_emu_")
    procs = {}
    for ch in ("f", "d"):
        cpp = os.path.join(directory, f"emu_{ch}.cpp")
        with open(cpp, "w") as f:
            f.write(library_source(ch))
        so = os.path.join(directory, f"emu_{ch}.so")
        procs[ch] = (so, subprocess.Popen(
            [cxx, "-std=c++20", "-O1", "-ffp-contract=off", "-shared", "-fPIC", "-pthread", "-w",
             cpp, "-o", so], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    libs = {}
    for ch, (so, proc) in procs.items():
        out, _ = proc.communicate(timeout=600)
        if proc.returncode != 0:
            raise RuntimeError(f"emulation library ({ch}) failed to compile:\n{out[:6000]}")
        libs[ch] = ctypes.CDLL(so)
    return libs


def _c_arg(a):
    if isinstance(a, np.ndarray):
        return ctypes.c_void_p(a.ctypes.data)
    if isinstance(a, np.int64):
        return ctypes.c_longlong(int(a))
    if isinstance(a, np.int32):
        return ctypes.c_int(int(a))
    if isinstance(a, np.float32):
        return ctypes.c_float(float(a))
    if isinstance(a, np.float64):
        return ctypes.c_double(float(a))
    raise TypeError(f"raw kernel argument of type {type(a).__name__}")


class EmuRaw:
    def __init__(self, libs, name, dtype_char):
        self.fn = getattr(libs[dtype_char], f"launch_{name}")

    def __call__(self, grid, block, args):
        grid = tuple(grid) + (1,) * (2 - len(grid))
        block = tuple(block) + (1,) * (2 - len(block))
        for a in args:
            if isinstance(a, np.ndarray) and not a.flags.c_contiguous:
                raise ValueError("raw kernel given a non-contiguous array")
        self.fn(ctypes.c_uint(grid[0]), ctypes.c_uint(grid[1]), ctypes.c_uint(block[0]),
                ctypes.c_uint(block[1]), *[_c_arg(a) for a in args])


_NUMPY_TYPES = {"float32", "float64", "int32", "int64", "bool"}


class EmuElementwise:
    """A stand-in for ``cupy.ElementwiseKernel`` (broadcasting, placeholder types, outputs)."""

    def __init__(self, libs, name, spec):
        self.libs, self.name = libs, name
        self.ins = _params(spec.in_params)
        self.outs = _params(spec.out_params)

    def __call__(self, *args):
        ins, outs = args[:len(self.ins)], list(args[len(self.ins):])
        types = {}
        for (_raw, typ, _), a in zip(self.ins + self.outs, list(ins) + outs):
            if typ not in _NUMPY_TYPES and isinstance(a, np.ndarray) and typ not in types:
                types[typ] = a.dtype
        dt = types["T"]
        shape = np.broadcast_shapes(*[np.shape(a) for a in list(ins) + outs])

        def conv(typ, a):
            target = np.dtype(typ) if typ in _NUMPY_TYPES else (
                dt if typ == "T" else np.dtype("int64"))
            if not isinstance(a, np.ndarray):   # a Python scalar: cast as CuPy does
                a = np.asarray(target.type(a))
            return np.ascontiguousarray(np.broadcast_to(a, shape), dtype=target)

        cin = [conv(t, a) for (_r, t, _), a in zip(self.ins, ins)]
        if not outs:
            outs = [np.empty(shape, dtype=dt) for _ in self.outs]
        work = [o if o.flags.c_contiguous else np.ascontiguousarray(o) for o in outs]
        lib = self.libs[dt.char]
        lib.emu_reset()
        fn = getattr(lib, f"gradflow_{self.name}")
        fn(*[_c_arg(a) for a in cin + work], ctypes.c_longlong(int(np.prod(shape))))
        for o, w in zip(outs, work):
            if o is not w:
                o[...] = w
        return outs[0] if len(outs) == 1 else tuple(outs)


def patch(monkeypatch, libs) -> None:
    """Point every family's kernel builders at the emulated kernels."""
    from gradflow.kernels.cuda import elementwise, loss, normalization, optim, softmax

    specs = sources()["elementwise"]

    def raw(source, name, dtype_char):
        return EmuRaw(libs, name, dtype_char)

    def ew(name, spec):
        assert specs[name] == spec
        return EmuElementwise(libs, name, spec)

    for mod in (softmax, loss, normalization):
        monkeypatch.setattr(mod, "raw", raw)
    for mod in (elementwise, loss, optim):
        monkeypatch.setattr(mod, "elementwise", ew)
