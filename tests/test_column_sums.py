"""A Linear's bias gradient (sum_to of a (rows, out) float32 gradient) on the ``transformer`` family's
column_sums kernel: values against float64 sums and PyTorch, every copy and instruction set, the buffer checks."""
import importlib

import numpy as np
import pytest

import torsh
from helpers import assert_close, forced_variant, needs_torch, torch_ref


def _copies():
    torsh.tensor(0.0)  # builds/loads the kernels
    names = ["torsh._kernels.transformer", "torsh._kernels.transformer_avx2"]
    return [importlib.import_module(n) for n in names if importlib.util.find_spec(n) is not None]


def _isas(module):
    own = module.set_isa(module.ISA)
    names = [own]
    try:
        module.set_isa("avx512")
        names.append("avx512")
    except ValueError:
        pass
    module.set_isa(own)
    return names


@pytest.mark.parametrize("module", _copies(), ids=lambda m: m.__name__)
@pytest.mark.parametrize("shape", [(0, 5), (1, 1), (3, 7), (65, 16), (512, 128), (130, 389), (1000, 3), (7, 0)])
def test_column_sums_kernel_matches_float64_sums(module, shape):
    x = np.random.default_rng(1).standard_normal(shape).astype(np.float32) * 10
    before = module.ISA
    try:
        for isa in _isas(module):
            module.set_isa(isa)
            out = np.full(shape[1] + 1, 7.0, np.float32)  # one float past the columns: left alone
            module.column_sums(x, out, *shape)
            exact = x.astype(np.float64).sum(0)
            # the two-level cascade: error within a few ulp of the magnitudes summed, not rows ulp
            bound = 8 * np.finfo(np.float32).eps * np.abs(x).astype(np.float64).sum(0) + 1e-30
            assert np.all(np.abs(out[:-1] - exact) <= bound), isa
            assert out[-1] == 7.0
    finally:
        module.set_isa(before)


@pytest.mark.parametrize("module", _copies(), ids=lambda m: m.__name__)
def test_column_sums_kernel_refuses_short_buffers(module):
    x = np.zeros((4, 5), np.float32)
    with pytest.raises(ValueError, match="x holds"):
        module.column_sums(x, np.empty(5, np.float32), 5, 5)
    with pytest.raises(ValueError, match="out holds"):
        module.column_sums(x, np.empty(4, np.float32), 4, 5)
    with pytest.raises(ValueError):
        module.column_sums(x, np.empty(5, np.float32), -1, 5)
    with pytest.raises(TypeError):
        module.column_sums(x, np.empty(5, np.float32).tobytes(), 4, 5)  # read-only out


@needs_torch
@pytest.mark.parametrize("variant", ["kernel", "numpy"])
@pytest.mark.parametrize("shape", [(512, 128, 384), (7, 5, 3), (2, 33, 9, 20)])
def test_linear_bias_gradient_matches_torch(variant, shape):
    *lead, cin, cout = shape
    rng = np.random.default_rng(2)
    x, w, b = (rng.standard_normal(s).astype(np.float32) for s in ((*lead, cin), (cout, cin), (cout,)))
    g = rng.standard_normal((*lead, cout)).astype(np.float32)
    results = []
    for lib in (torch_ref, torsh):
        with forced_variant(("column_sums",), variant):
            leaves = [lib.tensor(a, requires_grad=True) for a in (x, w, b)]
            out = lib.nn.functional.linear(*leaves)
            out.backward(lib.tensor(g))
        results.append([t.grad for t in leaves])
    for ours, theirs in zip(results[1], results[0]):
        assert str(ours.dtype).split(".")[-1] == str(theirs.dtype).split(".")[-1] == "float32"
    # the bias gradient: the kernel's cascade keeps PyTorch's accuracy; NumPy's sum over axis 0 adds the rows in
    # sequence (512 rows of cancelling values: ~2e-5 off)
    assert_close(results[1][2], results[0][2], **({} if variant == "kernel" else {"atol": 1e-4, "rtol": 1e-4}))
    for ours, theirs in zip(results[1][:2], results[0][:2]):  # GEMMs over 512 rows: float32 rounding differs
        assert_close(ours, theirs, atol=1e-4, rtol=1e-4)


def test_bias_gradient_runs_the_kernel_and_float64_stays_exact():
    from torsh.backend import dispatch
    layer = torsh.nn.Linear(6, 4)
    with dispatch.record() as records:
        layer(torsh.ones(9, 6)).sum().backward()
    assert "column_sums" in [r.op for r in records]
    assert np.array_equal(layer.bias.grad.numpy(), np.full(4, 9.0, np.float32))
    x = torsh.randn(5, 3, dtype=torsh.float64, requires_grad=True)
    w = torsh.randn(2, 3, dtype=torsh.float64, requires_grad=True)
    b = torsh.randn(2, dtype=torsh.float64, requires_grad=True)
    assert torsh.autograd.gradcheck(torsh.nn.functional.linear, (x, w, b))
    assert torsh.autograd.gradgradcheck(torsh.nn.functional.linear, (x, w, b))


# -- Tensor.sum over leading dims (sum(0) of a float32 matrix) on the same kernel ------------------------------
@needs_torch
@pytest.mark.parametrize("shape,dim,keepdim", [
    ((4096, 10), 0, False), ((3001, 7), 0, True), ((65, 200), -2, False), ((8192, 1), 0, False),
    ((130, 389), 0, False), ((1000, 3), 0, False), ((32, 3), 0, True), ((2, 33, 9, 20), (0, 1), False),
    ((40, 30, 17), 0, True), ((300, 129), [0], False)])
def test_sum_over_leading_dims_matches_torch(shape, dim, keepdim):
    x = np.random.default_rng(3).standard_normal(shape).astype(np.float32) * 10
    g_shape = torch_ref.tensor(x).sum(dim, keepdim=keepdim).shape
    g = np.random.default_rng(4).standard_normal(tuple(g_shape)).astype(np.float32)
    results = []
    for lib in (torch_ref, torsh):
        leaf = lib.tensor(x, requires_grad=True)
        out = leaf.sum(dim, keepdim=keepdim)
        out.backward(lib.tensor(g))
        results.append((out, leaf.grad))
    (out, grad), (ref, ref_grad) = results[1], results[0]
    assert out.dtype == torsh.float32 and tuple(out.shape) == tuple(ref.shape)
    assert out.grad_fn.name() == ref.grad_fn.name()
    exact = x.astype(np.float64).sum(tuple(range(len(dim))) if isinstance(dim, (tuple, list)) else dim,
                                     keepdims=keepdim)
    bound = 8 * np.finfo(np.float32).eps * np.abs(x).astype(np.float64).sum(
        tuple(range(len(dim))) if isinstance(dim, (tuple, list)) else dim, keepdims=keepdim) + 1e-30
    assert np.all(np.abs(out.detach().numpy() - exact) <= bound)
    assert_close(out, ref, atol=1e-4, rtol=1e-5)
    assert_close(grad, ref_grad)


def test_sum0_runs_the_kernel_and_other_layouts_keep_their_paths():
    from torsh.backend import dispatch
    x = torsh.randn(4096, 10)
    with dispatch.record() as records:
        total = x.sum(0)
    assert "column_sums" in [r.op for r in records]
    assert np.allclose(total.numpy(), x.numpy().astype(np.float64).sum(0), atol=1e-3)
    t = x.t()  # non-contiguous: NumPy's sum, same values
    assert np.allclose(t.sum(1).numpy(), total.numpy(), atol=1e-3)
    assert torsh.equal(x.sum(0, dtype=torsh.float64), torsh.from_numpy(x.numpy().astype(np.float64).sum(0))) or \
        np.allclose(x.sum(0, dtype=torsh.float64).numpy(), x.numpy().astype(np.float64).sum(0))
    assert x.sum(0, dtype=torsh.float64).dtype == torsh.float64
    assert torsh.ones(0, 5).sum(0).tolist() == [0.0] * 5 and torsh.ones(5, 0).sum(0).shape == (0,)
    i = torsh.arange(20000).reshape(2000, 10)
    assert i.sum(0).dtype == torsh.int64 and i.sum(0).tolist() == i.numpy().sum(0).tolist()
    with pytest.raises(IndexError, match="Dimension out of range"):
        x.sum(2)
    d = torsh.randn(6, 3, dtype=torsh.float64, requires_grad=True)
    assert torsh.autograd.gradcheck(lambda a: a.sum(0), (d,))


@needs_torch
@pytest.mark.parametrize("shape,dim,keepdim", [((4096, 10), 0, False), ((3001, 7), 0, True), ((130, 389), -2, False),
                                               ((2, 33, 9, 20), (0, 1), True), ((32, 3), 0, False)])
def test_mean_over_leading_dims_matches_torch(shape, dim, keepdim):
    x = np.random.default_rng(5).standard_normal(shape).astype(np.float32) * 10 + 3
    results = []
    for lib in (torch_ref, torsh):
        leaf = lib.tensor(x, requires_grad=True)
        out = leaf.mean(dim, keepdim=keepdim)
        out.backward(lib.ones_like(out) * 2)
        results.append((out, leaf.grad))
    (out, grad), (ref, ref_grad) = results[1], results[0]
    assert out.dtype == torsh.float32 and tuple(out.shape) == tuple(ref.shape)
    assert out.grad_fn.name() == ref.grad_fn.name()
    assert_close(out, ref, atol=1e-5, rtol=1e-5)
    assert_close(grad, ref_grad)
    assert torsh.tensor(x).mean(dim, keepdim=keepdim, dtype=torsh.float64).dtype == torsh.float64


# -- sums over every dim but the channels (a convolution's bias gradient, x.sum((0, 2, 3))) ------------------
@needs_torch
@pytest.mark.parametrize("shape,dim,keepdim,dtype", [
    ((32, 16, 32, 32), (0, 2, 3), False, "float32"), ((64, 6, 28, 28), (0, 2, 3), True, "float32"),
    ((9, 7, 13, 11), (3, 0, 2), False, "float32"), ((33, 5, 301), (0, 2), False, "float32"),
    ((16, 3, 20, 20), (0, 2, 3), False, "float64"), ((2, 3, 4, 5), (0, 2, 3), False, "float32")])
def test_sum_over_all_but_channels_matches_torch(shape, dim, keepdim, dtype):
    x = (np.random.default_rng(9).standard_normal(shape) * 10 + 1).astype(dtype)
    results = []
    for lib in (torch_ref, torsh):
        leaf = lib.tensor(x, requires_grad=True)
        out = leaf.sum(dim, keepdim=keepdim)
        out.backward(lib.ones_like(out) * 3)
        results.append((out, leaf.grad))
    (out, grad), (ref, ref_grad) = results[1], results[0]
    assert str(out.dtype) == f"torsh.{dtype}" and tuple(out.shape) == tuple(ref.shape)
    exact = x.astype(np.float64).sum(tuple(sorted(d % x.ndim for d in dim)), keepdims=keepdim)
    bound = 8 * np.finfo(dtype).eps * np.abs(x).astype(np.float64).sum(
        tuple(sorted(d % x.ndim for d in dim)), keepdims=keepdim) + 1e-30
    assert np.all(np.abs(out.detach().numpy() - exact) <= bound)
    assert_close(out, ref, atol=1e-3, rtol=1e-5)
    assert_close(grad, ref_grad)


@needs_torch
@pytest.mark.parametrize("variant", ["kernel", "numpy"])
def test_conv_bias_gradient_matches_torch(variant):
    rng = np.random.default_rng(10)
    x = rng.standard_normal((8, 3, 20, 20)).astype(np.float32)
    w = rng.standard_normal((7, 3, 3, 3)).astype(np.float32)
    b = rng.standard_normal(7).astype(np.float32)
    g = rng.standard_normal((8, 7, 20, 20)).astype(np.float32)
    results = []
    for lib in (torch_ref, torsh):
        with forced_variant(("sum_rows",), variant):
            leaves = [lib.tensor(a, requires_grad=True) for a in (x, w, b)]
            lib.nn.functional.conv2d(*leaves, padding=1).backward(lib.tensor(g))
        results.append([t.grad for t in leaves])
    for ours, theirs in zip(results[1], results[0]):
        assert_close(ours, theirs, atol=1e-3, rtol=1e-4)
    xd = torsh.randn(2, 2, 5, 5, dtype=torsh.float64, requires_grad=True)
    wd = torsh.randn(3, 2, 3, 3, dtype=torsh.float64, requires_grad=True)
    bd = torsh.randn(3, dtype=torsh.float64, requires_grad=True)
    assert torsh.autograd.gradcheck(lambda *a: torsh.nn.functional.conv2d(*a, padding=1), (xd, wd, bd))


@needs_torch
@pytest.mark.parametrize("shape,dim,keepdim", [((32, 16, 32, 32), (0, 2, 3), True), ((33, 5, 301), (0, 2), False)])
def test_mean_over_all_but_channels_matches_torch(shape, dim, keepdim):
    x = np.random.default_rng(11).standard_normal(shape).astype(np.float32) * 4 + 2
    results = []
    for lib in (torch_ref, torsh):
        leaf = lib.tensor(x, requires_grad=True)
        out = leaf.mean(dim, keepdim=keepdim)
        out.backward(lib.ones_like(out))
        results.append((out, leaf.grad))
    for ours, theirs in zip(results[1], results[0]):
        assert ours.dtype == torsh.float32 and tuple(ours.shape) == tuple(theirs.shape)
        assert_close(ours, theirs, atol=1e-5, rtol=1e-5)


@needs_torch
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("shape,dim", [((2_000_000,), None), ((3, 700_000), 1), ((4, 2, 300_000), (1, 2))])
def test_long_row_sums_keep_pytorch_accuracy(threads, shape, dim):
    """The sum_rows kernel's plain vector accumulation lost ~100x PyTorch's accuracy on one long row (2 threads)."""
    x = (np.random.default_rng(12).random(shape) + 0.5).astype(np.float32)
    previous = torsh.get_num_threads()
    torsh.set_num_threads(threads)
    try:
        ours = torsh.from_numpy(x).sum(dim).numpy()
    finally:
        torsh.set_num_threads(previous)
    theirs = torch_ref.from_numpy(x).sum(dim).numpy()
    exact = x.astype(np.float64).sum(dim)
    ours_err = np.max(np.abs(ours - exact) / exact)
    assert ours_err <= max(2 * np.max(np.abs(theirs - exact) / exact), 2e-7)
