"""Average pooling's kernels in the ``conv`` family (ops ``avg_pool2d``: the scaled window sums,
``avg_pool2d_backward``: their adjoint) against PyTorch, on each dispatch variant (compiled
single-thread, compiled OpenMP, NumPy): avg_pool1d/avg_pool2d forward and backward over strides,
paddings, ceil_mode, count_include_pad and divisor_override, unbatched, non-contiguous and
integer inputs, the PyTorch graph names, double backward, and float64 gradcheck/gradgradcheck."""
import numpy as np
import pytest
import torch

import torsh
import torsh.nn.functional as F
from torsh.backend import dispatch, kernels
from helpers import VARIANTS, check_same_error, forced_variant

TOL = {np.float32: dict(rtol=2e-5, atol=2e-6), np.float64: dict(rtol=1e-12, atol=1e-13)}
AVG_OPS = ("avg_pool2d", "avg_pool2d_backward")


@pytest.fixture(params=VARIANTS)
def variant(request):
    """Force both average-pooling ops onto one variant; yields the variant name records must show."""
    with forced_variant(AVG_OPS, request.param) as recorded:
        yield recorded


def _pair(arr, requires_grad=True):
    return torsh.tensor(arr, requires_grad=requires_grad), torch.tensor(arr, requires_grad=requires_grad)


def _close(ours, ref, dtype):
    assert ours.dtype == getattr(torsh, str(ref.dtype).split(".")[1]), (ours.dtype, ref.dtype)
    np.testing.assert_allclose(ours.detach().numpy(), ref.detach().numpy(), **TOL[dtype])


def _variants(records, op):
    return {r.variant for r in records if r.op == op}


def _forward_backward(fn_name, arr, kwargs, dtype, seed=0):
    """Run F.<fn_name> forward and backward in torsh and torch on ``arr``; returns both, checked."""
    rng = np.random.default_rng(seed)
    x, xr = _pair(arr)
    with dispatch.record() as records:
        y = getattr(F, fn_name)(x, **kwargs)
        g = rng.standard_normal(tuple(y.shape)).astype(dtype)
        y.backward(torsh.tensor(g))
    yr = getattr(torch.nn.functional, fn_name)(xr, **kwargs)
    yr.backward(torch.tensor(g))
    assert tuple(y.shape) == tuple(yr.shape)
    _close(y, yr, dtype)
    _close(x.grad, xr.grad, dtype)
    return records


def test_conv_family_is_compiled():
    assert kernels.available()["conv"], kernels.load_errors()


POOLS_2D = [  # (x shape, kernel, stride, padding, ceil_mode, count_include_pad, divisor_override)
    ((2, 3, 8, 6), 2, None, 0, False, True, None),
    ((2, 2, 9, 7), (3, 2), (2, 1), (1, 1), False, False, None),
    ((2, 2, 8, 9), 3, 2, 0, True, True, None),
    ((1, 2, 6, 7), 3, 2, 1, True, False, None),  # ceil_mode windows hanging over the right/bottom edge
    ((1, 2, 6, 7), 3, 2, 1, True, True, None),
    ((3, 4, 11, 13), (2, 3), (3, 2), (1, 1), True, True, None),
    ((2, 3, 7, 7), 3, 1, 1, False, True, 5),
    ((2, 2, 5, 5), (2, 4), (1, 3), (1, 2), True, False, 2),
    ((2, 2, 10, 9), 2, 3, 0, True, True, None),  # stride larger than the kernel: skipped elements
    ((2, 2, 10, 9), 2, 3, 1, True, False, None),
    ((2, 3, 5, 4), (5, 4), None, 0, False, True, None),  # one window covering the whole plane
    ((1, 1, 1, 1), 1, None, 0, False, True, None),
    ((3, 1, 4, 17), (1, 3), (1, 2), (0, 1), True, False, None),
    ((4, 6, 28, 28), 2, None, 0, False, True, None),  # LeNet
    ((2, 16, 14, 14), 3, 1, 1, False, True, None),
    ((2, 5, 7, 8), 4, 3, 2, True, False, -3),  # a negative divisor_override divides too
    ((3, 7, 8), 3, 2, 1, True, False, None),  # unbatched (C, H, W)
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("xs,kernel,stride,padding,ceil_mode,count_include_pad,divisor_override", POOLS_2D)
def test_avg_pool2d_forward_backward_match_torch(xs, kernel, stride, padding, ceil_mode, count_include_pad,
                                                 divisor_override, dtype, variant):
    arr = np.random.default_rng(1).standard_normal(xs).astype(dtype)
    kwargs = dict(kernel_size=kernel, stride=stride, padding=padding, ceil_mode=ceil_mode,
                  count_include_pad=count_include_pad, divisor_override=divisor_override)
    records = _forward_backward("avg_pool2d", arr, kwargs, dtype)
    for op in AVG_OPS:
        assert _variants(records, op) == {variant}, op


POOLS_1D = [  # (x shape, kernel, stride, padding, ceil_mode, count_include_pad)
    ((2, 3, 10), 3, 2, 1, False, True),
    ((2, 3, 11), 4, 3, 2, True, False),
    ((2, 3, 11), 4, 3, 2, True, True),
    ((1, 2, 5), 5, None, 0, False, True),
    ((4, 8, 33), 2, None, 0, True, True),
    ((3, 9), 2, 1, 1, False, False),  # unbatched (C, L)
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("xs,kernel,stride,padding,ceil_mode,count_include_pad", POOLS_1D)
def test_avg_pool1d_forward_backward_match_torch(xs, kernel, stride, padding, ceil_mode, count_include_pad, dtype,
                                                 variant):
    arr = np.random.default_rng(2).standard_normal(xs).astype(dtype)
    kwargs = dict(kernel_size=kernel, stride=stride, padding=padding, ceil_mode=ceil_mode,
                  count_include_pad=count_include_pad)
    records = _forward_backward("avg_pool1d", arr, kwargs, dtype)
    for op in AVG_OPS:
        assert _variants(records, op) == {variant}, op


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_random_geometries_match_torch(dtype, variant):
    """Many seeded geometries: kernel, stride and padding per dim, ceil_mode, count_include_pad."""
    rng = np.random.default_rng(3)
    for _ in range(25):
        kernel = tuple(int(k) for k in rng.integers(1, 5, 2))
        stride = tuple(int(s) for s in rng.integers(1, 4, 2))
        padding = tuple(int(rng.integers(0, k // 2 + 1)) for k in kernel)
        size = tuple(int(k + rng.integers(0, 9)) for k in kernel)
        xs = (int(rng.integers(1, 3)), int(rng.integers(1, 4))) + size
        kwargs = dict(kernel_size=kernel, stride=stride, padding=padding, ceil_mode=bool(rng.integers(2)),
                      count_include_pad=bool(rng.integers(2)))
        _forward_backward("avg_pool2d", rng.standard_normal(xs).astype(dtype), kwargs, dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_non_contiguous_input_and_broadcast_gradient(dtype, variant):
    """A transposed input, and sum()'s stride-0 gradient: the compiled variants copy them once."""
    base = np.random.default_rng(4).standard_normal((2, 7, 3, 9)).astype(dtype)
    x, xr = _pair(base)
    xt, xrt = x.transpose(1, 2), xr.transpose(1, 2)  # (2, 3, 7, 9), not contiguous
    assert not xt.is_contiguous()
    kwargs = dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=False)
    with dispatch.record() as records:
        y = F.avg_pool2d(xt, **kwargs)
        y.sum().backward()
    yr = torch.nn.functional.avg_pool2d(xrt, **kwargs)
    yr.sum().backward()
    _close(y, yr, dtype)
    _close(x.grad, xr.grad, dtype)
    for op in AVG_OPS:
        assert _variants(records, op) == {variant}, op
    # a sliced (non-contiguous) 1-D input too
    x1, xr1 = _pair(np.random.default_rng(5).standard_normal((2, 3, 20)).astype(dtype))
    y1 = F.avg_pool1d(x1[..., ::2], 3, 2, 1)
    yr1 = torch.nn.functional.avg_pool1d(xr1[..., ::2], 3, 2, 1)
    y1.sum().backward()
    yr1.sum().backward()
    _close(y1, yr1, dtype)
    _close(x1.grad, xr1.grad, dtype)


def test_integer_input_sums_and_truncates_as_torch(variant):
    arr = np.random.default_rng(6).integers(-50, 50, (2, 3, 7, 6))
    for kwargs in (dict(kernel_size=4, stride=1, padding=1), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True,
                                                                   count_include_pad=False),
                   dict(kernel_size=2, divisor_override=-3)):
        y = F.avg_pool2d(torsh.tensor(arr), **kwargs)
        yr = torch.nn.functional.avg_pool2d(torch.tensor(arr), **kwargs)
        assert y.dtype == torsh.int64
        np.testing.assert_array_equal(y.numpy(), yr.numpy())


def test_graph_names_match_torch(variant):
    x = torsh.randn(2, 3, 6, 6, requires_grad=True)
    y = F.avg_pool2d(x, 2)
    assert y.grad_fn.name() == "AvgPool2DBackward0"
    g = torsh.randn(2, 3, 3, 3, requires_grad=True)
    (gx,) = torsh.autograd.grad(y, x, g, create_graph=True)
    assert gx.grad_fn.name() == "AvgPool2DBackwardBackward0"
    # avg_pool1d is PyTorch's unsqueeze -> avg_pool2d -> squeeze, and reads the same
    x1 = torsh.randn(2, 3, 8, requires_grad=True)
    x1r = torch.randn(2, 3, 8, requires_grad=True)
    names = []
    for y1 in (F.avg_pool1d(x1, 2), torch.nn.functional.avg_pool1d(x1r, 2)):
        node, chain = y1.grad_fn, []
        while node is not None and type(node).__name__ != "AccumulateGrad":
            chain.append(node.name())
            node = node.next_functions[0][0]
        names.append(chain)
    assert names[0] == names[1] == ["SqueezeBackward1", "AvgPool2DBackward0", "UnsqueezeBackward0"], names


def test_double_backward_matches_torch(variant):
    """create_graph through avg_pool2d: the gradient's gradient w.r.t. the upstream gradient, and a
    gradient penalty through a nonlinearity, against PyTorch."""
    rng = np.random.default_rng(7)
    x, xr = _pair(rng.standard_normal((2, 2, 9, 8)))
    g, gr = _pair(rng.standard_normal((2, 2, 5, 5)))
    w = rng.standard_normal((2, 2, 9, 8))
    results = []
    for lib, xx, gg in ((torsh, x, g), (torch, xr, gr)):
        y = lib.nn.functional.avg_pool2d(xx.tanh(), 3, 2, 1, ceil_mode=True, count_include_pad=False)
        (gx,) = lib.autograd.grad(y, xx, gg, create_graph=True)
        (gx * lib.tensor(w)).pow(2).sum().backward()
        results.append((xx.grad, gg.grad))
    _close(results[0][0], results[1][0], np.float64)
    _close(results[0][1], results[1][1], np.float64)


def test_gradcheck_and_gradgradcheck_float64(variant):
    rng = np.random.default_rng(8)
    x = torsh.tensor(rng.standard_normal((2, 2, 7, 6)), requires_grad=True)
    for pool in (lambda x: F.avg_pool2d(x, 3, stride=2, padding=1, ceil_mode=True, count_include_pad=False),
                 lambda x: F.avg_pool2d(x, (2, 3), stride=(1, 2), padding=(1, 1), divisor_override=4),
                 lambda x: F.avg_pool1d(x.flatten(2), 4, 3, 2, ceil_mode=True)):
        assert torsh.autograd.gradcheck(pool, (x,))
        assert torsh.autograd.gradgradcheck(pool, (x,))


def test_pool_errors_match_torch():
    F_ = lambda lib: lib.nn.functional  # noqa: E731
    check_same_error(lambda lib: F_(lib).avg_pool2d(lib.zeros(2, 3, 1, 1), 3))  # output too small
    check_same_error(lambda lib: F_(lib).avg_pool2d(lib.zeros(2, 3, 6, 6), 3, padding=2))  # pad > kernel / 2
    check_same_error(lambda lib: F_(lib).avg_pool1d(lib.zeros(2, 3, 6), 2, padding=2))
    check_same_error(lambda lib: F_(lib).avg_pool2d(lib.zeros(2, 3, 6, 6), 2, divisor_override=0))
    check_same_error(lambda lib: F_(lib).avg_pool2d(lib.zeros(2, 6, 6, 6, 6), 2))


def test_dispatch_explains_the_new_ops():
    for op in AVG_OPS:
        assert dispatch._FAMILY[op] == "conv"
        assert dispatch.explain(op, 1_000_000).startswith(f"{op}: ")


def test_input_errors_match_torch():
    F_ = lambda lib: lib.nn.functional  # noqa: E731
    check_same_error(lambda lib: F_(lib).avg_pool2d(lib.zeros(2, 6, 6, 6, 6), 2))
    check_same_error(lambda lib: F_(lib).avg_pool2d(lib.zeros(2, 0, 6, 6), 2))
    check_same_error(lambda lib: F_(lib).avg_pool1d(lib.zeros(2, 3, 6, 5), 2))
    check_same_error(lambda lib: F_(lib).avg_pool2d(lib.zeros(2, 3, 6, 6, dtype=lib.bool), 2))
    check_same_error(lambda lib: F_(lib).avg_pool1d(lib.zeros(2, 3, 6, dtype=lib.complex64), 2))


def test_empty_batch(variant):
    y = F.avg_pool2d(torsh.zeros(0, 3, 6, 6, requires_grad=True), 3, 2, 1, ceil_mode=True)
    assert tuple(y.shape) == tuple(torch.nn.functional.avg_pool2d(torch.zeros(0, 3, 6, 6), 3, 2, 1,
                                                                  ceil_mode=True).shape)
