"""``torch.ao.nn.quantized``: modules computing on quantized tensors; ``dynamic``: dynamically quantized ones."""
from . import dynamic, functional  # noqa: F401
from .functional_modules import FloatFunctional, QFunctional  # noqa: F401
from . import _quantized_ops  # noqa: F401,E402  (torch.ops.quantized)
from .modules import Conv2d, DeQuantize, Linear, LinearPackedParams, Quantize, ReLU  # noqa: F401
