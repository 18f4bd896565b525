"""clip_grad_norm_, clip_grad_value_, get_total_norm, clip_grads_with_norm_."""
import math

import numpy as np

from ..._array_api import array, bump_version, dtype_of
from ..._tensor import Tensor, wrap

__all__ = ["clip_grad_norm_", "clip_grad_norm", "clip_grad_value_", "get_total_norm", "clip_grads_with_norm_"]


def _grads(parameters):
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    return [p.grad for p in parameters if p.grad is not None]


def get_total_norm(tensors, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    if isinstance(tensors, Tensor):
        tensors = [tensors]
    tensors = list(tensors)
    norm_type = float(norm_type)
    if not tensors:
        return wrap(np.array(0.0, dtype=np.float32))
    arrays = [array(t).astype(np.float64).ravel() for t in tensors]
    if norm_type == math.inf:
        total = max(float(np.abs(a).max()) if a.size else 0.0 for a in arrays)
    else:
        norms = [np.linalg.norm(a, norm_type) if a.size else 0.0 for a in arrays]
        total = float(np.linalg.norm(np.array(norms), norm_type))
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(f"The total norm of order {norm_type} for gradients from `parameters` is non-finite, so it "
                           "cannot be clipped. To disable this error and scale the gradients by the non-finite norm "
                           "anyway, set `error_if_nonfinite=False`")
    return wrap(np.array(total, dtype=dtype_of(tensors[0])))


def clip_grads_with_norm_(parameters, max_norm, total_norm, foreach=None):
    grads = _grads(parameters)
    clip_coef = float(max_norm) / (float(total_norm) + 1e-6)
    clip_coef_clamped = min(clip_coef, 1.0)
    for g in grads:
        values = array(g)
        values *= values.dtype.type(clip_coef_clamped)
        bump_version(g)


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """Scale gradients in place so their joint norm is at most ``max_norm``; returns the norm before clipping."""
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    parameters = list(parameters)
    grads = _grads(parameters)
    total_norm = get_total_norm(grads, norm_type, error_if_nonfinite, foreach)
    clip_grads_with_norm_(parameters, max_norm, total_norm, foreach)
    return total_norm


def clip_grad_norm(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    import warnings
    warnings.warn("`torch.nn.utils.clip_grad_norm` is now deprecated in favor of `torch.nn.utils.clip_grad_norm_`.",
                  FutureWarning, stacklevel=2)
    return clip_grad_norm_(parameters, max_norm, norm_type, error_if_nonfinite, foreach)


def clip_grad_value_(parameters, clip_value, foreach=None):
    clip_value = float(clip_value)
    for g in _grads(parameters):
        np.clip(array(g), -clip_value, clip_value, out=array(g))
        bump_version(g)
