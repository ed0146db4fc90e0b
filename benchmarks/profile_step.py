"""Where gradflow's training step spends its time: cProfile of the 784-512-512-10 MLP step.

    python benchmarks/profile_step.py [--batch 1 256] [--steps 300] [--top 20] [--out DIR]

For each batch size it profiles ``steps`` gradflow steps (after a warm-up) and the same number
of hand-written NumPy steps, and prints: the per-step time under the profiler, the time by
bucket (BLAS matmul, other NumPy calls, gradflow Python by file) and the top functions by own
time. The profiler inflates Python-heavy code, so read the buckets as proportions, and the
unprofiled medians from ``gradflow.bench.throughput`` as the truth.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import sys
from collections import defaultdict

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from gradflow.bench._common import environment  # noqa: E402
from gradflow.bench.throughput import DEFAULT_SIZES, STEPS, init_mlp, make_data  # noqa: E402


def _bucket(func: tuple[str, int, str]) -> str:
    path, _, name = func
    if path == "~":  # a C function: name is "<built-in method ...>" or "<method ... objects>"
        if "matmul" in name:
            return "numpy: matmul (BLAS)"
        if "numpy" in name or "ufunc" in name:
            return "numpy: other calls"
        return "python builtins: " + name.strip("{}<>")[:60]
    if "/gradflow/" in path:
        return "gradflow: " + path.split("/gradflow/", 1)[1]
    if "/numpy/" in path:
        return "numpy: python wrappers"
    return "other: " + os.path.basename(path)


def profile(framework: str, batch: int, steps: int) -> tuple[pstats.Stats, float]:
    impl = STEPS[framework](init_mlp(DEFAULT_SIZES, seed=0))
    x, y = make_data(batch, DEFAULT_SIZES[0], DEFAULT_SIZES[-1], seed=0)
    data = impl.batch(x, y)
    for _ in range(5):
        impl.step(data)
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(steps):
        impl.step(data)
    prof.disable()
    stats = pstats.Stats(prof)
    return stats, stats.total_tt / steps


def report(batch: int, steps: int, top: int) -> str:
    out = io.StringIO()
    results = {fw: profile(fw, batch, steps) for fw in ("gradflow", "numpy")}
    per = {fw: r[1] for fw, r in results.items()}
    print(f"## batch {batch}: {steps} steps under cProfile; per step gradflow "
          f"{per['gradflow'] * 1e3:.3f} ms, hand-written NumPy {per['numpy'] * 1e3:.3f} ms",
          file=out)
    for fw, (stats, _) in results.items():
        buckets: dict[str, float] = defaultdict(float)
        calls: dict[str, int] = defaultdict(int)
        for func, (_, ncalls, tottime, _, _) in stats.stats.items():
            buckets[_bucket(func)] += tottime
            calls[_bucket(func)] += ncalls
        print(f"\n### {fw}: own time by bucket (ms per step, share, calls per step); NumPy "
              "operators (@, +=) and ufunc calls count as their caller's own time", file=out)
        for name, t in sorted(buckets.items(), key=lambda kv: -kv[1])[:top]:
            print(f"  {t / steps * 1e3:8.3f} ms {t / stats.total_tt:6.1%} "
                  f"{calls[name] / steps:7.1f}  {name}", file=out)
    stats = results["gradflow"][0]
    print(f"\n### gradflow: top {top} functions by own time", file=out)
    text = io.StringIO()
    stats.stream = text
    stats.sort_stats("tottime").print_stats(top)
    lines = text.getvalue().splitlines()
    start = next(i for i, line in enumerate(lines) if line.lstrip().startswith("ncalls"))
    print("\n".join(line.replace(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                 "") for line in lines[start:] if line.strip()), file=out)
    return out.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, nargs="+", default=[1, 256])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--top", type=int, default=20)
    parser.add_argument("--out", default=None, help="also write profile_step.txt here")
    args = parser.parse_args(argv)
    env = environment()
    text = (f"# gradflow MLP {'-'.join(map(str, DEFAULT_SIZES))} step profile (commit "
            f"{env['gradflow_commit']}, {env['date']}, load {env['loadavg_start']})\n\n")
    text += "\n".join(report(b, max(args.steps // max(b // 32, 1), 20), args.top)
                      for b in args.batch)
    print(text)
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        with open(os.path.join(args.out, "profile_step.txt"), "w", encoding="utf-8") as f:
            f.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
