"""torsh: a PyTorch-compatible deep-learning framework for CPUs, built to be watched while it works.

``import torsh as torch`` runs ordinary PyTorch tensor and autograd code. Documented
differences from PyTorch: CPU only; random streams are reproducible but not PyTorch's bits;
no separate inference tensors (``inference_mode`` behaves like ``no_grad``).
"""
import builtins as _builtins
import numbers as _numbers
import warnings as _warnings

# PyTorch computes inf/nan silently; NumPy warns ("divide by zero encountered") on the same
# arithmetic. Warnings raised inside torsh's own modules are silenced, the user's NumPy code keeps its own.
_warnings.filterwarnings("ignore", category=RuntimeWarning, module=r"torsh(\.|$)")

from . import _dtype  # noqa: E402
from ._dtype import (bfloat16, bool, cdouble, cfloat, complex64, complex128, double, dtype, float, float16,
                     float32, float64, get_default_dtype, half, int, int8, int16, int32, int64, long, promote_types,
                     set_default_dtype, short, uint8, can_cast)
from ._tensor import Size, Tensor, device
from .backend import kernels as _kernels  # loads the compiled kernels (ImportError under TORSH_REQUIRE_KERNELS=1)
from . import _ops
from ._ops import conversion as _conversion, creation as _creation, indexing as _indexing, linalg as _linalg
from ._ops import pointwise as _pointwise, reduction as _reduction, shape as _shape
from ._ops.creation import (arange, as_tensor, asarray, empty, empty_like, eye, from_dlpack, from_numpy, full,
                            full_like, linspace, logspace, normal, ones, ones_like, rand, rand_like, randint,
                            randint_like, randn, randn_like, randperm, tensor, zeros, zeros_like)
from ._ops.pointwise import *  # noqa: F401,F403  (elementwise ops: add, exp, where, clamp, ...; see its __all__)
from ._ops.reduction import (all, amax, amin, any, argmax, argmin, count_nonzero, logsumexp, max, mean, min, norm,
                             prod, std, std_mean, sum, var, var_mean)
from ._ops.shape import (adjoint, cat, chunk, clone, concat, concatenate, flatten, movedim, moveaxis, narrow, permute, reshape, select, split, squeeze, stack,
                         swapaxes, swapdims, t, transpose, unbind, unflatten, unsqueeze)
from ._ops.linalg import bmm, dot, ger, matmul, mm, mv, outer
from ._ops.indexing import argwhere, masked_fill, nonzero
from ._random import Generator, default_generator, get_rng_state, initial_seed, manual_seed, seed, set_rng_state
from . import autograd
from .autograd import enable_grad, inference_mode, is_grad_enabled, is_inference_mode_enabled, no_grad, set_grad_enabled
from . import backends
from ._compile import compile
from ._ops.surface import *  # noqa: F401,F403  (gather/scatter, scans, einsum, more shape and elementwise ops)
from . import cuda, fft, linalg, special  # noqa: E402  (torch.cuda answers "no GPU"; torch.fft / linalg / special)
from .serialization import load, save
from . import optim, utils
from . import profiler  # torch.profiler: profile, record_function, schedule
from . import viz  # notebook views: autograd graph JSON (docs/schemas/README.md)
from ._memory_api import *  # noqa: F401,F403  (memory_allocated, max_memory_allocated, memory_stats, ...)

__version__ = "0.1.0"


def result_type(tensor1, tensor2):
    """The dtype PyTorch's promotion gives ``tensor1 op tensor2`` (tensors or scalars)."""
    return _dtype.result_type_of(tensor1, tensor2)


def is_tensor(obj):
    return isinstance(obj, Tensor)


def is_floating_point(input):
    return input.dtype.is_floating_point


def is_complex(input):
    return input.dtype.is_complex


def numel(input):
    return input.numel()


def detach(input):
    return input.detach()


def set_printoptions(precision=None, threshold=None, edgeitems=None, linewidth=None, profile=None, sci_mode=None):
    from . import _tensor_str
    if profile == "default":
        precision, threshold, edgeitems, linewidth = 4, 1000, 3, 80
    for name, value in (("PRECISION", precision), ("THRESHOLD", threshold), ("EDGEITEMS", edgeitems),
                        ("LINEWIDTH", linewidth)):
        if value is not None:
            setattr(_tensor_str, name, value)


def broadcast_shapes(*shapes):
    """The shape tensors of these shapes broadcast to, checked as PyTorch's ``_broadcast_shapes`` does (an int
    is a 1-d shape; ``int`` and ``max`` here are torsh's, hence numbers.Integral and builtins.max)."""
    shapes = [(s,) if isinstance(s, _numbers.Integral) else s for s in shapes if s is not None]
    for shape in shapes:
        if not isinstance(shape, (tuple, list)):
            raise RuntimeError(f"Input shapes should be of type ints, a tuple of ints, or a list of ints, got {shape}")
    common = [1] * _builtins.max((len(shape) for shape in shapes), default=0)
    for arg, shape in enumerate(shapes):
        for i in range(-1, -1 - len(shape), -1):
            if shape[i] == common[i]:
                continue
            if common[i] == 1:
                if shape[i] < 0:
                    raise ValueError("Attempting to broadcast a dimension with negative length!")
                common[i] = shape[i]
            elif shape[i] != 1:
                raise RuntimeError(f"Attempting to broadcast a dimension of length {shape[i]} at {i}! Mismatching "
                                   f"argument at index {arg} had {shape}; but expected shape should be broadcastable "
                                   f"to {common}")
    return Size(common)


def get_num_threads():
    from .backend import threads
    return threads.get_num_threads()


def set_num_threads(n):
    from .backend import threads
    threads.set_num_threads(n)


strided = "torsh.strided"
contiguous_format = preserve_format = channels_last = None

# -- the top-level names every codebase reaches for ----------------------------------------------------
import math as _math  # noqa: E402

pi, e, inf, nan = _math.pi, _math.e, _math.inf, _math.nan
newaxis = None
from ._type_info import finfo, iinfo  # noqa: E402
from ._tensor import LEGACY_TENSOR_TYPES as _LEGACY_TENSOR_TYPES  # noqa: E402

# torch.FloatTensor, DoubleTensor, HalfTensor, BFloat16Tensor, LongTensor, IntTensor, ShortTensor, CharTensor,
# ByteTensor, BoolTensor: the legacy typed constructors (and isinstance checks)
globals().update(_LEGACY_TENSOR_TYPES)


def typename(obj):
    """'torch.FloatTensor' for a tensor (as ``x.type()``), the qualified class name otherwise."""
    if isinstance(obj, Tensor):
        return obj.type()
    module = type(obj).__module__
    return type(obj).__qualname__ if module in ("builtins", None) else f"{module}.{type(obj).__qualname__}"


def is_storage(obj):
    """False: torsh has no storage objects (``untyped_storage()`` hands out the NumPy buffer)."""
    return False


_default_device = None


def set_default_device(device):
    """Only the CPU exists: 'cpu' (or None) is accepted, any other device raises as ``torsh.device`` does."""
    global _default_device
    _default_device = None if device is None else globals()["device"](device)


def get_default_device():
    return _default_device if _default_device is not None else globals()["device"]("cpu")


_float32_matmul_precision = "highest"


def set_float32_matmul_precision(precision):
    """Recorded for ``get_float32_matmul_precision``; torsh's float32 products always run in full precision."""
    global _float32_matmul_precision
    if precision not in ("highest", "high", "medium"):
        _warnings.warn(f"{precision} is not one of 'highest', 'high', or 'medium'; the "
                       "currentsetFloat32MatmulPrecision call has no effect.", UserWarning, stacklevel=2)
        return
    _float32_matmul_precision = precision


def get_float32_matmul_precision():
    return _float32_matmul_precision


_deterministic = {"mode": False, "warn_only": False}


def use_deterministic_algorithms(mode, *, warn_only=False):
    """Recorded only: every torsh kernel is deterministic already."""
    _deterministic.update(mode=not not mode, warn_only=not not warn_only)  # (bool is torsh.bool here)


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
    _warnings.warn("torch.set_default_tensor_type() is deprecated as of PyTorch 2.1, please use "
                   "torch.set_default_dtype() and torch.set_default_device() as alternatives.", UserWarning,
                   stacklevel=2)
    name = t if isinstance(t, str) else f"torch.{t.__name__}" if not getattr(t, "is_cuda", False) else \
        f"torch.cuda.{t.__name__}"
    if name.startswith("torch.cuda."):
        raise TypeError(f"type {name} not available. Torch not compiled with CUDA enabled.")
    legacy = _LEGACY_TENSOR_TYPES[name.split(".")[-1]]
    if not legacy.dtype.is_floating_point:
        raise TypeError("only floating-point types are supported as the default type")
    set_default_dtype(legacy.dtype)
from . import nn  # noqa: E402  (torch.nn: modules, functional, init)
from . import distributions  # noqa: E402  (torch.distributions; needs nn.functional)
from . import accelerator, multiprocessing  # noqa: E402,F401  (torch.accelerator: none; torch.multiprocessing)

# torch.<name> for the nn.functional ops PyTorch also has at top level with the same leading arguments
# (torch.dropout(x, p, train), torch.conv2d(x, w, b, stride, ...), torch.layer_norm(x, shape, w, b, eps))
for _name in ("conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d", "layer_norm",
              "group_norm", "dropout", "alpha_dropout", "feature_alpha_dropout", "pixel_shuffle", "pixel_unshuffle",
              "prelu", "selu", "celu", "threshold", "hardshrink", "rrelu", "max_pool1d", "max_pool2d", "max_pool3d",
              "avg_pool1d", "adaptive_avg_pool1d", "cosine_similarity", "pairwise_distance", "pdist",
              "channel_shuffle", "bilinear"):
    globals()[_name] = getattr(nn.functional, _name)
from . import testing  # noqa: E402  (torch.testing: assert_close, make_tensor)
from . import amp, cpu  # noqa: E402,F401  (torch.amp: CPU autocast, GradScaler; torch.cpu.amp)
from .func import vmap  # noqa: E402,F401  (torch.func: grad, vmap, jacrev, functional_call, ...; torch.vmap)
from .amp.autocast_mode import (autocast, autocast_decrement_nesting, autocast_increment_nesting,  # noqa: E402,F401
                                clear_autocast_cache, get_autocast_cpu_dtype, get_autocast_dtype,
                                get_autocast_gpu_dtype, is_autocast_cache_enabled, is_autocast_cpu_enabled,
                                is_autocast_enabled, set_autocast_cache_enabled, set_autocast_cpu_dtype,
                                set_autocast_cpu_enabled, set_autocast_dtype, set_autocast_enabled)
from . import hub  # noqa: E402,F401  (torch.hub: hubconf entrypoints, load_state_dict_from_url; no network)
from . import signal  # noqa: E402,F401  (torch.signal.windows)
from .signal._spectral_windows import (bartlett_window, blackman_window, hamming_window,  # noqa: E402,F401
                                       hann_window, kaiser_window)
