"""torch.cuda.memory on a CPU build: the counters read 0 and the stats are empty, as PyTorch's without CUDA;
what needs the caching allocator raises as there."""
import collections
import contextlib

from ._unavailable import DummyBase, no_binding, not_compiled

__all__ = ["caching_allocator_alloc", "caching_allocator_delete", "caching_allocator_disabled",
           "caching_allocator_enable", "get_per_process_memory_fraction", "set_per_process_memory_fraction",
           "empty_cache", "memory_stats", "memory_stats_as_nested_dict", "reset_accumulated_memory_stats",
           "reset_peak_memory_stats", "reset_max_memory_allocated", "reset_max_memory_cached", "host_memory_stats",
           "host_memory_stats_as_nested_dict", "reset_accumulated_host_memory_stats", "reset_peak_host_memory_stats",
           "memory_allocated", "max_memory_allocated", "memory_reserved", "max_memory_reserved", "memory_cached",
           "max_memory_cached", "memory_snapshot", "memory_summary", "list_gpu_processes", "mem_get_info",
           "get_allocator_backend", "CUDAPluggableAllocator", "change_current_allocator", "MemPool", "use_mem_pool"]


def caching_allocator_alloc(size, device=None, stream=None):
    not_compiled()


caching_allocator_delete = no_binding("_cuda_cudaCachingAllocator_raw_delete")


@contextlib.contextmanager
def caching_allocator_disabled():
    no_binding("_cuda_cudaCachingAllocator_is_enabled")()
    yield


def caching_allocator_enable(value=True):
    return None


def get_per_process_memory_fraction(device=None):
    not_compiled()


def set_per_process_memory_fraction(fraction, device=None):
    not_compiled()


def empty_cache():
    """Nothing cached (PyTorch returns quietly when CUDA was never initialised)."""


def memory_stats(device=None):
    return collections.OrderedDict()


def memory_stats_as_nested_dict(device=None):
    return {}


def host_memory_stats():
    return collections.OrderedDict()


def host_memory_stats_as_nested_dict():
    return {}


reset_accumulated_memory_stats = no_binding("_cuda_resetAccumulatedMemoryStats")
reset_peak_memory_stats = no_binding("_cuda_resetPeakMemoryStats")
reset_max_memory_allocated = no_binding("_cuda_resetPeakMemoryStats")
reset_max_memory_cached = no_binding("_cuda_resetPeakMemoryStats")
reset_accumulated_host_memory_stats = no_binding("_cuda_resetAccumulatedHostMemoryStats")
reset_peak_host_memory_stats = no_binding("_cuda_resetPeakHostMemoryStats")
memory_snapshot = no_binding("_cuda_memorySnapshot")
get_allocator_backend = no_binding("_cuda_getAllocatorBackend")


def memory_allocated(device=None):
    return 0


def max_memory_allocated(device=None):
    return 0


def memory_reserved(device=None):
    return 0


def max_memory_reserved(device=None):
    return 0


def memory_cached(device=None):
    return 0


def max_memory_cached(device=None):
    return 0


def memory_summary(device=None, abbreviated=False):
    raise KeyError("allocated_bytes.all.current")  # PyTorch formats its (empty) stats and misses this key


def list_gpu_processes(device=None):
    return "pynvml module not found, please install nvidia-ml-py"


def mem_get_info(device=None):
    not_compiled()


class CUDAPluggableAllocator:
    def __init__(self, path_to_so_file, alloc_fn_name, free_fn_name):
        import ctypes
        ctypes.CDLL(path_to_so_file)  # PyTorch loads the library first (OSError when it is not there)
        not_compiled()


def change_current_allocator(allocator):
    no_binding("_cuda_changeCurrentAllocator")()


class MemPool(DummyBase):
    pass


@contextlib.contextmanager
def use_mem_pool(pool, device=None):
    not_compiled()
    yield
