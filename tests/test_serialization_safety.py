"""torsh.load(weights_only=True) against malicious checkpoints, the safe-globals API, the
TORCH_FORCE_*_WEIGHTS_ONLY_LOAD variables and atomic torsh.save -- each checked against PyTorch 2.13.

The malicious checkpoints are written opcode by opcode into PyTorch's zip layout, so the same
bytes go to torsh.load and torch.load: every one must be refused by both, with PyTorch's wording,
and must leave torsh's global state (dtypes, the Tensor and Parameter classes, module attributes,
the default dtype, the allowlist) exactly as it was.
"""
import collections
import errno
import io
import os
import pickle
import struct
import subprocess
import warnings
import zipfile

import numpy as np
import pytest

import torsh
from helpers import needs_torch, torch_ref as torch

pytestmark = needs_torch


# ----------------------------------------------------------------------------- writing pickles by hand

def _str(text):
    data = text.encode("utf-8")
    return b"X" + struct.pack("<I", len(data)) + data


def _global(module, name):
    return b"c" + f"{module}\n{name}\n".encode("utf-8")


def _int(n):
    if 0 <= n < 256:
        return b"K" + bytes([n])
    if -2 ** 31 <= n < 2 ** 31:
        return b"J" + struct.pack("<i", n)
    data = pickle.encode_long(n)
    return b"\x8a" + bytes([len(data)]) + data


def _tuple(values):
    return b"(" + b"".join(_int(v) for v in values) + b"t"


def _pkl(*ops):
    """A protocol-2 pickle: PROTO 2, the ops, STOP."""
    return b"\x80\x02" + b"".join(ops) + b"."


def _storage_pid(key="0", numel=4, storage_type="FloatStorage", location="cpu"):
    return b"(" + _str("storage") + _global("torch", storage_type) + _str(key) + _str(location) + _int(numel) + b"tQ"


def _tensor(key="0", numel=4, offset=0, size=(4,), stride=(1,), pid=None):
    """torch._utils._rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict()) as torch.save writes it."""
    pid = _storage_pid(key, numel) if pid is None else pid
    return (_global("torch._utils", "_rebuild_tensor_v2") + b"(" + pid + _int(offset) + _tuple(size)
            + _tuple(stride) + b"\x89" + _global("collections", "OrderedDict") + b")R" + b"tR")


def _build_on(target_ops, state_ops):
    return target_ops + state_ops + b"b"


SLOT_STATE_NAME_INT64 = b"N}" + _str("name") + _str("int64") + b"s\x86"  # (None, {"name": "int64"})
DICT_STATE_BACKWARD_NONE = b"}" + _str("backward") + b"Ns"  # {"backward": None}


def _checkpoint(pkl, storages=None):
    """Zip bytes in PyTorch's layout around ``pkl`` (records as torch.save writes them)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("archive/data.pkl", pkl)
        z.writestr("archive/.format_version", "1")
        z.writestr("archive/.storage_alignment", "64")
        z.writestr("archive/byteorder", "little")
        for key, data in (storages or {}).items():
            z.writestr(f"archive/data/{key}", data)
        z.writestr("archive/version", "3\n")
        z.writestr("archive/.data/serialization_id", "0123456789")
    return buf.getvalue()


FOUR_FLOATS = {"0": np.arange(4, dtype=np.float32).tobytes()}


# ----------------------------------------------------------------------------- torsh's global state

def _object_state(obj):
    if hasattr(obj, "__dict__"):
        return {k: id(v) for k, v in vars(obj).items()}
    return {k: repr(getattr(obj, k, None)) for k in getattr(type(obj), "__slots__", ())}


def fingerprint():
    """Everything a malicious load could change in torsh: compared before and after each load."""
    import torsh._dtype as dtypes
    from torsh.nn import Parameter
    state = {
        "dtypes": {d.name: (id(d), {k: repr(getattr(d, k)) for k in type(d).__slots__}) for d in dtypes.ALL_DTYPES},
        "dtype class": _object_state(dtypes.dtype),
        "Tensor": _object_state(torsh.Tensor),
        "Parameter": _object_state(Parameter),
        "Size": _object_state(torsh.Size),
        "device": _object_state(torsh.device),
        "OrderedDict": _object_state(collections.OrderedDict),
        "Counter": _object_state(collections.Counter),
        "default dtype": repr(torsh.get_default_dtype()),
        "safe globals": sorted(map(repr, torsh.serialization.get_safe_globals())),
    }
    for module in (torsh, torsh.nn, torsh.serialization, dtypes, torsh.nn.functional):
        state[module.__name__] = {k: id(v) for k, v in vars(module).items()}
    # and behaviour that depends on that state
    x = torsh.ones(2, dtype=torsh.int64) + 1.5
    y = torsh.tensor([1.0, 2.0]).requires_grad_()
    (y * 2).sum().backward()
    state["behaviour"] = (repr(x.dtype), repr(torsh.tensor([1.0]).dtype), y.grad.tolist())
    return state


def _load_refused(lib, data, **kwargs):
    try:
        lib.load(io.BytesIO(data), **kwargs)
    except Exception as e:  # noqa: BLE001 - whatever the library raises is compared below
        return e
    pytest.fail(f"{lib.__name__}.load accepted a malicious checkpoint")


# ----------------------------------------------------------------------------- the corpus

# (id, checkpoint bytes, wording both libraries use, torsh's exception type, same type as PyTorch)
BLOCKED = "Trying to load unsupported GLOBAL"
NOT_ALLOWED = "was not an allowed global by default"
CANT_BUILD = "Can only build Tensor, Parameter, OrderedDict or types allowlisted via `add_safe_globals`, but got"
CANT_NEWOBJ = "Can only create new object for nn.Parameter or classes allowlisted via `add_safe_globals` but got"
UP = pickle.UnpicklingError

CORPUS = [
    # code execution
    ("reduce-posix-system", _checkpoint(_pkl(_global("posix", "system"), _str("echo pwned"), b"\x85R")),
     "Trying to load unsupported GLOBAL posix.system whose module posix is blocked.", UP, True),
    ("reduce-os-system", _checkpoint(_pkl(_global("os", "system"), _str("echo pwned"), b"\x85R")),
     "Trying to load unsupported GLOBAL os.system whose module os is blocked.", UP, True),
    ("reduce-sys-exit", _checkpoint(_pkl(_global("sys", "exit"), b")R")), BLOCKED, UP, True),
    ("reduce-builtins-eval", _checkpoint(_pkl(_global("builtins", "eval"), _str("1+1"), b"\x85R")),
     "Unsupported global: GLOBAL eval was not an allowed global by default.", UP, True),
    ("reduce-builtins-exec-py2-name", _checkpoint(_pkl(_global("__builtin__", "exec"), _str("x=1"), b"\x85R")),
     "Unsupported global: GLOBAL exec was not an allowed global by default.", UP, True),
    ("reduce-subprocess", _checkpoint(_pkl(_global("subprocess", "check_output"), b"]" + _str("id") + b"a\x85R")),
     "GLOBAL subprocess.check_output " + NOT_ALLOWED, UP, True),
    ("reduce-getattr", _checkpoint(_pkl(_global("builtins", "getattr"), b")R")), "GLOBAL getattr " + NOT_ALLOWED,
     UP, True),
    ("reduce-numpy-reconstruct", _checkpoint(_pkl(_global("numpy._core.multiarray", "_reconstruct"), b")R")),
     "GLOBAL numpy._core.multiarray._reconstruct " + NOT_ALLOWED, UP, True),
    ("inst-opcode", _checkpoint(_pkl(b"(" + b"i" + b"builtins\nlist\n")), "Unsupported operand 105", UP, True),
    ("obj-opcode-on-allowed-class", _checkpoint(_pkl(b"(" + _global("collections", "OrderedDict") + b"o")),
     "Unsupported operand 111", UP, True),
    ("obj-opcode-os", _checkpoint(_pkl(b"(" + _global("os", "system") + _str("id") + b"o")), BLOCKED, UP, True),
    ("newobj-builtins-list", _checkpoint(_pkl(_global("builtins", "list"), b")\x81")), "GLOBAL list " + NOT_ALLOWED,
     UP, True),
    ("newobj-on-a-string", _checkpoint(_pkl(_str("builtins.list"), b")\x81")), CANT_NEWOBJ, UP, True),
    # PyTorch lets cls.__new__ fail with a TypeError; torsh refuses before calling anything
    ("newobj-on-dtype", _checkpoint(_pkl(_global("torch", "float32"), b")\x81")), None, UP, False),
    ("newobj-on-rebuild-function", _checkpoint(_pkl(_global("torch._utils", "_rebuild_tensor_v2"), b")\x81")),
     None, UP, False),
    ("stack-global-protocol-4", _checkpoint(b"\x80\x02" + _str("os") + _str("system") + b"\x93" + _str("id")
                                            + b"\x85R."), "Unsupported operand 147", UP, True),
    ("protocol-4-frame", _checkpoint(pickle.dumps({"a": 1}, protocol=4)), "Unsupported operand 149", UP, True),
    # BUILD on globals: dtypes, classes, modules, functions, storage types
    ("build-float32-slots", _checkpoint(_pkl(_build_on(_global("torch", "float32"), SLOT_STATE_NAME_INT64))),
     CANT_BUILD, UP, True),
    ("build-float32-dict", _checkpoint(_pkl(_build_on(_global("torch", "float32"),
                                                      b"}" + _str("is_floating_point") + b"\x89s"))),
     CANT_BUILD, UP, True),
    ("build-int64-slots", _checkpoint(_pkl(_build_on(_global("torch", "int64"),
                                                     b"N}" + _str("itemsize") + _int(1) + b"s\x86"))),
     CANT_BUILD, UP, True),
    ("build-tensor-class", _checkpoint(_pkl(_build_on(_global("torch", "Tensor"), DICT_STATE_BACKWARD_NONE))),
     CANT_BUILD, UP, True),
    ("build-tensor-class-slots", _checkpoint(_pkl(_build_on(_global("torch", "Tensor"),
                                                            b"N" + DICT_STATE_BACKWARD_NONE + b"\x86"))),
     CANT_BUILD, UP, True),
    ("build-parameter-class", _checkpoint(_pkl(_build_on(_global("torch.nn.parameter", "Parameter"),
                                                         b"}" + _str("requires_grad_") + b"Ns"))),
     CANT_BUILD, UP, True),
    ("build-ordereddict-class", _checkpoint(_pkl(_build_on(_global("collections", "OrderedDict"),
                                                           b"}" + _str("__init__") + b"Ns"))), CANT_BUILD, UP, True),
    ("build-counter-class", _checkpoint(_pkl(_build_on(_global("collections", "Counter"),
                                                       b"}" + _str("update") + b"Ns"))), CANT_BUILD, UP, True),
    ("build-size-class", _checkpoint(_pkl(_build_on(_global("torch", "Size"), b"}" + _str("numel") + b"Ns"))),
     CANT_BUILD, UP, True),
    ("build-device-class", _checkpoint(_pkl(_build_on(_global("torch", "device"), b"}" + _str("type") + b"Ns"))),
     CANT_BUILD, UP, True),
    ("build-rebuild-function", _checkpoint(_pkl(_build_on(_global("torch._utils", "_rebuild_tensor_v2"),
                                                          b"}" + _str("__code__") + b"Ns"))), CANT_BUILD, UP, True),
    ("build-codecs-encode", _checkpoint(_pkl(_build_on(_global("_codecs", "encode"),
                                                       b"}" + _str("x") + b"Ns"))), CANT_BUILD, UP, True),
    ("build-storage-type", _checkpoint(_pkl(_build_on(_global("torch", "FloatStorage"),
                                                      b"}" + _str("dtype") + b"Ns"))), CANT_BUILD, UP, True),
    ("build-set-class", _checkpoint(_pkl(_build_on(_global("builtins", "set"), b"}" + _str("add") + b"Ns"))),
     CANT_BUILD, UP, True),
    ("build-module-torch-nn", _checkpoint(_pkl(_build_on(_global("torch", "nn"), b"}" + _str("Linear") + b"Ns"))),
     "GLOBAL torch.nn " + NOT_ALLOWED, UP, True),
    ("build-module-torsh", _checkpoint(_pkl(_build_on(_global("torsh", "_dtype"), b"}" + _str("float32") + b"Ns"))),
     "GLOBAL torsh._dtype " + NOT_ALLOWED, UP, True),
    ("build-on-a-string", _checkpoint(_pkl(_build_on(_str("abc"), b"}" + _str("x") + b"Ns"))), CANT_BUILD, UP, True),
    # the same payloads hidden in containers, in the memo, in tensors
    ("nested-in-list", _checkpoint(_pkl(b"]", _build_on(_global("torch", "float32"), SLOT_STATE_NAME_INT64), b"a")),
     CANT_BUILD, UP, True),
    ("nested-in-dict", _checkpoint(_pkl(b"}", _str("w"), _build_on(_global("torch", "float32"),
                                                                   SLOT_STATE_NAME_INT64), b"s")),
     CANT_BUILD, UP, True),
    ("nested-in-ordereddict", _checkpoint(_pkl(_global("collections", "OrderedDict"), b")R", _str("w"),
                                               _build_on(_global("torch", "Tensor"), DICT_STATE_BACKWARD_NONE),
                                               b"s")), CANT_BUILD, UP, True),
    ("nested-deep", _checkpoint(_pkl(b"}", _str("a"), b"]]", _build_on(_global("torch", "float64"),
                                                                       SLOT_STATE_NAME_INT64), b"aas")),
     CANT_BUILD, UP, True),
    ("via-memo", _checkpoint(_pkl(b"]", _global("torch", "float32"), b"q\x00", b"a", b"h\x00",
                                  SLOT_STATE_NAME_INT64, b"b")), CANT_BUILD, UP, True),
    ("after-a-good-tensor", _checkpoint(_pkl(b"}", _str("w"), _tensor(), b"s", _str("x"),
                                             _build_on(_global("torch", "float32"), SLOT_STATE_NAME_INT64), b"s"),
                                        FOUR_FLOATS), CANT_BUILD, UP, True),
    ("in-tensor-rebuild-args", _checkpoint(_pkl(
        _global("torch._utils", "_rebuild_tensor_v2"), b"(", _storage_pid(), _int(0), _tuple((4,)), _tuple((1,)),
        _build_on(_global("torch", "bool"), SLOT_STATE_NAME_INT64), b"}tR"), FOUR_FLOATS), CANT_BUILD, UP, True),
    ("append-to-dict", _checkpoint(_pkl(b"}", _int(1), b"a")), "Can only append to lists, but got <class 'dict'>",
     UP, True),
    ("setitem-on-list", _checkpoint(_pkl(b"]", _int(1), _int(2), b"s")),
     "Can only SETITEM for dict, collections.OrderedDict, collections.Counter, but got <class 'list'>", UP, True),
    ("setitems-on-tensor-class", _checkpoint(_pkl(_global("torch", "Tensor"), b"(", _str("backward"), b"Nu")),
     "Can only SETITEMS for dict, collections.OrderedDict, collections.Counter, but got", UP, True),
    # payloads in persistent ids and storage keys
    ("persid-not-storage", _checkpoint(_pkl(b"(" + _str("evil") + b"tQ")),
     "Only persistent_load of storage is allowed, but got <class 'str'>", UP, True),
    ("persid-string", _checkpoint(_pkl(_str("storage"), b"Q")),
     "persistent_load id must be tuple or int, but got <class 'str'>", UP, True),
    ("persid-global-payload", _checkpoint(_pkl(b"(" + _global("posix", "system") + b"tQ")), BLOCKED, UP, True),
    ("persid-build-payload", _checkpoint(_pkl(b"(" + _str("storage") + _build_on(_global("torch", "FloatStorage"),
                                                                              b"}" + _str("dtype") + b"Ns")
                                              + _str("0") + _str("cpu") + _int(4) + b"tQ"), FOUR_FLOATS),
     CANT_BUILD, UP, True),
    ("storage-key-escapes-data-dir", _checkpoint(_pkl(_tensor(key="../data.pkl")), FOUR_FLOATS), None, RuntimeError,
     True),
    ("storage-key-missing", _checkpoint(_pkl(_tensor(key="7")), FOUR_FLOATS), None, RuntimeError, True),
    # bad storage sizes, offsets and strides pointing outside the storage, huge declared sizes
    ("storage-record-too-short", _checkpoint(_pkl(_tensor(numel=8, size=(8,))), FOUR_FLOATS),
     "does not match expected size", RuntimeError, True),
    ("storage-numel-huge", _checkpoint(_pkl(_tensor(numel=2 ** 61)), FOUR_FLOATS), "does not match expected size",
     RuntimeError, True),
    ("tensor-size-past-storage", _checkpoint(_pkl(_tensor(size=(1000,))), FOUR_FLOATS),
     "Trying to resize storage that is not resizable", RuntimeError, True),
    ("tensor-offset-past-storage", _checkpoint(_pkl(_tensor(offset=10)), FOUR_FLOATS),
     "Trying to resize storage that is not resizable", RuntimeError, True),
    ("tensor-stride-past-storage", _checkpoint(_pkl(_tensor(size=(2, 2), stride=(100, 1))), FOUR_FLOATS),
     "Trying to resize storage that is not resizable", RuntimeError, True),
    ("tensor-size-huge", _checkpoint(_pkl(_tensor(size=(2 ** 62,))), FOUR_FLOATS),
     "Storage size calculation overflowed with sizes=[4611686018427387904] and strides=[1]", RuntimeError, True),
    ("tensor-numel-overflows", _checkpoint(_pkl(_tensor(size=(2 ** 40, 2 ** 40), stride=(0, 0))), FOUR_FLOATS),
     None, RuntimeError, True),
]


def _ids(corpus):
    return [case[0] for case in corpus]


@pytest.mark.parametrize("name,data,wording,torsh_type,same_type", CORPUS, ids=_ids(CORPUS))
def test_malicious_checkpoint_is_refused_and_changes_nothing(name, data, wording, torsh_type, same_type):
    before = fingerprint()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the protocol-4 warning
        ours = _load_refused(torsh, data)
        ref = _load_refused(torch, data)  # the corpus is honest: PyTorch refuses the same bytes
    assert fingerprint() == before, f"{name}: torsh's global state changed"
    assert isinstance(ours, torsh_type), f"{name}: torsh raised {type(ours).__name__}: {ours}"
    if same_type:
        assert isinstance(ref, type(ours)) or isinstance(ours, type(ref)), \
            f"{name}: torsh raised {type(ours).__name__}, PyTorch {type(ref).__name__}: {ref}"
    if wording is not None:
        assert wording in str(ref), f"{name}: the corpus's wording is not PyTorch's: {ref}"
        assert wording in str(ours), f"{name}: torsh's message lacks PyTorch's wording:\n{ours}\nPyTorch: {ref}"
    if isinstance(ref, pickle.UnpicklingError) and isinstance(ours, pickle.UnpicklingError):
        # torch.load's wrapping: same first line and same closing pointer to the documentation
        assert str(ours).split("\n")[0] == str(ref).split("\n")[0]
        assert str(ours).split("\n")[-1] == str(ref).split("\n")[-1]


# cases whose message names no class: torsh's whole message must be PyTorch's
WORD_FOR_WORD = [c for c in CORPUS if NOT_ALLOWED in (c[2] or "") or c[0] in (
    "reduce-posix-system", "reduce-sys-exit", "inst-opcode", "stack-global-protocol-4", "append-to-dict",
    "setitem-on-list", "persid-not-storage", "persid-string")]


@pytest.mark.parametrize("name,data,wording,torsh_type,same_type", WORD_FOR_WORD, ids=_ids(WORD_FOR_WORD))
def test_message_is_pytorchs_word_for_word(name, data, wording, torsh_type, same_type):
    assert str(_load_refused(torsh, data)) == str(_load_refused(torch, data))


def test_code_execution_payload_never_runs(tmp_path):
    marker = tmp_path / "pwned"
    for module in ("posix", "os", "subprocess"):
        func = "call" if module == "subprocess" else "system"
        arg = b"]" + _str("touch") + b"a" + _str(str(marker)) + b"a" if module == "subprocess" \
            else _str(f"touch {marker}")
        data = _checkpoint(_pkl(b"}", _str("w"), _global(module, func), arg, b"\x85R", b"s"))
        for lib in (torsh, torch):
            with pytest.raises(pickle.UnpicklingError):
                lib.load(io.BytesIO(data))
        assert not marker.exists()


def test_build_on_instances_the_load_created_still_works():
    """The legitimate BUILD: an OrderedDict's attributes (a state_dict's _metadata), in both libraries."""
    data = _checkpoint(_pkl(_global("collections", "OrderedDict"), b")R", _str("w"), _tensor(), b"s",
                            b"}" + _str("_metadata") + b"}" + _str("k") + _int(1) + b"ss", b"b"), FOUR_FLOATS)
    before = fingerprint()
    for lib in (torsh, torch):
        sd = lib.load(io.BytesIO(data))
        assert isinstance(sd, collections.OrderedDict) and sd._metadata == {"k": 1}
        assert sd["w"].tolist() == [0.0, 1.0, 2.0, 3.0]
    assert fingerprint() == before
    assert not hasattr(collections.OrderedDict, "_metadata")


def test_truncated_checkpoints_are_refused():
    buf = io.BytesIO()
    torch.save({"w": torch.arange(100.0), "b": torch.ones(3)}, buf)
    raw = buf.getvalue()
    before = fingerprint()
    for cut in (0, 3, 40, len(raw) // 3, len(raw) // 2, len(raw) - 100, len(raw) - 1):
        data = raw[:cut]
        ours = _load_refused(torsh, data)
        ref = _load_refused(torch, data)
        assert type(ours) is type(ref), f"cut at {cut}: {type(ours).__name__}: {ours} / PyTorch: {ref!r}"
        assert isinstance(ours, (RuntimeError, EOFError, pickle.UnpicklingError)), ours
    assert fingerprint() == before


@pytest.mark.parametrize("data", [b"garbage, not a checkpoint", pickle.dumps({"a": 1})], ids=["no-pickle", "pickle"])
@pytest.mark.parametrize("weights_only", [True, False])
def test_input_that_is_no_zip_archive_raises_pytorchs_exception_type(data, weights_only):
    ours = _load_refused(torsh, data, weights_only=weights_only)
    ref = _load_refused(torch, data, weights_only=weights_only)
    assert type(ours) is type(ref), (ours, ref)
    if weights_only:
        assert str(ours).startswith("Weights only load failed.")


@pytest.mark.parametrize("weights_only", [True, False])
def test_pickle_bytes_truncated_inside_the_archive(weights_only):
    """Every cut of a pickle raises PyTorch's exception type (EOFError, struct.error, IndexError,
    UnpicklingError: its unpickler's, unwrapped) and, for an UnpicklingError, its message."""
    full = _pkl(b"}", _str("w"), _tensor(), b"s")
    for cut in range(2, len(full)):
        data = _checkpoint(full[:cut], FOUR_FLOATS)
        ours = _load_refused(torsh, data, weights_only=weights_only)
        ref = _load_refused(torch, data, weights_only=weights_only)
        assert type(ours) is type(ref), f"cut at {cut}: torsh {ours!r}, PyTorch {ref!r}"
        if isinstance(ref, pickle.UnpicklingError):
            assert str(ours) == str(ref)


# ----------------------------------------------------------------------------- interoperability

def test_files_written_by_torch_load_in_torsh(tmp_path):
    lin = torch.nn.Linear(3, 2)
    obj = {"sd": lin.state_dict(), "p": torch.nn.Parameter(torch.ones(2)), "t": torch.arange(6.0).view(2, 3)[:, 1:],
           "i": torch.tensor([1, 2], dtype=torch.int64), "dtype": torch.float16, "size": torch.Size([2, 3]),
           "dev": torch.device("cpu"), "nested": [(1, 2.5, "s", b"\x00\xff", None, True), {3, 4}, 1 + 2j],
           "counter": collections.Counter(a=2), "bytes": bytearray(b"ab")}
    obj["t"].note = "view"  # Python attributes travel through _rebuild_from_type_v2 / _with_state
    obj["p"].tag = 7
    torch.save(obj, tmp_path / "t.pt")
    got = torsh.load(tmp_path / "t.pt")
    assert got["t"].note == "view" and got["p"].tag == 7
    assert list(got["sd"]) == ["weight", "bias"] and got["sd"]._metadata == lin.state_dict()._metadata
    np.testing.assert_array_equal(got["sd"]["weight"].numpy(), lin.weight.detach().numpy())
    assert isinstance(got["p"], torsh.nn.Parameter) and got["p"].requires_grad
    assert got["t"].tolist() == [[1.0, 2.0], [4.0, 5.0]] and got["i"].dtype is torsh.int64
    assert got["dtype"] is torsh.float16 and got["size"] == (2, 3) and str(got["dev"]) == "cpu"
    assert got["nested"] == [(1, 2.5, "s", b"\x00\xff", None, True), {3, 4}, 1 + 2j]
    assert got["counter"] == collections.Counter(a=2) and got["bytes"] == bytearray(b"ab")


def test_files_written_by_torsh_load_in_torch(tmp_path):
    lin = torsh.nn.Linear(3, 2)
    torsh.save({"sd": lin.state_dict(), "p": torsh.nn.Parameter(torsh.ones(2)), "dtype": torsh.bfloat16,
                "c": collections.Counter(x=1)}, tmp_path / "s.pt")
    got = torch.load(tmp_path / "s.pt")  # weights_only by default
    np.testing.assert_array_equal(got["sd"]["bias"].numpy(), lin.bias.detach().numpy())
    assert isinstance(got["p"], torch.nn.Parameter) and got["dtype"] is torch.bfloat16
    assert got["c"] == collections.Counter(x=1)


NUMPY_GLOBALS = [np._core.multiarray._reconstruct, np.ndarray, np.dtype, type(np.dtype(np.float64)),
                 type(np.dtype(np.float32)), np._core.multiarray.scalar]


def test_numpy_values_follow_pytorchs_default_allowlist(tmp_path):
    """PyTorch 2.13 allows no NumPy global by default: a NumPy array saved with torch.save is refused
    with the same message, loads once its globals are allowlisted, and loads with weights_only=False."""
    obj = {"a": np.arange(3.0), "d": np.dtype("float32"), "s": np.float64(2.5)}
    torch.save(obj, tmp_path / "np.pt")
    for lib in (torsh, torch):
        with pytest.raises(pickle.UnpicklingError) as err:
            lib.load(tmp_path / "np.pt")
        assert "Unsupported global: GLOBAL numpy._core.multiarray._reconstruct was not an allowed global by " \
               "default. Please use `torch.serialization.add_safe_globals([numpy._core.multiarray._reconstruct])`" \
               in str(err.value)
    assert sorted(torsh.serialization.get_unsafe_globals_in_checkpoint(tmp_path / "np.pt")) == \
        sorted(torch.serialization.get_unsafe_globals_in_checkpoint(tmp_path / "np.pt"))
    for lib in (torsh, torch):
        before = lib.serialization.get_safe_globals()  # torch registers some of its own modules' globals
        with lib.serialization.safe_globals(NUMPY_GLOBALS):
            got = lib.load(tmp_path / "np.pt")
        np.testing.assert_array_equal(got["a"], np.arange(3.0))
        assert got["d"] == np.dtype("float32") and got["s"] == 2.5
        assert set(map(id, lib.serialization.get_safe_globals())) == set(map(id, before))
        got = lib.load(tmp_path / "np.pt", weights_only=False)
        np.testing.assert_array_equal(got["a"], np.arange(3.0))
    torsh.save({"w": np.ones(2)}, tmp_path / "ours.pt")
    assert torsh.serialization.get_unsafe_globals_in_checkpoint(tmp_path / "ours.pt") == \
        torch.serialization.get_unsafe_globals_in_checkpoint(tmp_path / "ours.pt")


class Point:
    def __init__(self, x):
        self.x = x


def test_safe_globals_api_matches_pytorch(tmp_path):
    torsh.save({"p": Point(3)}, tmp_path / "pt.pt")
    for lib in (torsh, torch):
        ser = lib.serialization
        registered = ser.get_safe_globals()  # torch registers some of its own modules' globals
        assert ser.get_unsafe_globals_in_checkpoint(tmp_path / "pt.pt") == [f"{__name__}.Point"]
        with pytest.raises(pickle.UnpicklingError, match=f"add_safe_globals\\(\\[{__name__}.Point\\]\\)"):
            lib.load(tmp_path / "pt.pt")
        ser.add_safe_globals([Point])
        try:
            assert Point in ser.get_safe_globals() and len(ser.get_safe_globals()) == len(registered) + 1
            assert ser.get_unsafe_globals_in_checkpoint(tmp_path / "pt.pt") == []
            assert lib.load(tmp_path / "pt.pt")["p"].x == 3
            with ser.safe_globals([Point]):
                pass
            assert Point not in ser.get_safe_globals()  # safe_globals removes its entries on exit
            ser.add_safe_globals([Point])
            ser.clear_safe_globals()
            assert ser.get_safe_globals() == []
        finally:
            ser.clear_safe_globals()
            ser.add_safe_globals(registered)
        with ser.safe_globals([(Point, f"{__name__}.Point")]):  # the (object, "full.name") form
            assert lib.load(tmp_path / "pt.pt")["p"].x == 3
        with ser.safe_globals([(Point, "other.Name")]):
            with pytest.raises(pickle.UnpicklingError):
                lib.load(tmp_path / "pt.pt")
        with ser.safe_globals([(Point, "a", "b")]):
            with pytest.raises(ValueError, match="Expected tuple of length 2"):
                lib.load(tmp_path / "pt.pt")
        assert sorted(map(repr, ser.get_safe_globals())) == sorted(map(repr, registered))


def test_allowlisting_blocked_modules_is_refused(tmp_path):
    data = _checkpoint(_pkl(_global("posix", "getpid"), b")R"))
    for lib in (torsh, torch):
        with lib.serialization.safe_globals([os.getpid]):
            with pytest.raises(pickle.UnpicklingError, match="whose module posix is blocked"):
                lib.load(io.BytesIO(data))


def test_allowlisted_class_gets_build_but_globals_stay_protected(tmp_path):
    """BUILD on an instance of an allowlisted class works (PyTorch), BUILD on the class itself does not."""
    torsh.save([Point(1)], tmp_path / "p.pt")
    on_class = _checkpoint(_pkl(_build_on(_global(__name__, "Point"), b"}" + _str("__init__") + b"Ns")))
    for lib in (torsh, torch):
        with lib.serialization.safe_globals([Point]):
            assert lib.load(tmp_path / "p.pt")[0].x == 1
            with pytest.raises(pickle.UnpicklingError, match="Can only build"):
                lib.load(io.BytesIO(on_class))
    assert Point.__init__ is not None and Point(2).x == 2


# ----------------------------------------------------------------------------- load's arguments and environment

@pytest.fixture
def numpy_checkpoint(tmp_path):
    torch.save({"a": np.arange(2)}, tmp_path / "np.pt")
    return tmp_path / "np.pt"


def _outcome(lib, path, **kw):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            lib.load(path, **kw)
            result = "loaded"
        except Exception as e:  # noqa: BLE001
            result = (type(e).__name__, str(e).split("\n")[0])
    return result, sorted({str(w.message) for w in caught if "TORCH_FORCE" in str(w.message)})


ENV_CASES = [
    ({}, {}),
    ({}, {"weights_only": False}),
    ({"TORCH_FORCE_WEIGHTS_ONLY_LOAD": "1"}, {"weights_only": False}),
    ({"TORCH_FORCE_WEIGHTS_ONLY_LOAD": "true"}, {}),
    ({"TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD": "1"}, {}),
    ({"TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD": "YES"}, {}),
    ({"TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD": "1"}, {"weights_only": True}),
    ({"TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD": "0"}, {}),
    ({"TORCH_FORCE_WEIGHTS_ONLY_LOAD": "1", "TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD": "1"}, {}),
    ({}, {"pickle_module": pickle}),
    ({}, {"pickle_module": pickle, "weights_only": True}),
    ({}, {"weights_only": True, "encoding": "latin1"}),
]


@pytest.mark.parametrize("env,kwargs", ENV_CASES, ids=[f"{e}-{k}" for e, k in ENV_CASES])
def test_weights_only_resolution_matches_pytorch(monkeypatch, numpy_checkpoint, env, kwargs):
    for name in ("TORCH_FORCE_WEIGHTS_ONLY_LOAD", "TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert _outcome(torsh, numpy_checkpoint, **kwargs) == _outcome(torch, numpy_checkpoint, **kwargs)


def test_pickle_load_args_warn_with_weights_only(numpy_checkpoint, tmp_path):
    torch.save({"w": torch.ones(1)}, tmp_path / "w.pt")
    for lib in (torsh, torch):
        with pytest.warns(UserWarning, match="pickle_load_args only works if `weights_only=False`."):
            lib.load(tmp_path / "w.pt", weights_only=True, encoding="utf-8")


# ----------------------------------------------------------------------------- atomic save

def _dir_listing(path):
    return sorted(os.listdir(path))


def _good_checkpoint(path):
    torsh.save({"w": torsh.arange(8.0)}, path)
    return path.read_bytes()


def _assert_previous_checkpoint_intact(path, before):
    assert path.read_bytes() == before
    assert torsh.load(path)["w"].tolist() == list(range(8))
    assert _dir_listing(path.parent) == [path.name], "a temporary file was left behind"


def test_failed_write_keeps_previous_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.pt"
    before = _good_checkpoint(path)
    real_write_zip = torsh.serialization._write_zip

    def write_then_fail(out, prefix, records):
        real_write_zip(io.BytesIO(), prefix, records)
        out.write(b"PK\x03\x04 partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(torsh.serialization, "_write_zip", write_then_fail)
    with pytest.raises(OSError) as err:
        torsh.save({"w": torsh.zeros(10000)}, path)
    assert err.value.errno == errno.ENOSPC
    monkeypatch.undo()
    _assert_previous_checkpoint_intact(path, before)


def test_failed_fsync_keeps_previous_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.pt"
    before = _good_checkpoint(path)

    def failing_fsync(fd):
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(torsh.serialization.os, "fsync", failing_fsync)
    with pytest.raises(OSError, match="Input/output error"):
        torsh.save({"w": torsh.zeros(3)}, path)
    monkeypatch.undo()
    _assert_previous_checkpoint_intact(path, before)


def test_pickling_error_keeps_previous_checkpoint(tmp_path):
    path = tmp_path / "ckpt.pt"
    before = _good_checkpoint(path)
    unpicklable = {"w": torsh.zeros(3), "f": lambda: 0}  # a local lambda: PyTorch fails on it too
    with pytest.raises((pickle.PicklingError, AttributeError)):
        torsh.save(unpicklable, path)
    with pytest.raises((pickle.PicklingError, AttributeError)):
        torch.save({"f": unpicklable["f"]}, io.BytesIO())
    _assert_previous_checkpoint_intact(path, before)


def _mount_tmpfs(directory, size):
    try:
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(directory)],
                              capture_output=True, text=True)
    except OSError as e:
        return str(e)
    return None if done.returncode == 0 else done.stderr.strip() or f"mount exited with {done.returncode}"


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="mounting a tmpfs needs root")
def test_full_disk_keeps_previous_checkpoint(tmp_path):
    mnt = tmp_path / "small"
    mnt.mkdir()
    why_not = _mount_tmpfs(mnt, "64k")
    if why_not is not None:
        pytest.skip(f"mount is not permitted here ({why_not}); the injected-ENOSPC test still runs")
    try:
        path = mnt / "ckpt.pt"
        before = _good_checkpoint(path)
        with pytest.raises(OSError) as err:
            torsh.save({"w": torsh.zeros(40000)}, path)  # 160 KB: the 64 KB file system fills up
        assert err.value.errno == errno.ENOSPC
        _assert_previous_checkpoint_intact(path, before)
        torsh.save({"w": torsh.arange(8.0)}, path)  # space was given back: saving again works
        assert torsh.load(path)["w"].tolist() == list(range(8))
    finally:
        subprocess.run(["umount", str(mnt)], check=False)


def test_save_to_file_objects_and_paths_as_before(tmp_path):
    buf = io.BytesIO()
    buf.write(b"head")
    torsh.save({"w": torsh.ones(2)}, buf)  # written at the current position, as torch.save
    assert torsh.load(io.BytesIO(buf.getvalue()[4:]))["w"].tolist() == [1.0, 1.0]

    class WriteOnly:
        def __init__(self):
            self.chunks = []

        def write(self, data):
            self.chunks.append(bytes(data))
            return len(data)

    sink = WriteOnly()
    torsh.save([torsh.zeros(3)], sink)
    assert torch.load(io.BytesIO(b"".join(sink.chunks)))[0].tolist() == [0.0, 0.0, 0.0]
    with open(tmp_path / "f.pt", "wb") as fh:
        torsh.save({"x": 1}, fh)
    assert torsh.load(tmp_path / "f.pt") == {"x": 1}
    torsh.save({"x": 2}, str(tmp_path / "s.pt"))
    assert torch.load(str(tmp_path / "s.pt")) == {"x": 2}


def test_saved_file_mode_and_symlinks_like_torch(tmp_path):
    torch.save({"x": 1}, tmp_path / "torch.pt")
    torsh.save({"x": 1}, tmp_path / "torsh.pt")
    assert os.stat(tmp_path / "torsh.pt").st_mode == os.stat(tmp_path / "torch.pt").st_mode
    os.chmod(tmp_path / "torsh.pt", 0o640)
    torsh.save({"x": 2}, tmp_path / "torsh.pt")  # an existing file keeps its permissions
    assert os.stat(tmp_path / "torsh.pt").st_mode & 0o777 == 0o640
    os.symlink(tmp_path / "torsh.pt", tmp_path / "link.pt")
    torsh.save({"x": 3}, tmp_path / "link.pt")  # written through the link, as open(path, "wb") would
    assert os.path.islink(tmp_path / "link.pt") and torch.load(tmp_path / "torsh.pt") == {"x": 3}
    assert sorted(os.listdir(tmp_path)) == ["link.pt", "torch.pt", "torsh.pt"]


def test_safetensors_save_file_is_atomic_and_interoperable(tmp_path, monkeypatch):
    from safetensors.torch import load_file as torch_load_file

    from torsh.utils import safetensors as st
    path = tmp_path / "w.safetensors"
    st.save_file({"w": torsh.arange(4.0)}, path)
    before = path.read_bytes()
    assert torch_load_file(str(path))["w"].tolist() == [0.0, 1.0, 2.0, 3.0]

    def failing_fsync(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(torsh.serialization.os, "fsync", failing_fsync)
    with pytest.raises(OSError, match="No space left"):
        st.save_file({"w": torsh.zeros(1000)}, path)
    monkeypatch.undo()
    assert path.read_bytes() == before and _dir_listing(tmp_path) == ["w.safetensors"]
    with pytest.raises(TypeError):  # an invalid entry fails before the file is touched
        st.save_file({"w": "not a tensor"}, path)
    assert path.read_bytes() == before


def test_missing_parent_directory_error_like_torch(tmp_path):
    for lib in (torsh, torch):
        with pytest.raises(RuntimeError, match=f"^Parent directory {tmp_path / 'missing'} does not exist.$"):
            lib.save({"x": 1}, tmp_path / "missing" / "c.pt")
    assert os.listdir(tmp_path) == []
