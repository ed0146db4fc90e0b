"""``optimizer.step()`` alone: gradflow vs PyTorch (its CPU default, the single-tensor loop, and
``foreach=True``) vs the same update written by hand in NumPy, per optimizer and model.

Every variant holds its own copy of the same parameters and gradients (gradients fixed, so each
step does the same work); the variants are timed in turn, round after round (A B C A B C ...),
``inner`` steps per sample, and the medians per step are compared. Before timing, one step of
each variant from the same start is checked to give the same parameters (float rounding), so the
three programs are the same update.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from gradflow.bench._common import (
    env_markdown,
    environment,
    limit_threads,
    loadavg,
    md_table,
    summarize,
    thread_counts,
    write_csv,
)

MODELS = {
    "mlp-0.67M": [(512, 784), (512,), (512, 512), (512,), (10, 512), (10,)],
    "mlp-1.33M": [(1024, 784), (1024,), (512, 1024), (512,), (10, 512), (10,)],
    # 200 small tensors (e.g. a deep stack of narrow layers with norms): per-tensor overhead
    "small-200x": [(64, 16), (64,)] * 100,
}
# name -> (gradflow/torch class name, keyword arguments)
OPTIMIZERS = {
    "sgd": ("SGD", {"lr": 0.01}),
    "sgd_momentum": ("SGD", {"lr": 0.01, "momentum": 0.9}),
    "sgd_nesterov": ("SGD", {"lr": 0.01, "momentum": 0.9, "nesterov": True}),
    "sgd_momentum_wd": ("SGD", {"lr": 0.01, "momentum": 0.9, "weight_decay": 1e-4}),
    "adam": ("Adam", {"lr": 1e-3}),
    "adamw": ("AdamW", {"lr": 1e-3}),
    "rmsprop": ("RMSprop", {"lr": 1e-3}),
}
FRAMEWORKS = ("gradflow", "torch", "torch_foreach", "numpy")
CSV_FIELDS = ("model", "params", "optimizer", "framework", "step_ms", "step_ms_iqr",
              "step_ms_min", "samples", "inner", "clock", "threads", "dtype", "commit")


def _arrays(shapes, seed: int, dtype) -> tuple[list[np.ndarray], list[np.ndarray]]:
    rng = np.random.default_rng(seed)
    params = [(0.05 * rng.standard_normal(s)).astype(dtype) for s in shapes]
    grads = [(0.01 * rng.standard_normal(s)).astype(dtype) for s in shapes]
    return params, grads


class NumpyUpdate:
    """The update as a NumPy user writes it: whole arrays, in place where NumPy allows."""

    def __init__(self, params: list[np.ndarray], grads: list[np.ndarray], name: str,
                 kwargs: dict[str, Any]):
        self.params = [p.copy() for p in params]
        self.grads = grads
        self.name, self.kw = name, dict(kwargs)
        self.bufs = [np.zeros_like(p) for p in params]
        self.bufs2 = [np.zeros_like(p) for p in params]
        self.t = 0

    def step(self) -> None:
        kw = self.kw
        lr = kw["lr"]
        self.t += 1
        if self.name == "SGD":
            mom, wd, nesterov = kw.get("momentum", 0.0), kw.get("weight_decay", 0.0), \
                kw.get("nesterov", False)
            for p, g, b in zip(self.params, self.grads, self.bufs):
                d = g + wd * p if wd else g
                if mom:
                    if self.t == 1:
                        b[...] = d
                    else:
                        b *= mom
                        b += d
                    d = d + mom * b if nesterov else b
                p -= lr * d
        elif self.name in ("Adam", "AdamW"):
            b1, b2, eps = 0.9, 0.999, 1e-8
            wd = kw.get("weight_decay", 0.01 if self.name == "AdamW" else 0.0)
            bc1, bc2s = 1 - b1 ** self.t, (1 - b2 ** self.t) ** 0.5
            for p, g, m, v in zip(self.params, self.grads, self.bufs, self.bufs2):
                if wd:
                    p *= 1 - lr * wd
                m *= b1
                m += (1 - b1) * g
                v *= b2
                v += (1 - b2) * g * g
                denom = np.sqrt(v)
                denom /= bc2s
                denom += eps
                p -= (lr / bc1) * m / denom
        elif self.name == "RMSprop":
            alpha, eps = 0.99, 1e-8
            for p, g, s in zip(self.params, self.grads, self.bufs):
                s *= alpha
                s += (1 - alpha) * g * g
                avg = np.sqrt(s)
                avg += eps
                p -= lr * g / avg
        else:
            raise ValueError(f"NumpyUpdate: no hand-written update for {self.name!r}")

    def weights(self) -> list[np.ndarray]:
        return self.params


class GradflowUpdate:
    def __init__(self, params, grads, name, kwargs):
        import gradflow as gf
        from gradflow import optim

        self.params = [gf.nn.Parameter(gf.tensor(p.copy())) for p in params]
        for p, g in zip(self.params, grads):
            p.grad = gf.tensor(g.copy())
        self.opt = getattr(optim, name)(self.params, **kwargs)

    def step(self) -> None:
        self.opt.step()

    def weights(self) -> list[np.ndarray]:
        return [p.numpy() for p in self.params]


class TorchUpdate:
    def __init__(self, params, grads, name, kwargs, foreach: bool | None = None):
        import torch

        self.params = [torch.tensor(p.copy(), requires_grad=True) for p in params]
        self.grads = grads
        self.restore_grads()
        self.opt = getattr(torch.optim, name)(self.params, foreach=foreach, **kwargs)

    def restore_grads(self) -> None:
        import torch

        for p, g in zip(self.params, self.grads):
            p.grad = torch.tensor(g.copy())

    def step(self) -> None:
        self.opt.step()

    def weights(self) -> list[np.ndarray]:
        return [p.detach().numpy() for p in self.params]


def make_updates(model: str, optimizer: str, frameworks: Sequence[str], seed: int = 0,
                 dtype: Any = np.float32) -> dict[str, Any]:
    """One update object (``.step()``, ``.weights()``) per framework, from the same arrays."""
    name, kwargs = OPTIMIZERS[optimizer]
    params, grads = _arrays(MODELS[model], seed, dtype)
    out: dict[str, Any] = {}
    for fw in frameworks:
        if fw == "gradflow":
            out[fw] = GradflowUpdate(params, grads, name, kwargs)
        elif fw == "torch":
            out[fw] = TorchUpdate(params, grads, name, kwargs)
        elif fw == "torch_foreach":
            out[fw] = TorchUpdate(params, grads, name, kwargs, foreach=True)
        elif fw == "numpy":
            out[fw] = NumpyUpdate(params, grads, name, kwargs)
        else:
            raise ValueError(f"gradflow bench optim: unknown framework {fw!r}; choose from "
                             f"{', '.join(FRAMEWORKS)}")
    return out


def check_same_update(updates: dict[str, Any], steps: int = 2, rtol: float = 1e-4,
                      atol: float = 1e-6) -> None:
    """Step every variant ``steps`` times and require the same parameters (float rounding).

    PyTorch's ``foreach`` SGD with Nesterov adds the momentum term into ``p.grad`` in place
    (``_multi_tensor_sgd``): here its gradients are put back after each step. (The timed steps
    skip that: the values drift, the work per step is the same.)
    """
    for u in updates.values():
        for _ in range(steps):
            u.step()
            if isinstance(u, TorchUpdate):
                u.restore_grads()
    ref_name, ref = next(iter(updates.items()))
    for fw, u in updates.items():
        for i, (a, b) in enumerate(zip(u.weights(), ref.weights())):
            if not np.allclose(a, b, rtol=rtol, atol=atol):
                raise AssertionError(f"gradflow bench optim: {fw} and {ref_name} disagree on "
                                     f"parameter {i} after {steps} steps (max |diff| "
                                     f"{float(np.abs(a - b).max()):.3g})")


def time_interleaved(steps: dict[str, Callable[[], Any]], rounds: int, inner: int,
                     clock: str = "cpu") -> dict[str, list[float]]:
    """Seconds per step of each callable: ``rounds`` samples each, the callables in turn."""
    now = time.process_time if clock == "cpu" else time.perf_counter
    out: dict[str, list[float]] = {k: [] for k in steps}
    for _ in range(rounds):
        for k, fn in steps.items():
            t0 = now()
            for _ in range(inner):
                fn()
            out[k].append((now() - t0) / inner)
    return out


def run_optim(out_dir: str | os.PathLike, models: Sequence[str] = tuple(MODELS),
              optimizers: Sequence[str] = tuple(OPTIMIZERS),
              frameworks: Sequence[str] = FRAMEWORKS, rounds: int = 15, inner: int = 5,
              warmup: int = 3, clock: str = "cpu", threads: int | None = 1, seed: int = 0,
              verbose: bool = False, train_batches: Sequence[int] = ()) -> list[dict[str, Any]]:
    """Time every (model, optimizer, framework); write ``optim.csv`` and ``optim.md`` (and,
    with ``train_batches``, whole training steps with SGD and Adam: ``optim_train.csv``)."""
    os.makedirs(out_dir, exist_ok=True)
    env = environment({"clock": clock, "threads": threads if threads else "default"})
    rows: list[dict[str, Any]] = []
    with limit_threads(threads):
        env.update(thread_counts())
        for model in models:
            n_params = sum(int(np.prod(s)) for s in MODELS[model])
            for opt in optimizers:
                check_same_update(make_updates(model, opt, frameworks, seed))
                updates = make_updates(model, opt, frameworks, seed)
                for u in updates.values():
                    for _ in range(warmup):
                        u.step()
                samples = time_interleaved({k: u.step for k, u in updates.items()}, rounds,
                                           inner, clock)
                for fw, s in samples.items():
                    st = summarize(s)
                    rows.append({"model": model, "params": n_params, "optimizer": opt,
                                 "framework": fw, "step_ms": st["median"] * 1e3,
                                 "step_ms_iqr": st["iqr"] * 1e3, "step_ms_min": st["min"] * 1e3,
                                 "samples": rounds, "inner": inner, "clock": clock,
                                 "threads": threads or "default", "dtype": "float32",
                                 "commit": env["gradflow_commit"]})
                if verbose:
                    got = {r["framework"]: r["step_ms"] for r in rows[-len(samples):]}
                    print(f"{model} {opt}: " + ", ".join(f"{k} {v:.3f} ms"
                                                         for k, v in got.items()), flush=True)
    train: list[dict[str, Any]] = []
    if train_batches and "gradflow" in frameworks and "torch" in frameworks:
        train = run_train(train_batches, rounds=rounds, clock=clock, threads=threads, seed=seed)
        write_csv(os.path.join(out_dir, "optim_train.csv"), train,
                  ("optimizer", "batch", "framework", "step_ms", "step_ms_iqr", "opt_step_ms",
                   "clock", "threads"))
        if verbose:
            for r in train:
                print(f"train {r['optimizer']} batch {r['batch']} {r['framework']}: "
                      f"{r['step_ms']:.3f} ms (step() {r['opt_step_ms']:.3f} ms)", flush=True)
    env["loadavg_end"] = loadavg()
    write_csv(os.path.join(out_dir, "optim.csv"), rows, CSV_FIELDS)
    _write_md(os.path.join(out_dir, "optim.md"), rows, env, frameworks, train)
    return rows


TRAIN_SIZES = (784, 512, 512, 10)


def _time_calls(opt: Any, clock: str) -> list[float]:
    """Record the seconds of each later ``opt.step()`` (an instance attribute wraps it)."""
    now = time.process_time if clock == "cpu" else time.perf_counter
    spent: list[float] = []
    step = opt.step

    def timed(*args, **kwargs):
        t0 = now()
        out = step(*args, **kwargs)
        spent.append(now() - t0)
        return out

    opt.step = timed
    return spent


def run_train(batches: Sequence[int] = (32, 256), optimizers: Sequence[str] = ("sgd", "adam"),
              rounds: int = 15, inner: int = 3, warmup: int = 3, clock: str = "cpu",
              threads: int | None = 1, seed: int = 0,
              frameworks: Sequence[str] = ("gradflow", "torch")) -> list[dict[str, Any]]:
    """Whole training steps (zero_grad, forward, loss, backward, step) of the MLP
    784-512-512-10 with ``gradflow.bench.throughput``'s step classes, timed in turn."""
    from gradflow.bench import throughput as tp

    classes = {"gradflow": tp.GradflowStep, "torch": tp.TorchStep}
    rows: list[dict[str, Any]] = []
    with limit_threads(threads):
        params = tp.init_mlp(TRAIN_SIZES, seed)
        for opt in optimizers:
            for batch in batches:
                x, y = tp.make_data(batch, TRAIN_SIZES[0], TRAIN_SIZES[-1], seed)
                steps, inside = {}, {}
                for fw in frameworks:
                    runner = classes[fw](params, optimizer=opt)
                    data = runner.batch(x, y)
                    steps[fw] = (lambda r=runner, d=data: r.step(d))
                    for _ in range(warmup):
                        steps[fw]()
                    inside[fw] = _time_calls(runner.opt, clock)
                samples = time_interleaved(steps, rounds, inner, clock)
                for fw, smp in samples.items():
                    st = summarize(smp)
                    rows.append({"optimizer": opt, "batch": batch, "framework": fw,
                                 "step_ms": st["median"] * 1e3, "step_ms_iqr": st["iqr"] * 1e3,
                                 "opt_step_ms": float(np.median(inside[fw])) * 1e3,
                                 "clock": clock, "threads": threads or "default"})
    return rows


def ratios(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per (model, optimizer): each framework's median and gradflow's ratio to the others."""
    table: dict[tuple[str, str], dict[str, float]] = {}
    for r in rows:
        table.setdefault((r["model"], r["optimizer"]), {})[r["framework"]] = r["step_ms"]
    out = []
    for (model, opt), ms in table.items():
        row: dict[str, Any] = {"model": model, "optimizer": opt, **ms}
        if "gradflow" in ms:
            for fw, v in ms.items():
                if fw != "gradflow" and v > 0:
                    row[f"gradflow/{fw}"] = ms["gradflow"] / v
        out.append(row)
    return out


def _write_md(path: str, rows, env, frameworks, train=()) -> None:
    fws = [f for f in FRAMEWORKS if f in frameworks]
    others = [f for f in fws if f != "gradflow"]
    header = ["model", "optimizer"] + [f"{f} ms" for f in fws] + [f"gradflow/{f}"
                                                                  for f in others]
    body = []
    for r in ratios(rows):
        body.append([r["model"], r["optimizer"]]
                    + [f"{r[f]:.3f}" if f in r else "" for f in fws]
                    + [f"{r[k]:.2f}" if (k := f"gradflow/{f}") in r else "" for f in others])
    lines = ["# `optimizer.step()`: gradflow vs PyTorch vs hand-written NumPy", "",
             "Median time per step (float32, gradients fixed); the frameworks are timed in "
             "turn in one process, round after round. `torch` is PyTorch's CPU default "
             "(the single-tensor loop), `torch_foreach` its multi-tensor path, `numpy` the "
             "same update written with whole-array NumPy expressions.", ""]
    lines += md_table(header, body)
    if train:
        table: dict[tuple[str, int], dict[str, float]] = {}
        for r in train:
            table.setdefault((r["optimizer"], r["batch"]), {})[r["framework"]] = r["step_ms"]
        inner_ms = {(r["optimizer"], r["batch"], r["framework"]): r["opt_step_ms"] for r in train}
        lines += ["", "## Whole training step (MLP 784-512-512-10, float32)", "",
                  "`step()` inside: the median of the `optimizer.step()` calls within those "
                  "training steps.", ""]
        lines += md_table(["optimizer", "batch", "gradflow ms", "torch ms", "gradflow/torch",
                           "gradflow step() ms", "torch step() ms"],
                          [[o, b, f"{ms['gradflow']:.3f}", f"{ms['torch']:.3f}",
                            f"{ms['gradflow'] / ms['torch']:.2f}",
                            f"{inner_ms[(o, b, 'gradflow')]:.3f}",
                            f"{inner_ms[(o, b, 'torch')]:.3f}"]
                           for (o, b), ms in table.items()])
    lines += ["", "## Environment", ""] + env_markdown(env) + [""]
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines))


def _list(text: str, known: Sequence[str], what: str) -> list[str]:
    items = [t.strip() for t in text.split(",") if t.strip()]
    bad = [t for t in items if t not in known]
    if bad:
        raise SystemExit(f"gradflow bench optim: unknown {what} {bad}; choose from "
                         f"{', '.join(known)}")
    return items


def main(argv: Sequence[str] | None = None) -> int:
    """``gradflow bench optim [--out DIR] [--quick] [--models ...] [--optimizers ...]
    [--frameworks ...] [--rounds N] [--inner N] [--clock cpu|wall] [--threads N|0]
    [--train-batches 32,256]``."""
    parser = argparse.ArgumentParser(prog="gradflow bench optim",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="optim", help="output folder (created)")
    parser.add_argument("--quick", action="store_true",
                        help="one small model, SGD and Adam, few rounds (seconds)")
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--optimizers", default=",".join(OPTIMIZERS))
    parser.add_argument("--frameworks", default=",".join(FRAMEWORKS))
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--inner", type=int, default=5, help="steps per timed sample")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--clock", choices=("cpu", "wall"), default="cpu",
                        help="process CPU time (default; robust to other load) or wall time")
    parser.add_argument("--threads", type=int, default=1,
                        help="cap every library at N threads (0: their defaults)")
    parser.add_argument("--train-batches", default="",
                        help="also time whole training steps (SGD, Adam) at these batch sizes, "
                             "e.g. 32,256")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    models = _list(args.models, tuple(MODELS), "model")
    optimizers = _list(args.optimizers, tuple(OPTIMIZERS), "optimizer")
    frameworks = _list(args.frameworks, FRAMEWORKS, "framework")
    rounds, inner = args.rounds, args.inner
    if args.quick:
        models, optimizers, rounds, inner = ["small-200x"], ["sgd_momentum", "adam"], 3, 1
    try:
        import torch  # noqa: F401
    except ImportError:
        frameworks = [f for f in frameworks if not f.startswith("torch")]
        print("PyTorch is not installed: timing gradflow and NumPy only")
    rows = run_optim(args.out, models, optimizers, frameworks, rounds=rounds, inner=inner,
                     warmup=args.warmup, clock=args.clock, threads=args.threads or None,
                     seed=args.seed, verbose=True,
                     train_batches=[int(b) for b in args.train_batches.split(",") if b.strip()])
    for r in ratios(rows):
        parts = [f"{k} {v:.2f}" for k, v in r.items() if k.startswith("gradflow/")]
        print(f"{r['model']} {r['optimizer']}: " + ", ".join(parts))
    print(f"wrote {os.path.join(args.out, 'optim.md')} (.csv)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
