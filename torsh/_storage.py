"""torch.UntypedStorage / torch.TypedStorage (and the legacy ``torch.FloatStorage`` & co) over NumPy memory.

A tensor's storage is the NumPy array that owns its memory (``_storage_array``); ``UntypedStorage`` views that
memory as bytes (no copy), so writes through a storage show in the tensors and ``untyped_storage().data_ptr()``
is the tensor's ``data_ptr()`` minus its storage offset, as in PyTorch. Each owner array has one storage object
(``t.untyped_storage() is t[1:].untyped_storage()``, as PyTorch's preserved Python objects).

Divergence: a tensor holds its array, not the storage, so ``resize_`` and ``share_memory_`` on a storage give
that storage new memory which the tensors already viewing the old one do not follow (PyTorch moves them too).
"""
import ctypes
import warnings
import weakref

import numpy as np

from . import _dtype
from ._meta_array import MetaArray, strides_of

__all__ = ["UntypedStorage", "TypedStorage", "is_storage", "LEGACY_STORAGE_TYPES"]

# set by _tensor (which imports this module): torsh.device("cpu") and the array -> Tensor wrapper
CPU = None
META = None
wrap = None
_BY_OWNER = {}  # id(owner array) -> weakref to its UntypedStorage
_MOVED = {}  # id(owner array) -> its storage, after resize_/share_memory_ gave that storage new memory


def storage_array(array):
    """The NumPy array that owns ``array``'s memory (a detached view's storage is its base's)."""
    while isinstance(array.base, np.ndarray):
        array = array.base
    return array


def _bytes_of(owner):
    """A 1-D uint8 view of all of ``owner``'s memory."""
    if owner.flags.c_contiguous or owner.flags.f_contiguous:
        return owner.reshape(-1, order="A").view(np.uint8)
    lo, hi = np.lib.array_utils.byte_bounds(owner)  # an owner of odd strides (a stride_tricks view)
    raw = (ctypes.c_uint8 * (hi - lo)).from_address(lo)
    out = np.frombuffer(raw, np.uint8)
    out.flags.writeable = owner.flags.writeable
    return out


# -- the deprecation warning PyTorch gives once per process for TypedStorage ------------------------------------------
_warned = [False]
_always_warn = [False]


def warn_typed_storage_removal(stacklevel=2):
    if _always_warn[0] or not _warned[0]:
        _warned[0] = True
        warnings.warn("TypedStorage is deprecated. It will be removed in the future and UntypedStorage will be the "
                      "only storage class. This should only matter to you if you are using storages directly.  To "
                      "access UntypedStorage directly, use tensor.untyped_storage() instead of tensor.storage()",
                      UserWarning, stacklevel=stacklevel + 1)


def _set_always_warn_typed_storage_removal(always_warn):
    _always_warn[0] = bool(always_warn)


def _reset_warn_typed_storage_removal():
    _warned[0] = False


# a quantized storage holds the integers of its quantized values (PyTorch's QInt8Storage & co)
_QUANTIZED_ELEMENTS = {"qint8": np.int8, "quint8": np.uint8, "qint32": np.int32, "quint4x2": np.uint8,
                       "quint2x4": np.uint8}


def _np(dtype):
    """The NumPy element type of a storage of ``dtype``."""
    quantized = _QUANTIZED_ELEMENTS.get(dtype.name)
    return np.dtype(quantized) if quantized is not None else dtype.np


def _check_device(device):
    if device is not None and str(device) not in ("cpu", "cpu:0"):
        if str(device).startswith("cuda"):
            raise AssertionError("Torch not compiled with CUDA enabled")
        raise RuntimeError(f"torsh runs on the CPU only: storages cannot be placed on the '{device}' device")


def _byte(value, op):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise RuntimeError(f"{op} expects int, but got {type(value).__name__}")
    return int(value) & 0xFF


def _check_count(count):
    if count < 0:  # PyTorch's allocator sees the size as unsigned
        raise RuntimeError("[enforce fail at alloc_cpu.cpp:98] ((ptrdiff_t)nbytes) >= 0. alloc_cpu() seems to have "
                           f"been called with negative number: {count % (1 << 64)}")


def _index(idx, size, kind):
    if isinstance(idx, bool) or not isinstance(idx, (int, np.integer)):
        raise RuntimeError(f"can't index a <class '{kind}'> with {type(idx)}")
    wrapped = int(idx) + size if idx < 0 else int(idx)
    if not 0 <= wrapped < size:
        raise IndexError(f"index {idx} out of range for storage of size {size}")
    return wrapped


def _info(storage, extra=""):
    cls = "torch.storage.UntypedStorage" if isinstance(storage, UntypedStorage) else "torch.storage.TypedStorage"
    if storage.device.type == "meta":
        return f"...\n[{cls}({extra}device=meta) of size {len(storage)}]"
    data = " " + "\n ".join(str(storage[i]) for i in range(storage.size()))
    return f"{data}\n[{cls}({extra}device=cpu) of size {len(storage)}]"


class StorageBase:
    """torch._C.StorageBase: UntypedStorage's base; not constructible itself."""

    def __new__(cls, *args, **kwargs):
        if cls is StorageBase:
            raise RuntimeError("Cannot directly construct StorageBase; subclass it and then construct that")
        return super().__new__(cls)


class UntypedStorage(StorageBase):
    """Bytes of memory: a tensor's (``Tensor.untyped_storage()``) or new ones (``UntypedStorage(n)``)."""

    is_sparse = False
    is_cuda = False
    is_hpu = False

    def __init__(self, *args, device=None):
        _check_device(device)
        if len(args) > 1:
            raise TypeError(f"UntypedStorage() takes at most 1 argument ({len(args)} given)")
        arg = args[0] if args else 0
        if isinstance(arg, (int, np.integer)) and not isinstance(arg, bool):
            _check_count(int(arg))
            array = np.zeros(int(arg), np.uint8)  # PyTorch leaves new memory uninitialised
        else:
            if not isinstance(arg, (list, tuple, range)) and not hasattr(arg, "__len__"):
                raise RuntimeError(f"torch.UntypedStorage(): Expected a sequence type, but got {type(arg).__name__}")
            values = list(arg)
            for v in values:
                if not isinstance(v, (int, np.integer)):
                    raise RuntimeError("torch.UntypedStorage(): tried to construct a storage from a sequence "
                                       f"({type(arg).__name__}), but one of the items was of type "
                                       f"{type(v).__name__} instead of int")
            array = np.array([int(v) & 0xFF for v in values], dtype=np.uint8)  # bytes wrap, as C's uint8_t
        self._set_memory(array, array, resizable=True)

    def _set_memory(self, data, owner, resizable):
        self._data, self._owner, self._resizable = data, owner, resizable

    @classmethod
    def _of(cls, array):
        """The storage of a tensor's array: one object per owner array."""
        if type(array) is MetaArray:
            return _MetaStorage(array)
        owner = storage_array(array)
        moved = _MOVED.get(id(owner))
        if moved is not None:
            return moved
        ref = _BY_OWNER.get(id(owner))
        found = ref() if ref is not None else None
        if found is not None and found._owner is owner:
            return found
        storage = cls.__new__(cls)
        # a tensor's own memory can grow (resize_); memory it borrows (a buffer, a mapped file) cannot, as PyTorch
        storage._set_memory(_bytes_of(owner), owner, resizable=owner.flags.owndata)
        key = id(owner)
        _BY_OWNER[key] = weakref.ref(storage, lambda r, key=key: _BY_OWNER.get(key) is r and _BY_OWNER.pop(key))
        return storage

    # -- facts
    @property
    def device(self):
        return CPU

    def nbytes(self):
        return self._data.size

    size = nbytes

    def __len__(self):
        return self._data.size

    def element_size(self):
        return 1

    def data_ptr(self):
        return self._data.__array_interface__["data"][0]

    def get_device(self):
        return None  # a CPU storage's device index, as PyTorch's

    def resizable(self):
        return self._resizable

    def is_pinned(self, device="cuda"):
        return False

    def pin_memory(self, device="cuda"):
        raise RuntimeError("Cannot access accelerator device when none is available.")

    def is_shared(self):
        return wrap(self._data).is_shared()

    def type(self, dtype=None, non_blocking=False):
        if dtype is None:
            return "torch.storage.UntypedStorage"
        raise TypeError("UntypedStorage.type(dtype) is not supported: view a tensor of that dtype instead")

    def untyped(self):
        return self

    def filename(self):
        return None

    # -- elements
    def __getitem__(self, idx):
        if isinstance(idx, slice):
            start, stop, step = idx.indices(self._data.size)
            if step != 1:
                raise RuntimeError(f"Trying to slice with a step of {step}, but only a step of 1 is supported")
            view = UntypedStorage.__new__(UntypedStorage)
            view._set_memory(self._data[start:max(start, stop)], self._owner, resizable=False)
            return view
        return int(self._data[self._byte_index(idx)])

    def _byte_index(self, idx):
        if isinstance(idx, bool) or not isinstance(idx, (int, np.integer)):
            raise TypeError(f"can't index a torch.UntypedStorage with {type(idx).__name__}")
        return _index(idx, self._data.size, "torch.storage.UntypedStorage")

    def __setitem__(self, idx, value):
        if not isinstance(idx, slice):
            if isinstance(idx, bool) or not isinstance(idx, (int, np.integer)):
                raise TypeError(f"can't index a torch.UntypedStorage with {type(idx).__name__}")
            if not -self._data.size <= idx < self._data.size:
                raise RuntimeError("out of bounds")
        self._data[idx] = _byte(value, "fill_") if not isinstance(value, (UntypedStorage, TypedStorage)) \
            else value.untyped()._data

    def __iter__(self):
        return iter(self.tolist())

    def tolist(self):
        return self._data.tolist()

    def copy_(self, source, non_blocking=None):
        if not isinstance(source, (UntypedStorage, TypedStorage)):
            raise TypeError(f"copy_(): argument 'src' (position 1) must be torch.Storage, not {type(source).__name__}")
        src = source.untyped()._data
        if src.size != self._data.size:
            raise RuntimeError(f"size does not match, self was {self._data.size} bytes but src was {src.size} bytes")
        self._data[...] = src
        return self

    def fill_(self, value):
        self._data.fill(_byte(value, "fill_"))
        return self

    def zero_(self):
        return self.fill_(0)

    def resize_(self, size):
        if not self._resizable:
            raise RuntimeError("Trying to resize storage that is not resizable")
        _check_count(int(size))
        grown = np.zeros(int(size), np.uint8)
        keep = min(grown.size, self._data.size)
        grown[:keep] = self._data[:keep]
        self._leave_owner()
        self._data = grown
        return self

    def clone(self):
        out = UntypedStorage(self._data.size)
        out._data[...] = self._data
        return out

    def cpu(self):
        return self

    def share_memory_(self):
        if not self.is_shared():
            self._leave_owner()
            self._data = wrap(self._data).share_memory_()._data  # Tensor.share_memory_ copies into a mapping
            self._resizable = False
        return self

    def new(self):
        return UntypedStorage(0)

    def _leave_owner(self):
        """Before self takes new memory: the tensors on the old memory keep answering self (until it is freed)."""
        owner, self._owner = self._owner, None
        ref = _BY_OWNER.get(id(owner)) if owner is not None else None
        if ref is not None and ref() is self:
            _MOVED[id(owner)] = self
            weakref.finalize(owner, _MOVED.pop, id(owner), None)

    def _typed_array(self, dtype):
        """The memory as a 1-D array of ``dtype`` (a view)."""
        if self._data.size % dtype.itemsize:
            raise RuntimeError(f"Storage size ({self._data.size}) is not divisible by the element size of {dtype} "
                               f"({dtype.itemsize})")
        return self._data.view(_np(dtype))

    def _to(self, dtype):
        return TypedStorage(self._data.astype(_np(dtype)), dtype=dtype, _internal=True)

    def __str__(self):
        return _info(self)

    __repr__ = __str__

    def __sizeof__(self):
        return super().__sizeof__() + self._data.size

    def __copy__(self):
        return self.clone()

    def __deepcopy__(self, memo):
        memo = memo.setdefault("torch", {})
        if self._owner_key() in memo:
            return memo[self._owner_key()]
        memo[self._owner_key()] = out = self.clone()
        return out

    def _owner_key(self):
        return self.data_ptr(), self._data.size

    def __reduce__(self):
        return _rebuild_storage, (self._data.tobytes(), None)


def _rebuild_storage(raw, dtype_name):
    """Unpickle target of a storage pickled on its own (plain pickle, e.g. between processes)."""
    array = np.frombuffer(bytearray(raw), np.uint8)
    if dtype_name is None:
        out = UntypedStorage.__new__(UntypedStorage)
        out._set_memory(array, array, resizable=True)
        return out
    dtype = _dtype._BY_NAME[dtype_name]
    return TypedStorage(array.view(_np(dtype)), dtype=dtype, _internal=True)


class _Conversions:
    """storage.float(), .double(), ... : a copy of the elements in that dtype (as PyTorch's _StorageBase)."""

    def double(self):
        return self._to(_dtype.float64)

    def float(self):
        return self._to(_dtype.float32)

    def half(self):
        return self._to(_dtype.float16)

    def bfloat16(self):
        return self._to(_dtype.bfloat16)

    def long(self):
        return self._to(_dtype.int64)

    def int(self):
        return self._to(_dtype.int32)

    def short(self):
        return self._to(_dtype.int16)

    def char(self):
        return self._to(_dtype.int8)

    def byte(self):
        return self._to(_dtype.uint8)

    def bool(self):
        return self._to(_dtype.bool)

    def complex_double(self):
        return self._to(_dtype.complex128)

    def complex_float(self):
        return self._to(_dtype.complex64)


for _name, _fn in vars(_Conversions).items():
    if not _name.startswith("_"):
        setattr(UntypedStorage, _name, _fn)


class TypedStorage(_Conversions):
    """An UntypedStorage read as elements of one dtype (``Tensor.storage()``, ``torch.FloatStorage(n)``)."""

    is_sparse = False
    is_cuda = False

    def __init__(self, *args, wrap_storage=None, dtype=None, device=None, _internal=False):
        if not _internal:
            warn_typed_storage_removal()
        _check_device(device)
        self.dtype = _dtype.get_default_dtype() if dtype is None else dtype
        if wrap_storage is not None:
            if args:
                raise RuntimeError("TypedStorage.__init__ received an invalid combination of arguments. "
                                   "No positional arguments should be given when using 'wrap_storage'")
            if not isinstance(wrap_storage, UntypedStorage):
                raise TypeError(f"expected 'wrap_storage' to be an UntypedStorage, but got {type(wrap_storage)}")
            self._untyped_storage = wrap_storage
            return
        if len(args) > 1:
            raise RuntimeError("TypedStorage.__init__ received an invalid combination of arguments: too many "
                               "positional arguments")
        arg = args[0] if args else 0
        if isinstance(arg, np.ndarray) and _internal:  # a flat array to wrap (torsh's own callers)
            array = arg
        elif isinstance(arg, (int, np.integer)) and not isinstance(arg, bool):
            _check_count(int(arg) * self.dtype.itemsize)
            array = np.zeros(int(arg), _np(self.dtype))
        elif isinstance(arg, (list, tuple, range)) or (hasattr(arg, "__len__") and not isinstance(arg, (str, bytes))):
            array = _elements(list(arg), self.dtype)
        else:
            raise TypeError("TypedStorage.__init__ received an invalid combination of arguments. Expected one of:\n"
                            " * (*, torch.device device, torch.dtype dtype)\n"
                            " * (int size, *, torch.device device, torch.dtype dtype)\n"
                            " * (Sequence data, *, torch.device device, torch.dtype dtype)\n"
                            " * (*, UntypedStorage wrap_storage, torch.dtype dtype)\n"
                            f"Argument type not recognized: {type(arg)}")
        untyped = UntypedStorage.__new__(UntypedStorage)
        untyped._set_memory(array.reshape(-1).view(np.uint8), array, resizable=array.flags.owndata)
        self._untyped_storage = untyped

    def _typed(self):
        return self._untyped_storage._typed_array(self.dtype)

    @property
    def device(self):
        return self._untyped_storage.device

    @property
    def filename(self):
        return None

    def size(self):
        return self._untyped_storage.nbytes() // self.dtype.itemsize

    _size = size

    def __len__(self):
        return self.size()

    def nbytes(self):
        return self._untyped_storage.nbytes()

    def element_size(self):
        return self.dtype.itemsize

    def data_ptr(self):
        return self._untyped_storage.data_ptr()

    def get_device(self):
        return None  # a CPU storage's device index, as PyTorch's

    def untyped(self):
        return self._untyped_storage

    def pickle_storage_type(self):
        return LEGACY_STORAGE_TYPES[self.dtype].__name__

    def type(self, dtype=None, non_blocking=False):
        if dtype is None:
            return f"torch.{self.pickle_storage_type()}"
        raise TypeError("TypedStorage.type(dtype) is not supported: use .to a dtype's storage method (.float(), ...)")

    def is_pinned(self, device="cuda"):
        return False

    def pin_memory(self, device="cuda"):
        raise RuntimeError("Cannot access accelerator device when none is available.")

    def is_shared(self):
        return self._untyped_storage.is_shared()

    def share_memory_(self):
        self._untyped_storage.share_memory_()
        return self

    def resizable(self):
        return self._untyped_storage.resizable()

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            raise RuntimeError("slices are only supported in UntypedStorage.__getitem__")
        value = self._typed()[_index(idx, self.size(), "torch.storage.TypedStorage")]
        return _python_scalar(value, self.dtype)

    def __setitem__(self, idx, value):
        if not isinstance(idx, (int, np.integer, slice)) or isinstance(idx, bool):
            raise RuntimeError(f"can't index a <class 'torch.storage.TypedStorage'> with {type(idx)}")
        if not isinstance(idx, slice):
            size = self.size()
            if not -size <= idx < size:
                raise IndexError(f"index {idx} is out of bounds for dimension 0 with size {size}")
        self._typed()[idx] = self._element(value)

    def _element(self, value):
        if isinstance(value, (str, bytes)) or value is None:
            legacy = LEGACY_STORAGE_TYPES[self.dtype].__name__.replace("Storage", "Tensor")
            raise TypeError(f"can't assign a {type(value).__name__} to a torch.{legacy}")
        return getattr(value, "_data", value)

    def __iter__(self):
        return iter(self.tolist())

    def tolist(self):
        return [self[i] for i in range(self.size())]

    def copy_(self, source, non_blocking=None):
        if isinstance(source, TypedStorage):
            source = source._untyped_storage
        self._untyped_storage.copy_(source, non_blocking)
        return self

    def fill_(self, value):
        self._typed()[...] = self._element(value)
        return self

    def zero_(self):
        return self.fill_(0)

    def resize_(self, size):
        _check_count(int(size) * self.dtype.itemsize)
        self._untyped_storage.resize_(int(size) * self.dtype.itemsize)  # returns None, as PyTorch's

    def clone(self):
        return TypedStorage(wrap_storage=self._untyped_storage.clone(), dtype=self.dtype, _internal=True)

    def cpu(self):
        return self

    def new(self):
        return TypedStorage(0, dtype=self.dtype, _internal=True)

    def _to(self, dtype):
        if dtype is self.dtype:
            return self
        return TypedStorage(self._typed().astype(_np(dtype)), dtype=dtype, _internal=True)

    def _new_wrapped_storage(self, untyped_storage):
        return TypedStorage(wrap_storage=untyped_storage, dtype=self.dtype, _internal=True)

    def __str__(self):
        return _info(self, f"dtype=torch.{self.dtype.name}, ")

    __repr__ = __str__

    def __copy__(self):
        return self.clone()

    def __deepcopy__(self, memo):
        return self._new_wrapped_storage(self._untyped_storage.__deepcopy__(memo))

    def __sizeof__(self):
        return super().__sizeof__() + self.nbytes()

    def __reduce__(self):
        return _rebuild_storage, (self._untyped_storage._data.tobytes(), self.dtype.name)


def _elements(values, dtype):
    try:
        return np.array(values, dtype=_np(dtype))
    except (TypeError, ValueError):
        bad = next((v for v in values if isinstance(v, (str, bytes)) or v is None), None)
        raise TypeError(f"must be real number, not {type(bad).__name__}") from None


def _python_scalar(value, dtype):
    if dtype.is_complex:
        return complex(value)
    if dtype.is_floating_point:
        return float(value)
    if dtype is _dtype.bool:
        return bool(value)
    return int(value)


class _LegacyStorageMeta(type):
    """torch.FloatStorage & co: constructing one builds a TypedStorage of the class's dtype, and a TypedStorage
    of that dtype is an instance of it (PyTorch's _LegacyStorageMeta)."""

    def __instancecheck__(cls, instance):
        return isinstance(instance, TypedStorage) and instance.dtype is cls.dtype

    def __repr__(cls):
        return f"<class 'torch.{cls.__name__}'>"


class _LegacyStorage(TypedStorage, metaclass=_LegacyStorageMeta):
    def __new__(cls, *args, wrap_storage=None, device=None):
        warn_typed_storage_removal()
        return TypedStorage(*args, wrap_storage=wrap_storage, dtype=cls.dtype, device=device, _internal=True)

    @classmethod
    def _new_shared(cls, size):
        return cls(size).share_memory_()


_LEGACY_NAMES = {
    "float64": "DoubleStorage", "float32": "FloatStorage", "float16": "HalfStorage", "bfloat16": "BFloat16Storage",
    "int64": "LongStorage", "int32": "IntStorage", "int16": "ShortStorage", "int8": "CharStorage",
    "uint8": "ByteStorage", "bool": "BoolStorage", "complex128": "ComplexDoubleStorage",
    "complex64": "ComplexFloatStorage", "qint8": "QInt8Storage", "quint8": "QUInt8Storage", "qint32": "QInt32Storage",
    "quint4x2": "QUInt4x2Storage", "quint2x4": "QUInt2x4Storage",
}
# dtype -> torch.<Name>Storage
LEGACY_STORAGE_TYPES = {_dtype._BY_NAME[name]: _LegacyStorageMeta(cls, (_LegacyStorage,),
                                                                   {"dtype": _dtype._BY_NAME[name],
                                                                    "__module__": "torsh"})
                        for name, cls in _LEGACY_NAMES.items()}


def is_storage(obj):
    """True for a storage object (untyped or typed), as PyTorch."""
    return type(obj) in (UntypedStorage, TypedStorage) or isinstance(obj, (UntypedStorage, TypedStorage))


class _MetaStorage(UntypedStorage):
    """The storage of a meta tensor: a size in bytes, no data (PyTorch's meta storages)."""

    def __init__(self, array):
        strides = strides_of(array)
        extent = 1 + sum((n - 1) * st for n, st in zip(array.shape, strides)) if all(array.shape) else 0
        self._data, self._owner, self._resizable = None, None, False
        self._nbytes = extent * array.itemsize

    @property
    def device(self):
        return META

    def nbytes(self):
        return self._nbytes

    size = nbytes

    def data_ptr(self):
        return 0

    def _no_data(self, *args, **kwargs):
        raise NotImplementedError("Not available for 'meta' device type")

    __getitem__ = __setitem__ = tolist = fill_ = copy_ = clone = resize_ = share_memory_ = _no_data
    is_shared = _typed_array = __reduce__ = _no_data

    def __len__(self):
        return self._nbytes

