"""Activation functions of nn.functional."""
import numpy as np

from ..._array_api import array, dtype_of
from ... import _dtype, _random
from ..._ops.nn.activation import pointwise as act
from ..._tensor import Tensor, wrap
from ...autograd import grad_mode
from ._utils import require_float_kernel

# softmax/log_softmax are general tensor ops (torsh.softmax); nn.functional names them
from ..._ops.nn.activation.softmax import log_softmax as _log_softmax_op, softmax as _softmax_op
from ..._ops.nn.activation.tensor_methods import prelu  # noqa: F401 (one prelu: Tensor.prelu's, torch.prelu's)

__all__ = ["relu", "relu_", "relu6", "leaky_relu", "leaky_relu_", "prelu", "rrelu", "rrelu_", "elu", "elu_", "selu",
           "selu_", "celu", "celu_", "gelu", "silu", "mish", "sigmoid", "tanh", "softmax", "log_softmax", "softmin",
           "hardshrink", "softshrink", "tanhshrink", "hardtanh", "hardtanh_", "hardsigmoid", "hardswish",
           "softplus", "softsign", "threshold", "threshold_", "logsigmoid", "glu", "gumbel_softmax"]


def _maybe_inplace(input, inplace, name, *args, **params):
    """``act.<name>_`` (written into ``input``, with PyTorch's in-place autograd node) or ``act.<name>``."""
    return getattr(act, name + "_" if inplace else name)(input, *args, **params)


def relu(input, inplace=False):
    return input.relu_() if inplace else input.relu()


def relu_(input):
    return input.relu_()


def relu6(input, inplace=False):
    return hardtanh(input, 0.0, 6.0, inplace)


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    if min_val > max_val:
        raise ValueError("min_val cannot be greater than max_val")
    if input.dtype is _dtype.bool:
        raise RuntimeError("Bool inputs not supported for hardtanh")
    if input.dtype.is_complex:  # PyTorch's hardtanh is a clamp
        raise NotImplementedError("clamp is not supported for complex types")
    if _is_integer(input):
        return _integer_hardtanh(input, min_val, max_val, inplace)
    return _maybe_inplace(input, inplace, "hardtanh", min_val=min_val, max_val=max_val)


def _is_integer(input):
    return not (input.dtype.is_floating_point or input.dtype.is_complex or input.dtype is _dtype.bool)


def _integer_hardtanh(input, min_val, max_val, inplace):
    """PyTorch clamps integer inputs to the limits truncated to integers (no type promotion)."""
    low, high = int(min_val), int(max_val)
    if input.dtype is _dtype.uint8 and (low < 0 or high < 0):
        raise RuntimeError("cannot do hardtanh on an unsigned type with negative limits")
    return input.clamp_(low, high) if inplace else input.clamp(low, high)


def hardtanh_(input, min_val=-1.0, max_val=1.0):
    return hardtanh(input, min_val, max_val, True)


def leaky_relu(input, negative_slope=0.01, inplace=False):
    return _maybe_inplace(input, inplace, "leaky_relu", negative_slope=negative_slope)


def leaky_relu_(input, negative_slope=0.01):
    return leaky_relu(input, negative_slope, True)


def rrelu(input, lower=1.0 / 8, upper=1.0 / 3, training=False, inplace=False):
    return _maybe_inplace(input, inplace, "rrelu", lower, upper, training)


def rrelu_(input, lower=1.0 / 8, upper=1.0 / 3, training=False):
    return rrelu(input, lower, upper, training, True)


def elu(input, alpha=1.0, inplace=False):
    return _maybe_inplace(input, inplace, "elu", alpha=alpha)


def elu_(input, alpha=1.0):
    return elu(input, alpha, True)


def selu(input, inplace=False):
    return _maybe_inplace(input, inplace, "selu")


def selu_(input):
    return selu(input, True)


def celu(input, alpha=1.0, inplace=False):
    return _maybe_inplace(input, inplace, "celu", alpha)


def celu_(input, alpha=1.0):
    return celu(input, alpha, True)


def gelu(input, approximate="none"):
    return act.gelu(input, approximate)


def silu(input, inplace=False):
    return _maybe_inplace(input, inplace, "silu")


def mish(input, inplace=False):
    return _maybe_inplace(input, inplace, "mish")


def sigmoid(input):
    return input.sigmoid()


def tanh(input):
    return input.tanh()


def hardsigmoid(input, inplace=False):
    return _maybe_inplace(input, inplace, "hardsigmoid")


def hardswish(input, inplace=False):
    return _maybe_inplace(input, inplace, "hardswish")


def hardshrink(input, lambd=0.5):
    return act.hardshrink(input, lambd=lambd)


def softshrink(input, lambd=0.5):
    require_float_kernel("softshrink_check", input.dtype)
    if lambd < 0:
        raise RuntimeError(f"lambda must be greater or equal to 0, but found to be {lambd}.")
    return act.softshrink(input, lambd=lambd)


def tanhshrink(input):
    return input - input.tanh()


def softplus(input, beta=1.0, threshold=20.0):
    return act.softplus(input, beta=beta, threshold=threshold)


def softsign(input):
    return input / (input.abs() + 1)


def threshold(input, threshold, value, inplace=False):
    if _is_integer(input):
        return _integer_threshold(input, threshold, value, inplace)
    return _maybe_inplace(input, inplace, "threshold", threshold=threshold, value=value)


def threshold_(input, threshold, value):
    if _is_integer(input):
        return _integer_threshold(input, threshold, value, inplace=True)
    return act.threshold_(input, threshold=threshold, value=value)


def _integer_threshold(input, threshold, value, inplace):
    """PyTorch's threshold kernel on integers: both scalars converted to the input's type first."""
    below = input <= int(threshold)
    return input.masked_fill_(below, int(value)) if inplace else input.masked_fill(below, int(value))


def logsigmoid(input):
    return act.logsigmoid(input)


def glu(input, dim=-1):
    if input.ndim == 0:
        raise RuntimeError("glu does not support scalars because halving size must be even")
    size = input.shape[dim]
    if size % 2:
        d = dim % input.ndim
        raise RuntimeError(f"Halving dimension must be even, but dimension {d} is size {size}")
    require_float_kernel("glu_cpu", input.dtype)
    a, b = input.chunk(2, dim)
    return a * b.sigmoid()


def _softmax_dim(ndim):
    import warnings
    warnings.warn("Implicit dimension choice for softmax has been deprecated. Change the call to include dim=X "
                  "as an argument.", stacklevel=3)
    return 0 if ndim in (0, 1, 3) else 1


def softmax(input, dim=None, _stacklevel=3, dtype=None):
    if dim is None:
        dim = _softmax_dim(input.ndim)
    return _softmax_op(input, dim, dtype=dtype)


def log_softmax(input, dim=None, _stacklevel=3, dtype=None):
    if dim is None:
        dim = _softmax_dim(input.ndim)
    return _log_softmax_op(input, dim, dtype=dtype)


def softmin(input, dim=None, _stacklevel=3, dtype=None):
    if dim is None:
        dim = _softmax_dim(input.ndim)
    if dtype is not None:
        input = input.to(dtype)
    return _softmax_op(-input, dim)


def gumbel_softmax(logits, tau=1.0, hard=False, eps=1e-10, dim=-1):
    """Samples from the Gumbel-softmax distribution; ``hard`` gives one-hot values with soft gradients."""
    # PyTorch's -empty_like(logits).exponential_().log(): its exponential sampler, in the logits' dtype
    gumbels = -np.log(_random.exponential(tuple(logits.shape), dtype_of(logits)))
    y_soft = softmax((logits + wrap(gumbels)) / tau, dim)
    if not hard:
        return y_soft
    index = np.argmax(array(y_soft), axis=dim)
    y_hard = np.zeros(y_soft.shape, dtype=dtype_of(y_soft))
    np.put_along_axis(y_hard, np.expand_dims(index, dim), 1.0, axis=dim)
    return wrap(y_hard) - y_soft.detach() + y_soft
