"""nn.utils: gradient clipping, parameter/vector conversion, weight/spectral norm, parametrize, rnn packing."""
from . import rnn  # noqa: F401
