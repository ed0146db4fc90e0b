"""Peak memory of one training step: gradflow vs PyTorch eager vs hand-written NumPy.

One step is forward, mean softmax cross-entropy, backward and a plain SGD update, on the MLP
784-512-512-10 of :mod:`gradflow.bench.throughput` and the small CNN of
:mod:`gradflow.bench.conv` (conv 1→8 5×5, ReLU, conv 8→16 3×3 stride 2, ReLU, Linear 1936→10),
float32, at batch 2048 and 256 by default. Each (framework, model, batch) runs in its own fresh
Python process, so no other library's allocations or thread pools are counted.

What is measured, from a state where the model, the optimizer and the batch exist and no
gradient does (``zero_grad(set_to_none=True)``, as a training loop is after ``zero_grad()``;
with ``--keep-grads`` the gradients are kept and zeroed in place instead, and are part of that
state), after ``warmup`` steps (so libraries' workspaces, OpenBLAS's buffers, caches and lazy
imports exist already):

- ``tracemalloc``: the peak of traced memory during the step minus the traced memory before it.
  NumPy allocates its array buffers through ``PyDataMem`` hooks that tracemalloc sees, so for
  gradflow and NumPy this is the exact peak of live array bytes. PyTorch's CPU allocator is not
  traced: its column counts Python objects only (reported, but not comparable).
- ``VmHWM`` and ``ru_maxrss``: the resident-set high-water mark during the step minus the
  resident set before it, for every framework alike. The high-water mark is reset just before
  the step (``/proc/self/clear_refs``, Linux); the process runs with glibc's
  ``MALLOC_MMAP_THRESHOLD_`` fixed at 64 KiB (and ``MALLOC_TOP_PAD_`` at 0), so every array
  above 64 KiB is its own ``mmap`` and leaves the resident set when freed: RSS then follows the
  live bytes of all three libraries (up to page rounding) instead of glibc's heap caching.

Each measure is the median over ``repeats`` measured steps. The kernel keeps RSS counters in
per-CPU batches, so RSS differences below about 0.5 MiB are noise (tracemalloc is exact).
Rows also carry the memory the state occupies (parameters, data) for scale.

    gradflow bench memory --out benchmarks/results     # writes memory.{md,csv}
    gradflow bench memory --quick                      # tiny sizes, seconds
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np

from gradflow.bench._common import (
    env_markdown,
    environment,
    limit_threads,
    loadavg,
    md_table,
    run_worker,
    worker_reply,
    write_csv,
)

FRAMEWORKS = ("gradflow", "torch", "numpy")
MODELS = ("mlp", "cnn")
DEFAULT_BATCHES = (2048, 256)
MLP_SIZES = (784, 512, 512, 10)
QUICK_MLP_SIZES = (64, 32, 10)
QUICK_BATCHES = (16,)
LR = 0.01
MALLOC_ENV = {"MALLOC_MMAP_THRESHOLD_": "65536", "MALLOC_TOP_PAD_": "0",
              "MALLOC_TRIM_THRESHOLD_": "131072"}
CSV_FIELDS = ("model", "batch_size", "framework", "tracemalloc_peak_mb", "vmhwm_peak_mb",
              "maxrss_peak_mb", "tracemalloc_held_mb", "state_mb", "repeats", "keep_grads",
              "threads", "rss_reset", "commit")
MB = 1024.0 * 1024.0


# --- the steps ------------------------------------------------------------------------------
def _cnn_params(seed: int = 1) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    shapes = [(8, 1, 5, 5), (8,), (16, 8, 3, 3), (16,), (10, 16 * 11 * 11), (10,)]
    return [(rng.uniform(-1, 1, s) / np.sqrt(np.prod(s[1:]) if len(s) > 1 else 10)
             ).astype(np.float32) for s in shapes]


def _data(model: str, batch: int, sizes: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(2)
    shape = (batch, 1, 28, 28) if model == "cnn" else (batch, sizes[0])
    classes = 10 if model == "cnn" else sizes[-1]
    return (rng.standard_normal(shape, dtype=np.float32),
            rng.integers(0, classes, batch).astype(np.int64))


class _Step:
    """One framework's training step on one model: ``step()``, ``clear()`` (drop or zero the
    gradients: the state before a step) and ``state_bytes`` (parameters + batch)."""

    def __init__(self, framework: str, model: str, batch: int, sizes: Sequence[int],
                 keep_grads: bool):
        from gradflow.bench import throughput

        x, y = _data(model, batch, sizes)
        self.keep_grads = keep_grads
        self.opt = None
        if framework == "numpy":
            if model == "mlp":
                impl = throughput.NumpyStep(throughput.init_mlp(sizes), lr=LR)
                data = impl.batch(x, y)
                self._step = lambda: impl.step(data)
                arrays = [a for wb in impl.params for a in wb]
            else:
                from gradflow.bench.conv import numpy_cnn_step

                arrays = _cnn_params()
                self._step = lambda: numpy_cnn_step(arrays, x, y, LR)
            self.state_bytes = sum(a.nbytes for a in arrays) + x.nbytes + y.nbytes
            return
        lib = __import__(framework)
        nn = lib.nn
        if model == "mlp":
            cls = throughput.GradflowStep if framework == "gradflow" else throughput.TorchStep
            impl = cls(throughput.init_mlp(sizes), lr=LR)
            net, self.opt, data = impl.model, impl.opt, impl.batch(x, y)
        else:
            net = nn.Sequential(nn.Conv2d(1, 8, 5), nn.ReLU(), nn.Conv2d(8, 16, 3, stride=2),
                                nn.ReLU(), nn.Flatten(), nn.Linear(16 * 11 * 11, 10))
            with lib.no_grad():
                for p, v in zip(net.parameters(), _cnn_params()):
                    p.copy_(lib.tensor(v))
            self.opt = lib.optim.SGD(net.parameters(), lr=LR)
            data = (lib.tensor(x), lib.tensor(y))
        cross_entropy = nn.functional.cross_entropy
        opt = self.opt

        def step():
            opt.zero_grad(set_to_none=not keep_grads)
            loss = cross_entropy(net(data[0]), data[1])
            loss.backward()
            opt.step()
            return loss

        self._step = step
        self.state_bytes = (sum(p.numel() * 4 for p in net.parameters()) + x.nbytes + y.nbytes)

    def step(self) -> None:
        self._step()

    def clear(self) -> None:
        if self.opt is not None:
            self.opt.zero_grad(set_to_none=not self.keep_grads)


# --- measuring in the worker ----------------------------------------------------------------
def _status_kb(field: str) -> int | None:
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def _reset_hwm() -> bool:
    """Reset the resident-set high-water mark (VmHWM, and so ru_maxrss) to the current RSS."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _maxrss_kb() -> int:
    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return r // 1024 if sys.platform == "darwin" else r  # bytes on macOS, KiB on Linux


def measure(framework: str, model: str, batch: int, sizes: Sequence[int] = MLP_SIZES,
            warmup: int = 2, repeats: int = 3, keep_grads: bool = False) -> dict[str, Any]:
    """Peak memory above the pre-step state of ``repeats`` steps, in this process (the worker
    runs it in a fresh one): medians in MiB; RSS figures are None where they cannot be reset."""
    import tracemalloc

    impl = _Step(framework, model, batch, sizes, keep_grads)
    for _ in range(max(1, warmup)):
        impl.step()
    vm, ru, reset_ok = [], [], True
    for _ in range(repeats):
        impl.clear()
        gc.collect()
        reset_ok = _reset_hwm() and reset_ok
        rss0 = _status_kb("VmRSS")
        impl.step()
        hwm = _status_kb("VmHWM")
        if reset_ok and rss0 is not None and hwm is not None:
            vm.append(hwm - rss0)
            ru.append(_maxrss_kb() - rss0)
    tracemalloc.start()
    impl.step()  # one traced step first, so what it leaves (gradients, state) is traced
    traced, held = [], []
    for _ in range(repeats):
        impl.clear()
        gc.collect()
        tracemalloc.reset_peak()
        cur0 = tracemalloc.get_traced_memory()[0]
        impl.step()
        traced.append(tracemalloc.get_traced_memory()[1] - cur0)
        impl.clear()
        gc.collect()
        held.append(tracemalloc.get_traced_memory()[0])
    tracemalloc.stop()

    def med_kb(v):
        return float(np.median(v)) / 1024.0 if v else None

    return {"model": model, "batch_size": batch, "framework": framework,
            "tracemalloc_peak_mb": float(np.median(traced)) / MB,
            "tracemalloc_held_mb": float(np.median(held)) / MB,
            "vmhwm_peak_mb": med_kb(vm), "maxrss_peak_mb": med_kb(ru),
            "state_mb": impl.state_bytes / MB, "repeats": repeats, "keep_grads": keep_grads,
            "rss_reset": reset_ok}


def _worker(job: dict[str, Any]) -> None:
    if job["framework"] != "numpy":
        __import__(job["framework"])
    with limit_threads(job["threads"]):
        row = measure(job["framework"], job["model"], job["batch"], job["sizes"],
                      job["warmup"], job["repeats"], job["keep_grads"])
    row["malloc_env"] = all(os.environ.get(k) == v for k, v in MALLOC_ENV.items())
    worker_reply(row)


# --- the benchmark ------------------------------------------------------------------------------
def run_memory(out_dir: str | os.PathLike, models: Sequence[str] = MODELS,
               batch_sizes: Sequence[int] = DEFAULT_BATCHES,
               frameworks: Sequence[str] = FRAMEWORKS, sizes: Sequence[int] = MLP_SIZES,
               warmup: int = 2, repeats: int = 3, keep_grads: bool = False,
               threads: int | None = None, quick: bool = False,
               verbose: bool = False) -> list[dict[str, Any]]:
    """Measure every (model, batch, framework) in a fresh process; write ``memory.{md,csv}``
    into ``out_dir``; return the rows (MiB)."""
    if quick:
        sizes, batch_sizes, warmup, repeats = QUICK_MLP_SIZES, QUICK_BATCHES, 1, 1
    for name, given, allowed in (("framework", frameworks, FRAMEWORKS),
                                 ("model", models, MODELS)):
        bad = [g for g in given if g not in allowed]
        if bad:
            raise ValueError(f"run_memory: unknown {name}s {bad}; choose from {allowed}")
    if any(isinstance(b, bool) or not isinstance(b, int) or b < 1 for b in batch_sizes):
        raise ValueError(f"run_memory: batch sizes must be positive ints, got {batch_sizes}")
    env = environment({"threads": "default" if threads is None else threads,
                       "malloc_env": " ".join(f"{k}={v}" for k, v in MALLOC_ENV.items())})
    rows = []
    saved = {k: os.environ.get(k) for k in MALLOC_ENV}
    os.environ.update(MALLOC_ENV)
    try:
        for model in models:
            for batch in batch_sizes:
                for fw in frameworks:
                    job = {"framework": fw, "model": model, "batch": int(batch),
                           "sizes": list(sizes), "warmup": warmup, "repeats": repeats,
                           "keep_grads": keep_grads, "threads": threads}
                    row = run_worker("gradflow.bench.memory", job)
                    row.update(threads=env["threads"], commit=env["gradflow_commit"])
                    rows.append(row)
                    if verbose:
                        print(f"{model} b{batch} {fw}: tracemalloc {row['tracemalloc_peak_mb']:.1f}"
                              f" MiB, VmHWM {row['vmhwm_peak_mb']} MiB", flush=True)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    env["loadavg_end"] = loadavg()
    os.makedirs(out_dir, exist_ok=True)
    base = os.fspath(out_dir)
    write_csv(os.path.join(base, "memory.csv"), rows, CSV_FIELDS)
    _write_md(os.path.join(base, "memory.md"), rows, env, sizes, keep_grads)
    return rows


def ratios(rows: Sequence[dict[str, Any]], key: str = "vmhwm_peak_mb") -> list[dict[str, Any]]:
    """gradflow/torch and gradflow/numpy of ``key`` per (model, batch)."""
    by: dict[tuple, dict[str, float]] = {}
    for r in rows:
        if r.get(key) is not None:
            by.setdefault((r["model"], r["batch_size"]), {})[r["framework"]] = r[key]
    out = []
    for (model, batch), v in by.items():
        if "gradflow" not in v:
            continue
        row: dict[str, Any] = {"model": model, "batch_size": batch}
        for other in ("torch", "numpy"):
            if other in v and v[other] > 0:
                row[f"gradflow/{other}"] = v["gradflow"] / v[other]
        out.append(row)
    return out


def _fmt(v, spec=".1f") -> str:
    return "–" if v is None else format(v, spec)


def _write_md(path: str, rows, env, sizes, keep_grads) -> None:
    mlp = "-".join(map(str, sizes))
    lines = ["# Peak memory of one training step (MiB above the pre-step state)", "",
             f"MLP {mlp} and the small CNN, float32, SGD, one fresh process per cell; "
             f"gradients {'kept (zeroed in place)' if keep_grads else 'None'} before the step. "
             "tracemalloc sees NumPy's buffers (gradflow, NumPy) but not PyTorch's allocator "
             "(its column is Python objects only); VmHWM and ru_maxrss are the resident-set "
             "high-water marks of the step, for all three.", ""]
    lines += md_table(("model", "batch", "framework", "tracemalloc", "VmHWM", "ru_maxrss",
                       "state (params + batch)"),
                      [(r["model"], r["batch_size"], r["framework"],
                        _fmt(r["tracemalloc_peak_mb"]) + (" (Python only)"
                                                          if r["framework"] == "torch" else ""),
                        _fmt(r["vmhwm_peak_mb"]), _fmt(r["maxrss_peak_mb"]),
                        _fmt(r["state_mb"])) for r in rows])
    rat = ratios(rows)
    if rat:
        lines += ["", "Ratios (VmHWM):", ""]
        lines += md_table(("model", "batch", "gradflow/torch", "gradflow/numpy"),
                          [(r["model"], r["batch_size"], _fmt(r.get("gradflow/torch"), ".2f"),
                            _fmt(r.get("gradflow/numpy"), ".2f")) for r in rat])
    lines += ["", "## Environment", "", *env_markdown(env), ""]
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines))


def _ints(text: str) -> list[int]:
    try:
        return [int(t) for t in text.split(",") if t.strip()]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected comma-separated ints, got {text!r}") from exc


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="gradflow bench memory", description=__doc__.split("\n")[0])
    p.add_argument("--worker", help=argparse.SUPPRESS)
    p.add_argument("--out", default="bench-out", help="output directory (memory.md, memory.csv)")
    p.add_argument("--models", default=",".join(MODELS), help="mlp,cnn")
    p.add_argument("--batch-sizes", type=_ints, default=list(DEFAULT_BATCHES))
    p.add_argument("--frameworks", default=",".join(FRAMEWORKS))
    p.add_argument("--sizes", type=_ints, default=list(MLP_SIZES), help="the MLP's widths")
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--keep-grads", action="store_true",
                   help="zero_grad(set_to_none=False): gradients kept and zeroed in place")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--quick", action="store_true", help="tiny sizes (the CI size)")
    a = p.parse_args(argv)
    if a.worker:
        _worker(json.loads(a.worker))
        return 0
    run_memory(a.out, tuple(a.models.split(",")), a.batch_sizes, tuple(a.frameworks.split(",")),
               a.sizes, a.warmup, a.repeats, a.keep_grads, a.threads, a.quick, verbose=True)
    with open(os.path.join(a.out, "memory.md"), encoding="utf-8") as f:
        print(f.read())
    return 0


if __name__ == "__main__":
    sys.exit(main())
