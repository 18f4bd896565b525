"""torch.sparse: sparse COO / CSR tensors (``torsh.sparse_coo_tensor``, ``Tensor.to_sparse``, ...) and the ops of
the ``torch.sparse`` namespace. The tensor type is ``_tensor.SparseTensor``; the ops are in ``_ops``."""
from ._ops import LEGACY_CONSTRUCTORS, log_softmax, mm, softmax, sparse_sum as sum  # noqa: F401
from ._tensor import SparseTensor  # noqa: F401
from ._factories import sampled_addmm, spdiags  # noqa: F401


globals().update(LEGACY_CONSTRUCTORS)  # torch.sparse.FloatTensor(indices, values, size), ...


def addmm(mat, mat1, mat2, *, beta=1.0, alpha=1.0):
    """torch.sparse.addmm: ``beta * mat + alpha * (mat1 @ mat2)`` with sparse ``mat1``."""
    return mat * beta + mm(mat1, mat2) * alpha


class check_sparse_tensor_invariants:
    """torch.sparse.check_sparse_tensor_invariants: accepted; torsh checks what its constructors check."""

    def __init__(self, enable=True):
        self.enable = enable

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    @staticmethod
    def is_enabled():
        return False
