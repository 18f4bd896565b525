"""Pooling building blocks: window argmax over strided views, and the gather/scatter pair
that max pooling, adaptive/fractional max pooling and max_unpool are made of.

``take_spatial(x, idx)`` gathers x (N, C, *in) at flat spatial indices idx (N, C, *out);
``scatter_spatial(g, idx, in_spatial)`` is its adjoint (sums g into zeros at idx). Each one's
backward is the other, so max pooling differentiates to any order.

``avg_pool2d_window(x, scale, geom)`` is average pooling's window mean (scale = 1/divisor per
output position) and ``avg_pool2d_adjoint(g, scale, geom)`` its adjoint; again each one's
backward is the other.

Every array function here has a NumPy variant and a compiled one in the ``conv`` kernel family
(torsh.backend.dispatch picks; ops ``max_pool2d``, ``take_spatial``, ``scatter_spatial``,
``avg_pool2d``, ``avg_pool2d_backward``). The compiled variants take C-contiguous float32/float64
planes; anything else (other dtypes, non-contiguous, 1-D/3-D windows) runs the NumPy code,
except that average pooling copies a strided float operand for its kernels (one pass, against
the NumPy variant's KH*KW passes; gradients of sum() arrive as stride-0 views).
float32 2-D max pooling takes the C++ family ``conv_direct`` instead (ops ``max_pool2d_direct``: maxima and
indices in one branch-free pass, no gather after it; ``max_pool2d_direct_backward``: the scatter).
The ops' graphs are the same whichever variant runs, so create_graph keeps working.
"""
import numpy as np

from ..._tensor import wrap
from ...autograd.graph import Node, needs_grad, record
from ...backend import dispatch, kernels


def _planes(a):
    n, c = a.shape[:2]
    return a.reshape(n * c, int(np.prod(a.shape[2:])))  # not -1: an empty batch has planes of known size


def _fits(*arrays):
    """Whether the compiled kernels take these arrays: C-contiguous, one float dtype (+ int64 indices)."""
    dtype = arrays[0].dtype
    return (dtype in dispatch._COMPILED_DTYPES and all(a.flags.c_contiguous for a in arrays)
            and all(a.dtype == dtype or a.dtype == np.int64 for a in arrays[1:]))


def _parallel_planes(parallel, planes):
    return parallel and planes > 1


def take_spatial_np(x, idx):
    if x.size and idx.size and x.dtype in dispatch._COMPILED_DTYPES and idx.dtype == np.int64:
        def compiled(parallel):
            out = np.empty(idx.shape, dtype=x.dtype)
            kernels.get("conv").gather_planes(_planes(x), _planes(idx), _planes(out), parallel)
            return out
        return dispatch.call("take_spatial", idx.size, x.dtype, _fits(x, idx), compiled,
                             lambda: _take_spatial_numpy(x, idx))
    return _take_spatial_numpy(x, idx)


def _take_spatial_numpy(x, idx):
    flat = _planes(x)
    out = np.take_along_axis(flat, _planes(idx), axis=1)
    return out.reshape(idx.shape)


def scatter_spatial_np(g, idx, in_spatial):
    if _direct_pool_fits(g, idx) and g.shape == idx.shape:
        def direct(parallel):
            n, c = g.shape[:2]
            out = np.empty((n, c) + tuple(in_spatial), dtype=np.float32)
            kernels.get("conv_direct").max_pool2d_backward(g, idx, out, n * c, int(np.prod(in_spatial)),
                                                           int(np.prod(g.shape[2:])), _parallel_planes(parallel, n * c))
            return out
        return dispatch.call("max_pool2d_direct_backward", g.size, g.dtype, True, direct,
                             lambda: _scatter_spatial_numpy(g, idx, in_spatial))
    if g.size and g.dtype in dispatch._COMPILED_DTYPES and idx.dtype == np.int64:
        def compiled(parallel):
            out = np.empty(g.shape[:2] + tuple(in_spatial), dtype=g.dtype)
            kernels.get("conv").scatter_add_planes(_planes(g), _planes(idx), _planes(out), parallel)
            return out
        return dispatch.call("scatter_spatial", g.size, g.dtype, _fits(g, idx), compiled,
                             lambda: _scatter_spatial_numpy(g, idx, in_spatial))
    return _scatter_spatial_numpy(g, idx, in_spatial)


def _scatter_spatial_numpy(g, idx, in_spatial):
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


def _direct_pool_fits(values, idx=None):
    """Whether conv_direct's float32 pooling kernels take these arrays: float32 values (and int64 indices),
    C-contiguous, non-empty."""
    arrays = (values,) if idx is None else (values, idx)
    return (values.dtype == np.float32 and (idx is None or idx.dtype == np.int64)
            and all(a.size and a.flags.c_contiguous for a in arrays) and kernels.get("conv_direct") is not None)


def take_spatial(x, idx, node_name="MaxPool2DWithIndicesBackward0", values=None):
    """x gathered at flat spatial indices ``idx`` (an int64 ndarray of shape (N, C, *out)); ``values``: that
    gather when the caller already has it (max pooling's kernel writes maxima and indices together)."""
    result = wrap(take_spatial_np(x._data, idx) if values is None else values)
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


def max_pool2d_direct(x, kernel, stride, padding, dilation, ceil_mode):
    """(maxima, flat spatial indices) of 2-D max pooling of a float32 (N, C, H, W) array in one pass of
    conv_direct's kernel, or None where it does not run (other dtypes, layouts, empty)."""
    if len(kernel) != 2 or not _direct_pool_fits(x):
        return None
    n, c, h, w = x.shape
    outs = tuple(pool_out_size(L, k, s, p, d, ceil_mode) for L, k, s, p, d in zip((h, w), kernel, stride, padding,
                                                                                    dilation))
    if n * c * outs[0] * outs[1] == 0:
        return None

    def direct(parallel):
        out = np.empty((n, c) + outs, dtype=np.float32)
        idx = np.empty((n, c) + outs, dtype=np.int64)
        kernels.get("conv_direct").max_pool2d(x, out, idx, n * c, h, w, *outs, *kernel, *stride, *padding, *dilation,
                                              _parallel_planes(parallel, n * c))
        return out, idx

    def numpy_variant():
        idx = max_pool_indices_np(x, kernel, stride, padding, dilation, outs)
        return _take_spatial_numpy(x, idx), idx
    return dispatch.call("max_pool2d_direct", x.size, x.dtype, True, direct, numpy_variant)


def max_pool_indices(x, kernel, stride, padding, dilation, ceil_mode):
    """Flat spatial indices (N, C, *out) of each window's maximum (NaN wins, as in PyTorch)."""
    sp = x.shape[2:]
    outs = [pool_out_size(L, k, s, p, d, ceil_mode) for L, k, s, p, d in zip(sp, kernel, stride, padding, dilation)]
    if x.size == 0:  # an empty batch: no windows to search
        return np.zeros(x.shape[:2] + tuple(outs), dtype=np.int64)
    if len(kernel) == 2 and x.size and x.dtype in dispatch._COMPILED_DTYPES:
        def compiled(parallel):
            n, c, h, w = x.shape
            out = np.empty(n * c * outs[0] * outs[1], dtype=x.dtype)
            idx = np.empty((n, c) + tuple(outs), dtype=np.int64)
            kernels.get("conv").max_pool2d_planes(x.reshape(-1), out, idx.reshape(-1), n * c, h, w, *outs, *kernel,
                                                  *stride, *padding, *dilation, _parallel_planes(parallel, n * c))
            return idx
        return dispatch.call("max_pool2d", x.size, x.dtype, x.flags.c_contiguous, compiled,
                             lambda: max_pool_indices_np(x, kernel, stride, padding, dilation, outs))
    return max_pool_indices_np(x, kernel, stride, padding, dilation, outs)


def max_pool_indices_np(x, kernel, stride, padding, dilation, outs):
    """The NumPy variant of max_pool_indices, for output sizes ``outs``."""
    nd = len(kernel)
    sp = x.shape[2:]
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
    if plane.dtype.kind == "f" and any(padding):
        # a window whose in-bounds elements are all -inf: PyTorch keeps its first in-bounds element,
        # where the offset-0 pass above may have kept a padding position
        first = np.zeros(local.shape, dtype=np.int64)
        for dim in range(nd):
            o = np.arange(outs[dim]).reshape((-1,) + (1,) * (nd - 1 - dim))
            first = first * kernel[dim] + -(-np.maximum(padding[dim] - o * stride[dim], 0) // dilation[dim])
        np.copyto(local, first, where=best == -np.inf)
    k_pos = np.unravel_index(local, kernel)
    idx = np.zeros(local.shape, dtype=np.int64)
    for dim in range(nd):
        o = np.arange(outs[dim]).reshape((-1,) + (1,) * (nd - 1 - dim))
        pos = o * stride[dim] + k_pos[dim] * dilation[dim] - padding[dim]
        idx = idx * sp[dim] + pos
    return idx


# -- average pooling: geom = (H, W, OH, OW, KH, KW, SH, SW, PH, PW), the kernels' argument order
def _window_offsets(geom):
    """Per kernel offset (ki, kj), the strided slice of the padded plane it reads for every output."""
    _, _, oh, ow, kh, kw, sh, sw, _, _ = geom
    for ki in range(kh):
        for kj in range(kw):
            yield (Ellipsis, slice(ki, ki + (oh - 1) * sh + 1, sh), slice(kj, kj + (ow - 1) * sw + 1, sw))


def _padded_shape(geom):
    """The zero-padded plane every window fits in: left padding, and on the right what ceil_mode needs."""
    h, w, oh, ow, kh, kw, sh, sw, ph, pw = geom
    return max(h + ph, (oh - 1) * sh + kh), max(w + pw, (ow - 1) * sw + kw)


def _avg_window_numpy(x, scale, geom):
    h, w, oh, ow, _, _, _, _, ph, pw = geom
    xp = np.zeros(x.shape[:-2] + _padded_shape(geom), dtype=x.dtype)
    xp[..., ph:ph + h, pw:pw + w] = x
    # one strided slice of the padded plane per kernel offset, added in PyTorch's window order
    acc = None
    for sl in _window_offsets(geom):
        acc = xp[sl].copy() if acc is None else np.add(acc, xp[sl], out=acc)
    return acc * scale.reshape(oh, ow)


def _avg_adjoint_numpy(g, scale, geom):
    h, w, oh, ow, _, _, _, _, ph, pw = geom
    gs = g * scale.reshape(oh, ow)
    dxp = np.zeros(g.shape[:-2] + _padded_shape(geom), dtype=gs.dtype)
    for sl in _window_offsets(geom):
        dxp[sl] += gs  # the slices of one offset never overlap, so += adds each element once
    return dxp[..., ph:ph + h, pw:pw + w].copy()


def _avg_dispatch(op, a, scale, geom, out_spatial, kernel_name, numpy_fn):
    """Run op on the (N, C, *in) array ``a``: the compiled kernel over N*C planes, or ``numpy_fn``."""
    if not (a.size and a.dtype in dispatch._COMPILED_DTYPES and scale.dtype == a.dtype):
        return numpy_fn()

    def compiled(parallel):
        # a strided operand (a transposed input, sum()'s broadcast gradient) is copied once
        flat = np.ascontiguousarray(a).reshape(-1)
        n, c = a.shape[:2]
        out = np.empty((n, c) + out_spatial, dtype=a.dtype)
        getattr(kernels.get("conv"), kernel_name)(flat, out.reshape(-1), scale, n * c, *geom,
                                                  _parallel_planes(parallel, n * c))
        return out
    n, c, h, w = a.shape[:2] + geom[:2]
    return dispatch.call(op, n * c * h * w, a.dtype, True, compiled, numpy_fn)


def avg_pool2d_window_np(x, scale, geom):
    """out (N, C, OH, OW)[..., o] = scale[o] * sum of x (N, C, H, W) over the zero-padded window o."""
    return _avg_dispatch("avg_pool2d", x, scale, geom, geom[2:4], "avg_pool2d_planes",
                         lambda: _avg_window_numpy(x, scale, geom))


def avg_pool2d_adjoint_np(g, scale, geom):
    """dx (N, C, H, W): each g (N, C, OH, OW)[..., o] * scale[o] added over window o (the adjoint)."""
    return _avg_dispatch("avg_pool2d_backward", g, scale, geom, geom[:2], "avg_pool2d_adjoint_planes",
                         lambda: _avg_adjoint_numpy(g, scale, geom))


class AvgPoolWindowBackward(Node):
    def __init__(self, node_name="AvgPool2DBackward0"):
        super().__init__()
        self._name = node_name

    def name(self):
        return self._name

    def backward(self, grad):
        return (avg_pool2d_adjoint(grad, self.scale, self.geom),)

    def _on_release(self):
        self.scale = None


class AvgPoolAdjointBackward(Node):
    def __init__(self, node_name="AvgPool2DBackwardBackward0"):
        super().__init__()
        self._name = node_name

    def name(self):
        return self._name

    def backward(self, grad):
        return (avg_pool2d_window(grad, self.scale, self.geom),)

    def _on_release(self):
        self.scale = None


def avg_pool2d_window(x, scale, geom, node_name="AvgPool2DBackward0"):
    """Average pooling of x (N, C, H, W) as scale (OH*OW,) times each zero-padded window's sum;
    ``scale`` is an ndarray of x's dtype (1/divisor per output position)."""
    result = wrap(avg_pool2d_window_np(x._data, scale, geom))
    if needs_grad(x):
        node = AvgPoolWindowBackward(node_name)
        node.scale, node.geom = scale, geom
        record(node, (x,), (result,))
    return result


def avg_pool2d_adjoint(g, scale, geom, node_name="AvgPool2DBackwardBackward0"):
    """The adjoint of avg_pool2d_window: g (N, C, OH, OW) spread back over the windows, (N, C, H, W)."""
    result = wrap(avg_pool2d_adjoint_np(g._data, scale, geom))
    if needs_grad(g):
        node = AvgPoolAdjointBackward(node_name)
        node.scale, node.geom = scale, geom
        record(node, (g,), (result,))
    return result
