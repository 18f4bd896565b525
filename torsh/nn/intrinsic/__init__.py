"""``torch.nn.intrinsic``: the older name of ``torch.ao.nn.intrinsic`` (same classes)."""
from ...ao.nn.intrinsic import *  # noqa: F401,F403
from ...ao.nn.intrinsic import qat, quantized  # noqa: F401
