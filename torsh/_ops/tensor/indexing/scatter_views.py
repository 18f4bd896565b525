"""The functional forms of writing through a view (slice_scatter, select_scatter, as_strided_scatter,
slice_inverse), nonzero_static, index_reduce, segment_reduce and the ``unsafe_`` splits.

Each scatter copies ``input`` and writes ``src`` into the viewed part; its backward is the view of the
gradient for ``src`` and the gradient with that part zeroed for ``input`` (both torsh ops, so double
backward works)."""
import numpy as np

from .... import _dtype
from ...._tensor import Tensor, wrap
from ....autograd.graph import Node, needs_grad, record
from .. import creation
from ... import registry
from ..shape import views as shape
from ..._helpers import dtype_name, normalize_dim, shape_str
from ...inplace import apply_inplace
from ..misc import as_strided
from ..elementwise.arithmetic import where
from .gather_scatter import check_index_source_shape

__all__ = ["slice_scatter", "select_scatter", "as_strided_scatter", "slice_inverse", "nonzero_static",
           "index_reduce", "segment_reduce", "unsafe_chunk", "unsafe_split", "unsafe_split_with_sizes"]


def _wants(node, i):
    return node.next_functions[i][0] is not None


class _ScatterIntoView(Node):
    """Backward of a scatter of ``src`` into a view of a copy of ``input``: ``self.key(grad)`` is that view."""

    def backward(self, grad):
        part = self.key(grad)
        grad_input = self.scatter(grad, creation.zeros_like(part)) if _wants(self, 0) else None
        grad_src = part.clone() if _wants(self, 1) else None
        return grad_input, grad_src


class SliceScatterBackward0(_ScatterIntoView):
    pass


class SelectScatterBackward0(_ScatterIntoView):
    pass


class AsStridedScatterBackward0(_ScatterIntoView):
    pass


def _check_src_size(src, target_shape):
    if tuple(src._data.shape) != tuple(target_shape):
        raise RuntimeError(f"expected src to have a size equal to the slice of self. src size = {shape_str(src)}, "
                           f"slice size = {shape_str(target_shape)}")


def _scatter(node_cls, input, src, np_key, key, scatter):
    """A copy of ``input`` with ``src`` written at ``np_key`` (a NumPy index), recording ``node_cls``."""
    out = np.array(input._data, copy=True)
    _check_src_size(src, out[np_key].shape)
    out[np_key] = src._data
    result = wrap(out)
    if needs_grad(input, src):
        node = node_cls()
        node.key, node.scatter = key, scatter
        record(node, (input, src), (result,))
    return result


def _slice_key(ndim, dim, start, end, step):
    if step <= 0:
        raise RuntimeError("slice step must be positive")
    return (slice(None),) * dim + (slice(start, end, step),)


def _check_not_scalar(view, input):
    if input.dim() == 0:
        raise IndexError(f"{view}() cannot be applied to a 0-dim tensor.")


def slice_scatter(input, src, dim=0, start=None, end=None, step=1):
    """A copy of ``input`` with ``src`` written into ``input[..., start:end:step, ...]`` (along ``dim``)."""
    _check_not_scalar("slice", input)
    d = normalize_dim(dim, input.dim())
    np_key = _slice_key(input.dim(), d, start, end, step)
    return _scatter(SliceScatterBackward0, input, src, np_key, lambda g: g[np_key],
                    lambda g, part: slice_scatter(g, part, d, start, end, step))


def select_scatter(input, src, dim, index):
    """A copy of ``input`` with ``src`` written into ``input.select(dim, index)``."""
    _check_not_scalar("select", input)
    d = normalize_dim(dim, input.dim())
    size = input.shape[d]
    if not -size <= index < size:
        raise IndexError(f"select(): index {index} out of range for tensor of size {shape_str(input)} at "
                         f"dimension {d}")
    np_key = (slice(None),) * d + (index,)
    return _scatter(SelectScatterBackward0, input, src, np_key, lambda g: g.select(d, index),
                    lambda g, part: select_scatter(g, part, d, index))


def as_strided_scatter(input, src, size, stride, storage_offset=None):
    """A contiguous copy of ``input`` with ``src`` written into its ``as_strided(size, stride, offset)`` view."""
    base = wrap(np.array(input._data, copy=True, order="C"))
    target = as_strided(base, size, stride, storage_offset)
    _check_src_size(src, target._data.shape)
    target._data[...] = src._data
    if needs_grad(input, src):
        node = AsStridedScatterBackward0()
        node.key = lambda g: as_strided(g.contiguous(), size, stride, storage_offset)
        node.scatter = lambda g, part: as_strided_scatter(g, part, size, stride, storage_offset)
        record(node, (input, src), (base,))
    return base


def slice_inverse(input, src, dim=0, start=None, end=None, step=1):
    """The inverse of ``src[start:end:step]`` (along ``dim``) for its result ``input``: a view of
    ``input``'s storage with ``src``'s sizes and strides (``slice_scatter`` without the copy)."""
    d = normalize_dim(dim, src.dim())
    first = range(src.shape[d])[slice(start, end, step)]
    begin = first.start if len(first) else 0
    offset = input.storage_offset() - begin * src.stride(d)
    return as_strided(input, src.shape, src.stride(), offset)


# -- nonzero_static -------------------------------------------------------------------------------
def nonzero_static(input, *, size, fill_value=-1):
    """The first ``size`` rows of ``nonzero(input)``, padded with ``fill_value`` rows up to ``size``."""
    if size < 0:
        raise RuntimeError("nonzero_static: 'size' must be an non-negative integer")
    found = np.argwhere(input._data)[:size]
    out = np.full((size, input.dim()), fill_value, dtype=np.int64)
    out[:len(found)] = found
    return wrap(out)


# -- index_reduce ---------------------------------------------------------------------------------
_REDUCE_AT = {"prod": np.multiply, "amax": np.maximum, "amin": np.minimum}


def _check_index_reduce(op, input, dim, index, source, reduce):
    if reduce not in ("prod", "mean", "amax", "amin"):
        raise RuntimeError(f"index_reduce(): Expected reduce to be one of prod, mean, amax or amin but got "
                           f"{reduce}.")
    if index.dim() > 1:
        raise IndexError(f"{op}(): Index is supposed to be a vector, but got dim: {index.dim()} with type: "
                         f"{dtype_name(index.dtype)} and size: {shape_str(index)}")
    if index._data.dtype not in (np.int32, np.int64):
        raise RuntimeError(f"{op}(): Expected dtype int32/int64 for index but got: {dtype_name(index.dtype)}")
    d = normalize_dim(dim, input.dim())
    src_size = source.shape[d] if source.dim() else 1
    if index.numel() != src_size:
        raise RuntimeError(f"{op}(): Number of indices ({index.numel()}) should be equal to source.size(dim): "
                           f"({src_size}), for dim: {d}")
    if input.dtype is not source.dtype:
        raise RuntimeError(f"{op}(): self ({dtype_name(input.dtype)}) and source ({dtype_name(source.dtype)}) "
                           f"must have the same scalar type")
    check_index_source_shape(input._data, source._data, d)
    idx = index._data.reshape(-1).astype(np.int64)
    size = input.shape[d] if input.dim() else 1
    if idx.size and ((idx < 0) | (idx >= size)).any():
        raise IndexError("index out of range in self")
    return d, idx


def _index_reduce_arrays(data, d, idx, src, reduce, include_self):
    out = np.moveaxis(np.array(data, copy=True), d, 0)
    src = np.moveaxis(src, d, 0)
    if not include_self:  # the reduced rows start from the reduction's identity
        identity = {"prod": 1, "mean": 0, "amax": _lowest(out.dtype), "amin": _highest(out.dtype)}[reduce]
        out[idx] = identity
    if reduce == "mean":
        counts = np.full(out.shape[0], 1 if include_self else 0, dtype=np.int64)
        np.add.at(counts, idx, 1)
        np.add.at(out, idx, src)
        counts = np.maximum(counts, 1).reshape((-1,) + (1,) * (out.ndim - 1))
        out = out // counts if out.dtype.kind in "iu" else (out / counts).astype(out.dtype)
    else:
        _REDUCE_AT[reduce].at(out, idx, src)
    return np.ascontiguousarray(np.moveaxis(out, 0, d))


def _lowest(np_dtype):
    return -np.inf if np_dtype.kind in "fc" else np.iinfo(np_dtype).min


def _highest(np_dtype):
    return np.inf if np_dtype.kind in "fc" else np.iinfo(np_dtype).max


class IndexReduceBackward0(Node):
    """PyTorch's index_reduce_backward (FunctionsManual.cpp), in torsh ops."""

    def backward(self, grad):
        input, source, index, result = self.saved_tensors
        grad_self, grad_src = _INDEX_REDUCE_GRADS[self.reduce](grad, input, self.dim, index, source, result,
                                                               self.include_self)
        if not self.include_self:
            grad_self = grad_self.index_fill(self.dim, index, 0)
        return grad_self, None, grad_src


def _prod_grads(grad, input, dim, index, source, result, include_self):
    masked_self = input.masked_fill(input == 0, 1)
    masked_self_result = masked_self.index_reduce(dim, index, source, "prod", include_self=include_self)
    grad_self = grad * masked_self_result / masked_self
    src_zero = source == 0
    src_num_zeros = creation.zeros_like(input).index_add(dim, index, src_zero.to(input.dtype)).index_select(dim,
                                                                                                          index)
    src_single_zero = src_zero & (src_num_zeros == 1)
    masked_src = source.masked_fill(src_single_zero, 1)
    masked_src_result = input.index_reduce(dim, index, masked_src, "prod", include_self=include_self)
    grad_src = where(src_single_zero, (grad * masked_src_result).index_select(dim, index),
                     (grad * result).index_select(dim, index) / source.masked_fill(src_zero, 1))
    return grad_self, grad_src


def _mean_grads(grad, input, dim, index, source, result, include_self):
    counts = creation.ones_like(grad) if include_self else creation.zeros_like(grad)
    counts = counts.index_add(dim, index, creation.ones_like(source))
    counts = counts.masked_fill(counts == 0, 1)
    return grad / counts, grad.index_select(dim, index) / counts.index_select(dim, index)


def _extremum_grads(grad, input, dim, index, source, result, include_self):
    value = result.index_select(dim, index)
    self_is_result = (input == result).to(input.dtype)
    source_is_result = (source == value).to(input.dtype)
    shared = grad / self_is_result.index_add(dim, index, source_is_result)
    return self_is_result * shared, source_is_result * shared.index_select(dim, index)


_INDEX_REDUCE_GRADS = {"prod": _prod_grads, "mean": _mean_grads, "amax": _extremum_grads,
                       "amin": _extremum_grads}


def index_reduce(input, dim, index, source, reduce, *, include_self=True, out=None):
    """``input`` with the rows of ``source`` reduced into the rows ``index`` along ``dim`` by ``reduce``."""
    d, idx = _check_index_reduce("index_reduce_", input, dim, index, source, reduce)
    result = wrap(_index_reduce_arrays(input._data, d, idx, source._data, reduce, include_self))
    if needs_grad(input, source):
        node = IndexReduceBackward0()
        node.dim, node.reduce, node.include_self = d, reduce, include_self
        record(node, (input, index, source), (result,))
        node.save_for_backward(input, source, index, result)
    if out is not None:
        out.copy_(result)
        return out
    return result


def index_reduce_(self, dim, index, source, reduce, *, include_self=True):
    return apply_inplace(self, "index_reduce_", index_reduce, dim, index, source, reduce,
                         include_self=include_self)


# -- segment_reduce -------------------------------------------------------------------------------
_SEGMENT_REDUCE = {"sum": "sum", "prod": "prod", "mean": "mean", "max": "amax", "amax": "amax", "min": "amin",
                   "amin": "amin"}
_EMPTY_SEGMENT = {"sum": 0.0, "prod": 1.0, "mean": float("nan"), "amax": float("-inf"), "amin": float("inf")}


def _segment_lengths(lengths, offsets, unsafe, axis_size):
    if lengths is None and offsets is None:
        raise RuntimeError("segment_reduce(): Either lengths or offsets must be defined.")
    if lengths is not None:
        if lengths._data.dtype.kind not in "iu":
            raise NotImplementedError(f'"_segment_reduce_lengths_cpu_kernel1" not implemented for '
                                      f"'{dtype_name(lengths.dtype)}'")
        counts = lengths._data.astype(np.int64)
    else:
        if offsets._data.dtype.kind not in "iu":
            raise NotImplementedError(f'"_segment_reduce_offsets_cpu_kernel1" not implemented for '
                                      f"'{dtype_name(offsets.dtype)}'")
        counts = np.diff(offsets._data.astype(np.int64), axis=-1)
    if not unsafe and (counts.sum(axis=-1) != axis_size).any():
        raise RuntimeError("segment_reduce(): Expected all rows of lengths along axis to sum to "
                           "data.size(lengths.dim()-1) when !unsafe.")
    return counts


def _reduce_segment(part, reduce, axis, initial):
    if part.shape[axis] == 0:
        fill = _EMPTY_SEGMENT[reduce] if initial is None else initial
        return creation.full([s for i, s in enumerate(part.shape) if i != axis], fill, dtype=part.dtype)
    if reduce in ("amax", "amin") and initial is not None:  # the initial value takes part in the reduction
        extreme = getattr(part, reduce)(axis)
        return extreme.clamp(min=initial) if reduce == "amax" else extreme.clamp(max=initial)
    if initial is None:
        return getattr(part, reduce)(axis)
    if reduce == "mean":  # the initial value is added to the sum, not counted
        return (part.sum(axis) + initial) / part.shape[axis]
    reduced = getattr(part, reduce)(axis)
    return reduced + initial if reduce == "sum" else reduced * initial


def segment_reduce(data, reduce, *, lengths=None, indices=None, offsets=None, axis=0, unsafe=False, initial=None):
    """Reduce the consecutive segments (``lengths``, or the differences of ``offsets``) of ``data`` along
    ``axis`` by ``reduce``; empty segments get ``initial`` or the reduction's identity (nan for mean)."""
    if reduce not in _SEGMENT_REDUCE:
        raise RuntimeError(f"reduce argument must be either sum, prod, mean, amax or amin, got {reduce}")
    if indices is not None:
        raise RuntimeError("segment_reduce(): indices based reduction is not supported yet.")
    if lengths is not None and data.dim() < lengths.dim():  # PyTorch's TORCH_CHECK wording
        raise RuntimeError("Expected data.dim() >= lengths_value.dim() to be true, but got false.  (Could this error "
                           "message be improved?  If so, please report an enhancement request to PyTorch.)")
    axis = normalize_dim(axis, data.dim())
    given = lengths if lengths is not None else offsets
    if given is not None and axis != given.dim() - 1:
        raise RuntimeError(f"segment_reduce(): Expected axis to be the last dimension of lengths but got {axis}.")
    if not data.dtype.is_floating_point:
        raise NotImplementedError(f"\"_segment_reduce_cpu\" not implemented for '{dtype_name(data.dtype)}'")
    counts = _segment_lengths(lengths, offsets, unsafe, data.shape[axis])
    op = _SEGMENT_REDUCE[reduce]
    rows = []
    for lead in np.ndindex(counts.shape[:-1]):  # one row of segments per leading index of lengths
        row = data[lead] if lead else data
        row_axis = axis - len(lead)
        starts = np.concatenate([[0], np.cumsum(counts[lead])[:-1]]).astype(np.int64)
        parts = [_reduce_segment(row.narrow(row_axis, int(s), int(n)), op, row_axis, initial)
                 for s, n in zip(starts, counts[lead])]
        rows.append(shape.stack(parts, row_axis))
    if not counts.shape[:-1]:
        return rows[0]
    return shape.stack(rows, 0).reshape(*counts.shape[:-1], *rows[0].shape)


# -- unsafe_ splits: PyTorch's versions without view tracking; torsh's splits are the same values -------
def unsafe_chunk(input, chunks, dim=0):
    return shape.chunk(input, chunks, dim)


def unsafe_split(input, split_size_or_sections, dim=0):
    if not isinstance(split_size_or_sections, (int, np.integer)):  # PyTorch's takes one size only
        raise TypeError(f"unsafe_split(): argument 'split_size' (position 1) must be int, not "
                        f"{type(split_size_or_sections).__name__}")
    return shape.split(input, split_size_or_sections, dim)


def unsafe_split_with_sizes(input, split_sizes, dim=0):
    if input.dim() == 0:
        raise RuntimeError("split expects at least a 1-dimensional tensor")
    total = sum(split_sizes)
    size = input.shape[normalize_dim(dim, input.dim())]
    if total != size:
        raise RuntimeError(f"split_with_sizes expects split_sizes to sum exactly to {size} (input tensor's size at "
                           f"dimension {dim}), but got split_sizes={list(split_sizes)}")
    return shape.split(input, list(split_sizes), dim)


def narrow_copy(input, dim, start, length):
    """Tensor.narrow_copy: ``narrow`` as a new tensor (torsh.narrow_copy itself belongs to the ``_copy`` set)."""
    return input.narrow(dim, start, length).clone()


for _name in ("slice_scatter", "select_scatter", "as_strided_scatter", "index_reduce", "unsafe_chunk",
              "unsafe_split", "unsafe_split_with_sizes", "nonzero_static", "slice_inverse"):
    registry.register(globals()[_name], _name, out=False)
registry.register(segment_reduce, method=False, out=False)
Tensor.index_reduce_ = index_reduce_
if not hasattr(Tensor, "narrow_copy"):
    Tensor.narrow_copy = narrow_copy
