"""The direct convolution kernel (C++ family ``conv_direct``, dispatch op ``conv2d_direct``) against
PyTorch: which convolutions take it, its output on register-block tails (output channels not a
multiple of 4, rows not a multiple of 8, rows narrower than 8), strides, padding, bias or none, thread
counts, the gradients of a graph whose forward ran on it (the stride-1 input gradient direct too), the
direct weight gradient of a training step (and its double backward), and the kernels' own argument checks."""
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

import torsh
import torsh.nn.functional as F
from torsh.backend import dispatch, kernels

from isa_helpers import running, vector_isas

DIRECT = kernels.get("conv_direct")
pytestmark = pytest.mark.skipif(DIRECT is None or not DIRECT.VECTORISED,
                                reason="this CPU runs the baseline copy, which has no direct kernel")
TOL = dict(rtol=2e-4, atol=2e-4)


@pytest.fixture(params=vector_isas(DIRECT))
def isa(request):
    """Runs the test on each vector build (AVX-512 takes rows of 16 outputs or more)."""
    with running(DIRECT, request.param):
        yield request.param


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
    ((2, 2, 20, 20), (4, 2, 4, 4), 1, True),         # C*kh*kw = 32
    ((2, 64, 8, 8), (64, 64, 3, 3), 1, True),        # 576 taps, rows of exactly 8 (W12's last block)
    ((2, 11, 12, 12), (8, 11, 1, 3), 0, True),       # 33 taps: 11 chunks of 3
    ((2, 5, 7, 41), (6, 5, 3, 3), 1, True),          # 41 columns: AVX-512 vectors of 16, the last moved back
    ((2, 3, 6, 6), (3, 3, 3, 3), 0, True),           # rows of 4 columns (scalar), 3 channels
    ((2, 1, 12, 12), (7, 1, 3, 3), 1, True),         # 12 columns: 8 + a block moved back; 4 + 3 channels
])
def test_forward_matches_torch_and_runs_on_the_direct_kernel(xs, ws, padding, bias, isa):
    x, w, b = _inputs(xs, ws, bias=bias)
    with torsh.no_grad(), dispatch.record() as records:
        y = F.conv2d(torsh.from_numpy(x), torsh.from_numpy(w), None if b is None else torsh.from_numpy(b),
                     padding=padding)
    expected = torch.nn.functional.conv2d(torch.from_numpy(x), torch.from_numpy(w),
                                          None if b is None else torch.from_numpy(b), padding=padding)
    assert _ops(records) == {("conv2d_direct", "pythran_omp")}
    np.testing.assert_allclose(y.numpy(), expected.numpy(), **TOL)


def test_weight_gradients_past_the_partial_sums_budget_take_the_gemm(monkeypatch):
    """Above DIRECT_MAX_WEIGHTS the forward stays direct and the weight gradient makes its own columns."""
    from torsh._ops.nn import conv as nn_conv
    monkeypatch.setattr(nn_conv, "DIRECT_MAX_WEIGHTS", 8 * 4 * 9 - 1)
    x, w, b = _inputs((3, 4, 9, 11), (8, 4, 3, 3), seed=12)
    tw = torsh.tensor(w, requires_grad=True)
    with dispatch.record() as records:
        F.conv2d(torsh.tensor(x), tw, torsh.tensor(b), padding=1).square().sum().backward()
    ops = {r.op for r in records}
    assert "conv2d_direct" in ops and "conv2d_direct_weight_grad" not in ops and "im2col2d" in ops
    rw = torch.tensor(w, requires_grad=True)
    torch.nn.functional.conv2d(torch.from_numpy(x), rw, torch.from_numpy(b), padding=1).square().sum().backward()
    np.testing.assert_allclose(tw.grad.numpy(), rw.grad.numpy(), rtol=2e-4, atol=1e-3)


@pytest.mark.parametrize("case", ["float64", "dilation 2", "groups 2"])
def test_other_convolutions_stay_on_im2col(case):
    xs, ws, kwargs, dtype = (2, 4, 12, 12), (8, 4, 3, 3), {}, np.float32
    if case == "dilation 2":
        kwargs = dict(dilation=2)
    elif case == "groups 2":
        ws, kwargs = (8, 2, 3, 3), dict(groups=2)
    elif case == "float64":
        dtype = np.float64
    x, w, b = (a.astype(dtype) for a in _inputs(xs, ws))
    tw = torsh.tensor(w, requires_grad=True)
    with dispatch.record() as records:
        y = F.conv2d(torsh.tensor(x), tw, torsh.tensor(b), **kwargs)
        y.sum().backward()
    assert not {"conv2d_direct", "conv2d_direct_weight_grad"} & {r.op for r in records}
    rw = torch.tensor(w, requires_grad=True)
    expected = torch.nn.functional.conv2d(torch.from_numpy(x), rw, torch.from_numpy(b), **kwargs)
    expected.sum().backward()
    np.testing.assert_allclose(y.detach().numpy(), expected.detach().numpy(), **TOL)
    np.testing.assert_allclose(tw.grad.numpy(), rw.grad.numpy(), **TOL)


@pytest.mark.parametrize("xs, ws, kwargs, direct_backward", [
    ((4, 3, 10, 18), (6, 3, 3, 3), dict(padding=1), True),     # stride 1: the input gradient is a direct convolution
    ((2, 5, 9, 7), (4, 5, 2, 4), dict(padding=(0, 3)), True),   # padding past kw - 1 on one side: gy cropped, not padded
    ((2, 4, 11, 10), (3, 4, 3, 3), dict(padding="same"), True),
    ((2, 4, 10, 10), (3, 4, 4, 2), dict(padding="same"), True),  # even kernel: more zeros after than before
    ((3, 4, 13, 12), (5, 4, 3, 3), dict(stride=2, padding=1), True),  # stride 2: one convolution per phase of dx
    ((2, 16, 32, 32), (32, 16, 1, 1), dict(stride=2), True),          # 1x1 stride 2: three phases get no tap
    ((2, 3, 17, 23), (5, 3, 3, 2), dict(stride=(3, 2), padding=(2, 1)), True),
    ((2, 2, 7, 9), (3, 2, 4, 4), dict(stride=3, padding=(0, 1)), True),  # 4 taps over stride 3: 2 + 1 + 1
    ((2, 3, 8, 8), (4, 3, 3, 3), dict(dilation=2), False),            # dilation: GEMM and col2im
])
def test_input_gradient_through_a_direct_forward_matches_torch(xs, ws, kwargs, direct_backward, isa):
    """Only x requires grad: no columns are kept, the forward runs direct (not with dilation), and so does the
    backward: at stride 1 a convolution with the flipped kernel, with strides one per phase of dx."""
    x, w, b = _inputs(xs, ws, seed=1)
    tx = torsh.tensor(x, requires_grad=True)
    with dispatch.record() as records:
        y = F.conv2d(tx, torsh.tensor(w), torsh.tensor(b), **kwargs)
    assert {op for op, _ in _ops(records)} == {"conv2d_direct" if direct_backward else "im2col2d"}
    g = np.random.default_rng(2).standard_normal(y.shape).astype(np.float32)
    with dispatch.record() as records:
        y.backward(torsh.tensor(g))
    assert ("conv2d_direct" in {r.op for r in records}) == direct_backward
    rx = torch.tensor(x, requires_grad=True)
    torch.nn.functional.conv2d(rx, torch.from_numpy(w), torch.from_numpy(b), **kwargs).backward(torch.from_numpy(g))
    np.testing.assert_allclose(tx.grad.numpy(), rx.grad.numpy(), **TOL)


@pytest.mark.parametrize("xs, ws, padding", [
    ((32, 3, 32, 32), (64, 3, 3, 3), 1),   # W5: rows of 32, taps in one block of 3
    ((4, 1, 28, 28), (6, 1, 5, 5), 2),     # LeNet-5's first layer: 5 taps = 3 + 2, 6 channels = 4 + 2
    ((3, 2, 9, 13), (7, 2, 4, 3), 1),      # rows of 11 (8 + a masked tail), 4 taps = 3 + 1, 4 + 3 channels
    ((2, 3, 6, 5), (1, 3, 3, 3), 0),       # rows of 3 (masked only), 1 channel
    ((4, 16, 32, 32), (32, 16, 3, 3), dict(stride=2, padding=1)),  # W12's strided 3x3: column phases of the input
    ((4, 16, 32, 32), (32, 16, 1, 1), dict(stride=2)),             # ... and its 1x1 shortcut
    ((3, 3, 17, 23), (5, 3, 3, 2), dict(stride=(3, 2), padding=(2, 1))),  # strides and paddings per dim
    ((2, 7, 6, 37), (5, 7, 3, 3), dict(padding=1)),  # 37 columns: 2 x 16 + a masked tail of 5; 63 taps
])
def test_training_step_runs_both_direct_kernels_and_matches_torch(xs, ws, padding, isa):
    """Weight and input requiring grad: the forward and the weight gradient run direct, no columns are kept."""
    x, w, b = _inputs(xs, ws, seed=4)
    tx, tw, tb = (torsh.tensor(a, requires_grad=True) for a in (x, w, b))
    kwargs = padding if isinstance(padding, dict) else dict(padding=padding)
    with dispatch.record() as records:
        y = F.conv2d(tx, tw, tb, **kwargs)
        assert y.grad_fn.cols is None
        g = np.random.default_rng(5).standard_normal(y.shape).astype(np.float32)
        y.backward(torsh.tensor(g))
    assert _ops(records) == {("conv2d_direct", "pythran_omp")}
    assert ("conv2d_direct_weight_grad", "pythran_omp") in {(r.op, r.variant) for r in records}
    rx, rw, rb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    yr = torch.nn.functional.conv2d(rx, rw, rb, **kwargs)
    yr.backward(torch.from_numpy(g))
    np.testing.assert_allclose(y.detach().numpy(), yr.detach().numpy(), **TOL)
    for ours, ref in ((tx, rx), (tw, rw), (tb, rb)):
        np.testing.assert_allclose(ours.grad.numpy(), ref.grad.numpy(), rtol=2e-4, atol=1e-3)


@pytest.mark.parametrize("kwargs", [dict(stride=2, padding=1, output_padding=1), dict(stride=(3, 2), padding=(1, 0))])
def test_strided_conv_transpose2d_runs_on_the_phase_kernels_and_matches_torch(kwargs, isa):
    """A transposed convolution's forward is the input gradient of a convolution: strided, its phases."""
    x, w, _ = _inputs((2, 6, 5, 7), (6, 4, 3, 3), seed=9, bias=False)
    b = np.random.default_rng(11).standard_normal(4).astype(np.float32)  # one per output channel: w.shape[1]
    tx, tw, tb = (torsh.tensor(a, requires_grad=True) for a in (x, w, b))
    with dispatch.record() as records:
        y = F.conv_transpose2d(tx, tw, tb, **kwargs)
    assert "conv2d_direct" in {r.op for r in records}
    rx, rw, rb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    yr = torch.nn.functional.conv_transpose2d(rx, rw, rb, **kwargs)
    np.testing.assert_allclose(y.detach().numpy(), yr.detach().numpy(), **TOL)
    g = np.random.default_rng(10).standard_normal(y.shape).astype(np.float32)
    y.backward(torsh.tensor(g))
    yr.backward(torch.from_numpy(g))
    for ours, ref in ((tx, rx), (tw, rw), (tb, rb)):
        np.testing.assert_allclose(ours.grad.numpy(), ref.grad.numpy(), rtol=2e-4, atol=1e-3)


def test_conv_transpose2d_gradients_run_on_the_direct_kernels_and_match_torch():
    """The transposed convolution's backward is a convolution (input gradient) and a weight gradient
    with the roles of input and output gradient swapped: both direct at stride 1."""
    x, w, _ = _inputs((2, 4, 6, 7), (4, 3, 3, 3), seed=7, bias=False)
    tx, tw = torsh.tensor(x, requires_grad=True), torsh.tensor(w, requires_grad=True)
    with dispatch.record() as records:
        F.conv_transpose2d(tx, tw, padding=1).square().sum().backward()
    assert {"conv2d_direct", "conv2d_direct_weight_grad"} <= {r.op for r in records}
    rx, rw = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    torch.nn.functional.conv_transpose2d(rx, rw, padding=1).square().sum().backward()
    np.testing.assert_allclose(tx.grad.numpy(), rx.grad.numpy(), rtol=2e-4, atol=1e-3)
    np.testing.assert_allclose(tw.grad.numpy(), rw.grad.numpy(), rtol=2e-4, atol=1e-3)


def test_direct_weight_gradient_has_gradients_itself():
    """The weight gradient's own graph (double backward) stays torsh ops around the direct kernel."""
    x, w, _ = _inputs((2, 2, 7, 9), (3, 2, 3, 3), seed=6)
    tx, tw = torsh.tensor(x, requires_grad=True), torsh.tensor(w, requires_grad=True)
    rx, rw = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    (gw,) = torsh.autograd.grad(F.conv2d(tx, tw, padding=1).square().sum(), tw, create_graph=True)
    (gwr,) = torch.autograd.grad(torch.nn.functional.conv2d(rx, rw, padding=1).square().sum(), rw, create_graph=True)
    np.testing.assert_allclose(gw.detach().numpy(), gwr.detach().numpy(), rtol=2e-4, atol=1e-3)
    gw.sum().backward()
    gwr.sum().backward()
    np.testing.assert_allclose(tx.grad.numpy(), rx.grad.numpy(), rtol=2e-4, atol=1e-3)
    np.testing.assert_allclose(tw.grad.numpy(), rw.grad.numpy(), rtol=2e-4, atol=1e-3)


@pytest.mark.parametrize("num_threads", [1, 2])
@pytest.mark.parametrize("xs, ws", [
    ((5, 3, 16, 35), (7, 3, 3, 3)),
    ((1, 16, 40, 40), (21, 16, 3, 3)),  # batch 1, 4.8M multiply-adds: the threads share the output channels
    ((3, 2, 6, 6), (3, 2, 3, 3)),       # too little work to wake a second thread
    ((20, 16, 8, 8), (24, 16, 3, 3)),   # 8 x 8 planes: weight-gradient tiles over groups of 8, 8 and 4 samples
])
def test_any_thread_count_gives_the_same_output(num_threads, xs, ws, isa):
    x, w, b = _inputs(xs, ws, seed=3)
    before = torsh.get_num_threads()
    torsh.set_num_threads(num_threads)
    tw = torsh.tensor(w, requires_grad=True)
    try:
        y = F.conv2d(torsh.from_numpy(x), tw, torsh.from_numpy(b), padding=1)
        y.sum().backward()
    finally:
        torsh.set_num_threads(before)
    rw = torch.tensor(w, requires_grad=True)
    expected = torch.nn.functional.conv2d(torch.from_numpy(x), rw, torch.from_numpy(b), padding=1)
    expected.sum().backward()
    np.testing.assert_allclose(y.detach().numpy(), expected.detach().numpy(), **TOL)
    np.testing.assert_allclose(tw.grad.numpy(), rw.grad.numpy(), rtol=2e-4, atol=1e-3)


def _weight_grad_on_threads(x, w, num_threads, **kwargs):
    before = torsh.get_num_threads()
    torsh.set_num_threads(num_threads)
    tw = torsh.tensor(w, requires_grad=True)
    try:
        F.conv2d(torsh.from_numpy(x), tw, **kwargs).square().sum().backward()
    finally:
        torsh.set_num_threads(before)
    return tw.grad.numpy()


@pytest.mark.parametrize("xs, ws, kwargs", [
    ((32, 64, 8, 8), (64, 64, 3, 3), dict(padding=1)),             # W12's last block: 16 channel blocks, 1 range
    ((8, 16, 32, 32), (16, 16, 3, 3), dict(padding=1)),            # 4 channel blocks x 4 tap ranges
    ((6, 1, 28, 28), (6, 1, 5, 5), dict(padding=2)),               # LeNet-5's first: blocks of 4 and 2 channels
    ((8, 16, 32, 32), (32, 16, 3, 3), dict(stride=2, padding=1)),  # strided
])
def test_weight_gradient_is_bitwise_the_same_on_any_thread_count(xs, ws, kwargs, isa):
    """Each weight is summed by one work item in sample order, whichever thread runs it: 1 and 2 threads and
    repeated runs agree to the bit, and with PyTorch to float32 tolerance."""
    x, w, _ = _inputs(xs, ws, seed=21, bias=False)
    one, two, again = (_weight_grad_on_threads(x, w, n, **kwargs) for n in (1, 2, 2))
    np.testing.assert_array_equal(one, two)
    np.testing.assert_array_equal(two, again)
    rw = torch.tensor(w, requires_grad=True)
    torch.nn.functional.conv2d(torch.from_numpy(x), rw, **kwargs).square().sum().backward()
    expected = rw.grad.numpy()
    np.testing.assert_allclose(two, expected, rtol=2e-4, atol=1e-5 * np.abs(expected).max())


@pytest.mark.parametrize("num_threads", [1, 2])
def test_weight_gradient_over_more_samples_than_one_padded_chunk_matches_torch(num_threads, isa):
    """20 samples of 256 channels 16 x 16 padded take ~6.6 MB, over the kernel's 4 MB of padded samples at once:
    two chunks, the partial sums carried from the first to the second."""
    x, w, _ = _inputs((20, 256, 16, 16), (8, 256, 3, 3), seed=22, bias=False)
    ours = _weight_grad_on_threads(x, w, num_threads, padding=1)
    rw = torch.tensor(w, requires_grad=True)
    torch.nn.functional.conv2d(torch.from_numpy(x), rw, padding=1).square().sum().backward()
    expected = rw.grad.numpy()
    np.testing.assert_allclose(ours, expected, rtol=2e-4, atol=1e-5 * np.abs(expected).max())


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
    gy = np.zeros((1, 2, 4, 4), np.float32)
    with pytest.raises(ValueError, match="conv2d_direct_weight_grad: dw holds 68 bytes"):
        DIRECT.conv2d_direct_weight_grad(xp, gy, np.zeros(17, np.float32), 1, 1, 6, 6, 2, 3, 3, 4, 4, False)
    with pytest.raises(ValueError, match="conv2d_direct_weight_grad: gy holds 128 bytes"):
        DIRECT.conv2d_direct_weight_grad(np.zeros((2, 1, 6, 6), np.float32), gy, w, 2, 1, 6, 6, 2, 3, 3, 4, 4, False)


def test_strided_padded_entry_points_refuse_buffers_smaller_than_the_shapes_say():
    x = np.zeros((1, 1, 6, 6), np.float32)
    w, b = np.zeros((2, 1, 3, 3), np.float32), np.zeros(2, np.float32)
    out = np.zeros((1, 2, 3, 2), np.float32)  # stride 2, padding 1: (1, 2, 3, 3) needed
    with pytest.raises(ValueError, match="conv2d: out holds 48 bytes, needs 18 float32 values"):
        DIRECT.conv2d(x, w, b, out, 1, 1, 6, 6, 2, 3, 3, 2, 2, 1, 1, 3, 3, False)
    with pytest.raises(ValueError, match="conv2d: x holds 144 bytes, needs 72 float32 values"):
        DIRECT.conv2d(x, w, b, np.zeros(18, np.float32), 2, 1, 6, 6, 2, 3, 3, 2, 2, 1, 1, 3, 3, False)
    with pytest.raises(ValueError, match="conv2d: inconsistent shape arguments"):  # stride 0
        DIRECT.conv2d(x, w, b, np.zeros(18, np.float32), 1, 1, 6, 6, 2, 3, 3, 0, 2, 1, 1, 3, 3, False)
    with pytest.raises(ValueError, match="conv2d_weight_grad: dw holds 68 bytes"):
        DIRECT.conv2d_weight_grad(x, np.zeros(18, np.float32), np.zeros(17, np.float32), 1, 1, 6, 6, 2, 3, 3, 2, 2,
                                  1, 1, 3, 3, False)
    with pytest.raises(ValueError, match="conv2d_weight_grad: the shape arguments make the padded input larger"):
        DIRECT.conv2d_weight_grad(x, np.zeros(18, np.float32), w, 1, 1, 6, 6, 2, 3, 3, 1 << 40, 2, 1, 1, 3, 3, False)
    with pytest.raises(TypeError):  # a read-only output buffer
        DIRECT.conv2d(x, w, b, b"\0" * 128, 1, 1, 6, 6, 2, 3, 3, 2, 2, 1, 1, 3, 3, False)


def test_padding_larger_than_the_input_and_cropping_padding_match_a_reference(isa):
    """The kernel pads each sample itself: zeros past the input on every side, or (negative padding,
    as the stride-1 input gradient passes when padding exceeds kernel - 1) rows and columns dropped."""
    rng = np.random.default_rng(8)
    x = rng.standard_normal((2, 3, 5, 4), dtype=np.float32)
    w = rng.standard_normal((5, 3, 2, 3), dtype=np.float32)
    b = rng.standard_normal(5, dtype=np.float32)
    for ph, pw in ((4, 6), (-1, -2), (0, 3)):
        padded = np.pad(x, ((0, 0), (0, 0), (max(ph, 0), 8), (max(pw, 0), 8)))[:, :, max(-ph, 0):, max(-pw, 0):]
        oh, ow = padded.shape[2] - 2 - 8 + 1 + 2, padded.shape[3] - 3 - 8 + 1 + 3  # some zero rows/columns past x
        y = np.empty((2, 5, oh, ow), np.float32)
        DIRECT.conv2d(x, w, b, y, 2, 3, 5, 4, 5, 2, 3, 1, 1, ph, pw, oh, ow, False)
        expected = torch.nn.functional.conv2d(torch.from_numpy(np.ascontiguousarray(padded)), torch.from_numpy(w),
                                              torch.from_numpy(b))[:, :, :oh, :ow]
        np.testing.assert_allclose(y, expected.numpy(), **TOL)


def _run_on_baseline_copy(code):
    """The words ``code`` prints, run in a fresh interpreter that loads the portable kernel copies."""
    env = dict(os.environ, TORSH_KERNEL_ISA="baseline")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout.split()


def test_the_baseline_copy_has_no_direct_kernel_and_convolutions_use_im2col():
    code = ("import numpy as np, torsh; from torsh.backend import kernels, dispatch\n"
            "x = torsh.ones(2, 3, 8, 8); w = torsh.ones(4, 3, 3, 3)\n"
            "with torsh.no_grad(), dispatch.record() as r: y = torsh.nn.functional.conv2d(x, w, padding=1)\n"
            "print(kernels.get('conv_direct').VECTORISED, sorted({e.op for e in r}), float(y[0, 0, 4, 4]))")
    assert _run_on_baseline_copy(code) == ["False", "['im2col2d']", "27.0"]


def test_set_isa_names_the_builds_it_can_run():
    previous = DIRECT.set_isa("avx2")
    try:
        assert DIRECT.set_isa(previous) == "avx2"
        with pytest.raises(ValueError, match="set_isa: neon is not available here"):
            DIRECT.set_isa("neon")
    finally:
        DIRECT.set_isa(previous)
    assert DIRECT.ISA in ("avx2", "avx512")


def test_the_baseline_copys_scalar_kernels_compute_the_same_as_numpy():
    """Not called by torsh (VECTORISED is False there) but exported: they must still be right."""
    code = ("import numpy as np; from torsh.backend import kernels\n"
            "from numpy.lib.stride_tricks import sliding_window_view as win\n"
            "m = kernels.get('conv_direct'); rng = np.random.default_rng(0)\n"
            "xp = rng.standard_normal((2, 3, 7, 9), dtype=np.float32); w = rng.standard_normal((5, 3, 3, 2), dtype=np.float32)\n"
            "b = rng.standard_normal(5, dtype=np.float32); y = np.empty((2, 5, 5, 8), np.float32)\n"
            "m.conv2d_direct(xp, w, b, y, 2, 3, 7, 9, 5, 3, 2, 5, 8, True)\n"
            "windows = win(xp.astype(np.float64), (3, 2), axis=(2, 3))\n"
            "ref = np.einsum('ncijkl,ockl->noij', windows, w) + b[:, None, None]\n"
            "gy = rng.standard_normal((2, 5, 5, 8), dtype=np.float32); dw = np.empty_like(w)\n"
            "m.conv2d_direct_weight_grad(xp, gy, dw, 2, 3, 7, 9, 5, 3, 2, 5, 8, True)\n"
            "ref_dw = np.einsum('noij,ncijkl->ockl', gy, windows)\n"
            "x = xp[:, :, 1:-1, 1:-1].copy(); ys = np.empty((2, 5, 3, 4), np.float32)\n"  # stride 2, padding 1
            "m.conv2d(x, w, b, ys, 2, 3, 5, 7, 5, 3, 2, 2, 2, 1, 1, 3, 4, True)\n"
            "xz = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (1, 1), (1, 1)))\n"
            "ws = win(xz, (3, 2), axis=(2, 3))[:, :, ::2, ::2][:, :, :3, :4]; ref_s = np.einsum('ncijkl,ockl->noij', ws, w) + b[:, None, None]\n"
            "gs = gy[:, :, :3, :4].copy(); dws = np.empty_like(w)\n"
            "m.conv2d_weight_grad(x, gs, dws, 2, 3, 5, 7, 5, 3, 2, 2, 2, 1, 1, 3, 4, True)\n"
            "ref_dws = np.einsum('noij,ncijkl->ockl', gs, ws)\n"
            "print(m.VECTORISED, np.abs(y - ref).max() < 1e-4, np.abs(dw - ref_dw).max() < 1e-4,\n"
            "      np.abs(ys - ref_s).max() < 1e-4, np.abs(dws - ref_dws).max() < 1e-4)")
    assert _run_on_baseline_copy(code) == ["False", "True", "True", "True", "True"]


# -- the kernels' helper threads (conv_direct.cpp: Helpers) ---------------------------------------------------
def _direct_forward(x, w, b, parallel):
    """conv2d(x, w, b, padding=1) on the kernel itself, ``parallel`` as given (the dispatcher bypassed)."""
    n, c, h, wd = x.shape
    y = np.empty((n, w.shape[0], h, wd), np.float32)
    DIRECT.conv2d(x, w, b, y, n, c, h, wd, w.shape[0], 3, 3, 1, 1, 1, 1, h, wd, parallel)
    return y


def _torch_forward(x, w, b):
    return torch.nn.functional.conv2d(torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(b),
                                      padding=1).numpy()


def test_python_threads_calling_at_once_share_the_helpers_and_match_torch():
    """One caller at a time has the helper threads: callers that find them busy run their items alone, and
    every caller's output is the same as one call's, and PyTorch's."""
    from concurrent.futures import ThreadPoolExecutor
    x, w, b = _inputs((16, 16, 24, 24), (16, 16, 3, 3), seed=31)
    before = torsh.get_num_threads()
    torsh.set_num_threads(2)
    try:
        alone = _direct_forward(x, w, b, True)
        with ThreadPoolExecutor(4) as pool:
            outputs = list(pool.map(lambda _: _direct_forward(x, w, b, True), range(16)))
    finally:
        torsh.set_num_threads(before)
    for y in outputs:
        np.testing.assert_array_equal(y, alone)
    np.testing.assert_allclose(alone, _torch_forward(x, w, b), **TOL)


def test_a_fork_child_runs_the_kernel_without_the_parents_helper_threads():
    """fork() copies only the calling thread: the child starts a pool of its own instead of waiting for helpers
    that do not exist there (the dispatcher keeps forked children on one thread; the kernel must not hang
    when called with parallel=True anyway)."""
    x, w, b = _inputs((8, 16, 20, 20), (8, 16, 3, 3), seed=32)
    before = torsh.get_num_threads()
    torsh.set_num_threads(2)
    try:
        parent = _direct_forward(x, w, b, True)  # the helpers now run in this process
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: its result's bytes into the pipe, then out without cleanup
            try:
                os.write(write, _direct_forward(x, w, b, True).tobytes())
            finally:
                os._exit(0)
        os.close(write)
        chunks = []
        import select
        while select.select([read], [], [], 60)[0]:
            chunk = os.read(read, 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
        else:
            os.kill(pid, 9)
        os.waitpid(pid, 0)
        os.close(read)
    finally:
        torsh.set_num_threads(before)
    child = np.frombuffer(b"".join(chunks), np.float32)
    assert child.size == parent.size, "the forked child did not finish its convolution"
    np.testing.assert_array_equal(child.reshape(parent.shape), parent)
    np.testing.assert_allclose(parent, _torch_forward(x, w, b), **TOL)
