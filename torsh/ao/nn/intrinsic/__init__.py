"""``torch.ao.nn.intrinsic``: fused float modules (``fuse_modules`` makes them; ``convert`` turns them into the
fused quantized modules ``torch.ao.nn.intrinsic.quantized.LinearReLU`` / ``ConvReLU2d``)."""
from torsh import nn


class _FusedModule(nn.Sequential):
    _fused_float = True


class LinearReLU(_FusedModule):
    def __init__(self, linear, relu):
        super().__init__(linear, relu)


class ConvReLU2d(_FusedModule):
    def __init__(self, conv, relu):
        super().__init__(conv, relu)


class LinearBn1d(_FusedModule):
    def __init__(self, linear, bn):
        super().__init__(linear, bn)


class ConvBn2d(_FusedModule):
    def __init__(self, conv, bn):
        super().__init__(conv, bn)


class ConvBnReLU2d(_FusedModule):
    def __init__(self, conv, bn, relu):
        super().__init__(conv, bn, relu)


from . import qat, quantized  # noqa: E402,F401
