"""``torch.ao.nn.qat``: Linear / Conv2d whose weight passes through its fake quantizer (``weight_fake_quant``)
at every forward; ``prepare_qat`` swaps them in, ``convert`` makes quantized modules of them."""
import torsh
from torsh import nn


class Linear(nn.Linear):
    _FLOAT_MODULE = nn.Linear

    def __init__(self, in_features, out_features, bias=True, qconfig=None, device=None, dtype=None):
        super().__init__(in_features, out_features, bias, device=device, dtype=dtype)
        if qconfig is None:
            raise AssertionError("qconfig must be provided for QAT module")
        self.qconfig = qconfig
        self.weight_fake_quant = qconfig.weight()

    def forward(self, input):
        return torsh.nn.functional.linear(input, self.weight_fake_quant(self.weight), self.bias)

    @classmethod
    def from_float(cls, mod, use_precomputed_fake_quant=False):
        fused = getattr(mod, "_fused_float", False)
        float_mod = mod[0] if fused else mod
        qat = cls(float_mod.in_features, float_mod.out_features, bias=float_mod.bias is not None,
                  qconfig=mod.qconfig)
        qat.weight = float_mod.weight
        qat.bias = float_mod.bias
        return qat


class LinearReLU(Linear):
    """``torch.ao.nn.intrinsic.qat.LinearReLU``."""

    def forward(self, input):
        return torsh.nn.functional.relu(super().forward(input))


class Conv2d(nn.Conv2d):
    _FLOAT_MODULE = nn.Conv2d

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, padding_mode="zeros", qconfig=None, device=None, dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride=stride, padding=padding,
                         dilation=dilation, groups=groups, bias=bias, padding_mode=padding_mode)
        if qconfig is None:
            raise AssertionError("qconfig must be provided for QAT module")
        self.qconfig = qconfig
        self.weight_fake_quant = qconfig.weight()

    def forward(self, input):
        return self._conv_forward(input, self.weight_fake_quant(self.weight), self.bias)

    @classmethod
    def from_float(cls, mod, use_precomputed_fake_quant=False):
        fused = getattr(mod, "_fused_float", False)
        c = mod[0] if fused else mod
        qat = cls(c.in_channels, c.out_channels, c.kernel_size, stride=c.stride, padding=c.padding,
                  dilation=c.dilation, groups=c.groups, bias=c.bias is not None, padding_mode=c.padding_mode,
                  qconfig=mod.qconfig)
        qat.weight = c.weight
        qat.bias = c.bias
        return qat


class ConvReLU2d(Conv2d):
    def forward(self, input):
        return torsh.nn.functional.relu(super().forward(input))
