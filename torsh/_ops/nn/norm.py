"""Normalisation core: x_hat = (x - mean) / sqrt(var + eps) over some axes (biased variance).

Forward on NumPy; the backward re-derives mean and rstd from the saved input in torsh ops,
so second derivatives (e.g. gradient penalties through a LayerNorm) are exact. The affine
scale/shift is applied by the caller with ordinary broadcasting ops.

``layer_norm`` is the exception: one op over the last dims with the affine folded in, running
on the ``norm`` kernel family when the dispatcher picks it.
"""
import math

import numpy as np

from ..._tensor import wrap
from ...autograd import grad_mode
from ...autograd.graph import Node, needs_grad, record
from ...backend import dispatch, kernels
from .._helpers import accumulation_array
from .conv import empty_aligned


def moments_np(x, axes):
    if x.size == 0:  # no values: NaN statistics, without NumPy's empty-slice warnings
        nan = np.full([1 if i in axes else s for i, s in enumerate(x.shape)], np.nan, dtype=x.dtype)
        return nan, nan
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
    """(x - mean) / sqrt(var + eps) over ``axes``; also returns mean and biased var as arrays (float32 for a
    float16/bfloat16 ``x``: PyTorch computes their statistics in float32 and rounds only the output)."""
    data = x._data
    work = accumulation_array(data)
    mean, var = moments_np(work, axes)
    rstd = 1.0 / np.sqrt(var + eps)
    result = wrap(((work - mean) * rstd).astype(data.dtype, copy=False))
    if needs_grad(x):
        node = NormalizeBackward(node_name)
        node.axes, node.eps = axes, eps
        record(node, (x,), (result,))
        node.save_for_backward(x)
    return result, mean, var


# -- layer_norm as one op (PyTorch's native_layer_norm): input, weight and bias in one node --------------
_BACKWARD_BLOCKS = 8  # runs of rows whose weight/bias gradient sums the backward adds up afterwards


def _float32_kernels(dtype):
    """The ``transformer`` family (float32 layer norm, AVX-512 where the CPU has it: one pass over each row per
    direction) for float32 rows, or None: float64 and a missing family take the ``norm`` family's kernels."""
    return kernels.get("transformer") if dtype == np.float32 else None


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
            rows = xd.shape[0]
            blocks = max(1, min(rows, _BACKWARD_BLOCKS))  # fixed: the same sums on any thread count
            gx = np.empty_like(xd)
            gw_part = np.empty((blocks, cols), dtype=xd.dtype)
            gb_part = np.empty((blocks, cols), dtype=xd.dtype)
            w = wd if wd is not None else np.ones(cols, dtype=xd.dtype)
            fused = _float32_kernels(xd.dtype)
            if fused is not None:
                fused.layer_norm_backward(gd, xd, np.ascontiguousarray(w), self.mean, self.rstd, gx, gw_part,
                                          gb_part, rows, cols, blocks, parallel)
            else:
                kernels.get("norm").layer_norm_backward_rows(gd, xd, w, self.mean, self.rstd,
                                                             xd.dtype.type(1 / cols), gx, gw_part, gb_part,
                                                             wd is not None, parallel)
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
        fused = _float32_kernels(dtype)
        if fused is not None:
            fused.layer_norm(x2, ww, bb, out, mean, rstd, x2.shape[0], cols, eps, parallel)
        else:
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


# -- batch_norm as one op (PyTorch's native_batch_norm): per-channel statistics over (N, spatial) -------------
def _same_float_dtype(input, *others):
    dtype = input._data.dtype
    return (dtype in dispatch._COMPILED_DTYPES and input._data.size > 0
            and all(t is None or t._data.dtype == dtype for t in others))


def _vector(t, n, dtype, fill):
    """The 1-D contiguous data of an optional per-channel tensor, or ``fill`` repeated when it is None."""
    if t is None:
        return np.full(n, fill, dtype=dtype)
    return np.ascontiguousarray(t._data).reshape(-1)


def batch_norm_np(x3, w, b, eps):
    """(out, mean, biased var, rstd) of training batch norm on an (N, C, S) array: the NumPy variant."""
    mean = x3.mean(axis=(0, 2))
    xc = x3 - mean[:, None]
    var = np.square(xc).mean(axis=(0, 2))
    rstd = 1 / np.sqrt(var + x3.dtype.type(eps))
    out = xc * (rstd if w is None else rstd * w)[:, None]
    if b is not None:
        out += b[:, None]
    return out, mean, var, rstd


def batch_norm_backward_np(g3, x3, w, mean, rstd):
    """(grad input, grad weight, grad bias) of training batch norm: the NumPy variant of the kernel."""
    inv_m = 1 / (x3.shape[0] * x3.shape[2])
    xc = x3 - mean[:, None]
    sg = g3.sum(axis=(0, 2))
    sgx = (g3 * xc).sum(axis=(0, 2))
    k1 = rstd if w is None else w * rstd
    k2 = -k1 * rstd * rstd * sgx * inv_m
    k3 = -k1 * sg * inv_m
    gx = g3 * k1[:, None] + xc * k2[:, None] + k3[:, None]
    return gx.astype(x3.dtype, copy=False), sgx * rstd, sg


def _batch_norm_on_helpers(dtype, spatial, parallel):
    """The conv_direct module when a training batch norm runs on its several-thread kernels (float32, spatial
    planes, the dispatcher's OpenMP tier), else None. Those hand the channels out one at a time on conv_direct's
    helper threads, whose caller does not wait for a helper not yet woken, where Pythran's OpenMP loop waited in
    its closing barrier; on one thread Pythran's kernels stay (faster on W12's 8 x 8 planes)."""
    module = kernels.get("conv_direct") if parallel and dtype == np.float32 and spatial > 1 else None
    return module


def _channel_axes(ndim):
    return (0,) + tuple(range(2, ndim))


class NativeBatchNormBackward0(Node):
    """Gradients of input, weight and bias of training-mode batch norm (batch statistics).

    Without ``create_graph`` one pass of the ``norm`` kernels (or their NumPy twin); with it, the
    formula in torsh ops, so higher derivatives stay exact."""

    def backward(self, grad):
        x, weight = self.saved_tensors
        if grad_mode.is_grad_enabled():
            return self._formula(x, weight, grad)
        data = x._data
        n, c = data.shape[:2]
        x3 = data.reshape(n, c, -1)
        g3 = np.ascontiguousarray(grad._data).reshape(n, c, -1)
        wd = None if weight is None else np.ascontiguousarray(weight._data).reshape(-1)
        dtype = data.dtype
        fits = data.flags.c_contiguous and g3.dtype == dtype

        def compiled(parallel):
            gx = empty_aligned(x3.shape, dtype)  # the convolution before reads it as gy (see empty_aligned)
            gw = np.empty(c, dtype=dtype)
            gb = np.empty(c, dtype=dtype)
            w = wd if wd is not None else np.ones(c, dtype=dtype)
            inv_m = dtype.type(1 / (n * x3.shape[2]))
            helpers = _batch_norm_on_helpers(dtype, x3.shape[2], parallel)
            if helpers is not None:
                helpers.batch_norm_backward(g3, x3, w, self.mean, self.rstd, gx, gw, gb, n, c, x3.shape[2], True)
            elif x3.shape[2] == 1:
                kernels.get("norm").batch_norm_backward_2d(g3[:, :, 0], x3[:, :, 0], w, self.mean, self.rstd, inv_m,
                                                           gx[:, :, 0], gw, gb)
            else:
                kernels.get("norm").batch_norm_backward(g3.reshape(n * c, -1), x3.reshape(n * c, -1), w, self.mean,
                                                        self.rstd, inv_m, gx.reshape(n * c, -1), gw, gb, parallel)
            return gx, gw, gb

        gx, gw, gb = dispatch.call("batch_norm_backward", data.size, dtype, fits, compiled,
                                   lambda: batch_norm_backward_np(g3, x3, wd, self.mean, self.rstd))
        return (wrap(gx.reshape(data.shape)),
                None if weight is None else wrap(gw.reshape(weight.shape)),
                wrap(gb.reshape(weight.shape if weight is not None else (c,))) if self.has_bias else None)

    def _formula(self, x, weight, grad):
        axes = _channel_axes(x.ndim)
        shape = (1, -1) + (1,) * (x.ndim - 2)
        mean = x.mean(axes, keepdim=True)
        centered = x - mean
        rstd = ((centered * centered).mean(axes, keepdim=True) + self.eps).rsqrt()
        x_hat = centered * rstd
        g_hat = grad if weight is None else grad * weight.reshape(shape)
        gx = (g_hat - g_hat.mean(axes, keepdim=True) - x_hat * (g_hat * x_hat).mean(axes, keepdim=True)) * rstd
        gw = None if weight is None else (grad * x_hat).sum(axes).reshape(weight.shape)
        gb = grad.sum(axes) if self.has_bias else None
        return gx, gw, gb

    def _on_release(self):
        self.mean = self.rstd = None


def batch_norm_train(input, weight, bias, eps):
    """Training-mode batch norm as one op: (output, batch mean, biased batch var) with the mean and var
    as (C,) arrays for the running-stat update; None when the dtypes are not all one of float32/float64
    (the caller then composes it from normalize and the affine ops)."""
    if input.ndim < 2 or not _same_float_dtype(input, weight, bias):
        return None
    data = input._data
    dtype = data.dtype
    n, c = data.shape[:2]
    x3 = data.reshape(n, c, -1)
    w = None if weight is None else np.ascontiguousarray(weight._data).reshape(-1)
    b = None if bias is None else np.ascontiguousarray(bias._data).reshape(-1)

    def compiled(parallel):
        out = empty_aligned(x3.shape, dtype)
        mean, var, rstd = np.empty(c, dtype=dtype), np.empty(c, dtype=dtype), np.empty(c, dtype=dtype)
        ww = w if w is not None else np.ones(c, dtype=dtype)
        bb = b if b is not None else np.zeros(c, dtype=dtype)
        inv_m = dtype.type(1 / (n * x3.shape[2]))
        helpers = _batch_norm_on_helpers(dtype, x3.shape[2], parallel)
        if helpers is not None:
            helpers.batch_norm_train(x3, ww, bb, out, mean, var, rstd, n, c, x3.shape[2], eps, True)
        elif x3.shape[2] == 1:
            kernels.get("norm").batch_norm_train_2d(x3[:, :, 0], ww, bb, dtype.type(eps), inv_m, out[:, :, 0], mean,
                                                    var, rstd)
        else:
            kernels.get("norm").batch_norm_train(x3.reshape(n * c, -1), ww, bb, dtype.type(eps), inv_m,
                                                 out.reshape(n * c, -1), mean, var, rstd, parallel)
        return out, mean, var, rstd

    out, mean, var, rstd = dispatch.call("batch_norm", data.size, dtype, data.flags.c_contiguous, compiled,
                                         lambda: batch_norm_np(x3, w, b, eps))
    result = wrap(out.reshape(data.shape))
    if needs_grad(input, weight, bias):
        node = NativeBatchNormBackward0()
        node.eps, node.has_bias = eps, bias is not None
        node.mean, node.rstd = mean, rstd
        record(node, (input, weight, bias), (result,))
        node.save_for_backward(input, weight)
    return result, mean, var


class BatchNormEvalBackward(Node):
    """Eval-mode batch norm: out = x * scale + shift with scale = w / sqrt(running_var + eps); the
    gradients are linear in ``grad`` and written in torsh ops (exact higher derivatives)."""

    def name(self):
        return "NativeBatchNormBackward0"

    def backward(self, grad):
        x, weight = self.saved_tensors
        axes = _channel_axes(x.ndim)
        shape = (1, -1) + (1,) * (x.ndim - 2)
        gx = grad * wrap(self.rstd.reshape(shape))
        if weight is not None:
            gx = gx * weight.reshape(shape)  # through torsh ops: d(gx)/d(weight) for double backward
        gw = None
        if weight is not None:
            x_hat = (x - wrap(self.running_mean.reshape(shape))) * wrap(self.rstd.reshape(shape))
            gw = (grad * x_hat).sum(axes).reshape(weight.shape)
        gb = grad.sum(axes) if self.has_bias else None
        return gx, gw, gb

    def _on_release(self):
        self.rstd = self.running_mean = None


def channel_affine_np(x3, scale, shift):
    return x3 * scale[:, None] + shift[:, None]


def batch_norm_eval(input, running_mean, running_var, weight, bias, eps):
    """Eval-mode batch norm (running statistics) as one op, or None when the dtypes don't allow it."""
    if input.ndim < 2 or not _same_float_dtype(input, weight, bias):
        return None
    data = input._data
    dtype = data.dtype
    n, c = data.shape[:2]
    x3 = data.reshape(n, c, -1)
    # in place on fresh arrays of the input's dtype: batch-1 inference calls this per layer and image
    rstd = running_var._data.reshape(-1).astype(dtype)
    rstd += eps
    np.reciprocal(np.sqrt(rstd, out=rstd), out=rstd)
    scale = rstd if weight is None else rstd * weight._data.reshape(-1)
    shift = np.multiply(running_mean._data.reshape(-1), scale, dtype=dtype)
    np.negative(shift, out=shift)
    if bias is not None:
        shift += bias._data.reshape(-1)

    def compiled(parallel):
        out = np.empty_like(x3)
        kernels.get("norm").channel_affine(x3.reshape(n * c, -1), scale, shift, out.reshape(n * c, -1), parallel)
        return out

    out = dispatch.call("batch_norm_eval", data.size, dtype, data.flags.c_contiguous and x3.shape[2] > 1, compiled,
                        lambda: channel_affine_np(x3, scale, shift))
    result = wrap(out.reshape(data.shape))
    if needs_grad(input, weight, bias):
        node = BatchNormEvalBackward()
        node.has_bias, node.rstd, node.running_mean = bias is not None, rstd, running_mean._data.reshape(-1).astype(dtype)
        record(node, (input, weight, bias), (result,))
        node.save_for_backward(input, weight)
    return result


# -- group_norm as one op (PyTorch's native_group_norm): statistics per (sample, group), affine per channel -----
def group_norm_np(x3, w2, b2, eps, groups):
    """(out, mean, rstd) of group norm on an (N * G, C / G, S) array: the NumPy variant of the kernel."""
    mean = x3.mean(axis=(1, 2))
    xc = x3 - mean[:, None, None]
    rstd = 1 / np.sqrt(np.square(xc).mean(axis=(1, 2)) + x3.dtype.type(eps))
    out = xc * rstd[:, None, None]
    shape = (-1, groups) + x3.shape[1:]
    out = out.reshape(shape)
    if w2 is not None:
        out *= w2[:, :, None]
    if b2 is not None:
        out += b2[:, :, None]
    return out.reshape(x3.shape), mean, rstd


def group_norm_backward_np(g3, x3, w2, mean, rstd, groups):
    """(grad input, grad weight, grad bias) of group norm, weight/bias gradients as (C,)."""
    inv_m = 1 / (x3.shape[1] * x3.shape[2])
    xc = x3 - mean[:, None, None]
    sg = g3.sum(axis=2)  # (N * G, C / G)
    sgx = (g3 * xc).sum(axis=2)
    n = x3.shape[0] // groups
    gw = (sgx * rstd[:, None]).reshape(n, -1).sum(0)
    gb = sg.reshape(n, -1).sum(0)
    w = np.ones((groups, x3.shape[1]), dtype=x3.dtype) if w2 is None else w2
    wr = np.broadcast_to(w[None], (n, groups, x3.shape[1])).reshape(x3.shape[:2])
    a1 = (wr * sg).sum(1)
    a2 = (wr * sgx).sum(1)
    k2 = -rstd ** 3 * a2 * inv_m
    k3 = -rstd * a1 * inv_m
    gx = g3 * (wr * rstd[:, None])[:, :, None] + xc * k2[:, None, None] + k3[:, None, None]
    return gx.astype(x3.dtype, copy=False), gw, gb


class NativeGroupNormBackward0(Node):
    def backward(self, grad):
        x, weight = self.saved_tensors
        if grad_mode.is_grad_enabled():
            return self._formula(x, weight, grad)
        data = x._data
        n, c = data.shape[:2]
        groups = self.groups
        x3 = data.reshape(n * groups, c // groups, -1)
        g3 = np.ascontiguousarray(grad._data).reshape(x3.shape)
        w2 = None if weight is None else np.ascontiguousarray(weight._data).reshape(groups, -1)
        dtype = data.dtype
        fits = data.flags.c_contiguous and g3.dtype == dtype

        def compiled(parallel):
            gx = np.empty_like(x3)
            gw_part = np.empty(n * c, dtype=dtype)
            gb_part = np.empty(n * c, dtype=dtype)
            w = w2.reshape(-1) if w2 is not None else np.ones(c, dtype=dtype)
            kernels.get("norm").group_norm_backward_rows(g3.reshape(n * c, -1), x3.reshape(n * c, -1), w, self.mean,
                                                         self.rstd, dtype.type(1 / (x3.shape[1] * x3.shape[2])),
                                                         gx.reshape(n * c, -1), gw_part, gb_part, parallel)
            return gx, gw_part.reshape(n, c).sum(0), gb_part.reshape(n, c).sum(0)

        gx, gw, gb = dispatch.call("group_norm_backward", data.size, dtype, fits, compiled,
                                   lambda: group_norm_backward_np(g3, x3, w2, self.mean, self.rstd, groups))
        return (wrap(gx.reshape(data.shape)),
                None if weight is None else wrap(gw.reshape(weight.shape)),
                wrap(gb) if self.has_bias else None)

    def _formula(self, x, weight, grad):
        n, c = x.shape[:2]
        shape = (1, -1) + (1,) * (x.ndim - 2)
        xg = x.reshape(n, self.groups, -1)
        mean = xg.mean(2, keepdim=True)
        centered = xg - mean
        rstd = ((centered * centered).mean(2, keepdim=True) + self.eps).rsqrt()
        x_hat = centered * rstd
        g_hat = (grad if weight is None else grad * weight.reshape(shape)).reshape(n, self.groups, -1)
        gx = (g_hat - g_hat.mean(2, keepdim=True) - x_hat * (g_hat * x_hat).mean(2, keepdim=True)) * rstd
        axes = _channel_axes(x.ndim)
        gw = None if weight is None else (grad * x_hat.reshape(x.shape)).sum(axes).reshape(weight.shape)
        gb = grad.sum(axes) if self.has_bias else None
        return gx.reshape(x.shape), gw, gb

    def _on_release(self):
        self.mean = self.rstd = None


def group_norm(input, num_groups, weight, bias, eps):
    """group_norm as one op, or None when the dtypes are not all one of float32/float64."""
    if not _same_float_dtype(input, weight, bias):
        return None
    data = input._data
    dtype = data.dtype
    n, c = data.shape[:2]
    x3 = data.reshape(n * num_groups, c // num_groups, -1)
    w2 = None if weight is None else np.ascontiguousarray(weight._data).reshape(num_groups, -1)
    b2 = None if bias is None else np.ascontiguousarray(bias._data).reshape(num_groups, -1)

    def compiled(parallel):
        out = np.empty_like(x3)
        mean = np.empty(x3.shape[0], dtype=dtype)
        rstd = np.empty(x3.shape[0], dtype=dtype)
        ww = w2.reshape(-1) if w2 is not None else np.ones(c, dtype=dtype)
        bb = b2.reshape(-1) if b2 is not None else np.zeros(c, dtype=dtype)
        kernels.get("norm").group_norm_rows(x3.reshape(n * c, -1), ww, bb, dtype.type(eps),
                                            dtype.type(1 / (x3.shape[1] * x3.shape[2])), out.reshape(n * c, -1), mean,
                                            rstd, parallel)
        return out, mean, rstd

    out, mean, rstd = dispatch.call("group_norm", data.size, dtype, data.flags.c_contiguous, compiled,
                                    lambda: group_norm_np(x3, w2, b2, eps, num_groups))
    result = wrap(out.reshape(data.shape))
    if needs_grad(input, weight, bias):
        node = NativeGroupNormBackward0()
        node.groups, node.eps, node.has_bias = num_groups, eps, bias is not None
        node.mean, node.rstd = mean, rstd
        record(node, (input, weight, bias), (result,))
        node.save_for_backward(input, weight)
    return result
