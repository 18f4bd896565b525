"""``torch.ao.nn.intrinsic.quantized``: quantized modules with a fused ReLU."""
from ..quantized.modules import ConvReLU2d, LinearReLU  # noqa: F401
