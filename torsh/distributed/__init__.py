"""torch.distributed on MPI (mpi4py): process groups, collectives and point-to-point messages.

Start N processes with ``mpiexec -n N python prog.py`` (the ``mpich`` wheel installs it in the environment's
``bin``); a program started alone is a world of one, so single-process programs that call
``init_process_group("gloo", rank=0, world_size=1, ...)`` run unchanged. Every CPU backend name runs on MPI
(see ``distributed_c10d``). Loading stays free: ``import torsh`` imports neither mpi4py nor MPI; mpi4py is
looked up by ``is_available()`` and MPI starts at ``init_process_group``.
"""
from . import _mpi
from ._collectives import (all_gather, all_gather_into_tensor, all_gather_object, all_gather_single, all_reduce,
                           barrier, broadcast, broadcast_object_list, gather, gather_object, irecv, isend,
                           monitored_barrier, recv, reduce, reduce_scatter_single, reduce_scatter_tensor, scatter,
                           scatter_object_list, send)
from .distributed_c10d import (Backend, GroupMember, ProcessGroup, ReduceOp, Work, destroy_process_group,
                               get_backend, get_global_rank, get_group_rank, get_process_group_ranks, get_rank,
                               get_world_size, group, init_process_group, is_initialized, new_group)

__all__ = ["Backend", "GroupMember", "ProcessGroup", "ReduceOp", "Work", "all_gather", "all_gather_into_tensor",
           "all_gather_object", "all_gather_single", "all_reduce", "barrier", "broadcast", "broadcast_object_list",
           "destroy_process_group", "gather", "gather_object", "get_backend", "get_global_rank", "get_group_rank",
           "get_process_group_ranks", "get_rank", "get_world_size", "group", "init_process_group", "irecv",
           "is_available", "is_gloo_available", "is_initialized", "is_mpi_available", "is_nccl_available",
           "is_torchelastic_launched", "isend", "monitored_barrier", "new_group", "recv", "reduce",
           "reduce_scatter_single", "reduce_scatter_tensor", "scatter", "scatter_object_list", "send"]


def is_available():
    """True when mpi4py is installed (the backend every process group runs on)."""
    return _mpi.installed()


def is_mpi_available():
    return _mpi.installed()


def is_gloo_available():
    return _mpi.installed()  # "gloo" groups run on MPI


def is_nccl_available():
    return False


def is_torchelastic_launched():
    return False
