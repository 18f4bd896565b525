"""The ``conv`` kernel family (im2col/col2im, max pooling, gather/scatter of plane indices)
against PyTorch, on each dispatch variant (compiled single-thread, compiled OpenMP, NumPy):
conv2d / conv_transpose2d / max_pool2d forward and backward, stride, padding, dilation,
groups, odd sizes, non-contiguous inputs, NaNs and ties in max pooling, and float64
gradcheck/gradgradcheck (the backward ops stay torsh ops, so create_graph works)."""
import numpy as np
import pytest
import torch

import torsh
import torsh.nn.functional as F
from torsh._ops.nn import conv as nn_conv, pool as nn_pool
from torsh.backend import dispatch, kernels
from helpers import VARIANTS, forced_variant

TOL = {np.float32: dict(rtol=2e-4, atol=2e-5), np.float64: dict(rtol=1e-10, atol=1e-11)}
CONV_OPS = ("im2col2d", "col2im2d", "max_pool2d", "take_spatial", "scatter_spatial", "avg_pool2d",
            "avg_pool2d_backward")


@pytest.fixture(params=VARIANTS)
def variant(request):
    """Force every conv-family op onto one variant; yields the variant name records must show."""
    with forced_variant(CONV_OPS, request.param) as recorded:
        yield recorded


@pytest.fixture(autouse=True)
def im2col_only(monkeypatch):
    """Keep every convolution on im2col + GEMMs, whose kernels these tests are about (the direct
    kernels that small float32 convolutions take have theirs in test_conv_direct.py)."""
    monkeypatch.setattr(nn_conv, "DIRECT_MAX_TAPS", 0)


@pytest.fixture(autouse=True)
def conv_family_pooling(monkeypatch):
    """Keep float32 max pooling on this family's kernels too (conv_direct's, which it takes otherwise, have
    theirs in test_perf_cnn.py)."""
    monkeypatch.setattr(nn_pool, "_direct_pool_fits", lambda *arrays: False)


@pytest.fixture(params=["sample-major", "channel-major"])
def layout(request, monkeypatch):
    """Force the im2col layout: per-sample GEMMs, or one GEMM over the batch (groups == 1, N > 1)."""
    monkeypatch.setattr(nn_conv, "BATCH_GEMM_BELOW", 0 if request.param == "sample-major" else np.inf)
    return request.param


def test_conv_family_is_compiled():
    assert kernels.available()["conv"], kernels.load_errors()


def _pair(arr, requires_grad=True):
    return torsh.tensor(arr, requires_grad=requires_grad), torch.tensor(arr, requires_grad=requires_grad)


def _close(ours, ref, dtype):
    np.testing.assert_allclose(ours.detach().numpy(), ref.detach().numpy(), **TOL[dtype])


def _variants(records, op):
    return {r.variant for r in records if r.op == op}


CONVS = [  # (x shape, w shape, stride, padding, dilation, groups)
    ((3, 2, 9, 11), (4, 2, 3, 3), 1, 1, 1, 1),
    ((2, 3, 10, 7), (5, 3, 3, 2), (2, 1), (1, 0), 1, 1),
    ((2, 4, 12, 13), (6, 2, 3, 3), 2, 2, (2, 1), 2),
    ((5, 1, 28, 28), (6, 1, 5, 5), 1, 2, 1, 1),  # LeNet's first layer
    ((1, 3, 6, 5), (2, 3, 1, 1), 3, 0, 1, 1),
    ((2, 2, 7, 8), (3, 2, 4, 3), (1, 3), (2, 1), (1, 2), 1),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("xs,ws,stride,padding,dilation,groups", CONVS)
def test_conv2d_forward_backward_match_torch(xs, ws, stride, padding, dilation, groups, dtype, variant, layout):
    rng = np.random.default_rng(1)
    x, xr = _pair(rng.standard_normal(xs).astype(dtype))
    w, wr = _pair(rng.standard_normal(ws).astype(dtype))
    b, br = _pair(rng.standard_normal(ws[0]).astype(dtype))
    kwargs = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    with dispatch.record() as records:
        y = F.conv2d(x, w, b, **kwargs)
        channel_major = layout == "channel-major" and groups == 1 and xs[0] > 1
        assert y.grad_fn.cols.shape == ((ws[1] * ws[2] * ws[3], y.numel() // ws[0]) if channel_major
                                        else (xs[0], xs[1] * ws[2] * ws[3], y[0, 0].numel()))
        g = rng.standard_normal(tuple(y.shape)).astype(dtype)
        y.backward(torsh.tensor(g))
    yr = torch.nn.functional.conv2d(xr, wr, br, **kwargs)
    yr.backward(torch.tensor(g))
    _close(y, yr, dtype)
    for ours, ref in ((x, xr), (w, wr), (b, br)):
        _close(ours.grad, ref.grad, dtype)
    assert _variants(records, "im2col2d") == {variant}
    assert _variants(records, "col2im2d") == {variant}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_conv_transpose2d_matches_torch(dtype, variant, layout):
    rng = np.random.default_rng(2)
    x, xr = _pair(rng.standard_normal((2, 4, 5, 6)).astype(dtype))
    w, wr = _pair(rng.standard_normal((4, 3, 3, 3)).astype(dtype))
    y = F.conv_transpose2d(x, w, None, stride=2, padding=1, output_padding=1, dilation=1)
    yr = torch.nn.functional.conv_transpose2d(xr, wr, None, stride=2, padding=1, output_padding=1)
    g = rng.standard_normal(tuple(y.shape)).astype(dtype)
    y.backward(torsh.tensor(g))
    yr.backward(torch.tensor(g))
    _close(y, yr, dtype)
    _close(x.grad, xr.grad, dtype)
    _close(w.grad, wr.grad, dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_conv2d_non_contiguous_input(dtype, variant, layout):
    rng = np.random.default_rng(3)
    base = rng.standard_normal((3, 9, 2, 11)).astype(dtype)
    x = torsh.tensor(base, requires_grad=True)
    xr = torch.tensor(base, requires_grad=True)
    w, wr = _pair(rng.standard_normal((4, 2, 3, 3)).astype(dtype))
    xt, xrt = x.transpose(1, 2), xr.transpose(1, 2)  # (3, 2, 9, 11), not contiguous
    assert not xt.is_contiguous()
    with dispatch.record() as records:
        y = F.conv2d(xt, w, None, padding=1)
        y.sum().backward()
    yr = torch.nn.functional.conv2d(xrt, wr, None, padding=1)
    yr.sum().backward()
    _close(y, yr, dtype)
    _close(x.grad, xr.grad, dtype)
    _close(w.grad, wr.grad, dtype)
    assert _variants(records, "im2col2d") == {"numpy"}  # the layout rules the kernel out


POOLS = [  # (x shape, kernel, stride, padding, dilation, ceil_mode)
    ((2, 3, 8, 6), 2, None, 0, 1, False),
    ((2, 2, 9, 7), (3, 2), (2, 1), (1, 1), (1, 2), False),
    ((2, 2, 8, 9), 3, 2, 0, 1, True),
    ((1, 2, 6, 7), 3, 2, 1, 1, True),
    ((3, 4, 11, 13), (2, 3), (3, 2), (1, 1), (2, 2), True),
    ((4, 6, 28, 28), 2, None, 0, 1, False),  # LeNet
    ((2, 3, 7, 9), 2, None, 0, 1, False),  # the 2x2 kernel's fast path, a row and a column left over
    ((2, 3, 7, 9), 2, None, 0, 1, True),  # ceil mode: the last windows overhang, the general path
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("xs,kernel,stride,padding,dilation,ceil_mode", POOLS)
def test_max_pool2d_forward_backward_match_torch(xs, kernel, stride, padding, dilation, ceil_mode, dtype, variant):
    rng = np.random.default_rng(4)
    arr = rng.standard_normal(xs).astype(dtype)
    x, xr = _pair(arr)
    kwargs = dict(stride=stride, padding=padding, dilation=dilation, ceil_mode=ceil_mode, return_indices=True)
    with dispatch.record() as records:
        y, idx = F.max_pool2d(x, kernel, **kwargs)
        g = rng.standard_normal(tuple(y.shape)).astype(dtype)
        y.backward(torsh.tensor(g))
    yr, idxr = torch.nn.functional.max_pool2d(xr, kernel, **kwargs)
    yr.backward(torch.tensor(g))
    _close(y, yr, dtype)
    np.testing.assert_array_equal(idx.numpy(), idxr.numpy())
    _close(x.grad, xr.grad, dtype)
    for op in ("max_pool2d", "take_spatial", "scatter_spatial"):
        assert _variants(records, op) == {variant}, op


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_max_pool2d_nans_ties_and_infinities_match_torch(dtype, variant):
    arr = np.zeros((2, 2, 6, 6), dtype=dtype)
    arr[0, 0, 0, 1] = np.nan  # a NaN wins its window
    arr[0, 0, 2, 2] = arr[0, 0, 2, 3] = arr[0, 0, 3, 2] = 5  # ties: the first one wins
    arr[0, 1, 0, 0] = arr[0, 1, 1, 1] = np.nan  # two NaNs in a window: PyTorch keeps the last
    arr[1, 0] = -np.inf  # a window of -inf only: its first element
    arr[1, 1, 4, 4] = np.inf
    arr[1, 1, 4, 5] = np.nan
    x, xr = _pair(arr)
    for kwargs in (dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1), dict(kernel_size=2, stride=1)):
        y, idx = F.max_pool2d(x, return_indices=True, **kwargs)
        yr, idxr = torch.nn.functional.max_pool2d(xr, return_indices=True, **kwargs)
        np.testing.assert_array_equal(y.detach().numpy(), yr.detach().numpy())
        np.testing.assert_array_equal(idx.numpy(), idxr.numpy())
        y.sum().backward()
        yr.sum().backward()
        np.testing.assert_array_equal(x.grad.numpy(), xr.grad.numpy())
        x.grad = None
        xr.grad = None


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_max_pool2d_non_contiguous_input(dtype, variant):
    rng = np.random.default_rng(5)
    base = rng.standard_normal((2, 7, 3, 9)).astype(dtype)
    x, xr = _pair(base)
    with dispatch.record() as records:
        y = F.max_pool2d(x.transpose(1, 2), 2, ceil_mode=True)
        y.sum().backward()
    yr = torch.nn.functional.max_pool2d(xr.transpose(1, 2), 2, ceil_mode=True)
    yr.sum().backward()
    _close(y, yr, dtype)
    _close(x.grad, xr.grad, dtype)
    assert _variants(records, "max_pool2d") == {"numpy"}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_avg_pool2d_on_conv_family_kernels_matches_torch(dtype, variant):
    rng = np.random.default_rng(6)
    x, xr = _pair(rng.standard_normal((2, 3, 9, 8)).astype(dtype))
    for kwargs in (dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=False),
                   dict(kernel_size=2), dict(kernel_size=(3, 2), stride=1, padding=(1, 0))):
        y = F.avg_pool2d(x, **kwargs)
        yr = torch.nn.functional.avg_pool2d(xr, **kwargs)
        g = rng.standard_normal(tuple(y.shape)).astype(dtype)
        y.backward(torsh.tensor(g))
        yr.backward(torch.tensor(g))
        _close(y, yr, dtype)
        _close(x.grad, xr.grad, dtype)
        x.grad = None
        xr.grad = None


def test_gradcheck_and_gradgradcheck_float64(variant, layout):
    rng = np.random.default_rng(7)
    x = torsh.tensor(rng.standard_normal((2, 2, 7, 6)), requires_grad=True)
    w = torsh.tensor(rng.standard_normal((3, 2, 3, 2)), requires_grad=True)
    b = torsh.tensor(rng.standard_normal(3), requires_grad=True)
    conv = lambda x, w, b: F.conv2d(x, w, b, stride=(2, 1), padding=1, dilation=(1, 2))  # noqa: E731
    assert torsh.autograd.gradcheck(conv, (x, w, b))
    assert torsh.autograd.gradgradcheck(conv, (x, w, b))
    # max pooling: distinct values so that small perturbations keep each window's argmax
    xp = torsh.tensor(rng.permutation(2 * 2 * 7 * 6).reshape(2, 2, 7, 6) / 10.0, requires_grad=True)
    pool = lambda x: F.max_pool2d(x, 3, stride=2, padding=1, ceil_mode=True)  # noqa: E731
    assert torsh.autograd.gradcheck(pool, (xp,))
    assert torsh.autograd.gradgradcheck(pool, (xp,))


def test_double_backward_matches_torch(variant, layout):
    """create_graph through conv2d and max_pool2d: a gradient penalty's gradient, against PyTorch."""
    rng = np.random.default_rng(8)
    x, xr = _pair(rng.standard_normal((2, 2, 8, 8)))
    w, wr = _pair(rng.standard_normal((3, 2, 3, 3)))
    grads = []
    for lib, xx, ww in ((torsh, x, w), (torch, xr, wr)):
        y = lib.nn.functional.max_pool2d(lib.nn.functional.conv2d(xx, ww, padding=1), 2)
        (gx,) = lib.autograd.grad((y * y).sum(), xx, create_graph=True)
        (gx * gx).sum().backward()
        grads.append((xx.grad, ww.grad))
    _close(grads[0][0], grads[1][0], np.float64)
    _close(grads[0][1], grads[1][1], np.float64)


@pytest.mark.parametrize("num_threads", [1, 2, 3])
def test_conv2d_pipeline_parts_match_torch_at_any_thread_count(num_threads, layout):
    """The forward pipeline (im2col, GEMMs, bias) and the batch-wide backward GEMMs run per part of
    the batch, one part per thread: every split must give PyTorch's results."""
    before = torsh.get_num_threads()
    torsh.set_num_threads(num_threads)
    try:
        rng = np.random.default_rng(11)
        x, xr = _pair(rng.standard_normal((7, 3, 9, 8)))
        w, wr = _pair(rng.standard_normal((5, 3, 3, 3)))
        b, br = _pair(rng.standard_normal(5))
        y = F.conv2d(x, w, b, padding=1)
        yr = torch.nn.functional.conv2d(xr, wr, br, padding=1)
        g = rng.standard_normal(tuple(y.shape))
        y.backward(torsh.tensor(g))
        yr.backward(torch.tensor(g))
        for ours, ref in ((y, yr), (x.grad, xr.grad), (w.grad, wr.grad), (b.grad, br.grad)):
            _close(ours, ref, np.float64)
    finally:
        torsh.set_num_threads(before)
