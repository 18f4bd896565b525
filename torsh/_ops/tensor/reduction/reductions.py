"""Reductions: sum, mean, prod, max/min (with indices), argmax/argmin, var/std, logsumexp, norm, all/any, and the
NaN-ignoring ones (nansum, nanmean: composites of where + sum, so autograd comes from those)."""
import math
import warnings

import numpy as np

from .... import _dtype, return_types
from ...._warnings import warn as user_warning
from ...._autocast import float32_policy
from ...._tensor import wrap
from ....autograd.graph import Node, backward_on_arrays, needs_grad, record
from ....backend import dispatch
from ..._helpers import (accumulation_array, cast_for_integer_accumulation, check_dtype_support, check_keepdim_has_dim,
                        dtype_name, normalize_dim, normalize_dims)
from ...column_sums import column_sums
from ..linalg.core import matrix_norm, vector_norm
from ...registry import register


def _expand_back(grad, dims, keepdim, shape):
    """Undo a reduction over ``dims`` on ``grad``: re-insert the dims, broadcast to ``shape`` (one
    NumPy view where graph.backward_on_arrays allows: unsqueeze + expand as torsh ops cost ~5 us)."""
    if backward_on_arrays():
        data = grad._data
        if data.ndim == 0 and data.dtype.kind in "fc":  # sum()/mean(): a read-only zero-stride view, made in
            view = np.ndarray(shape, data.dtype, buffer=data, strides=(0,) * len(shape))  # 1/3 of broadcast_to's time
            view.flags.writeable = False
            return wrap(view)
        if not keepdim:
            data = data.reshape(_reduced_shape(shape, dims, True))
        return wrap(np.broadcast_to(data, shape))
    if not keepdim:
        for d in dims:
            grad = grad.unsqueeze(d)
    return grad.expand(shape)


def _as_rows(data, dims):
    """``data`` as a C-contiguous (rest, reduced) 2-D array when ``dims`` are its trailing dims."""
    kept = data.ndim - len(dims)
    if not dims or dims != tuple(range(kept, data.ndim)) or not data.flags.c_contiguous:
        return None
    return data.reshape(math.prod(data.shape[:kept]), math.prod(data.shape[kept:]))


_COLUMN_SUMS_FROM = 8192  # below, NumPy's sum(axis=0) costs less than a kernel call's Python


def _as_columns(data, dims):
    """A C-contiguous float32 ``data`` as a (reduced, rest) 2-D array when ``dims`` are its leading dims (and
    not all of them): ``sum(0)`` on the column_sums kernel, which reads each row once (NumPy's ``sum(axis=0)``
    took 2x PyTorch's time)."""
    if data.dtype != np.float32 or data.size < _COLUMN_SUMS_FROM or dims != tuple(range(len(dims))) \
            or len(dims) == data.ndim or not data.flags.c_contiguous:
        return None
    lead = math.prod(data.shape[:len(dims)])
    return data.reshape(lead, data.size // lead)


def sum_but_channels(data, dims=None):
    """The sums over every dim but 1 of a C-contiguous float (N, C, *spatial) ``data`` (a convolution's bias
    gradient, batch statistics: ``x.sum((0, 2, 3))``), or None where that is not the case or it is small: each
    (n, c) plane summed by the sum_rows kernel, then the N partial sums. NumPy's sum over axes (0, 2, 3) took
    1.6-1.7x as long at W5's and LeNet's gradients (1 thread)."""
    if (data.ndim < 3 or data.size < _COLUMN_SUMS_FROM or data.dtype.char not in "fd" or not data.flags.c_contiguous
            or (dims is not None and dims != (0,) + tuple(range(2, data.ndim)))):
        return None
    n, c = data.shape[:2]
    planes = _row_sums(data.reshape(n * c, data.size // (n * c)))
    return planes.reshape(n, c).sum(axis=0)


def _reduced_shape(shape, dims, keepdim):
    if not keepdim and len(dims) == len(shape):  # a full reduction (sum(), mean()): the common case
        return ()
    return tuple(1 if i in dims else s for i, s in enumerate(shape)) if keepdim else \
        tuple(s for i, s in enumerate(shape) if i not in dims)


class SumBackward1(Node):
    def backward(self, grad):
        return (_expand_back(grad, self.dims, self.keepdim, self.shape),)


SumBackward0 = type("SumBackward0", (SumBackward1,), {})


def _sum_rows(rows):
    if rows.dtype.char in "eE":  # float16/bfloat16
        return rows.sum(axis=1, dtype=np.float32).astype(rows.dtype)
    return rows.sum(axis=1).astype(rows.dtype, copy=False)  # NumPy sums int32 rows into int64


# The sum_rows kernel adds a row in vector lanes, its error growing with the row's length (one row of 1e7 float32:
# 7e-6 relative against NumPy's and PyTorch's pairwise/cascade 6e-8); longer rows take NumPy's pairwise sum
_KERNEL_ROW_MAX = 4096
_LONG_ROWS = f"rows over {_KERNEL_ROW_MAX:,} values: NumPy's pairwise sum keeps PyTorch's accuracy"


def _row_sums(rows):
    """Each row of the 2-D ``rows`` summed: on the sum_rows kernel where the dispatcher picks it and the rows are
    short enough for its accuracy, else NumPy."""
    if rows.shape[1] > _KERNEL_ROW_MAX:  # still a dispatch decision, so profiles and views say why NumPy ran
        return dispatch.call("sum_rows", rows.size, rows.dtype, False, None, lambda: _sum_rows(rows), _LONG_ROWS)
    return dispatch.reduce_rows("sum_rows", rows, _sum_rows)


def _accumulator(np_dtype):
    """The dtype a reduction to ``np_dtype`` sums in: float32 for float16/bfloat16, as PyTorch's CPU kernels
    (one rounding at the end)."""
    return np.float32 if np_dtype.char in "eE" else np_dtype


def _all_dims_if_empty(dim):
    """dim=() or [] reduces over every dim in PyTorch's std/var/count_nonzero/logsumexp/amax/..."""
    return None if dim is not None and not isinstance(dim, int) and len(dim) == 0 else dim


_SUM_SIGNATURES = ("*, torch.dtype dtype = None",
                   "tuple of ints dim, bool keepdim = False, *, torch.dtype dtype = None, Tensor out = None")
_EXTREMUM_SIGNATURES = ("*, Tensor out = None", "Tensor other, *, Tensor out = None",
                        "int dim, bool keepdim = False, *, tuple of Tensors out = None")


def sum(input, dim=None, keepdim=False, *, dtype=None, out=None):
    check_keepdim_has_dim("sum", dim, keepdim, *_SUM_SIGNATURES)
    data = input._data
    if dim is None and dtype is None and data.dtype.kind == "f" and data.ndim and data.size and data.flags.c_contiguous:
        return _sum_all_float(input, data, keepdim)
    if (dim == 0 or dim == -2) and type(dim) is int and dtype is None and data.ndim == 2 and \
            data.dtype == np.float32 and data.size and data.flags.c_contiguous:
        return _sum_columns(input, data, keepdim)
    out_dtype = _dtype.to_dtype(dtype) if dtype is not None else (
        _dtype.int64 if data.dtype.kind in "biu" else _dtype._BY_NP[data.dtype])
    if dtype is not None:
        data = cast_for_integer_accumulation(data, out_dtype.np)
    dims = normalize_dims(dim, data.ndim) if dim is not None and dim != () else tuple(range(data.ndim))
    rows = _as_rows(data, dims) if data.dtype == out_dtype.np else None
    if rows is not None and rows.shape[1] > 0:
        value = _row_sums(rows)
        value = value.reshape(_reduced_shape(data.shape, dims, keepdim))
    elif data.dtype == out_dtype.np and (columns := _as_columns(data, dims)) is not None:
        value = column_sums(columns).reshape(_reduced_shape(data.shape, dims, keepdim))
    elif data.dtype == out_dtype.np and (channels := sum_but_channels(data, dims)) is not None:
        value = channels.reshape(_reduced_shape(data.shape, dims, keepdim))
    else:
        value = np.asarray(np.sum(data, axis=dims, keepdims=keepdim, dtype=_accumulator(out_dtype.np)),
                           dtype=out_dtype.np)
    result = wrap(value)
    if needs_grad(input):
        node = (SumBackward0 if dim is None else SumBackward1)()
        node.dims, node.keepdim, node.shape = dims, keepdim, data.shape
        record(node, (input,), (result,))
    return result
register(sum, out="copy")


def _sum_all_float(input, data, keepdim):
    """sum() of a non-empty contiguous floating-point tensor: what the general path runs for it (the whole
    array as one row), without its dtype and dims bookkeeping (~1.5 us of a small forward+backward)."""
    value = _row_sums(data.reshape(1, data.size))
    result = wrap(value.reshape((1,) * data.ndim if keepdim else ()))
    if needs_grad(input):
        node = SumBackward0()
        node.dims, node.keepdim, node.shape = tuple(range(data.ndim)), keepdim, data.shape
        record(node, (input,), (result,))
    return result


def _sum_columns(input, data, keepdim):
    """sum(0) of a non-empty C-contiguous float32 matrix: the general path's column sums without its dims
    bookkeeping (PyTorch's small sum(0) takes ~2 us, the general path's Python ~5)."""
    value = column_sums(data) if data.size >= _COLUMN_SUMS_FROM else data.sum(axis=0)
    result = wrap(value.reshape(1, value.size) if keepdim else value)
    if needs_grad(input):
        node = SumBackward1()
        node.dims, node.keepdim, node.shape = (0,), keepdim, data.shape
        record(node, (input,), (result,))
    return result


class MeanBackward1(Node):
    def backward(self, grad):
        return (_expand_back(grad, self.dims, self.keepdim, self.shape) / self.count,)


MeanBackward0 = type("MeanBackward0", (MeanBackward1,), {})


def check_mean_dtype(op, input, dtype):
    """The dtype mean/nanmean compute in: the input's, or dtype=; either must be floating point or complex."""
    out_dtype = _dtype.to_dtype(dtype) if dtype is not None else input.dtype
    if not (out_dtype.is_floating_point or out_dtype.is_complex):
        which = "Input" if dtype is None else "Optional"
        raise RuntimeError(f"{op}(): could not infer output dtype. {which} dtype must be either a floating point or "
                           f"complex dtype. Got: {dtype_name(out_dtype)}")
    return out_dtype


def mean(input, dim=None, keepdim=False, *, dtype=None, out=None):
    check_keepdim_has_dim("mean", dim, keepdim, "*, torch.dtype dtype = None, Tensor out = None", _SUM_SIGNATURES[1])
    out_dtype = check_mean_dtype("mean", input, dtype)
    data = input._data
    dims = normalize_dims(dim, data.ndim) if dim is not None and dim != () else tuple(range(data.ndim))
    count = math.prod(data.shape[d] for d in dims)
    if data.dtype == out_dtype.np and (columns := _as_columns(data, dims)) is not None:  # mean(0): as sum(0)
        value = (column_sums(columns) / count).reshape(_reduced_shape(data.shape, dims, keepdim))
    elif data.dtype == out_dtype.np and (channels := sum_but_channels(data, dims)) is not None:  # x.mean((0, 2, 3))
        value = (channels / count).reshape(_reduced_shape(data.shape, dims, keepdim))
    else:
        with np.errstate(invalid="ignore", divide="ignore"):
            value = np.mean(data, axis=dims, keepdims=keepdim, dtype=_accumulator(out_dtype.np)) if count else \
                np.full(_reduced_shape(data.shape, dims, keepdim), np.nan, dtype=out_dtype.np)
    result = wrap(np.asarray(value, dtype=out_dtype.np))
    if needs_grad(input):
        node = (MeanBackward0 if dim is None else MeanBackward1)()
        node.dims, node.keepdim, node.shape, node.count = dims, keepdim, data.shape, count
        record(node, (input,), (result,))
    return result
register(mean, out="copy")


class ProdBackward1(Node):
    def backward(self, grad):
        # zero-safe: with one zero in a slice only it gets a gradient, with two none do
        (x,) = self.saved_tensors
        dims = self.dims
        is_zero = x == 0
        nonzero = x.masked_fill(is_zero, 1)
        prod_nonzero = _keep(nonzero.prod(dims[0]) if len(dims) == 1 else _prod_all(nonzero), dims, x.ndim)
        zeros_in_slice = _keep(is_zero.sum(dims[0]) if len(dims) == 1 else is_zero.sum(), dims, x.ndim)
        from ..elementwise.arithmetic import where
        partial = where(zeros_in_slice == 0, prod_nonzero / nonzero,
                        where((zeros_in_slice == 1) & is_zero, prod_nonzero, 0.0))
        if partial.is_complex():  # PyTorch's convention for complex: grad * conj(d prod / dx)
            partial = partial.conj()
        return (_expand_back(grad, dims, self.keepdim, self.shape) * partial,)


ProdBackward0 = type("ProdBackward0", (ProdBackward1,), {})


def _prod_all(t):
    return t.reshape(-1).prod(0)


def _keep(t, dims, ndim):
    """Reshape a reduced tensor so it broadcasts against the unreduced one."""
    if t.ndim == ndim:
        return t
    sizes = iter(t._data.shape)
    return t.reshape([1 if i in dims else next(sizes) for i in range(ndim)])


@float32_policy
def prod(input, dim=None, keepdim=False, *, dtype=None, out=None):
    check_keepdim_has_dim("prod", dim, keepdim, "*, torch.dtype dtype = None",
                          "int dim, bool keepdim = False, *, torch.dtype dtype = None, Tensor out = None")
    data = input._data
    out_dtype = _dtype.to_dtype(dtype) if dtype is not None else (
        _dtype.int64 if data.dtype.kind in "biu" else input.dtype)
    if dtype is not None:
        data = cast_for_integer_accumulation(data, out_dtype.np)
    if dim is None:
        dims = tuple(range(data.ndim))
    else:
        d = normalize_dim(dim, data.ndim)  # a 0-dim tensor accepts dim 0 and -1 only
        dims = (d,) if data.ndim else ()
    value = np.prod(data, axis=dims, keepdims=keepdim, dtype=out_dtype.np)
    result = wrap(np.asarray(value, dtype=out_dtype.np))
    if needs_grad(input):
        node = (ProdBackward0 if dim is None else ProdBackward1)()
        node.dims, node.keepdim, node.shape = dims, keepdim, data.shape
        record(node, (input,), (result,))
        node.save_for_backward(input)
    return result
register(prod, out="copy")


# -- max / min ------------------------------------------------------------------------------
class MaxBackward0(Node):
    """Full max/min/amax/amin: the gradient is shared evenly among tied extrema."""

    def backward(self, grad):
        x, result = self.saved_tensors
        dims = self.dims
        r = result if self.keepdim else _keep(result, dims, x.ndim)
        mask = (x == r)
        count = mask.sum(dims, keepdim=True) if dims else mask.to(x.dtype)
        return (_expand_back(grad, dims, self.keepdim, self.shape) * mask / count,)


class MaxBackward1(Node):
    """max/min along a dim: the gradient goes to the index that was returned."""

    def backward(self, grad, grad_indices=None):
        g = grad if self.keepdim or self.one_hot.ndim == 0 else grad.unsqueeze(self.dim)
        return (g * wrap(self.one_hot),)

    def _on_release(self):
        self.one_hot = None


def _check_not_empty(name, data, error=RuntimeError):
    """A reduction over every dim of an empty tensor has no value: PyTorch's error (IndexError for argmax)."""
    if data.size == 0:
        hint = "" if error is IndexError else " Specify the reduction dim with the 'dim' argument."
        raise error(f"{name}(): Expected reduction dim to be specified for input.numel() == 0.{hint}")


def _check_reduced_dims_not_empty(name, data, dims, shown):
    """IndexError naming the first reduced dim of size zero (as the caller wrote it: ``shown[i]``)."""
    for d, as_given in zip(dims, shown):
        if data.ndim and data.shape[d] == 0:
            raise IndexError(f"{name}(): Expected reduction dim {as_given} to have non-zero size.")


def _extremum(name, np_fn, arg_fn, input, dim, keepdim):
    data = input._data
    check_dtype_support(name + "_all" if dim is None else name, data.dtype)
    if dim is None:
        _check_not_empty(name, data)
        result = wrap(np.asarray(np_fn(data)))
        if needs_grad(input):
            node = type(f"{name.capitalize()}Backward1", (MaxBackward0,), {})()
            node.dims, node.keepdim, node.shape = tuple(range(data.ndim)), False, data.shape
            record(node, (input,), (result,))
            node.save_for_backward(input, result)
        return result
    d = normalize_dim(dim, data.ndim)
    _check_reduced_dims_not_empty(name, data, (d,), (d,))
    idx = arg_fn(data, axis=d, keepdims=True) if data.ndim else np.zeros((), np.int64)
    values = np.take_along_axis(data, idx, axis=d) if data.ndim else data.copy()
    if not keepdim and data.ndim:
        values, idx = values.squeeze(d), idx.squeeze(d)
    values_t, indices_t = wrap(np.array(values, order="C")), wrap(np.asarray(idx, dtype=np.int64))
    if needs_grad(input):
        node = type(f"{name.capitalize()}Backward0", (MaxBackward1,), {})()
        node.dim, node.keepdim = d, keepdim
        one_hot = np.zeros(data.shape, dtype=data.dtype)
        if data.ndim:
            np.put_along_axis(one_hot, idx if keepdim else np.expand_dims(idx, d), 1, axis=d)
        else:
            one_hot[()] = 1
        node.one_hot = one_hot
        record(node, (input,), (values_t,))
        indices_t._requires_grad = False
    return getattr(return_types, name)(values_t, indices_t)


def _nan_arg(np_arg, np_nanarg):
    # PyTorch propagates NaN: the index of the first NaN wins
    def arg(data, axis, keepdims):
        if data.dtype.kind == "f" and np.isnan(data).any():
            nan_idx = np.argmax(np.isnan(data), axis=axis, keepdims=keepdims)
            has_nan = np.isnan(data).any(axis=axis, keepdims=keepdims)
            return np.where(has_nan, nan_idx, np_arg(np.where(np.isnan(data), 0, data), axis=axis, keepdims=keepdims))
        return np_arg(data, axis=axis, keepdims=keepdims)
    return arg


_argmax_nan = _nan_arg(np.argmax, np.nanargmax)
_argmin_nan = _nan_arg(np.argmin, np.nanargmin)


def max(input, dim=None, keepdim=False, *, out=None):
    if dim is not None and hasattr(dim, "_data"):  # torch.max(a, b) is maximum
        from ..elementwise.arithmetic import maximum
        return maximum(input, dim)
    check_keepdim_has_dim("max", dim, keepdim, *_EXTREMUM_SIGNATURES)
    return _extremum("max", np.max, _argmax_nan, input, dim, keepdim)
register(max, out="copy")


def min(input, dim=None, keepdim=False, *, out=None):
    if dim is not None and hasattr(dim, "_data"):
        from ..elementwise.arithmetic import minimum
        return minimum(input, dim)
    check_keepdim_has_dim("min", dim, keepdim, *_EXTREMUM_SIGNATURES)
    return _extremum("min", np.min, _argmin_nan, input, dim, keepdim)
register(min, out="copy")


def _amax_like(name, np_fn):
    def op(input, dim=(), keepdim=False, *, out=None):
        data = input._data
        dim = _all_dims_if_empty(dim)
        dims = normalize_dims(dim, data.ndim)
        if dim is None:
            _check_not_empty(name, data)
        else:
            shown = (dim,) if isinstance(dim, int) else tuple(dim)
            order = [normalize_dim(int(d), data.ndim) for d in shown]
            _check_reduced_dims_not_empty(name, data, order, shown)
        value = np_fn(data, axis=dims, keepdims=keepdim) if data.ndim else data.copy()
        result = wrap(np.asarray(value, dtype=data.dtype))
        if needs_grad(input):
            node = type(f"{name.capitalize()}Backward0", (MaxBackward0,), {})()
            node.dims, node.keepdim, node.shape = dims, keepdim, data.shape
            record(node, (input,), (result,))
            node.save_for_backward(input, result)
        return result
    op.__name__ = name
    return op


amax = _amax_like("amax", np.max)
register(amax, "amax", out="copy")
amin = _amax_like("amin", np.min)
register(amin, "amin", out="copy")


def _arg_extremum(name, flat_arg, extremum, input, dim, keepdim):
    """argmax / argmin: over the flattened input, or the indices of max / min along ``dim``."""
    data = input._data
    check_dtype_support(name, data.dtype)
    if dim is None:
        _check_not_empty(name, data, IndexError)
        return wrap(np.asarray(flat_arg(data.reshape(-1), axis=0, keepdims=False), dtype=np.int64))
    _check_reduced_dims_not_empty(name, data, (normalize_dim(dim, data.ndim),), (normalize_dim(dim, data.ndim),))
    return extremum(input.detach(), dim, keepdim).indices


def argmax(input, dim=None, keepdim=False, *, out=None):
    return _arg_extremum("argmax", _argmax_nan, max, input, dim, keepdim)
register(argmax, out="copy")


def argmin(input, dim=None, keepdim=False, *, out=None):
    return _arg_extremum("argmin", _argmin_nan, min, input, dim, keepdim)
register(argmin, out="copy")


# -- var / std --------------------------------------------------------------------------------
def _correction(unbiased, correction):
    if correction is not None:
        return correction
    return 1 if unbiased is None or unbiased else 0


class VarBackward0(Node):
    def backward(self, grad):
        (x,) = self.saved_tensors
        centered = x - x.mean(self.dims, keepdim=True)
        # PyTorch's var_backward, in its order (each step rounds in float16/bfloat16)
        return ((2.0 / self.denominator) * _expand_back(grad, self.dims, self.keepdim, self.shape) * centered,)


class StdBackward0(Node):
    def backward(self, grad):
        x, result = self.saved_tensors
        centered = x - x.mean(self.dims, keepdim=True)
        r = result if self.keepdim else _keep(result, self.dims, x.ndim)
        g = _expand_back(grad, self.dims, self.keepdim, self.shape) / (r * 2)  # PyTorch's std_backward, var_backward
        return ((2.0 / self.denominator) * g * centered,)


def _var_std(node_cls, np_fn, input, dim, unbiased, keepdim, correction):
    if isinstance(dim, bool):  # var(x, unbiased) positional form
        dim, unbiased = None, dim
    data = input._data
    if not (input.dtype.is_floating_point or input.dtype.is_complex):
        raise RuntimeError(f"std and var only support floating point and complex dtypes")
    dims = normalize_dims(_all_dims_if_empty(dim), data.ndim)
    c = _correction(unbiased, correction)
    count = math.prod(data.shape[d] for d in dims)
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        if count - c <= 0:  # N - correction <= 0 gives nan (or inf), with PyTorch's warning instead of NumPy's
            user_warning(f"{np_fn.__name__}(): degrees of freedom is <= 0. Correction should be strictly less "
                           "than the reduction factor (input numel divided by output numel).")
            warnings.simplefilter("ignore", RuntimeWarning)
        value = np_fn(data, axis=dims, keepdims=keepdim, ddof=c, dtype=_accumulator(data.dtype))
    result = wrap(np.asarray(value, dtype=input.dtype.to_real().np))
    if needs_grad(input):
        node = node_cls()
        node.dims, node.keepdim, node.shape, node.denominator = dims, keepdim, data.shape, count - c
        record(node, (input,), (result,))
        node.save_for_backward(input, result) if node_cls is StdBackward0 else node.save_for_backward(input)
    return result


def var(input, dim=None, unbiased=None, keepdim=False, *, correction=None, out=None):
    return _var_std(VarBackward0, np.var, input, dim, unbiased, keepdim, correction)
register(var, out="copy")


def std(input, dim=None, unbiased=None, keepdim=False, *, correction=None, out=None):
    return _var_std(StdBackward0, np.std, input, dim, unbiased, keepdim, correction)
register(std, out="copy")


def _check_floating_or_complex(op, input):
    if not (input.dtype.is_floating_point or input.dtype.is_complex):
        raise RuntimeError(f"{op} only support floating point and complex dtypes")


def _mean_over(input, dim, keepdim):
    """var_mean/std_mean's mean: over all dims when dim is None or the positional `unbiased` bool."""
    if dim is None or isinstance(dim, bool):
        dim = tuple(range(input.ndim))
    return mean(input, dim, keepdim)


def var_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    _check_floating_or_complex("var_mean", input)
    return var(input, dim, unbiased, keepdim, correction=correction), _mean_over(input, dim, keepdim)
register(var_mean, method=False)


def std_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    _check_floating_or_complex("std_mean", input)
    return std(input, dim, unbiased, keepdim, correction=correction), _mean_over(input, dim, keepdim)
register(std_mean, method=False)


# -- logsumexp / norm -------------------------------------------------------------------------
class LogsumexpBackward0(Node):
    def backward(self, grad):
        x, result = self.saved_tensors
        r = result if self.keepdim else _keep(result, self.dims, x.ndim)
        return (_expand_back(grad, self.dims, self.keepdim, self.shape) * (x - r).exp(),)


def logsumexp(input, dim, keepdim=False, *, out=None):
    data = input._data
    if dim is not None and _all_dims_if_empty(dim) is None:
        dim = None
        # PyTorch 2.13 sizes its output for keepdim=True here, then refuses it (empty inputs take another path)
        if not keepdim and data.ndim and data.size:
            raise RuntimeError(f"output with shape [] doesn't match the broadcast shape {[1] * data.ndim}")
    if data.dtype.kind in "biu":
        data = data.astype(_dtype.get_default_dtype().np)
    dims = normalize_dims(dim, data.ndim)
    work = accumulation_array(data)  # float16/bfloat16 sum their exponentials in float32, as PyTorch
    rows = _as_rows(work, dims)
    if rows is not None and rows.shape[1] > 0:
        value = _redo_nan_rows(dispatch.reduce_rows("logsumexp_rows", rows, _np_logsumexp_rows), rows)
        value = value.reshape(_reduced_shape(data.shape, dims, keepdim))
    else:
        value = _np_logsumexp(work, dims, keepdim)
    result = wrap(np.asarray(value, dtype=data.dtype))
    if needs_grad(input):
        node = LogsumexpBackward0()
        node.dims, node.keepdim, node.shape = dims, keepdim, data.shape
        record(node, (input,), (result,))
        node.save_for_backward(input, result)
    return result
register(logsumexp, node_name="LogsumexpBackward0", out="copy")


def _np_logsumexp(data, dims, keepdim):
    if data.size == 0:
        return np.full(_reduced_shape(data.shape, dims, keepdim), -np.inf, dtype=data.dtype)
    m = np.max(data, axis=dims, keepdims=True)
    m = np.where(np.isfinite(m), m, 0)
    with np.errstate(divide="ignore"):
        out = np.log(np.sum(np.exp(data - m), axis=dims, keepdims=True)) + m
    return out if keepdim else out.squeeze(dims)


def _redo_nan_rows(value, rows):
    """Rows whose logsumexp came out NaN, redone on NumPy: the kernel's max + log(sum(exp(x - max))) is
    inf - inf for a row whose max is +-inf, where PyTorch gives inf (a +inf in the row) or -inf (all -inf)."""
    redo = np.isnan(value)
    if redo.any():
        value[redo] = _np_logsumexp_rows(rows[redo])
    return value


def _np_logsumexp_rows(rows):
    return _np_logsumexp(rows, (1,), False)


def norm(input, p="fro", dim=None, keepdim=False, out=None, dtype=None):
    """torch.norm as torch/functional.py routes it: numbers and 'fro' over at most 2 dims are
    linalg.vector_norm (its node: LinalgVectorNormBackward0), other strings ('nuc') linalg.matrix_norm."""
    if isinstance(p, str) and not (p == "fro" and (dim is None or isinstance(dim, int) or len(dim) <= 2)):
        dims = [dim] if isinstance(dim, int) else list(range(input._data.ndim)) if dim is None else dim
        return matrix_norm(input, p, dims, keepdim, dtype=dtype)
    return vector_norm(input, 2 if p is None or p == "fro" else p, dim, keepdim, dtype=dtype)
register(norm, out="copy")


def _logical_reduction(np_fn, input, dim, keepdim):
    dims = normalize_dims(dim, input._data.ndim) if dim is not None else None
    value = np.asarray(np_fn(input._data, axis=dims, keepdims=keepdim))
    # PyTorch keeps uint8 for uint8 inputs (the pre-bool convention), bool for every other dtype
    return wrap(value.astype(np.uint8) if input._data.dtype == np.uint8 else value)


def all(input, dim=None, keepdim=False, *, out=None):
    return _logical_reduction(np.all, input, dim, keepdim)
register(all, out="copy")


def any(input, dim=None, keepdim=False, *, out=None):
    return _logical_reduction(np.any, input, dim, keepdim)
register(any, out="copy")


def count_nonzero(input, dim=None):
    dim = _all_dims_if_empty(dim)
    dims = normalize_dims(dim, input._data.ndim) if dim is not None else None
    return wrap(np.asarray(np.count_nonzero(input._data, axis=dims), dtype=np.int64))
register(count_nonzero)


def _check_not_complex(input):
    if input.dtype.is_complex:
        raise RuntimeError("nansum on CPU does not support complex inputs")


def nansum(input, dim=None, keepdim=False, *, dtype=None, out=None):
    _check_not_complex(input)
    if input.dtype.is_floating_point:
        input = input.masked_fill(input.isnan(), 0)
        if input.dtype is _dtype.float16 and dtype is not None and _dtype.to_dtype(dtype).np.kind in "iu":
            input = input.clamp(-65504.0, 65504.0)  # PyTorch's float16 nansum into an integer turns inf into +-max
    return input.sum(dim, keepdim, dtype=dtype) if dim is not None else input.sum(dtype=dtype)
register(nansum, out="copy")


def nanmean(input, dim=None, keepdim=False, *, dtype=None, out=None):
    # PyTorch's order: the input's dtype, then dtype=, then the dims, then nansum's complex refusal
    if not (input.dtype.is_floating_point or input.dtype.is_complex):
        raise RuntimeError(f"nanmean(): expected input to have floating point or complex dtype but got "
                           f"{dtype_name(input.dtype)}")
    check_mean_dtype("nanmean", input, dtype)
    if dim is not None:
        normalize_dims(dim, input.ndim)
    _check_not_complex(input)
    counts = input.isnan().logical_not().sum(dim, keepdim) if dim is not None else input.isnan().logical_not().sum()
    return nansum(input, dim, keepdim, dtype=dtype) / counts
register(nanmean, out="copy")

