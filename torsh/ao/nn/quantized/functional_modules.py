"""``FloatFunctional`` (observed float arithmetic a model writes as ``self.skip_add.add(x, y)``) and
``QFunctional``, which ``convert`` swaps in for it: the same ops on quantized tensors, requantized to the
observed scale and zero point with PyTorch's x86 arithmetic (add: dequantize each input by a float32
fused multiply-add, sum, quantize by fma(x, 1 / scale, zero point); mul: the integer product requantized)."""
import numpy as np

import torsh
from torsh import nn
from torsh._quantized import QuantizedTensor

from .modules import OutputQParams


class FloatFunctional(nn.Module):
    """Float ops whose results an observer (``activation_post_process``, set by ``prepare``) watches."""

    def __init__(self):
        super().__init__()
        self.activation_post_process = nn.Identity()

    def forward(self, x):
        raise RuntimeError("FloatFunctional is not intended to use the 'forward'. Please use the underlying "
                           "operation")

    def add(self, x, y):
        return self.activation_post_process(torsh.add(x, y))

    def add_scalar(self, x, y):
        return torsh.add(x, y)

    def mul(self, x, y):
        return self.activation_post_process(torsh.mul(x, y))

    def mul_scalar(self, x, y):
        return torsh.mul(x, y)

    def cat(self, x, dim=0):
        return self.activation_post_process(torsh.cat(x, dim=dim))

    def add_relu(self, x, y):
        return self.activation_post_process(torsh.nn.functional.relu(torsh.add(x, y)))

    def matmul(self, x, y):
        return self.activation_post_process(torsh.matmul(x, y))


def _vector_dequantize(q):
    """float32 values as PyTorch's vector loops dequantize: fma(int, scale, -zero_point * scale)."""
    s32 = np.float32(q._scale)
    premul = np.float32(-np.float32(q._zero_point) * s32)
    return (q._int.astype(np.float64) * np.float64(s32) + np.float64(premul)).astype(np.float32)


def _per_tensor_quantized(x, op):
    if not isinstance(x, QuantizedTensor) or x._axis is not None:
        raise RuntimeError(f"{op} only supports per-tensor quantized inputs")
    return x


def _quantize(values, scale, zero_point, dtype):
    return torsh.quantize_per_tensor(torsh.from_numpy(np.ascontiguousarray(values, dtype=np.float32)),
                                     float(scale), int(zero_point), dtype)


def qadd(x, y, scale, zero_point, relu=False):
    """quantized::add / add_relu: (dequantized x + dequantized y) requantized at (scale, zero_point)."""
    _per_tensor_quantized(x, "quantized::add")
    _per_tensor_quantized(y, "quantized::add")
    total = _vector_dequantize(x) + _vector_dequantize(y)
    if relu:
        total = np.maximum(total, np.float32(0))
    return vector_quantize(total, scale, zero_point, x.dtype)


def vector_quantize(values, scale, zero_point, dtype):
    """float32 values quantized as PyTorch's vector loops (Vectorized::quantize): round(x * (1 / scale)) in
    float32, then the zero point added (no fused multiply-add, unlike quantize_per_tensor)."""
    inv = np.float32(1.0) / np.float32(scale)
    ints = np.clip(np.rint(values * inv).astype(np.float64) + int(zero_point), dtype.qmin, dtype.qmax)
    return QuantizedTensor._make(ints.astype(dtype.storage), dtype, torsh.per_tensor_affine, float(scale),
                                 int(zero_point))


def qmul(x, y, scale, zero_point):
    """quantized::mul: (x - zp_x) * (y - zp_y) in int32, requantized by lrintf(c * sx * sy / scale)."""
    _per_tensor_quantized(x, "quantized::mul")
    _per_tensor_quantized(y, "quantized::mul")
    multiplier = np.float32(np.float32(x._scale) * np.float32(y._scale)) * (np.float32(1.0) / np.float32(scale))
    c = (x._int.astype(np.int64) - x._zero_point) * (y._int.astype(np.int64) - y._zero_point)
    ints = np.rint(c.astype(np.float32) * multiplier).astype(np.int64) + int(zero_point)
    return QuantizedTensor._make(np.clip(ints, x.dtype.qmin, x.dtype.qmax).astype(x._int.dtype), x.dtype,
                                 x._qscheme, float(scale), int(zero_point))


class QFunctional(OutputQParams):
    """FloatFunctional's ops on quantized tensors, at the observed ``scale`` / ``zero_point``."""

    def __init__(self):
        super().__init__()
        self.scale, self.zero_point = 1.0, 0
        self.activation_post_process = nn.Identity()

    def _get_name(self):
        return "QFunctional"

    def extra_repr(self):
        return f"scale={self.scale}, zero_point={self.zero_point}"

    def forward(self, x):
        raise RuntimeError("Functional is not intended to use the 'forward'. Please use the underlying operation")

    def add(self, x, y):
        return self.activation_post_process(qadd(x, y, self.scale, self.zero_point))

    def add_relu(self, x, y):
        return self.activation_post_process(qadd(x, y, self.scale, self.zero_point, relu=True))

    def mul(self, x, y):
        return self.activation_post_process(qmul(x, y, self.scale, self.zero_point))

    def cat(self, x, dim=0):
        for t in x:
            _per_tensor_quantized(t, "quantized::cat")
        values = np.concatenate([t._float_values() for t in x], axis=dim)
        return self.activation_post_process(_quantize(values, self.scale, self.zero_point, x[0].dtype))

    def add_scalar(self, x, y):
        raise NotImplementedError("QFunctional.add_scalar is not supported by torsh yet")

    def mul_scalar(self, x, y):
        raise NotImplementedError("QFunctional.mul_scalar is not supported by torsh yet")

    def matmul(self, x, y):
        raise NotImplementedError("QFunctional.matmul is not supported by torsh yet")

    @classmethod
    def from_float(cls, mod, use_precomputed_fake_quant=False):
        scale, zero_point = mod.activation_post_process.calculate_qparams()
        new_mod = QFunctional()
        new_mod.scale, new_mod.zero_point = float(scale), int(zero_point)
        return new_mod
