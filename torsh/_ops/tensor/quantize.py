"""Quantization ops: ``quantize_per_tensor`` / ``quantize_per_channel`` (making ``torsh._quantized`` tensors),
``dequantize``, the quantized tensor's accessors (``int_repr``, ``q_scale``, ...), and the fake quantization
ops QAT trains through (``fake_quantize_per_tensor_affine`` / ``_per_channel_affine``: quantize-dequantize in
float, straight-through gradient inside [quant_min, quant_max]).

Rounding is PyTorch's CPU kernels': to nearest, ties to even. Per tensor, of ``x * (1 / scale) + zero_point`` in one
float32 fused multiply-add (fbgemm's loop); per channel and in fake quantization, of ``x * (1 / scale)`` in float32,
the zero point added after.
"""
import numbers

import numpy as np

from ... import _dtype
from ..._quantized import (QuantizedTensor, not_on_backend, per_channel_affine, per_tensor_affine)
from ..._tensor import Tensor, wrap
from ...autograd.graph import Node, needs_grad, record
from ..registry import register


def _qdtype(dtype):
    if not isinstance(dtype, _dtype.QuantizedDtype) or dtype in (_dtype.quint4x2, _dtype.quint2x4):
        name = _dtype.SCALAR_TYPE_NAMES.get(getattr(dtype, "name", None), str(dtype))
        raise RuntimeError(f"ScalarType {name} is not supported in new_qtensor.")
    return dtype


def _float_input(input):
    if input.dtype is not _dtype.float32:
        raise RuntimeError(f"Quantize only works on Float Tensor, got {_dtype.SCALAR_TYPE_NAMES[input.dtype.name]}")
    return input._data


def _inv_scale(scale):
    return np.float32(1.0) / np.asarray(scale, dtype=np.float32)


def _round_fused(x, inv_scale, zero_point):
    """round(fma(x, 1/scale, zero_point)) in float32: a float32 product is exact in float64, so one rounding of
    the float64 sum to float32 is the fused multiply-add's."""
    return np.rint((x.astype(np.float64) * inv_scale.astype(np.float64) + zero_point).astype(np.float32))


def _round_then_shift(x, inv_scale, zero_point):
    return np.rint(x * inv_scale).astype(np.float64) + zero_point


def _check_zero_points(zero_points, qdtype, op):
    zp = np.asarray(zero_points)
    if zp.size and zp.max() > qdtype.qmax:
        raise RuntimeError(f"{op} zero_point {int(zp.max())} is above upper bound.")
    if zp.size and zp.min() < qdtype.qmin:
        raise RuntimeError(f"{op} zero_point {int(zp.min())} is below lower bound.")


def _as_number(value, kind):
    if isinstance(value, Tensor):
        return kind(value._data.reshape(-1)[0]) if value._data.size == 1 else value
    return kind(value)


def quantize_per_tensor(input, scale, zero_point, dtype):
    """Affine quantization with one scale and zero point: int = clamp(round(x / scale) + zero_point)."""
    if isinstance(input, (list, tuple)):
        scales = scale._data.reshape(-1) if isinstance(scale, Tensor) else scale
        zps = zero_point._data.reshape(-1) if isinstance(zero_point, Tensor) else zero_point
        return tuple(quantize_per_tensor(t, float(s), int(z), dtype) for t, s, z in zip(input, scales, zps))
    qdtype = _qdtype(dtype)
    x = _float_input(input)
    # a scale given as a tensor is a float32 value, as PyTorch reads it
    scale = (float(np.float32(scale._data.reshape(-1)[0])) if isinstance(scale, Tensor) else float(scale))
    zero_point = _as_number(zero_point, int)
    _check_zero_points(zero_point, qdtype, "quantize_tensor_per_tensor_affine")
    inv = _inv_scale(scale)
    rounded = _round_fused(x, inv, zero_point).astype(np.float64)
    # NaN: fbgemm's 8-bit clamp (vector max/min) yields the top of the range; qint32's integer cast the bottom
    rounded[np.isnan(rounded)] = qdtype.qmax if qdtype.itemsize == 1 else qdtype.qmin
    ints = np.clip(rounded, qdtype.qmin, qdtype.qmax).astype(qdtype.storage)
    return QuantizedTensor._make(ints, qdtype, per_tensor_affine, scale, zero_point)


register(quantize_per_tensor, method=False)


SMALL_SCALE_THRESHOLD = np.float32(6.1e-5)


def choose_qparams(min_val, max_val, qmin, qmax, reduce_range, float_scale=True):
    """ChooseQuantizationParams (QuantUtils.h) for a dynamic layer's input; ``float_scale=False`` keeps the
    scale in double, as ATen's quantize_per_tensor_dynamic hands it on."""
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
    if float_scale:
        scale = float(np.float32(scale))
    zp_min, zp_max = qmin - min_val / scale, qmax - max_val / scale
    err_min = abs(qmin) - abs(min_val / scale)
    err_max = abs(qmax) - abs(max_val / scale)
    initial = zp_min if err_min < err_max else zp_max
    zero_point = qmin if initial < qmin else qmax if initial > qmax else int(np.rint(initial))
    return scale, zero_point


def quantize_per_tensor_dynamic(input, dtype, reduce_range):
    """Per-tensor quantization with qparams chosen from the input's own range (fbgemm's
    ChooseQuantizationParams over [min, max] widened to hold 0); float16 returns a half copy."""
    if dtype is _dtype.float16:
        return input.contiguous().to(_dtype.float16)
    if dtype not in (_dtype.qint8, _dtype.quint8):
        raise RuntimeError(f"dtype {_dtype.SCALAR_TYPE_NAMES.get(getattr(dtype, 'name', None), dtype)}not supported")
    x = _float_input(input)
    if x.size == 0:
        raise RuntimeError("min(): Expected reduction dim to be specified for input.numel() == 0. Specify the "
                           "reduction dim with the 'dim' argument.")
    qmin, qmax = (-128, 127) if dtype is _dtype.qint8 else (0, 255)
    scale, zero_point = choose_qparams(float(x.min()), float(x.max()), qmin, qmax, bool(reduce_range), False)
    return quantize_per_tensor(input, scale, zero_point, dtype)


register(quantize_per_tensor_dynamic, method=False)


def quantize_per_channel(input, scales, zero_points, axis, dtype):
    """Affine quantization with a scale and zero point per slice along ``axis``."""
    for name, arg, position in (("scales", scales, 2), ("zero_points", zero_points, 3)):
        if not isinstance(arg, Tensor):
            raise TypeError(f"quantize_per_channel(): argument '{name}' (position {position}) must be Tensor, "
                            f"not {type(arg).__name__}")
    qdtype = _qdtype(dtype)
    x = _float_input(input)
    if not 0 <= axis < x.ndim:
        raise RuntimeError(f"Channel axis out of range in per channel affine quantization. Got: {axis}"
                           f"Expected: [0, {x.ndim})")
    scale = scales._data.reshape(-1).astype(np.float64)
    zp = zero_points._data.reshape(-1).astype(np.int64)
    if scale.size != zp.size:
        raise RuntimeError("number of elements in scales and zero_points must match")
    if scale.size != x.shape[axis]:
        raise RuntimeError(f"length of scales must equal to channel, expected {x.shape[axis]} got, {scale.size}")
    _check_zero_points(zp, qdtype, "quantize_tensor_per_channel_affine")
    shape = [1] * x.ndim
    shape[axis] = -1
    rounded = _round_then_shift(x, _inv_scale(scale).reshape(shape), zp.reshape(shape))
    rounded[np.isnan(rounded)] = 0  # PyTorch's per-channel loop stores NaN as integer 0, whatever the zero point
    ints = np.clip(rounded, qdtype.qmin, qdtype.qmax).astype(qdtype.storage)
    return QuantizedTensor._make(ints, qdtype, per_channel_affine, scale, zp, axis)


register(quantize_per_channel, method=False)


def dequantize(input):
    """The float32 values of a quantized tensor ((int - zero_point) * scale); any other tensor as float32 (itself
    when it is float32 already), as PyTorch's dense dequantize."""
    if isinstance(input, (list, tuple)):
        return [dequantize(t) for t in input]
    if isinstance(input, QuantizedTensor):
        return wrap(input._float_values())
    return input.to(_dtype.float32)


register(dequantize)


def _quantized(input, op):
    if not isinstance(input, QuantizedTensor):
        raise not_on_backend(op, "CPU")
    return input


def _per_tensor(input):
    if input._axis is not None:
        raise RuntimeError("Expected quantizer->qscheme() == kPerTensorAffine to be true, but got false.  "
                           "(Could this error message be improved?  If so, please report an enhancement request "
                           "to PyTorch.)")
    return input


def _per_channel(input):
    if input._axis is None:
        raise RuntimeError("Expected quantizer->qscheme() == kPerChannelAffine || quantizer->qscheme() == "
                           "kPerChannelAffineFloatQParams to be true, but got false.  (Could this error message be "
                           "improved?  If so, please report an enhancement request to PyTorch.)")
    return input


def int_repr(input):
    """The stored integers as a plain tensor of the storage type (uint8, int8, int32)."""
    return wrap(_quantized(input, "int_repr")._int.copy())


def q_scale(input):
    return _per_tensor(_quantized(input, "q_scale"))._scale


def q_zero_point(input):
    return _per_tensor(_quantized(input, "q_zero_point"))._zero_point


def q_per_channel_scales(input):
    return wrap(_per_channel(_quantized(input, "q_per_channel_scales"))._scale.copy())


def q_per_channel_zero_points(input):
    return wrap(_per_channel(_quantized(input, "q_per_channel_zero_points"))._zero_point.copy())


def q_per_channel_axis(input):
    return _per_channel(_quantized(input, "q_per_channel_axis"))._axis


def qscheme(input):
    return _quantized(input, "qscheme")._qscheme


for _fn in (int_repr, q_scale, q_zero_point, q_per_channel_scales, q_per_channel_zero_points, q_per_channel_axis,
            qscheme):
    register(_fn)


# -- fake quantization (QAT) -----------------------------------------------------------------------------------
class FakeQuantizePerTensorAffineCachemaskBackward0(Node):
    def backward(self, grad):
        return (grad * self.mask,)

    def _on_release(self):
        self.mask = None


class FakeQuantizePerTensorAffineCachemaskTensorQparamsBackward0(FakeQuantizePerTensorAffineCachemaskBackward0):
    pass  # scale and zero point given as tensors (FakeQuantize modules): PyTorch's other overload


class FakeQuantizePerChannelAffineCachemaskBackward0(FakeQuantizePerTensorAffineCachemaskBackward0):
    pass


def _check_range(quant_min, quant_max, zero_point):
    if quant_min > quant_max:
        raise RuntimeError("`quant_min` should be less than or         equal to `quant_max`.")
    zp = np.asarray(zero_point)
    if zp.size and (zp.min() < quant_min or zp.max() > quant_max):
        raise RuntimeError("`zero_point` must be between `quant_min` and `quant_max`.")


def _fake_quantize(input, inv_scale, scale, zero_point, quant_min, quant_max, node_class):
    x = input._data
    # PyTorch's kernel: q = zero_point + round(x * inv_scale) in float32; out = (clamp(q) - zero_point) * scale
    q = _round_then_shift(x.astype(np.float32), inv_scale, zero_point)
    q[np.isnan(q)] = -np.inf  # NaN casts to the lowest int64 in PyTorch: clamped to quant_min, no gradient
    mask = (q >= quant_min) & (q <= quant_max)
    out = ((np.clip(q, quant_min, quant_max) - zero_point).astype(np.float32) * scale).astype(x.dtype)
    result = wrap(out)
    if needs_grad(input):
        node = node_class()
        record(node, (input,), (result,))
        node.mask = wrap(mask.astype(x.dtype))
    return result


def fake_quantize_per_tensor_affine(input, scale, zero_point, quant_min, quant_max):
    """Quantize and dequantize with one scale and zero point; the gradient passes where the value was in range."""
    node = (FakeQuantizePerTensorAffineCachemaskTensorQparamsBackward0 if isinstance(scale, Tensor)
            else FakeQuantizePerTensorAffineCachemaskBackward0)
    scale = float(np.float32(_as_number(scale, float)))
    zero_point = int(np.rint(_as_number(zero_point, float)))
    _check_range(quant_min, quant_max, zero_point)
    return _fake_quantize(input, _inv_scale(scale), np.float32(scale), zero_point, quant_min, quant_max, node)


register(fake_quantize_per_tensor_affine, method=False)  # its node: FakeQuantizePerTensorAffineCachemaskBackward0


def fake_quantize_per_channel_affine(input, scale, zero_point, axis, quant_min, quant_max):
    """Per-channel fake quantization along ``axis`` (QAT's weight fake quantizer)."""
    if zero_point.dtype not in (_dtype.int32, _dtype.float32, _dtype.float16):
        raise RuntimeError("Zero-point must be Int32, Float or Half, found "
                           f"{_dtype.SCALAR_TYPE_NAMES[zero_point.dtype.name]}")
    x = input._data
    if not isinstance(axis, numbers.Integral) or not -x.ndim <= axis < x.ndim or \
            scale._data.size != x.shape[axis] or zero_point._data.size != x.shape[axis]:
        raise RuntimeError("dimensions of scale and zero-point are not consistent with input tensor")
    if axis < 0:  # PyTorch sizes the scale by x.size(axis), then refuses a negative axis
        raise RuntimeError("`axis` must be between 0 and number of dimensions of input")
    zp = np.rint(zero_point._data.reshape(-1).astype(np.float64))
    _check_range(quant_min, quant_max, zp)
    shape = [1] * x.ndim
    shape[axis] = -1
    scale32 = scale._data.reshape(-1).astype(np.float32)
    return _fake_quantize(input, _inv_scale(scale32).reshape(shape), scale32.reshape(shape), zp.reshape(shape),
                          quant_min, quant_max, FakeQuantizePerChannelAffineCachemaskBackward0)


register(fake_quantize_per_channel_affine, method=False)  # its node: FakeQuantizePerChannelAffineCachemaskBackward0
