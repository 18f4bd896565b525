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

__all__ = ["P2POp", "all_gather", "all_gather_into_tensor", "all_gather_object", "all_gather_single", "all_reduce",
           "all_to_all", "all_to_all_single", "barrier", "batch_isend_irecv", "broadcast", "broadcast_object_list",
           "gather", "gather_object", "irecv", "isend", "monitored_barrier", "recv", "recv_object_list", "reduce",
           "reduce_scatter_single", "reduce_scatter_tensor", "scatter", "scatter_object_list", "send",
           "send_object_list"]


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


def _check_same_dtype(*tensors):
    """PyTorch's _ensure_all_tensors_same_dtype (a complex tensor may meet its element type)."""
    last = None
    for t in tensors:
        dtype = t.dtype.to_real() if t.dtype.is_complex else t.dtype
        if last is None:
            last = dtype
        elif last != dtype:
            raise ValueError(f"Invalid usage of tensors with different dtypesFound torch.{last.name} and  "
                             f"torch.{t.dtype.name}")


def all_to_all(output_tensor_list, input_tensor_list, group=None, async_op=False):
    """Process r's ``input_tensor_list[j]`` lands in process j's ``output_tensor_list[r]``."""
    _check_tensor_list(output_tensor_list, "output_tensor_list")
    _check_tensor_list(input_tensor_list, "input_tensor_list")
    _check_same_dtype(*output_tensor_list, *input_tensor_list)
    group = _active(group)
    if group is None:
        return None
    for kind, tensors in (("output", output_tensor_list), ("input", input_tensor_list)):
        if len(tensors) != group.size():
            raise RuntimeError(f"{_backend_class(group)}::alltoall: invalid {kind} tensor list (expected length "
                               f"{group.size()}, got {len(tensors)})")
    sources = [_bytes_of(t) for t in input_tensor_list]
    counts = [array(t).nbytes for t in output_tensor_list]

    def deliver(received):
        for t, part in zip(output_tensor_list, np.split(received, np.cumsum(counts)[:-1])):
            _write_bytes(t, part)
    return _exchanged(group, sources, counts, deliver, output_tensor_list, async_op)


def all_to_all_single(output, input, output_split_sizes=None, input_split_sizes=None, group=None, async_op=False):
    """Rows of ``input`` split by ``input_split_sizes`` (equal parts when None) go to the processes in rank
    order; what each process sends this one is concatenated in rank order into ``output``."""
    _check_single_tensor(output, "output")
    _check_single_tensor(input, "input")
    _check_same_dtype(output, input)
    group = _active(group)
    if group is None:
        return None
    source = _bytes_of(input)
    source_rows = _rows_per_process(input, input_split_sizes, group.size())
    target_rows = _rows_per_process(output, output_split_sizes, group.size())
    source_row_bytes = source.size // max(sum(source_rows), 1)
    target_row_bytes = array(output).nbytes // max(sum(target_rows), 1)
    sources = np.split(source, np.cumsum(source_rows)[:-1] * source_row_bytes)
    counts = [n * target_row_bytes for n in target_rows]
    return _exchanged(group, sources, counts, lambda received: _write_bytes(output, received), [output], async_op)


def _rows_per_process(tensor, split_sizes, size):
    rows = tensor.shape[0] if tensor.dim() else 1
    if split_sizes:
        split_sizes = [int(n) for n in split_sizes]
        if len(split_sizes) != size:
            raise RuntimeError("Number of tensor splits not equal to group size")
        if sum(split_sizes) != rows or min(split_sizes) < 0:
            raise RuntimeError("Split sizes doesn't match total dim 0 size")
        return split_sizes
    if rows % size:
        raise RuntimeError("Tensor's dim 0 does not divide equally across group size")
    return [rows // size] * size


def _bytes_of(tensor):
    return np.ascontiguousarray(array(tensor)).reshape(-1).view(np.uint8)


def _write_bytes(tensor, received):
    arr = array(tensor)
    arr[...] = received.view(arr.dtype).reshape(arr.shape)
    bump_version(tensor)


def _exchanged(group, sources, recv_counts, deliver, result, async_op):
    """Every process sends ``sources[j]`` (bytes) to process j and receives ``recv_counts[j]`` bytes from it
    (MPI's Ialltoallv); ``deliver`` gets the received bytes, in rank order, when the exchange completes."""
    MPI = _mpi.mpi()
    send = np.concatenate(sources) if sources else np.empty(0, np.uint8)
    received = np.empty(sum(recv_counts), np.uint8)
    request = group._comm.Ialltoallv([send, ([s.size for s in sources], None), MPI.BYTE],
                                     [received, (list(recv_counts), None), MPI.BYTE])
    return _started(Work([request], lambda: deliver(received), result), async_op)


# ----------------------------------------------------------------------------- point to point

def _peer(group, global_rank, group_rank, kind):
    peer = _group_rank(group, global_rank, group_rank)
    if group.rank() == peer:
        raise ValueError(f"Invalid {kind} rank: {kind} rank should not be the same as the rank of the current "
                         "process.")
    if not 0 <= peer < group.size():
        raise ValueError(f"Invalid {kind} rank: {peer} is not a rank of the group (size {group.size()})")
    return peer


def _source(group, src, group_src):
    """The group rank to receive from: MPI's ANY_SOURCE when neither ``src`` nor ``group_src`` is given."""
    if src is None and group_src is None:
        return _mpi.mpi().ANY_SOURCE
    return _peer(group, src, group_src, "source")


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
    peer = _source(group, src, group_src)
    buf = _mpi.Bytes(array(tensor))
    return Work([group._comm.Irecv(buf.spec(), source=peer, tag=tag)], _written_back(buf, tensor), [tensor])


def recv(tensor, src=None, group=None, tag=0, group_src=None):
    """Blocks until ``tensor`` is received; returns the sender's global rank (-1 outside the group)."""
    _check_single_tensor(tensor, "tensor")
    group = _active(group)
    if group is None:
        return -1
    MPI = _mpi.mpi()
    peer = _source(group, src, group_src)
    buf = _mpi.Bytes(array(tensor))
    status = MPI.Status()
    group._comm.Recv(buf.spec(), source=peer, tag=tag, status=status)
    _written_back(buf, tensor)()
    return get_global_rank(group, status.Get_source())


class P2POp:
    """One ``isend`` or ``irecv`` for ``batch_isend_irecv``: ``peer`` is a global rank, ``group_peer`` a rank
    in ``group``."""

    def __new__(cls, op, tensor, peer=None, group=None, tag=0, group_peer=None):
        if op not in (isend, irecv):
            raise ValueError("Invalid ``op``. Expected ``op`` to be of type ``torch.distributed.isend`` or "
                             "``torch.distributed.irecv``.")
        _check_single_tensor(tensor, "tensor")
        return object.__new__(cls)

    def __init__(self, op, tensor, peer=None, group=None, tag=0, group_peer=None):
        self.op, self.tensor, self.tag = op, tensor, tag
        self.group = default_group(group)
        self.group_peer = _group_rank(self.group, peer, group_peer)
        self.peer = get_global_rank(self.group, self.group_peer) if in_group(self.group) else peer

    def __repr__(self):
        me = self.group.rank() if in_group(self.group) else -1
        src, dst = (me, self.group_peer) if self.op is isend else (self.group_peer, me)
        return (f"P2POp({self.op.__name__} pg={self.group.group_name}, group_src={src}, group_dst={dst},  "
                f"{self.tensor.shape}, {self.tensor.dtype})")


def batch_isend_irecv(p2p_op_list):
    """Start every send and receive of the list at once (their order does not matter: MPI's non-blocking
    requests cannot deadlock on it) and return their Works."""
    if not isinstance(p2p_op_list, list) or not all(isinstance(op, P2POp) for op in p2p_op_list):
        raise ValueError("Invalid ``p2p_op_list``. Each op is expected to to be of type ``torch.distributed.P2POp``.")
    if not all(op.group is p2p_op_list[0].group for op in p2p_op_list):
        raise ValueError("All ops need to use the same group.")
    works = []
    for op in p2p_op_list:
        peer = {"group_dst": op.group_peer} if op.op is isend else {"group_src": op.group_peer}
        work = op.op(op.tensor, group=op.group, tag=op.tag, **peer)
        if work is not None:
            works.append(work)
    return works


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


def send_object_list(object_list, dst=None, group=None, device=None, group_dst=None, use_batch=False):
    """Send the picklable objects of ``object_list`` to ``dst`` (sizes first, then the pickles, as PyTorch)."""
    group = _active(group)
    if group is None:
        return
    peer = _peer(group, dst, group_dst, "destination")
    pickles = [_pickled(o) for o in object_list]
    sizes = np.array([len(p) for p in pickles], np.int64)
    group._comm.Send([sizes, _mpi.mpi().BYTE], dest=peer)
    group._comm.Send([np.frombuffer(b"".join(pickles), np.uint8), _mpi.mpi().BYTE], dest=peer)


def recv_object_list(object_list, src=None, group=None, device=None, group_src=None, use_batch=False):
    """Receive ``len(object_list)`` objects into ``object_list``; returns the sender's global rank (-1 outside
    the group). Unpickling runs the sender's pickles: only receive from processes you trust, as in PyTorch."""
    group = _active(group)
    if group is None:
        return -1
    MPI = _mpi.mpi()
    peer = _source(group, src, group_src)
    sizes = np.empty(len(object_list), np.int64)
    status = MPI.Status()
    group._comm.Recv([sizes, MPI.BYTE], source=peer, status=status)
    payload = np.empty(int(sizes.sum()), np.uint8)
    group._comm.Recv([payload, MPI.BYTE], source=status.Get_source())
    offset = 0
    for i, size in enumerate(sizes.tolist()):
        object_list[i] = pickle.loads(payload[offset:offset + size].tobytes())
        offset += size
    return get_global_rank(group, status.Get_source())
