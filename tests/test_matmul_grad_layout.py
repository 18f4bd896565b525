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


def _graph_names(fn):
    names, stack, seen = [], [fn], set()
    while stack:
        node = stack.pop()
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        names.append(type(node).__name__)
        stack.extend(child for child, _ in node.next_functions)
    return sorted(names)


def test_linear_records_pytorchs_graph():
    import torch
    for lib in (torsh, torch):
        lib.manual_seed(0)
    ours = _graph_names(torsh.nn.Linear(4, 3)(torsh.randn(2, 4)).grad_fn)
    ref = _graph_names(torch.nn.Linear(4, 3)(torch.randn(2, 4)).grad_fn)
    assert ours == ref == ["AccumulateGrad", "AccumulateGrad", "AddmmBackward0", "TBackward0"]


@pytest.mark.parametrize("bias_shape", [(3,), (1, 3), (2, 3), (2, 1), ()])
def test_addmm_grads_match_pytorch_and_gradcheck(bias_shape):
    import torch
    rng = np.random.default_rng(2)
    arrays = [rng.standard_normal(bias_shape), rng.standard_normal((2, 4)), rng.standard_normal((4, 3))]
    ours = [torsh.tensor(a, requires_grad=True) for a in arrays]
    ref = [torch.tensor(a, requires_grad=True) for a in arrays]
    out, want = torsh.addmm(*ours), torch.addmm(*ref)
    assert type(out.grad_fn).__name__ == type(want.grad_fn).__name__ == "AddmmBackward0"
    g = rng.standard_normal((2, 3))
    out.backward(torsh.tensor(g))
    want.backward(torch.tensor(g))
    np.testing.assert_allclose(out.detach().numpy(), want.detach().numpy(), rtol=1e-12)
    for a, b in zip(ours, ref):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-12)
    assert gradcheck(torsh.addmm, tuple(torsh.tensor(a, requires_grad=True) for a in arrays))


def test_addmm_with_a_bias_that_would_broadcast_the_product_keeps_pytorchs_result():
    bias = torsh.ones(4, 2, 3)  # addmm needs a bias broadcastable to (2, 3)
    with pytest.raises(RuntimeError):
        torsh.addmm(bias, torsh.ones(2, 4), torsh.ones(4, 3))


def test_gradcheck_takes_a_list_of_inputs_like_pytorch():
    a, b = torsh.randn(2, 3, dtype=torsh.float64, requires_grad=True), torsh.randn(3, dtype=torsh.float64)
    assert gradcheck(torsh.mv, [a, b])
