"""torsh.linalg: PyTorch's ``torch.linalg`` namespace (ops live in ``torsh/_ops/linalg_ops.py``)."""
from .._ops.linalg import matmul  # noqa: F401
from .._ops.linalg_ops import *  # noqa: F401,F403
from .._ops.products import linalg_cross as cross  # noqa: F401



def vecdot(x, y, *, dim=-1, out=None):
    """torch.linalg.vecdot: sum(conj(x) * y, dim), broadcasting."""
    return ((x.conj() if x.dtype.is_complex else x) * y).sum(dim)



