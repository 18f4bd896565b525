"""Sorting and searching: sort, argsort, msort, topk, order statistics (median, nanmedian, kthvalue, mode,
quantile, nanquantile), unique, unique_consecutive, bincount, histc, histogram, searchsorted, bucketize.

Indices come from NumPy's stable argsort; values are ``gather``-ed from the input so they carry
autograd (the gradient goes to the selected positions, as PyTorch's backward does).
"""

import numpy as np

from ... import _dtype, return_types
from ..._autocast import float32_policy
from ..._tensor import wrap
from ...autograd.grad_mode import no_grad
from ...autograd.graph import Node
from .._helpers import check_dtype_support, dtype_name, normalize_dim, with_grad_fn
from .indexing.gather_scatter import gather
from ..registry import register


def _argsort(data, d, descending):
    """Stable argsort along ``d``; descending keeps equal elements in their original order. NaN is largest."""
    if not descending:
        return np.argsort(data, axis=d, kind="stable")
    n = data.shape[d]
    rev = np.argsort(np.flip(data, axis=d), axis=d, kind="stable")
    return np.flip(n - 1 - rev, axis=d)


def _select(input, d, idx, keepdim=True, node="GatherBackward0"):
    """(values gathered from input, indices) for int64 index array ``idx`` along ``d``; the values' grad_fn is
    named ``node`` as PyTorch's op's (SortBackward0, TopkBackward0...), its gradient gather's."""
    if input._data.ndim == 0:
        return input.clone(), wrap(np.zeros((), np.int64))
    index = wrap(np.ascontiguousarray(idx, dtype=np.int64))
    with no_grad():
        values = gather(input, d, index)
        if not keepdim:
            values, index = values.squeeze(d), index.squeeze(d)
    return with_grad_fn(_selection_node(node), (input,), values, (index,), dim=d, keepdim=keepdim,
                        shape=input._data.shape), index


class _SelectionBackward(Node):
    """The gradient of values picked along ``dim`` at ``index``: scattered back into zeros."""

    def backward(self, grad):
        (index,) = self.saved_tensors
        if not self.keepdim:
            grad, index = grad.unsqueeze(self.dim), index.unsqueeze(self.dim)
        from .creation import zeros
        return (zeros(self.shape, dtype=grad.dtype).scatter(self.dim, index, grad),)


_SELECTION_NODES = {}


def _selection_node(name):
    if name not in _SELECTION_NODES:
        _SELECTION_NODES[name] = type(name, (_SelectionBackward,), {})
    return _SELECTION_NODES[name]


def sort(input, dim=-1, descending=False, stable=False, *, out=None):
    if isinstance(dim, bool):  # sort(input, stable=..., dim=...) keyword-only overload mixups
        dim, descending = -1, dim
    d = normalize_dim(dim, input._data.ndim)
    if input._data.ndim == 0:
        return return_types.sort(*_select(input, 0, None))
    return return_types.sort(*_select(input, d, _argsort(input._data, d, descending), node="SortBackward0"))
register(sort, out="copy")


def argsort(input, dim=-1, descending=False, stable=False):
    return sort(input.detach(), dim, descending, stable).indices
register(argsort)


def msort(input):
    return sort(input, 0).values
register(msort)


def _no_bool(input, kernel):
    if input.dtype is _dtype.bool:
        raise NotImplementedError(f'"{kernel}" not implemented for \'Bool\'')


def topk(input, k, dim=-1, largest=True, sorted=True, *, out=None):
    data = input._data
    if data.dtype == np.bool_:
        raise RuntimeError("topk does not support bool dtypes on CPU")
    check_dtype_support("topk", data.dtype)
    d = normalize_dim(dim, data.ndim)
    n = data.shape[d] if data.ndim else 1
    if not 0 <= k <= n:
        raise RuntimeError("selected index k out of range")
    if data.ndim == 0:
        return return_types.topk(*_select(input, 0, None))
    order = _argsort(data, d, descending=largest)
    idx = np.take(order, np.arange(k), axis=d)
    return return_types.topk(*_select(input, d, idx, node="TopkBackward0"))
register(topk, out="copy")


def _kth(input, dim, keepdim, pick, node="GatherBackward0"):
    """Values/indices of the element of each sorted slice at position ``pick(n_valid, sorted_slice)``."""
    data = input._data
    d = normalize_dim(dim, data.ndim)
    if data.ndim == 0:
        return _select(input, 0, None)
    order = _argsort(data, d, descending=False)
    pos = pick(data, order, d)
    idx = np.take_along_axis(order, pos, axis=d)
    return _select(input, d, idx, keepdim, node)


def kthvalue(input, k, dim=-1, keepdim=False, *, out=None):
    _no_bool(input, "kthvalue_cpu")
    data = input._data
    d = normalize_dim(dim, data.ndim)
    n = data.shape[d] if data.ndim else 1
    if not 1 <= k <= n:
        raise RuntimeError(f"kthvalue(): selected number k out of range for dimension {d}")
    return return_types.kthvalue(*_kth(input, dim, keepdim, lambda data, order, d: np.full(_one(data.shape, d), k - 1, np.int64),
                                          "KthvalueBackward0"))
register(kthvalue, out="copy")


def _one(shape, d):
    return tuple(1 if i == d else s for i, s in enumerate(shape))


def _median_pos(ignore_nan):
    def pick(data, order, d):
        n = data.shape[d]
        if data.dtype.kind == "f":
            nans = np.isnan(data).sum(axis=d, keepdims=True)
            if ignore_nan:  # lower median of the non-NaN elements (NaN only when all are NaN)
                return np.maximum((n - nans - 1) // 2, 0).astype(np.int64)
            # any NaN: the result is NaN, i.e. the first NaN (sorted last)
            return np.where(nans > 0, n - nans, (n - 1) // 2).astype(np.int64)
        return np.full(_one(data.shape, d), (n - 1) // 2, np.int64)
    return pick


def _median(name, input, dim, keepdim, ignore_nan):
    _no_bool(input, "median_cpu" if dim is None else "median_out")  # nanmedian's kernels too
    if dim is None:
        if input._data.size == 0:
            return wrap(np.asarray(np.nan, dtype=input._data.dtype))
        return _kth(input.reshape(-1), 0, False, _median_pos(ignore_nan))[0]
    d = normalize_dim(dim, input._data.ndim)
    if input._data.ndim and input._data.shape[d] == 0:
        raise IndexError(f"{name}(): Expected reduction dim {d} to have non-zero size.")
    node = "NanmedianBackward1" if ignore_nan else "MedianBackward1"
    return getattr(return_types, name)(*_kth(input, dim, keepdim, _median_pos(ignore_nan), node))


def median(input, dim=None, keepdim=False, *, out=None):
    if dim is None and keepdim:
        raise TypeError('median() missing 1 required positional arguments: "dim"')
    return _median("median", input, dim, keepdim, ignore_nan=False)
register(median, out="copy")


def nanmedian(input, dim=None, keepdim=False, *, out=None):
    return _median("nanmedian", input, dim, keepdim, ignore_nan=True)
register(nanmedian, out="copy")


def mode(input, dim=-1, keepdim=False, *, out=None):
    """Most frequent value per slice (the smallest among equally frequent), and its last index."""
    data = input._data
    d = normalize_dim(dim, data.ndim)
    if data.ndim == 0:
        return return_types.mode(*_select(input, 0, None))
    moved = np.moveaxis(data, d, -1)
    n = moved.shape[-1]
    order = np.argsort(moved, axis=-1, kind="stable")  # equal values keep their original order
    s = np.take_along_axis(moved, order, axis=-1)
    pos = np.broadcast_to(np.arange(n), s.shape)
    starts = np.ones(s.shape, bool)
    starts[..., 1:] = s[..., 1:] != s[..., :-1]
    ends = np.ones(s.shape, bool)
    ends[..., :-1] = starts[..., 1:]
    run_start = np.maximum.accumulate(np.where(starts, pos, 0), axis=-1)
    run_end = np.flip(np.minimum.accumulate(np.flip(np.where(ends, pos, n - 1), -1), axis=-1), -1)
    best = np.argmax(run_end - run_start, axis=-1)[..., None]  # first longest run: the smallest such value
    idx = np.take_along_axis(order, np.take_along_axis(run_end, best, axis=-1), axis=-1)  # its last index
    idx = np.moveaxis(idx, -1, d)
    return return_types.mode(*_select(input, d, idx, keepdim, "ModeBackward0"))
register(mode, out="copy")


def aminmax(input, *, dim=None, keepdim=False, out=None):
    if dim is None and input._data.size == 0:
        raise RuntimeError("aminmax(): cannot compute aminmax over an empty dimension as the operation has no "
                           "identity.")
    if dim is None:
        return return_types.aminmax(input.amin(), input.amax()) if not keepdim else return_types.aminmax(
            input.amin(tuple(range(input.ndim)), True), input.amax(tuple(range(input.ndim)), True))
    return return_types.aminmax(input.amin(dim, keepdim), input.amax(dim, keepdim))
register(aminmax, out="copy")


def _quantile(name, input, q, dim, keepdim, interpolation, ignore_nan):
    from .creation import tensor
    from .elementwise.arithmetic import where
    if not (input.dtype.is_floating_point):
        raise RuntimeError(f"{name}() input tensor must be either float or double dtype")
    scalar_q = not hasattr(q, "_data")
    qt = tensor(q, dtype=input.dtype) if scalar_q else q
    if qt._data.ndim > 1:
        raise RuntimeError(f"{name}() q must be a scalar or 1D tensor")
    if qt.dtype is not input.dtype:
        raise RuntimeError(f"{name}() q tensor must be same dtype as the input tensor")
    if ((qt._data < 0) | (qt._data > 1)).any():
        if scalar_q:
            raise RuntimeError(f"{name}() q must be in the range [0, 1] but got {q}")
        raise RuntimeError(f"{name}() q values must be in the range [0, 1]")
    if interpolation not in ("linear", "lower", "higher", "midpoint", "nearest"):
        raise RuntimeError(f"{name}() interpolation must be one of linear, lower, higher, midpoint or nearest. "
                           f"Got {interpolation}")
    x = input.reshape(-1) if dim is None else input
    d = 0 if dim is None else normalize_dim(dim, input._data.ndim)
    if x._data.ndim == 0:
        x, d = x.reshape(1), 0
    if x._data.shape[d] == 0:
        raise RuntimeError(f"{name}() input tensor must be non-empty")
    srt = sort(x, d).values  # NaN last
    n = srt._data.shape[d]
    nans = np.isnan(x._data).sum(axis=d, keepdims=True)
    valid = (n - nans) if ignore_nan else np.where(nans > 0, 0, n)  # 0: the slice's answer is NaN
    qv = qt._data.reshape(-1)
    outs = []
    for qi in qv:  # one pass per requested quantile (q is short), vectorised over slices
        rank = qi * (np.maximum(valid, 1) - 1)
        lo = np.floor(rank).astype(np.int64)
        hi = np.ceil(rank).astype(np.int64)
        if interpolation == "lower":
            hi = lo
        elif interpolation == "higher":
            lo = hi
        elif interpolation == "nearest":
            lo = hi = np.round(rank).astype(np.int64)  # round half to even, as PyTorch
        v_lo = srt.gather(d, wrap(lo))
        v_hi = srt.gather(d, wrap(hi))
        if interpolation == "midpoint":
            w = np.where(hi > lo, 0.5, 0.0)
        elif interpolation == "linear":
            w = rank - lo
        else:
            w = np.zeros(rank.shape)
        val = v_lo + (v_hi - v_lo) * wrap(np.asarray(w, dtype=input._data.dtype))
        val = where(wrap(valid == 0), float("nan"), val)
        if dim is None:
            val = val.reshape((1,) * input._data.ndim) if keepdim else val.reshape(())
        elif not input._data.ndim:  # a 0-d input gives a 0-d quantile, keepdim or not
            val = val.reshape(())
        elif not keepdim:
            val = val.squeeze(d)
        outs.append(val)
    if scalar_q or qt._data.ndim == 0:
        return outs[0]
    from .shape.views import stack
    return stack(outs, 0)


@float32_policy
def quantile(input, q, dim=None, keepdim=False, *, interpolation="linear", out=None):
    return _quantile("quantile", input, q, dim, keepdim, interpolation, ignore_nan=False)
register(quantile, out="copy")


@float32_policy
def nanquantile(input, q, dim=None, keepdim=False, *, interpolation="linear", out=None):
    return _quantile("nanquantile", input, q, dim, keepdim, interpolation, ignore_nan=True)
register(nanquantile, out="copy")


# -- unique ----------------------------------------------------------------------------------------
def _pack(output, inverse, counts, return_inverse, return_counts):
    result = (output,)
    if return_inverse:
        result += (inverse,)
    if return_counts:
        result += (counts,)
    return result[0] if len(result) == 1 else result


def unique(input, sorted=True, return_inverse=False, return_counts=False, dim=None):
    data = input._data
    if dim is None:
        # NaNs stay distinct, as in PyTorch (NumPy merges them by default)
        values, inverse, counts = np.unique(data.reshape(-1), return_inverse=True, return_counts=True, equal_nan=False)
        inverse = inverse.reshape(data.shape)
    else:
        d = normalize_dim(dim, data.ndim)
        if any(n == 0 for k, n in enumerate(data.shape) if k != d):
            raise RuntimeError("There are 0 sized dimensions, and they aren't selected, so unique cannot be applied")
        if data.shape[d] == 0 and data.size == 0 and data.ndim > 1:
            values, inverse, counts = data.copy(), np.zeros(0, np.int64), np.zeros(0, np.int64)
        else:
            values, inverse, counts = np.unique(data, return_inverse=True, return_counts=True, axis=d, equal_nan=False)
        inverse = inverse.reshape(-1)
    return _pack(wrap(np.ascontiguousarray(values)), wrap(np.asarray(inverse, dtype=np.int64)),
                 wrap(np.asarray(counts, dtype=np.int64)), return_inverse, return_counts)
register(unique)


def unique_consecutive(input, return_inverse=False, return_counts=False, dim=None):
    data = input._data
    if dim is None:
        flat = data.reshape(-1)
        if flat.size == 0:
            starts = np.zeros(0, bool)
        else:
            starts = np.concatenate([[True], flat[1:] != flat[:-1]])
        values = flat[starts]
        inverse = (np.cumsum(starts) - 1).reshape(data.shape)
        bounds = np.flatnonzero(starts)
        counts = np.diff(np.append(bounds, flat.size))
    else:
        d = normalize_dim(dim, data.ndim)
        moved = np.moveaxis(data, d, 0).reshape(data.shape[d], -1)
        n = moved.shape[0]
        starts = np.ones(n, bool)
        if n > 1:
            starts[1:] = (moved[1:] != moved[:-1]).any(axis=1)
        values = np.take(data, np.flatnonzero(starts), axis=d)
        inverse = np.cumsum(starts) - 1
        counts = np.diff(np.append(np.flatnonzero(starts), n))
    return _pack(wrap(np.ascontiguousarray(values)), wrap(np.asarray(inverse, dtype=np.int64)),
                 wrap(np.asarray(counts, dtype=np.int64)), return_inverse, return_counts)
register(unique_consecutive)


# -- counting and binning -----------------------------------------------------------------------
def bincount(input, weights=None, minlength=0):
    data = input._data
    if data.ndim != 1:
        raise RuntimeError(f"bincount only supports 1-d non-negative integral inputs.")
    if data.dtype.kind not in "iub":
        raise RuntimeError(f'"bincount_cpu" not implemented for \'{dtype_name(input.dtype)}\'')
    if data.size and data.min() < 0:
        raise RuntimeError("bincount only supports 1-d non-negative integral inputs.")
    if minlength < 0:
        raise RuntimeError("minlength should be >= 0")
    if weights is None:
        return wrap(np.bincount(data, minlength=minlength).astype(np.int64))
    if weights._data.shape != data.shape:
        raise RuntimeError("weights should be 1-d and have the same length as input")
    w = weights._data
    out_dtype = w.dtype if w.dtype == np.float32 else np.float64
    return wrap(np.bincount(data, weights=w.astype(np.float64), minlength=minlength).astype(out_dtype))
register(bincount)


def histc(input, bins=100, min=0, max=0, *, out=None):
    data = input._data
    if data.dtype.kind not in "f":  # PyTorch's first kernel without a bool version is linspace's
        kernel = "linspace_cpu" if data.dtype.kind == "b" else "histogram_cpu"
        raise NotImplementedError(f'"{kernel}" not implemented for \'{dtype_name(input.dtype)}\'')
    if bins <= 0:
        raise RuntimeError(f"torch.histogram(): bins must be > 0, but got {bins} for dimension 0")
    lo, hi = float(min), float(max)
    if lo == hi and data.size:
        lo, hi = float(data.min()), float(data.max())
    if lo == hi:
        lo, hi = lo - 1, hi + 1
    if lo > hi:
        raise RuntimeError("torch.histc(): max must be larger than min")
    counts, _ = np.histogram(data, bins=bins, range=(lo, hi))
    return wrap(counts.astype(data.dtype))
register(histc, out="copy")


def histogram(input, bins=100, *, range=None, weight=None, density=False, out=None):
    data = input._data
    if data.dtype.kind not in "f":
        raise NotImplementedError(f'"histogramdd" not implemented for \'{dtype_name(input.dtype)}\'')
    b = bins._data if hasattr(bins, "_data") else bins
    w = weight._data if weight is not None else None
    if range is None and not hasattr(bins, "_data") and data.size:
        range = (float(data.min()), float(data.max()))
    hist, edges = np.histogram(data, bins=b, range=range, weights=w, density=density)
    hist_t, edges_t = wrap(hist.astype(data.dtype)), wrap(edges.astype(data.dtype))
    inputs = (input,) + ((weight,) if weight is not None else ())
    with_grad_fn(_HistogramNotImplemented, inputs, (hist_t, edges_t))  # PyTorch's node: refuses in backward
    return return_types.histogram(hist_t, edges_t)
register(histogram, out="copy")


class _HistogramNotImplemented(Node):
    def name(self):
        return "torch::autograd::NotImplemented"

    def backward(self, *grads):
        raise RuntimeError("derivative for aten::histogram is not implemented")


def searchsorted(sorted_sequence, input, *, out_int32=False, right=False, side=None, sorter=None, out=None):
    if side is not None:
        if side not in ("left", "right"):
            raise RuntimeError(f"torch.searchsorted(): side can only be 'left' or 'right' but got {side}")
        if right and side == "left":
            raise RuntimeError("torch.searchsorted(): side and right can't be set to opposites, got side of left "
                               "while right was True")
        right = side == "right"
    seq = sorted_sequence._data
    if seq.ndim == 0:
        raise RuntimeError("torch.searchsorted(): boundaries tensor should have positive dimension, but got 0 "
                           "dimension")
    for t in (sorted_sequence, input):
        if hasattr(t, "_data") and t._data.dtype.kind == "b":
            raise NotImplementedError('"searchsorted_out_cpu" not implemented for \'Bool\'')
    if sorter is not None:
        seq = np.take_along_axis(seq, sorter._data, axis=-1)
    scalar = not hasattr(input, "_data")
    vals = np.asarray(input) if scalar else input._data
    how = "right" if right else "left"
    if seq.ndim <= 1:
        result = np.searchsorted(seq, vals, side=how)
    else:
        if vals.ndim != seq.ndim or vals.shape[:-1] != seq.shape[:-1]:
            raise RuntimeError(
                "torch.searchsorted(): boundaries tensor should be 1 dimension or the first N-1 dimensions of "
                "boundaries tensor and input value tensor must match, but we got boundaries tensor "
                f"{list(seq.shape)} and input value tensor {list(vals.shape)}")
        rows_seq = seq.reshape(-1, seq.shape[-1])
        rows_val = vals.reshape(-1, vals.shape[-1])
        rows = [np.searchsorted(s, v, side=how) for s, v in zip(rows_seq, rows_val)]
        result = np.stack(rows).reshape(vals.shape) if rows else np.zeros(vals.shape, np.int64)
    return wrap(np.asarray(result, dtype=np.int32 if out_int32 else np.int64))
register(searchsorted, method=False, out="copy")


def bucketize(input, boundaries, *, out_int32=False, right=False, out=None):
    if boundaries._data.ndim != 1:
        raise RuntimeError(f"boundaries tensor must be 1 dimension, but got dim({boundaries._data.ndim})")
    return searchsorted(boundaries, input, out_int32=out_int32, right=right)
register(bucketize, method=False, out="copy")


__all__ = ["sort", "argsort", "msort", "topk", "kthvalue", "median", "nanmedian", "mode", "aminmax", "quantile",
           "nanquantile", "unique", "unique_consecutive", "bincount", "histc", "histogram", "searchsorted",
           "bucketize"]
