"""``torch.ao``: quantization (``torsh.ao.quantization``) and its modules (``torsh.ao.nn``)."""
from . import nn, quantization  # noqa: F401
