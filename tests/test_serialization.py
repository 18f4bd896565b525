"""torsh.save / torsh.load in PyTorch's zip format: round trips both ways, sharing, safety."""
import collections
import io
import os
import pickle
import zipfile

import numpy as np
import pytest

import torsh
from helpers import ALL_DTYPES, assert_close, make_array, needs_torch, torch_ref as torch

pytestmark = needs_torch


def _torsh_tensor(dtype, shape=(3, 4), seed=0):
    arr = make_array(shape, dtype, seed=seed)
    return torsh.tensor(arr).to(getattr(torsh, dtype))


def _torch_from(t):
    arr = t.float().numpy() if t.dtype is torsh.bfloat16 else t.numpy()
    out = torch.tensor(np.array(arr))
    return out.to(getattr(torch, str(t.dtype).split(".")[-1]))


@pytest.mark.parametrize("dtype", ALL_DTYPES)
def test_torsh_to_torch_every_dtype(tmp_path, dtype):
    t = _torsh_tensor(dtype)
    torsh.save({"t": t}, tmp_path / "a.pt")
    back = torch.load(tmp_path / "a.pt", weights_only=True)["t"]
    assert str(back.dtype) == f"torch.{dtype}"
    assert tuple(back.shape) == (3, 4) and back.stride() == (4, 1)
    assert torch.equal(back, _torch_from(t))


@pytest.mark.parametrize("dtype", ALL_DTYPES)
def test_torch_to_torsh_every_dtype(tmp_path, dtype):
    ref = torch.tensor(make_array((2, 5), dtype if dtype != "bfloat16" else "float32", seed=1))
    ref = ref.to(getattr(torch, dtype))
    torch.save([ref], tmp_path / "b.pt")
    ours = torsh.load(tmp_path / "b.pt")[0]
    assert ours.dtype is getattr(torsh, dtype)
    expected = ref.float() if dtype == "bfloat16" else ref
    got = ours.float() if dtype == "bfloat16" else ours
    assert_close(got, expected, rtol=0, atol=0)


def test_views_share_storage_torsh_to_torch(tmp_path):
    base = torsh.arange(24, dtype=torsh.float32).reshape(4, 6)
    view = base[1:, 2:].t()
    row = base[2]
    torsh.save({"base": base, "view": view, "row": row}, tmp_path / "v.pt")
    got = torch.load(tmp_path / "v.pt", weights_only=True)
    assert got["view"].untyped_storage().data_ptr() == got["base"].untyped_storage().data_ptr()
    assert got["view"].stride() == (1, 6) and got["view"].storage_offset() == 8
    assert got["row"].storage_offset() == 12
    np.testing.assert_array_equal(got["view"].numpy(), view.numpy())
    got["base"][3, 3] = -1.0
    assert got["view"][1, 2].item() == -1.0 and got["row"].tolist() == list(range(12, 18))


def test_sharing_survives_torch_to_torsh_to_torch(tmp_path):
    base = torch.arange(10.0)
    torch.save([base, base[3:7], base[::2]], tmp_path / "a.pt")
    torsh.save(torsh.load(tmp_path / "a.pt"), tmp_path / "b.pt")
    back = torch.load(tmp_path / "b.pt", weights_only=True)
    assert len({t.untyped_storage().data_ptr() for t in back}) == 1
    assert back[1].storage_offset() == 3 and back[2].stride() == (2,)


def test_views_share_storage_torch_to_torsh(tmp_path):
    base = torch.arange(24, dtype=torch.float64).reshape(4, 6)
    obj = {"base": base, "view": base[1:, 2:].t(), "flat": base.view(-1)[5:9]}
    torch.save(obj, tmp_path / "w.pt")
    got = torsh.load(tmp_path / "w.pt")
    assert got["view"].stride() == (1, 6) and tuple(got["view"].shape) == (4, 3)
    np.testing.assert_array_equal(got["view"].numpy(), obj["view"].numpy())
    np.testing.assert_array_equal(got["flat"].numpy(), [5, 6, 7, 8])
    got["base"][1, 2] = 100.0  # shared memory: visible through every tensor of the storage
    assert got["view"][0, 0].item() == 100.0
    assert got["base"]._version == got["view"]._version  # one version counter per storage


def test_nested_containers_and_primitives_roundtrip(tmp_path):
    obj = {"ints": [1, 2, (3, 4.5)], "s": "hé", "none": None, "b": True, "bytes": b"\x00\x01",
           "od": collections.OrderedDict(z=1, a=2), "set": {1, 2}, "c": 1 + 2j,
           "t": torsh.tensor([[1.0, 2.0]]), "dtype": torsh.bfloat16, "size": torsh.Size([2, 3])}
    buf = io.BytesIO()
    torsh.save(obj, buf)
    buf.seek(0)
    got = torsh.load(buf)
    assert got["ints"] == [1, 2, (3, 4.5)] and got["s"] == "hé" and got["none"] is None
    assert got["bytes"] == b"\x00\x01" and got["set"] == {1, 2} and got["c"] == 1 + 2j
    assert isinstance(got["od"], collections.OrderedDict) and list(got["od"]) == ["z", "a"]
    assert got["dtype"] is torsh.bfloat16 and got["size"] == (2, 3)
    assert_close(got["t"], np.array([[1.0, 2.0]], dtype=np.float32))
    buf.seek(0)
    ref = torch.load(buf, weights_only=True)
    assert ref["dtype"] is torch.bfloat16 and isinstance(ref["size"], torch.Size)


def test_requires_grad_and_parameters_roundtrip(tmp_path):
    p = torsh.nn.Parameter(torsh.ones(2, 2))
    t = torsh.tensor([1.0], requires_grad=True)
    torsh.save({"p": p, "t": t}, tmp_path / "p.pt")
    ref = torch.load(tmp_path / "p.pt", weights_only=True)
    assert isinstance(ref["p"], torch.nn.Parameter) and ref["t"].requires_grad
    torch.save(ref, tmp_path / "q.pt")
    ours = torsh.load(tmp_path / "q.pt")
    assert isinstance(ours["p"], torsh.nn.Parameter) and ours["p"].requires_grad and ours["t"].requires_grad


def test_torch_module_state_dict_loads_into_torsh_module(tmp_path):
    ref = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Linear(4, 2))
    torch.save(ref.state_dict(), tmp_path / "m.pt")
    sd = torsh.load(tmp_path / "m.pt")
    assert list(sd) == list(ref.state_dict()) and isinstance(sd, collections.OrderedDict)
    assert sd._metadata[""]["version"] == 1  # the OrderedDict's attributes survive too
    ours = torsh.nn.Sequential(torsh.nn.Linear(3, 4), torsh.nn.Linear(4, 2))
    ours.load_state_dict(sd)
    np.testing.assert_array_equal(ours[0].weight.detach().numpy(), ref[0].weight.detach().numpy())
    torsh.save(ours.state_dict(), tmp_path / "m2.pt")
    ref2 = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Linear(4, 2))
    ref2.load_state_dict(torch.load(tmp_path / "m2.pt", weights_only=True))
    assert torch.equal(ref2[0].bias, ref[0].bias)


def test_file_written_by_torch_has_torch_layout_and_ours_matches(tmp_path):
    torsh.save({"x": torsh.zeros(3)}, tmp_path / "ckpt.pt")
    names = zipfile.ZipFile(tmp_path / "ckpt.pt").namelist()
    for rec in ("ckpt/data.pkl", "ckpt/byteorder", "ckpt/version", "ckpt/data/0"):
        assert rec in names
    with zipfile.ZipFile(tmp_path / "ckpt.pt") as z:
        info = z.getinfo("ckpt/data/0")
        raw = open(tmp_path / "ckpt.pt", "rb").read()
        start = info.header_offset + 30 + len(info.filename) + int.from_bytes(raw[info.header_offset + 28:
                                                                                  info.header_offset + 30], "little")
        assert start % 64 == 0  # storages aligned as PyTorch writes them (mmap-able)


def test_plain_pickle_of_tensors_still_works():
    t = torsh.arange(6).reshape(2, 3)[:, 1:]
    back = pickle.loads(pickle.dumps(t))
    np.testing.assert_array_equal(back.numpy(), t.numpy())


# ----------------------------------------------------------------------------- safety


def _zip_with_pickle(path, payload):
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("archive/data.pkl", payload)
        z.writestr("archive/byteorder", "little")
        z.writestr("archive/version", "3\n")


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_malicious_pickle_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    _zip_with_pickle(tmp_path / "evil.pt", pickle.dumps({"w": _Evil(marker)}, protocol=2))
    with pytest.raises(pickle.UnpicklingError, match="unsupported GLOBAL (posix|os).system whose module .* is blocked"):
        torsh.load(tmp_path / "evil.pt")
    assert not marker.exists()


def test_arbitrary_class_is_refused_in_weights_only(tmp_path):
    buf = io.BytesIO()
    torsh.save({"arr": np.arange(3)}, buf)  # a NumPy array is not a weights-only type
    buf.seek(0)
    with pytest.raises(pickle.UnpicklingError, match="Weights only load failed"):
        torsh.load(buf)
    buf.seek(0)
    np.testing.assert_array_equal(torsh.load(buf, weights_only=False)["arr"], np.arange(3))


def test_truncated_file_raises_clear_error(tmp_path):
    torsh.save({"w": torsh.randn(100)}, tmp_path / "ok.pt")
    raw = open(tmp_path / "ok.pt", "rb").read()
    for cut in (10, len(raw) // 2, len(raw) - 30):
        (tmp_path / "cut.pt").write_bytes(raw[:cut])
        with pytest.raises(RuntimeError, match="truncated or corrupted"):
            torsh.load(tmp_path / "cut.pt")
    (tmp_path / "empty.pt").write_bytes(b"")
    with pytest.raises(EOFError, match="^$"):  # as PyTorch: its weights-only unpickler's bare EOFError
        torsh.load(tmp_path / "empty.pt")
    with pytest.raises(EOFError, match="Ran out of input"):  # as PyTorch: pickle's
        torsh.load(tmp_path / "empty.pt", weights_only=False)


def test_corrupted_storage_bytes_raise(tmp_path):
    torsh.save({"w": torsh.ones(64)}, tmp_path / "ok.pt")
    raw = bytearray(open(tmp_path / "ok.pt", "rb").read())
    with zipfile.ZipFile(tmp_path / "ok.pt") as z:
        info = z.getinfo("ok/data/0")
    start = info.header_offset + 30 + len(info.filename) + int.from_bytes(raw[info.header_offset + 28:
                                                                              info.header_offset + 30], "little")
    raw[start + 5] ^= 0xFF
    (tmp_path / "bad.pt").write_bytes(bytes(raw))
    with pytest.raises(RuntimeError, match="corrupted"):
        torsh.load(tmp_path / "bad.pt")


def test_out_of_bounds_tensor_geometry_is_refused(tmp_path):
    buf = io.BytesIO()
    torsh.save({"w": torsh.ones(4)}, buf)
    with zipfile.ZipFile(io.BytesIO(buf.getvalue())) as z:
        pkl = z.read("archive/data.pkl")
    # same storage, but claim 1000 elements with a huge stride: must not read outside the 4 floats
    forged = pkl.replace(b"K\x04\x85", b"M\xe8\x03\x85", 1)
    assert forged != pkl
    with zipfile.ZipFile(tmp_path / "forged.pt", "w") as z:
        z.writestr("archive/data.pkl", forged)
        z.writestr("archive/data/0", np.ones(4, np.float32).tobytes())
        z.writestr("archive/version", "3\n")
    with pytest.raises(pickle.UnpicklingError, match="storage has 4"):
        torsh.load(tmp_path / "forged.pt")


def test_failed_load_leaves_module_unchanged(tmp_path):
    model = torsh.nn.Linear(2, 2)
    before = model.weight.detach().clone()
    _zip_with_pickle(tmp_path / "evil.pt", pickle.dumps(_Evil(tmp_path / "x")))
    with pytest.raises(pickle.UnpicklingError):
        model.load_state_dict(torsh.load(tmp_path / "evil.pt"))
    np.testing.assert_array_equal(model.weight.detach().numpy(), before.numpy())


def test_map_location(tmp_path):
    torch.save({"w": torch.ones(2)}, tmp_path / "m.pt")
    for loc in ("cpu", torsh.device("cpu"), {"cpu": "cpu"}, lambda storage, location: storage):
        assert torsh.load(tmp_path / "m.pt", map_location=loc)["w"].tolist() == [1.0, 1.0]
    with pytest.raises(RuntimeError, match="Attempting to deserialize object on a CUDA device"):  # as PyTorch
        torsh.load(tmp_path / "m.pt", map_location="cuda")


# ----------------------------------------------------------------------------- safetensors


def test_safetensors_roundtrip_and_interop_with_safetensors_torch(tmp_path):
    from safetensors.torch import load_file as torch_load_file, save_file as torch_save_file

    from torsh.utils import safetensors as st
    tensors = {d: _torsh_tensor(d, (2, 3)) for d in ALL_DTYPES if d != "complex128"}
    st.save_file(tensors, tmp_path / "a.safetensors", metadata={"k": "v"})
    back = st.load_file(tmp_path / "a.safetensors")
    for name, t in tensors.items():
        assert back[name].dtype is t.dtype
        np.testing.assert_array_equal(back[name].float().numpy() if name == "bfloat16" else back[name].numpy(),
                                      t.float().numpy() if name == "bfloat16" else t.numpy())
    ref = torch_load_file(str(tmp_path / "a.safetensors"))
    assert torch.equal(ref["bfloat16"], _torch_from(tensors["bfloat16"]))
    torch_save_file({"x": torch.arange(5, dtype=torch.int32)}, str(tmp_path / "b.safetensors"))
    assert st.load_file(tmp_path / "b.safetensors")["x"].tolist() == [0, 1, 2, 3, 4]
    with pytest.raises(ValueError, match="not a valid safetensors"):
        st.load(b"\x10\x00\x00\x00\x00\x00\x00\x00{broken")


class Point:
    def __init__(self, x):
        self.x = x


def test_safe_globals_allowlist(tmp_path):
    torsh.save({"p": Point(3)}, tmp_path / "pt.pt")
    with pytest.raises(pickle.UnpicklingError, match="Unsupported global: GLOBAL test_serialization.Point"):
        torsh.load(tmp_path / "pt.pt")
    with torsh.serialization.safe_globals([Point]):
        assert torsh.load(tmp_path / "pt.pt")["p"].x == 3
    with pytest.raises(pickle.UnpicklingError):  # the allowlist was scoped to the with block
        torsh.load(tmp_path / "pt.pt")
    torsh.serialization.add_safe_globals([Point])
    try:
        assert Point in torsh.serialization.get_safe_globals()
        assert torsh.load(tmp_path / "pt.pt")["p"].x == 3
    finally:
        torsh.serialization.clear_safe_globals()


def test_mmap_load_maps_storages_copy_on_write(tmp_path):
    base = torch.arange(12, dtype=torch.float32).reshape(3, 4)
    torch.save({"w": base, "v": base[1:, 1:], "b": torch.tensor([1.5], dtype=torch.bfloat16)}, tmp_path / "m.pt")
    got = torsh.load(tmp_path / "m.pt", mmap=True)
    assert isinstance(torsh.serialization._memory_owner(got["w"]._data), np.memmap)
    np.testing.assert_array_equal(got["v"].numpy(), base[1:, 1:].numpy())
    assert got["b"].float().item() == 1.5
    got["w"][1, 1] = -5.0  # copy-on-write: visible through the shared storage, never written to the file
    assert got["v"][0, 0].item() == -5.0
    assert torsh.load(tmp_path / "m.pt")["w"][1, 1].item() == 5.0
    with pytest.raises(ValueError, match="file path"):
        torsh.load(io.BytesIO(b"PK"), mmap=True)


def test_legacy_format_flag_writes_a_checkpoint_both_libraries_load(tmp_path):
    """``_use_new_zipfile_serialization=False`` is accepted (written as the zip format, which torch.load reads)."""
    path = tmp_path / "legacy_flag.pt"
    torsh.save({"w": torsh.arange(6.0).reshape(2, 3)}, path, _use_new_zipfile_serialization=False)
    assert torsh.load(path)["w"].tolist() == [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]
    if torch is not None:
        assert torch.load(path)["w"].tolist() == [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]
