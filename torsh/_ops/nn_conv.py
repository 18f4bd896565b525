"""N-d convolution as im2col (sliding_window_view + one batched GEMM), and its two adjoints.

Three ops, each with a NumPy forward and a backward written in the other two, so every
order of derivative works:

* ``convolution(x, w, b)``               y[n,o,p]  = sum_{c,k} xpad[n,c,p*s+k*d] w[o,c,k] + b[o]
* ``conv_transpose(x, w, b)``            the adjoint of convolution in its input (col2im)
* ``conv_weight_grad(x, gy)``            the adjoint of convolution in its weight

``pads`` is a tuple of (low, high) zero paddings per spatial dim; ``groups`` splits the
channels. Backward nodes are named ``ConvolutionBackward0`` as in PyTorch.

For 2-D, im2col and col2im have compiled variants in the ``conv`` kernel family (dispatch ops
``im2col2d`` and ``col2im2d``); the GEMMs stay on NumPy's BLAS. The ops' graphs do not depend
on the variant, so higher-order gradients work either way.
"""
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .._tensor import wrap
from ..autograd.graph import Node, needs_grad, record
from ..backend import dispatch, kernels
from ..backend.threads import batched_matmul


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


def _columns(x, kernel, stride, pads, dilation):
    """im2col in the layout (N, C * prod(k), L) with L = prod(out): one copy of the windows.

    Per sample this is the (C*K, L) matrix that W (O, C*K) multiplies from the left, giving the
    output already in (N, O, *out) order. The copy's inner loop runs along the output's last
    axis, contiguous in the input for stride 1; the (N*L, C*K) layout of textbook im2col copies
    runs of kernel width instead and measured 4x slower here (32x3x32x32, 3x3: 41 ms vs 10 ms).
    """
    nd = len(kernel)
    if nd == 2 and x.size and x.dtype in dispatch._COMPILED_DTYPES and all(lo >= 0 and hi >= 0 for lo, hi in pads):
        n, c, h, w = x.shape
        outs = tuple(out_size(size, k, s, d, lo, hi)
                     for size, k, s, d, (lo, hi) in zip((h, w), kernel, stride, dilation, pads))
        if min(outs) > 0:
            def compiled(parallel):
                cols = np.empty((n, c * kernel[0] * kernel[1], outs[0] * outs[1]), dtype=x.dtype)
                kernels.get("conv").im2col2d(x.reshape(-1), cols.reshape(-1), n, c, h, w, *kernel, *stride, pads[0][0],
                                             pads[1][0], *dilation, *outs, parallel and n > 1)
                return cols, outs
            return dispatch.call("im2col2d", x.size * kernel[0] * kernel[1], x.dtype, x.flags.c_contiguous,
                                 compiled, lambda: _columns_np(x, kernel, stride, pads, dilation))
    return _columns_np(x, kernel, stride, pads, dilation)


def _columns_np(x, kernel, stride, pads, dilation):
    nd = len(kernel)
    win = _windows(_pad(x, pads), kernel, stride, dilation)  # (N, C, *out, *k), a strided view
    order = (0, 1) + tuple(range(2 + nd, 2 + 2 * nd)) + tuple(range(2, 2 + nd))
    cols = np.ascontiguousarray(win.transpose(order))  # (N, C, *k, *out)
    out_sp = win.shape[2:2 + nd]
    n, c = x.shape[:2]
    return cols.reshape(n, c * int(np.prod(kernel)), int(np.prod(out_sp))), out_sp


def conv_forward_np(x, w, stride, pads, dilation, groups, keep_cols=None):
    """The convolution's output; ``keep_cols`` (a list) receives the im2col matrix for the weight grad."""
    kernel = w.shape[2:]
    cols, out_sp = _columns(x, kernel, stride, pads, dilation)  # (N, C*K, L)
    if keep_cols is not None:
        keep_cols.append(cols)
    n, ck, length = cols.shape
    o = w.shape[0]
    w_rows = w.reshape(groups, o // groups, ck // groups).astype(np.result_type(x, w), copy=False)
    # (G, O/G, C/G*K) @ (N, G, C/G*K, L) -> (N, G, O/G, L): one GEMM per sample and group
    y = batched_matmul(w_rows, cols.reshape(n, groups, ck // groups, length), o // groups * ck // groups * length)
    return y.reshape((n, o) + tuple(out_sp))


def conv_input_grad_np(gy, w, in_spatial, stride, pads, dilation, groups):
    """col2im: the gradient of conv_forward_np w.r.t. its (unpadded) input of spatial size ``in_spatial``."""
    n, o_total = gy.shape[:2]
    kernel = tuple(w.shape[2:])
    out_sp = gy.shape[2:]
    cg, og = w.shape[1], o_total // groups
    kk = int(np.prod(kernel))
    length = int(np.prod(out_sp))
    dtype = np.result_type(gy, w)
    # cols[n, g, (c, k), l] = sum_o w[g, o, (c, k)] gy[n, g, o, l]
    w_rows = w.reshape(groups, og, cg * kk).astype(dtype, copy=False)
    cols = batched_matmul(w_rows.transpose(0, 2, 1), gy.reshape(n, groups, og, length).astype(dtype, copy=False),
                          og * cg * kk * length)
    if len(kernel) == 2 and cols.dtype in dispatch._COMPILED_DTYPES and all(lo >= 0 and hi >= 0 for lo, hi in pads):
        def compiled(parallel):
            dx = np.empty((n, groups * cg) + tuple(in_spatial), dtype=dtype)
            kernels.get("conv").col2im2d(cols.reshape(-1), dx.reshape(-1), n, groups * cg, *in_spatial, *kernel, *stride,
                                         pads[0][0], pads[1][0], *dilation, *out_sp, parallel and n > 1)
            return dx
        return dispatch.call("col2im2d", cols.size, dtype, cols.flags.c_contiguous, compiled,
                             lambda: _col2im_np(cols, n, groups * cg, kernel, out_sp, in_spatial, stride, pads,
                                                dilation))
    return _col2im_np(cols, n, groups * cg, kernel, out_sp, in_spatial, stride, pads, dilation)


def _col2im_np(cols, n, channels, kernel, out_sp, in_spatial, stride, pads, dilation):
    dtype = cols.dtype
    cols = cols.reshape((n, channels) + kernel + tuple(out_sp))  # (N, C, *k, *out)
    padded = tuple(size + lo + hi for size, (lo, hi) in zip(in_spatial, pads))
    dx = np.zeros((n, channels) + padded, dtype=dtype)
    for koff in np.ndindex(*kernel):  # scatter each kernel offset's plane back onto the input
        sl = tuple(slice(k * d, k * d + (size - 1) * s + 1, s)
                   for k, d, size, s in zip(koff, dilation, out_sp, stride))
        dx[(slice(None), slice(None)) + sl] += cols[(slice(None), slice(None)) + koff]
    crop = tuple(slice(lo, lo + size) for size, (lo, hi) in zip(in_spatial, pads))
    return np.ascontiguousarray(dx[(slice(None), slice(None)) + crop])


def conv_weight_grad_np(x, gy, kernel, stride, pads, dilation, groups, cols=None):
    if cols is None:
        cols, _ = _columns(x, kernel, stride, pads, dilation)  # (N, C*K, L)
    n, ck, length = cols.shape
    o_total = gy.shape[1]
    og = o_total // groups
    dtype = np.result_type(x, gy)
    # dw[g, o, (c, k)] = sum_n sum_l gy[n, g, o, l] cols[n, g, (c, k), l]
    gy_rows = gy.reshape(n, groups, og, length).astype(dtype, copy=False)
    per_sample = batched_matmul(gy_rows, cols.reshape(n, groups, ck // groups, length).transpose(0, 1, 3, 2),
                                og * ck // groups * length)
    dw = per_sample.sum(0)  # (G, O/G, C/G*K)
    return dw.reshape((o_total, ck // groups // int(np.prod(kernel))) + tuple(kernel))


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
            gw = conv_weight_grad(x, gy, tuple(w.shape[2:]), *self._params(), cols=self.cols)
        if len(self.next_functions) > 2 and self.next_functions[2][0] is not None:
            gb = gy.sum((0,) + tuple(range(2, gy.ndim)))
        return (gx, gw, gb)[:len(self.next_functions)]

    def _on_release(self):
        self.cols = None


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
    # the weight gradient needs the same im2col matrix: kept from the forward (one copy of the
    # windows saved per step; W7 measured 4 im2col calls a step before, 2 now)
    keep = [] if needs_grad(w) else None
    y = _add_bias(conv_forward_np(x._data, w._data, stride, pads, dilation, groups, keep), b)
    result = wrap(y)
    if needs_grad(x, w, b):
        node = ConvolutionBackward0()
        node.cols = keep[0] if keep else None
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


def conv_weight_grad(x, gy, kernel, stride, pads, dilation, groups, cols=None):
    """d(sum(gy * convolution(x, w)))/dw, a bilinear op of (x, gy); ``cols``: x's im2col matrix if known."""
    result = wrap(conv_weight_grad_np(x._data, gy._data, kernel, stride, pads, dilation, groups, cols))
    if needs_grad(x, gy):
        node = ConvWeightGradBackward()
        node.stride, node.pads, node.dilation, node.groups = stride, pads, dilation, groups
        record(node, (x, gy), (result,))
        node.save_for_backward(x, gy)
    return result
