"""The exact GELU's backward (float32: the transformer kernel; float64 and double backward: PyTorch's formula in
torsh ops from the saved input): gradients, double backward (at x == 0 and tiny x too) and the extremes equal
PyTorch's."""
import pytest

import torsh
from helpers import torch_ref

EDGES = [0.0, -0.0, 1e-30, -1e-30, 1e-3, -3.0, -8.0, -12.0, -20.0, 0.5, 3.0, 10.0]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_gradient_matches_pytorch_at_the_edges(dtype):
    ours = torsh.tensor(EDGES, dtype=getattr(torsh, dtype), requires_grad=True)
    ref = torch_ref.tensor(EDGES, dtype=getattr(torch_ref, dtype), requires_grad=True)
    torsh.nn.functional.gelu(ours).sum().backward()
    torch_ref.nn.functional.gelu(ref).sum().backward()
    atol = 1e-7 if dtype == "float32" else 1e-15
    torsh.testing.assert_close(ours.grad, torsh.tensor(ref.grad.tolist(), dtype=ours.dtype), atol=atol, rtol=1e-6)


def test_double_backward_matches_pytorch_including_zero():
    values = [0.0, -0.0, 1e-20, -1e-12, 0.3, -2.0, 4.0]
    x = torsh.tensor(values, dtype=torsh.float64, requires_grad=True)
    (g,) = torsh.autograd.grad(torsh.nn.functional.gelu(x).sum(), x, create_graph=True)
    (gg,) = torsh.autograd.grad(g.sum(), x)
    xr = torch_ref.tensor(values, dtype=torch_ref.float64, requires_grad=True)
    (gr,) = torch_ref.autograd.grad(torch_ref.nn.functional.gelu(xr).sum(), xr, create_graph=True)
    (ggr,) = torch_ref.autograd.grad(gr.sum(), xr)
    torsh.testing.assert_close(gg, torsh.tensor(ggr.tolist(), dtype=torsh.float64))


def test_gradcheck_and_gradgradcheck():
    x = torsh.randn(6, dtype=torsh.float64, requires_grad=True)
    assert torsh.autograd.gradcheck(torsh.nn.functional.gelu, (x,))
    assert torsh.autograd.gradgradcheck(torsh.nn.functional.gelu, (x,))
