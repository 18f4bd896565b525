"""Normalisation core: x_hat = (x - mean) / sqrt(var + eps) over some axes (biased variance).

Forward on NumPy; the backward re-derives mean and rstd from the saved input in torsh ops,
so second derivatives (e.g. gradient penalties through a LayerNorm) are exact. The affine
scale/shift is applied by the caller with ordinary broadcasting ops.
"""
import numpy as np

from .._tensor import wrap
from ..autograd.graph import Node, needs_grad, record


def moments_np(x, axes):
    mean = x.mean(axis=axes, keepdims=True)
    var = np.square(x - mean).mean(axis=axes, keepdims=True)
    return mean, var


class NormalizeBackward(Node):
    def __init__(self, name):
        super().__init__()
        self._name = name

    def name(self):
        return self._name

    def backward(self, grad):
        (x,) = self.saved_tensors
        axes, eps = self.axes, self.eps
        mean = x.mean(axes, keepdim=True)
        centered = x - mean
        rstd = ((centered * centered).mean(axes, keepdim=True) + eps).rsqrt()
        x_hat = centered * rstd
        g_mean = grad.mean(axes, keepdim=True)
        gx_mean = (grad * x_hat).mean(axes, keepdim=True)
        return ((grad - g_mean - x_hat * gx_mean) * rstd,)


def normalize(x, axes, eps, node_name="NativeLayerNormBackward0"):
    """(x - mean) / sqrt(var + eps) over ``axes``; also returns mean and biased var as arrays."""
    data = x._data
    mean, var = moments_np(data, axes)
    rstd = 1.0 / np.sqrt(var + eps)
    result = wrap(((data - mean) * rstd).astype(data.dtype, copy=False))
    if needs_grad(x):
        node = NormalizeBackward(node_name)
        node.axes, node.eps = axes, eps
        record(node, (x,), (result,))
        node.save_for_backward(x)
    return result, mean, var
