"""linalg.lu / lu_factor / lu_factor_ex / lu_unpack of non-square inputs (wide and tall, batched): values and
gradients against torch (PyTorch's linalg_lu_backward), float64 gradcheck."""
import numpy as np
import pytest

import torsh
from helpers import needs_torch, torch_ref

pytestmark = needs_torch

SHAPES = [(3, 5), (5, 3), (2, 3, 4), (2, 4, 3), (4, 4)]


def _weights(shape, fn):
    return fn(np.arange(int(np.prod(shape)), dtype=np.float64)).reshape(shape)


def _lu_grads(lib, a):
    x = lib.tensor(a, requires_grad=True)
    P, L, U = lib.linalg.lu(x)
    ((L * lib.tensor(_weights(L.shape, np.cos))).sum() + (U * lib.tensor(_weights(U.shape, np.sin))).sum()).backward()
    return [t.detach().numpy() for t in (P, L, U)] + [x.grad.numpy()], L.grad_fn.name()


def _lu_factor_grads(lib, a):
    x = lib.tensor(a, requires_grad=True)
    LU, piv = lib.linalg.lu_factor(x)
    (LU * lib.tensor(_weights(LU.shape, np.cos))).sum().backward()
    P, L, U = lib.lu_unpack(LU.detach(), piv)
    return [LU.detach().numpy(), piv.numpy(), P.numpy(), L.numpy(), U.numpy(), x.grad.numpy()], LU.grad_fn.name()


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("run", [_lu_grads, _lu_factor_grads])
def test_against_torch(shape, run):
    a = np.random.default_rng(1).standard_normal(shape)
    (expected, name_e), (actual, name_a) = run(torch_ref, a), run(torsh, a)
    assert name_a == name_e
    for e, g in zip(expected, actual):
        assert g.shape == e.shape
        np.testing.assert_allclose(g, e, rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("shape", SHAPES)
def test_gradcheck(shape):
    x = torsh.tensor(np.random.default_rng(2).standard_normal(shape), requires_grad=True)
    assert torsh.autograd.gradcheck(lambda t: torsh.linalg.lu(t)[1:], (x,))
    assert torsh.autograd.gradcheck(lambda t: torsh.linalg.lu_factor(t)[0], (x,))
