"""Integer arithmetic of the quantized modules, as PyTorch's x86 (fbgemm) kernels do it: products of
(int - zero_point) summed exactly in int32 (``int_product``: kernels_cpp/quantized.cpp's ``qgemm``; without
compiled kernels in float64, exact for these sizes), then requantized in float32 with the bias added in the
accumulator's units; dynamic layers quantize their input with fbgemm's ChooseQuantizationParams."""
import threading

import numpy as np

from torsh import _array_api
from torsh._ops.tensor.quantize import _round_fused, choose_qparams  # noqa: F401 (re-exported)
from torsh.backend import kernels, threads

PANEL = 32  # output columns per packed weight panel (kernels_cpp/quantized.cpp's kPanel)

def centred(q):
    """(int - zero_point) as float64, the zero point per tensor or per output channel (axis 0)."""
    ints = q._int.astype(np.float64)
    if q._axis is None:
        return ints - q._zero_point
    shape = [1] * ints.ndim
    shape[q._axis] = -1
    return ints - q._zero_point.reshape(shape)


def centred_weight_t(w):
    """centred(w).T as a contiguous float64 matrix, kept on the weight (quantized tensors are never written)."""
    cached = w.__dict__.get("_centred_t")
    if cached is None:
        cached = w.__dict__["_centred_t"] = np.ascontiguousarray(centred(w).reshape(w._int.shape[0], -1).T)
    return cached


def packed_weight(w):
    """(panels, K, Kp): the weight's rows (N x K after flattening) centred on their zero points, as int16 panels
    of 32 rows holding each pair of k side by side (qgemm's layout), K padded to Kp (a multiple of 32) and N to
    panels of 32 with zeros; kept on the weight (quantized tensors are never written)."""
    cached = w.__dict__.get("_qgemm_panels")
    if cached is None:
        n = w._int.shape[0]
        rows = centred(w).reshape(n, -1)
        k = rows.shape[1]
        kp, np_ = max(PANEL, -(-k // PANEL) * PANEL), -(-n // PANEL) * PANEL
        full = np.zeros((np_, kp), dtype=np.int16)
        full[:n, :k] = rows  # |int - zero point| <= 255
        panels = np.ascontiguousarray(full.reshape(np_ // PANEL, PANEL, kp // 2, 2).transpose(0, 2, 1, 3))
        cached = w.__dict__["_qgemm_panels"] = (panels, k, kp)
    return cached


_scratch = threading.local()  # a convolution's columns and accumulators, reused call after call


def _scratch_buffer(name, shape, dtype):
    """This thread's buffer ``name`` of that shape and dtype (fresh MBs page-faulted on every call: a batch-8
    convolution spent more in faults than in its product)."""
    buffers = _scratch.__dict__.setdefault("buffers", {})
    buf = buffers.get(name)
    if buf is None or buf.shape != shape or buf.dtype != dtype:
        buf = buffers[name] = np.empty(shape, dtype)
    return buf


def int_product(ints, zero_point, w, out=None):
    """sum_k (ints[..., k] - zero_point) * (w[n, k] - w's zero point) over the last dim of the uint8/int8
    ``ints``: the exact int32 accumulators (..., N) of fbgemm's products (float64 without compiled kernels)."""
    module = kernels.get("quantized")
    n = w._int.shape[0]
    if module is None:
        return (ints.astype(np.float64) - zero_point) @ centred_weight_t(w)
    panels, k, kp = packed_weight(w)
    a = np.ascontiguousarray(ints).reshape(-1, k)
    out = np.empty((a.shape[0], n), dtype=np.int32) if out is None else out.reshape(a.shape[0], n)
    module.qgemm(a, panels, out, a.shape[0], k, kp, n, int(zero_point), a.dtype == np.int8,
                 threads.single_thread_reason() is None)
    return out.reshape(ints.shape[:-1] + (n,))


def _conv_weight(w, group, groups):
    """The output channels of one group of a convolution weight (O, C / groups, kh, kw) with each filter's taps
    ordered (kh, kw, C), as im2col's channels-last columns are; a quantized tensor of its own, kept on the
    weight with its packed panels (quantized tensors are never written)."""
    cache = w.__dict__.setdefault("_conv_weights", {})
    if (group, groups) not in cache:
        per = w._int.shape[0] // groups
        part = slice(group * per, (group + 1) * per)
        ints = np.ascontiguousarray(w._int[part].transpose(0, 2, 3, 1))
        cache[group, groups] = type(w)._make(ints, w._qdtype, w._qscheme, w._scale, w._zero_point, w._axis) \
            if w._axis is None else type(w)._make(ints, w._qdtype, w._qscheme, w._scale[part], w._zero_point[part],
                                                  w._axis)
    return cache[group, groups]


def conv2d_int(ints, zero_point, w, stride, padding, dilation, groups):
    """The int32 accumulators (N, OH, OW, O) of a 2-D convolution of quint8/qint8 ``ints`` (N, C, H, W) with the
    quantized weight ``w`` (O, C / groups, kh, kw): im2col on the channels-last integers (padded with the zero
    point, which is zero once centred), one strided copy per tap, and qgemm per group."""
    n, c, h, wd = ints.shape
    o, cg, kh, kw = w._int.shape
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    oh, ow = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1, (wd + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    nhwc = np.full((n, h + 2 * ph, wd + 2 * pw, c), zero_point, dtype=ints.dtype)
    nhwc[:, ph:ph + h, pw:pw + wd] = ints.transpose(0, 2, 3, 1)
    compiled = kernels.get("quantized") is not None
    per = o // groups
    # the accumulators are requantized at once (Conv2d.forward): scratch buffers, as the columns
    out = _scratch_buffer("acc", (n, oh, ow, o), np.int32) if compiled else np.empty((n, oh, ow, o))
    cols = _scratch_buffer("cols", (n, oh, ow, kh, kw, cg), ints.dtype)
    for g in range(groups):
        for i in range(kh):
            for j in range(kw):
                cols[:, :, :, i, j] = nhwc[:, i * dh:i * dh + (oh - 1) * sh + 1:sh,
                                           j * dw:j * dw + (ow - 1) * sw + 1:sw, g * cg:(g + 1) * cg]
        columns, weight = cols.reshape(n, oh, ow, kh * kw * cg), _conv_weight(w, g, groups)
        if groups == 1 and compiled:
            int_product(columns, zero_point, weight, out=out)
        else:
            out[..., g * per:(g + 1) * per] = int_product(columns, zero_point, weight)
    return out  # channels last: the requantization runs along the rows


def dequantize_acc(acc, scales, bias):
    """A dynamic layer's float32 output: float(acc) * scales + bias (fbgemm's ReQuantizeForFloat)."""
    module = kernels.get("quantized")
    if module is None or acc.dtype != np.int32:
        out = acc.astype(np.float32) * scales
        return out if bias is None else out + bias.astype(np.float32)
    n = acc.shape[-1]
    out = np.empty(acc.shape, dtype=np.float32)
    b = np.zeros(1, np.float32) if bias is None else np.ascontiguousarray(bias, dtype=np.float32)
    module.dequantize(np.ascontiguousarray(acc), np.ascontiguousarray(scales, dtype=np.float32), b, out,
                      acc.size // max(n, 1), n, bias is not None)
    return out


def weight_scales(q, channels):
    if q._axis is None:
        return np.full(channels, np.float32(q._scale), dtype=np.float32)
    return q._scale.astype(np.float32)


def requantize(acc, x_scale, w_scales, bias, out_scale, out_zero_point, relu, channel_axis):
    """int32 accumulators -> quint8: lrintf((acc + bias / (sx*sw)) * (sx*sw / s_out)) + zp_out, clamped."""
    module = kernels.get("quantized")
    if module is not None and acc.dtype == np.int32 and channel_axis == acc.ndim - 1 and 0 <= out_zero_point <= 255:
        act_times_w = np.float32(x_scale) * w_scales
        n = acc.shape[-1]
        bias_q = np.zeros(n, np.float32) if bias is None else bias.astype(np.float32) / act_times_w
        out = np.empty(acc.shape, dtype=np.uint8)
        module.requantize(np.ascontiguousarray(acc), np.ascontiguousarray(bias_q, dtype=np.float32),
                          np.ascontiguousarray(act_times_w / np.float32(out_scale), dtype=np.float32), out,
                          acc.size // max(n, 1), n, int(out_zero_point), bool(relu))
        return out
    shape = [1] * acc.ndim
    shape[channel_axis] = -1
    act_times_w = (np.float32(x_scale) * w_scales).reshape(shape)
    raw = acc.astype(np.float32)
    if bias is not None:
        raw = raw + (bias.astype(np.float32).reshape(shape) / act_times_w)
    ab = raw * (act_times_w / np.float32(out_scale))
    q = np.rint(ab).astype(np.int64) + out_zero_point
    return np.clip(q, out_zero_point if relu else 0, 255).astype(np.uint8)


def quantize_input(x, reduce_range):
    """(quint8 ints, zero point, scale) of a float input, as fbgemm's dynamic path."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    lo, hi = (float(x.min()), float(x.max())) if x.size else (0.0, 0.0)
    scale, zero_point = choose_qparams(lo, hi, 0, 255, reduce_range)
    inv = np.float32(1.0) / np.float32(scale)
    ints = np.clip(_round_fused(x, np.asarray(inv), zero_point), 0, 255)
    return ints.astype(np.uint8), zero_point, scale


def wrap(array):
    return _array_api.wrap(array)
