"""Per-op overhead: forward + backward of one op, gradflow vs hand-written NumPy vs PyTorch eager.

    python benchmarks/overhead.py [--quick] [--out benchmarks/results]

For each op and size (128×128 and 2048×2048 float32) it times ``y = op(x); y.backward(g)``
(the upstream gradient ``g`` given, so no extra reduction is timed), the same forward and
backward written by hand in NumPy, and the same in PyTorch eager (CPU). Medians over repeats,
ratios to NumPy and to PyTorch. All three compute the same numbers (checked before timing).
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import gradflow as gf  # noqa: E402
import gradflow.functional as F  # noqa: E402


def _np_softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def _np_layer_norm(x, w, b, g, eps=1e-5):
    mu = x.mean(-1, keepdims=True)
    d = x - mu
    rstd = 1 / np.sqrt((d * d).mean(-1, keepdims=True) + eps)
    xh = d * rstd
    y = xh * w + b
    gh = g * w
    gx = rstd * (gh - gh.mean(-1, keepdims=True) - xh * (gh * xh).mean(-1, keepdims=True))
    return y, gx, (g * xh).sum(0), g.sum(0)


def cases(n: int):
    """(name, gradflow step, numpy step, torch step) closures over fresh float32 data."""
    import torch

    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    w = rng.standard_normal((n, n), dtype=np.float32) / float(np.sqrt(n))
    g = rng.standard_normal((n, n), dtype=np.float32)
    vec = rng.standard_normal(n, dtype=np.float32)
    labels = rng.integers(0, n, size=n)
    ga, gb, gw = (gf.tensor(v, requires_grad=True) for v in (a, b, w))
    gg = gf.tensor(g)
    gvec_w = gf.tensor(vec + 1, requires_grad=True)
    gvec_b = gf.tensor(vec, requires_grad=True)
    glabels = gf.tensor(labels)
    ta, tb, tw = (torch.tensor(v, requires_grad=True) for v in (a, b, w))
    tg = torch.tensor(g)
    tvec_w = torch.tensor(vec + 1, requires_grad=True)
    tvec_b = torch.tensor(vec, requires_grad=True)
    tlabels = torch.tensor(labels)

    def step_of(fn, leaves, grad):
        """forward, backward with the given upstream gradient, then clear the leaves' grads."""
        def step():
            y = fn()
            y.backward(grad if y.ndim else None)
            for t in leaves:
                t.grad = None
        return step

    def gfs(fn, *leaves):
        return step_of(fn, leaves, gg)

    def ts(fn, *leaves):
        return step_of(fn, leaves, tg)

    def np_ce():
        p = _np_softmax(a)
        loss = -np.log(p[np.arange(n), labels]).mean()
        gx = p
        gx[np.arange(n), labels] -= 1
        return loss, gx / n

    return [
        ("add", gfs(lambda: ga + gb, ga, gb), lambda: (a + b, g, g), ts(lambda: ta + tb, ta, tb)),
        ("mul", gfs(lambda: ga * gb, ga, gb), lambda: (a * b, g * b, g * a),
         ts(lambda: ta * tb, ta, tb)),
        ("relu", gfs(lambda: F.relu(ga), ga),
         lambda: (lambda y: (y, g * (y > 0)))(np.maximum(a, 0)), ts(lambda: torch.relu(ta), ta)),
        ("sigmoid", gfs(lambda: F.sigmoid(ga), ga),
         lambda: (lambda y: (y, g * y * (1 - y)))(1 / (1 + np.exp(-a))),
         ts(lambda: torch.sigmoid(ta), ta)),
        ("tanh", gfs(lambda: F.tanh(ga), ga),
         lambda: (lambda y: (y, g * (1 - y * y)))(np.tanh(a)), ts(lambda: torch.tanh(ta), ta)),
        ("exp", gfs(lambda: gf.exp(ga), ga), lambda: (lambda y: (y, g * y))(np.exp(a)),
         ts(lambda: torch.exp(ta), ta)),
        ("pow3", gfs(lambda: ga ** 3.0, ga), lambda: (a ** 3.0, g * (3.0 * a ** 2.0)),
         ts(lambda: ta ** 3.0, ta)),
        ("mul3", gfs(lambda: ga * ga * ga, ga), lambda: (lambda a2: (a2 * a, g * 3.0 * a2))(a * a),
         ts(lambda: ta * ta * ta, ta)),
        ("sum", gfs(lambda: ga.sum(), ga), lambda: (a.sum(), np.ones_like(a)),
         ts(lambda: ta.sum(), ta)),
        ("matmul", gfs(lambda: ga @ gw, ga, gw), lambda: (a @ w, g @ w.T, a.T @ g),
         ts(lambda: ta @ tw, ta, tw)),
        ("linear", gfs(lambda: F.linear(ga, gw, gvec_b), ga, gw, gvec_b),
         lambda: (a @ w.T + vec, g @ w, g.T @ a, g.sum(0)),
         ts(lambda: torch.nn.functional.linear(ta, tw, tvec_b), ta, tw, tvec_b)),
        ("softmax", gfs(lambda: F.softmax(ga, -1), ga),
         lambda: (lambda y: (y, y * (g - (g * y).sum(-1, keepdims=True))))(_np_softmax(a)),
         ts(lambda: torch.softmax(ta, -1), ta)),
        ("layer_norm", gfs(lambda: F.layer_norm(ga, n, gvec_w, gvec_b), ga, gvec_w, gvec_b),
         lambda: _np_layer_norm(a, vec + 1, vec, g),
         ts(lambda: torch.nn.functional.layer_norm(ta, (n,), tvec_w, tvec_b), ta, tvec_w,
            tvec_b)),
        ("cross_entropy", gfs(lambda: F.cross_entropy(ga, glabels), ga), np_ce,
         ts(lambda: torch.nn.functional.cross_entropy(ta, tlabels), ta)),
    ]


def _time(fn, repeats: int, inner: int) -> float:
    fn()
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(inner):
            fn()
        samples.append((time.perf_counter() - t0) / inner)
    return statistics.median(samples)


def run(quick: bool = False, out: str | None = None) -> list[dict]:
    import torch

    sizes = [(128, 9 if not quick else 3, 200 if not quick else 20),
             (2048, 7 if not quick else 2, 2 if not quick else 1)]
    if quick:
        sizes = [(64, 3, 20)]
    rows = []
    for n, repeats, inner in sizes:
        for name, gf_step, np_step, torch_step in cases(n):
            # interleave the three so machine noise hits each alike
            t = {"gradflow": [], "numpy": [], "torch": []}
            for _ in range(3):
                t["gradflow"].append(_time(gf_step, repeats, inner))
                t["numpy"].append(_time(np_step, repeats, inner))
                t["torch"].append(_time(torch_step, repeats, inner))
            med = {k: statistics.median(v) for k, v in t.items()}
            rows.append({"op": name, "size": f"{n}x{n}", **{f"{k}_us": v * 1e6
                                                            for k, v in med.items()},
                         "gf/numpy": med["gradflow"] / med["numpy"],
                         "gf/torch": med["gradflow"] / med["torch"]})
            print(f"{name:14s} {n:5d}  gf {med['gradflow'] * 1e6:10.1f} us  numpy "
                  f"{med['numpy'] * 1e6:10.1f} us  torch {med['torch'] * 1e6:10.1f} us  "
                  f"gf/np {rows[-1]['gf/numpy']:5.2f}  gf/torch {rows[-1]['gf/torch']:5.2f}",
                  flush=True)
    header = ("| op | size | gradflow µs | NumPy µs | PyTorch µs | gradflow/NumPy | "
              "gradflow/PyTorch |\n|---|---|---:|---:|---:|---:|---:|\n")
    table = header + "".join(
        f"| {r['op']} | {r['size']} | {r['gradflow_us']:.1f} | {r['numpy_us']:.1f} | "
        f"{r['torch_us']:.1f} | {r['gf/numpy']:.2f} | {r['gf/torch']:.2f} |\n" for r in rows)
    meta = (f"Measured {datetime.date.today()} on {platform.processor() or platform.machine()}, "
            f"{os.cpu_count()} cores; Python {platform.python_version()}, NumPy {np.__version__}, "
            f"PyTorch {torch.__version__} ({torch.get_num_threads()} threads), gradflow "
            f"{gf.__version__}. Forward + backward of one op, float32, medians.\n\n")
    if out:
        os.makedirs(out, exist_ok=True)
        with open(os.path.join(out, "overhead.md"), "w") as f:
            f.write("# Per-op overhead\n\n" + meta + table)
    print()
    print(meta + table)
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    run(args.quick, args.out)
