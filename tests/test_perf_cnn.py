"""The CNN training-step fast paths (issue #20: W7 LeNet-5, W12 ResNet block) against PyTorch: the float32
max-pooling kernels of the ``conv_direct`` family (values and argmax indices in one pass, the backward's
scatter) in both ISA copies, their argument checks, relu on its kernel at every size, and the adaptive
average pool's 1x1 shortcut (a mean, as PyTorch takes it); W12's sizes on the variants the default thresholds
pick at 2 threads: training batch norm (OpenMP over channels from 256K elements, the same bits run to run) and a
strided conv-BN-ReLU block with its 1x1 conv-BN shortcut."""
import importlib
import importlib.util

import numpy as np
import pytest

import torsh
import torsh.nn.functional as F
from torsh.backend import dispatch

from helpers import VARIANTS, assert_close, check_same_error, forced_variant, torch_ref as torch

ISAS = ["", "_avx2"]


def family(isa):
    """conv_direct's copy ``isa`` (skipped where the x86-64-v3 copy is not built)."""
    if isa and importlib.util.find_spec(f"torsh._kernels.conv_direct{isa}") is None:
        pytest.skip("no x86-64-v3 copy on this machine")
    return importlib.import_module(f"torsh._kernels.conv_direct{isa}")


def _pool_case(shape, kernel, stride, padding, dilation, ceil_mode, seed=0, special=False):
    x = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    if special:  # ties, NaNs and -inf: PyTorch's rule (greater or NaN replaces, the last NaN wins)
        x = np.round(x)
        flat = x.reshape(-1)
        flat[::7] = np.nan
        flat[3::11] = -np.inf
        flat[5::13] = np.nan
    ref_out, ref_idx = torch.nn.functional.max_pool2d(torch.from_numpy(x), kernel, stride, padding, dilation,
                                                      ceil_mode, return_indices=True)
    return x, ref_out.numpy(), ref_idx.numpy()


POOLS = [
    ((3, 4, 28, 28), 2, 2, 0, 1, False),    # LeNet-5's first pool: 14 outputs a row (8 + 6 masked)
    ((3, 5, 10, 10), 2, 2, 0, 1, False),    # its second: 5 a row (masked only)
    ((2, 3, 9, 35), 2, 2, 0, 1, False),     # odd sizes: the last row/column left out; 17 = 2 x 8 + 1
    ((2, 3, 16, 32), 2, 2, 0, 1, False),    # rows of exactly 16 outputs
    ((2, 3, 9, 9), 2, 2, 0, 1, True),       # ceil_mode: the last window is cut (the general loop)
    ((2, 3, 13, 11), 3, 2, 1, 1, False),    # ResNet stem pool: 3x3, stride 2, padding 1
    ((2, 2, 12, 12), (3, 2), (1, 2), (1, 0), (2, 1), False),  # per-dim geometry, dilation
]


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("case", POOLS)
@pytest.mark.parametrize("special", [False, True])
def test_max_pool_kernel_values_and_indices_equal_torch(isa, case, special):
    shape, k, s, p, d, ceil_mode = case
    x, ref_out, ref_idx = _pool_case(shape, k, s, p, d, ceil_mode, special=special)
    n, c, h, w = shape
    oh, ow = ref_out.shape[2:]
    kh, kw = (k, k) if isinstance(k, int) else k
    sh, sw = (s, s) if isinstance(s, int) else s
    ph, pw = (p, p) if isinstance(p, int) else p
    dh, dw = (d, d) if isinstance(d, int) else d
    out = np.full(ref_out.size, 7.0, np.float32)
    idx = np.full(ref_out.size, -5, np.int64)
    family(isa).max_pool2d(x, out, idx, n * c, h, w, oh, ow, kh, kw, sh, sw, ph, pw, dh, dw, False)
    np.testing.assert_array_equal(out.reshape(ref_out.shape), ref_out)  # NaN == NaN here
    np.testing.assert_array_equal(idx.reshape(ref_idx.shape), ref_idx)


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("parallel", [False, True])
def test_max_pool_backward_kernel_equals_torch_gradient(isa, parallel):
    x, _, ref_idx = _pool_case((4, 3, 11, 11), 3, 2, 1, 1, False)  # overlapping windows: repeated indices add up
    g = np.random.default_rng(1).standard_normal(ref_idx.shape).astype(np.float32)
    rx = torch.from_numpy(x).requires_grad_()
    torch.nn.functional.max_pool2d(rx, 3, 2, 1).backward(torch.from_numpy(g))
    dx = np.full(x.shape, 3.0, np.float32)  # overwritten: zeros first
    family(isa).max_pool2d_backward(g, ref_idx.astype(np.int64), dx, 12, 121, ref_idx[0, 0].size, parallel)
    np.testing.assert_allclose(dx, rx.grad.numpy(), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("isa", ISAS)
def test_max_pool_kernels_refuse_short_buffers_bad_geometry_and_bad_indices(isa):
    mod = family(isa)
    x = np.zeros((2, 3, 8, 8), np.float32)
    out, idx = np.empty(2 * 3 * 16, np.float32), np.empty(2 * 3 * 16, np.int64)
    mod.max_pool2d(x, out, idx, 6, 8, 8, 4, 4, 2, 2, 2, 2, 0, 0, 1, 1, False)  # exact buffers run
    with pytest.raises(ValueError, match="max_pool2d: out holds"):
        mod.max_pool2d(x, out[:-1], idx, 6, 8, 8, 4, 4, 2, 2, 2, 2, 0, 0, 1, 1, False)
    with pytest.raises(ValueError, match="max_pool2d: idx holds"):
        mod.max_pool2d(x, out, idx[:-1], 6, 8, 8, 4, 4, 2, 2, 2, 2, 0, 0, 1, 1, False)
    with pytest.raises(ValueError, match="max_pool2d: x holds"):
        mod.max_pool2d(x, out, idx, 7, 8, 8, 4, 4, 2, 2, 2, 2, 0, 0, 1, 1, False)
    with pytest.raises(ValueError, match="inconsistent shape arguments"):  # stride 0, negative padding
        mod.max_pool2d(x, out, idx, 6, 8, 8, 4, 4, 2, 2, 0, 2, 0, 0, 1, 1, False)
    with pytest.raises(ValueError, match="inconsistent shape arguments"):
        mod.max_pool2d(x, out, idx, 6, 8, 8, 4, 4, 2, 2, 2, 2, -1, 0, 1, 1, False)
    g, dx = np.ones(96, np.float32), np.empty((2, 3, 8, 8), np.float32)
    good = np.zeros(96, np.int64)
    mod.max_pool2d_backward(g, good, dx, 6, 64, 16, False)
    with pytest.raises(ValueError, match="dx holds"):
        mod.max_pool2d_backward(g, good, dx.reshape(-1)[:-1], 6, 64, 16, False)
    for bad in (64, -1):
        idx_bad = good.copy()
        idx_bad[17] = bad
        with pytest.raises(ValueError, match="an index is outside the plane"):
            mod.max_pool2d_backward(g, idx_bad, dx, 6, 64, 16, False)


def _lenet_pool_pair(lib, x, g):
    t = lib.from_numpy(x.copy()).requires_grad_()
    out, idx = lib.nn.functional.max_pool2d(t, 2, return_indices=True)
    out.backward(lib.from_numpy(g))
    return out, idx, t.grad


@pytest.mark.parametrize("shape", [(4, 6, 28, 28), (4, 16, 10, 10), (3, 2, 7, 9)])
def test_max_pool2d_float32_forward_and_backward_equal_torch(shape):
    x = np.random.default_rng(2).standard_normal(shape).astype(np.float32)
    g = np.random.default_rng(3).standard_normal((shape[0], shape[1], shape[2] // 2, shape[3] // 2)).astype(
        np.float32)
    got = _lenet_pool_pair(torsh, x, g)
    want = _lenet_pool_pair(torch, x, g)
    for a, b in zip(got, want):
        assert_close(a, b, rtol=0, atol=0)
    assert got[0].grad_fn.name() == want[0].grad_fn.name() == "MaxPool2DWithIndicesBackward0"


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("kwargs", [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)])
def test_max_pool2d_float32_each_variant_equals_torch(variant, kwargs):
    """conv_direct's kernels (one thread, OpenMP) and their NumPy fallback, with records saying which ran."""
    x = np.random.default_rng(7).standard_normal((3, 4, 11, 12)).astype(np.float32)
    x[0, 0, 0, :3] = np.nan
    results = []
    with forced_variant(("max_pool2d_direct", "max_pool2d_direct_backward"), variant) as recorded:
        with dispatch.record() as records:
            for lib in (torsh, torch):
                t = lib.from_numpy(x.copy()).requires_grad_()
                out, idx = lib.nn.functional.max_pool2d(t, return_indices=True, **kwargs)
                out.backward(lib.ones_like(out))
                results.append((out, idx, t.grad))
    for a, b in zip(*results):
        assert_close(a, b, rtol=0, atol=0)
    assert {r.variant for r in records if r.op.startswith("max_pool2d_direct")} == {recorded}
    assert {r.op for r in records if r.op.startswith("max_pool2d")} == {"max_pool2d_direct",
                                                                         "max_pool2d_direct_backward"}


def test_max_pool2d_double_backward_and_float64_gradcheck():
    x = torsh.randn(2, 3, 7, 7, dtype=torsh.float64, requires_grad=True)
    assert torsh.autograd.gradcheck(lambda t: F.max_pool2d(t, 3, 2, 1), (x,))
    assert torsh.autograd.gradgradcheck(lambda t: F.max_pool2d(t, 2), (x,))


@pytest.mark.parametrize("numel", [1, 100, 4096, 300_000])
def test_relu_runs_its_kernel_and_equals_torch(numel):
    x = np.random.default_rng(4).standard_normal(numel).astype(np.float32)
    x[:5] = [np.nan, -0.0, 0.0, np.inf, -np.inf][:min(5, numel)]
    with dispatch.record() as records:
        got = torsh.relu(torsh.from_numpy(x))
    want = torch.relu(torch.from_numpy(x))
    assert_close(got, want, rtol=0, atol=0)
    np.testing.assert_array_equal(np.signbit(got.numpy()), np.signbit(want.numpy()))  # relu(-0.0) is -0.0
    assert [r.variant for r in records if r.op == "relu"] in (["pythran_simd"], ["pythran_omp"])


@pytest.mark.parametrize("fn, shape, size", [
    ("adaptive_avg_pool2d", (3, 5, 8, 8), 1), ("adaptive_avg_pool2d", (5, 8, 6), (1, 1)),
    ("adaptive_avg_pool3d", (2, 3, 4, 5, 6), 1), ("adaptive_avg_pool1d", (3, 5, 9), 1),
    ("adaptive_avg_pool2d", (3, 5, 7, 1), (1, None)),  # None: the input's size, 1 here
])
def test_adaptive_avg_pool_to_one_is_pytorchs_mean(fn, shape, size):
    x = np.random.default_rng(5).standard_normal(shape).astype(np.float32)
    g_shape = torch.nn.functional.__dict__[fn](torch.from_numpy(x), size).shape
    g = np.random.default_rng(6).standard_normal(tuple(g_shape)).astype(np.float32)
    results = []
    for lib in (torsh, torch):
        t = lib.from_numpy(x.copy()).requires_grad_()
        y = getattr(lib.nn.functional, fn)(t, size)
        y.backward(lib.from_numpy(g))
        results.append((y, t.grad, y.grad_fn.name()))
    assert_close(results[0][0], results[1][0])
    assert_close(results[0][1], results[1][1])
    assert results[0][2] == results[1][2]
    x64 = torsh.randn(*shape, dtype=torsh.float64, requires_grad=True)
    assert torsh.autograd.gradcheck(lambda t: getattr(F, fn)(t, size), (x64,))


@pytest.mark.parametrize("dtype", ["int64", "bool"])
def test_adaptive_avg_pool_to_one_refuses_integers_as_pytorch(dtype):
    check_same_error(lambda lib: lib.nn.functional.adaptive_avg_pool2d(lib.ones(2, 3, 4, 4, dtype=getattr(lib, dtype)),
                                                                       1))


def test_adaptive_avg_pool_to_one_of_an_empty_plane_is_nan_as_pytorch():
    got = F.adaptive_avg_pool2d(torsh.zeros(2, 3, 0, 4), 1)
    want = torch.nn.functional.adaptive_avg_pool2d(torch.zeros(2, 3, 0, 4), 1)
    assert np.isnan(want.numpy()).all()
    assert_close(got, want)  # NaNs compare equal


def _on_threads(n, fn):
    before = torsh.get_num_threads()
    torsh.set_num_threads(n)
    try:
        return fn()
    finally:
        torsh.set_num_threads(before)


def _batch_norm_step(arr, grad, w, b):
    """(output, input grad, weight grad, bias grad, running mean, running var, dispatch records)."""
    x = torsh.tensor(arr, requires_grad=True)
    tw, tb = torsh.tensor(w, requires_grad=True), torsh.tensor(b, requires_grad=True)
    rm, rv = torsh.zeros(arr.shape[1]), torsh.ones(arr.shape[1])
    with dispatch.record() as records:
        y = F.batch_norm(x, rm, rv, tw, tb, training=True, momentum=0.1, eps=1e-5)
        y.backward(torsh.tensor(grad))
    return [t.detach().numpy() for t in (y, x.grad, tw.grad, tb.grad, rm, rv)] + [records]


@pytest.mark.parametrize("shape, variant", [
    ((32, 16, 32, 32), "pythran_omp"),   # W12's stem and first block: 524K elements
    ((32, 32, 16, 16), "pythran_omp"),   # second block: 262K, the threshold
    ((32, 64, 8, 8), "pythran_simd"),    # third block: 131K, one thread
])
def test_training_batch_norm_at_w12_sizes_matches_torch_on_one_and_two_threads(shape, variant):
    rng = np.random.default_rng(7)
    arr = (rng.standard_normal(shape) * 2 + 0.5).astype(np.float32)
    grad = rng.standard_normal(shape).astype(np.float32)
    w, b = (rng.standard_normal(shape[1]).astype(np.float32) for _ in range(2))
    *two, records = _on_threads(2, lambda: _batch_norm_step(arr, grad, w, b))
    *again, _ = _on_threads(2, lambda: _batch_norm_step(arr, grad, w, b))
    *one, _ = _on_threads(1, lambda: _batch_norm_step(arr, grad, w, b))
    assert {r.variant for r in records if r.op in ("batch_norm", "batch_norm_backward")} == {variant}
    for ours, repeated in zip(two, again):
        np.testing.assert_array_equal(ours, repeated)  # per-channel work: run to run, the same bits
    x = torch.tensor(arr, requires_grad=True)
    rw, rb = torch.tensor(w, requires_grad=True), torch.tensor(b, requires_grad=True)
    rm, rv = torch.zeros(shape[1]), torch.ones(shape[1])
    y = torch.nn.functional.batch_norm(x, rm, rv, rw, rb, training=True, momentum=0.1, eps=1e-5)
    y.backward(torch.tensor(grad))
    for ours, single, ref in zip(two, one, (y, x.grad, rw.grad, rb.grad, rm, rv)):
        np.testing.assert_allclose(ours, ref.detach().numpy(), rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(single, ref.detach().numpy(), rtol=1e-4, atol=1e-4)


def _block_grads(lib, arrays, num_threads=None):
    """A strided basic block's first half (3x3 conv stride 2, BN, ReLU; 1x1 conv-BN shortcut), summed against a
    fixed weighting: the gradients of the input and of every parameter."""
    x, w1, ws, g1, b1, gs, bs, weight = (lib.tensor(a, requires_grad=a.ndim > 0 and a is not arrays[-1])
                                         for a in arrays)
    out = lib.nn.functional.conv2d(x, w1, stride=2, padding=1)
    out = lib.relu(lib.nn.functional.batch_norm(out, None, None, g1, b1, training=True))
    short = lib.nn.functional.batch_norm(lib.nn.functional.conv2d(x, ws, stride=2), None, None, gs, bs,
                                         training=True)
    ((out + short) * weight).sum().backward()
    return [t.grad.detach().numpy() for t in (x, w1, ws, g1, b1, gs, bs)]


def test_strided_conv_bn_relu_block_at_w12_sizes_matches_torch_on_two_threads():
    rng = np.random.default_rng(8)
    arrays = [rng.standard_normal(s).astype(np.float32) for s in
              ((32, 16, 32, 32), (32, 16, 3, 3), (32, 16, 1, 1), (32,), (32,), (32,), (32,), (32, 32, 16, 16))]
    ours = _on_threads(2, lambda: _block_grads(torsh, arrays))
    for got, ref in zip(ours, _block_grads(torch, arrays)):
        np.testing.assert_allclose(got, ref, rtol=1e-3, atol=1e-3 * np.abs(ref).max())


# -- float32 training batch norm on conv_direct's helper threads (the dispatcher's OpenMP tier) ------------------
def _bn_reference(arr, grad, w, b):
    x = torch.tensor(arr, requires_grad=True)
    rw, rb = torch.tensor(w, requires_grad=True), torch.tensor(b, requires_grad=True)
    y = torch.nn.functional.batch_norm(x, None, None, rw, rb, training=True, eps=1e-5)
    y.backward(torch.tensor(grad))
    flat = torch.tensor(arr).transpose(0, 1).reshape(arr.shape[1], -1)
    return y.detach().numpy(), flat.mean(1).numpy(), flat.var(1, unbiased=False).numpy(), x.grad.numpy(), \
        rw.grad.numpy(), rb.grad.numpy()


def _bn_kernels(module, arr, grad, w, b):
    """(out, mean, var, grad input, grad weight, grad bias) from the kernels, called directly in parallel mode."""
    n, c = arr.shape[:2]
    s = arr[0, 0].size
    out, gx = np.empty_like(arr), np.empty_like(arr)
    mean, var, rstd, gw, gb = (np.empty(c, np.float32) for _ in range(5))
    module.batch_norm_train(arr, w, b, out, mean, var, rstd, n, c, s, 1e-5, True)
    module.batch_norm_backward(grad, arr, w, mean, rstd, gx, gw, gb, n, c, s, True)
    return out, mean, var, gx, gw, gb


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("shape", [(32, 16, 32, 32), (5, 7, 3, 11), (3, 2, 17), (1, 3, 2, 2), (64, 4, 9)])
def test_batch_norm_kernels_on_the_helpers_equal_torch_with_the_same_bits_on_one_and_two_threads(isa, shape):
    """Rows of any length (16-float lanes and a tail), one channel per work item: 1 and 2 threads agree to the bit."""
    module = family(isa)
    rng = np.random.default_rng(11)
    arr = (rng.standard_normal(shape) * 3 + 1.5).astype(np.float32)
    grad = rng.standard_normal(shape).astype(np.float32)
    w, b = (rng.standard_normal(shape[1]).astype(np.float32) for _ in range(2))
    one = _on_threads(1, lambda: _bn_kernels(module, arr, grad, w, b))
    two = _on_threads(2, lambda: _bn_kernels(module, arr, grad, w, b))
    for a, c in zip(one, two):
        np.testing.assert_array_equal(a, c)
    for ours, ref in zip(two, _bn_reference(arr, grad, w, b)):
        np.testing.assert_allclose(ours, ref, rtol=1e-4, atol=1e-4 * max(1.0, np.abs(ref).max()))


def test_training_batch_norm_runs_on_the_helpers_at_the_openmp_tier_only(monkeypatch):
    """W12's 524K-element batch norm on two threads calls conv_direct's kernels; one thread keeps the norm family's."""
    from torsh.backend import kernels
    calls = []
    module = kernels.get("conv_direct")

    class Spy:
        def __getattr__(self, name):
            fn = getattr(module, name)
            return lambda *a: (calls.append(name), fn(*a))[1]

    monkeypatch.setitem(kernels._modules, "conv_direct", Spy())
    rng = np.random.default_rng(12)
    arr = rng.standard_normal((32, 16, 32, 32)).astype(np.float32)
    grad = rng.standard_normal(arr.shape).astype(np.float32)
    w, b = np.ones(16, np.float32), np.zeros(16, np.float32)
    _on_threads(2, lambda: _batch_norm_step(arr, grad, w, b))
    assert calls == ["batch_norm_train", "batch_norm_backward"]
    calls.clear()
    _on_threads(1, lambda: _batch_norm_step(arr, grad, w, b))
    assert calls == []


@pytest.mark.parametrize("isa", ISAS)
def test_batch_norm_kernels_refuse_short_buffers_and_bad_shapes(isa):
    module = family(isa)
    x = np.zeros((2, 3, 4), np.float32)
    c3 = np.zeros(3, np.float32)
    with pytest.raises(ValueError, match="batch_norm_train: out holds"):
        module.batch_norm_train(x, c3, c3, np.empty(5, np.float32), c3.copy(), c3.copy(), c3.copy(), 2, 3, 4, 1e-5,
                                False)
    with pytest.raises(ValueError, match="batch_norm_train: w holds"):
        module.batch_norm_train(x, c3[:2], c3, np.empty_like(x), c3.copy(), c3.copy(), c3.copy(), 2, 3, 4, 1e-5,
                                False)
    with pytest.raises(ValueError, match="batch_norm_backward: inconsistent shape arguments"):
        module.batch_norm_backward(x, x, c3, c3, c3, np.empty_like(x), c3.copy(), c3.copy(), 2, 0, 4, False)
    with pytest.raises(ValueError, match="batch_norm_backward: gx holds"):
        module.batch_norm_backward(x, x, c3, c3, c3, np.empty(3, np.float32), c3.copy(), c3.copy(), 2, 3, 4, False)
