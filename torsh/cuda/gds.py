"""torch.cuda.gds: GPUDirect Storage needs CUDA."""
from ._unavailable import no_binding

__all__ = ["gds_register_buffer", "gds_deregister_buffer", "GdsFile"]


def gds_register_buffer(s):
    no_binding("_gds_register_buffer")()


def gds_deregister_buffer(s):
    no_binding("_gds_deregister_buffer")()


class GdsFile:
    def __init__(self, filename, flags):
        no_binding("_gds_register_handle")()
