"""torch.autograd.Variable: the pre-0.4 wrapper, now the Tensor itself (isinstance holds for every tensor)."""
from .. import _tensor


class VariableMeta(type):
    def __instancecheck__(cls, other):
        return isinstance(other, _tensor.Tensor)


class Variable(metaclass=VariableMeta):
    """``Variable(tensor, requires_grad=False)`` returns a tensor sharing ``tensor``'s data (an empty float
    tensor without arguments), as PyTorch's legacy constructor does."""

    def __new__(cls, data=None, requires_grad=False, volatile=False):
        if data is None:
            from .._ops.tensor import creation
            return creation.tensor([])
        if not isinstance(data, _tensor.Tensor):
            raise TypeError(f"Variable data has to be a tensor, but got {type(data).__name__}")
        return data.detach().requires_grad_(requires_grad)


def variable(*args, **kwargs):
    raise RuntimeError("torch.autograd.variable(...) is deprecated, use torch.tensor(...) instead")
