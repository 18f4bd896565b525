"""Gradients of products with a transposed operand (nn.Linear's ``x @ weight.t()``) arrive in the
operand's own row-major layout, so ``weight.grad`` needs no transposing copy; values unchanged."""
import numpy as np
import pytest

import torsh
from torsh.autograd import gradcheck


def test_linear_weight_grad_is_row_major_and_correct():
    rng = np.random.default_rng(0)
    x_np, w_np, g_np = rng.standard_normal((5, 7)), rng.standard_normal((3, 7)), rng.standard_normal((5, 3))
    lin = torsh.nn.Linear(7, 3).double()
    with torsh.no_grad():
        lin.weight.copy_(torsh.tensor(w_np))
    x = torsh.tensor(x_np, requires_grad=True)
    lin(x).backward(torsh.tensor(g_np))
    assert lin.weight.grad._data.flags.c_contiguous
    np.testing.assert_allclose(lin.weight.grad.numpy(), g_np.T @ x_np, rtol=1e-12)
    np.testing.assert_allclose(x.grad.numpy(), g_np @ w_np, rtol=1e-12)
    np.testing.assert_allclose(lin.bias.grad.numpy(), g_np.sum(0), rtol=1e-12)


@pytest.mark.parametrize("transpose_a, transpose_b", [(False, True), (True, False), (True, True)])
def test_transposed_operands_gradcheck(transpose_a, transpose_b):
    rng = np.random.default_rng(1)
    a = torsh.tensor(rng.standard_normal((4, 3) if transpose_a else (3, 4)), requires_grad=True)
    b = torsh.tensor(rng.standard_normal((5, 4) if transpose_b else (4, 5)), requires_grad=True)

    def product(a, b):
        return (a.t() if transpose_a else a) @ (b.t() if transpose_b else b)

    assert gradcheck(product, (a, b))
    out = product(a, b)
    out.backward(torsh.ones_like(out))
    for leaf in (a, b):
        assert leaf.grad._data.flags.c_contiguous
