"""Which batch size? The gradient noise scale's prediction against measured time-to-target.

McCandlish et al. (2018) model the cost of reaching a loss with batch size ``B`` as
``S = S_min (1 + B_noise/B)`` optimisation steps and ``E = E_min (1 + B/B_noise)`` examples
(the hyperbola ``(S/S_min − 1)(E/E_min − 1) = 1``), with the learning rate
``ε_opt(B) = ε_max / (1 + B_noise/B)``, and predict ``B_noise ≈ B_simple = tr Σ / |G|²``.

This experiment, on the digits MLP of :mod:`gradflow.bench.convergence`:

1. measures ``B_simple`` (:func:`gradflow.analysis.noise_scale`) and ``ε_max = |G|²/GᵀHG`` (the
   best step along the full-batch gradient, by one Hessian-vector product) at the initial
   weights and at weights trained to the target (``1/λ_max`` beside it);
2. for each batch size of a sweep, trains to the target with the predicted ``ε_opt(B)`` and with
   ``ε_opt(B)`` scaled by each factor of a small grid, extended past its edge while the cheapest
   rate lies there (the tuned rate is the cheapest: fewest steps to the target);
3. fits ``S = S_min + E_min/B`` (linear in ``1/B``) to the tuned runs: the measured knee is
   ``B_crit = E_min/S_min``, to compare with ``B_simple``;
4. repeats the tuned and predicted runs on ``repeat(digits, 10)``: ten copies of each example
   leave the per-example gradient distribution, hence ``B_simple`` and the steps to the target,
   unchanged (the seed lecture's redundancy argument, seen from the noise scale).

    gradflow bench batch-size --out benchmarks/results [--quick]
"""

from __future__ import annotations

import argparse
import math
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from gradflow.bench._common import (
    environment,
    limit_threads,
    md_table,
    no_matplotlib_error,
    thread_counts,
    write_csv,
)
from gradflow.bench.convergence import HIDDEN, REPEAT, _data, _model, train_to_target

#: Batch sizes swept (``None``: the whole training set, batch gradient descent).
BATCHES: tuple[int | None, ...] = (8, 16, 32, 64, 128, 256, 512, None)
#: The tuning grid: multiples of the predicted rate ε_opt(B) (1.0 is the prediction itself).
LR_FACTORS = (0.25, 0.5, 1.0, 2.0, 4.0)
#: Extra grid steps (x2 or ÷2 past the edge) while the cheapest rate is at an edge of the grid.
EXTEND = 4
FIELDS = ("dataset", "batch_size", "lr", "lr_factor", "kind", "reached", "steps", "examples",
          "epochs", "wall_s", "final_loss")


def measure_noise(model, train_set, seed: int, device: str) -> dict[str, float]:
    """:func:`gradflow.analysis.noise_scale.noise_report` of ``model`` on ``train_set``."""
    import gradflow as gf
    from gradflow.analysis.noise_scale import noise_report

    return noise_report(model, gf.nn.CrossEntropyLoss(), train_set, seed=seed, device=device)


def fit_tradeoff(batch_sizes: Sequence[float], steps: Sequence[float]) -> dict[str, float]:
    """Least squares ``S = S_min + E_min/B``: ``S_min``, ``E_min`` and ``B_crit = E_min/S_min``
    (needs two batch sizes at least)."""
    inv_b = 1.0 / np.asarray(batch_sizes, dtype=float)
    a = np.stack([np.ones_like(inv_b), inv_b], axis=1)
    (s_min, e_min), *_ = np.linalg.lstsq(a, np.asarray(steps, dtype=float), rcond=None)
    return {"s_min": float(s_min), "e_min": float(e_min),
            "b_crit": float(e_min / s_min) if s_min > 0 else math.inf}


def _run(train_set, base, b, lr, factor, kind, name, kw) -> dict[str, Any]:
    run = train_to_target(train_set, base, f"B={b}", lr, batch_size=b, **kw)
    last = run["history"][-1]
    stop = last
    if run["reached"]:
        stop = max(run["to_loss"], run["to_acc"], key=lambda h: h["examples"])
    n = len(train_set)
    return {"dataset": name, "batch_size": b, "lr": lr, "lr_factor": factor, "kind": kind,
            "reached": run["reached"], "steps": stop["updates"], "examples": stop["examples"],
            "epochs": stop["examples"] / n, "wall_s": stop["wall_s"], "final_loss": last["loss"],
            "model": run["model"]}


def run_batch_size(out_dir: str | os.PathLike, batches: Sequence[int | None] = BATCHES,
                   factors: Sequence[float] = LR_FACTORS, target_loss: float = 0.1,
                   target_accuracy: float = 0.97, max_epochs: int = 2000,
                   max_seconds: float = 60.0, seed: int = 0, quick: bool = False,
                   device: str = "cpu", threads: int | None = None, repeat: bool = True,
                   verbose: bool = False) -> dict[str, Any]:
    """Measure the noise scale, sweep the batch sizes, fit the trade-off; write
    ``batch_size.{md,csv,png}`` into ``out_dir`` and return the rows, fit and measurements."""
    import gradflow as gf
    from gradflow.data.datasets import repeat as repeat_set

    if quick:
        batches, factors = (8, None), (0.5, 1.0, 2.0)
        target_loss, target_accuracy, max_epochs, max_seconds = 0.5, 0.85, 100, 10.0
    train, _ = _data(seed, quick)
    n = len(train)
    sizes = sorted({b or n for b in batches})
    base = (gf.tensor(train.arrays[0], device=device), gf.tensor(train.arrays[1], device=device))
    kw = {"target_loss": target_loss, "target_accuracy": target_accuracy,
          "max_epochs": max_epochs, "max_seconds": max_seconds, "seed": seed, "device": device}
    env = environment()
    rows: list[dict[str, Any]] = []
    with limit_threads(threads):
        env.update(thread_counts())
        noise = {"init": measure_noise(_model(seed, HIDDEN, device), train, seed, device)}
        # the prediction uses the values at the target, where most of the steps are spent:
        # train once at a middle batch size to get there, with the largest rate of
        # min(ε_max/2, 1/λ_max) · 2^-k (k = 0..3) that reaches it
        ref_b = sizes[len(sizes) // 2]
        ref_lr = min(noise["init"]["lr_max"] / 2, noise["init"]["inv_lambda_max"])
        for _ in range(4):
            ref = _run(train, base, ref_b, ref_lr, math.nan, "reference", "digits", kw)
            if ref["reached"]:
                break
            ref_lr /= 2
        else:
            raise RuntimeError(f"run_batch_size: the reference run (B={ref_b}) reached the "
                               f"target with no rate down to {ref_lr:.3g}; raise "
                               f"max_seconds/max_epochs")
        noise["target"] = measure_noise(ref.pop("model"), train, seed, device)
        b_noise, lr_max = noise["target"]["b_simple"], noise["target"]["lr_max"]
        for b in sizes:
            pred = lr_max / (1.0 + b_noise / b)
            runs = [_run(train, base, b, pred * f, f, "grid", "digits", kw) for f in factors]
            best = min(runs, key=_cost)
            for _ in range(EXTEND):  # the best at an edge of the grid: step past it, x2 / ÷2
                tried = sorted(r["lr_factor"] for r in runs)
                if best["lr_factor"] not in (tried[0], tried[-1]) or not best["reached"]:
                    break
                f = best["lr_factor"] * (2.0 if best["lr_factor"] == tried[-1] else 0.5)
                runs.append(_run(train, base, b, pred * f, f, "grid", "digits", kw))
                best = min(runs, key=_cost)
            for r in runs:
                r["kind"] = "predicted" if r["lr_factor"] == 1.0 else "grid"
                if r is best:
                    r["kind"] += "+tuned"
                r.pop("model")
            rows += runs
            if verbose:
                print(f"B={b:<5} predicted lr {pred:.3g}: steps {runs[factors.index(1.0)]['steps']}"
                      f" | tuned lr {best['lr']:.3g}: steps {best['steps']}", flush=True)
        if repeat:
            big = repeat_set(train, REPEAT)
            for b in sizes:
                tuned = next(r for r in rows if r["batch_size"] == b and "tuned" in r["kind"])
                pred = next(r for r in rows if r["batch_size"] == b and
                            r["kind"].startswith("predicted"))
                for src in {id(tuned): tuned, id(pred): pred}.values():
                    r = _run(big, base, b, src["lr"], src["lr_factor"], src["kind"],
                             f"digits_x{REPEAT}", kw)
                    r.pop("model")
                    rows.append(r)
            noise[f"digits_x{REPEAT}"] = measure_noise(_model(seed, HIDDEN, device), big, seed,
                                                       device)
    fits = {}
    for kind in ("tuned", "predicted"):
        pts = [r for r in rows if r["dataset"] == "digits" and kind in r["kind"] and r["reached"]]
        if len({r["batch_size"] for r in pts}) >= 2:
            fits[kind] = fit_tradeoff([r["batch_size"] for r in pts], [r["steps"] for r in pts])
    os.makedirs(out_dir, exist_ok=True)
    files = {k: os.path.join(os.fspath(out_dir), f"batch_size.{k}") for k in ("md", "csv", "png")}
    config = {"batches": sizes, "lr_factors": list(factors), "target_loss": target_loss,
              "target_accuracy": target_accuracy, "max_epochs": max_epochs,
              "max_seconds": max_seconds, "seed": seed, "hidden": HIDDEN, "n_train": n,
              "reference_batch": ref_b, "reference_lr": ref_lr, "quick": quick, "device": device}
    write_csv(files["csv"], rows, FIELDS)
    _write_md(files["md"], rows, noise, fits, env, config)
    _plot(files["png"], rows, noise, fits)
    return {"rows": rows, "noise": noise, "fits": fits, "config": config, "files": files,
            "environment": env}


def _cost(r: dict[str, Any]) -> tuple[float, float]:
    return (r["steps"] if r["reached"] else math.inf, r["final_loss"])


def _write_md(path, rows, noise, fits, env, config) -> None:
    def f(v, spec=".3g"):
        return format(v, spec) if isinstance(v, int | float) and math.isfinite(v) else str(v)

    lines = ["# Batch size: the noise scale's prediction vs measured steps to the target", "",
             f"Target: training loss ≤ {config['target_loss']} and accuracy ≥ "
             f"{config['target_accuracy']} (digits MLP 64-{config['hidden']}-10, plain SGD, "
             f"{config['n_train']} training examples).", "",
             "## Noise scale", "",
             *md_table(["weights", "B_simple", "± se", "|G|²", "tr Σ", "ε_max = |G|²/GᵀHG",
                        "1/λ_max"],
                       [[k, f(v["b_simple"]), f(v["b_simple_se"]), f(v["grad_sq_norm"]),
                         f(v["trace_sigma"]), f(v["lr_max"]), f(v["inv_lambda_max"])]
                        for k, v in noise.items()]), "",
             "## Runs", "",
             *md_table(["data", "B", "lr", "× ε_opt(B)", "kind", "reached", "steps S",
                        "examples E", "epochs", "wall s"],
                       [[r["dataset"], r["batch_size"], f(r["lr"]), f(r["lr_factor"], "g"),
                         r["kind"], r["reached"], r["steps"], r["examples"], f(r["epochs"]),
                         f(r["wall_s"], ".2f")] for r in rows]), "",
             "## Fitted trade-off S = S_min + E_min / B", ""]
    for kind, fit in fits.items():
        lines.append(f"- {kind} rates: S_min {fit['s_min']:.1f} steps, E_min {fit['e_min']:.0f} "
                     f"examples, measured knee B_crit = E_min/S_min = {fit['b_crit']:.1f} vs "
                     f"predicted B_simple {noise['target']['b_simple']:.1f} (at the target), "
                     f"{noise['init']['b_simple']:.1f} (at init)")
    lines += ["", "```", str({**config, **{k: env.get(k) for k in ("date", "gradflow_commit",
                                                                    "cpu", "loadavg")}}),
              "```", ""]
    with open(path, "w") as fh:
        fh.write("\n".join(lines))


def _plot(path, rows, noise, fits) -> None:
    try:
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise no_matplotlib_error("run_batch_size") from exc
    fig = Figure(figsize=(10, 4))
    ax_se, ax_lr = fig.subplots(1, 2)
    done = [r for r in rows if r["reached"]]
    for name, marker in (("digits", "o"), (f"digits_x{REPEAT}", "s")):
        for kind, fill in (("tuned", True), ("predicted", False)):
            pts = [r for r in done if r["dataset"] == name and kind in r["kind"]]
            if pts:
                ax_se.loglog([r["examples"] for r in pts], [r["steps"] for r in pts], marker,
                             ls="none", mfc=None if fill else "none",
                             color="C0" if kind == "tuned" else "C1",
                             label=f"{name}, {kind} lr")
    fit = fits.get("tuned")
    if fit and fit["s_min"] > 0 and fit["e_min"] > 0:
        b = np.logspace(-0.5, 4, 200) * fit["b_crit"] / 10
        s, e = fit["s_min"] * (1 + fit["b_crit"] / b), fit["e_min"] * (1 + b / fit["b_crit"])
        ax_se.loglog(e, s, "k-", lw=0.8, label="fit (S/S_min−1)(E/E_min−1)=1")
        ax_se.loglog([2 * fit["e_min"]], [2 * fit["s_min"]], "k*", ms=10,
                     label=f"measured knee B={fit['b_crit']:.0f}")
        bs = noise["target"]["b_simple"]
        ax_se.loglog([fit["e_min"] * (1 + bs / fit["b_crit"])],
                     [fit["s_min"] * (1 + fit["b_crit"] / bs)], "r*", ms=10,
                     label=f"B_simple={bs:.0f} on the fit")
    ax_se.set_xlabel("examples processed E")
    ax_se.set_ylabel("optimisation steps S")
    ax_se.grid(True, which="both", alpha=0.3)
    ax_se.legend(fontsize=7)
    digits = [r for r in rows if r["dataset"] == "digits"]
    sizes = sorted({r["batch_size"] for r in digits})
    tuned = [next(r for r in digits if r["batch_size"] == b and "tuned" in r["kind"])
             for b in sizes]
    ax_lr.loglog(sizes, [r["lr"] for r in tuned], "o", color="C0", label="tuned lr")
    grid = np.logspace(np.log10(sizes[0]), np.log10(sizes[-1]), 100)
    t = noise["target"]
    ax_lr.loglog(grid, t["lr_max"] / (1 + t["b_simple"] / grid), "C1-",
                 label="ε_max / (1 + B_simple/B)")
    ax_lr.set_xlabel("batch size B")
    ax_lr.set_ylabel("learning rate")
    ax_lr.grid(True, which="both", alpha=0.3)
    ax_lr.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=80)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="gradflow bench batch-size",
                                description=__doc__.split("\n")[0])
    p.add_argument("--out", default="batch-size", help="output folder (created)")
    p.add_argument("--quick", action="store_true", help="tiny CI size (seconds)")
    p.add_argument("--max-seconds", type=float, default=60.0, help="training seconds per run")
    p.add_argument("--no-repeat", action="store_true",
                   help=f"skip the runs on repeat(digits, {REPEAT})")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    res = run_batch_size(a.out, max_seconds=a.max_seconds, seed=a.seed, quick=a.quick,
                         threads=a.threads, repeat=not a.no_repeat, verbose=True)
    with open(res["files"]["md"]) as fh:
        print(fh.read())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
