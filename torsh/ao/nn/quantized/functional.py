"""``torch.ao.nn.quantized.functional`` (also ``torch.nn.quantized.functional``): the quantized modules' function
forms. Products go through the modules' integer arithmetic (``_kernels``: PyTorch's fbgemm integers); pooling,
clamping and nearest interpolation select or clamp the integers themselves, the quantizer kept; hardswish and
the float-valued resamplings requantize float32 results (PyTorch's kernels compute those in float too)."""
import numpy as np

import torsh
from torsh._quantized import QuantizedTensor

from . import modules as _m
from .functional_modules import vector_quantize

__all__ = ["avg_pool2d", "adaptive_avg_pool2d", "conv2d", "interpolate", "linear", "max_pool1d", "max_pool2d",
           "hardtanh", "hardswish", "clamp", "upsample", "upsample_nearest", "upsample_bilinear"]


def _pair(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


def _require_quantized(input, name):
    if not isinstance(input, QuantizedTensor):
        raise ValueError(f"Input to 'quantized.{name}' must be quantized!")


def linear(input, weight, bias=None, scale=None, zero_point=None):
    """y = x W^T + b on quint8 x and qint8 W, requantized to (scale, zero_point) (the input's when None)."""
    scale = input.q_scale() if scale is None else scale
    zero_point = input.q_zero_point() if zero_point is None else zero_point
    mod = _m.Linear.__new__(_m.Linear)
    torsh.nn.Module.__init__(mod)
    mod.in_features, mod.out_features = weight.shape[1], weight.shape[0]
    mod._packed_params = _m.LinearPackedParams(torsh.qint8)
    mod.set_weight_bias(weight, bias)
    mod.scale, mod.zero_point = float(scale), int(zero_point)
    return mod(input)


def conv2d(input, weight, bias, stride=1, padding=0, dilation=1, groups=1, padding_mode="zeros", scale=1.0,
           zero_point=0, dtype=torsh.quint8):
    if padding_mode != "zeros":
        raise NotImplementedError("Only zero-padding is supported!")
    if input.dtype != torsh.quint8:
        raise NotImplementedError("Only torch.quint8 is supported for activation tensor!")
    if weight.dtype != torsh.qint8:
        raise NotImplementedError("Only torch.qint8 is supported for weight tensor!")
    if input.ndim != 4:
        raise ValueError("Input shape must be `(N, C, H, W)`!")
    out_channels, in_per_group, kh, kw = weight.shape
    mod = _m.Conv2d(in_per_group * groups, out_channels, (kh, kw), _pair(stride), _pair(padding), _pair(dilation),
                    groups, bias is not None)
    mod.set_weight_bias(weight, bias)
    mod.scale, mod.zero_point = float(scale), int(zero_point)
    return mod(input)


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    if return_indices:
        raise NotImplementedError("return_indices is not yet implemented!")
    pool = _m.MaxPool2d(kernel_size, stride, padding, dilation, ceil_mode=ceil_mode)
    return pool(input)


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    if return_indices:
        raise NotImplementedError("return_indices is not yet implemented!")
    fn = lambda t: torsh.nn.functional.max_pool1d(t, kernel_size, stride, padding, dilation, ceil_mode)  # noqa: E731
    return _m._on_integers(fn, input)


def adaptive_avg_pool2d(input, output_size):
    if not isinstance(input, QuantizedTensor):
        raise ValueError("Input to 'quantized.functional.adaptive_avg_pool2d' must be quantized!")
    return _m.AdaptiveAvgPool2d(output_size)(input)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    """The windows' means of (int - zero_point), rounded to nearest even, in the input's quantizer."""
    _require_quantized(input, "avg_pool2d")
    zp = input._zero_point
    centred = torsh.from_numpy(input._int.astype(np.float64) - zp)
    means = torsh.nn.functional.avg_pool2d(centred, kernel_size, stride, padding, ceil_mode, count_include_pad,
                                           divisor_override).numpy()
    ints = np.clip(np.rint(means) + zp, input.dtype.qmin, input.dtype.qmax)
    return input._like(ints.astype(input._int.dtype))


def _quantized_bound(input, value):
    """The integer a float bound quantizes to in the input's quantizer (PyTorch's quantize_val), unclamped."""
    return float(np.rint(np.float32(value) / np.float32(input._scale)) + input._zero_point)


def clamp(input, min_, max_):
    if not isinstance(input, QuantizedTensor):
        raise ValueError("Input to 'quantized.clamp' must be quantized!")
    lo, hi = _quantized_bound(input, min_), _quantized_bound(input, max_)
    ints = np.clip(np.clip(input._int.astype(np.float64), lo, hi), input.dtype.qmin, input.dtype.qmax)
    return input._like(ints.astype(input._int.dtype))


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    _require_quantized(input, "hardtanh")
    out = clamp(input, min_val, max_val)
    if inplace:
        input._int[...] = out._int
        return input
    return out


def hardswish(input, scale, zero_point):
    _require_quantized(input, "hardswish")
    # PyTorch's vector loop: x = fma(int, scale, -zp * scale), y = x * min(max(x + 3, 0), 6) / 6 in float32
    s32 = np.float32(input._scale)
    premul = np.float32(-np.float32(input._zero_point) * s32)
    x = (input._int.astype(np.float64) * np.float64(s32) + np.float64(premul)).astype(np.float32)
    y = x * np.minimum(np.maximum(x + np.float32(3), np.float32(0)), np.float32(6)) / np.float32(6)
    return vector_quantize(y, scale, zero_point, input.dtype)


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None):
    if not isinstance(input, QuantizedTensor):
        raise ValueError("Input to 'quantized.interpolate' must be quantized!")
    if mode == "nearest":  # an index selection: on the integers
        fn = lambda t: torsh.nn.functional.interpolate(t, size, scale_factor, mode, align_corners)  # noqa: E731
        return _m._on_integers(fn, input)
    values = torsh.nn.functional.interpolate(input.dequantize(), size, scale_factor, mode, align_corners)
    return torsh.quantize_per_tensor(values, input._scale, input._zero_point, input.dtype)


def upsample(input, size=None, scale_factor=None, mode="nearest", align_corners=None):
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_bilinear(input, size=None, scale_factor=None):
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)


def upsample_nearest(input, size=None, scale_factor=None):
    return interpolate(input, size, scale_factor, mode="nearest")
