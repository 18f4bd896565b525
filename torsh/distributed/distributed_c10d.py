"""Process groups on MPI: the default group, ``new_group`` subsets, and the queries about them.

Every backend name PyTorch accepts on a CPU ("mpi", "gloo", None) runs on MPI: the world is MPI's
``COMM_WORLD`` (``mpiexec -n N python prog.py``; a process started alone is a world of one), a group made by
``new_group`` is a communicator split off it. The name asked for is kept for ``get_backend`` and the messages.
"""
import enum
import os

from . import _mpi

__all__ = ["Backend", "GroupMember", "ProcessGroup", "ReduceOp", "Work", "destroy_process_group", "get_backend",
           "get_global_rank", "get_group_rank", "get_process_group_ranks", "get_rank", "get_world_size", "group",
           "init_process_group", "is_initialized", "new_group"]

NOT_INITIALIZED = "Default process group has not been initialized, please make sure to call init_process_group."


class Backend(str):
    """A backend name, lower-cased (``Backend("GLOO") == "gloo"``)."""
    UNDEFINED = "undefined"
    GLOO = "gloo"
    NCCL = "nccl"
    UCC = "ucc"
    MPI = "mpi"
    XCCL = "xccl"
    default_device_backend_map = {"cpu": GLOO, "cuda": NCCL, "xpu": XCCL, "mps": GLOO}

    def __new__(cls, name):
        if not isinstance(name, str):
            raise ValueError(f"Backend constructor parameter must be string-ish, but got: {type(name)}")
        return str.__new__(cls, name.lower())


class ReduceOp:
    """``ReduceOp.SUM`` & co. are members of ``ReduceOp.RedOpType``, as in PyTorch."""

    class RedOpType(enum.Enum):
        SUM = 0
        AVG = 1
        PRODUCT = 2
        MIN = 3
        MAX = 4
        BAND = 5
        BOR = 6
        BXOR = 7
        PREMUL_SUM = 8

    SUM = RedOpType.SUM
    AVG = RedOpType.AVG
    PRODUCT = RedOpType.PRODUCT
    MIN = RedOpType.MIN
    MAX = RedOpType.MAX
    BAND = RedOpType.BAND
    BOR = RedOpType.BOR
    BXOR = RedOpType.BXOR
    PREMUL_SUM = RedOpType.PREMUL_SUM


class Work:
    """A started operation: ``wait()`` completes the MPI requests, then the step that follows them (writing a
    copy back, AVG's division). Collectives returned with ``async_op=True`` and ``isend``/``irecv`` give one."""

    def __init__(self, requests=(), then=None, result=None):
        self._requests = list(requests)
        self._then = then
        self._result = result
        self._done = False

    def wait(self, timeout=None):
        if not self._done:
            if self._requests:
                _mpi.mpi().Request.Waitall(self._requests)
            self._finish()
        return True

    def is_completed(self):
        if not self._done and (not self._requests or _mpi.mpi().Request.Testall(self._requests)):
            self._finish()
        return self._done

    def is_success(self):
        return self.is_completed()

    def exception(self):
        return None

    def result(self):
        self.wait()
        return list(self._result or [])

    def _finish(self):
        self._done = True
        if self._then is not None:
            self._then()


class ProcessGroup:
    """A set of processes (global ``ranks``) with its MPI communicator (None in processes outside it)."""

    def __init__(self, comm, ranks, backend, group_name=None):
        self._comm = comm
        self._ranks = list(ranks)
        self._backend = backend
        _counts["groups"] += 1
        # PyTorch names groups by creation order ("0" the default group) unless the program names them
        self.group_name = group_name or str(_counts["groups"] - 1)

    def rank(self):
        return self._comm.Get_rank()

    def size(self):
        return len(self._ranks)

    def name(self):
        return self._backend

    def __repr__(self):
        return f"<torsh.distributed.ProcessGroup ranks={self._ranks} backend={self._backend!r}>"


_counts = {"groups": 0}  # process groups created since the last destroy of the default group


class _NonGroupMember:
    def __repr__(self):
        return "<torsh.distributed.GroupMember.NON_GROUP_MEMBER>"


class GroupMember:
    """``GroupMember.WORLD`` (the default group once initialised) and ``NON_GROUP_MEMBER`` (what ``new_group``
    returns to the processes it leaves out)."""
    WORLD = None
    NON_GROUP_MEMBER = _NonGroupMember()


class _WorldAttribute:
    def __get__(self, obj, owner):
        return GroupMember.WORLD


class group:
    """``torch.distributed.group.WORLD``: the default process group (None before ``init_process_group``)."""
    WORLD = _WorldAttribute()


def is_initialized():
    return GroupMember.WORLD is not None


def default_group(group=None):
    """``group``, or the default one; PyTorch's "not initialized" ValueError when there is none."""
    if GroupMember.WORLD is None:
        raise ValueError(NOT_INITIALIZED)
    return GroupMember.WORLD if group is None else group


def in_group(group):
    return group is not GroupMember.NON_GROUP_MEMBER


# ----------------------------------------------------------------------------- init / destroy

def init_process_group(backend=None, init_method=None, timeout=None, world_size=-1, rank=-1, store=None,
                       group_name="", pg_options=None, device_id=None, _ranks=None):
    """Join the default process group: MPI's world (``mpiexec -n N``; a process started alone is a world of
    one). ``backend`` "mpi", "gloo" or None all run on MPI (the name is what ``get_backend`` answers); "nccl"
    needs CUDA and raises as a PyTorch without it. ``init_method`` / ``MASTER_ADDR`` / ``MASTER_PORT`` are not
    needed (MPI finds its peers), but a ``world_size``/``rank`` given here or in ``WORLD_SIZE``/``RANK`` must be
    the ones MPI started this process with."""
    if GroupMember.WORLD is not None:
        raise ValueError("trying to initialize the default process group twice!")
    name = _backend_name(backend)
    if not _mpi.installed():
        raise RuntimeError("torsh.distributed needs mpi4py and an MPI library: pip install 'torsh[distributed]'")
    comm = _mpi.mpi().COMM_WORLD
    _check_launch(comm, world_size, rank)
    GroupMember.WORLD = ProcessGroup(comm, range(comm.Get_size()), name, group_name)


def _backend_name(backend):
    if backend is None:
        return Backend.UNDEFINED  # PyTorch's "cpu:gloo,cuda:nccl" pair, which get_backend() calls so
    name = Backend(backend)
    if name == Backend.NCCL:
        raise RuntimeError("Distributed package doesn't have NCCL built in")
    if name not in (Backend.GLOO, Backend.MPI) and ":" not in name:
        raise AssertionError(f"Unknown backend type {name}")
    return Backend.UNDEFINED if ":" in name else name


def _check_launch(comm, world_size, rank):
    """The world size and rank the program asks for must be MPI's: MPI, not the program, starts the processes."""
    size, mpi_rank = comm.Get_size(), comm.Get_rank()
    if world_size in (-1, None):
        world_size = int(os.environ.get("WORLD_SIZE", size))
    if rank in (-1, None):
        rank = int(os.environ.get("RANK", mpi_rank))
    if world_size != size or rank != mpi_rank:
        raise RuntimeError(
            f"torsh.distributed runs on MPI: world_size={world_size}, rank={rank} was asked for, but MPI started "
            f"this process as rank {mpi_rank} of {size}; launch the program with `mpiexec -n {world_size} "
            f"python ...` (and without setting RANK/WORLD_SIZE)")


def destroy_process_group(group=None):
    """Leave ``group`` (default: the default group, and every group made from it). MPI itself keeps running
    until the process exits, so a later ``init_process_group`` works."""
    if GroupMember.WORLD is None:
        raise AssertionError("Process group cannot be None")
    if group is None or group is GroupMember.WORLD:
        GroupMember.WORLD = None
        _counts["groups"] = 0
    elif in_group(group) and group._comm is not None:
        group._comm.Free()
        group._comm = None


def new_group(ranks=None, timeout=None, backend=None, pg_options=None, use_local_synchronization=False,
              group_desc=None, device_id=None, sort_ranks=True):
    """A group of the given global ranks; every process of the world must call it (MPI splits the world
    communicator). Processes outside ``ranks`` get ``GroupMember.NON_GROUP_MEMBER``."""
    world = default_group()
    world_size = world.size()
    ranks = list(range(world_size)) if ranks is None else list(ranks)
    if len(ranks) > world_size:
        raise ValueError("the new group's world size should be less or equal to the world size set by "
                         "init_process_group")
    for r in ranks:
        if r < 0 or r >= world_size:
            raise ValueError("The new group's rank should be within the world_size set by init_process_group")
    if sort_ranks:
        ranks = sorted(ranks)
    MPI = _mpi.mpi()
    me = world.rank()
    comm = world._comm.Split(0 if me in ranks else MPI.UNDEFINED, ranks.index(me) if me in ranks else 0)
    if me not in ranks:
        _counts["groups"] += 1  # the group exists (and takes its name) in every process
        return GroupMember.NON_GROUP_MEMBER
    return ProcessGroup(comm, ranks, world._backend if backend is None else Backend(backend))


def new_subgroups(group_size=None, group=None, timeout=None, backend=None, pg_options=None, group_desc=None):
    """The group's ranks cut into consecutive subgroups of ``group_size``; returns (this process's subgroup,
    all of them). Every process must call it."""
    if group_size is None:
        raise ValueError("Default group size only takes effect when CUDA is available.If your subgroup using a "
                         "backend that does not depend on CUDA,please pass in 'group_size' correctly.")
    if group_size <= 0:
        raise ValueError(f"The arg 'group_size' ({group_size}) must be positive")
    world_size = get_world_size(group)
    if world_size < group_size:
        raise ValueError(f"The arg 'group_size' ({group_size}) must not exceed the world size ({world_size})")
    if world_size % group_size:
        raise ValueError(f"The world size ({world_size}) must be divisible by '{group_size=}'")
    ranks = get_process_group_ranks(group)
    return new_subgroups_by_enumeration([ranks[i:i + group_size] for i in range(0, len(ranks), group_size)],
                                        timeout=timeout, backend=backend, pg_options=pg_options)


def new_subgroups_by_enumeration(ranks_per_subgroup_list, timeout=None, backend=None, pg_options=None,
                                 group_desc=None):
    """One group per list of global ranks (they must not overlap); returns (this process's subgroup or None,
    all of them). Every process must call it."""
    if not ranks_per_subgroup_list:
        raise ValueError("The arg 'ranks_per_subgroup_list' cannot be empty")
    subgroups, current, owner = [], None, {}
    me = get_rank()
    for ranks in ranks_per_subgroup_list:
        subgroup = new_group(ranks=ranks, timeout=timeout, backend=backend, pg_options=pg_options)
        subgroups.append(subgroup)
        for rank in ranks:
            if rank in owner:
                raise ValueError(f"Rank {rank} has appeared in both subgroup {owner[rank]} and {ranks}")
            owner[rank] = ranks
            if rank == me:
                current = subgroup
    return current, subgroups


# ----------------------------------------------------------------------------- queries

def get_rank(group=None):
    group = default_group(group)
    return group.rank() if in_group(group) else -1


def get_world_size(group=None):
    group = default_group(group)
    return group.size() if in_group(group) else -1


def get_backend(group=None):
    group = default_group(group)
    if not in_group(group):
        raise ValueError("Invalid process group specified")
    return group._backend


def get_backend_config(group=None):
    """PyTorch's device:backend string of the group ("cpu:gloo,cuda:gloo" for "gloo")."""
    group = default_group(group)
    if not in_group(group):
        raise ValueError("Invalid process group specified")
    if group._backend == Backend.UNDEFINED:
        return "cpu:gloo"  # what a CPU-only PyTorch picks for backend=None
    return f"cpu:{group._backend},cuda:{group._backend}"


def get_pg_count():
    return _counts["groups"]


def get_node_local_rank(fallback_rank=None):
    if "LOCAL_RANK" in os.environ:
        return int(os.environ["LOCAL_RANK"])
    if fallback_rank is not None:
        return int(fallback_rank)
    raise RuntimeError(
        "LOCAL_RANK is not in the environment. Consider passing fallback_rank to allow `get_node_local_rank` to "
        "work, assuming you are not running in a multi-device context and want the code to run locally instead.")


def get_process_group_ranks(group):
    return list(default_group(group)._ranks)


def get_group_rank(group, global_rank):
    group = default_group(group)
    if group is GroupMember.WORLD:
        return global_rank
    if global_rank not in group._ranks:
        raise ValueError(f"Global rank {global_rank} is not part of group {group}")
    return group._ranks.index(global_rank)


def get_global_rank(group, group_rank):
    group = default_group(group)
    if group is GroupMember.WORLD:
        return group_rank
    if not 0 <= group_rank < len(group._ranks):
        raise ValueError(f"Group rank {group_rank} is not part of group {group}")
    return group._ranks[group_rank]
