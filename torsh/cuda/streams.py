"""torch.cuda.streams: Stream and Event cannot be built without CUDA (PyTorch's CPU build raises the same)."""
from ._unavailable import DummyBase

__all__ = ["Event", "ExternalStream", "Stream"]


class Stream:
    def __new__(cls, device=None, priority=0, **kwargs):
        raise RuntimeError("torch.cuda.Stream requires CUDA support")


class ExternalStream(Stream):
    def __new__(cls, stream_ptr, device=None, **kwargs):
        raise RuntimeError("torch.cuda.Stream requires CUDA support")


class Event(DummyBase):
    def __init__(self, enable_timing=False, blocking=False, interprocess=False, external=False):
        super().__init__()
