"""The seed lecture's learning-rate experiment (lecture 003; LeCun et al., *Efficient BackProp*).

One linear neuron ``y = w·x + b`` on the two-Gaussian set-1, squared error averaged over the
``P`` examples, ``E(θ) = 1/(2P) Σ_p (w·x_p + b − t_p)²``. Its Hessian is constant,
``H = 1/P Σ_p x̃_p x̃_pᵀ`` with ``x̃ = (x, 1)`` (the second moment of the inputs), so gradient
descent ``θ ← θ − η ∇E`` moves each eigen-direction ``u_i`` of ``H`` independently by the factor
``1 − η λ_i`` per step: monotone for ``η < η_opt = 1/λ_max``, oscillating but converging for
``η_opt < η < η_max = 2/λ_max``, diverging beyond. The experiment measures ``λ_max`` with
:func:`gradflow.analysis.top_hessian_eigenvalue`, checks it against NumPy, and runs gradient
descent at multiples of ``η_opt`` (plus stochastic gradient descent) to show the three regimes.

    from gradflow.bench.lr import run_lr_experiment
    result = run_lr_experiment("out/")   # writes lr_experiment.{md,csv,png}
"""

from __future__ import annotations

import argparse
import csv
import math
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

import gradflow as gf
from gradflow.analysis import top_hessian_eigenvalue
from gradflow.autograd.engine import grad
from gradflow.data.datasets import two_gaussians
from gradflow.functional import mse_loss

_F64 = "float64"
_BLOWUP = 1e30  # stop a run once its loss passes this (it has diverged)
_LAMBDA_RTOL = 1e-4


class _Neuron:
    """``θ = (w1, w2[, b])`` as gradflow float64 leaves, and ``E(θ)`` on a batch."""

    def __init__(self, theta0: Sequence[float], train_bias: bool):
        self.w = gf.tensor(list(theta0[:2]), dtype=_F64, requires_grad=True)
        self.b = gf.tensor([theta0[2] if train_bias else 0.0], dtype=_F64,
                           requires_grad=train_bias)
        self.params = [self.w, self.b] if train_bias else [self.w]

    def loss(self, x: gf.Tensor, t: gf.Tensor) -> gf.Tensor:
        return 0.5 * mse_loss(x @ self.w + self.b, t)  # 1/(2P) Σ (y − t)²

    def theta(self) -> np.ndarray:
        return np.concatenate([self.w.numpy(), self.b.numpy()])

    def step(self, grads: Sequence[gf.Tensor], eta: float) -> None:
        for p, g in zip(self.params, grads):
            p.array -= eta * g.array


def _gd_run(x, t, theta0, train_bias, eta, steps, top) -> dict[str, Any]:
    """Full-batch gradient descent; records E, θ and the gradient along the top eigenvector."""
    net = _Neuron(theta0, train_bias)
    losses, thetas, along_top = [], [], []
    for k in range(steps + 1):
        loss = net.loss(x, t)
        value = float(loss)
        losses.append(value)
        thetas.append(net.theta())
        if not math.isfinite(value) or value > _BLOWUP:
            break
        grads = grad(loss, net.params)
        along_top.append(float(np.concatenate([g.numpy().ravel() for g in grads]) @ top))
        if k < steps:
            net.step(grads, eta)
    return {"losses": losses, "weights": np.array(thetas), "along_top": along_top}


def _sgd_run(x, t, theta0, train_bias, eta, epochs, seed) -> dict[str, Any]:
    """Stochastic gradient descent, one example per update, shuffled every epoch."""
    net = _Neuron(theta0, train_bias)
    rng = np.random.default_rng(seed)
    losses, thetas, path = [float(net.loss(x, t))], [net.theta()], [net.theta()]
    for _ in range(epochs):
        for i in rng.permutation(x.shape[0]):
            net.step(grad(net.loss(x[i:i + 1], t[i:i + 1]), net.params), eta)
            path.append(net.theta())
        losses.append(float(net.loss(x, t)))
        thetas.append(net.theta())
        if not math.isfinite(losses[-1]) or losses[-1] > _BLOWUP:
            break
    return {"losses": losses, "weights": np.array(thetas), "path": np.array(path)}


def _verdict(losses: list[float], along_top: list[float]) -> str:
    """converged / oscillating-converged / diverged, from the record of one run.

    Diverged: the loss blew up or ended above its start, or the gradient along the top
    eigenvector grew (factor |1 − ηλ_max| > 1). Oscillating: that component flips sign on at
    least half of the consecutive steps while it is still above 1e-3 of its start (1 − ηλ_max < 0).
    """
    c = np.asarray(along_top)
    if (not math.isfinite(losses[-1]) or losses[-1] > _BLOWUP or losses[-1] > losses[0]
            or (c.size > 1 and abs(c[-1]) > abs(c[0]))):
        return "diverged"
    big = np.abs(c) >= 1e-3 * abs(c[0]) if c.size else np.zeros(0, bool)
    pairs = big[:-1] & big[1:]
    flips = (np.sign(c[:-1]) != np.sign(c[1:])) & pairs
    return "oscillating-converged" if pairs.any() and 2 * flips.sum() >= pairs.sum() \
        else "converged"


def _theory(m: float) -> str:
    if m < 1:
        return "converged"
    if m == 1:
        return "converged (one step along the stiffest direction)"
    if m < 2:
        return "oscillating-converged"
    return "oscillating, no convergence" if m == 2 else "diverged"


def _rel(a: float, b: float) -> float:
    return abs(a - b) / abs(b)


def run_lr_experiment(out_dir: str | os.PathLike, multipliers: Sequence[float] = (
        0.5, 1, 1.5, 1.9, 2.1), steps: int = 200, seed: int = 0, *, n: int = 100,
        train_bias: bool = True, init: Sequence[float] = (-1.0, 1.0, 1.0),
        sgd_lr: float | None = None, sgd_epochs: int = 20) -> dict[str, Any]:
    """Run the experiment, write ``lr_experiment.{md,csv,png}`` into ``out_dir``, return numbers.

    Args:
        out_dir: created if missing.
        multipliers: gradient descent runs at ``η = m·η_opt``, ``η_opt = 1/λ_max``.
        steps: full-batch steps (= epochs) per run.
        seed: data set and SGD shuffling seed.
        n: number of examples (the lecture: 100).
        train_bias: train ``b`` with the weights (the lecture's neuron); False holds ``b = 0``
            and trains the two weights only (their Hessian block is the lecture's λ_max = 0.84).
        init: starting ``(w1, w2, b)``.
        sgd_lr: per-example rate; default the lecture's 0.2, capped at ``1/max_p ‖x̃_p‖²`` so
            that every single-example step is stable.
        sgd_epochs: epochs of stochastic gradient descent.

    Returns:
        ``lambda_max`` (gradflow), ``lambda_max_exact`` (NumPy), ``lambda_rel_error``,
        ``lambda_max_weights`` (+ exact) for the weight block alone, ``eta_opt``, ``eta_max``,
        ``loss_min`` (exact ``E*``), ``runs`` (per multiplier: ``eta``, ``losses``, ``weights``,
        ``final_loss``, ``verdict``, ``theory``), ``sgd`` and ``files``.

    Raises:
        RuntimeError: the power-iteration λ_max is off the exact one by more than 1e-4.
    """
    if steps < 1 or sgd_epochs < 0:
        raise ValueError(f"run_lr_experiment: steps must be >= 1 and sgd_epochs >= 0, got "
                         f"steps={steps}, sgd_epochs={sgd_epochs}")
    ds = two_gaussians(n=n, seed=seed, targets="signed")
    x_np = np.asarray(ds.arrays[0], dtype=np.float64)
    t_np = np.asarray(ds.arrays[1], dtype=np.float64).reshape(-1)
    x, t = gf.tensor(x_np, dtype=_F64), gf.tensor(t_np, dtype=_F64)
    init = tuple(float(v) for v in init)
    xt = np.hstack([x_np, np.ones((n, 1))]) if train_bias else x_np
    h_exact = xt.T @ xt / n
    evals, evecs = np.linalg.eigh(h_exact)

    probe = _Neuron(init, train_bias)
    lam, vec = top_hessian_eigenvalue(lambda: probe.loss(x, t), probe.params, iters=2000,
                                      tol=1e-13, seed=seed, return_vector=True)
    lam_w = top_hessian_eigenvalue(lambda: probe.loss(x, t), [probe.w], iters=2000, tol=1e-13,
                                   seed=seed)
    lam_w_exact = float(np.linalg.eigvalsh(x_np.T @ x_np / n)[-1])
    lam_exact = float(evals[-1])
    if _rel(lam, lam_exact) > _LAMBDA_RTOL:
        raise RuntimeError(f"run_lr_experiment: power iteration gave λ_max = {lam:.8g}, NumPy "
                           f"{lam_exact:.8g} (relative error {_rel(lam, lam_exact):.2e} > 1e-4)")
    top = np.concatenate([v.numpy().ravel() for v in vec])
    theta_min, *_ = np.linalg.lstsq(xt, t_np, rcond=None)
    loss_min = float(np.mean((xt @ theta_min - t_np) ** 2) / 2)
    eta_opt = 1.0 / lam

    runs = []
    for m in multipliers:
        rec = _gd_run(x, t, init, train_bias, float(m) * eta_opt, steps, top)
        runs.append({"multiplier": float(m), "eta": float(m) * eta_opt,
                     "losses": rec["losses"], "weights": rec["weights"].tolist(),
                     "final_loss": rec["losses"][-1],
                     "verdict": _verdict(rec["losses"], rec["along_top"]),
                     "theory": _theory(float(m)), "_weights": rec["weights"]})
    xt_norms = np.max(np.sum(xt ** 2, axis=1))
    eta_sgd = float(sgd_lr) if sgd_lr is not None else min(0.2, 1.0 / xt_norms)
    rec = _sgd_run(x, t, init, train_bias, eta_sgd, sgd_epochs, seed)
    final = rec["losses"][-1]
    sgd = {"eta": eta_sgd, "epochs": sgd_epochs, "losses": rec["losses"],
           "weights": rec["weights"].tolist(), "final_loss": final,
           "verdict": ("diverged" if not math.isfinite(final) or final > rec["losses"][0]
                       else "noisy-converged"), "_path": rec["path"]}

    result = {
        "dataset": f"gradflow.data.datasets.two_gaussians(n={n}, seed={seed})",
        "train_bias": train_bias, "steps": steps,
        "lambda_max": lam, "lambda_max_exact": lam_exact,
        "lambda_rel_error": _rel(lam, lam_exact),
        "lambda_max_weights": lam_w, "lambda_max_weights_exact": lam_w_exact,
        "eta_opt": eta_opt, "eta_max": 2.0 * eta_opt, "loss_min": loss_min,
        "theta_min": theta_min.tolist(), "runs": runs, "sgd": sgd,
    }
    os.makedirs(out_dir, exist_ok=True)
    files = {k: os.path.join(os.fspath(out_dir), f"lr_experiment.{k}") for k in
             ("md", "csv", "png")}
    _write_csv(files["csv"], result)
    _write_md(files["md"], result)
    _plot(files["png"], result, h_exact, evals, evecs, theta_min)
    for r in (*runs, sgd):
        r.pop("_weights", None)
        r.pop("_path", None)
    result["files"] = files
    return result


def _write_csv(path: str, res: dict) -> None:
    names = ["w1", "w2", "b"]
    with open(path, "w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["run", "multiplier", "eta", "step", "loss", *names])
        rows = [("gd", r["multiplier"], r["eta"], r["losses"], r["weights"]) for r in res["runs"]]
        sgd = res["sgd"]
        rows.append(("sgd", sgd["eta"] * res["lambda_max"], sgd["eta"], sgd["losses"],
                     sgd["weights"]))
        for run, m, eta, losses, weights in rows:
            for k, (loss, theta) in enumerate(zip(losses, weights)):
                out.writerow([run, f"{m:.6g}", f"{eta:.8g}", k, f"{loss:.10g}",
                              *(f"{v:.10g}" for v in theta)])


def _write_md(path: str, res: dict) -> None:
    params = "w1, w2, b" if res["train_bias"] else "w1, w2 (b = 0)"
    lines = [
        "# Learning-rate experiment: one linear neuron on two Gaussians",
        "",
        f"Data: `{res['dataset']}`; y = w·x + b, E = 1/(2P) Σ (y − t)², gradient descent on "
        f"({params}) for {res['steps']} full-batch steps at η = m·η_opt, and SGD beside them.",
        "",
        "| Hessian block | λ_max, gradflow (power iteration on hvp) | λ_max, NumPy eigvalsh "
        "| relative error |",
        "|---|---|---|---|",
        f"| ({params}), trained | {res['lambda_max']:.8f} | {res['lambda_max_exact']:.8f} "
        f"| {res['lambda_rel_error']:.1e} |",
        f"| (w1, w2) | {res['lambda_max_weights']:.8f} | {res['lambda_max_weights_exact']:.8f} "
        f"| {_rel(res['lambda_max_weights'], res['lambda_max_weights_exact']):.1e} |",
        "",
        f"η_opt = 1/λ_max = {res['eta_opt']:.4f}, η_max = 2/λ_max = {res['eta_max']:.4f}; "
        f"E* = {res['loss_min']:.6g}. The weight block alone gives η_max = "
        f"{2 / res['lambda_max_weights']:.4f} (the seed lecture quotes λ_max = 0.84, "
        "η_max = 2.38); a trained bias adds the curvature of its constant input, mean(1²) = 1.",
        "",
        "| multiplier m | η | final loss | E − E* | verdict | theory | 1 − ηλ_max |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in res["runs"]:
        lines.append(f"| {r['multiplier']:g} | {r['eta']:.4f} | {r['final_loss']:.6g} "
                     f"| {r['final_loss'] - res['loss_min']:.3g} | {r['verdict']} "
                     f"| {r['theory']} | {1 - r['multiplier']:+.2f} |")
    s = res["sgd"]
    lines += [
        f"| SGD, {s['epochs']} epochs | {s['eta']:.4f} per example | {s['final_loss']:.6g} "
        f"| {s['final_loss'] - res['loss_min']:.3g} | {s['verdict']} | keeps jumping unless η "
        "decreases | |",
        "",
        "![trajectories and loss curves](lr_experiment.png)",
        "",
    ]
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines))


def _plot(path: str, res: dict, h: np.ndarray, evals: np.ndarray, evecs: np.ndarray,
          theta_min: np.ndarray) -> None:
    """Trajectories in the plane of the stiffest and the flattest eigen-directions of H (exact
    contours of E there), one panel per run, and E − E* per epoch."""
    try:
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise ImportError("run_lr_experiment draws lr_experiment.png with matplotlib: "
                          "pip install matplotlib") from exc
    u = evecs[:, [-1, 0]]
    lam = evals[[-1, 0]]
    runs = res["runs"]
    sgd = res["sgd"]
    series = [(f"m = {r['multiplier']:g}: η = {r['eta']:.3f}\n{r['verdict']}",
               r["_weights"]) for r in runs]
    series.append((f"SGD: η = {sgd['eta']:.3f} per example\n{sgd['verdict']}", sgd["_path"]))
    n_panels = len(series) + 1
    cols = min(4, n_panels)
    rows = math.ceil(n_panels / cols)
    fig = Figure(figsize=(4.2 * cols, 3.8 * rows))
    fig.subplots_adjust(left=0.06, right=0.98, bottom=0.08, top=0.88, wspace=0.32, hspace=0.5)
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    d = h.shape[0]  # trajectories hold (w1, w2, b); without a trained bias, b = 0 is dropped
    names = ["w1", "w2", "b"][:d]
    start = (series[0][1][0][:d] - theta_min) @ u
    lim = 1.4 * max(np.max(np.abs(start)), 1e-3)
    g = np.linspace(-lim, lim, 121)
    c1, c2 = np.meshgrid(g, g)
    surface = 0.5 * (lam[0] * c1 ** 2 + lam[1] * c2 ** 2)
    e0 = max(0.5 * float(lam @ start ** 2), 1e-12)
    levels = e0 * np.geomspace(1 / 256, 4, 11)  # geometric: every contour shows near the minimum
    axis_label = [
        "{} u = ({}), λ = {:.3f}".format(kind, ", ".join(
            f"{v:+.2f}{nm}" for v, nm in zip(u[:, i], names)), lam[i])
        for i, kind in enumerate(("stiffest", "flattest"))]
    for ax, (title, traj) in zip(axes, series):
        ax.contour(c1, c2, surface, levels=levels, colors="0.7", linewidths=0.6)
        c = (np.asarray(traj)[:, :d] - theta_min) @ u
        ax.plot(c[:, 0], c[:, 1], "-", lw=0.8 if len(c) > 500 else 1.2, color="C0")
        if len(c) <= 500:
            ax.plot(c[:, 0], c[:, 1], ".", ms=3, color="C0")
        ax.plot(c[0, 0], c[0, 1], "o", color="C3", ms=5)
        ax.plot(0, 0, "k+", ms=9)
        ax.set_xlim(-lim, lim)
        ax.set_ylim(-lim, lim)
        ax.set_title(title, fontsize=9)
        ax.set_xlabel(axis_label[0], fontsize=7)
        ax.set_ylabel(axis_label[1], fontsize=7)
    ax = axes[len(series)]
    for i, r in enumerate(runs):
        gap = np.maximum(np.asarray(r["losses"]) - res["loss_min"], 1e-17)
        ax.semilogy(gap, color=f"C{i}", label=f"GD m = {r['multiplier']:g}")
    gap = np.maximum(np.asarray(sgd["losses"]) - res["loss_min"], 1e-17)
    ax.semilogy(gap, "k--", label="SGD (per epoch)")
    first = max(runs[0]["losses"][0] - res["loss_min"], 1e-12) if runs else 1.0
    ax.set_ylim(1e-17, 1e4 * first)
    ax.set_xlabel("epoch (= full-batch step)")
    ax.set_ylabel("E − E*")
    ax.legend(fontsize=7)
    for extra in axes[len(series) + 1:]:
        extra.set_visible(False)
    fig.suptitle(f"one linear neuron, two Gaussians: λ_max = {res['lambda_max']:.4f}, "
                 f"η_opt = {res['eta_opt']:.3f}, η_max = {res['eta_max']:.3f}", fontsize=11)
    fig.savefig(path, dpi=110)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m gradflow.bench.lr --out DIR --steps N [--sgd-epochs E] [--seed S]``: run the
    experiment and print the verdicts; returns the exit status 0."""
    parser = argparse.ArgumentParser(prog="gradflow bench lr", description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="lr_experiment", help="output folder (created)")
    parser.add_argument("--steps", type=int, default=200, help="full-batch steps per run")
    parser.add_argument("--sgd-epochs", type=int, default=20, help="epochs of SGD beside")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    res = run_lr_experiment(args.out, steps=args.steps, seed=args.seed,
                            sgd_epochs=args.sgd_epochs)
    print(f"λ_max = {res['lambda_max']:.8f} (exact {res['lambda_max_exact']:.8f}); "
          f"η_opt = {res['eta_opt']:.4f}, η_max = {res['eta_max']:.4f}")
    for r in res["runs"]:
        print(f"  m = {r['multiplier']:<4g} η = {r['eta']:.4f}  final loss "
              f"{r['final_loss']:<12.6g} {r['verdict']}")
    print(f"  SGD η = {res['sgd']['eta']:.4f}  final loss {res['sgd']['final_loss']:.6g} "
          f"{res['sgd']['verdict']}")
    print(f"wrote {', '.join(res['files'].values())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
