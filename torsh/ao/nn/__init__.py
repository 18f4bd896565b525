"""``torch.ao.nn``: quantized (``quantized``, ``quantized.dynamic``), fused (``intrinsic``) and QAT (``qat``)
modules."""
from . import intrinsic, qat, quantized  # noqa: F401
