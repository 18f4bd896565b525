"""The W6 MLP training step's fast paths against PyTorch 2.13: a float32 Linear's weight gradient on the
lstm_cell panel GEMM (matmul.PANEL_GEMM_MIN_MACS), at one and two threads, and the optimizer steps."""
import numpy as np
import pytest

import torsh
from torsh._ops.tensor.linalg import matmul
from torsh.autograd import gradcheck
from torsh.backend import kernels

from helpers import assert_close, needs_torch, torch_ref

needs_panel_gemm = pytest.mark.skipif(kernels.get("lstm_cell") is None, reason="lstm_cell kernels not built")


@pytest.fixture(params=[1, 2], ids=["1thread", "2threads"])
def threads(request):
    before = torsh.get_num_threads()
    torsh.set_num_threads(request.param)
    yield request.param
    torsh.set_num_threads(before)


def _mlp_grads(lib, x_np, target_np, sizes):
    lib.manual_seed(0)
    layers = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        layers += [lib.nn.Linear(fan_in, fan_out), lib.nn.ReLU()]
    model = lib.nn.Sequential(*layers[:-1])
    x = lib.from_numpy(x_np)
    loss = lib.nn.functional.cross_entropy(model(x), lib.from_numpy(target_np))
    loss.backward()
    return [loss] + [p.grad for p in model.parameters()]


@needs_torch
@needs_panel_gemm
def test_w6_sized_mlp_gradients_match_pytorch(threads):
    """W6's layers (784-512-256-10, batch 128): the first layer's weight gradient is past both thresholds,
    the second past the one-thread threshold only."""
    rng = np.random.default_rng(0)
    x_np = rng.standard_normal((128, 784)).astype(np.float32)
    target_np = rng.integers(0, 10, 128)
    sizes = (784, 512, 256, 10)
    assert 128 * 784 * 512 >= matmul.PANEL_GEMM_MIN_MACS[threads]
    ours = _mlp_grads(torsh, x_np, target_np, sizes)
    ref = _mlp_grads(torch_ref, x_np, target_np, sizes)
    for a, b in zip(ours, ref):
        assert a.shape == b.shape and a.dtype == torsh.float32
        assert_close(a, b, rtol=1e-4, atol=1e-5)
    assert ours[1]._data.flags.c_contiguous  # weight.grad arrives row-major, no transposing copy


@needs_panel_gemm
@pytest.mark.parametrize("rows, fan_in, fan_out", [(128, 784, 512), (64, 512, 256), (3, 5, 7)])
def test_weight_gradient_matches_numpy_and_is_deterministic(threads, rows, fan_in, fan_out):
    rng = np.random.default_rng(1)
    g = rng.standard_normal((rows, fan_out)).astype(np.float32)
    a = rng.standard_normal((rows, fan_in)).astype(np.float32)
    got = matmul._weight_gradient(g, a)
    np.testing.assert_allclose(got, g.astype(np.float64).T @ a.astype(np.float64), rtol=1e-4, atol=1e-4)
    assert got.dtype == np.float32 and got.flags.c_contiguous
    np.testing.assert_array_equal(matmul._weight_gradient(g, a), got)  # run to run: the same bits
    if rows * fan_in * fan_out >= max(matmul.PANEL_GEMM_MIN_MACS.values()):
        torsh.set_num_threads(3 - threads)  # the panel GEMM on the other thread count: the same bits
        np.testing.assert_array_equal(matmul._weight_gradient(g, a), got)


def test_weight_gradient_of_non_contiguous_or_float64_operands():
    rng = np.random.default_rng(2)
    g = rng.standard_normal((128, 1024)).astype(np.float32)[:, ::2]  # strided: the NumPy path
    a = rng.standard_normal((128, 784)).astype(np.float32)
    np.testing.assert_allclose(matmul._weight_gradient(g, a), g.T @ a, rtol=1e-5, atol=1e-4)
    g64, a64 = g.astype(np.float64), a.astype(np.float64)
    got = matmul._weight_gradient(g64, a64)
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, g64.T @ a64, rtol=1e-12)


def test_linear_gradcheck_float64():
    lin = torsh.nn.Linear(6, 4).double()
    x = torsh.randn(5, 6, dtype=torsh.float64, requires_grad=True)
    assert gradcheck(lambda x, w, b: torsh.nn.functional.linear(x, w, b), (x, lin.weight, lin.bias))


@needs_panel_gemm
@pytest.mark.parametrize("a_layout, b_layout", [("C", "C"), ("C", "T"), ("F", "C"), ("F", "T")])
def test_panel_gemm_layouts_match_numpy(a_layout, b_layout):
    """a @ b for every operand layout the panel GEMM reads (F: a transposed view, T: weight.t())."""
    rng = np.random.default_rng(3)
    m, k, n = 96, 200, 300
    a = rng.standard_normal((m, k)).astype(np.float32)
    b = rng.standard_normal((k, n)).astype(np.float32)
    a_in = np.asfortranarray(a) if a_layout == "F" else a
    b_in = np.ascontiguousarray(b.T).T if b_layout == "T" else b
    got = matmul._panel_gemm(a_in, b_in, 1)
    assert got is not None and got.flags.c_contiguous
    np.testing.assert_allclose(got, a.astype(np.float64) @ b.astype(np.float64), rtol=1e-4, atol=1e-4)
    assert matmul._panel_gemm(a_in[:, ::2], b_in[::2], 1) is None  # strided operands: NumPy's path
    assert matmul._panel_gemm(a_in[:32], b_in, 1) is None  # too few rows to amortise the packing


@needs_torch
@needs_panel_gemm
def test_linear_forward_and_input_gradient_on_one_thread_match_pytorch(threads):
    rng = np.random.default_rng(4)
    x_np = rng.standard_normal((128, 784)).astype(np.float32)
    g_np = rng.standard_normal((128, 512)).astype(np.float32)
    results = []
    for lib in (torsh, torch_ref):
        lib.manual_seed(0)
        lin = lib.nn.Linear(784, 512)
        x = lib.from_numpy(x_np.copy()).requires_grad_()
        out = lin(x)
        out.backward(lib.from_numpy(g_np))
        results.append((out, x.grad, lin.weight.grad, lin.bias.grad))
    for a, b in zip(*results):
        assert_close(a, b, rtol=1e-4, atol=1e-4)
