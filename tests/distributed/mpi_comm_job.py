"""Run under ``mpiexec -n 2``: the collectives and the never-hang policy of gradflow.distributed.

``python mpi_comm_job.py OUT MODE``; MODE is one of
- ``collectives``: allreduce_scalars, any_true, gather_object, broadcast, barrier; rank 0 writes
  the results to OUT (JSON);
- ``skip``: rank 1 skips a barrier and then computes for a minute (the watchdog must fire);
- ``skip-exit``: rank 1 skips a barrier and ends the script normally;
- ``exit3``: rank 1 calls sys.exit(3) while rank 0 waits in an allreduce;
- ``main-returns``: ``sys.exit(main())`` where main returns 4 on rank 1 (no decorator);
- ``decorated``: the same main under ``@dist.abort_on_exit``: the job ends with status 4;
- ``fail``: rank 1 calls ``dist.fail(5, message)``;
- ``late-peer`` (3 ranks): rank 1 takes part in a gather and exits while rank 0 still waits in it
  for a slow rank 2: a correct program, which must end normally.
"""

import json
import sys
import threading
import time

import numpy as np

import gradflow.distributed as dist

out, mode = sys.argv[1], sys.argv[2]
comm = dist.init()
assert comm.size == (3 if mode == "late-peer" else 2), comm.size
assert isinstance(comm, dist.MPICommunicator), comm
r = comm.rank


def wait_for_peer():
    buf = np.ones(1835008, np.float32)  # 7 MiB
    comm.allreduce_sum_(buf)


if mode == "collectives":
    sums = comm.allreduce_scalars([0.1 * (r + 1), 1e16, float(r), 3])
    flags = [comm.any_true(False), comm.any_true(r == 1), comm.any_true(True)]
    gathered = comm.gather_object({"rank": r, "x": [r] * (r + 1)}, root=1)
    gathered0 = comm.gather_object(r * 10)
    arr = np.arange(4, dtype=np.float64) * (r + 1)
    comm.broadcast_(arr, root=1)
    comm.barrier()
    # the watchdog's work per call: a counter and one tuple (no thread, timer or event per call)
    threads, count, buf = threading.active_count(), comm._watch.count, np.ones(1000, np.float32)
    for _ in range(100):
        comm.allreduce_sum_(buf)
    per_call = {"threads": threading.active_count() - threads,
                "counted": comm._watch.count - count, "inflight": comm._watch.inflight}
    try:
        comm.allreduce_sum_([1.0, 2.0])  # neither NumPy nor CuPy: refused on every rank alike
        refused = ""
    except TypeError as exc:
        refused = str(exc)
    results = comm.allgather_object({
        "per_call": per_call, "local_rank": comm.local_rank, "refused": refused, "sums": sums,
        "flags": flags, "gathered": gathered, "gathered0": gathered0, "bcast": arr.tolist()})
    if r == 0:
        with open(out, "w") as f:
            json.dump(results, f)
elif mode in ("skip", "skip-exit"):
    comm.barrier()
    if r == 0:
        comm.barrier()  # rank 1 never comes
    elif mode == "skip":
        time.sleep(60)  # a long computation: only the timeout can end the job
elif mode == "exit3":
    if r == 1:
        sys.exit(3)
    wait_for_peer()
elif mode in ("main-returns", "decorated"):
    def main():
        if r == 1:
            print("rank 1: main returns 4", file=sys.stderr)
            return 4
        wait_for_peer()
        return 0

    sys.exit((dist.abort_on_exit(main) if mode == "decorated" else main)())
elif mode == "fail":
    if r == 1:
        dist.fail(5, "gradflow: error: rank 1 gives up")
        raise AssertionError("fail() returned under MPI")
    wait_for_peer()
elif mode == "late-peer":
    if r == 2:
        time.sleep(1.5)  # rank 0 waits: its watchdog probes and sees rank 1 gone
    got = comm.gather_object(r)
    if r == 0:
        with open(out, "w") as f:
            json.dump(got, f)
else:
    raise SystemExit(f"unknown mode {mode}")
