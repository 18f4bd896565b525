"""``torch.ao.nn.quantized.dynamic.Linear``: float in, float out; the weight is stored as qint8 and each call
quantizes its input to quint8 with qparams chosen from that input's range (fbgemm's reduce_range on x86)."""
import numpy as np

import torsh

from . import _kernels
from .modules import Linear as _StaticLinear, _quantize_weight


class Linear(_StaticLinear):
    _version = 4

    def __init__(self, in_features, out_features, bias_=True, dtype=torsh.qint8):
        super().__init__(in_features, out_features, bias_, dtype=dtype)
        self.version = 4

    def _get_name(self):
        return "DynamicQuantizedLinear"

    def extra_repr(self):
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"dtype={self._packed_params.dtype}, qscheme={self.weight().qscheme()}")

    def forward(self, x):
        w, b = self._packed_params._weight_bias()
        ints, x_zero_point, x_scale = _kernels.quantize_input(x.detach().numpy(), reduce_range=True)
        acc = _kernels.int_product(ints, x_zero_point, w)
        # fbgemm's ReQuantizeForFloat: float(acc) * (x_scale * w_scale) + bias, in float32
        scales = np.float32(x_scale) * _kernels.weight_scales(w, w._int.shape[0])
        out = _kernels.dequantize_acc(acc, scales, None if b is None else b.detach().numpy())
        return torsh.from_numpy(np.ascontiguousarray(out, dtype=np.float32))

    @classmethod
    def from_float(cls, mod, use_precomputed_fake_quant=False):
        float_mod = mod[0] if getattr(mod, "_fused_float", False) else mod
        weight_observer = mod.qconfig.weight() if getattr(mod, "qconfig", None) is not None else \
            torsh.ao.quantization.default_dynamic_qconfig.weight()
        dtype = weight_observer.dtype
        if dtype is not torsh.qint8:
            raise RuntimeError("Unsupported dtype specified for dynamic quantized Linear!")
        weight_observer(float_mod.weight)
        qweight = _quantize_weight(float_mod.weight.detach().float(), weight_observer)
        qlinear = cls(float_mod.in_features, float_mod.out_features, dtype=dtype)
        qlinear.set_weight_bias(qweight, float_mod.bias)
        return qlinear
