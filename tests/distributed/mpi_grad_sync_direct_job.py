"""Run under ``mpiexec -n 2``: GradSync where gradients are reduced in their own arrays
(``direct_bytes`` small) and through its packed buckets, two steps each (the buffers are reused),
with uneven shares, a parameter one rank did not use, one no rank used, a read-only and a
non-contiguous gradient. Rank 0 writes every rank's local and synced gradients to ``OUT``."""

import json
import sys

import numpy as np

import gradflow as gf
import gradflow.distributed as dist

out = sys.argv[1]
comm = dist.init()
assert comm.size == 2
r = comm.rank
shapes = {"big": (64, 48), "bias": (48,), "rank1_unused": (32, 16), "unused": (8, 8),
          "readonly": (16, 16), "strided": (24, 8), "tiny": (3,)}


def grads_for(step):
    rng = np.random.default_rng([r, step])
    g = {k: rng.standard_normal(s).astype(np.float32) for k, s in shapes.items()}
    g["unused"] = None
    if r == 1:
        g["rank1_unused"] = None
    g["readonly"] = np.broadcast_to(g["readonly"][:1], shapes["readonly"])  # read-only view
    g["strided"] = np.ascontiguousarray(g["strided"].T).T  # F-ordered: not reducible in place
    return g


results = {}
for name, kwargs in (("direct", {"direct_bytes": 16}), ("packed", {"direct_bytes": 2**40}),
                     ("small_buckets", {"bucket_bytes": 64, "direct_bytes": 512})):
    params = {k: gf.zeros(s, requires_grad=True) for k, s in shapes.items()}
    sync = dist.GradSync(params.values(), **kwargs)
    steps = []
    for step, share in enumerate((5 / 8, 3 / 8) if r == 0 else (3 / 8, 5 / 8)):
        local = grads_for(step)
        before = {k: None if v is None else v.tolist() for k, v in local.items()}
        kept = {}
        for k, p in params.items():
            p.grad = None if local[k] is None else gf.Tensor.wrap(local[k])
            kept[k] = p.grad
        sync(share=share)
        steps.append({
            "share": share,
            "local": before,
            "synced": {k: None if p.grad is None else p.grad.numpy().tolist()
                       for k, p in params.items()},
            "same_tensor": {k: p.grad is kept[k] for k, p in params.items()}})
    results[name] = steps
gathered = comm.allgather_object(results)
if r == 0:
    with open(out, "w") as f:
        json.dump(gathered, f)
