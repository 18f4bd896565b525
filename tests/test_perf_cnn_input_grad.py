"""The float32 convolution input gradient in one kernel call (issue #20, W12): conv_direct's
``conv2d_input_grad`` runs every phase of a strided layer's dx (one at stride 1) in one job, the phases no tap
reaches written as zeros. Checked against PyTorch (batches, batch 1 whose items are cut by output channel
blocks, strides past the kernel, per-dim strides and paddings, 1 and 2 threads, both vector ISAs), bit for
bit the same on any thread count, and the entry point's argument checks in both builds."""
import importlib
import importlib.util

import numpy as np
import pytest

import torsh
import torsh.nn.functional as F
from torsh.backend import kernels

from helpers import torch_ref as torch
from isa_helpers import running, vector_isas

DIRECT = kernels.get("conv_direct")
pytestmark = pytest.mark.skipif(DIRECT is None or not DIRECT.VECTORISED,
                                reason="this CPU runs the baseline copy, which has no direct kernel")
TOL = dict(rtol=2e-4, atol=2e-4)
F32 = np.float32

CASES = [
    ((4, 16, 32, 32), (32, 16, 3, 3), dict(stride=2, padding=1)),  # W12's strided 3x3 (block 2)
    ((4, 32, 16, 16), (64, 32, 3, 3), dict(stride=2, padding=1)),  # ... block 3: 8x8 phases, rows of 8
    ((4, 16, 32, 32), (32, 16, 1, 1), dict(stride=2)),             # its 1x1 shortcut: three phases get zeros
    ((1, 16, 33, 31), (24, 16, 3, 3), dict(stride=2, padding=1)),  # batch 1: items cut by channel blocks; odd sizes
    ((2, 3, 17, 23), (5, 3, 3, 2), dict(stride=(3, 2), padding=(2, 1))),  # per-dim strides and paddings
    ((2, 2, 11, 10), (3, 2, 2, 2), dict(stride=3, padding=1)),     # stride past the kernel: rows and columns of zeros
    ((3, 6, 10, 18), (7, 6, 3, 3), dict(padding=1)),               # stride 1: one phase, the whole flipped kernel
]


@pytest.fixture(params=vector_isas(DIRECT))
def isa(request):
    with running(DIRECT, request.param):
        yield request.param


def _input_grad(x, w, g, threads, **kwargs):
    before = torsh.get_num_threads()
    torsh.set_num_threads(threads)
    try:
        tx = torsh.tensor(x, requires_grad=True)
        F.conv2d(tx, torsh.tensor(w), **kwargs).backward(torsh.tensor(g))
    finally:
        torsh.set_num_threads(before)
    return tx.grad.numpy()


class _CallCounter:
    """Counts the conv_direct entry points the input gradient calls (wrapping the module's functions)."""

    def __init__(self, monkeypatch, names):
        self.calls = {name: 0 for name in names}
        for name in names:
            monkeypatch.setattr(DIRECT, name, self._counted(name, getattr(DIRECT, name)))

    def _counted(self, name, fn):
        def call(*args):
            self.calls[name] += 1
            return fn(*args)
        return call


@pytest.mark.parametrize("xs, ws, kwargs", CASES)
def test_input_gradient_matches_torch_on_one_call_and_any_thread_count(xs, ws, kwargs, isa, monkeypatch):
    rng = np.random.default_rng(7)
    x, w = rng.standard_normal(xs, dtype=F32), rng.standard_normal(ws, dtype=F32)
    rx = torch.tensor(x, requires_grad=True)
    y = torch.nn.functional.conv2d(rx, torch.from_numpy(w), **kwargs)
    g = rng.standard_normal(tuple(y.shape), dtype=F32)
    y.backward(torch.from_numpy(g))
    counter = _CallCounter(monkeypatch, ("conv2d_input_grad", "conv2d"))
    one = _input_grad(x, w, g, 1, **kwargs)
    two = _input_grad(x, w, g, 2, **kwargs)
    # per backward: the forward's conv2d, then the input gradient's one call (no per-phase calls)
    assert counter.calls == {"conv2d_input_grad": 2, "conv2d": 2}
    np.testing.assert_allclose(one, rx.grad.numpy(), **TOL)
    np.testing.assert_array_equal(one, two)  # every dx element is one item's: the same bits on any thread count


def test_phases_no_tap_reaches_are_written_as_zeros():
    """dx's memory is not pre-zeroed by the caller: a 1x1 stride-2 kernel's odd rows and columns are the kernel's
    to write (NaN first here), as are the rows of a stride past the kernel."""
    rng = np.random.default_rng(3)
    for (n, c, h, wd), (o, kh, kw), (sh, sw), (ph, pw) in (((2, 4, 9, 8), (5, 1, 1), (2, 2), (0, 0)),
                                                          ((1, 3, 10, 7), (2, 2, 1), (3, 2), (1, 0))):
        oh, ow = (h + 2 * ph - kh) // sh + 1, (wd + 2 * pw - kw) // sw + 1
        w = rng.standard_normal((o, c, kh, kw), dtype=F32)
        gy = rng.standard_normal((n, o, oh, ow), dtype=F32)
        dx = np.full((n, c, h, wd), np.nan, F32)
        DIRECT.conv2d_input_grad(gy, w, dx, n, c, h, wd, o, kh, kw, sh, sw, ph, pw, oh, ow, True)
        rx = torch.zeros((n, c, h, wd), requires_grad=True)
        torch.nn.functional.conv2d(rx, torch.from_numpy(w), stride=(sh, sw), padding=(ph, pw)).backward(
            torch.from_numpy(gy))
        np.testing.assert_allclose(dx, rx.grad.numpy(), **TOL)


def test_float64_strided_input_gradient_passes_gradcheck():
    """float64 keeps im2col + col2im (the direct kernels are float32): its gradients are still exact."""
    rng = np.random.default_rng(4)
    x = torsh.tensor(rng.standard_normal((2, 3, 7, 6)), requires_grad=True)
    w = torsh.tensor(rng.standard_normal((4, 3, 3, 3)), requires_grad=True)
    assert torsh.autograd.gradcheck(lambda a, b: F.conv2d(a, b, stride=2, padding=1), (x, w))


def _family(isa):
    if isa and importlib.util.find_spec(f"torsh._kernels.conv_direct{isa}") is None:
        pytest.skip("no x86-64-v3 copy on this machine")
    return importlib.import_module(f"torsh._kernels.conv_direct{isa}")


@pytest.mark.parametrize("build", ["", "_avx2"])
def test_entry_point_refuses_small_buffers_and_impossible_geometry(build):
    direct = _family(build)
    n, c, h, wd, o, kh, kw, sh, sw, ph, pw = 2, 3, 7, 6, 5, 3, 2, 2, 1, 1, 2
    oh, ow = (h + 2 * ph - kh) // sh + 1, (wd + 2 * pw - kw) // sw + 1
    geom = [n, c, h, wd, o, kh, kw, sh, sw, ph, pw, oh, ow]
    gy, w, dx = np.ones(n * o * oh * ow, F32), np.ones(o * c * kh * kw, F32), np.zeros(n * c * h * wd, F32)
    direct.conv2d_input_grad(gy, w, dx, *geom, False)
    for name in ("gy", "w", "dx"):
        args = dict(gy=gy, w=w, dx=dx)
        args[name] = args[name][:-1]
        with pytest.raises(ValueError, match=f"conv2d_input_grad: {name} holds"):
            direct.conv2d_input_grad(*args.values(), *geom, False)
    for index, value in ((7, 0), (8, -1), (1, 0), (11, -3), (0, -1)):  # stride 0, negative stride, no channels, ...
        bad = list(geom)
        bad[index] = value
        with pytest.raises(ValueError, match="conv2d_input_grad: inconsistent shape arguments"):
            direct.conv2d_input_grad(gy, w, dx, *bad, False)
    huge = 1 << 32
    with pytest.raises(ValueError, match="conv2d_input_grad: the shape arguments make gy larger than any buffer"):
        direct.conv2d_input_grad(gy, w, dx, huge, 1, 4, 4, huge, 2, 2, 1, 1, 0, 0, 3, 3, False)
    bad = list(geom)
    bad[9] = 1 << 40  # a padding no buffer offset can reach (the buffers themselves are fine)
    with pytest.raises(ValueError, match="conv2d_input_grad: the shape arguments make the padded input larger"):
        direct.conv2d_input_grad(gy, w, dx, *bad, False)


def test_conv_and_batch_norm_arrays_start_on_a_cache_line_and_match_torch():
    """The direct kernels' outputs, training batch norm's output and its input gradient (the gy the convolution
    before reads with vector loads) start on 64-byte boundaries, whatever NumPy's allocator gave; values as torch."""
    rng = np.random.default_rng(5)
    x, w = rng.standard_normal((4, 8, 16, 16), dtype=F32), rng.standard_normal((16, 8, 3, 3), dtype=F32)
    tx, tw = torsh.tensor(x, requires_grad=True), torsh.tensor(w, requires_grad=True)
    bn = torsh.nn.BatchNorm2d(16)
    y = F.conv2d(tx, tw, stride=2, padding=1)
    grads = []  # the gradients as the backward made them (tx.grad may be AccumulateGrad's copy)
    y.register_hook(lambda g: grads.append(g))
    tx.register_hook(lambda g: grads.append(g))
    out = bn(y)
    g = rng.standard_normal(tuple(out.shape), dtype=F32)
    out.backward(torsh.tensor(g))
    assert [a._data.ctypes.data % 64 for a in (y, out, *grads)] == [0, 0, 0, 0]
    rx, rw = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    ref = torch.nn.BatchNorm2d(16)(torch.nn.functional.conv2d(rx, rw, stride=2, padding=1))
    ref.backward(torch.from_numpy(g))
    np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), **TOL)
    np.testing.assert_allclose(tx.grad.numpy(), rx.grad.numpy(), rtol=2e-4, atol=1e-3)
    np.testing.assert_allclose(tw.grad.numpy(), rw.grad.numpy(), rtol=2e-4, atol=1e-3)
