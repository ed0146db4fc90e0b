"""scaled_dot_product_attention forward + backward, and a Transformer encoder layer's training
step: gradflow (its fused sdpa, kernels/attention.py) vs PyTorch eager (CPU). Before/after a
change in one process: benchmarks/attention_ab.py.

    OMP_NUM_THREADS=1 python benchmarks/attention.py [--seq 64 128 256] [--repeats 9] [--layer]

``--layer``: one step (zero_grad, forward, MSE loss, backward, Adam) of
``TransformerEncoderLayer(256, 8, 1024, dropout=0, batch_first=True, norm_first=True)`` on
``(8, L, 256)`` inputs, the same initial weights in both frameworks (torch's state_dict loaded).

Batch 8, 8 heads, head dim 64, float32; ``y = sdpa(q, k, v); y.backward(g)`` with and without
``is_causal``. The two frameworks are timed alternately (one call each per round) so machine
load hits both alike; medians over the rounds and their ratio. Values are checked first.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import gradflow as gf  # noqa: E402
from gradflow.ops.attention import scaled_dot_product_attention  # noqa: E402


def main() -> None:
    import torch

    ap = argparse.ArgumentParser()
    ap.add_argument("--seq", type=int, nargs="+", default=[64, 128, 256])
    ap.add_argument("--repeats", type=int, default=9)
    ap.add_argument("--layer", action="store_true", help="time the encoder layer's step instead")
    args = ap.parse_args()
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    print(f"torch {torch.__version__}, numpy {np.__version__}, threads "
          f"{torch.get_num_threads()}")
    if args.layer:
        return layer_steps(torch, args.seq, args.repeats)
    print("| L | causal | torch ms | gradflow ms | ratio |\n|---|---|---|---|---|")
    for L in args.seq:
        rng = np.random.default_rng(0)
        arrays = [rng.standard_normal((8, 8, L, 64)).astype(np.float32) for _ in range(3)]
        g = rng.standard_normal((8, 8, L, 64)).astype(np.float32)
        tq = [torch.tensor(a, requires_grad=True) for a in arrays]
        gq = [gf.tensor(a, requires_grad=True) for a in arrays]
        tg, gg = torch.tensor(g), gf.tensor(g)
        for causal in (False, True):
            def run_torch(tq=tq, tg=tg, causal=causal):
                torch.nn.functional.scaled_dot_product_attention(*tq, is_causal=causal) \
                    .backward(tg)

            def run_gf(gq=gq, gg=gg, causal=causal):
                scaled_dot_product_attention(*gq, is_causal=causal).backward(gg)

            ref = torch.nn.functional.scaled_dot_product_attention(*tq, is_causal=causal)
            out = scaled_dot_product_attention(*gq, is_causal=causal)
            np.testing.assert_allclose(out.numpy(), ref.detach().numpy(), rtol=1e-4, atol=1e-5)
            times = {"torch": [], "gf": []}
            run_torch()
            run_gf()
            for _ in range(args.repeats):
                for name, fn in (("torch", run_torch), ("gf", run_gf)):
                    t = time.perf_counter()
                    fn()
                    times[name].append(time.perf_counter() - t)
            a, b = statistics.median(times["torch"]), statistics.median(times["gf"])
            print(f"| {L} | {causal} | {a * 1e3:.1f} | {b * 1e3:.1f} | {b / a:.2f} |",
                  flush=True)


def _alternate(fns: dict, repeats: int) -> dict:
    for fn in fns.values():
        fn()
    times = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            t = time.process_time()
            fn()
            times[name].append(time.process_time() - t)
    return {name: statistics.median(v) for name, v in times.items()}


def layer_steps(torch, seqs, repeats: int) -> None:
    print("| L | torch ms | gradflow ms | ratio |\n|---|---|---|---|")
    for L in seqs:
        t = _alternate(_layer_step_fns(torch, L), repeats)
        print(f"| {L} | {t['torch'] * 1e3:.1f} | {t['gf'] * 1e3:.1f} | "
              f"{t['gf'] / t['torch']:.2f} |", flush=True)


def _layer_step_fns(torch, L: int) -> dict:
    torch.manual_seed(0)
    tl = torch.nn.TransformerEncoderLayer(256, 8, 1024, dropout=0.0, batch_first=True,
                                          norm_first=True)
    gl = gf.nn.TransformerEncoderLayer(256, 8, 1024, dropout=0.0, batch_first=True,
                                       norm_first=True)
    gl.load_state_dict({k: gf.tensor(v.detach().numpy()) for k, v in tl.state_dict().items()})
    rng = np.random.default_rng(0)
    x = rng.standard_normal((8, L, 256)).astype(np.float32)
    y = rng.standard_normal((8, L, 256)).astype(np.float32)
    topt, gopt = torch.optim.Adam(tl.parameters(), 1e-4), gf.optim.Adam(gl.parameters(), 1e-4)
    tx, ty, gx, gy = torch.tensor(x), torch.tensor(y), gf.tensor(x), gf.tensor(y)
    with torch.no_grad():
        np.testing.assert_allclose(gl(gx).numpy(), tl(tx).numpy(), rtol=1e-4, atol=1e-4)

    def run_torch():
        topt.zero_grad()
        torch.nn.functional.mse_loss(tl(tx), ty).backward()
        topt.step()

    def run_gf():
        gopt.zero_grad()
        gf.nn.functional.mse_loss(gl(gx), gy).backward()
        gopt.step()

    return {"torch": run_torch, "gf": run_gf}


if __name__ == "__main__":
    main()
