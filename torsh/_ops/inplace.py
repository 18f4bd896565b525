"""In-place ops: one generic mechanism over the out-of-place op.

Without autograd the new values are written straight into the storage. With autograd the
out-of-place op runs on a snapshot of the old value, its result is copied into the storage
and the tensor takes the result's grad_fn. When the tensor is a view, the base's history is
rewritten too (``CopySlices``: the base is the old base with the view's region replaced), and
the view's grad_fn is re-derived from the base, as PyTorch does.
"""
import numpy as np

from .. import _dtype
from .._tensor import Tensor, wrap
from ..autograd import grad_mode
from ..autograd.graph import Node, needs_grad, record
from ._helpers import dtype_name

OVERLAP_ERROR = ("unsupported operation: more than one element of the written-to tensor refers to a single memory "
                 "location. Please clone() the tensor before performing the operation.")


def check_inplace_allowed(t):
    if not grad_mode.is_grad_enabled():
        return
    if t._requires_grad and t._base is None and t._grad_fn is None:
        raise RuntimeError("a leaf Variable that requires grad is being used in an in-place operation.")
    base = t._base
    if base is not None and base._requires_grad and base._grad_fn is None and base._base is None:
        raise RuntimeError("a view of a leaf Variable that requires grad is being used in an in-place operation.")


def _write(t, array):
    """Copy ``array`` into t's storage (casting as PyTorch allows) and bump its version."""
    src = _dtype.from_numpy_dtype(array.dtype)
    if not _dtype.can_cast(src, t.dtype):
        raise RuntimeError(f"result type {dtype_name(src)} can't be cast to the desired output type {dtype_name(t.dtype)}")
    if not t._data.flags.writeable:
        raise RuntimeError(OVERLAP_ERROR)
    if array.shape != t._data.shape:
        try:
            array = np.broadcast_to(array, t._data.shape)
        except ValueError:
            raise RuntimeError(
                f"output with shape {list(t._data.shape)} doesn't match the broadcast shape {list(array.shape)}") from None
    np.copyto(t._data, array, casting="unsafe")
    t._version_counter[0] += 1


def _snapshot(t):
    """The current value of ``t`` as a separate tensor standing at the same place in the graph."""
    s = Tensor._wrap(np.array(t._data, copy=True))
    if t._requires_grad:
        s._requires_grad = True
        s._grad_fn, s._output_nr = t.grad_fn, t._output_nr  # never a leaf: check_inplace_allowed refused those
    return s


class CopySlices(Node):
    """The base after an in-place op on one of its views: old base outside the view, result inside."""

    def name(self):
        return "torch::autograd::CopySlices"  # PyTorch's own name for this node

    def backward(self, grad):
        grad_base = None
        if self.next_functions[0][0] is not None:
            keep = np.ones(self.base_shape, dtype=grad._data.dtype)
            with grad_mode.no_grad():
                self.view_fn(wrap(keep))._data[...] = 0
            grad_base = grad * wrap(keep)
        grad_result = self.view_fn(grad) if self.next_functions[1][0] is not None else None
        return grad_base, grad_result


def apply_inplace(t, name, op, *args, fast=None, **kwargs):
    """Run out-of-place ``op(t, *args, **kwargs)`` and make its result t's new value."""
    check_inplace_allowed(t)
    if not needs_grad(t, *args, *kwargs.values()):
        if fast is not None:
            if not t._data.flags.writeable:
                raise RuntimeError(OVERLAP_ERROR)
            fast(t, *args, **kwargs)
            t._version_counter[0] += 1
        else:
            with grad_mode.no_grad():
                result = op(t, *args, **kwargs)
            _write(t, result._data)
        return t
    base = t._base
    snapshot = _snapshot(t)
    result = op(snapshot, *args, **kwargs)
    if not result._requires_grad:  # e.g. fill_ with a constant: the old value gets a zero gradient
        from .pointwise import _ZeroGrad
        record(_ZeroGrad(name.rstrip("_").capitalize() + "Backward0", (t._data.shape,)), (snapshot,), (result,))
    if result.dtype is not t.dtype:
        result = result.to(t.dtype) if _dtype.can_cast(result.dtype, t.dtype) else _raise_cast(result, t)
    if base is None or t._view_fn is None:
        _write(t, result._data)
        t._grad_fn, t._output_nr, t._requires_grad = result._grad_fn, result._output_nr, True
        return t
    node = CopySlices()
    node.view_fn, node.base_shape = t._view_fn, base._data.shape
    record(node, (base, result), (base,))
    node._input_meta = (None, node._input_meta[1])
    _write(t, result._data)
    t._regenerate_view_grad_fn()
    return t


def _raise_cast(result, t):
    raise RuntimeError(
        f"result type {dtype_name(result.dtype)} can't be cast to the desired output type {dtype_name(t.dtype)}")


def _binary_fast(np_fn):
    def fast(t, other, **kwargs):
        alpha = kwargs.get("alpha", 1)
        b = other._data if isinstance(other, Tensor) else other
        rt = _dtype.result_type_of(t, other)
        if not _dtype.can_cast(rt, t.dtype):
            _raise_cast(wrap(np.empty(0, rt.np)), t)
        if alpha != 1:
            b = b * alpha
        try:
            np_fn(t._data, b, out=t._data, casting="unsafe")
        except ValueError:
            raise RuntimeError(
                f"output with shape {list(t._data.shape)} doesn't match the broadcast shape "
                f"{list(np.broadcast_shapes(t._data.shape, np.shape(b)))}") from None
    return fast


add_fast = _binary_fast(np.add)
sub_fast = _binary_fast(np.subtract)
mul_fast = _binary_fast(np.multiply)


def div_fast(t, other, rounding_mode=None):
    if rounding_mode is not None or not (t.dtype.is_floating_point or t.dtype.is_complex):
        from .pointwise import div
        with grad_mode.no_grad():
            _write_unversioned(t, div(t, other, rounding_mode=rounding_mode)._data)
        return
    b = other._data if isinstance(other, Tensor) else other
    np.true_divide(t._data, b, out=t._data, casting="unsafe")


def _write_unversioned(t, array):
    _write(t, array)
    t._version_counter[0] -= 1  # apply_inplace bumps it once for the whole op
