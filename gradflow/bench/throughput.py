"""Training-step throughput of one MLP in gradflow, hand-written NumPy, PyTorch and JAX.

One step is forward, mean softmax cross-entropy, backward and a plain SGD update, on the same
ReLU MLP (784-512-512-10 by default, float32, PyTorch's default init drawn once with NumPy) and
the same random data in every framework:

- ``gradflow``: ``nn.Sequential`` of ``nn.Linear``/``nn.ReLU``, ``nn.CrossEntropyLoss``,
  ``optim.SGD``; ``zero_grad(); loss_fn(model(x), y).backward(); opt.step()``.
- ``numpy``: the forward and backward written out by hand, the update in place.
- ``torch``: the same model in PyTorch eager, ``torch.optim.SGD`` (threads left at default).
- ``jax``: ``jax.jit`` of the whole step (``value_and_grad`` and the update), blocked on the new
  parameters after every step (``block_until_ready``), so it is timed synchronously as the others.

Each framework steps through the same pre-built batches (already in its own array type) after a
warm-up; per-step time is the median (and IQR) over ``repeats`` samples, each sample averaging
enough steps to last ~20 ms. By default each framework runs in its own Python process, so no
other library's thread pool spins beside it (on a 2-core machine OpenBLAS's and PyTorch's
OpenMP workers otherwise starve each other), in 5 rounds that alternate between frameworks, so
that a noisy machine slows them alike.

    from gradflow.bench.throughput import run_throughput
    rows = run_throughput("out/")   # writes throughput.{md,csv,png}
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from gradflow.bench._common import (
    StepTimer,
    env_markdown,
    environment,
    jax_single_thread_flags,
    limit_threads,
    loadavg,
    md_table,
    no_matplotlib_error,
    run_worker,
    summarize,
    thread_counts,
    worker_reply,
    write_csv,
)

FRAMEWORKS = ("gradflow", "numpy", "torch", "jax")
DEFAULT_BATCH_SIZES: tuple[int | str, ...] = (1, 8, 32, 128, 512, 2048, "full")
DEFAULT_SIZES = (784, 512, 512, 10)
QUICK_SIZES = (64, 32, 10)
LR = 0.01
CSV_FIELDS = ("framework", "device", "batch", "batch_size", "step_ms", "step_ms_iqr",
              "step_ms_min", "samples_per_s", "repeats", "inner_steps", "sizes", "dtype",
              "threads", "commit")
# (criterion, numerator/denominator key, batch filter, bound) for the default CPU MLP
TARGETS = (("gradflow/torch at batch >= 32", "torch", lambda b: b >= 32, 1.0),
           ("gradflow/torch at batch 1", "torch", lambda b: b == 1, 1.5),
           ("gradflow/numpy at batch >= 256", "numpy", lambda b: b >= 256, 1.10))


# --- the model and the data, shared by every framework -------------------------------------
def init_mlp(sizes: Sequence[int], seed: int = 0, dtype: Any = np.float32
             ) -> list[tuple[np.ndarray, np.ndarray]]:
    """``[(W (out, in), b (out,))]`` per layer, PyTorch's ``nn.Linear`` init:
    ``U(−1/√fan_in, 1/√fan_in)`` for both."""
    rng = np.random.default_rng([seed, 1])
    params = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        bound = 1.0 / np.sqrt(fan_in)
        w = rng.uniform(-bound, bound, (fan_out, fan_in)).astype(dtype)
        b = rng.uniform(-bound, bound, fan_out).astype(dtype)
        params.append((w, b))
    return params


def make_data(n: int, in_features: int, classes: int, seed: int = 0, dtype: Any = np.float32
              ) -> tuple[np.ndarray, np.ndarray]:
    """Standard-normal inputs ``(n, in_features)`` and uniform int64 labels ``(n,)``."""
    rng = np.random.default_rng([seed, 2])
    x = rng.standard_normal((n, in_features)).astype(dtype)
    return x, rng.integers(0, classes, n).astype(np.int64)


# --- one training step per framework ----------------------------------------------------------
#: The optimizers the gradflow and PyTorch steps can use (each picks its own library's class).
OPTIMIZERS = {"sgd": lambda optim: optim.SGD, "adam": lambda optim: optim.Adam}


class GradflowStep:
    """gradflow as a user writes it: Sequential, CrossEntropyLoss, optim.SGD (or Adam)."""

    def __init__(self, params, lr: float = LR, dtype: Any = np.float32, device: str = "cpu",
                 optimizer: str = "sgd"):
        import gradflow as gf
        from gradflow import nn, optim

        self.gf, self.device = gf, device
        layers: list[Any] = []
        for i, (w, _) in enumerate(params):
            layers.append(nn.Linear(w.shape[1], w.shape[0], dtype=np.dtype(dtype), device=device))
            if i < len(params) - 1:
                layers.append(nn.ReLU())
        self.model = nn.Sequential(*layers)
        lin = [m for m in layers if isinstance(m, nn.Linear)]
        self.model.load_state_dict({f"{2 * i}.{k}": a for i, (w, b) in enumerate(params)
                                    for k, a in (("weight", w), ("bias", b))})
        self.params = [p for m in lin for p in (m.weight, m.bias)]
        self.loss_fn = nn.CrossEntropyLoss()
        self.opt = OPTIMIZERS[optimizer](optim)(self.model.parameters(), lr=lr)

    def batch(self, x: np.ndarray, y: np.ndarray):
        gf = self.gf
        return (gf.tensor(x, dtype=x.dtype, device=self.device),
                gf.tensor(y, device=self.device))

    def step(self, batch):
        x, y = batch
        self.opt.zero_grad()
        loss = self.loss_fn(self.model(x), y)
        loss.backward()
        self.opt.step()
        return loss

    def sync(self) -> None:
        if self.device != "cpu":
            self.gf.cuda.synchronize(self.device)

    def weights(self) -> list[np.ndarray]:
        return [p.numpy().copy() for p in self.params]


class NumpyStep:
    """The forward and backward written out by hand in NumPy; SGD in place."""

    def __init__(self, params, lr: float = LR, dtype: Any = np.float32, device: str = "cpu"):
        if device != "cpu":
            raise ValueError("NumpyStep runs on the CPU only")
        self.params = [(w.astype(dtype), b.astype(dtype)) for w, b in params]
        self.lr = lr

    def batch(self, x: np.ndarray, y: np.ndarray):
        return np.ascontiguousarray(x), y, np.arange(x.shape[0])

    def step(self, batch):
        x, y, rows = batch
        last = len(self.params) - 1
        acts = [x]
        for i, (w, b) in enumerate(self.params):
            z = acts[-1] @ w.T
            z += b
            if i < last:
                np.maximum(z, 0, out=z)
            acts.append(z)
        z = acts.pop()
        m = z.max(axis=1, keepdims=True)
        z -= m
        picked = z[rows, y]
        np.exp(z, out=z)
        s = z.sum(axis=1, keepdims=True)
        loss = np.mean(np.log(s[:, 0]) - picked)
        g = z
        g /= s  # softmax
        g[rows, y] -= 1
        g *= 1.0 / x.shape[0]  # dL/dz of the mean loss
        for i in range(last, -1, -1):
            w, b = self.params[i]
            a = acts[i]
            gw = g.T @ a
            gb = g.sum(axis=0)
            if i > 0:
                g = g @ w  # before w changes
                g *= a > 0
            gw *= self.lr
            w -= gw
            gb *= self.lr
            b -= gb
        return loss

    def sync(self) -> None:
        pass

    def weights(self) -> list[np.ndarray]:
        return [a.copy() for w, b in self.params for a in (w, b)]


class TorchStep:
    """PyTorch eager: ``nn.Sequential``, ``F.cross_entropy``, ``torch.optim.SGD`` (or Adam)."""

    def __init__(self, params, lr: float = LR, dtype: Any = np.float32, device: str = "cpu",
                 optimizer: str = "sgd"):
        import torch

        self.torch, self.device = torch, device
        tdtype = getattr(torch, np.dtype(dtype).name)
        layers: list[Any] = []
        for i, (w, b) in enumerate(params):
            lin = torch.nn.Linear(w.shape[1], w.shape[0], dtype=tdtype, device=device)
            with torch.no_grad():
                lin.weight.copy_(torch.from_numpy(np.ascontiguousarray(w)))
                lin.bias.copy_(torch.from_numpy(np.ascontiguousarray(b)))
            layers.append(lin)
            if i < len(params) - 1:
                layers.append(torch.nn.ReLU())
        self.model = torch.nn.Sequential(*layers)
        self.opt = OPTIMIZERS[optimizer](torch.optim)(self.model.parameters(), lr=lr)
        self.cross_entropy = torch.nn.functional.cross_entropy

    def batch(self, x: np.ndarray, y: np.ndarray):
        t = self.torch
        return (t.from_numpy(np.ascontiguousarray(x)).to(self.device),
                t.from_numpy(y).to(self.device))

    def step(self, batch):
        x, y = batch
        self.opt.zero_grad()
        loss = self.cross_entropy(self.model(x), y)
        loss.backward()
        self.opt.step()
        return loss

    def sync(self) -> None:
        if self.device != "cpu":
            self.torch.cuda.synchronize()

    def weights(self) -> list[np.ndarray]:
        return [p.detach().cpu().numpy().copy() for p in self.model.parameters()]


class JaxStep:
    """``jax.jit`` of the whole step (loss, gradient and SGD update), blocked after each step."""

    def __init__(self, params, lr: float = LR, dtype: Any = np.float32, device: str = "cpu"):
        import jax
        import jax.numpy as jnp

        if device != "cpu":
            raise ValueError("JaxStep is benchmarked on the CPU only")
        self.jax = jax
        self.params = [(jnp.asarray(w.astype(dtype)), jnp.asarray(b.astype(dtype)))
                       for w, b in params]

        def loss_fn(ps, x, y):
            h = x
            for i, (w, b) in enumerate(ps):
                h = h @ w.T + b
                if i < len(ps) - 1:
                    h = jax.nn.relu(h)
            lse = jax.nn.logsumexp(h, axis=1)
            return jnp.mean(lse - jnp.take_along_axis(h, y[:, None], axis=1)[:, 0])

        def step(ps, x, y):
            loss, grads = jax.value_and_grad(loss_fn)(ps, x, y)
            return jax.tree_util.tree_map(lambda p, g: p - lr * g, ps, grads), loss

        self._step = jax.jit(step)

    def batch(self, x: np.ndarray, y: np.ndarray):
        return self.jax.device_put(x), self.jax.device_put(y)

    def step(self, batch):
        self.params, loss = self._step(self.params, *batch)
        self.jax.block_until_ready(self.params)
        return loss

    def sync(self) -> None:
        self.jax.block_until_ready(self.params)

    def weights(self) -> list[np.ndarray]:
        return [np.asarray(a).copy() for w, b in self.params for a in (w, b)]


STEPS: dict[str, Callable[..., Any]] = {"gradflow": GradflowStep, "numpy": NumpyStep,
                                        "torch": TorchStep, "jax": JaxStep}


def one_step(framework: str, params, x: np.ndarray, y: np.ndarray, lr: float = LR,
             dtype: Any = np.float32, device: str = "cpu") -> tuple[float, list[np.ndarray]]:
    """(loss, updated ``[W1, b1, W2, b2, ...]``) after one step of ``framework`` from ``params``
    on ``(x, y)``: the check that every framework does the same work."""
    if framework == "jax" and np.dtype(dtype) == np.float64:
        import jax

        with jax.enable_x64(True):
            return one_step_now(framework, params, x, y, lr, dtype, device)
    return one_step_now(framework, params, x, y, lr, dtype, device)


def one_step_now(framework, params, x, y, lr, dtype, device):
    impl = STEPS[framework](params, lr=lr, dtype=dtype, device=device)
    loss = impl.step(impl.batch(x.astype(dtype), y))
    impl.sync()
    value = loss.item() if hasattr(loss, "item") else float(loss)
    return float(value), impl.weights()


# --- the benchmark -----------------------------------------------------------------------------
def _available(framework: str) -> str | None:
    """None if ``framework`` can run here, else why not."""
    module = {"gradflow": "gradflow", "numpy": "numpy", "torch": "torch", "jax": "jax"}[framework]
    try:
        __import__(module)
    except ImportError as exc:
        return f"{framework} not installed ({exc})"
    return None


def _cuda_note() -> tuple[list[tuple[str, str]], list[str]]:
    """The (framework, "cuda") pairs to run, and notes for what is skipped."""
    import gradflow as gf

    pairs, notes = [], []
    if gf.cuda.is_available():
        pairs.append(("gradflow", "cuda"))
    else:
        notes.append(f"gradflow on cuda skipped: {gf.cuda.unavailable_reason()}")
    try:
        import torch

        if torch.cuda.is_available():
            pairs.append(("torch", "cuda"))
        else:
            notes.append(f"torch on cuda skipped: torch {torch.__version__} sees no CUDA device")
    except ImportError:
        notes.append("torch on cuda skipped: torch not installed")
    notes.append("numpy and jax run on the CPU only in this benchmark")
    return pairs, notes


def run_throughput(out_dir: str | os.PathLike,
                   batch_sizes: Sequence[int | str] = DEFAULT_BATCH_SIZES,
                   sizes: Sequence[int] = DEFAULT_SIZES, n_samples: int | None = None,
                   frameworks: Sequence[str] = FRAMEWORKS, devices: Sequence[str] | None = None,
                   warmup: int = 3, repeats: int = 20, seed: int = 0, quick: bool = False,
                   min_time: float = 0.02, threads: int | None = None, isolate: bool = True,
                   rounds: int = 5, verbose: bool = False) -> list[dict[str, Any]]:
    """Time one training step per framework, device and batch size; write
    ``throughput.{md,csv,png}`` into ``out_dir``; return one row per measurement.

    Args:
        batch_sizes: ints and/or ``"full"`` (the whole ``n_samples`` set: batch gradient descent).
        sizes: layer widths, input first (ReLU between layers, softmax-CE on the last).
        n_samples: rows of random data (default: twice the largest integer batch size).
        frameworks: any of ``"gradflow"``, ``"numpy"``, ``"torch"``, ``"jax"``.
        devices: ``("cpu",)`` or with ``"cuda"`` (gradflow and torch on the GPU); default: the
            CPU, plus CUDA when usable (skipped with a note in the report otherwise).
        warmup: untimed steps before timing (the first JAX call also compiles).
        repeats: timing samples per measurement (median and IQR over them).
        quick: CI size: sizes 64-32-10, batch sizes (1, 32), 3 repeats, 1 warm-up step, 1
            round, overriding those arguments.
        min_time: seconds one sample should last (short steps are averaged over many calls).
        threads: ``None`` leaves every library's thread pools at their defaults (the
            benchmark's setting); ``1`` runs everything single-threaded, which is far less
            sensitive to other work on the machine.
        isolate: time each framework in its own Python process, so that no other library's
            thread pool (OpenBLAS, OpenMP, Eigen) spins beside it; the samples are taken in
            ``rounds`` rounds that alternate between the frameworks (each round starting with
            the next framework). ``False``: one process,
            frameworks sampled in turns (faster; thread pools then compete on a small machine).

    Rows: ``framework, device, batch (label), batch_size, step_ms, step_ms_iqr, step_ms_min,
    samples_per_s, repeats, inner_steps, sizes, dtype, threads, commit``.
    """
    if quick:
        sizes, batch_sizes, repeats, warmup, min_time = QUICK_SIZES, (1, 32), 3, 1, 0.002
        rounds = 1
    unknown = [f for f in frameworks if f not in STEPS]
    if unknown:
        raise ValueError(f"run_throughput: unknown frameworks {unknown}; choose from {FRAMEWORKS}")
    ints = [b for b in batch_sizes if b != "full"]
    if any(not isinstance(b, int) or isinstance(b, bool) or b < 1 for b in ints):
        raise ValueError(f"run_throughput: batch sizes must be positive ints or 'full', got "
                         f"{list(batch_sizes)}")
    n = int(n_samples) if n_samples else 2 * max(ints or [1024])
    if ints and max(ints) > n:
        raise ValueError(f"run_throughput: batch size {max(ints)} exceeds n_samples={n}")
    notes: list[str] = []
    env = environment()
    pairs: list[tuple[str, str]] = []
    if devices is None or "cpu" in devices:
        for f in frameworks:
            why = _available(f)
            notes += [f"{f} skipped: {why}"] if why else []
            pairs += [] if why else [(f, "cpu")]
    if devices is None or "cuda" in devices:
        cuda_pairs, cuda_notes = _cuda_note()
        pairs += [p for p in cuda_pairs if p[0] in frameworks]
        notes += cuda_notes
    rounds = max(1, min(rounds, repeats)) if isolate else 1
    config = {"sizes": "-".join(map(str, sizes)), "n_samples": n, "warmup": warmup,
              "repeats": repeats, "min_time_s": min_time, "lr": LR, "seed": seed,
              "threads": "default" if threads is None else threads, "isolate": isolate,
              "rounds": rounds, "quick": quick}
    job = {"batch_sizes": list(batch_sizes), "sizes": list(sizes), "n": n, "seed": seed,
           "warmup": warmup, "min_time": min_time, "threads": threads}
    if isolate:
        raw, counts = _isolated(pairs, job, repeats, rounds, verbose)
    else:
        raw, counts, why = _in_process(pairs, dict(job, repeats=repeats), verbose)
        notes += [why] if why else []
    env.update(counts)
    rows = _summarize(raw, sizes)
    for r in rows:
        r.update(threads=config["threads"], commit=env["gradflow_commit"])
    env["loadavg_end"] = loadavg()
    os.makedirs(out_dir, exist_ok=True)
    base = os.fspath(out_dir)
    write_csv(os.path.join(base, "throughput.csv"), rows, CSV_FIELDS)
    _write_md(os.path.join(base, "throughput.md"), rows, env, config, notes, tuple(sizes))
    _plot(os.path.join(base, "throughput.png"), rows, config)
    return rows


def _in_process(pairs, job: dict[str, Any], verbose: bool = False):
    """Measure ``pairs`` in this process: (raw rows, thread counts, note or None)."""
    why = None
    if job["threads"] == 1 and any(f == "jax" for f, _ in pairs):
        why = jax_single_thread_flags()
    for module in dict.fromkeys(f for f, _ in pairs):
        __import__(module)  # load every thread pool before limiting or recording them
    with limit_threads(job["threads"]):
        counts = thread_counts()
        raw = _measure([tuple(p) for p in pairs], job["batch_sizes"], job["sizes"], job["n"],
                       job["seed"], job["warmup"], job["repeats"], job["min_time"], verbose)
    return raw, counts, why


def _isolated(pairs, job: dict[str, Any], repeats: int, rounds: int, verbose: bool):
    """Each framework in a fresh process per round; samples of all rounds pooled."""
    by_fw: dict[str, list[tuple[str, str]]] = {}
    for fw, dev in pairs:
        by_fw.setdefault(fw, []).append((fw, dev))
    pooled: dict[tuple[str, str, str], dict[str, Any]] = {}
    counts: dict[str, Any] = {}
    share = [repeats // rounds + (i < repeats % rounds) for i in range(rounds)]
    order = list(by_fw)
    for k in range(rounds):
        for fw in order[k % len(order):] + order[:k % len(order)]:  # rotate who goes first
            fw_pairs = by_fw[fw]
            reply = run_worker("gradflow.bench.throughput",
                               dict(job, pairs=fw_pairs, repeats=share[k]))
            for key, value in reply["threads"].items():
                if key == "blas_threads" and fw in ("torch", "jax"):
                    continue  # those processes never call NumPy's BLAS
                counts[key] = value
            for r in reply["rows"]:
                row = pooled.setdefault((r["framework"], r["device"], r["batch"]),
                                        dict(r, samples=[], inner_steps=[]))
                row["samples"] += r["samples"]
                row["inner_steps"].append(r["inner_steps"])
                if verbose:
                    print(f"  round {k + 1}/{rounds} batch {r['batch']:>5} {fw:>8}/"
                          f"{r['device']}: {np.median(r['samples']) * 1e3:9.3f} ms", flush=True)
    for row in pooled.values():
        row["inner_steps"] = int(np.median(row["inner_steps"]))
    return list(pooled.values()), counts


def _worker(job: dict[str, Any]) -> None:
    """``python -m gradflow.bench.throughput --worker JSON``: measure and reply (JSON).

    With ``threads == 1`` the worker also pins itself to one CPU: XLA's flags do not cap
    JAX's CPU thread pool, the affinity does (and caps any other pool alike)."""
    if job["threads"] == 1 and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    raw, counts, _ = _in_process([tuple(p) for p in job["pairs"]], job)
    if hasattr(os, "sched_getaffinity"):
        counts["cpus_allowed"] = len(os.sched_getaffinity(0))
    worker_reply({"rows": raw, "threads": counts})


def _summarize(raw: list[dict[str, Any]], sizes: Sequence[int]) -> list[dict[str, Any]]:
    rows = []
    for r in raw:
        s = summarize(r["samples"])
        rows.append({"framework": r["framework"], "device": r["device"], "batch": r["batch"],
                     "batch_size": r["batch_size"], "step_ms": s["median"] * 1e3,
                     "step_ms_iqr": s["iqr"] * 1e3, "step_ms_min": s["min"] * 1e3,
                     "samples_per_s": r["batch_size"] / s["median"],
                     "repeats": len(r["samples"]), "inner_steps": r["inner_steps"],
                     "sizes": "-".join(map(str, sizes)), "dtype": "float32"})
    return rows


def _measure(pairs, batch_sizes, sizes, n, seed, warmup, repeats, min_time, verbose
             ) -> list[dict[str, Any]]:
    """Per batch size: build every (framework, device) step from the same weights, warm up,
    then sample them in turns (so machine noise hits them alike). Rows hold the raw samples
    (seconds per step)."""
    params = init_mlp(sizes, seed)
    x_all, y_all = make_data(n, sizes[0], sizes[-1], seed)
    rows: list[dict[str, Any]] = []
    for label in batch_sizes:
        b = n if label == "full" else int(label)
        n_batches = max(1, min(n // b, 32))
        data = [(x_all[i * b:(i + 1) * b], y_all[i * b:(i + 1) * b]) for i in range(n_batches)]
        timers = {}
        for fw, dev in pairs:
            impl = STEPS[fw](params, dtype=np.float32, device=dev)
            native = [impl.batch(x, y) for x, y in data]
            timers[(fw, dev)] = StepTimer(
                lambda i, impl=impl, native=native: impl.step(native[i % len(native)]),
                sync=impl.sync, warmup=warmup, min_time=min_time)
        for _ in range(repeats):
            for timer in timers.values():
                timer.sample()
        for (fw, dev), timer in timers.items():
            rows.append({"framework": fw, "device": dev, "batch": str(label), "batch_size": b,
                         "samples": timer.samples, "inner_steps": timer.inner})
            if verbose:
                print(f"  batch {label!s:>5} {fw:>8}/{dev}: "
                      f"{np.median(timer.samples) * 1e3:9.3f} ms", flush=True)
    return rows


def ratios(rows: Sequence[dict[str, Any]], key: str = "step_ms") -> list[dict[str, Any]]:
    """Per device and batch: gradflow's step time over each other framework's (> 1: slower).

    ``key="step_ms"`` compares medians; ``"step_ms_min"`` the best samples (less sensitive to
    other work on the machine)."""
    table: dict[tuple[str, str], dict[str, float]] = {}
    sizes: dict[str, int] = {}
    for r in rows:
        table.setdefault((r["device"], r["batch"]), {})[r["framework"]] = r[key]
        sizes[r["batch"]] = r["batch_size"]
    out = []
    for (dev, batch), times in table.items():
        if "gradflow" not in times:
            continue
        row: dict[str, Any] = {"device": dev, "batch": batch, "batch_size": sizes[batch]}
        for other in FRAMEWORKS[1:]:
            if other in times:
                row[f"gradflow/{other}"] = times["gradflow"] / times[other]
        out.append(row)
    return out


def _write_md(path: str, rows, env, config, notes, sizes) -> None:
    fws = sorted({(r["framework"], r["device"]) for r in rows},
                 key=lambda p: (p[1], FRAMEWORKS.index(p[0])))
    by = {(r["framework"], r["device"], r["batch"]): r for r in rows}
    batches = list(dict.fromkeys(r["batch"] for r in rows))
    size_of = {r["batch"]: r["batch_size"] for r in rows}
    lines = [f"# Training-step throughput: MLP {config['sizes']}, float32", "",
             "One step = forward, mean softmax cross-entropy, backward, SGD update "
             f"(lr {config['lr']}). Median over {config['repeats']} samples (IQR in brackets); "
             f"each sample averages enough steps to last ≥ {config['min_time_s'] * 1e3:g} ms; "
             f"{config['warmup']} warm-up steps; {config['n_samples']} random examples "
             "(`full` = all of them). "
             + (f"Each framework ran in its own process, {config['rounds']} rounds alternating "
                "between frameworks." if config["isolate"] else
                "All frameworks ran in one process, sampled in turns.")
             + f" Threads: {config['threads']}.", "", "## Step time, ms", ""]
    header = ["batch"] + [f"{f} ({d})" for f, d in fws]
    lines += md_table(header, ([f"{b} ({size_of[b]})" if b == "full" else b] + [
        f"{by[(f, d, b)]['step_ms']:.3f} ({by[(f, d, b)]['step_ms_iqr']:.3f})"
        if (f, d, b) in by else "" for f, d in fws] for b in batches))
    lines += ["", "## Samples per second", ""]
    lines += md_table(header, ([b] + [f"{by[(f, d, b)]['samples_per_s']:,.0f}"
                                      if (f, d, b) in by else "" for f, d in fws]
                               for b in batches))
    rat, best = ratios(rows), ratios(rows, "step_ms_min")
    cols = [c for c in ("gradflow/torch", "gradflow/numpy", "gradflow/jax")
            if any(c in r for r in rat)]
    lines += ["", "## Ratios of step times (gradflow / other; < 1 means gradflow is faster)", "",
              "Medians, and in brackets the ratio of the best samples (less sensitive to other "
              "work on the machine).", ""]
    lines += md_table(["device", "batch"] + cols,
                      ([r["device"], r["batch"]] + [f"{r[c]:.2f} ({b[c]:.2f})" if c in r else ""
                                                    for c in cols] for r, b in zip(rat, best)))
    if tuple(sizes) == DEFAULT_SIZES:
        lines += ["", "## Targets (CPU)", ""]
        target_rows = []
        for name, other, keep, bound in TARGETS:
            got = [r[f"gradflow/{other}"] for r in rat if r["device"] == "cpu"
                   and f"gradflow/{other}" in r and keep(r["batch_size"])]
            if got:
                worst = max(got)
                target_rows.append([name, f"≤ {bound:g}", f"{worst:.2f}",
                                    "met" if worst <= bound else "not met"])
        lines += md_table(["criterion", "target", "worst measured", "verdict"], target_rows)
    lines += ["", "![samples/s vs batch size](throughput.png)", "", "## Environment", ""]
    lines += env_markdown(env)
    lines += [f"- config: `{config}`"]
    if notes:
        lines += ["", "## Notes", ""] + [f"- {n}" for n in notes]
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")


def _plot(path: str, rows, config) -> None:
    try:
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise no_matplotlib_error("run_throughput") from exc
    fig = Figure(figsize=(6.4, 4.2))
    ax = fig.subplots()
    pairs = list(dict.fromkeys((r["framework"], r["device"]) for r in rows))
    for f, d in pairs:
        pts = sorted((r["batch_size"], r["samples_per_s"]) for r in rows
                     if r["framework"] == f and r["device"] == d)
        ax.loglog(*zip(*pts), "o-" if d == "cpu" else "s--", ms=4, label=f"{f} ({d})")
    ax.set_xlabel("batch size (examples per step)")
    ax.set_ylabel("training samples / s")
    ax.set_title(f"MLP {config['sizes']} float32: one SGD step", fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)


def _batch_arg(text: str) -> list[int | str]:
    out: list[int | str] = []
    for part in text.split(","):
        part = part.strip()
        out.append("full" if part == "full" else int(part))
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m gradflow.bench.throughput [--out DIR] [--quick] [--batch-sizes 1,32,full]
    [--repeats N] [--frameworks gradflow,torch] [--device cpu|cuda|all]``."""
    parser = argparse.ArgumentParser(prog="gradflow bench throughput",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="throughput", help="output folder (created)")
    parser.add_argument("--quick", action="store_true", help="tiny CI size (seconds)")
    parser.add_argument("--batch-sizes", type=_batch_arg, default=None,
                        help="comma-separated ints and/or 'full' (default: "
                        "1,8,32,128,512,2048,full)")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--n-samples", type=int, default=None)
    parser.add_argument("--sizes", default=None, help="layer widths, e.g. 784,512,512,10")
    parser.add_argument("--frameworks", default=",".join(FRAMEWORKS),
                        help="comma-separated subset of " + ",".join(FRAMEWORKS))
    parser.add_argument("--device", choices=("cpu", "cuda", "all"), default="all",
                        help="cpu only, cuda only, or both (cuda when available)")
    parser.add_argument("--threads", type=int, default=None,
                        help="cap every library at N threads (default: their own defaults)")
    parser.add_argument("--no-isolate", action="store_true",
                        help="time every framework in this one process (faster, but their "
                             "thread pools compete)")
    parser.add_argument("--rounds", type=int, default=5,
                        help="isolated runs: rounds of one process per framework")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker is not None:
        _worker(json.loads(args.worker))
        return 0
    devices = {"cpu": ("cpu",), "cuda": ("cuda",), "all": None}[args.device]
    sizes = tuple(int(s) for s in args.sizes.split(",")) if args.sizes else DEFAULT_SIZES
    rows = run_throughput(args.out, batch_sizes=args.batch_sizes or DEFAULT_BATCH_SIZES,
                          sizes=sizes, n_samples=args.n_samples,
                          frameworks=[f.strip() for f in args.frameworks.split(",")],
                          devices=devices, warmup=args.warmup, repeats=args.repeats,
                          seed=args.seed, quick=args.quick, threads=args.threads,
                          isolate=not args.no_isolate, rounds=args.rounds, verbose=True)
    for r in ratios(rows):
        parts = [f"{k} {v:.2f}" for k, v in r.items() if k.startswith("gradflow/")]
        print(f"{r['device']} batch {r['batch']:>5}: " + ", ".join(parts))
    print(f"wrote {os.path.join(args.out, 'throughput.md')} (.csv, .png)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
