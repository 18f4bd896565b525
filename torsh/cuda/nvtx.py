"""torch.cuda.nvtx: the NVTX markers are not in a CPU build."""
import contextlib

__all__ = ["mark", "range", "range_end", "range_pop", "range_push", "range_start"]


def _missing(*args, **kwargs):
    raise RuntimeError("NVTX functions not installed. Are you sure you have a CUDA build?")


def range_push(msg):
    _missing()


def range_pop():
    _missing()


def range_start(msg):
    raise AttributeError("'_NVTXStub' object has no attribute 'rangeStartA'")


def range_end(range_id):
    raise AttributeError("'_NVTXStub' object has no attribute 'rangeEnd'")


def mark(msg):
    _missing()


@contextlib.contextmanager
def range(msg, *args, **kwargs):
    range_push(msg.format(*args, **kwargs))
    try:
        yield
    finally:
        range_pop()
