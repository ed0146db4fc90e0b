"""Run under ``mpiexec -n 2`` on a machine with two GPUs: NCCL through CuPy.

``python mpi_nccl_job.py OUT MODE``: MODE ``nccl`` (init(backend="nccl")) or ``auto`` (the MPI
communicator creates the NCCL one at the first CuPy array). Rank 0 writes JSON to OUT."""

import json
import sys

import cupy
import numpy as np

import gradflow.distributed as dist

out, mode = sys.argv[1], sys.argv[2]
comm = dist.init(backend=mode)
r = comm.rank
cupy.cuda.Device(dist.local_rank()).use()
results = {"type": type(comm).__name__, "device": dist.device_for("cuda")}
for dtype in ("float16", "float32", "float64", "int64"):
    a = cupy.arange(1000, dtype=dtype) * (r + 1)
    ptr = a.data.ptr
    assert comm.allreduce_sum_(a) is a and a.data.ptr == ptr  # in place
    results[dtype] = cupy.asnumpy(a[:5]).tolist()
b = cupy.full(7, float(r), dtype=cupy.float32)
comm.broadcast_(b, root=1)
results["bcast"] = cupy.asnumpy(b).tolist()
host = np.array([r + 1.0])
comm.allreduce_sum_(host)  # NumPy still through MPI
results["host"] = host.tolist()
results["nccl"] = type(getattr(comm, "_nccl", None) or comm).__name__
gathered = comm.allgather_object(results)
if r == 0:
    with open(out, "w") as f:
        json.dump(gathered, f)
