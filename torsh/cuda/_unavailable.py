"""How torch.cuda's functions fail on PyTorch's CPU-only build, one helper per kind of failure."""


def not_compiled(*args, **kwargs):
    """The lazy CUDA init's assertion (current_device, synchronize, get_device_name, ...)."""
    raise AssertionError("Torch not compiled with CUDA enabled")


def no_binding(name):
    """A function whose torch._C binding the CPU build lacks (reset_peak_memory_stats, memory_snapshot, ...)."""
    def missing(*args, **kwargs):
        raise AttributeError(f"module 'torch._C' has no attribute '{name}'")
    return missing


def no_nvml(*args, **kwargs):
    """The NVML queries (utilization, temperature, ...): the nvidia-ml-py module is not there."""
    raise ModuleNotFoundError("nvidia-ml-py does not seem to be installed or it can't be imported.")


class DummyBase:
    """A class the CPU build only declares: constructing it raises (CUDAGraph, MemPool, Event, ...)."""

    _dummy_name = None

    def __init__(self, *args, **kwargs):
        raise RuntimeError(f"Tried to instantiate dummy base class {self._dummy_name or type(self).__name__}")
