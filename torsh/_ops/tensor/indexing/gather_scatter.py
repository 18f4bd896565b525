"""Index-driven reads and writes along a dim: gather/scatter, index_* ops, take, masked_select/scatter.

Forward works on NumPy arrays (``take_along_axis``, ufunc ``.at`` for accumulation); each
backward is the adjoint op written in torsh ops (gather <-> scatter_add, index_select <->
index_add), so double backward works.
"""
import numpy as np

from .... import _dtype
from ...._tensor import wrap
from ....autograd.graph import Node, needs_grad, record
from ..._helpers import broadcast_shapes, dtype_name, is_tensor, normalize_dim, shape_str, sum_to, with_grad_fn
from ...registry import register


def _wants(node, i):
    return node.next_functions[i][0] is not None


# -- dim-wise index checks, worded as PyTorch's ----------------------------------------------
def _check_index_dtype(op, index):
    if index.dtype not in (_dtype.int64, _dtype.int32):
        raise RuntimeError(f"{op}(): Expected dtype int32/int64 for index")


def _check_bounds(idx, size, d):
    if idx.size:
        bad = idx[(idx < 0) | (idx >= size)] if size else idx.reshape(-1)
        if bad.size:
            raise RuntimeError(f"index {int(bad.reshape(-1)[0])} is out of bounds for dimension {d} with size {size}")


def _full_index(idx, d):
    """The advanced-index tuple addressing, for every position p of ``idx``, p with dim d replaced by idx[p]."""
    grids = list(np.indices(idx.shape, sparse=True))
    grids[d] = idx
    return tuple(grids)


def _check_gather_shapes(data, idx, d):
    if idx.ndim != data.ndim and not (idx.ndim <= 1 and data.ndim <= 1):
        raise RuntimeError("Index tensor must have the same number of dimensions as input tensor")
    for k in range(idx.ndim):
        if k != d and idx.shape[k] > data.shape[k]:
            raise RuntimeError(f"Size does not match at dimension {k} expected index {shape_str(idx.shape)} to be "
                               f"no larger than self {shape_str(data.shape)} apart from dimension {d}")


def _check_scatter_shapes(data, idx, src, d):
    if idx.ndim != data.ndim and not (idx.ndim <= 1 and data.ndim <= 1):
        raise RuntimeError("Index tensor must have the same number of dimensions as self tensor")
    bad_self = any(k != d and idx.shape[k] > data.shape[k] for k in range(idx.ndim))
    bad_src = src is not None and src.ndim == idx.ndim and any(idx.shape[k] > src.shape[k] for k in range(idx.ndim))
    if bad_self or bad_src:
        raise RuntimeError(f"Expected index {shape_str(idx.shape)} to be no larger than self {shape_str(data.shape)} "
                           f"apart from dimension {d}" + (f" and to be no larger size than src {shape_str(src.shape)}"
                                                          if src is not None else ""))


def _as_nd(a):
    """0-dim arrays are treated as 1-element 1-dim ones by the dim-wise ops (as PyTorch)."""
    return a.reshape(1) if a.ndim == 0 else a


# -- gather -------------------------------------------------------------------------------------
class GatherBackward0(Node):
    def backward(self, grad):
        (index,) = self.saved_tensors
        from ..creation import zeros
        return (zeros(self.shape, dtype=grad.dtype).scatter_add(self.dim, index, grad), None)


def gather(input, dim, index, *, sparse_grad=False, out=None):
    d = normalize_dim(dim, input._data.ndim)  # PyTorch checks the dim first
    _check_index_dtype("gather", index)
    data, idx = _as_nd(input._data), _as_nd(index._data)
    _check_gather_shapes(data, idx, d)
    _check_bounds(idx, data.shape[d], d)
    value = data[_full_index(idx, d)] if idx.size else np.zeros(idx.shape, data.dtype)
    result = wrap(np.asarray(value).reshape(index._data.shape))
    return with_grad_fn(GatherBackward0, (input, index), result, (index,), dim=d, shape=input._data.shape)
register(gather, out="copy")


# -- scatter family -----------------------------------------------------------------------------
def _src_array(src, idx, dtype, op):
    """The part of ``src`` (tensor or scalar) that index ``idx`` reads, as ``dtype``."""
    if is_tensor(src):
        if src._data.dtype != dtype:
            raise RuntimeError(f"{op}(): Expected self.dtype to be equal to src.dtype")
        s = _as_nd(src._data)
        return s[tuple(slice(0, n) for n in idx.shape)]
    return np.asarray(src, dtype=dtype)


def _scatter_prepare(op, input, dim, index, src):
    d = normalize_dim(dim, input._data.ndim)  # PyTorch checks the dim first
    _check_index_dtype(op, index)
    data, idx = _as_nd(input._data), _as_nd(index._data)
    _check_scatter_shapes(data, idx, _as_nd(src._data) if is_tensor(src) else None, d)
    _check_bounds(idx, data.shape[d], d)
    return data, idx, d, _src_array(src, idx, data.dtype, op)


class ScatterBackward0(Node):  # scalar value
    def backward(self, grad):
        (index,) = self.saved_tensors
        return (grad.scatter(self.dim, index, 0), None)


class ScatterBackward1(Node):  # tensor src
    def backward(self, grad):
        (index,) = self.saved_tensors
        grad_self = grad.scatter(self.dim, index, 0) if _wants(self, 0) else None
        grad_src = _pad_to(grad.gather(self.dim, index), self.src_shape) if _wants(self, 1) else None
        return grad_self, grad_src


def _pad_to(g, shape):
    """``g`` (index-shaped) zero-padded to ``shape`` (src may be larger than index)."""
    if tuple(g._data.shape) == tuple(shape) or len(shape) == 0:
        return g.reshape(shape)
    from ..creation import zeros
    out = zeros(shape, dtype=g.dtype)
    out[tuple(slice(0, n) for n in g._data.shape)] = g
    return out


def scatter(input, dim, index, src=None, *, value=None, reduce=None, out=None):
    if src is None:
        src = value
    if reduce is not None:
        mode = {"add": "sum", "multiply": "prod"}.get(reduce)
        if mode is None:
            raise RuntimeError("reduce argument must be either add or multiply.")
        return scatter_reduce(input, dim, index, src, mode)
    data, idx, d, s = _scatter_prepare("scatter", input, dim, index, src)
    result = data.copy()
    if idx.size:
        result[_full_index(idx, d)] = s
    result = wrap(result.reshape(input._data.shape))
    if is_tensor(src):
        return with_grad_fn(ScatterBackward1, (input, src), result, (index,), dim=d, src_shape=src._data.shape)
    return with_grad_fn(ScatterBackward0, (input, None), result, (index,), dim=d)
register(scatter, inplace=True, out="copy")


class ScatterAddBackward0(Node):
    def backward(self, grad):
        (index,) = self.saved_tensors
        grad_src = _pad_to(grad.gather(self.dim, index), self.src_shape) if _wants(self, 1) else None
        return grad if _wants(self, 0) else None, grad_src


def scatter_add(input, dim, index, src):
    data, idx, d, s = _scatter_prepare("scatter_add", input, dim, index, src)
    result = data.copy()
    if idx.size:
        np.add.at(result, _full_index(idx, d), s)
    result = wrap(result.reshape(input._data.shape))
    return with_grad_fn(ScatterAddBackward0, (input, src), result, (index,), dim=d, src_shape=src._data.shape)
register(scatter_add, inplace=True)


_REDUCE_UFUNC = {"sum": np.add, "mean": np.add, "prod": np.multiply, "amax": np.fmax, "amin": np.fmin}


def _identity(mode, dtype):
    if mode in ("sum", "mean"):
        return 0
    if mode == "prod":
        return 1
    if dtype.kind == "f":
        return -np.inf if mode == "amax" else np.inf
    info = np.iinfo(dtype) if dtype.kind in "iu" else None
    if info is None:
        return mode == "amin"
    return info.min if mode == "amax" else info.max


class ScatterReduceBackward0(Node):
    """Gradients of scatter_reduce, following PyTorch's formulas (ties in amax/amin share evenly)."""

    def backward(self, grad):
        x, index, src, result = self.saved_tensors
        d, mode, include_self = self.dim, self.reduce, self.include_self
        from ..creation import zeros_like, ones_like
        from ..elementwise.arithmetic import where
        grad_self = grad_src = None
        hit = zeros_like(x, dtype=_dtype.bool).scatter(d, index, True)  # positions some src element reaches
        if mode == "sum":
            grad_self = grad if include_self else grad.masked_fill(hit, 0)
            grad_src = grad.gather(d, index)
        elif mode == "mean":
            counts = ones_like(x) if include_self else where(hit, 0.0, 1.0).to(x.dtype)
            counts = counts.scatter_add(d, index, ones_like(src))
            grad_self = (grad / counts) if include_self else (grad / counts).masked_fill(hit, 0)
            grad_src = (grad / counts).gather(d, index)
        elif mode == "prod":
            # zero-safe: product of everything but the element itself, via per-slot zero counts
            masked_x = where(x == 0, 1.0, x).to(x.dtype) if include_self else ones_like(x)
            zeros_at = (x == 0).to(x.dtype) if include_self else zeros_like(x)
            zeros_at = zeros_at.scatter_add(d, index, (src == 0).to(x.dtype))
            prod_nonzero = masked_x.scatter_reduce(d, index, where(src == 0, 1.0, src).to(x.dtype), "prod")
            if include_self:
                grad_self = grad * where(zeros_at == 0, prod_nonzero / masked_x,
                                         where((zeros_at == 1) & (x == 0), prod_nonzero, 0.0))
            else:
                grad_self = grad.masked_fill(hit, 0)
            pz, zc = prod_nonzero.gather(d, index), zeros_at.gather(d, index)
            partial = where(zc == 0, pz / where(src == 0, 1.0, src),
                            where((zc == 1) & (src == 0), pz, 0.0))
            grad_src = grad.gather(d, index) * partial
        else:  # amax / amin: PyTorch counts self among the ties even with include_self=False
            self_is = (x == result).to(x.dtype)
            src_is = (src == result.gather(d, index)).to(x.dtype)
            share = grad / self_is.scatter_add(d, index, src_is)
            grad_self = self_is * share
            if not include_self:
                grad_self = grad_self.masked_fill(hit, 0)
            grad_src = src_is * share.gather(d, index)
        return (grad_self if _wants(self, 0) else None, None,
                _pad_to(grad_src, self.src_shape) if _wants(self, 2) else None)


def scatter_reduce(input, dim, index, src, reduce, *, include_self=True, out=None):
    if reduce not in _REDUCE_UFUNC:
        raise RuntimeError(f"reduce argument must be either sum, prod, mean, amax or amin, got {reduce}")
    data, idx, d, s = _scatter_prepare("scatter_reduce", input, dim, index, src)
    result = data.copy()
    if idx.size:
        where_ = _full_index(idx, d)
        ufunc = _REDUCE_UFUNC[reduce]
        if reduce in ("amax", "amin") and data.dtype.kind == "f":
            ufunc = np.maximum if reduce == "amax" else np.minimum  # NaN propagates, as PyTorch
        if not include_self:
            result[where_] = _identity(reduce, data.dtype)
        ufunc.at(result, where_, s)
        if reduce == "mean":
            counts = np.ones(data.shape, np.int64) if include_self else np.zeros(data.shape, np.int64)
            if not include_self:
                counts[where_] = 0
            np.add.at(counts, where_, 1)
            hit = counts > 0
            if data.dtype.kind in "iu":
                result = np.where(hit, np.floor_divide(result, np.maximum(counts, 1)), data).astype(data.dtype)
            else:
                result = np.where(hit, result / np.maximum(counts, 1), data).astype(data.dtype)
    result = wrap(result.reshape(input._data.shape))
    if needs_grad(input, src):
        if not (input.dtype.is_floating_point or input.dtype.is_complex):
            return result
        node = ScatterReduceBackward0()
        node.dim, node.reduce, node.include_self, node.src_shape = d, reduce, include_self, src._data.shape
        record(node, (input, index, src), (result,))
        idx_t = index
        src_view = src[tuple(slice(0, n) for n in idx.shape)] if src._data.shape != index._data.shape else src
        node.save_for_backward(input.detach(), idx_t, src_view.detach(), result.detach())
    return result
register(scatter_reduce, node_name="ScatterReduceBackward0", inplace=True, out="copy")


# -- index_* along one dim ----------------------------------------------------------------------
def _check_index_vector(op, index, allow_int32=True):
    if index.dtype not in ((_dtype.int64, _dtype.int32) if allow_int32 else (_dtype.int64,)):
        raise RuntimeError(f"{op}(): Expected dtype int32 or int64 for index" if allow_int32
                           else f"{op}(): Expected dtype int64 for index")
    if index._data.ndim > 1:
        raise IndexError(f"{op}(): Index is supposed to be a vector")
    return index._data.reshape(-1).astype(np.int64, copy=False)


class IndexSelectBackward0(Node):
    def backward(self, grad):
        (index,) = self.saved_tensors
        from ..creation import zeros
        return (zeros(self.shape, dtype=grad.dtype).index_add(self.dim, index, grad), None)


def index_select(input, dim, index, *, out=None):
    idx = _check_index_vector("index_select", index)
    data = input._data
    d = normalize_dim(dim, data.ndim)
    if data.ndim == 0 and idx.size != 1:
        raise RuntimeError(f"index_select(): Index to scalar can have only 1 value, got {idx.size} value(s)")
    size = data.shape[d] if data.ndim else 1
    if idx.size and ((idx < 0) | (idx >= size)).any():
        bad = int(idx[(idx < 0) | (idx >= size)][0])
        if d == 0:  # PyTorch's index_select takes a different kernel (embedding-like) along dim 0
            raise IndexError("index out of range in self")
        raise RuntimeError(f"INDICES element is out of DATA bounds, id={bad} axis_dim={size}")
    value = np.take(data, idx, axis=d) if data.ndim else data.reshape(1)[idx].reshape(())
    result = wrap(np.asarray(value))
    return with_grad_fn(IndexSelectBackward0, (input, index), result, (index.reshape(-1).long(),), dim=d,
                   shape=data.shape)
register(index_select, out="copy")


def _dim_key(d, idx):
    return (slice(None),) * d + (idx,)


def _check_index_range(idx, size, d):
    bad = idx[(idx < -size) | (idx >= size)]
    if bad.size:
        raise IndexError(f"index {int(bad[0])} is out of bounds for dimension {d} with size {size}")


def check_index_source_shape(data, src, d):
    """index_add/index_reduce: ``src`` has ``data``'s shape outside ``dim`` (PyTorch's message)."""
    if src.ndim == data.ndim and any(a != b for i, (a, b) in enumerate(zip(data.shape, src.shape)) if i != d):
        raise RuntimeError(f"source tensor shape must match self tensor shape, excluding the specified dimension. "
                           f"Got self.shape = {list(data.shape)} source.shape = {list(src.shape)}")


class IndexAddBackward0(Node):
    def backward(self, grad):
        (index,) = self.saved_tensors
        grad_src = None
        if _wants(self, 2):
            grad_src = grad.index_select(self.dim, index) if grad.ndim else grad
            if self.alpha != 1:
                grad_src = grad_src * self.alpha
            grad_src = grad_src.reshape(self.src_shape)
        return grad if _wants(self, 0) else None, None, grad_src


def index_add(input, dim, index, source, *, alpha=1, out=None):
    idx = _check_index_vector("index_add_", index)
    data = input._data
    d = normalize_dim(dim, data.ndim)
    src = source._data
    n_src = src.shape[d] if src.ndim else 1
    if idx.size != n_src:
        raise RuntimeError(f"index_add_(): Number of indices ({idx.size}) should be equal to source.size(dim): "
                           f"({n_src}), for dim: {d}")
    check_index_source_shape(data, src, d)
    size = data.shape[d] if data.ndim else 1
    if idx.size and ((idx < 0) | (idx >= size)).any():
        if data.ndim <= 1:  # PyTorch's 1-d kernel words it apart
            raise IndexError("index out of range in self")
        raise RuntimeError(f"index {int(idx[(idx < 0) | (idx >= size)][0])} is out of bounds for dimension {d} "
                           f"with size {size}")
    result = np.array(data, copy=True)
    s = src.astype(data.dtype, copy=False)
    if alpha != 1:
        s = s * data.dtype.type(alpha)
    if data.ndim:
        np.add.at(result, _dim_key(d, idx), s)
    else:
        result = result + s.reshape(()) * len(idx)
    result = wrap(np.asarray(result, dtype=data.dtype))
    return with_grad_fn(IndexAddBackward0, (input, index, source), result, (index.reshape(-1).long(),), dim=d,
                   alpha=alpha, src_shape=src.shape)
register(index_add, inplace=True, out="copy")


class IndexCopyBackward0(Node):
    def backward(self, grad):
        (index,) = self.saved_tensors
        grad_self = grad.index_fill(self.dim, index, 0) if _wants(self, 0) else None
        grad_src = grad.index_select(self.dim, index).reshape(self.src_shape) if _wants(self, 2) else None
        return grad_self, None, grad_src


def _check_copy_slices(data, src, d):
    """index_copy: ``src`` and ``data`` agree outside ``dim`` (PyTorch's messages, slices printed space-separated)."""
    if not (data.ndim and src.ndim):
        return
    if data.ndim != src.ndim:
        raise IndexError(f"index_copy_(): When source and destination are not scalars, their dimensionality must "
                         f"match. Source dimensionality ({src.ndim}), destination dimensionality ({data.ndim})")
    dst_slice = [n for i, n in enumerate(data.shape) if i != d]
    src_slice = [n for i, n in enumerate(src.shape) if i != d]
    if dst_slice != src_slice:
        raise RuntimeError(f"index_copy_(): Source/destination tensor must have same slice shapes. Destination slice "
                           f"shape: {' '.join(map(str, dst_slice))} at dimension {d} and source slice shape: "
                           f"{' '.join(map(str, src_slice))} at dimension 0.")


def index_copy(input, dim, index, source):
    idx = _check_index_vector("index_copy_", index, allow_int32=False)
    data = input._data
    d = normalize_dim(dim, data.ndim)
    src = source._data
    n_src = src.shape[d] if src.ndim else 1
    if idx.size != n_src:
        raise IndexError(f"index_copy_(): Number of indices ({idx.size}) should be equal to source.size(dim) ({n_src})")
    if source.dtype is not input.dtype:
        raise RuntimeError(f"index_copy_(): self and source expected to have the same dtype, but got (self) "
                           f"{dtype_name(input.dtype)} and (source) {dtype_name(source.dtype)}")
    _check_copy_slices(data, src, d)
    size = data.shape[d] if data.ndim else 1
    _check_index_range(idx, size, d)
    result = np.array(data, copy=True)
    if data.ndim:
        result[_dim_key(d, idx)] = src
    else:
        result[()] = src.reshape(-1)[-1]
    result = wrap(result)
    return with_grad_fn(IndexCopyBackward0, (input, index, source), result, (index.reshape(-1),), dim=d,
                   src_shape=src.shape)
register(index_copy, inplace=True)


class IndexFillBackward0(Node):
    def backward(self, grad):
        (index,) = self.saved_tensors
        grad_self = grad.index_fill(self.dim, index, 0) if _wants(self, 0) else None
        grad_value = None
        if _wants(self, 2):
            grad_value = (grad - grad.index_fill(self.dim, index, 0)).sum()
        return grad_self, None, grad_value


def index_fill(input, dim, index, value):
    idx = _check_index_vector("index_fill_", index, allow_int32=False)
    data = input._data
    d = normalize_dim(dim, data.ndim)
    size = data.shape[d] if data.ndim else 1
    _check_index_range(idx, size, d)
    if is_tensor(value) and value._data.ndim:
        raise RuntimeError(f"index_fill_ only supports a 0-dimensional value tensor, but got tensor with "
                           f"{value._data.ndim} dimension(s).")
    v = value._data if is_tensor(value) else value
    result = np.array(data, copy=True)
    if data.ndim:
        result[_dim_key(d, idx)] = v
    elif idx.size:
        result[()] = v
    result = wrap(result)
    return with_grad_fn(IndexFillBackward0, (input, index, value), result, (index.reshape(-1),), dim=d)
register(index_fill, inplace=True)


# -- flat and masked selection ------------------------------------------------------------------
class TakeBackward0(Node):
    def backward(self, grad):
        (index,) = self.saved_tensors
        from ..creation import zeros
        flat = zeros((self.numel,), dtype=grad.dtype).index_add(0, index.reshape(-1), grad.reshape(-1))
        return flat.reshape(self.shape), None


def take(input, index):
    if index.dtype is not _dtype.int64:
        raise RuntimeError("take(): Expected a long tensor for index, but got " + dtype_name(index.dtype))
    flat = input._data.reshape(-1)
    idx = index._data
    n = flat.size
    if n == 0 and idx.size:
        raise IndexError("take(): tried to take from an empty tensor")
    bad = idx[(idx < -n) | (idx >= n)]
    if bad.size:
        raise IndexError(f"out of range: tried to access index {int(bad.reshape(-1)[0])} on a tensor of {n} elements.")
    result = wrap(np.asarray(flat[np.where(idx < 0, idx + n, idx)]))
    return with_grad_fn(TakeBackward0, (input, index), result, (wrap(np.where(idx < 0, idx + n, idx)),),
                   numel=n, shape=input._data.shape)
register(take)


def take_along_dim(input, indices, dim=None):
    """Composite, as in PyTorch: broadcast input and indices (except along dim) and gather."""
    if indices.dtype is not _dtype.int64:
        raise RuntimeError(f"torch.take_along_dim(): dtype of indices should be Long but got {dtype_name(indices.dtype)}")
    if dim is None:
        return gather(input.reshape(-1), 0, indices.reshape(-1))
    ndim = input._data.ndim
    if ndim != indices._data.ndim:
        raise RuntimeError(f"torch.take_along_dim(): input and indices should have the same number of dimensions, "
                           f"but got {ndim} dimensions for input, and {indices._data.ndim} dimensions for indices")
    d = normalize_dim(dim, ndim)
    in_shape, idx_shape = list(input._data.shape), list(indices._data.shape)
    in_shape[d] = idx_shape[d] = 1
    common = list(broadcast_shapes(in_shape, idx_shape))
    target_in = common.copy()
    target_in[d] = input._data.shape[d]
    target_idx = common.copy()
    target_idx[d] = indices._data.shape[d]
    if indices._data.size and indices._data.min() < 0:  # PyTorch wraps negative indices along dim (gather does not)
        size = input._data.shape[d]
        indices = wrap(np.where(indices._data < 0, indices._data + size, indices._data))
    return gather(input.expand(target_in), d, indices.expand(target_idx))
register(take_along_dim)


class MaskedSelectBackward0(Node):
    def backward(self, grad):
        (mask,) = self.saved_tensors
        from ..creation import zeros
        full = zeros(self.full_shape, dtype=grad.dtype).masked_scatter(mask, grad)
        return sum_to(full, self.shape), None


def masked_select(input, mask):
    if mask.dtype is not _dtype.bool:
        raise RuntimeError("masked_select: expected BoolTensor for mask")
    shape = broadcast_shapes(mask._data.shape, input._data.shape)  # PyTorch's operand order in its message
    data = np.broadcast_to(input._data, shape)
    m = np.broadcast_to(mask._data, shape)
    result = wrap(np.asarray(data[m]))
    mask_full = wrap(np.array(m))
    return with_grad_fn(MaskedSelectBackward0, (input, mask), result, (mask_full,), full_shape=shape,
                   shape=input._data.shape)
register(masked_select)


class MaskedScatterBackward0(Node):
    def backward(self, grad):
        (mask,) = self.saved_tensors
        grad_self = sum_to(grad.masked_fill(mask, 0), self.shape) if _wants(self, 0) else None
        grad_src = None
        if _wants(self, 2):
            picked = grad.masked_select(mask)
            from ..creation import zeros
            from ..shape.views import cat
            pad = self.src_numel - picked._data.size
            flat = cat([picked, zeros((pad,), dtype=grad.dtype)]) if pad else picked
            grad_src = flat.reshape(self.src_shape)
        return grad_self, None, grad_src


def masked_scatter(input, mask, source):
    if mask.dtype is not _dtype.bool:
        raise RuntimeError(f"masked_scatter_ only supports boolean masks, but got mask with dtype "
                           f"{dtype_name(mask.dtype).replace('Byte', 'unsigned char')}")
    if source.dtype is not input.dtype:
        raise RuntimeError(f"masked_scatter: expected self and source to have same dtypes but got "
                           f"{dtype_name(input.dtype)} and {dtype_name(source.dtype)}")
    shape = broadcast_shapes(mask._data.shape, input._data.shape)  # mask first: PyTorch's message order
    m = np.broadcast_to(mask._data, shape)
    result = np.array(np.broadcast_to(input._data, shape), copy=True)
    n = int(m.sum())
    src = source._data.reshape(-1)
    if src.size < n:
        raise RuntimeError("masked_scatter: expected source to have at least as many elements as ones in mask")
    result[m] = src[:n]
    result = wrap(result)
    return with_grad_fn(MaskedScatterBackward0, (input, mask, source), result, (wrap(np.array(m)),),
                   shape=input._data.shape, src_shape=source._data.shape, src_numel=src.size)
register(masked_scatter, inplace=True)


def put(input, index, source, accumulate=False):
    """Out-of-place torch.put: writes ``source`` at flat ``index`` positions."""
    flat = input.reshape(-1)
    n = flat._data.size
    idx = index.reshape(-1)
    if n == 0 and idx._data.size:
        raise IndexError("put_(): Tried to put elements into an empty tensor")
    bad = idx._data[(idx._data < -n) | (idx._data >= n)]
    if bad.size:
        raise IndexError(f"out of range: tried to access index {int(bad[0])} on a tensor of {n} elements.")
    idx = wrap(np.where(idx._data < 0, idx._data + n, idx._data))
    out = flat.index_add(0, idx, source.reshape(-1)) if accumulate else flat.index_copy(0, idx, source.reshape(-1))
    return out.reshape(input._data.shape)
register(put, inplace=True)


__all__ = ["gather", "scatter", "scatter_add", "scatter_reduce", "index_select", "index_add", "index_copy",
           "index_fill", "take", "take_along_dim", "masked_select", "masked_scatter", "put"]
