"""torch.device as a CPU-only PyTorch has it: every device type can be named, only the CPU holds tensors,
and putting a tensor or module elsewhere raises PyTorch's error (AssertionError for CUDA)."""
import pickle

import pytest

import torsh
from helpers import check_same_error, torch_ref


@pytest.mark.parametrize("spec", [("cpu",), ("cuda",), ("cuda:1",), ("cuda", 0), ("meta",), ("mps",), ("xpu", 2),
                                  ("cpu", 0)])
def test_devices_can_be_named(spec):
    ours, ref = torsh.device(*spec), torch_ref.device(*spec)
    assert (repr(ours), str(ours), ours.type, ours.index) == (repr(ref), str(ref), ref.type, ref.index)


def test_equality_and_hash_follow_type_and_index():
    assert torsh.device("cpu") == torsh.device("cpu")
    assert (torsh.device("cpu") == torsh.device("cpu:0")) == (torch_ref.device("cpu") == torch_ref.device("cpu:0"))
    assert (torsh.device("cpu") == "cpu") == (torch_ref.device("cpu") == "cpu")
    assert len({torsh.device("cuda", 0), torsh.device("cuda:0"), torsh.device("cuda")}) == 2
    assert pickle.loads(pickle.dumps(torsh.device("cuda:1"))) == torsh.device("cuda:1")


@pytest.mark.parametrize("args", [("foo",), ("cuda:x",), ("cpu:-1",), ("cpu:01",), ("cuda:1", 2), ("cpu", -1), (0,)])
def test_bad_device_strings_raise_as_pytorch(args):
    check_same_error(lambda lib: lib.device(*args))


@pytest.mark.parametrize("call", [
    lambda lib: lib.zeros(2, device="cuda"),
    lambda lib: lib.ones(2, device=lib.device("cuda:1")),
    lambda lib: lib.zeros(2).to("cuda"),
    lambda lib: lib.zeros(2).to(lib.device("cuda")),
    lambda lib: lib.zeros(2).cuda(),
    lambda lib: lib.nn.Linear(2, 2).cuda(),
    lambda lib: lib.nn.Linear(2, 2).to("cuda"),
    lambda lib: lib.tensor([1.0], device="cuda"),
    lambda lib: lib.zeros(2, device="xpu"),
])
def test_tensors_cannot_go_to_an_absent_accelerator(call):
    check_same_error(call)


def test_cpu_placements_still_work_and_leave_modules_unchanged():
    model = torsh.nn.Linear(2, 2)
    weight = model.weight
    assert model.to("cpu") is model and model.to(torsh.device("cpu:0")) is model and model.weight is weight
    x = torsh.zeros(2, device=torsh.device("cpu"))
    assert x.to("cpu") is x and x.device == torsh.device("cpu")
    with pytest.raises(AssertionError):
        model.cuda()
    assert model.weight is weight  # the failed move changed nothing


def test_script_style_device_selection():
    device = torsh.device("cuda" if torsh.cuda.is_available() else "cpu")
    cuda = torsh.device("cuda")  # naming an absent device is fine, as in PyTorch
    assert device.type == "cpu" and cuda.type == "cuda"
    assert torsh.ones(3, device=device).sum().item() == 3.0
