"""softmax and log_softmax along a dim (torch.softmax / Tensor.softmax; torsh.special and torsh.nn use them).

Over the last dim of a contiguous float32/float64 input, forward and backward run on the row
kernels of the ``nn`` family when the dispatcher picks them; other dims and layouts run on NumPy.
The backward uses its kernel only when no graph of the gradient is being built: with
``create_graph=True`` it is the torsh-op formula, so higher derivatives stay exact.
"""
import numpy as np

from ...._tensor import wrap
from ....autograd import grad_mode
from ....autograd.graph import Node, needs_grad, record
from ....backend import dispatch, events, kernels
from ..._helpers import accumulation_array, dtype_name, normalize_dim
from ...registry import register

_NOT_LAST_DIM = "not a reduction over the last dim of a contiguous array"


def _row_kernel_layout(data, d):
    """True when ``data`` reduced over ``d`` is a contiguous (rows, cols) matrix the kernels take."""
    return d == data.ndim - 1 and data.flags.c_contiguous and data.size > 0


def _unrecorded_variant(op, numel, np_dtype, fits):
    """The variant dispatch.call would run when nobody records its decisions, else None (the caller then goes
    through dispatch.call, which records). Called this way, the row ops skip dispatch.call's closures and frames."""
    if dispatch.TOPIC in events._subscribers:
        return None
    if numel < dispatch._numpy_below[op]:
        return "numpy"
    return dispatch._variant(op, numel, np_dtype, fits)


def _rows_backward(op, y, g, formula):
    """The backward of (log_)softmax over the last dim on its row kernel, or ``formula()``."""
    data = y._data
    if grad_mode._state.enabled:  # create_graph: the gradient must itself be differentiable
        return formula()
    gd = g._data
    fits = _row_kernel_layout(data, data.ndim - 1) and gd.shape == data.shape and gd.dtype == data.dtype

    def compiled(parallel):
        y2 = data.reshape(-1, data.shape[-1])
        out = np.empty_like(y2)
        getattr(kernels.get("nn"), op + "_rows")(y2, np.ascontiguousarray(gd).reshape(y2.shape), out, parallel)
        return wrap(out.reshape(data.shape))

    variant = _unrecorded_variant(op, data.size, data.dtype, fits)
    if variant is None:
        return dispatch.call(op, data.size, data.dtype, fits, compiled, formula)
    return formula() if variant == "numpy" else compiled(variant == "pythran_omp")


def _in_float32(formula, y, grad):
    """``formula(y, grad)`` computed in float32 for a float16/bfloat16 ``y`` and rounded once, as PyTorch's
    kernels do (its subtraction cancels: in bfloat16 the result loses most of its digits)."""
    if y.element_size() != 2 or not y.is_floating_point():
        return formula(y, grad)
    return formula(y.float(), grad.float()).to(y.dtype)


class SoftmaxBackward0(Node):
    def backward(self, grad):
        (y,) = self.saved_tensors

        def formula():
            def on(y, grad):
                gy = grad * y
                return gy - y * gy.sum(self.dim, keepdim=True)
            return _in_float32(on, y, grad)

        if self.dim != y.ndim - 1:
            return (formula(),)
        return (_rows_backward("softmax_backward", y, grad, formula),)


class LogSoftmaxBackward0(Node):
    def backward(self, grad):
        (y,) = self.saved_tensors

        def formula():
            return _in_float32(lambda y, grad: grad - y.exp() * grad.sum(self.dim, keepdim=True), y, grad)

        if self.dim != y.ndim - 1:
            return (formula(),)
        return (_rows_backward("log_softmax_backward", y, grad, formula),)


def _prepare(op, input, dim, dtype):
    if dtype is not None:
        input = input.to(dtype)
    ndim = input._data.ndim
    if dim is None:  # PyTorch's legacy implicit dim
        dim = 0 if ndim in (0, 1, 3) else 1
    d = normalize_dim(dim, ndim)
    if not input.dtype.is_floating_point and input._data.size:  # an empty input reaches no kernel
        kernel = f"{op}_lastdim_kernel_impl" if d >= ndim - 1 else f"{op}_kernel_impl"
        raise NotImplementedError(f'"{kernel}" not implemented for \'{dtype_name(input.dtype)}\'')
    return input, d


def _shifted(data, d):
    if data.ndim == 0:
        return data - data
    if data.size == 0:
        return data.copy()
    # shifted by the max even where it is infinite: rows holding +inf or only -inf give nan, as in PyTorch
    return data - np.max(data, axis=d, keepdims=True)


def _on_rows(op, data, d, numpy_fn):
    """Run ``op`` over the rows of ``data`` (reduced over dim ``d``) on its kernel or on NumPy."""
    def compiled(parallel):
        x2 = data.reshape(-1, data.shape[-1])
        out = np.empty_like(x2)
        getattr(kernels.get("nn"), op + "_rows")(x2, out, parallel)
        return out.reshape(data.shape)

    fits = _row_kernel_layout(data, d)
    variant = _unrecorded_variant(op, data.size, data.dtype, fits)
    if variant is None:
        return dispatch.call(op, data.size, data.dtype, fits, compiled, numpy_fn, _NOT_LAST_DIM)
    return numpy_fn() if variant == "numpy" else compiled(variant == "pythran_omp")


def _softmax_np(data, d):
    dtype, data = data.dtype, accumulation_array(data)  # float16/bfloat16 in float32, as PyTorch
    with np.errstate(invalid="ignore", over="ignore"):
        e = np.exp(_shifted(data, d))
        value = e / (np.sum(e, axis=d, keepdims=True) if e.ndim else e)
    return np.asarray(value, dtype=dtype)


def _log_softmax_np(data, d):
    dtype, data = data.dtype, accumulation_array(data)
    if data.ndim == 0 or data.size == 0:
        return np.asarray(_shifted(data, d), dtype=dtype)
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        # x - (max + log(sum(exp(x - max)))), in PyTorch's order, so float16/bfloat16 round as its kernel does
        m = np.max(data, axis=d, keepdims=True)
        value = data - (m + np.log(np.sum(np.exp(data - m), axis=d, keepdims=True)))
    return np.asarray(value, dtype=dtype)


def _normalized_exp(op, node_cls, numpy_fn, input, dim, dtype):
    """softmax / log_softmax: the rows on their kernel or NumPy, one node saving the result."""
    input, d = _prepare(op, input, dim, dtype)
    data = input._data
    result = wrap(_on_rows(op, data, d, lambda: numpy_fn(data, d)))
    if needs_grad(input):
        node = node_cls()
        node.dim = d
        record(node, (input,), (result,))
        node.save_for_backward(result)
    return result


def softmax(input, dim=None, dtype=None, *, _stacklevel=3):
    return _normalized_exp("softmax", SoftmaxBackward0, _softmax_np, input, dim, dtype)
register(softmax, node_name="SoftmaxBackward0")


def log_softmax(input, dim=None, dtype=None, *, _stacklevel=3):
    return _normalized_exp("log_softmax", LogSoftmaxBackward0, _log_softmax_np, input, dim, dtype)
register(log_softmax, node_name="LogSoftmaxBackward0")


__all__ = ["softmax", "log_softmax"]
