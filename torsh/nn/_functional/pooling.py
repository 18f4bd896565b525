"""Max/avg/adaptive/LP/fractional pooling and max_unpool.

Max pooling finds each window's argmax on a strided NumPy view and gathers (torsh._ops.nn.pool);
average pooling (1-D and 2-D) is the conv family's window-mean kernel (torsh._ops.nn.pool.avg_pool2d_window,
scaled by 1/PyTorch's divisor per output position); avg_pool3d a depthwise convolution with a ones kernel
divided by that divisor;
adaptive average pooling is one constant averaging matrix per spatial dim.
"""
import math

import numpy as np

from ..._array_api import array, dtype_of
from ... import _dtype, _random
from ..._autocast import float32_policy
from ..._ops.nn import conv as nn_conv, pool as nn_pool
from ..._ops._helpers import dtype_name
from ..._tensor import wrap
from ._utils import const, ntuple, require_float_kernel

__all__ = ["max_pool1d", "max_pool2d", "max_pool3d", "max_pool1d_with_indices", "max_pool2d_with_indices",
           "max_pool3d_with_indices", "avg_pool1d", "avg_pool2d", "avg_pool3d", "adaptive_avg_pool1d",
           "adaptive_avg_pool2d", "adaptive_avg_pool3d", "adaptive_max_pool1d", "adaptive_max_pool2d",
           "adaptive_max_pool3d", "adaptive_max_pool1d_with_indices", "adaptive_max_pool2d_with_indices",
           "adaptive_max_pool3d_with_indices", "lp_pool1d", "lp_pool2d", "lp_pool3d", "max_unpool1d",
           "max_unpool2d", "max_unpool3d", "fractional_max_pool2d", "fractional_max_pool2d_with_indices",
           "fractional_max_pool3d", "fractional_max_pool3d_with_indices"]


def _batched(name, input, nd):
    if input.ndim == nd + 1:
        return input.unsqueeze(0), True
    if input.ndim != nd + 2:
        dims = f"{nd + 1}D or {nd + 2}D"
        raise RuntimeError(f"{name}: Expected {dims} (batch mode) tensor for input with possibly 0 batch size and "
                           f"non-zero dimensions for input, but got: {list(input.shape)}"
                           if False else f"non-empty {dims} (batch mode) tensor expected for input")
    return input, False


def _size_str(shape):
    return "x".join(str(s) for s in shape)


def _half_toward_zero(v):
    """v / 2 as C++ integer division (toward zero), the way PyTorch's pad check computes it."""
    return int(v / 2) if v < 0 else v // 2


# how PyTorch words an argument of the wrong length, per op and argument ({n}: two / three)
_EITHER = "must either be a single int, or a tuple of {n} ints"
_OMITTED = "must either be omitted, a single int, or a tuple of {n} ints"
_MAX_WORDS = {"kernel_size": _EITHER, "stride": _OMITTED, "padding": _EITHER,
              "dilation": "must be either a single int, or a tuple of {n} ints"}
_LENGTH_WORDS = {"max_pool2d": _MAX_WORDS, "max_pool3d": _MAX_WORDS,
                 "avg_pool2d": {"kernel_size": _EITHER, "stride": _OMITTED, "padding": _EITHER},
                 "avg_pool3d": {"kernel_size": "must be a single int, or a tuple of {n} ints",
                                "stride": "must be omitted, a single int, or a tuple of {n} ints",
                                "padding": "must be a single int, or a tuple of {n} ints"}}
# max_pool1d without indices (PyTorch's check_max_pool1d): "max_pool1d() <argument> <words> but got size <n>"
_MAX_POOL1D_WORDS = {"kernel_size": "must be an int, list of ints or tuple of ints of size 1",
                     "stride": "must be None, an int, list of ints, or tuple of ints of size 1",
                     "padding": "must be an int, list of ints, or tuple of ints of size 1",
                     "dilation": "must be an int, list of ints or tuple of ints of size 1"}


def _length_error(name, nd, what, length, with_indices):
    if nd > 1:
        return RuntimeError(f"{name}: {what} {_LENGTH_WORDS[name][what].format(n=_WORDS[nd])}")
    if with_indices:  # max_pool1d_with_indices' check1d
        return RuntimeError(f"{name}() argument '{what}' should contain one int (got {length})")
    return RuntimeError(f"{name}() {what} {_MAX_POOL1D_WORDS[what]} but got size {length}")


def _pool_params(name, nd, kernel_size, stride, padding, dilation=1, with_indices=True):
    """(kernel, stride, padding, dilation) tuples of ``nd`` ints; stride None or empty means the kernel.

    PyTorch's lengths check: one value, or one per spatial dim."""
    values = []
    for what, v in (("kernel_size", kernel_size), ("stride", stride), ("padding", padding), ("dilation", dilation)):
        if what == "stride" and (v is None or (isinstance(v, (list, tuple)) and len(v) == 0)):
            values.append(values[0])
            continue
        if isinstance(v, (list, tuple)) and len(v) not in (1, nd):
            raise _length_error(name, nd, what, len(v), with_indices)
        values.append(ntuple(v, nd))
    return tuple(values)


_DIM_LETTERS = {2: "HW", 3: "THW"}
_WORDS = {2: "two", 3: "three"}


def _labelled(prefix, values, nd):
    return " ".join(f"{prefix}{c}: {v}" for c, v in zip(_DIM_LETTERS[nd], values))


def _check_pool(input, kernel, stride, padding, dilation, ceil_mode, shown_shape=None, fn_name="", avg3d=False):
    """PyTorch's pooling_output_shape and pool2d/pool3d_shape_check, in its order and words; the
    output sizes. ``input`` is batched (N, C, *sp), nd = 2 or 3 (1-d pooling comes as 2-d);
    ``shown_shape``: the input's shape as PyTorch's messages print it."""
    shown_shape = list(input.shape if shown_shape is None else shown_shape)
    nd = len(kernel)
    outs = []
    for L, k, s, p, d in zip(input.shape[2:], kernel, stride, padding, dilation):
        if s == 0:
            raise RuntimeError("stride should not be zero")
        if p < 0:
            raise RuntimeError(f"pad must be non-negative, but got pad: {p}")
        if p > _half_toward_zero((k - 1) * d + 1):
            raise RuntimeError(f"pad should be at most half of effective kernel size, but got pad={p}, "
                               f"kernel_size={k} and dilation={d}")
        outs.append(nn_pool.pool_out_size(L, k, s, p, d, ceil_mode))
    if any(k <= 0 for k in kernel):
        raise RuntimeError(f"kernel size should be greater than zero, but got {_labelled('k', kernel, nd)}")
    if any(s <= 0 for s in stride):
        raise RuntimeError(f"stride should be greater than zero, but got {_labelled('d', stride, nd)}")
    if any(d <= 0 for d in dilation):
        raise RuntimeError(f"dilation should be greater than zero, but got {_labelled('dilation', dilation, nd)}")
    if nd == 2 and (0 in input.shape[1:] or len(shown_shape) not in (3, 4)):
        raise RuntimeError("Expected 3D or 4D (batch mode) tensor with optional 0 dim batch size for input, but "
                           f"got:{shown_shape}")
    if nd == 3 and 0 in input.shape[1:]:
        raise RuntimeError(f"{fn_name}: Expected input's non-batch dimensions to have positive length, but input has "
                           f"a shape of {shown_shape} and non-batch dimension 0 has length zero!")
    if avg3d and any(L < k for L, k in zip(input.shape[2:], kernel)):
        t, h, w = input.shape[2:]
        raise RuntimeError(f"input image (T: {t} H: {h} W: {w}) smaller than kernel size (kT: {kernel[0]} kH: "
                           f"{kernel[1]} kW: {kernel[2]})")
    if any(o < 1 for o in outs):
        raise RuntimeError(f"Given input size: ({_size_str(input.shape[1:])}). Calculated output size: "
                           f"({_size_str([input.shape[1]] + outs)}). Output size is too small")
    return outs


def _check_max_pool1d(input, kernel, stride, padding, dilation, ceil_mode):
    """PyTorch's max_pool1d (no indices) runs its own checks, in its own words."""
    # only a batch dimension (the first of three) may be empty
    if input.ndim not in (2, 3) or 0 in input.shape[input.ndim - 2:]:
        raise RuntimeError("max_pool1d: Expected 2D or 3D (batch mode) tensor with optional 0 dim batch size for "
                           f"input, but got:{list(input.shape)}")
    (k,), (s,), (p,), (d,) = kernel, stride, padding, dilation
    if k <= 0:
        raise RuntimeError(f"max_pool1d() kernel_size must be greater than zero, but got {k}")
    if s <= 0:
        raise RuntimeError(f"max_pool1d() stride must be greater than zero, but got {s}")
    if p < 0:
        raise RuntimeError(f"max_pool1d() padding must be non-negative, but got {p}")
    if p > k // 2:
        raise RuntimeError(f"max_pool1d() padding should be at most half of kernel size, but got padding={p} and "
                           f"kernel_size={k}")
    if d <= 0:
        raise RuntimeError(f"max_pool1d() dilation must be greater than zero, but got {d}")
    out = nn_pool.pool_out_size(input.shape[-1], k, s, p, d, ceil_mode)
    if out <= 0:
        raise RuntimeError(f"max_pool1d() Invalid computed output size: {out}")


def _check_1d_rank(name, input):
    if input.ndim not in (2, 3):
        raise RuntimeError(f"Expected 2 to 3 dimensions, but got {input.ndim}-dimensional tensor for argument #1 "
                           f"'self' (while checking arguments for {name})")


def _as_2d(x, kernel, stride, padding, dilation):
    """1-d pooling as PyTorch runs it: 2-d pooling of the (N, C, 1, L) view."""
    return x.unsqueeze(-2), (1,) + kernel, (1,) + stride, (0,) + padding, (1,) + dilation


_NODE = {1: "MaxPool1DWithIndicesBackward0", 2: "MaxPool2DWithIndicesBackward0", 3: "MaxPool3DWithIndicesBackward0"}


def _check_max_dtype(kernel, input, kinds):
    """PyTorch's dispatch error for a dtype its max-pooling kernel lacks (after the geometry checks, as there);
    ``kinds``: the NumPy dtype kinds refused (b bool, c complex, iu integers)."""
    if dtype_of(input).kind in kinds:
        raise NotImplementedError(f'"{kernel}" not implemented for \'{dtype_name(input.dtype)}\'')


def _max_pool(nd, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices):
    name = f"max_pool{nd}d"
    kernel, stride, padding, dilation = _pool_params(name, nd, kernel_size, stride, padding, dilation,
                                                      return_indices)
    if nd == 1:
        if return_indices:
            _check_1d_rank(name, input)
        else:
            _check_max_pool1d(input, kernel, stride, padding, dilation, ceil_mode)
    x, unbatched = _batched(name, input, nd)
    shown = tuple(input.shape)
    if nd == 1:
        x, kernel, stride, padding, dilation = _as_2d(x, kernel, stride, padding, dilation)
        shown = shown[:-1] + (1,) + shown[-1:]
    _check_pool(x, kernel, stride, padding, dilation, ceil_mode, shown, f"{name}_with_indices()")
    if nd == 1 and not return_indices:  # PyTorch's max_pool1d without indices has a kernel of its own
        _check_max_dtype("max_pool1d_impl", input, "bciu")
    else:
        _check_max_dtype("max_pool2d" if nd == 1 else name, input, "bc")
    data = array(x)
    # float32: maxima and indices in one kernel pass, the node made around them (no second gather)
    fused = nn_pool.max_pool2d_direct(data, kernel, stride, padding, dilation, ceil_mode)
    if fused is not None:
        values, idx = fused
        out = nn_pool.take_spatial(x, idx, _NODE[nd], values=values)
    else:
        if data.dtype.name == "bfloat16":  # NumPy compares bfloat16 through float32: the same maxima and indices
            data = data.astype(np.float32)
        idx = nn_pool.max_pool_indices(data, kernel, stride, padding, dilation, ceil_mode)
        out = nn_pool.take_spatial(x, idx, _NODE[nd])
    if nd == 1:
        out, idx = out.squeeze(-2), idx[..., 0, :]
    if unbatched:
        out, idx = out.squeeze(0), idx[0]
    if return_indices:
        return out, wrap(idx)
    return out


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    return _max_pool(1, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    return _max_pool(2, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


@float32_policy
def max_pool3d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    return _max_pool(3, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def max_pool1d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                            return_indices=True):
    return _max_pool(1, input, kernel_size, stride, padding, dilation, ceil_mode, True)


def max_pool2d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                            return_indices=True):
    return _max_pool(2, input, kernel_size, stride, padding, dilation, ceil_mode, True)


def max_pool3d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                            return_indices=True):
    return _max_pool(3, input, kernel_size, stride, padding, dilation, ceil_mode, True)


def _avg_divisor_1d(L, k, s, p, out, count_include_pad):
    start = np.arange(out) * s - p
    end = np.minimum(start + k, L + p)
    pool = end - start
    if count_include_pad:
        return pool
    return np.minimum(end, L) - np.maximum(start, 0)


# the dtypes PyTorch's CPU average-pooling kernels are compiled for, and the kernel name its error names
_FLOATS = frozenset({"float16", "bfloat16", "float32", "float64"})
_AVG_KERNEL_DTYPES = {2: ("avg_pool2d", _FLOATS | {"int64"}),
                      3: ("avg_pool3d_out_frame", {"float32", "float64", "int64"})}


def _require_dtype(kernel, allowed, input):
    """PyTorch's dispatch error when ``kernel`` has no variant for the input's dtype (names in ``allowed``)."""
    if input.dtype.name not in allowed:
        raise NotImplementedError(f'"{kernel}" not implemented for \'{dtype_name(input.dtype)}\'')


def _size_at(input, dim):
    """``input.size(dim)`` as PyTorch's C++ reads it: an IndexError worded as its dim wrapping."""
    if input.ndim == 0:
        raise IndexError(f"Dimension specified as {dim} but tensor has no dimensions")
    if not -input.ndim <= dim < input.ndim:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-input.ndim}, {input.ndim - 1}], "
                         f"but got {dim})")
    return input.shape[dim]


def _one_int(name, what, value):
    """PyTorch's check1d of a 1-d op's int[1] argument (an int counts as one)."""
    values = tuple(value) if isinstance(value, (list, tuple)) else (value,)
    if len(values) != 1:
        raise RuntimeError(f"{name}() argument '{what}' should contain one int (got {len(values)})")
    return int(values[0])


def _check_avg_params(nd, input, kernel_size, stride, padding, divisor_override):
    """PyTorch's avg_pool2d/3d meta checks before the geometry: argument lengths, the input's rank (3-d) or its
    last three sizes (2-d: an IndexError below 3 dims), a zero divisor; (kernel, stride, padding) tuples."""
    kernel, stride, padding, _ = _pool_params(f"avg_pool{nd}d", nd, kernel_size, stride, padding)
    if nd == 3 and input.ndim not in (4, 5):
        raise RuntimeError("non-empty 4D or 5D (batch mode) tensor expected for input")
    if divisor_override is not None and divisor_override == 0:
        raise RuntimeError("divisor must be not zero")
    if nd == 2:
        for dim in (-3, -2, -1):
            _size_at(input, dim)
    return kernel, stride, padding


def _avg_pool(nd, input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override):
    """avg_pool2d / avg_pool3d (avg_pool1d runs avg_pool2d, as in PyTorch), checks in PyTorch's order."""
    name = f"avg_pool{nd}d"
    kernel, stride, padding = _check_avg_params(nd, input, kernel_size, stride, padding, divisor_override)
    if nd == 2 and input.ndim > 4:  # PyTorch checks the last dims' geometry first, then rejects the rank
        _check_pool(input.reshape((-1,) + tuple(input.shape[-3:])), kernel, stride, padding, (1, 1), ceil_mode,
                    input.shape)
    x, unbatched = _batched(name, input, nd)
    outs = _check_pool(x, kernel, stride, padding, (1,) * nd, ceil_mode, input.shape, f"{name}()", nd == 3)
    _require_dtype(*_AVG_KERNEL_DTYPES[nd], input)
    sp = tuple(x.shape[2:])
    if divisor_override:
        div = np.full(tuple(outs), float(divisor_override))
    else:
        div = np.ones(())
        for L, k, s, p, o in zip(sp, kernel, stride, padding, outs):
            div = np.multiply.outer(div, _avg_divisor_1d(L, k, s, p, o, count_include_pad))
    if not x.dtype.is_floating_point:  # int64: PyTorch sums in the input dtype and divides truncating toward zero
        out = wrap(_truncating_div(_window_sums(array(x), kernel, stride, padding, outs), div))
    elif nd == 3:
        out = _avg_pool_conv(x, kernel, stride, padding, outs, div)
    else:
        geom = sp + tuple(outs) + kernel + stride + padding
        out = nn_pool.avg_pool2d_window(x, (1.0 / div).reshape(-1).astype(dtype_of(x)), geom)
    return out.squeeze(0) if unbatched else out


def _window_sums(data, kernel, stride, padding, outs):
    """Each zero-padded window's sum of the (N, C, *sp) integer array ``data``, in its dtype: (N, C, *outs)."""
    his = [max((o - 1) * s + k - L - p, 0) for o, s, k, L, p in zip(outs, stride, kernel, data.shape[2:], padding)]
    padded = np.pad(data, ((0, 0), (0, 0)) + tuple(zip(padding, his)))
    sums = np.zeros(data.shape[:2] + tuple(outs), dtype=data.dtype)
    for offset in np.ndindex(*kernel):
        sums += padded[(Ellipsis,) + tuple(slice(k, k + (o - 1) * s + 1, s) for k, o, s in zip(offset, outs, stride))]
    return sums


def _truncating_div(summed, div):
    """C++ integer division (toward zero) of ``summed`` by the divisors ``div``, in summed's dtype."""
    d = np.broadcast_to(div.astype(summed.dtype), summed.shape)
    return (np.sign(summed) * np.sign(d) * (np.abs(summed) // np.abs(d))).astype(summed.dtype)


def _avg_pool_conv(x, kernel, stride, padding, outs, div):
    """avg_pool3d of a float (N, C, *sp) input (and 1-D/2-D before their kernels; benchmarks/kernels_bench.py times
    it as the old path): a depthwise convolution of each plane with a ones kernel, divided by ``div``."""
    n, c = x.shape[:2]
    sp = tuple(x.shape[2:])
    his = [max((o - 1) * s + k - L - p, 0) for o, s, k, L, p in zip(outs, stride, kernel, sp, padding)]
    ones = const(np.ones((1, 1) + kernel), x)
    pads = tuple((p, h) for p, h in zip(padding, his))
    summed = nn_conv.convolution(x.reshape((n * c, 1) + sp), ones, None, stride, pads, (1,) * len(sp), 1)
    summed = summed[(slice(None), slice(None)) + tuple(slice(0, o) for o in outs)]
    return (summed / const(div, x)).reshape((n, c) + tuple(outs))


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    # PyTorch's avg_pool1d: its own rank and argument checks, then avg_pool2d of the (..., 1, L) view
    _check_1d_rank("avg_pool1d", input)
    if stride is None or (isinstance(stride, (list, tuple)) and len(stride) == 0):
        stride = kernel_size
    kernel, stride, padding = (_one_int("avg_pool1d", what, v) for what, v in
                               (("kernel_size", kernel_size), ("stride", stride), ("padding", padding)))
    out = _avg_pool(2, input.unsqueeze(-2), (1, kernel), (1, stride), (0, padding), ceil_mode, count_include_pad,
                    None)
    return out.squeeze(-2)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    return _avg_pool(2, input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override)


@float32_policy
def avg_pool3d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    return _avg_pool(3, input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override)


def _adaptive_bounds(L, out):
    i = np.arange(out)
    return (i * L) // out, -((-(i + 1) * L) // out)


def _list_with_default(output_size, input):
    """PyTorch's Python side of the 2-d/3-d adaptive pools: a sequence's None entries take the input's sizes."""
    if not isinstance(output_size, (list, tuple)):
        return output_size
    if input.ndim <= len(output_size):
        raise ValueError(f"Input dimension should be at least {len(output_size) + 1}")
    return [d if v is None else v for v, d in zip(output_size, input.shape[-len(output_size):])]


def _output_ints(output_size, nd):
    """The output size as PyTorch's argument parser passes it on: an int repeated ``nd`` times, or the list's ints."""
    if isinstance(output_size, (list, tuple)):
        return tuple(int(v) for v in output_size)
    return (int(output_size),) * nd


def _check_non_empty(name, input, dims):
    for dim in dims:
        if input.shape[dim] == 0:
            raise RuntimeError(f"{name}(): Expected input to have non-zero size for non-batch dimensions, but input "
                               f"has sizes {list(input.shape)} with dimension {dim % input.ndim} being empty")


def _check_adaptive_avg(nd, input, outs):
    """PyTorch's adaptive_avg_pool2d/3d checks of the output size (before its 1x1 mean shortcut)."""
    name = f"adaptive_avg_pool{nd}d"
    if len(outs) != nd:
        raise RuntimeError(f"{name}: output_size must be {nd}")
    if any(o < 0 for o in outs):
        received = ", ".join(map(str, outs[:2])) + "".join(f",{o}" for o in outs[2:])
        raise RuntimeError(f"{name}: elements of output_size must be greater than or equal to 0 but received "
                           f"{{{received}}}")


def _check_adaptive_avg_input(nd, input, outs):
    """The input checks of PyTorch's adaptive_avg_pool2d/3d kernels: rank, empty pooled dims (2-d: only the last
    two may not be empty, 3-d: all but the first; the 3-d kernel looks before the rank), dtype (the 2-d kernel
    returns an empty output before its dispatch)."""
    name = f"adaptive_avg_pool{nd}d"
    if nd == 3:
        _check_non_empty(name, input, range(1, input.ndim))
    if input.ndim not in (nd + 1, nd + 2):
        raise RuntimeError(f"{name}(): Expected {nd + 1}D or {nd + 2}D tensor, but got {list(input.shape)}")
    if nd == 2:
        _check_non_empty(name, input, (-2, -1))
    if nd == 3 or math.prod(input.shape[:-2]) * math.prod(outs):
        _require_dtype("adaptive_avg_pool3d_cpu" if nd == 3 else name, _FLOATS, input)


def _adaptive_avg(nd, input, output_size):
    """adaptive_avg_pool2d / 3d (adaptive_avg_pool1d runs the 2-d one, as in PyTorch)."""
    outs = _output_ints(_list_with_default(output_size, input), nd)
    _check_adaptive_avg(nd, input, outs)
    if all(o == 1 for o in outs):
        # PyTorch's shortcut for a 1x1(x1) output: the mean over the spatial dims (node MeanBackward1, its
        # dtype errors, no empty-dim check). A ResNet's global pool: one reduction instead of a matmul with movedim
        # copies per dim
        return input.mean(tuple(range(-1, -nd - 1, -1)), keepdim=True)
    _check_adaptive_avg_input(nd, input, outs)
    out = input
    for i, o in enumerate(outs):
        dim = input.ndim - nd + i
        L = input.shape[dim]
        start, end = _adaptive_bounds(L, o)
        mat = np.zeros((L, o))
        for j in range(o):  # o is small: one row per output position, each averaging a window
            mat[start[j]:end[j], j] = 1.0 / (end[j] - start[j])
        out = out.movedim(dim, -1).matmul(const(mat, input)).movedim(-1, dim)
    return out


def adaptive_avg_pool1d(input, output_size):
    # PyTorch's adaptive_avg_pool1d: its rank and argument checks, then adaptive_avg_pool2d of the (..., 1, L) view
    _check_1d_rank("adaptive_avg_pool1d", input)
    size = _one_int("adaptive_avg_pool1d", "output_size", output_size)
    return _adaptive_avg(2, input.unsqueeze(-2), (1, size)).squeeze(-2)


def adaptive_avg_pool2d(input, output_size):
    return _adaptive_avg(2, input, output_size)


@float32_policy
def adaptive_avg_pool3d(input, output_size):
    return _adaptive_avg(3, input, output_size)


def _check_adaptive_max(nd, input, outs):
    """PyTorch's adaptive_max_pool2d/3d checks in its order: rank, empty non-batch dims (dim 0 may be empty, even
    unbatched), the output size's length, a negative output size (at the output's allocation), dtype."""
    name = f"adaptive_max_pool{nd}d"
    if input.ndim not in (nd + 1, nd + 2):
        raise RuntimeError(f"{name}(): Expected {nd + 1}D or {nd + 2}D tensor, but got: {list(input.shape)}")
    _check_non_empty(name, input, range(1, input.ndim))
    if len(outs) != nd:
        raise RuntimeError(f"{name}(): internal error: output_size.size() must be {nd}")
    if any(o < 0 for o in outs):
        neg = next(o for o in outs if o < 0)
        raise RuntimeError(f"Trying to create tensor with negative dimension {neg}: "
                           f"{list(input.shape[:-nd]) + list(outs)}")
    _check_max_dtype("adaptive_max_pool3d_cpu" if nd == 3 else name, input, "bciu")


def _adaptive_max(nd, input, output_size, return_indices):
    """adaptive_max_pool2d / 3d (adaptive_max_pool1d runs the 2-d one, as in PyTorch)."""
    outs = _output_ints(_list_with_default(output_size, input), nd)
    _check_adaptive_max(nd, input, outs)
    x, unbatched = _batched(f"adaptive_max_pool{nd}d", input, nd)
    sp = tuple(x.shape[2:])
    data = array(x)
    bounds = [_adaptive_bounds(L, o) for L, o in zip(sp, outs)]
    idx = np.zeros(x.shape[:2] + outs, dtype=np.int64)
    for pos in np.ndindex(*outs) if data.size else ():  # one vectorised argmax per output position (sizes are small)
        sl = tuple(slice(b[0][p], b[1][p]) for b, p in zip(bounds, pos))
        region = data[(slice(None), slice(None)) + sl]
        local = np.argmax(region.reshape(region.shape[:2] + (-1,)), axis=-1)
        coords = np.unravel_index(local, region.shape[2:])
        flat = np.zeros(local.shape, dtype=np.int64)
        for d in range(nd):
            flat = flat * sp[d] + coords[d] + bounds[d][0][pos[d]]
        idx[(slice(None), slice(None)) + pos] = flat
    out = nn_pool.take_spatial(x, idx, f"AdaptiveMaxPool{nd}DBackward0")
    if unbatched:
        out, idx = out.squeeze(0), idx[0]
    return (out, wrap(idx)) if return_indices else out


def _adaptive_max_1d(input, output_size, return_indices):
    # PyTorch's adaptive_max_pool1d: its own checks, then adaptive_max_pool2d of the (..., 1, L) view
    name = "adaptive_max_pool1d"
    _check_1d_rank(name, input)
    size = _one_int(name, "output_size", output_size)
    _check_non_empty(name, input, range(1, input.ndim))
    out, indices = _adaptive_max(2, input.unsqueeze(-2), (1, size), True)
    out, indices = out.squeeze(-2), indices.squeeze(-2)
    return (out, indices) if return_indices else out


def adaptive_max_pool1d(input, output_size, return_indices=False):
    return _adaptive_max_1d(input, output_size, return_indices)


def adaptive_max_pool2d(input, output_size, return_indices=False):
    return _adaptive_max(2, input, output_size, return_indices)


@float32_policy
def adaptive_max_pool3d(input, output_size, return_indices=False):
    return _adaptive_max(3, input, output_size, return_indices)


def adaptive_max_pool1d_with_indices(input, output_size, return_indices=True):
    return _adaptive_max_1d(input, output_size, True)


def adaptive_max_pool2d_with_indices(input, output_size, return_indices=True):
    return _adaptive_max(2, input, output_size, True)


def adaptive_max_pool3d_with_indices(input, output_size, return_indices=True):
    return _adaptive_max(3, input, output_size, True)


def _lp_pool(nd, input, norm_type, kernel_size, stride, ceil_mode):
    # PyTorch's lp_pool: the average pooling of input ** p (its checks and dtype errors), scaled back to a sum
    average_pool = (avg_pool1d, avg_pool2d, avg_pool3d)[nd - 1]
    avg = average_pool(input.pow(norm_type), kernel_size, stride, 0, ceil_mode)
    return (avg.sign() * avg.abs().relu()).mul(math.prod(ntuple(kernel_size, nd))).pow(1.0 / norm_type)


def lp_pool1d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    return _lp_pool(1, input, norm_type, kernel_size, stride, ceil_mode)


def lp_pool2d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    return _lp_pool(2, input, norm_type, kernel_size, stride, ceil_mode)


def lp_pool3d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    return _lp_pool(3, input, norm_type, kernel_size, stride, ceil_mode)


def _check_unpool(nd, input, indices):
    """PyTorch's max_unpool checks: its Python reads input.size()[-nd] first, then the max_unpooling2d/3d kernel
    (max_unpool1d runs max_unpool2d on a trailing unit dim) checks indices' dtype and shape, input's rank and
    spatial sizes, and dispatches on floating dtypes."""
    if input.ndim < nd:
        raise IndexError("tuple index out of range")
    kernel_nd = 3 if nd == 3 else 2
    unit = [1] if nd == 1 else []
    x_shape, i_shape = list(input.shape) + unit, list(indices.shape) + unit
    if indices.dtype is not _dtype.int64:
        raise RuntimeError("elements in indices should be type int64" +
                           ("" if nd == 3 else f" but got: {dtype_name(indices.dtype)}"))
    if len(x_shape) not in (kernel_nd + 1, kernel_nd + 2):
        raise RuntimeError(f"Input to max_unpooling{kernel_nd}d should be a {kernel_nd + 1}d or {kernel_nd + 2}d "
                           f"Tensor, but got a tensor with {len(x_shape)} dimensions.")
    if x_shape != i_shape:
        raise RuntimeError(f"Expected shape of indices to be same as that of the input tensor ({x_shape}) but got "
                           f"indices tensor with shape: {i_shape}")
    require_float_kernel(f"max_unpool{kernel_nd}d", input.dtype)


def _max_unpool(nd, input, indices, kernel_size, stride, padding, output_size):
    _check_unpool(nd, input, indices)
    x, unbatched = _batched(f"max_unpool{nd}d", input, nd)
    idx = array(indices) if not unbatched else array(indices)[None]
    kernel = ntuple(kernel_size, nd)
    stride = kernel if stride is None else ntuple(stride, nd)
    padding = ntuple(padding, nd)
    default = [(i - 1) * s - 2 * p + k for i, s, p, k in zip(x.shape[2:], stride, padding, kernel)]
    if output_size is None:
        out_sp = tuple(default)
    else:
        out_sp = tuple(output_size)[-nd:]
    size = int(np.prod(out_sp))
    if idx.size and (idx.min() < 0 or idx.max() >= size):
        raise RuntimeError(f"Found an invalid max index: {int(idx.max())} (output volumes are of size "
                           f"{'x'.join(map(str, out_sp))}")
    out = nn_pool.scatter_spatial(x, idx.astype(np.int64), out_sp, f"MaxUnpool{nd}DBackward0")
    return out.squeeze(0) if unbatched else out


def max_unpool1d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    return _max_unpool(1, input, indices, kernel_size, stride, padding, output_size)


@float32_policy
def max_unpool2d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    return _max_unpool(2, input, indices, kernel_size, stride, padding, output_size)


@float32_policy
def max_unpool3d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    return _max_unpool(3, input, indices, kernel_size, stride, padding, output_size)


def _fractional_starts(L, k, out, u):
    """PyTorch's pseudo-random window starts for one dim; ``u`` holds a sample in [0, 1) per plane."""
    if out == 1:
        return np.full(u.shape + (1,), L - k, dtype=np.int64)
    alpha = (L - k) / (out - 1)
    i = np.arange(out - 1)
    seq = ((i + u[..., None]) * alpha).astype(np.int64) - (u[..., None] * alpha).astype(np.int64)
    return np.concatenate([seq, np.full(u.shape + (1,), L - k, dtype=np.int64)], axis=-1)


def _sample_index(d, nd):
    # PyTorch's 2-d samples are (w, h); its 3-d samples are (t, h, w)
    return nd - 1 - d if nd == 2 else d


def _fractional(nd, input, kernel_size, output_size, output_ratio, return_indices, _random_samples):
    x, unbatched = _batched(f"fractional_max_pool{nd}d", input, nd)
    kernel = ntuple(kernel_size, nd)
    sp = tuple(x.shape[2:])
    if output_size is None:
        if output_ratio is None:
            raise ValueError("fractional_max_pool2d requires specifying either an output_size or an output_ratio")
        ratio = (output_ratio,) * nd if not isinstance(output_ratio, (list, tuple)) else output_ratio
        output_size = [int(L * r) for L, r in zip(sp, ratio)]
    outs = ntuple(output_size, nd)
    n, c = x.shape[:2]
    if _random_samples is None:
        samples = _random.uniform((n, c, nd), dtype_of(x))  # PyTorch's torch.rand(n, c, nd, dtype=input.dtype)
    else:
        samples = array(_random_samples).reshape(n, c, nd)
    data = array(x)
    # windows gathered with broadcast index arrays: (N, C, o1, k1, o2, k2, ...)
    index = [np.arange(n).reshape((n,) + (1,) * (2 * nd + 1)), np.arange(c).reshape((1, c) + (1,) * (2 * nd))]
    for d in range(nd):
        starts = _fractional_starts(sp[d], kernel[d], outs[d], samples[:, :, _sample_index(d, nd)])
        pos = starts[..., None] + np.arange(kernel[d])  # (N, C, o, k)
        shape = [n, c] + [1] * (2 * nd)
        shape[2 + 2 * d], shape[3 + 2 * d] = outs[d], kernel[d]
        index.append(pos.reshape(n, c, *([1] * (2 * d)), outs[d], kernel[d], *([1] * (2 * (nd - d - 1)))))
    win = data[tuple(index)]
    order = [0, 1] + [2 + 2 * d for d in range(nd)] + [3 + 2 * d for d in range(nd)]
    win = win.transpose(order)
    local = np.argmax(win.reshape(win.shape[:2 + nd] + (-1,)), axis=-1)
    k_pos = np.unravel_index(local, kernel)
    flat = np.zeros(local.shape, dtype=np.int64)
    for d in range(nd):
        starts = _fractional_starts(sp[d], kernel[d], outs[d], samples[:, :, _sample_index(d, nd)])
        starts = starts.reshape((n, c) + tuple(outs[d] if j == d else 1 for j in range(nd)))
        flat = flat * sp[d] + starts + k_pos[d]
    out = nn_pool.take_spatial(x, flat, f"FractionalMaxPool{nd}DBackward0")
    if unbatched:
        out, flat = out.squeeze(0), flat[0]
    return (out, wrap(flat)) if return_indices else out


@float32_policy
def fractional_max_pool2d(input, kernel_size, output_size=None, output_ratio=None, return_indices=False,
                          _random_samples=None):
    return _fractional(2, input, kernel_size, output_size, output_ratio, return_indices, _random_samples)


def fractional_max_pool2d_with_indices(input, kernel_size, output_size=None, output_ratio=None,
                                       return_indices=True, _random_samples=None):
    return _fractional(2, input, kernel_size, output_size, output_ratio, True, _random_samples)


@float32_policy
def fractional_max_pool3d(input, kernel_size, output_size=None, output_ratio=None, return_indices=False,
                          _random_samples=None):
    return _fractional(3, input, kernel_size, output_size, output_ratio, return_indices, _random_samples)


def fractional_max_pool3d_with_indices(input, kernel_size, output_size=None, output_ratio=None,
                                       return_indices=True, _random_samples=None):
    return _fractional(3, input, kernel_size, output_size, output_ratio, True, _random_samples)
