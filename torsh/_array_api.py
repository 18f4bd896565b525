"""The array-level API of the library layer: what nn, optim and utils may use of a tensor's insides.

A torsh tensor is a NumPy array plus autograd state (``docs/ARCHITECTURE.md``). Library code that
must work on the array itself -- optimizer kernels, initializers, NumPy-only helpers, op forwards that
build no graph -- goes through these few functions instead of touching ``Tensor`` attributes, so the
tensor's layout can change in this one place. None of them records autograd history: callers that
need a graph use the public ops.
"""
import numpy as np

from ._tensor import wrap  # re-exported: ``wrap(array)`` is a new tensor owning ``array`` (no copy)

__all__ = ["array", "grad_array", "wrap", "write", "set_array", "bump_version", "dtype_of"]


def array(tensor):
    """The NumPy array holding ``tensor``'s values: shared, not copied (writing it bypasses autograd;
    call ``bump_version`` afterwards so that saved-tensor checks see the write)."""
    return tensor._data


def grad_array(tensor):
    """The array of ``tensor.grad`` (which must be set), without building the ``.grad`` property's checks."""
    return tensor._grad._data


def dtype_of(tensor):
    """The NumPy dtype of ``tensor``'s array (``np.float32``...), for building arrays that match it."""
    return tensor._data.dtype


def write(tensor, values):
    """``tensor[...] = values`` in place without autograd (broadcast, cast to ``tensor``'s dtype), counted
    as an in-place write. Returns ``tensor``."""
    tensor._data[...] = values
    tensor._version_counter[0] += 1
    return tensor


def set_array(tensor, new_array):
    """Make ``tensor`` hold ``new_array`` (no copy): ``Tensor.data = ...`` for arrays, e.g. a lazy
    parameter's first storage or a parametrization's original."""
    tensor._data = new_array if isinstance(new_array, np.ndarray) else np.asarray(new_array)
    return tensor


def bump_version(*tensors):
    """Record an in-place write on each tensor made through ``array()`` (autograd's saved-tensor checks see it)."""
    for t in tensors:
        t._version_counter[0] += 1

