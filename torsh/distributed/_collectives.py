"""Collectives and point-to-point messages on a process group's MPI communicator.

Each works in place on the tensors' NumPy arrays (a copy only for a non-contiguous tensor or a dtype MPI cannot
reduce, written back when the operation completes). All start MPI's non-blocking form and return a ``Work``
with ``async_op=True``; otherwise they wait for it and return None. Ranks (``src``, ``dst``) are global ranks,
or group ranks through ``group_src`` / ``group_dst``, as in PyTorch.
"""
import pickle

import numpy as np

from .._array_api import array, bump_version
from .._ops._helpers import dtype_name
from .._dtype import bool as bool_
from .._tensor import Tensor
from . import _mpi
from .distributed_c10d import ReduceOp, Work, default_group, get_global_rank, get_group_rank, in_group

__all__ = ["all_gather", "all_gather_into_tensor", "all_gather_object", "all_gather_single", "all_reduce",
           "barrier", "broadcast", "broadcast_object_list", "gather", "gather_object", "irecv", "isend",
           "monitored_barrier", "recv", "reduce", "reduce_scatter_single", "reduce_scatter_tensor", "scatter",
           "scatter_object_list", "send"]


# ----------------------------------------------------------------------------- argument checks (PyTorch's)

def _check_single_tensor(param, param_name):
    if not isinstance(param, Tensor):
        raise TypeError(f"""Invalid function argument. Expected parameter `{param_name}` of type torch.Tensor
             but got {type(param)} instead.""")


def _check_tensor_list(param, param_name):
    if not isinstance(param, list):
        raise TypeError(f"""Invalid function argument. Expected parameter `{param_name}` of type List[torch.Tensor]
             but got {type(param)} instead.""")
    if not all(isinstance(p, Tensor) for p in param):
        raise TypeError(f"""Invalid function argument. Expected parameter `{param_name}` of type List[torch.Tensor]
             but got {type(param)} with elements of type {[type(p) for p in param]}.""")


def _group_rank(group, global_rank, group_rank):
    """PyTorch's _canonicalize_group_rank: a rank given either way, as a rank in ``group``."""
    if group_rank is not None:
        if global_rank is not None:
            raise ValueError("Can't specify both group_rank and global_rank")
        return group_rank
    if global_rank is None:
        raise ValueError("Must specify global_rank or group_rank")
    return get_group_rank(group, global_rank)


def _check_root(group, root, op_name):
    if not 0 <= root < group.size():
        raise RuntimeError(f"{_backend_class(group)}::{op_name}: invalid root rank: {root}")


def _backend_class(group):
    return "ProcessGroupGloo" if group._backend == "gloo" else "ProcessGroupMPI"


def _op_name(op):
    name = op.name if isinstance(op, ReduceOp.RedOpType) else None
    if name not in ("SUM", "AVG", "PRODUCT", "MIN", "MAX", "BAND", "BOR", "BXOR"):
        raise ValueError(f"torsh.distributed on MPI does not support reduce op {op}")
    return name


def _started(work, async_op):
    if async_op:
        return work
    work.wait()
    return None


def _active(group):
    """The group to run on, or None in a process outside it (which, as in PyTorch, does nothing)."""
    group = default_group(group)
    return group if in_group(group) else None


def _check_average(name, tensor):
    """PyTorch averages in floating point and refuses to write the average into an integer tensor."""
    if name == "AVG" and not (tensor.dtype.is_floating_point or tensor.dtype.is_complex or tensor.dtype == bool_):
        raise RuntimeError(f"result type Float can't be cast to the desired output type {dtype_name(tensor.dtype)}")


def _average(arr, size):
    if arr.dtype.kind != "b":
        arr /= size


# ----------------------------------------------------------------------------- reductions

def all_reduce(tensor, op=ReduceOp.SUM, group=None, async_op=False):
    _check_single_tensor(tensor, "tensor")
    group = _active(group)
    if group is None:
        return None
    name = _op_name(op)
    _check_average(name, tensor)
    buf = _mpi.Buffer(array(tensor))
    request = group._comm.Iallreduce(_mpi.mpi().IN_PLACE, buf.work, buf.op(name))

    def then():
        if name == "AVG":
            _average(buf.work, group.size())
        buf.finish()
        bump_version(tensor)
    return _started(Work([request], then, [tensor]), async_op)


def reduce(tensor, dst=None, op=ReduceOp.SUM, group=None, async_op=False, group_dst=None):
    """The reduction lands in ``tensor`` on ``dst``; the other processes' tensors are left as they were."""
    _check_single_tensor(tensor, "tensor")
    group = _active(group)
    if group is None:
        return None
    root = _group_rank(group, dst, group_dst)
    _check_root(group, root, "reduce")
    name = _op_name(op)
    _check_average(name, tensor)
    buf = _mpi.Buffer(array(tensor))
    MPI = _mpi.mpi()
    is_root = group.rank() == root
    send = MPI.IN_PLACE if is_root else buf.work
    request = group._comm.Ireduce(send, buf.work if is_root else None, buf.op(name), root=root)

    def then():
        if is_root:
            if name == "AVG":
                _average(buf.work, group.size())
            buf.finish()
            bump_version(tensor)
    return _started(Work([request], then, [tensor]), async_op)


def reduce_scatter_tensor(output, input, op=ReduceOp.SUM, group=None, async_op=False):
    """Reduce ``input`` (``world_size`` equal chunks along dim 0) and keep chunk ``rank`` in ``output``."""
    _check_single_tensor(output, "output")
    _check_single_tensor(input, "input")
    group = _active(group)
    if group is None:
        return None
    if input.numel() != output.numel() * group.size():
        raise ValueError("input tensor must be the same size as output size times world size")
    name = _op_name(op)
    _check_average(name, output)
    source, target = _mpi.Buffer(array(input)), _mpi.Buffer(array(output))
    request = group._comm.Ireduce_scatter_block(source.work.reshape(-1), target.work.reshape(-1),
                                                target.op(name))

    def then():
        if name == "AVG":
            _average(target.work, group.size())
        target.finish()
        bump_version(output)
    return _started(Work([request], then, [output]), async_op)


reduce_scatter_single = reduce_scatter_tensor  # PyTorch 2.13's name for reduce_scatter_tensor


# ----------------------------------------------------------------------------- transfers

def broadcast(tensor, src=None, group=None, async_op=False, group_src=None):
    _check_single_tensor(tensor, "tensor")
    group = _active(group)
    if group is None:
        return None
    root = _group_rank(group, src, group_src)
    _check_root(group, root, "broadcast")
    buf = _mpi.Bytes(array(tensor))
    request = group._comm.Ibcast(buf.spec(), root=root)
    return _started(Work([request], _written_back(buf, tensor), [tensor]), async_op)


def _written_back(buf, tensor):
    def then():
        buf.finish()
        bump_version(tensor)
    return then


def all_gather(tensor_list, tensor, group=None, async_op=False):
    _check_tensor_list(tensor_list, "tensor_list")
    _check_single_tensor(tensor, "tensor")
    group = _active(group)
    if group is None:
        return None
    _check_gather_list(group, tensor_list, tensor, "allgather", "output")
    source = _mpi.Bytes(array(tensor))
    gathered = np.empty((group.size(),) + source.work.shape, source.work.dtype)
    request = group._comm.Iallgather(source.spec(), [gathered.reshape(-1).view(np.uint8), _mpi.mpi().BYTE])
    return _started(Work([request], _scattered_into(tensor_list, gathered), tensor_list), async_op)


def _check_gather_list(group, tensors, like, op_name, kind):
    prefix = f"{_backend_class(group)}::{op_name}"
    if len(tensors) != group.size():
        raise RuntimeError(f"{prefix}: invalid {kind} tensor list at index 0 (expected length {group.size()}, got "
                           f"{len(tensors)})")
    for i, t in enumerate(tensors):
        if tuple(t.shape) != tuple(like.shape):
            expected, got = (", ".join(map(str, s)) for s in (like.shape, t.shape))
            raise RuntimeError(f"{prefix}: invalid tensor size at index {i} (expected ({expected}), got ({got}))")
        if t.dtype != like.dtype:
            raise RuntimeError(f"{prefix}: invalid tensor type at index {i} (expected {like.dtype}, got {t.dtype})")


def _scattered_into(tensors, stacked):
    def then():
        for t, part in zip(tensors, stacked):
            array(t)[...] = part
            bump_version(t)
    return then


def all_gather_into_tensor(output_tensor, input_tensor, group=None, async_op=False):
    """Every process's ``input_tensor`` concatenated (or stacked) in rank order into ``output_tensor``."""
    _check_single_tensor(output_tensor, "output_tensor")
    _check_single_tensor(input_tensor, "input_tensor")
    group = _active(group)
    if group is None:
        return None
    if output_tensor.numel() != input_tensor.numel() * group.size():
        raise ValueError("output tensor size must be equal to world_size times input tensor size")
    if output_tensor.dtype != input_tensor.dtype:
        raise ValueError("output tensor must have the same type as input tensor")
    source, target = _mpi.Bytes(array(input_tensor)), _mpi.Bytes(array(output_tensor))
    request = group._comm.Iallgather(source.spec(), target.spec())
    return _started(Work([request], _written_back(target, output_tensor), [output_tensor]), async_op)


all_gather_single = all_gather_into_tensor  # PyTorch 2.13's name; all_gather_into_tensor is deprecated there


def gather(tensor, gather_list=None, dst=None, group=None, async_op=False, group_dst=None):
    _check_single_tensor(tensor, "tensor")
    if gather_list:
        _check_tensor_list(gather_list, "gather_list")
    else:
        gather_list = []
    group = _active(group)
    if group is None:
        return None
    root = _group_rank(group, dst, group_dst)
    is_root = group.rank() == root
    if is_root and not gather_list:
        raise ValueError("Argument ``gather_list`` must be specified on destination rank.")
    if not is_root and gather_list:
        raise ValueError("Argument ``gather_list`` must NOT be specified on non-destination ranks.")
    _check_root(group, root, "gather")
    source = _mpi.Bytes(array(tensor))
    if is_root:
        _check_gather_list(group, gather_list, tensor, "gather", "output")
        gathered = np.empty((group.size(),) + source.work.shape, source.work.dtype)
        target, then = [gathered.reshape(-1).view(np.uint8), _mpi.mpi().BYTE], _scattered_into(gather_list, gathered)
    else:
        target, then = None, None
    request = group._comm.Igather(source.spec(), target, root=root)
    return _started(Work([request], then, gather_list), async_op)


def scatter(tensor, scatter_list=None, src=None, group=None, async_op=False, group_src=None):
    _check_single_tensor(tensor, "tensor")
    if scatter_list:
        _check_tensor_list(scatter_list, "scatter_list")
    else:
        scatter_list = []
    group = _active(group)
    if group is None:
        return None
    root = _group_rank(group, src, group_src)
    is_root = group.rank() == root
    if is_root and not scatter_list:
        raise ValueError("Argument ``scatter_list`` must be specified on source rank.")
    if not is_root and scatter_list:
        raise ValueError("Argument ``scatter_list`` must NOT be specified on non-source ranks.")
    _check_root(group, root, "scatter")
    if is_root:
        _check_gather_list(group, scatter_list, tensor, "scatter", "input")
        stacked = np.ascontiguousarray(np.stack([array(t) for t in scatter_list]))
        source = [stacked.reshape(-1).view(np.uint8), _mpi.mpi().BYTE]
    else:
        source = None
    target = _mpi.Bytes(array(tensor))
    request = group._comm.Iscatter(source, target.spec(), root=root)
    return _started(Work([request], _written_back(target, tensor), [tensor]), async_op)


def barrier(group=None, async_op=False, device_ids=None, timeout=None):
    group = _active(group)
    if group is None:
        return None
    return _started(Work([group._comm.Ibarrier()]), async_op)


def monitored_barrier(group=None, timeout=None, wait_all_ranks=False):
    barrier(group)


# ----------------------------------------------------------------------------- point to point

def _peer(group, global_rank, group_rank, kind):
    peer = _group_rank(group, global_rank, group_rank)
    if group.rank() == peer:
        raise ValueError(f"Invalid {kind} rank: {kind} rank should not be the same as the rank of the current "
                         "process.")
    if not 0 <= peer < group.size():
        raise ValueError(f"Invalid {kind} rank: {peer} is not a rank of the group (size {group.size()})")
    return peer


def isend(tensor, dst=None, group=None, tag=0, group_dst=None):
    _check_single_tensor(tensor, "tensor")
    group = _active(group)
    if group is None:
        return None
    peer = _peer(group, dst, group_dst, "destination")
    buf = _mpi.Bytes(array(tensor))  # a non-contiguous tensor travels as a copy kept alive by the Work
    return Work([group._comm.Isend(buf.spec(), dest=peer, tag=tag)], None, [tensor])


def send(tensor, dst=None, group=None, tag=0, group_dst=None):
    work = isend(tensor, dst, group, tag, group_dst)
    if work is not None:
        work.wait()


def irecv(tensor, src=None, group=None, tag=0, group_src=None):
    """Receive into ``tensor`` from ``src`` (any process when both ``src`` and ``group_src`` are None)."""
    _check_single_tensor(tensor, "tensor")
    group = _active(group)
    if group is None:
        return None
    any_source = src is None and group_src is None
    peer = _mpi.mpi().ANY_SOURCE if any_source else _peer(group, src, group_src, "source")
    buf = _mpi.Bytes(array(tensor))
    return Work([group._comm.Irecv(buf.spec(), source=peer, tag=tag)], _written_back(buf, tensor), [tensor])


def recv(tensor, src=None, group=None, tag=0, group_src=None):
    """Blocks until ``tensor`` is received; returns the sender's global rank (-1 outside the group)."""
    _check_single_tensor(tensor, "tensor")
    group = _active(group)
    if group is None:
        return -1
    MPI = _mpi.mpi()
    any_source = src is None and group_src is None
    peer = MPI.ANY_SOURCE if any_source else _peer(group, src, group_src, "source")
    buf = _mpi.Bytes(array(tensor))
    status = MPI.Status()
    group._comm.Recv(buf.spec(), source=peer, tag=tag, status=status)
    _written_back(buf, tensor)()
    return get_global_rank(group, status.Get_source())


# ----------------------------------------------------------------------------- picklable objects

def all_gather_object(object_list, obj, group=None):
    group = _active(group)
    if group is None:
        return
    for i, gathered in enumerate(group._comm.allgather(_pickled(obj))):
        if i < len(object_list):
            object_list[i] = pickle.loads(gathered)


def _pickled(obj):
    return pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)


def broadcast_object_list(object_list, src=None, group=None, device=None, group_src=None):
    """``object_list`` on every process becomes ``src``'s (same length on all processes)."""
    group = _active(group)
    if group is None:
        return
    root = _group_rank(group, src, group_src)
    _check_root(group, root, "broadcast")
    payload = group._comm.bcast(_pickled(list(object_list)) if group.rank() == root else None, root=root)
    object_list[:] = pickle.loads(payload)[:len(object_list)]


def gather_object(obj, object_gather_list=None, dst=None, group=None, group_dst=None):
    group = _active(group)
    if group is None:
        return
    root = _group_rank(group, dst, group_dst)
    _check_root(group, root, "gather")
    gathered = group._comm.gather(_pickled(obj), root=root)
    if group.rank() == root:
        object_gather_list[:] = [pickle.loads(g) for g in gathered]


def scatter_object_list(scatter_object_output_list, scatter_object_input_list=None, src=None, group=None,
                        group_src=None):
    group = _active(group)
    if group is None:
        return
    root = _group_rank(group, src, group_src)
    _check_root(group, root, "scatter")
    parts = [_pickled(o) for o in scatter_object_input_list] if group.rank() == root else None
    scatter_object_output_list[0] = pickle.loads(group._comm.scatter(parts, root=root))
