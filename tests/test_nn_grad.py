"""torch.nn.grad's conv input/weight gradients against PyTorch's, and their own gradients (float64 gradcheck)."""
import numpy as np
import pytest
import torch

import torsh
import torsh.nn.grad

CASES = [  # dims, N, C_in, C_out, spatial, kernel, stride, padding, dilation, groups
    (1, 2, 4, 6, (9,), (3,), 2, 1, 1, 2),
    (2, 2, 3, 4, (7, 6), (3, 2), (2, 1), (1, 0), (1, 2), 1),
    (2, 1, 4, 4, (8, 8), (3, 3), 3, 2, 1, 4),  # stride leaves rows unused: input_size decides the shape
    (3, 1, 2, 2, (5, 4, 4), (2, 3, 2), 1, (0, 1, 1), 1, 1),
]


def _data(case, seed=0):
    dims, n, cin, cout, spatial, kernel, stride, padding, dilation, groups = case
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, cin, *spatial))
    w = rng.standard_normal((cout, cin // groups, *kernel))
    out = getattr(torch.nn.functional, f"conv{dims}d")(torch.from_numpy(x), torch.from_numpy(w), None, stride,
                                                         padding, dilation, groups)
    gy = rng.standard_normal(tuple(out.shape))
    return x, w, gy, dict(stride=stride, padding=padding, dilation=dilation, groups=groups)


@pytest.mark.parametrize("case", CASES)
def test_input_and_weight_gradients_match_torch(case):
    dims = case[0]
    x, w, gy, kw = _data(case)
    T, R = torsh.from_numpy, torch.from_numpy
    ours = getattr(torsh.nn.grad, f"conv{dims}d_input")(x.shape, T(w), T(gy), **kw)
    ref = getattr(torch.nn.grad, f"conv{dims}d_input")(x.shape, R(w), R(gy), **kw)
    np.testing.assert_allclose(ours.numpy(), ref.numpy(), rtol=1e-10, atol=1e-10)
    ours = getattr(torsh.nn.grad, f"conv{dims}d_weight")(T(x), w.shape, T(gy), **kw)
    ref = getattr(torch.nn.grad, f"conv{dims}d_weight")(R(x), w.shape, R(gy), **kw)
    np.testing.assert_allclose(ours.numpy(), ref.numpy(), rtol=1e-10, atol=1e-10)
    assert ours.dtype == torsh.float64 and not ours.requires_grad


def test_float32_and_positional_arguments():
    x, w, gy, kw = _data(CASES[1], seed=1)
    x, w, gy = x.astype(np.float32), w.astype(np.float32), gy.astype(np.float32)
    args = (kw["stride"], kw["padding"], kw["dilation"], kw["groups"])
    ours = torsh.nn.grad.conv2d_weight(torsh.from_numpy(x), list(w.shape), torsh.from_numpy(gy), *args)
    ref = torch.nn.grad.conv2d_weight(torch.from_numpy(x), list(w.shape), torch.from_numpy(gy), *args)
    assert ours.dtype == torsh.float32
    np.testing.assert_allclose(ours.numpy(), ref.numpy(), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("case", CASES[:2])
def test_gradcheck_through_the_other_arguments(case):
    dims = case[0]
    x, w, gy, kw = _data(case, seed=2)
    wt, xt, gyt = (torsh.tensor(a, requires_grad=True) for a in (w, x, gy))
    f_in = getattr(torsh.nn.grad, f"conv{dims}d_input")
    f_w = getattr(torsh.nn.grad, f"conv{dims}d_weight")
    assert torsh.autograd.gradcheck(lambda w_, g_: f_in(x.shape, w_, g_, **kw), (wt, gyt))
    assert torsh.autograd.gradcheck(lambda x_, g_: f_w(x_, w.shape, g_, **kw), (xt, gyt))
    # and the values of those gradients are PyTorch's
    ours = f_in(x.shape, wt, gyt, **kw)
    ours.sum().backward()
    wr, gyr = torch.tensor(w, requires_grad=True), torch.tensor(gy, requires_grad=True)
    getattr(torch.nn.grad, f"conv{dims}d_input")(x.shape, wr, gyr, **kw).sum().backward()
    np.testing.assert_allclose(wt.grad.numpy(), wr.grad.numpy(), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(gyt.grad.numpy(), gyr.grad.numpy(), rtol=1e-10, atol=1e-10)


def test_under_no_grad_the_result_has_no_graph():
    x, w, gy, kw = _data(CASES[0])
    with torsh.no_grad():
        out = torsh.nn.grad.conv1d_input(x.shape, torsh.tensor(w, requires_grad=True), torsh.from_numpy(gy), **kw)
    assert not out.requires_grad


def test_a_grad_output_of_the_wrong_shape_raises_runtime_error():
    # PyTorch's oneDNN path raises a RuntimeError too (its wording is the backend's)
    w = torsh.randn(4, 3, 3, 3)
    with pytest.raises(RuntimeError, match=r"Mismatch in shape: grad_output\[0\] has a shape of \[2, 4, 5, 5\]"):
        torsh.nn.grad.conv2d_input((2, 3, 8, 8), w, torsh.randn(2, 4, 5, 5))
    x = torsh.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="Mismatch in shape"):
        torsh.autograd.grad(x * 2, x, torsh.ones(3))
