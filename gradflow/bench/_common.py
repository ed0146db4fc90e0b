"""Shared helpers of the timing benchmarks: the machine and library record, a step timer,
and CSV / markdown writers."""

from __future__ import annotations

import contextlib
import csv
import datetime
import gc
import importlib.metadata
import json
import math
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np

__all__ = ["environment", "loadavg", "git_commit", "cpu_model", "StepTimer", "summarize",
           "write_csv", "md_table", "env_markdown", "no_matplotlib_error", "limit_threads",
           "thread_counts", "jax_single_thread_flags", "run_worker", "worker_reply"]

_WORKER_MARK = "@@gradflow-bench-worker@@"


def git_commit() -> str:
    """``git rev-parse --short HEAD`` of the gradflow checkout (``+dirty`` when the tracked files
    differ from it), or ``"unknown"`` outside a git checkout."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, check=True,
                              capture_output=True, text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=root, check=True, capture_output=True, text=True,
                               timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return head + ("+dirty" if dirty else "")


def cpu_model() -> str:
    """The CPU's model name from ``/proc/cpuinfo`` (``platform.processor()`` elsewhere)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _blas() -> str:
    try:
        cfg = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        return f"{cfg.get('name', '?')} {cfg.get('version', '')}".strip()
    except Exception:  # noqa: BLE001  (older NumPy: no dict mode)
        return "unknown"


def loadavg() -> str:
    """``/proc/loadavg``'s 1, 5 and 15 minute load averages (other work on the machine)."""
    try:
        with open("/proc/loadavg", encoding="utf-8") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "unknown"


def environment(extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Date, git commit, host, CPU model, core count, load and library versions of this run."""
    import gradflow

    env: dict[str, Any] = {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "gradflow_commit": git_commit(),
        "gradflow": gradflow.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "loadavg_start": loadavg(),
        "numpy": np.__version__,
        "numpy_blas": _blas(),
        "torch": _version("torch"),
        "jax": _version("jax"),
        "jaxlib": _version("jaxlib"),
        "cupy": _version("cupy-cuda12x") if _version("cupy-cuda12x") != "not installed"
        else _version("cupy-cuda13x"),
    }
    env.update(extra or {})
    return env


def env_markdown(env: Mapping[str, Any]) -> list[str]:
    """The environment record as markdown bullet lines."""
    return [f"- {k}: `{v}`" for k, v in env.items()]


@contextlib.contextmanager
def limit_threads(n: int | None) -> Iterator[None]:
    """Cap NumPy's BLAS (and any loaded OpenMP runtime) with threadpoolctl, and PyTorch's
    intra-op pool, at ``n`` threads for the ``with`` block; ``None`` leaves the defaults.

    JAX's pool is fixed when JAX starts: :func:`jax_single_thread_flags` sets it beforehand.
    """
    if n is None:
        yield
        return
    try:
        from threadpoolctl import threadpool_limits
    except ImportError as exc:
        raise ImportError("limiting threads needs threadpoolctl: pip install threadpoolctl") \
            from exc
    with contextlib.ExitStack() as stack:
        torch = sys.modules.get("torch")
        if torch is not None:
            old = torch.get_num_threads()
            torch.set_num_threads(int(n))
            stack.callback(torch.set_num_threads, old)
        stack.enter_context(threadpool_limits(int(n)))
        yield


def jax_single_thread_flags() -> str | None:
    """Make XLA's CPU backend single-threaded if JAX has not started yet; else say why not."""
    if "jax" in sys.modules:
        return "jax threads left at default: JAX was already imported in this process"
    flags = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " " + flags).strip()
    return None


def thread_counts() -> dict[str, Any]:
    """The thread pools in effect: NumPy's BLAS, PyTorch's intra-op pool, JAX's XLA flags."""
    out: dict[str, Any] = {}
    try:
        from threadpoolctl import threadpool_info

        out["blas_threads"] = ",".join(f"{i.get('internal_api')}={i['num_threads']}"
                                       for i in threadpool_info()
                                       if i.get("user_api") == "blas") or "unknown"
    except ImportError:
        out["blas_threads"] = "unknown (no threadpoolctl)"
    if "torch" in sys.modules:
        out["torch_num_threads"] = sys.modules["torch"].get_num_threads()
    if "jax" in sys.modules:
        jax = sys.modules["jax"]
        out["jax_devices"] = ", ".join(str(d) for d in jax.devices())
        out["xla_flags"] = os.environ.get("XLA_FLAGS", "") or "default"
    return out


def run_worker(module: str, payload: Mapping[str, Any]) -> Any:
    """Run ``python -m <module> --worker <json payload>`` in a fresh interpreter (so that only
    the thread pools that worker loads exist) and return what it sent with :func:`worker_reply`.
    """
    import gradflow

    root = os.path.dirname(os.path.dirname(os.path.abspath(gradflow.__file__)))
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    proc = subprocess.run([sys.executable, "-m", module, "--worker", json.dumps(payload)],
                          capture_output=True, text=True, env=env, check=False)
    if proc.returncode == 0:
        for line in reversed(proc.stdout.splitlines()):
            if line.startswith(_WORKER_MARK):
                return json.loads(line[len(_WORKER_MARK):])
    raise RuntimeError(f"benchmark worker `python -m {module}` failed (exit {proc.returncode}) "
                       f"for {dict(payload)}:\n{proc.stderr[-3000:]}")


def worker_reply(obj: Any) -> None:
    """Send ``obj`` (JSON-serializable) back to :func:`run_worker`."""
    print(_WORKER_MARK + json.dumps(obj), flush=True)


class StepTimer:
    """Time a step function: warm-up, then ``inner`` steps per sample, calibrated so that one
    sample lasts about ``min_time`` seconds (timeit's autorange idea; short steps are averaged
    over many calls so the clock's resolution and call overhead do not dominate).

    ``sync`` (optional) is called before the clock is read (GPU work, JAX's async dispatch).
    The garbage collector stays enabled: it is part of what a training loop pays.
    """

    def __init__(self, step: Callable[[int], Any], sync: Callable[[], Any] | None = None,
                 warmup: int = 3, min_time: float = 0.02, max_inner: int = 10_000):
        self.step = step
        self.sync = sync or (lambda: None)
        self.inner = 1
        self.calls = 0
        self.samples: list[float] = []
        gc.collect()
        for _ in range(max(warmup, 1)):
            self._run(1)
        per_step = self._run(1)
        self.inner = int(min(max_inner, max(1, math.ceil(min_time / max(per_step, 1e-9)))))

    def _run(self, n: int) -> float:
        t0 = time.perf_counter()
        for _ in range(n):
            self.step(self.calls)
            self.calls += 1
        self.sync()
        return (time.perf_counter() - t0) / n

    def sample(self) -> float:
        """One measurement: seconds per step, averaged over ``inner`` steps."""
        t = self._run(self.inner)
        self.samples.append(t)
        return t


def summarize(samples: Sequence[float]) -> dict[str, float]:
    """Median and interquartile range (q75 − q25) of per-step seconds."""
    a = np.asarray(samples, dtype=np.float64)
    q25, med, q75 = np.percentile(a, [25, 50, 75])
    return {"median": float(med), "iqr": float(q75 - q25), "min": float(a.min())}


def write_csv(path: str, rows: Iterable[Mapping[str, Any]], fields: Sequence[str]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        out = csv.DictWriter(f, fieldnames=list(fields), extrasaction="ignore")
        out.writeheader()
        for row in rows:
            out.writerow(row)


def md_table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> list[str]:
    """A GitHub markdown table as a list of lines."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return lines


def no_matplotlib_error(what: str) -> ImportError:
    return ImportError(f"{what} draws its figure with matplotlib: pip install matplotlib")
