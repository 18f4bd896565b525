"""Shared plumbing for op definitions: operand unwrapping, dims, broadcasting, errors."""
import numpy as np

from .. import _dtype
from .._tensor import Tensor, wrap
from ..autograd.graph import backward_on_arrays


def is_tensor(x):
    return isinstance(x, Tensor)


def shape_str(t):
    return "[" + ", ".join(str(s) for s in (t._data.shape if is_tensor(t) else t)) + "]"


def normalize_dim(dim, ndim, op=None):
    """Map a possibly negative ``dim`` into [0, ndim); IndexError worded as PyTorch's."""
    rank = max(ndim, 1)  # a 0-dim tensor accepts dim 0 and -1
    if not -rank <= dim < rank:
        raise IndexError(
            f"Dimension out of range (expected to be in range of [{-rank}, {rank - 1}], but got {dim})")
    return dim % rank if ndim else 0


def normalize_dims(dim, ndim):
    """A sorted tuple of non-negative dims from an int, a sequence or None (all dims)."""
    if dim is None:
        return tuple(range(ndim))
    if isinstance(dim, (int, np.integer)):
        dim = (int(dim),)
    dims = tuple(normalize_dim(int(d), ndim) for d in dim)
    if len(set(dims)) != len(dims):
        raise RuntimeError(f"dim {dims[0]} appears multiple times in the list of dims")
    return tuple(sorted(set(dims))) if ndim else ()


def broadcast_shapes(*shapes):
    """Broadcast shape of ``shapes``; RuntimeError in PyTorch's words on mismatch."""
    result = ()
    for shape in shapes:
        result = _broadcast_pair(result, tuple(shape))
    return result


def _broadcast_pair(a, b):
    ndim = max(len(a), len(b))
    a_full = (1,) * (ndim - len(a)) + a
    b_full = (1,) * (ndim - len(b)) + b
    out = []
    for i in reversed(range(ndim)):  # PyTorch reports the trailing-most mismatch
        x, y = a_full[i], b_full[i]
        if x != y and x != 1 and y != 1:
            raise RuntimeError(f"The size of tensor a ({x}) must match the size of tensor b ({y}) "
                               f"at non-singleton dimension {i}")
        out.append(y if x == 1 else x)
    return tuple(reversed(out))


def sum_to(grad, shape):
    """Sum a broadcast gradient back down to ``shape`` (differentiable: written in torsh ops, or
    one NumPy reduction where graph.backward_on_arrays allows)."""
    shape = tuple(shape)
    if grad._data.shape == shape:
        return grad
    lead = grad._data.ndim - len(shape)
    dims = tuple(range(lead)) + tuple(
        lead + i for i, s in enumerate(shape) if s == 1 and grad._data.shape[lead + i] != 1)
    if backward_on_arrays():
        return wrap(np.sum(grad._data, axis=dims, keepdims=True).reshape(shape))
    if dims:
        grad = grad.sum(dims, keepdim=True)
    if lead:
        grad = grad.reshape(shape)
    return grad


def to_array(x, np_dtype):
    """``x`` (tensor or scalar) as an ndarray / NumPy scalar of ``np_dtype``."""
    if is_tensor(x):
        data = x._data
        return data if data.dtype == np_dtype else data.astype(np_dtype)
    try:
        return np_dtype.type(x)
    except OverflowError:
        if np_dtype.kind not in "iu" or not isinstance(x, int):
            raise
        # uint8_tensor + (-3): PyTorch wraps the number around the integer type, as C does
        return np.array(x, dtype=np.int64).astype(np_dtype)[()]



def dtype_name(d):
    names = {"float32": "Float", "float64": "Double", "float16": "Half", "bfloat16": "BFloat16",
             "int64": "Long", "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte",
             "bool": "Bool", "complex64": "ComplexFloat", "complex128": "ComplexDouble"}
    return names[d.name]


