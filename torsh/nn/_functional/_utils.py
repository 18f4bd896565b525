"""Argument handling shared by the functional families."""

import numpy as np

from ..._array_api import dtype_of
from ..._ops._helpers import dtype_name
from ..._warnings import warn as user_warning
from ..._tensor import Tensor, wrap


def reduction_from_legacy(size_average, reduce, reduction):
    """PyTorch's deprecated size_average/reduce flags mapped onto ``reduction``."""
    if size_average is None and reduce is None:
        return reduction
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    if size_average and reduce:
        ret = "mean"
    elif reduce:
        ret = "sum"
    else:
        ret = "none"
    user_warning(f"size_average and reduce args will be deprecated, please use reduction='{ret}' instead.")
    return ret


def reduce_loss(loss, reduction):
    if reduction == "none":
        return loss
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    raise ValueError(f"{reduction} is not a valid value for reduction")


def check_reduction(reduction):
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(f"{reduction} is not a valid value for reduction")


def require_float_kernel(kernel, dtype):
    """PyTorch's dispatch error for a kernel compiled for real floating dtypes only."""
    if not dtype.is_floating_point:
        raise NotImplementedError(f'"{kernel}" not implemented for \'{dtype_name(dtype)}\'')


def cast_error(result_dtype, output_dtype):
    """PyTorch's error for an in-place / out= result that cannot hold the computed dtype."""
    return RuntimeError(f"result type {dtype_name(result_dtype)} can't be cast to the desired output type "
                        f"{dtype_name(output_dtype)}")


def const(array, like):
    """A constant tensor of ``like``'s dtype from a NumPy array (no grad)."""
    return wrap(np.asarray(array, dtype=dtype_of(like)))


def ntuple(value, n, name="kernel_size"):
    if isinstance(value, (list, tuple)):
        if len(value) == 1 and n > 1:
            return tuple(int(value[0]) for _ in range(n))
        return tuple(int(v) for v in value)
    return (int(value),) * n


def is_tensor(x):
    return isinstance(x, Tensor)
