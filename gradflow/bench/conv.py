"""Convolution speed: per-layer ``conv2d`` forward+backward and a small CNN's training step,
gradflow vs PyTorch eager vs the same im2col written by hand in NumPy.

- ``layers``: each conv layer of a LeNet-size and a VGG-size net at batch 64, forward and the
  backward to input and weight (a fixed cotangent), float32. The NumPy column is the textbook
  im2col (``sliding_window_view`` + one copy, one GEMM; col2im by a loop over kernel offsets).
- ``cnn``: one SGD step (zero_grad, forward, cross-entropy, backward, update) of
  conv(1→8, 5)-ReLU-conv(8→16, 3, stride 2)-ReLU-Flatten-Linear(1936→10) on 28×28 inputs at
  batch 1, 32 and 256; same initial weights in every framework; the NumPy column is the same
  step written out by hand (:func:`numpy_cnn_step`).

Frameworks alternate within each of ``rounds`` rounds (so a noisy machine slows them alike);
a cell is the median over rounds of per-call times from :class:`StepTimer`.

    gradflow bench conv --out benchmarks/results [--threads 1] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from gradflow.bench._common import StepTimer, environment, limit_threads, md_table, write_csv

#: (name, N, C_in, H=W, C_out, kernel, padding, stride)
LAYERS = [("lenet.conv1 1→6 5×5 @28", 64, 1, 28, 6, 5, 0, 1),
          ("lenet.conv2 6→16 5×5 @12", 64, 6, 12, 16, 5, 0, 1),
          ("vgg 16→32 3×3 @16 pad 1", 64, 16, 16, 32, 3, 1, 1),
          ("vgg 32→64 3×3 @8 pad 1", 64, 32, 8, 64, 3, 1, 1),
          ("stride 2 16→32 3×3 @16", 64, 16, 16, 32, 3, 1, 2)]
BATCHES = (1, 32, 256)


# -- hand-written NumPy im2col -------------------------------------------------------------------

def _np_cols(x: np.ndarray, k: int, pad: int, stride: int) -> tuple[np.ndarray, int]:
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad))) if pad else x
    win = np.lib.stride_tricks.sliding_window_view(xp, (k, k), axis=(2, 3))[:, :, ::stride,
                                                                            ::stride]
    n, c, ho, wo = win.shape[:4]
    cols = np.ascontiguousarray(win.transpose(1, 4, 5, 0, 2, 3)).reshape(c * k * k, n * ho * wo)
    return cols, ho


def _np_conv_forward(x: np.ndarray, w: np.ndarray, pad: int, stride: int):
    """(y, cols): the convolution and the columns its weight gradient reuses."""
    n, o, k = x.shape[0], w.shape[0], w.shape[2]
    cols, ho = _np_cols(x, k, pad, stride)
    y = (w.reshape(o, -1) @ cols).reshape(o, n, ho, ho).transpose(1, 0, 2, 3)
    return y, cols


def _np_conv_backward(g: np.ndarray, x_shape, w: np.ndarray, cols: np.ndarray, pad: int,
                      stride: int, input_grad: bool = True):
    """(gx or None, gw) for the cotangent ``g``: one GEMM each, col2im by kernel offsets."""
    n, c, h, _ = x_shape
    o, _, k, _ = w.shape
    ho = g.shape[2]
    gm = np.ascontiguousarray(g.transpose(1, 0, 2, 3)).reshape(o, -1)
    gw = (gm @ cols.T).reshape(w.shape)
    if not input_grad:
        return None, gw
    gcols = (w.reshape(o, -1).T @ gm).reshape(c, k, k, n, ho, ho)
    gpad = np.zeros((c, n, h + 2 * pad, h + 2 * pad), dtype=g.dtype)
    span = (ho - 1) * stride + 1
    for i in range(k):
        for j in range(k):
            gpad[:, :, i:i + span:stride, j:j + span:stride] += gcols[:, i, j]
    return gpad[:, :, pad:pad + h, pad:pad + h].transpose(1, 0, 2, 3), gw


def numpy_conv_step(x: np.ndarray, w: np.ndarray, g: np.ndarray, pad: int, stride: int):
    """Forward, then the gradients to x and w for the cotangent ``g`` (the textbook way)."""
    y, cols = _np_conv_forward(x, w, pad, stride)
    gx, gw = _np_conv_backward(g, x.shape, w, cols, pad, stride)
    return y, gx, gw


def numpy_cnn_step(params: list[np.ndarray], x: np.ndarray, y: np.ndarray, lr: float) -> float:
    """One SGD step of the benchmark CNN written out in NumPy (the im2col above, ReLU masks,
    softmax cross-entropy); updates ``params`` in place and returns the loss."""
    w1, b1, w2, b2, w3, b3 = params
    n = x.shape[0]
    c1, cols1 = _np_conv_forward(x, w1, 0, 1)
    h1 = c1 + b1[:, None, None]
    a1 = np.maximum(h1, 0)
    c2, cols2 = _np_conv_forward(a1, w2, 0, 2)
    h2 = c2 + b2[:, None, None]
    a2 = np.maximum(h2, 0)
    flat = a2.reshape(n, -1)
    z = flat @ w3.T + b3
    z -= z.max(1, keepdims=True)
    e = np.exp(z)
    p = e / e.sum(1, keepdims=True)
    loss = -float(np.log(p[np.arange(n), y]).mean())
    p[np.arange(n), y] -= 1
    p /= n
    gw3, gb3 = p.T @ flat, p.sum(0)
    g2 = (p @ w3).reshape(a2.shape) * (h2 > 0)
    ga1, gw2 = _np_conv_backward(g2, a1.shape, w2, cols2, 0, 2)
    g1 = ga1 * (h1 > 0)
    _, gw1 = _np_conv_backward(g1, x.shape, w1, cols1, 0, 1, input_grad=False)
    grads = (gw1, g1.sum((0, 2, 3)), gw2, g2.sum((0, 2, 3)), gw3, gb3)
    for param, grad in zip(params, grads):
        param -= lr * grad
    return loss


# -- the steps -----------------------------------------------------------------------------------

def _layer_steps(spec, frameworks: Sequence[str]) -> dict[str, Callable[[int], Any]]:
    _, n, c, h, o, k, pad, stride = spec
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, c, h, h), dtype=np.float32)
    w = (rng.standard_normal((o, c, k, k)) / np.sqrt(c * k * k)).astype(np.float32)
    ho = (h + 2 * pad - k) // stride + 1
    g = rng.standard_normal((n, o, ho, ho), dtype=np.float32)
    steps: dict[str, Callable[[int], Any]] = {}
    if "gradflow" in frameworks:
        import gradflow as gf

        gx_, gw_, gg = gf.tensor(x, requires_grad=True), gf.tensor(w, requires_grad=True), \
            gf.tensor(g)

        def gf_step(_i):
            gx_.grad = gw_.grad = None
            gf.nn.functional.conv2d(gx_, gw_, padding=pad, stride=stride).backward(gg)
        steps["gradflow"] = gf_step
    if "torch" in frameworks:
        import torch

        tx, tw = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
        tg = torch.tensor(g)

        def torch_step(_i):
            tx.grad = tw.grad = None
            torch.nn.functional.conv2d(tx, tw, padding=pad, stride=stride).backward(tg)
        steps["torch"] = torch_step
    if "numpy" in frameworks:
        steps["numpy"] = lambda _i: numpy_conv_step(x, w, g, pad, stride)
    return steps


def _cnn_steps(batch: int, frameworks: Sequence[str]) -> dict[str, Callable[[int], Any]]:
    rng = np.random.default_rng(1)
    shapes = [(8, 1, 5, 5), (8,), (16, 8, 3, 3), (16,), (10, 16 * 11 * 11), (10,)]
    params = [(rng.uniform(-1, 1, s) / np.sqrt(np.prod(s[1:]) if len(s) > 1 else 10)
               ).astype(np.float32) for s in shapes]
    x = rng.standard_normal((batch, 1, 28, 28), dtype=np.float32)
    y = rng.integers(0, 10, batch)
    steps: dict[str, Callable[[int], Any]] = {}
    for name in frameworks:
        if name == "numpy":
            own = [v.copy() for v in params]
            steps[name] = lambda _i, own=own: numpy_cnn_step(own, x, y, 0.01)
            continue
        lib = __import__("gradflow" if name == "gradflow" else "torch")
        nn = lib.nn
        model = nn.Sequential(nn.Conv2d(1, 8, 5), nn.ReLU(), nn.Conv2d(8, 16, 3, stride=2),
                              nn.ReLU(), nn.Flatten(), nn.Linear(16 * 11 * 11, 10))
        with lib.no_grad():
            for p, v in zip(model.parameters(), params):
                p.copy_(lib.tensor(v))
        opt = lib.optim.SGD(model.parameters(), lr=0.01)
        xb, yb = lib.tensor(x), lib.tensor(y)

        def step(_i, model=model, opt=opt, xb=xb, yb=yb, lib=lib):
            opt.zero_grad()
            lib.nn.functional.cross_entropy(model(xb), yb).backward()
            opt.step()
        steps[name] = step
    return steps


def _time_all(cases: list[tuple[str, dict[str, Callable]]], rounds: int) -> list[dict]:
    timers = {(case, fw): StepTimer(fn, min_time=0.05)
              for case, steps in cases for fw, fn in steps.items()}
    for _ in range(rounds):
        for t in timers.values():
            t.sample()
    out = []
    for case, steps in cases:
        row: dict[str, Any] = {"case": case}
        for fw in steps:
            row[fw] = float(np.median(timers[(case, fw)].samples)) * 1e3
        out.append(row)
    return out


def run_conv(out_dir: str | os.PathLike, frameworks: Sequence[str] = ("gradflow", "torch",
                                                                      "numpy"),
             rounds: int = 5, threads: int | None = None, quick: bool = False) -> list[dict]:
    """Time every layer and the CNN step; write ``conv.md``/``conv.csv``; return the rows."""
    os.makedirs(out_dir, exist_ok=True)
    if quick:
        rounds = 2
    if "torch" in frameworks:
        import torch  # noqa: F401  (imported first so that limit_threads caps its pool too)
    with limit_threads(threads):
        layers = LAYERS[:2] if quick else LAYERS
        cases = [(spec[0], _layer_steps(spec, frameworks)) for spec in layers]
        cases += [(f"cnn step, batch {b}", _cnn_steps(b, frameworks))
                  for b in (BATCHES[:2] if quick else BATCHES)]
        rows = _time_all(cases, rounds)
    for r in rows:
        for fw in ("torch", "numpy"):
            if fw in r and "gradflow" in r:
                r[f"gradflow/{fw}"] = r["gradflow"] / r[fw]
    fields = ["case", *frameworks, "gradflow/torch", "gradflow/numpy"]
    write_csv(os.path.join(out_dir, "conv.csv"), rows, fields)
    env = environment({"threads": threads or "default", "rounds": rounds})

    def cell(r, k, spec):
        return format(r[k], spec) if k in r else "–"

    lines = ["# Convolution: conv2d forward+backward per layer and a CNN step (ms, medians)", "",
             *md_table(fields, [[r["case"]] + [cell(r, f, ".3f") for f in frameworks]
                                + [cell(r, "gradflow/torch", ".2f"),
                                   cell(r, "gradflow/numpy", ".2f")] for r in rows]),
             "", "```", json.dumps(env, indent=1, default=str), "```", ""]
    with open(os.path.join(out_dir, "conv.md"), "w") as f:
        f.write("\n".join(lines))
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="gradflow bench conv", description=__doc__.split("\n")[0])
    p.add_argument("--out", default="bench-out", help="output directory (conv.md, conv.csv)")
    p.add_argument("--threads", type=int, default=None, help="BLAS/OpenMP threads (default: "
                                                               "the libraries' defaults)")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--frameworks", default="gradflow,torch,numpy")
    p.add_argument("--quick", action="store_true", help="two layers, two batch sizes, 2 rounds")
    a = p.parse_args(argv)
    rows = run_conv(a.out, tuple(a.frameworks.split(",")), a.rounds, a.threads, a.quick)
    with open(os.path.join(a.out, "conv.md")) as f:
        print(f.read())
    del rows
    return 0
