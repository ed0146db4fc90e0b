"""Compile every CUDA kernel source of ``gradflow.kernels.cuda`` without a GPU.

Two ways, both for one architecture (default sm_90, the H100):

* ``nvcc``: one translation unit per dtype holding every raw kernel (as :func:`raw` compiles it)
  and every ElementwiseKernel body inside a stand-in for the loop CuPy generates around it
  (same names and types: inputs ``const T``, outputs ``T&``, ``raw`` params pointers, index
  ``i``), compiled to SASS with ``nvcc -arch=sm_XX -c``. Needs only nvcc, no CuPy, no GPU.
* ``nvrtc``: CuPy's own code generator for the ElementwiseKernels (``_get_elementwise_kernel_code``
  with CuPy's header, all inputs passed as arrays) and the raw sources, compiled by NVRTC to a
  cubin. Needs CuPy and its NVRTC library, no GPU. Uses CuPy internals: best effort.

Run ``python tests/cuda/cuda_compile_check.py [nvcc|nvrtc] [arch]`` from the repository root.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile

from gradflow.kernels.cuda import sources
from gradflow.kernels.cuda._common import PRELUDE

_NUMPY_C = {"float32": "float", "float64": "double", "int32": "int", "int64": "long long",
            "uint32": "unsigned int", "bool": "bool"}


def _params(decl: str):
    """[(raw, type, name)] of an ElementwiseKernel parameter list."""
    out = []
    for item in decl.split(","):
        words = item.split()
        raw = words[0] == "raw"
        if raw:
            words = words[1:]
        out.append((raw, words[0], words[1]))
    return out


def _ctype(typ: str, dtype_char: str) -> str:
    if typ in _NUMPY_C:
        return _NUMPY_C[typ]
    return "T" if typ == "T" else "long long"   # S: the integer target type


def emulated_elementwise(name: str, spec, dtype_char: str) -> str:
    """A CUDA kernel with the loop CuPy wraps around ``spec.operation``."""
    args, body = [], []
    for raw, typ, pname in _params(spec.in_params):
        c = _ctype(typ, dtype_char)
        if raw:
            args.append(f"const {c}* __restrict__ {pname}")
        else:
            args.append(f"const {c}* __restrict__ _in_{pname}")
            body.append(f"const {c} {pname} = _in_{pname}[i]; (void){pname};")
    for _raw, typ, pname in _params(spec.out_params):
        c = _ctype(typ, dtype_char)
        args.append(f"{c}* __restrict__ _out_{pname}")
        body.append(f"{c} &{pname} = _out_{pname}[i];")
    return (f"{spec.preamble}\n"
            f'extern "C" __global__ void gradflow_{name}({", ".join(args)}, long long _n) {{\n'
            "  for (ptrdiff_t i = (ptrdiff_t)blockIdx.x * blockDim.x + threadIdx.x; i < _n;\n"
            "       i += (ptrdiff_t)blockDim.x * gridDim.x) {\n    "
            + "\n    ".join(body) + f"\n    {spec.operation};\n  }}\n}}\n")


def translation_unit(dtype_char: str) -> str:
    """Every raw kernel and every emulated ElementwiseKernel for one dtype, as one source."""
    src = sources()
    parts = [PRELUDE[dtype_char]]
    parts += list(src["raw"].values())
    parts += [emulated_elementwise(n, s, dtype_char) for n, s in src["elementwise"].items()]
    return "\n".join(parts)


def compile_nvcc(arch: str = "90", nvcc: str | None = None) -> dict[str, str]:
    """{dtype: ''} on success, {dtype: compiler log} on failure, one nvcc run per dtype."""
    nvcc = nvcc or shutil.which("nvcc")
    if nvcc is None:
        raise FileNotFoundError("nvcc not found")
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        procs = {}
        for ch, name in (("f", "float32"), ("d", "float64")):
            path = os.path.join(tmp, f"gradflow_{name}.cu")
            with open(path, "w") as f:
                f.write(translation_unit(ch))
            cmd = [nvcc, f"-arch=sm_{arch}", "-std=c++17", "-c", path, "-o",
                   os.path.join(tmp, f"{name}.o"), "-Werror", "all-warnings"]
            procs[name] = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                           text=True)
        for name, proc in procs.items():
            out, _ = proc.communicate(timeout=600)
            results[name] = "" if proc.returncode == 0 else out
    return results


def compile_nvrtc(arch: str = "90") -> dict[str, str]:
    """{kernel@dtype: ''} on success, {kernel@dtype: log} on failure, through CuPy + NVRTC."""
    import numpy
    from cupy import ndarray
    from cupy._core import _carray, _kernel
    from cupy._core import core as cupy_core
    from cupy.cuda import compiler

    header = "".join(f"#include <{h}>\n" for h in cupy_core._cupy_header_list)
    options = tuple(cupy_core.assemble_cupy_compiler_options(())) + (
        f"-arch=sm_{arch}", "--device-as-default-execution-space")
    results = {}

    def run(key, source, extra=()):
        prog = compiler._NVRTCProgram(source, f"{key}.cu", method="cubin")
        try:
            prog.compile(options + tuple(extra))
            results[key] = ""
        except Exception as exc:  # CompileException carries the log
            results[key] = str(exc)

    src = sources()
    for ch in ("f", "d"):
        dt = numpy.dtype(ch)
        for name, source in src["raw"].items():
            run(f"{name}@{dt.name}", PRELUDE[ch] + source, ("--std=c++17",))
        for name, spec in src["elementwise"].items():
            ins = _kernel._get_param_info(spec.in_params, True)
            outs = _kernel._get_param_info(spec.out_params, False)
            params = tuple(ins) + tuple(outs) + (_kernel.ParameterInfo("CIndexer _ind", False),)
            types = []
            for p in list(ins) + list(outs):
                if p.dtype is None and p.ctype not in [t for t, _ in types]:
                    types.append((p.ctype, dt if p.ctype == "T" else numpy.dtype("int64")))
            arginfos = []
            for p in list(ins) + list(outs):
                pdt = p.dtype if p.dtype is not None else dict(types)[p.ctype]
                arginfos.append(_kernel._ArgInfo(1, ndarray, numpy.dtype(pdt), 1, True, True))
            arginfos.append(_kernel._ArgInfo(2, _carray.Indexer, None, 1, True, True))
            code = _kernel._get_elementwise_kernel_code(
                tuple(arginfos), _kernel._TypeMap(tuple(types)), params, spec.operation,
                f"gradflow_{name}", spec.preamble)
            run(f"{name}@{dt.name}", header + code, spec.options)
    return results


def main(argv: list[str]) -> int:
    mode = argv[1] if len(argv) > 1 else "nvcc"
    arch = argv[2] if len(argv) > 2 else "90"
    results = compile_nvcc(arch) if mode == "nvcc" else compile_nvrtc(arch)
    bad = {k: v for k, v in results.items() if v}
    for key in results:
        print(f"{'FAIL' if key in bad else 'ok  '} {key}")
    for key, log in bad.items():
        print(f"--- {key}\n{re.sub(chr(10) + '+', chr(10), log)[:4000]}")
    print(f"{len(results) - len(bad)} compiled, {len(bad)} failed ({mode}, sm_{arch})")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
