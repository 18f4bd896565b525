"""Tensor.to's three PyTorch overloads with positional arguments: (device, dtype, non_blocking, copy), (dtype,
non_blocking, copy), (tensor, non_blocking, copy); copy= semantics and PyTorch's TypeError wording."""
import pytest

import torsh
from helpers import needs_torch, torch_ref

pytestmark = needs_torch

CALLS = [
    lambda lib, x: x.to(lib.zeros(1, dtype=lib.float64)),
    lambda lib, x: x.to(lib.zeros(1, dtype=lib.int64), True, True),
    lambda lib, x: x.to("cpu", lib.float64),
    lambda lib, x: x.to("cpu", lib.float64, False, True),
    lambda lib, x: x.to(lib.device("cpu"), dtype=lib.int32),
    lambda lib, x: x.to(lib.float64, True),
    lambda lib, x: x.to(lib.float32, False, True),
    lambda lib, x: x.to(lib.float32, non_blocking=True, copy=False),
    lambda lib, x: x.to(None),
    lambda lib, x: x.to(copy=True),
    lambda lib, x: x.to(dtype=lib.float16, copy=False),
    lambda lib, x: x.to("cpu", "float"),
    lambda lib, x: x.to(lib.float64, "x"),
    lambda lib, x: x.to("cpu", lib.float64, False, False, 1),
    lambda lib, x: x.to(other=lib.zeros(1)),
    lambda lib, x: x.to(lib.float64, dtype=lib.float32),
]


@pytest.mark.parametrize("call", CALLS)
def test_to_as_pytorch(call):
    results = []
    for lib in (torch_ref, torsh):
        x = lib.ones(2, 3)
        try:
            y = call(lib, x)
            results.append(("ok", str(y.dtype).split(".")[-1], tuple(y.shape), y is x, y.tolist()))
        except TypeError as e:
            results.append(("TypeError", str(e).replace("torch.", "").replace("torsh.", "")))
    assert results[1] == results[0]
