"""Tensor methods PyTorch keeps for legacy or sparse/stream APIs, on strided CPU tensors: apply_/map_/map2_
(Python callables per element), const_data_ptr, dim_order, to_dense, dense_dim, new_empty_strided, and the
attributes and methods that only report or refuse (volatile, name, grad_dtype, is_coalesced, coalesce,
reinforce), with PyTorch's errors; the legacy constructor ``new``, storage-level resizing and re-pointing (resize_,
set_, as_strided_), as_subclass, storage_type, module_load, register_post_accumulate_grad_hook (run by
autograd.graph.AccumulateGrad), and record_stream / to_padded_tensor, which strided CPU tensors refuse."""
import warnings

import numpy as np

from ..._tensor import LEGACY_TENSOR_TYPES, Tensor, _CPP_TYPE, _storage_array, wrap
from ..._dtype import SCALAR_TYPE_NAMES
from ..._storage import LEGACY_STORAGE_TYPES, TypedStorage, UntypedStorage, warn_typed_storage_removal
from ..._tensor_str import _TYPE_NAMES
from ...autograd.graph import _RemovableHandle
from ..inplace import check_inplace_allowed
from .shape.views import ViewBackward0, _view

__all__ = []


def _no_grad_for(op, t):
    if t._requires_grad:
        raise RuntimeError(f"Can't call {op}() on Variable that requires grad. Use var.detach().{op}() instead.")


def _write_elementwise(self, values):
    """Write the Python ``values`` (one per element, C order) into self and bump its version."""
    self._data[...] = np.array(values, dtype=self._data.dtype).reshape(self._data.shape)
    self._version_counter[0] += 1
    return self


def apply_(self, callable):
    """Replace each element x by callable(x) (a Python number), in place; refused under autograd, as torch."""
    _no_grad_for("apply_", self)
    return _write_elementwise(self, [callable(v) for v in self._data.reshape(-1).tolist()])


def map_(self, tensor, callable):
    """self[i] = callable(self[i], tensor[i]) with ``tensor`` broadcast to self's shape."""
    _no_grad_for("map_", self)
    other = tensor.expand(*self._data.shape)._data.reshape(-1).tolist()
    return _write_elementwise(self, [callable(a, b) for a, b in zip(self._data.reshape(-1).tolist(), other)])


def map2_(self, x, y, callable):
    """self[i] = callable(self[i], x[i], y[i]) with ``x`` and ``y`` broadcast to self's shape."""
    _no_grad_for("map2_", self)
    xs = x.expand(*self._data.shape)._data.reshape(-1).tolist()
    ys = y.expand(*self._data.shape)._data.reshape(-1).tolist()
    return _write_elementwise(self, [callable(a, b, c) for a, b, c in zip(self._data.reshape(-1).tolist(), xs, ys)])


def const_data_ptr(self):
    return self.data_ptr()


def dim_order(self, *, ambiguity_check=False):
    """The dims from outermost to innermost in memory (by decreasing stride, ties kept in dim order)."""
    strides = self.stride()
    return tuple(sorted(range(self._data.ndim), key=lambda d: -strides[d]))


def to_dense(self, dtype=None, *, masked_grad=True):
    """A strided tensor is dense already: self (converted to ``dtype`` if given)."""
    return self if dtype is None or dtype is self.dtype else self.to(dtype)


def dense_dim(self):
    return self._data.ndim


def _sparse_only(op):
    def method(self, *args, **kwargs):
        raise RuntimeError(f"{op} expected sparse coordinate tensor layout but got Strided")
    method.__name__ = op
    return method


def reinforce(self, reward):
    raise RuntimeError("reinforce() was removed.\nUse torch.distributions instead.\nSee "
                       "https://pytorch.org/docs/main/distributions.html\n\nInstead of:\n\nprobs = policy_network(state)\n"
                       "action = probs.multinomial()\nnext_state, reward = env.step(action)\naction.reinforce(reward)\n"
                       "action.backward()\n\nUse:\n\nprobs = policy_network(state)\n# NOTE: categorical is equivalent "
                       "to what used to be called multinomial\nm = torch.distributions.Categorical(probs)\n"
                       "action = m.sample()\nnext_state, reward = env.step(action)\nloss = -m.log_prob(action) * reward\n"
                       "loss.backward()\n")


def new_empty_strided(self, size, stride, *, dtype=None, device=None, requires_grad=False, layout=None,
                      pin_memory=False):
    """An uninitialised tensor with the given sizes and strides (in elements), self's dtype by default."""
    size, stride = tuple(int(s) for s in size), tuple(int(s) for s in stride)
    np_dtype = (self.dtype if dtype is None else dtype).np
    span = 1 + sum((n - 1) * s for n, s in zip(size, stride)) if all(size) else 0
    buffer = np.empty(max(span, 0), dtype=np_dtype)
    array = np.lib.stride_tricks.as_strided(buffer, size, tuple(s * buffer.itemsize for s in stride))
    out = wrap(array)
    return out.requires_grad_() if requires_grad else out


for _fn in (apply_, map_, map2_, const_data_ptr, dim_order, to_dense, dense_dim, reinforce, new_empty_strided):
    setattr(Tensor, _fn.__name__, _fn)
Tensor.is_coalesced = _sparse_only("is_coalesced")
Tensor.coalesce = _sparse_only("coalesce")
# attributes of the autograd of old (Variable) or of named tensors that PyTorch still reports
Tensor.volatile = property(lambda self: False)
Tensor.name = property(lambda self: None)
Tensor.grad_dtype = property(lambda self: self.dtype)


# -- legacy constructors, storage and resizing: Tensor.new, resize_, set_, as_strided_ ----------------------------
def new(self, *args, device=None):
    """The legacy constructor of self's dtype (``torch.FloatTensor(...)`` for a float32 self): no args -> empty, a
    size -> uninitialised, a sequence -> its values, a tensor of the same dtype -> an alias of it."""
    return LEGACY_TENSOR_TYPES[_TYPE_NAMES[self.dtype.name]](*args, device=device)


def _sizes(args):
    """resize_'s sizes, given as ints or as one sequence (a list, tuple or Size)."""
    return tuple(int(s) for s in (args[0] if len(args) == 1 and not isinstance(args[0], (int, np.integer)) else args))


def _check_resizable(self):
    if self._requires_grad:
        raise RuntimeError("cannot resize variables that require grad")


def resize_(self, *sizes, memory_format=None):
    """Give self the ``sizes`` (contiguous strides) over its storage from its offset, as PyTorch: the elements it
    keeps are the storage's from there in order; a storage too small is replaced by a larger one holding the old
    values (PyTorch leaves the new elements uninitialised; here they are 0). Other tensors on the old storage keep
    it (PyTorch moves them to the new memory too)."""
    _check_resizable(self)
    shape = _sizes(sizes)
    if any(s < 0 for s in shape):
        raise RuntimeError("numel: integer multiplication overflow")
    if shape == self._data.shape:
        return self
    storage, offset, count = _storage_array(self._data).reshape(-1), self.storage_offset(), int(np.prod(shape))
    if offset + count > storage.size:
        grown = np.zeros(offset + count, dtype=storage.dtype)
        grown[:storage.size] = storage
        storage = grown
    self._data = storage[offset:offset + count].reshape(shape)
    self._version_counter[0] += 1
    return self


def resize_as_(self, tensor, memory_format=None):
    return resize_(self, tensor.shape, memory_format=memory_format)


def resize(self, *sizes):
    """The deprecated out-of-place resize: a reshape that must keep the number of elements (differentiable)."""
    warnings.warn("non-inplace resize is deprecated", UserWarning, stacklevel=2)
    return _autograd_resize(self, _sizes(sizes))


def resize_as(self, tensor):
    warnings.warn("non-inplace resize_as is deprecated", UserWarning, stacklevel=2)
    return _autograd_resize(self, tuple(tensor.shape))


def _autograd_resize(self, shape):
    if int(np.prod(shape)) != self._data.size:
        raise RuntimeError(f"requested resize to {'x'.join(map(str, shape))} ({int(np.prod(shape))} elements in "
                           f"total), but the given tensor has a size of {'x'.join(map(str, self._data.shape))} "
                           f"({self._data.size} elements). autograd's resize can only change the shape of a given "
                           "tensor, while preserving the number of elements. ")
    return self.contiguous().view(*shape)


def set_(self, source=None, storage_offset=0, size=None, stride=None):
    """Point self at another tensor's memory (its storage, offset, sizes and strides), at a window of a storage
    (``untyped_storage()``), or at a new empty storage; self's version is bumped, not shared."""
    check_inplace_allowed(self)
    if source is None:
        array = np.empty(0, dtype=self._data.dtype)
    elif isinstance(source, Tensor):
        if source.dtype is not self.dtype:
            raise RuntimeError(f"Could not set tensor of type {_CPP_TYPE.get(source.dtype.name, source.dtype.name)} "
                               f"to a tensor of type {_CPP_TYPE.get(self.dtype.name, self.dtype.name)}")
        array = source._data if size is None else \
            source.detach().as_strided(size, stride or _contiguous_strides(size), storage_offset)._data
    else:  # a storage: its memory read as self's dtype
        array = _storage_elements(self, source, size, stride, int(storage_offset))
    self._data = array
    self._version_counter[0] += 1
    return self


def _storage_elements(self, source, size, stride, offset):
    """The strided window (set_'s storage form) of a storage's memory read as self's dtype, with PyTorch's type
    check; a storage too small for it grows first, as PyTorch's set_ resizes it."""
    if isinstance(source, TypedStorage):
        if source.dtype is not self.dtype:
            raise RuntimeError(f"Expected a Storage of type {_CPP_TYPE.get(self.dtype.name, self.dtype.name)} or an "
                               f"UntypedStorage, but got type {SCALAR_TYPE_NAMES.get(source.dtype.name)} for "
                               "argument 1 'storage'")
        source = source.untyped()
    if not isinstance(source, UntypedStorage):
        raise TypeError(f"set_(): argument 'source' must be Tensor or Storage, not {type(source).__name__}")
    itemsize = self.dtype.itemsize
    if size is None:
        size = (source.nbytes() // itemsize,)
    size = tuple(int(n) for n in size)
    stride = tuple(int(st) for st in stride) if stride is not None else _contiguous_strides(size)
    if offset < 0:
        raise RuntimeError(f"Tensor: invalid storage offset {offset}")
    if any(n < 0 for n in size):
        raise RuntimeError("numel: integer multiplication overflow")
    if any(st < 0 for st in stride):
        raise RuntimeError(f"Storage size calculation overflowed with sizes={list(size)} and strides={list(stride)}")
    need = offset + 1 + sum((n - 1) * st for n, st in zip(size, stride)) if all(size) else 0
    if need * itemsize > source.nbytes():
        source.resize_(need * itemsize)
    flat = source._data[:source.nbytes() // itemsize * itemsize].view(self.dtype.np)
    return np.ndarray(size, flat.dtype, buffer=flat, offset=offset * itemsize,
                      strides=tuple(st * itemsize for st in stride))


def _contiguous_strides(size):
    return tuple(int(np.prod(size[k + 1:])) for k in range(len(size)))


def is_set_to(self, tensor):
    """True if both point at the same memory: storage, offset, sizes and strides."""
    return (_storage_array(self._data) is _storage_array(tensor._data) and self.dtype is tensor.dtype
            and self.storage_offset() == tensor.storage_offset() and self._data.shape == tensor._data.shape
            and self._data.strides == tensor._data.strides)


def as_strided_(self, size, stride, storage_offset=None):
    """as_strided in place: self becomes the strided window of its storage (recorded in the graph as an in-place
    op when self requires grad)."""
    check_inplace_allowed(self)
    out = self.as_strided(size, stride, storage_offset)
    self._data = out._data
    if out._grad_fn is not None:
        self._grad_fn, self._output_nr = out._grad_fn, out._output_nr
    return self


# -- subclasses, storages, streams, state-dict loading, nested tensors ----------------------------------------------
def as_subclass(self, cls):
    """A ``cls`` instance viewing self's memory (same version counter), in the graph after self as an alias."""
    if not (isinstance(cls, type) and issubclass(cls, Tensor)):
        raise TypeError("Creating a Tensor subclass from a class that does not inherit from Tensor is not possible. "
                        "Make sure your class inherits from Tensor.")
    out = _view(self, self._data.view(), AliasBackward0, lambda t: t.view_as(t), shape=self._data.shape)
    out.__class__ = cls
    return out


AliasBackward0 = type("AliasBackward0", (ViewBackward0,), {})  # PyTorch's node of an alias (the gradient as is)


class _LegacyStorageType(type):
    def __repr__(cls):
        return f"<class 'torch.{cls.__name__}'>"


_STORAGE_TYPES = {}


def storage_type(self):
    """The legacy typed-storage class of self's dtype (``torch.FloatStorage`` for float32), with PyTorch's
    deprecation warning."""
    warn_typed_storage_removal()  # once per process, as PyTorch
    if self.dtype in LEGACY_STORAGE_TYPES:
        return LEGACY_STORAGE_TYPES[self.dtype]
    name = _TYPE_NAMES[self.dtype.name].replace("Tensor", "Storage")  # FloatTensor -> FloatStorage
    if name not in _STORAGE_TYPES:
        _STORAGE_TYPES[name] = _LegacyStorageType(name, (), {"dtype": self.dtype, "__module__": "torsh"})
    return _STORAGE_TYPES[name]


def _no_cpu_kernel(op):
    return (f"Could not run 'aten::{op}' with arguments from the 'CPU' backend. This could be because the operator "
            "doesn't exist for this backend, or was omitted during the selective/custom build process (if using "
            "custom build). If you are a Facebook employee using PyTorch on mobile, please visit "
            "https://fburl.com/ptmfixes for possible resolutions.")


def record_stream(self, stream):
    """CUDA only: a stream object (torch.Stream: it has a stream_id) is refused by the CPU backend, anything else by
    the argument parser."""
    if not hasattr(stream, "stream_id"):
        raise RuntimeError("unknown parameter type")
    raise NotImplementedError(_no_cpu_kernel("record_stream"))


def module_load(self, other, assign=False):
    """What load_state_dict swaps in for self (under swap_module_params_on_conversion): ``other`` detached if
    ``assign``, else self with other's values copied in, detached."""
    return other.detach() if assign else self.copy_(other).detach()


def to_padded_tensor(self, padding, output_size=None):
    """Nested tensors only (torsh has none): a strided tensor is refused as PyTorch's CPU backend does."""
    raise NotImplementedError(_no_cpu_kernel("to_padded_tensor"))


def register_post_accumulate_grad_hook(self, hook):
    """``hook(self)`` runs after a backward has accumulated this leaf's gradient into ``.grad`` (in no-grad mode
    unless create_graph): an optimizer step can run there, parameter by parameter."""
    if not self._requires_grad:
        raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
    if self._grad_fn is not None:
        raise RuntimeError("post accumulate grad hooks cannot be registered on non-leaf tensors")
    if self._post_accumulate_grad_hooks is None:
        self._post_accumulate_grad_hooks = []
    self._post_accumulate_grad_hooks.append(hook)
    return _RemovableHandle(self._post_accumulate_grad_hooks, hook)


Tensor._post_accumulate_grad_hooks = None  # a leaf's list of hooks, set by the first registration
for _fn in (new, resize_, resize_as_, resize, resize_as, set_, is_set_to, as_strided_, as_subclass, storage_type,
            record_stream, module_load, to_padded_tensor, register_post_accumulate_grad_hook):
    setattr(Tensor, _fn.__name__, _fn)
