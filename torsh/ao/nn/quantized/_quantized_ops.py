"""``torch.ops.quantized``: the quantized operators the modules and function forms run (add, add_relu, mul,
cat, linear with its prepack / unpack, linear_dynamic), defined in torsh.ops' ``quantized`` namespace."""
import numpy as np

import torsh
from torsh._op_overloads import ops
from torsh._quantized import QuantizedTensor

from . import _kernels
from .functional_modules import qadd, qmul
from .modules import Linear


class LinearPackedParams:
    """What quantized::linear_prepack returns (PyTorch's LinearPackedParamsBase): the qint8 weight and the bias."""

    def __init__(self, weight, bias):
        self.weight, self.bias = weight, bias

    def unpack(self):
        return self.weight, self.bias

    def __repr__(self):
        return "torch.classes.quantized.LinearPackedParamsBase"


def add(qa, qb, scale, zero_point):
    return qadd(qa, qb, scale, zero_point)


def add_relu(qa, qb, scale, zero_point):
    return qadd(qa, qb, scale, zero_point, relu=True)


def mul(qa, qb, scale, zero_point):
    return qmul(qa, qb, scale, zero_point)


def cat(qx, dim, scale=None, zero_point=None):
    qx = list(qx)
    if scale is None or zero_point is None:
        return torsh.cat(qx, dim)
    for t in qx:
        if not isinstance(t, QuantizedTensor) or t._axis is not None:
            raise RuntimeError("Only per-tensor quantization is supported in 'cat'!")
    values = np.concatenate([t._float_values() for t in qx], axis=dim)
    return torsh.quantize_per_tensor(torsh.from_numpy(values), float(scale), int(zero_point), qx[0].dtype)


def linear_prepack(W, B=None):
    if W.dtype is not torsh.qint8:
        raise RuntimeError("Weight should be of type qint8 for x86 backend")
    return LinearPackedParams(W, B)


def linear_unpack(W_prepack):
    """(weight, bias); the weight's scales in float32, as fbgemm's packed weight keeps them."""
    w, b = W_prepack.unpack()
    scale = float(np.float32(w._scale)) if w._axis is None else w._scale.astype(np.float32).astype(np.float64)
    return QuantizedTensor._make(w._int, w._qdtype, w._qscheme, scale, w._zero_point, w._axis), b


def linear(X, W_prepack, Y_scale_i, Y_zero_point_i):
    w, b = W_prepack.unpack()
    mod = Linear(w.shape[1], w.shape[0])
    mod.set_weight_bias(w, b)
    mod.scale, mod.zero_point = float(Y_scale_i), int(Y_zero_point_i)
    return mod(X)


def linear_dynamic(X, W_prepack, reduce_range=False):
    w, b = W_prepack.unpack()
    ints, x_zero_point, x_scale = _kernels.quantize_input(X.detach().numpy(), reduce_range=reduce_range)
    acc = _kernels.int_product(ints, x_zero_point, w)
    scales = np.float32(x_scale) * _kernels.weight_scales(w, w._int.shape[0])
    out = _kernels.dequantize_acc(acc, scales, None if b is None else b.detach().numpy())
    return torsh.from_numpy(np.ascontiguousarray(out, dtype=np.float32))


for _fn in (add, add_relu, mul, cat, linear_prepack, linear_unpack, linear, linear_dynamic):
    ops.quantized._define(_fn.__name__, _fn)
