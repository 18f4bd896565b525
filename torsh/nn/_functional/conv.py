"""conv1d/2d/3d, conv_transpose1d/2d/3d, unfold/fold (over torsh._ops.nn_conv)."""
import numpy as np

from ..._ops import nn_conv
from ..._ops._helpers import dtype_name
from ._utils import ntuple

__all__ = ["conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d", "unfold",
           "fold"]

_C_TYPE = {"float32": "float", "float64": "double", "float16": "c10::Half", "bfloat16": "c10::BFloat16"}


def _shape_list(t):
    return "[" + ", ".join(str(s) for s in t.shape) + "]"


def _check_dtypes(input, weight, bias):
    if input.dtype != weight.dtype:
        raise RuntimeError(f"expected scalar type {dtype_name(input.dtype)} but found {dtype_name(weight.dtype)}")
    if bias is not None and bias.dtype != input.dtype:
        raise RuntimeError(f"Input type ({_C_TYPE.get(str(input.dtype).split('.')[-1], input.dtype)}) and bias type "
                           f"({_C_TYPE.get(str(bias.dtype).split('.')[-1], bias.dtype)}) should be the same")


def _batched(name, input, nd):
    if input.ndim == nd + 1:
        return input.unsqueeze(0), True
    if input.ndim != nd + 2:
        raise RuntimeError(f"Expected {nd + 1}D (unbatched) or {nd + 2}D (batched) input to {name}, but got input "
                           f"of size: {_shape_list(input)}")
    return input, False


def resolve_padding(padding, kernel, dilation, stride, nd):
    """(low, high) per dim from an int, a tuple, 'valid' or 'same'."""
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0),) * nd
        if padding == "same":
            if any(s != 1 for s in stride):
                raise RuntimeError("padding='same' is not supported for strided convolutions")
            pads = []
            for k, d in zip(kernel, dilation):
                total = d * (k - 1)
                pads.append((total // 2, total - total // 2))
            return tuple(pads)
        raise RuntimeError(f"Invalid padding string: '{padding}'")
    return tuple((p, p) for p in ntuple(padding, nd))


def _conv(name, nd, input, weight, bias, stride, padding, dilation, groups):
    input, unbatched = _batched(name, input, nd)
    _check_dtypes(input, weight, bias)
    stride, dilation = ntuple(stride, nd), ntuple(dilation, nd)
    kernel = tuple(weight.shape[2:])
    pads = resolve_padding(padding, kernel, dilation, stride, nd)
    if weight.ndim != nd + 2:
        raise RuntimeError(f"weight should have at least three dimensions")
    if input.shape[1] != weight.shape[1] * groups:
        raise RuntimeError(f"Given groups={groups}, weight of size {_shape_list(weight)}, expected input"
                           f"{_shape_list(input)} to have {weight.shape[1] * groups} channels, but got "
                           f"{input.shape[1]} channels instead")
    if weight.shape[0] % groups:
        raise RuntimeError("Given groups=%d, expected weight to be divisible by %d at dimension 0, but got weight of "
                           "size %s instead" % (groups, groups, _shape_list(weight)))
    padded = [s + lo + hi for s, (lo, hi) in zip(input.shape[2:], pads)]
    extents = [d * (k - 1) + 1 for k, d in zip(kernel, dilation)]
    if any(p < e for p, e in zip(padded, extents)):
        raise RuntimeError(f"Calculated padded input size per channel: ({' x '.join(map(str, padded))}). Kernel size: "
                           f"({' x '.join(map(str, extents))}). Kernel size can't be greater than actual input size")
    out = nn_conv.convolution(input, weight, bias, stride, pads, dilation, groups)
    return out.squeeze(0) if unbatched else out


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    return _conv("conv1d", 1, input, weight, bias, stride, padding, dilation, groups)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    return _conv("conv2d", 2, input, weight, bias, stride, padding, dilation, groups)


def conv3d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    return _conv("conv3d", 3, input, weight, bias, stride, padding, dilation, groups)


def _conv_transpose(name, nd, input, weight, bias, stride, padding, output_padding, groups, dilation):
    input, unbatched = _batched(name, input, nd)
    _check_dtypes(input, weight, bias)
    stride, dilation = ntuple(stride, nd), ntuple(dilation, nd)
    padding, output_padding = ntuple(padding, nd), ntuple(output_padding, nd)
    if input.shape[1] != weight.shape[0]:
        raise RuntimeError(f"Given transposed=1, weight of size {_shape_list(weight)}, expected input"
                           f"{_shape_list(input)} to have {weight.shape[0]} channels, but got {input.shape[1]} "
                           "channels instead")
    for op, s, d in zip(output_padding, stride, dilation):
        if op >= s and op >= d:
            raise RuntimeError("output padding must be smaller than either stride or dilation, but got "
                               f"output_padding_height: {op} output_padding_width: {op} stride_height: {s} "
                               f"stride_width: {s} dilation_height: {d} dilation_width: {d}")
    kernel = tuple(weight.shape[2:])
    out_sp = tuple((i - 1) * s - 2 * p + d * (k - 1) + op + 1
                   for i, s, p, d, k, op in zip(input.shape[2:], stride, padding, dilation, kernel, output_padding))
    pads = tuple((p, p) for p in padding)
    out = nn_conv.conv_transpose(input, weight, bias, stride, pads, dilation, groups, out_sp)
    return out.squeeze(0) if unbatched else out


def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    return _conv_transpose("conv_transpose1d", 1, input, weight, bias, stride, padding, output_padding, groups,
                           dilation)


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    return _conv_transpose("conv_transpose2d", 2, input, weight, bias, stride, padding, output_padding, groups,
                           dilation)


def conv_transpose3d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    return _conv_transpose("conv_transpose3d", 3, input, weight, bias, stride, padding, output_padding, groups,
                           dilation)


def _eye_kernel(c, kernel, like):
    """A (C*prod(k), C, *k) one-hot kernel: convolving with it copies each window into channels (im2col)."""
    from ..._tensor import wrap
    kk = int(np.prod(kernel))
    w = np.zeros((c, kk, c) + tuple(kernel), dtype=like._data.dtype)
    for ci in range(c):
        w[ci, np.arange(kk), ci] = np.eye(kk, dtype=w.dtype).reshape((kk,) + tuple(kernel))
    return wrap(w.reshape((c * kk, c) + tuple(kernel)))


def unfold(input, kernel_size, dilation=1, padding=0, stride=1):
    """im2col: (N, C, H, W) -> (N, C*kh*kw, L), as a convolution with a one-hot kernel (differentiable)."""
    if input.ndim not in (3, 4):
        raise NotImplementedError(f"Input Error: Only 3D or 4D input Tensors are supported (got {input.ndim}D)")
    batched = input.ndim == 4
    x = input if batched else input.unsqueeze(0)
    k = ntuple(kernel_size, 2)
    kern = _eye_kernel(x.shape[1], k, x)
    cols = nn_conv.convolution(x, kern, None, ntuple(stride, 2), tuple((p, p) for p in ntuple(padding, 2)),
                               ntuple(dilation, 2), 1)
    out = cols.reshape(cols.shape[0], cols.shape[1], -1)
    return out if batched else out.squeeze(0)


def fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """col2im: the adjoint of unfold, (N, C*kh*kw, L) -> (N, C, *output_size)."""
    if input.ndim not in (2, 3):
        raise NotImplementedError(f"Input Error: Only unbatched (2D) or batched (3D) input Tensors are supported "
                                  f"(got {input.ndim}D)")
    batched = input.ndim == 3
    x = input if batched else input.unsqueeze(0)
    k, d, p, s = ntuple(kernel_size, 2), ntuple(dilation, 2), ntuple(padding, 2), ntuple(stride, 2)
    out_sz = ntuple(output_size, 2)
    c = x.shape[1] // (k[0] * k[1])
    blocks = [(o + 2 * pp - dd * (kk - 1) - 1) // ss + 1 for o, pp, dd, kk, ss in zip(out_sz, p, d, k, s)]
    cols = x.reshape(x.shape[0], x.shape[1], *blocks)
    kern = _eye_kernel(c, k, x)
    out = nn_conv.conv_transpose(cols, kern, None, s, tuple((q, q) for q in p), d, 1, out_sz)
    return out if batched else out.squeeze(0)
