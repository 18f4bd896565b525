"""torsh.fft: PyTorch's ``torch.fft`` namespace (ops live in ``torsh/_ops/fft_ops.py``)."""
from .._ops.fft_ops import *  # noqa: F401,F403
