"""GradSync's in-place path (large gradients reduced in their own arrays) and its reused bucket
buffers, on 2 MPI ranks (mpiexec as a subprocess with a timeout): bit-identical to the simulated
2-rank reference ``share_0 · g_0 + share_1 · g_1`` on both ranks, step after step."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import gradflow as gf
import gradflow.distributed as dist

JOB = Path(__file__).with_name("mpi_grad_sync_direct_job.py")
ROOT = Path(__file__).resolve().parents[2]


def test_one_rank_scales_read_only_gradients_by_replacing_them():
    p = gf.zeros(4, requires_grad=True)
    p.grad = gf.Tensor.wrap(np.broadcast_to(np.float32(2.0), (4,)))
    q = gf.zeros(2, requires_grad=True)
    q.grad = gf.tensor([1.0, 3.0])
    kept = q.grad
    dist.GradSync([p, q])(share=0.25)
    np.testing.assert_array_equal(p.grad.numpy(), [0.5] * 4)
    assert q.grad is kept  # writeable: scaled in place
    np.testing.assert_array_equal(q.grad.numpy(), [0.25, 0.75])


def test_two_ranks_in_place_and_packed_gradients_bit_for_bit(tmp_path):
    pytest.importorskip("mpi4py")
    exe = shutil.which("mpiexec")
    if exe is None:
        pytest.skip('no mpiexec (pip install "gradflow[mpi]" mpich)')
    out = tmp_path / "out.json"
    env = dict(os.environ, PYTHONPATH=str(ROOT), OPENBLAS_NUM_THREADS="1")
    proc = subprocess.run([exe, "-n", "2", sys.executable, str(JOB), str(out)], env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    r0, r1 = json.loads(out.read_text())
    for variant in ("direct", "packed", "small_buckets"):
        for step in range(2):
            a, b = r0[variant][step], r1[variant][step]
            for name in a["local"]:
                msg = f"{variant}, step {step}, {name}"
                if name == "unused":
                    assert a["synced"][name] is None and b["synced"][name] is None, msg
                    continue
                parts = [np.float32(x["share"]) * np.asarray(x["local"][name], np.float32)
                         for x in (a, b) if x["local"][name] is not None]
                want = parts[0] + parts[1] if len(parts) == 2 else parts[0]
                for x in (a, b):
                    np.testing.assert_array_equal(np.asarray(x["synced"][name], np.float32),
                                                  want, err_msg=msg)
            # a writeable gradient keeps its Tensor (summed into it); a read-only one is replaced
            for x in (a, b):
                assert x["same_tensor"]["big"] and x["same_tensor"]["strided"]
                assert not x["same_tensor"]["readonly"]
            assert not b["same_tensor"]["rank1_unused"]  # rank 1 had none: a new gradient
