"""The W6 MLP training step's products against PyTorch 2.13: with one thread, float32 products of
>= matmul.PANEL_GEMM_MIN_MACS multiply-adds run on the lstm_cell panel GEMM (forward with weight.t(),
input and weight gradients); with two, on the same GEMM shared with its spinning helpers (threads.gemm_team() on) or
on NumPy's OpenBLAS (off). All must give PyTorch's values."""
import numpy as np
import pytest

import torsh
from torsh._ops.tensor.linalg import matmul
from torsh.autograd import gradcheck
from torsh.backend import kernels, threads

from helpers import assert_close, needs_torch, torch_ref

needs_panel_gemm = pytest.mark.skipif(kernels.get("lstm_cell") is None, reason="lstm_cell kernels not built")


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
def test_w6_sized_mlp_gradients_match_pytorch(num_threads):
    """W6's layers (784-512-256-10, batch 128): the two first layers' products are past the threshold."""
    rng = np.random.default_rng(0)
    x_np = rng.standard_normal((128, 784)).astype(np.float32)
    target_np = rng.integers(0, 10, 128)
    sizes = (784, 512, 256, 10)
    assert 128 * 512 * 256 >= matmul.PANEL_GEMM_MIN_MACS
    ours = _mlp_grads(torsh, x_np, target_np, sizes)
    ref = _mlp_grads(torch_ref, x_np, target_np, sizes)
    for a, b in zip(ours, ref):
        assert a.shape == b.shape and a.dtype == torsh.float32
        assert_close(a, b, rtol=1e-4, atol=1e-5)
    assert ours[1]._data.flags.c_contiguous  # weight.grad arrives row-major, no transposing copy


@needs_torch
@needs_panel_gemm
def test_linear_forward_and_gradients_match_pytorch(num_threads):
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


@needs_panel_gemm
@pytest.mark.parametrize("a_layout, b_layout", [("C", "C"), ("C", "T"), ("F", "C"), ("F", "T")])
def test_panel_gemm_layouts_match_numpy(a_layout, b_layout, monkeypatch):
    """a @ b for every operand layout the panel GEMM reads (F: a transposed view, T: weight.t())."""
    monkeypatch.setattr(threads, "_gemm_team", True)  # it takes products at any thread count then
    rng = np.random.default_rng(3)
    m, k, n = 96, 200, 300
    a = rng.standard_normal((m, k)).astype(np.float32)
    b = rng.standard_normal((k, n)).astype(np.float32)
    a_in = np.asfortranarray(a) if a_layout == "F" else a
    b_in = np.ascontiguousarray(b.T).T if b_layout == "T" else b
    got = matmul._panel_gemm(a_in, b_in)
    assert got is not None and got.flags.c_contiguous and got.dtype == np.float32
    np.testing.assert_allclose(got, a.astype(np.float64) @ b.astype(np.float64), rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(matmul._panel_gemm(a_in, b_in), got)  # run to run: the same bits
    assert matmul._panel_gemm(a_in[:, ::2], b_in[::2]) is None  # strided operands: NumPy's path
    assert matmul._panel_gemm(a_in[:32], b_in) is None  # too few rows to amortise the packing
    assert matmul._panel_gemm(a_in.astype(np.float64), b_in.astype(np.float64)) is None


@pytest.mark.parametrize("team", [True, False], ids=["gemm-team-on", "gemm-team-off"])
def test_products_run_on_the_panel_gemm_per_the_switch(num_threads, team, monkeypatch):
    """_gemm offers float32 products to the panel GEMM, which takes them at one thread and, at two, only with
    threads.gemm_team() on (its spinning helpers); with it off they stay on OpenBLAS's threads."""
    from torsh.backend import threads
    monkeypatch.setattr(threads, "_gemm_team", team)
    calls = []
    real = matmul._panel_gemm
    monkeypatch.setattr(matmul, "_panel_gemm", lambda a, b: calls.append(real(a, b) is not None))
    rng = np.random.default_rng(5)
    a = torsh.from_numpy(rng.standard_normal((128, 256)).astype(np.float32))
    b = torsh.from_numpy(rng.standard_normal((256, 256)).astype(np.float32))
    np.testing.assert_allclose((a @ b).numpy(), a.numpy() @ b.numpy(), rtol=1e-5, atol=1e-4)
    assert calls == [kernels.get("lstm_cell") is not None and (num_threads == 1 or team)]


def test_linear_gradcheck_float64():
    lin = torsh.nn.Linear(6, 4).double()
    x = torsh.randn(5, 6, dtype=torsh.float64, requires_grad=True)
    assert gradcheck(lambda x, w, b: torsh.nn.functional.linear(x, w, b), (x, lin.weight, lin.bias))
