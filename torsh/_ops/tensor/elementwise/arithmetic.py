"""Elementwise ops: arithmetic, unary math, comparisons, logical ops, where and clamp.

Each op is one function (forward on NumPy, through the dispatcher where a compiled kernel
exists) plus one Node subclass whose backward is written in torsh ops.
"""
import math
import warnings

import numpy as np
import scipy.special as sps

from .... import _dtype
from ...._tensor import _CPP_TYPE, Tensor, wrap
from ....autograd import grad_mode as _grad_mode
from ....autograd.grad_mode import no_grad
from ....autograd.graph import Node, backward_on_arrays, needs_grad, record
from ....backend import dispatch
from . import bulk
from ...nn.activation import kernel_backward as _activation_backward
from ... import registry
from ...registry import copy_out
from ...inplace import add_fast, div_fast, mul_fast, sub_fast
from ..._helpers import (UNSUPPORTED_KINDS, broadcast_shapes, check_dtype_support, is_tensor, require_tensor_operands,
                         sum_to, to_array)


def _operands(a, b, op):
    """Both operands as arrays of their promoted dtype, and that dtype."""
    # the common cases first, without the full promotion rules: same dtypes, or a tensor and a
    # Python number that does not change its dtype (NumPy keeps such scalars "weak", as PyTorch does)
    if isinstance(a, Tensor):
        kind = a._data.dtype.kind
        if isinstance(b, Tensor):
            if a._data.dtype == b._data.dtype:
                return a._data, b._data, _dtype._BY_NP[a._data.dtype]
        elif (type(b) is float and kind in "fc") or (type(b) is int and kind in "fci"):
            return a._data, b, _dtype._BY_NP[a._data.dtype]
    elif isinstance(b, Tensor):
        kind = b._data.dtype.kind
        if (type(a) is float and kind in "fc") or (type(a) is int and kind in "fci"):
            return a, b._data, _dtype._BY_NP[b._data.dtype]
    if not is_tensor(a) and not is_tensor(b):  # torch.add(5, 5): the first becomes a tensor
        from ..creation import tensor
        a = tensor(a)
    rt = _dtype.result_type_of(a, b)
    return to_array(a, rt.np), to_array(b, rt.np), rt


def _shape(x):
    return x._data.shape if is_tensor(x) else ()


def _numpy_binary(np_fn, a, b):
    try:
        return np_fn(a, b)
    except ValueError:
        _raise_broadcast_error(a, b)
        raise


def _raise_broadcast_error(*operands):
    """On NumPy's ValueError: PyTorch's RuntimeError naming the sizes, if the operands do not broadcast."""
    broadcast_shapes(*(np.shape(x) for x in operands))


def _compute_binary(op, a, b, np_fn):
    if isinstance(a, np.ndarray):
        if isinstance(b, np.ndarray):
            try:
                return bulk.binary(op, a, b, np_fn)
            except ValueError:
                broadcast_shapes(a.shape, b.shape)
                raise
        result = bulk.array_scalar(op, a, b, np_fn)  # a large float array and a Python number: the kernels
        if result is not None:
            return result
    elif isinstance(b, np.ndarray):
        result = bulk.array_scalar(op, b, a, np_fn, reflected=True)
        if result is not None:
            return result
    return np.asarray(np_fn(a, b))


def _wrap_result(array, rt):
    if array.dtype != rt.np:
        array = array.astype(rt.np)
    return wrap(array)


def _grad_if(node, i, make):
    return make() if node.next_functions[i][0] is not None else None


# -- add / sub -------------------------------------------------------------------------------
# the four arithmetic nodes test their edges inline rather than through _grad_if: every small
# forward/backward runs them, and a closure per operand per call showed in W1's profile
class AddBackward0(Node):
    def backward(self, grad):
        (to_a, _), (to_b, _) = self.next_functions
        grad_a = sum_to(grad, self.shapes[0]) if to_a is not None else None
        grad_b = None
        if to_b is not None:
            grad_b = sum_to(grad if self.alpha == 1 else grad * self.alpha, self.shapes[1])
        return grad_a, grad_b


class SubBackward0(Node):
    def backward(self, grad):
        (to_a, _), (to_b, _) = self.next_functions
        grad_a = sum_to(grad, self.shapes[0]) if to_a is not None else None
        grad_b = None
        if to_b is not None:
            grad_b = sum_to(-grad if self.alpha == 1 else grad * -self.alpha, self.shapes[1])
        return grad_a, grad_b


_NO_ADD_KERNEL = UNSUPPORTED_KINDS["add"]  # uint16/32/64: PyTorch has no add kernel


def _add_like(op, np_fn, node_cls, input, other, alpha):
    if op == "sub":
        _check_sub_operands(input, other)
    a, b, rt = _operands(input, other, op)
    if rt.np.char in _NO_ADD_KERNEL:
        check_dtype_support(op, rt.np, np.shape(a), np.shape(b))
    if alpha != 1:
        b = b * rt.np.type(alpha)
    result = _wrap_result(_compute_binary(op, a, b, np_fn), rt)
    if needs_grad(input, other):
        node = node_cls()
        node.shapes, node.alpha = (_shape(input), _shape(other)), alpha
        node.scalars = (None if is_tensor(input) else input, None if is_tensor(other) else other)  # for tracing
        record(node, (input, other), (result,))
    return result


def _is_bool_operand(x):
    return x._data.dtype.kind == "b" if is_tensor(x) else isinstance(x, (bool, np.bool_))


def _check_sub_operands(input, other):
    """PyTorch refuses a bool operand of ``-`` (a Python bool counts as a bool tensor)."""
    a_bool, b_bool = _is_bool_operand(input), _is_bool_operand(other)
    if a_bool and b_bool:
        raise RuntimeError("Subtraction, the `-` operator, with two bool tensors is not supported. "
                           "Use the `^` or `logical_xor()` operator instead.")
    if a_bool or b_bool:
        raise RuntimeError("Subtraction, the `-` operator, with a bool tensor is not supported. "
                           "If you are trying to invert a mask, use the `~` or `logical_not()` operator instead.")


def add(input, other, *, alpha=1, out=None):
    return copy_out(_add_like("add", np.add, AddBackward0, input, other, alpha), out)
registry.register(add, node_name="AddBackward0", inplace=registry.Inplace(fast=add_fast), fusion="add")


def sub(input, other, *, alpha=1, out=None):
    return copy_out(_add_like("sub", np.subtract, SubBackward0, input, other, alpha), out)
registry.register(sub, aliases=("subtract",), node_name="SubBackward0", inplace=registry.Inplace(fast=sub_fast),
                  fusion="sub")


subtract = sub


class RsubBackward1(Node):
    def backward(self, grad):
        return (grad * -self.alpha,)


class RsubBackward0(Node):  # rsub(tensor, tensor): edges in (input, other) order, as PyTorch's
    def backward(self, grad):
        return (_grad_if(self, 0, lambda: sum_to(grad * -self.alpha, self.shapes[0])),
                _grad_if(self, 1, lambda: sum_to(grad, self.shapes[1])))


def rsub(input, other, alpha=1):
    """other - alpha * input (the reflected operator ``2 - t`` when ``other`` is a scalar)."""
    if is_tensor(other):
        if not needs_grad(input, other):
            return sub(other, input, alpha=alpha)
        with no_grad():
            result = sub(other, input, alpha=alpha)
        node = RsubBackward0()
        node.alpha, node.shapes = alpha, (input.shape, other.shape)
        record(node, (input, other), (result,))
        return result
    with no_grad():
        result = sub(other, input, alpha=alpha)
    if needs_grad(input):
        node = RsubBackward1()
        node.alpha, node.other = alpha, other
        record(node, (input,), (result,))
    return result
registry.register(rsub, method=False, node_name="RsubBackward1", fusion="rsub")


# -- mul / div -------------------------------------------------------------------------------
class MulBackward0(Node):
    def backward(self, grad):
        a, b = self.saved_tensors
        (to_a, _), (to_b, _) = self.next_functions
        if backward_on_arrays():
            grads = _mul_grads_on_arrays(self, grad, a, b, to_a, to_b)
            if grads is not None:
                return grads
        grad_a = grad_b = None
        if to_a is not None:
            grad_a = sum_to(grad * _conj(self.scalars[1] if b is None else b), self.shapes[0])
        if to_b is not None:
            grad_b = sum_to(grad * _conj(self.scalars[0] if a is None else a), self.shapes[1])
        return grad_a, grad_b


def _mul_grads_on_arrays(node, grad, a, b, to_a, to_b):
    """MulBackward0's gradients as the torsh ops would compute them (the same NumPy multiply, or the
    dispatched kernel, and sum_to), on the arrays: a real gradient times a real number or a tensor of its
    dtype. None in any other case (complex, mixed dtypes), for the formula in torsh ops."""
    g = grad._data
    if g.dtype.kind != "f":
        return None
    factor_a = _real_factor(g, node.scalars[1] if b is None else b) if to_a is not None else _UNUSED
    factor_b = _real_factor(g, node.scalars[0] if a is None else a) if to_b is not None else _UNUSED
    if factor_a is None or factor_b is None:
        return None
    grad_a = None if factor_a is _UNUSED else sum_to(wrap(_times(g, factor_a)), node.shapes[0])
    grad_b = None if factor_b is _UNUSED else sum_to(wrap(_times(g, factor_b)), node.shapes[1])
    return grad_a, grad_b


_UNUSED = object()  # no gradient wanted for this operand


def _real_factor(g, value):
    """``value`` as the array or Python number the product's backward multiplies ``g`` by, or None."""
    if type(value) is float or type(value) is int:
        return value
    if isinstance(value, Tensor) and value._data.dtype == g.dtype:
        return value._data
    return None


def _times(g, factor):
    """``g * factor`` on arrays as Tensor's ``*`` computes it (NumPy, or the dispatcher's kernel)."""
    return np.asarray(_compute_binary("mul", g, factor, np.multiply))


def _conj(value):
    """PyTorch's complex gradients are conjugate Wirtinger: a product's backward multiplies by the
    conjugate of the other factor. Real tensors and numbers pass through unchanged (no extra op)."""
    if isinstance(value, complex):
        return value.conjugate()
    if isinstance(value, Tensor) and value.dtype.is_complex:
        return value.conj()
    return value


def mul(input, other, *, out=None):
    a, b, rt = _operands(input, other, "mul")
    np_fn = np.logical_and if rt is _dtype.bool else np.multiply
    result = _wrap_result(_compute_binary("mul", a, b, np_fn), rt)
    if needs_grad(input, other):
        _record_mul(input, other, result)
    return result if out is None else copy_out(result, out)


def _record_mul(input, other, result):
    node = MulBackward0()
    input_is_tensor, other_is_tensor = isinstance(input, Tensor), isinstance(other, Tensor)
    node.shapes = (input._data.shape if input_is_tensor else (), other._data.shape if other_is_tensor else ())
    node.scalars = (None if input_is_tensor else input, None if other_is_tensor else other)
    # each operand is needed only for the other's gradient
    node.save_for_backward(input if input_is_tensor and other_is_tensor and other._requires_grad else None,
                           other if other_is_tensor and input_is_tensor and input._requires_grad else None)
    record(node, (input, other), (result,))
registry.register(mul, aliases=("multiply",), node_name="MulBackward0", inplace=registry.Inplace(fast=mul_fast),
                  fusion="mul")


multiply = mul


class DivBackward0(Node):
    def backward(self, grad):
        b, result = self.saved_tensors
        b = self.scalars[1] if b is None else b
        (to_a, _), (to_b, _) = self.next_functions
        grad_a = sum_to(grad / _conj(b), self.shapes[0]) if to_a is not None else None
        grad_b = sum_to(-grad * _conj(result / b), self.shapes[1]) if to_b is not None else None
        return grad_a, grad_b


def div(input, other, *, rounding_mode=None, out=None):
    if rounding_mode is not None:
        return copy_out(_rounding_div(input, other, rounding_mode), out)
    a, b, rt = _operands(input, other, "div")
    if not (rt.is_floating_point or rt.is_complex):
        rt = _dtype.get_default_dtype()
        a, b = to_array(input, rt.np), to_array(other, rt.np)
    result = _wrap_result(_compute_binary("div", a, b, np.true_divide), rt)
    if needs_grad(input, other):
        node = DivBackward0()
        node.shapes = (_shape(input), _shape(other))
        node.scalars = (None if is_tensor(input) else input, None if is_tensor(other) else other)
        record(node, (input, other), (result,))
        node.save_for_backward(other if is_tensor(other) else None,
                               result if getattr(other, "_requires_grad", False) else None)
    return copy_out(result, out)
registry.register(div, aliases=("divide", "true_divide"), node_name="DivBackward0",
                  inplace=registry.Inplace(fast=div_fast), fusion="div")


divide = true_divide = div


def _rounding_div(input, other, mode):
    a, b, rt = _operands(input, other, "div")
    if mode in ("floor", "trunc"):
        check_dtype_support("div_" + mode, rt.np, np.shape(a), np.shape(b))
    try:
        value = _rounded_quotient(a, b, rt, mode)
    except ValueError:
        _raise_broadcast_error(a, b)
        raise
    result = _wrap_result(np.asarray(value), rt)
    if needs_grad(input, other):  # piecewise constant: zero gradient everywhere
        # PyTorch's div.Tensor_mode node (a number divisor is wrapped in a tensor there too)
        record(_ZeroGrad("DivBackward2", (_shape(input), _shape(other))), (input, other), (result,))
    return result


def _rounded_quotient(a, b, rt, mode):
    with np.errstate(divide="ignore", invalid="ignore"):
        if mode == "floor":
            if rt.is_floating_point:
                value = np.floor(np.true_divide(a, b))
            else:
                _check_int_zero_division(b)
                value = np.floor_divide(a, b)
        elif mode == "trunc":
            if rt.is_floating_point:
                value = np.trunc(np.true_divide(a, b))
            else:
                _check_int_zero_division(b)
                value = np.trunc(np.true_divide(a, b))
        else:
            raise RuntimeError(f"div expected rounding_mode to be one of None, 'trunc', or 'floor' but found '{mode}'")
    return value


def _check_int_zero_division(b):
    if np.any(np.asarray(b) == 0):
        raise RuntimeError("ZeroDivisionError")


def floor_divide(input, other, *, out=None):
    return copy_out(_rounding_div(input, other, "floor"), out)
registry.register(floor_divide, inplace=True)


class _ZeroGrad(Node):
    """Backward of piecewise-constant ops (floor, sign, comparisons, ...): zeros."""

    def __init__(self, name, shapes):
        super().__init__()
        self._name, self.shapes = name, shapes

    def name(self):
        return self._name

    def backward(self, grad):
        from ..creation import zeros
        return tuple(None if fn is None else zeros(shape, dtype=grad.dtype)
                     for (fn, _), shape in zip(self.next_functions, self.shapes))


def remainder(input, other, *, out=None):
    a, b, rt = _operands(input, other, "remainder")
    check_dtype_support("remainder", rt.np, np.shape(a), np.shape(b))
    if not rt.is_floating_point:
        _check_int_zero_division(b)
    result = _wrap_result(np.asarray(_numpy_binary(np.mod, a, b)), rt)
    if needs_grad(input, other):
        node = RemainderBackward1() if is_tensor(other) else RemainderBackward0()
        node.shapes = (_shape(input), _shape(other))
        node.other = other
        record(node, (input, other), (result,))
        node.save_for_backward(input if is_tensor(input) else None, other if is_tensor(other) else None)
    return copy_out(result, out)
registry.register(remainder, inplace=True)


class RemainderBackward0(Node):
    def backward(self, grad):
        a, b = self.saved_tensors
        b = self.other if b is None else b
        return (_grad_if(self, 0, lambda: sum_to(grad, self.shapes[0])),
                _grad_if(self, 1, lambda: sum_to(-grad * floor_divide(a, b), self.shapes[1])))


RemainderBackward1 = type("RemainderBackward1", (RemainderBackward0,), {})  # PyTorch's tensor-tensor overload


# -- pow -----------------------------------------------------------------------------------
def _conj_if_complex(derivative):
    """PyTorch's gradients of complex inputs are grad * conj(df/dz)."""
    return derivative.conj() if derivative.is_complex() else derivative


class PowBackward0(Node):  # tensor ** scalar
    def backward(self, grad):
        (x,) = self.saved_tensors
        e = self.exponent
        if e == 0:
            return (grad * 0,)
        if x.is_complex():
            return (grad * _conj_if_complex(e * x.pow(e - 1)),)
        return (grad * e * x.pow(e - 1),)


class PowBackward1(Node):  # tensor ** tensor
    def backward(self, grad):
        a, b, result = self.saved_tensors
        grad_a = _grad_if(self, 0, lambda: sum_to(
            grad * _conj_if_complex(b * a.pow(b - 1)), self.shapes[0]))
        real_b = b.real if b.is_complex() else b
        grad_b = _grad_if(self, 1, lambda: sum_to(
            grad * _conj_if_complex(where((a == 0) & (real_b >= 0), 0.0, result * log(a))), self.shapes[1]))
        return grad_a, grad_b


class PowBackward2(Node):  # scalar ** tensor
    def backward(self, grad):
        (result,) = self.saved_tensors
        if self.base == 0:
            return (grad * where(result == 0, 0.0, result * math.log(self.base) if self.base > 0 else 0.0),)
        return (grad * _conj_if_complex(result * math.log(self.base)),)


def pow(input, exponent, *, out=None):
    a, b, rt = _operands(input, exponent, "pow")
    check_dtype_support("pow", rt.np)
    if rt is _dtype.bool and is_tensor(exponent):  # PyTorch's tensor-tensor pow has no bool kernel (x ** True runs)
        raise NotImplementedError('"pow" not implemented for \'Bool\'')
    integral = not (rt.is_floating_point or rt.is_complex)
    if integral and not is_tensor(exponent) and exponent < 0:
        raise RuntimeError("Integers to negative integer powers are not allowed.")
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if integral:
            value = _numpy_binary(_integer_power, a, b)
        elif not is_tensor(exponent) and exponent == 2:
            value = np.square(a)
        else:
            value = _numpy_binary(np.power, a, b)
    result = _wrap_result(np.asarray(value), rt)
    if needs_grad(input, exponent):
        if not is_tensor(exponent):
            node = PowBackward0()
            node.exponent = exponent
            record(node, (input,), (result,))
            node.save_for_backward(input)
        elif not is_tensor(input):
            node = PowBackward2()
            node.base = input
            record(node, (exponent,), (result,))
            node.save_for_backward(result)
        else:
            node = PowBackward1()
            node.shapes = (_shape(input), _shape(exponent))
            record(node, (input, exponent), (result,))
            node.save_for_backward(input, exponent, result)
    return copy_out(result, out)
registry.register(pow, node_name="PowBackward0", inplace=True, fusion="pow")


def _integer_power(a, b):
    """Integer a ** b with PyTorch's rule for negative b: 1 for a == 1, +-1 for a == -1, else 0."""
    b = np.asarray(b)
    if not np.any(b < 0):
        return np.power(a, b)
    a = np.asarray(a)
    magnitude = np.power(a, np.abs(b))
    negative = np.where(a == 1, 1, np.where(a == -1, np.where(b % 2 == 0, 1, -1), 0))
    return np.where(b < 0, negative, magnitude).astype(np.result_type(a, b))


def float_power(input, exponent):
    """pow in double precision: float64, or complex128 when either operand is complex (as PyTorch)."""
    is_complex = any(x.is_complex() if is_tensor(x) else isinstance(x, complex) for x in (input, exponent))
    target = _dtype.complex128 if is_complex else _dtype.float64
    cast = lambda x: x.to(target) if is_tensor(x) else (complex(x) if is_complex else float(x))  # noqa: E731
    return pow(cast(input), cast(exponent))
registry.register(float_power, inplace=True)


# -- unary ops -------------------------------------------------------------------------------

try:  # NumPy 2 keeps errstate in a context variable: setting it directly costs a third of np.errstate's ~0.9 us
    from numpy._core._ufunc_config import _extobj_contextvar as _fp_error_state, _make_extobj
    _IGNORE_FP_ERRORS = _make_extobj(all="ignore")
except ImportError:  # another NumPy layout: the public context manager
    _fp_error_state = None


def _quietly(fn, *args):
    """``fn(*args)`` with NumPy's floating-point warnings off (PyTorch warns for none of them)."""
    if _fp_error_state is None:
        with np.errstate(all="ignore"):
            return fn(*args)
    token = _fp_error_state.set(_IGNORE_FP_ERRORS)
    try:
        return fn(*args)
    finally:
        _fp_error_state.reset(token)


def _make_unary(name, np_fn, derivative, *, node_name, kernel=None, to_float=True, saves="input",
                array_derivative=None):
    """Define a unary op ``name`` whose gradient is ``derivative(grad, x, y)`` in torsh ops.

    ``to_float``: integer inputs give default-float outputs (exp, sin, ...), as in PyTorch.
    ``saves``: which of input/output the derivative reads ("input", "output", "both", None).
    ``array_derivative(g, x, y)``: the same formula on NumPy arrays, computing the very same values, used where
    graph.backward_on_arrays allows (a real gradient, saved tensors of its dtype): no op calls, one tensor made.
    """

    reads_input, reads_output = saves in ("input", "both"), saves in ("output", "both")

    def backward(self, grad):
        saved = self.saved_tensors
        x, y = saved[0] if reads_input else None, saved[-1] if reads_output else None
        if array_derivative is not None and backward_on_arrays():
            g = grad._data
            if g.dtype.kind == "f" and (x is None or x._data.dtype == g.dtype) and (
                    y is None or y._data.dtype == g.dtype):
                return (wrap(np.asarray(array_derivative(g, x if x is None else x._data,
                                                         y if y is None else y._data))),)
        if grad._data.dtype.kind == "c":  # PyTorch's convention for complex: grad * conj(f'(z))
            return (derivative(grad.conj(), x, y).conj(),)
        return (derivative(grad, x, y),)

    node_cls = type(node_name, (Node,), {"backward": backward, "__module__": __name__})
    unsupported = UNSUPPORTED_KINDS.get(name, {})

    def op(input, *, out=None):
        data = input._data
        kind = data.dtype.kind
        if data.dtype.char in unsupported:
            check_dtype_support(name, data.dtype)
        if to_float and kind in "biu":
            data = data.astype(_dtype.get_default_dtype().np)
        if kernel is not None:
            value = _quietly(bulk.unary, kernel, data, np_fn)
        else:
            value = _quietly(np_fn, data)
        if type(value) is not np.ndarray or value.dtype != data.dtype:
            # complex -> real ops (abs) keep their real dtype
            out_dtype = value.dtype if kind == "c" and np.asarray(value).dtype.kind == "f" else data.dtype
            value = np.asarray(value, dtype=out_dtype)
        result = wrap(value)
        if needs_grad(input):
            node = node_cls()
            record(node, (input,), (result,))
            if saves == "input":
                node.save_for_backward(input)
            elif saves == "output":
                node.save_for_backward(result)
            elif saves == "both":
                node.save_for_backward(input, result)
        return result if out is None else copy_out(result, out)

    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"torch.{name} equivalent: elementwise {name}."
    return op, node_cls


_LN2, _LN10 = math.log(2.0), math.log(10.0)
_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


def _np_sigmoid(x):
    if x.dtype.kind == "c":  # SciPy's expit has no complex loop; PyTorch computes 1 / (1 + exp(-x))
        return 1 / (1 + np.exp(-x))
    return sps.expit(x)


def _np_rsqrt(x):
    return 1.0 / np.sqrt(x)


def _np_relu(x):
    return np.maximum(x, 0).astype(x.dtype, copy=False)


def _relu_backward(grad, y):
    """PyTorch's threshold_backward(grad, y, 0) of relu's output ``y``: one kernel pass without
    create_graph, else masked_fill in torsh ops (so higher derivatives flow through ``grad``)."""
    formula = lambda: grad.masked_fill(y <= 0, 0)  # noqa: E731
    if _grad_mode.is_grad_enabled():
        return formula()
    return _activation_backward.on_kernel("relu_backward", (0,), grad, y, formula)


def _unary(name, np_fn, derivative, node_name, *, kernel=None, to_float=True, saves="input", aliases=(),
           inplace=True, fusion=None, array_derivative=None):
    """Declare the unary op ``name`` (forward from ``np_fn``, gradient ``derivative(grad, x, y)``) in the
    registry, and make it, its aliases and its node class names of this module."""
    fn, node_cls = _make_unary(name, np_fn, derivative, node_name=node_name, kernel=kernel, to_float=to_float,
                               saves=saves, array_derivative=array_derivative)
    globals()[node_name if node_name not in globals() else "_" + node_name] = node_cls
    return _declare(fn, name, aliases=aliases, node_name=node_name, kernel=kernel, inplace=inplace, fusion=fusion)


def _declare(fn, name, *, aliases=(), **facts):
    """Register ``fn`` and bind it and its aliases in this module (torsh.* exports them via __all__)."""
    registry.register(fn, name, aliases=aliases, **facts)
    for public in (name,) + tuple(aliases):
        globals()[public] = fn
        _UNARY.append(public)
    return fn


_UNARY = []  # the unary ops' public names (and aliases) declared here
_NEG_FAST, _ABS_FAST = registry.Inplace(np.negative), registry.Inplace(np.abs)  # in-place without a graph

# one entry per op: numpy forward, derivative(grad, x, y) in torsh ops, PyTorch's node name, then
# kernel (dispatch op), saves (what the derivative reads), to_float=False (integers keep their dtype)
_unary("exp", np.exp, lambda g, x, y: g * y, "ExpBackward0", kernel="exp", saves="output", fusion="exp")
_unary("exp2", np.exp2, lambda g, x, y: g * y * _LN2, "Exp2Backward0", saves="output")
_unary("expm1", np.expm1, lambda g, x, y: g * (y + 1), "Expm1Backward0", saves="output")
_unary("log", np.log, lambda g, x, y: g / x, "LogBackward0", fusion="log")
_unary("log2", np.log2, lambda g, x, y: g / (x * _LN2), "Log2Backward0")
_unary("log10", np.log10, lambda g, x, y: g / (x * _LN10), "Log10Backward0")
_unary("log1p", np.log1p, lambda g, x, y: g / (x + 1), "Log1PBackward0")
_unary("sqrt", np.sqrt, lambda g, x, y: g / (2 * y), "SqrtBackward0", saves="output", fusion="sqrt")
_unary("rsqrt", _np_rsqrt, lambda g, x, y: g * -0.5 * y.pow(3), "RsqrtBackward0", saves="output")
# sin/cos's array_derivative mirror their derivative's ops (cos and sin run NumPy under _quietly, * is _times)
_unary("sin", np.sin, lambda g, x, y: g * x.cos(), "SinBackward0", fusion="sin",
       array_derivative=lambda g, x, y: _times(g, _quietly(np.cos, x)))
_unary("cos", np.cos, lambda g, x, y: g * -x.sin(), "CosBackward0", fusion="cos",
       array_derivative=lambda g, x, y: _times(g, np.negative(_quietly(np.sin, x))))
_unary("tan", np.tan, lambda g, x, y: g * (1 + y * y), "TanBackward0", saves="output")
_unary("asin", np.arcsin, lambda g, x, y: g / (1 - x * x).sqrt(), "AsinBackward0", aliases=("arcsin",))
_unary("acos", np.arccos, lambda g, x, y: -g / (1 - x * x).sqrt(), "AcosBackward0", aliases=("arccos",))
_unary("atan", np.arctan, lambda g, x, y: g / (1 + x * x), "AtanBackward0", aliases=("arctan",))
_unary("sinh", np.sinh, lambda g, x, y: g * x.cosh(), "SinhBackward0")
_unary("cosh", np.cosh, lambda g, x, y: g * x.sinh(), "CoshBackward0")
_unary("tanh", np.tanh, lambda g, x, y: g * (1 - y * y), "TanhBackward0", kernel="tanh", saves="output",
       fusion="tanh")
_unary("asinh", np.arcsinh, lambda g, x, y: g / (x * x + 1).sqrt(), "AsinhBackward0", aliases=("arcsinh",))
_unary("acosh", np.arccosh, lambda g, x, y: g / (x * x - 1).sqrt(), "AcoshBackward0", aliases=("arccosh",))
_unary("atanh", np.arctanh, lambda g, x, y: g / (1 - x * x), "AtanhBackward0", aliases=("arctanh",))
_unary("sigmoid", _np_sigmoid, lambda g, x, y: g * y * (1 - y), "SigmoidBackward0", kernel="sigmoid",
       saves="output", fusion="sigmoid")
_unary("erf", sps.erf, lambda g, x, y: g * _TWO_OVER_SQRT_PI * (-x * x).exp(), "ErfBackward0")
_unary("erfc", sps.erfc, lambda g, x, y: g * -_TWO_OVER_SQRT_PI * (-x * x).exp(), "ErfcBackward0")
_unary("reciprocal", np.reciprocal, lambda g, x, y: -g * y * y, "ReciprocalBackward0", saves="output")
_unary("neg", np.negative, lambda g, x, y: -g, "NegBackward0", to_float=False, saves=None, aliases=("negative",),
       inplace=_NEG_FAST, fusion="neg")
_unary("abs", np.abs, lambda g, x, y: g * x.sgn(), "AbsBackward0", to_float=False, aliases=("absolute",),
       inplace=_ABS_FAST)
_unary("relu", _np_relu, lambda g, x, y: _relu_backward(g, y), "ReluBackward0", kernel="relu", to_float=False,
       saves="output", fusion="relu")
_unary("frac", lambda x: x - np.trunc(x), lambda g, x, y: g, "FracBackward0", to_float=False, saves=None)
_square_same_dtype, _PowBackward0 = _make_unary("square", np.square, lambda g, x, y: g * 2 * x, node_name="PowBackward0",
                                                to_float=False)


def square(input, *, out=None):
    check_dtype_support("pow", input._data.dtype)  # PyTorch squares as pow(input, 2)
    if input._data.dtype.kind == "b":  # PyTorch squares as pow(input, 2): a bool becomes int64
        input = wrap(input._data.astype(np.int64))
    return _square_same_dtype(input, out=out)


_declare(square, "square", node_name="PowBackward0", inplace=True)


class SgnBackward0(Node):
    """sgn of complex z, z / |z|: PyTorch's sgn_backward, (g - s * Re(g * conj(s))) / |z| (zero where z == 0)."""

    def backward(self, grad):
        x, s = self.saved_tensors
        magnitude = x.abs()
        value = (grad - s * (grad * s.conj()).real) / magnitude
        return (value.masked_fill(magnitude == 0, 0),)


def _make_piecewise_constant(name, np_fn, node_name, aliases=()):
    """Declare a piecewise-constant unary op (floor, sign, ...): its gradient is zero (sgn's of complex is not)."""
    unsupported = UNSUPPORTED_KINDS.get(name, {})

    def op(input, *, out=None):
        if input._data.dtype.char in unsupported:
            check_dtype_support(name, input._data.dtype)
        result = wrap(np.asarray(np_fn(input._data)))
        if needs_grad(input) and result.dtype.is_complex and node_name == "SgnBackward0":
            node = SgnBackward0()
            record(node, (input,), (result,))
            node.save_for_backward(input, result)
        elif needs_grad(input) and result.dtype.is_floating_point:
            record(_ZeroGrad(node_name, (input._data.shape,)), (input,), (result,))
        return copy_out(result, out)
    op.__name__ = name
    return _declare(op, name, aliases=aliases, node_name=node_name, inplace=True)


def _np_sign(x):
    return np.sign(x) if x.dtype != np.bool_ else x.copy()


def _keep_integers(np_fn):
    return lambda x: x.copy() if x.dtype.kind in "biu" else np_fn(x)


_make_piecewise_constant("sign", _np_sign, "SignBackward0")
_make_piecewise_constant("floor", _keep_integers(np.floor), "FloorBackward0")
_make_piecewise_constant("ceil", _keep_integers(np.ceil), "CeilBackward0")
_make_piecewise_constant("trunc", _keep_integers(np.trunc), "TruncBackward0", aliases=("fix",))
_make_piecewise_constant("sgn", _np_sign, "SgnBackward0")  # sign, defined for complex: x / |x|


def round(input, *, decimals=0, out=None):
    data = input._data
    check_dtype_support("round", data.dtype)
    value = data.copy() if data.dtype.kind in "biu" else np.round(data, decimals)
    result = wrap(np.asarray(value, dtype=data.dtype))
    if needs_grad(input):
        record(_ZeroGrad("RoundBackward0" if decimals == 0 else "RoundBackward1", (data.shape,)), (input,), (result,))
    return copy_out(result, out)


_declare(round, "round", node_name="RoundBackward0", inplace=True)


# -- comparisons and logical ops (never differentiable) ---------------------------------------
def _make_comparison(name, np_fn):
    unsupported = UNSUPPORTED_KINDS.get(name, {})

    def op(input, other, *, out=None):
        a, b, rt = _operands(input, other, name)
        if rt.np.char in unsupported:
            check_dtype_support(name, rt.np, np.shape(a), np.shape(b))
        return copy_out(wrap(np.asarray(_numpy_binary(np_fn, a, b))), out)
    op.__name__ = name
    return op


eq = _make_comparison("eq", np.equal)
registry.register(eq, "eq", inplace=True)
ne = _make_comparison("ne", np.not_equal)
registry.register(ne, "ne", aliases=("not_equal",), inplace=True)
lt = _make_comparison("lt", np.less)
registry.register(lt, "lt", aliases=("less",), inplace=True)
le = _make_comparison("le", np.less_equal)
registry.register(le, "le", aliases=("less_equal",), inplace=True)
gt = _make_comparison("gt", np.greater)
registry.register(gt, "gt", aliases=("greater",), inplace=True)
ge = _make_comparison("ge", np.greater_equal)
registry.register(ge, "ge", aliases=("greater_equal",), inplace=True)
greater, greater_equal, less, less_equal, not_equal = gt, ge, lt, le, ne


def _bool_array(x):
    return x._data.astype(bool, copy=False) if is_tensor(x) else bool(x)


def _make_logical(name, np_fn):
    """torch.logical_<name> (tensors only, as PyTorch) and the unchecked form the ``&``/``|``/``^`` operators
    use on bools (``mask & True`` is fine)."""
    def operator(input, other):
        return wrap(np.asarray(_numpy_binary(np_fn, _bool_array(input), _bool_array(other))))

    def op(input, other):
        require_tensor_operands(name, input, other)
        return operator(input, other)
    op.__name__ = name
    return op, operator


logical_and, logical_and_operator = _make_logical("logical_and", np.logical_and)
registry.register(logical_and, "logical_and", inplace=True)
logical_or, logical_or_operator = _make_logical("logical_or", np.logical_or)
registry.register(logical_or, "logical_or", inplace=True)
logical_xor, logical_xor_operator = _make_logical("logical_xor", np.logical_xor)
registry.register(logical_xor, "logical_xor", inplace=True)


def logical_not(input):
    check_dtype_support("logical_not", input._data.dtype)
    return wrap(np.logical_not(input._data))
registry.register(logical_not, inplace=True)


def _make_bitwise(name, np_fn):
    def op(input, other):
        a, b, rt = _operands(input, other, name)
        if rt.is_floating_point or rt.is_complex:
            broadcast_shapes(np.shape(a), np.shape(b))  # PyTorch checks the shapes first
            raise NotImplementedError(f'"{name}_cpu" not implemented for \'{_type_label(rt)}\'')
        return wrap(np.asarray(_numpy_binary(np_fn, a, b)))
    op.__name__ = name
    return op


def _type_label(d):
    from ..._helpers import dtype_name
    return dtype_name(d)


bitwise_and = _make_bitwise("bitwise_and", np.bitwise_and)
registry.register(bitwise_and, "bitwise_and", inplace=True)
bitwise_or = _make_bitwise("bitwise_or", np.bitwise_or)
registry.register(bitwise_or, "bitwise_or", inplace=True)
bitwise_xor = _make_bitwise("bitwise_xor", np.bitwise_xor)
registry.register(bitwise_xor, "bitwise_xor", inplace=True)


def bitwise_not(input):
    if input.dtype.is_floating_point or input.dtype.is_complex:
        raise NotImplementedError(f'"bitwise_not_cpu" not implemented for \'{_type_label(input.dtype)}\'')
    check_dtype_support("bitwise_not", input._data.dtype)
    return wrap(np.invert(input._data))
registry.register(bitwise_not, inplace=True)


def isnan(input):  # kind "V": bfloat16
    return wrap(np.isnan(input._data) if input._data.dtype.kind in "fcV" else np.zeros(input._data.shape, bool))
registry.register(isnan)


def isinf(input):  # kind "V": bfloat16
    return wrap(np.isinf(input._data) if input._data.dtype.kind in "fcV" else np.zeros(input._data.shape, bool))
registry.register(isinf)


def isfinite(input):  # kind "V": bfloat16
    return wrap(np.isfinite(input._data) if input._data.dtype.kind in "fcV" else np.ones(input._data.shape, bool))
registry.register(isfinite)


# -- where / clamp ------------------------------------------------------------------------
class WhereBackward0(Node):
    def backward(self, grad):
        (condition,) = self.saved_tensors
        return (None,
                _grad_if(self, 1, lambda: sum_to(where(condition, grad, 0.0), self.shapes[0])),
                _grad_if(self, 2, lambda: sum_to(where(condition, 0.0, grad), self.shapes[1])))


def where(condition, input=None, other=None, *, out=None):
    if input is None and other is None:
        from ..indexing.subscript import nonzero
        return nonzero(condition, as_tuple=True)
    if condition.dtype is _dtype.uint8:
        warnings.warn("where received a uint8 condition tensor. This behavior is deprecated and will be removed in "
                      "a future version of PyTorch. Use a boolean condition instead.")
        condition = wrap(condition._data.astype(bool))
    elif condition.dtype is not _dtype.bool:
        raise RuntimeError(f"where expected condition to be a boolean tensor, but got a tensor with dtype {_type_label(condition.dtype)}")
    a, b, rt = _operands(input, other, "where")
    try:
        value = np.where(condition._data, a, b)
    except ValueError:
        broadcast_shapes(condition._data.shape, np.shape(a), np.shape(b))
        raise
    result = wrap(np.asarray(value, dtype=rt.np))
    if needs_grad(input, other):
        node = WhereBackward0()
        node.shapes = (_shape(input), _shape(other))
        record(node, (condition, input, other), (result,))
        node.save_for_backward(condition)
    return copy_out(result, out)


def _where_method(self, condition, other):
    """Tensor.where(condition, other): self is where's input."""
    return where(condition, self, other)
registry.register(where, node_name="WhereBackward0", method=_where_method, inplace=True)


class ClampBackward1(Node):
    def backward(self, grad):
        x, lo, hi = self.saved_tensors
        lo = self.bounds[0] if lo is None else lo
        hi = self.bounds[1] if hi is None else hi
        inside = None
        if lo is not None:
            inside = x >= lo
        if hi is not None:
            inside = (x <= hi) if inside is None else inside & (x <= hi)
        # PyTorch's clamp_backward_min_max: where min > max, every output is max, so max takes the gradient
        both = lo is not None and hi is not None
        grad_x = _grad_if(self, 0, lambda: sum_to(where(inside, grad, 0.0) if inside is not None else grad,
                                                  self.shapes[0]))
        grad_lo = _grad_if(self, 1, lambda: sum_to(where(((x < lo) & (lo < hi)) if both else (x < lo), grad, 0.0),
                                                   self.shapes[1]))
        grad_hi = _grad_if(self, 2, lambda: sum_to(where(((x > hi) | (hi < lo)) if both else (x > hi), grad, 0.0),
                                                   self.shapes[2]))
        return grad_x, grad_lo, grad_hi


# PyTorch's node names: (bounds are numbers, some bound is a tensor)
ClampBackward0 = type("ClampBackward0", (ClampBackward1,), {})
_CLAMP_NODES = (ClampBackward1, ClampBackward0)
_CLAMP_MIN_NODES = (type("ClampMinBackward0", (ClampBackward1,), {}), type("ClampMinBackward1", (ClampBackward1,), {}))
_CLAMP_MAX_NODES = (type("ClampMaxBackward0", (ClampBackward1,), {}), type("ClampMaxBackward1", (ClampBackward1,), {}))


def clamp(input, min=None, max=None, *, out=None, _nodes=_CLAMP_NODES):
    if min is None and max is None:
        raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
    rt = _dtype.result_type_of(input, min, max)
    check_dtype_support("clamp", rt.np)
    data = to_array(input, rt.np)
    value = data
    if min is not None:
        value = _numpy_binary(np.maximum, value, to_array(min, rt.np))
    if max is not None:
        value = _numpy_binary(np.minimum, value, to_array(max, rt.np))
    if value is data:
        value = data.copy()
    result = wrap(np.asarray(value, dtype=rt.np))
    if needs_grad(input, min, max):
        node = _nodes[is_tensor(min) or is_tensor(max)]()
        node.bounds = (None if is_tensor(min) else min, None if is_tensor(max) else max)
        node.shapes = (_shape(input), _shape(min), _shape(max))
        record(node, (input, min, max), (result,))
        node.save_for_backward(input, min if is_tensor(min) else None, max if is_tensor(max) else None)
    return copy_out(result, out)
registry.register(clamp, aliases=("clip",), node_name="ClampBackward1", inplace=True)


clip = clamp


def clamp_min(input, min):
    return clamp(input, min=min, _nodes=_CLAMP_MIN_NODES)
registry.register(clamp_min, inplace=True)


def clamp_max(input, max):
    return clamp(input, max=max, _nodes=_CLAMP_MAX_NODES)
registry.register(clamp_max, inplace=True)


class LerpBackward0(Node):  # a number as weight
    def backward(self, grad):
        input, end, weight = self.saved_tensors
        weight = self.weight if weight is None else weight
        return (_grad_if(self, 0, lambda: sum_to(grad * (1 - weight), self.shapes[0])),
                _grad_if(self, 1, lambda: sum_to(grad * weight, self.shapes[1])),
                _grad_if(self, 2, lambda: sum_to(grad * (end - input), self.shapes[2])))


LerpBackward1 = type("LerpBackward1", (LerpBackward0,), {})  # a tensor as weight


def _check_lerp_dtypes(input, end, weight):
    """PyTorch's lerp computes in input's dtype: end (and a weight tensor of some dimension) must have it."""
    for name, t in (("end", end), ("weight", weight)):
        if is_tensor(t) and t.dtype is not input.dtype and (name == "end" or t._data.ndim):
            raise RuntimeError(f"expected dtype {_CPP_TYPE.get(input.dtype.name, input.dtype.name)} for `{name}` "
                               f"but got dtype {_CPP_TYPE.get(t.dtype.name, t.dtype.name)}")


def lerp(input, end, weight):
    broadcast_shapes(_shape(input), _shape(end), _shape(weight))  # PyTorch names the sizes in this order
    _check_lerp_dtypes(input, end, weight)
    if not (input.dtype.is_floating_point or input.dtype.is_complex):  # PyTorch's lerp kernels are floating only
        kernel = "lerp_kernel_tensor" if is_tensor(weight) else "lerp_kernel_scalar"
        raise NotImplementedError(f'"{kernel}" not implemented for \'{_type_label(input.dtype)}\'')
    if not needs_grad(input, end, weight):
        return input + weight * (end - input)
    with no_grad():
        result = input + weight * (end - input)
    weight_is_tensor = is_tensor(weight)
    node = LerpBackward1() if weight_is_tensor else LerpBackward0()
    node.weight, node.shapes = weight, (_shape(input), _shape(end), _shape(weight))
    record(node, (input, end, weight), (result,))
    node.save_for_backward(input, end, weight if weight_is_tensor else None)
    return result
registry.register(lerp, inplace=True)


def _in_result_dtype(input, tensor1, tensor2):
    """tensor1, tensor2 in the promoted dtype: PyTorch's addcmul/addcdiv compute there (float64 input with
    bfloat16 operands: in float64)."""
    rt = _dtype.result_type_of(input, tensor1, tensor2)
    return tuple(t.to(rt) if is_tensor(t) and t.dtype is not rt else t for t in (tensor1, tensor2))


class AddcmulBackward0(Node):  # PyTorch's formulas
    def backward(self, grad):
        t1, t2 = self.saved_tensors
        v = self.value
        return (_grad_if(self, 0, lambda: sum_to(grad, self.shapes[0])),
                _grad_if(self, 1, lambda: sum_to(grad * (t2 * v), self.shapes[1])),
                _grad_if(self, 2, lambda: sum_to(grad * (t1 * v), self.shapes[2])))


class AddcdivBackward0(Node):  # PyTorch's formulas
    def backward(self, grad):
        t1, t2 = self.saved_tensors
        v = self.value
        return (_grad_if(self, 0, lambda: sum_to(grad, self.shapes[0])),
                _grad_if(self, 1, lambda: sum_to(grad * (v / t2), self.shapes[1])),
                _grad_if(self, 2, lambda: sum_to(-grad * ((v * t1) / (t2 * t2)), self.shapes[2])))


def _addc(node_cls, combine, input, tensor1, tensor2, value):
    """input + value * combine(tensor1, tensor2) with one node (AddcmulBackward0 / AddcdivBackward0)."""
    tensor1, tensor2 = _in_result_dtype(input, tensor1, tensor2)
    if not needs_grad(input, tensor1, tensor2):
        return input + combine(value * tensor1, tensor2)
    with no_grad():
        result = input + combine(value * tensor1, tensor2)
    node = node_cls()
    node.value, node.shapes = value, (_shape(input), _shape(tensor1), _shape(tensor2))
    record(node, (input, tensor1, tensor2), (result,))
    node.save_for_backward(tensor1, tensor2)
    return result


def addcmul(input, tensor1, tensor2, *, value=1):
    if _dtype.result_type_of(input, tensor1, tensor2) is _dtype.bool:
        raise NotImplementedError('"addcmul_cpu_out" not implemented for \'Bool\'')
    return _addc(AddcmulBackward0, mul, input, tensor1, tensor2, value)
registry.register(addcmul, inplace=True)


_ADDCDIV_INTEGER = (
    "Integer division with addcdiv is no longer supported, and in a future  release addcdiv will perform a true "
    "division of tensor1 and tensor2. The historic addcdiv behavior can be implemented as (input + value * "
    "torch.trunc(tensor1 / tensor2)).to(input.dtype) for integer inputs and as (input + value * tensor1 / tensor2) "
    "for float inputs. The future addcdiv behavior is just the latter implementation: (input + value * tensor1 / "
    "tensor2), for all dtypes.")


def addcdiv(input, tensor1, tensor2, *, value=1):
    if all(is_tensor(t) and not (t.dtype.is_floating_point or t.dtype.is_complex) for t in (tensor1, tensor2)):
        raise RuntimeError(_ADDCDIV_INTEGER)
    return _addc(AddcdivBackward0, div, input, tensor1, tensor2, value)
registry.register(addcdiv, inplace=True)


__all__ = ["add", "sub", "subtract", "rsub", "mul", "multiply", "div", "divide", "true_divide", "floor_divide",
           "remainder", "pow", "float_power",
           "eq", "ne", "lt", "le", "gt", "ge", "greater", "greater_equal", "less", "less_equal", "not_equal",
           "logical_and", "logical_or", "logical_xor", "logical_not", "bitwise_and", "bitwise_or", "bitwise_xor",
           "bitwise_not", "isnan", "isinf", "isfinite", "where", "clamp", "clip", "clamp_min", "clamp_max",
           "maximum", "minimum", "lerp", "addcmul", "addcdiv"] + _UNARY  # _UNARY: the registry's unary ops


# maximum/minimum live with the other derivative-per-operand binary ops (NaN-propagating, ties split)
from .math_functions import maximum, minimum  # noqa: E402


# -- operator shortcut ---------------------------------------------------------------------------
from ....backend import events as _events  # noqa: E402

# NumPy dtype characters each shortcut serves (no add/sub of uint16/32/64: PyTorch refuses them)
_FLOAT_CHARS, _INT_CHARS = "efdFD", "bhilqB"
_SHORTCUT_KINDS = {"add": _FLOAT_CHARS + _INT_CHARS, "sub": _FLOAT_CHARS + _INT_CHARS,
                   "mul": _FLOAT_CHARS + _INT_CHARS + "HILQ", "div": _FLOAT_CHARS}


def operator_with_shortcut(op, np_fn, general, reflected=False):
    """``general(self, other)`` as a Tensor operator, with a shortcut for its commonest call.

    ``a + b`` on small tensors of one dtype (or a tensor and a Python number of its kind) with
    no graph to record and nobody listening to dispatch spent ~3 us in operand promotion,
    dispatch and autograd checks around a 0.5 us NumPy call (PyTorch: ~1.7 us). The shortcut
    runs exactly what the general path would run in that case (NumPy, same dtype, no node), so
    results do not depend on which path ran; anything else (broadcast errors included) takes the
    general path.
    """
    kinds = _SHORTCUT_KINDS[op]
    below = dispatch._numpy_below
    subscribers = _events._subscribers
    grad_state = _grad_mode._state
    wrap_array = Tensor._wrap

    def operator(self, other):
        data = self._data
        if isinstance(other, Tensor):
            other_data = other._data
            if (data.dtype is other_data.dtype and data.dtype.char in kinds
                    and not (grad_state.enabled and (self._requires_grad or other._requires_grad))
                    and data.size < below[op] and other_data.size < below[op] and dispatch.TOPIC not in subscribers):
                try:
                    result = np_fn(other_data, data) if reflected else np_fn(data, other_data)
                except ValueError:
                    return general(self, other)  # shapes that do not broadcast: it raises PyTorch's message
                return wrap_array(result)
        elif (type(other) is float or type(other) is int) and data.dtype.kind in "fc" and data.dtype.char in kinds:
            # NumPy keeps a Python number "weak" against a float array, as PyTorch does: same dtype out
            if (not (grad_state.enabled and self._requires_grad) and data.size < below[op]
                    and dispatch.TOPIC not in subscribers):
                return wrap_array(np_fn(other, data) if reflected else np_fn(data, other))
        return general(self, other)

    operator.__name__ = operator.__qualname__ = f"__{'r' if reflected else ''}{op}__"
    operator.__doc__ = general.__doc__
    return operator
