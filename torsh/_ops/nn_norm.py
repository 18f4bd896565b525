"""Normalisation core: x_hat = (x - mean) / sqrt(var + eps) over some axes (biased variance).

Forward on NumPy; the backward re-derives mean and rstd from the saved input in torsh ops,
so second derivatives (e.g. gradient penalties through a LayerNorm) are exact. The affine
scale/shift is applied by the caller with ordinary broadcasting ops.

``layer_norm`` is the exception: one op over the last dims with the affine folded in, running
on the ``norm`` kernel family when the dispatcher picks it.
"""
import math

import numpy as np

from .._tensor import wrap
from ..autograd import grad_mode
from ..autograd.graph import Node, needs_grad, record
from ..backend import dispatch, kernels


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


# -- layer_norm as one op (PyTorch's native_layer_norm): input, weight and bias in one node --------------
class NativeLayerNormBackward0(Node):
    """Gradients of input, weight and bias from the saved input, weight and per-row mean/rstd.

    Without ``create_graph`` this is one pass of the ``norm`` kernel family (or its NumPy
    twin); with it, the same formula in torsh ops, so higher derivatives stay exact."""

    def backward(self, grad):
        x, weight = self.saved_tensors
        if grad_mode.is_grad_enabled():
            return self._formula(x, weight, grad)
        cols = self.cols
        xd = x._data.reshape(-1, cols)
        gd = np.ascontiguousarray(grad._data).reshape(-1, cols)
        wd = None if weight is None else weight._data.reshape(-1)
        fits = x._data.flags.c_contiguous and gd.dtype == xd.dtype

        def compiled(parallel):
            from ..backend import threads
            blocks = max(1, min(xd.shape[0], 4 * threads.get_num_threads() if parallel else 1))
            gx = np.empty_like(xd)
            gw_part = np.empty((blocks, cols), dtype=xd.dtype)
            gb_part = np.empty((blocks, cols), dtype=xd.dtype)
            w = wd if wd is not None else np.ones(cols, dtype=xd.dtype)
            kernels.get("norm").layer_norm_backward_rows(gd, xd, w, self.mean, self.rstd, xd.dtype.type(1 / cols),
                                                         gx, gw_part, gb_part, wd is not None, parallel)
            return gx, gw_part.sum(0), gb_part.sum(0)

        gx, gw, gb = dispatch.call("layer_norm_backward", xd.size, xd.dtype, fits, compiled,
                                   lambda: layer_norm_backward_np(gd, xd, wd, self.mean, self.rstd))
        shape = x._data.shape[x._data.ndim - self.k:]
        return (wrap(gx.reshape(x._data.shape)),
                None if weight is None else wrap(gw.reshape(shape)),
                wrap(gb.reshape(shape)) if self.has_bias else None)

    def _formula(self, x, weight, grad):
        axes = tuple(range(x.ndim - self.k, x.ndim))
        mean = x.mean(axes, keepdim=True)
        centered = x - mean
        rstd = ((centered * centered).mean(axes, keepdim=True) + self.eps).rsqrt()
        x_hat = centered * rstd
        g_hat = grad if weight is None else grad * weight
        gx = (g_hat - g_hat.mean(axes, keepdim=True) - x_hat * (g_hat * x_hat).mean(axes, keepdim=True)) * rstd
        shape = tuple(x.shape[x.ndim - self.k:])
        gw = None if weight is None else (grad * x_hat).reshape(-1, *shape).sum(0)
        gb = grad.reshape(-1, *shape).sum(0) if self.has_bias else None
        return gx, gw, gb

    def _on_release(self):
        self.mean = self.rstd = None


def layer_norm_np(x2, w, b, eps):
    """(out, mean, rstd) of layer norm over the rows of ``x2``: the NumPy variant of the kernel."""
    mean = x2.mean(axis=1)
    rstd = 1 / np.sqrt(np.square(x2 - mean[:, None]).mean(axis=1) + x2.dtype.type(eps))
    out = (x2 - mean[:, None]) * rstd[:, None]
    if w is not None:
        out *= w
    if b is not None:
        out += b
    return out, mean, rstd


def layer_norm_backward_np(gd, xd, w, mean, rstd):
    """(grad input, grad weight, grad bias) over rows: the NumPy variant of the backward kernel."""
    x_hat = (xd - mean[:, None]) * rstd[:, None]
    g_hat = gd if w is None else gd * w
    gx = (g_hat - g_hat.mean(1, keepdims=True) - x_hat * (g_hat * x_hat).mean(1, keepdims=True)) * rstd[:, None]
    return gx, (gd * x_hat).sum(0), gd.sum(0)


def layer_norm(input, k, weight, bias, eps):
    """layer_norm over the last ``k`` dims as one op, or None when its dtypes are not all one of
    float32/float64 (the caller then composes it from normalize and the affine ops)."""
    data = input._data
    dtype = data.dtype
    if dtype not in dispatch._COMPILED_DTYPES or data.size == 0 or any(
            t is not None and t._data.dtype != dtype for t in (weight, bias)):
        return None
    cols = math.prod(data.shape[data.ndim - k:])
    x2 = data.reshape(-1, cols)
    w = None if weight is None else np.ascontiguousarray(weight._data).reshape(-1)
    b = None if bias is None else np.ascontiguousarray(bias._data).reshape(-1)

    def compiled(parallel):
        out = np.empty_like(x2)
        mean = np.empty(x2.shape[0], dtype=dtype)
        rstd = np.empty(x2.shape[0], dtype=dtype)
        affine = w is not None or b is not None
        ww = w if w is not None else np.ones(cols, dtype=dtype)
        bb = b if b is not None else np.zeros(cols, dtype=dtype)
        kernels.get("norm").layer_norm_rows(x2, ww, bb, dtype.type(eps), dtype.type(1 / cols), out, mean, rstd,
                                            affine, parallel)
        return out, mean, rstd

    out, mean, rstd = dispatch.call("layer_norm", data.size, dtype, data.flags.c_contiguous, compiled,
                                    lambda: layer_norm_np(x2, w, b, eps))
    result = wrap(out.reshape(data.shape))
    if needs_grad(input, weight, bias):
        node = NativeLayerNormBackward0()
        node.k, node.cols, node.eps, node.has_bias = k, cols, eps, bias is not None
        node.mean, node.rstd = mean, rstd
        record(node, (input, weight, bias), (result,))
        node.save_for_backward(input, weight)
    return result
