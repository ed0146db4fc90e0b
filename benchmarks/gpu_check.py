"""One run on a GPU machine: the CUDA tests, fused-kernel bandwidth, and an MLP step vs PyTorch.

Run from the repository root (the GPU image has CuPy, PyTorch and JAX; pytest may be missing)::

    PYTHONPATH=. python benchmarks/gpu_check.py            # about 5 minutes on an H100
    PYTHONPATH=. python benchmarks/gpu_check.py --quick    # smaller sizes, fewer repeats

Sections (each one reports its error and the run goes on):

a. the CUDA tests: ``pytest tests -k "cuda and not emulated"`` when pytest imports, else a built-in
   parity run of every fused kernel against the generic one (``tests/cuda/cases.py``);
b. every fused kernel at a large size (8192×4096 float32): median time, achieved GB/s (the bytes
   an ideal single pass moves) against a measured device-to-device copy, the unfused generic
   kernels, and PyTorch eager's equivalent op; plus float32 matmul with and without TF32;
c. a 784-4096-4096-10 MLP training step (Adam, cross-entropy, float32) at batch 64, 1024 and 8192,
   gradflow against PyTorch, as time ratios (wall clock between synchronisations, after warm-up);
d. ``benchmarks/results/gpu_<device>_<date>.md`` and ``.csv`` with everything above.

Timings are medians of several repeats; kernel timings use CUDA events around a loop of calls.
"""

from __future__ import annotations

import argparse
import csv
import datetime
import importlib.util
import os
import re
import statistics
import subprocess
import sys
import time
import traceback

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
T0 = time.monotonic()


class Report:
    def __init__(self):
        self.md: list[str] = []
        self.rows: list[dict] = []

    def line(self, text: str = "") -> None:
        print(text, flush=True)
        self.md.append(text)

    def table(self, header: list[str], rows: list[list]) -> None:
        from gradflow.bench._common import md_table

        for text in md_table(header, rows):
            self.line(text)
        self.line()

    def row(self, **kw) -> None:
        self.rows.append(kw)


def run_section(report: Report, title: str, fn, *args) -> None:
    report.line(f"## {title}")
    report.line()
    t = time.monotonic()
    try:
        fn(report, *args)
    except Exception:  # a failing section is reported, the run goes on
        tb = traceback.format_exc()
        report.line("**section failed:**")
        report.line("```")
        report.line(tb.rstrip())
        report.line("```")
        report.row(section=title, name="error", note=tb.strip().splitlines()[-1])
    report.line(f"_({time.monotonic() - t:.0f} s)_")
    report.line()


def fmt(v, digits=3):
    if v is None:
        return "n/a"
    if isinstance(v, float):
        return f"{v:.{digits}g}" if abs(v) < 1000 else f"{v:.0f}"
    return str(v)


# --- environment ---------------------------------------------------------------------------
def environment(report: Report, args) -> dict:
    """The bench harness's environment report (versions, CPU, BLAS, commit, date) plus the
    GPU's properties."""
    import cupy

    from gradflow.bench._common import environment as bench_environment

    props = cupy.cuda.runtime.getDeviceProperties(0)
    name = props["name"].decode() if isinstance(props["name"], bytes) else str(props["name"])
    info = {"device": name, "compute capability": f"{props['major']}.{props['minor']}",
            "memory GiB": f"{props['totalGlobalMem'] / 2**30:.1f}",
            "CUDA runtime": cupy.cuda.runtime.runtimeGetVersion(),
            "driver": cupy.cuda.runtime.driverGetVersion(), "cupy": cupy.__version__,
            "mode": "quick" if args.quick else "full"}
    info.update(bench_environment())
    report.table(["what", "value"], [[k, v] for k, v in info.items()])
    return info


# --- (a) tests -----------------------------------------------------------------------------
def section_tests(report: Report, args) -> None:
    if args.skip_tests:
        report.line("skipped (--skip-tests)")
        return
    if importlib.util.find_spec("pytest") is not None:
        env = dict(os.environ, XLA_PYTHON_CLIENT_PREALLOCATE="false",
                   PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
        cmd = [sys.executable, "-m", "pytest", "tests", "-k", "cuda and not emulated", "-q",
               "-rfEs", "-p", "no:cacheprovider"]
        report.line(f"`{' '.join(cmd[1:])}`")
        report.line()
        try:
            proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True,
                                  timeout=args.test_timeout)
            out, rc = proc.stdout + proc.stderr, proc.returncode
        except subprocess.TimeoutExpired as exc:
            out = (exc.stdout or b"").decode() if isinstance(exc.stdout, bytes) else \
                (exc.stdout or "")
            out += f"\n(timed out after {args.test_timeout} s)"
            rc = "timeout"
        tail = "\n".join(out.strip().splitlines()[-60:])
        report.line("```")
        report.line(tail)
        report.line("```")
        summary = out.strip().splitlines()[-1] if out.strip() else ""
        report.row(section="tests", name="pytest", note=f"rc={rc}; {summary}")
        return
    report.line("pytest is not installed: built-in parity run (tests/cuda/cases.py)")
    report.line()
    builtin_parity(report)


def builtin_parity(report: Report) -> None:
    import numpy as np

    import gradflow as gf
    from gradflow.backends.base import KernelTable
    from gradflow.kernels import generic_kernels

    sys.path.insert(0, os.path.join(ROOT, "tests", "cuda"))
    import cases

    backend = gf.get_backend("cuda")
    xp, fused = backend.xp, backend.k
    ref = KernelTable(backend, generic_kernels(), {})
    checks = []
    for dt in (np.float32, np.float64):
        n = np.dtype(dt).name
        checks += [
            (f"activations {n}", lambda dt=dt: cases.check_activations(xp, fused, ref, dt)),
            (f"softmax edge rows {n}", lambda dt=dt: cases.check_softmax_edge_rows(
                xp, fused, ref, dt)),
            (f"dropout {n}", lambda dt=dt: cases.check_dropout(
                xp, fused, ref, dt, lambda: xp.random.default_rng(5))),
            (f"sgd {n}", lambda dt=dt: cases.check_sgd(xp, fused, ref, dt, True)),
            (f"adam {n}", lambda dt=dt: cases.check_adam(xp, fused, ref, dt, True)),
            (f"rmsprop {n}", lambda dt=dt: cases.check_rmsprop(xp, fused, ref, dt, True)),
        ]
        for shape in cases.ROW_SHAPES + [(8192, 4096)]:
            checks.append((f"softmax {shape} {n}", lambda dt=dt, s=shape: cases.check_softmax(
                xp, fused, ref, dt, s)))
        for shape in [(7, 10), (2, 2000), (8192, 1000)]:
            for ls in (0.0, 0.1):
                checks.append((f"cross-entropy {shape} ε={ls} {n}",
                               lambda dt=dt, s=shape, ls=ls: cases.check_cross_entropy(
                                   xp, fused, ref, dt, s, ls)))
        for shape, k in cases.NORM_TAILS:
            checks.append((f"layer norm {shape} k={k} {n}", lambda dt=dt, s=shape, k=k: [
                cases.check_layer_norm(xp, fused, ref, dt, s, k, a) for a in (True, False)]))
        for shape in cases.BN_SHAPES + [(8192, 4096)]:
            checks.append((f"batch norm {shape} {n}", lambda dt=dt, s=shape: [
                cases.check_batch_norm(xp, fused, ref, dt, s, a) for a in (True, False)]))
    rows, failed = [], 0
    for name, fn in checks:
        try:
            fn()
            rows.append([name, "ok", ""])
        except Exception as exc:
            failed += 1
            msg = " ".join(str(exc).split())[:200]
            rows.append([name, "FAIL", msg])
            report.row(section="tests", name=name, note=f"FAIL {msg}")
    report.table(["check", "result", "detail"], rows)
    report.line(f"{len(checks) - failed} passed, {failed} failed")
    report.row(section="tests", name="builtin parity", note=f"{len(checks) - failed} passed, "
                                                            f"{failed} failed")


# --- timing helpers -------------------------------------------------------------------------
def time_cupy(fn, iters, repeats, warmup=2):
    import cupy

    for _ in range(warmup):
        fn()
    cupy.cuda.Device().synchronize()
    samples = []
    for _ in range(repeats):
        start, end = cupy.cuda.Event(), cupy.cuda.Event()
        start.record()
        for _ in range(iters):
            fn()
        end.record()
        end.synchronize()
        samples.append(cupy.cuda.get_elapsed_time(start, end) / iters)
    return statistics.median(samples)


def time_torch(fn, iters, repeats, warmup=2):
    import torch

    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    samples = []
    for _ in range(repeats):
        start = torch.cuda.Event(enable_timing=True)
        end = torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(iters):
            fn()
        end.record()
        end.synchronize()
        samples.append(start.elapsed_time(end) / iters)
    return statistics.median(samples)


def _try(fn, *args):
    try:
        return fn(*args), None
    except Exception as exc:
        return None, f"{exc.__class__.__name__}: {' '.join(str(exc).split())[:120]}"


# --- (b) kernels ---------------------------------------------------------------------------
def section_kernels(report: Report, args) -> None:
    import cupy
    import numpy as np

    import gradflow as gf
    from gradflow.backends.base import KernelTable
    from gradflow.kernels import generic_kernels

    try:
        import torch
        import torch.nn.functional as tF  # noqa: N812
        has_torch = torch.cuda.is_available()
    except Exception:
        has_torch = False
    rows_n, cols_n = (2048, 2048) if args.quick else (8192, 4096)
    iters, repeats = (3, 3) if args.quick else (10, 5)
    n = rows_n * cols_n
    backend = gf.get_backend("cuda")
    k = backend.k
    ref = KernelTable(backend, generic_kernels(), {})
    f32 = np.float32
    rng = cupy.random.default_rng(0)
    x = rng.standard_normal((rows_n, cols_n), dtype=f32)
    g = rng.standard_normal((rows_n, cols_n), dtype=f32)
    t_idx = rng.integers(0, cols_n, rows_n).astype(np.int64)
    g_row = rng.standard_normal(rows_n, dtype=f32)
    y_relu, y_sig, y_tanh = ref.relu(x), ref.sigmoid(x), cupy.tanh(x)
    y_sm, y_lsm = ref.softmax(x, -1), ref.log_softmax(x, -1)
    w, b = rng.standard_normal(cols_n, dtype=f32), rng.standard_normal(cols_n, dtype=f32)
    ln = ref.layer_norm_forward(x, w, b, 1e-5, (1,))
    bn = ref.batch_norm_train(x, w.reshape(1, -1), b.reshape(1, -1), 1e-5, (0,))
    _, logp = ref.softmax_cross_entropy_indices(x, t_idx, 0.0)

    def state(k_):
        return [cupy.zeros_like(x) for _ in range(k_)]

    p_f, buf_f = x.copy(), cupy.zeros_like(x)
    m_f, v_f = state(2)
    sq_f = cupy.zeros_like(x)

    copy_dst = cupy.empty_like(x)
    t_copy = time_cupy(lambda: cupy.copyto(copy_dst, x), iters, repeats)
    copy_gbps = 2 * n * 4 / (t_copy * 1e6)
    report.line(f"Shape {rows_n}×{cols_n} float32 ({n * 4 / 2**20:.0f} MiB per array). "
                f"Device-to-device copy: {t_copy:.3f} ms = **{copy_gbps:.0f} GB/s** "
                "(read + write). GB/s below = bytes an ideal single pass moves / time.")
    report.line()
    report.row(section="kernels", name="copy (cupy.copyto)", shape=f"{rows_n}x{cols_n}",
               impl="cupy", median_ms=t_copy, gbps=copy_gbps)

    tx = tg = None
    if has_torch:
        tx, tg = torch.from_dlpack(x), torch.from_dlpack(g)
        t_dst = torch.empty_like(tx)
        t_tcopy = time_torch(lambda: t_dst.copy_(tx), iters, repeats)
        report.row(section="kernels", name="copy (torch copy_)", shape=f"{rows_n}x{cols_n}",
                   impl="torch", median_ms=t_tcopy, gbps=2 * n * 4 / (t_tcopy * 1e6))
        ty = {key: torch.from_dlpack(a) for key, a in (
            ("relu", y_relu), ("sig", y_sig), ("tanh", y_tanh), ("sm", y_sm), ("lsm", y_lsm),
            ("logp", logp))}
        tt, tgr = torch.from_dlpack(t_idx), torch.from_dlpack(g_row)
        tw, tb = torch.from_dlpack(w), torch.from_dlpack(b)
        t_ln = torch.native_layer_norm(tx, [cols_n], tw, tb, 1e-5)
        rm, rv = torch.zeros(cols_n, device="cuda"), torch.ones(cols_n, device="cuda")
        t_bn = torch.native_batch_norm(tx, tw, tb, rm, rv, True, 0.1, 1e-5)
        one = torch.tensor(1.0, device="cuda")
        aten = torch.ops.aten

        def torch_opt(kind):
            tp = torch.from_dlpack(x.copy()).requires_grad_(True)
            tp.grad = tg.clone()
            for fused in (True, None):
                try:
                    kw = {"fused": True} if fused else {}
                    if kind == "sgd":
                        opt = torch.optim.SGD([tp], lr=1e-3, momentum=0.9, **kw)
                    elif kind == "adam":
                        opt = torch.optim.Adam([tp], lr=1e-3, **kw)
                    else:
                        opt = torch.optim.RMSprop([tp], lr=1e-3, **kw)
                    opt.step()
                    return opt.step
                except Exception:
                    continue
            raise RuntimeError("no torch optimizer")

    entries = [
        ("relu", 2, lambda: k.relu(x), lambda: ref.relu(x), lambda: torch.relu(tx)),
        ("relu_backward", 3, lambda: k.relu_backward(g, y_relu),
         lambda: ref.relu_backward(g, y_relu),
         lambda: aten.threshold_backward(tg, ty["relu"], 0.0)),
        ("leaky_relu", 2, lambda: k.leaky_relu(x, 0.01), lambda: ref.leaky_relu(x, 0.01),
         lambda: tF.leaky_relu(tx, 0.01)),
        ("leaky_relu_backward", 3, lambda: k.leaky_relu_backward(g, x, 0.01),
         lambda: ref.leaky_relu_backward(g, x, 0.01),
         lambda: aten.leaky_relu_backward(tg, tx, 0.01, False)),
        ("sigmoid", 2, lambda: k.sigmoid(x), lambda: ref.sigmoid(x), lambda: torch.sigmoid(tx)),
        ("sigmoid_backward", 3, lambda: k.sigmoid_backward(g, y_sig),
         lambda: ref.sigmoid_backward(g, y_sig), lambda: aten.sigmoid_backward(tg, ty["sig"])),
        ("tanh_backward", 3, lambda: k.tanh_backward(g, y_tanh),
         lambda: ref.tanh_backward(g, y_tanh), lambda: aten.tanh_backward(tg, ty["tanh"])),
        ("gelu (erf)", 2, lambda: k.gelu(x, "none"), lambda: ref.gelu(x, "none"),
         lambda: tF.gelu(tx)),
        ("gelu (tanh)", 2, lambda: k.gelu(x, "tanh"), lambda: ref.gelu(x, "tanh"),
         lambda: tF.gelu(tx, approximate="tanh")),
        ("gelu_backward (erf)", 3, lambda: k.gelu_backward(g, x, "none"),
         lambda: ref.gelu_backward(g, x, "none"),
         lambda: aten.gelu_backward(tg, tx, approximate="none")),
        ("gelu_backward (tanh)", 3, lambda: k.gelu_backward(g, x, "tanh"),
         lambda: ref.gelu_backward(g, x, "tanh"),
         lambda: aten.gelu_backward(tg, tx, approximate="tanh")),
        ("softmax", 2, lambda: k.softmax(x, -1), lambda: ref.softmax(x, -1),
         lambda: torch.softmax(tx, -1)),
        ("log_softmax", 2, lambda: k.log_softmax(x, -1), lambda: ref.log_softmax(x, -1),
         lambda: torch.log_softmax(tx, -1)),
        ("softmax_backward", 3, lambda: k.softmax_backward(g, y_sm, -1),
         lambda: ref.softmax_backward(g, y_sm, -1),
         lambda: aten._softmax_backward_data(tg, ty["sm"], -1, torch.float32)),
        ("log_softmax_backward", 3, lambda: k.log_softmax_backward(g, y_lsm, -1),
         lambda: ref.log_softmax_backward(g, y_lsm, -1),
         lambda: aten._log_softmax_backward_data(tg, ty["lsm"], -1, torch.float32)),
        ("cross_entropy_indices", 2, lambda: k.softmax_cross_entropy_indices(x, t_idx, 0.0),
         lambda: ref.softmax_cross_entropy_indices(x, t_idx, 0.0),
         lambda: tF.cross_entropy(tx, tt, reduction="none")),
        ("cross_entropy_indices_backward", 2,
         lambda: k.softmax_cross_entropy_indices_backward(g_row, logp, t_idx, 0.0),
         lambda: ref.softmax_cross_entropy_indices_backward(g_row, logp, t_idx, 0.0),
         lambda: aten._log_softmax_backward_data(
             aten.nll_loss_backward(tgr, ty["logp"], tt, None, 0, -100, one), ty["logp"], 1,
             torch.float32)),
        ("layer_norm_forward", 3, lambda: k.layer_norm_forward(x, w, b, 1e-5, (1,)),
         lambda: ref.layer_norm_forward(x, w, b, 1e-5, (1,)),
         lambda: torch.native_layer_norm(tx, [cols_n], tw, tb, 1e-5)),
        ("norm_backward (layer)", 3,
         lambda: k.norm_backward(g, ln[1], ln[2], w, (1,), (0,)),
         lambda: ref.norm_backward(g, ln[1], ln[2], w, (1,), (0,)),
         lambda: aten.native_layer_norm_backward(tg, tx, [cols_n], t_ln[1], t_ln[2], tw, tb,
                                                 [True, True, True])),
        ("batch_norm_train", 3,
         lambda: k.batch_norm_train(x, w.reshape(1, -1), b.reshape(1, -1), 1e-5, (0,)),
         lambda: ref.batch_norm_train(x, w.reshape(1, -1), b.reshape(1, -1), 1e-5, (0,)),
         lambda: torch.native_batch_norm(tx, tw, tb, rm, rv, True, 0.1, 1e-5)),
        ("norm_backward (batch)", 3,
         lambda: k.norm_backward(g, bn[1], bn[4], w.reshape(1, -1), (0,), (0,)),
         lambda: ref.norm_backward(g, bn[1], bn[4], w.reshape(1, -1), (0,), (0,)),
         lambda: aten.native_batch_norm_backward(tg, tx, tw, rm, rv, t_bn[1], t_bn[2], True,
                                                 1e-5, [True, True, True])),
        ("dropout_mask (torch: F.dropout)", 3,
         lambda: k.dropout_mask(backend.rng, x.shape, 0.5, x.dtype),
         lambda: ref.dropout_mask(backend.rng, x.shape, 0.5, x.dtype),
         lambda: tF.dropout(tx, 0.5, True)),
        ("sgd_update (momentum)", 5,
         lambda: k.sgd_update(p_f, g, buf_f, 1e-3, 0.9, 0.0, False, 0.0, False),
         lambda: ref.sgd_update(p_f, g, buf_f, 1e-3, 0.9, 0.0, False, 0.0, False), "sgd"),
        ("adam_update", 7,
         lambda: k.adam_update(p_f, g, m_f, v_f, None, 1e-3, 0.9, 0.999, 1e-8, 0.0, 10, False),
         lambda: ref.adam_update(p_f, g, m_f, v_f, None, 1e-3, 0.9, 0.999, 1e-8, 0.0, 10,
                                 False), "adam"),
        ("rmsprop_update", 5,
         lambda: k.rmsprop_update(p_f, g, sq_f, None, None, 1e-3, 0.99, 1e-8, 0.0, 0.0),
         lambda: ref.rmsprop_update(p_f, g, sq_f, None, None, 1e-3, 0.99, 1e-8, 0.0, 0.0),
         "rmsprop"),
    ]
    table = []
    for name, passes, fused, generic, tfn in entries:
        if time.monotonic() - T0 > args.budget:
            report.line(f"(time budget reached: {name} and later entries skipped)")
            break
        t_f, err_f = _try(time_cupy, fused, iters, repeats)
        t_g, err_g = _try(time_cupy, generic, max(1, iters // 2), repeats)
        t_t, err_t = (None, "no torch")
        if has_torch:
            if isinstance(tfn, str):
                step, err_t = _try(torch_opt, tfn)
                if step is not None:
                    t_t, err_t = _try(time_torch, step, iters, repeats)
            else:
                t_t, err_t = _try(time_torch, tfn, iters, repeats)
        gbps = passes * n * 4 / (t_f * 1e6) if t_f else None
        note = "; ".join(e for e in (err_f, err_g, err_t) if e and e != "no torch")
        table.append([name, fmt(t_f), fmt(gbps), fmt(100 * gbps / copy_gbps if gbps else None),
                      fmt(t_g), fmt(t_g / t_f if t_f and t_g else None), fmt(t_t),
                      fmt(t_f / t_t if t_f and t_t else None), note])
        for impl, t in (("gradflow fused", t_f), ("gradflow generic", t_g), ("torch", t_t)):
            report.row(section="kernels", name=name, shape=f"{rows_n}x{cols_n}", impl=impl,
                       median_ms=t, gbps=passes * n * 4 / (t * 1e6) if t else None,
                       pct_of_copy=100 * passes * n * 4 / (t * 1e6) / copy_gbps if t else None,
                       ratio_vs_torch=(t / t_t) if t and t_t else None, note=note)
    report.table(["kernel", "fused ms", "GB/s", "% of copy", "generic ms", "generic/fused",
                  "torch ms", "fused/torch", "note"], table)

    # float32 matmul with and without TF32
    a = rng.standard_normal((rows_n, cols_n), dtype=f32)
    bm = rng.standard_normal((cols_n, cols_n), dtype=f32)
    flops = 2 * rows_n * cols_n * cols_n
    mm_rows = []
    ta = torch.from_dlpack(a) if has_torch else None
    tbm = torch.from_dlpack(bm) if has_torch else None
    for tf32 in (False, True):
        gf.cuda.allow_tf32 = tf32
        t_m, err = _try(time_cupy, lambda: k.matmul(a, bm), max(1, iters // 2), repeats)
        t_tm = None
        if has_torch:
            torch.backends.cuda.matmul.allow_tf32 = tf32
            t_tm, _ = _try(time_torch, lambda: torch.matmul(ta, tbm), max(1, iters // 2),
                           repeats)
            torch.backends.cuda.matmul.allow_tf32 = False
        label = f"matmul {rows_n}x{cols_n} @ {cols_n}x{cols_n}, TF32 {'on' if tf32 else 'off'}"
        mm_rows.append([label,
                        fmt(t_m), fmt(flops / (t_m * 1e9) if t_m else None), fmt(t_tm),
                        fmt(flops / (t_tm * 1e9) if t_tm else None), err or ""])
        report.row(section="matmul", name=f"tf32={tf32}", shape=f"{rows_n}x{cols_n}x{cols_n}",
                   impl="gradflow", median_ms=t_m, note=err or "")
        report.row(section="matmul", name=f"tf32={tf32}", shape=f"{rows_n}x{cols_n}x{cols_n}",
                   impl="torch", median_ms=t_tm)
    gf.cuda.allow_tf32 = False
    report.table(["matmul", "gradflow ms", "TFLOP/s", "torch ms", "torch TFLOP/s", "note"],
                 mm_rows)


# --- (c) MLP training step -------------------------------------------------------------------
MLP_SIZES = [784, 4096, 4096, 10]


def _wall(step, sync, steps, repeats):
    """Median ms per step with the bench harness's timer (:class:`StepTimer`: warm-up, then
    samples of ``steps`` calls, ``sync`` before each clock read)."""
    from gradflow.bench._common import StepTimer

    timer = StepTimer(lambda _i: step(), sync=sync, warmup=5, min_time=0.0, max_inner=steps)
    timer.inner = steps
    for _ in range(repeats):
        timer.sample()
    return statistics.median(timer.samples) * 1e3


def _mlp_step(framework, xb, yb, tf32, steps, repeats, device="cuda"):
    """Median ms of the bench harness's MLP step (``gradflow.bench.throughput``'s GradflowStep
    or TorchStep: Sequential of Linear/ReLU, cross-entropy, Adam) on ``device``."""
    import gradflow as gf
    from gradflow.bench.throughput import GradflowStep, TorchStep, init_mlp

    params = init_mlp(MLP_SIZES)
    if framework == "gradflow":
        gf.cuda.allow_tf32 = tf32
        make = GradflowStep
    else:
        import torch

        torch.backends.cuda.matmul.allow_tf32 = tf32
        make = TorchStep
    try:
        step = make(params, lr=1e-3, device=device, optimizer="adam")
        batch = step.batch(xb, yb)
        return _wall(lambda: step.step(batch), step.sync, steps, repeats)
    finally:
        gf.cuda.allow_tf32 = False
        if framework != "gradflow":
            torch.backends.cuda.matmul.allow_tf32 = False


def _mlp_gradflow(xb, yb, tf32, steps, repeats):
    return _mlp_step("gradflow", xb, yb, tf32, steps, repeats)


def _mlp_torch(xb, yb, tf32, steps, repeats):
    return _mlp_step("torch", xb, yb, tf32, steps, repeats)


def section_mlp(report: Report, args) -> None:
    import cupy
    import numpy as np

    try:
        import torch
        has_torch = torch.cuda.is_available()
    except Exception:
        has_torch = False
    batches = [64, 1024] if args.quick else [64, 1024, 8192]
    steps, repeats = (5, 3) if args.quick else (10, 5)
    table = []
    for tf32 in (False, True):
        for batch in batches:
            if time.monotonic() - T0 > args.budget:
                report.line(f"(time budget reached: batch {batch} TF32={tf32} and later skipped)")
                break
            rng = np.random.default_rng(0)
            xb = rng.standard_normal((batch, MLP_SIZES[0])).astype(np.float32)
            yb = rng.integers(0, MLP_SIZES[-1], batch)
            t_gf, err = _try(_mlp_gradflow, xb, yb, tf32, steps, repeats)
            cupy.get_default_memory_pool().free_all_blocks()
            t_t, err_t = (None, None)
            if has_torch:
                t_t, err_t = _try(_mlp_torch, xb, yb, tf32, steps, repeats)
                torch.cuda.empty_cache()
            note = "; ".join(e for e in (err, err_t) if e)
            ratio = t_gf / t_t if t_gf and t_t else None
            table.append([batch, "on" if tf32 else "off", fmt(t_gf), fmt(t_t), fmt(ratio),
                          fmt(batch / t_gf * 1e3 if t_gf else None), note])
            name = f"784-4096-4096-10 Adam tf32={tf32}"
            report.row(section="mlp", name=name, shape=f"batch {batch}", impl="gradflow",
                       median_ms=t_gf, ratio_vs_torch=ratio, note=note)
            report.row(section="mlp", name=name, shape=f"batch {batch}", impl="torch",
                       median_ms=t_t)
    report.table(["batch", "TF32", "gradflow ms/step", "torch ms/step", "gradflow/torch",
                  "gradflow samples/s", "note"], table)
    report.line("Wall clock between synchronisations, after 5 warm-up steps; medians of "
                f"{repeats} runs of {steps} steps. gradflow's cross_entropy reads the class "
                "range back to the host (2 syncs a step).")


def _cnn(lib, device):
    nn = lib.nn
    return nn.Sequential(nn.Conv2d(1, 32, 5), nn.ReLU(), nn.Conv2d(32, 64, 3, stride=2),
                         nn.ReLU(), nn.Flatten(), nn.Linear(64 * 11 * 11, 10)).to(device)


def _cnn_step_time(lib, xb, yb, sync, steps, repeats):
    model = _cnn(lib, "cuda")
    opt = lib.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x, y = lib.tensor(xb, device="cuda"), lib.tensor(yb, device="cuda")

    def step():
        opt.zero_grad()
        lib.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()

    return _wall(step, sync, steps, repeats)


def section_cnn(report: Report, args) -> None:
    """A small CNN's SGD step (conv 1→32 5×5, conv 32→64 3×3 stride 2, linear) on 28×28."""
    import cupy
    import numpy as np

    import gradflow as gf
    from gradflow.kernels.cuda.conv import cudnn

    try:
        import torch
        has_torch = torch.cuda.is_available()
    except Exception:
        has_torch = False
    report.line(f"gradflow convolutions on cuDNN: {cudnn() is not None} (else im2col + cuBLAS)")
    steps, repeats = (5, 3) if args.quick else (10, 5)
    table = []
    for batch in ([64, 512] if args.quick else [64, 512, 2048]):
        if time.monotonic() - T0 > args.budget:
            report.line(f"(time budget reached: batch {batch} and later skipped)")
            break
        rng = np.random.default_rng(0)
        xb = rng.standard_normal((batch, 1, 28, 28)).astype(np.float32)
        yb = rng.integers(0, 10, batch)
        t_gf, err = _try(_cnn_step_time, gf, xb, yb, cupy.cuda.Device().synchronize, steps,
                         repeats)
        cupy.get_default_memory_pool().free_all_blocks()
        t_t, err_t = (None, None)
        if has_torch:
            t_t, err_t = _try(_cnn_step_time, torch, xb, yb, torch.cuda.synchronize, steps,
                              repeats)
            torch.cuda.empty_cache()
        note = "; ".join(e for e in (err, err_t) if e)
        ratio = t_gf / t_t if t_gf and t_t else None
        table.append([batch, fmt(t_gf), fmt(t_t), fmt(ratio), note])
        report.row(section="cnn", name="conv5-conv3s2-linear SGD", shape=f"batch {batch}",
                   impl="gradflow", median_ms=t_gf, ratio_vs_torch=ratio, note=note)
        report.row(section="cnn", name="conv5-conv3s2-linear SGD", shape=f"batch {batch}",
                   impl="torch", median_ms=t_t)
    report.table(["batch", "gradflow ms/step", "torch ms/step", "gradflow/torch", "note"],
                 table)


# --- (e) files -------------------------------------------------------------------------------
def write_files(report: Report, info: dict, out_dir: str) -> tuple[str, str]:
    os.makedirs(out_dir, exist_ok=True)
    device = re.sub(r"[^A-Za-z0-9]+", "_", info.get("device", "gpu")).strip("_") or "gpu"
    stem = os.path.join(out_dir, f"gpu_{device}_{datetime.date.today().isoformat()}")
    with open(stem + ".md", "w") as f:
        f.write("# GPU check\n\n" + "\n".join(report.md) + "\n")
    fields = ["section", "name", "shape", "impl", "median_ms", "gbps", "pct_of_copy",
              "ratio_vs_torch", "note"]
    with open(stem + ".csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields)
        w.writeheader()
        for r in report.rows:
            w.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in r.items()})
    return stem + ".md", stem + ".csv"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller sizes and fewer repeats")
    ap.add_argument("--skip-tests", action="store_true", help="skip section (a)")
    ap.add_argument("--test-timeout", type=int, default=240, help="seconds for the tests")
    ap.add_argument("--budget", type=int, default=450,
                    help="seconds after which remaining benchmark entries are skipped")
    ap.add_argument("--out", default=os.path.join(ROOT, "benchmarks", "results"))
    args = ap.parse_args(argv)
    sys.path.insert(0, ROOT)
    report = Report()
    info: dict = {}
    report.line("## Environment")
    report.line()
    try:
        info = environment(report, args)
    except Exception:
        report.line("```\n" + traceback.format_exc().rstrip() + "\n```")
        import gradflow as gf

        report.line(f"CUDA usable: {gf.cuda.is_available()} ({gf.cuda.unavailable_reason()})")
        if not gf.cuda.is_available():
            print("no usable CUDA GPU: nothing to check", file=sys.stderr)
            return 2
    run_section(report, "a. CUDA tests", section_tests, args)
    run_section(report, "b. Fused kernels vs copy bandwidth and PyTorch eager", section_kernels,
                args)
    run_section(report, "c. MLP training step vs PyTorch", section_mlp, args)
    run_section(report, "d. CNN training step vs PyTorch", section_cnn, args)
    try:
        md, csv_path = write_files(report, info, args.out)
        print(f"\nwrote {md} and {csv_path} ({time.monotonic() - T0:.0f} s in all)")
    except Exception:
        traceback.print_exc()
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
