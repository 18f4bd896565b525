"""torsh's op namespace: imports every op module (each declares its ops in the registry) and binds the
registry's entries, once (``registry.bind_all``): ``torsh.*`` names (re-exported by ``torsh`` from this
module's ``__all__``), Tensor methods and in-place variants.

Left here: the torch.linalg ops that PyTorch also has at top level under other names (torch.inverse,
torch.det, ...), declared under those names.
"""
from . import registry
from .nn.activation import softmax as _softmax_module  # noqa: F401  (registers softmax, log_softmax)
from .nn.activation import tensor_methods as _activation_methods  # noqa: F401  (Tensor.hardshrink, prelu)
from .tensor import misc, random, scan, sorting, special  # noqa: F401  (torch.diff, poisson, cumsum, sort, igamma, ...)
from .tensor import legacy_methods  # noqa: F401  (Tensor.apply_, map_, dim_order, to_dense, ...)
from .tensor import hashing  # noqa: F401  (hash_tensor, is_distributed)
from .tensor import quantize  # noqa: F401  (quantize_per_tensor, dequantize, int_repr, fake_quantize_*)
from ..sparse import _ops as _sparse_ops  # noqa: F401  (sparse_coo_tensor, sparse_csr_tensor, Tensor.to_sparse)
from .tensor.elementwise import arithmetic, math_functions  # noqa: F401
from .tensor.fft import spectral  # noqa: F401  (registers stft, istft, view_as_real, view_as_complex, polar)
from .tensor.indexing import gather_scatter, scatter_views, subscript  # noqa: F401  (slice_scatter, index_reduce, ...)
from .tensor.linalg import legacy, products  # noqa: F401  (torch.svd, torch.lu, einsum, addmm, ...)
from .tensor.reduction import reductions, statistics  # noqa: F401  (nansum, cov, gradient, trapezoid, ...)
from .tensor.shape import rearrange  # noqa: F401
from .tensor.linalg import core as _la

# linear algebra under their top-level torch names (torch.det, Tensor.inverse, ...)
registry.register(_la.inv, "inverse")
registry.register(_la.det, "det")
registry.register(_la.slogdet, "slogdet")
registry.register(_la.matrix_power, "matrix_power")
registry.register(_la.pinv, "pinverse")


def logdet(input):
    """log(det(A)): NaN for a negative determinant, -inf for a singular matrix (as PyTorch)."""
    sign, logabs = _la.slogdet(input)
    from .tensor.elementwise.arithmetic import where
    return where(sign < 0, float("nan"), where(sign == 0, float("-inf"), logabs))


registry.register(logdet)

# torsh.<name>, Tensor methods and in-place variants of every registered op: the declared functions themselves
__all__ = registry.bind_all(globals())
