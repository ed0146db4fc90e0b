"""gradflow.distributed: the size-1 communicator, and 2 MPI ranks (mpiexec as a subprocess with
a timeout, so a hang fails the test instead of CI)."""

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

JOB = Path(__file__).with_name("mpi_grad_sync_job.py")
ROOT = Path(__file__).resolve().parents[2]


def test_single_process_is_a_size_one_communicator():
    comm = dist.init()
    assert isinstance(comm, dist.LocalCommunicator) and not dist.launched_by_mpi()
    assert (dist.rank(), dist.size(), dist.local_rank()) == (0, 1, 0)
    dist.barrier()
    p = gf.tensor([1.0, 2.0], requires_grad=True)
    (p * p).sum().backward()
    dist.GradSync([p])(share=0.5)
    np.testing.assert_array_equal(p.grad.numpy(), [1.0, 2.0])  # 0.5 · 2p
    model = gf.nn.Linear(2, 2)
    before = model.weight.numpy().copy()
    dist.broadcast_parameters(model)
    np.testing.assert_array_equal(model.weight.numpy(), before)


def _mpiexec():
    pytest.importorskip("mpi4py")
    exe = shutil.which("mpiexec")
    if exe is None:
        pytest.skip("no mpiexec (pip install mpich)")
    return exe


def _run(tmp_path, mode):
    env = dict(os.environ, PYTHONPATH=str(ROOT), OPENBLAS_NUM_THREADS="1")
    out = tmp_path / "out.json"
    proc = subprocess.run([_mpiexec(), "-n", "2", sys.executable, str(JOB), str(out), mode],
                          env=env, capture_output=True, text=True, timeout=120)
    return proc, out


def test_two_ranks_sum_their_weighted_gradients_bit_for_bit(tmp_path):
    proc, out = _run(tmp_path, "ok")
    assert proc.returncode == 0, proc.stderr
    r0, r1 = json.loads(out.read_text())
    # broadcast: both ranks hold rank 0's weights although they were seeded differently
    for a, b in zip(r0["weights"], r1["weights"]):
        assert a == b
    shares = (np.float32(5 / 8), np.float32(3 / 8))
    names = ["a.w", "a.b", "b.w", "b.b", "unused.w", "unused.b", "rank0_only.w", "rank0_only.b"]
    for i, name in enumerate(names):
        g0, g1 = r0["local"][i], r1["local"][i]
        if "unused" in name:
            assert g0 is None and g1 is None and r0["synced"][i] is None and r1["synced"][i] is None
            continue
        parts = [np.float32(5 / 8) * np.asarray(g, np.float32) if g is not None else 0
                 for g in (g0,)] + [np.asarray(g1, np.float32) * shares[1]
                                    if g1 is not None else 0]
        expected = np.asarray(parts[0] + parts[1], np.float32)
        for r in (r0, r1):  # identical on every rank, equal to the simulated reference
            np.testing.assert_array_equal(np.asarray(r["synced"][i], np.float32), expected,
                                          err_msg=name)


def test_a_failing_rank_ends_the_job_instead_of_hanging(tmp_path):
    proc, _ = _run(tmp_path, "fail")
    assert proc.returncode != 0
    assert "rank 1 fails on purpose" in proc.stderr + proc.stdout
