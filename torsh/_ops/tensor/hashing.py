"""torch.hash_tensor (an xor reduction of the elements' 64-bit patterns) and torch.is_distributed."""
import numpy as np

from ..._dtype import SCALAR_TYPE_NAMES, uint64
from ..._tensor import Tensor, wrap
from .._helpers import normalize_dims
from ..registry import register


def _check_tensor(op, input):
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")


def hash_tensor(input, dim=None, *, keepdim=False, mode=0):
    """The xor of the elements over ``dim`` (all by default), each upcast to its 64-bit float or integer type and
    read as uint64 (mode 0, the only one); a uint64 tensor, outside autograd, as PyTorch's."""
    _check_tensor("hash_tensor", input)
    if mode != 0:
        raise RuntimeError(f"Unknown hash_tensor mode: {mode}")
    if input.dtype.is_complex:
        raise NotImplementedError(f"\"xor_sum_cpu\" not implemented for '{SCALAR_TYPE_NAMES[input.dtype.name]}'")
    data = input._data
    if dim is None and data.size == 0:
        raise RuntimeError("hash_tensor: Expected reduction dim to be specified for input.numel() == 0. Specify the "
                           "reduction dim with the 'dim' argument.")
    wide = data.astype(np.float64) if input.dtype.is_floating_point else data.astype(np.int64)
    bits = wide.view(np.uint64)
    axes = normalize_dims(dim, data.ndim)
    for axis in axes:  # a reduction with no identity for an empty dim (PyTorch's xor_sum has none)
        if data.shape[axis] == 0:
            raise IndexError(f"hash_tensor: Expected reduction dim {axis} to have non-zero size.")
    out = np.bitwise_xor.reduce(bits, axis=axes, keepdims=keepdim) if data.ndim else bits
    return wrap(np.asarray(out, dtype=uint64.np))


register(hash_tensor)


def is_distributed(input):
    """False: a torsh tensor is never a distributed (THD) tensor."""
    _check_tensor("is_distributed", input)
    return False


register(is_distributed)
