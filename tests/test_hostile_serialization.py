"""torsh.load on hostile and malformed checkpoints, against PyTorch 2.13: tensor geometry in the pickle,
the zip container's layout, storage locations and map_location, pickles cut anywhere, and the legacy
(pre-1.6, non-zip) format. Every case loads the same bytes with both libraries and compares the outcome:
the exception type and message, or the loaded values. (Malicious globals and BUILD tricks:
test_serialization_safety.py.)"""
import io
import pickle
import struct
import warnings
import zipfile

import numpy as np
import pytest

import torsh
from helpers import needs_torch, torch_ref as torch
from test_serialization_safety import FOUR_FLOATS, _checkpoint, _pkl, _str, _tensor, fingerprint

pytestmark = needs_torch


def _outcome(lib, data, **kwargs):
    """("ok", values) or (exception type name, message) of lib.load(data)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            out = lib.load(io.BytesIO(data), **kwargs)
        except Exception as e:  # noqa: BLE001 - compared with PyTorch's below
            return type(e), str(e)
    return "ok", _plain(out)


def _plain(obj):
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_plain(v) for v in obj)
    if hasattr(obj, "tolist"):
        return (str(obj.dtype).split(".")[-1], obj.tolist())
    return obj


def _assert_same_outcome(data, **kwargs):
    before = fingerprint()
    ours, ref = _outcome(torsh, data, **kwargs), _outcome(torch, data, **kwargs)
    assert fingerprint() == before, "torsh's global state changed"
    if ref[0] == "ok":
        assert ours == ref
        return
    assert ours[0] != "ok", f"torsh loaded what PyTorch refuses ({ref[0].__name__}: {ref[1]})"
    assert issubclass(ours[0], ref[0]), f"torsh raised {ours[0].__name__}: {ours[1]}\nPyTorch {ref[0].__name__}: {ref[1]}"
    assert ours[1] == ref[1]


# ----------------------------------------------------------------------------- tensor geometry

GEOMETRY = {
    "negative-offset": dict(offset=-1),
    "negative-size": dict(size=(-1,)),
    "negative-size-2d": dict(size=(2, -1), stride=(1, 1)),
    "negative-stride": dict(size=(2,), stride=(-1,)),  # would read before the offset
    "negative-stride-2d": dict(size=(2, 2), stride=(-2, 1), offset=2),
    "size-stride-lengths": dict(size=(2, 2), stride=(1,)),
    "negative-stride-size-one": dict(size=(1,), stride=(-1,)),  # PyTorch accepts: one element
    "empty-far-offset": dict(size=(0,), offset=100),
}


@pytest.mark.parametrize("geometry", GEOMETRY.values(), ids=GEOMETRY.keys())
def test_tensor_geometry_is_checked_as_pytorchs_set_(geometry):
    _assert_same_outcome(_checkpoint(_pkl(_tensor(**geometry)), FOUR_FLOATS))


# ----------------------------------------------------------------------------- the zip container

def _torch_checkpoint():
    buf = io.BytesIO()
    torch.save({"w": torch.arange(3.0)}, buf)
    with zipfile.ZipFile(io.BytesIO(buf.getvalue())) as z:
        return [(info.filename, z.read(info)) for info in z.infolist()]


def _rezip(change):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in change(_torch_checkpoint()):
            z.writestr(name, data)
    return buf.getvalue()


def _replace(suffix, data):
    return lambda entries: [(n, data if n.endswith(suffix) else d) for n, d in entries]


def _drop(suffix):
    return lambda entries: [(n, d) for n, d in entries if not n.endswith(suffix)]


ARCHIVES = {
    "first-record-in-no-folder": lambda e: [("junk", b"x")] + e,
    "record-outside-the-folder": lambda e: e + [("other/data.pkl", _pkl(b"K\x05"))],
    "top-level-record": lambda e: e + [("x", b"x")],
    "no-version": _drop("/version"),
    "no-data-pkl": _drop("data.pkl"),
    "no-byteorder": _drop("/byteorder"),  # loads, little-endian
    "unknown-byteorder": _replace("/byteorder", b"middle"),
    "version-too-new": _replace("/version", b"11\n"),
    "version-zero": _replace("/version", b"0\n"),
    "version-not-a-number": _replace("/version", b"abc"),
    "version-with-spaces": _replace("/version", b" 3\n"),  # loads
    "dot-dot-names": lambda e: [(n.replace("archive/", "archive/../"), d) for n, d in e],
}


@pytest.mark.parametrize("change", ARCHIVES.values(), ids=ARCHIVES.keys())
def test_archive_layout_is_checked_as_pytorchs_reader(change):
    _assert_same_outcome(_rezip(change))


# ----------------------------------------------------------------------------- locations

LOCATIONS = ["cuda", "cuda:1", "xpu", "hpu:0", "mps", "cpu:0", "CPU", "bogus", torch.device("cuda"),
             {"cpu": "cuda"}, {"cpu": "evil"}, {"cuda:0": "cpu"}, 3]


@pytest.mark.parametrize("map_location", LOCATIONS, ids=[repr(m) for m in LOCATIONS])
def test_map_location_errors_are_pytorchs(map_location):
    data = _checkpoint(_pkl(_tensor()), FOUR_FLOATS)
    if isinstance(map_location, torch.device):
        ours, ref = _outcome(torsh, data, map_location=torsh.device(str(map_location))), \
            _outcome(torch, data, map_location=map_location)
        assert ours[0] is not "ok" and issubclass(ours[0], ref[0]) and ours[1] == ref[1]
        return
    _assert_same_outcome(data, map_location=map_location)


@pytest.mark.parametrize("location", ["cuda:0", "evil", "mps"])
def test_saved_location_errors_are_pytorchs(location):
    data = _checkpoint(_pkl(_tensor()).replace(_str("cpu"), _str(location)), FOUR_FLOATS)
    _assert_same_outcome(data)
    _assert_same_outcome(data, map_location="cpu")
    _assert_same_outcome(data, map_location=lambda storage, loc: storage)
    _assert_same_outcome(data, map_location=lambda storage, loc: None)  # None: restore where it was saved


# ----------------------------------------------------------------------------- cut pickles

@pytest.mark.parametrize("pkl", [_pkl(_tensor()), _pkl(b"]" + _str("abc") + b"K\x05J\x00\x01\x00\x00e")],
                         ids=["tensor", "list"])
@pytest.mark.parametrize("weights_only", [True, False])
def test_every_cut_of_a_pickle_fails_as_in_pytorch(pkl, weights_only):
    for cut in range(len(pkl)):
        _assert_same_outcome(_checkpoint(pkl[:cut], FOUR_FLOATS), weights_only=weights_only)


@pytest.mark.parametrize("pkl", [b"\x80\x02h\x05.", b"\x80\x02\x96" + struct.pack("<Q", 2 ** 60) + b".",
                                 b"\x80\x02X" + struct.pack("<I", 2 ** 31) + b"ab.", b"\xff\xff", b"\x80\x02K\x01"],
                         ids=["bad-memo-index", "bytearray8-unsupported", "string-longer-than-data", "garbage",
                              "no-stop"])
def test_malformed_pickles_fail_as_in_pytorch(pkl):
    _assert_same_outcome(_checkpoint(pkl, FOUR_FLOATS))


# ----------------------------------------------------------------------------- legacy format

def _legacy_file(obj):
    buf = io.BytesIO()
    torch.save(obj, buf, _use_new_zipfile_serialization=False)
    return buf.getvalue()


LEGACY_OBJECTS = {
    "tensors": lambda: {"w": torch.arange(6.0).reshape(2, 3), "n": 3, "b": torch.tensor([True, False]),
                        "i": torch.arange(5, dtype=torch.int16)[1:4]},
    "views-of-one-storage": lambda: [torch.arange(8.0)[2:6], torch.arange(4).view(2, 2).t()],
    "state-dict": lambda: __import__("collections").OrderedDict(weight=torch.ones(2, 2, dtype=torch.float64)),
}


@pytest.mark.parametrize("make", LEGACY_OBJECTS.values(), ids=LEGACY_OBJECTS.keys())
@pytest.mark.parametrize("weights_only", [True, False])
def test_legacy_format_loads_as_in_pytorch(make, weights_only):
    _assert_same_outcome(_legacy_file(make()), weights_only=weights_only)


def test_legacy_tensors_sharing_a_storage_share_memory():
    a = torch.arange(6.0)
    loaded = torsh.load(io.BytesIO(_legacy_file([a, a[2:4]])))
    loaded[0][2] = 100.0
    assert loaded[1].tolist() == [100.0, 3.0]


def test_hostile_legacy_files_fail_as_in_pytorch():
    good = _legacy_file({"w": torch.arange(4.0)})
    for cut in range(0, len(good), 7):
        _assert_same_outcome(good[:cut])
    magic = pickle.dumps(0x1950A86A20F9469CFC6C, protocol=2)
    for data in (b"hello", magic + b"junk", magic + pickle.dumps(999, protocol=2),
                 pickle.dumps(5, protocol=2), b"", good.replace(pickle.dumps(1001, protocol=2), pickle.dumps(7, protocol=2), 1)):
        _assert_same_outcome(data)
        _assert_same_outcome(data, weights_only=False)


def test_legacy_storage_larger_than_the_file_allocates_nothing():
    good = _legacy_file({"w": torch.arange(4.0)})
    forged = good.replace(b"K\x04N", b"\x8a\x08" + (2 ** 60).to_bytes(8, "little") + b"N", 1)
    assert forged != good
    with pytest.raises(RuntimeError, match="more than the file's"):
        torsh.load(io.BytesIO(forged))
    ref = _outcome(torch, forged)
    assert ref[0] is not "ok" and issubclass(ref[0], RuntimeError)


def test_legacy_file_refuses_mmap_like_pytorch(tmp_path):
    path = tmp_path / "legacy.pt"
    path.write_bytes(_legacy_file({"w": torch.ones(2)}))
    for lib in (torsh, torch):
        with pytest.raises(RuntimeError, match=r"mmap can only be used with files saved with `torch.save\(" +
                           str(path).replace(".", r"\.") + ", _use_new_zipfile_serialization=True\\)"):
            lib.load(str(path), mmap=True)


def test_legacy_file_with_a_malicious_global_is_refused():
    evil = _legacy_file({"w": torch.ones(2)}).replace(b"ctorch\nFloatStorage\n", b"cposix\nsystem\n", 1)
    before = fingerprint()
    _assert_same_outcome(evil)
    assert fingerprint() == before
