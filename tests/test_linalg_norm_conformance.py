"""torch.linalg.vector_norm / matrix_norm / norm and torch.norm against torch: values, grad_fn names and gradients
for every ord (nuc, +-2, +-1, +-inf, 0, fractional), keepdim and swapped dims, empty inputs (a max over an empty
dim is 0, a min raises), PyTorch's error wording, and float64 gradcheck."""
import math

import numpy as np
import pytest

import torsh
from helpers import needs_torch, torch_ref

pytestmark = needs_torch

INF = math.inf
RNG = np.random.default_rng(0)
MATRICES = {
    "rect": RNG.standard_normal((3, 4)),
    "batch": RNG.standard_normal((2, 3, 3)),
    "ties": np.array([[1.0, -3, 3], [2, 0, -1]]),
    "zeros": np.zeros((2, 3)),
}
VECTORS = {"vec": RNG.standard_normal(5), "with_zeros": np.array([0.0, 1, -1, 0]), "ties": np.array([2.0, -2, 1])}


def _run(lib, fn, array):
    x = lib.tensor(array, requires_grad=True)
    try:
        out = fn(lib, x)
    except Exception as e:  # noqa: BLE001 - compared with torch's
        return ("raises", type(e).__name__, str(e))
    name = None if out.grad_fn is None else out.grad_fn.name()
    grad = None
    if out.requires_grad and out.numel():
        out.sum().backward()
        grad = None if x.grad is None else x.grad.numpy().copy()
    return ("ok", out.detach().numpy().copy(), name, grad)


def _compare(fn, array):
    expected, actual = _run(torch_ref, fn, array), _run(torsh, fn, array)
    assert actual[0] == expected[0], (actual, expected)
    if expected[0] == "raises":
        assert actual[1:] == expected[1:]
        return
    assert actual[1].shape == expected[1].shape
    np.testing.assert_allclose(actual[1], expected[1], rtol=1e-7, atol=1e-7)
    assert actual[2] == expected[2]
    assert (actual[3] is None) == (expected[3] is None), (actual[3], expected[3])
    if expected[3] is not None:
        np.testing.assert_allclose(actual[3], expected[3], rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name", sorted(MATRICES))
@pytest.mark.parametrize("ord", ["fro", "nuc", 2, -2, 1, -1, INF, -INF])
@pytest.mark.parametrize("keepdim", [False, True])
def test_matrix_norm(name, ord, keepdim):
    _compare(lambda lib, x: lib.linalg.matrix_norm(x, ord, keepdim=keepdim), MATRICES[name])
    _compare(lambda lib, x: lib.linalg.matrix_norm(x, ord, dim=(-1, -2), keepdim=keepdim), MATRICES[name])


@pytest.mark.parametrize("name", sorted(MATRICES))
@pytest.mark.parametrize("ord", [None, "fro", "nuc", 2, -2, 1, -1, INF, -INF, 3, 0.5])
def test_linalg_norm_and_torch_norm(name, ord):
    _compare(lambda lib, x: lib.linalg.norm(x, ord), MATRICES[name])
    if ord in ("fro", "nuc"):
        _compare(lambda lib, x: lib.norm(x, ord), MATRICES[name])


@pytest.mark.parametrize("name", sorted(VECTORS))
@pytest.mark.parametrize("ord", [0, 1, 2, 3, 0.5, 1.5, -1, -2, INF, -INF])
def test_vector_norm(name, ord):
    _compare(lambda lib, x: lib.linalg.vector_norm(x, ord), VECTORS[name])
    _compare(lambda lib, x: lib.norm(x, ord), VECTORS[name])


@pytest.mark.parametrize("shape", [(0, 0), (0, 3), (3, 0), (2, 0, 0), (2, 0, 4)])
@pytest.mark.parametrize("ord", ["fro", "nuc", 2, -2, 1, -1, INF, -INF])
def test_matrix_norm_empty(shape, ord):
    for keepdim in (False, True):
        _compare(lambda lib, x: lib.linalg.matrix_norm(x, ord, keepdim=keepdim), np.zeros(shape))


@pytest.mark.parametrize("shape", [(0,), (0, 3), (2, 0)])
@pytest.mark.parametrize("ord", [0, 1, 2, INF, -INF, -1])
@pytest.mark.parametrize("dim", [None, 0, -1, ()])
def test_vector_norm_empty(shape, ord, dim):
    _compare(lambda lib, x: lib.linalg.vector_norm(x, ord, dim), np.zeros(shape))


@pytest.mark.parametrize("call", [
    lambda lib, x: lib.linalg.matrix_norm(x, 3),
    lambda lib, x: lib.linalg.matrix_norm(x, 2.5),
    lambda lib, x: lib.linalg.matrix_norm(x, "abc"),
    lambda lib, x: lib.linalg.matrix_norm(x, dim=(0,)),
    lambda lib, x: lib.linalg.matrix_norm(x, dim=(0, -3)),
    lambda lib, x: lib.linalg.matrix_norm(x, 1, dtype=lib.int64),
    lambda lib, x: lib.linalg.matrix_norm(x, 1, dtype=lib.float32),
    lambda lib, x: lib.linalg.norm(x, 2),
    lambda lib, x: lib.linalg.norm(x, "fro"),
    lambda lib, x: lib.linalg.norm(x, 2, dim=(0, 1, 2)),
    lambda lib, x: lib.linalg.norm(x, "nuc", dim=1),
    lambda lib, x: lib.linalg.vector_norm(x, 2, dtype=lib.complex128),
    lambda lib, x: lib.norm(x, "nuc"),
])
def test_errors(call):
    _compare(call, RNG.standard_normal((2, 3, 3)))


@pytest.mark.parametrize("ord", ["nuc", 2, -2, 1, -1, INF, "fro"])
def test_matrix_norm_gradcheck(ord):
    x = torsh.tensor(RNG.standard_normal((2, 3, 4)), requires_grad=True)
    assert torsh.autograd.gradcheck(lambda t: torsh.linalg.matrix_norm(t, ord), (x,))


@pytest.mark.parametrize("ord", [1, 1.5, 2, 3, 0.5, -1, INF])
def test_vector_norm_gradcheck(ord):
    x = torsh.tensor(RNG.standard_normal((3, 4)) + 0.5, requires_grad=True)
    assert torsh.autograd.gradcheck(lambda t: torsh.linalg.vector_norm(t, ord, dim=1), (x,))
