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
(``MPI_Abort``) instead of leaving the others waiting in a collective forever.
"""

from gradflow.distributed.comm import (
    Communicator,
    LocalCommunicator,
    MPICommunicator,
    barrier,
    broadcast_parameters,
    get_communicator,
    init,
    launched_by_mpi,
    local_rank,
    rank,
    size,
)
from gradflow.distributed.grad_sync import GradSync

__all__ = ["Communicator", "LocalCommunicator", "MPICommunicator", "GradSync", "init",
           "get_communicator", "launched_by_mpi", "rank", "size", "local_rank", "barrier",
           "broadcast_parameters"]
