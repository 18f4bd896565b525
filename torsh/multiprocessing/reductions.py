"""Tensors in shared memory, and their pickling between processes (PyTorch's "file_descriptor" strategy).

``share_memory_()`` moves a tensor's array into an anonymous shared file (memfd) mapped into this process: a
forked child sees the same pages, and a tensor sent through a ``torsh.multiprocessing`` queue or to a spawned
process travels as a duplicated file descriptor plus its layout, so both sides write the same memory
(Hogwild-style training).
"""
import mmap
import os
import weakref
from multiprocessing.reduction import ForkingPickler, DupFd

import numpy as np

from .. import _dtype
from .._tensor import Tensor, _storage_array, wrap


class _SharedBuffer(mmap.mmap):
    """A shared mapping that remembers its file descriptor (closed with the mapping)."""


def _map(fd, nbytes):
    buffer = _SharedBuffer(fd, nbytes)
    buffer.fd = fd
    weakref.finalize(buffer, os.close, fd)
    return buffer


def is_shared(array):
    return isinstance(_storage_array(array).base, _SharedBuffer)


def shared_copy(array):
    """``array``'s values in a new shared mapping (C order)."""
    nbytes = max(array.nbytes, 1)
    fd = os.memfd_create("torsh_shared", 0)
    os.ftruncate(fd, nbytes)
    out = np.ndarray(array.shape, dtype=array.dtype, buffer=_map(fd, nbytes))
    out[...] = array
    return out


def _rebuild_tensor(dup_fd, nbytes, dtype_name, offset, shape, strides, requires_grad, cls):
    buffer = _map(dup_fd.detach(), nbytes)
    array = np.ndarray(shape, dtype=_dtype._BY_NAME[dtype_name].np, buffer=buffer, offset=offset, strides=strides)
    t = wrap(array)
    if cls is not Tensor:  # nn.Parameter and other subclasses rebuild around the shared tensor
        return cls(t, requires_grad)
    return t.requires_grad_(requires_grad) if requires_grad else t


def reduce_tensor(t):
    """Pickle a shared ``t`` by reference to its memory; any other tensor by value. (PyTorch moves every tensor
    it sends into shared memory; torsh copies unshared ones, so DataLoader batches keep their plain pickling.)"""
    if t.requires_grad and not t.is_leaf:
        raise RuntimeError("Cowardly refusing to serialize non-leaf tensor which requires_grad, since autograd "
                           "does not support crossing process boundaries.  If you just want to transfer the data, "
                           "call detach() on the tensor before serializing (e.g., putting it on the queue).")
    if not is_shared(t._data):
        return t.__reduce_ex__(4)
    root = _storage_array(t._data)
    buffer = root.base
    offset = t._data.__array_interface__["data"][0] - root.__array_interface__["data"][0]
    return (_rebuild_tensor, (DupFd(buffer.fd), len(buffer), t.dtype.name, offset, t._data.shape,
                              t._data.strides, t.requires_grad, type(t)))


def init_reductions():
    from ..nn.parameter import Parameter
    for cls in (Tensor, Parameter):
        ForkingPickler.register(cls, reduce_tensor)
