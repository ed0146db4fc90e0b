"""``gradflow.distributed``: data-parallel training over MPI (design: DISTRIBUTED.md).

    import gradflow.distributed as dist
    comm = dist.init()                    # size 1 unless started by mpiexec/srun
    dist.broadcast_parameters(model)      # every rank starts from rank 0's weights
    sync = dist.GradSync(model.parameters())
    ...
    loss.backward(); sync(share=len(x_local) / global_batch); optimizer.step()

Single-process programs are unchanged: ``init()`` returns a size-1 communicator and mpi4py is
imported only when an MPI launcher started the process (``PMI_SIZE``, ``OMPI_COMM_WORLD_SIZE``,
``PMIX_RANK``, ``SLURM_NTASKS``). Under MPI an uncaught exception on any rank aborts the whole job
(``MPI_Abort``) instead of leaving the others waiting in a collective forever; a collective that
waits past ``GRADFLOW_DIST_TIMEOUT`` seconds (default 600) prints every thread's stack and aborts;
a rank that exits while the others wait ends the job; ``fail(code, message)`` and
``abort_on_exit`` end it at once with an exit status. ``gradflow launch -n N -- train ...``
starts ``mpiexec`` (:mod:`gradflow.distributed.launch`); GPU gradients go through NCCL
(:mod:`gradflow.distributed.nccl`).
"""

from gradflow.distributed.comm import (
    DEFAULT_TIMEOUT,
    TIMEOUT_VAR,
    Communicator,
    LocalCommunicator,
    MPICommunicator,
    abort_on_exit,
    barrier,
    broadcast_parameters,
    collective_timeout,
    device_for,
    fail,
    get_communicator,
    init,
    launched_by_mpi,
    local_rank,
    rank,
    size,
)
from gradflow.distributed.grad_sync import GradSync
from gradflow.distributed.nccl import NCCLCommunicator

__all__ = ["Communicator", "LocalCommunicator", "MPICommunicator", "NCCLCommunicator", "GradSync",
           "init", "get_communicator", "launched_by_mpi", "rank", "size", "local_rank", "barrier",
           "broadcast_parameters", "fail", "abort_on_exit", "device_for", "collective_timeout",
           "TIMEOUT_VAR", "DEFAULT_TIMEOUT"]
