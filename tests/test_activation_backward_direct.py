"""Activation kernels (backward in ``kernel_backward.on_kernel``, unary forwards in ``bulk.unary``) called
without the dispatcher's closures when nobody records decisions: the recorded path's bits, PyTorch's values."""
import numpy as np
import pytest
import torch

import torsh
from torsh.backend import dispatch

ACTIVATIONS = [("relu", {}), ("gelu", {}), ("gelu", {"approximate": "tanh"}), ("silu", {}), ("elu", {"alpha": 0.7}),
               ("softplus", {"beta": 2.0, "threshold": 5.0}), ("mish", {})]


def _grads(lib, name, kwargs, x, upstream, transposed):
    t = lib.tensor(x, requires_grad=True)
    y = getattr(lib.nn.functional, name)(t, **kwargs)
    g = lib.tensor(upstream)
    if transposed:  # a non-contiguous incoming gradient
        g = lib.tensor(np.ascontiguousarray(upstream.T)).t()
    y.backward(g)
    return t.grad.detach().numpy()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("transposed", [False, True])
@pytest.mark.parametrize("name,kwargs", ACTIVATIONS, ids=lambda v: str(v))
def test_unrecorded_backward_matches_recorded_and_torch(name, kwargs, dtype, transposed):
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((67, 301)) * 3).astype(dtype)
    x[0, :4] = 0.0  # relu's threshold_backward at 0
    upstream = rng.standard_normal((67, 301)).astype(dtype)
    with dispatch.record():
        recorded = _grads(torsh, name, kwargs, x, upstream, transposed)
    direct = _grads(torsh, name, kwargs, x, upstream, transposed)
    np.testing.assert_array_equal(direct, recorded)
    tol = dict(rtol=1e-5, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(direct, _grads(torch, name, kwargs, x, upstream, transposed), **tol)


def test_relu_gradcheck_float64():
    x = torsh.tensor(np.random.default_rng(1).standard_normal((5, 7)) + 0.05, requires_grad=True)
    assert torsh.autograd.gradcheck(torsh.nn.functional.relu, (x,))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("layout", ["contiguous", "transposed"])
@pytest.mark.parametrize("name", ["relu", "exp", "tanh", "sigmoid"])
def test_unrecorded_unary_kernels_match_recorded_and_torch(name, layout, dtype):
    # bulk.unary calls the kernel itself when nobody records (relu's forward in an MLP step): same bits
    x = (np.random.default_rng(2).standard_normal((301, 257)) * 4).astype(dtype)
    x[0, :3] = (0.0, -0.0, np.nan)

    def run(lib):
        t = lib.tensor(x)
        return getattr(lib, name)(t.t() if layout == "transposed" else t).numpy()

    with dispatch.record() as records:
        recorded = run(torsh)
    assert any(r.op == name for r in records)
    direct = run(torsh)
    np.testing.assert_array_equal(direct, recorded)
    tol = dict(rtol=2e-6, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(direct, run(torch), equal_nan=True, **tol)
