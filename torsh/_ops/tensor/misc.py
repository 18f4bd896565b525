"""Common torch functions the wider surface lacked: diff, isin, ravel, angle, real/imag, tril/triu_indices
and is_nonzero (the window functions live in torsh/signal). Differentiable ones are written in torsh ops, so autograd follows them."""
import math

import numpy as np

from ... import _dtype
from ..._tensor import wrap
from ...autograd.graph import Node, needs_grad, record
from . import conversion
from .elementwise import arithmetic as pointwise
from .shape import views as shape
from .elementwise.math_functions import atan2
from .._helpers import dtype_name, is_tensor, normalize_dim, sum_to
from ..registry import register

__all__ = ["is_nonzero", "complex", "diff", "isin", "ravel", "angle", "real", "imag", "tril_indices", "triu_indices",
           "as_strided", "split_with_sizes", "resolve_conj", "resolve_neg", "is_conj", "is_neg",
           "is_same_size", "is_signed", "is_inference"]

real, imag = conversion.real, conversion.imag


def is_nonzero(input):
    """True when the one-element ``input`` is not zero (PyTorch's errors for other sizes)."""
    if input._data.size == 0:
        raise RuntimeError("Boolean value of Tensor with no values is ambiguous")
    if input._data.size > 1:
        raise RuntimeError("Boolean value of Tensor with more than one value is ambiguous")
    return bool(input._data.reshape(()))
register(is_nonzero)


def check_complex_parts(real, imag):
    """PyTorch's checks on the two parts of complex() and polar(): one dtype, float32 or float64."""
    if real.dtype is not imag.dtype:
        raise RuntimeError(f"Expected object of scalar type {dtype_name(real.dtype)} but got scalar type "
                           f"{dtype_name(imag.dtype)} for second argument")
    if real.dtype not in (_dtype.float32, _dtype.float64):
        raise RuntimeError(f"Expected both inputs to be Half, Float or Double tensors but got "
                           f"{dtype_name(real.dtype)} and {dtype_name(imag.dtype)}")


def complex(real, imag):
    """The complex tensor real + i * imag (float32 -> complex64, float64 -> complex128), differentiable in both."""
    check_complex_parts(real, imag)
    result = wrap(np.asarray(real._data + 1j * imag._data, dtype=real.dtype.to_complex().np))
    if needs_grad(real, imag):
        node = ComplexBackward0()
        node.shapes = (real._data.shape, imag._data.shape)
        record(node, (real, imag), (result,))
    return result
register(complex, node_name="ComplexBackward0", method=False)


class ComplexBackward0(Node):
    def backward(self, grad):
        return sum_to(conversion.real(grad), self.shapes[0]), sum_to(conversion.imag(grad), self.shapes[1])


def diff(input, n=1, dim=-1, prepend=None, append=None):
    """The n-th forward difference along ``dim`` (``prepend``/``append`` joined first); bool uses xor."""
    if input._data.ndim == 0:
        raise RuntimeError("diff expects input to be at least one-dimensional")
    dim = normalize_dim(dim, input._data.ndim)
    if n == 0:  # PyTorch returns a copy of input, leaving prepend/append out
        return input.clone()
    parts = [p for p in (prepend, input, append) if p is not None]
    x = shape.cat(parts, dim) if len(parts) > 1 else input
    for _ in range(n):
        length = x._data.shape[dim]
        if length == 0:
            break
        later, earlier = shape.narrow(x, dim, 1, length - 1), shape.narrow(x, dim, 0, length - 1)
        x = pointwise.logical_xor(later, earlier) if x.dtype is _dtype.bool else pointwise.sub(later, earlier)
    return x
register(diff)


def isin(elements, test_elements, *, assume_unique=False, invert=False):
    """Whether each of ``elements`` is among ``test_elements`` (either may be a scalar)."""
    values = elements._data if is_tensor(elements) else np.asarray(elements)
    tests = test_elements._data if is_tensor(test_elements) else np.asarray(test_elements)
    if values.dtype.kind == "b":
        raise RuntimeError("Unsupported input type encountered for isin(): Bool")
    return wrap(np.isin(values, tests, assume_unique=assume_unique, invert=invert))
register(isin, method=False)


def ravel(input):
    return shape.reshape(input, (-1,))
register(ravel)


def angle(input):
    """The argument of complex values; for real ones pi where negative, else 0 (NaN kept); ints give floats."""
    if input.dtype.is_complex:
        return atan2(imag(input), real(input))
    x = input if input.dtype.is_floating_point else input.to(_dtype.get_default_dtype())
    zero_or_nan = pointwise.where(pointwise.isinf(x), 0.0, x * 0)  # x * 0 keeps NaN (and a zero gradient); inf * 0 is NaN
    return pointwise.where(pointwise.lt(x, 0), math.pi, zero_or_nan)
register(angle)


def _triangle_indices(row, col, offset, dtype, upper):
    for name, value in (("row", row), ("col", col)):
        if value < 0:
            raise RuntimeError(f"{name} must be non-negative, got{value}")  # PyTorch's message has no space
    if dtype is not None and _dtype.to_dtype(dtype).np.kind not in "iu":
        kernel = "triu_indices" if upper else "tril_indices"
        raise NotImplementedError(f'"{kernel}" not implemented for \'{dtype_name(_dtype.to_dtype(dtype))}\'')
    rows, cols = (np.triu_indices if upper else np.tril_indices)(row, offset, col)
    d = _dtype.int64 if dtype is None else _dtype.to_dtype(dtype)
    return wrap(np.stack([rows, cols]).astype(d.np).reshape(2, -1))


def tril_indices(row, col, offset=0, *, dtype=None, device=None, layout=None, pin_memory=False):
    """The (2, N) coordinates of the lower triangle of a row x col matrix, row by row."""
    return _triangle_indices(row, col, offset, dtype, upper=False)
register(tril_indices, method=False)


def triu_indices(row, col, offset=0, *, dtype=None, device=None, layout=None, pin_memory=False):
    return _triangle_indices(row, col, offset, dtype, upper=True)
register(triu_indices, method=False)


def unfold(input, dimension, size, step):
    """Tensor.unfold: the windows of ``size`` every ``step`` along ``dimension``, as a new last dim."""
    ndim = max(input._data.ndim, 1)
    dim = normalize_dim(dimension, ndim)
    length = input._data.shape[dim] if input._data.ndim else 1
    if size > length:
        raise RuntimeError(f"maximum size for tensor at dimension {dim} is {length} but size is {size}")
    if step <= 0:
        raise RuntimeError(f"step is {step} but must be > 0")
    starts = np.arange(0, length - size + 1, step)
    windows = wrap(starts[:, None] + np.arange(size)[None, :])
    x = input if input._data.ndim else shape.reshape(input, (1,))
    picked = shape.movedim(x, dim, -1)[..., windows]  # (..., n_windows, size)
    out = shape.movedim(picked, -2, dim)
    return out if input._data.ndim else shape.reshape(out, (size,))
register(unfold, namespace=None)


def fill_diagonal(input, fill_value, wrap=False):
    """``input`` with its main diagonal set to ``fill_value`` (tall 2-d matrices restart after a blank row when
    ``wrap``); Tensor.fill_diagonal_ is its in-place form."""
    if input._data.ndim < 2:
        raise RuntimeError("dimensions must larger than 1")
    rows = input._data.shape[0]
    if input._data.ndim > 2 and len(set(input._data.shape)) != 1:
        raise RuntimeError("all dimensions of input must be of equal length")
    n = min(input._data.shape)
    if input._data.ndim == 2 and wrap and rows > input._data.shape[1]:
        step = input._data.shape[1] + 1  # the diagonal restarts every (columns + 1) rows
        index = np.concatenate([np.arange(n) + start for start in range(0, rows, step)])
        keep = index < rows
        index, cols = index[keep], np.tile(np.arange(n), -(-rows // step))[:index.size][keep]
        key = (wrap_index(index), wrap_index(cols))
    else:
        key = tuple(wrap_index(np.arange(n)) for _ in range(input._data.ndim))
    from .indexing.subscript import index_put
    return index_put(input, key, wrap_value(fill_value, input))
register(fill_diagonal, method=False, namespace=None, inplace=True)  # Tensor.fill_diagonal_ only


def wrap_index(array):
    return wrap(np.asarray(array, dtype=np.int64))


def wrap_value(value, like):
    return value if is_tensor(value) else wrap(np.asarray(value, dtype=like._data.dtype))


def sum_to_size(input, *size):
    """The sum of ``input`` down to ``size`` (a shape ``input`` broadcasts from)."""
    from .._helpers import sum_to
    target = tuple(size[0]) if len(size) == 1 and isinstance(size[0], (tuple, list)) else tuple(size)
    try:
        np.broadcast_to(np.empty(target), input._data.shape)
    except ValueError:
        raise RuntimeError(f"size {{{', '.join(map(str, target))}}} is not expandable to size "
                           f"{{{', '.join(map(str, input._data.shape))}}}.") from None
    if not target:  # ATen's sum_to sums to a 0-d size even when input is 0-d (bool -> int64)
        return input.sum()
    return sum_to(input, target)
register(sum_to_size, namespace=None)


def split_with_sizes(input, split_sizes, dim=0):
    return shape.split(input, list(split_sizes), dim)
register(split_with_sizes)


def resolve_conj(input):
    return input  # torsh conjugates eagerly: no lazy conjugate bit to resolve
register(resolve_conj)


def resolve_neg(input):
    return input
register(resolve_neg)


def is_conj(input):
    return False
register(is_conj)


def is_neg(input):
    return False
register(is_neg)


def is_same_size(input, other):
    return input._data.shape == other._data.shape
register(is_same_size)


def is_signed(input):
    return input.dtype.is_floating_point or input.dtype.is_complex or input._data.dtype.kind == "i"
register(is_signed)


def is_inference(input):
    return False
register(is_inference)


class AsStridedBackward0(Node):
    def backward(self, grad):
        from .indexing.subscript import _scatter_into_zeros
        flat = _scatter_into_zeros((self.numel,), (self.index,), grad)
        return (shape.reshape(flat, self.shape),)


def as_strided(input, size, stride, storage_offset=None):
    """A view of ``input``'s storage with the given sizes, strides and offset (in elements), as PyTorch's."""
    from ..._tensor import _storage_array
    size, stride = tuple(int(s) for s in size), tuple(int(s) for s in stride)
    if len(size) != len(stride):
        raise RuntimeError(f"mismatch in length of strides and shape")
    if any(st < 0 for st in stride):
        raise RuntimeError(f"as_strided: Negative strides are not supported at the moment, got strides: {list(stride)}")
    root = _storage_array(input._data).reshape(-1)
    own_offset = input.storage_offset()
    offset = own_offset if storage_offset is None else int(storage_offset)
    index = offset + sum((np.arange(n) * st).reshape((-1,) + (1,) * (len(size) - k - 1))
                         for k, (n, st) in enumerate(zip(size, stride))) if size else np.asarray(offset)
    if np.size(index) and (np.min(index) < 0 or np.max(index) >= root.size):
        raise RuntimeError(f"setStorage: sizes {list(size)}, strides {list(stride)}, storage offset {offset}, and "
                           f"itemsize {root.itemsize} requiring a storage size of "
                           f"{(int(np.max(index)) + 1) * root.itemsize} are out of bounds for storage of size "
                           f"{root.size * root.itemsize}")
    # an ndarray on root's buffer (not stride_tricks'): its base is root, so storage_offset() sees the offset
    view = np.ndarray(size, root.dtype, buffer=root, offset=offset * root.itemsize,
                      strides=tuple(st * root.itemsize for st in stride))
    out = input._make_view(view, lambda t: as_strided(t, size, stride, storage_offset))
    if needs_grad(input):
        if not input._data.flags.c_contiguous:
            raise NotImplementedError("as_strided's gradient needs a contiguous input in torsh")
        node = AsStridedBackward0()
        node.numel, node.shape = input._data.size, input._data.shape
        node.index = np.broadcast_to(index - own_offset, size).astype(np.int64)
        record(node, (input,), (out,))
        out._view_version = out._version_counter[0]
    return out
register(as_strided, node_name="AsStridedBackward0")
