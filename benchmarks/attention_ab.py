"""Before/after of this session's attention work in ONE process, interleaved (A B A B ...):
the code at git revision ``--rev`` (its ``gradflow/ops/attention.py`` composition, its
``gradflow/nn/attention.py`` MultiheadAttention and the batched ``x @ W.T`` of its linear)
against the working tree's, with PyTorch alongside.

    OMP_NUM_THREADS=1 python benchmarks/attention_ab.py --rev 1dc3e5d~1 [--layer] [--seq ...]

Without ``--layer``: sdpa forward + backward, (8, 8, L, 64) float32, plain and causal; with it:
the ``TransformerEncoderLayer(256, 8, 1024, dropout=0, batch_first, norm_first)`` Adam step of
benchmarks/attention.py. Process-time medians over ``--repeats`` rounds.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import gradflow as gf  # noqa: E402
import gradflow.kernels.matmul as kmatmul  # noqa: E402
import gradflow.nn.attention as nn_attention  # noqa: E402
from gradflow.ops import attention as ops_attention  # noqa: E402
from gradflow.ops import matmul as ops_matmul  # noqa: E402


def _module_at(rev: str, path: str, name: str, tmp: str):
    src = subprocess.run(["git", "-C", ROOT, "show", f"{rev}:{path}"], check=True,
                         capture_output=True, text=True).stdout
    file = os.path.join(tmp, name + ".py")
    with open(file, "w") as f:
        f.write(src)
    spec = importlib.util.spec_from_file_location(name, file)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _old_linear_vjp(ctx, g):
    """Linear.vjp before the one-GEMM input gradient: a batched g @ W."""
    x, w = ctx.saved_arrays
    nx, nw, nb = ctx.needs_input_grad
    n_out, n_in = w.shape
    g2 = g.reshape(-1, n_out)
    gx = ctx.k.matmul(g, w) if nx else None
    gw = ctx.k.matmul(g2.T, x.reshape(-1, n_in)) if nw else None
    return gx, gw, (g2.sum(axis=0) if nb else None)


def _medians(fns: dict, repeats: int, before=None) -> dict:
    for name, fn in fns.items():
        if before:
            before(name)
        fn()
    times = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            if before:
                before(name)
            t = time.process_time()
            fn()
            times[name].append(time.process_time() - t)
    return {name: statistics.median(v) * 1e3 for name, v in times.items()}


def main() -> None:
    import torch

    ap = argparse.ArgumentParser()
    ap.add_argument("--rev", required=True, help="the 'before' git revision")
    ap.add_argument("--seq", type=int, nargs="+", default=[64, 128, 256])
    ap.add_argument("--repeats", type=int, default=9)
    ap.add_argument("--layer", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    tmp = tempfile.mkdtemp()
    old_sdpa = _module_at(args.rev, "gradflow/ops/attention.py", "old_sdpa", tmp)
    old_nn = _module_at(args.rev, "gradflow/nn/attention.py", "old_nn_attention", tmp)
    old_nn.scaled_dot_product_attention = old_sdpa.scaled_dot_product_attention
    print(f"torch {torch.__version__}, numpy {np.__version__}, before = {args.rev}; "
          f"load {os.getloadavg()[0]:.1f}")
    if args.layer:
        return _layers(torch, args, old_nn)
    print("| L | causal | torch ms | before ms | after ms | before/torch | after/torch |\n"
          "|---|---|---|---|---|---|---|")
    for L in args.seq:
        rng = np.random.default_rng(0)
        arrays = [rng.standard_normal((8, 8, L, 64)).astype(np.float32) for _ in range(3)]
        g = rng.standard_normal((8, 8, L, 64)).astype(np.float32)
        tq = [torch.tensor(a, requires_grad=True) for a in arrays]
        gq = [gf.tensor(a, requires_grad=True) for a in arrays]
        tg, gg = torch.tensor(g), gf.tensor(g)
        for causal in (False, True):
            fns = _sdpa_fns(torch, old_sdpa, tq, gq, tg, gg, causal)
            m = _medians(fns, args.repeats)
            print(f"| {L} | {causal} | {m['torch']:.1f} | {m['before']:.1f} | "
                  f"{m['after']:.1f} | {m['before'] / m['torch']:.2f} | "
                  f"{m['after'] / m['torch']:.2f} |", flush=True)


def _sdpa_fns(torch, old_sdpa, tq, gq, tg, gg, causal: bool) -> dict:
    def run_torch():
        torch.nn.functional.scaled_dot_product_attention(*tq, is_causal=causal).backward(tg)

    def run_before():
        old_sdpa.scaled_dot_product_attention(*gq, is_causal=causal).backward(gg)

    def run_after():
        ops_attention.scaled_dot_product_attention(*gq, is_causal=causal).backward(gg)

    return {"torch": run_torch, "before": run_before, "after": run_after}


def _layers(torch, args, old_nn) -> None:
    from attention import _layer_step_fns

    new_rows, new_vjp = kmatmul._rows, ops_matmul.Linear.vjp

    def old_rows(xp, x, w):
        return kmatmul._product(xp, x, w)

    print("| L | torch ms | before ms | after ms | before/torch | after/torch |\n"
          "|---|---|---|---|---|---|")
    for L in args.seq:
        fns = _layer_step_fns(torch, L)
        cells = {c.cell_contents.__class__.__name__: c.cell_contents
                 for c in fns["gf"].__closure__}
        layer = cells["TransformerEncoderLayer"]

        def use(name, layer=layer):
            old = name == "before"
            kmatmul._rows = old_rows if old else new_rows
            ops_matmul.Linear.vjp = staticmethod(_old_linear_vjp if old else new_vjp)
            layer.self_attn.__class__ = (old_nn.MultiheadAttention if old
                                         else nn_attention.MultiheadAttention)

        m = _medians({"torch": fns["torch"], "before": fns["gf"], "after": fns["gf"]},
                     args.repeats, use)
        use("after")
        print(f"| {L} | {m['torch']:.1f} | {m['before']:.1f} | {m['after']:.1f} | "
              f"{m['before'] / m['torch']:.2f} | {m['after'] / m['torch']:.2f} |", flush=True)


if __name__ == "__main__":
    main()
