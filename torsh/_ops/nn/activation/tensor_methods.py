"""Tensor.hardshrink and Tensor.prelu, PyTorch's Tensor methods of two activations (torch.hardshrink and
torch.prelu are nn.functional's, bound at top level by ``torsh/__init__``)."""
from .... import _autocast
from ..._helpers import dtype_name
from ...registry import register
from . import pointwise as nn_activation
from ...tensor.elementwise.arithmetic import where


def hardshrink(input, lambd=0.5):
    return nn_activation.hardshrink(input, lambd=lambd)


def prelu(input, weight):
    """max(0, x) + weight * min(0, x), ``weight`` one value or one per channel (dim 1); also
    ``torch.nn.functional.prelu``. Checks in PyTorch's order: dtypes, weight's ndim, its size, the kernel."""
    if _autocast.state.enabled:  # on PyTorch's lower-precision autocast list
        input, weight = _autocast.lower_precision(input, weight)
    if weight.dtype != input.dtype:
        raise RuntimeError(f"prelu: Type promoting not supported. Got {dtype_name(input.dtype)} and "
                           f"{dtype_name(weight.dtype)}")
    if weight._data.ndim > 1:
        raise RuntimeError(f"prelu: Expected `weight` to be a scalar or 1D tensor, but got: ndim = {weight._data.ndim}")
    if weight._data.size != 1 and input._data.ndim == 0:
        raise RuntimeError("Not allow zero-dim input tensor.")
    channels = input._data.shape[1] if input._data.ndim >= 2 else 1
    if weight._data.size not in (1, channels):
        raise RuntimeError(f"Mismatch of parameter numbers and input channel size. Found parameter numbers = "
                           f"{weight._data.size} and channel size = {channels}.")
    if not input.dtype.is_floating_point:
        raise NotImplementedError(f'"prelu_cpu" not implemented for \'{dtype_name(input.dtype)}\'')
    if weight._data.size != 1 and input._data.ndim >= 2:
        weight = weight.reshape((-1,) + (1,) * (input._data.ndim - 2))
    elif input._data.ndim == 0:  # a 0-d input keeps its shape
        weight = weight.reshape(())
    return where(input > 0, input, weight * input)


register(hardshrink, namespace=None)  # Tensor.hardshrink (torch.hardshrink is nn.functional's)
register(prelu, namespace=None)  # Tensor.prelu; also torch.prelu and F.prelu
