"""Max/avg/adaptive/LP/fractional pooling and max_unpool.

Max pooling finds each window's argmax on a strided NumPy view and gathers (torsh._ops.nn_pool);
average pooling (1-D and 2-D) is the conv family's window-mean kernel (torsh._ops.nn_pool.avg_pool2d_window,
scaled by 1/PyTorch's divisor per output position); avg_pool3d a depthwise convolution with a ones kernel
divided by that divisor;
adaptive average pooling is one constant averaging matrix per spatial dim.
"""
import math

import numpy as np

from ... import _random
from ..._ops import nn_conv, nn_pool
from ..._tensor import wrap
from ._utils import const, ntuple

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


def _check_pool(input, kernel, stride, padding, dilation, ceil_mode):
    for k, p, d in zip(kernel, padding, dilation):
        if p > (d * (k - 1) + 1) // 2:
            raise RuntimeError(f"pad should be at most half of effective kernel size, but got pad={p}, "
                               f"kernel_size={k} and dilation={d}")
    outs = [nn_pool.pool_out_size(L, k, s, p, d, ceil_mode)
            for L, k, s, p, d in zip(input.shape[2:], kernel, stride, padding, dilation)]
    if any(o < 1 for o in outs):
        raise RuntimeError(f"Given input size: ({_size_str(input.shape[1:])}). Calculated output size: "
                           f"({_size_str([input.shape[1]] + outs)}). Output size is too small")
    return outs


_NODE = {1: "MaxPool1DWithIndicesBackward0", 2: "MaxPool2DWithIndicesBackward0", 3: "MaxPool3DWithIndicesBackward0"}


def _max_pool(nd, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices):
    x, unbatched = _batched(f"max_pool{nd}d", input, nd)
    kernel = ntuple(kernel_size, nd)
    stride = kernel if stride is None or (isinstance(stride, (list, tuple)) and len(stride) == 0) \
        else ntuple(stride, nd)
    padding, dilation = ntuple(padding, nd), ntuple(dilation, nd)
    _check_pool(x, kernel, stride, padding, dilation, ceil_mode)
    idx = nn_pool.max_pool_indices(x._data, kernel, stride, padding, dilation, ceil_mode)
    out = nn_pool.take_spatial(x, idx, _NODE[nd])
    if unbatched:
        out, idx = out.squeeze(0), idx[0]
    if return_indices:
        return out, wrap(idx)
    return out


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    return _max_pool(1, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    return _max_pool(2, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


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


_TORCH_DTYPE_NAMES = {"bool": "Bool", "complex64": "ComplexFloat", "complex128": "ComplexDouble"}


def _check_avg_input(nd, input):
    """PyTorch's avg_pool1d/2d input checks (ranks, empty non-batch dims, dtypes), in its words."""
    if nd == 1 and input.ndim not in (2, 3):
        raise RuntimeError(f"Expected 2 to 3 dimensions, but got {input.ndim}-dimensional tensor for argument #1 "
                           "'self' (while checking arguments for avg_pool1d)")
    if nd == 2 and (input.ndim not in (3, 4) or 0 in input.shape[-3:]):
        raise RuntimeError("Expected 3D or 4D (batch mode) tensor with optional 0 dim batch size for input, "
                           f"but got:{list(input.shape)}")
    name = str(input.dtype).replace("torsh.", "")
    if name in _TORCH_DTYPE_NAMES:  # avg_pool1d runs PyTorch's avg_pool2d too, and says so
        raise NotImplementedError(f'"avg_pool2d" not implemented for \'{_TORCH_DTYPE_NAMES[name]}\'')


def _avg_pool(nd, input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override):
    if nd < 3:
        _check_avg_input(nd, input)
    x, unbatched = _batched(f"avg_pool{nd}d", input, nd)
    kernel = ntuple(kernel_size, nd)
    stride = kernel if stride is None or (isinstance(stride, (list, tuple)) and len(stride) == 0) \
        else ntuple(stride, nd)
    padding = ntuple(padding, nd)
    for k, p in zip(kernel, padding):
        if p > k // 2:
            raise RuntimeError(f"pad should be at most half of effective kernel size, but got pad={p}, "
                               f"kernel_size={k} and dilation=1")
    if divisor_override is not None and divisor_override == 0:
        raise RuntimeError("divisor must be not zero")
    outs = _check_pool(x, kernel, stride, padding, (1,) * nd, ceil_mode)
    sp = tuple(x.shape[2:])
    if divisor_override:
        div = np.full(tuple(outs), float(divisor_override))
    else:
        div = np.ones(())
        for L, k, s, p, o in zip(sp, kernel, stride, padding, outs):
            div = np.multiply.outer(div, _avg_divisor_1d(L, k, s, p, o, count_include_pad))
    if nd == 3:
        return _avg_pool_conv(x, unbatched, kernel, stride, padding, outs, div)
    if nd == 1:  # as PyTorch: a 2-D pooling of the (N, C, 1, L) view, so the graph reads the same
        x = x.unsqueeze(-2)
        kernel, stride, padding, sp, outs = (1,) + kernel, (1,) + stride, (0,) + padding, (1,) + sp, [1] + outs
    geom = sp + tuple(outs) + kernel + stride + padding
    if x.dtype.is_floating_point:
        scale = (1.0 / div).reshape(-1).astype(x._data.dtype)
        out = nn_pool.avg_pool2d_window(x, scale, geom)
    else:  # integer inputs: PyTorch sums in the input dtype and divides truncating toward zero
        summed = nn_pool.avg_pool2d_window(x, np.ones(div.size, dtype=x._data.dtype), geom)._data
        d = div.reshape(summed.shape[-2:]).astype(summed.dtype)
        out = wrap((np.sign(summed) * np.sign(d) * (np.abs(summed) // np.abs(d))).astype(summed.dtype))
    if nd == 1:
        out = out.squeeze(-2)
    return out.squeeze(0) if unbatched else out


def _avg_pool_conv(x, unbatched, kernel, stride, padding, outs, div):
    """avg_pool3d (and 1-D/2-D before their kernels; benchmarks/kernels_bench.py times it as the old path):
    a depthwise convolution of each plane with a ones kernel, divided by ``div``."""
    n, c = x.shape[:2]
    sp = tuple(x.shape[2:])
    his = [max((o - 1) * s + k - L - p, 0) for o, s, k, L, p in zip(outs, stride, kernel, sp, padding)]
    ones = const(np.ones((1, 1) + kernel), x)
    pads = tuple((p, h) for p, h in zip(padding, his))
    summed = nn_conv.convolution(x.reshape((n * c, 1) + sp), ones, None, stride, pads, (1,) * len(sp), 1)
    summed = summed[(slice(None), slice(None)) + tuple(slice(0, o) for o in outs)]
    out = (summed / const(div, x)).reshape((n, c) + tuple(outs))
    return out.squeeze(0) if unbatched else out


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    return _avg_pool(1, input, kernel_size, stride, padding, ceil_mode, count_include_pad, None)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    return _avg_pool(2, input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override)


def avg_pool3d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    return _avg_pool(3, input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override)


def _adaptive_bounds(L, out):
    i = np.arange(out)
    return (i * L) // out, -((-(i + 1) * L) // out)


def _adaptive_sizes(input, output_size, nd):
    sizes = ntuple(output_size, nd) if not isinstance(output_size, (list, tuple)) else tuple(output_size)
    return tuple(input.shape[-nd + i] if s is None else int(s) for i, s in enumerate(sizes))


def _adaptive_avg(nd, input, output_size):
    if input.ndim not in (nd + 1, nd + 2):
        raise RuntimeError(f"adaptive_avg_pool{nd}d(): Expected {nd + 1}D or {nd + 2}D tensor, but got "
                           f"{list(input.shape)}")
    outs = _adaptive_sizes(input, output_size, nd)
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
    return _adaptive_avg(1, input, output_size)


def adaptive_avg_pool2d(input, output_size):
    return _adaptive_avg(2, input, output_size)


def adaptive_avg_pool3d(input, output_size):
    return _adaptive_avg(3, input, output_size)


def _adaptive_max(nd, input, output_size, return_indices):
    x, unbatched = _batched(f"adaptive_max_pool{nd}d", input, nd)
    outs = _adaptive_sizes(x, output_size, nd)
    sp = tuple(x.shape[2:])
    data = x._data
    bounds = [_adaptive_bounds(L, o) for L, o in zip(sp, outs)]
    idx = np.zeros(x.shape[:2] + outs, dtype=np.int64)
    for pos in np.ndindex(*outs):  # one vectorised argmax per output position (output sizes are small)
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


def adaptive_max_pool1d(input, output_size, return_indices=False):
    return _adaptive_max(1, input, output_size, return_indices)


def adaptive_max_pool2d(input, output_size, return_indices=False):
    return _adaptive_max(2, input, output_size, return_indices)


def adaptive_max_pool3d(input, output_size, return_indices=False):
    return _adaptive_max(3, input, output_size, return_indices)


def adaptive_max_pool1d_with_indices(input, output_size, return_indices=True):
    return _adaptive_max(1, input, output_size, True)


def adaptive_max_pool2d_with_indices(input, output_size, return_indices=True):
    return _adaptive_max(2, input, output_size, True)


def adaptive_max_pool3d_with_indices(input, output_size, return_indices=True):
    return _adaptive_max(3, input, output_size, True)


def _lp_pool(nd, input, norm_type, kernel_size, stride, ceil_mode):
    kernel = ntuple(kernel_size, nd)
    avg = _avg_pool(nd, input.pow(norm_type), kernel, stride, 0, ceil_mode, True, None)
    return (avg.sign() * avg.abs().relu()).mul(math.prod(kernel)).pow(1.0 / norm_type)


def lp_pool1d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    return _lp_pool(1, input, norm_type, kernel_size, stride, ceil_mode)


def lp_pool2d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    return _lp_pool(2, input, norm_type, kernel_size, stride, ceil_mode)


def lp_pool3d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    return _lp_pool(3, input, norm_type, kernel_size, stride, ceil_mode)


def _max_unpool(nd, input, indices, kernel_size, stride, padding, output_size):
    x, unbatched = _batched(f"max_unpool{nd}d", input, nd)
    idx = indices._data if not unbatched else indices._data[None]
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


def max_unpool2d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    return _max_unpool(2, input, indices, kernel_size, stride, padding, output_size)


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
        samples = _random.rng().random((n, c, nd)).astype(x._data.dtype)
    else:
        samples = _random_samples._data.reshape(n, c, nd)
    data = x._data
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


def fractional_max_pool2d(input, kernel_size, output_size=None, output_ratio=None, return_indices=False,
                          _random_samples=None):
    return _fractional(2, input, kernel_size, output_size, output_ratio, return_indices, _random_samples)


def fractional_max_pool2d_with_indices(input, kernel_size, output_size=None, output_ratio=None,
                                       return_indices=True, _random_samples=None):
    return _fractional(2, input, kernel_size, output_size, output_ratio, True, _random_samples)


def fractional_max_pool3d(input, kernel_size, output_size=None, output_ratio=None, return_indices=False,
                          _random_samples=None):
    return _fractional(3, input, kernel_size, output_size, output_ratio, return_indices, _random_samples)


def fractional_max_pool3d_with_indices(input, kernel_size, output_size=None, output_ratio=None,
                                       return_indices=True, _random_samples=None):
    return _fractional(3, input, kernel_size, output_size, output_ratio, True, _random_samples)
