"""dropout family: a Bernoulli keep-mask times 1/(1-p) (per element, or per channel for
dropout1d/2d/3d), multiplied in with an ordinary mul so autograd needs nothing special."""
import warnings

import numpy as np

from ..._array_api import array, dtype_of
from ... import _dtype, _random
from ..._ops._helpers import dtype_name
from ._utils import const

__all__ = ["dropout", "dropout1d", "dropout2d", "dropout3d", "alpha_dropout", "feature_alpha_dropout"]

_ALPHA = 1.7580993408473766  # SELU's alpha * scale


def _check_p(p):
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")


def _check_noise_dtype(input, p):
    """PyTorch draws the noise in the input's dtype and divides it by 1 - p in place (but p == 1 multiplies
    by zero): there is no Bernoulli kernel for complex, and an integer noise cannot hold the division."""
    if p == 1 or input.dtype.is_floating_point:
        return
    if input.dtype.is_complex:
        raise NotImplementedError(f'"bernoulli_scalar_cpu_" not implemented for \'{dtype_name(input.dtype)}\'')
    raise RuntimeError(f"result type Float can't be cast to the desired output type {dtype_name(input.dtype)}")


def _keep_mask(shape, p, dtype, like=None):
    """PyTorch's noise.bernoulli_(1 - p); for the whole input (``like``) in its memory order, as empty_like."""
    return _random.bernoulli(tuple(shape), 1.0 - p, layout=like).astype(dtype)


def _apply(input, mask, p, inplace):
    scale = 0.0 if p == 1 else 1.0 / (1.0 - p)
    out = input * const(mask * scale, input)
    return input.copy_(out) if inplace else out


def dropout(input, p=0.5, training=True, inplace=False):
    _check_p(p)
    if not training or p == 0:
        return input
    _check_noise_dtype(input, p)
    return _apply(input, _keep_mask(input.shape, p, dtype_of(input), array(input)), p, inplace)


def _feature_dropout(name, nd, input, p, training, inplace):
    _check_p(p)
    if input.ndim not in (nd + 1, nd + 2):
        raise RuntimeError(f"{name}: Expected {nd + 1}D or {nd + 2}D input, but received a {input.ndim}D input. Note "
                           f"that {name} exists to provide channel-wise dropout on inputs with {nd} spatial dimension, "
                           "a channel dimension, and an optional batch dimension (i.e. "
                           f"{nd + 1}D or {nd + 2}D inputs).")
    if not training or p == 0:
        return input
    _check_noise_dtype(input, p)
    lead = input.ndim - nd
    mask_shape = tuple(input.shape[:lead]) + (1,) * nd
    return _apply(input, _keep_mask(mask_shape, p, dtype_of(input)), p, inplace)


def dropout1d(input, p=0.5, training=True, inplace=False):
    return _feature_dropout("dropout1d", 1, input, p, training, inplace)


def dropout2d(input, p=0.5, training=True, inplace=False):
    _check_p(p)
    if input.ndim not in (3, 4):
        warnings.warn(f"dropout2d: Received a {input.ndim}-D input to dropout2d, which is deprecated and will result "
                      "in an error in a future release. To retain the behavior and silence this warning, please use "
                      "dropout instead. Note that dropout2d exists to provide channel-wise dropout on inputs with 2 "
                      "spatial dimensions, a channel dimension, and an optional batch dimension (i.e. 3D or 4D "
                      "inputs).", stacklevel=2)
    if input.ndim == 3:
        warnings.warn("dropout2d: Received a 3D input to dropout2d and assuming that channel-wise 1D dropout behavior "
                      "is desired - input is interpreted as shape (N, C, L), where C is the channel dim. This behavior "
                      "will change in a future release to interpret the input as one without a batch dimension, i.e. "
                      "shape (C, H, W). To maintain the 1D channel-wise dropout behavior, please switch to using "
                      "dropout1d instead.", stacklevel=2)
    if not training or p == 0:
        return input
    _check_noise_dtype(input, p)
    # PyTorch's feature_dropout: one draw per (dim 0, dim 1) pair, whatever the rank
    mask_shape = tuple(input.shape[:2]) + (1,) * (input.ndim - 2)
    return _apply(input, _keep_mask(mask_shape, p, dtype_of(input)), p, inplace)


def dropout3d(input, p=0.5, training=True, inplace=False):
    return _feature_dropout("dropout3d", 3, input, p, training, inplace)


def _alpha(input, mask, p, inplace):
    a = 1.0 / np.sqrt((_ALPHA * _ALPHA * p + 1) * (1 - p))
    b = (mask - 1) * (_ALPHA * a) + _ALPHA * a * p
    out = input * const(mask * a, input) + const(b, input)
    return input.copy_(out) if inplace else out


def _alpha_dropout(input, p, training, inplace, mask_shape):
    _check_p(p)
    if not training or p == 0:
        return input
    if p == 1:
        return input * 0
    # PyTorch's b = noise.add(-1).mul_(...): a bool noise turns Long there, and fails as Long
    _check_noise_dtype(input if input.dtype is not _dtype.bool else input.long(), p)
    return _alpha(input, _keep_mask(mask_shape, p, dtype_of(input)), p, inplace)


def alpha_dropout(input, p=0.5, training=False, inplace=False):
    return _alpha_dropout(input, p, training, inplace, tuple(input.shape))


def feature_alpha_dropout(input, p=0.5, training=False, inplace=False):
    # one draw per (sample, channel): whole feature maps are dropped
    return _alpha_dropout(input, p, training, inplace, tuple(input.shape[:2]) + (1,) * (input.ndim - 2))
