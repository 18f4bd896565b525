"""Pointwise activation ops of torch.nn.functional (forward on NumPy, backward in torsh ops).

Each op is one NumPy forward plus one Node named as PyTorch's, whose backward is written in
torsh ops so double backward works. Gradients at the kinks follow PyTorch's conventions
(e.g. hardtanh passes no gradient at its bounds, leaky_relu uses the slope at 0).
"""
import math

import numpy as np
import scipy.special as sps

from .... import _random
from ...._tensor import wrap
from ....autograd import grad_mode
from ....autograd.graph import Node, needs_grad, record
from ....backend import dispatch, kernels
from . import kernel_backward as _activation_backward
from ...tensor.elementwise import arithmetic as pointwise
from ..._helpers import dtype_name
from ...inplace import apply_inplace

_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_SQRT_HALF = math.sqrt(0.5)
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def _check_float(op, input, complex_ok=False):
    """PyTorch's dispatch error for a dtype the activation's kernel lacks (complex: all but silu's)."""
    if not (input.dtype.is_floating_point or (complex_ok and input.dtype.is_complex)):
        raise NotImplementedError(f'"{op}" not implemented for \'{dtype_name(input.dtype)}\'')


def _kernel_backward(spec, grad, x, params, formula):
    """grad * f'(x) on the ``activation`` kernel family, or ``formula()`` (torsh ops), as dispatched.
    ``spec(**params)`` gives the kernel's name and its scalar arguments."""
    op, scalars = spec(**params)
    return _activation_backward.on_kernel(op, scalars, grad, x, formula)


def _make(name, node_name, forward, derivative, saves="input", kernel=None, backward_kernel=None,
          complex_ok=False):
    """An activation ``name(input, **params)``: ``forward(x, **params)`` on NumPy and
    ``derivative(grad, x, y, **params)`` in torsh ops. With ``backward_kernel`` (a function of the
    params giving a kernel name and its scalars) the backward runs on that compiled kernel when
    no graph of the gradient is being built."""

    def backward(self, grad):
        saved = self.saved_tensors
        x = saved[0] if saves in ("input", "both") else None
        y = saved[-1] if saves in ("output", "both") else None
        if backward_kernel is not None and not grad_mode.is_grad_enabled():
            return (_kernel_backward(backward_kernel, grad, x, self.params,
                                     lambda: derivative(grad, x, y, **self.params)),)
        return (derivative(grad, x, y, **self.params),)

    node_cls = type(node_name, (Node,), {"backward": backward, "__module__": __name__})

    def op(input, **params):
        _check_float(name + "_cpu", input, complex_ok)
        data = input._data
        with np.errstate(all="ignore"):
            if kernel is not None and not params:
                value = dispatch.unary(kernel, data, forward)
            else:
                # float16/bfloat16 computed wide and rounded once, as PyTorch's opmath (in float64 here: the
                # float32 GELU kernel's NaN at +inf is PyTorch's float32 behaviour, not its half-precision one)
                value = forward(data.astype(np.float64) if data.dtype.char in "eE" else data, **params)
        value = np.asarray(value)
        if value.dtype != data.dtype:
            value = value.astype(data.dtype)
        result = wrap(value)
        if needs_grad(input):
            if value.dtype.kind == "c":  # silu: PyTorch has no complex derivative for it
                raise RuntimeError(f"{name} does not support automatic differentiation for outputs with complex dtype.")
            node = node_cls()
            node.params = params
            record(node, (input,), (result,))
            if saves == "input":
                node.save_for_backward(input)
            elif saves == "output":
                node.save_for_backward(result)
            else:
                node.save_for_backward(input, result)
        return result

    op.__name__ = op.__qualname__ = name
    return op, node_cls


def _where(cond, a, b):
    return pointwise.where(cond, a, b)


# -- relu family ----------------------------------------------------------------------------
def _leaky_relu_forward(x, negative_slope=0.01):
    return np.where(x > 0, x, x * x.dtype.type(negative_slope))


# PyTorch's in-place leaky_relu_ / elu_ save their result (``self_is_result``), whose sign is the
# input's only for a non-negative slope: backward refuses the others, with these words
LEAKY_RELU_NEGATIVE_SLOPE = (
    "In-place leakyReLu backward calculation is triggered with a negative slope which is not supported. This is "
    "caused by calling in-place forward function with a negative slope, please call out-of-place version instead. "
    "File an issue at https://github.com/pytorch/pytorch if you do require supporting in-place leakRelu backward "
    "calculation with negative slope")
ELU_NEGATIVE_ALPHA = (
    "In-place elu backward calculation is triggered with a negative slope which is not supported. This is caused "
    "by calling in-place forward function with a negative slope, please call out-of-place version instead.")


def _leaky_relu_of_result(g, x, y, negative_slope=0.01):
    if negative_slope < 0:
        raise RuntimeError(LEAKY_RELU_NEGATIVE_SLOPE)
    return _where(y > 0, g, g * negative_slope)


leaky_relu, LeakyReluBackward0 = _make(
    "leaky_relu", "LeakyReluBackward0", _leaky_relu_forward,
    lambda g, x, y, negative_slope=0.01: _where(x > 0, g, g * negative_slope))
_leaky_relu_saving_result, LeakyReluBackward1 = _make(
    "leaky_relu", "LeakyReluBackward1", _leaky_relu_forward, _leaky_relu_of_result, saves="output")

hardtanh, HardtanhBackward0 = _make(
    "hardtanh", "HardtanhBackward0",
    lambda x, min_val=-1.0, max_val=1.0: np.clip(x, min_val, max_val),
    lambda g, x, y, min_val=-1.0, max_val=1.0: g * ((x > min_val) & (x < max_val)))

def _threshold_forward(x, threshold=0.0, value=0.0):
    return np.where(x > threshold, x, x.dtype.type(value))


def _threshold_derivative(g, x, y, threshold=0.0, value=0.0):
    return g * (x > threshold)


threshold, ThresholdBackward0 = _make("threshold", "ThresholdBackward0", _threshold_forward, _threshold_derivative)
# threshold_ saves a copy of its input, under its own node name
_threshold_of_copy, ThresholdBackward1 = _make("threshold", "ThresholdBackward1", _threshold_forward,
                                               _threshold_derivative)


# -- exponential family -----------------------------------------------------------------------
def _elu_forward(x, alpha=1.0, scale=1.0, input_scale=1.0):
    return np.where(x > 0, x * scale, scale * alpha * np.expm1(np.minimum(x, 0) * input_scale))


def _elu_derivative(g, x, y, alpha=1.0, scale=1.0, input_scale=1.0):
    return _where(x > 0, g * scale, g * (input_scale * scale * alpha) * (x * input_scale).exp())


def _elu_of_result(g, x, y, alpha=1.0, scale=1.0, input_scale=1.0):
    # y = scale * alpha * (exp(x * input_scale) - 1) below 0, so f'(x) = input_scale * (y + scale * alpha) there
    if alpha < 0:
        raise RuntimeError(ELU_NEGATIVE_ALPHA)
    return _where(y > 0, g * scale, g * input_scale * (y + scale * alpha))


def _elu_kernel(alpha=1.0, scale=1.0, input_scale=1.0):
    return "elu_backward", (0, scale, input_scale * scale * alpha, input_scale)


def _celu_backward_scale(formula):
    """``formula`` with PyTorch's CeluBackward input scale, 1.0 / alpha.toFloat(): alpha rounded to float32."""
    def with_float_alpha(*args, alpha=1.0, scale=1.0, input_scale=1.0):
        return formula(*args, alpha=alpha, scale=scale, input_scale=1.0 / float(np.float32(alpha)))
    return with_float_alpha


elu, EluBackward0 = _make("elu", "EluBackward0", _elu_forward, _elu_derivative, backward_kernel=_elu_kernel)
_celu_op, CeluBackward0 = _make("elu", "CeluBackward0", _elu_forward, _celu_backward_scale(_elu_derivative),
                                backward_kernel=_celu_backward_scale(_elu_kernel))
_elu_saving_result, EluBackward1 = _make("elu", "EluBackward1", _elu_forward, _elu_of_result, saves="output")
_celu_saving_result, CeluBackward1 = _make("elu", "CeluBackward1", _elu_forward, _celu_backward_scale(_elu_of_result),
                                           saves="output")


def _selu_params():
    return {"alpha": SELU_ALPHA, "scale": SELU_SCALE, "input_scale": 1.0}


def _celu_params(alpha):
    if alpha == 0:
        raise RuntimeError("ZeroDivisionError")
    return {"alpha": alpha, "scale": 1.0, "input_scale": 1.0 / alpha}


def selu(input):
    return elu(input, **_selu_params())


def celu(input, alpha=1.0):
    return _celu_op(input, **_celu_params(alpha))


# -- smooth gates -----------------------------------------------------------------------------
def _np_gelu_tanh(x):
    return 0.5 * x * (1 + np.tanh(_SQRT_2_OVER_PI * (x + 0.044715 * x * x * x)))


def _np_gelu_erf(x):
    y = x * 0.5 * (1.0 + sps.erf(x / math.sqrt(2.0)))
    if x.dtype == np.float32:  # PyTorch's float32 kernel gives NaN at +inf (its float64 one inf), as the compiled one
        y[x == np.inf] = np.nan
    return y


def _gelu_erf_kernel(x, parallel):
    x = x if x.flags.c_contiguous else np.ascontiguousarray(x)  # (ascontiguousarray makes a 0-d array 1-d)
    out = np.empty_like(x)
    kernels.get("transformer").gelu(x.reshape(-1), out.reshape(-1), parallel)
    return out


def _gelu_forward(x, approximate="none"):
    if approximate == "tanh":
        return dispatch.unary("gelu_tanh", x, _np_gelu_tanh)  # a compiled kernel exists for this one
    # float32: PyTorch's vectorised erf formula in one kernel pass (SciPy's erf is scalar code: ~10x slower)
    return dispatch.call("gelu_erf", x.size, x.dtype, x.dtype == np.float32,
                         lambda parallel: _gelu_erf_kernel(x, parallel), lambda: _np_gelu_erf(x),
                         "the exact GELU kernel is float32 only")


def _gelu_derivative(g, x, y, approximate="none"):
    if approximate == "tanh":
        inner = (x + x * x * x * 0.044715) * _SQRT_2_OVER_PI
        t = inner.tanh()
        d_inner = (x * x * (3 * 0.044715) + 1) * _SQRT_2_OVER_PI
        return g * ((t + 1) * 0.5 + x * 0.5 * (1 - t * t) * d_inner)
    # PyTorch's formula, Phi from erf (float32 runs it in the transformer kernel; this is float64's, and double
    # backward's). Only the input is saved, as PyTorch's GeluBackward0 does (gelu(x) / x cancelled at tiny x)
    cdf = (x * _SQRT_HALF).erf() * 0.5 + 0.5
    pdf = (x * x * -0.5).exp() * _INV_SQRT_2PI
    return g * (cdf + x * pdf)


def _gelu_kernel(approximate="none"):
    if approximate == "tanh":
        return "gelu_tanh_backward", (0.5, 1, _SQRT_2_OVER_PI, 0.044715, 3 * 0.044715)
    return "gelu_erf_backward", ()  # float32 only (transformer family): float64 runs the formula


_gelu_op, GeluBackward0 = _make("gelu", "GeluBackward0", _gelu_forward, _gelu_derivative,
                                backward_kernel=_gelu_kernel)


def gelu(input, approximate="none"):
    if approximate not in ("none", "tanh"):
        raise RuntimeError("approximate argument must be either none or tanh.")
    _check_float("GeluKernelImpl", input)  # PyTorch's kernel name in its dtype error, both approximations
    return _gelu_op(input, approximate=approximate)


silu, SiluBackward0 = _make(
    "silu", "SiluBackward0", lambda x: x * pointwise._np_sigmoid(x),
    lambda g, x, y: (lambda s: g * s * (1 + x * (1 - s)))(x.sigmoid()),
    backward_kernel=lambda: ("silu_backward", (0.5, 1)), complex_ok=True)


def _mish_forward(x):
    return x * np.tanh(np.logaddexp(0, x))


def _mish_derivative(g, x, y):
    t = _softplus_tensor(x).tanh()
    return g * (t + x * x.sigmoid() * (1 - t * t))


def _softplus_tensor(x):
    # log(1 + exp(x)) = relu(x) + log1p(exp(-|x|)), differentiable and overflow-free
    return x.relu() + (-x.abs()).exp().log1p()


mish, MishBackward0 = _make("mish", "MishBackward0", _mish_forward, _mish_derivative,
                            backward_kernel=lambda: ("mish_backward", (0.5, 1)))


def _softplus_forward(x, beta=1.0, threshold=20.0):
    bx = x * beta
    return np.where(bx > threshold, x, np.logaddexp(0, bx) / beta)


def _softplus_derivative(g, x, y, beta=1.0, threshold=20.0):
    bx = x * beta
    return _where(bx > threshold, g, g * bx.sigmoid())


softplus, SoftplusBackward0 = _make(
    "softplus", "SoftplusBackward0", _softplus_forward, _softplus_derivative,
    backward_kernel=lambda beta=1.0, threshold=20.0: ("softplus_backward", (0.5, 1, beta, threshold)))

logsigmoid, LogSigmoidBackward0 = _make(
    "log_sigmoid", "LogSigmoidBackward0", lambda x: -np.logaddexp(0, -x), lambda g, x, y: g * (-x).sigmoid())

# -- hard gates -------------------------------------------------------------------------------
_ONE_SIXTH_F32 = float(np.float32(1.0 / 6.0))  # PyTorch's hardsigmoid_backward multiplies by 1.0f / 6.0f

hardsigmoid, HardsigmoidBackward0 = _make(
    "hardsigmoid", "HardsigmoidBackward0", lambda x: np.clip(x / 6 + 0.5, 0, 1),
    lambda g, x, y: g * ((x > -3) & (x < 3)) * _ONE_SIXTH_F32)

hardswish, HardswishBackward0 = _make(
    "hardswish", "HardswishBackward0", lambda x: x * np.clip(x + 3, 0, 6) / 6,
    lambda g, x, y: _where(x < -3, g * 0, _where(x <= 3, g * (x / 3 + 0.5), g)))

hardshrink, HardshrinkBackward0 = _make(
    "hardshrink", "HardshrinkBackward0",
    lambda x, lambd=0.5: np.where((x >= -lambd) & (x <= lambd), x.dtype.type(0), x),
    lambda g, x, y, lambd=0.5: g * ((x < -lambd) | (x > lambd)))

softshrink, SoftshrinkBackward0 = _make(
    "softshrink", "SoftshrinkBackward0",
    lambda x, lambd=0.5: np.where(x > lambd, x - lambd, np.where(x < -lambd, x + lambd, x.dtype.type(0))),
    lambda g, x, y, lambd=0.5: g * ((x < -lambd) | (x > lambd)))


# -- rrelu ------------------------------------------------------------------------------------
def _rrelu_backward(node, grad, x_or_y, noise, saves_result):
    # PyTorch's rrelu_with_noise_backward: the drawn slopes in training, leaky_relu's gradient at
    # the mean slope otherwise (from the result for the in-place form, which needs a slope >= 0)
    if node.training and node.upper - node.lower > 1e-6:
        return (grad * noise,)
    slope = (node.lower + node.upper) / 2
    if saves_result:
        return (_leaky_relu_of_result(grad, None, x_or_y, slope),)
    return (_where(x_or_y > 0, grad, grad * slope),)


class RreluWithNoiseBackward0(Node):
    def backward(self, grad):
        x, noise = self.saved_tensors
        return _rrelu_backward(self, grad, x, noise, saves_result=False)


class RreluWithNoiseBackward1(Node):
    """rrelu_: saves its result, as PyTorch's in-place form does."""

    def backward(self, grad):
        y, noise = self.saved_tensors
        return _rrelu_backward(self, grad, y, noise, saves_result=True)


def _rrelu(input, lower, upper, training, node_cls):
    data = input._data
    if training:
        _check_float("rrelu_with_noise_out_cpu", input)
        noise = np.ones_like(data)
        negative = data <= 0  # PyTorch draws a slope only there, in memory order, as a double uniform
        opmath = np.float64 if data.dtype == np.float64 else np.float32  # its bounds are read in the op's math type
        slopes = _random.uniform((int(negative.sum()),), np.float64, float(opmath(lower)), float(opmath(upper)))
        noise[negative] = slopes.astype(opmath).astype(data.dtype)
        value = data * noise
    else:
        _check_float("leaky_relu_cpu", input)
        noise = None
        value = _leaky_relu_forward(data, (lower + upper) / 2)
    result = wrap(np.asarray(value, dtype=data.dtype))
    if needs_grad(input):
        node = node_cls()
        node.lower, node.upper, node.training = lower, upper, training
        record(node, (input,), (result,))
        saved = result if node_cls is RreluWithNoiseBackward1 else input
        node.save_for_backward(saved, None if noise is None else wrap(noise))
    return result


def rrelu(input, lower=1.0 / 8, upper=1.0 / 3, training=False):
    return _rrelu(input, lower, upper, training, RreluWithNoiseBackward0)


# -- in-place forms ---------------------------------------------------------------------------
# Each runs through apply_inplace, the one in-place mechanism (views, versions, leaf checks).
# PyTorch's node either saves the result (leaky_relu_, elu_, celu_, selu_, rrelu_), which stays
# valid after the write, or a copy of the old input (hardtanh_, threshold_, silu_, mish_,
# hardsigmoid_, hardswish_): ``saves_result`` says which, so no copy is made for the first kind.

def _in_place(name, op, saves_result):
    def inplace_op(input, *args, **params):
        return apply_inplace(input, name, op, *args, keeps_input=not saves_result, **params)

    inplace_op.__name__ = inplace_op.__qualname__ = name
    return inplace_op


leaky_relu_ = _in_place("leaky_relu_", _leaky_relu_saving_result, saves_result=True)
elu_ = _in_place("elu_", _elu_saving_result, saves_result=True)
_celu_ = _in_place("celu_", _celu_saving_result, saves_result=True)
hardtanh_ = _in_place("hardtanh_", hardtanh, saves_result=False)
threshold_ = _in_place("threshold_", _threshold_of_copy, saves_result=False)
silu_ = _in_place("silu_", silu, saves_result=False)
mish_ = _in_place("mish_", mish, saves_result=False)
hardsigmoid_ = _in_place("hardsigmoid_", hardsigmoid, saves_result=False)
hardswish_ = _in_place("hardswish_", hardswish, saves_result=False)
_rrelu_ = _in_place("rrelu_", lambda t, lower, upper, training: _rrelu(t, lower, upper, training,
                                                                      RreluWithNoiseBackward1), saves_result=True)


def selu_(input):
    return elu_(input, **_selu_params())


def celu_(input, alpha=1.0):
    return _celu_(input, **_celu_params(alpha))


def rrelu_(input, lower=1.0 / 8, upper=1.0 / 3, training=False):
    return _rrelu_(input, lower, upper, training)
