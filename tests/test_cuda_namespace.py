"""torsh.cuda answers like PyTorch on a machine without a GPU."""
import pytest

import torsh
from helpers import torch_ref


def test_device_selection_code_picks_the_cpu():
    device = "cuda" if torsh.cuda.is_available() else "cpu"
    assert device == "cpu"
    assert torsh.cuda.device_count() == 0 and not torsh.cuda.is_initialized()
    assert torsh.ones(2, device=device).device.type == "cpu"


def test_seeding_is_accepted_and_device_queries_raise():
    torsh.cuda.manual_seed(0)
    torsh.cuda.manual_seed_all(0)
    for lib in (torsh, torch_ref):  # the CPU wheel's lazy-init assertion
        with pytest.raises(AssertionError, match="^Torch not compiled with CUDA enabled$"):
            lib.cuda.current_device()


def test_same_answers_as_cpu_only_pytorch():
    if torch_ref.cuda.is_available():
        pytest.fail("the reference PyTorch must be the CPU wheel")
    assert torsh.cuda.is_available() == torch_ref.cuda.is_available()
    assert torsh.cuda.device_count() == torch_ref.cuda.device_count()
