"""Batch vs minibatch vs stochastic gradient descent: cost to reach a target training loss.

The seed lecture's redundancy argument (lecture 003): on a training set made of 10 copies of
the same examples, batch gradient descent computes the same gradient 10 times for each update,
while stochastic (and minibatch) descent makes 10 times as many updates per epoch, so one epoch
on the big set is worth about 10 epochs on the small one. This experiment trains the same
gradflow MLP (64-64-10, ReLU, mean softmax cross-entropy, plain SGD) with each regime on the
digits training set and on ``repeat(digits, 10)``, and records, until a target training loss
and accuracy are both reached, the wall time (training only: evaluation stops the clock), the
epochs, the examples processed (per-example gradient evaluations) and the updates.

Learning rates are tuned per regime on ``digits``: a small grid, the rate that reaches both
targets with the fewest examples processed wins (ties: the lower final loss); the same rate is
then used on ``digits_x10``. Training loss and accuracy are measured on the distinct examples
(the mean over 10 copies is the same number).

    from gradflow.bench.convergence import run_convergence
    result = run_convergence("out/")   # writes convergence.{md,csv,png}, convergence_history.csv
"""

from __future__ import annotations

import argparse
import math
import os
import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from gradflow.bench._common import (
    env_markdown,
    environment,
    limit_threads,
    loadavg,
    md_table,
    no_matplotlib_error,
    thread_counts,
    write_csv,
)

REGIMES: dict[str, int | None] = {"batch": None, "minibatch": 32, "stochastic": 1}
DATASETS = ("digits", "digits_x10")
#: The learning-rate grid searched per regime (per-update rate of the mean loss of a batch).
LR_GRID: dict[str, tuple[float, ...]] = {
    "batch": (0.25, 0.5, 1.0, 2.0),
    "minibatch": (0.25, 0.5, 1.0, 2.0),
    "stochastic": (0.0125, 0.025, 0.05, 0.1),
}
HIDDEN = 64
REPEAT = 10
_DIVERGED = 3.0  # a run whose training loss passes 3× its start has diverged: stop it
_PATIENCE = 100  # ... and one whose best loss has not improved by 1 % in 100 evaluations stalled
SUMMARY_FIELDS = ("dataset", "regime", "batch_size", "lr", "reached", "epochs", "examples",
                  "updates", "wall_s", "epochs_to_loss", "examples_to_loss", "updates_to_loss",
                  "wall_s_to_loss", "epochs_to_acc", "examples_to_acc", "updates_to_acc",
                  "wall_s_to_acc", "final_loss", "final_accuracy", "test_accuracy", "commit")
HISTORY_FIELDS = ("dataset", "regime", "lr", "epoch", "examples", "updates", "wall_s", "loss",
                  "accuracy")
TUNING_FIELDS = ("regime", "lr", "reached", "examples", "epochs", "wall_s", "final_loss",
                 "chosen")


def _data(seed: int, quick: bool):
    """(train set, test set) of digits; a 200-example slice of each in quick mode."""
    from gradflow.data import TensorDataset
    from gradflow.data.datasets import load_digits

    train, test = load_digits(test_size=0.2, seed=seed)
    if quick:
        train = TensorDataset(*(a[:200] for a in train.arrays))
        test = TensorDataset(*(a[:100] for a in test.arrays))
    return train, test


def _model(seed: int, hidden: int, device: str):
    import gradflow as gf
    from gradflow import nn

    gf.manual_seed(seed)  # every regime starts from the same weights
    model = nn.Sequential(nn.Linear(64, hidden), nn.ReLU(), nn.Linear(hidden, 10))
    return model.to(device=device)


def _evaluate(model, loss_fn, x, y) -> tuple[float, float]:
    import gradflow as gf

    with gf.no_grad():
        logits = model(x)
        loss = float(loss_fn(logits, y))
        acc = float((logits.numpy().argmax(axis=1) == y.numpy()).mean())
    return loss, acc


def train_to_target(train_set, base, regime: str, lr: float, target_loss: float,
                    target_accuracy: float, max_epochs: int, max_seconds: float, seed: int = 0,
                    hidden: int = HIDDEN, device: str = "cpu", eval_every: int | None = None,
                    batch_size: int | None = None) -> dict[str, Any]:
    """Train one regime until the training loss and accuracy on ``base`` (the distinct examples,
    a ``(x, y)`` pair of Tensors) both reach their targets, or a budget runs out.

    Evaluation happens whenever ``eval_every`` more examples (default ``len(base) // 10``) have
    been processed, at least once per update; its time is not counted. A run stops early when
    both targets are reached, when its loss passes 3× its start (diverged), when its best loss
    has not improved by 1 % over 100 evaluations (stalled) or after ``max_seconds`` of training.
    Returns the history (per evaluation: epoch, examples, updates, wall_s, loss, accuracy) and
    the first point where each target was reached (``None`` if never). ``batch_size``
    overrides the regime's (any size; ``regime`` is then only the run's label).
    """
    from gradflow import nn, optim
    from gradflow.data import DataLoader

    model = _model(seed, hidden, device)
    opt = optim.SGD(model.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    bs = batch_size or REGIMES.get(regime) or len(train_set)
    loader = DataLoader(train_set, batch_size=bs, shuffle=True, seed=seed, device=device)
    n = len(train_set)
    every = eval_every or max(1, len(base[1]) // 10)
    clock, examples, updates, next_eval = 0.0, 0, 0, every
    loss0, acc0 = _evaluate(model, loss_fn, *base)
    history = [{"epoch": 0.0, "examples": 0, "updates": 0, "wall_s": 0.0, "loss": loss0,
                "accuracy": acc0}]
    hit: dict[str, dict | None] = {"loss": None, "acc": None}
    best, since_best = loss0, 0
    done = False
    for _ in range(max_epochs):
        t0 = time.perf_counter()
        for x, y in loader:
            opt.zero_grad()
            loss_fn(model(x), y).backward()
            opt.step()
            examples += x.shape[0]
            updates += 1
            if examples < next_eval:
                continue
            clock += time.perf_counter() - t0
            next_eval = (examples // every + 1) * every
            loss, acc = _evaluate(model, loss_fn, *base)
            point = {"epoch": examples / n, "examples": examples, "updates": updates,
                     "wall_s": clock, "loss": loss, "accuracy": acc}
            history.append(point)
            if hit["loss"] is None and loss <= target_loss:
                hit["loss"] = point
            if hit["acc"] is None and acc >= target_accuracy:
                hit["acc"] = point
            best, since_best = (loss, 0) if loss < 0.99 * best else (best, since_best + 1)
            failed = not math.isfinite(loss) or loss > _DIVERGED * loss0 \
                or since_best > _PATIENCE
            if (hit["loss"] and hit["acc"]) or failed or clock > max_seconds:
                done = True
                break
            t0 = time.perf_counter()
        else:
            clock += time.perf_counter() - t0
        if done:
            break
    return {"regime": regime, "lr": lr, "batch_size": bs, "history": history,
            "to_loss": hit["loss"], "to_acc": hit["acc"],
            "reached": bool(hit["loss"] and hit["acc"]), "model": model}


def _cost(run: dict) -> float:
    """Examples processed until both targets were reached (inf if not)."""
    if not run["reached"]:
        return math.inf
    return max(run["to_loss"]["examples"], run["to_acc"]["examples"])


def tune_lr(train_set, base, regime: str, grid: Sequence[float], **kw: Any
            ) -> tuple[float, list[dict[str, Any]]]:
    """The rate of ``grid`` that reaches both targets with the fewest examples processed (ties:
    lower final loss), and one record per rate tried."""
    runs = [train_to_target(train_set, base, regime, lr, **kw) for lr in grid]
    best = min(runs, key=lambda r: (_cost(r), r["history"][-1]["loss"]))
    records = [{"regime": regime, "lr": r["lr"], "reached": r["reached"],
                "examples": _cost(r), "epochs": _cost(r) / len(train_set),
                "wall_s": r["history"][-1]["wall_s"], "final_loss": r["history"][-1]["loss"],
                "chosen": r is best} for r in runs]
    return best["lr"], records


def _run_all(regimes: Sequence[str], datasets: Sequence[str], grids: Mapping[str, Any], train,
             test, base, k: int, kw: dict[str, Any], env: dict[str, Any], verbose: bool
             ) -> tuple[dict[str, float], list[dict], list[dict], list[dict]]:
    """Tune each regime's rate on digits, then run every (data set, regime) to the targets."""
    import gradflow as gf
    from gradflow.data.datasets import repeat

    sets = {"digits": train, f"digits_x{k}": repeat(train, k)}
    chosen: dict[str, float] = {}
    tuning: list[dict[str, Any]] = []
    for regime in regimes:
        grid = grids[regime]
        if isinstance(grid, int | float):
            chosen[regime] = float(grid)
            continue
        chosen[regime], records = tune_lr(train, base, regime, list(grid), **kw)
        tuning += records
        if verbose:
            tried = ", ".join(f"{r['lr']:g}: {r['examples']:.0f}" for r in records)
            print(f"tuned {regime}: lr {chosen[regime]:g} (examples to targets {tried})")
    summary, histories = [], []
    test_x, test_y = gf.tensor(test.arrays[0], device=kw["device"]), test.arrays[1]
    for name in datasets:
        for regime in regimes:
            run = train_to_target(sets[name], base, regime, chosen[regime], **kw)
            with gf.no_grad():
                pred = run["model"](test_x).numpy().argmax(axis=1)
            row = _summary_row(name, run, len(sets[name]), float((pred == test_y).mean()),
                               env["gradflow_commit"])
            summary.append(row)
            histories += [{"dataset": name, "regime": regime, "lr": run["lr"], **h}
                          for h in run["history"]]
            if verbose:
                print(f"{name:>10} {regime:>10} lr {run['lr']:<6g} epochs {row['epochs']:<8.3g}"
                      f" examples {row['examples']:<9} updates {row['updates']:<7} "
                      f"wall {row['wall_s']:.2f} s  reached={row['reached']}", flush=True)
    return chosen, tuning, summary, histories


def run_convergence(out_dir: str | os.PathLike, regimes: Sequence[str] = tuple(REGIMES),
                    datasets: Sequence[str] = DATASETS, target_accuracy: float = 0.97,
                    target_loss: float = 0.1,
                    lrs: Mapping[str, float | Sequence[float]] | None = None,
                    max_epochs: int = 2000, max_seconds: float = 120.0, seed: int = 0,
                    quick: bool = False, device: str = "cpu", threads: int | None = None,
                    verbose: bool = False) -> dict[str, Any]:
    """Run every regime on every data set to the targets; write ``convergence.{md,csv,png}`` and
    ``convergence_history.csv`` into ``out_dir``.

    Args:
        regimes: any of ``"batch"`` (one update per epoch), ``"minibatch"`` (32 examples per
            update) and ``"stochastic"`` (one example per update).
        datasets: ``"digits"`` (the 80 % training split, 1,437 examples) and/or
            ``"digits_x10"`` (``repeat(digits, 10)``).
        target_accuracy, target_loss: training accuracy / mean cross-entropy to reach.
        lrs: per regime a rate, or a grid to tune over on ``digits`` (default :data:`LR_GRID`).
        max_epochs: epochs per run at most (of the set trained on).
        max_seconds: training seconds per run at most (a run that is too slow stops there).
        quick: CI size: 200 training examples, targets 0.5 / 0.85, 200 epochs, a 2-rate grid
            for batch and one rate for the others.
        threads: cap NumPy's BLAS at this many threads (``None``: its default).

    Returns:
        ``summary`` (one row per data set and regime), ``histories``, ``tuning``, ``lrs``
        (the rates used), ``environment`` and ``files``.
    """
    import gradflow as gf

    unknown = [r for r in regimes if r not in REGIMES] + [d for d in datasets if d not in DATASETS]
    if unknown:
        raise ValueError(f"run_convergence: unknown regimes/datasets {unknown}; regimes are "
                         f"{tuple(REGIMES)}, data sets {DATASETS}")
    grids: dict[str, float | Sequence[float]] = dict(LR_GRID)
    if quick:
        grids = {"batch": (0.5, 2.0), "minibatch": (0.3,), "stochastic": (0.03,)}
        target_loss, target_accuracy, max_epochs = 0.5, 0.85, 200
    grids.update(lrs or {})
    train, test = _data(seed, quick)
    base = (gf.tensor(train.arrays[0], device=device), gf.tensor(train.arrays[1], device=device))
    kw = {"target_loss": target_loss, "target_accuracy": target_accuracy,
          "max_epochs": max_epochs, "max_seconds": max_seconds, "seed": seed, "device": device}
    env = environment()
    with limit_threads(threads):
        env.update(thread_counts())
        chosen, tuning, summary, histories = _run_all(
            regimes, datasets, grids, train, test, base, REPEAT, kw, env, verbose)
    env["loadavg_end"] = loadavg()
    os.makedirs(out_dir, exist_ok=True)
    base_dir = os.fspath(out_dir)
    files = {"md": "convergence.md", "csv": "convergence.csv", "png": "convergence.png",
             "history": "convergence_history.csv", "tuning": "convergence_lr_tuning.csv"}
    files = {k: os.path.join(base_dir, v) for k, v in files.items()}
    config = {"target_loss": target_loss, "target_accuracy": target_accuracy,
              "max_epochs": max_epochs, "max_seconds": max_seconds, "seed": seed,
              "hidden": HIDDEN, "n_train": len(train), "repeat": REPEAT, "device": device,
              "quick": quick, "threads": "default" if threads is None else threads,
              "lr_grid": {r: grids[r] for r in regimes}}
    write_csv(files["csv"], summary, SUMMARY_FIELDS)
    write_csv(files["history"], histories, HISTORY_FIELDS)
    write_csv(files["tuning"], tuning, TUNING_FIELDS)
    _write_md(files["md"], summary, tuning, chosen, env, config)
    _plot(files["png"], histories, summary, config)
    return {"summary": summary, "histories": histories, "tuning": tuning, "lrs": chosen,
            "environment": env, "config": config, "files": files}


def _summary_row(name: str, run: dict, n: int, test_acc: float, commit: str) -> dict[str, Any]:
    last = run["history"][-1]
    stop = run["to_loss"] if run["reached"] else last
    if run["reached"] and run["to_acc"]["examples"] > stop["examples"]:
        stop = run["to_acc"]
    row: dict[str, Any] = {
        "dataset": name, "regime": run["regime"], "batch_size": run["batch_size"],
        "lr": run["lr"], "reached": run["reached"], "epochs": stop["examples"] / n,
        "examples": stop["examples"], "updates": stop["updates"], "wall_s": stop["wall_s"],
        "final_loss": last["loss"], "final_accuracy": last["accuracy"],
        "test_accuracy": test_acc, "commit": commit}
    for key, hit in (("loss", run["to_loss"]), ("acc", run["to_acc"])):
        for field in ("epochs", "examples", "updates", "wall_s"):
            row[f"{field}_to_{key}"] = "" if hit is None else (
                hit["examples"] / n if field == "epochs" else hit[field])
    return row


def _fmt(v: Any, spec: str) -> str:
    return "not reached" if v == "" else format(v, spec)


def _write_md(path: str, summary, tuning, chosen, env, config) -> None:
    tl, ta = config["target_loss"], config["target_accuracy"]
    lines = ["# Batch vs minibatch vs stochastic gradient descent on digits", "",
             f"gradflow MLP 64-{config['hidden']}-10 (ReLU), mean softmax cross-entropy, plain SGD "
             f"(no momentum), float32, on {config['device']}. Training set: "
             f"{config['n_train']} digits (`digits`) and {config['repeat']} copies of them "
             f"(`digits_x{config['repeat']}`). Target: training loss ≤ {tl:g} and training "
             f"accuracy ≥ {ta:g}. Wall time counts training only (evaluation stops the clock). "
             "Examples = per-example gradient evaluations.", "",
             "## Cost to reach both targets", ""]
    rows = []
    for r in summary:
        rows.append([r["dataset"], r["regime"], r["batch_size"], f"{r['lr']:g}",
                     "yes" if r["reached"] else "**no** (budget)", f"{r['epochs']:.3g}",
                     f"{r['examples']:,}", f"{r['updates']:,}", f"{r['wall_s']:.3g}",
                     _fmt(r["epochs_to_loss"], ".3g"), _fmt(r["epochs_to_acc"], ".3g"),
                     f"{r['final_loss']:.4f}", f"{r['test_accuracy']:.3f}"])
    lines += md_table(["data set", "regime", "batch", "lr", "reached", "epochs", "examples",
                       "updates", "wall s", f"epochs to loss ≤ {tl:g}",
                       f"epochs to acc ≥ {ta:g}", "final loss", "test acc"], rows)
    lines += ["", "## The redundancy lesson", ""] + _lesson(summary)
    lines += ["", "## Learning-rate tuning", "",
              "Per regime, a small grid on `digits`; the chosen rate reaches both targets with "
              "the fewest examples processed (ties: lower final loss) and is reused on "
              f"`digits_x{config['repeat']}`. Chosen: "
              + ", ".join(f"{k} {v:g}{_edge(v, config['lr_grid'].get(k))}"
                          for k, v in chosen.items()) + ".", ""]
    if tuning:
        lines += md_table(["regime", "lr", "reached", "examples to targets", "epochs",
                           "wall s", "final loss", "chosen"],
                          ([t["regime"], f"{t['lr']:g}", "yes" if t["reached"] else "no",
                            f"{t['examples']:,.0f}" if t["reached"] else "—",
                            f"{t['epochs']:.3g}" if t["reached"] else "—", f"{t['wall_s']:.3g}",
                            f"{t['final_loss']:.4f}", "✓" if t["chosen"] else ""]
                           for t in tuning))
    else:
        lines.append("(rates given, not tuned)")
    lines += ["", "![loss vs wall time and vs epochs](convergence.png)", "", "## Environment", ""]
    lines += env_markdown(env) + [f"- config: `{config}`"]
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")


def _edge(rate: float, grid: Any) -> str:
    """A warning when the chosen rate is the grid's smallest or largest (widen the grid)."""
    if isinstance(grid, int | float) or not grid or len(grid) < 2:
        return ""
    return " (at the edge of the grid)" if rate in (min(grid), max(grid)) else ""


def _lesson(summary) -> list[str]:
    """Sentences comparing each regime's cost on digits and on digits_x10, with numbers."""
    by = {(r["dataset"], r["regime"]): r for r in summary}
    out = []
    for regime in REGIMES:
        a, b = by.get(("digits", regime)), by.get((f"digits_x{REPEAT}", regime))
        if not (a and b and a["reached"] and b["reached"]):
            continue
        out.append(f"- **{regime}**: {a['epochs']:.3g} epochs ({a['examples']:,} examples, "
                   f"{a['updates']:,} updates, {a['wall_s']:.3g} s) on digits; "
                   f"{b['epochs']:.3g} epochs ({b['examples']:,} examples, {b['updates']:,} "
                   f"updates, {b['wall_s']:.3g} s) on digits_x{REPEAT}: the redundant set costs "
                   f"{b['examples'] / a['examples']:.2f}× the examples.")
    bx, sx = by.get((f"digits_x{REPEAT}", "batch")), by.get((f"digits_x{REPEAT}", "stochastic"))
    mx = by.get((f"digits_x{REPEAT}", "minibatch"))
    for other in (sx, mx):
        if bx and other and bx["reached"] and other["reached"]:
            out.append(f"- On digits_x{REPEAT}, {other['regime']} needs "
                       f"{bx['epochs'] / other['epochs']:.1f}× fewer epochs than batch "
                       f"({other['epochs']:.3g} vs {bx['epochs']:.3g}) and "
                       f"{bx['wall_s'] / other['wall_s']:.2f}× less wall time "
                       f"({other['wall_s']:.3g} s vs {bx['wall_s']:.3g} s).")
    if not out:
        out.append("- (some runs did not reach the targets within the budget; no comparison)")
    return out


def _plot(path: str, histories, summary, config) -> None:
    try:
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise no_matplotlib_error("run_convergence") from exc
    names = list(dict.fromkeys(h["dataset"] for h in histories))
    fig = Figure(figsize=(9, 3.3 * len(names)))
    axes = fig.subplots(len(names), 2, squeeze=False)
    colors = {"batch": "C0", "minibatch": "C1", "stochastic": "C2"}
    for row, name in enumerate(names):
        for regime in REGIMES:
            pts = [h for h in histories if h["dataset"] == name and h["regime"] == regime
                   and h["examples"] > 0]
            if not pts:
                continue
            loss = np.array([p["loss"] for p in pts])
            lr = pts[0]["lr"]
            for col, key in enumerate(("wall_s", "epoch")):
                x = np.maximum([p[key] for p in pts], 1e-4)
                axes[row, col].loglog(x, loss, color=colors[regime], lw=1.2,
                                      label=f"{regime} (lr {lr:g})")
        for col, label in enumerate(("training wall time, s", "epochs of the set trained on")):
            ax = axes[row, col]
            ax.axhline(config["target_loss"], color="k", ls=":", lw=0.8)
            ax.set_xlabel(label)
            ax.set_ylabel("training loss")
            ax.set_title(name, fontsize=10)
            ax.grid(True, which="both", alpha=0.3)
        axes[row, 0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=80)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m gradflow.bench.convergence [--out DIR] [--quick] [--target-loss L]
    [--target-accuracy A] [--max-epochs E] [--lr regime=rate ...]``."""
    parser = argparse.ArgumentParser(prog="gradflow bench convergence",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="convergence", help="output folder (created)")
    parser.add_argument("--quick", action="store_true", help="tiny CI size (seconds)")
    parser.add_argument("--target-loss", type=float, default=0.1)
    parser.add_argument("--target-accuracy", type=float, default=0.97)
    parser.add_argument("--max-epochs", type=int, default=2000)
    parser.add_argument("--max-seconds", type=float, default=120.0)
    parser.add_argument("--regimes", default=",".join(REGIMES))
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--lr", action="append", default=[], metavar="REGIME=RATE",
                        help="fix a regime's rate instead of tuning it (repeatable)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None,
                        help="cap NumPy's BLAS at N threads (default: its own default)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    lrs = {}
    for item in args.lr:
        regime, _, rate = item.partition("=")
        if regime not in REGIMES or not rate:
            parser.error(f"--lr expects REGIME=RATE with REGIME in {tuple(REGIMES)}, got {item!r}")
        lrs[regime] = float(rate)
    res = run_convergence(args.out, regimes=args.regimes.split(","),
                          datasets=args.datasets.split(","), target_accuracy=args.target_accuracy,
                          target_loss=args.target_loss, lrs=lrs, max_epochs=args.max_epochs,
                          max_seconds=args.max_seconds, seed=args.seed, quick=args.quick,
                          device=args.device, threads=args.threads, verbose=True)
    print("\n".join(_lesson(res["summary"])))
    print(f"wrote {res['files']['md']} (.csv, .png, _history.csv, _lr_tuning.csv)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
