"""The meta device's data (core layer): a meta tensor holds a ``MetaArray``, a read-only view with zero strides
over one element, so a tensor of any shape costs a few bytes (PyTorch's meta tensors have no storage at all);
and the default device the factories build on when it is not the CPU (``torch.set_default_device('meta')``,
``with torch.device('meta'):``). The ops on meta tensors are routed by ``torsh/_meta.py``."""
import weakref

import numpy as np


class MetaArray(np.ndarray):
    """A meta tensor's array: ``type(t._data) is MetaArray`` is what makes ``t`` a meta tensor."""
    meta_strides = None  # the tensor's element strides when a view op made them other than contiguous


LIVE = [0]  # meta arrays alive: the op hook stays installed while there are some (torsh/_meta.py)


def _collected():
    LIVE[0] -= 1


def meta_array(shape, dtype, strides=None):
    """A meta tensor's array of ``shape`` and NumPy ``dtype``. The element read by ops run on it (only for
    the result's shape and dtype) is 1 for floating types, 0 for the others (a valid index)."""
    dtype = np.dtype(dtype)
    one = np.ones((), dtype) if dtype.kind in "fc" else np.zeros((), dtype)
    array = np.broadcast_to(one, tuple(shape)).view(MetaArray)
    if strides is not None and tuple(strides) != contiguous_strides(array.shape):
        array.meta_strides = tuple(strides)
    LIVE[0] += 1
    weakref.finalize(array, _collected)
    return array


def contiguous_strides(shape):
    strides, step = [], 1
    for size in reversed(shape):
        strides.append(step)
        step *= max(size, 1)
    return tuple(reversed(strides))


def strides_of(array):
    """A meta array's element strides (PyTorch's: contiguous unless a view op set them)."""
    return array.meta_strides if array.meta_strides is not None else contiguous_strides(array.shape)


# the factories' device when the call names none: None (the CPU) or a torch.device (meta); set by
# torch.set_default_device and `with torch.device(...)`, read by torsh._ops.tensor.creation
default_device = None
on_meta_default = []  # torsh._meta's hook installer: the ops' own factory calls must stay on the CPU
_entered = []  # the default devices `with torch.device(...)` blocks replaced, innermost last


def set_default(device):
    """The factories' default device: a torch.device (the CPU's is kept as None) or None."""
    global default_device
    default_device = None if device is None or device.type == "cpu" else device
    if default_device is not None:
        for install in on_meta_default:
            install()


def enter(device):
    _entered.append(default_device)
    set_default(device)


def exit_():
    set_default(_entered.pop() if _entered else None)
