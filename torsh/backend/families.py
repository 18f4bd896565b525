"""Every compiled kernel family, declared once: the one place that says what a family is.

A ``Family`` names its source (``kernels_pythran/<name>.py`` or ``kernels_cpp/<name>.cpp``, built by
``meson.build`` into ``torsh/_kernels/<name>`` and ``<name>_avx2``), its entry points with their
argument layout, and the ops the dispatcher runs on it (``KernelOp``: thresholds, entry points, NumPy
reference, calibration recipe). Everything else is derived from ``FAMILIES``:

- ``backend.kernels.FAMILIES``: the modules loaded at import (and reported missing under TORSH_REQUIRE_KERNELS);
- ``backend.dispatch.thresholds`` and ``dispatch._FAMILY``: the built-in thresholds, the family of each op;
- ``backends.calibrate``: which ops are timed, with which recipe, against which NumPy reference;
- ``tests/test_kernel_families.py``: the build's family lists, the sources' signatures, both ISA copies' entry
  points, and every kernel against its reference.

Adding a family (or an entry point, or a dispatched op) is one entry here; see docs/ARCHITECTURE.md.
Only NumPy and SciPy are imported: the backend sits below the ops that call these kernels.
"""
import math
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np

INF = math.inf
PYTHRAN, CPP = "pythran", "c++"
# calibration recipes (torsh.backends.calibrate): PASS times ``entries[0](*operands, out, parallel)`` against
# ``reference(*operands)``; the others build their own operands; None keeps the declared thresholds
PASS = "pass"


@dataclass(frozen=True)
class Entry:
    """One compiled entry point and its argument layout, in its source's own notation, checked against it:
    Pythran families: the ``#pythran export`` argument list with ``T`` for each of the family's dtypes
    (``T[:]`` a 1-D array, ``T[:,:] order(C)`` a C-contiguous matrix, ``T`` a scalar of that dtype);
    C++ families: the ``PyArg_ParseTuple`` format (``y*`` a read-only contiguous buffer, ``w*`` a written
    one, ``l`` an integer, ``p`` a bool)."""
    name: str
    args: str


@dataclass(frozen=True)
class KernelOp:
    """One op the dispatcher decides on (``dispatch.call/unary/binary/reduce_rows(name, ...)``), the name
    the DispatchRecords, the registry's ``kernel`` column and the calibration cache use."""
    name: str
    simd: float        # numel from which the single-thread kernel runs (INF: never)
    parallel: float    # numel from which its OpenMP copy runs (INF: never)
    entries: tuple = ()  # the family's entry points it calls
    # NumPy function of the operands giving what ``entries[0]`` writes: calibration's "numpy" variant
    # and the kernels' reference in tests
    reference: Optional[Callable] = None
    operands: tuple = ()  # with a reference: "flat" (1-D) or "rows" (2-D) per array operand
    calibration: Optional[str] = PASS  # torsh.backends.calibrate's recipe; None: thresholds kept as measured

    def sample_operands(self, numel, rng, dtype=np.float32):
        """Random operands of about ``numel`` elements each in this op's layout: "rows" are 1024 wide (1000-class
        logits and 1024-wide layers are the common case); later operands are kept away from 0 (divisors)."""
        cols = min(numel, 1024)
        shapes = {"flat": (numel,), "rows": (max(1, numel // cols), cols)}
        return tuple((rng.standard_normal(shapes[kind]) + 2 * i).astype(dtype) for i, kind in enumerate(self.operands))


@dataclass(frozen=True)
class Family:
    name: str
    language: str          # PYTHRAN or CPP
    entries: tuple
    ops: tuple = ()
    dtypes: tuple = ("float32", "float64")  # what ``T`` stands for in a Pythran entry's layout

    @property
    def source(self):
        return f"kernels_pythran/{self.name}.py" if self.language == PYTHRAN else f"kernels_cpp/{self.name}.cpp"

    @property
    def modules(self):
        """The baseline copy's module and the x86-64-v3 copy's (built on x86-64 without -Dmarch)."""
        return f"torsh._kernels.{self.name}", f"torsh._kernels.{self.name}_avx2"


# -- NumPy references (of the operands in a PASS op's layout) ----------------------------------------------
def _sigmoid(x):
    from scipy.special import expit  # scipy.special takes ~0.5 s to import: only when a reference runs
    return expit(x)


def _relu(x):
    return np.maximum(x, 0)


def _gelu_tanh(x):
    return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))


def _sum_rows(x):
    return x.sum(axis=1)


def _max_rows(x):
    return x.max(axis=1)


def _logsumexp_rows(x):
    top = x.max(axis=1, keepdims=True)
    return (top + np.log(np.exp(x - top).sum(axis=1, keepdims=True)))[:, 0]


def _softmax_rows(x):
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _log_softmax_rows(x):
    z = x - x.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def _softmax_backward_rows(y, g):
    gy = g * y
    return gy - y * gy.sum(axis=1, keepdims=True)


def _log_softmax_backward_rows(y, g):
    return g - np.exp(y) * g.sum(axis=1, keepdims=True)


def _elementwise(name, simd, parallel, reference, operands=("flat",)):
    return KernelOp(name, simd, parallel, (name,), reference, operands)


def _scalar_op(name, entry, parallel, simd=INF):
    """An elementwise op of an array and a scalar, timed by calibrate's "scalar" recipe."""
    return KernelOp(name, simd, parallel, (entry,), calibration="scalar")


def _activation_backward(name, parallel=262_144, simd=0):
    return KernelOp(name, simd, parallel, (name,), calibration="activation_backward")


# Thresholds (simd, parallel) were measured on the 2-core x86-64 reference machine; INF: never worth it
# there. ``python -m torsh.backends.calibrate`` re-measures those with a calibration recipe.
FAMILIES = (
    Family("elementwise", PYTHRAN, (
        Entry("add", "T[:], T[:], T[:], bool"),
        Entry("sub", "T[:], T[:], T[:], bool"),
        Entry("mul", "T[:], T[:], T[:], bool"),
        Entry("div", "T[:], T[:], T[:], bool"),
        Entry("add_scalar", "T[:], T, T[:], bool"),
        Entry("mul_scalar", "T[:], T, T[:], bool"),
        Entry("rsub_scalar", "T[:], T, T[:], bool"),
        Entry("div_scalar", "T[:], T, T[:], bool"),
        Entry("rdiv_scalar", "T[:], T, T[:], bool"),
        Entry("copy", "T[:], T[:], bool"),
        Entry("fill", "T[:], T, bool"),
        Entry("exp", "T[:], T[:], bool"),
        Entry("tanh", "T[:], T[:], bool"),
        Entry("sigmoid", "T[:], T[:], bool"),
        Entry("relu", "T[:], T[:], bool"),
        Entry("gelu_tanh", "T[:], T[:], bool"),
    ), ops=(
        # elementwise thresholds: quiet 2-core VM, 2026-12-07, after the kernels' dynamic schedule (waking an
        # OpenMP worker costs 25-45 us there, see kernels_pythran/elementwise.py). 2 threads, float32, us:
        # add 524K 59 against 65 (NumPy), 1M 75 against 131; a number times an array 1M 59 against 88 (tie at
        # 524K); copy 524K 32 against 42, 1M 70 against 85; fill 2M 61 against 88 (one thread; NumPy 137);
        # exp 131K 28 against 31, 1M 157 against 246 (one thread; NumPy 354); sigmoid 262K 54 against 85
        _elementwise("add", INF, 500_000, np.add, ("flat", "flat")),
        _elementwise("sub", INF, 500_000, np.subtract, ("flat", "flat")),
        _elementwise("mul", INF, 500_000, np.multiply, ("flat", "flat")),
        _elementwise("div", INF, 500_000, np.true_divide, ("flat", "flat")),
        # a tensor and a Python number (sub_scalar: add_scalar of -s, exactly a - s), in the operand order
        _scalar_op("add_scalar", "add_scalar", 700_000),
        _scalar_op("sub_scalar", "add_scalar", 700_000),
        _scalar_op("mul_scalar", "mul_scalar", 700_000),
        _scalar_op("div_scalar", "div_scalar", 700_000),
        _scalar_op("rsub_scalar", "rsub_scalar", 700_000),
        _scalar_op("rdiv_scalar", "rdiv_scalar", 700_000),
        # copy_ between contiguous arrays of one float dtype, fill_/zero_ of a contiguous float array
        _elementwise("copy", INF, 400_000, np.copy),
        KernelOp("fill", 16_384, 2_000_000, ("fill",), calibration="fill"),
        _elementwise("exp", 4096, 200_000, np.exp),
        # NumPy's own SIMD tanh beat the xsimd kernel 4x on one thread at every size (1e6 float32: 176 against
        # 687 us; on two threads the kernel would still lose), 2026-12-07
        _elementwise("tanh", INF, INF, np.tanh),
        _elementwise("sigmoid", 512, 200_000, _sigmoid),
        # the kernel beat np.maximum at every size (1K: 0.57 vs 0.98 us; 524K: 42 vs 160 us, 1 thread, 2026-12-07)
        _elementwise("relu", 0, 500_000, _relu),
        _elementwise("gelu_tanh", 0, 50_000, _gelu_tanh),
    )),
    Family("reductions", PYTHRAN, (
        Entry("sum_rows", "T[:,:], T[:], bool"),
        Entry("max_rows", "T[:,:], T[:], bool"),
        Entry("logsumexp_rows", "T[:,:], T[:], bool"),
    ), ops=(
        # sum_rows from 1024 values on one thread too: on this session's AMD EPYC host its vector loop took 0.4x NumPy's
        # time from 10K values on (512 x 128: 11.7 against 26.8 us, 4096 x 64: 55 against 144 us, 1 thread, CPU time;
        # rows longer than 4096 values stay on NumPy's pairwise sum for accuracy: reductions._row_sums)
        KernelOp("sum_rows", 1024, 16_384, ("sum_rows",), _sum_rows, ("rows",)),
        KernelOp("max_rows", INF, 16_384, ("max_rows",), _max_rows, ("rows",)),
        KernelOp("logsumexp_rows", 0, 16_384, ("logsumexp_rows",), _logsumexp_rows, ("rows",)),
    )),
    # row kernels (numel of the whole (rows, cols) operand)
    Family("nn", PYTHRAN, (
        Entry("softmax_rows", "T[:,:], T[:,:], bool"),
        Entry("log_softmax_rows", "T[:,:], T[:,:], bool"),
        Entry("softmax_backward_rows", "T[:,:], T[:,:], T[:,:], bool"),
        Entry("log_softmax_backward_rows", "T[:,:], T[:,:], T[:,:], bool"),
        Entry("cross_entropy_rows", "T[:,:], int64[:], T[:], int64, T, T, T[:], T[:], bool"),
        Entry("cross_entropy_backward_rows", "T[:,:], int64[:], T[:], T, T, T[:], T[:], T[:,:], bool"),
        Entry("nll_rows", "T[:,:], int64[:], T[:], int64, T[:], T[:,:], bool"),
    ), ops=(
        KernelOp("softmax", 0, 65_536, ("softmax_rows",), _softmax_rows, ("rows",)),
        KernelOp("log_softmax", 0, 65_536, ("log_softmax_rows",), _log_softmax_rows, ("rows",)),
        KernelOp("softmax_backward", 0, 65_536, ("softmax_backward_rows",), _softmax_backward_rows, ("rows", "rows")),
        KernelOp("log_softmax_backward", 0, 65_536, ("log_softmax_backward_rows",), _log_softmax_backward_rows,
                 ("rows", "rows")),
        # below this the composed log_softmax + nll_loss is kept, for PyTorch's graph (LogSoftmaxBackward0 +
        # NllLossBackward0 in the notebook views of small models). It costs time: at 128x10 the fused
        # kernel's forward + backward took 144 us against 320 us composed (2026-12-04)
        KernelOp("cross_entropy", 4096, 65_536, ("cross_entropy_rows",), calibration="cross_entropy"),
        KernelOp("cross_entropy_backward", 0, 65_536, ("cross_entropy_backward_rows",),
                 calibration="cross_entropy_backward"),
        # nll_loss over (N, C) rows: one pass (checks, losses, the gradient's pattern) against ~15 NumPy calls,
        # which lost at every size; no OpenMP copy
        KernelOp("nll_loss", 0, INF, ("nll_rows",), calibration=None),
    )),
    # batch/group norm: the single-thread kernel won at every size measured (0.12-0.64x of the NumPy path);
    # the OpenMP copy lost under load 4-5 on the 2 shared cores except eval batch norm at 2M elements. Training
    # batch norm (OpenMP over channels) from 256K: W12's step at 2 threads, quiet machine, 14.9-15.1 ms with its
    # 262K and 524K layers parallel, 15.2-15.7 with the 131K ones too, 16.3-17.4 with none (2026-12-07)
    Family("norm", PYTHRAN, (
        Entry("layer_norm_rows", "T[:,:], T[:], T[:], T, T, T[:,:], T[:], T[:], bool, bool"),
        Entry("layer_norm_backward_rows", "T[:,:], T[:,:], T[:], T[:], T[:], T, T[:,:], T[:,:], T[:,:], bool, bool"),
        Entry("batch_norm_train", "T[:,:], T[:], T[:], T, T, T[:,:], T[:], T[:], T[:], bool"),
        Entry("batch_norm_backward", "T[:,:], T[:,:], T[:], T[:], T[:], T, T[:,:], T[:], T[:], bool"),
        Entry("channel_affine", "T[:,:], T[:], T[:], T[:,:], bool"),
        Entry("batch_norm_train_2d", "T[:,:], T[:], T[:], T, T, T[:,:], T[:], T[:], T[:]"),
        Entry("batch_norm_backward_2d", "T[:,:], T[:,:], T[:], T[:], T[:], T, T[:,:], T[:], T[:]"),
        Entry("group_norm_rows", "T[:,:], T[:], T[:], T, T, T[:,:], T[:], T[:], bool"),
        Entry("group_norm_backward_rows", "T[:,:], T[:,:], T[:], T[:], T[:], T, T[:,:], T[:], T[:], bool"),
    ), ops=(
        # one thread up to 262,144 elements: at W13's 65,536 waking the second thread took the fused forward +
        # backward from 117 to 255 us (median, quiet machine, alternating in one process)
        KernelOp("layer_norm", 0, 262_144, ("layer_norm_rows",), calibration="layer_norm"),
        KernelOp("layer_norm_backward", 0, 262_144, ("layer_norm_backward_rows",), calibration="layer_norm_backward"),
        KernelOp("batch_norm", 0, 262_144, ("batch_norm_train", "batch_norm_train_2d"), calibration=None),
        KernelOp("batch_norm_backward", 0, 262_144, ("batch_norm_backward", "batch_norm_backward_2d"),
                 calibration=None),
        KernelOp("batch_norm_eval", 0, 1_048_576, ("channel_affine",), calibration=None),
        KernelOp("group_norm", 0, INF, ("group_norm_rows",), calibration=None),
        KernelOp("group_norm_backward", 0, INF, ("group_norm_backward_rows",), calibration=None),
    )),
    # optimizer steps: the fused kernel against the numexpr passes of torsh.optim
    Family("optim", PYTHRAN, (
        Entry("sgd_step", "T[:], T[:], T[:], T, T, T, T, T, T, bool, bool"),
        Entry("adam_step", "T[:], T[:], T[:], T[:], T[:], T, T, T, T, T, bool, T, T, T, T, T, bool"),
    ), ops=(
        KernelOp("sgd_step", 0, 1_000_000, ("sgd_step",), calibration="sgd_step"),
        KernelOp("adam_step", 0, 1_000_000, ("adam_step",), calibration="adam_step"),
    )),
    # activation backward: one kernel pass against the derivative's torsh ops
    Family("activation", PYTHRAN, (
        Entry("silu_backward", "T[:], T[:], T[:], T, T, bool"),
        Entry("gelu_tanh_backward", "T[:], T[:], T[:], T, T, T, T, T, bool"),
        Entry("gelu_backward", "T[:], T[:], T[:], T, T, bool"),
        Entry("softplus_backward", "T[:], T[:], T[:], T, T, T, T, bool"),
        Entry("elu_backward", "T[:], T[:], T[:], T, T, T, T, bool"),
        Entry("mish_backward", "T[:], T[:], T[:], T, T, bool"),
        Entry("relu_backward", "T[:], T[:], T[:], T, bool"),
    ), ops=(
        _activation_backward("silu_backward"),
        # scipy's ndtr in Pythran is scalar code: 5x slower than the torsh ops at 1e6
        _activation_backward("gelu_backward", simd=INF, parallel=INF),
        _activation_backward("gelu_tanh_backward"),
        _activation_backward("softplus_backward"),
        _activation_backward("elu_backward"),
        _activation_backward("mish_backward"),
        # relu's threshold_backward: one compare-and-blend pass against masked_fill's (65K float32: 17 vs 40 us)
        _activation_backward("relu_backward"),
    )),
    # Whole-layer kernels below (conv, rnn, embedding, conv_direct) depend on more than a numel (kernel size,
    # channels, sequence length): not calibrated; their thresholds were measured at the benchmark workloads'
    # shapes (benchmarks/kernels_bench.py --only conv,rnn,norm_embedding).
    # conv (numel of the column matrix / the pooled input / the gathered values). im2col2d and col2im2d copy
    # and add rows in vectorised loops (best of 40, 2 threads, against NumPy's strided copies and adds:
    # im2col 0.45 vs 0.57-0.72 ms at LeNet-5's first convolution, about even at its second, 10-wide rows;
    # col2im 3-4x faster), and OpenMP over samples paid from ~150K (LeNet-5's first: im2col 0.45 -> 0.22-0.40
    # ms, col2im 0.55 -> 0.33). Max pooling's OpenMP loop measured 1.5x slower than one thread at every size
    # (64x6x28x28: 0.92 against 0.55 ms): it stays off. Average pooling: the kernel beat NumPy's strided-slice
    # sums from 784 elements up; OpenMP won from 1M in interleaved rounds (4M, 32x32 k2: fwd 7.7 -> 4.3 ms,
    # bwd 12.2 -> 5.4 ms) and was a toss-up below
    Family("conv", PYTHRAN, (
        Entry("im2col2d", "T[:], T[:], " + "int, " * 16 + "bool"),
        Entry("col2im2d", "T[:], T[:], " + "int, " * 16 + "bool"),
        Entry("max_pool2d_planes", "T[:], T[:], int64[:], " + "int, " * 13 + "bool"),
        Entry("avg_pool2d_planes", "T[:], T[:], T[:], " + "int, " * 11 + "bool"),
        Entry("avg_pool2d_adjoint_planes", "T[:], T[:], T[:], " + "int, " * 11 + "bool"),
        Entry("gather_planes", "T[:,:], int64[:,:], T[:,:], bool"),
        Entry("scatter_add_planes", "T[:,:], int64[:,:], T[:,:], bool"),
    ), ops=(
        KernelOp("im2col2d", 0, 262_144, ("im2col2d",), calibration=None),
        KernelOp("col2im2d", 0, 262_144, ("col2im2d",), calibration=None),
        KernelOp("max_pool2d", 0, INF, ("max_pool2d_planes",), calibration=None),
        KernelOp("take_spatial", 0, INF, ("gather_planes",), calibration=None),
        KernelOp("scatter_spatial", 0, INF, ("scatter_add_planes",), calibration=None),
        KernelOp("avg_pool2d", 0, 1_048_576, ("avg_pool2d_planes",), calibration=None),
        KernelOp("avg_pool2d_backward", 0, 1_048_576, ("avg_pool2d_adjoint_planes",), calibration=None),
    )),
    # fused LSTM/GRU cell steps, decided once per sequence (numel: steps * batch * gates * hidden); a float32
    # LSTM runs the whole recurrence on lstm_cell's entry points under the same decision
    Family("rnn", PYTHRAN, (
        Entry("lstm_step_forward", ", ".join(["T[:,:] order(C)"] * 7 + ["bool"])),
        Entry("lstm_step_backward", ", ".join(["T[:,:] order(C)"] * 7 + ["bool"])),
        Entry("gru_step_forward", ", ".join(["T[:,:] order(C)"] * 2 + ["T[:]"] + ["T[:,:] order(C)"] * 4 + ["bool"])),
        Entry("gru_step_backward", ", ".join(["T[:,:] order(C)"] * 8 + ["bool"])),
    ), ops=(
        KernelOp("lstm_sequence", 0, INF, ("lstm_step_forward",), calibration=None),
        KernelOp("lstm_sequence_backward", 0, INF, ("lstm_step_backward",), calibration=None),
        KernelOp("gru_sequence", 0, INF, ("gru_step_forward",), calibration=None),
        KernelOp("gru_sequence_backward", 0, INF, ("gru_step_backward",), calibration=None),
    )),
    Family("embedding", PYTHRAN, (
        Entry("embedding_backward", "T[:,:], int64[:], int64, T[:,:], int, bool"),
    ), ops=(
        KernelOp("embedding_backward", 0, INF, ("embedding_backward",), calibration=None),
    )),
    # direct convolution (numel of the output; of the weight gradient: its multiply-adds), called where
    # nn_conv's DIRECT_MAX_TAPS allows: OpenMP over samples, W5 at 2 threads 0.80 ms against 1.61 ms on one,
    # its weight gradient 0.71 against 1.42 ms. The records keep the tier names ("pythran_omp": compiled,
    # OpenMP) that the notebook views and the stats schema know, though these kernels are C++
    Family("conv_direct", CPP, (
        Entry("conv2d", "y*y*y*w*" + "l" * 13 + "p"),
        Entry("conv2d_weight_grad", "y*y*w*" + "l" * 13 + "p"),
        Entry("conv2d_input_grad", "y*y*w*" + "l" * 13 + "p"),
        Entry("conv2d_direct", "y*y*y*w*" + "l" * 9 + "p"),
        Entry("conv2d_direct_weight_grad", "y*y*w*" + "l" * 9 + "p"),
        Entry("max_pool2d", "y*w*w*" + "l" * 13 + "p"),
        Entry("max_pool2d_backward", "y*y*w*lllp"),
        # float32 training batch norm on the convolutions' helper threads: run by the norm family's batch_norm /
        # batch_norm_backward ops at their OpenMP tier (torsh/_ops/nn/norm.py)
        Entry("batch_norm_train", "y*y*y*w*w*w*w*lllfp"),
        Entry("batch_norm_backward", "y*y*y*y*y*w*w*w*lllp"),
    ), ops=(
        KernelOp("conv2d_direct", 0, 0, ("conv2d", "conv2d_input_grad", "conv2d_direct"),
                 calibration=None),
        KernelOp("conv2d_direct_weight_grad", 0, 0, ("conv2d_weight_grad", "conv2d_direct_weight_grad"),
                 calibration=None),
        # float32 max pooling (values and indices in one pass) and its scatter back; float64 stays on conv's
        # max_pool2d_planes / scatter_add_planes. One thread: ~0.1 ms at LeNet-5's pools, under what waking
        # the OpenMP workers costs on the shared VM
        KernelOp("max_pool2d_direct", 0, INF, ("max_pool2d",), calibration=None),
        KernelOp("max_pool2d_direct_backward", 0, INF, ("max_pool2d_backward",), calibration=None),
    ), dtypes=("float32",)),
    # a transformer step's float32 exact GELU (forward, backward), attention softmax (scale, causal mask,
    # softmax and its backward, in place) and layer norm rows; AVX-512 loops where the CPU has them (GELU of
    # 8x64x512, one thread: 166 us AVX2, 72 us AVX-512, against ~3 ms for SciPy's erf). OpenMP from 1M
    # elements only: at W8's sizes (16x4x64x64 scores, 16x64x512), with the other core busy (load 10), two
    # threads' best times were 81 -> 62 us (softmax backward) and 351 -> 171 us (GELU) but their medians
    # 10-50x longer than one thread's (softmax 1.0 -> 49 ms, GELU 4.7 -> 39 ms)
    Family("transformer", CPP, (
        Entry("gelu", "y*w*p"),
        Entry("gelu_backward", "y*y*w*p"),
        Entry("attention_softmax", "w*lllfpp"),
        Entry("attention_softmax_backward", "y*w*lllfpp"),
        # float32 layer norm: run by the norm family's layer_norm / layer_norm_backward ops (torsh/_ops/nn/norm.py)
        Entry("layer_norm", "y*y*y*w*w*w*llfp"),
        Entry("layer_norm_backward", "y*y*y*y*y*w*w*w*lllp"),
        # fused scaled_dot_product_attention per (batch, head) block (torsh/nn/_functional/attention_fused.py):
        # 4-D arrays read through their strides, the thread count last
        Entry("attention_forward", "OOOOOfpi"),
        Entry("attention_backward", "OOOOOOOOfpi"),
        # a Linear's bias gradient (torsh/_ops/column_sums.py): each row read once into vector partial sums
        Entry("column_sums", "y*w*ll"),
    ), ops=(
        KernelOp("gelu_erf", 0, 1_048_576, ("gelu",), calibration=None),
        KernelOp("gelu_erf_backward", 0, 1_048_576, ("gelu_backward",), calibration=None),
        KernelOp("attention_softmax", 0, 1_048_576, ("attention_softmax",), calibration=None),
        KernelOp("attention_softmax_backward", 0, 1_048_576, ("attention_softmax_backward",), calibration=None),
        # numel: the B x H x L x S scores; the parallel variant shares the (batch, head) blocks among the threads
        # (from W13's 8 x 4 x 64 x 64 on: forward + backward 601 -> 478 us at two threads, quiet machine)
        KernelOp("attention_forward", 0, 131_072, ("attention_forward",), calibration=None),
        KernelOp("attention_backward", 0, 131_072, ("attention_backward",), calibration=None),
        KernelOp("column_sums", 0, INF, ("column_sums",), calibration=None),
    ), dtypes=("float32",)),
    # large float32 add/sub/mul/div, copy_ and sigmoid on a thread team whose helpers spin briefly between ops
    # instead of OpenMP's sleeping workers (kernels_cpp/elementwise_f32.cpp); no op of its own: run under the
    # elementwise family's decisions (torsh/_ops/tensor/elementwise/bulk.py)
    Family("elementwise_f32", CPP, (
        Entry("add", "y*y*w*p"),
        Entry("sub", "y*y*w*p"),
        Entry("mul", "y*y*w*p"),
        Entry("div", "y*y*w*p"),
        Entry("copy", "y*w*p"),
        Entry("sigmoid", "y*w*p"),
    ), dtypes=("float32",)),
    # per-sample weight gradients under vmap(grad(...)): out[b] = outer(g[b], x[b]), store-bound (W17's first layer
    # writes 100 MB); streamed past the cache when the output is large. OpenMP only from 1M outputs: the stores
    # fill the memory bus from one thread (W17's 25.7M outputs took the same ~2.6 ms on one thread and on two)
    Family("per_sample", CPP, (
        Entry("outer", "y*y*w*lllp"),
    ), ops=(
        KernelOp("per_sample_outer", 0, 1_048_576, ("outer",), calibration=None),
    ), dtypes=("float32",)),
    # the quantized modules' integer products (torsh.ao.nn.quantized._kernels.qgemm): uint8/int8 x centred int16
    # weight panels -> exact int32, PyTorch's fbgemm results; no op of its own (OpenMP from 2M multiply-adds)
    Family("quantized", CPP, (
        Entry("qgemm", "y*y*w*lllllpp"),
        Entry("requantize", "y*y*y*w*lllp"),  # int32 accumulators -> quint8 outputs
        Entry("dequantize", "y*y*y*w*llp"),  # int32 accumulators -> float32 outputs (dynamic layers)
    ), dtypes=("int8",)),
    # the float32 Adam/AdamW step (torsh.optim._fused runs it for float32 parameters in place of the optim family's
    # adam_step, under that op's dispatch decision): Pythran divides float32 scalars in double precision
    Family("optim_f32", CPP, (
        Entry("adam_step", "w*y*w*w*w*fffffpfffffp"),
    ), dtypes=("float32",)),
    # the float32 LSTM recurrence: no op of its own (see rnn's lstm_sequence)
    Family("lstm_cell", CPP, (
        Entry("pack_weight", "y*llp"),
        Entry("gemm", "y*y*w*lllllp|l"),
        # a float32 product with B packed inside the call, shared with spin_team.h's helpers (matmul._panel_gemm)
        Entry("matmul", "y*y*w*lllllpl"),
        Entry("set_spin_us", "l"),  # how long the team's idle helpers spin before they sleep (TORSH_GEMM_TEAM_SPIN_US)
        Entry("lstm_layer_forward", "y*y*y*y*y*y*w*w*w*w*llllpl"),
        Entry("lstm_layer_backward", "y*y*y*y*y*y*w*w*y*y*y*y*w*w*w*w*w*llllpl"),
    ), dtypes=("float32",)),
)


# -- the tables the rest of torsh derives ----------------------------------------------------------------
def names():
    """Every family's name, in declaration order (the load order)."""
    return tuple(family.name for family in FAMILIES)


def ops():
    """{op name: KernelOp} over every family."""
    return {op.name: op for family in FAMILIES for op in family.ops}


def family_of():
    """{op name: its family's name}."""
    return {op.name: family.name for family in FAMILIES for op in family.ops}


def thresholds():
    """{op name: (simd, parallel)}: the built-in dispatch thresholds."""
    return {op.name: (op.simd, op.parallel) for family in FAMILIES for op in family.ops}


def by_name(name):
    """The Family called ``name`` (KeyError if none is declared)."""
    return {family.name: family for family in FAMILIES}[name]
