"""linalg.qr's gradient as PyTorch's: reduced and complete modes for rows >= and < columns (wide inputs: A = Q [U Y]),
batched; mode='r' and complete tall inputs refused in backward with PyTorch's messages; float64 gradcheck."""
import numpy as np
import pytest

import torsh
from helpers import needs_torch, torch_ref

pytestmark = needs_torch


def _grads(lib, a, mode):
    x = lib.tensor(a, requires_grad=True)
    Q, R = lib.linalg.qr(x, mode=mode)
    wq = np.cos(np.arange(Q.numel(), dtype=np.float64)).reshape(Q.shape)
    wr = np.sin(np.arange(R.numel(), dtype=np.float64)).reshape(R.shape)
    try:
        ((Q * lib.tensor(wq)).sum() + (R * lib.tensor(wr)).sum()).backward()
    except RuntimeError as e:
        return str(e)
    return x.grad.numpy()


@pytest.mark.parametrize("shape", [(3, 5), (2, 3, 5), (4, 4), (5, 3), (2, 5, 2)])
@pytest.mark.parametrize("mode", ["reduced", "complete"])
def test_against_torch(shape, mode):
    a = np.random.default_rng(0).standard_normal(shape)
    expected, actual = _grads(torch_ref, a, mode), _grads(torsh, a, mode)
    if isinstance(expected, str):
        assert actual == expected
    else:
        np.testing.assert_allclose(actual, expected, rtol=1e-9, atol=1e-10)


def test_mode_r_refused_in_backward():
    results = []
    for lib in (torch_ref, torsh):
        x = lib.tensor(np.ones((3, 2)) + np.eye(3, 2), requires_grad=True)
        R = lib.linalg.qr(x, mode="r").R
        with pytest.raises(RuntimeError) as info:
            R.sum().backward()
        results.append(str(info.value))
    assert results[1] == results[0]


@pytest.mark.parametrize("shape", [(3, 5), (4, 2)])
def test_gradcheck(shape):
    x = torsh.tensor(np.random.default_rng(1).standard_normal(shape), requires_grad=True)
    assert torsh.autograd.gradcheck(lambda t: tuple(torsh.linalg.qr(t)), (x,))
