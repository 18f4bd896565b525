"""The restricted unpickler behind ``torsh.load(weights_only=True)`` (PyTorch's ``torch/_weights_only_unpickler.py``).

A small pickle interpreter that never imports anything and never calls anything it was not told
to trust:

- GLOBAL resolves only names of the allowlist (``serialization._default_allowed_globals()`` plus
  what the user added with ``add_safe_globals``); modules ``sys``, ``os``, ``posix``, ``nt`` are
  refused even when allowlisted. INST, OBJ, STACK_GLOBAL and every opcode PyTorch does not
  support are refused.
- REDUCE calls only allowlisted callables, NEWOBJ builds only allowlisted classes.
- BUILD sets state only on objects this unpickler created (REDUCE/NEWOBJ results) whose type is
  Parameter, OrderedDict, Counter or a user-allowlisted class -- never on a global such as a dtype,
  a class, a module or a function (PyTorch checks the type only; torsh also checks that the object
  is not one of the globals themselves). BUILD on a Tensor (PyTorch's legacy ``set_`` state) is refused.
- APPEND(S) only on lists, SETITEM(S) only on dict, OrderedDict and Counter.

Error messages are PyTorch's; ``serialization.load`` wraps them as ``torch.load`` does.
"""
import warnings
from collections import Counter, OrderedDict
from pickle import (APPEND, APPENDS, BINFLOAT, BINGET, BININT, BININT1, BININT2, BINPERSID, BINPUT, BINUNICODE,
                    BUILD, EMPTY_DICT, EMPTY_LIST, EMPTY_SET, EMPTY_TUPLE, GLOBAL, LONG1, LONG_BINGET, LONG_BINPUT,
                    MARK, NEWFALSE, NEWOBJ, NEWTRUE, NONE, PROTO, REDUCE, SETITEM, SETITEMS, SHORT_BINSTRING, STOP,
                    TUPLE, TUPLE1, TUPLE2, TUPLE3, UnpicklingError, decode_long)
from struct import unpack
from sys import maxsize

from _compat_pickle import IMPORT_MAPPING, NAME_MAPPING

# modules never allowed, even if the user allowlists functions or classes from them
_blocklisted_modules = ["sys", "os", "posix", "nt"]

_marked_safe_globals_set = set()


# ----------------------------------------------------------------------------- user allowlist

def _add_safe_globals(safe_globals):
    global _marked_safe_globals_set
    _marked_safe_globals_set = _marked_safe_globals_set.union(set(safe_globals))


def _get_safe_globals():
    return list(_marked_safe_globals_set)


def _clear_safe_globals():
    global _marked_safe_globals_set
    _marked_safe_globals_set = set()


def _remove_safe_globals(globals_to_remove):
    global _marked_safe_globals_set
    _marked_safe_globals_set = _marked_safe_globals_set - set(globals_to_remove)


class _safe_globals:
    def __init__(self, safe_globals):
        self.safe_globals = safe_globals

    def __enter__(self):
        _add_safe_globals(self.safe_globals)

    def __exit__(self, type, value, tb):
        _remove_safe_globals(self.safe_globals)


def _get_user_allowed_globals():
    """{"module.qualname": object} of the user's allowlist (entries may be (object, "full.name"))."""
    rc = {}
    for f in _marked_safe_globals_set:
        if isinstance(f, tuple):
            if len(f) != 2:
                raise ValueError(f"Expected tuple of length 2 (global, str of callable full path), but got tuple "
                                 f"of length: {len(f)}")
            if type(f[1]) is not str:
                raise TypeError(f"Expected second item in tuple to be str of callable full path, but got: {type(f[1])}")
            f, name = f
            rc[name] = f
        else:
            rc[f"{f.__module__}.{f.__qualname__}"] = f
    return rc


# ----------------------------------------------------------------------------- opcodes

def _read_global_instruction(readline):
    module, name = (_read_line(readline).decode("utf-8") for _ in range(2))
    # torch.save writes protocol 2, which names Python 2 modules
    if (module, name) in NAME_MAPPING:
        module, name = NAME_MAPPING[(module, name)]
    elif module in IMPORT_MAPPING:
        module = IMPORT_MAPPING[module]
    return module, name


def _read_line(readline):
    # as PyTorch: the last byte dropped unread; a cut pickle's partial name fails the allowlist lookup (with
    # PyTorch's message) or, if allowed, is followed by the end of the data
    return readline()[:-1]


def _unsupported_global_message(full_path):
    if full_path.startswith("builtins"):  # PyTorch prints builtins without their module
        full_path = full_path[len("builtins"):]
        full_path = full_path[1:] if full_path.startswith(".") else "builtins" + full_path
    return (f"Unsupported global: GLOBAL {full_path} was not an allowed global by default. "
            f"Please use `torch.serialization.add_safe_globals([{full_path}])` or the "
            f"`torch.serialization.safe_globals([{full_path}])` context manager to allowlist this global "
            "if you trust this class/function.")


def get_globals_in_pkl(file):
    """The "module.name" of every GLOBAL in a pickle, read statically (nothing is built)."""
    found = set()
    read, readline = file.read, file.readline
    fixed = {NEWOBJ: 0, REDUCE: 0, BUILD: 0, APPEND: 0, APPENDS: 0, SETITEM: 0, SETITEMS: 0, MARK: 0, TUPLE: 0,
             TUPLE1: 0, TUPLE2: 0, TUPLE3: 0, NONE: 0, NEWFALSE: 0, NEWTRUE: 0, EMPTY_TUPLE: 0, EMPTY_LIST: 0,
             EMPTY_DICT: 0, EMPTY_SET: 0, BINPERSID: 0, BININT: 4, BININT1: 1, BININT2: 2, BINFLOAT: 8,
             BINGET: 1, LONG_BINGET: 4, BINPUT: 1, LONG_BINPUT: 4}
    while True:
        key = read(1)
        if not key:
            raise EOFError
        if key == GLOBAL:
            module, name = _read_global_instruction(readline)
            found.add(f"{module}.{name}")
        elif key in fixed:
            read(fixed[key])
        elif key == BINUNICODE:
            strlen = unpack("<I", read(4))[0]
            if strlen > maxsize:
                raise UnpicklingError("String is too long")
            read(strlen)
        elif key in (SHORT_BINSTRING, LONG1):
            read(read(1)[0])
        elif key == PROTO:
            read(1)
        elif key == STOP:
            return found
        else:
            raise UnpicklingError(f"Unsupported operand {key[0]}")


# ----------------------------------------------------------------------------- the unpickler

class Unpickler:
    """Restricted unpickler. ``allowed_globals``: {"module.name": object} of the default allowlist;
    ``persistent_load(pid)`` resolves storage records; ``tensor_type`` / ``parameter_type`` are
    torsh's Tensor and Parameter classes (which BUILD and NEWOBJ treat specially, as PyTorch)."""

    def __init__(self, file, allowed_globals, persistent_load, tensor_type, parameter_type, *, encoding="utf-8"):
        self.read, self.readline = file.read, file.readline
        self.encoding = encoding
        self.allowed_globals = allowed_globals
        self.persistent_load = persistent_load
        self.tensor_type, self.parameter_type = tensor_type, parameter_type
        self.memo = {}
        self.proto = -1
        self.user_globals = _get_user_allowed_globals()  # raises on a malformed allowlist entry, as PyTorch
        # identity, not ==: tensors compare elementwise and dtypes may define __eq__
        self.trusted_ids = {id(v) for v in allowed_globals.values()} | {id(v) for v in self.user_globals.values()}
        self.user_type_ids = {id(v) for v in self.user_globals.values() if isinstance(v, type)}

    # -- reading ----------------------------------------------------------------------------
    def _read_exact(self, n):
        # unchecked, as PyTorch's: a short read fails where its bytes are used (struct.error, IndexError,
        # UnpicklingError), so truncated pickles raise PyTorch's exception types
        return self.read(n)

    def load(self):
        self.created = {}  # id -> object built here by REDUCE/NEWOBJ: the only possible BUILD targets
        self.metastack = []
        self.stack = []
        while True:
            key = self.read(1)
            if not key:
                raise EOFError
            if key == STOP:
                return self.stack.pop()
            handler = self._handlers.get(key)
            if handler is None:
                raise UnpicklingError(f"Unsupported operand {key[0]}")
            handler(self)

    # -- risky opcodes ----------------------------------------------------------------------
    def _global(self):
        module, name = _read_global_instruction(self.readline)
        full_path = f"{module}.{name}"
        if module in _blocklisted_modules:
            raise UnpicklingError(f"Trying to load unsupported GLOBAL {full_path} whose module {module} is blocked.")
        if full_path in self.allowed_globals:
            self.stack.append(self.allowed_globals[full_path])
        elif full_path in self.user_globals:
            self.stack.append(self.user_globals[full_path])
        else:
            raise UnpicklingError(_unsupported_global_message(full_path))

    def _is_allowed(self, obj):
        return id(obj) in self.trusted_ids

    def _newobj(self):
        args = self.stack.pop()
        cls = self.stack.pop()
        if cls is self.parameter_type:
            result = self.parameter_type(*args)
        elif isinstance(cls, type) and self._is_allowed(cls):
            result = cls.__new__(cls, *args)
        else:
            raise UnpicklingError("Can only create new object for nn.Parameter or classes allowlisted "
                                  f"via `add_safe_globals` but got {cls}")
        self._push_created(result)

    def _reduce(self):
        args = self.stack.pop()
        func = self.stack.pop()
        if not self._is_allowed(func):
            error_msg = f"Trying to call reduce for unrecognized function {func}"
            if hasattr(func, "__self__"):
                error_msg += f" which belongs to {func.__self__}"
            raise UnpicklingError(error_msg)
        self._push_created(func(*args))

    def _push_created(self, obj):
        if id(obj) not in self.trusted_ids:  # a callable may hand back a global: never a BUILD target
            self.created[id(obj)] = obj
        self.stack.append(obj)

    def _build(self):
        state = self.stack.pop()
        inst = self.stack[-1]
        kind = type(inst)
        if kind is self.tensor_type:
            raise UnpicklingError("Can only build Tensor through the torch._utils rebuild functions in torsh: "
                                  "BUILD with a legacy Tensor.set_ state is not supported")
        buildable = kind in (self.parameter_type, OrderedDict, Counter) or id(kind) in self.user_type_ids
        if not buildable or self.created.get(id(inst)) is not inst:  # never a global (dtype, class, ...)
            raise UnpicklingError("Can only build Tensor, Parameter, OrderedDict or types allowlisted "
                                  f"via `add_safe_globals`, but got {kind}")
        if kind in (self.parameter_type, OrderedDict, Counter):
            _update_instance_dict(inst, state)
        elif hasattr(inst, "__setstate__"):
            inst.__setstate__(state)
        else:  # pickle's load_build, on an instance of a user-allowlisted class
            slotstate = None
            if isinstance(state, tuple) and len(state) == 2:
                state, slotstate = state
            if state:
                _update_instance_dict(inst, state)
            if slotstate:
                for k, v in slotstate.items():
                    setattr(inst, k, v)

    # -- containers -------------------------------------------------------------------------
    def _append(self):
        item = self.stack.pop()
        list_obj = self.stack[-1]
        if type(list_obj) is not list:
            raise UnpicklingError(f"Can only append to lists, but got {type(list_obj)}")
        list_obj.append(item)

    def _appends(self):
        items = self._pop_mark()
        list_obj = self.stack[-1]
        if type(list_obj) is not list:
            raise UnpicklingError(f"Can only extend lists, but got {type(list_obj)}")
        list_obj.extend(items)

    def _check_set_item_target(self, opcode):
        if type(self.stack[-1]) not in (dict, OrderedDict, Counter):
            raise UnpicklingError(f"Can only {opcode} for dict, collections.OrderedDict, "
                                  f"collections.Counter, but got {type(self.stack[-1])}")

    def _setitem(self):
        v, k = self.stack.pop(), self.stack.pop()
        self._check_set_item_target("SETITEM")
        self.stack[-1][k] = v

    def _setitems(self):
        items = self._pop_mark()
        self._check_set_item_target("SETITEMS")
        for i in range(0, len(items), 2):
            self.stack[-1][items[i]] = items[i + 1]

    def _mark(self):
        self.metastack.append(self.stack)
        self.stack = []

    def _pop_mark(self):
        items = self.stack
        self.stack = self.metastack.pop()
        return items

    def _tuple(self):
        items = self._pop_mark()  # before touching self.stack: popping the mark replaces it
        self.stack.append(tuple(items))

    def _tuple1(self):
        self.stack[-1] = (self.stack[-1],)

    def _tuple2(self):
        self.stack[-2:] = [(self.stack[-2], self.stack[-1])]

    def _tuple3(self):
        self.stack[-3:] = [(self.stack[-3], self.stack[-2], self.stack[-1])]

    # -- values -----------------------------------------------------------------------------
    def _binunicode(self):
        strlen = unpack("<I", self._read_exact(4))[0]
        if strlen > maxsize:
            raise UnpicklingError("String is too long")
        self.stack.append(str(self._read_exact(strlen), "utf-8", "surrogatepass"))

    def _short_binstring(self):
        data = self._read_exact(self._read_exact(1)[0])
        self.stack.append(data.decode(self.encoding, "strict") if self.encoding != "bytes" else data)

    def _binpersid(self):
        pid = self.stack.pop()
        if type(pid) is not tuple and type(pid) is not int:
            raise UnpicklingError(f"persistent_load id must be tuple or int, but got {type(pid)}")
        if type(pid) is tuple and len(pid) > 0 and _maybe_decode_ascii(pid[0]) != "storage":
            raise UnpicklingError(f"Only persistent_load of storage is allowed, but got {type(pid[0])}")
        self.stack.append(self.persistent_load(pid))

    def _get(self, size):
        idx = self._read_exact(1)[0] if size == 1 else unpack("<I", self._read_exact(4))[0]
        self.stack.append(self.memo[idx])

    def _put(self, size):
        idx = self._read_exact(1)[0] if size == 1 else unpack("<I", self._read_exact(4))[0]
        self.memo[idx] = self.stack[-1]

    def _proto(self):
        self.proto = self._read_exact(1)[0]
        if self.proto != 2:
            warnings.warn(f"Detected pickle protocol {self.proto} in the checkpoint, which was not the default pickle "
                          "protocol used by `torch.load` (2). The weights_only Unpickler might not support all "
                          "instructions implemented by this protocol, please file an issue for adding support if "
                          "you encounter this.", stacklevel=4)

    def _push(self, value):
        self.stack.append(value)

    _handlers = {
        GLOBAL: _global, NEWOBJ: _newobj, REDUCE: _reduce, BUILD: _build,
        APPEND: _append, APPENDS: _appends, SETITEM: _setitem, SETITEMS: _setitems,
        MARK: _mark, TUPLE: _tuple, TUPLE1: _tuple1, TUPLE2: _tuple2, TUPLE3: _tuple3,
        NONE: lambda self: self._push(None), NEWFALSE: lambda self: self._push(False),
        NEWTRUE: lambda self: self._push(True), EMPTY_TUPLE: lambda self: self._push(()),
        EMPTY_LIST: lambda self: self._push([]), EMPTY_DICT: lambda self: self._push({}),
        EMPTY_SET: lambda self: self._push(set()),
        BININT: lambda self: self._push(unpack("<i", self._read_exact(4))[0]),
        BININT1: lambda self: self._push(self._read_exact(1)[0]),
        BININT2: lambda self: self._push(unpack("<H", self._read_exact(2))[0]),
        BINFLOAT: lambda self: self._push(unpack(">d", self._read_exact(8))[0]),
        BINUNICODE: _binunicode, SHORT_BINSTRING: _short_binstring, BINPERSID: _binpersid,
        BINGET: lambda self: self._get(1), LONG_BINGET: lambda self: self._get(4),
        BINPUT: lambda self: self._put(1), LONG_BINPUT: lambda self: self._put(4),
        LONG1: lambda self: self._push(decode_long(self._read_exact(self._read_exact(1)[0]))),
        PROTO: _proto,
    }


def _update_instance_dict(inst, state):
    """BUILD's dict state on an instance this unpickler created: a dict with string keys."""
    if not isinstance(state, dict) or not all(isinstance(k, str) for k in state):
        raise UnpicklingError(f"BUILD state for {type(inst)} must be a dict with str keys, got {type(state)}")
    inst.__dict__.update(state)


def _maybe_decode_ascii(bytes_str):
    # torch.save of Python 2 era wrote bytes here
    return bytes_str.decode("ascii") if isinstance(bytes_str, bytes) else bytes_str
