"""torch.UntypedStorage / TypedStorage / FloatStorage & co, Tensor.storage() / untyped_storage() / set_, and storages
through torch.save / pickle, each checked against PyTorch (the reference wheel)."""
import copy
import io
import pickle
import warnings

import numpy as np
import pytest
import torch

import torsh

LIBS = [torch, torsh]


def outcome(fn):
    """(exception type name, message) or ('ok', repr-able value) of fn()."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return "ok", fn()
    except Exception as e:  # noqa: BLE001  (compared between the two libraries)
        return type(e).__name__, str(e)


def same(fn, convert=lambda v: v):
    want, got = outcome(lambda: convert(fn(torch))), outcome(lambda: convert(fn(torsh)))
    assert got == want
    return got


# -- untyped storages of tensors: a view of the memory ----------------------------------------------------------------
def test_untyped_storage_views_the_tensors_memory():
    for lib in LIBS:
        t = lib.arange(6.)
        view = t[2:]
        s = t.untyped_storage()
        assert isinstance(s, lib.UntypedStorage) and lib.is_storage(s) and not lib.is_storage(t)
        assert view.untyped_storage() is s and view.detach().untyped_storage() is s  # one object per storage
        assert s.nbytes() == s.size() == len(s) == 24 and s.element_size() == 1
        assert s.data_ptr() == t.data_ptr() == view.untyped_storage().data_ptr()
        assert view.data_ptr() == s.data_ptr() + view.storage_offset() * view.element_size()
        assert str(s.device) == "cpu" and not s.is_cuda
        s[8] = 0  # float 2.0 = 00 00 00 40: its top byte cleared
        s[11] = 0
        assert t.tolist() == [0.0, 1.0, 0.0, 3.0, 4.0, 5.0]


def test_untyped_storage_elements_and_repr_match_pytorch():
    same(lambda lib: lib.arange(3, dtype=lib.uint8).untyped_storage().tolist())
    same(lambda lib: repr(lib.arange(3, dtype=lib.uint8).untyped_storage()))
    same(lambda lib: str(lib.tensor([1.0, 2.0]).untyped_storage()))
    same(lambda lib: repr(lib.tensor([]).untyped_storage()))
    same(lambda lib: lib.tensor([1.0, 2.0]).untyped_storage()[7])
    same(lambda lib: lib.tensor([1.0, 2.0]).untyped_storage()[-1])
    same(lambda lib: lib.tensor([1.0, 2.0]).untyped_storage()[1:4].tolist())
    same(lambda lib: lib.tensor([1.0, 2.0]).untyped_storage()[100])
    same(lambda lib: lib.tensor([1.0, 2.0]).untyped_storage().type())
    same(lambda lib: lib.tensor([1.0, 2.0]).untyped_storage().is_shared())
    same(lambda lib: lib.tensor([1.0, 2.0]).untyped_storage().is_pinned())
    same(lambda lib: lib.tensor([1.0, 2.0]).untyped_storage().get_device())


def test_untyped_storage_constructor_fill_copy_clone():
    same(lambda lib: lib.UntypedStorage(7).nbytes())
    same(lambda lib: lib.UntypedStorage([1, 2, 250]).tolist())
    same(lambda lib: lib.UntypedStorage().nbytes())
    same(lambda lib: lib.UntypedStorage(-1))
    same(lambda lib: lib.UntypedStorage(3).fill_(5).tolist())
    same(lambda lib: lib.UntypedStorage(3).copy_(lib.UntypedStorage([1, 2, 3])).tolist())
    same(lambda lib: lib.zeros(3).untyped_storage().copy_(lib.UntypedStorage(3)))
    same(lambda lib: lib.UntypedStorage(4).copy_(lib.tensor([1, 2], dtype=lib.int16).storage()).tolist())
    for lib in LIBS:
        t = lib.arange(4.)
        s = t.untyped_storage()
        c = s.clone()
        assert c.data_ptr() != s.data_ptr() and c.tolist() == s.tolist() and s.cpu() is s
        s.fill_(0)
        assert t.tolist() == [0.0] * 4 and c.tolist() != s.tolist()
        assert copy.deepcopy(s).tolist() == s.tolist()


def test_resize_grows_a_new_storage_and_refuses_borrowed_memory():
    same(lambda lib: lib.frombuffer(bytearray(8), dtype=lib.float32).untyped_storage().resize_(10))
    same(lambda lib: lib.frombuffer(bytearray(8), dtype=lib.float32).storage().resize_(10))
    same(lambda lib: lib.UntypedStorage(4).resize_(8).nbytes())
    same(lambda lib: lib.UntypedStorage([1, 2, 3, 4]).resize_(2).tolist())
    same(lambda lib: lib.UntypedStorage([1, 2]).resize_(4)[:2].tolist())
    same(lambda lib: lib.FloatStorage([1, 2]).resize_(3))
    for lib in LIBS:  # the tensor keeps its values and size; its storage reports the new size
        t = lib.zeros(3)
        t.untyped_storage().resize_(24)
        assert t.tolist() == [0.0] * 3 and t.untyped_storage().nbytes() == 24


# -- typed storages ---------------------------------------------------------------------------------------------------
def test_tensor_storage_warns_as_pytorch_and_is_typed():
    messages = {}
    for lib in LIBS:
        torsh._storage._reset_warn_typed_storage_removal()
        torch.storage._warn_typed_storage_removal.__dict__["has_warned"] = False
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            ts = lib.arange(6.).storage()
            lib.arange(2.).storage()  # once per process
        messages[lib] = [(w.category, str(w.message)) for w in caught]
        assert type(ts) is lib.TypedStorage and isinstance(ts, lib.FloatStorage)
        assert not isinstance(ts, lib.DoubleStorage)
        assert ts.dtype is lib.float32 and ts.size() == len(ts) == 6 and ts.nbytes() == 24
        assert ts.element_size() == 4 and str(ts.device) == "cpu"
        assert ts._untyped_storage is ts.untyped() and ts.pickle_storage_type() == "FloatStorage"
    assert messages[torsh] == messages[torch] and len(messages[torch]) == 1


def test_typed_storage_elements_match_pytorch():
    for dtype in ("float32", "float64", "int64", "int32", "int16", "int8", "uint8", "bool", "complex64", "float16"):
        same(lambda lib: lib.arange(4).to(getattr(lib, dtype)).storage().tolist())
        same(lambda lib: lib.arange(4).to(getattr(lib, dtype)).storage()[1])
        same(lambda lib: repr(lib.arange(3).to(getattr(lib, dtype)).storage()))
        same(lambda lib: lib.arange(3).to(getattr(lib, dtype)).storage().type())
    same(lambda lib: lib.arange(4.).storage()[1:3])
    same(lambda lib: lib.arange(4.).storage()[10])
    same(lambda lib: lib.arange(4.).storage()[-1])
    same(lambda lib: lib.arange(4.).storage()["a"])
    same(lambda lib: lib.arange(4.).storage().__setitem__(10, 1.0))
    same(lambda lib: lib.arange(4.).storage().float().tolist())
    same(lambda lib: lib.arange(4.).storage().double().dtype, lambda d: str(d).replace("torsh", "torch"))
    same(lambda lib: lib.arange(4.).storage().long().tolist())


def test_typed_storage_writes_show_in_the_tensor():
    for lib in LIBS:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t = lib.arange(6.)
            ts = t[2:].storage()  # the whole storage, from any view
            ts[0] = 42
            ts[-1] = 7
            assert t.tolist() == [42.0, 1.0, 2.0, 3.0, 4.0, 7.0]
            ts.fill_(2)
            assert t.tolist() == [2.0] * 6
            ts.copy_(lib.FloatStorage([1, 2, 3, 4, 5, 6]))
            assert t.tolist() == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
            assert ts.data_ptr() == t.data_ptr() and ts.clone().data_ptr() != t.data_ptr()
    same(lambda lib: lib.arange(6.).storage().copy_(lib.DoubleStorage(6)))
    same(lambda lib: lib.arange(6.).storage().copy_(lib.FloatStorage(3)))


def test_legacy_storage_constructors():
    same(lambda lib: lib.FloatStorage(5).size())
    same(lambda lib: type(lib.FloatStorage(5)).__name__)
    same(lambda lib: lib.FloatStorage([1, 2, 3]).tolist())
    same(lambda lib: lib.LongStorage([1, 2, 3]).tolist())
    same(lambda lib: lib.BoolStorage([1, 0]).tolist())
    same(lambda lib: lib.FloatStorage(-1))
    same(lambda lib: repr(lib.DoubleStorage), lambda r: r.replace("torsh", "torch"))
    same(lambda lib: lib.Storage is lib.FloatStorage)
    same(lambda lib: lib.FloatStorage.dtype, lambda d: str(d).replace("torsh", "torch"))
    same(lambda lib: lib.TypedStorage(3, dtype=lib.int64).size())
    same(lambda lib: isinstance(lib.FloatStorage(2), lib.TypedStorage))
    same(lambda lib: lib.zeros(2, dtype=lib.int16).storage_type().__name__)


# -- set_ on a storage ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("typed", [False, True])
def test_set_on_a_storage_views_its_memory(typed):
    for lib in LIBS:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            base = lib.arange(6.)
            storage = base.storage() if typed else base.untyped_storage()
            t = lib.tensor([]).set_(storage, 1, (2, 2), (2, 1))
            assert t.tolist() == [[1.0, 2.0], [3.0, 4.0]] and t.storage_offset() == 1
            assert t.untyped_storage().data_ptr() == base.data_ptr()
            base[1] = 9
            assert t[0, 0].item() == 9
            assert lib.tensor([]).set_(storage).tolist() == base.tolist()
    same(lambda lib: lib.tensor([], dtype=lib.int64).set_(lib.arange(6.).storage()))
    same(lambda lib: lib.tensor([], dtype=lib.int32).set_(lib.arange(2.).untyped_storage()).tolist())
    same(lambda lib: lib.tensor([], dtype=lib.int16).set_(lib.arange(2.).untyped_storage(), 1, (1, 3)).tolist())
    same(lambda lib: lib.tensor([]).set_(lib.frombuffer(bytearray(8), dtype=lib.float32).untyped_storage(), 1, (3,)))
    for lib in LIBS:  # a storage too small grows (its new elements uninitialised)
        s = lib.arange(6.).untyped_storage()
        assert lib.tensor([]).set_(s, 1, (3, 3), (3, 1)).shape == (3, 3) and s.nbytes() == 40


# -- torch.save / load and pickle -------------------------------------------------------------------------------------
def _round_trip(lib, obj, **kw):
    buffer = io.BytesIO()
    lib.save(obj, buffer)
    buffer.seek(0)
    return lib.load(buffer, **kw)


@pytest.mark.parametrize("weights_only", [False, True])
def test_storages_save_and_load_as_pytorch(weights_only):
    def describe(x):
        typed = isinstance(x, (torch.TypedStorage, torsh.TypedStorage))
        return typed, str(x.dtype).replace("torsh", "torch"), x.tolist()
    for make in (lambda lib: lib.arange(4.).untyped_storage(), lambda lib: lib.arange(4.).storage(),
                 lambda lib: lib.tensor([1, 2], dtype=lib.int16).storage()):
        same(lambda lib: describe(_round_trip(lib, make(lib), weights_only=weights_only)))
    for lib in LIBS:  # a storage saved beside its tensor: one record, the memory still shared after loading
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t = lib.arange(4.)
            got = _round_trip(lib, {"t": t[1:], "s": t.storage()}, weights_only=weights_only)
            got["s"][1] = 7.0
            assert got["t"].tolist() == [7.0, 2.0, 3.0]


def test_torsh_checkpoint_of_a_storage_loads_in_pytorch():
    buffer = io.BytesIO()
    torsh.save({"u": torsh.arange(3.).untyped_storage(), "f": torsh.arange(3.).storage()}, buffer)
    buffer.seek(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = torch.load(buffer)
    assert got["f"].dtype is torch.float32 and got["f"].tolist() == [0.0, 1.0, 2.0]
    assert got["u"].dtype is torch.uint8 and got["u"].tolist() == list(np.arange(3.0, dtype=np.float32).view(np.uint8))


def test_storages_pickle_and_deepcopy():
    u = pickle.loads(pickle.dumps(torsh.arange(3.).untyped_storage()))  # (PyTorch 2.13 fails to unpickle it)
    assert isinstance(u, torsh.UntypedStorage) and u.tolist() == list(np.arange(3.0, dtype=np.float32).view(np.uint8))
    for lib in LIBS:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            f = pickle.loads(pickle.dumps(lib.arange(3.).storage()))
            assert isinstance(f, lib.FloatStorage) and f.tolist() == [0.0, 1.0, 2.0]
            assert copy.deepcopy(f).tolist() == [0.0, 1.0, 2.0]


def test_storage_base_is_not_constructible():
    same(lambda lib: lib.StorageBase())
    assert issubclass(torsh.UntypedStorage, torsh.StorageBase)


# -- hostile input: PyTorch's exception (type, and text where torsh words it the same) --------------------------------
@pytest.mark.parametrize("call, same_text", [
    (lambda lib: lib.UntypedStorage([300, -1]).tolist(), True), (lambda lib: lib.UntypedStorage("abc"), True),
    (lambda lib: lib.UntypedStorage(2.5), True), (lambda lib: lib.UntypedStorage(None), True),
    (lambda lib: lib.UntypedStorage(3, device="cuda"), True), (lambda lib: lib.UntypedStorage(1, 2), False),
    (lambda lib: lib.FloatStorage([1, "a"]), True), (lambda lib: lib.FloatStorage(2.5), False),
    (lambda lib: lib.LongStorage([1.5]).tolist(), True), (lambda lib: lib.BoolStorage([2]).tolist(), True),
    (lambda lib: lib.FloatStorage([[1, 2]]).tolist(), True),
    (lambda lib: lib.UntypedStorage(3)[True], True), (lambda lib: lib.UntypedStorage(3)[1.0], True),
    (lambda lib: lib.UntypedStorage(3).__setitem__(0, 300), True), (lambda lib: lib.UntypedStorage(3).__setitem__(5, 1), True),
    (lambda lib: lib.UntypedStorage(3).fill_(256).tolist(), True), (lambda lib: lib.UntypedStorage(3).fill_(1.5), True),
    (lambda lib: lib.UntypedStorage(3).resize_(-1), True), (lambda lib: lib.UntypedStorage(3).copy_(lib.ones(3)), True),
    (lambda lib: lib.FloatStorage(3).__setitem__("a", 1), True), (lambda lib: lib.FloatStorage(3).__setitem__(0, "x"), True),
    (lambda lib: lib.FloatStorage(3).fill_("a"), True), (lambda lib: lib.FloatStorage(3).resize_(-1), True),
    (lambda lib: lib.tensor([]).set_(lib.FloatStorage(3), -1, (2,)), True),
    (lambda lib: lib.tensor([]).set_(lib.FloatStorage(3), 0, (-1,)), True),
    (lambda lib: lib.tensor([]).set_(lib.FloatStorage(3), 0, (2,), (-1,)), True),
    (lambda lib: lib.tensor([]).set_(lib.UntypedStorage(3)).shape, True), (lambda lib: lib.tensor([]).set_("x"), False),
    (lambda lib: lib.TypedStorage(3, dtype=lib.float32, device="cuda"), True),
    (lambda lib: lib.TypedStorage(wrap_storage=3, dtype=lib.float32), False),
    (lambda lib: lib.TypedStorage(3, wrap_storage=lib.UntypedStorage(4), dtype=lib.float32), False),
])
def test_hostile_storage_input_fails_as_pytorch(call, same_text):
    got, want = outcome(lambda: call(torsh)), outcome(lambda: call(torch))
    assert got[0] == want[0]
    if same_text:
        assert got == want
    for lib in LIBS:  # nothing half-built: a fresh storage still works
        assert lib.UntypedStorage([1, 2]).tolist() == [1, 2]


@pytest.mark.parametrize("call", [
    lambda lib: lib.empty(3, device="meta").untyped_storage().nbytes(),
    lambda lib: str(lib.empty(3, device="meta").untyped_storage().device),
    lambda lib: lib.empty(3, device="meta").untyped_storage().data_ptr(),
    lambda lib: lib.empty(2, 3, device="meta").t().untyped_storage().nbytes(),
    lambda lib: repr(lib.empty(3, device="meta").untyped_storage()),
    lambda lib: lib.empty(3, device="meta").untyped_storage()[0],
    lambda lib: repr(lib.empty(3, device="meta").storage()),
    lambda lib: lib.empty(3, device="meta").storage().size(),
])
def test_meta_tensor_storage_has_a_size_and_no_data(call):
    assert outcome(lambda: call(torsh)) == outcome(lambda: call(torch))


def test_legacy_constructor_of_a_storage_views_it():
    for lib in LIBS:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            s = lib.FloatStorage([1, 2])
            t = lib.FloatTensor(s)
            assert t.tolist() == [1.0, 2.0] and t.data_ptr() == s.data_ptr()
            s[0] = 5
            assert t[0].item() == 5 and lib.tensor(s).tolist() == [5.0, 2.0]
            with pytest.raises(RuntimeError, match="Expected a Storage of type"):
                lib.LongTensor(s)


@pytest.mark.parametrize("call", [
    lambda lib: lib.QInt8Storage([1, -2]).tolist(), lambda lib: repr(lib.QInt8Storage([1, 2])),
    lambda lib: lib.QInt32Storage([1, 2]).tolist(), lambda lib: lib.QUInt8Storage(3).element_size(),
    lambda lib: str(lib.QUInt4x2Storage(2).dtype).split(".")[-1], lambda lib: lib.QInt8Storage(3).pickle_storage_type(),
    lambda lib: isinstance(lib.QInt8Storage(1), lib.QInt8Storage), lambda lib: isinstance(lib.QInt8Storage(1), lib.CharStorage),
])
def test_quantized_storage_classes(call):
    assert outcome(lambda: call(torsh)) == outcome(lambda: call(torch))
