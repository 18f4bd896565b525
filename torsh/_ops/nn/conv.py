"""N-d convolution as im2col + GEMMs (per sample, or over the batch for small ones), and its two adjoints.

Three ops, each with a NumPy forward and a backward written in the other two, so every
order of derivative works:

* ``convolution(x, w, b)``               y[n,o,p]  = sum_{c,k} xpad[n,c,p*s+k*d] w[o,c,k] + b[o]
* ``conv_transpose(x, w, b)``            the adjoint of convolution in its input (col2im)
* ``conv_weight_grad(x, gy)``            the adjoint of convolution in its weight

``pads`` is a tuple of (low, high) zero paddings per spatial dim; ``groups`` splits the
channels. Backward nodes are named ``ConvolutionBackward0`` as in PyTorch.

float32 2-D convolutions without groups or dilation run on the direct kernels of the C++ family
``conv_direct`` (dispatch ops ``conv2d_direct`` and ``conv2d_direct_weight_grad``): forward, weight
gradient, and the input gradient as convolutions with the flipped kernel (one per phase of dx when
strided, all in one kernel call), so no column matrix is made or kept. The others take im2col + GEMMs:
for 2-D, im2col and col2im have compiled variants in the ``conv`` kernel family (dispatch ops ``im2col2d`` and
``col2im2d``; the ``im2col2d`` record of a forward covers its whole pipeline: im2col, GEMMs, bias);
the GEMMs stay on NumPy's BLAS, cut over the threads by batch parts with one BLAS thread each
(torsh.backend.threads). The ops' graphs do not depend on the variant or the column layout, so
higher-order gradients work either way.
"""
import math

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ..._tensor import wrap
from ...autograd.graph import Node, backward_on_arrays, needs_grad, record
from ...backend import dispatch, kernels
from ...backend.threads import batched_matmul, blas_threads_for, in_parts_with_blas
from ..tensor.reduction.reductions import sum_but_channels


def _pad(x, pads):
    if not any(lo or hi for lo, hi in pads):
        return x
    return np.pad(x, ((0, 0), (0, 0)) + tuple(pads))


def _windows(xp, kernel, stride, dilation):
    """(N, C, *out, *kernel) strided view of the padded input: no copy until the tensordot."""
    nd = len(kernel)
    extents = tuple((k - 1) * d + 1 for k, d in zip(kernel, dilation))
    win = sliding_window_view(xp, extents, axis=tuple(range(2, 2 + nd)))
    index = (slice(None), slice(None)) + tuple(slice(None, None, s) for s in stride) \
        + tuple(slice(None, None, d) for d in dilation)
    return win[index]


def out_size(size, k, s, d, lo, hi):
    return (size + lo + hi - d * (k - 1) - 1) // s + 1


# Column layouts. Sample-major (N, C*K, L): per sample the matrix that W (O, C*K) multiplies
# from the left, one GEMM per sample, the output already in (N, O, L) order. Channel-major
# (C*K, N*L): one GEMM over the batch, its output (O, N*L) transposed into (N, O, L) in one copy
# that also adds the bias. OpenBLAS is slow on many small GEMMs: in
# isolation (NumPy, 1 thread) LeNet-5's second convolution (240K multiply-adds per sample, batch 64)
# took 1.2 ms for its weight gradient channel-major against 2.3 ms per sample, forward and input
# gradient about even; at W5's 1.8M per sample the per-sample GEMMs are efficient and the
# channel-major forward was 1.2-1.5x slower (the transposing copy of its 8 MB output).
BATCH_GEMM_BELOW = 1 << 20  # multiply-adds per sample and group below which the layout is channel-major


def _channel_major(n, groups, out_channels, ck, length):
    """Whether a convolution with these GEMM sizes (per sample: (O, C*K) @ (C*K, L)) uses channel-major columns."""
    return groups == 1 and n > 1 and length > 0 and out_channels * ck * length < BATCH_GEMM_BELOW


def _by_channel(a):
    """(N, O, *sp) -> contiguous (O, N*L): the operand of a batch-wide GEMM."""
    n, o = a.shape[:2]
    return np.ascontiguousarray(a.reshape(n, o, -1).transpose(1, 0, 2)).reshape(o, -1)


def _compiled_im2col_fits(x, pads):
    return (x.ndim == 4 and x.size and x.dtype in dispatch._COMPILED_DTYPES
            and all(lo >= 0 and hi >= 0 for lo, hi in pads))


def _im2col_into(cols, x, samples, kernel, stride, pads, dilation, channel_major, compiled, parallel=False):
    """Write the columns of samples ``samples`` (a slice) of x into ``cols``: (N, C*K, L) sample-major or
    (C*K, N*L) channel-major, over the whole batch.

    The NumPy copy's inner loop runs along the output's last axis, contiguous in the input for
    stride 1; the (N*L, C*K) layout of textbook im2col copies runs of kernel width instead and
    measured 4x slower here (32x3x32x32, 3x3: 41 ms vs 10 ms)."""
    n, c = x.shape[:2]
    nd = len(kernel)
    out_sp = _out_spatial(x.shape[2:], kernel, stride, pads, dilation)
    length = int(np.prod(out_sp))
    count = samples.stop - samples.start
    if count <= 0:
        return
    if compiled:
        ck = c * int(np.prod(kernel))
        sample_stride, row_stride = (length, n * length) if channel_major else (cols.shape[1] * length, length)
        part = np.ascontiguousarray(x[samples])
        kernels.get("conv").im2col2d(part.reshape(-1), cols.reshape(-1)[samples.start * sample_stride:], count,
                                     c, *x.shape[2:], *kernel, *stride, pads[0][0], pads[1][0], *dilation, *out_sp,
                                     sample_stride, row_stride, parallel and count > 1)
        return
    win = _windows(_pad(x[samples], pads), kernel, stride, dilation)  # (n, C, *out, *k), a strided view
    kernel_axes, out_axes = tuple(range(2 + nd, 2 + 2 * nd)), tuple(range(2, 2 + nd))
    if channel_major:  # cols seen as (C, *k, N, *out)
        dest = cols.reshape((c,) + tuple(kernel) + (n,) + tuple(out_sp))[(slice(None),) * (1 + nd) + (samples,)]
        np.copyto(dest, win.transpose((1,) + kernel_axes + (0,) + out_axes))
    else:  # cols seen as (N, C, *k, *out) (a view: the rows past C*K, if any, are left alone)
        ck = c * int(np.prod(kernel))
        dest = np.reshape(cols[samples, :ck], (count, c) + tuple(kernel) + tuple(out_sp), copy=False)
        np.copyto(dest, win.transpose((0, 1) + kernel_axes + out_axes))


def _with_im2col_variant(op_numel, x, pads, run):
    """``run(compiled, parallel)`` on the im2col variant the dispatcher picks (op ``im2col2d``, 2-D only)."""
    if _compiled_im2col_fits(x, pads):
        return dispatch.call("im2col2d", op_numel, x.dtype, x.flags.c_contiguous, lambda parallel: run(True, parallel),
                             lambda: run(False, False))
    return run(False, False)


def _new_columns(x, kernel, stride, pads, dilation, channel_major, ones_row=False):
    """Room for the columns; sample-major with ``ones_row``: (N, C*K + 1, L), the last row for ones."""
    n, c = x.shape[:2]
    ck = c * int(np.prod(kernel))
    length = int(np.prod(_out_spatial(x.shape[2:], kernel, stride, pads, dilation)))
    return np.empty((ck, n * length) if channel_major else (n, ck + ones_row, length), dtype=x.dtype)


def _columns(x, kernel, stride, pads, dilation, channel_major=False):
    """im2col of the whole batch: (N, C*K, L) sample-major or (C*K, N*L) channel-major; and the output's spatial shape."""
    cols = _new_columns(x, kernel, stride, pads, dilation, channel_major)
    _with_im2col_variant(cols.size, x, pads, lambda compiled, parallel: _im2col_into(
        cols, x, slice(0, x.shape[0]), kernel, stride, pads, dilation, channel_major, compiled, parallel))
    return cols, _out_spatial(x.shape[2:], kernel, stride, pads, dilation)


def _out_spatial(in_spatial, kernel, stride, pads, dilation):
    return tuple(out_size(size, k, s, d, lo, hi)
                 for size, k, s, d, (lo, hi) in zip(in_spatial, kernel, stride, dilation, pads))


_CACHE_CHUNK_BYTES = 256 * 1024  # output rows finished (bias added) while they are still in L2


# C*kh*kw up to which a float32 convolution runs on the direct kernels (kernels_cpp/conv_direct.cpp:
# forward, weight gradient, and at stride 1 the input gradient) instead of im2col + GEMMs. Their
# register tiles (4 output channels x 24 positions) ran W12's 3x3 convolutions (16-64 channels, batch
# 32, 1 thread) at 85-107 GFLOP/s against 43-88 for im2col + OpenBLAS, with no column matrices:
# forward 6.7 ms against 12.4, the weight gradients 7.9 against 9.1, the stride-1 input gradients
# 4.7 against 9.0 (the GEMM + col2im). The bound only keeps a tap's weights block small.
DIRECT_MAX_TAPS = 1 << 14
# Weights (O*C*kh*kw) up to which the weight gradient runs direct: it keeps vector partial sums of 16 floats
# per weight (16 MB here, shared by its threads: each weight is one work item's); larger layers have GEMMs big
# enough for BLAS anyway
DIRECT_MAX_WEIGHTS = 1 << 18


def _direct_kernel(x, w_shape, w_dtype, stride, pads, dilation, groups):
    """The conv_direct module if its kernels run this convolution (x an ndarray, w of shape
    ``w_shape`` and dtype ``w_dtype``), else None."""
    module = kernels.get("conv_direct")
    if (module is None or not module.VECTORISED or x.ndim != 4 or groups != 1
            or x.dtype != np.float32 or w_dtype != np.float32 or x.shape[0] == 0
            or tuple(dilation) != (1, 1) or min(pads[0] + pads[1]) < 0
            or w_shape[1] * w_shape[2] * w_shape[3] > DIRECT_MAX_TAPS):
        return None
    return module


def _geometry(x, w_shape, stride, pads, out_sp):
    """The kernels' shape arguments after the buffers: n, C, H, W, O, kh, kw, sh, sw, ph, pw, OH, OW
    (the zeros after the input follow from the output's size)."""
    return (*x.shape, w_shape[0], *w_shape[2:], *stride, pads[0][0], pads[1][0], *out_sp)


CACHE_LINE = 64  # bytes


def empty_aligned(shape, dtype=np.float32):
    """np.empty(shape, dtype) whose data starts on a cache line (an AVX-512 vector). The direct weight gradient
    reads gy with unaligned vector loads: on 64-byte aligned gy W12's layers ran 8-19% faster than on the 16-byte
    alignment NumPy's allocator gives, whose offset changed from process to process (and the time with it)."""
    dtype = np.dtype(dtype)
    nbytes = math.prod(shape) * dtype.itemsize
    raw = np.empty(nbytes + CACHE_LINE, np.uint8)
    start = -raw.ctypes.data % CACHE_LINE
    return raw[start:start + nbytes].view(dtype).reshape(shape)


_zero_bias = {}  # O -> read-only zeros: the bias of a convolution without one


def _zeros(count):
    zeros = _zero_bias.get(count)
    if zeros is None:
        zeros = _zero_bias[count] = np.zeros(count, np.float32)
        zeros.flags.writeable = False
    return zeros


def _conv_direct(module, x, w, pads, bias, stride, out_sp, parallel):
    n, o = x.shape[0], w.shape[0]
    y = empty_aligned((n, o) + tuple(out_sp))
    b = _zeros(o) if bias is None else np.ascontiguousarray(bias, np.float32)
    module.conv2d(np.ascontiguousarray(x), np.ascontiguousarray(w), b, y, *_geometry(x, w.shape, stride, pads, out_sp),
                  parallel)
    return y


def _weight_grad_direct(module, x, gy, kernel, stride, pads, parallel):
    o = gy.shape[1]
    dw = np.empty((o, x.shape[1]) + tuple(kernel), np.float32)
    module.conv2d_weight_grad(np.ascontiguousarray(x), np.ascontiguousarray(gy), dw,
                              *_geometry(x, dw.shape, stride, pads, gy.shape[2:]), parallel)
    return dw


def _input_grad_direct(module, gy, w, in_spatial, stride, pads, parallel):
    """The input gradient in one kernel call (conv_direct's conv2d_input_grad): per phase (a, b) of dx's rows and
    columns (one at stride 1) a stride-1 convolution of gy with the flipped sub-kernel of the taps that reach it,
    channels swapped, written straight into dx[..., a::sh, b::sw]; a phase no tap reaches (a 1x1 stride-2
    kernel's odd rows) is zeros. No zero-stuffed gy, no columns; all phases of all samples share the threads in one
    job (a strided layer took a call per phase before)."""
    n, c = gy.shape[0], w.shape[1]
    dx = empty_aligned((n, c) + tuple(in_spatial))
    module.conv2d_input_grad(np.ascontiguousarray(gy), np.ascontiguousarray(w), dx,
                             *_geometry(dx, w.shape, stride, pads, gy.shape[2:]), parallel)
    return dx


def conv_forward_np(x, w, stride, pads, dilation, groups, keep_cols=None, bias=None):
    """The convolution's output (plus ``bias``, an array of O values, if given); ``keep_cols`` (a list)
    receives the im2col matrix for the weight grad, if the forward made one.

    float32 convolutions without dilation or groups run on the direct kernel (dispatch op
    ``conv2d_direct``; their weight gradient has one too), the others on im2col + GEMMs
    (``_conv_forward_im2col``)."""
    if x.shape[0] == 0:  # an empty batch: nothing for im2col or the kernels, whose loops assume samples
        out_sp = _out_spatial(x.shape[2:], w.shape[2:], stride, pads, dilation)
        return np.zeros((0, w.shape[0]) + tuple(out_sp), dtype=np.result_type(x, w))
    module = _direct_kernel(x, w.shape, w.dtype, stride, pads, dilation, groups)
    if module is None:
        return _conv_forward_im2col(x, w, stride, pads, dilation, groups, keep_cols, bias)
    out_sp = _out_spatial(x.shape[2:], w.shape[2:], stride, pads, dilation)
    return dispatch.call("conv2d_direct", x.shape[0] * w.shape[0] * math.prod(out_sp), x.dtype, True,
                         lambda parallel: _conv_direct(module, x, w, pads, bias, stride, out_sp, parallel),
                         lambda: _conv_forward_im2col(x, w, stride, pads, dilation, groups, keep_cols, bias),
                         reference="im2col")


def _conv_forward_im2col(x, w, stride, pads, dilation, groups, keep_cols=None, bias=None):
    """conv_forward_np by im2col and GEMMs.

    A pipeline over parts of the batch: im2col of the part's samples, their GEMMs, the bias add,
    so that columns and outputs are still in cache when the next stage reads them. Sample-major:
    one part per thread, one BLAS thread each; channel-major: one part."""
    kernel = w.shape[2:]
    n, o = x.shape[0], w.shape[0]
    ck = int(np.prod(w.shape[1:])) * groups
    out_sp = _out_spatial(x.shape[2:], kernel, stride, pads, dilation)
    length = int(np.prod(out_sp))
    channel_major = _channel_major(n, groups, o, ck, length)
    # per-sample GEMMs add the bias themselves: one more column of W (the bias) against a row of
    # ones in the columns, instead of a pass over the output (W5, 1 thread: 0.26 ms against 0.77)
    ones_row = bias is not None and not channel_major and groups == 1
    cols = _new_columns(x, kernel, stride, pads, dilation, channel_major, ones_row)
    if keep_cols is not None:
        keep_cols.append(cols[:, :ck] if ones_row else cols)
    dtype = np.result_type(x, w)
    y = np.empty((n, o, length), dtype)
    bias_rows = None if bias is None else bias.reshape(1, groups, o // groups, 1).astype(dtype, copy=False)
    if channel_major:
        w_rows = w.reshape(o, ck).astype(dtype, copy=False)

        def finish(samples):  # one GEMM over the part's columns, transposed into y (+ bias) in one copy
            y_rows = (w_rows @ cols[:, samples.start * length:samples.stop * length]).reshape(o, -1, length)
            if bias_rows is None:
                np.copyto(y[samples], y_rows.transpose(1, 0, 2))
            else:
                np.add(y_rows.transpose(1, 0, 2), bias_rows.reshape(1, o, 1), out=y[samples])
    else:
        # (G, O/G, C/G*K) @ (n, G, C/G*K, L) -> (n, G, O/G, L): one GEMM per sample and group
        if ones_row:
            w_rows = np.concatenate((w.reshape(o, ck), bias.reshape(o, 1)), axis=1).astype(dtype)[None]
            cols4 = cols[:, None]
        else:
            w_rows = w.reshape(groups, o // groups, ck // groups).astype(dtype, copy=False)
            cols4 = cols.reshape(n, groups, ck // groups, length)
        y4 = y.reshape(n, groups, o // groups, length)
        chunk = max(1, _CACHE_CHUNK_BYTES // max(1, y[0].nbytes))

        def finish(samples):
            if ones_row:
                cols[samples, ck] = 1
            for start in range(samples.start, samples.stop, chunk):
                rows = slice(start, min(start + chunk, samples.stop))
                np.matmul(w_rows, cols4[rows], out=y4[rows])
                if bias_rows is not None and not ones_row:
                    y4[rows] += bias_rows

    # small (channel-major) convolutions stay in one part: with LeNet-5's, two parts measured
    # 1.3x slower than one on an idle machine (mostly copies, which two threads do not speed up)
    split = not channel_major

    def run(compiled, parallel):
        def part(samples):  # OpenMP im2col only where the parts are not already the threads
            _im2col_into(cols, x, samples, kernel, stride, pads, dilation, channel_major, compiled,
                         parallel and not split)
            finish(samples)
        in_parts_with_blas(part, n, o * ck // groups * n * length, split=split)

    _with_im2col_variant(cols.size, x, pads, run)
    return y.reshape((n, o) + tuple(out_sp))


def conv_input_grad_np(gy, w, in_spatial, stride, pads, dilation, groups):
    """The gradient of conv_forward_np w.r.t. its (unpadded) input of spatial size ``in_spatial``: at stride 1
    in float32 a convolution on the direct kernel (dispatch op ``conv2d_direct``), else GEMMs and col2im."""
    n, o_total = gy.shape[:2]
    kernel, cg = tuple(w.shape[2:]), w.shape[1]
    dtype = np.result_type(gy, w)
    if n == 0:  # an empty batch (see conv_forward_np)
        return np.zeros((0, groups * cg) + tuple(in_spatial), dtype=dtype)
    module = None if gy.dtype != np.float32 else _direct_kernel(
        gy, (cg, o_total) + kernel, w.dtype, stride, pads, dilation, groups)
    if module is not None:
        return dispatch.call("conv2d_direct", n * cg * math.prod(in_spatial), dtype, True,
                             lambda parallel: _input_grad_direct(module, gy, w, in_spatial, stride, pads, parallel),
                             lambda: _input_grad_im2col(gy, w, in_spatial, stride, pads, dilation, groups),
                             reference="im2col")
    return _input_grad_im2col(gy, w, in_spatial, stride, pads, dilation, groups)


def _input_grad_im2col(gy, w, in_spatial, stride, pads, dilation, groups):
    """conv_input_grad_np by GEMMs into columns and col2im."""
    n, o_total = gy.shape[:2]
    kernel = tuple(w.shape[2:])
    out_sp = gy.shape[2:]
    cg, og = w.shape[1], o_total // groups
    kk = int(np.prod(kernel))
    length = int(np.prod(out_sp))
    dtype = np.result_type(gy, w)
    w_rows = w.reshape(groups, og, cg * kk).astype(dtype, copy=False)
    if _channel_major(n, groups, o_total, cg * kk, length):
        # cols[(c, k), (n, l)] = sum_o w[o, (c, k)] gy[n, o, l]: one GEMM over the batch
        with blas_threads_for(o_total * cg * kk * n * length):
            cols = w_rows[0].T @ _by_channel(gy).astype(dtype, copy=False)
    else:
        # cols[n, g, (c, k), l] = sum_o w[g, o, (c, k)] gy[n, g, o, l]
        cols = batched_matmul(w_rows.transpose(0, 2, 1), gy.reshape(n, groups, og, length).astype(dtype, copy=False),
                              og * cg * kk * length)
    channel_major = cols.ndim == 2
    if len(kernel) == 2 and cols.dtype in dispatch._COMPILED_DTYPES and all(lo >= 0 and hi >= 0 for lo, hi in pads):
        def compiled(parallel):
            dx = np.empty((n, groups * cg) + tuple(in_spatial), dtype=dtype)
            sample_stride, row_stride = (length, n * length) if channel_major else (groups * cg * kk * length, length)
            kernels.get("conv").col2im2d(cols.reshape(-1), dx.reshape(-1), n, groups * cg, *in_spatial, *kernel, *stride,
                                         pads[0][0], pads[1][0], *dilation, *out_sp, sample_stride, row_stride,
                                         parallel and n > 1)
            return dx
        return dispatch.call("col2im2d", cols.size, dtype, cols.flags.c_contiguous, compiled,
                             lambda: _col2im_np(cols, n, groups * cg, kernel, out_sp, in_spatial, stride, pads,
                                                dilation))
    return _col2im_np(cols, n, groups * cg, kernel, out_sp, in_spatial, stride, pads, dilation)


def _col2im_np(cols, n, channels, kernel, out_sp, in_spatial, stride, pads, dilation):
    dtype = cols.dtype
    nd = len(kernel)
    if cols.ndim == 2:  # channel-major (C*K, N*L): viewed as (N, C, *k, *out) without a copy
        cols = cols.reshape((channels,) + kernel + (n,) + tuple(out_sp))
        cols = cols.transpose((1 + nd, 0) + tuple(range(1, 1 + nd)) + tuple(range(2 + nd, 2 + 2 * nd)))
    else:
        cols = cols.reshape((n, channels) + kernel + tuple(out_sp))  # (N, C, *k, *out)
    padded = tuple(size + lo + hi for size, (lo, hi) in zip(in_spatial, pads))
    dx = np.zeros((n, channels) + padded, dtype=dtype)
    for koff in np.ndindex(*kernel):  # scatter each kernel offset's plane back onto the input
        sl = tuple(slice(k * d, k * d + (size - 1) * s + 1, s)
                   for k, d, size, s in zip(koff, dilation, out_sp, stride))
        dx[(slice(None), slice(None)) + sl] += cols[(slice(None), slice(None)) + koff]
    crop = tuple(slice(lo, lo + size) for size, (lo, hi) in zip(in_spatial, pads))
    return np.ascontiguousarray(dx[(slice(None), slice(None)) + crop])


def conv_weight_grad_np(x, gy, kernel, stride, pads, dilation, groups, cols=None):
    """dW from the input and the output gradient; ``cols``: x's im2col matrix in either layout, if known.

    Without columns, float32 convolutions without dilation or groups run on the direct kernel (dispatch op
    ``conv2d_direct_weight_grad``), the others on GEMMs (``_weight_grad_im2col``)."""
    n, o_total = gy.shape[:2]
    if n == 0:  # an empty batch: no samples to sum over (see conv_forward_np)
        return np.zeros((o_total, x.shape[1] // groups) + tuple(kernel), dtype=np.result_type(x, gy))
    macs = o_total * x.shape[1] * int(np.prod(kernel)) * n * int(np.prod(gy.shape[2:]))
    w_shape = (o_total, x.shape[1]) + tuple(kernel)
    module = None if cols is not None or gy.dtype != np.float32 or math.prod(w_shape) > DIRECT_MAX_WEIGHTS \
        else _direct_kernel(x, w_shape, gy.dtype, stride, pads, dilation, groups)
    if module is not None:
        return dispatch.call("conv2d_direct_weight_grad", macs, x.dtype, True,
                             lambda parallel: _weight_grad_direct(module, x, gy, kernel, stride, pads, parallel),
                             lambda: _weight_grad_im2col(x, gy, kernel, stride, pads, dilation, groups),
                             reference="im2col")
    return _weight_grad_im2col(x, gy, kernel, stride, pads, dilation, groups, cols)


def _weight_grad_im2col(x, gy, kernel, stride, pads, dilation, groups, cols=None):
    """conv_weight_grad_np by GEMMs on x's im2col matrix (made here if not given)."""
    n, o_total = gy.shape[:2]
    og = o_total // groups
    length = int(np.prod(gy.shape[2:]))
    ck = x.shape[1] * int(np.prod(kernel))
    if cols is None:
        cols, _ = _columns(x, kernel, stride, pads, dilation, _channel_major(n, groups, o_total, ck, length))
    dtype = np.result_type(x, gy)
    if cols.ndim == 2:  # channel-major: dw[o, (c, k)] = sum_{n, l} gy[n, o, l] cols[(c, k), (n, l)], one GEMM
        with blas_threads_for(o_total * ck * n * length):
            dw = _by_channel(gy).astype(dtype, copy=False) @ cols.T
        return dw.reshape((o_total, ck // int(np.prod(kernel))) + tuple(kernel))
    # dw[g, o, (c, k)] = sum_n sum_l gy[n, g, o, l] cols[n, g, (c, k), l]
    gy_rows = gy.reshape(n, groups, og, length).astype(dtype, copy=False)
    per_sample = batched_matmul(gy_rows, cols.reshape(n, groups, ck // groups, length).transpose(0, 1, 3, 2),
                                og * ck // groups * length)
    dw = per_sample.sum(0)  # (G, O/G, C/G*K)
    return dw.reshape((o_total, ck // groups // int(np.prod(kernel))) + tuple(kernel))


class _ConvNode(Node):
    def name(self):
        return "ConvolutionBackward0"

    def _params(self):
        return self.stride, self.pads, self.dilation, self.groups


class ConvolutionBackward0(_ConvNode):
    def backward(self, gy):
        x, w = self.saved_tensors
        if backward_on_arrays() and gy._data.dtype in dispatch._COMPILED_DTYPES:
            return self._on_arrays(x._data, w._data, gy._data)
        gx = gw = gb = None
        if self.next_functions[0][0] is not None:
            gx = conv_transpose(gy, w, None, *self._params(), out_spatial=tuple(x.shape[2:]))
        if self.next_functions[1][0] is not None:
            gw = conv_weight_grad(x, gy, tuple(w.shape[2:]), *self._params(), cols=self.cols)
        if len(self.next_functions) > 2 and self.next_functions[2][0] is not None:
            gb = gy.sum((0,) + tuple(range(2, gy.ndim)))
        return (gx, gw, gb)[:len(self.next_functions)]

    def _on_release(self):
        self.cols = None

    def _on_arrays(self, x, w, gy):
        """The same gradients on the arrays, each wrapped once: no graph of them is wanted, and the torsh
        ops around the kernels cost tens of microseconds per layer (as linalg's product grads do)."""
        wanted = [edge[0] is not None for edge in self.next_functions]
        gx = gw = gb = None
        if wanted[0]:
            gx = conv_input_grad_np(gy, w, tuple(x.shape[2:]), *self._params())
            gx = wrap(gx if gx.dtype == gy.dtype else gx.astype(gy.dtype))
        if wanted[1]:
            gw = wrap(conv_weight_grad_np(x, gy, tuple(w.shape[2:]), *self._params(), cols=self.cols))
        if len(wanted) > 2 and wanted[2]:
            gb = sum_but_channels(gy)
            gb = wrap(gy.sum((0,) + tuple(range(2, gy.ndim))) if gb is None else gb)
        return (gx, gw, gb)[:len(wanted)]


class ConvTransposeBackward(_ConvNode):
    def backward(self, gy):
        x, w = self.saved_tensors
        gx = gw = gb = None
        if self.next_functions[0][0] is not None:
            gx = convolution(gy, w, None, *self._params())
        if self.next_functions[1][0] is not None:
            gw = conv_weight_grad(gy, x, tuple(w.shape[2:]), *self._params())
        if len(self.next_functions) > 2 and self.next_functions[2][0] is not None:
            gb = gy.sum((0,) + tuple(range(2, gy.ndim)))
        return (gx, gw, gb)[:len(self.next_functions)]


class ConvWeightGradBackward(_ConvNode):
    def backward(self, g):
        x, gy = self.saved_tensors
        gx = ggy = None
        if self.next_functions[0][0] is not None:
            gx = conv_transpose(gy, g, None, *self._params(), out_spatial=tuple(x.shape[2:]))
        if self.next_functions[1][0] is not None:
            ggy = convolution(x, g, None, *self._params())
        return gx, ggy


def _add_bias(y, b):
    if b is not None:
        y += b._data.reshape((1, -1) + (1,) * (y.ndim - 2)).astype(y.dtype, copy=False)
    return y


def convolution(x, w, b, stride, pads, dilation, groups):
    """Cross-correlation of x (N, C, *sp) with w (O, C/groups, *k), zero ``pads`` per dim."""
    # the weight gradient needs the same im2col matrix: kept from the forward (one copy of the
    # windows saved per step; W7 measured 4 im2col calls a step before, 2 now). A direct forward
    # keeps none: its weight gradient runs direct too.
    keep = [] if needs_grad(w) else None
    y = conv_forward_np(x._data, w._data, stride, pads, dilation, groups, keep, None if b is None else b._data)
    result = wrap(y)
    if needs_grad(x, w, b):
        node = ConvolutionBackward0()
        node.cols = keep[0] if keep else None
        node.stride, node.pads, node.dilation, node.groups = stride, pads, dilation, groups
        record(node, (x, w, b) if b is not None else (x, w), (result,))
        node.save_for_backward(x, w)
    return result


def conv_transpose(x, w, b, stride, pads, dilation, groups, out_spatial):
    """The adjoint of ``convolution`` in its input: x (N, Cin, *sp), w (Cin, Cout/groups, *k)."""
    y = conv_input_grad_np(x._data, w._data, out_spatial, stride, pads, dilation, groups)
    if y.dtype != x._data.dtype:  # bfloat16 is computed in float32: the result keeps the input's dtype
        y = y.astype(x._data.dtype)
    result = wrap(_add_bias(y, b))
    if needs_grad(x, w, b):
        node = ConvTransposeBackward()
        node.stride, node.pads, node.dilation, node.groups = stride, pads, dilation, groups
        record(node, (x, w, b) if b is not None else (x, w), (result,))
        node.save_for_backward(x, w)
    return result


def conv_weight_grad(x, gy, kernel, stride, pads, dilation, groups, cols=None):
    """d(sum(gy * convolution(x, w)))/dw, a bilinear op of (x, gy); ``cols``: x's im2col matrix if known."""
    result = wrap(conv_weight_grad_np(x._data, gy._data, kernel, stride, pads, dilation, groups, cols))
    if needs_grad(x, gy):
        node = ConvWeightGradBackward()
        node.stride, node.pads, node.dilation, node.groups = stride, pads, dilation, groups
        record(node, (x, gy), (result,))
        node.save_for_backward(x, gy)
    return result
