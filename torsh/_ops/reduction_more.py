"""NaN-ignoring reductions (nansum, nanmean): composites of where + sum, so autograd comes from those."""
from .. import _dtype
from ._helpers import dtype_name


def nansum(input, dim=None, keepdim=False, *, dtype=None):
    if input.dtype.is_floating_point:
        input = input.masked_fill(input.isnan(), 0)
    return input.sum(dim, keepdim, dtype=dtype) if dim is not None else input.sum(dtype=dtype)


def nanmean(input, dim=None, keepdim=False, *, dtype=None):
    if not (input.dtype.is_floating_point or (dtype is not None and _dtype.to_dtype(dtype).is_floating_point)):
        raise RuntimeError(f"nanmean(): expected input to have floating point or complex dtype but got "
                           f"{dtype_name(input.dtype)}")
    counts = input.isnan().logical_not().sum(dim, keepdim) if dim is not None else input.isnan().logical_not().sum()
    return nansum(input, dim, keepdim, dtype=dtype) / counts


__all__ = ["nansum", "nanmean"]
