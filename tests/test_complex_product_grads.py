"""Complex gradients of mul and div are PyTorch's (conjugate Wirtinger): the backward of a product
multiplies by the conjugate of the other factor."""
import numpy as np
import pytest

import torsh
from helpers import assert_close, needs_torch, torch_ref as torch

R = np.random.default_rng(3)
A = R.normal(size=(3,)) + 1j * R.normal(size=(3,))
B = R.normal(size=(3,)) + 1j * R.normal(size=(3,)) + 2


def _grads(lib, op, a_np, b_np):
    a = lib.tensor(a_np, requires_grad=True)
    b = lib.tensor(b_np, requires_grad=True)
    out = op(a, b)
    loss = (lib.real(out) * 0.7 + lib.imag(out) * 1.3).sum()  # a real loss that mixes both parts
    loss.backward()
    return a.grad, b.grad


@needs_torch
@pytest.mark.parametrize("name,op", [("mul", lambda a, b: a * b), ("div", lambda a, b: a / b),
                                     ("mul_scalar", lambda a, b: a * (1 + 2j) * b),
                                     ("div_scalar", lambda a, b: (a / (2 - 1j)) / b)])
def test_complex_product_gradients_match_pytorch(name, op):
    got = _grads(torsh, op, A, B)
    want = _grads(torch, op, A, B)
    for g, w in zip(got, want):
        assert_close(g, w)


@needs_torch
def test_real_input_through_complex_product():
    def grad(lib):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        lib.imag(x.to(lib.complex128) * (1 + 2j)).sum().backward()
        return x.grad
    assert_close(grad(torsh), grad(torch))
