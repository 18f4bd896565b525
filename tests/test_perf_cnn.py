"""The CNN training step's kernels at W12's sizes (ResNet basic blocks, batch 32) on the variants the default
thresholds pick at 2 threads, against PyTorch: training batch norm over channels on OpenMP from 256K elements,
the same values run to run, and a strided conv-BN-ReLU block's gradients."""
import numpy as np
import pytest
import torch

import torsh
import torsh.nn.functional as F
from torsh.backend import dispatch

TOL = dict(rtol=2e-5, atol=2e-5)


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
