"""nn.init: in-place initialisers with PyTorch's fan and gain rules.

Random streams are torsh's (NumPy PCG64), so values differ from PyTorch's bit for bit;
the distributions are the same.
"""
import functools
import math
import warnings

import numpy as np

from .. import _random
from .._array_api import array, write

__all__ = ["calculate_gain", "uniform_", "normal_", "trunc_normal_", "constant_", "ones_", "zeros_", "eye_",
           "dirac_", "xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_", "orthogonal_",
           "sparse_"]


def calculate_gain(nonlinearity, param=None):
    linear_fns = ["linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d"]
    if nonlinearity in linear_fns or nonlinearity == "sigmoid":
        return 1
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            negative_slope = 0.01
        elif not isinstance(param, bool) and isinstance(param, (int, float)):
            negative_slope = param
        else:
            raise ValueError(f"negative_slope {param} not a valid number")
        return math.sqrt(2.0 / (1 + negative_slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"Unsupported nonlinearity {nonlinearity}")


def _calculate_fan_in_and_fan_out(tensor):
    dimensions = tensor.dim()
    if dimensions < 2:
        raise ValueError("Fan in and fan out can not be computed for tensor with fewer than 2 dimensions")
    num_input_fmaps = tensor.size(1)
    num_output_fmaps = tensor.size(0)
    receptive_field_size = 1
    if tensor.dim() > 2:
        for s in tensor.shape[2:]:
            receptive_field_size *= s
    return num_input_fmaps * receptive_field_size, num_output_fmaps * receptive_field_size


def _calculate_correct_fan(tensor, mode):
    mode = mode.lower()
    valid_modes = ["fan_in", "fan_out"]
    if mode not in valid_modes:
        raise ValueError(f"Mode {mode} not supported, please use one of {valid_modes}")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def _keeps_meta(fn):
    """As PyTorch's initializers, nothing is written to a meta tensor (it has no data; nothing is drawn)."""
    @functools.wraps(fn)
    def init(tensor, *args, **kwargs):
        if tensor.is_meta:
            return tensor
        return fn(tensor, *args, **kwargs)
    return init


def _float(tensor):
    """The dtype PyTorch's samplers draw for ``tensor`` (integer tensors as float64, cast on write)."""
    np_dtype = array(tensor).dtype
    return np_dtype if np_dtype.kind == "f" or np_dtype.name == "bfloat16" else np.dtype(np.float64)


@_keeps_meta
def uniform_(tensor, a=0.0, b=1.0, generator=None):
    return write(tensor, _random.uniform(array(tensor).shape, _float(tensor), a, b, generator))


@_keeps_meta
def normal_(tensor, mean=0.0, std=1.0, generator=None):
    return write(tensor, _random.normal(array(tensor).shape, _float(tensor), mean, std, generator))


@_keeps_meta
def trunc_normal_(tensor, mean=0.0, std=1.0, a=-2.0, b=2.0, generator=None):
    """Normal(mean, std) truncated to [a, b] by rejection, as PyTorch 2.13 samples it (same draws): whole
    normal redraws for the rejected entries when [a, b] holds more than 30% of the mass, else uniform
    candidates on [a, b] accepted against the density's peak."""
    def norm_cdf(x):
        return (1.0 + math.erf(x / math.sqrt(2.0))) / 2.0
    if (mean < a - 2 * std) or (mean > b + 2 * std):
        warnings.warn("mean is more than 2 std from [a, b] in nn.init.trunc_normal_. "
                      "The distribution of values may be incorrect.", stacklevel=2)
    shape, np_dtype = array(tensor).shape, _float(tensor)
    if norm_cdf((b - mean) / std) - norm_cdf((a - mean) / std) > 0.3:
        lo, hi = np_dtype.type(a), np_dtype.type(b)  # the bounds as the tensor's dtype holds them
        result = _random.normal(shape, np_dtype, mean, std, generator)
        while (rejected := (result < lo) | (result > hi)).any():
            result = np.where(rejected, _random.normal(shape, np_dtype, mean, std, generator), result)
        return write(tensor, result)
    log_peak = -0.5 * ((max(a, min(mean, b)) - mean) / std) ** 2

    def log_density(x):
        return ((x - np_dtype.type(mean)) / np_dtype.type(std)) ** 2 * np_dtype.type(-0.5) - np_dtype.type(log_peak)

    def rejected(x):
        with np.errstate(divide="ignore"):
            return np.log(_random.uniform(shape, np_dtype, 0.0, 1.0, generator)) > log_density(x)
    result = _random.uniform(shape, np_dtype, a, b, generator)
    pending = rejected(result)
    while pending.any():
        candidates = _random.uniform(shape, np_dtype, a, b, generator)
        result = np.where(pending, candidates, result)
        pending = np.where(pending, rejected(candidates), pending)
    return write(tensor, result)


@_keeps_meta
def constant_(tensor, val):
    return write(tensor, val)


@_keeps_meta
def ones_(tensor):
    return write(tensor, 1)


@_keeps_meta
def zeros_(tensor):
    return write(tensor, 0)


@_keeps_meta
def eye_(tensor):
    if tensor.ndim != 2:
        raise ValueError("Only tensors with 2 dimensions are supported")
    return write(tensor, np.eye(*array(tensor).shape))


@_keeps_meta
def dirac_(tensor, groups=1):
    dimensions = tensor.ndim
    if dimensions not in [3, 4, 5]:
        raise ValueError("Only tensors with 3, 4, or 5 dimensions are supported")
    sizes = tensor.shape
    if sizes[0] % groups != 0:
        raise ValueError("dim 0 must be divisible by groups")
    out_chans_per_grp = sizes[0] // groups
    min_dim = min(out_chans_per_grp, sizes[1])
    values = np.zeros(array(tensor).shape)
    centre = tuple(s // 2 for s in sizes[2:])
    for g in range(groups):
        for d in range(min_dim):
            values[(g * out_chans_per_grp + d, d) + centre] = 1
    return write(tensor, values)


def xavier_uniform_(tensor, gain=1.0, generator=None):
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    a = math.sqrt(3.0) * std
    return uniform_(tensor, -a, a, generator)


def xavier_normal_(tensor, gain=1.0, generator=None):
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    return normal_(tensor, 0.0, std, generator)


def _kaiming_std(tensor, a, mode, nonlinearity):
    """He et al.'s standard deviation gain / sqrt(fan); None (after PyTorch's warning) for a zero-element tensor."""
    if 0 in tensor.shape:
        warnings.warn("Initializing zero-element tensors is a no-op", stacklevel=3)
        return None
    return calculate_gain(nonlinearity, a) / math.sqrt(_calculate_correct_fan(tensor, mode))


def kaiming_uniform_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    std = _kaiming_std(tensor, a, mode, nonlinearity)
    if std is None:
        return tensor
    bound = math.sqrt(3.0) * std
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    std = _kaiming_std(tensor, a, mode, nonlinearity)
    return tensor if std is None else normal_(tensor, 0.0, std, generator)


@_keeps_meta
def orthogonal_(tensor, gain=1, generator=None):
    if tensor.ndim < 2:
        raise ValueError("Only tensors with 2 or more dimensions are supported")
    if tensor.numel() == 0:
        return tensor
    rows = tensor.size(0)
    cols = tensor.numel() // rows
    flattened = _random.normal((rows, cols), _float(tensor), 0.0, 1.0, generator).astype(np.float64)
    if rows < cols:
        flattened = flattened.T
    q, r = np.linalg.qr(flattened)
    q *= np.sign(np.diag(r))
    if rows < cols:
        q = q.T
    return write(tensor, gain * q.reshape(array(tensor).shape))


@_keeps_meta
def sparse_(tensor, sparsity, std=0.01, generator=None):
    if tensor.ndim != 2:
        raise ValueError("Only tensors with 2 dimensions are supported")
    rows, cols = tensor.shape
    num_zeros = int(math.ceil(sparsity * rows))
    values = _random.normal((rows, cols), _float(tensor), 0.0, std, generator)
    for col_idx in range(cols):
        zero_indices = _random.permutation(rows, generator)[:num_zeros]
        values[zero_indices, col_idx] = 0
    return write(tensor, values)


def _no_underscore(name, fn):
    def deprecated(*args, **kwargs):
        warnings.warn(f"`nn.init.{name}` is now deprecated in favor of `nn.init.{name}_`.", FutureWarning, stacklevel=2)
        return fn(*args, **kwargs)
    deprecated.__name__ = name
    return deprecated


uniform = _no_underscore("uniform", uniform_)
normal = _no_underscore("normal", normal_)
constant = _no_underscore("constant", constant_)
eye = _no_underscore("eye", eye_)
dirac = _no_underscore("dirac", dirac_)
xavier_uniform = _no_underscore("xavier_uniform", xavier_uniform_)
xavier_normal = _no_underscore("xavier_normal", xavier_normal_)
kaiming_uniform = _no_underscore("kaiming_uniform", kaiming_uniform_)
kaiming_normal = _no_underscore("kaiming_normal", kaiming_normal_)
orthogonal = _no_underscore("orthogonal", orthogonal_)
sparse = _no_underscore("sparse", sparse_)
