"""torsh.save / torsh.load in PyTorch's zip checkpoint format, and tensor pickling between processes.

The file layout is PyTorch's (torch/serialization.py), so checkpoints move both ways:

    <archive>/data.pkl            pickle (protocol 2) of the object; every tensor is
                                  torch._utils._rebuild_tensor_v2(storage, offset, size, stride,
                                  requires_grad, OrderedDict()), its storage a persistent id
                                  ('storage', torch.<Type>Storage, key, 'cpu', numel)
    <archive>/data/<key>          the storage's raw little-endian bytes (64-byte aligned)
    <archive>/byteorder, version, .format_version, .storage_alignment, .data/serialization_id

Tensors that view the same NumPy memory are written as one storage with their own offset and
strides, so shared storages and views survive the round trip. Loading is restricted by default
(``weights_only=True``, ``_weights_only_unpickler.py``): only tensors, containers, primitive types and
the globals of ``add_safe_globals`` are built, BUILD sets state only on objects the load created;
any other global in the pickle (os.system, a class, ...) is refused before anything runs. Saving
to a path writes a temporary file beside it and renames it over the target once complete, so a
failed save (full disk, unpicklable object) leaves the previous checkpoint intact.
"""
import _compat_pickle
import collections
import contextlib
import functools
import io
import math
import os
import pickle
import re
import struct
import tempfile
import warnings
import zipfile
import zlib

import numpy as np

from . import _dtype, _weights_only_unpickler
from ._storage import TypedStorage, UntypedStorage
from ._tensor import Size, Tensor, device
from ._layouts import layout, sparse_coo, sparse_csr, strided
from .sparse._tensor import SparseTensor, rebuild_sparse_tensor, sparse_parts
from ._quantized import QuantizedTensor, qscheme, rebuild_qtensor

__all__ = ["save", "load", "DEFAULT_PROTOCOL", "add_safe_globals", "get_safe_globals", "clear_safe_globals",
           "safe_globals", "get_unsafe_globals_in_checkpoint"]

DEFAULT_PROTOCOL = 2
_STORAGE_ALIGNMENT = 64
_FORMAT_VERSION = b"3\n"


def _rebuild_tensor_for_pickle(array, requires_grad):
    """Unpickle target of Tensor.__reduce_ex__ (plain pickle, e.g. DataLoader workers)."""
    t = Tensor._wrap(array)
    t._requires_grad = requires_grad
    return t


# ----------------------------------------------------------------------------- name tables

# storage class name in the checkpoint <-> torsh dtype
_STORAGE_NAME_OF = {
    "float32": "FloatStorage", "float64": "DoubleStorage", "float16": "HalfStorage",
    "bfloat16": "BFloat16Storage", "int64": "LongStorage", "int32": "IntStorage", "int16": "ShortStorage",
    "int8": "CharStorage", "uint8": "ByteStorage", "bool": "BoolStorage",
    "complex64": "ComplexFloatStorage", "complex128": "ComplexDoubleStorage",
}
_DTYPE_OF_STORAGE = {v: _dtype._BY_NAME[k] for k, v in _STORAGE_NAME_OF.items()}


class _StorageType:
    """What a ``torch.<Type>Storage`` global unpickles to: just the element dtype."""

    def __init__(self, dtype):
        self.dtype = dtype


class _Global:
    """A ``module.name`` global written into the pickle by name (PyTorch need not be importable)."""

    def __init__(self, module, name):
        self.module, self.name = module, name

    def __call__(self, *args):  # pickle requires reduce functions to be callable
        raise TypeError(f"{self.module}.{self.name} is a name for pickling only")


_REBUILD_TENSOR_V2 = _Global("torch._utils", "_rebuild_tensor_v2")
_REBUILD_PARAMETER = _Global("torch._utils", "_rebuild_parameter")
_ORDERED_DICT = _Global("collections", "OrderedDict")
_TORCH_SIZE = _Global("torch", "Size")
_REBUILD_SPARSE = _Global("torch._utils", "_rebuild_sparse_tensor")
_GET_LAYOUT = _Global("torch.serialization", "_get_layout")
_TORCH_DEVICE = _Global("torch", "device")
# quantized tensors' storages (their integers: the storage's element type for torsh)
_QSTORAGE_NAME_OF = {"qint8": "QInt8Storage", "quint8": "QUInt8Storage", "qint32": "QInt32Storage"}
_QSTORAGE_ELEMENT = {"QInt8Storage": _dtype.int8, "QUInt8Storage": _dtype.uint8, "QInt32Storage": _dtype.int32}
_STORAGE_GLOBALS = {name: _Global("torch", name) for name in (*_DTYPE_OF_STORAGE, *_QSTORAGE_ELEMENT)}
_STORAGE_GLOBALS["UntypedStorage"] = _Global("torch.storage", "UntypedStorage")
_REBUILD_QTENSOR = _Global("torch._utils", "_rebuild_qtensor")
_DTYPE_GLOBALS = {name: _Global("torch", name) for name in _dtype._BY_NAME}


# ----------------------------------------------------------------------------- saving

class _StorageRef:
    """A storage to be written as ``data/<key>``; the pickle refers to it by persistent id."""

    __slots__ = ("key", "array", "name")

    def __init__(self, key, array, name=None):
        self.key, self.array, self.name = key, array, name  # name: a quantized storage's class


def _memory_owner(array):
    """The outermost ndarray whose memory ``array`` views (through as_strided's DummyArray too)."""
    owner = array
    while True:
        base = owner.base
        if isinstance(base, np.ndarray):
            owner = base
        elif isinstance(getattr(base, "base", None), np.ndarray) and hasattr(base, "__array_interface__"):
            owner = base.base  # np.lib.stride_tricks.as_strided wraps its source in a DummyArray
        else:
            return owner


def _address(array):
    return array.__array_interface__["data"][0]


class _Pickler(pickle._Pickler):
    """Writes torsh objects under PyTorch's global names, tensors' storages as persistent ids."""

    dispatch = dict(pickle._Pickler.dispatch)

    def __init__(self, file, protocol):
        super().__init__(file, protocol)
        self.storages = {}   # key -> _StorageRef, in first-seen order
        self._by_memory = {}  # (id(owner), dtype name) -> (_StorageRef, lowest address, owner)

    def _save_global_by_name(self, obj):
        self.write(pickle.GLOBAL + f"{obj.module}\n{obj.name}\n".encode("utf-8"))
        self.memoize(obj)

    dispatch[_Global] = _save_global_by_name

    def persistent_id(self, obj):
        if isinstance(obj, (UntypedStorage, TypedStorage)):  # a storage saved on its own (or beside its tensors)
            obj = self._saved_storage(obj)
        if isinstance(obj, _StorageRef):
            name = obj.name or _STORAGE_NAME_OF[_dtype._BY_NP[obj.array.dtype].name]
            return ("storage", _STORAGE_GLOBALS[name], obj.key, "cpu", obj.array.size)
        return None

    def _saved_storage(self, storage):
        """The record of a storage object: its tensors' record when it is all of their memory."""
        untyped = isinstance(storage, UntypedStorage)
        array = storage._data if untyped else storage._typed()
        ref, offset, _ = self._storage_of(array)
        if offset or ref.array.size != array.size:  # a window of larger memory: a record of its own
            ref = _StorageRef(str(len(self.storages)), np.ascontiguousarray(array))
            self.storages[ref.key] = ref
        if untyped and ref.name is None and ref.array.dtype == np.uint8:
            ref.name = "UntypedStorage"
        return ref

    def _storage_of(self, array):
        """(storage ref, element offset, element strides) for a tensor's array, sharing memory when possible."""
        itemsize = array.itemsize
        owner = _memory_owner(array)
        lo, hi = np.lib.array_utils.byte_bounds(owner)
        shareable = (_address(owner) == lo and (owner.flags.c_contiguous or owner.flags.f_contiguous)
                     and (hi - lo) % itemsize == 0 and (_address(array) - lo) % itemsize == 0
                     and all(s % itemsize == 0 and s >= 0 for s in array.strides))
        if not shareable:  # odd memory layouts: write this tensor's own contiguous copy
            flat = np.ascontiguousarray(array).reshape(-1)
            ref = _StorageRef(str(len(self.storages)), flat)
            self.storages[ref.key] = ref
            strides = tuple(int(s) for s in np.ascontiguousarray(array).strides)
            return ref, 0, tuple(s // itemsize for s in strides) if array.size else (1,) * array.ndim
        mem_key = (id(owner), array.dtype.str)
        entry = self._by_memory.get(mem_key)
        if entry is None:
            flat = owner.reshape(-1, order="A").view(np.uint8).view(array.dtype)
            ref = _StorageRef(str(len(self.storages)), flat)
            self.storages[ref.key] = ref
            entry = self._by_memory[mem_key] = (ref, lo, owner)  # owner kept alive so ids stay unique
        ref, lo, _ = entry
        return ref, (_address(array) - lo) // itemsize, tuple(s // itemsize for s in array.strides)

    def reducer_override(self, obj):
        if isinstance(obj, SparseTensor):  # its parts, as PyTorch saves a sparse tensor
            return (_REBUILD_SPARSE, (obj.layout, sparse_parts(obj)))
        if isinstance(obj, QuantizedTensor):  # its integers in a Q*Storage and its quantizer (_rebuild_qtensor)
            ints = np.ascontiguousarray(obj._int)
            ref = _StorageRef(str(len(self.storages)), ints.reshape(-1), _QSTORAGE_NAME_OF[obj.dtype.name])
            self.storages[ref.key] = ref
            strides = tuple(s // ints.itemsize for s in ints.strides) if ints.size else (1,) * ints.ndim
            return (_REBUILD_QTENSOR, (ref, 0, tuple(ints.shape), strides, obj._quantizer_params(), False,
                                       collections.OrderedDict()))
        if isinstance(obj, layout):
            return (_GET_LAYOUT, (f"torch.{obj._name}",))
        if isinstance(obj, Tensor):
            array = obj._data
            ref, offset, strides = self._storage_of(array)
            args = (ref, int(offset), tuple(array.shape), tuple(int(s) for s in strides), bool(obj._requires_grad),
                    collections.OrderedDict())
            if _is_parameter(obj):
                plain = Tensor._wrap(array)
                return (_REBUILD_PARAMETER, (plain, bool(obj._requires_grad), collections.OrderedDict()))
            return (_REBUILD_TENSOR_V2, args)
        if isinstance(obj, Size):
            return (_TORCH_SIZE, (tuple(obj),))
        if isinstance(obj, device):
            return (_TORCH_DEVICE, (str(obj),))
        return NotImplemented

    def save(self, obj, save_persistent_id=True):
        if isinstance(obj, _dtype.dtype):  # a dtype is the global torch.<name> itself
            return self.save(_DTYPE_GLOBALS[obj.name])
        if isinstance(obj, qscheme):  # so is a qscheme
            return self.save(_Global("torch", obj.name))
        return super().save(obj, save_persistent_id)


def _is_parameter(t):
    return type(t).__name__ == "Parameter" and type(t).__module__.startswith("torsh.nn")


def _padded_zipinfo(name, header_offset):
    """A stored ZipInfo whose data starts on a 64-byte boundary (padding in an extra field, as PyTorch)."""
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_STORED
    start = header_offset + 30 + len(name.encode("utf-8"))
    pad = (-(start + 4)) % _STORAGE_ALIGNMENT
    info.extra = struct.pack("<HH", 0x4246, pad) + b"Z" * pad  # "FB" padding record
    return info


def _archive_name(f):
    if isinstance(f, (str, os.PathLike)):
        base = os.path.basename(os.fspath(f))
        return os.path.splitext(base)[0] or "archive"
    return "archive"


def save(obj, f, pickle_module=pickle, pickle_protocol=DEFAULT_PROTOCOL, _use_new_zipfile_serialization=True,
         _disable_byteorder_record=False):
    """Save ``obj`` to ``f`` (a path or a writable binary file) in PyTorch's zip checkpoint format.

    ``obj`` is pickled before any file is touched; a path is written through a temporary file in
    the same directory (flushed, fsynced, then renamed over ``f``), so an error leaves ``f`` as it was.
    ``_use_new_zipfile_serialization=False`` (PyTorch's pre-1.6 format) is accepted and writes the zip format
    too: every torch.load since 1.6 reads it, and torsh has no writer for the legacy one.
    """
    buffer = io.BytesIO()
    pickler = _Pickler(buffer, pickle_protocol)
    pickler.dump(obj)
    prefix = _archive_name(f)
    records = [("data.pkl", buffer.getvalue()), (".format_version", b"1"),
               (".storage_alignment", str(_STORAGE_ALIGNMENT).encode()), ("byteorder", b"little")]
    records += [(f"data/{key}", ref.array) for key, ref in pickler.storages.items()]
    records += [("version", _FORMAT_VERSION)]
    if isinstance(f, (str, os.PathLike)):
        _atomic_write(f, lambda out: _write_zip(out, prefix, records))
    else:
        _write_zip(f, prefix, records)


def _atomic_write(path, write):
    """Run ``write(file)`` on a temporary file beside ``path``, then rename it over ``path``.

    On any error the temporary file is removed and ``path`` keeps its previous content. The new
    file gets the permissions ``open(path, "wb")`` would have given it.
    """
    parent = os.path.dirname(os.fspath(path))
    if parent and not os.path.isdir(parent):
        raise RuntimeError(f"Parent directory {parent} does not exist.")  # torch.save's error
    path = os.path.realpath(os.fspath(path))  # through a symlink: replace its target, not the link
    directory, name = os.path.split(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as out:
            write(out)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, _new_file_mode(path))
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_directory(directory)


def _new_file_mode(path):
    try:
        return os.stat(path).st_mode & 0o7777
    except FileNotFoundError:
        return 0o666 & ~_current_umask()


def _current_umask():
    try:  # read without changing it: os.umask() sets it process-wide, racing other threads
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    umask = os.umask(0o022)
    os.umask(umask)
    return umask


def _fsync_directory(directory):
    """Make the rename durable; best effort (some file systems cannot fsync a directory)."""
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _write_zip(out, prefix, records):
    target = out
    if not (hasattr(out, "seekable") and out.seekable() and hasattr(out, "tell")):
        target = io.BytesIO()
    base = target.tell()
    with zipfile.ZipFile(target, "w", zipfile.ZIP_STORED) as zf:
        for name, payload in records:
            full = f"{prefix}/{name}"
            info = _padded_zipinfo(full, target.tell() - base)
            data = payload if isinstance(payload, bytes) else np.ascontiguousarray(payload).view(np.uint8).data
            zf.writestr(info, data)
    if target is not out:
        out.write(target.getvalue())


# ----------------------------------------------------------------------------- loading

class _CorruptCheckpointError(RuntimeError, pickle.UnpicklingError):
    """A tensor whose geometry leaves its storage: RuntimeError as in PyTorch (also an UnpicklingError)."""


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False, backward_hooks=None,
                       metadata=None):
    if not isinstance(storage, _LoadedStorage):
        raise pickle.UnpicklingError("corrupted checkpoint: a tensor's storage is not a storage record")
    array = _strided_view(storage.array, storage_offset, size, stride)
    t = Tensor._wrap(array)
    t._version_counter = storage.version_counter  # tensors of one storage share memory, so one counter
    if requires_grad:
        t.requires_grad_(True)
    return t


def _checked_storage(storage):
    if not isinstance(storage, _LoadedStorage):
        raise pickle.UnpicklingError("corrupted checkpoint: a tensor's storage is not a storage record")
    return storage.array


def _rebuild_tensor(storage, storage_offset, size, stride):
    return _rebuild_tensor_v2(storage, storage_offset, size, stride)


def _rebuild_tensor_v3(storage, storage_offset, size, stride, requires_grad, backward_hooks, dtype,
                       metadata=None):
    if not isinstance(dtype, _dtype.dtype):
        raise pickle.UnpicklingError("corrupted checkpoint: _rebuild_tensor_v3 without a dtype")
    if isinstance(storage, _LoadedStorage) and storage.array.dtype != dtype.np:
        if storage.array.nbytes % dtype.itemsize:
            raise pickle.UnpicklingError("corrupted checkpoint: storage size does not fit the tensor dtype")
        storage = _LoadedStorage(storage.array.view(np.uint8).view(dtype.np), storage.version_counter)
    return _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks, metadata)


class _LoadedStorage(TypedStorage):
    """One ``data/<key>`` record as a flat array, and the version counter its tensors share; a storage loaded on
    its own is this TypedStorage over the array, as PyTorch loads one."""

    def __init__(self, array, version_counter=None):
        super().__init__(array.reshape(-1), dtype=_dtype._BY_NP[array.dtype.newbyteorder("=")], _internal=True)
        self.array = array
        self.version_counter = [0] if version_counter is None else version_counter


def _check_int_tuple(value, what):
    if not isinstance(value, (tuple, list)) or not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        raise pickle.UnpicklingError(f"corrupted checkpoint: tensor {what} is not a tuple of ints: {value!r}")
    return tuple(value)


def _check_geometry(offset, size, stride):
    """PyTorch's set_ checks on a loaded tensor's offset, size and stride, with its messages (RuntimeError)."""
    if not isinstance(offset, int) or isinstance(offset, bool):
        raise pickle.UnpicklingError(f"corrupted checkpoint: tensor storage offset is not an int: {offset!r}")
    if len(size) != len(stride):
        raise _CorruptCheckpointError(f"unequal size length ({len(size)}) and stride length ({len(stride)})")
    if offset < 0:
        raise _CorruptCheckpointError(f"Tensor: invalid storage offset {offset}")
    if any(n < 0 for n in size):  # PyTorch's numel check; torsh also refuses a negative size beside a zero one
        raise _CorruptCheckpointError("numel: integer multiplication overflow")
    if math.prod(size) and any(s < 0 for n, s in zip(size, stride) if n > 1):
        raise _CorruptCheckpointError(f"Storage size calculation overflowed with sizes={list(size)} and "
                                      f"strides={list(stride)}")


def _strided_view(storage, offset, size, stride):
    """The array (offset, size, stride) describes inside ``storage``; bounds-checked, never out of range."""
    size = _check_int_tuple(size, "size")
    stride = _check_int_tuple(stride, "stride")
    _check_geometry(offset, size, stride)
    if math.prod(size) == 0:
        return np.empty(size, dtype=storage.dtype)
    last = offset + sum((n - 1) * s for n, s in zip(size, stride))
    if math.prod(size) >= 2 ** 63 or (last + 1) * storage.itemsize >= 2 ** 63:
        raise _CorruptCheckpointError(f"Storage size calculation overflowed with sizes={list(size)} and "
                                      f"strides={list(stride)}")
    if last >= storage.size:  # PyTorch's set_ would have to grow the storage
        raise _CorruptCheckpointError(
            f"Trying to resize storage that is not resizable: tensor of size {list(size)} with stride "
            f"{list(stride)} at offset {offset} needs {last + 1} elements but its storage has {storage.size}")
    item = storage.itemsize
    return np.lib.stride_tricks.as_strided(storage[offset:], shape=size, strides=tuple(s * item for s in stride),
                                           writeable=True)


def _parameter_class():
    from .nn.parameter import Parameter
    return Parameter


def _rebuild_parameter(data, requires_grad, backward_hooks, state=None):
    if not isinstance(data, Tensor):
        raise pickle.UnpicklingError("corrupted checkpoint: a parameter's data is not a tensor")
    return _set_obj_state(_parameter_class()(data, bool(requires_grad)), state)


def _set_obj_state(obj, state):
    """torch._utils._set_obj_state: the Python attributes saved with a tensor, set on this new tensor
    only; ``state`` is a dict or a (dict, slots dict) pair. Special (dunder) names are not set."""
    dict_state, slots_state = state if isinstance(state, tuple) and len(state) == 2 else (state, None)
    for part in (dict_state, slots_state):
        for name, value in (part.items() if isinstance(part, dict) else ()):
            if isinstance(name, str) and not name.startswith("__"):
                setattr(obj, name, value)
    return obj


def _rebuild_from_type_v2(func, new_type, args, state):
    if not any(func is f for f in (_rebuild_tensor, _rebuild_tensor_v2, _rebuild_tensor_v3, _rebuild_parameter)):
        raise pickle.UnpicklingError("corrupted checkpoint: unexpected tensor rebuild function")
    if not isinstance(args, tuple):
        raise pickle.UnpicklingError("corrupted checkpoint: tensor rebuild arguments are not a tuple")
    out = func(*args)
    if new_type is _parameter_class() and not isinstance(out, new_type):
        out = new_type(out, out.requires_grad)
    return _set_obj_state(out, state)


def _size(*args):
    return Size(*args)


def _get_layout(name):
    """torch.serialization._get_layout: the strided layout and the sparse ones torsh builds (COO, CSR)."""
    found = {"torch.strided": strided, "torch.sparse_coo": sparse_coo, "torch.sparse_csr": sparse_csr}.get(name)
    if found is None:
        raise RuntimeError(f"torsh supports only the strided, sparse_coo and sparse_csr layouts, not {name}")
    return found


def _not_in_torsh(full_name):
    """Stand-in for a global PyTorch's allowlist accepts but torsh cannot build (sparse, quantized, ...)."""
    def refuse(*args, **kwargs):
        raise pickle.UnpicklingError(f"{full_name} is a safe global, but torsh cannot build it (CPU strided "
                                     f"tensors of {len(_dtype.ALL_DTYPES)} dtypes only)")
    refuse.__qualname__ = refuse.__name__ = full_name.rpartition(".")[2]
    return refuse


# globals of PyTorch 2.13's default allowlist that torsh recognises but cannot build
_UNBUILDABLE_TORCH_GLOBALS = (
    ["torch._utils." + f for f in ("_rebuild_meta_tensor_no_storage",
                                   "_rebuild_nested_tensor", "_rebuild_wrapper_subclass",
                                   "_rebuild_device_tensor_from_numpy", "_rebuild_device_tensor_from_cpu_tensor")]
    + ["torch.complex32"])


@functools.lru_cache(maxsize=1)
def _default_allowed_globals():
    """{"module.name": object} of ``torch.load(weights_only=True)``'s default allowlist, as torsh objects."""
    import _codecs
    table = {
        "collections.OrderedDict": collections.OrderedDict,
        "collections.Counter": collections.Counter,
        "torch.nn.parameter.Parameter": _parameter_class(),
        "torch.serialization._get_layout": _get_layout,
        "torch.Size": _size,
        "torch.Tensor": Tensor,
        "torch.device": device,
        "_codecs.encode": _codecs.encode,  # bytes
        "builtins.bytearray": bytearray,
        "builtins.set": set,
        "builtins.complex": complex,
        "torch._utils._rebuild_tensor": _rebuild_tensor,
        "torch._utils._rebuild_tensor_v2": _rebuild_tensor_v2,
        "torch._utils._rebuild_tensor_v3": _rebuild_tensor_v3,
        "torch._utils._rebuild_parameter": _rebuild_parameter,
        "torch._utils._rebuild_sparse_tensor": rebuild_sparse_tensor,
        "torch._utils._rebuild_qtensor": lambda storage, offset, size, stride, *rest: rebuild_qtensor(
            _strided_view(_checked_storage(storage), offset, size, stride), *rest),
        "torch._utils._rebuild_parameter_with_state": _rebuild_parameter,
        "torch._tensor._rebuild_from_type_v2": _rebuild_from_type_v2,
        "torch.storage.UntypedStorage": _StorageType(_dtype.uint8),
    }
    table.update({f"torch.{name}": _StorageType(dtype) for name, dtype in _DTYPE_OF_STORAGE.items()})
    table.update({f"torch.{name}": _StorageType(dtype) for name, dtype in _QSTORAGE_ELEMENT.items()})
    table.update({f"torch.{q.name}": q for q in qscheme.ALL})
    table.update({f"torch.{name}": dtype for name, dtype in _dtype._BY_NAME.items()})
    table.update({name: _not_in_torsh(name) for name in _UNBUILDABLE_TORCH_GLOBALS})
    return table


# ----------------------------------------------------------------------------- the allowlist API

def add_safe_globals(safe_globals):
    """Marks the given globals as safe for ``weights_only`` load (torch.serialization.add_safe_globals).

    Each item is a function/class or a ``(function/class, "module.qualname")`` pair naming it as the
    checkpoint does. Only add what you trust: an allowed class can be called with arguments chosen by
    whoever wrote the file.
    """
    _weights_only_unpickler._add_safe_globals(safe_globals)


def get_safe_globals():
    """Returns the list of user-added globals that are safe for ``weights_only`` load."""
    return _weights_only_unpickler._get_safe_globals()


def clear_safe_globals():
    """Clears the list of globals that are safe for ``weights_only`` load."""
    _weights_only_unpickler._clear_safe_globals()


class safe_globals(_weights_only_unpickler._safe_globals):
    """Context manager: ``with torsh.serialization.safe_globals([MyClass]): torsh.load(f)``; the entries
    are removed from the allowlist on exit (as in PyTorch)."""


def get_unsafe_globals_in_checkpoint(f):
    """The "module.name" of every global in a checkpoint's pickle that ``weights_only`` would refuse.

    Read statically: nothing in the file is built or called.
    """
    safe = set(_default_allowed_globals()) | set(_weights_only_unpickler._get_user_allowed_globals())
    raw = _open_for_read(f)
    try:
        archive = zipfile.ZipFile(io.BytesIO(raw))
    except (zipfile.BadZipFile, OSError, ValueError):
        raise ValueError("Expected input to be a checkpoint returned by torch.save") from None
    with archive:
        data = archive.read(_archive_prefix(archive) + "data.pkl")
    return list(_weights_only_unpickler.get_globals_in_pkl(io.BytesIO(data)) - safe)


# ----------------------------------------------------------------------------- unpicklers

def _persistent_load(load_storage):
    """persistent_load(pid) of both unpicklers: only ('storage', <Type>Storage, key, location, numel)."""
    def persistent_load(pid):
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] in ("storage", b"storage")):
            raise pickle.UnpicklingError(f"corrupted checkpoint: unknown persistent id {pid!r}")
        _, storage_type, key, location, numel = pid
        if not isinstance(storage_type, _StorageType) or not isinstance(key, str) or not isinstance(location, str) \
                or not isinstance(numel, int) or isinstance(numel, bool) or numel < 0:
            raise pickle.UnpicklingError(f"corrupted checkpoint: bad storage record {pid!r}")
        return load_storage(storage_type.dtype, key, location, numel)
    return persistent_load


class _Unpickler(pickle.Unpickler):
    """``weights_only=False``: a full unpickler that reads PyTorch's names as torsh's (trusted files only)."""

    def __init__(self, file, storage_loader, **pickle_load_args):
        pickle_load_args.setdefault("encoding", "utf-8")
        super().__init__(file, **pickle_load_args)
        self.persistent_load = _persistent_load(storage_loader)

    def find_class(self, module, name):
        if (module, name) in _compat_pickle.NAME_MAPPING:  # protocol 2 writes Python 2 names
            module, name = _compat_pickle.NAME_MAPPING[(module, name)]
        elif module in _compat_pickle.IMPORT_MAPPING:
            module = _compat_pickle.IMPORT_MAPPING[module]
        found = _default_allowed_globals().get(f"{module}.{name}")
        if found is not None:
            return found
        if module == "torch" or module.startswith("torch."):
            try:
                return super().find_class("torsh" + module[len("torch"):], name)
            except (ImportError, AttributeError):
                pass
        return super().find_class(module, name)


def _unpickler(data, storage_loader, weights_only, pickle_load_args):
    if not weights_only:
        return _Unpickler(io.BytesIO(data), storage_loader, **pickle_load_args)
    return _weights_only_unpickler.Unpickler(
        io.BytesIO(data), _default_allowed_globals(), _persistent_load(storage_loader), Tensor, _parameter_class(),
        encoding=pickle_load_args.get("encoding", "utf-8"))


def _check_location(map_location, location, storage):
    """torsh is CPU-only: every storage stays on the CPU; any other target fails as on a CPU-only PyTorch."""
    if isinstance(map_location, dict):
        target = map_location.get(location, location)
    elif isinstance(map_location, (str, device)):
        target = str(map_location)
    elif map_location is None:
        target = location
    else:  # PyTorch calls anything else (a non-callable raises its TypeError); None means "where it was saved"
        if map_location(storage, location) is not None:
            return  # storages stay CPU arrays
        target = location
    _refuse_non_cpu_location(target)


_UNAVAILABLE_DEVICE = ("Attempting to deserialize object on a {} device but torch.{}.is_available() is False. If you "
                       "are running on a CPU-only machine, please use torch.load with "
                       "map_location=torch.device('cpu') to map your storages to the CPU.")
_UNREGISTERED_DEVICE = ("The {} device module is not registered. If you are running on a CPU-only machine, please "
                        "use torch.load with map_location=torch.device('cpu') to map your storages to the CPU.")


def _refuse_non_cpu_location(target):
    """PyTorch's default_restore_location on a CPU-only build: its error for every tag but 'cpu'."""
    if target == "cpu":
        return
    kind = re.fullmatch(r"(cuda|xpu|hpu|privateuseone)(:\d+)?", target)
    if kind and kind.group(1) in ("cuda", "xpu"):
        raise RuntimeError(_UNAVAILABLE_DEVICE.format(kind.group(1).upper(), kind.group(1)))
    if kind:
        raise RuntimeError(_UNREGISTERED_DEVICE.format(kind.group(1).upper()))
    if target.startswith("mps"):
        raise RuntimeError("torch.UntypedStorage(): Storage device not recognized: mps")
    if target == "meta" or target.startswith("meta:"):
        raise RuntimeError(f"torsh has no meta tensors; cannot map storages to '{target}'")
    raise RuntimeError(f"don't know how to restore data location of torch.storage.UntypedStorage (tagged with "
                       f"{target})")


def _mapped_record(archive, path, name, np_dtype, numel):
    """A stored (uncompressed) record mapped copy-on-write from the file, as PyTorch's mmap=True."""
    try:
        info = archive.getinfo(name)
    except KeyError:
        raise RuntimeError(f"torsh.load: storage record {name} is missing; truncated or corrupted file") from None
    expected = numel * np_dtype.itemsize
    if info.compress_type != zipfile.ZIP_STORED or info.file_size != expected:
        raise RuntimeError(f"torsh.load: storage record {name} holds {info.file_size} bytes (compression "
                           f"{info.compress_type}), expected {expected} stored bytes; corrupted file")
    with open(path, "rb") as fh:
        fh.seek(info.header_offset)
        header = fh.read(30)
        fh.seek(0, os.SEEK_END)
        file_size = fh.tell()
    if len(header) != 30 or header[:4] != b"PK\x03\x04":
        raise RuntimeError(f"torsh.load: corrupted local header for {name}")
    name_len, extra_len = struct.unpack("<HH", header[26:30])
    offset = info.header_offset + 30 + name_len + extra_len
    if offset + expected > file_size:
        raise RuntimeError(f"torsh.load: storage record {name} runs past the end of the file; truncated file")
    array = np.memmap(path, dtype=np_dtype, mode="c", offset=offset, shape=(numel,))
    return array if array.dtype.isnative else array.astype(array.dtype.newbyteorder("="))


def _open_for_read(f):
    if isinstance(f, (str, os.PathLike)):
        with open(f, "rb") as fh:
            return fh.read()
    data = f.read()
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError("torsh.load expects a path or a binary file object")
    return bytes(data)


_MISSING_RECORD = ("PytorchStreamReader failed locating file {}: file not found. This is an internal miniz error. If "
                   "you are seeing this error, there is a high likelihood that your checkpoint file is corrupted. "
                   "This can happen if the checkpoint was not saved properly, was transferred incorrectly, or the "
                   "file was modified after saving.")
_MAX_FILE_FORMAT_VERSION = 10  # PyTorch 2.13's kMaxSupportedFileFormatVersion


def _archive_prefix(archive):
    """"<folder>/" of a checkpoint's records, after PyTorchStreamReader's checks with its messages: every record
    in the folder the first one names, a readable version record, and a data.pkl."""
    names = archive.namelist()
    if not names:
        raise RuntimeError("[enforce fail at inline_container.cc:168] . archive does not contain any files")
    folder, slash, _ = names[0].partition("/")
    if not slash:
        raise RuntimeError(f"[enforce fail at inline_container.cc:180] . file in archive is not in a "
                           f"subdirectory: {names[0]}")
    prefix = folder + "/"
    _check_format_version(archive, prefix, names)
    outside = next((n for n in names if not n.startswith(prefix)), None)
    if outside is not None:
        raise RuntimeError(f"[enforce fail at inline_container.cc:340] . file in archive is not in a "
                           f"subdirectory {prefix}: {outside}")
    if prefix + "data.pkl" not in names:
        raise RuntimeError(_MISSING_RECORD.format("data.pkl"))
    return prefix


def _check_format_version(archive, prefix, names):
    name = prefix + ".data/version" if prefix + ".data/version" in names else prefix + "version"
    if name not in names:
        raise RuntimeError('Expected hasRecord("version") to be true, but got false.  (Could this error message '
                           'be improved?  If so, please report an enhancement request to PyTorch.)')
    text = archive.read(name).decode("utf-8", "replace")
    number = re.match(r"\s*[+-]?\d+", text)
    if number is None:
        raise RuntimeError(f"[enforce fail at inline_container.cc:215] . Couldn't parse the version {text} as "
                           f"Long Long.")
    version = int(number.group())
    if version < 1:
        raise RuntimeError(f"[enforce fail at inline_container.cc:219] . Attempted to read a PyTorch file with "
                           f"version {version}, but the minimum supported version for reading is 1. Your PyTorch "
                           f"script module file is too old. Please regenerate it with latest version of PyTorch to "
                           f"mitigate this issue.")
    if version > _MAX_FILE_FORMAT_VERSION:
        raise RuntimeError(f"[enforce fail at inline_container.cc:230] . Attempted to read a PyTorch file with "
                           f"version {version}, but the maximum supported version for reading is "
                           f"{_MAX_FILE_FORMAT_VERSION}. The version of your PyTorch installation may be too old, "
                           f"please upgrade PyTorch to latest version to mitigate this issue.")


# ----------------------------------------------------------------------------- torch.load's messages

UNSAFE_MESSAGE = (
    "In PyTorch 2.6, we changed the default value of the `weights_only` argument in `torch.load` "
    "from `False` to `True`. Re-running `torch.load` with `weights_only` set to `False` will likely succeed, "
    "but it can result in arbitrary code execution. Do it only if you got the file from a "
    "trusted source."
)
_DOCS_MESSAGE = (
    "\n\nCheck the documentation of torch.load to learn more about types accepted by default with "
    "weights_only https://pytorch.org/docs/stable/generated/torch.load.html."
)


def _get_wo_message(message):
    """torch.load's wrapping of a weights-only unpickler error (same wording, same cases)."""
    if re.search(r"GLOBAL (\S+) was not an allowed global by default.", message):
        return ("Weights only load failed. This file can still be loaded, to do so you have two options, "
                "\033[1mdo those steps only if you trust the source of the checkpoint\033[0m. "
                f"\n\t(1) {UNSAFE_MESSAGE}\n\t(2) Alternatively, to load with `weights_only=True` please check "
                "the recommended steps in the following error message.\n\tWeightsUnpickler error: "
                + message + _DOCS_MESSAGE)
    if re.search(r"(\S+) must be (\S+) to load", message):
        return f"Weights only load failed. {message}\n {UNSAFE_MESSAGE}\n"
    updated_message = f"Weights only load failed. {UNSAFE_MESSAGE}\n"
    if not re.search(r"whose module (\S+) is blocked", message):
        updated_message += ("Please file an issue with the following so that we can make "
                            "`weights_only=True` compatible with your use case: WeightsUnpickler error: ")
    return updated_message + "\n\n" + message + _DOCS_MESSAGE


def _resolve_weights_only(weights_only, pickle_module):
    """torch.load's default and its TORCH_FORCE_WEIGHTS_ONLY_LOAD / TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD overrides."""
    not_set = weights_only is None
    if not_set:
        weights_only = pickle_module is None
    true_values = ["1", "y", "yes", "true"]
    force = os.getenv("TORCH_FORCE_WEIGHTS_ONLY_LOAD", "0").lower() in true_values
    force_no = os.getenv("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "0").lower() in true_values
    if force and force_no:
        raise RuntimeError("Only one of `TORCH_FORCE_WEIGHTS_ONLY_LOAD` or `TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD` "
                           "should be set, but both were set.")
    if force:
        return True
    if force_no and not_set:  # only overrides a call site that did not choose weights_only itself
        warnings.warn("Environment variable TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD detected, since the"
                      "`weights_only` argument was not explicitly passed to `torch.load`, forcing weights_only=False.",
                      UserWarning, stacklevel=3)
        return False
    return bool(weights_only)


# ----------------------------------------------------------------------------- load

_LEGACY_MAGIC_NUMBER = 0x1950A86A20F9469CFC6C  # torch.serialization.MAGIC_NUMBER
_LEGACY_PROTOCOL_VERSION = 1001


def _legacy_load(raw, map_location, weights_only, pickle_load_args):
    """torch.load of the pre-1.6 format (``torch.save(..., _use_new_zipfile_serialization=False)``): pickles of
    the magic number, the protocol version and the system info, the object's pickle, the list of storage keys,
    then each storage's bytes behind an int64 element count. Bytes that are no such file fail as in PyTorch (its
    unpickler's exception types). Every storage is checked against the bytes that remain before any is made."""
    f = io.BytesIO(raw)

    def next_pickle(persistent_load=None):
        return _unpickler_over(f, persistent_load, weights_only, pickle_load_args).load()

    if next_pickle() != _LEGACY_MAGIC_NUMBER:
        raise RuntimeError("Invalid magic number; corrupt file?")
    protocol_version = next_pickle()
    if protocol_version != _LEGACY_PROTOCOL_VERSION:
        raise RuntimeError(f"Invalid protocol version: {protocol_version}")
    next_pickle()  # sys_info
    storages = {}
    result = next_pickle(_legacy_persistent_load(storages, len(raw), map_location))
    keys = next_pickle()
    if not isinstance(keys, list):
        raise pickle.UnpicklingError("corrupted checkpoint: the storage key list is not a list")
    for key in keys:
        if key not in storages:
            raise AssertionError(f"storage key {key!r} not found in deserialized_objects")
        _fill_legacy_storage(f, storages[key].array)
    return result


def _unpickler_over(f, persistent_load, weights_only, pickle_load_args):
    persistent_load = persistent_load or _refuse_persistent_id
    if not weights_only:
        unpickler = _Unpickler(f, None, **pickle_load_args)
        unpickler.persistent_load = persistent_load
        return unpickler
    return _weights_only_unpickler.Unpickler(
        f, _default_allowed_globals(), persistent_load, Tensor, _parameter_class(),
        encoding=pickle_load_args.get("encoding", "utf-8"))


def _refuse_persistent_id(pid):
    raise pickle.UnpicklingError("A load persistent id instruction was encountered, but no persistent_load "
                                 "function was specified.")


def _legacy_persistent_load(storages, file_size, map_location):
    """persistent_load of the legacy format: ('storage', <Type>Storage, root key, location, numel, view metadata);
    a storage is made (zeros, filled after the pickle) only if the file can hold its bytes."""
    def persistent_load(pid):
        if not isinstance(pid, tuple) or len(pid) != 6 or _weights_only_unpickler._maybe_decode_ascii(pid[0]) \
                != "storage":
            raise RuntimeError(f"Unknown saved id type: {pid[0] if isinstance(pid, tuple) and pid else pid!r}")
        _, storage_type, root_key, location, numel, view = pid
        if not isinstance(storage_type, _StorageType) or not isinstance(numel, int) or numel < 0:
            raise pickle.UnpicklingError(f"corrupted checkpoint: bad storage record {pid!r}")
        dtype = storage_type.dtype
        if root_key not in storages:
            if numel * dtype.itemsize > file_size:  # checked before allocating: a forged numel allocates nothing
                raise RuntimeError(f"torsh.load: storage {root_key!r} claims {numel} {dtype} elements, more than the "
                                   f"file's {file_size} bytes hold; truncated or corrupted file")
            array = np.zeros(numel, dtype=dtype.np)
            _check_location(map_location, _weights_only_unpickler._maybe_decode_ascii(location),
                            Tensor._wrap(array))
            storages[root_key] = _LoadedStorage(array)
        root = storages[root_key]
        if view is None:
            return root
        view_key, offset, view_size = view
        if view_key not in storages:
            storages[view_key] = _LoadedStorage(root.array[offset: offset + view_size], root.version_counter)
        return storages[view_key]
    return persistent_load


def _fill_legacy_storage(f, array):
    """A storage's bytes as PyTorch's _set_from_file reads them: int64 element count, then the elements."""
    header = f.read(8)
    if len(header) != 8:
        raise RuntimeError(f"unexpected EOF, expected {8 - len(header)} more bytes. The file might be corrupted.")
    numel = struct.unpack("<q", header)[0]
    if numel * array.itemsize != array.nbytes:
        raise RuntimeError(f"storage has wrong byte size: expected {array.nbytes} got {numel * array.itemsize}")
    data = f.read(array.nbytes)
    if len(data) != array.nbytes:
        raise RuntimeError(f"unexpected EOF, expected {array.nbytes - len(data)} more bytes. The file might be "
                           f"corrupted.")
    array[...] = np.frombuffer(data, dtype=array.dtype.newbyteorder("<"))


def load(f, map_location=None, pickle_module=None, *, weights_only=None, mmap=None, **pickle_load_args):
    """Load an object saved by ``torsh.save`` or ``torch.save`` (zip format).

    ``weights_only`` (the default unless a ``pickle_module`` is given, and forced by the
    ``TORCH_FORCE_WEIGHTS_ONLY_LOAD`` / ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD`` environment variables as
    in PyTorch) builds only tensors, dtypes, sizes, containers, primitive types and the globals of
    ``add_safe_globals``, and raises ``pickle.UnpicklingError`` on anything else without running it.
    A truncated or corrupted file raises the exception PyTorch raises on it (its zip reader's
    RuntimeErrors, its unpickler's EOFError / struct.error / KeyError / UnpicklingError) before any
    object is returned, so nothing the caller owns is touched. Files in the legacy (pre-1.6) format load
    as in PyTorch, under the same weights_only rules. ``mmap=True`` (``f`` a path) maps the storages from the file
    copy-on-write instead of reading them.
    """
    weights_only = _resolve_weights_only(weights_only, pickle_module)
    if weights_only and pickle_module is not None:
        raise RuntimeError("Can not safely load weights when explicit pickle_module is specified")
    if pickle_load_args and weights_only:
        warnings.warn("pickle_load_args only works if `weights_only=False`.", stacklevel=2)
    if mmap and not isinstance(f, (str, os.PathLike)):
        raise ValueError("f must be a file path in order to use the mmap argument")
    if mmap:
        with open(f, "rb") as fh:
            raw = fh.read(4)
        source = os.fspath(f)
    else:
        raw = _open_for_read(f)
        source = io.BytesIO(raw)
    if raw[:4] != b"PK\x03\x04":  # a zip archive's first local header, the test torch.load makes
        if mmap:
            name = f"{f}, " if isinstance(f, str) else ""
            raise RuntimeError(f"mmap can only be used with files saved with `torch.save({name}"
                               f"_use_new_zipfile_serialization=True), please torch.save your checkpoint with this "
                               f"option in order to use mmap.")
        try:
            return _legacy_load(raw, map_location, weights_only, pickle_load_args)
        except pickle.UnpicklingError as e:
            if weights_only:
                raise pickle.UnpicklingError(_get_wo_message(str(e))) from None
            raise
    try:
        archive = zipfile.ZipFile(source)
        names = archive.namelist()
    except (zipfile.BadZipFile, OSError, ValueError) as e:
        raise RuntimeError(f"torsh.load: the checkpoint is truncated or corrupted ({e})") from None
    try:
        prefix = _archive_prefix(archive)
        byteorder = archive.read(prefix + "byteorder").decode("utf-8", "replace") if prefix + "byteorder" in names \
            else "little"
    except (zipfile.BadZipFile, OSError, zlib.error, EOFError) as e:
        raise RuntimeError(f"torsh.load: the checkpoint is truncated or corrupted ({e})") from None
    if byteorder not in ("little", "big"):
        raise ValueError(f"Unknown endianness type: {byteorder}")
    load_storage = _storage_loader(archive, prefix, byteorder, source if mmap else None, map_location)
    try:
        data = archive.read(prefix + "data.pkl")
    except (zipfile.BadZipFile, OSError) as e:
        raise RuntimeError(f"torsh.load: the checkpoint's data.pkl is corrupted ({e})") from None
    unpickler = _unpickler(data, load_storage, weights_only, pickle_load_args)  # a bad allowlist raises here
    try:
        return unpickler.load()
    except _CorruptCheckpointError:
        raise
    except pickle.UnpicklingError as e:
        if weights_only:
            raise pickle.UnpicklingError(_get_wo_message(str(e))) from None
        raise
    # anything else (EOFError of a truncated pickle, KeyError of a bad memo index, ...) propagates as in PyTorch


def _storage_loader(archive, prefix, byteorder, mmap_path, map_location):
    """load_storage(dtype, key, location, numel): each ``data/<key>`` record read (or mapped) once."""
    loaded = {}

    def load_storage(dtype, key, location, numel):
        if key in loaded:
            return loaded[key]
        name = f"{prefix}data/{key}"
        np_dtype = dtype.np.newbyteorder("<" if byteorder == "little" else ">") if dtype.np.itemsize > 1 else dtype.np
        if mmap_path is not None and numel > 0:
            array = _mapped_record(archive, mmap_path, name, np_dtype, numel)
        else:
            array = _read_record(archive, name, np_dtype, numel).astype(dtype.np, copy=False)
        _check_location(map_location, str(location), Tensor._wrap(array))
        loaded[key] = _LoadedStorage(array)
        return loaded[key]
    return load_storage


def _read_record(archive, name, np_dtype, numel):
    try:
        info = archive.getinfo(name)
    except KeyError:
        raise RuntimeError(f"torsh.load: storage record {name} is missing; truncated or corrupted file") from None
    expected = numel * np_dtype.itemsize
    if info.file_size != expected:  # checked before reading: a forged numel allocates nothing
        raise RuntimeError(f"record size ({info.file_size} bytes) does not match expected size ({expected} bytes = "
                           f"{expected} elements * 1 bytes/element) for dtype Byte; storage record {name} of "
                           f"{numel} {np_dtype.name} elements is truncated or corrupted")
    try:
        payload = archive.read(name)
    except (zipfile.BadZipFile, OSError, zlib.error, EOFError) as e:
        raise RuntimeError(f"torsh.load: storage record {name} is corrupted ({e})") from None
    if len(payload) != expected:
        raise RuntimeError(f"torsh.load: storage record {name} holds {len(payload)} bytes, expected {expected}; "
                           f"truncated or corrupted file")
    return np.frombuffer(bytearray(payload), dtype=np_dtype)
