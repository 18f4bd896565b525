"""torsh.fft: PyTorch's ``torch.fft`` namespace. Its ops are declared in the registry with their definitions
(``torsh/_ops/tensor/fft/transforms.py``, namespace ``"torsh.fft"``) and bound here."""
import sys as _sys

from .._ops import registry as _registry
from .._ops.tensor.fft import transforms as _transforms  # noqa: F401  (declares the ops)

_registry.bind_namespace(_sys.modules[__name__])
