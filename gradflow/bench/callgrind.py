"""Instructions per training step under ``valgrind --tool=callgrind``: a noise-free measure.

Wall-clock step times move by ±10 % and more with whatever else the machine runs; the number of
instructions a step executes does not. For each framework (gradflow, hand-written NumPy, PyTorch
eager: the step implementations of :mod:`gradflow.bench.throughput`) and each configuration, two
fresh processes run under callgrind: one warms up and takes ``steps`` steps, the other warms up
and takes ``2 * steps``. Everything else (interpreter start, imports, model construction,
warm-up) is the same in both, so

    instructions per step = (Ir(2N steps) − Ir(N steps)) / N.

Every process runs single-threaded (BLAS, OpenMP and PyTorch pools at 1 thread, so no spinning
worker thread is counted) with ``PYTHONHASHSEED=0``. Default configurations: the MLP
784-512-512-10 at batch 1 and 32 (kernels and overhead) and a 4-4-4-2 MLP at batch 8, whose
kernels cost nothing: its count is the fixed per-step overhead of the framework.

Callgrind runs the code on a simulated CPU: BLAS libraries pick their kernels for the CPU
features valgrind reports (AVX2, not AVX-512), so the counts of large GEMMs can differ from a
native run; instruction counts are not time (a GEMM retires more instructions per cycle than
Python code). Use them for overhead changes, timings for the kernels.

    python -m gradflow.bench.callgrind --out callgrind/       # writes callgrind.{md,csv}
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from typing import Any

from gradflow.bench._common import (
    env_markdown,
    environment,
    loadavg,
    md_table,
    worker_reply,
    write_csv,
)

FRAMEWORKS = ("gradflow", "torch", "numpy")
# name -> (layer sizes, batch size)
CONFIGS: dict[str, tuple[tuple[int, ...], int]] = {
    "mlp_b1": ((784, 512, 512, 10), 1),
    "mlp_b32": ((784, 512, 512, 10), 32),
    "tiny_b8": ((4, 4, 4, 2), 8),
}
QUICK_CONFIGS: dict[str, tuple[tuple[int, ...], int]] = {"tiny_b8": ((4, 4, 4, 2), 8)}
CSV_FIELDS = ("config", "sizes", "batch_size", "framework", "instructions_per_step",
              "ir_n", "ir_2n", "steps", "warmup", "method", "commit")
_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                "NUMEXPR_NUM_THREADS", "VECLIB_MAXIMUM_THREADS")


def valgrind_missing() -> str | None:
    """None when ``valgrind`` can run here, else why not (and how to install it)."""
    if shutil.which("valgrind") is None:
        return "valgrind is not installed (apt-get install -y valgrind)"
    return None


_HELPER_C = r"""
#include <valgrind/callgrind.h>
void gf_start(void) { CALLGRIND_START_INSTRUMENTATION; }
void gf_zero(void) { CALLGRIND_ZERO_STATS; }
void gf_dump(const char *name) { CALLGRIND_DUMP_STATS_AT(name); }
"""


def build_client(dir_: str) -> str | None:
    """Compile the callgrind client-request helper (``gf_start``, ``gf_zero``, ``gf_dump``) into
    ``dir_``; its path, or None without a C compiler or ``valgrind/callgrind.h``."""
    cc = shutil.which(os.environ.get("CC", "cc")) or shutil.which("gcc")
    if cc is None:
        return None
    src, lib = os.path.join(dir_, "gf_callgrind.c"), os.path.join(dir_, "gf_callgrind.so")
    with open(src, "w", encoding="utf-8") as f:
        f.write(_HELPER_C)
    proc = subprocess.run([cc, "-shared", "-fPIC", "-O1", "-o", lib, src], capture_output=True,
                          text=True, check=False)
    return lib if proc.returncode == 0 else None


def _make_step(framework: str, sizes: Sequence[int], batch: int):
    """(step(i), sync) of ``framework`` on the benchmark's MLP and 4 pre-built batches."""
    import numpy as np

    from gradflow.bench.throughput import STEPS, init_mlp, make_data

    params = init_mlp(sizes, seed=0)
    n_batches = 4
    x_all, y_all = make_data(batch * n_batches, sizes[0], sizes[-1], seed=0)
    impl = STEPS[framework](params, dtype=np.float32, device="cpu")
    data = [impl.batch(x_all[i * batch:(i + 1) * batch], y_all[i * batch:(i + 1) * batch])
            for i in range(n_batches)]
    return (lambda i: impl.step(data[i % n_batches])), impl.sync


def _steps_worker(job: dict[str, Any]) -> None:
    """The process callgrind counts. Client mode (``job['client']``: the helper library):
    instrumentation starts at the first configuration, and per configuration the counters are
    zeroed after the warm-up and dumped (named by the configuration) after the steps. Without
    it: warm up and step ``job['steps']`` times on one configuration (the whole process is
    counted)."""
    fw = job["framework"]
    if fw == "torch":
        import torch

        torch.set_num_threads(1)
    lib = None
    if job.get("client"):
        import ctypes

        lib = ctypes.CDLL(job["client"])
        lib.gf_dump.argtypes = [ctypes.c_char_p]
    started = False
    for name, sizes, batch in job["configs"]:
        step, sync = _make_step(fw, tuple(sizes), int(batch))
        if lib is not None and not started:
            lib.gf_start()
            started = True
        for i in range(int(job["warmup"])):
            step(i)
        sync()
        if lib is not None:
            lib.gf_zero()
        for i in range(int(job["steps"])):
            step(i)
        sync()
        if lib is not None:
            lib.gf_dump(f"gf:{name}".encode())
    worker_reply({"ok": True})


def _ir_total(path: str) -> int:
    """The total instruction count (``Ir``) of a callgrind output file."""
    with open(path, encoding="utf-8", errors="replace") as f:
        text = f.read()
    m = re.search(r"^(?:totals|summary):\s+(\d+)", text, re.MULTILINE)
    if m is None:
        raise RuntimeError(f"callgrind: no totals/summary line in {path}")
    return int(m.group(1))


def _dumps(dir_: str) -> dict[str, int]:
    """``{configuration: Ir}`` from the client-request dumps (``desc: Trigger: Client
    Request: gf:<name>``) in ``dir_``."""
    out = {}
    for fname in os.listdir(dir_):
        if not fname.startswith("callgrind.out"):
            continue
        path = os.path.join(dir_, fname)
        with open(path, encoding="utf-8", errors="replace") as f:
            head = f.read(4096)
        m = re.search(r"^desc: Trigger: Client Request: gf:(\S+)", head, re.MULTILINE)
        if m:
            out[m.group(1)] = _ir_total(path)
    return out


def _valgrind(job: dict[str, Any], tmp: str, instr_atstart: bool) -> subprocess.CompletedProcess:
    import gradflow

    root = os.path.dirname(os.path.dirname(os.path.abspath(gradflow.__file__)))
    env = dict(os.environ, PYTHONHASHSEED="0")
    env.update({v: "1" for v in _THREAD_VARS})
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    cmd = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={tmp}/callgrind.out",
           f"--instr-atstart={'yes' if instr_atstart else 'no'}", "--dump-line=no",
           "--dump-instr=no", "--collect-systime=no", "--quiet",
           sys.executable, "-m", "gradflow.bench.callgrind", "--worker", json.dumps(job)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"callgrind run of {job['framework']} failed (exit "
                           f"{proc.returncode}):\n{proc.stderr[-3000:]}")
    return proc


def count_instructions(framework: str, sizes: Sequence[int], batch: int, steps: int,
                       warmup: int = 3) -> int:
    """Instructions (``Ir``) of one whole process that warms up and takes ``steps`` steps."""
    job = {"framework": framework, "configs": [["x", list(sizes), batch]], "steps": steps,
           "warmup": warmup}
    with tempfile.TemporaryDirectory() as tmp:
        _valgrind(job, tmp, instr_atstart=True)
        return _ir_total(os.path.join(tmp, "callgrind.out"))


def per_step(framework: str, configs: dict[str, tuple], steps: int, warmup: int = 3,
             client: str | None = None) -> list[dict[str, Any]]:
    """Instructions per step of ``framework`` for every configuration.

    With ``client`` (the helper of :func:`build_client`): one process, counted from the zeroing
    after the warm-up to the dump after ``steps`` steps, per configuration. Without: two whole
    processes per configuration, ``(Ir(2N) − Ir(N)) / N``."""
    rows = []
    if client:
        job = {"framework": framework, "configs": [[n, list(s), b] for n, (s, b) in
                                                   configs.items()],
               "steps": steps, "warmup": warmup, "client": client}
        with tempfile.TemporaryDirectory() as tmp:
            _valgrind(job, tmp, instr_atstart=False)
            counts = _dumps(tmp)
        for name, (sizes, batch) in configs.items():
            if name not in counts:
                raise RuntimeError(f"callgrind: no dump for {name} of {framework}")
            rows.append({"config": name, "framework": framework,
                         "sizes": "-".join(map(str, sizes)), "batch_size": batch,
                         "ir_n": counts[name], "ir_2n": "", "steps": steps, "warmup": warmup,
                         "instructions_per_step": counts[name] / steps, "method": "client"})
        return rows
    for name, (sizes, batch) in configs.items():
        ir_n = count_instructions(framework, sizes, batch, steps, warmup)
        ir_2n = count_instructions(framework, sizes, batch, 2 * steps, warmup)
        rows.append({"config": name, "framework": framework, "sizes": "-".join(map(str, sizes)),
                     "batch_size": batch, "ir_n": ir_n, "ir_2n": ir_2n, "steps": steps,
                     "warmup": warmup, "instructions_per_step": (ir_2n - ir_n) / steps,
                     "method": "subtract"})
    return rows


def _available(framework: str) -> str | None:
    try:
        __import__(framework)
    except ImportError as exc:
        return f"{framework} skipped: not installed ({exc})"
    return None


def run_callgrind(out_dir: str | os.PathLike, configs: dict[str, tuple] | None = None,
                  frameworks: Sequence[str] = FRAMEWORKS, steps: int = 20, warmup: int = 3,
                  quick: bool = False, method: str = "auto", verbose: bool = False
                  ) -> list[dict[str, Any]]:
    """Count instructions per step for every framework and configuration; write
    ``callgrind.{md,csv}`` into ``out_dir`` and return the rows.

    Args:
        configs: ``{name: (layer sizes, batch size)}`` (default :data:`CONFIGS`).
        frameworks: any of ``"gradflow"``, ``"torch"``, ``"numpy"`` (missing ones are skipped
            with a note).
        steps: N, the steps of the shorter process (the longer one takes 2N).
        warmup: steps before the counted ones, in both processes.
        quick: CI size: the 4-4-4-2 MLP only, 2 steps, 1 warm-up step.
        method: ``"client"``: one process per framework, counters zeroed after the warm-up
            and dumped after the steps by callgrind client requests (a helper compiled with the
            C compiler; imports run uninstrumented, so this is fast); ``"subtract"``: two whole
            processes per configuration, N and 2N steps, subtracted (no compiler needed, but
            every import is counted: minutes per process with PyTorch); ``"auto"``: client when
            it can be built.

    Raises:
        RuntimeError: valgrind is not installed (the message says how to install it).
    """
    why = valgrind_missing()
    if why:
        raise RuntimeError(f"run_callgrind: {why}")
    if quick:
        configs, steps, warmup = QUICK_CONFIGS, 2, 1
    configs = dict(configs or CONFIGS)
    if steps < 1:
        raise ValueError(f"run_callgrind: steps must be >= 1, got {steps}")
    if method not in ("auto", "client", "subtract"):
        raise ValueError(f"run_callgrind: method must be 'auto', 'client' or 'subtract', got "
                         f"{method!r}")
    env = environment({"valgrind": subprocess.run(["valgrind", "--version"], capture_output=True,
                                                  text=True, check=False).stdout.strip()})
    notes = [n for n in (_available(f) for f in frameworks) if n]
    fws = [f for f in frameworks if _available(f) is None]
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as lib_dir:
        client = None if method == "subtract" else build_client(lib_dir)
        if method == "client" and client is None:
            raise RuntimeError("run_callgrind: method='client' needs a C compiler and "
                               "valgrind/callgrind.h (apt-get install -y gcc valgrind)")
        if client is None:
            notes.append("no C compiler or valgrind/callgrind.h: counted whole processes of "
                         "N and 2N steps and subtracted")
        for fw in fws:
            for row in per_step(fw, configs, steps, warmup, client):
                row["commit"] = env["gradflow_commit"]
                rows.append(row)
                if verbose:
                    print(f"  {row['config']:>8} {fw:>8}: "
                          f"{row['instructions_per_step']:14,.0f} Ir/step", flush=True)
    order = list(configs)
    rows.sort(key=lambda r: order.index(r["config"]))
    env["loadavg_end"] = loadavg()
    os.makedirs(out_dir, exist_ok=True)
    base = os.fspath(out_dir)
    write_csv(os.path.join(base, "callgrind.csv"), rows, CSV_FIELDS)
    _write_md(os.path.join(base, "callgrind.md"), rows, env, steps, warmup, notes)
    return rows


def ratios(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per configuration: gradflow's instructions per step over each other framework's."""
    by: dict[str, dict[str, float]] = {}
    for r in rows:
        by.setdefault(r["config"], {})[r["framework"]] = r["instructions_per_step"]
    out = []
    for config, counts in by.items():
        if "gradflow" not in counts:
            continue
        row: dict[str, Any] = {"config": config}
        for other in FRAMEWORKS[1:]:
            if counts.get(other):
                row[f"gradflow/{other}"] = counts["gradflow"] / counts[other]
        out.append(row)
    return out


def _write_md(path: str, rows, env, steps: int, warmup: int, notes) -> None:
    fws = [f for f in FRAMEWORKS if any(r["framework"] == f for r in rows)]
    configs = list(dict.fromkeys(r["config"] for r in rows))
    by = {(r["config"], r["framework"]): r for r in rows}
    info = {r["config"]: (r["sizes"], r["batch_size"]) for r in rows}
    lines = ["# Instructions per training step (callgrind)", "",
             "One step = zero_grad, forward, mean softmax cross-entropy, backward, SGD update "
             "(the steps of `gradflow.bench.throughput`), float32, one thread, under "
             "`valgrind --tool=callgrind` (repeatable whatever else the machine runs; not "
             "time: BLAS kernels retire more instructions per cycle than Python code). "
             + (f"Counted from the end of {warmup} warm-up steps to the end of {steps} more, "
                "by callgrind client requests (imports and set-up uninstrumented)."
                if all(r["method"] == "client" for r in rows) else
                f"Instructions per step = (Ir of a process taking {2 * steps} steps − Ir of one "
                f"taking {steps}) / {steps}, both after {warmup} warm-up steps."), "",
             "## Instructions per step", ""]
    lines += md_table(["config", "MLP", "batch"] + fws,
                      ([c, info[c][0], info[c][1]]
                       + [f"{by[(c, f)]['instructions_per_step']:,.0f}" if (c, f) in by else ""
                          for f in fws] for c in configs))
    rat = ratios(rows)
    cols = [c for c in ("gradflow/torch", "gradflow/numpy") if any(c in r for r in rat)]
    if cols:
        lines += ["", "## Ratios (gradflow / other; < 1: gradflow executes fewer)", ""]
        lines += md_table(["config"] + cols,
                          ([r["config"]] + [f"{r[c]:.2f}" if c in r else "" for c in cols]
                           for r in rat))
    lines += ["", "## Environment", ""] + env_markdown(env)
    if notes:
        lines += ["", "## Notes", ""] + [f"- {n}" for n in notes]
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")


def _config_arg(text: str) -> dict[str, tuple[tuple[int, ...], int]]:
    """``name`` of :data:`CONFIGS`, or ``SIZES@BATCH`` such as ``784-512-10@16``; comma list."""
    out = {}
    for part in (p.strip() for p in text.split(",") if p.strip()):
        if part in CONFIGS:
            out[part] = CONFIGS[part]
            continue
        m = re.fullmatch(r"(\d+(?:-\d+)+)@(\d+)", part)
        if m is None:
            raise argparse.ArgumentTypeError(
                f"unknown config {part!r}: use one of {', '.join(CONFIGS)} or SIZES@BATCH "
                "(e.g. 784-512-10@16)")
        out[part] = (tuple(int(s) for s in m.group(1).split("-")), int(m.group(2)))
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m gradflow.bench.callgrind [--out DIR] [--quick] [--steps N] [--warmup W]
    [--configs mlp_b1,tiny_b8,784-512-10@16] [--frameworks gradflow,torch,numpy]``."""
    parser = argparse.ArgumentParser(prog="gradflow bench callgrind",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="callgrind", help="output folder (created)")
    parser.add_argument("--quick", action="store_true", help="tiny CI size")
    parser.add_argument("--steps", type=int, default=20, help="N (the other process takes 2N)")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--configs", type=_config_arg, default=None,
                        help=f"comma-separated: {', '.join(CONFIGS)} or SIZES@BATCH")
    parser.add_argument("--frameworks", default=",".join(FRAMEWORKS),
                        help="comma-separated subset of " + ",".join(FRAMEWORKS))
    parser.add_argument("--method", choices=("auto", "client", "subtract"), default="auto",
                        help="client requests in one process (needs a C compiler) or two "
                             "whole processes subtracted")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker is not None:
        _steps_worker(json.loads(args.worker))
        return 0
    why = valgrind_missing()
    if why:
        print(f"gradflow bench callgrind: {why}", file=sys.stderr)
        return 2
    rows = run_callgrind(args.out, configs=args.configs, steps=args.steps, warmup=args.warmup,
                         frameworks=[f.strip() for f in args.frameworks.split(",")],
                         quick=args.quick, method=args.method, verbose=True)
    for r in ratios(rows):
        parts = [f"{k} {v:.2f}" for k, v in r.items() if k.startswith("gradflow/")]
        print(f"{r['config']}: " + ", ".join(parts))
    print(f"wrote {os.path.join(args.out, 'callgrind.md')} (.csv)")
    return 0


__all__ = ["CONFIGS", "FRAMEWORKS", "count_instructions", "per_step", "ratios", "run_callgrind",
           "valgrind_missing", "main"]

if __name__ == "__main__":
    raise SystemExit(main())
