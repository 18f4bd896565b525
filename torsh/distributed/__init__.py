"""torch.distributed before its backend: the queries programs make before deciding to go distributed.

torsh's process groups will run on MPI (mpi4py); until that backend exists ``is_available()`` is False, as in a
PyTorch built without distributed support, and the calls that need a process group raise PyTorch's
"not initialized" error. ``is_initialized()`` answers False so the usual guard ``if dist.is_available() and
dist.is_initialized():`` and its unguarded form both take the single-process path.
"""

__all__ = ["get_rank", "get_world_size", "init_process_group", "is_available", "is_initialized",
           "is_torchelastic_launched"]

_NOT_INITIALIZED = "Default process group has not been initialized, please make sure to call init_process_group."


def is_available():
    return False


def is_initialized():
    return False


def is_torchelastic_launched():
    return False


def get_rank(group=None):
    raise ValueError(_NOT_INITIALIZED)


def get_world_size(group=None):
    raise ValueError(_NOT_INITIALIZED)


def init_process_group(backend=None, init_method=None, timeout=None, world_size=-1, rank=-1, store=None,
                       group_name="", pg_options=None, device_id=None):
    raise RuntimeError("torsh.distributed has no process-group backend yet (is_available() is False): run the "
                       "program in a single process")
