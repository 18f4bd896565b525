"""Integer arithmetic of the quantized modules, as PyTorch's x86 (fbgemm) kernels do it: products of
(int - zero_point) summed exactly (in float64, exact for these sizes), then requantized in float32 with the bias
added in the accumulator's units; dynamic layers quantize their input with fbgemm's ChooseQuantizationParams."""
import numpy as np

from torsh import _array_api
from torsh._ops.tensor.quantize import _round_fused

SMALL_SCALE_THRESHOLD = np.float32(6.1e-5)


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


def weight_scales(q, channels):
    if q._axis is None:
        return np.full(channels, np.float32(q._scale), dtype=np.float32)
    return q._scale.astype(np.float32)


def requantize(acc, x_scale, w_scales, bias, out_scale, out_zero_point, relu, channel_axis):
    """int32 accumulators -> quint8: lrintf((acc + bias / (sx*sw)) * (sx*sw / s_out)) + zp_out, clamped."""
    shape = [1] * acc.ndim
    shape[channel_axis] = -1
    act_times_w = (np.float32(x_scale) * w_scales).reshape(shape)
    raw = acc.astype(np.float32)
    if bias is not None:
        raw = raw + (bias.astype(np.float32).reshape(shape) / act_times_w)
    ab = raw * (act_times_w / np.float32(out_scale))
    q = np.rint(ab).astype(np.int64) + out_zero_point
    return np.clip(q, out_zero_point if relu else 0, 255).astype(np.uint8)


def choose_qparams(min_val, max_val, qmin, qmax, reduce_range):
    """fbgemm's ChooseQuantizationParams (QuantUtils.h) for a dynamic layer's input."""
    if reduce_range:
        qmin, qmax = qmin // 2, qmax // 2
    min_val = min(float(np.float32(min_val)), 0.0)
    max_val = max(float(np.float32(max_val)), 0.0)
    scale = (max_val - min_val) / (qmax - qmin)
    if np.float32(scale) == 0 or np.isinf(np.float32(1.0) / np.float32(scale)):
        scale = 0.1
    if scale < SMALL_SCALE_THRESHOLD:
        org = scale
        scale = float(SMALL_SCALE_THRESHOLD)
        if min_val == 0:
            max_val = scale * (qmax - qmin)
        elif max_val == 0:
            min_val = -scale * (qmax - qmin)
        else:
            min_val, max_val = min_val * (scale / org), max_val * (scale / org)
    scale = float(np.float32(scale))
    zp_min, zp_max = qmin - min_val / scale, qmax - max_val / scale
    err_min = abs(qmin) - abs(min_val / scale)
    err_max = abs(qmax) - abs(max_val / scale)
    initial = zp_min if err_min < err_max else zp_max
    zero_point = qmin if initial < qmin else qmax if initial > qmax else int(np.rint(initial))
    return scale, zero_point


def quantize_input(x, reduce_range):
    """(quint8 ints centred on their zero point, scale) of a float input, as fbgemm's dynamic path."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    lo, hi = (float(x.min()), float(x.max())) if x.size else (0.0, 0.0)
    scale, zero_point = choose_qparams(lo, hi, 0, 255, reduce_range)
    inv = np.float32(1.0) / np.float32(scale)
    ints = np.clip(_round_fused(x, np.asarray(inv), zero_point), 0, 255)
    return ints.astype(np.float64) - zero_point, scale


def wrap(array):
    return _array_api.wrap(array)
