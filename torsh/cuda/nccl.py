"""torch.cuda.nccl: no NCCL in a CPU build."""
from ._unavailable import no_binding

__all__ = ["all_reduce", "reduce", "broadcast", "all_gather", "reduce_scatter"]
SUM = 0


def is_available(tensors):
    return False


version = no_binding("_nccl_version")
unique_id = no_binding("_nccl_unique_id")
init_rank = no_binding("_nccl_init_rank")


def all_reduce(inputs, outputs=None, op=SUM, streams=None, comms=None):
    no_binding("_nccl_all_reduce")()


def reduce(inputs, output=None, root=0, op=SUM, streams=None, comms=None, *, outputs=None):
    no_binding("_nccl_reduce")()


def broadcast(inputs, root=0, streams=None, comms=None):
    no_binding("_nccl_broadcast")()


def all_gather(inputs, outputs, streams=None, comms=None):
    no_binding("_nccl_all_gather")()


def reduce_scatter(inputs, outputs, op=SUM, streams=None, comms=None):
    no_binding("_nccl_reduce_scatter")()
