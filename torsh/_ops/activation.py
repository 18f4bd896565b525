"""softmax and log_softmax along a dim (torch.softmax / Tensor.softmax; torsh.special and torsh.nn use them)."""
import numpy as np

from .._tensor import wrap
from ..autograd.graph import Node, needs_grad, record
from ._helpers import dtype_name, normalize_dim


class SoftmaxBackward0(Node):
    def backward(self, grad):
        (y,) = self.saved_tensors
        gy = grad * y
        return (gy - y * gy.sum(self.dim, keepdim=True),)


class LogSoftmaxBackward0(Node):
    def backward(self, grad):
        (y,) = self.saved_tensors
        return (grad - y.exp() * grad.sum(self.dim, keepdim=True),)


def _prepare(op, input, dim, dtype):
    if dtype is not None:
        input = input.to(dtype)
    if not (input.dtype.is_floating_point or input.dtype.is_complex):
        raise NotImplementedError(f'"{op}_lastdim_kernel_impl" not implemented for \'{dtype_name(input.dtype)}\'')
    if dim is None:  # PyTorch's legacy implicit dim
        ndim = input._data.ndim
        dim = 0 if ndim in (0, 1, 3) else 1
    return input, normalize_dim(dim, input._data.ndim)


def _shifted(data, d):
    if data.ndim == 0:
        return data - data
    if data.size == 0:
        return data.copy()
    m = np.max(data, axis=d, keepdims=True)
    return data - np.where(np.isfinite(m), m, 0)


def softmax(input, dim=None, dtype=None, *, _stacklevel=3):
    input, d = _prepare("softmax", input, dim, dtype)
    with np.errstate(invalid="ignore", over="ignore"):
        e = np.exp(_shifted(input._data, d))
        value = e / (np.sum(e, axis=d, keepdims=True) if e.ndim else e)
    result = wrap(np.asarray(value, dtype=input._data.dtype))
    if needs_grad(input):
        node = SoftmaxBackward0()
        node.dim = d
        record(node, (input,), (result,))
        node.save_for_backward(result)
    return result


def log_softmax(input, dim=None, dtype=None, *, _stacklevel=3):
    input, d = _prepare("log_softmax", input, dim, dtype)
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        z = _shifted(input._data, d)
        value = z - np.log(np.sum(np.exp(z), axis=d, keepdims=True) if z.ndim else np.exp(z))
    result = wrap(np.asarray(value, dtype=input._data.dtype))
    if needs_grad(input):
        node = LogSoftmaxBackward0()
        node.dim = d
        record(node, (input,), (result,))
        node.save_for_backward(result)
    return result


__all__ = ["softmax", "log_softmax"]
