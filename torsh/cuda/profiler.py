"""torch.cuda.profiler: starting the CUDA profiler needs CUDA."""
import contextlib

from ._unavailable import not_compiled

__all__ = ["start", "stop", "profile"]
DEFAULT_FLAGS = ["gpustarttimestamp", "gpuendtimestamp", "gridsize3d", "threadblocksize", "streamid",
                 "enableonstart 0", "conckerneltrace"]


def start():
    not_compiled()


def stop():
    not_compiled()


@contextlib.contextmanager
def profile():
    start()
    try:
        yield
    finally:
        stop()
