"""Pooling building blocks: window argmax over strided views, and the gather/scatter pair
that max pooling, adaptive/fractional max pooling and max_unpool are made of.

``take_spatial(x, idx)`` gathers x (N, C, *in) at flat spatial indices idx (N, C, *out);
``scatter_spatial(g, idx, in_spatial)`` is its adjoint (sums g into zeros at idx). Each one's
backward is the other, so max pooling differentiates to any order.
"""
import numpy as np

from .._tensor import wrap
from ..autograd.graph import Node, needs_grad, record


def _planes(a):
    n, c = a.shape[:2]
    return a.reshape(n * c, -1)


def take_spatial_np(x, idx):
    flat = _planes(x)
    out = np.take_along_axis(flat, _planes(idx), axis=1)
    return out.reshape(idx.shape)


def scatter_spatial_np(g, idx, in_spatial):
    n, c = g.shape[:2]
    size = int(np.prod(in_spatial))
    planes = n * c
    flat_idx = (_planes(idx) + (np.arange(planes) * size)[:, None]).reshape(-1)
    weights = _planes(g).reshape(-1)
    if weights.dtype.kind == "f" and weights.dtype.itemsize == 8:
        out = np.bincount(flat_idx, weights=weights, minlength=planes * size)
    else:
        out = np.zeros(planes * size, dtype=g.dtype)
        np.add.at(out, flat_idx, weights)
    return out.astype(g.dtype, copy=False).reshape((n, c) + tuple(in_spatial))


class TakeSpatialBackward(Node):
    def __init__(self, node_name="MaxPool2DWithIndicesBackward0"):
        super().__init__()
        self._name = node_name

    def name(self):
        return self._name

    def backward(self, grad):
        return (scatter_spatial(grad, self.idx, self.in_spatial),)

    def _on_release(self):
        self.idx = None


class ScatterSpatialBackward(Node):
    def __init__(self, node_name="MaxUnpool2DBackward0"):
        super().__init__()
        self._name = node_name

    def name(self):
        return self._name

    def backward(self, grad):
        return (take_spatial(grad, self.idx),)

    def _on_release(self):
        self.idx = None


def take_spatial(x, idx, node_name="MaxPool2DWithIndicesBackward0"):
    """x gathered at flat spatial indices ``idx`` (an int64 ndarray of shape (N, C, *out))."""
    result = wrap(take_spatial_np(x._data, idx))
    if needs_grad(x):
        node = TakeSpatialBackward(node_name)
        node.idx, node.in_spatial = idx, tuple(x.shape[2:])
        record(node, (x,), (result,))
    return result


def scatter_spatial(g, idx, in_spatial, node_name="MaxUnpool2DBackward0"):
    result = wrap(scatter_spatial_np(g._data, idx, in_spatial))
    if needs_grad(g):
        node = ScatterSpatialBackward(node_name)
        node.idx = idx
        record(node, (g,), (result,))
    return result


def pool_out_size(size, k, s, p, d, ceil_mode):
    span = size + 2 * p - d * (k - 1) - 1
    out = (-(-span // s) if ceil_mode else span // s) + 1
    if ceil_mode and (out - 1) * s >= size + p:  # the last window must start inside the input or left padding
        out -= 1
    return out


def max_pool_indices(x, kernel, stride, padding, dilation, ceil_mode):
    """Flat spatial indices (N, C, *out) of each window's maximum (NaN wins, as in PyTorch)."""
    nd = len(kernel)
    sp = x.shape[2:]
    outs = [pool_out_size(L, k, s, p, d, ceil_mode) for L, k, s, p, d in zip(sp, kernel, stride, padding, dilation)]
    his = [max((o - 1) * s + d * (k - 1) + 1 - L - p, 0) for o, s, d, k, L, p in zip(outs, stride, dilation, kernel,
                                                                                      sp, padding)]
    fill = -np.inf if x.dtype.kind == "f" else np.iinfo(x.dtype).min
    xp = np.pad(x, ((0, 0), (0, 0)) + tuple((p, h) for p, h in zip(padding, his)), constant_values=fill)
    # one pass per kernel offset over the strided plane of window elements at that offset: each
    # pass is a whole-array comparison, where argmax over a copied (..., k*k) window axis made a
    # call per window (measured 31 ms vs ~6 ms for 64x6x28x28, 2x2)
    best = local = None
    for k_index, koff in enumerate(np.ndindex(*kernel)):
        plane = xp[(slice(None), slice(None)) + tuple(slice(k * d, k * d + (o - 1) * s + 1, s)
                                                      for k, d, o, s in zip(koff, dilation, outs, stride))]
        if best is None:
            best, local = plane.copy(), np.zeros(plane.shape, dtype=np.int64)
            continue
        # PyTorch's CPU kernel: take the element when it is greater or NaN (so a NaN wins)
        take = plane > best
        if plane.dtype.kind == "f":
            take |= np.isnan(plane)
        np.copyto(best, plane, where=take)
        local[take] = k_index
    k_pos = np.unravel_index(local, kernel)
    idx = np.zeros(local.shape, dtype=np.int64)
    for dim in range(nd):
        o = np.arange(outs[dim]).reshape((-1,) + (1,) * (nd - 1 - dim))
        pos = o * stride[dim] + k_pos[dim] * dilation[dim] - padding[dim]
        idx = idx * sp[dim] + pos
    return idx
