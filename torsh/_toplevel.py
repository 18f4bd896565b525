"""torch.* functions derived from torsh's ops: scalar_tensor, empty_strided / empty_permuted, frombuffer,
from_file, the deprecated end-inclusive range, to_dlpack, conj / conj_physical, functional fill, chalf.

Re-exported by ``torsh/__init__.py`` (``from ._toplevel import *``).
"""
import builtins
import math
import mmap
import os
import warnings

import numpy as np

from . import _dtype, _meta
from ._tensor import Tensor, wrap
from ._ops.tensor import conversion
from ._ops.tensor.creation import _check_device, _finish, _on_meta, full
from ._ops.inplace import apply_inplace
from ._ops.registry import copy_out as _out
from .autograd.graph import Node, needs_grad, record

__all__ = ["scalar_tensor", "empty_strided", "empty_permuted", "frombuffer", "from_file", "range", "to_dlpack",
           "conj", "conj_physical", "conj_physical_", "fill", "_assert"]


def _assert(condition, message):
    """``torch._assert``: Python's assert as a function, so torch.fx can record it (specialised
    ``concrete_args`` become ``_assert`` calls in the traced graph)."""
    if not condition:
        raise AssertionError(message)


def _dtype_or_default(dtype):
    return _dtype.get_default_dtype() if dtype is None else _dtype.to_dtype(dtype)


def scalar_tensor(s, *, dtype=None, layout=None, device=None, pin_memory=False, requires_grad=False):
    """A 0-d tensor of the default dtype (whatever the number's type), as torch.scalar_tensor."""
    if isinstance(s, Tensor):
        s = s.item()
    d = _dtype_or_default(dtype)
    if isinstance(s, complex) and not d.is_complex:
        raise RuntimeError("value cannot be converted to type float without overflow")
    return full((), s, dtype=d, device=device, requires_grad=requires_grad)


def _overlaps(size, stride):
    """Whether two indices reach one element: PyTorch's has_internal_overlap (a zero stride on a longer dim)."""
    return any(st == 0 and sz > 1 for sz, st in zip(size, stride))


def empty_strided(size, stride, *, dtype=None, layout=None, device=None, requires_grad=False, pin_memory=False):
    size, stride = tuple(int(s) for s in size), tuple(int(s) for s in stride)
    if len(size) != len(stride):
        raise RuntimeError(f"dimensionality of sizes ({len(size)}) must match dimensionality of strides "
                           f"({len(stride)})")
    if any(s < 0 for s in stride) and 0 not in size:  # ATen's storage size computation rejects it
        raise RuntimeError(f"Storage size calculation overflowed with sizes={list(size)} and strides={list(stride)}")
    d = _dtype_or_default(dtype)
    if _on_meta(device):
        return _finish(_meta.empty(size, d, strides=stride), requires_grad)
    extent = 0 if 0 in size else 1 + sum((n - 1) * s for n, s in zip(size, stride))
    storage = np.empty(extent, dtype=d.np)
    array = np.lib.stride_tricks.as_strided(storage, size, tuple(s * storage.itemsize for s in stride),
                                            writeable=not _overlaps(size, stride))
    return _finish(wrap(array), requires_grad)


def empty_permuted(size, physical_layout, *, dtype=None, layout=None, device=None, requires_grad=False,
                   pin_memory=False):
    """An empty tensor whose dims lie in memory in ``physical_layout``'s order (outermost first)."""
    size, physical_layout = tuple(int(s) for s in size), tuple(int(p) for p in physical_layout)
    if len(size) != len(physical_layout):
        raise RuntimeError("Number of dimensions in size does not match the length of the physical_layout; i.e. "
                           f"len(size) = {len(size)} is not equal to len(physical_layout) = {len(physical_layout)}")
    if sorted(physical_layout) != list(builtins.range(len(size))):
        raise RuntimeError("Duplicate dim not allowed")
    d = _dtype_or_default(dtype)
    if _on_meta(device):
        strides = [0] * len(size)
        step = 1
        for p in reversed(physical_layout):
            strides[p], step = step, step * max(size[p], 1)
        return _finish(_meta.empty(size, d, strides=strides), requires_grad)
    physical = np.empty([size[p] for p in physical_layout], dtype=d.np)
    return _finish(wrap(physical.transpose(np.argsort(physical_layout))), requires_grad)


_warned_readonly_buffer = False


def frombuffer(buffer, *, dtype, count=-1, offset=0, requires_grad=False):
    """A 1-d tensor over ``buffer``'s memory (shared, as PyTorch's; a read-only buffer is copied, with PyTorch's
    warning, since torsh cannot write through it)."""
    global _warned_readonly_buffer
    d = _dtype.to_dtype(dtype)
    view = memoryview(buffer).cast("B")
    length = view.nbytes
    if length == 0 or count == 0:
        raise ValueError(f"both buffer length ({length}) and count ({count}) must not be 0")
    if offset < 0 or offset >= length:
        raise ValueError(f"offset ({offset} bytes) must be non-negative and no greater than buffer length "
                         f"({length} bytes) minus 1")
    if count < 0:
        if (length - offset) % d.itemsize:
            raise ValueError(f"buffer length ({length - offset} bytes) after offset ({offset} bytes) must be a "
                             f"multiple of element size ({d.itemsize})")
        count = (length - offset) // d.itemsize
    elif offset + count * d.itemsize > length:
        raise ValueError(f"requested buffer length ({count} * {d.itemsize} bytes) after offset ({offset} bytes) "
                         f"must not be greater than actual buffer length ({length} bytes)")
    array = np.frombuffer(view, dtype=d.np, count=count, offset=offset)
    if not array.flags.writeable:
        if not _warned_readonly_buffer:
            warnings.warn("The given buffer is not writable, and PyTorch does not support non-writable tensors. "
                          "This means you can write to the underlying (supposedly non-writable) buffer using the "
                          "tensor. You may want to copy the buffer to protect its data or make it writable before "
                          "converting it to a tensor. This type of warning will be suppressed for the rest of this "
                          "program.", UserWarning, stacklevel=2)
            _warned_readonly_buffer = True
        array = array.copy()
    return _finish(wrap(array), requires_grad)


def from_file(filename, shared=None, size=0, *, dtype=None, layout=None, device=None, pin_memory=False,
              requires_grad=False):
    """The first ``size`` elements of a file; with ``shared=True`` a writable shared map of it (writes reach
    the file), otherwise a private copy."""
    d = _dtype_or_default(dtype)
    _check_device(device)
    needed = size * d.itemsize
    file_size = os.path.getsize(filename)
    if file_size < needed:
        raise RuntimeError(f"file <{filename}> size <{file_size}> is smaller than the required mapping size "
                           f"<{needed}>")
    if size == 0:
        return _finish(wrap(np.empty(0, dtype=d.np)), requires_grad)
    with open(filename, "r+b" if shared else "rb") as f:
        if shared:
            array = np.frombuffer(mmap.mmap(f.fileno(), needed), dtype=d.np, count=size)
        else:
            array = np.fromfile(f, dtype=d.np, count=size)
    return _finish(wrap(array), requires_grad)


def range(start, end, step=1, *, out=None, dtype=None, layout=None, device=None, requires_grad=False):
    """Deprecated: ``start, start + step, ..., end`` with ``end`` included."""
    warnings.warn("torch.range is deprecated and will be removed in a future release because its behavior is "
                  "inconsistent with Python's range builtin. Instead, use torch.arange, which produces values in "
                  "[start, end).", UserWarning, stacklevel=2)
    start, end, step = (v.item() if isinstance(v, Tensor) else v for v in (start, end, step))
    if step == 0:
        raise RuntimeError("step must be nonzero")
    if (step > 0 and end < start) or (step < 0 and end > start):
        raise RuntimeError("upper bound and lower bound inconsistent with step sign")
    _check_device(device)
    d = _dtype_or_default(dtype)
    n = int(math.floor((end - start) / step)) + 1
    values = start + np.arange(n, dtype=np.float64) * step  # PyTorch's double accumulation, then the cast
    return _finish(wrap(values.astype(d.np)), requires_grad, out)


def to_dlpack(tensor):
    """A DLPack capsule sharing the tensor's memory (``torch.from_dlpack`` and ``np.from_dlpack`` take it)."""
    return tensor.detach()._data.__dlpack__()


def conj(input):
    """The complex conjugate (a copy: torsh has no lazy conjugate bit); real tensors are returned unchanged."""
    return conversion.conj(input) if input.dtype.is_complex else input


class ConjPhysicalBackward0(Node):
    def backward(self, grad):
        return (conj_physical(grad),)


def conj_physical(input, *, out=None):
    """The complex conjugate computed into new memory (a copy of a real tensor), with its gradient."""
    if not input.dtype.is_complex:
        return _out(input.clone(), out)
    result = wrap(np.conj(input._data))
    if needs_grad(input):
        record(ConjPhysicalBackward0(), (input,), (result,))
    return _out(result, out)


def conj_physical_(input):
    return apply_inplace(input, "conj_physical_", conj_physical)


def fill(input, value):
    """A new tensor of ``input``'s shape and dtype filled with ``value`` (a number or a 0-d tensor)."""
    if isinstance(value, Tensor) and value.ndim:
        raise RuntimeError(f"fill_ only supports 0-dimension value tensor but got tensor with {value.ndim} "
                           "dimensions.")
    return Tensor.fill_(input.clone(), value)


def _chalf(self, memory_format=None):
    return self.to(_dtype.complex32)


Tensor.conj_physical = conj_physical
Tensor.conj_physical_ = conj_physical_
Tensor.chalf = _chalf
