"""torch.nn.grad: the gradients of conv1d/2d/3d with respect to their input or weight, given the output's gradient.

PyTorch calls ``aten.convolution_backward``; torsh asks its own autograd for the same vector-Jacobian product of
the convolution (linear in each argument, so the placeholder it differentiates at does not matter). The result
stays differentiable in the other argument and in ``grad_output`` when they require grad, as PyTorch's is.
"""
import torsh
from torsh.nn import functional as F

__all__ = ["conv1d_input", "conv1d_weight", "conv2d_input", "conv2d_weight", "conv3d_input", "conv3d_weight"]

_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}


def _vjp(dims, wrt_input, input, weight, grad_output, stride, padding, dilation, groups):
    placeholder, other = (input, weight) if wrt_input else (weight, input)
    placeholder = placeholder.detach().requires_grad_()
    create_graph = torsh.is_grad_enabled() and (other.requires_grad or grad_output.requires_grad)
    with torsh.enable_grad():
        args = (placeholder, other) if wrt_input else (other, placeholder)
        output = _CONV[dims](*args, None, stride, padding, dilation, groups)
        return torsh.autograd.grad(output, placeholder, grad_output, create_graph=create_graph)[0]


def _input_grad(dims, input_size, weight, grad_output, stride, padding, dilation, groups):
    input = torsh.zeros(tuple(input_size), dtype=grad_output.dtype)
    return _vjp(dims, True, input, weight, grad_output, stride, padding, dilation, groups)


def _weight_grad(dims, input, weight_size, grad_output, stride, padding, dilation, groups):
    weight = torsh.zeros(tuple(weight_size), dtype=grad_output.dtype)
    return _vjp(dims, False, input, weight, grad_output, stride, padding, dilation, groups)


def conv1d_input(input_size, weight, grad_output, stride=1, padding=0, dilation=1, groups=1):
    r"""The gradient of conv1d with respect to its input (of shape ``input_size``)."""
    return _input_grad(1, input_size, weight, grad_output, stride, padding, dilation, groups)


def conv1d_weight(input, weight_size, grad_output, stride=1, padding=0, dilation=1, groups=1):
    r"""The gradient of conv1d with respect to its weight (of shape ``weight_size``)."""
    return _weight_grad(1, input, weight_size, grad_output, stride, padding, dilation, groups)


def conv2d_input(input_size, weight, grad_output, stride=1, padding=0, dilation=1, groups=1):
    r"""The gradient of conv2d with respect to its input (of shape ``input_size``)."""
    return _input_grad(2, input_size, weight, grad_output, stride, padding, dilation, groups)


def conv2d_weight(input, weight_size, grad_output, stride=1, padding=0, dilation=1, groups=1):
    r"""The gradient of conv2d with respect to its weight (of shape ``weight_size``)."""
    return _weight_grad(2, input, weight_size, grad_output, stride, padding, dilation, groups)


def conv3d_input(input_size, weight, grad_output, stride=1, padding=0, dilation=1, groups=1):
    r"""The gradient of conv3d with respect to its input (of shape ``input_size``)."""
    return _input_grad(3, input_size, weight, grad_output, stride, padding, dilation, groups)


def conv3d_weight(input, weight_size, grad_output, stride=1, padding=0, dilation=1, groups=1):
    r"""The gradient of conv3d with respect to its weight (of shape ``weight_size``)."""
    return _weight_grad(3, input, weight_size, grad_output, stride, padding, dilation, groups)
