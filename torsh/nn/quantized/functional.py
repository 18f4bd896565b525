"""``torch.nn.quantized.functional``: the older name of ``torch.ao.nn.quantized.functional``."""
from ...ao.nn.quantized.functional import *  # noqa: F401,F403
