"""pad, interpolate/upsample, pixel_shuffle/unshuffle, channel_shuffle.

Interpolation is separable: one constant (in x out) weight matrix per resized dim (nearest,
linear and cubic taps with PyTorch's source-index rules), applied with matmul, so autograd
and double backward come from matmul.
"""
import math

import numpy as np

from ..._array_api import array, dtype_of
from ... import _autocast, _dtype
from ..._autocast import float32_policy
from ..._warnings import warn as user_warning
from ..._ops.nn import pad as nn_pad
from ..._ops.tensor import creation
from ..._tensor import wrap
from ...autograd.graph import Node, needs_grad, record
from ..._ops._helpers import dtype_name
from ._utils import const, require_float_kernel

__all__ = ["pad", "interpolate", "upsample", "upsample_nearest", "upsample_bilinear", "pixel_shuffle",
           "pixel_unshuffle", "channel_shuffle", "native_channel_shuffle", "affine_grid", "grid_sample"]

_PAD_NODE = {"reflect": "ReflectionPad{}DBackward0", "replicate": "ReplicationPad{}DBackward0",
             "circular": "CircularPad{}DBackward0"}


def pad(input, pad, mode="constant", value=None):
    if len(pad) % 2:
        raise RuntimeError("Padding length must be divisible by 2")
    n_dims = len(pad) // 2
    if n_dims > input.ndim:
        raise RuntimeError("Padding length should be less than or equal to two times the input dimension but got "
                           f"padding length {len(pad)} and input of dimension {input.ndim}")
    pads = [(0, 0)] * input.ndim
    for i in range(n_dims):
        pads[input.ndim - 1 - i] = (int(pad[2 * i]), int(pad[2 * i + 1]))
    if mode == "constant":
        for size, (lo, hi) in zip(input.shape, pads):
            if size + min(lo, 0) + min(hi, 0) < 0:  # PyTorch crops (narrow) before it pads
                raise RuntimeError("narrow(): length must be non-negative.")
        return nn_pad.constant_pad(input, tuple(pads), 0.0 if value is None else value)
    if mode not in _PAD_NODE:
        raise NotImplementedError(f"Unrecognised padding mode {mode}")
    if value is not None and value != 0:
        raise AssertionError(f'Padding mode "{mode}" doesn\'t take in value argument')
    if input.ndim not in (n_dims + 1, n_dims + 2) or n_dims > 3:
        raise NotImplementedError(f"Padding size {len(pad)} is not supported for {input.ndim}D input tensor.")
    if mode == "circular":
        return _pad_circular(input, pads, n_dims)
    if 0 in input.shape[input.ndim - n_dims - 1:] if input.ndim == n_dims + 2 else 0 in input.shape:
        raise RuntimeError(f"Expected {n_dims + 1}D or {n_dims + 2}D (batch mode) tensor with possibly 0 batch size "
                           f"and other non-zero dimensions for input, but got: {list(input.shape)}")
    out = input
    node = _PAD_NODE[mode].format(n_dims)
    for dim in range(input.ndim - n_dims, input.ndim):
        lo, hi = pads[dim]
        size = input.shape[dim]
        if mode == "reflect" and (lo >= size or hi >= size):
            raise RuntimeError(f"Argument #4: Padding size should be less than the corresponding input dimension, "
                               f"but got: padding ({lo}, {hi}) at dimension {dim} of input {list(input.shape)}")
    _check_padded_sizes(input, pads, n_dims, mode)
    if input.dtype is _dtype.bool:  # PyTorch's reflection/replication kernels have no bool variant
        kernel = "reflection" if mode == "reflect" else "replication"
        raise NotImplementedError(f'"{kernel}_pad{n_dims}d" not implemented for \'Bool\'')
    if _autocast.state.enabled:  # reflection/replication pads are on PyTorch's fp32 autocast list
        out = input = _autocast.to_float32(input)
    for dim in range(input.ndim - n_dims, input.ndim):
        lo, hi = pads[dim]
        if lo or hi:
            out = nn_pad.take_dim(out, dim, nn_pad.pad_index(input.shape[dim], lo, hi, mode), node)
    return out


def _check_padded_sizes(input, pads, n_dims, mode):
    """PyTorch's reflection/replication output checks: some padded size >= 1 (all, in 1-d), none negative."""
    sizes = list(input.shape[-n_dims:])
    outs = [size + lo + hi for size, (lo, hi) in zip(sizes, pads[-n_dims:])]
    if not any(o >= 1 for o in outs):
        names = "DHW"[3 - n_dims:]
        sep = " " if n_dims == 3 else ", "
        shown_in = (f"D: {sizes[0]} " if n_dims == 3 else "") + ", ".join(
            f"{n}: {v}" for n, v in zip(names[-2:], sizes[-2:]))
        tail = " " if n_dims == 2 and mode == "replicate" else ""  # PyTorch's two kernels print it differently
        shown_out = " ".join(f"{n}: {v}" for n, v in zip(names, outs))
        raise RuntimeError(f"input ({shown_in}{tail}) is too small. Calculated output {shown_out}")
    if any(o < 0 for o in outs):
        shape = list(input.shape[:-n_dims]) + outs
        raise RuntimeError(f"Trying to create tensor with negative dimension {min(outs)}: {shape}")


def _pad_circular(input, pads, n_dims):
    """PyTorch's _pad_circular: negative pads crop first, and the padding wraps around what is left."""
    out = input
    node = _PAD_NODE["circular"].format(n_dims)
    for dim in range(input.ndim - n_dims, input.ndim):
        lo, hi = pads[dim]
        size = input.shape[dim]
        if lo > size or hi > size:
            raise RuntimeError("Padding value causes wrapping around more than once.")
        if size + lo + hi < 0:
            raise RuntimeError("Negative padding value is resulting in an empty dimension.")
    for dim in range(input.ndim - n_dims, input.ndim):
        lo, hi = pads[dim]
        if lo or hi:
            out = nn_pad.take_dim(out, dim, nn_pad.circular_pad_index(input.shape[dim], lo, hi), node)
    return out


def _cubic_weights(t, A=-0.75):
    def cc1(x):
        return ((A + 2) * x - (A + 3)) * x * x + 1

    def cc2(x):
        return ((A * x - 5 * A) * x + 8 * A) * x - 4 * A
    return [cc2(t + 1), cc1(t), cc1(1 - t), cc2(2 - t)]


def _resize_matrix(in_size, out_size, mode, align_corners, scale):
    """(in, out) matrix M with out[..., j] = sum_i in[..., i] M[i, j] for one dim."""
    M = np.zeros((in_size, out_size))
    dst = np.arange(out_size, dtype=np.float64)
    cols = np.arange(out_size)
    if mode in ("nearest", "nearest-exact"):
        s = (in_size / out_size) if scale is None else 1.0 / scale
        src = np.floor((dst + 0.5) * s) if mode == "nearest-exact" else np.floor(dst * s)
        src = np.minimum(src.astype(np.int64), in_size - 1)
        M[src, cols] = 1.0
        return M
    if align_corners:
        s = (in_size - 1) / (out_size - 1) if out_size > 1 else 0.0
        src = dst * s
    else:
        s = (in_size / out_size) if scale is None else 1.0 / scale
        src = (dst + 0.5) * s - 0.5
        if mode != "cubic":
            src = np.maximum(src, 0.0)
    i0 = np.floor(src).astype(np.int64)
    t = src - i0
    if mode == "cubic":
        for k, w in enumerate(_cubic_weights(t)):
            idx = np.clip(i0 - 1 + k, 0, in_size - 1)
            np.add.at(M, (idx, cols), w)
        return M
    i0 = np.minimum(i0, in_size - 1)
    i1 = np.minimum(i0 + 1, in_size - 1)
    np.add.at(M, (i0, cols), 1.0 - t)
    np.add.at(M, (i1, cols), t)
    return M


_MODE_DIMS = {"linear": 1, "bilinear": 2, "trilinear": 3, "bicubic": 2, "lanczos": 2}
_MODES = "nearest | linear | bilinear | bicubic | trilinear | lanczos | area | nearest-exact"


def _is_integer(x):
    return isinstance(x, (int, np.integer)) and not isinstance(x, bool) or (
        hasattr(x, "is_floating_point") and not x.is_floating_point())


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None, antialias=False):
    """PyTorch's F.interpolate: its Python checks in its order, then one separable resize per spatial dim (a
    matrix product; a gather for the nearest modes)."""
    if mode in ("nearest", "area", "nearest-exact"):
        if align_corners is not None:
            raise ValueError("align_corners option can only be set with the interpolating modes: "
                             "linear | bilinear | bicubic | trilinear")
    elif align_corners is None:
        align_corners = False
    nd = input.ndim - 2
    spatial = list(input.shape[2:])
    if size is not None and scale_factor is not None:
        raise ValueError("only one of size or scale_factor should be defined")
    if size is not None:
        if isinstance(size, (list, tuple)):
            if len(size) != nd:
                raise ValueError(f"Input and output must have the same number of spatial dimensions, but got input "
                                 f"with spatial dimensions of {spatial} and output size of {size}. Please provide "
                                 "input tensor in (N, C, d1, d2, ...,dK) format and output size in (o1, o2, ...,oK) "
                                 "format.")
            if not all(_is_integer(x) for x in size):
                raise TypeError("expected size to be one of int or Tuple[int] or Tuple[int, int] or Tuple[int, int, "
                                f"int], but got size with types {[type(x) for x in size]}")
            out_sizes = [int(x) for x in size]
        else:
            out_sizes = [size] * nd
        scales = [None] * nd
    elif scale_factor is not None:
        if isinstance(scale_factor, (list, tuple)):
            if len(scale_factor) != nd:
                raise ValueError("Input and scale_factor must have the same number of spatial dimensions, but got "
                                 f"input with spatial dimensions of {spatial} and scale_factor of shape "
                                 f"{scale_factor}. Please provide input tensor in (N, C, d1, d2, ...,dK) format and "
                                 "scale_factor in (s1, s2, ...,sK) format.")
            scales = list(scale_factor)
        else:
            scales = [scale_factor] * nd
        out_sizes = None
    else:
        raise ValueError("either size or scale_factor should be defined")
    if recompute_scale_factor and size is not None:
        raise ValueError("recompute_scale_factor is not meaningful with an explicit size.")
    if mode == "area" and out_sizes is None:
        recompute_scale_factor = True
    if recompute_scale_factor:
        out_sizes = [int(math.floor(float(L) * float(f))) if math.isfinite(float(L) * float(f)) else
                     _overflow() for L, f in zip(spatial, scales)]
        scales = [None] * nd
    if antialias and not (mode in ("bilinear", "bicubic", "lanczos") and input.ndim == 4):
        raise ValueError("Anti-alias option is restricted to bilinear, bicubic, and lanczos modes and requires a 4-D "
                         "tensor as input")
    kernel = _resize_kernel(input.ndim, mode, antialias, align_corners)
    if out_sizes is None:
        out_sizes, scales = _sizes_from_scales(kernel, spatial, scales)
    elif not all(isinstance(o, (int, np.integer)) or _is_integer(o) for o in out_sizes):
        raise TypeError(f"{kernel}() received an invalid combination of arguments - got (Tensor, list, NoneType), but "
                        "expected one of:")
    out_sizes = [int(o) for o in out_sizes]
    if mode == "area":
        from .pooling import _adaptive_avg
        return _adaptive_avg(nd, input, out_sizes)
    return _resize(input, spatial, out_sizes, scales, mode, align_corners, antialias)


def _public_type(x):
    return "<class 'torch.Tensor'>" if hasattr(x, "is_floating_point") else str(type(x))


def _overflow():
    raise RuntimeError("value cannot be converted to type int64_t without overflow")


def _resize_kernel(ndim, mode, antialias, align_corners):
    """The ATen function PyTorch's interpolate calls for (rank, mode), or its NotImplementedError/ValueError."""
    nd = ndim - 2
    kernels = {"nearest": f"upsample_nearest{nd}d", "nearest-exact": f"_upsample_nearest_exact{nd}d",
               "area": f"adaptive_avg_pool{nd}d"}
    if 1 <= nd <= 3 and mode in kernels:
        return kernels[mode]
    if mode in _MODE_DIMS and _MODE_DIMS[mode] == nd:
        if mode == "lanczos":
            if align_corners:
                raise ValueError("Lanczos mode does not support align_corners=True")
            if not antialias:
                raise ValueError("Lanczos mode requires antialias=True")
        name = {"linear": "upsample_linear1d", "bilinear": "upsample_bilinear2d", "trilinear": "upsample_trilinear3d",
                "bicubic": "upsample_bicubic2d", "lanczos": "upsample_lanczos2d"}[mode]
        return f"_{name}_aa" if antialias else name
    if 1 <= nd <= 3 and mode in ("linear", "bilinear", "trilinear"):
        raise NotImplementedError(f"Got {ndim}D input, but {mode} mode needs {_MODE_DIMS[mode] + 2}D input")
    raise NotImplementedError(f"Input Error: Only 3D, 4D and 5D input Tensors supported (got {ndim}D) for the modes: "
                              f"{_MODES} (got {mode})")


def _sizes_from_scales(kernel, spatial, scales):
    """The binding's float scales: each a Python number (a tensor is refused as by PyTorch's argument parser)."""
    if not all(isinstance(f, (int, float, np.number)) and not isinstance(f, bool) for f in scales):
        raise TypeError(f"{kernel}() received an invalid combination of arguments - got (Tensor, NoneType, list), "
                        "but expected one of:")
    out = []
    for L, f in zip(spatial, scales):
        v = float(L) * float(f)
        if not math.isfinite(v):
            _overflow()
        out.append(int(math.floor(v)))
    return out, [float(f) for f in scales]


def _resize(input, spatial, out_sizes, scales, mode, align_corners, antialias):
    nd = len(spatial)
    _check_resize_sizes(spatial, out_sizes)
    if input.numel() == 0 and math.prod(input.shape[1:]) == 0:
        raise RuntimeError(f"Non-empty {nd + 2}D data tensor expected but got a tensor with sizes "
                           f"{list(input.shape)}")
    kind = {"nearest": "nearest", "nearest-exact": "nearest-exact", "linear": "linear", "bilinear": "linear",
            "trilinear": "linear", "bicubic": "cubic", "lanczos": "lanczos"}[mode]
    _check_resize_dtype(input, kind, nd, antialias)
    out = input
    # uint8 rounds after each pass: PyTorch's separable kernels run the last dim (width) first
    order = range(nd - 1, -1, -1) if not input.is_floating_point() else range(nd)
    for i in order:
        dim = 2 + i
        if out_sizes[i] == spatial[i] and kind not in ("cubic", "lanczos") and not antialias and \
                scales[i] in (None, 1.0):
            continue
        if antialias or (kind == "linear" and not input.is_floating_point()):  # uint8 bilinear: the AA kernel's
            M = _aa_resize_matrix(spatial[i], out_sizes[i], kind, align_corners, scales[i], antialias)  # weights
        else:
            M = _resize_matrix(spatial[i], out_sizes[i], kind, align_corners, scales[i])
        if kind.startswith("nearest"):  # a gather: a product with the one-hot matrix makes 0 * inf = NaN
            out = nn_pad.take_dim(out, dim, M.argmax(0), f"UpsampleNearest{nd}DBackward0")
            continue
        if not out.is_floating_point():  # uint8: float arithmetic, rounded back as PyTorch's uint8 kernels
            res = out.double().movedim(dim, -1).matmul(const(M, out.double())).movedim(-1, dim)
            out = res.round().clamp(0, 255).to(out.dtype)
            continue
        out = out.movedim(dim, -1).matmul(const(M, input)).movedim(-1, dim)
    return out if out is not input else input.clone()


def _aa_filter(kind):
    if kind == "linear":
        return lambda x: np.maximum(1.0 - np.abs(x), 0.0), 2
    if kind == "cubic":  # Keys' a = -0.5 (PyTorch's antialiased bicubic)
        a = -0.5

        def cubic(x):
            x = np.abs(x)
            near = ((a + 2) * x - (a + 3)) * x * x + 1
            far = ((a * x - 5 * a) * x + 8 * a) * x - 4 * a
            return np.where(x < 1, near, np.where(x < 2, far, 0.0))
        return cubic, 4

    def lanczos(x):  # Lanczos-3
        return np.where(np.abs(x) < 3, np.sinc(x) * np.sinc(x / 3), 0.0)
    return lanczos, 6


def _aa_resize_matrix(in_size, out_size, kind, align_corners, scale, antialias=True):
    """PyTorch's antialiased resize weights (_compute_weights_aa): a filter stretched by the downscale factor,
    each output's taps normalised to sum 1."""
    if align_corners:
        s = (in_size - 1) / (out_size - 1) if out_size > 1 else 0.0
    else:
        s = 1.0 / scale if scale is not None and scale > 0 else in_size / out_size
    filt, interp_size = _aa_filter(kind)
    stretch = s >= 1.0 and antialias
    support = interp_size * 0.5 * s if stretch else interp_size * 0.5
    invscale = 1.0 / s if stretch else 1.0
    delta = 0.5 if align_corners and not antialias else 0.0  # PyTorch's align_corners_delta
    M = np.zeros((in_size, out_size))
    for i in range(out_size):
        center = s * (i + 0.5 - delta)
        xmin = max(int(center - support + 0.5 + delta), 0)
        xmax = min(int(center + support + 0.5 + delta), in_size)
        j = np.arange(xmin, xmax)
        w = filt((j - center + 0.5 - delta) * invscale)
        total = w.sum()
        if total != 0:
            w = w / total
        M[j, i] = w
    return M


def _check_resize_dtype(input, kind, nd, antialias=False):
    """PyTorch's resize kernels exist for floating types, and for uint8 in 2-d modes and the nearest modes; its
    error names the kernel (a 4-d input's nearest/bilinear kernels dispatch as channels-last ones)."""
    dt = dtype_of(input)
    if dt.kind == "f" or dt.name == "bfloat16":
        return
    if dt.kind == "u" and dt.itemsize == 1 and (nd == 2 or kind.startswith("nearest")):
        return
    helper = {"nearest-exact": "nearest"}.get(kind, kind)
    if nd == 2 and not antialias and helper in ("nearest", "linear"):
        name = f"upsample_{'nearest' if helper == 'nearest' else 'bilinear'}2d_channels_last"
    else:
        name = f"compute_indices_weights_{helper}"
    raise NotImplementedError(f'"{name}" not implemented for \'{dtype_name(dt)}\'')


def _check_resize_sizes(spatial, out_sizes):
    """PyTorch's upsample check: every input and output size positive."""
    if all(L > 0 for L in spatial) and all(o > 0 for o in out_sizes):
        return
    names = "DHW"[3 - len(spatial):]
    shown_in = ", ".join(f"{n}: {v}" for n, v in zip(names, spatial))
    shown_out = ", ".join(f"{n}: {v}" for n, v in zip(names, out_sizes))
    joint = " and output" if len(spatial) == 1 else " output"
    raise RuntimeError(f"Input and output sizes should be greater than 0, but got input ({shown_in}){joint} "
                       f"({shown_out})")


def upsample(input, size=None, scale_factor=None, mode="nearest", align_corners=None):
    user_warning("nn.functional.upsample is deprecated. Use nn.functional.interpolate instead.")
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input, size=None, scale_factor=None):
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input, size=None, scale_factor=None):
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)


def _check_shuffle_input(name, input, factor, factor_name):
    if input.ndim < 3:
        raise RuntimeError(f"{name} expects input to have at least 3 dimensions, but got input with {input.ndim} "
                           "dimension(s)")
    if factor <= 0:
        raise RuntimeError(f"{name} expects a positive {factor_name}, but got {factor}")


def pixel_shuffle(input, upscale_factor):
    r = upscale_factor
    _check_shuffle_input("pixel_shuffle", input, r, "upscale_factor")
    *batch, c, h, w = input.shape
    if c % (r * r):
        raise RuntimeError(f"pixel_shuffle expects its input's 'channel' dimension to be divisible by the square of "
                           f"upscale_factor, but input.size(-3)={c} is not divisible by {r * r}")
    oc = c // (r * r)
    x = input.reshape(*batch, oc, r, r, h, w)
    nb = len(batch)
    x = x.permute(*range(nb), nb, nb + 3, nb + 1, nb + 4, nb + 2)
    return x.reshape(*batch, oc, h * r, w * r)


def pixel_unshuffle(input, downscale_factor):
    r = downscale_factor
    _check_shuffle_input("pixel_unshuffle", input, r, "downscale_factor")
    *batch, c, h, w = input.shape
    if h % r or w % r:
        raise RuntimeError(f"pixel_unshuffle expects height to be divisible by downscale_factor, but input.size(-2)={h}"
                           f" is not divisible by {r}" if h % r else
                           f"pixel_unshuffle expects width to be divisible by downscale_factor, but input.size(-1)={w}"
                           f" is not divisible by {r}")
    if input.numel() == 0:  # PyTorch returns an empty input's copy, unshuffled
        return input.clone()
    x = input.reshape(*batch, c, h // r, r, w // r, r)
    nb = len(batch)
    x = x.permute(*range(nb), nb, nb + 2, nb + 4, nb + 1, nb + 3)
    return x.reshape(*batch, c * r * r, h // r, w // r)


def channel_shuffle(input, groups):
    if input.ndim <= 2:
        raise RuntimeError(f"channel_shuffle expects input with > 2 dims, but got input with sizes {list(input.shape)}")
    if groups <= 0:
        raise RuntimeError(f"Number of groups to divide channels in must be positive. Value of groups:{groups}")
    n, c = input.shape[:2]
    if c % groups:
        raise RuntimeError(f"Number of channels must be divisible by groups. Got {c} channels and {groups} groups.")
    rest = input.shape[2:]
    return input.reshape(n, groups, c // groups, *rest).transpose(1, 2).reshape(n, c, *rest)


native_channel_shuffle = channel_shuffle


def affine_grid(theta, size, align_corners=None):
    """Sampling grid (N, H, W, 2) or (N, D, H, W, 3) of the affine maps ``theta`` over [-1, 1] coordinates."""
    if align_corners is None:
        user_warning("Default grid_sample and affine_grid behavior has changed to align_corners=False since 1.3.0. "
                     "Please specify align_corners=True if the old behavior is desired. See the documentation of "
                     "grid_sample for details.")
        align_corners = False
    if not theta.dtype.is_floating_point:
        raise ValueError(f"Expected theta to have floating point type, but got {theta.dtype}")
    spatial = list(size[2:])
    nd = len(spatial)
    if nd not in (2, 3):
        raise NotImplementedError(f"affine_grid only supports 4D and 5D sizes, for 2D and 3D affine transforms, "
                                  f"respectively. Got size {size}.")
    if theta.ndim != 3 or tuple(theta.shape[1:]) != (nd, nd + 1):
        raise ValueError(f"Expected a batch of {nd}D affine matrices of shape Nx{nd}x{nd + 1} for size {size}. "
                         f"Got {theta.shape}.")
    if not (align_corners and min(spatial) == 1) and min(size) <= 0:
        raise ValueError(f"Expected non-zero, positive output size. Got {size}")
    if theta.shape[0] != size[0]:  # PyTorch's base grid of size[0] samples meets theta in a bmm
        raise RuntimeError(f"Expected size for first two dimensions of batch2 tensor to be: [{size[0]}, {nd + 1}] "
                           f"but got: [{theta.shape[0]}, {nd + 1}].")

    coords = np.meshgrid(*[_base_grid_axis(n, align_corners, theta.dtype) for n in spatial], indexing="ij")
    base = np.stack(list(reversed(coords)) + [np.ones(spatial)], axis=-1)  # (..., x, y[, z], 1), slowest dim first
    base = base.reshape(-1, nd + 1).astype(dtype_of(theta))
    grid = wrap(_apply_affine(base, array(theta)).reshape(theta.shape[0], *spatial, nd))
    if needs_grad(theta):
        node = AffineGridGeneratorBackward0()
        node.base = wrap(base)
        record(node, (theta,), (grid,))
    return grid


def _apply_affine(base, theta):
    """(N, points, nd): each point of ``base`` (points, nd + 1; its last coordinate 1) through each theta, with
    PyTorch's float rounding: its product over nd + 1 terms rounds each multiply and add (no fused multiply-add)."""
    grid = base[None, :, 0, None] * theta[:, None, :, 0]
    for k in range(1, base.shape[1] - 1):
        grid = grid + base[None, :, k, None] * theta[:, None, :, k]
    return grid + theta[:, None, :, -1]


class AffineGridGeneratorBackward0(Node):
    def backward(self, grad):
        n, nd = grad.shape[0], grad.shape[-1]
        # d theta[n, j, k] = sum over points of grad[n, p, j] * base[p, k] (PyTorch's affine_grid_generator_backward)
        grad_theta = self.base.t().matmul(grad.reshape(n, -1, nd))
        return (grad_theta.transpose(1, 2),)


def _base_grid_axis(n, align_corners, dtype):
    """PyTorch's linspace_from_neg_one in theta's dtype, rounding as it does: a point one ulp off a pixel centre
    floors to the other pixel, and grid_sample's gradient with respect to the grid jumps there."""
    if n <= 1:
        return np.zeros(max(n, 1), dtype=dtype.np)
    steps = creation.linspace(-1.0, 1.0, n, dtype=dtype)
    return array(steps if align_corners else steps * (n - 1) / n)


def _unnormalize(coord, size, align_corners):
    # PyTorch's exact operation order: points on pixel centres must floor the same way
    if align_corners:
        return ((coord + 1) / 2) * (size - 1)
    return ((coord + 1) * size - 1) / 2


def _check_grid_sampler(input, grid):
    """PyTorch's grid_sampler checks, in its order: batch sizes, grid's last dim, spatial sizes, ranks, dtype."""
    if input.ndim == 0 or grid.ndim == 0:
        raise IndexError("Dimension specified as 0 but tensor has no dimensions")
    sizes = f"input with sizes {list(input.shape)} and grid with sizes {list(grid.shape)}"
    if input.shape[0] != grid.shape[0]:
        raise RuntimeError(f"grid_sampler(): expected grid and input to have same batch size, but got {sizes}")
    if grid.shape[-1] != input.ndim - 2:
        raise RuntimeError(f"grid_sampler(): expected grid to have size {input.ndim - 2} in last dimension, but got "
                           f"grid with sizes {list(grid.shape)}")
    for i in range(2, input.ndim):
        if input.shape[i] <= 0:
            raise RuntimeError("grid_sampler(): expected input to have non-empty spatial dimensions, but input has "
                               f"sizes {list(input.shape)} with dimension {i} being empty")
    rank = 4 if input.ndim == 4 else 5
    if input.ndim != rank or grid.ndim != rank:
        raise RuntimeError(f"grid_sampler(): expected {rank}D input and grid with same number of dimensions, but got "
                           f"{sizes}")
    require_float_kernel("grid_sampler_2d_cpu_kernel_impl" if rank == 4 else "grid_sampler3d_cpu", input.dtype)


@float32_policy
def grid_sample(input, grid, mode="bilinear", padding_mode="zeros", align_corners=None):
    """2-D sampling of ``input`` (N, C, H, W) at ``grid`` (N, Ho, Wo, 2) points in [-1, 1]; differentiable in both.

    Modes 'bilinear', 'nearest' and 'bicubic', padding 'zeros', 'border' and 'reflection' (3-D inputs are not
    implemented).
    """
    if mode not in ("bilinear", "nearest", "bicubic"):
        raise ValueError(f"nn.functional.grid_sample(): expected mode to be 'bilinear', 'nearest' or 'bicubic', but "
                         f"got: '{mode}'")
    if padding_mode not in ("zeros", "border", "reflection"):
        raise ValueError(f"nn.functional.grid_sample(): expected padding_mode to be 'zeros', 'border', or "
                         f"'reflection', but got: '{padding_mode}'")
    if align_corners is None:
        user_warning("Default grid_sample and affine_grid behavior has changed to align_corners=False since 1.3.0. "
                     "Please specify align_corners=True if the old behavior is desired. See the documentation of "
                     "grid_sample for details.")
        align_corners = False
    _check_grid_sampler(input, grid)
    if input.ndim == 5:
        return _grid_sample_3d(input, grid, mode, padding_mode, align_corners)
    n, c, h, w = input.shape
    ix = _unnormalize(grid[..., 0], w, align_corners)
    iy = _unnormalize(grid[..., 1], h, align_corners)
    sample = _grid_sampler(input, tuple(grid.shape[1:3]))
    if mode == "bicubic":  # the padding applies to each tap, not to the point (PyTorch's get_value_bounded)
        return _bicubic(sample, ix, iy, padding_mode, align_corners, (h, w))
    ix = _padded_coordinate(ix, w, padding_mode, align_corners)
    iy = _padded_coordinate(iy, h, padding_mode, align_corners)
    if mode == "nearest":
        vals, inside = sample(np.rint(array(ix)).astype(np.int64), np.rint(array(iy)).astype(np.int64))
        return _with_zero_grid_grad(vals * const(inside[:, None], input), grid)
    x0, y0 = np.floor(array(ix)).astype(np.int64), np.floor(array(iy)).astype(np.int64)
    wx1 = ix - const(x0, ix)
    wy1 = iy - const(y0, iy)
    wx0, wy0 = 1 - wx1, 1 - wy1
    out = None
    for xk, yk, wgt in ((x0, y0, wx0 * wy0), (x0 + 1, y0, wx1 * wy0), (x0, y0 + 1, wx0 * wy1),
                        (x0 + 1, y0 + 1, wx1 * wy1)):
        vals, inside = sample(xk, yk)
        term = vals * (wgt * const(inside, wgt)).unsqueeze(1)
        out = term if out is None else out + term
    return out


class _ZeroGridGrad(Node):
    """Links a nearest sample to its grid: PyTorch's grid gradient there is zeros, not None."""

    def name(self):
        return "GridSampler2DBackward0" if self.rank == 4 else "GridSampler3DBackward0"

    def backward(self, grad):
        return grad, creation.zeros(self.grid_shape, dtype=grad.dtype)


def _with_zero_grid_grad(out, grid):
    if not needs_grad(grid):
        return out
    result = wrap(array(out))
    node = _ZeroGridGrad()
    node.rank, node.grid_shape = grid.ndim, tuple(grid.shape)
    record(node, (out, grid), (result,))
    return result


def _grid_sample_3d(input, grid, mode, padding_mode, align_corners):
    """Volumetric sampling of ``input`` (N, C, D, H, W) at ``grid`` (N, Do, Ho, Wo, 3) (x, y, z) points:
    trilinear (mode 'bilinear') or nearest, each coordinate padded as in 2-D."""
    if mode == "bicubic":
        raise RuntimeError("grid_sampler(): bicubic interpolation only supports 4D input")
    sizes = tuple(input.shape[2:])  # D, H, W
    coords = [_padded_coordinate(_unnormalize(grid[..., k], sizes[2 - k], align_corners), sizes[2 - k], padding_mode,
                                 align_corners) for k in range(3)]  # x (W), y (H), z (D)
    out_shape = tuple(input.shape[:2]) + tuple(grid.shape[1:4])
    from ..._ops.nn import pool as nn_pool

    def sample(points):
        (xi, yi, zi), (d, h, w) = points, sizes
        inside = (xi >= 0) & (xi <= w - 1) & (yi >= 0) & (yi <= h - 1) & (zi >= 0) & (zi <= d - 1)
        idx = ((np.clip(zi, 0, d - 1) * h + np.clip(yi, 0, h - 1)) * w + np.clip(xi, 0, w - 1)).astype(np.int64)
        vals = nn_pool.take_spatial(input, np.broadcast_to(idx[:, None], out_shape).copy(), "GridSampler3DBackward0")
        return vals, inside
    if mode == "nearest":
        vals, inside = sample([np.rint(array(c)).astype(np.int64) for c in coords])
        return _with_zero_grid_grad(vals * const(inside[:, None], input), grid)
    low = [np.floor(array(c)).astype(np.int64) for c in coords]
    frac = [c - const(lo, c) for c, lo in zip(coords, low)]
    out = None
    for corner in range(8):
        bits = [(corner >> k) & 1 for k in range(3)]
        weight = None
        for k in range(3):
            term = frac[k] if bits[k] else 1 - frac[k]
            weight = term if weight is None else weight * term
        vals, inside = sample([lo + b for lo, b in zip(low, bits)])
        term = vals * (weight * const(inside, weight)).unsqueeze(1)
        out = term if out is None else out + term
    return out


def _grid_sampler(input, out_hw):
    """sample(xi, yi): input's values at the integer points (N, Ho, Wo) as (N, C, Ho, Wo), differentiable in input
    (0 outside, where the returned mask is False), and that mask."""
    from ..._ops.nn import pool as nn_pool
    n, c, h, w = input.shape
    out_shape = (n, c) + out_hw

    def sample(xi, yi):
        inside = (xi >= 0) & (xi <= w - 1) & (yi >= 0) & (yi <= h - 1)
        idx = (np.clip(yi, 0, h - 1) * w + np.clip(xi, 0, w - 1)).astype(np.int64)
        vals = nn_pool.take_spatial(input, np.broadcast_to(idx[:, None], out_shape).copy(), "GridSampler2DBackward0")
        return vals, inside
    return sample


def _padded_coordinate(coord, size, padding_mode, align_corners):
    """PyTorch's compute_coordinates: a source coordinate (tensor) clipped into the input ('border') or reflected
    about its edges, then clipped ('reflection'); differentiable as PyTorch's (slope 0 where clipped, -1 where
    reflected)."""
    if padding_mode == "border":
        return _clip(coord, size)
    if padding_mode == "reflection":
        twice_low, twice_high = (0, 2 * (size - 1)) if align_corners else (-1, 2 * size - 1)
        return _clip(_reflect(coord, twice_low, twice_high), size)
    return coord


def _clip(coord, size):
    """PyTorch's clip_coordinates_set_grad: clamped into [0, size - 1], the edges themselves counted as outside (no
    gradient there, where clamp's would pass it)."""
    values = array(coord)
    inside = const((values > 0) & (values < size - 1), coord).bool()
    return coord.where(inside, const(np.clip(values, 0, size - 1), coord))


def _reflect(coord, twice_low, twice_high):
    """PyTorch's reflect_coordinates: ``coord`` folded into [low, high] as by mirrors at both ends."""
    if twice_low == twice_high:
        return coord * 0
    low, span = twice_low / 2, (twice_high - twice_low) / 2
    distance = (coord - low).abs()
    flips = np.floor(array(distance) / span)
    extra = distance - const(flips * span, distance)
    return (span - extra).where(const(flips % 2 == 1, distance).bool(), extra) + low


def _bicubic(sample, ix, iy, padding_mode, align_corners, hw):
    """Bicubic sampling: 4 x 4 taps around each point, each tap's index padded, weighted by PyTorch's cubic
    convolution coefficients (A = -0.75) of the point's fractions."""
    h, w = hw
    x0, y0 = np.floor(array(ix)), np.floor(array(iy))
    wx = _cubic_weights(ix - const(x0, ix))
    wy = _cubic_weights(iy - const(y0, iy))
    out = None
    for j in range(4):
        row = None
        for i in range(4):
            vals, inside = sample(_padded_tap(x0 + i - 1, w, padding_mode, align_corners),
                                  _padded_tap(y0 + j - 1, h, padding_mode, align_corners))
            term = vals * (wx[i] * const(inside, ix)).unsqueeze(1)
            row = term if row is None else row + term
        term = row * wy[j].unsqueeze(1)
        out = term if out is None else out + term
    return out


def _padded_tap(index, size, padding_mode, align_corners):
    """A tap's integer index after the padding mode (NumPy; taps carry no gradient), truncated as PyTorch casts."""
    if padding_mode == "border":
        index = np.clip(index, 0, size - 1)
    elif padding_mode == "reflection":
        twice_low, twice_high = (0, 2 * (size - 1)) if align_corners else (-1, 2 * size - 1)
        if twice_low == twice_high:
            index = np.zeros_like(index)
        else:
            low, span = twice_low / 2, (twice_high - twice_low) / 2
            distance = np.abs(index - low)
            flips = np.floor(distance / span)
            extra = distance - flips * span
            index = np.clip(np.where(flips % 2 == 1, span - extra, extra) + low, 0, size - 1)
    return np.trunc(index).astype(np.int64)
