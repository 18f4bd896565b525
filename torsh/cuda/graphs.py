"""torch.cuda.graphs: graph capture needs CUDA; the CPU build's classes are dummies."""
from ._unavailable import DummyBase

__all__ = ["is_current_stream_capturing", "graph_pool_handle", "CUDAGraph", "graph", "make_graphed_callables"]


def is_current_stream_capturing():
    raise RuntimeError("Tried to instantiate dummy base class _cuda_isCurrentStreamCapturing")


def graph_pool_handle():
    raise RuntimeError("Tried to instantiate dummy base class _graph_pool_handle")


class CUDAGraph(DummyBase):
    def __new__(cls, keep_graph=False):
        return super().__new__(cls)


class graph:
    def __init__(self, cuda_graph, pool=None, stream=None, capture_error_mode="global"):
        raise RuntimeError("torch.cuda.Stream requires CUDA support")  # PyTorch makes its side stream first


def make_graphed_callables(callables, sample_args, num_warmup_iters=3, allow_unused_input=False, pool=None):
    raise RuntimeError("Tried to instantiate dummy base class _cuda_isCurrentStreamCapturing")
