"""``torch.ao.nn.intrinsic.qat``: QAT modules with a fused ReLU."""
from ..qat import ConvReLU2d, LinearReLU  # noqa: F401
