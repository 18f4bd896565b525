"""torsh.Tensor: a NumPy array (the storage) plus the autograd state around it.

Views (view, slicing, transpose, ...) are NumPy views of the same buffer; they share a
version counter with their base so in-place writes are seen by saved-tensor checks, and
remember how to re-derive themselves from the base (``_view_fn``) so autograd can follow
an in-place op on a view back to the base, as PyTorch's view + in-place semantics require.

Most methods are thin names over the ops in ``torsh._ops``; they are attached at the end
of ``torsh._ops.__init__`` so that this module stays about the tensor itself.
"""
import operator
import re

import numpy as np

from . import _dtype, _layouts, _storage
from .autograd import engine as _engine  # same layer; loaded by the package before grad_mode returns
from .autograd import grad_mode
from . import _meta_array as _meta_default
from ._meta_array import MetaArray, meta_array as _meta_array, strides_of as _meta_strides
from ._warnings import warn as _user_warning
from .backend import events, memory


class Size(tuple):
    """torch.Size: a tuple of ints with PyTorch's repr; slices, concatenations and repeats stay Sizes."""

    def __new__(cls, sizes=()):
        items = tuple(sizes)
        for i, item in enumerate(items):
            if not isinstance(item, int) or isinstance(item, bool):
                try:
                    item = operator.index(item)  # NumPy integers, 0-d integer tensors
                except TypeError:
                    raise TypeError(f"torch.Size() takes an iterable of 'int' (item {i} is "
                                    f"'{type(item).__name__}')") from None
                items = items[:i] + (item,) + items[i + 1:]
        return tuple.__new__(cls, items)

    def __repr__(self):
        return f"torsh.Size({list(self)})"

    def __reduce__(self):
        return Size, (tuple(self),)

    def __getitem__(self, key):
        item = tuple.__getitem__(self, key)
        return tuple.__new__(Size, item) if isinstance(key, slice) else item

    def __add__(self, other):
        if not isinstance(other, tuple):
            raise TypeError(f"can only concatenate tuple (not {type(other).__name__}) to torch.Size")
        return tuple.__new__(Size, tuple.__add__(self, other))

    def __radd__(self, other):
        if not isinstance(other, tuple):
            return NotImplemented
        return tuple.__new__(Size, tuple.__add__(other, self))

    def __mul__(self, times):
        return tuple.__new__(Size, tuple.__mul__(self, times))

    __rmul__ = __mul__

    def numel(self):
        n = 1
        for s in self:
            n *= s
        return n


# PyTorch's device types, in the order its "Expected one of ..." message lists them
_DEVICE_TYPES = ("cpu", "cuda", "ipu", "xpu", "mkldnn", "opengl", "opencl", "ideep", "hip", "ve", "fpga", "maia",
                 "xla", "lazy", "vulkan", "mps", "meta", "hpu", "mtia", "privateuseone")


class device:
    """torch.device: any of PyTorch's device types can be named (``torch.device("cuda")`` in a script that
    then checks ``cuda.is_available()``); only the CPU holds tensors (``require_cpu``)."""

    __slots__ = ("type", "index")

    def __init__(self, type="cpu", index=None):
        if isinstance(type, device):
            type, index = type.type, type.index
        elif isinstance(type, int) and not isinstance(type, bool):
            raise RuntimeError("Cannot access accelerator device when none is available.")
        elif not isinstance(type, str):
            raise TypeError(f"device() received an invalid combination of arguments - got ({_type_name(type)}), but "
                            "expected one of:\n * (torch.device device)\n * (str type, int index = -1)")
        else:
            type, index = _parse_device(type, index)
        self.type, self.index = type, index

    def __repr__(self):
        return f"device(type='{self.type}')" if self.index is None else f"device(type='{self.type}', index={self.index})"

    def __str__(self):
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __eq__(self, other):
        return isinstance(other, device) and other.type == self.type and other.index == self.index

    def __hash__(self):
        return hash((self.type, self.index))

    def __reduce__(self):
        return device, (self.type, self.index)

    def __enter__(self):
        """``with torch.device('meta'):`` factories (and so module constructors) build there by default."""
        _meta_default.enter(self)
        return self

    def __exit__(self, *exc):
        _meta_default.exit_()


def _type_name(value):
    return type(value).__name__


def _parse_device(text, index):
    kind, colon, number = text.partition(":")
    if not re.fullmatch(r"[a-zA-Z_]+", kind):  # PyTorch's pattern: letters, then an optional ":<index>"
        raise RuntimeError(f"Invalid device string: '{text}'")
    if kind not in _DEVICE_TYPES:
        raise RuntimeError(f"Expected one of {', '.join(_DEVICE_TYPES)} device type at start of device string: {text}")
    if colon:
        if not number.isdigit() or (len(number) > 1 and number[0] == "0"):
            raise RuntimeError(f"Invalid device string: '{text}'")
        if index is not None:
            raise RuntimeError(f"type (string) must not include an index because index was passed explicitly: "
                               f"{text}")
        index = int(number)
    if index is not None and index < 0:
        raise RuntimeError("Device index must not be negative")
    return kind, index


def require_cpu(where):
    """The CPU device ``where`` names (a device, a string or an ordinal), or PyTorch's error on a machine
    without that accelerator: AssertionError "Torch not compiled with CUDA enabled" for CUDA, as a CPU-only
    PyTorch raises when a tensor is put there."""
    dev = where if isinstance(where, device) else device(where)
    if dev.type == "cpu":
        return dev
    if dev.type in ("cuda", "xpu", "hip"):
        raise AssertionError(f"Torch not compiled with {'XPU' if dev.type == 'xpu' else 'CUDA'} enabled")
    raise RuntimeError(f"torsh runs on the CPU only: tensors cannot be placed on the '{dev.type}' device")


CPU = device("cpu")
META = device("meta")


_storage_array = _storage.storage_array  # the NumPy array that owns an array's memory
_storage.CPU, _storage.META = CPU, META



def _rebuild_meta(shape, dtype, strides, requires_grad):
    """Unpickle target of a meta tensor."""
    t = Tensor._wrap(_meta_array(shape, _dtype._BY_NAME[dtype].np, strides))
    t._requires_grad = requires_grad
    return t


def _no_item():
    raise RuntimeError("Tensor.item() cannot be called on meta tensors")


def _copied(array):
    """A copy of a tensor's array; a meta tensor's is a new meta array (no data to copy)."""
    if type(array) is MetaArray:
        return _meta_array(array.shape, array.dtype, _meta_strides(array))
    return array.copy()


_warned_scalar_of_grad_tensor = []


def _warn_scalar_of_grad_tensor():
    """PyTorch's warning (once per process) when float()/complex() reads a tensor that requires grad, e.g.
    '%.2f' % loss: the number leaves the graph."""
    if not _warned_scalar_of_grad_tensor:
        _warned_scalar_of_grad_tensor.append(True)
        _user_warning("Converting a tensor with requires_grad=True to a scalar may lead to unexpected behavior.\n"
                      "Consider using tensor.detach() first.")


class Tensor:
    __slots__ = ("_data", "_requires_grad", "_grad", "_grad_fn", "_output_nr", "_version_counter", "_base",
                 "_view_fn", "_view_version", "_accumulator", "_backward_hooks", "_retains_grad",
                 "_fw_grad",  # forward-mode tangent (autograd/forward_ad.py); unset until a dual level gives one
                 "__weakref__", "__dict__")

    # -- construction ----------------------------------------------------------------------
    @classmethod
    def _wrap(cls, array, requires_grad=False):
        """A new tensor owning ``array`` (no copy). The one place tensors are born from ops (as ``wrap``)."""
        t = object.__new__(cls)
        # NumPy returns scalars, not 0-d arrays, from ops on 0-d operands; a scalar cannot be
        # written in place (add_, copy_), so every tensor holds an array
        t._data = array if isinstance(array, np.ndarray) else np.asarray(array)
        t._requires_grad = requires_grad
        t._grad = None
        t._grad_fn = None
        t._output_nr = 0
        t._version_counter = [0]
        t._base = None
        t._view_fn = None
        t._accumulator = None
        t._backward_hooks = None
        t._retains_grad = False
        if memory.counting or memory.TOPIC in events._subscribers:  # why not always: backend/memory.py
            memory.track(array)
        return t

    def __new__(cls, *args, **kwargs):
        # torch.Tensor(data) or torch.Tensor(*sizes): float32 (the default dtype) either way
        from ._ops.tensor import creation
        if len(args) == 1 and not isinstance(args[0], (int, np.integer)) and not isinstance(args[0], Size):
            src = creation.tensor(args[0], dtype=_dtype.get_default_dtype())
        else:
            sizes = args[0] if len(args) == 1 and isinstance(args[0], Size) else args
            src = creation.empty(*sizes)
        t = cls._wrap(src._data)
        return t

    def __init__(self, *args, **kwargs):
        pass

    # -- new_* factories: self's dtype (and device) unless told otherwise ---------------------------
    def _own_device(self, device):
        """A new_* factory's device: self's unless given (the default device does not apply)."""
        if device is None and (_meta_default.default_device is not None or (
                _meta_default.LIVE[0] and type(self._data) is MetaArray)):
            return self.device
        return device

    def new_tensor(self, data, *, dtype=None, device=None, requires_grad=False, layout=None, pin_memory=False):
        from ._ops.tensor import creation
        if isinstance(data, Tensor):
            import warnings
            warnings.warn("To copy construct from a tensor, it is recommended to use sourceTensor.detach().clone() "
                          "or sourceTensor.detach().clone().requires_grad_(True), rather than "
                          "tensor.new_tensor(sourceTensor).", UserWarning, stacklevel=2)
            data = data.detach()
        return creation.tensor(data, dtype=self.dtype if dtype is None else dtype, device=self._own_device(device),
                               requires_grad=requires_grad)

    def new_empty(self, *sizes, size=None, dtype=None, device=None, requires_grad=False, layout=None,
                  pin_memory=False):
        from ._ops.tensor import creation
        return creation.empty(*sizes, size=size, dtype=self.dtype if dtype is None else dtype, device=self._own_device(device),
                              requires_grad=requires_grad)

    def new_zeros(self, *sizes, size=None, dtype=None, device=None, requires_grad=False, layout=None,
                  pin_memory=False):
        from ._ops.tensor import creation
        return creation.zeros(*sizes, size=size, dtype=self.dtype if dtype is None else dtype, device=self._own_device(device),
                              requires_grad=requires_grad)

    def new_ones(self, *sizes, size=None, dtype=None, device=None, requires_grad=False, layout=None,
                 pin_memory=False):
        from ._ops.tensor import creation
        return creation.ones(*sizes, size=size, dtype=self.dtype if dtype is None else dtype, device=self._own_device(device),
                             requires_grad=requires_grad)

    def new_full(self, size, fill_value, *, dtype=None, device=None, requires_grad=False, layout=None,
                 pin_memory=False):
        from ._ops.tensor import creation
        return creation.full(size, fill_value, dtype=self.dtype if dtype is None else dtype, device=self._own_device(device),
                             requires_grad=requires_grad)

    def _make_view(self, array, view_fn):
        """A tensor viewing ``array`` (a NumPy view of self's buffer), re-derivable by ``view_fn``."""
        out = Tensor._wrap(array)
        out._version_counter = self._version_counter
        if self._base is None:
            out._base, out._view_fn = self, view_fn
        else:
            parent_fn = self._view_fn
            out._base, out._view_fn = self._base, lambda base: view_fn(parent_fn(base))
        out._view_version = self._version_counter[0]
        return out

    # -- metadata ---------------------------------------------------------------------------
    @property
    def shape(self):
        return tuple.__new__(Size, self._data.shape)  # NumPy's shape is ints already: no check

    def size(self, dim=None):
        if dim is None:
            return tuple.__new__(Size, self._data.shape)
        if not self._data.ndim:  # unlike the ops' dim arguments, size() takes no dim of a 0-d tensor
            raise IndexError(f"Dimension specified as {dim} but tensor has no dimensions")
        from ._ops._helpers import normalize_dim
        return self._data.shape[normalize_dim(dim, self._data.ndim)]

    @property
    def dtype(self):
        return _dtype._BY_NP[self._data.dtype]

    @property
    def device(self):
        return META if type(self._data) is MetaArray else CPU

    @property
    def is_cpu(self):
        return type(self._data) is not MetaArray

    @property
    def is_meta(self):
        """A tensor of the meta device: shape, dtype and strides, no data (torsh/_meta.py)."""
        return type(self._data) is MetaArray

    # torsh tensors live in CPU memory, dense and unquantized: every other device/layout flag is False
    def cuda(self, device=None, non_blocking=False, memory_format=None):
        require_cpu("cuda")  # AssertionError "Torch not compiled with CUDA enabled", as a CPU-only PyTorch

    is_cuda = is_xpu = is_mps = is_mkldnn = is_vulkan = is_ipu = is_xla = is_mtia = is_maia = False
    is_sparse = is_sparse_csr = is_quantized = is_nested = False

    @property
    def layout(self):
        return _layouts.strided

    @property
    def ndim(self):
        return self._data.ndim

    def dim(self):
        return self._data.ndim

    ndimension = dim

    def numel(self):
        return self._data.size

    nelement = numel

    def element_size(self):
        return self._data.itemsize

    @property
    def itemsize(self):
        return self._data.itemsize

    @property
    def nbytes(self):
        return self._data.size * self._data.itemsize

    def is_pinned(self, device=None):
        return False  # no accelerator to pin host memory for

    def pin_memory(self, device=None):
        raise RuntimeError("Cannot access accelerator device when none is available.")

    def stride(self, dim=None):
        if type(self._data) is MetaArray:
            strides = _meta_strides(self._data)
        else:
            strides = tuple(s // self._data.itemsize for s in self._data.strides)
        if dim is None:
            return strides
        from ._ops._helpers import normalize_dim
        return strides[normalize_dim(dim, self._data.ndim)]

    def storage_offset(self):
        root = _storage_array(self._data)
        return (self._data.__array_interface__["data"][0] - root.__array_interface__["data"][0]) // self._data.itemsize

    def data_ptr(self):
        if type(self._data) is MetaArray:
            return 0  # no storage
        return self._data.__array_interface__["data"][0]

    def share_memory_(self):
        """Move the values into shared memory (a no-op when already there): forked or spawned processes that
        receive this tensor write the same memory (``torsh.multiprocessing``)."""
        from .multiprocessing import reductions
        if not reductions.is_shared(self._data):
            self._data = reductions.shared_copy(self._data)
        return self

    def is_shared(self):
        from .multiprocessing import reductions
        return reductions.is_shared(self._data)

    def untyped_storage(self):
        """The bytes of memory self views (shared with every view of it), as ``torch.UntypedStorage``."""
        return _storage.UntypedStorage._of(self._data)

    def storage(self):
        """The deprecated typed view of self's storage (``torch.TypedStorage`` of self's dtype)."""
        _storage.warn_typed_storage_removal()
        return self._typed_storage()

    def _typed_storage(self):
        return _storage.TypedStorage(wrap_storage=self.untyped_storage(), dtype=self.dtype, _internal=True)

    def is_contiguous(self, memory_format=None):
        if type(self._data) is MetaArray:
            return self._data.meta_strides is None
        return self._data.flags.c_contiguous

    def is_floating_point(self):
        return self.dtype.is_floating_point

    def is_complex(self):
        return self.dtype.is_complex

    def get_device(self):
        return -1

    def __len__(self):
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    # -- autograd state ---------------------------------------------------------------------
    @property
    def requires_grad(self):
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, flag):
        self.requires_grad_(flag)

    def requires_grad_(self, requires_grad=True):
        if self.grad_fn is not None and not requires_grad:
            raise RuntimeError(
                "you can only change requires_grad flags of leaf variables. If you want to use a computed "
                "variable in a subgraph that doesn't require differentiation use var_no_grad = var.detach().")
        if requires_grad and not (self.dtype.is_floating_point or self.dtype.is_complex):
            raise RuntimeError("only Tensors of floating point dtype can require gradients")
        self._requires_grad = bool(requires_grad)
        return self

    @property
    def grad_fn(self):
        base = self._base
        if base is not None and base._requires_grad and self._view_version != self._version_counter[0]:
            self._regenerate_view_grad_fn()
        return self._grad_fn

    def _regenerate_view_grad_fn(self):
        """The base changed in place since this view got its grad_fn: re-derive it from the base."""
        with grad_mode.enable_grad():
            fresh = self._view_fn(self._base)
        self._grad_fn, self._output_nr = fresh._grad_fn, fresh._output_nr
        self._requires_grad = fresh._requires_grad
        self._view_version = self._version_counter[0]

    @property
    def is_leaf(self):
        return not self._requires_grad or self.grad_fn is None

    @property
    def grad(self):
        return self._grad

    @grad.setter
    def grad(self, value):
        if value is not None:
            if not isinstance(value, Tensor):
                raise TypeError(f"assigned grad expected to be a Tensor or None but got grad of type {type(value).__name__}")
            if value._data.shape != self._data.shape:
                raise RuntimeError("assigned grad has data of a different size")
            if value.dtype is not self.dtype:
                raise RuntimeError("assigned grad has data of a different type")
        self._grad = value

    @property
    def output_nr(self):
        return self._output_nr

    @property
    def _version(self):
        """How many in-place writes this tensor's storage has seen (shared with its views)."""
        return self._version_counter[0]

    @property
    def retains_grad(self):
        return self._retains_grad

    def retain_grad(self):
        if not self._requires_grad:
            raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
        fn = self.grad_fn
        if fn is None or self._retains_grad:
            return
        self._retains_grad = True
        import weakref
        ref = weakref.ref(self)

        def retain(grad):
            t = ref()
            if t is None:
                return
            if t._grad is None:
                t._grad = grad if grad_mode.is_grad_enabled() else grad.detach().clone()
            else:
                t._grad = t._grad + grad
        if fn._retain_hooks is None:
            fn._retain_hooks = {}
        fn._retain_hooks[self._output_nr] = retain

    def register_hook(self, hook):
        """``hook(grad)`` runs when this tensor's gradient is computed; may return a replacement."""
        if not self._requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        from .autograd.graph import _RemovableHandle
        fn = self.grad_fn
        if fn is None:
            if self._backward_hooks is None:
                self._backward_hooks = {0: []}
            hooks = self._backward_hooks[0]
        else:
            if fn._pre_hooks is None:
                fn._pre_hooks = {}
            hooks = fn._pre_hooks.setdefault(self._output_nr, [])
        hooks.append(hook)
        return _RemovableHandle(hooks, hook)

    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
        _engine.backward(self, gradient, retain_graph, create_graph, inputs=inputs)  # no import per call (~1.3 us)

    def detach(self):
        """A tensor sharing this one's storage and version counter, outside the graph."""
        out = Tensor._wrap(self._data)
        out._version_counter = self._version_counter
        return out

    def detach_(self):
        if self._base is not None:
            raise RuntimeError("Can't detach views in-place. Use detach() instead.")
        self._grad_fn = None
        self._requires_grad = False
        return self

    @property
    def data(self):
        return self.detach()

    @data.setter
    def data(self, value):
        self._data = value._data

    # -- conversion -------------------------------------------------------------------------
    def numpy(self, *, force=False):
        if self._requires_grad and not force:
            raise RuntimeError("Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() instead.")
        if type(self._data) is MetaArray:
            raise TypeError("can't convert meta device type tensor to numpy. Use Tensor.cpu() to copy the tensor to "
                            "host memory first.")
        return self._data

    def __array__(self, dtype=None, copy=None):
        if type(self._data) is MetaArray:
            self.numpy(force=True)  # raises PyTorch's TypeError: no data
        if dtype is None:
            return self._data
        return self._data.astype(dtype, copy=bool(copy))

    def __dlpack__(self, *, stream=None, max_version=None, dl_device=None, copy=None):
        if self._requires_grad:
            raise RuntimeError("Can't export tensors that require gradient, use tensor.detach()")
        kwargs = {} if max_version is None else {"max_version": max_version}
        return self._data.__dlpack__(stream=stream, **kwargs)

    def __dlpack_device__(self):
        return self._data.__dlpack_device__()

    def item(self):
        if self._data.size != 1:
            raise RuntimeError(f"a Tensor with {self._data.size} elements cannot be converted to Scalar")
        if type(self._data) is MetaArray:
            _no_item()
        return self._data.reshape(()).item()

    def tolist(self):
        if type(self._data) is MetaArray:
            raise NotImplementedError("Cannot copy out of meta tensor; no data!")
        return self._data.tolist()

    def _python_scalar(self):
        """The one element for float()/int()/complex(), which raise ValueError where item() raises RuntimeError."""
        if self._data.size != 1:
            raise ValueError("only one element tensors can be converted to Python scalars")
        if type(self._data) is MetaArray:
            _no_item()
        return self._data.reshape(()).item()

    def __float__(self):
        if self._requires_grad and grad_mode.is_grad_enabled():
            _warn_scalar_of_grad_tensor()
        return float(self._python_scalar())

    def __int__(self):
        return int(self._python_scalar())

    def __bool__(self):
        if self._data.size != 1:
            raise RuntimeError("Boolean value of Tensor with more than one value is ambiguous")
        if type(self._data) is MetaArray:
            _no_item()
        return bool(self._data.reshape(()))

    def __index__(self):
        if self.dtype.is_floating_point or self.dtype.is_complex or self._data.size != 1:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        if type(self._data) is MetaArray:
            _no_item()
        return int(self._data.reshape(()))

    def __complex__(self):
        if self._requires_grad and grad_mode.is_grad_enabled():
            _warn_scalar_of_grad_tensor()
        return complex(self._python_scalar())

    def __hash__(self):
        return id(self)

    def __iter__(self):
        if self._data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return iter(self.unbind(0))

    def __repr__(self, *, tensor_contents=None):
        from ._tensor_str import tensor_repr
        return tensor_repr(self)

    def __format__(self, spec):
        if self._data.ndim == 0 and type(self._data) is not MetaArray:
            return self.item().__format__(spec)
        return object.__format__(self, spec)

    def __reduce_ex__(self, protocol):
        if type(self._data) is MetaArray:  # no data: shape, dtype and strides
            return (_rebuild_meta, (self._data.shape, self.dtype.name, _meta_strides(self._data), self._requires_grad))
        from .serialization import _rebuild_tensor_for_pickle
        return (_rebuild_tensor_for_pickle, (np.array(self._data, order="C"), self._requires_grad))

    def __deepcopy__(self, memo):
        if not self.is_leaf:
            raise RuntimeError("Only Tensors created explicitly by the user (graph leaves) support the deepcopy protocol at the moment.")
        out = type(self)._wrap(_copied(self._data), self._requires_grad) if type(self) is Tensor else self._deepcopy_subclass(memo)
        if self._grad is not None:
            out._grad = self._grad.__deepcopy__(memo)
        memo[id(self)] = out
        return out

    def _deepcopy_subclass(self, memo):
        out = object.__new__(type(self))
        Tensor.__init_from(out, _copied(self._data), self._requires_grad)
        out.__dict__.update({k: v for k, v in self.__dict__.items()})
        return out

    @staticmethod
    def __init_from(t, array, requires_grad):
        fresh = Tensor._wrap(array, requires_grad)
        for slot in Tensor.__slots__:
            if slot not in ("__weakref__", "__dict__"):
                setattr(t, slot, getattr(fresh, slot))

    # -- in-place helpers used by optimizers and the engine (no graph) ----------------------
    def _iadd_no_grad(self, other):
        np.add(self._data, other._data, out=self._data, casting="unsafe")
        self._version_counter[0] += 1


# every op result is born here: the classmethod bound once, so a call is one frame (~0.1 us a tensor)
wrap = Tensor._wrap
_storage.wrap = wrap


# -- legacy typed constructors: torch.FloatTensor, torch.LongTensor, ... ------------------------------
_CPP_TYPE = {"float32": "float", "float64": "double", "float16": "c10::Half", "bfloat16": "c10::BFloat16",
             "int64": "long int", "int32": "int", "int16": "short int", "int8": "signed char",
             "uint8": "unsigned char", "bool": "bool"}


def _options(d):
    return (f"TensorOptions(dtype={_CPP_TYPE[d.name]}, device=cpu, layout=Strided, requires_grad=false (default), "
            "pinned_memory=false (default), memory_format=(nullopt))")


class _LegacyTensorType(type):
    """The metaclass of torch.FloatTensor & co (PyTorch's ``torch.tensortype``): calling one builds a CPU tensor
    of its dtype, ``isinstance(x, torch.FloatTensor)`` asks whether x is a float32 tensor."""

    def __instancecheck__(cls, obj):
        return isinstance(obj, Tensor) and obj.dtype is cls.dtype

    def __subclasscheck__(cls, sub):
        return sub is cls

    def __repr__(cls):
        return f"<class 'torch.{cls.__name__}'>"

    def __call__(cls, *args, device=None):
        from ._ops.tensor import creation
        creation._check_device(device)
        if not args:
            return creation.empty(0, dtype=cls.dtype)
        if len(args) == 1 and isinstance(args[0], Tensor):
            return cls._alias(args[0])
        if len(args) == 1 and isinstance(args[0], (_storage.UntypedStorage, _storage.TypedStorage)):
            return creation.empty(0, dtype=cls.dtype).set_(args[0])  # a view of the storage, as PyTorch
        if len(args) == 1 and not isinstance(args[0], (int, np.integer, Size)):
            if isinstance(args[0], str):
                raise TypeError("new(): invalid data type 'str'")
            if isinstance(args[0], (float, complex, bool, np.generic)):  # a scalar is neither a size nor data
                kind = type(args[0])
                name = kind.__name__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__name__}"
                raise TypeError(f"new(): data must be a sequence (got {name})")
            return creation.tensor(args[0], dtype=cls.dtype)
        for pos, a in enumerate(args[0] if len(args) == 1 and isinstance(args[0], Size) else args, 1):
            if not isinstance(a, (int, np.integer)):
                raise TypeError(f"new(): argument 'size' failed to unpack the object at pos {pos} with error "
                                f"\"type must be tuple of ints,but got {type(a).__name__}\"")
        return creation.empty(*args, dtype=cls.dtype)

    def _alias(cls, source):
        if source.dtype is not cls.dtype:
            raise TypeError(f"expected {_options(cls.dtype)} (got {_options(source.dtype)})")
        return source.detach()


def _legacy_tensor_types():
    from ._tensor_str import _TYPE_NAMES
    return {name: _LegacyTensorType(name, (), {"dtype": _dtype._BY_NAME[dtype_name], "is_cuda": False,
                                               "is_sparse": False, "__module__": "torsh"})
            for dtype_name, name in _TYPE_NAMES.items() if dtype_name in _CPP_TYPE}


LEGACY_TENSOR_TYPES = _legacy_tensor_types()  # {"FloatTensor": <class torch.FloatTensor>, ...}
