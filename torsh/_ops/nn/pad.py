"""F.pad: constant padding (np.pad forward, slicing backward) and reflect/replicate/circular
padding as a gather along each padded dim (its adjoint is a scatter-add along that dim)."""
import numpy as np

from ..._tensor import wrap
from ...autograd.graph import Node
from .._helpers import NamedNode, with_grad_fn


class ConstantPadNdBackward0(Node):
    # the adjoint of padding by (lo, hi) is padding by (-lo, -hi): crop what was added, zero-fill what was cut
    def backward(self, grad):
        return (constant_pad(grad, tuple((-lo, -hi) for lo, hi in self.pads), 0.0),)


def constant_pad(x, pads, value):
    """``pads``: (low, high) per dim of x (negative values crop)."""
    data = x._data
    grow = tuple((max(lo, 0), max(hi, 0)) for lo, hi in pads)
    out = np.pad(data, grow, constant_values=value) if any(lo or hi for lo, hi in grow) else data.copy()
    shrink = tuple(slice(-min(lo, 0), out.shape[i] + min(hi, 0)) for i, (lo, hi) in enumerate(pads))
    out = np.ascontiguousarray(out[shrink])
    return with_grad_fn(ConstantPadNdBackward0, (x,), wrap(out), pads=pads)


class IndexDimBackward(NamedNode):
    def backward(self, grad):
        return (scatter_dim(grad, self.dim, self.index, self.size, self._name),)


class ScatterDimBackward(NamedNode):
    def backward(self, grad):
        return (take_dim(grad, self.dim, self.index, self._name),)


def take_dim(x, dim, index, name="ReflectionPad2DBackward0"):
    result = wrap(np.take(x._data, index, axis=dim))
    return with_grad_fn(IndexDimBackward, (x,), result, _name=name, dim=dim, index=index, size=x.shape[dim])


def scatter_dim(g, dim, index, size, name="ReflectionPad2DBackward0"):
    data = np.moveaxis(g._data, dim, 0)
    out = np.zeros((size,) + data.shape[1:], dtype=g._data.dtype)
    np.add.at(out, index, data)
    result = wrap(np.ascontiguousarray(np.moveaxis(out, 0, dim)))
    return with_grad_fn(ScatterDimBackward, (g,), result, _name=name, dim=dim, index=index)


def pad_index(size, lo, hi, mode):
    """Source index for each output position of one dim padded by (lo, hi) in ``mode``."""
    pos = np.arange(-lo, size + hi)
    if mode == "reflect":
        period = 2 * (size - 1)
        pos = np.abs(pos) % period if period else np.zeros_like(pos)
        pos = np.where(pos >= size, period - pos, pos)
    elif mode == "replicate":
        pos = np.clip(pos, 0, size - 1)
    elif mode == "circular":
        pos = pos % size
    return pos


def circular_pad_index(size, lo, hi):
    """Source index per output position of one dim circularly padded by (lo, hi), as PyTorch pads:
    negative sides crop first, and the padding wraps around the part that is kept."""
    start, stop = max(-lo, 0), size - max(-hi, 0)
    kept = stop - start
    if kept <= 0 or size + lo + hi <= 0:
        return np.zeros(max(size + lo + hi, 0), dtype=np.int64)
    pos = np.arange(-max(lo, 0), kept + max(hi, 0))
    return start + pos % kept
