"""torsh.linalg: PyTorch's ``torch.linalg`` namespace. Its ops are declared in the registry with their
definitions (``torsh/_ops/tensor/linalg/``, namespace ``"torsh.linalg"``) and bound here."""
import sys as _sys

from .._ops import registry as _registry
from .._ops._helpers import dtype_name as _dtype_name
from .._ops.tensor.linalg.core import LinAlgError  # noqa: F401


def vecdot(x, y, *, dim=-1, out=None):
    """torch.linalg.vecdot: sum(conj(x) * y, dim), broadcasting."""
    if not (x.dtype.is_floating_point or x.dtype.is_complex):
        raise RuntimeError(f"linalg.vecdot: Expected a floating point or complex tensor as input. Got "
                           f"{_dtype_name(x.dtype)}")
    return ((x.conj() if x.dtype.is_complex else x) * y).sum(dim)
_registry.register(vecdot, namespace="torsh.linalg", method=False)


_registry.bind_namespace(_sys.modules[__name__])
