"""torsh.linalg: PyTorch's ``torch.linalg`` namespace (ops live in ``torsh/_ops/tensor/linalg/core.py``)."""
from .._ops.tensor.linalg import core as _impl
from .._ops.tensor.linalg.matmul import matmul  # noqa: F401
from .._ops.tensor.linalg.products import linalg_cross as cross  # noqa: F401
from .._ops.surface import with_out as _with_out

from .._ops.tensor.linalg import factorizations as _more

for _name in _impl.__all__:  # each op with out= handled uniformly
    globals()[_name] = _with_out(getattr(_impl, _name))
for _name in _more.__all__:
    globals()[_name] = _with_out(getattr(_more, _name))


def vecdot(x, y, *, dim=-1, out=None):
    """torch.linalg.vecdot: sum(conj(x) * y, dim), broadcasting."""
    return ((x.conj() if x.dtype.is_complex else x) * y).sum(dim)
