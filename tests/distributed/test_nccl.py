"""NCCL through CuPy: the wiring against a stand-in of ``cupy.cuda.nccl`` (runs anywhere), and
two real ranks on two GPUs (skipped, with the reason, where CuPy or two GPUs are missing)."""

import json
import os
import shutil
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest

import gradflow.distributed as dist
from gradflow.distributed import nccl as gnccl
from gradflow.distributed.comm import MPICommunicator

JOB = Path(__file__).with_name("mpi_nccl_job.py")
ROOT = Path(__file__).resolve().parents[2]


# --- a stand-in CuPy with the names and signatures of cupy.cuda.nccl ---------------------------
class FakeArray:
    def __init__(self, values, device=0, contiguous=True):
        self.host = np.asarray(values)
        self.dtype, self.shape, self.size = self.host.dtype, self.host.shape, self.host.size
        self.strides, self.nbytes = self.host.strides, self.host.nbytes
        self.flags = types.SimpleNamespace(c_contiguous=contiguous)
        self.device = types.SimpleNamespace(id=device)
        self.data = types.SimpleNamespace(ptr=1000 + device)
        self.__cuda_array_interface__ = {}


def fake_cupy(calls):
    nccl = types.ModuleType("cupy.cuda.nccl")
    for name, value in (("NCCL_SUM", 0), ("NCCL_INT8", 0), ("NCCL_UINT8", 1), ("NCCL_INT32", 2),
                        ("NCCL_UINT32", 3), ("NCCL_INT64", 4), ("NCCL_UINT64", 5),
                        ("NCCL_FLOAT16", 6), ("NCCL_FLOAT32", 7), ("NCCL_FLOAT64", 8)):
        setattr(nccl, name, value)
    nccl.get_unique_id = lambda: b"unique-id-of-rank-0"

    class NcclCommunicator:
        def __init__(self, ndev, comm_id, rank):
            calls.append(("init", ndev, comm_id, rank, current["device"]))

        def allReduce(self, sendbuf, recvbuf, count, datatype, op, stream):  # noqa: N802
            calls.append(("allReduce", sendbuf, recvbuf, count, datatype, op, stream))

        def bcast(self, buff, count, datatype, root, stream):
            calls.append(("bcast", buff, count, datatype, root, stream))

        def abort(self):
            calls.append(("abort",))

    nccl.NcclCommunicator = NcclCommunicator
    current = {"device": 0}

    class Device:
        def __init__(self, i):
            self.id = i

        def __enter__(self):
            self.saved, current["device"] = current["device"], self.id

        def __exit__(self, *exc):
            current["device"] = self.saved

    cuda = types.ModuleType("cupy.cuda")
    cuda.nccl, cuda.Device = nccl, Device
    cuda.runtime = types.SimpleNamespace(getDeviceCount=lambda: 2)
    cuda.get_current_stream = lambda: types.SimpleNamespace(ptr=77)

    class Event:
        def __init__(self, block, disable_timing):
            self.done = False

        def record(self, stream):
            calls.append(("record", stream.ptr))

    cuda.Event = Event
    cupy = types.ModuleType("cupy")
    cupy.cuda, cupy.ndarray = cuda, FakeArray
    return {"cupy": cupy, "cupy.cuda": cuda, "cupy.cuda.nccl": nccl}


class FakeMPI(MPICommunicator):
    """The control plane of rank 1 of 2, without MPI: broadcasts hand out rank 0's value."""

    def __init__(self):
        self.rank, self.size, self._nccl = 1, 2, None
        self._watch = types.SimpleNamespace(device=None, count=0)
        self._device_backend, self.host_calls = "auto", []

    @property
    def local_rank(self):
        return 1

    def broadcast_object(self, obj, root=0):
        return b"unique-id-of-rank-0" if root == 0 else obj

    def allreduce_sum_(self, array):
        self.host_calls.append(array)
        return array


def test_nccl_communicator_wiring(monkeypatch):
    calls = []
    for name, module in fake_cupy(calls).items():
        monkeypatch.setitem(sys.modules, name, module)
    mpi = FakeMPI()
    comm = gnccl.NCCLCommunicator(mpi)
    # rank 0's unique id (broadcast over MPI), on this rank's GPU (its local rank)
    assert calls == [("init", 2, b"unique-id-of-rank-0", 1, 1)]
    assert (comm.rank, comm.size, comm.local_rank, comm.backend) == (1, 2, 1, "nccl")
    assert mpi._nccl is comm  # the MPI communicator's CuPy arrays go through it too
    a = FakeArray(np.ones(6, np.float32), device=1)
    assert comm.allreduce_sum_(a) is a
    # in place (send = receive buffer), float32, sum, on the current stream
    assert calls[-2:] == [("allReduce", 1001, 1001, 6, 7, 0, 77), ("record", 77)]
    # the watchdog sees the NCCL operation until its CUDA event is done
    name, shape, _, done = mpi._watch.device
    assert name == "allreduce_sum_" and done() is False
    assert shape == (a.shape, np.float32, 24)  # shape, dtype, bytes: a itself may be freed
    comm.broadcast_(FakeArray(np.zeros(3, np.float64), device=1), root=1)
    assert calls[-2] == ("bcast", 1001, 3, 8, 1, 77)
    host = np.ones(2)
    assert comm.allreduce_sum_(host) is host and mpi.host_calls == [host]  # NumPy: MPI
    n = len(calls)
    comm.allreduce_sum_(FakeArray(np.ones(0, np.float32), device=1))
    assert len(calls) == n  # nothing to reduce
    assert mpi._watch.count == 4  # init, 3 device collectives: counted for the exit notices
    with pytest.raises(ValueError, match="C-contiguous"):
        comm.allreduce_sum_(FakeArray(np.ones(4, np.float32), device=1, contiguous=False))
    with pytest.raises(ValueError, match="on cuda:0 but this rank's NCCL .* on cuda:1"):
        comm.allreduce_sum_(FakeArray(np.ones(4, np.float32), device=0))
    with pytest.raises(TypeError, match="NCCL cannot reduce dtype bool"):
        comm.allreduce_sum_(FakeArray(np.ones(4, bool), device=1))
    comm.abort_device()
    assert calls[-1] == ("abort",)
    with pytest.raises(RuntimeError, match="wants cuda:5 but this node has 2"):
        gnccl.NCCLCommunicator(FakeMPI(), device=5)


def test_nccl_dtype_names_exist_in_cupy():
    nccl = pytest.importorskip("cupy.cuda.nccl", reason="CuPy with NCCL is not installed")
    for dtype, name in gnccl.NCCL_DTYPES.items():
        if dtype != "bfloat16":
            assert isinstance(getattr(nccl, name), int), name


def test_without_cupy_the_module_imports_and_says_why():
    if gnccl.nccl_unavailable_reason() == "":
        pytest.skip("NCCL is usable here")
    assert gnccl.nccl_unavailable_reason()
    with pytest.raises(TypeError, match="expected an MPICommunicator"):
        gnccl.NCCLCommunicator(dist.LocalCommunicator())


def _two_gpus():
    cupy = pytest.importorskip("cupy", reason="CuPy is not installed (NCCL tests need it)")
    pytest.importorskip("mpi4py")
    if shutil.which("mpiexec") is None:
        pytest.skip("no mpiexec (pip install mpich)")
    reason = gnccl.nccl_unavailable_reason()
    if reason:
        pytest.skip(reason)
    count = cupy.cuda.runtime.getDeviceCount()
    if count < 2:
        pytest.skip(f"the NCCL tests need two GPUs; this machine has {count}")


@pytest.mark.parametrize("mode", ["nccl", "auto"])
def test_two_ranks_reduce_cupy_arrays_with_nccl(tmp_path, mode):
    _two_gpus()
    env = dict(os.environ, PYTHONPATH=str(ROOT), GRADFLOW_DIST_TIMEOUT="60")
    out = tmp_path / "out.json"
    proc = subprocess.run(["mpiexec", "-n", "2", sys.executable, str(JOB), str(out), mode],
                          env=env, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr
    r0, r1 = json.loads(out.read_text())
    assert r0["type"] == ("NCCLCommunicator" if mode == "nccl" else "MPICommunicator")
    assert (r0["device"], r1["device"]) == ("cuda:0", "cuda:1")
    for r in (r0, r1):
        assert r["nccl"] == "NCCLCommunicator"
        for dtype in ("float16", "float32", "float64", "int64"):
            assert r[dtype] == [0, 3, 6, 9, 12]  # 1·i + 2·i
        assert r["bcast"] == [1.0] * 7 and r["host"] == [3.0]


def test_grad_sync_of_cupy_gradients_through_nccl(tmp_path):
    """GradSync keeps CuPy gradients on their GPU (needs grad_sync's device buckets)."""
    _two_gpus()
    env = dict(os.environ, PYTHONPATH=str(ROOT), GRADFLOW_DIST_TIMEOUT="60")
    out = tmp_path / "out.json"
    proc = subprocess.run(["mpiexec", "-n", "2", sys.executable, str(JOB), str(out), "gradsync"],
                          env=env, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr
    r0, r1 = json.loads(out.read_text())
    assert r0["on_gpu"] and r1["on_gpu"]
    for i in range(4):
        g0, g1 = r0["local"][i], r1["local"][i]
        parts = [np.float32(s) * np.asarray(g, np.float32) for s, g in
                 ((1 / 3, g0), (2 / 3, g1)) if g is not None]
        expected = sum(parts[1:], parts[0])
        for r in (r0, r1):
            np.testing.assert_allclose(r["synced"][i], expected, rtol=1e-6)
