"""batch_norm, layer_norm, group_norm, instance_norm, rms_norm, local_response_norm, normalize."""
import math

import numpy as np

from ..._array_api import array, dtype_of
from ..._ops.nn import norm as nn_norm
from ._utils import const, require_float_kernel

__all__ = ["batch_norm", "layer_norm", "group_norm", "instance_norm", "rms_norm", "local_response_norm",
           "normalize"]


def _channel_shape(x):
    return (1, -1) + (1,) * (x.ndim - 2)


def _affine(out, weight, bias, shape):
    if weight is not None:
        out = out * weight.reshape(shape)
    if bias is not None:
        out = out + bias.reshape(shape)
    return out


def _widened(input):
    """float16/bfloat16 input as float32 (PyTorch normalises them in float32 and rounds the output once)."""
    return input.float() if input.is_floating_point() and input.element_size() == 2 else input


def _in_input_dtype(out, input):
    """PyTorch's CPU norms take float32 weights with a float16/bfloat16 input and answer in the input's
    dtype; the composed path's affine ops would promote to float32."""
    return out if out.dtype == input.dtype else out.to(input.dtype)


def _update_running(running, batch_value, momentum):
    """running = (1 - momentum) * running + momentum * batch_value, in place without autograd."""
    data = array(running)  # NumPy in place: no torsh op, so no graph to keep out
    data *= (1 - momentum)
    data += momentum * batch_value.astype(data.dtype, copy=False)
    running._version_counter[0] += 1


def _verify_batch_size(size, shown):
    """PyTorch's check that training-mode statistics have more than one value per channel."""
    if size[0] * math.prod(size[2:]) == 1:
        raise ValueError(f"Expected more than 1 value per channel when training, got input size {shown}")


def _check_eps(eps, training):
    if training and eps <= 0.0:
        raise ValueError(f"batch_norm eps must be positive during training, but got {eps}")
    if eps < 0.0:
        raise ValueError(f"batch_norm eps must be non-negative, but got {eps}")


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5):
    if training:
        _verify_batch_size(array(input).shape if input.ndim > 1 else (1,), input.shape)
    _check_eps(eps, training)
    if input.ndim < 2:
        raise ValueError(f"expected 2D or 3D input (got {input.ndim}D input)")
    channels = array(input).shape[1]
    for name, t in (("running_mean", running_mean), ("running_var", running_var), ("weight", weight),
                    ("bias", bias)):
        if t is not None and array(t).size != channels:
            raise RuntimeError(f"{name} should contain {channels} elements not {t.numel()}")
    if not training:  # eval normalises with the running statistics: both must be there (modules without them
        for name, t in (("running_mean", running_mean), ("running_var", running_var)):  # pass training=True)
            if t is None:
                raise RuntimeError(f"{name} must be defined in evaluation mode")
    require_float_kernel("batch_norm", input.dtype)  # PyTorch's CPU kernel: real floating dtypes only
    fused = (nn_norm.batch_norm_train(input, weight, bias, eps) if training or running_mean is None
             else nn_norm.batch_norm_eval(input, running_mean, running_var, weight, bias, eps))
    if fused is not None and not (training or running_mean is None):  # one op (and kernel) when dtypes allow
        return fused
    if fused is not None:
        out, mean, var = fused
        numel = array(input).size
        if training and running_mean is not None and numel:  # an empty batch leaves them as they are
            n = numel // channels
            _update_running(running_mean, mean, momentum)
            _update_running(running_var, var * n / max(n - 1, 1), momentum)
        return out
    shape = _channel_shape(input)
    if training or running_mean is None:
        axes = (0,) + tuple(range(2, input.ndim))
        out, mean, var = nn_norm.normalize(input, axes, eps, "NativeBatchNormBackward0")
        if training and running_mean is not None and input.numel():  # an empty batch leaves them as they are
            n = input.numel() // input.shape[1]
            _update_running(running_mean, mean.reshape(-1), momentum)
            _update_running(running_var, var.reshape(-1) * n / max(n - 1, 1), momentum)
    else:
        x = _widened(input)
        rstd = 1.0 / np.sqrt(array(running_var).astype(dtype_of(x)) + eps)
        out = (x - const(array(running_mean).reshape(shape), x)) * const(rstd.reshape(shape), x)
    return _in_input_dtype(_affine(out, weight, bias, shape), input)


def instance_norm(input, running_mean=None, running_var=None, weight=None, bias=None, use_input_stats=True,
                  momentum=0.1, eps=1e-5):
    if use_input_stats and math.prod(input.shape[2:]) == 1:
        raise ValueError(f"Expected more than 1 spatial element when training, got input size {input.shape}")
    require_float_kernel("batch_norm", input.dtype)  # PyTorch's instance_norm runs batch_norm
    shape = _channel_shape(input)
    if use_input_stats:
        axes = tuple(range(2, input.ndim))
        out, mean, var = nn_norm.normalize(input, axes, eps, "NativeBatchNormBackward0")
        if running_mean is not None:
            n = input.numel() // (input.shape[0] * input.shape[1])
            _update_running(running_mean, mean.reshape(input.shape[:2]).mean(0), momentum)
            _update_running(running_var, (var.reshape(input.shape[:2]) * n / max(n - 1, 1)).mean(0), momentum)
    else:
        x = _widened(input)
        rstd = 1.0 / np.sqrt(array(running_var).astype(dtype_of(x)) + eps)
        out = (x - const(array(running_mean).reshape(shape), x)) * const(rstd.reshape(shape), x)
    return _in_input_dtype(_affine(out, weight, bias, shape), input)


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    normalized_shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    k = len(normalized_shape)
    if tuple(input.shape[input.ndim - k:]) != normalized_shape or k > input.ndim:
        raise RuntimeError(f"Given normalized_shape={list(normalized_shape)}, expected input with shape "
                           f"[*, {', '.join(map(str, normalized_shape))}], but got input of size{list(input.shape)}")
    require_float_kernel("LayerNormKernelImpl", input.dtype)  # PyTorch's CPU kernel: real floating dtypes only
    fused = nn_norm.layer_norm(input, k, weight, bias, eps)  # one op (and kernel) when dtypes allow
    if fused is not None:
        return fused
    axes = tuple(range(input.ndim - k, input.ndim))
    out, _, _ = nn_norm.normalize(input, axes, eps, "NativeLayerNormBackward0")
    if weight is not None:
        out = out * weight
    if bias is not None:
        out = out + bias
    return _in_input_dtype(out, input)


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5):
    if input.ndim < 2:
        raise RuntimeError(f"Expected at least 2 dimensions for input tensor but received {input.ndim}")
    n, c = input.shape[:2]
    grouped_size = [n * c // num_groups, num_groups] + list(input.shape[2:])  # num_groups=0: ZeroDivisionError
    _verify_batch_size(grouped_size, grouped_size)
    if num_groups <= 0:
        raise RuntimeError(f"Expected num groups to be greater than 0, got {num_groups}")
    if c % num_groups:
        raise RuntimeError(f"Expected number of channels in input to be divisible by num_groups, but got input of "
                           f"shape {list(input.shape)} and num_groups={num_groups}")
    require_float_kernel("GroupNormKernelImpl", input.dtype)
    if input.numel():
        fused = nn_norm.group_norm(input, num_groups, weight, bias, eps)  # one op (and kernel) when dtypes allow
        if fused is not None:
            return fused
    grouped = input.reshape(n, num_groups, (c // num_groups) * math.prod(input.shape[2:]))  # no -1: n may be 0
    out, _, _ = nn_norm.normalize(grouped, (2,), eps, "NativeGroupNormBackward0")
    out = out.reshape(input.shape)
    return _in_input_dtype(_affine(out, weight, bias, _channel_shape(input)), input)


def rms_norm(input, normalized_shape, weight=None, eps=None):
    normalized_shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    if input.ndim < len(normalized_shape):
        raise ValueError(f"Input tensor must have at least {len(normalized_shape)} dimensions, but got {input.ndim}")
    require_float_kernel("rms_norm", input.dtype)
    dims = tuple(range(input.ndim - len(normalized_shape), input.ndim))
    if eps is None:
        eps = float(np.finfo(dtype_of(input)).eps)
    out = input * ((input * input).mean(dims, keepdim=True) + eps).rsqrt()
    if weight is not None:
        out = out * weight
    return out


def local_response_norm(input, size, alpha=1e-4, beta=0.75, k=1.0):
    from .pooling import avg_pool2d, avg_pool3d
    from .vision import pad
    dim = input.ndim
    if dim < 3:
        raise ValueError(f"Expected 3D or higher dimensionality{' ' * 26}input (got {dim} dimensions)")  # sic
    if input.numel() == 0:
        return input
    div = (input * input).unsqueeze(1)
    if dim == 3:
        div = pad(div, (0, 0, size // 2, (size - 1) // 2))
        div = avg_pool2d(div, (size, 1), stride=1).squeeze(1)
    else:
        sizes = input.shape
        div = div.reshape(sizes[0], 1, sizes[1], sizes[2], -1)
        div = pad(div, (0, 0, 0, 0, size // 2, (size - 1) // 2))
        div = avg_pool3d(div, (size, 1, 1), stride=1).squeeze(1)
        div = div.reshape(sizes)
    div = (div * alpha + k).pow(beta)
    return input / div


def normalize(input, p=2.0, dim=1, eps=1e-12, out=None):
    denom = input.norm(p, dim, keepdim=True).clamp_min(eps).expand_as(input)
    return input / denom
