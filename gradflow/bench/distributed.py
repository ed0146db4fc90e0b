"""Data-parallel scaling of ``gradflow.distributed`` on 1..N MPI ranks, and the allreduce model.

Each measured point is one ``mpiexec -n R python -m gradflow.bench.distributed --worker ...``
job (with a timeout; one BLAS thread per rank by default) that trains with a hand-written loop,
as a user writes it::

    dist.broadcast_parameters(model); sync = dist.GradSync(model.parameters())
    opt.zero_grad(); loss_fn(model(x_local), y_local).backward()   # compute
    sync(share=len(x_local) / global_batch)                         # allreduce
    opt.step()                                                      # compute

- **weak scaling**: ``--batch`` examples per rank (the global batch grows with R);
  efficiency = throughput(R) / (R · throughput(1));
- **strong scaling**: a fixed global batch (``--global-batch``, default ``--batch``) split
  across the ranks; efficiency = speedup / R = throughput(R) / (R · throughput(1)).

Per point: samples/s (global batch / median step time), and the medians over steps of the
compute time (slowest rank: forward, backward, SGD step) and of the allreduce time (fastest rank:
the transfer, without waiting for a slower peer). Jobs alternate between rank counts for
``--rounds`` rounds (the machine's other work slows them alike); the tables give the medians
over rounds.

The **allreduce microbenchmark** (at the largest R) times, on the same float32 buffers of 4 KB
to 64 MB (and the model's own gradient size), ``mpi4py``'s ``Allreduce(IN_PLACE)``, gradflow's
watched ``comm.allreduce_sum_`` and ``GradSync`` (scale, allreduce, copy back), interleaved. A fit
of mpi4py's fastest times (slope from >= 1 MiB, intercept from <= 64 KiB) to the
**ring-allreduce model** ``t(p, n) = 2(p-1)·α + 2(p-1)/p · n·β``
(α: per-message latency, β: seconds per byte of one link) extrapolates the allreduce of the
model's gradient, and the weak-scaling efficiency ``C / (C + t(p, G))`` of the measured step (C:
the 1-rank step's compute CPU time, G: the gradient bytes; GradSync runs after backward, no
overlap), to 8-64 ranks, assuming every link is as fast as the loopback measured here
(optimistic: shared memory beats a network), next to a typical cluster network (10 GB/s, 5 µs).

    gradflow bench distributed [--ranks 1,2,4] [--threads 1] [--model mlp|cnn] [--out DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from gradflow.bench._common import (
    _WORKER_MARK,
    env_markdown,
    environment,
    loadavg,
    md_table,
    worker_reply,
    write_csv,
)

DEFAULT_RANKS = (1, 2)
DEFAULT_SIZES = (784, 1024, 1024, 10)  # 1.86 M parameters: a 7.1 MiB float32 gradient
QUICK_SIZES = (32, 16, 4)
MICRO_BYTES = tuple(4096 * 4**k for k in range(8))  # 4 KiB .. 64 MiB
QUICK_MICRO_BYTES = (4096, 65536)
EXTRAPOLATE_RANKS = (2, 4, 8, 16, 32, 64)
NETWORK = {"alpha_s": 5e-6, "beta_s_per_byte": 1 / 10e9}  # a typical cluster: 5 µs, 10 GB/s
LR = 0.01
TARGET_WEAK_EFFICIENCY = 0.9
TARGET_GRADSYNC_RATIO = 1.5
CSV_FIELDS = ("section", "model", "mode", "ranks", "batch_per_rank", "global_batch",
              "samples_per_s", "step_ms", "compute_ms", "compute_cpu_ms", "allreduce_ms",
              "efficiency", "efficiency_rounds", "params_identical", "bytes", "mpi4py_ms",
              "comm_ms", "gradsync_ms", "gradsync_over_mpi4py", "mpi4py_min_ms", "gradsync_min_ms",
              "gradsync_over_mpi4py_min", "reps", "ring_ms_loopback",
              "efficiency_loopback", "ring_ms_network", "efficiency_network", "rounds",
              "steps", "threads", "loadavg", "commit")


# --- the models --------------------------------------------------------------------------------
def build_model(kind: str, sizes: Sequence[int]):
    """``mlp``: Linear/ReLU layers of widths ``sizes``; ``cnn``: two 5x5 conv + max-pool
    blocks on 1x28x28 inputs and a linear classifier (10 classes)."""
    from gradflow import nn

    if kind == "mlp":
        layers: list[Any] = []
        for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
            layers.append(nn.Linear(a, b))
            if i < len(sizes) - 2:
                layers.append(nn.ReLU())
        return nn.Sequential(*layers)
    if kind == "cnn":
        return nn.Sequential(nn.Conv2d(1, 16, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                             nn.Conv2d(16, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                             nn.Flatten(), nn.Linear(32 * 7 * 7, 10))
    raise ValueError(f"bench distributed: model={kind!r}; expected 'mlp' or 'cnn'")


def _input_shape(kind: str, sizes: Sequence[int]) -> tuple[tuple[int, ...], int]:
    return ((sizes[0],), sizes[-1]) if kind == "mlp" else ((1, 28, 28), 10)


def gradient_bytes(kind: str, sizes: Sequence[int]) -> int:
    """Bytes of the model's float32 gradient (what GradSync reduces per step)."""
    return sum(p.numel() for p in build_model(kind, sizes).parameters()) * 4


def shares(global_batch: int, ranks: int) -> list[int]:
    """Each rank's examples of a global batch (the first ``global_batch % ranks`` get one more:
    the contiguous split of ``DataLoader(shard="auto")``)."""
    base, extra = divmod(global_batch, ranks)
    return [base + (r < extra) for r in range(ranks)]


# --- the alpha-beta and ring models ------------------------------------------------------------
def fit_ring(nbytes: Sequence[float], seconds: Sequence[float], ranks: int,
             small: int = 65536, large: int = 2**20) -> tuple[float, float]:
    """``(α, β)`` of the ring model ``t = 2(p-1)·α + 2(p-1)/p · n·β`` from allreduce times
    measured on ``p = ranks`` ranks, through a line ``t = a + n·b``: the slope ``b`` by least
    squares over the messages of at least ``large`` bytes (the bandwidth out of cache, what a
    gradient sees), the intercept ``a`` from a line fitted to those of at most ``small`` bytes
    (least squares on the relative error: the latency); with fewer than 2 of either, both from
    one such line through all of them. Then ``α = a / (2(p-1))`` and
    ``β = b·p / (2(p-1))``; both clipped at 0."""
    if ranks < 2:
        raise ValueError(f"fit_ring: ranks={ranks}; a fit needs allreduces on >= 2 ranks")
    n = np.asarray(nbytes, dtype=np.float64)
    t = np.asarray(seconds, dtype=np.float64)
    if n.shape != t.shape or n.size < 2:
        raise ValueError(f"fit_ring: expected >= 2 (bytes, seconds) pairs of equal length, got "
                         f"{n.size} and {t.size}")
    def relative_fit(keep: np.ndarray) -> tuple[float, float]:
        design = np.stack([np.ones_like(n[keep]), n[keep]], axis=1) / t[keep, None]
        (a, b), *_ = np.linalg.lstsq(design, np.ones_like(t[keep]), rcond=None)
        return float(a), float(b)

    big, little = n >= large, n <= small
    if big.sum() >= 2 and little.sum() >= 2:
        a = relative_fit(little)[0]
        b = float(np.polyfit(n[big], t[big], 1)[0])
    else:
        a, b = relative_fit(np.ones_like(n, dtype=bool))
    steps = 2 * (ranks - 1)
    return max(float(a), 0.0) / steps, max(float(b), 0.0) * ranks / steps


def ring_time(ranks: int, nbytes: float, alpha: float, beta: float) -> float:
    """Seconds of a ring allreduce of ``nbytes`` on ``ranks`` ranks: reduce-scatter and
    allgather, ``2(p-1)`` messages of ``n/p`` bytes each; 0 on one rank."""
    if ranks <= 1:
        return 0.0
    return 2 * (ranks - 1) * alpha + 2 * (ranks - 1) / ranks * nbytes * beta


def extrapolate(step_s: float, nbytes: float, alpha: float, beta: float,
                ranks: Sequence[int] = EXTRAPOLATE_RANKS) -> list[dict[str, Any]]:
    """Per rank count: the ring allreduce of ``nbytes`` and the weak-scaling efficiency
    ``C / (C + t)`` of a step whose compute takes ``step_s`` (no overlap), on links like the
    measured ones and on :data:`NETWORK`."""
    rows = []
    for p in ranks:
        loop = ring_time(p, nbytes, alpha, beta)
        net = ring_time(p, nbytes, NETWORK["alpha_s"], NETWORK["beta_s_per_byte"])
        rows.append({"section": "model", "ranks": p, "bytes": int(nbytes),
                     "ring_ms_loopback": loop * 1e3,
                     "efficiency_loopback": step_s / (step_s + loop),
                     "ring_ms_network": net * 1e3,
                     "efficiency_network": step_s / (step_s + net)})
    return rows


# --- the worker (one MPI job) ------------------------------------------------------------------
def _worker(job: dict[str, Any]) -> None:
    import gradflow as gf
    import gradflow.distributed as dist
    from gradflow import nn, optim

    comm = dist.init()
    R, rank = comm.size, comm.rank
    kind, sizes = job["model"], job["sizes"]
    gf.manual_seed(job["seed"] + rank)  # different on purpose: the broadcast must align them
    model = build_model(kind, sizes)
    dist.broadcast_parameters(model)
    params = list(model.parameters())
    sync = dist.GradSync(params)
    opt = optim.SGD(params, lr=LR)
    loss_fn = nn.CrossEntropyLoss()
    shape, classes = _input_shape(kind, sizes)
    configs = []
    for c, (mode, global_batch) in enumerate(job["configs"]):
        local = shares(global_batch, R)[rank]
        rng = np.random.default_rng([job["seed"], rank, c])
        x = gf.tensor(rng.standard_normal((local, *shape)).astype(np.float32))
        y = gf.tensor(rng.integers(0, classes, local).astype(np.int64))
        configs.append((mode, global_batch, x, y, local / global_batch))
    wall, cpu = time.perf_counter, time.process_time
    records: dict[int, list[list[float]]] = {c: [] for c in range(len(configs))}

    def run(c: int, steps: int, keep: bool) -> None:
        _, _, x, y, share = configs[c]
        for _ in range(steps):
            t0, c0 = wall(), cpu()
            opt.zero_grad()
            loss_fn(model(x), y).backward()
            t1, c1 = wall(), cpu()
            sync(share)
            t2, c2 = wall(), cpu()
            opt.step()
            t3, c3 = wall(), cpu()
            if keep:
                records[c].append([t3 - t0, (t1 - t0) + (t3 - t2), (c1 - c0) + (c3 - c2),
                                   t2 - t1])

    for c in range(len(configs)):
        run(c, job["warmup"], keep=False)
    per = max(1, job["steps"] // job["segments"])
    for _ in range(job["segments"]):  # the configurations interleaved: A B A B ...
        for c in range(len(configs)):
            run(c, per, keep=True)
    digest = hashlib.sha256(b"".join(np.ascontiguousarray(p.numpy()).tobytes()
                                     for p in params)).hexdigest()
    micro = _micro(comm, job["micro"], job["micro_time"]) if job["micro"] else None
    gathered = comm.gather_object({"records": records, "digest": digest})
    if rank == 0:
        out = []
        for c, (mode, global_batch, *_rest) in enumerate(configs):
            rec = np.array([g["records"][c] for g in gathered])  # (ranks, steps, 4)
            out.append({"mode": mode, "global_batch": global_batch,
                        "batch_per_rank": shares(global_batch, R)[0],
                        "step_s": float(np.median(rec[:, :, 0].max(0))),
                        "compute_s": float(np.median(rec[:, :, 1].max(0))),
                        "compute_cpu_s": float(np.median(rec[:, :, 2].max(0))),
                        "allreduce_s": float(np.median(rec[:, :, 3].min(0))),
                        "steps": int(rec.shape[1])})
        worker_reply({"ranks": R, "points": out, "micro": micro,
                      "params_identical": len({g["digest"] for g in gathered}) == 1})


def _micro(comm: Any, sizes: Sequence[int], min_time: float) -> list[dict[str, Any]]:
    """mpi4py Allreduce vs ``comm.allreduce_sum_`` vs GradSync on float32 buffers of ``sizes``
    bytes, interleaved; per-repetition time = the slowest rank's, medians."""
    from mpi4py import MPI

    import gradflow as gf
    import gradflow.distributed as dist

    world = MPI.COMM_WORLD
    out = []
    for nbytes in sizes:
        n = max(2, nbytes // 4)
        buf = np.ones(n, np.float32)
        big = n - min(64, n // 2)  # a weight-like and a bias-like gradient
        params = [gf.zeros(big, requires_grad=True), gf.zeros(n - big, requires_grad=True)]
        for p in params:
            p.grad = gf.ones(p.shape)
        sync = dist.GradSync(params)
        variants = (lambda b=buf: world.Allreduce(MPI.IN_PLACE, b, op=MPI.SUM),
                    lambda b=buf: comm.allreduce_sum_(b), lambda s=sync: s(0.5))
        for v in variants:  # warm-up (GradSync allocates its bucket on the first call)
            v()
        times: list[list[float]] = [[] for _ in variants]
        start, reps = time.perf_counter(), 0
        while True:
            for v, acc in zip(variants, times):
                world.Barrier()
                t0 = time.perf_counter()
                v()
                acc.append(time.perf_counter() - t0)
            reps += 1
            done = reps >= 5 and time.perf_counter() - start >= min_time
            # every rank must take the same decision (same number of collectives)
            if world.allreduce(1 if done or reps >= 200 else 0, op=MPI.MIN):
                break
        med, best = [], []
        for acc in times:
            slowest = np.array(acc)
            world.Allreduce(MPI.IN_PLACE, slowest, op=MPI.MAX)
            med.append(float(np.median(slowest)))
            best.append(float(slowest.min()))
        out.append({"bytes": int(n * 4), "mpi4py_s": med[0], "comm_s": med[1],
                    "gradsync_s": med[2], "mpi4py_min_s": best[0], "gradsync_min_s": best[2],
                    "reps": reps})
    return out


# --- the driver --------------------------------------------------------------------------------
def _mpiexec(explicit: str | None) -> str:
    exe = explicit or shutil.which("mpiexec") or shutil.which("mpirun")
    if exe is None:
        raise RuntimeError("gradflow bench distributed: no mpiexec on PATH; install MPI and "
                           'mpi4py with: pip install "gradflow[mpi]" mpich')
    return exe


def run_job(mpiexec: str, ranks: int, job: dict[str, Any], threads: int | None,
            timeout: float) -> dict[str, Any]:
    """One ``mpiexec -n ranks`` worker job (its own process group, killed after ``timeout``
    seconds); the reply of rank 0."""
    import gradflow

    root = os.path.dirname(os.path.dirname(os.path.abspath(gradflow.__file__)))
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    if threads:
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            env[var] = str(threads)
    cmd = [mpiexec, "-n", str(ranks), sys.executable, "-m", "gradflow.bench.distributed",
           "--worker", json.dumps(job)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env, start_new_session=True)
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise RuntimeError(f"gradflow bench distributed: the {ranks}-rank job ran past "
                           f"--timeout {timeout:g} s and was killed") from None
    if proc.returncode == 0:
        for line in reversed(stdout.splitlines()):
            if line.startswith(_WORKER_MARK):
                return json.loads(line[len(_WORKER_MARK):])
    raise RuntimeError(f"gradflow bench distributed: the {ranks}-rank job failed (exit "
                       f"{proc.returncode}):\n{stderr[-3000:]}")


def run_distributed(out_dir: str | os.PathLike, ranks: Sequence[int] = DEFAULT_RANKS,
                    model: str = "mlp", sizes: Sequence[int] | None = None, batch: int = 256,
                    global_batch: int | None = None, steps: int = 20, warmup: int = 3,
                    segments: int = 4, rounds: int = 3, threads: int | None = 1,
                    micro_bytes: Sequence[int] | None = MICRO_BYTES, micro_time: float = 0.2,
                    timeout: float = 300.0, seed: int = 0, quick: bool = False,
                    mpiexec: str | None = None, verbose: bool = False) -> list[dict[str, Any]]:
    """Measure the scaling and the allreduces; write ``distributed.md`` and ``.csv`` into
    ``out_dir``; return the CSV rows."""
    if quick:
        sizes, batch, steps, warmup, segments, rounds = QUICK_SIZES, 16, 4, 1, 2, 1
        micro_bytes, micro_time = QUICK_MICRO_BYTES if micro_bytes else None, 0.0
    sizes = tuple(sizes or DEFAULT_SIZES)
    ranks = sorted(set(int(r) for r in ranks))
    if not ranks or ranks[0] < 1:
        raise ValueError(f"bench distributed: ranks={ranks}; expected positive rank counts")
    if 1 not in ranks:
        ranks = [1, *ranks]  # the efficiency's baseline
    global_batch = int(global_batch or batch)
    if global_batch < ranks[-1]:
        raise ValueError(f"bench distributed: global batch {global_batch} < {ranks[-1]} ranks "
                         "(strong scaling gives every rank at least one example)")
    exe = _mpiexec(mpiexec)
    grad_bytes = gradient_bytes(model, sizes)
    top = ranks[-1]
    micro = sorted(set(micro_bytes) | {grad_bytes}) if micro_bytes and top > 1 else []
    env = environment({"threads_per_rank": threads or "default", "mpiexec": exe,
                       "mpi4py": _version("mpi4py"), "mpich": _version("mpich")})
    uptimes = [_uptime()]
    per_round: dict[tuple[str, int], list[dict[str, Any]]] = {}
    identical: dict[int, bool] = {}
    micro_rows: list[dict[str, Any]] = []
    for rnd in range(rounds):
        for R in ranks if rnd % 2 == 0 else ranks[::-1]:
            configs = [("weak", batch * R)]
            if R > 1 or global_batch != batch:
                configs.append(("strong", global_batch))
            job = {"model": model, "sizes": list(sizes), "configs": configs, "steps": steps,
                   "warmup": warmup, "segments": segments, "seed": seed,
                   "micro": micro if (rnd == 0 and top == R) else [], "micro_time": micro_time}
            load = loadavg()
            reply = run_job(exe, R, job, threads, timeout)
            identical[R] = identical.get(R, True) and reply["params_identical"]
            for p in reply["points"]:
                per_round.setdefault((p["mode"], R), []).append({**p, "loadavg": load})
                if R == 1 and global_batch == batch:
                    per_round.setdefault(("strong", 1), []).append({**p, "mode": "strong",
                                                                    "loadavg": load})
            if reply["micro"]:
                micro_rows = reply["micro"]
            if verbose:
                print(f"round {rnd + 1}/{rounds} ranks {R}: " + ", ".join(
                    f"{p['mode']} {p['global_batch'] / p['step_s']:,.0f} samples/s"
                    for p in reply["points"]) + f" (load {load})", flush=True)
    uptimes.append(_uptime())
    rows = _scaling_rows(per_round, ranks, identical, model)
    alpha = beta = None
    if micro_rows:
        alpha, beta = fit_ring([m["bytes"] for m in micro_rows],
                               [m["mpi4py_min_s"] for m in micro_rows], top)
        for m in micro_rows:
            rows.append({"section": "allreduce", "ranks": top, "bytes": m["bytes"],
                         "mpi4py_ms": m["mpi4py_s"] * 1e3, "comm_ms": m["comm_s"] * 1e3,
                         "gradsync_ms": m["gradsync_s"] * 1e3, "reps": m["reps"],
                         "gradsync_over_mpi4py": m["gradsync_s"] / m["mpi4py_s"],
                         "mpi4py_min_ms": m["mpi4py_min_s"] * 1e3,
                         "gradsync_min_ms": m["gradsync_min_s"] * 1e3,
                         "gradsync_over_mpi4py_min": m["gradsync_min_s"] / m["mpi4py_min_s"]})
        base = next(r for r in rows if r.get("mode") == "weak" and r["ranks"] == 1)
        rows += extrapolate(base["compute_cpu_ms"] / 1e3, grad_bytes, alpha, beta)
    common = {"model": model, "rounds": rounds, "threads": threads or "default",
              "commit": env["gradflow_commit"]}
    for r in rows:
        for k, v in common.items():
            r.setdefault(k, v)
    config = {"model": model, "sizes": list(sizes) if model == "mlp" else "1x28x28 CNN",
              "gradient_bytes": grad_bytes, "ranks": ranks, "batch_per_rank_weak": batch,
              "global_batch_strong": global_batch, "steps": steps, "warmup": warmup,
              "segments": segments, "rounds": rounds, "threads_per_rank": threads or "default",
              "micro_min_time_s": micro_time, "alpha_s": alpha, "beta_s_per_byte": beta}
    os.makedirs(out_dir, exist_ok=True)
    write_csv(os.path.join(out_dir, "distributed.csv"), rows, CSV_FIELDS)
    _write_md(os.path.join(out_dir, "distributed.md"), rows, env, config, uptimes)
    return rows


def _scaling_rows(per_round, ranks, identical, model) -> list[dict[str, Any]]:
    rows = []
    for mode in ("weak", "strong"):
        base = per_round.get((mode, 1), [])
        for R in ranks:
            pts = per_round.get((mode, R))
            if not pts:
                continue
            thr = [p["global_batch"] / p["step_s"] for p in pts]
            row = {"section": "scaling", "model": model, "mode": mode, "ranks": R,
                   "batch_per_rank": pts[0]["batch_per_rank"],
                   "global_batch": pts[0]["global_batch"], "samples_per_s": float(np.median(thr)),
                   "step_ms": float(np.median([p["step_s"] for p in pts])) * 1e3,
                   "compute_ms": float(np.median([p["compute_s"] for p in pts])) * 1e3,
                   "compute_cpu_ms": float(np.median([p["compute_cpu_s"] for p in pts])) * 1e3,
                   "allreduce_ms": float(np.median([p["allreduce_s"] for p in pts])) * 1e3,
                   "params_identical": identical.get(R, True), "steps": pts[0]["steps"],
                   "loadavg": " / ".join(p["loadavg"] for p in pts)}
            if base:
                base_thr = [p["global_batch"] / p["step_s"] for p in base]
                row["efficiency"] = row["samples_per_s"] / (R * float(np.median(base_thr)))
                row["efficiency_rounds"] = " ".join(  # round k of R against round k of 1 rank
                    f"{t / (R * b):.2f}" for t, b in zip(thr, base_thr))
            rows.append(row)
    return rows


def _version(dist: str) -> str:
    import importlib.metadata

    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True, timeout=10,
                              check=False).stdout.strip() or loadavg()
    except (OSError, subprocess.SubprocessError):
        return loadavg()


def _f(value: Any, fmt: str) -> str:
    return "" if value is None or value == "" else format(value, fmt)


def _write_md(path: str, rows, env, config, uptimes) -> None:
    scaling = [r for r in rows if r["section"] == "scaling"]
    micro = [r for r in rows if r["section"] == "allreduce"]
    model = [r for r in rows if r["section"] == "model"]
    arch = (f"MLP {config['sizes']}" if config["model"] == "mlp" else "CNN (1x28x28, 2 conv)")
    lines = [f"# Data-parallel scaling: {arch}, float32, SGD, MPI (mpi4py)", "",
             "One step = `zero_grad`, forward, cross-entropy, backward, `GradSync(share)`, "
             "`SGD.step` (a hand-written loop after `broadcast_parameters`), every rank in its "
             f"own process with {config['threads_per_rank']} BLAS thread(s). Gradient: "
             f"{config['gradient_bytes']:,} bytes. Weak scaling: {config['batch_per_rank_weak']} "
             f"examples per rank; strong scaling: a global batch of "
             f"{config['global_batch_strong']} split across the ranks. Per point "
             f"{config['steps']} timed steps after {config['warmup']} warm-up steps (the weak and "
             "strong configurations interleaved in one job), medians over steps; "
             f"{config['rounds']} rounds alternating between rank counts, medians over rounds. "
             "Compute: the slowest rank's forward + backward + step (wall; CPU time beside it); "
             "allreduce: the fastest rank's `GradSync` (the transfer, without waiting for a "
             "slower peer). Efficiency = samples/s(R) / (R · samples/s(1)).", "",
             "## Scaling", ""]
    lines += md_table(
        ["mode", "ranks", "batch/rank", "global batch", "samples/s", "step ms", "compute ms",
         "compute CPU ms", "allreduce ms", "efficiency", "per round", "same params"],
        ([r["mode"], r["ranks"], r["batch_per_rank"], r["global_batch"],
          f"{r['samples_per_s']:,.0f}", f"{r['step_ms']:.1f}", f"{r['compute_ms']:.1f}",
          f"{r['compute_cpu_ms']:.1f}", f"{r['allreduce_ms']:.2f}",
          _f(r.get("efficiency"), ".2f"), r.get("efficiency_rounds", ""),
          "yes" if r["params_identical"] else "NO"] for r in scaling))
    if micro:
        p = micro[0]["ranks"]
        lines += ["", f"## Allreduce on {p} ranks (float32, in place)", "",
                  "Medians (and fastest repetitions) of the slowest rank over interleaved "
                  "repetitions, each after a barrier. `comm.allreduce_sum_`: gradflow's "
                  "watched collective on the same buffer; `GradSync`: two gradients of that "
                  "many bytes in total, weighted by a "
                  "share (>= 1 MiB: reduced in its own array; smaller: packed into a reused "
                  "bucket and copied back).", ""]
        lines += md_table(["bytes", "mpi4py ms", "comm.allreduce_sum_ ms", "GradSync ms",
                           "GradSync / mpi4py", "fastest: mpi4py ms", "fastest: GradSync ms",
                           "fastest: ratio", "GB/s (fastest mpi4py, n/t)", "reps"],
                          ([f"{r['bytes']:,}" + (" (the model's gradient)"
                                                  if r["bytes"] == config["gradient_bytes"]
                                                  else ""),
                            f"{r['mpi4py_ms']:.3f}", f"{r['comm_ms']:.3f}",
                            f"{r['gradsync_ms']:.3f}", f"{r['gradsync_over_mpi4py']:.2f}",
                            f"{r['mpi4py_min_ms']:.3f}", f"{r['gradsync_min_ms']:.3f}",
                            f"{r['gradsync_over_mpi4py_min']:.2f}",
                            f"{r['bytes'] / r['mpi4py_min_ms'] / 1e6:.2f}", r["reps"]]
                           for r in micro))
        a, b = config["alpha_s"], config["beta_s_per_byte"]
        lines += ["", "## Ring-allreduce model, extrapolated", "",
                  f"Fit of mpi4py's fastest repetitions (the uncontended cost) on {p} ranks "
                  "to `t(p, n) = 2(p-1)·α + 2(p-1)/p · n·β` (β: the least-squares slope over "
                  "the messages >= 1 MiB, out of cache as a gradient is; α: the intercept of "
                  f"a line through those <= 64 KiB): α = {a * 1e6:.1f} µs per message, "
                  f"β = {b * 1e9:.3f} ns/byte ({1 / b / 1e9 if b else float('inf'):.2f} GB/s "
                  "per link). The weak-scaling efficiency of the measured step is "
                  "`C / (C + t(p, G))` with C the 1-rank step's compute CPU time (its wall "
                  "time on a quiet machine; other work on this one inflates the wall time) and "
                  "G the gradient (GradSync after backward, no overlap, its own work not "
                  "counted). Assumption: "
                  "every link as fast as this machine's loopback (shared memory), which is "
                  "optimistic against a network; the second pair of columns is a typical "
                  f"cluster network (α = {NETWORK['alpha_s'] * 1e6:g} µs, "
                  f"{1 / NETWORK['beta_s_per_byte'] / 1e9:g} GB/s).", ""]
        lines += md_table(["ranks", "allreduce ms (loopback links)", "weak efficiency",
                           "allreduce ms (10 GB/s, 5 µs)", "weak efficiency"],
                          ([r["ranks"], f"{r['ring_ms_loopback']:.2f}",
                            f"{r['efficiency_loopback']:.3f}", f"{r['ring_ms_network']:.2f}",
                            f"{r['efficiency_network']:.3f}"] for r in model))
    lines += ["", "## Targets", ""]
    targets = []
    weak2 = next((r for r in scaling if r["mode"] == "weak" and r["ranks"] == 2), None)
    if weak2 is not None and "efficiency" in weak2:
        targets.append([f"weak-scaling efficiency at 2 ranks (batch {weak2['batch_per_rank']} "
                        "per rank)", f"≥ {TARGET_WEAK_EFFICIENCY}", f"{weak2['efficiency']:.2f}",
                        "met" if weak2["efficiency"] >= TARGET_WEAK_EFFICIENCY else "not met"])
    grad = next((r for r in micro if r["bytes"] == config["gradient_bytes"]), None)
    if grad is not None:
        targets.append([f"GradSync / mpi4py Allreduce, {grad['bytes']:,} bytes (medians; "
                        f"fastest repetitions: {grad['gradsync_over_mpi4py_min']:.2f})",
                        f"≤ {TARGET_GRADSYNC_RATIO}", f"{grad['gradsync_over_mpi4py']:.2f}",
                        "met" if grad["gradsync_over_mpi4py"] <= TARGET_GRADSYNC_RATIO
                        else "not met"])
    lines += md_table(["criterion", "target", "measured", "verdict"], targets)
    lines += ["", "## Environment", ""] + env_markdown(env)
    lines += [f"- uptime before: `{uptimes[0]}`", f"- uptime after: `{uptimes[-1]}`",
              f"- config: `{config}`"]
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")


def _ints(text: str) -> list[int]:
    try:
        return [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") \
            from None


def main(argv: Sequence[str] | None = None) -> int:
    """``gradflow bench distributed [--ranks 1,2,4] [--threads 1] [--model mlp|cnn]
    [--batch 256] [--global-batch B] [--steps 20] [--rounds 3] [--no-micro] [--out DIR]``."""
    parser = argparse.ArgumentParser(prog="gradflow bench distributed",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="distributed", help="output folder (created)")
    parser.add_argument("--ranks", type=_ints, default=list(DEFAULT_RANKS),
                        help="comma-separated rank counts (default 1,2; 1 is always added)")
    parser.add_argument("--model", choices=("mlp", "cnn"), default="mlp")
    parser.add_argument("--sizes", type=_ints, default=None,
                        help="MLP widths (default 784,1024,1024,10: a 7.1 MiB gradient)")
    parser.add_argument("--batch", type=int, default=256, help="weak scaling: examples per rank")
    parser.add_argument("--global-batch", type=int, default=None,
                        help="strong scaling: the global batch (default: --batch)")
    parser.add_argument("--steps", type=int, default=20, help="timed steps per point")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3,
                        help="jobs per rank count, alternating between rank counts")
    parser.add_argument("--threads", type=int, default=1,
                        help="BLAS threads per rank (0: the libraries' defaults)")
    parser.add_argument("--no-micro", action="store_true",
                        help="skip the allreduce microbenchmark and the ring model")
    parser.add_argument("--micro-time", type=float, default=0.2,
                        help="seconds per message size and variant (at least 5 repetitions)")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per MPI job")
    parser.add_argument("--mpiexec", default=None, help="launcher (default: mpiexec on PATH)")
    parser.add_argument("--quick", action="store_true", help="tiny CI size (seconds)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker is not None:
        _worker(json.loads(args.worker))
        return 0
    try:
        rows = run_distributed(args.out, ranks=args.ranks, model=args.model, sizes=args.sizes,
                               batch=args.batch, global_batch=args.global_batch,
                               steps=args.steps, warmup=args.warmup, rounds=args.rounds,
                               threads=args.threads or None,
                               micro_bytes=None if args.no_micro else MICRO_BYTES,
                               micro_time=args.micro_time, timeout=args.timeout,
                               seed=args.seed, quick=args.quick, mpiexec=args.mpiexec,
                               verbose=True)
    except (RuntimeError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for r in rows:
        if r["section"] == "scaling" and r["ranks"] > 1:
            print(f"{r['mode']} {r['ranks']} ranks: efficiency {r.get('efficiency', 0):.2f}, "
                  f"allreduce {r['allreduce_ms']:.2f} ms of a {r['step_ms']:.1f} ms step")
    print(f"wrote {os.path.join(args.out, 'distributed.md')} (.csv)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
