"""What separates gradflow's MLP step from JAX jit's: the numbers behind
``benchmarks/results/jax_anchor_2026-12-03.md``.

Three parts, each in this one process (so run it once per setting):

- ``hlo``: the compiled JAX step at a batch size: fusion count, GEMM kinds (YNNPACK custom
  fusions vs plain ``dot``), loop fusions split over threads (``outer_dimension_partitions``).
- ``gemm``: the eight products of one step timed in ``jax.jit`` and in NumPy, interleaved.
- ``steps``: gradflow / NumPy / JAX whole steps, interleaved.

``--threads 1`` pins the process to one CPU, makes XLA single-threaded and OpenBLAS
one-threaded, and times CPU seconds (``time.process_time``: what one pinned thread costs, little
moved by other work on the machine); the default uses every library's default threads and wall
time.

    python benchmarks/jax_anchor.py hlo --batch 2048
    python benchmarks/jax_anchor.py gemm --batch 2048 --threads 1
    python benchmarks/jax_anchor.py steps --batch 1 --threads 1
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import sys
import time

SIZES = (784, 512, 512, 10)


def _setup(threads: int | None) -> None:
    if threads == 1:
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
        os.environ["XLA_FLAGS"] = ("--xla_cpu_multi_thread_eigen=false "
                                   "intra_op_parallelism_threads=1")
        os.environ["OPENBLAS_NUM_THREADS"] = "1"


def _load() -> str:
    with open("/proc/loadavg", encoding="ascii") as f:
        return " ".join(f.read().split()[:3])


def hlo(batch: int) -> None:
    import jax.numpy as jnp

    from gradflow.bench.throughput import JaxStep, init_mlp, make_data

    x, y = make_data(batch, SIZES[0], SIZES[-1])
    step = JaxStep(init_mlp(SIZES))
    text = step._step.lower(step.params, jnp.asarray(x), jnp.asarray(y)).compile().as_text()
    entry = text[text.index("ENTRY"):]
    ops = collections.Counter(re.findall(r"= \S+ (\w+)\(", entry))
    parts = collections.Counter(re.findall(r'outer_dimension_partitions":\[([^]]*)\]', entry))
    print(f"batch {batch}: entry ops {dict(ops.most_common(12))}")
    print(f"  YNNPACK fusions: {entry.count('__ynn_fusion')}, plain dots: {ops.get('dot', 0)}, "
          f"loop fusions by thread split: {dict(parts)}")


def _gemms(batch: int):
    import numpy as np

    rng = np.random.default_rng(0)

    def r(*s):
        return rng.standard_normal(s).astype(np.float32)

    def abt(a, b):
        return a @ b.T

    def ab(a, b):
        return a @ b

    def atb(a, b):
        return a.T @ b

    b = batch
    return {"fwd x@W1.T": (r(b, 784), r(512, 784), abt),
            "fwd a1@W2.T": (r(b, 512), r(512, 512), abt),
            "fwd a2@W3.T": (r(b, 512), r(10, 512), abt),
            "bwd g3@W3": (r(b, 10), r(10, 512), ab),
            "bwd g2@W2": (r(b, 512), r(512, 512), ab),
            "bwd dW1=g1.T@x": (r(b, 512), r(b, 784), atb),
            "bwd dW2=g2.T@a1": (r(b, 512), r(b, 512), atb),
            "bwd dW3=g3.T@a2": (r(b, 10), r(b, 512), atb)}


def gemm(batch: int, clock, samples: int = 7) -> None:
    import jax
    import jax.numpy as jnp
    import numpy as np

    n = 5 if batch >= 256 else 200
    total = [0.0, 0.0]
    print(f"load {_load()}\n| GEMM | numpy ms | jax ms | numpy/jax |\n|---|---|---|---|")
    for name, (a, b, f) in _gemms(batch).items():
        jf, ja, jb = jax.jit(f), jnp.asarray(a), jnp.asarray(b)
        np.testing.assert_allclose(np.asarray(jf(ja, jb)), f(a, b), rtol=1e-3, atol=1e-2)
        tn, tj = [], []
        for _ in range(samples):
            t = clock()
            for _ in range(n):
                f(a, b)
            tn.append((clock() - t) / n * 1e3)
            t = clock()
            for _ in range(n):
                jf(ja, jb).block_until_ready()
            tj.append((clock() - t) / n * 1e3)
        mn, mj = float(np.median(tn)), float(np.median(tj))
        total[0] += mn
        total[1] += mj
        print(f"| {name} | {mn:.3f} | {mj:.3f} | {mn / mj:.2f} |")
    print(f"| all | {total[0]:.3f} | {total[1]:.3f} | {total[0] / total[1]:.2f} |")


def steps(batch: int, clock, frameworks=("gradflow", "numpy", "jax"), samples: int = 9) -> None:
    import numpy as np

    from gradflow.bench.throughput import STEPS, init_mlp, make_data

    params = init_mlp(SIZES)
    x, y = make_data(batch, SIZES[0], SIZES[-1])
    impls = {k: STEPS[k](params) for k in frameworks}
    data = {k: v.batch(x, y) for k, v in impls.items()}
    n = 3 if batch >= 1024 else (20 if batch >= 128 else 300)
    for k, v in impls.items():
        for _ in range(3):
            v.step(data[k])
        v.sync()
    res: dict[str, list[float]] = {k: [] for k in impls}
    for _ in range(samples):
        for k, v in impls.items():
            t = clock()
            for _ in range(n):
                v.step(data[k])
            v.sync()
            res[k].append((clock() - t) / n * 1e3)
    print(f"batch {batch}, load {_load()}")
    for k, v in res.items():
        print(f"  {k:9s} {np.median(v):9.3f} ms")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("part", choices=("hlo", "gemm", "steps"))
    p.add_argument("--batch", type=int, default=2048)
    p.add_argument("--threads", type=int, default=None, help="1: pinned, CPU time")
    a = p.parse_args(argv)
    _setup(a.threads)
    clock = time.process_time if a.threads == 1 else time.perf_counter
    if a.part == "hlo":
        hlo(a.batch)
    elif a.part == "gemm":
        gemm(a.batch, clock)
    else:
        steps(a.batch, clock)
    return 0


if __name__ == "__main__":
    sys.exit(main())
