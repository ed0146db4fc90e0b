"""scaled_dot_product_attention forward + backward: gradflow (composed) vs PyTorch eager (CPU).

    OMP_NUM_THREADS=1 python benchmarks/attention.py [--seq 64 128 256] [--repeats 9]

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
    args = ap.parse_args()
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    print(f"torch {torch.__version__}, numpy {np.__version__}, threads "
          f"{torch.get_num_threads()}")
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


if __name__ == "__main__":
    main()
