"""torsh's op namespace: imports every op module (each declares its ops in the registry) and binds the
registry's entries, once (``registry.bind_all``): ``torsh.*`` names (re-exported by ``torsh`` from this
module's ``__all__``), Tensor methods and in-place variants.

Left here: the torch.linalg ops that PyTorch also has at top level under other names (torch.inverse,
torch.det, ...), declared under those names.
"""
from . import gather_scatter, indexing, pointwise, pointwise_more, products, scan  # noqa: F401
from . import activation, misc_ops, random_ops, reduction_more, registry, shape_extra, sorting  # noqa: F401
from . import statistics  # noqa: F401  (registers its ops: cov, gradient, trapezoid, ...)
from . import scatter_views  # noqa: F401  (registers slice_scatter, index_reduce, segment_reduce, ...)
from . import spectral  # noqa: F401  (registers stft, istft, view_as_real, view_as_complex, polar)
from . import tensor_methods  # noqa: F401  (Tensor.apply_, map_, dim_order, to_dense, ...)
from . import activation_methods, linalg_legacy, samplers, special_ops  # noqa: F401  (torch.svd, igamma, ...)
from . import linalg_ops as _la

with_out = registry.with_out  # torsh.linalg / torsh.fft wrap their ops with it

# linear algebra under their top-level torch names (torch.det, Tensor.inverse, ...)
registry.register(_la.inv, "inverse")
registry.register(_la.det, "det")
registry.register(_la.slogdet, "slogdet")
registry.register(_la.matrix_power, "matrix_power")
registry.register(_la.pinv, "pinverse")


def logdet(input):
    """log(det(A)): NaN for a negative determinant, -inf for a singular matrix (as PyTorch)."""
    sign, logabs = _la.slogdet(input)
    from .pointwise import where
    return where(sign < 0, float("nan"), where(sign == 0, float("-inf"), logabs))


registry.register(logdet)

# torsh.<name>, Tensor methods and in-place variants of every registered op: the declared functions themselves
__all__ = registry.bind_all(globals())
