"""torch.cuda's answers on a CPU-only framework, so device-selection code runs unchanged:
``device = "cuda" if torch.cuda.is_available() else "cpu"`` picks "cpu".

As in PyTorch without a GPU, seeding is accepted and ignored (it is lazy there too); anything that
needs a device raises.
"""

import contextlib
import typing
from typing import Any, Callable, NewType, Optional, cast  # noqa: F401  (PyTorch's module exposes these names)

from .._storage import LEGACY_STORAGE_TYPES
from ._unavailable import no_binding, no_nvml, not_compiled

__all__ = ["is_available", "device_count", "is_initialized", "init", "manual_seed", "manual_seed_all", "seed",
           "seed_all", "initial_seed", "get_rng_state", "get_rng_state_all", "set_rng_state", "set_rng_state_all",
           "current_device", "set_device", "synchronize", "empty_cache", "memory_allocated", "max_memory_allocated",
           "memory_reserved", "max_memory_reserved", "memory_stats", "device", "device_of", "stream", "Stream",
           "Event", "StreamContext", "is_bf16_supported", "is_tf32_supported", "get_device_name",
           "get_device_capability", "get_device_properties", "get_arch_list", "OutOfMemoryError"]

TYPE_CHECKING = False
Device = typing.Union["torsh.device", str, int, None]  # noqa: F821  (torch.cuda.Device, an annotation alias)
has_half = True
has_magma = False
default_generators = ()  # one generator per device: none
PYTORCH_RELEASES_CODE_CC = {}
DEVICE_REQUIREMENT = {}


def is_available():
    return False


def device_count():
    return 0


def is_initialized():
    return False


def _is_compiled():
    return False


def is_bf16_supported(including_emulation=True):
    return False


def is_tf32_supported():
    return False


def get_arch_list():
    return []


def get_gencode_flags():
    return ""


# what needs the device raises PyTorch's "Torch not compiled with CUDA enabled" AssertionError
init = cudart = current_blas_handle = current_solver_handle = ipc_collect = not_compiled


def current_device():
    not_compiled()


def synchronize(device=None):
    not_compiled()


def current_stream(device=None):
    not_compiled()


def default_stream(device=None):
    not_compiled()


def get_device_capability(device=None):
    not_compiled()


def get_device_name(device=None):
    not_compiled()


def get_device_properties(device=None):
    not_compiled()


def get_sync_debug_mode():
    not_compiled()


def set_sync_debug_mode(debug_mode):
    not_compiled()


def can_device_access_peer(device, peer_device):
    not_compiled()


def get_stream_from_external(data_ptr, device=None):
    not_compiled()


def set_device(device):
    """As PyTorch: a negative index is a no-op, a non-CUDA device a ValueError, anything else needs CUDA."""
    index = _device_index(device)
    if index >= 0:
        no_binding("_cuda_setDevice")()


def _device_index(device, optional=True):
    if isinstance(device, str):
        from .._tensor import device as _device
        device = _device(device) if ":" in device or not device.isdigit() else int(device)
    if hasattr(device, "type") and hasattr(device, "index"):
        if device.type != "cuda":
            raise ValueError(f"Expected a cuda device, but got: {device}")
        return -1 if device.index is None else device.index
    if device is None:
        return -1 if optional else not_compiled()
    return int(device)


def set_stream(stream):
    if stream is None:
        return None
    not_compiled()


# NVML queries (utilization, temperature, ...): the nvidia-ml-py module is missing, as on the CPU wheel
utilization = temperature = power_draw = clock_rate = memory_usage = device_memory_used = no_nvml


class device:
    """torch.cuda.device(idx): a context manager that switches the current CUDA device (a negative or None
    index does nothing; anything else needs CUDA)."""

    def __init__(self, device):
        self.idx = _device_index(device, optional=True)
        self.prev_idx = -1

    def __enter__(self):
        if self.idx == -1:
            return None
        raise RuntimeError("PyTorch was compiled without CUDA support")

    def __exit__(self, *exc):
        return False


class device_of(device):
    """torch.cuda.device_of(tensor): the device of a CUDA tensor, a no-op for a CPU one."""

    def __init__(self, obj):
        super().__init__(-1)


class StreamContext:
    """torch.cuda.StreamContext(stream): None (no stream) makes it a no-op."""

    def __init__(self, stream):
        self.stream = stream
        if stream is not None:
            not_compiled()

    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


def stream(stream):
    return StreamContext(stream)


def check_error(res):
    raise AttributeError("'NoneType' object has no attribute 'cudaError'")


class cudaStatus:
    SUCCESS = 0
    ERROR_NOT_READY = 34


class CudaError(RuntimeError):
    def __init__(self, code):
        raise AttributeError("'NoneType' object has no attribute 'cudaGetErrorString'")


class DeferredCudaCallError(Exception):
    pass


class OutOfMemoryError(RuntimeError):
    """torch.OutOfMemoryError (torch.cuda.OutOfMemoryError): never raised on the CPU; catchable."""


OutOfMemoryError.__module__ = "torsh"


class AcceleratorError(RuntimeError):
    """torch.AcceleratorError: an accelerator's runtime error (there is none here)."""


AcceleratorError.__module__ = "torsh"


class _CudaTensorType(type):
    """torch.cuda.FloatTensor & co: no tensor is one, and building one raises as CPU-only PyTorch does."""

    def __instancecheck__(cls, obj):
        return False

    def __call__(cls, *args, **kwargs):
        prefix = getattr(cls, "_prefix", "torch.cuda.")
        raise TypeError(f"type {prefix}{cls.__name__} not available. Torch not compiled with CUDA enabled.")


def _cuda_tensor_types(sparse=False):
    from .._tensor import LEGACY_TENSOR_TYPES
    names = ("DoubleTensor", "FloatTensor", "HalfTensor", "BFloat16Tensor", "LongTensor", "IntTensor", "ShortTensor",
             "CharTensor", "ByteTensor")
    types = {name: _CudaTensorType(name, (), {"dtype": legacy.dtype, "is_cuda": True, "is_sparse": sparse,
                                              "__module__": "torsh.cuda.sparse" if sparse else "torsh.cuda"})
             for name, legacy in LEGACY_TENSOR_TYPES.items() if not sparse or name in names}
    if sparse:
        for cls in types.values():
            cls.__qualname__ = cls.__name__
            cls._prefix = "torch.cuda.sparse."
    return types


class _CudaStorageType(type):
    """torch.cuda.FloatStorage & co: no storage is one; building one needs CUDA."""

    def __instancecheck__(cls, obj):
        return False

    def __call__(cls, *args, **kwargs):
        not_compiled()


def _cuda_storage_types():
    return {legacy.__name__: _CudaStorageType(legacy.__name__, (), {"dtype": dtype, "is_cuda": True})
            for dtype, legacy in LEGACY_STORAGE_TYPES.items() if not legacy.__name__.startswith("Q")}


globals().update(_cuda_tensor_types())  # torch.cuda.FloatTensor, LongTensor, ... (as torsh.FloatTensor's list)
globals().update(_cuda_storage_types())  # torch.cuda.FloatStorage, ... (as torsh.FloatStorage's list)
from . import amp, gds, graphs, green_contexts, jiterator, memory, nccl, nvtx, profiler, random, sparse, streams  # noqa: E402,F401,E501
from . import tunable  # noqa: E402,F401
from .graphs import CUDAGraph, graph, graph_pool_handle, is_current_stream_capturing, make_graphed_callables  # noqa: E402,F401,E501
from .memory import *  # noqa: E402,F401,F403  (memory_allocated -> 0, memory_stats -> {}, empty_cache, ...)
from .random import *  # noqa: E402,F401,F403  (manual_seed & co: accepted and ignored)
from .streams import Event, ExternalStream, Stream  # noqa: E402,F401
from .green_contexts import GreenContext  # noqa: E402,F401
