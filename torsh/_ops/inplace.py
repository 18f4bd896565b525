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
from ..autograd import graph as _graph
from ..autograd.graph import Node, _short_name, needs_grad, record
from ._helpers import broadcast_shapes, check_dtype_support, dtype_name, to_array
from .tensor.elementwise import bulk

OVERLAP_ERROR = ("unsupported operation: more than one element of the written-to tensor refers to a single memory "
                 "location. Please clone() the tensor before performing the operation.")


# the nodes of PyTorch's view ops, through which a view's grad_fn leads down to its base's; the
# multi-output ones (split, chunk, unbind) give views that may not be modified in place
_VIEW_NODES = frozenset({"ViewBackward0", "TransposeBackward0", "PermuteBackward0", "TBackward0", "SqueezeBackward0",
                         "SqueezeBackward1", "SqueezeBackward2", "UnsqueezeBackward0", "ExpandBackward0",
                         "SliceBackward0", "SelectBackward0", "DiagonalBackward0", "AliasBackward0"})
_MULTI_OUTPUT_VIEW_NODES = frozenset({"SplitBackward0", "SplitWithSizesBackward0", "UnbindBackward0"})


def check_inplace_allowed(t):
    if not grad_mode.is_grad_enabled():
        return
    if t._requires_grad and t._base is None and t._grad_fn is None:
        raise RuntimeError("a leaf Variable that requires grad is being used in an in-place operation.")
    base = t._base
    if base is not None and base._requires_grad and base._grad_fn is None and base._base is None:
        raise RuntimeError("a view of a leaf Variable that requires grad is being used in an in-place operation.")
    if base is not None and base._requires_grad:
        _check_not_from_multi_output_view(t, base)


def _check_not_from_multi_output_view(t, base):
    """PyTorch refuses in-place ops on the views split/chunk/unbind return, and on views of them."""
    fn, base_fn = t.grad_fn, base.grad_fn
    while fn is not None and fn is not base_fn:
        name = fn.name()
        if name in _MULTI_OUTPUT_VIEW_NODES:
            raise RuntimeError(
                f"Output {t._output_nr} of {_short_name(t.grad_fn)} is a view and is being modified inplace. This view "
                "is the output of a function that returns multiple views. Such functions do not allow the output "
                "views to be modified inplace. You should replace the inplace operation by an out-of-place one.")
        if name not in _VIEW_NODES:
            return
        fn = fn.next_functions[0][0]


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
    """The base after an in-place op on one of its views: old base outside the view, result inside.

    The view's region is found by replaying the view's chain of view functions (``view_fn``) on
    the gradient, laid out in memory as the base was (``base_order``): a view function that
    worked on the base (``view(6, 4)`` of a contiguous base) must work on its gradient too, which
    may arrive transposed or strided from other views of the base.
    """

    def name(self):
        return "torch::autograd::CopySlices"  # PyTorch's own name for this node

    def backward(self, grad):
        grad_base = None
        if self.next_functions[0][0] is not None:
            keep = wrap(_ones_in_order(self.base_shape, self.base_order, grad._data.dtype))
            with grad_mode.no_grad():
                self.view_fn(keep)._data[...] = 0
            grad_base = grad * keep
        grad_result = None
        if self.next_functions[1][0] is not None:
            grad_result = self.view_fn(_in_order(grad, self.base_order))
        return grad_base, grad_result


def memory_order(array):
    """The axes of ``array`` from the outermost in memory (largest stride) to the innermost."""
    return tuple(sorted(range(array.ndim), key=lambda d: (-abs(array.strides[d]), d)))


def _inverse(order):
    inverse = [0] * len(order)
    for position, axis in enumerate(order):
        inverse[axis] = position
    return tuple(inverse)


def _in_order(t, order):
    """``t``'s values in a dense array whose axes lie in memory in ``order`` (torsh ops: differentiable)."""
    if order == tuple(range(len(order))):
        return t.contiguous()
    return t.permute(order).contiguous().permute(_inverse(order))


def _ones_in_order(shape, order, dtype):
    return np.ones([shape[d] for d in order], dtype=dtype).transpose(_inverse(order))


def _keep_result_saved_in_place(result, t):
    """Point the saved copy of ``result`` in its node at ``t``, which now holds the value.

    PyTorch saves an in-place op's output as the modified tensor itself (``exp_`` saves self at
    its new version), so a later in-place change of ``t`` makes backward raise instead of
    silently using the stale private result.
    """
    node = result._grad_fn
    for saved in (node._saved or ()) if node is not None else ():
        if saved is not None and saved.tensor is None and saved.data is result._data:
            saved.data, saved.version_box = t._data, t._version_counter
            saved.version = t._version_counter[0]


# ids of the tensors the innermost running grad/vjp/jvp transform's function captured (torsh.func pushes one
# set per transform; empty outside them): an in-place op on one is PyTorch's functorch error
CAPTURED_BY_TRANSFORM = []
_TENSOR_OVERLOAD = {"add_": ".Tensor", "sub_": ".Tensor", "mul_": ".Tensor", "div_": ".Tensor", "fill_": ".Scalar"}


def _refuse_captured(t, name):
    if id(t) in CAPTURED_BY_TRANSFORM[-1]:
        raise RuntimeError(f"During a grad (vjp, jvp, grad, etc) transform, the function provided attempted to call "
                           f"in-place operation (aten::{name}{_TENSOR_OVERLOAD.get(name, '')}) that would mutate a "
                           "captured Tensor. This is not supported; please rewrite the function being transformed "
                           "to explicitly accept the mutated Tensor(s) as inputs.")


def apply_inplace(t, name, op, *args, fast=None, keeps_input=True, **kwargs):
    """Run out-of-place ``op(t, *args, **kwargs)`` and make its result t's new value.

    ``keeps_input=False`` says that ``op`` saves no reference to its input (only its result, or
    nothing), so with autograd it runs on ``t`` itself instead of on a private copy of the old
    value (PyTorch's ``self_is_result`` formulas: ``leaky_relu_``, ``elu_``).
    """
    if _graph._forward is not None:  # a dual level is open: forward_ad updates the tangent in place too
        return _graph._forward.apply_inplace(t, op, args, kwargs, lambda: apply_inplace(
            t, name, op, *args, fast=fast, keeps_input=keeps_input, **kwargs))
    check_inplace_allowed(t)
    if CAPTURED_BY_TRANSFORM:
        _refuse_captured(t, name)
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
    source = _snapshot(t) if keeps_input else t
    result = op(source, *args, **kwargs)
    if not result._requires_grad:  # e.g. fill_ with a constant: the old value gets a zero gradient
        from .tensor.elementwise.arithmetic import _ZeroGrad
        record(_ZeroGrad(name.rstrip("_").capitalize() + "Backward0", (t._data.shape,)), (source,), (result,))
    op_result = result
    if result.dtype is not t.dtype:
        result = result.to(t.dtype) if _dtype.can_cast(result.dtype, t.dtype) else _raise_cast(result, t)
    if base is None or t._view_fn is None:
        _write(t, result._data)
        t._grad_fn, t._output_nr, t._requires_grad = result._grad_fn, result._output_nr, True
    else:
        node = CopySlices()
        node.view_fn, node.base_shape, node.base_order = t._view_fn, base._data.shape, memory_order(base._data)
        record(node, (base, result), (base,))
        node._input_meta = (None, node._input_meta[1])
        _write(t, result._data)
        t._regenerate_view_grad_fn()
    _keep_result_saved_in_place(op_result, t)
    return t


def _raise_cast(result, t):
    raise RuntimeError(
        f"result type {dtype_name(result.dtype)} can't be cast to the desired output type {dtype_name(t.dtype)}")


def _binary_fast(np_fn, op=None, kernel=None):
    """``op``: the name whose dtype support is checked (add/sub: none for uint16/32/64 in PyTorch); ``kernel``:
    the elementwise kernel op that may run it (bulk.inplace_binary)."""
    def fast(t, other, **kwargs):
        alpha = kwargs.get("alpha", 1)
        b = other._data if isinstance(other, Tensor) else other
        rt = _dtype.result_type_of(t, other)
        if op is not None:
            check_dtype_support(op, rt.np)
        if not _dtype.can_cast(rt, t.dtype):
            _raise_cast(wrap(np.empty(0, rt.np)), t)
        if alpha != 1:  # scaled in the promoted dtype, as PyTorch (float64.add_(bfloat16, alpha=) is float64)
            b = to_array(other, rt.np) * rt.np.type(alpha)
        if kernel is not None and alpha == 1 and bulk.inplace_binary(kernel, t._data, b, np_fn):
            return  # a large contiguous float tensor and a number or a tensor of its shape: the kernels
        if type(b) is int:  # int8_tensor.add_(1000): PyTorch wraps the number around the type, NumPy raises
            b = to_array(b, t._data.dtype)
        try:
            np_fn(t._data, b, out=t._data, casting="unsafe")
        except ValueError:
            raise RuntimeError(
                f"output with shape {list(t._data.shape)} doesn't match the broadcast shape "
                f"{list(broadcast_shapes(t._data.shape, np.shape(b)))}") from None  # raises first when incompatible
    return fast


add_fast = _binary_fast(np.add, "add", "add")
sub_fast = _binary_fast(np.subtract, "sub", "sub")
mul_fast = _binary_fast(np.multiply, kernel="mul")


def div_fast(t, other, rounding_mode=None):
    if rounding_mode is not None or not (t.dtype.is_floating_point or t.dtype.is_complex):
        from .tensor.elementwise.arithmetic import div
        with grad_mode.no_grad():
            _write_unversioned(t, div(t, other, rounding_mode=rounding_mode)._data)
        return
    b = other._data if isinstance(other, Tensor) else other
    if not bulk.inplace_binary("div", t._data, b, np.true_divide):
        np.true_divide(t._data, b, out=t._data, casting="unsafe")


def _write_unversioned(t, array):
    _write(t, array)
    t._version_counter[0] -= 1  # apply_inplace bumps it once for the whole op
