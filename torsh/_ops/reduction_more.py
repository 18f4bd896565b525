"""NaN-ignoring reductions (nansum, nanmean): composites of where + sum, so autograd comes from those."""
from .. import _dtype
from ._helpers import dtype_name, normalize_dims
from .registry import register


def _check_not_complex(input):
    if input.dtype.is_complex:
        raise RuntimeError("nansum on CPU does not support complex inputs")


def nansum(input, dim=None, keepdim=False, *, dtype=None):
    _check_not_complex(input)
    if input.dtype.is_floating_point:
        input = input.masked_fill(input.isnan(), 0)
        if input.dtype is _dtype.float16 and dtype is not None and _dtype.to_dtype(dtype).np.kind in "iu":
            input = input.clamp(-65504.0, 65504.0)  # PyTorch's float16 nansum into an integer turns inf into +-max
    return input.sum(dim, keepdim, dtype=dtype) if dim is not None else input.sum(dtype=dtype)
register(nansum)


def nanmean(input, dim=None, keepdim=False, *, dtype=None):
    # PyTorch's order: the input's dtype, then dtype=, then the dims, then nansum's complex refusal
    if not (input.dtype.is_floating_point or input.dtype.is_complex):
        raise RuntimeError(f"nanmean(): expected input to have floating point or complex dtype but got "
                           f"{dtype_name(input.dtype)}")
    from .reduction import check_mean_dtype
    check_mean_dtype("nanmean", input, dtype)
    if dim is not None:
        normalize_dims(dim, input.ndim)
    _check_not_complex(input)
    counts = input.isnan().logical_not().sum(dim, keepdim) if dim is not None else input.isnan().logical_not().sum()
    return nansum(input, dim, keepdim, dtype=dtype) / counts
register(nanmean)


__all__ = ["nansum", "nanmean"]
