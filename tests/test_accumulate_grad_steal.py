"""AccumulateGrad takes a gradient array nobody else holds instead of copying it (as PyTorch's
reference-count test does), and still copies whenever user code could see the array."""
import numpy as np
import pytest

import torsh
from torsh.autograd import graph


@pytest.fixture
def copies(monkeypatch):
    made = []
    real = graph._private_copy
    monkeypatch.setattr(graph, "_private_copy", lambda array: made.append(array.shape) or real(array))
    return made


def test_fresh_gradients_are_taken_without_a_copy(copies):
    lin = torsh.nn.Linear(4, 3)
    x = torsh.randn(2, 4)
    lin(x).sum().backward()
    assert copies == []
    np.testing.assert_allclose(lin.weight.grad.numpy(), np.tile(x.numpy().sum(0), (3, 1)), rtol=1e-6)
    np.testing.assert_allclose(lin.bias.grad.numpy(), [2.0, 2.0, 2.0])


def test_a_users_gradient_passed_through_is_copied(copies):
    w = torsh.randn(3, requires_grad=True)
    g = torsh.ones(3)
    (w + 0).backward(g)
    assert copies == [(3,)]
    assert not np.shares_memory(w.grad.numpy(), g.numpy())
    (w + 0).backward(g)  # the second backward accumulates in place: g must not change
    np.testing.assert_array_equal(g.numpy(), np.ones(3))
    np.testing.assert_array_equal(w.grad.numpy(), np.full(3, 2.0))


def test_a_gradient_a_hook_kept_is_copied(copies):
    w = torsh.randn(3, requires_grad=True)
    seen = []
    w.register_hook(seen.append)
    (w * 2).sum().backward()
    assert len(copies) == 1 and not np.shares_memory(w.grad.numpy(), seen[0].numpy())
    (w * 2).sum().backward()
    np.testing.assert_array_equal(seen[0].numpy(), np.full(3, 2.0))


def test_a_retained_intermediate_gradient_is_copied(copies):
    w = torsh.randn(3, requires_grad=True)
    y = w + 0
    y.retain_grad()
    (y * 3).sum().backward()
    assert not np.shares_memory(w.grad.numpy(), y.grad.numpy())
    w.grad.add_(1)
    np.testing.assert_array_equal(y.grad.numpy(), np.full(3, 3.0))


def test_a_view_of_a_saved_tensor_is_copied(copies):
    w = torsh.randn(2, 3, requires_grad=True)
    base = torsh.randn(6)
    out = (w * base.view(2, 3).detach()).sum()
    out.backward()
    assert not np.shares_memory(w.grad.numpy(), base.numpy())
