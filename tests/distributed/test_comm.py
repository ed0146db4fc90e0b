"""The trainer's collectives (exact float64 sums, collective decisions, object gathers), their
one-process identities, and the device of each rank."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import gradflow.distributed as dist
from gradflow.distributed.comm import map_device

JOB = Path(__file__).with_name("mpi_comm_job.py")
ROOT = Path(__file__).resolve().parents[2]


def test_two_ranks_reduce_decide_and_gather_alike(tmp_path):
    pytest.importorskip("mpi4py")
    exe = shutil.which("mpiexec")
    if exe is None:
        pytest.skip("no mpiexec (pip install mpich)")
    env = dict(os.environ, PYTHONPATH=str(ROOT), OPENBLAS_NUM_THREADS="1")
    proc = subprocess.run([exe, "-n", "2", sys.executable, str(JOB), str(tmp_path / "out.json"),
                           "collectives"], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    r0, r1 = json.loads((tmp_path / "out.json").read_text())
    for r in (r0, r1):  # float64 sums, the same on every rank
        assert r["sums"] == [0.1 + 0.2, 2e16, 1.0, 6.0]
        assert r["flags"] == [False, True, True]
        assert r["bcast"] == [0.0, 2.0, 4.0, 6.0]  # rank 1's array
        assert r["refused"] == "allreduce_sum_: expected a NumPy or CuPy array, got list"
    assert (r0["local_rank"], r1["local_rank"]) == (0, 1)  # one node
    for r in (r0, r1):  # 100 watched allreduces: counted, no thread per call, nothing in flight
        assert r["per_call"] == {"threads": 0, "counted": 100, "inflight": None}
    assert r0["gathered"] is None
    assert r1["gathered"] == [{"rank": 0, "x": [0]}, {"rank": 1, "x": [1, 1]}]
    assert r0["gathered0"] == [0, 10] and r1["gathered0"] is None


def test_one_process_collectives_are_identities():
    comm = dist.LocalCommunicator()
    assert comm.allreduce_scalars([1, 2.5, np.float32(0.1)]) == [1.0, 2.5, float(np.float32(0.1))]
    assert comm.allreduce_scalars([]) == []
    assert comm.any_true(0) is False and comm.any_true([1]) is True
    assert comm.gather_object({"a": 1}) == [{"a": 1}]
    assert comm.allgather_object(3) == [3] and comm.broadcast_object("x") == "x"
    a = np.arange(3.0)
    assert comm.allreduce_sum_(a) is a and comm.broadcast_(a) is a
    with pytest.raises(ValueError, match="gather_object: root=1"):
        comm.gather_object(1, root=1)
    with pytest.raises(TypeError, match="allreduce_scalars"):
        comm.allreduce_scalars(["a"])
    with pytest.raises(ValueError, match="flat sequence"):
        comm.allreduce_scalars([[1.0, 2.0]])


def test_init_checks_the_backend():
    with pytest.raises(ValueError, match="backend='gloo'"):
        dist.init(backend="gloo")
    assert dist.init(backend="nccl").size == 1  # one process: nothing to reduce


def test_each_rank_of_a_node_gets_its_own_gpu():
    assert map_device("cuda", 4, 3, 4) == "cuda:3"
    assert map_device("gpu", 2, 1, None) == "cuda:1"  # CUDA absent: the backend will say so
    assert map_device("auto", 2, 1, 2) == "cuda:1"
    assert map_device("auto", 2, 1, 0) == "cpu"
    assert map_device("cpu", 2, 1, 2) == "cpu"
    assert map_device("cuda:0", 2, 1, 2) == "cuda:0"  # explicit: as given
    for name in ("cuda", "auto", "cuda:1"):  # one process: unchanged
        assert map_device(name, 1, 0, 2) == name
    with pytest.raises(RuntimeError, match="local rank 2 has no GPU of its own"):
        map_device("cuda", 4, 2, 2)
    assert dist.device_for("cuda") == "cuda" and dist.device_for("auto") == "auto"
