"""N-d convolution as im2col (sliding_window_view + one tensordot), and its two adjoints.

Three ops, each with a NumPy forward and a backward written in the other two, so every
order of derivative works:

* ``convolution(x, w, b)``               y[n,o,p]  = sum_{c,k} xpad[n,c,p*s+k*d] w[o,c,k] + b[o]
* ``conv_transpose(x, w, b)``            the adjoint of convolution in its input (col2im)
* ``conv_weight_grad(x, gy)``            the adjoint of convolution in its weight

``pads`` is a tuple of (low, high) zero paddings per spatial dim; ``groups`` splits the
channels. Backward nodes are named ``ConvolutionBackward0`` as in PyTorch.
"""
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .._tensor import wrap
from ..autograd.graph import Node, needs_grad, record


def _pad(x, pads):
    if not any(lo or hi for lo, hi in pads):
        return x
    return np.pad(x, ((0, 0), (0, 0)) + tuple(pads))


def _windows(xp, kernel, stride, dilation):
    """(N, C, *out, *kernel) strided view of the padded input: no copy until the tensordot."""
    nd = len(kernel)
    extents = tuple((k - 1) * d + 1 for k, d in zip(kernel, dilation))
    win = sliding_window_view(xp, extents, axis=tuple(range(2, 2 + nd)))
    index = (slice(None), slice(None)) + tuple(slice(None, None, s) for s in stride) \
        + tuple(slice(None, None, d) for d in dilation)
    return win[index]


def out_size(size, k, s, d, lo, hi):
    return (size + lo + hi - d * (k - 1) - 1) // s + 1


def conv_forward_np(x, w, stride, pads, dilation, groups):
    nd = x.ndim - 2
    kernel = w.shape[2:]
    win = _windows(_pad(x, pads), kernel, stride, dilation)  # (N, C, *out, *k)
    k_axes = tuple(range(2 + nd, 2 + 2 * nd))
    if groups == 1:
        y = np.tensordot(win, w, axes=((1,) + k_axes, (1,) + tuple(range(2, 2 + nd))))  # (N, *out, O)
        return np.ascontiguousarray(np.moveaxis(y, -1, 1))
    cg, og = x.shape[1] // groups, w.shape[0] // groups
    parts = []
    for g in range(groups):
        wg = w[g * og:(g + 1) * og]
        yg = np.tensordot(win[:, g * cg:(g + 1) * cg], wg, axes=((1,) + k_axes, (1,) + tuple(range(2, 2 + nd))))
        parts.append(yg)
    return np.ascontiguousarray(np.moveaxis(np.concatenate(parts, axis=-1), -1, 1))


def conv_input_grad_np(gy, w, in_spatial, stride, pads, dilation, groups):
    """col2im: the gradient of conv_forward_np w.r.t. its (unpadded) input of spatial size ``in_spatial``."""
    nd = gy.ndim - 2
    n = gy.shape[0]
    kernel = w.shape[2:]
    out_sp = gy.shape[2:]
    cg, og = w.shape[1], w.shape[0] // groups
    c_total = cg * groups
    padded = tuple(s + lo + hi for s, (lo, hi) in zip(in_spatial, pads))
    dx = np.zeros((n, c_total) + padded, dtype=np.result_type(gy, w))
    for g in range(groups):
        # cols[n, *out, c, *k] = sum_o gy[n, o, *out] w[o, c, *k]
        cols = np.tensordot(np.moveaxis(gy[:, g * og:(g + 1) * og], 1, -1), w[g * og:(g + 1) * og], axes=(-1, 0))
        target = dx[:, g * cg:(g + 1) * cg]
        for koff in np.ndindex(*kernel):
            sl = tuple(slice(k * d, k * d + (o - 1) * s + 1, s)
                       for k, d, o, s in zip(koff, dilation, out_sp, stride))
            contrib = cols[(slice(None),) + (slice(None),) * nd + (slice(None),) + koff]  # (N, *out, c)
            target[(slice(None), slice(None)) + sl] += np.moveaxis(contrib, -1, 1)
    crop = tuple(slice(lo, lo + s) for s, (lo, hi) in zip(in_spatial, pads))
    return np.ascontiguousarray(dx[(slice(None), slice(None)) + crop])


def _im2col(x, kernel, stride, pads, dilation):
    """(N*out, C*prod(k)) rows of input windows, copied once in row order (N, *out, C, *k)."""
    nd = x.ndim - 2
    win = _windows(_pad(x, pads), kernel, stride, dilation)  # (N, C, *out, *k), a strided view
    order = (0,) + tuple(range(2, 2 + nd)) + (1,) + tuple(range(2 + nd, 2 + 2 * nd))
    cols = np.ascontiguousarray(win.transpose(order))
    out_sp = cols.shape[1:1 + nd]
    return cols.reshape(-1, int(np.prod(cols.shape[1 + nd:]))), out_sp


def conv_weight_grad_np(x, gy, kernel, stride, pads, dilation, groups):
    nd = x.ndim - 2
    cols, _ = _im2col(x, kernel, stride, pads, dilation)  # (N*out, C*k)
    o_total = gy.shape[1]
    gy_rows = np.moveaxis(gy, 1, -1).reshape(-1, o_total)  # (N*out, O)
    cg, og = x.shape[1] // groups, o_total // groups
    kk = int(np.prod(kernel))
    parts = []
    for g in range(groups):
        # dw[o, (c, k)] = sum over rows of gy[row, o] * cols[row, (c, k)]
        parts.append(gy_rows[:, g * og:(g + 1) * og].T @ cols[:, g * cg * kk:(g + 1) * cg * kk])
    dw = np.concatenate(parts, axis=0) if groups > 1 else parts[0]
    return dw.reshape((o_total, cg) + tuple(kernel))


class _ConvNode(Node):
    def name(self):
        return "ConvolutionBackward0"

    def _params(self):
        return self.stride, self.pads, self.dilation, self.groups


class ConvolutionBackward0(_ConvNode):
    def backward(self, gy):
        x, w = self.saved_tensors
        gx = gw = gb = None
        if self.next_functions[0][0] is not None:
            gx = conv_transpose(gy, w, None, *self._params(), out_spatial=tuple(x.shape[2:]))
        if self.next_functions[1][0] is not None:
            gw = conv_weight_grad(x, gy, tuple(w.shape[2:]), *self._params())
        if len(self.next_functions) > 2 and self.next_functions[2][0] is not None:
            gb = gy.sum((0,) + tuple(range(2, gy.ndim)))
        return (gx, gw, gb)[:len(self.next_functions)]


class ConvTransposeBackward(_ConvNode):
    def backward(self, gy):
        x, w = self.saved_tensors
        gx = gw = gb = None
        if self.next_functions[0][0] is not None:
            gx = convolution(gy, w, None, *self._params())
        if self.next_functions[1][0] is not None:
            gw = conv_weight_grad(gy, x, tuple(w.shape[2:]), *self._params())
        if len(self.next_functions) > 2 and self.next_functions[2][0] is not None:
            gb = gy.sum((0,) + tuple(range(2, gy.ndim)))
        return (gx, gw, gb)[:len(self.next_functions)]


class ConvWeightGradBackward(_ConvNode):
    def backward(self, g):
        x, gy = self.saved_tensors
        gx = ggy = None
        if self.next_functions[0][0] is not None:
            gx = conv_transpose(gy, g, None, *self._params(), out_spatial=tuple(x.shape[2:]))
        if self.next_functions[1][0] is not None:
            ggy = convolution(x, g, None, *self._params())
        return gx, ggy


def _add_bias(y, b):
    if b is not None:
        y += b._data.reshape((1, -1) + (1,) * (y.ndim - 2)).astype(y.dtype, copy=False)
    return y


def convolution(x, w, b, stride, pads, dilation, groups):
    """Cross-correlation of x (N, C, *sp) with w (O, C/groups, *k), zero ``pads`` per dim."""
    y = _add_bias(conv_forward_np(x._data, w._data, stride, pads, dilation, groups), b)
    result = wrap(y)
    if needs_grad(x, w, b):
        node = ConvolutionBackward0()
        node.stride, node.pads, node.dilation, node.groups = stride, pads, dilation, groups
        record(node, (x, w, b) if b is not None else (x, w), (result,))
        node.save_for_backward(x, w)
    return result


def conv_transpose(x, w, b, stride, pads, dilation, groups, out_spatial):
    """The adjoint of ``convolution`` in its input: x (N, Cin, *sp), w (Cin, Cout/groups, *k)."""
    y = _add_bias(conv_input_grad_np(x._data, w._data, out_spatial, stride, pads, dilation, groups), b)
    result = wrap(y)
    if needs_grad(x, w, b):
        node = ConvTransposeBackward()
        node.stride, node.pads, node.dilation, node.groups = stride, pads, dilation, groups
        record(node, (x, w, b) if b is not None else (x, w), (result,))
        node.save_for_backward(x, w)
    return result


def conv_weight_grad(x, gy, kernel, stride, pads, dilation, groups):
    """d(sum(gy * convolution(x, w)))/dw, a bilinear op of (x, gy)."""
    result = wrap(conv_weight_grad_np(x._data, gy._data, kernel, stride, pads, dilation, groups))
    if needs_grad(x, gy):
        node = ConvWeightGradBackward()
        node.stride, node.pads, node.dilation, node.groups = stride, pads, dilation, groups
        record(node, (x, gy), (result,))
        node.save_for_backward(x, gy)
    return result
