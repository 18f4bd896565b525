"""Pooling against torch.nn: outputs, indices, input grads (double backward where torch has it)."""
import numpy as np
import pytest

import torsh
import torsh.nn as nn
from helpers import assert_close, check_same_error, torch_ref as torch
from test_nn_common import compare_module

POOLS = [
    ("maxpool1d", lambda nn: nn.MaxPool1d(3, 2, padding=1), (2, 3, 10)),
    ("maxpool2d", lambda nn: nn.MaxPool2d(2), (2, 3, 8, 6)),
    ("maxpool2d_full", lambda nn: nn.MaxPool2d((3, 2), stride=(2, 1), padding=(1, 1), dilation=(1, 2)), (2, 2, 9, 7)),
    ("maxpool2d_ceil", lambda nn: nn.MaxPool2d(3, 2, ceil_mode=True), (2, 2, 8, 9)),
    ("maxpool2d_ceil_pad", lambda nn: nn.MaxPool2d(3, 2, padding=1, ceil_mode=True), (1, 2, 6, 7)),
    ("maxpool2d_unbatched", lambda nn: nn.MaxPool2d(2), (3, 6, 6)),
    ("maxpool3d", lambda nn: nn.MaxPool3d(2, stride=(1, 2, 2), padding=1), (1, 2, 4, 5, 6)),
    ("avgpool1d", lambda nn: nn.AvgPool1d(3, 2, padding=1), (2, 3, 10)),
    ("avgpool2d", lambda nn: nn.AvgPool2d(2), (2, 3, 8, 6)),
    ("avgpool2d_pad_excl", lambda nn: nn.AvgPool2d(3, 2, padding=1, count_include_pad=False), (2, 2, 7, 8)),
    ("avgpool2d_ceil", lambda nn: nn.AvgPool2d(3, 2, padding=1, ceil_mode=True), (2, 2, 8, 7)),
    ("avgpool2d_ceil_excl", lambda nn: nn.AvgPool2d(3, 2, ceil_mode=True, count_include_pad=False), (2, 2, 8, 7)),
    ("avgpool2d_divisor", lambda nn: nn.AvgPool2d(2, divisor_override=3), (2, 2, 6, 6)),
    ("avgpool3d", lambda nn: nn.AvgPool3d((2, 3, 2), stride=1, padding=(1, 1, 0)), (1, 2, 4, 5, 4)),
    ("adaptiveavg1d", lambda nn: nn.AdaptiveAvgPool1d(4), (2, 3, 10)),
    ("adaptiveavg2d", lambda nn: nn.AdaptiveAvgPool2d((3, 4)), (2, 3, 7, 9)),
    ("adaptiveavg2d_none", lambda nn: nn.AdaptiveAvgPool2d((None, 2)), (2, 3, 7, 9)),
    ("adaptiveavg2d_1", lambda nn: nn.AdaptiveAvgPool2d(1), (2, 3, 7, 9)),
    ("adaptiveavg3d", lambda nn: nn.AdaptiveAvgPool3d((2, 3, 1)), (1, 2, 5, 7, 3)),
    ("adaptivemax1d", lambda nn: nn.AdaptiveMaxPool1d(4), (2, 3, 10)),
    ("adaptivemax2d", lambda nn: nn.AdaptiveMaxPool2d((3, 4)), (2, 3, 7, 9)),
    ("adaptivemax3d", lambda nn: nn.AdaptiveMaxPool3d(2), (1, 2, 5, 4, 3)),
    ("lppool1d", lambda nn: nn.LPPool1d(2, 3, 2), (2, 3, 9)),
    ("lppool2d", lambda nn: nn.LPPool2d(3, (2, 3), stride=2), (2, 3, 6, 8)),
]


@pytest.mark.parametrize("name,make,shape", POOLS, ids=[p[0] for p in POOLS])
def test_pool_matches_torch(name, make, shape):
    arrays = [np.random.default_rng(3).normal(size=shape)]
    if name.startswith("lppool"):
        arrays = [np.abs(arrays[0]) + 0.1]
    compare_module(lambda lib: make(lib.nn), arrays, modes=(True,))


@pytest.mark.parametrize("name,make,shape", POOLS, ids=[p[0] for p in POOLS])
def test_pool_repr(name, make, shape):
    assert repr(make(nn)) == repr(make(torch.nn))


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_max_pool_indices_and_unpool(nd):
    shape = (2, 3) + (6,) * nd
    x = np.random.default_rng(nd).normal(size=shape)
    pool_o = getattr(nn, f"MaxPool{nd}d")(2, stride=2, return_indices=True)
    pool_r = getattr(torch.nn, f"MaxPool{nd}d")(2, stride=2, return_indices=True)
    yo, io = pool_o(torsh.tensor(x))
    yr, ir = pool_r(torch.tensor(x))
    assert_close(yo, yr)
    assert_close(io, ir)
    xo = torsh.tensor(yo.numpy(), requires_grad=True)
    xr = torch.tensor(yr.numpy(), requires_grad=True)
    uo = getattr(nn, f"MaxUnpool{nd}d")(2)(xo, io)
    ur = getattr(torch.nn, f"MaxUnpool{nd}d")(2)(xr, ir)
    assert_close(uo, ur.detach())
    w = np.random.default_rng(0).normal(size=tuple(ur.shape))
    (uo * torsh.tensor(w)).sum().backward()
    (ur * torch.tensor(w)).sum().backward()
    assert_close(xo.grad, xr.grad)


def test_adaptive_max_pool_indices():
    x = np.random.default_rng(0).normal(size=(2, 3, 7, 9))
    yo, io = nn.functional.adaptive_max_pool2d(torsh.tensor(x), (3, 4), return_indices=True)
    yr, ir = torch.nn.functional.adaptive_max_pool2d(torch.tensor(x), (3, 4), return_indices=True)
    assert_close(yo, yr)
    assert_close(io, ir)


def test_max_pool_double_backward_and_nan():
    x = np.random.default_rng(0).normal(size=(1, 2, 6, 6))
    res = []
    for lib in (torsh, torch):
        t = lib.tensor(x, requires_grad=True)
        y = lib.nn.functional.max_pool2d(t, 3, 2, 1)
        g, = lib.autograd.grad((y ** 3).sum(), t, create_graph=True)
        res.append(lib.autograd.grad((g * g).sum(), t)[0])
    assert_close(res[0], res[1])
    xn = x.copy()
    xn[0, 0, 0, 1] = np.nan
    assert_close(nn.functional.max_pool2d(torsh.tensor(xn), 2), torch.nn.functional.max_pool2d(torch.tensor(xn), 2))


def test_fractional_max_pool_with_samples():
    x = np.random.default_rng(0).normal(size=(2, 3, 11, 9))
    samples = np.random.default_rng(1).random((2, 3, 2))
    for kw in ({"output_size": (5, 4)}, {"output_ratio": 0.5}):
        mo = nn.FractionalMaxPool2d(3, return_indices=True, _random_samples=torsh.tensor(samples), **kw)
        mr = torch.nn.FractionalMaxPool2d(3, return_indices=True, _random_samples=torch.tensor(samples), **kw)
        xo, xr = torsh.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        (yo, io), (yr, ir) = mo(xo), mr(xr)
        assert_close(yo, yr.detach())
        assert_close(io, ir)
        yo.sum().backward()
        yr.sum().backward()
        assert_close(xo.grad, xr.grad)
    samples3 = np.random.default_rng(2).random((1, 2, 3))
    x3 = np.random.default_rng(3).normal(size=(1, 2, 7, 8, 9))
    yo = nn.functional.fractional_max_pool3d(torsh.tensor(x3), 2, output_size=(4, 5, 3),
                                             _random_samples=torsh.tensor(samples3))
    yr = torch.nn.functional.fractional_max_pool3d(torch.tensor(x3), 2, output_size=(4, 5, 3),
                                                   _random_samples=torch.tensor(samples3))
    assert_close(yo, yr)
    free = nn.FractionalMaxPool2d(2, output_size=4)(torsh.randn(1, 1, 8, 8))
    assert tuple(free.shape) == (1, 1, 4, 4)


def test_pool_errors_match_torch():
    F = lambda lib: lib.nn.functional  # noqa: E731
    check_same_error(lambda lib: F(lib).max_pool2d(lib.zeros(2, 3, 5, 5), 3, padding=2))
    check_same_error(lambda lib: F(lib).max_pool2d(lib.zeros(2, 3, 1, 1), 3))
    check_same_error(lambda lib: F(lib).avg_pool2d(lib.zeros(2, 3, 1, 1), 3))


def test_max_pool_index_with_two_nans_in_a_window_matches_torch():
    from helpers import torch_ref
    data = np.array([[[[1.0, np.nan, 3.0, np.nan], [np.nan, 5.0, np.nan, 2.0]]]], dtype=np.float32)
    out, idx = torsh.nn.functional.max_pool2d(torsh.tensor(data), (1, 4), return_indices=True)
    ref_out, ref_idx = torch_ref.nn.functional.max_pool2d(torch_ref.tensor(data), (1, 4), return_indices=True)
    np.testing.assert_array_equal(idx.numpy(), ref_idx.numpy())  # PyTorch: a later NaN replaces an earlier one
    assert np.isnan(out.numpy()).all() and np.isnan(ref_out.numpy()).all()
