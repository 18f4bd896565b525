"""torch.* settings and process-level names: threads, print options, default device / tensor type, matmul
precision, determinism, warnings, anomaly mode, build facts, the exception classes and the CPU Event / Stream.

Re-exported by ``torsh/__init__.py`` (``from ._settings import *``).
"""
import os
import sys
import warnings

from . import _meta, _meta_array, _tensor_str
from ._dtype import set_default_dtype
from ._storage import StorageBase  # noqa: F401  (torch.StorageBase: UntypedStorage's base)
from ._tensor import LEGACY_TENSOR_TYPES, Tensor, device, require_cpu
from .amp import autocast_mode
from .autograd import anomaly_mode
from .autograd.anomaly_mode import is_anomaly_check_nan_enabled, is_anomaly_enabled
from .backend import threads

__all__ = ["get_num_threads", "set_num_threads", "get_num_interop_threads", "set_num_interop_threads",
           "init_num_threads", "set_printoptions", "set_default_device", "get_default_device",
           "set_float32_matmul_precision", "get_float32_matmul_precision", "use_deterministic_algorithms",
           "are_deterministic_algorithms_enabled", "is_deterministic_algorithms_warn_only_enabled",
           "set_deterministic_debug_mode", "get_deterministic_debug_mode", "set_default_tensor_type",
           "set_warn_always", "is_warn_always_enabled", "set_anomaly_enabled", "is_anomaly_enabled",
           "is_anomaly_check_nan_enabled", "set_flush_denormal", "set_autocast_gpu_dtype", "has_lapack", "has_mkl", "has_openmp",
           "has_spectral", "compiled_with_cxx11_abi", "get_device", "get_device_module", "thread_safe_generator", "USE_GLOBAL_DEPS",
           "USE_RTLD_GLOBAL_WITH_LIBTORCH", "AcceleratorError", "OutOfMemoryError", "FatalError", "Event",
           "Stream", "DisableTorchFunction", "DisableTorchFunctionSubclass", "StorageBase", "PRIVATE_OPS"]

# -- threads ----------------------------------------------------------------------------------------


def get_num_threads():
    return threads.get_num_threads()


def set_num_threads(n):
    threads.set_num_threads(n)


_interop_threads = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def get_num_interop_threads():
    """The size of PyTorch's inter-op pool (one thread per core by default); torsh runs ops one after another."""
    return _interop_threads


def set_num_interop_threads(n):
    """Recorded for ``get_num_interop_threads``: torsh has no inter-op pool to size."""
    global _interop_threads
    if n < 1:
        raise RuntimeError("set_num_interop_threads expects a positive integer")
    _interop_threads = n


def init_num_threads():
    """Nothing to do: torsh's thread settings apply from the first call (PyTorch initialises OpenMP here)."""


# -- printing, defaults, precision, determinism --------------------------------------------------------


def set_printoptions(precision=None, threshold=None, edgeitems=None, linewidth=None, profile=None, sci_mode=None):
    if profile == "default":
        precision, threshold, edgeitems, linewidth = 4, 1000, 3, 80
    for name, value in (("PRECISION", precision), ("THRESHOLD", threshold), ("EDGEITEMS", edgeitems),
                        ("LINEWIDTH", linewidth)):
        if value is not None:
            setattr(_tensor_str, name, value)


_default_device = None


def set_default_device(device_):
    """The CPU or the meta device (None: the CPU); another device raises what PyTorch raises on its first use
    there (AssertionError "Torch not compiled with CUDA enabled")."""
    global _default_device
    if device_ is not None and not _meta.is_meta_device(device_):
        device_ = require_cpu(device_)
    _default_device = None if device_ is None else device(device_)
    _meta_array.set_default(_default_device)


def get_default_device():
    if _meta_array.default_device is not None:
        return _meta_array.default_device
    return _default_device if _default_device is not None and _default_device.type == "cpu" else device("cpu")


_float32_matmul_precision = "highest"


def set_float32_matmul_precision(precision):
    """Recorded for ``get_float32_matmul_precision``; torsh's float32 products always run in full precision."""
    global _float32_matmul_precision
    if precision not in ("highest", "high", "medium"):
        warnings.warn(f"{precision} is not one of 'highest', 'high', or 'medium'; the "
                      "currentsetFloat32MatmulPrecision call has no effect.", UserWarning, stacklevel=2)
        return
    _float32_matmul_precision = precision


def get_float32_matmul_precision():
    return _float32_matmul_precision


_deterministic = {"mode": False, "warn_only": False}


def use_deterministic_algorithms(mode, *, warn_only=False):
    """Recorded only: every torsh kernel is deterministic already."""
    _deterministic.update(mode=bool(mode), warn_only=bool(warn_only))


def are_deterministic_algorithms_enabled():
    return _deterministic["mode"]


def is_deterministic_algorithms_warn_only_enabled():
    return _deterministic["warn_only"]


def set_deterministic_debug_mode(debug_mode):
    """0 / "default", 1 / "warn", 2 / "error": as use_deterministic_algorithms(off / warn_only / on)."""
    mode = {"default": 0, "warn": 1, "error": 2}.get(debug_mode, debug_mode)
    use_deterministic_algorithms(mode != 0, warn_only=mode == 1)


def get_deterministic_debug_mode():
    if not _deterministic["mode"]:
        return 0
    return 1 if _deterministic["warn_only"] else 2


def set_default_tensor_type(t):
    """Deprecated in PyTorch 2.1: sets the default dtype from a legacy type (torch.DoubleTensor or its name)."""
    warnings.warn("torch.set_default_tensor_type() is deprecated as of PyTorch 2.1, please use "
                  "torch.set_default_dtype() and torch.set_default_device() as alternatives.", UserWarning,
                  stacklevel=2)
    name = t if isinstance(t, str) else f"torch.{t.__name__}" if not getattr(t, "is_cuda", False) else \
        f"torch.cuda.{t.__name__}"
    if name.startswith("torch.cuda."):
        raise TypeError(f"type {name} not available. Torch not compiled with CUDA enabled.")
    legacy = LEGACY_TENSOR_TYPES[name.split(".")[-1]]
    if not legacy.dtype.is_floating_point:
        raise TypeError("only floating-point types are supported as the default type")
    set_default_dtype(legacy.dtype)


# -- warnings and anomaly mode --------------------------------------------------------------------------
_warn_always = False


def set_warn_always(b):
    """Recorded: PyTorch then repeats its warn-once warnings; torsh's warnings follow Python's filters."""
    global _warn_always
    _warn_always = bool(b)


def is_warn_always_enabled():
    return _warn_always


def set_anomaly_enabled(enabled, check_nan=True):
    """torch.autograd.set_detect_anomaly without the context manager."""
    anomaly_mode._enabled, anomaly_mode._check_nan = bool(enabled), bool(check_nan)


def set_autocast_gpu_dtype(dtype):
    """The dtype a CUDA autocast region would use (read back by ``get_autocast_gpu_dtype``)."""
    autocast_mode.set_autocast_dtype("cuda", dtype)


# -- build and process facts ------------------------------------------------------------------------------


def set_flush_denormal(mode):
    """True, as PyTorch on an x86 CPU with SSE3. NumPy gives torsh no control of the FPU's denormal mode, so
    subnormal values are kept either way."""
    return True


has_lapack = True     # NumPy / SciPy LAPACK behind torsh.linalg
has_mkl = False       # OpenBLAS, not MKL
has_openmp = True     # the compiled kernels' parallel variants
has_spectral = True   # NumPy's FFT behind torsh.fft
USE_GLOBAL_DEPS = True
USE_RTLD_GLOBAL_WITH_LIBTORCH = False
PRIVATE_OPS = ("unique_dim",)


def compiled_with_cxx11_abi():
    return True


def get_device(input):
    """-1: every torsh tensor lives on the CPU."""
    if not isinstance(input, Tensor):
        raise TypeError(f"get_device(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")
    return -1


def get_device_module(device_=None):
    """The ``torsh.<type>`` module of a device: ``torsh.cpu`` for the CPU (and for None), ``torsh.cuda``."""
    if device_ is None:
        name = "cpu"
    elif isinstance(device_, (str, device)):
        name = device_.split(":")[0] if isinstance(device_, str) else device_.type
    else:
        raise RuntimeError(f"Invalid value of device '{device_}', expect torch.device, str, or None")
    module = sys.modules.get(f"torsh.{name}")
    if module is None:
        device(device_)  # an unknown device type raises PyTorch's parse error here
        raise RuntimeError(f"Device '{name}' does not have a corresponding module registered as 'torch.{name}'.")
    return module


def thread_safe_generator():
    """None outside DataLoader thread workers (torsh's workers are processes): the global generator is used."""
    return None


# -- exceptions -------------------------------------------------------------------------------------------


class AcceleratorError(RuntimeError):
    """An accelerator runtime failure (never raised by the CPU-only torsh)."""


class OutOfMemoryError(RuntimeError):
    """An allocation that did not fit (torch.OutOfMemoryError, as torch.cuda.OutOfMemoryError)."""


class FatalError(Exception):
    pass


for _cls in (AcceleratorError, OutOfMemoryError, FatalError):
    _cls.__module__ = "torsh"


# -- CPU Event and Stream -----------------------------------------------------------------------------


def _cpu_only(device_type):
    d = device(device_type or "cpu")
    if d.type != "cpu":
        raise RuntimeError(f"PyTorch is not linked with support for {d.type} devices")
    return d


class Event:
    """torch.Event on the CPU: created and queried; recording is refused as PyTorch's cpu backend does."""

    def __init__(self, device=None, *, enable_timing=False, blocking=False, interprocess=False):
        self.device = _cpu_only(device)
        self._flag = int(bool(enable_timing))
        self.event_id = 0

    def query(self):
        return True

    def record(self, stream=None):
        raise RuntimeError("cpu backend doesn't support events.")

    def wait(self, stream=None):
        raise RuntimeError("cpu backend doesn't support events.")

    def synchronize(self):
        return None

    def elapsed_time(self, end_event):
        if not (self._flag and end_event._flag):
            raise ValueError("Both events must be created with argument 'enable_timing=True'.")
        raise ValueError("Both events must be recorded before calculating elapsed time.")

    def ipc_handle(self):
        raise RuntimeError("cpu backend doesn't support events.")

    def __repr__(self):
        return (f"torch.Event device_type=cpu, device_index=-1, event_flag={self._flag}, "
                f"event_id={self.event_id}")


class Stream:
    """torch.Stream on the CPU: the one (default) stream, on which all work is already complete."""

    def __init__(self, device=None, *, priority=0):
        self.device = _cpu_only(device)
        self.device_type, self.device_index, self.stream_id = "cpu", -1, 0

    def query(self):
        return True

    def synchronize(self):
        return None

    def wait_event(self, event):
        return None

    def wait_stream(self, stream):
        return None

    def record_event(self, event=None):
        raise RuntimeError("cpu backend doesn't support events.")

    def is_capturing(self):
        return False

    def __eq__(self, other):
        return isinstance(other, Stream)

    def __hash__(self):
        return hash(("cpu stream", 0))

    def __repr__(self):
        return "torch.Stream device_type=cpu, device_index=-1, stream_id=0"


Event.__module__ = Stream.__module__ = "torsh"


# -- torch-function and storage placeholders ------------------------------------------------------------------


class DisableTorchFunction:
    """Context manager: PyTorch stops calling ``__torch_function__`` overrides inside it; torsh never calls them."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


class DisableTorchFunctionSubclass(DisableTorchFunction):
    """As DisableTorchFunction, for Tensor subclasses only."""


