"""Run under ``mpiexec -n 2``: GradSync of uneven shares, broadcast_parameters, unused params.
Rank 0 writes the synced gradients and every rank's local gradients to ``OUT`` (npz)."""

import json
import sys

import numpy as np

import gradflow as gf
import gradflow.distributed as dist
from gradflow import nn

out, mode = sys.argv[1], sys.argv[2]
comm = dist.init()
assert comm.size == 2 and isinstance(comm, dist.MPICommunicator)
if mode == "fail" and comm.rank == 1:
    raise RuntimeError("rank 1 fails on purpose")
gf.manual_seed(comm.rank)  # different weights on purpose: broadcast must fix them
model = nn.ModuleDict({"a": nn.Linear(4, 6), "b": nn.Linear(6, 3), "unused": nn.Linear(2, 2),
                       "rank0_only": nn.Linear(6, 3)})
dist.broadcast_parameters(model)
rng = np.random.default_rng(7)
x, y = rng.standard_normal((8, 4)).astype(np.float32), rng.integers(0, 3, 8)
lo, hi = (0, 5) if comm.rank == 0 else (5, 8)
h = model["a"](gf.tensor(x[lo:hi])).tanh()
logits = model["b"](h)
if comm.rank == 0:
    logits = logits + model["rank0_only"](h)
nn.functional.cross_entropy(logits, gf.tensor(y[lo:hi])).backward()
params = list(model.parameters())
def lists(arrays):
    return [None if a is None else a.tolist() for a in arrays]  # float32 -> float: exact


local = lists(None if p.grad is None else p.grad.numpy().copy() for p in params)
sync = dist.GradSync(params, bucket_bytes=64)  # tiny buckets: several allreduces
sync(share=(hi - lo) / 8)
synced = lists(None if p.grad is None else p.grad.numpy() for p in params)
gathered = comm.allgather_object({"local": local, "synced": synced,
                                  "weights": lists(p.detach().numpy() for p in params)})
if comm.rank == 0:
    with open(out, "w") as f:
        json.dump(gathered, f)
