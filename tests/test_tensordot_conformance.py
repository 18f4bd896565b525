"""torch.tensordot against torch: dims as an int, two lists, a tensor (0-d and 2 x k); a contracted dim of size 1
on one side (summed on the other); PyTorch's errors; gradients and float64 gradcheck."""
import numpy as np
import pytest

import torsh
from helpers import needs_torch, torch_ref

pytestmark = needs_torch

RNG = np.random.default_rng(0)
CASES = [
    ((2, 3, 4), (3, 4, 5), lambda lib: 2),
    ((2, 3, 4), (4, 3), lambda lib: ([1, 2], [1, 0])),
    ((2, 3, 4), (3, 4), lambda lib: lib.tensor(2)),
    ((2, 3, 4), (4, 3), lambda lib: lib.tensor([[1, 2], [1, 0]])),
    ((1, 1, 1), (2, 1, 2), lambda lib: ([0, 1], [2, 0])),
    ((3, 1), (2, 4), lambda lib: ([1], [0])),
    ((2, 3), (4,), lambda lib: 0),
    ((2, 3), (3, 2), lambda lib: ([-1], [-2])),
    ((2, 3), (3, 2), lambda lib: ([-1], [-1])),
    ((2, 3), (3, 2), lambda lib: (1, 1)),
    ((2, 3), (3, 2), lambda lib: ([1, 0], [1])),
    ((2, 3), (3, 2), lambda lib: -1),
    ((2, 3), (3, 2), lambda lib: 3),
    ((2, 3), (3, 2), lambda lib: 1.5),
    ((2, 3), (3, 2), lambda lib: lib.tensor([[1], [0], [1]])),
]


def _run(lib, a, b, dims, b_dtype=None):
    x = lib.tensor(a, requires_grad=True)
    y = lib.tensor(b, requires_grad=True) if b_dtype is None else lib.tensor(b).to(getattr(lib, b_dtype))
    try:
        r = lib.tensordot(x, y, dims(lib))
    except Exception as e:  # noqa: BLE001 - compared with torch's
        return (type(e).__name__, str(e))
    r.sum().backward()
    return (r.detach().numpy(), x.grad.numpy(), y.grad.numpy())


@pytest.mark.parametrize("shape_a, shape_b, dims", CASES)
def test_tensordot(shape_a, shape_b, dims):
    a, b = RNG.standard_normal(shape_a), RNG.standard_normal(shape_b)
    expected, actual = _run(torch_ref, a, b, dims), _run(torsh, a, b, dims)
    if isinstance(expected[0], str):
        assert actual == expected
        return
    for e, g in zip(expected, actual):
        np.testing.assert_allclose(g, e, rtol=1e-10, atol=1e-12)


def test_dtype_mismatch():
    a, b = RNG.standard_normal((2, 3)), RNG.standard_normal((3, 2))
    assert _run(torsh, a, b, lambda lib: 1, "float32") == _run(torch_ref, a, b, lambda lib: 1, "float32")


def test_gradcheck_size_one_contraction():
    x = torsh.tensor(RNG.standard_normal((3, 1, 2)), requires_grad=True)
    y = torsh.tensor(RNG.standard_normal((4, 2, 5)), requires_grad=True)
    assert torsh.autograd.gradcheck(lambda p, q: torsh.tensordot(p, q, ([1, 2], [0, 1])), (x, y))
