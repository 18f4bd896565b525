"""conv1d/2d/3d, conv_transpose1d/2d/3d, unfold/fold (over torsh._ops.nn.conv)."""
import math
import warnings

import numpy as np

from ..._array_api import dtype_of
from ..._dtype import C_TYPE_NAMES
from ..._ops.nn import conv as nn_conv
from ...amp import autocast_mode as _autocast
from ..._ops._helpers import dtype_name
from ._utils import ntuple

__all__ = ["conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d", "unfold",
           "fold", "conv_tbc"]



def _shape_list(t):
    return "[" + ", ".join(str(s) for s in t.shape) + "]"


def _c_type(dtype):
    return C_TYPE_NAMES.get(str(dtype).split('.')[-1], dtype)


def _check_bias_dtype(input, bias):
    # PyTorch checks this before anything else, even the input's rank
    if bias is not None and bias.dtype != input.dtype:
        raise RuntimeError(f"Input type ({_c_type(input.dtype)}) and bias type ({_c_type(bias.dtype)}) should be the "
                           "same")


def _check_weight_dtype(input, weight):
    # and this one only after the geometry (the kernel's own check)
    if input.dtype != weight.dtype:
        raise RuntimeError(f"expected scalar type {dtype_name(input.dtype)} but found {dtype_name(weight.dtype)}")


# dtypes PyTorch's CPU kernels have no variant for, by the kernel its error names
_NO_BOOL = frozenset({"bool"})
_NO_INTS = frozenset({"uint8", "int8", "int16", "int32", "int64"})
_NO_BOOL_OR_SHORT_INTS = frozenset({"bool", "uint8", "int8", "int16", "int32"})


def _refuse_dtype(kernel, input, refused):
    """PyTorch's dispatch error when ``kernel`` has no variant for the input's dtype (its name in ``refused``)."""
    if input.dtype.name in refused:
        raise NotImplementedError(f'"{kernel}" not implemented for \'{dtype_name(input.dtype)}\'')


def _batched(name, input, nd):
    if input.ndim == nd + 1:
        return input.unsqueeze(0), True
    if input.ndim != nd + 2:
        raise RuntimeError(f"Expected {nd + 1}D (unbatched) or {nd + 2}D (batched) input to {name}, but got input "
                           f"of size: {_shape_list(input)}")
    return input, False


def _int_list(value, nd):
    """An int or a sequence, as the list PyTorch's argument parser makes of it (ints expand to ``nd``)."""
    if isinstance(value, (list, tuple)):
        return [int(v) for v in value]
    return [int(value)] * nd


def _expand_param(value, name, dim):
    """PyTorch's expand_param_if_needed: one value per spatial dim of the weight."""
    if len(value) == 1:
        return value * dim
    if len(value) != dim:
        raise RuntimeError(f"expected {name} to be a single integer value or a list of {dim} values to match the "
                           f"convolution dimensions, but got {name}={value}")
    return value


def _check_params(weight, groups, stride, padding, dilation, output_padding=None):
    """PyTorch's checks of the convolution's parameters, in its order (_convolution, check_shape_forward).

    ``padding`` is a list of ints (a 'same'/'valid' string was resolved before); returns the
    expanded (stride, padding, dilation, output_padding)."""
    if weight.ndim < 3:
        raise RuntimeError("weight should have at least three dimensions")
    if groups <= 0:
        raise RuntimeError("non-positive groups is not supported")
    dim = weight.ndim - 2
    stride = _expand_param(stride, "stride", dim)
    padding = _expand_param(padding, "padding", dim)
    dilation = _expand_param(dilation, "dilation", dim)
    if output_padding is not None:
        output_padding = _expand_param(output_padding, "output_padding", dim)
    if any(p < 0 for p in padding):
        raise RuntimeError("negative padding is not supported")
    if output_padding is not None and any(p < 0 for p in output_padding):
        raise RuntimeError("negative output_padding is not supported")
    if any(s <= 0 for s in stride):
        raise RuntimeError("non-positive stride is not supported")
    if any(d < 0 for d in dilation):
        raise RuntimeError("dilation should be greater than zero")
    return stride, padding, dilation, output_padding


def _check_weight_groups(input, weight, groups):
    if input.ndim != weight.ndim:
        raise RuntimeError(f"Expected {weight.ndim}-dimensional input for {weight.ndim}-dimensional weight "
                           f"{_shape_list(weight)}, but got {input.ndim}-dimensional input of size "
                           f"{_shape_list(input)} instead")
    if weight.shape[0] < groups:
        raise RuntimeError(f"Given groups={groups}, expected weight to be at least {groups} at dimension 0, but got "
                           f"weight of size {_shape_list(weight)} instead")
    if weight.shape[0] % groups:
        raise RuntimeError(f"Given groups={groups}, expected weight to be divisible by {groups} at dimension 0, but "
                           f"got weight of size [{_shape_list(weight)}] instead")


def _check_bias_shape(bias, count, prefix):
    if bias is not None and (bias.ndim != 1 or bias.shape[0] != count):
        raise RuntimeError(f"{prefix}, expected bias to be 1-dimensional with {count} elements, but got bias of size "
                           f"{_shape_list(bias)} instead")


def _as_2d_list(values, nd, fill):
    """1-d convolutions run as 2-d ones in PyTorch, and its messages show the added dim."""
    return [fill] + list(values) if nd == 1 else list(values)


def _takes_onednn_path(input, weight, groups):
    """Whether PyTorch's CPU backend choice (use_mkldnn) sends a dilated float32 convolution to oneDNN,
    whose checks word their errors differently."""
    if input.dtype != _float32():
        return False
    sizes = list(input.shape[:2]) + ([1] if input.ndim == 3 else []) + list(input.shape[2:])
    return (groups > 1 or (weight.shape[-1] > 3 and (weight.ndim == 3 or weight.shape[-2] > 3))
            or sizes[0] > 1 or math.prod(sizes[:4]) > 20480)


def _check_dilation_nonzero(nd, input, weight, dilation, groups):
    if 0 not in dilation:
        return
    if _takes_onednn_path(input, weight, groups):
        raise RuntimeError("non-positive dilation is not supported")
    raise RuntimeError(f"dilation should be greater than zero, but got {_as_2d_list(dilation, nd, 1)}")


def _float32():
    from ... import float32
    return float32


_warned_same_padding_copy = []


def _warn_same_padding_copy():
    """ATen's TORCH_WARN_ONCE for an asymmetric 'same' padding (even kernel extent): once per process."""
    if not _warned_same_padding_copy:
        _warned_same_padding_copy.append(True)
        warnings.warn("Using padding='same' with even kernel lengths and odd dilation may require a zero-padded "
                      "copy of the input be created", UserWarning, stacklevel=4)


def resolve_padding(padding, kernel, dilation, stride, nd):
    """A list of paddings (one per dim, or PyTorch's 'same' (low, high) pairs) from an int, a tuple,
    'valid' or 'same'."""
    if isinstance(padding, str):
        if padding == "valid":
            return [0] * nd
        if padding == "same":
            if any(s != 1 for s in stride):
                raise RuntimeError("padding='same' is not supported for strided convolutions")
            return [(d * (k - 1) // 2, d * (k - 1) - d * (k - 1) // 2) for k, d in zip(kernel, dilation)]
        raise RuntimeError(f"Invalid padding string: '{padding}'")
    return _int_list(padding, nd)


def _conv_without_channels(input, weight, bias, out_sp):
    """PyTorch's result for an input of 0 channels: an empty (N, 0, *out) output (not N x O zeros);
    gradients are zeros, through a product with the empty input."""
    from ..._tensor import wrap
    out = wrap(np.zeros((input.shape[0], 0) + tuple(out_sp), dtype=dtype_of(input)))
    for t in (input, weight, bias):
        if t is not None and t.requires_grad:
            out = out + t.sum() * 0
    return out


def _spatial_ints(value, nd, lowest):
    """``value`` (an int or a sequence of nd ints, each >= lowest) as a tuple of nd ints, or None for
    anything else (the checked path then decides)."""
    if type(value) is int:
        return (value,) * nd if value >= lowest else None
    if type(value) in (tuple, list) and len(value) == nd and all(type(v) is int and v >= lowest for v in value):
        return tuple(value)
    return None


def _plain_geometry(nd, input, weight, bias, stride, padding, dilation, groups):
    """(stride, pads, dilation) of a convolution that passes every check of ``_conv`` below, found
    from the arrays' shapes in a few microseconds, or None: then ``_conv`` runs its checks in
    PyTorch's order, which also word the errors. Batch-1 CNN inference makes ~10 calls per image."""
    x, w = getattr(input, "_data", None), getattr(weight, "_data", None)
    if (_autocast._state.enabled or x is None or w is None or x.ndim != nd + 2 or w.ndim != nd + 2
            or x.dtype != w.dtype or type(groups) is not int or not 1 <= groups <= w.shape[0] or w.shape[0] % groups
            or x.shape[1] != w.shape[1] * groups or x.shape[1] == 0 or x.dtype == np.bool_):
        return None
    if bias is not None:
        b = getattr(bias, "_data", None)
        if b is None or b.dtype != x.dtype or b.shape != (w.shape[0],):
            return None
    stride, dilation = _spatial_ints(stride, nd, 1), _spatial_ints(dilation, nd, 1)
    padding = _spatial_ints(padding, nd, 0)
    if stride is None or dilation is None or padding is None:
        return None
    for size, p, k, d in zip(x.shape[2:], padding, w.shape[2:], dilation):
        if size + 2 * p < d * (k - 1) + 1:
            return None
    return stride, tuple((p, p) for p in padding), dilation


def _conv(name, nd, input, weight, bias, stride, padding, dilation, groups):
    plain = _plain_geometry(nd, input, weight, bias, stride, padding, dilation, groups)
    if plain is not None:
        return nn_conv.convolution(input, weight, bias, *plain, groups)
    if _autocast._state.enabled:  # torch.autocast: PyTorch's lower-precision op list
        input, weight, bias = _autocast.lower_precision(input, weight, bias)
    _check_bias_dtype(input, bias)
    input, unbatched = _batched(name, input, nd)
    stride, dilation = _int_list(stride, nd), _int_list(dilation, nd)
    padding = resolve_padding(padding, tuple(weight.shape[2:]), dilation, stride, nd)
    same = padding and isinstance(padding[0], tuple)
    stride, _, dilation, _ = _check_params(weight, groups, stride, [0] if same else padding, dilation)
    pads = tuple(padding) if same else tuple((p, p) for p in _expand_param(padding, "padding", weight.ndim - 2))
    shown = _shape_list(input)
    if same and any(lo != hi for lo, hi in pads):
        # PyTorch pads the extra high-side zeros into a copy of the input first, so its errors name that copy
        _warn_same_padding_copy()
        shown = "[" + ", ".join(map(str, list(input.shape[:2]) + [size + hi - lo for size, (lo, hi)
                                                                  in zip(input.shape[2:], pads)])) + "]"
    _check_weight_groups(input, weight, groups)
    if input.shape[1] != weight.shape[1] * groups:
        raise RuntimeError(f"Given groups={groups}, weight of size {_shape_list(weight)}, expected input"
                           f"{shown} to have {weight.shape[1] * groups} channels, but got "
                           f"{input.shape[1]} channels instead")
    _check_bias_shape(bias, weight.shape[0], f"Given weight of size {_shape_list(weight)}")
    kernel = tuple(weight.shape[2:])
    padded = [s + lo + hi for s, (lo, hi) in zip(input.shape[2:], pads)]
    extents = [d * (k - 1) + 1 for k, d in zip(kernel, dilation)]
    if any(p < e for p, e in zip(padded, extents)):
        raise RuntimeError(f"Calculated padded input size per channel: ({' x '.join(map(str, padded))}). Kernel size: "
                           f"({' x '.join(map(str, extents))}). Kernel size can't be greater than actual input size")
    if input.shape[1] == 0:
        out = _conv_without_channels(input, weight, bias, [(p - e) // s + 1 for p, e, s in zip(padded, extents, stride)])
        return out.squeeze(0) if unbatched else out
    if input.shape[0]:  # PyTorch's kernels check these; an empty batch never reaches them
        _check_dilation_nonzero(nd, input, weight, dilation, groups)
        _refuse_dtype("compute_columns3d" if nd == 3 else "slow_conv2d_cpu", input, _NO_BOOL)
    _check_weight_dtype(input, weight)
    out = nn_conv.convolution(input, weight, bias, tuple(stride), pads, tuple(dilation), groups)
    return out.squeeze(0) if unbatched else out


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    return _conv("conv1d", 1, input, weight, bias, stride, padding, dilation, groups)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    return _conv("conv2d", 2, input, weight, bias, stride, padding, dilation, groups)


def conv3d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    return _conv("conv3d", 3, input, weight, bias, stride, padding, dilation, groups)


_DIM_NAMES = {1: ("height", "width"), 2: ("height", "width"), 3: ("depth", "height", "width")}


def _named(prefix, values, nd, fill, sep):
    return sep.join(f"{prefix}_{n}: {v}" for n, v in zip(_DIM_NAMES[nd], _as_2d_list(values, nd, fill)))


def _check_transposed_geometry(nd, input, kernel, stride, padding, output_padding, dilation):
    """PyTorch's slow_conv_transpose shape checks, in its words; returns the output's spatial size."""
    if 0 in dilation:
        raise RuntimeError(f"dilation should be greater than zero, but got {_named('dilation', dilation, nd, 1, ', ')}")
    if any(op >= s and op >= d for op, s, d in zip(output_padding, stride, dilation)):
        raise RuntimeError("output padding must be smaller than either stride or dilation, but got "
                           + " ".join((_named("output_padding", output_padding, nd, 0, " "),
                                       _named("stride", stride, nd, 1, " "), _named("dilation", dilation, nd, 1, " "))))
    in_sp = tuple(input.shape[2:])
    out_sp = tuple((i - 1) * s - 2 * p + d * (k - 1) + op + 1
                   for i, s, p, d, k, op in zip(in_sp, stride, padding, dilation, kernel, output_padding))
    if any(o < 1 for o in out_sp):
        raise RuntimeError(f"Given input size per channel: ({' x '.join(map(str, _as_2d_list(in_sp, nd, 1)))}). "
                           f"Calculated output size per channel: ({' x '.join(map(str, _as_2d_list(out_sp, nd, 1)))})."
                           " Output size is too small")
    return out_sp


def _conv_transpose(name, nd, input, weight, bias, stride, padding, output_padding, groups, dilation):
    if _autocast._state.enabled:  # torch.autocast: PyTorch's lower-precision op list
        input, weight, bias = _autocast.lower_precision(input, weight, bias)
    _check_bias_dtype(input, bias)
    input, unbatched = _batched(name, input, nd)
    stride, padding, dilation, output_padding = _check_params(
        weight, groups, _int_list(stride, nd), _int_list(padding, nd), _int_list(dilation, nd),
        _int_list(output_padding, nd))
    _check_weight_groups(input, weight, groups)
    if input.shape[1] != weight.shape[0]:
        raise RuntimeError(f"Given transposed=1, weight of size {_shape_list(weight)}, expected input"
                           f"{_shape_list(input)} to have {weight.shape[0]} channels, but got {input.shape[1]} "
                           "channels instead")
    _check_bias_shape(bias, weight.shape[1] * groups, f"Given transposed=1, weight of size {_shape_list(weight)}")
    kernel = tuple(weight.shape[2:])
    if input.shape[0] == 0:  # an empty batch never reaches PyTorch's shape checks, only its empty()
        out_sp = tuple((i - 1) * s - 2 * p + d * (k - 1) + op + 1 for i, s, p, d, k, op
                       in zip(input.shape[2:], stride, padding, dilation, kernel, output_padding))
        shape = [0, weight.shape[1] * groups] + list(out_sp)
        for i, size in enumerate(shape):
            if size < 0:
                raise RuntimeError(f"invalid shape dimension {size} at index {i} of shape {shape}")
    else:
        out_sp = _check_transposed_geometry(nd, input, kernel, stride, padding, output_padding, dilation)
        _refuse_dtype(f"slow_conv_transpose{3 if nd == 3 else 2}d_out_cpu", input, _NO_BOOL_OR_SHORT_INTS)
    _check_weight_dtype(input, weight)
    pads = tuple((p, p) for p in padding)
    out = nn_conv.conv_transpose(input, weight, bias, tuple(stride), pads, tuple(dilation), groups, out_sp)
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
    w = np.zeros((c, kk, c) + tuple(kernel), dtype=dtype_of(like))
    for ci in range(c):
        w[ci, np.arange(kk), ci] = np.eye(kk, dtype=w.dtype).reshape((kk,) + tuple(kernel))
    return wrap(w.reshape((c * kk, c) + tuple(kernel)))


def _block_params(kernel_size, dilation, padding, stride):
    """(kernel, dilation, padding, stride) pairs for unfold/fold, with PyTorch's length check."""
    values = []
    for name, v in (("kernel_size", kernel_size), ("dilation", dilation), ("padding", padding), ("stride", stride)):
        if isinstance(v, (list, tuple)) and len(v) != 2:
            raise RuntimeError(f"It is expected {name} equals to 2, but got size {len(v)}")
        values.append(ntuple(v, 2))
    return values


def _hw(name, values):
    return f"{name}_height: {values[0]} {name}_width: {values[1]}"


def _check_block_params(k, d, p, s, order):
    """PyTorch's im2col/col2im checks of the window parameters (their order differs: ``order``)."""
    checks = {"k": (all(v > 0 for v in k), "kernel size should be greater than zero, but got " + _hw("kernel", k)),
              "d": (all(v > 0 for v in d), "dilation should be greater than zero, but got " + _hw("dilation", d)),
              "p": (all(v >= 0 for v in p), "padding should be non-negative, but got " + _hw("pad", p)),
              "s": (all(v > 0 for v in s), "stride should be greater than zero, but got " + _hw("stride", s))}
    for key in order:
        ok, message = checks[key]
        if not ok:
            raise RuntimeError(message)


def _c_div(a, b):
    """C++ integer division (toward zero), as PyTorch's im2col output size."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


def unfold(input, kernel_size, dilation=1, padding=0, stride=1):
    """im2col: (N, C, H, W) -> (N, C*kh*kw, L), as a convolution with a one-hot kernel (differentiable)."""
    if input.ndim == 0:  # PyTorch's im2col reads size(1), then size(2), from the start
        raise IndexError("Dimension specified as 1 but tensor has no dimensions")
    if input.ndim < 3:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-input.ndim}, {input.ndim - 1}], but "
                         f"got {input.ndim})")
    if input.ndim > 4:
        raise NotImplementedError(f"Input Error: Only 3D or 4D input Tensors are supported (got {input.ndim}D)")
    k, d, p, s = _block_params(kernel_size, dilation, padding, stride)
    _check_block_params(k, d, p, s, "kdps")
    if 0 in input.shape[1:] or (input.ndim == 3 and input.shape[0] == 0):
        raise RuntimeError("Expected 3D or 4D (batch mode) tensor with possibly 0 batch size and other non-zero "
                           f"dimensions for input, but got: {list(input.shape)}")
    h, w = input.shape[-2:]
    blocks = [_c_div(size + 2 * pp - (dd * (kk - 1) + 1), ss) + 1 for size, kk, dd, pp, ss in zip((h, w), k, d, p, s)]
    if min(blocks) < 1:
        raise RuntimeError(f"Given input with spatial size ({h}, {w}), kernel_size=({k[0]}, {k[1]}), dilation=({d[0]}, "
                           f"{d[1]}), padding=({p[0]}, {p[1]}), calculated shape of the array of sliding blocks as "
                           f"({blocks[0]}, {blocks[1]}), but its components must be at least one.")
    _refuse_dtype("im2col_out_cpu", input, _NO_INTS)
    batched = input.ndim == 4
    x = input if batched else input.unsqueeze(0)
    kern = _eye_kernel(x.shape[1], k, x)
    cols = nn_conv.convolution(x, kern, None, s, tuple((q, q) for q in p), d, 1)
    out = cols.reshape(cols.shape[0], cols.shape[1], blocks[0] * blocks[1])
    return out if batched else out.squeeze(0)


def fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """col2im: the adjoint of unfold, (N, C*kh*kw, L) -> (N, C, *output_size)."""
    if isinstance(output_size, (list, tuple)) and len(output_size) != 2:
        raise RuntimeError(f"It is expected output_size equals to 2, but got size {len(output_size)}")
    out_sz = ntuple(output_size, 2)
    k, d, p, s = _block_params(kernel_size, dilation, padding, stride)
    _check_block_params(k, d, p, s, "ksdp")
    if not ((input.ndim == 2 and 0 not in input.shape) or (input.ndim == 3 and 0 not in input.shape[1:])):
        raise RuntimeError("Expected 2D or 3D (batch mode) tensor for input with possibly 0 batch size and non-zero "
                           f"dimensions for input, but got: {list(input.shape)}")
    planes, length = input.shape[-2:]
    if planes % (k[0] * k[1]):
        raise RuntimeError("Expected size of input's dimension 1 to be divisible by the product of kernel_size, but "
                           f"got input.size(1)={planes} and kernel_size=({k[0]}, {k[1]}).")
    blocks = [(o + 2 * pp - dd * (kk - 1) - 1) // ss + 1 for o, pp, dd, kk, ss in zip(out_sz, p, d, k, s)]
    described = (f"Given output_size=({out_sz[0]}, {out_sz[1]}), kernel_size=({k[0]}, {k[1]}), dilation=({d[0]}, "
                 f"{d[1]}), padding=({p[0]}, {p[1]}), stride=({s[0]}, {s[1]}), ")
    if length != blocks[0] * blocks[1]:
        raise RuntimeError(f"{described}expected size of input's dimension 2 to match the calculated number of "
                           f"sliding blocks {blocks[0]} * {blocks[1]} = {blocks[0] * blocks[1]}, but got "
                           f"input.size(2)={length}.")
    if min(blocks) < 1:
        raise RuntimeError(f"{described}calculated shape of the array of sliding blocks as ({blocks[0]}, "
                           f"{blocks[1]}), which must be at least one.")
    if min(out_sz) <= 0:
        raise RuntimeError(f"Expected output spatial size to be positive, but got: output_size=({out_sz[0]}, "
                           f"{out_sz[1]}).")
    _refuse_dtype("col2im_out_cpu", input, _NO_INTS)
    batched = input.ndim == 3
    x = input if batched else input.unsqueeze(0)
    c = x.shape[1] // (k[0] * k[1])
    cols = x.reshape(x.shape[0], x.shape[1], *blocks)
    kern = _eye_kernel(c, k, x)
    out = nn_conv.conv_transpose(cols, kern, None, s, tuple((q, q) for q in p), d, 1, out_sz)
    return out if batched else out.squeeze(0)


def _check_conv_tbc(input, weight, bias):
    if input.ndim != 3:
        raise RuntimeError("Input must have 3 dims: time, batch, in_channel")
    if weight.ndim != 3:
        raise RuntimeError("Weight tensor must have 3 dims: kernel_width, in_channels, out_channels.")
    if bias.ndim != 1:
        raise RuntimeError("Bias must be 1-D")
    if input.shape[2] != weight.shape[1]:
        raise RuntimeError("Input dim 2 (input channels) is not == dim 1 in the weight tensor")
    if weight.shape[2] != bias.shape[0]:
        raise RuntimeError("Bias size must equal dim 2 in the weight tensor (output channels).")


def conv_tbc(input, weight, bias, pad=0):
    """1-d convolution over time of a (time, batch, channel) input with a (kernel, in, out) weight."""
    _check_conv_tbc(input, weight, bias)
    steps = input.shape[0] - weight.shape[0] + 1 + 2 * pad  # PyTorch allocates the output first
    if steps < 0:
        raise RuntimeError(f"Trying to create tensor with negative dimension {steps}: [{steps}, {input.shape[1]}, "
                           f"{weight.shape[2]}]")
    _refuse_dtype("addmm_impl_cpu_", input, _NO_BOOL)  # then runs a loop of addmm
    out = conv1d(input.permute(1, 2, 0), weight.permute(2, 1, 0), bias, padding=pad)
    return out.permute(2, 0, 1)
