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
                     set_default_dtype, short, uint8, uint16, uint32, uint64, can_cast)
from ._dtype import (bits1x8, bits2x4, bits4x2, bits8, bits16, chalf, complex32, float4_e2m1fn_x2,  # noqa: F401
                     float8_e4m3fn, float8_e4m3fnuz, float8_e5m2, float8_e5m2fnuz, float8_e8m0fnu, int1, int2, int3,
                     int4, int5, int6, int7, uint1, uint2, uint3, uint4, uint5, uint6, uint7)  # placeholder dtypes
from ._dtype import qint8, qint32, quint2x4, quint4x2, quint8  # noqa: F401  (quantized dtypes)
from ._tensor import Size, Tensor, device
from ._quantized import (per_channel_affine, per_channel_affine_float_qparams, per_channel_symmetric,  # noqa: F401
                         per_tensor_affine, per_tensor_symmetric, qscheme)
from .backend import kernels as _kernels  # loads the compiled kernels (ImportError under TORSH_REQUIRE_KERNELS=1)
from . import _ops
from ._ops.tensor import conversion as _conversion, creation as _creation
from ._ops.tensor.indexing import subscript as _indexing
from ._ops.tensor.linalg import matmul as _linalg
from ._ops.tensor.elementwise import arithmetic as _pointwise
from ._ops.tensor.reduction import reductions as _reduction
from ._ops.tensor.shape import views as _shape
from ._ops.tensor.creation import (arange, as_tensor, asarray, empty, empty_like, eye, from_dlpack, from_numpy, full,
                                   full_like, linspace, logspace, normal, ones, ones_like, rand, rand_like, randint,
                                   randint_like, randn, randn_like, randperm, tensor, zeros, zeros_like)
from ._ops.tensor.elementwise.arithmetic import *  # noqa: F401,F403  (elementwise ops: add, exp, where, clamp, ...; see its __all__)
from ._ops.tensor.reduction.reductions import (all, amax, amin, any, argmax, argmin, count_nonzero, logsumexp, max,
                                               mean, min, norm, prod, std, std_mean, sum, var, var_mean)
from ._ops.tensor.shape.views import (adjoint, cat, chunk, clone, concat, concatenate, flatten, movedim, moveaxis,
                                      narrow, permute, reshape, select, split, squeeze, stack, swapaxes, swapdims, t,
                                      transpose, unbind, unflatten, unsqueeze)
from ._ops.tensor.linalg.matmul import bmm, dot, ger, matmul, mm, mv, outer
from ._ops.tensor.indexing.subscript import argwhere, masked_fill, nonzero
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
from . import fx  # torch.fx: symbolic_trace, Graph, GraphModule, Interpreter (graph capture on the op registry)
from .autograd import profiler as _autograd_profiler  # noqa: F401  (torch.autograd.profiler, the older API)
from . import viz  # notebook views: autograd graph JSON (docs/schemas/README.md)
from . import ao, quantization  # noqa: E402  (torch.ao.quantization, torch.quantization)
from . import quasirandom  # noqa: E402  (torch.quasirandom.SobolEngine)
from ._higher_order import cond, while_loop  # noqa: E402  (eager control-flow operators)
from ._lowrank import pca_lowrank, svd_lowrank  # noqa: E402  (randomized low-rank SVD / PCA)
from ._lobpcg import lobpcg  # noqa: E402  (LOBPCG eigensolver)
from .nn import intrinsic as _nni, qat as _nnqat, quantized as _nnq  # noqa: E402,F401  (torch.nn.quantized, ...)
from ._memory_api import *  # noqa: F401,F403  (memory_allocated, max_memory_allocated, memory_stats, ...)

from .version import __version__  # noqa: E402  (PyTorch 2.13's API level, torsh's version as local label)
from . import version  # noqa: E402,F401


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


def broadcast_shapes(*shapes):
    """The shape tensors of these shapes broadcast to, checked as PyTorch's ``_broadcast_shapes`` does (an int
    is a 1-d shape; ``int`` and ``max`` here are torsh's, hence numbers.Integral and builtins.max)."""
    shapes = [(s,) if isinstance(s, _numbers.Integral) else s for s in shapes if s is not None]
    for shape in shapes:
        if not isinstance(shape, (tuple, list)):
            raise RuntimeError(f"Input shapes should be of type ints, a tuple of ints, or a list of ints, got {shape}")
    common = [1] * _builtins.max((len(shape) for shape in shapes), default=0)
    for arg, shape in enumerate(shapes):
        for i in _builtins.range(-1, -1 - len(shape), -1):
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


from ._layouts import (channels_last, channels_last_3d, contiguous_format, jagged, layout,  # noqa: E402
                       legacy_contiguous_format, memory_format, preserve_format, sparse_bsc, sparse_bsr, sparse_coo,
                       sparse_csc, sparse_csr, strided, _mkldnn)
from ._settings import *  # noqa: E402,F401,F403  (threads, print options, defaults, determinism, anomaly, build facts)
from ._toplevel import *  # noqa: E402,F401,F403  (scalar_tensor, empty_strided, frombuffer, range, conj_physical, ...)
from ._ops.tensor.shape.view_copy import *  # noqa: E402,F401,F403  (expand_copy, transpose_copy, ...: the views' *_copy variants)

# -- the top-level names every codebase reaches for ----------------------------------------------------
import math as _math  # noqa: E402

pi, e, inf, nan = _math.pi, _math.e, _math.inf, _math.nan
bit = uint1  # torch.bit is torch.uint1
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


from . import _storage, storage  # noqa: E402  (torch.storage)
from ._storage import TypedStorage, UntypedStorage, is_storage  # noqa: E402  (torch.UntypedStorage & co)
globals().update({cls.__name__: cls for cls in _storage.LEGACY_STORAGE_TYPES.values()})  # torch.FloatStorage, ...
Storage = FloatStorage  # noqa: F821  (PyTorch's alias of the legacy float storage)
from ._symbolic import *  # noqa: E402,F401,F403  (sym_int, sym_max, ..., SymInt/SymFloat/SymBool, get_file_path)


from . import nn  # noqa: E402  (torch.nn: modules, functional, init)
from . import distributions  # noqa: E402  (torch.distributions; needs nn.functional)
from . import accelerator, multiprocessing  # noqa: E402,F401  (torch.accelerator: none; torch.multiprocessing)

# torch.<name> for the nn.functional ops PyTorch also has at top level with the same leading arguments
# (torch.dropout(x, p, train), torch.conv2d(x, w, b, stride, ...), torch.layer_norm(x, shape, w, b, eps))
for _name in ("conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d",
              "pixel_shuffle", "pixel_unshuffle", "prelu", "selu", "celu", "threshold", "hardshrink", "rrelu", "max_pool1d", "max_pool2d", "max_pool3d",
              "avg_pool1d", "adaptive_avg_pool1d", "cosine_similarity", "pairwise_distance", "pdist",
              "channel_shuffle", "bilinear", "rms_norm"):
    globals()[_name] = getattr(nn.functional, _name)
# torch.<name> for the nn ops whose top-level ATen form differs from F.* (torch.dropout(x, p, train),
# torch.batch_norm(..., cudnn_enabled), torch.embedding(weight, indices), torch.lstm, the native_* forms)
from .nn._aten import *  # noqa: E402,F401,F403
from . import masked  # noqa: E402,F401  (torch.masked reductions)
from . import onnx  # noqa: E402,F401  (importable; export needs graph capture)
from . import export, nested  # noqa: E402,F401  (torch.export on an eager trace; torch.nested, a basic subset)
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
from . import jit  # noqa: E402,F401  (torch.jit: script/trace as with the JIT disabled, fork / wait)
from .jit import Error as JITException, fork, wait  # noqa: E402,F401
from . import compiler, _dynamo  # noqa: E402,F401  (torch.compiler / torch._dynamo: compile hints, eager)
from . import mps, xpu  # noqa: E402,F401  (no Metal / Intel GPU: PyTorch's answers without the device)
from . import distributed  # noqa: E402,F401  (on MPI; mpi4py is imported by init_process_group only)
from . import library, types  # noqa: E402,F401  (torch.library custom ops; torch.types annotations)
from ._op_overloads import ops  # noqa: E402,F401  (torch.ops.aten.<op>.<overload>, torch.ops.<custom ns>)
from .amp import GradScaler  # noqa: E402,F401  (torch.GradScaler is torch.amp.GradScaler)
from ._nn_toplevel import *  # noqa: E402,F401,F403  (torch.selu_, dropout_, feature_dropout, ...)
from ._ops import registry as _registry  # noqa: E402
from ._ops.tensor.shape import view_copy as _view_copy  # noqa: E402

# torch.clamp_(x, ...) is x.clamp_(...): the top-level in-place functions whose methods are not the registry's
_registry.bind_toplevel_inplace(globals())
_view_copy.derive_complex_view_copies(globals())  # view_as_real_copy / view_as_complex_copy once the views exist
