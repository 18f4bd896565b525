"""Pickling support for tensors. (torsh.save / torsh.load in PyTorch's zip format come with issue 5.)"""
from ._tensor import Tensor


def _rebuild_tensor_for_pickle(array, requires_grad):
    t = Tensor._wrap(array)
    t._requires_grad = requires_grad
    return t
