"""The direct convolution kernel (C++ family ``conv_direct``, dispatch op ``conv2d_direct``) against
PyTorch: which convolutions take it, its output on register-block tails (output channels not a
multiple of 4, rows not a multiple of 16), bias or none, thread counts, the gradients of a graph
whose forward ran on it, and the kernel's own argument checks."""
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

import torsh
import torsh.nn.functional as F
from torsh.backend import dispatch, kernels

DIRECT = kernels.get("conv_direct")
pytestmark = pytest.mark.skipif(DIRECT is None or not DIRECT.VECTORISED,
                                reason="this CPU runs the baseline copy, which has no direct kernel")
TOL = dict(rtol=2e-4, atol=2e-4)


def _inputs(xs, ws, seed=0, bias=True):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(xs, dtype=np.float32)
    w = rng.standard_normal(ws, dtype=np.float32)
    b = rng.standard_normal(ws[0], dtype=np.float32) if bias else None
    return x, w, b


def _ops(records):
    return {(r.op, r.variant) for r in records if r.op in ("conv2d_direct", "im2col2d")}


@pytest.mark.parametrize("xs, ws, padding, bias", [
    ((32, 3, 32, 32), (64, 3, 3, 3), 1, True),      # W5
    ((2, 1, 9, 28), (6, 1, 5, 5), 2, True),          # 6 channels: a block of 4 and 2 left; 28 = 16 + 12 columns
    ((1, 1, 40, 37), (5, 1, 3, 3), (0, 2), False),   # batch 1, asymmetric padding per dim, no bias
    ((3, 2, 11, 17), (8, 2, 3, 5), 0, True),         # kh != kw, no padding
    ((2, 2, 20, 20), (4, 2, 4, 4), 1, True),         # C*kh*kw = 32, the largest taken
])
def test_forward_matches_torch_and_runs_on_the_direct_kernel(xs, ws, padding, bias):
    x, w, b = _inputs(xs, ws, bias=bias)
    with torsh.no_grad(), dispatch.record() as records:
        y = F.conv2d(torsh.from_numpy(x), torsh.from_numpy(w), None if b is None else torsh.from_numpy(b),
                     padding=padding)
    expected = torch.nn.functional.conv2d(torch.from_numpy(x), torch.from_numpy(w),
                                          None if b is None else torch.from_numpy(b), padding=padding)
    assert _ops(records) == {("conv2d_direct", "pythran_omp")}
    np.testing.assert_allclose(y.numpy(), expected.numpy(), **TOL)


@pytest.mark.parametrize("case", ["float64", "stride 2", "dilation 2", "groups 2", "33 taps", "weight grad"])
def test_other_convolutions_stay_on_im2col(case):
    xs, ws, kwargs, dtype = (2, 4, 12, 12), (8, 4, 3, 3), {}, np.float32
    if case == "stride 2":
        kwargs = dict(stride=2)
    elif case == "dilation 2":
        kwargs = dict(dilation=2)
    elif case == "groups 2":
        ws, kwargs = (8, 2, 3, 3), dict(groups=2)
    elif case == "33 taps":
        xs, ws = (2, 11, 12, 12), (8, 11, 1, 3)
    elif case == "float64":
        dtype = np.float64
    x, w, b = (a.astype(dtype) for a in _inputs(xs, ws))
    tw = torsh.tensor(w, requires_grad=case == "weight grad")
    with torsh.set_grad_enabled(case == "weight grad"), dispatch.record() as records:
        y = F.conv2d(torsh.tensor(x), tw, torsh.tensor(b), **kwargs)
    assert "conv2d_direct" not in {r.op for r in records}
    expected = torch.nn.functional.conv2d(torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(b), **kwargs)
    np.testing.assert_allclose(y.detach().numpy(), expected.numpy(), **TOL)


def test_input_gradient_through_a_direct_forward_matches_torch():
    """Only x requires grad: no columns are kept, the forward runs direct, the backward is col2im."""
    x, w, b = _inputs((4, 3, 10, 18), (6, 3, 3, 3), seed=1)
    tx = torsh.tensor(x, requires_grad=True)
    with dispatch.record() as records:
        y = F.conv2d(tx, torsh.tensor(w), torsh.tensor(b), padding=1)
    assert "conv2d_direct" in {r.op for r in records}
    g = np.random.default_rng(2).standard_normal(y.shape).astype(np.float32)
    y.backward(torsh.tensor(g))
    rx = torch.tensor(x, requires_grad=True)
    torch.nn.functional.conv2d(rx, torch.from_numpy(w), torch.from_numpy(b), padding=1).backward(torch.from_numpy(g))
    np.testing.assert_allclose(tx.grad.numpy(), rx.grad.numpy(), **TOL)


@pytest.mark.parametrize("num_threads", [1, 2])
def test_any_thread_count_gives_the_same_output(num_threads):
    x, w, b = _inputs((5, 3, 16, 33), (7, 3, 3, 3), seed=3)
    before = torsh.get_num_threads()
    torsh.set_num_threads(num_threads)
    try:
        with torsh.no_grad():
            y = F.conv2d(torsh.from_numpy(x), torsh.from_numpy(w), torsh.from_numpy(b), padding=1)
    finally:
        torsh.set_num_threads(before)
    expected = torch.nn.functional.conv2d(torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(b), padding=1)
    np.testing.assert_allclose(y.numpy(), expected.numpy(), **TOL)


def test_kernel_refuses_buffers_smaller_than_the_shapes_say():
    xp = np.zeros((1, 1, 6, 6), np.float32)
    w, b = np.zeros((2, 1, 3, 3), np.float32), np.zeros(2, np.float32)
    out = np.zeros((1, 2, 4, 3), np.float32)  # one column short of (1, 2, 4, 4)
    with pytest.raises(ValueError, match="conv2d_direct: out holds 96 bytes"):
        DIRECT.conv2d_direct(xp, w, b, out, 1, 1, 6, 6, 2, 3, 3, 4, 4, False)
    with pytest.raises(ValueError, match="conv2d_direct: inconsistent shape"):
        DIRECT.conv2d_direct(xp, w, b, np.zeros((1, 2, 5, 5), np.float32), 1, 1, 6, 6, 2, 3, 3, 5, 5, False)
    with pytest.raises(TypeError):  # a read-only output buffer
        DIRECT.conv2d_direct(xp, w, b, b"\0" * 128, 1, 1, 6, 6, 2, 3, 3, 4, 4, False)


def test_the_baseline_copy_has_no_direct_kernel_and_convolutions_use_im2col():
    code = ("import numpy as np, torsh; from torsh.backend import kernels, dispatch\n"
            "x = torsh.ones(2, 3, 8, 8); w = torsh.ones(4, 3, 3, 3)\n"
            "with torsh.no_grad(), dispatch.record() as r: y = torsh.nn.functional.conv2d(x, w, padding=1)\n"
            "print(kernels.get('conv_direct').VECTORISED, sorted({e.op for e in r}), float(y[0, 0, 4, 4]))")
    env = dict(os.environ, TORSH_KERNEL_ISA="baseline")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "['im2col2d']", "27.0"]
