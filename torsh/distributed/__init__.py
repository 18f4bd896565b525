"""torch.distributed on MPI (mpi4py): process groups, collectives and point-to-point messages.

Start N processes with ``mpiexec -n N python prog.py`` (the ``mpich`` wheel installs it in the environment's
``bin``); a program started alone is a world of one, so single-process programs that call
``init_process_group("gloo", rank=0, world_size=1, ...)`` run unchanged. Every CPU backend name runs on MPI
(see ``distributed_c10d``). Loading stays free: ``import torsh`` imports neither mpi4py nor MPI; mpi4py is
looked up by ``is_available()`` and MPI starts at ``init_process_group``.
"""
from .._tensor import device as _device
from . import _mpi
from ._collectives import (P2POp, all_gather, all_gather_into_tensor, all_gather_object, all_gather_single,
                           all_reduce, all_to_all, all_to_all_single, barrier, batch_isend_irecv, broadcast,
                           broadcast_object_list, gather, gather_object, irecv, isend, monitored_barrier, recv,
                           recv_object_list, reduce, reduce_scatter_single, reduce_scatter_tensor, scatter,
                           scatter_object_list, send, send_object_list)
from .distributed_c10d import (Backend, GroupMember, ProcessGroup, ReduceOp, Work, destroy_process_group,
                               get_backend, get_backend_config, get_global_rank, get_group_rank, get_node_local_rank,
                               get_pg_count, get_process_group_ranks, get_rank, get_world_size, group,
                               init_process_group, is_initialized, new_group, new_subgroups,
                               new_subgroups_by_enumeration)

__all__ = ["Backend", "GroupMember", "P2POp", "ProcessGroup", "ReduceOp", "Work", "all_gather",
           "all_gather_into_tensor", "all_gather_object", "all_gather_single", "all_reduce", "all_to_all",
           "all_to_all_single", "barrier", "batch_isend_irecv", "broadcast", "broadcast_object_list",
           "destroy_process_group", "gather", "gather_object", "get_backend", "get_backend_config",
           "get_default_backend_for_device", "get_global_rank", "get_group_rank", "get_node_local_rank",
           "get_pg_count", "get_process_group_ranks", "get_rank", "get_world_size", "group", "init_process_group",
           "irecv", "is_available", "is_backend_available", "is_gloo_available", "is_initialized",
           "is_mpi_available", "is_nccl_available", "is_torchelastic_launched", "is_ucc_available",
           "is_xccl_available", "isend", "monitored_barrier", "new_group", "new_subgroups",
           "new_subgroups_by_enumeration", "recv", "recv_object_list", "reduce", "reduce_scatter_single",
           "reduce_scatter_tensor", "scatter", "scatter_object_list", "send", "send_object_list"]


def is_available():
    """True when mpi4py is installed (the backend every process group runs on)."""
    return _mpi.installed()


def is_mpi_available():
    return _mpi.installed()


def is_gloo_available():
    return _mpi.installed()  # "gloo" groups run on MPI


def is_nccl_available():
    return False


def is_ucc_available():
    return False


def is_xccl_available():
    return False


def is_backend_available(backend):
    """True for the backends torsh runs (gloo and mpi, both on MPI, when mpi4py is installed); a composite
    "cpu:gloo,cuda:nccl" is available when all its backends are."""
    names = [part.split(":")[-1] for part in backend.lower().split(",")]
    return all(name in (Backend.GLOO, Backend.MPI) and _mpi.installed() for name in names)


def get_default_backend_for_device(device):
    device_type = device.type if isinstance(device, _device) else _device(device).type
    backend = Backend.default_device_backend_map.get(device_type)
    if backend is None:
        raise ValueError(f"Default backend not registered for device : {device}")
    return backend


def is_torchelastic_launched():
    return False
