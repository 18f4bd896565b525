"""Per-call choice of the kernel variant that runs an op, and the record of why.

Variants, cheapest set-up first: ``numpy`` (reference, any dtype/layout/broadcast),
``pythran_simd`` (compiled single-thread vectorised pass) and ``pythran_omp`` (the same
cut into chunks over OpenMP threads). Compiled kernels take flat contiguous float32/float64
operands of one shape; everything else goes to NumPy and the record says so.

Thresholds are per op, in elements: ``simd`` is the numel from which the single-thread
kernel beats NumPy, ``parallel`` the numel from which threads pay for their start-up.
The defaults below were measured on a 2-core x86-64; ``python -m torsh.backends.calibrate``
measures them on the running machine and caches them (see ``calibration_path``), and
that cache is loaded at import.

Records (op, variant, reason, numel, dtype, seconds) are built only while somebody
listens on the ``dispatch`` topic, so an unobserved call pays one dict lookup.
"""
import contextlib
import json
import math
import os
import time
from typing import NamedTuple

import numpy as np

from . import events, kernels, threads
from . import memory  # large outputs come from its pool of recycled buffers

INF = math.inf
TOPIC = "dispatch"

# op -> (simd threshold, parallel threshold); INF means "never worth it" on the reference machine
thresholds = {
    "add": (INF, 2_000_000),
    "sub": (INF, 2_000_000),
    "mul": (INF, 2_000_000),
    "div": (INF, 2_000_000),
    "exp": (INF, 2_000_000),
    "tanh": (INF, 50_000),
    "sigmoid": (512, 50_000),
    "relu": (INF, 500_000),
    "gelu_tanh": (0, 50_000),
    "sum_rows": (INF, 16_384),
    "max_rows": (INF, 16_384),
    "logsumexp_rows": (0, 16_384),
    # row kernels of the nn family (numel of the whole (rows, cols) operand)
    "softmax": (0, 65_536),
    "log_softmax": (0, 65_536),
    "softmax_backward": (0, 65_536),
    "log_softmax_backward": (0, 65_536),
    # below this the composed log_softmax + nll_loss is kept, for PyTorch's graph (LogSoftmaxBackward0 +
    # NllLossBackward0 in the notebook views of small models). It costs time: at 128x10 the fused
    # kernel's forward + backward took 144 us against 320 us composed (2026-12-04)
    "cross_entropy": (4096, 65_536),
    "cross_entropy_backward": (0, 65_536),
    # nll_loss over (N, C) rows: one pass (checks, losses, the gradient's pattern) against ~15 NumPy calls
    "nll_loss": (0, INF),
    "layer_norm": (0, 65_536),
    "layer_norm_backward": (0, 65_536),
    # batch/group norm, embedding backward: the single-thread kernel won at every size measured (0.12-0.64x of the
    # NumPy path); the OpenMP copy lost under load 4-5 on the 2 shared cores except eval batch norm at 2M elements
    "batch_norm": (0, INF),
    "batch_norm_backward": (0, INF),
    "batch_norm_eval": (0, 1_048_576),
    "group_norm": (0, INF),
    "group_norm_backward": (0, INF),
    "embedding_backward": (0, INF),
    # activation backward: one kernel pass against the derivative's torsh ops
    "silu_backward": (0, 262_144),
    "gelu_backward": (INF, INF),  # scipy's ndtr in Pythran is scalar code: 5x slower than the torsh ops at 1e6
    "gelu_tanh_backward": (0, 262_144),
    "softplus_backward": (0, 262_144),
    "elu_backward": (0, 262_144),
    "mish_backward": (0, 262_144),
    # relu's threshold_backward: one compare-and-blend pass against masked_fill's (65K float32: 17 vs 40 us)
    "relu_backward": (0, 262_144),
    # optimizer steps: the fused kernel against the numexpr passes of torsh.optim
    "sgd_step": (0, 1_000_000),
    "adam_step": (0, 1_000_000),
    # conv family (numel of the column matrix / the pooled input / the gathered values). im2col2d and
    # col2im2d copy and add rows in vectorised loops (best of 40, 2 threads, against NumPy's strided
    # copies and adds: im2col 0.45 vs 0.57-0.72 ms at LeNet-5's first convolution, about even at its
    # second, 10-wide rows; col2im 3-4x faster), and OpenMP over samples paid from ~150K (LeNet-5's
    # first: im2col 0.45 -> 0.22-0.40 ms, col2im 0.55 -> 0.33). Max pooling's OpenMP loop measured
    # 1.5x slower than one thread at every size (64x6x28x28: 0.92 against 0.55 ms): it stays off.
    "im2col2d": (0, 262_144),
    "col2im2d": (0, 262_144),
    "max_pool2d": (0, INF),
    "take_spatial": (0, INF),
    "scatter_spatial": (0, INF),
    # average pooling (numel of the pooled input): the kernel beat NumPy's strided-slice sums from 784 elements
    # up; OpenMP won from 1M in interleaved rounds (4M, 32x32 k2: fwd 7.7 -> 4.3 ms, bwd 12.2 -> 5.4 ms)
    # and was a toss-up below
    "avg_pool2d": (0, 1_048_576),
    # direct convolution (numel of the output; of the weight gradient: its multiply-adds) in the C++
    # family conv_direct, called where nn_conv's DIRECT_MAX_TAPS allows: OpenMP over samples, W5 at
    # 2 threads 0.80 ms against 1.61 ms on one, its weight gradient 0.71 against 1.42 ms. The records
    # keep the tier names ("pythran_omp": compiled, OpenMP) that the notebook views and the stats
    # schema know, though these kernels are C++
    "conv2d_direct": (0, 0),
    "conv2d_direct_weight_grad": (0, 0),
    "avg_pool2d_backward": (0, 1_048_576),
    # fused LSTM/GRU cell steps, decided once per sequence (numel: steps * batch * gates * hidden)
    "lstm_sequence": (0, INF),
    "lstm_sequence_backward": (0, INF),
    "gru_sequence": (0, INF),
    "gru_sequence_backward": (0, INF),
}

# below this numel NumPy runs the op whatever else holds; checked first, so small ops pay nothing more
_numpy_below = {op: min(limits) for op, limits in thresholds.items()}
thresholds_source = "built-in defaults"


def set_thresholds(op, simd=None, parallel=None):
    """Change when ``op`` moves to the compiled kernels (numel; math.inf for never)."""
    old_simd, old_parallel = thresholds[op]
    thresholds[op] = (old_simd if simd is None else simd, old_parallel if parallel is None else parallel)
    _numpy_below[op] = min(thresholds[op])


def calibration_path():
    """Where calibrated thresholds are cached: $TORSH_CALIBRATION, else the user cache dir."""
    if os.environ.get("TORSH_CALIBRATION"):
        return os.environ["TORSH_CALIBRATION"]
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(cache, "torsh", "dispatch-thresholds.json")


def machine_signature():
    """What a calibration is valid for: thresholds measured elsewhere are not trusted."""
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), cpu)
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "kernels": sorted(kernels.available())}


def load_calibration(path=None):
    """Use the thresholds cached at ``path`` if they were measured on this machine; True if loaded."""
    global thresholds_source
    path = path or calibration_path()
    try:
        with open(path) as f:
            saved = json.load(f)
    except (OSError, ValueError):
        return False
    if saved.get("machine") != machine_signature():
        return False
    for op, (simd, parallel) in saved.get("thresholds", {}).items():
        if op in thresholds:
            set_thresholds(op, _from_json(simd), _from_json(parallel))
    thresholds_source = path
    return True


def _from_json(value):
    return INF if value is None else int(value)

_FAMILY = {"sum_rows": "reductions", "max_rows": "reductions", "logsumexp_rows": "reductions",
           "softmax": "nn", "log_softmax": "nn", "softmax_backward": "nn", "log_softmax_backward": "nn",
           "cross_entropy": "nn", "cross_entropy_backward": "nn", "nll_loss": "nn",
           "layer_norm": "norm", "layer_norm_backward": "norm", "sgd_step": "optim", "adam_step": "optim",
           **{op: "conv" for op in ("im2col2d", "col2im2d", "max_pool2d", "take_spatial", "scatter_spatial",
                                     "avg_pool2d", "avg_pool2d_backward")},
           "conv2d_direct": "conv_direct", "conv2d_direct_weight_grad": "conv_direct",
           **{op + suffix: "rnn" for op in ("lstm_sequence", "gru_sequence") for suffix in ("", "_backward")},
           "batch_norm": "norm", "batch_norm_backward": "norm", "batch_norm_eval": "norm",
           "group_norm": "norm", "group_norm_backward": "norm", "embedding_backward": "embedding",
           **{op + "_backward": "activation" for op in ("silu", "gelu", "gelu_tanh", "softplus", "elu", "mish", "relu")}}
_COMPILED_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


class DispatchRecord(NamedTuple):
    op: str
    variant: str
    reason: str
    numel: int
    dtype: str
    seconds: float


NOT_CONTIGUOUS = "operands not contiguous or not of one shape"


def choose(op, numel, np_dtype, contiguous=True, layout_reason=NOT_CONTIGUOUS):
    """(variant, reason) for running ``op`` on ``numel`` elements of ``np_dtype``; when
    ``contiguous`` is false the layout rules the kernels out and ``layout_reason`` says why.
    The parallel threshold counts only where several threads may run (threads.single_thread_reason)."""
    module = kernels.get(_FAMILY.get(op, "elementwise"))
    if module is None:
        return "numpy", f"kernel family {_FAMILY.get(op, 'elementwise')} not compiled"
    if np_dtype not in _COMPILED_DTYPES:
        return "numpy", f"dtype {np_dtype} has no compiled kernel"
    if not contiguous:
        return "numpy", layout_reason
    simd, parallel = thresholds.get(op, (INF, INF))
    if numel >= parallel:
        single = threads.single_thread_reason()
        if single is None:
            return "pythran_omp", f"numel {numel:,} >= parallel threshold {parallel:,}"
        if numel >= simd:
            return "pythran_simd", f"numel {numel:,} >= simd threshold {simd:,}; {single}"
        return "numpy", f"numel {numel:,} < simd threshold {simd:,}; {single}"
    if numel >= simd:
        return "pythran_simd", f"numel {numel:,} >= simd threshold {simd:,}"
    limit = simd if simd != INF else parallel
    return "numpy", f"numel {numel:,} < threshold {limit:,}"


_dtype_names = {}  # str(np.dtype) costs microseconds in NumPy 2: name each dtype once


def _dtype_name(np_dtype):
    name = _dtype_names.get(np_dtype)
    if name is None:
        name = _dtype_names[np_dtype] = str(np_dtype)
    return name


def _run(op, variant, reason, numel, np_dtype, compiled_call, numpy_call, reference="numpy"):
    if not events.listening(TOPIC):
        return numpy_call() if variant == "numpy" else compiled_call(variant == "pythran_omp")
    start = time.perf_counter()
    out = numpy_call() if variant == "numpy" else compiled_call(variant == "pythran_omp")
    shown = reference if variant == "numpy" else variant
    events.emit(TOPIC, DispatchRecord(op, shown, reason, numel, _dtype_name(np_dtype), time.perf_counter() - start))
    return out


def unary(op, x, numpy_fn):
    """Apply elementwise ``op`` to ndarray ``x``; ``numpy_fn(x)`` is the reference variant."""
    if x.size < _numpy_below[op] and TOPIC not in events._subscribers:
        return numpy_fn(x)
    contiguous = x.flags.c_contiguous
    variant, reason = choose(op, x.size, x.dtype, contiguous)

    def compiled(parallel):
        out = memory.empty(x.shape, x.dtype)
        getattr(kernels.get("elementwise"), op)(x.reshape(-1), out.reshape(-1), parallel)
        return out

    return _run(op, variant, reason, x.size, x.dtype, compiled, lambda: numpy_fn(x))


def binary(op, a, b, numpy_fn):
    """Apply elementwise ``op`` to ndarrays ``a`` and ``b`` (already of the result dtype)."""
    if a.size < _numpy_below[op] and b.size < _numpy_below[op] and TOPIC not in events._subscribers:
        return numpy_fn(a, b)
    same_layout = (a.shape == b.shape and a.dtype == b.dtype
                   and a.flags.c_contiguous and b.flags.c_contiguous)
    numel = a.size if same_layout else math.prod(np.broadcast_shapes(a.shape, b.shape))
    variant, reason = choose(op, numel, a.dtype, same_layout)

    def compiled(parallel):
        out = memory.empty(a.shape, a.dtype)
        getattr(kernels.get("elementwise"), op)(a.reshape(-1), b.reshape(-1), out.reshape(-1), parallel)
        return out

    return _run(op, variant, reason, numel, a.dtype, compiled, lambda: numpy_fn(a, b))


def reduce_rows(op, x2d, numpy_fn):
    """Reduce each row of a 2-D ndarray; ``numpy_fn(x2d)`` is the reference variant."""
    variant, reason = choose(op, x2d.size, x2d.dtype, x2d.flags.c_contiguous and x2d.shape[1] > 0)

    def compiled(parallel):
        out = np.empty(x2d.shape[0], dtype=x2d.dtype)
        getattr(kernels.get("reductions"), op)(x2d, out, parallel)
        return out

    return _run(op, variant, reason, x2d.size, x2d.dtype, compiled, lambda: numpy_fn(x2d))


def runs_numpy(op, numel):
    """True when ``op`` on ``numel`` elements takes the NumPy variant whatever its layout and no
    one records it, so that callers can skip preparing a kernel call (the check ``call`` makes first)."""
    return numel < _numpy_below[op] and TOPIC not in events._subscribers


def call(op, numel, np_dtype, contiguous, compiled, numpy_fn, layout_reason=NOT_CONTIGUOUS, reference="numpy"):
    """Run ``op`` on the variant chosen for it: ``compiled(parallel)`` or ``numpy_fn()``.

    For ops whose kernels take several operands or several outputs (the nn and optim
    families): the caller checks layout (``contiguous``) and wraps the kernel call itself.
    ``reference`` names the non-compiled variant in records (e.g. "numexpr" for optimizers).
    """
    if runs_numpy(op, numel):
        return numpy_fn()
    variant, reason = choose(op, numel, np_dtype, contiguous, layout_reason)
    return _run(op, variant, reason, numel, np_dtype, compiled, numpy_fn, reference)


@contextlib.contextmanager
def record():
    """Collect the DispatchRecords of the calls made inside the block into a list."""
    records = []
    unsubscribe = events.subscribe(TOPIC, records.append)
    try:
        yield records
    finally:
        unsubscribe()


def explain(op, numel, dtype="float32", contiguous=True):
    """Say which variant ``op`` would run on ``numel`` elements, and why."""
    variant, reason = choose(op, numel, np.dtype(dtype), contiguous)
    return f"{op}: {variant} ({reason}; thresholds from {thresholds_source})"


if os.environ.get("TORSH_NO_CALIBRATION") != "1":
    load_calibration()
