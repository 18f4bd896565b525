"""torch.cuda.green_contexts: green contexts need CUDA 12.8+."""
from ._unavailable import DummyBase

__all__ = ["GreenContext"]
SUPPORTED = False


class GreenContext(DummyBase):
    pass
