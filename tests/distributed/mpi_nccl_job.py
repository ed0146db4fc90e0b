"""Run under ``mpiexec -n 2`` on a machine with two GPUs: NCCL through CuPy.

``python mpi_nccl_job.py OUT MODE``: MODE ``nccl`` (init(backend="nccl")) or ``auto`` (the MPI
communicator creates the NCCL one at the first CuPy array); ``gradsync``: GradSync of a model on
``cuda:{local_rank}`` (uneven shares, a parameter unused on rank 1). Rank 0 writes JSON to OUT."""

import json
import sys

import cupy
import numpy as np

import gradflow.distributed as dist

out, mode = sys.argv[1], sys.argv[2]
comm = dist.init(backend="nccl" if mode == "gradsync" else mode)
r = comm.rank
cupy.cuda.Device(dist.local_rank()).use()
results = {"type": type(comm).__name__, "device": dist.device_for("cuda")}
if mode == "gradsync":
    import gradflow as gf
    from gradflow import nn

    gf.manual_seed(0)
    device = dist.device_for("cuda")
    model = nn.ModuleDict({"a": nn.Linear(4, 3), "b": nn.Linear(4, 3)}).to(device)
    x = gf.tensor(np.arange(4 * (r + 1), dtype=np.float32).reshape(r + 1, 4), device=device)
    loss = model["a"](x).sum() + (model["b"](x).sum() if r == 0 else 0)
    loss.backward()
    local = [None if p.grad is None else p.grad.numpy().tolist() for p in model.parameters()]
    dist.GradSync(model.parameters())(share=(r + 1) / 3)
    synced = [None if p.grad is None else p.grad.numpy().tolist() for p in model.parameters()]
    on_gpu = all(p.grad is None or p.grad.device == device for p in model.parameters())
    gathered = comm.allgather_object({"local": local, "synced": synced, "on_gpu": on_gpu})
    if r == 0:
        with open(out, "w") as f:
            json.dump(gathered, f)
    sys.exit(0)
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
