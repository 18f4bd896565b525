"""Convolutions against torch.nn: outputs, input/weight/bias grads, double backward, errors."""
import numpy as np
import pytest

import torsh
import torsh.nn as nn
from helpers import assert_close, check_same_error, torch_ref as torch
from test_nn_common import compare_module

CONVS = [
    ("conv1d", lambda nn: nn.Conv1d(3, 4, 3), (2, 3, 9)),
    ("conv1d_s2p1d2", lambda nn: nn.Conv1d(4, 6, 3, stride=2, padding=1, dilation=2, groups=2), (2, 4, 11)),
    ("conv2d", lambda nn: nn.Conv2d(3, 5, 3), (2, 3, 8, 7)),
    ("conv2d_stride_pad", lambda nn: nn.Conv2d(3, 4, (3, 2), stride=(2, 1), padding=(1, 2), bias=False), (2, 3, 9, 6)),
    ("conv2d_dil_groups", lambda nn: nn.Conv2d(4, 6, 3, dilation=2, groups=2, padding=2), (1, 4, 9, 9)),
    ("conv2d_depthwise", lambda nn: nn.Conv2d(3, 6, 3, groups=3), (2, 3, 6, 6)),
    ("conv2d_same", lambda nn: nn.Conv2d(2, 3, 4, padding="same", dilation=1), (2, 2, 7, 6)),
    ("conv2d_same_dil", lambda nn: nn.Conv2d(2, 3, 3, padding="same", dilation=2), (2, 2, 7, 6)),
    ("conv2d_valid", lambda nn: nn.Conv2d(2, 3, 3, padding="valid"), (2, 2, 5, 5)),
    ("conv2d_reflect", lambda nn: nn.Conv2d(2, 3, 3, padding=1, padding_mode="reflect"), (2, 2, 5, 6)),
    ("conv2d_replicate", lambda nn: nn.Conv2d(2, 3, 3, padding=2, padding_mode="replicate"), (2, 2, 5, 6)),
    ("conv2d_circular", lambda nn: nn.Conv2d(2, 3, 3, padding=(1, 2), padding_mode="circular"), (2, 2, 5, 6)),
    ("conv2d_unbatched", lambda nn: nn.Conv2d(2, 3, 3), (2, 5, 5)),
    ("conv3d", lambda nn: nn.Conv3d(2, 3, (2, 3, 2), stride=(1, 2, 1), padding=1), (2, 2, 4, 5, 4)),
    ("convT1d", lambda nn: nn.ConvTranspose1d(3, 4, 3, stride=2, padding=1, output_padding=1), (2, 3, 5)),
    ("convT2d", lambda nn: nn.ConvTranspose2d(3, 4, 3), (2, 3, 4, 5)),
    ("convT2d_full", lambda nn: nn.ConvTranspose2d(4, 6, (3, 2), stride=(2, 3), padding=(1, 0), output_padding=(1, 2),
                                                   groups=2, dilation=(1, 2)), (2, 4, 4, 3)),
    ("convT3d", lambda nn: nn.ConvTranspose3d(2, 3, 2, stride=2), (1, 2, 2, 3, 2)),
]


@pytest.mark.parametrize("name,make,shape", CONVS, ids=[c[0] for c in CONVS])
def test_conv_matches_torch(name, make, shape):
    compare_module(lambda lib: make(lib.nn), [shape], modes=(True,))


@pytest.mark.parametrize("name,make,shape", CONVS, ids=[c[0] for c in CONVS])
def test_conv_repr_and_keys(name, make, shape):
    assert repr(make(nn)) == repr(make(torch.nn))
    assert list(make(nn).state_dict()) == list(make(torch.nn).state_dict())


def test_conv_transpose_output_size_argument():
    def call(m, x):
        return m(x, output_size=[10, 11])
    compare_module(lambda lib: lib.nn.ConvTranspose2d(2, 3, 3, stride=2), [(1, 2, 4, 5)], modes=(True,), call=call)


def test_conv_double_backward():
    F = nn.functional
    xa = np.random.default_rng(0).normal(size=(2, 2, 6, 5))
    wa = np.random.default_rng(1).normal(size=(4, 1, 3, 2))
    results = []
    for lib in (torsh, torch):
        x = lib.tensor(xa, requires_grad=True)
        w = lib.tensor(wa, requires_grad=True)
        y = lib.nn.functional.conv2d(x, w, stride=(2, 1), padding=1, dilation=(1, 2), groups=2)
        gx, gw = lib.autograd.grad((y * y).sum(), (x, w), create_graph=True)
        z = (gx.sin()).sum() + (gw ** 2).sum()
        results.append(lib.autograd.grad(z, (x, w)))
    for a, b in zip(*results):
        assert_close(a, b, rtol=1e-6, atol=1e-8)


def test_conv_gradcheck():
    F = nn.functional
    x = torsh.tensor(np.random.default_rng(0).normal(size=(1, 2, 4, 4)), requires_grad=True)
    w = torsh.tensor(np.random.default_rng(1).normal(size=(2, 2, 2, 2)), requires_grad=True)
    b = torsh.tensor(np.random.default_rng(2).normal(size=(2,)), requires_grad=True)
    assert torsh.autograd.gradcheck(lambda x, w, b: F.conv2d(x, w, b, stride=2, padding=1), (x, w, b))
    assert torsh.autograd.gradcheck(lambda x, w, b: F.conv_transpose2d(x, w, b, stride=2, padding=1), (x, w, b))
    assert torsh.autograd.gradgradcheck(lambda x, w: F.conv2d(x, w, padding=1), (x, w))


def test_fold_unfold_match_torch():
    compare_module(lambda lib: lib.nn.Unfold((2, 3), dilation=(1, 2), padding=1, stride=(2, 1)), [(2, 3, 6, 7)],
                   modes=(True,))
    compare_module(lambda lib: lib.nn.Fold((5, 6), (2, 2), stride=1, padding=1), [(2, 12, 42)], modes=(True,))


def test_lazy_conv2d():
    lazy = nn.LazyConv2d(4, 3, padding=1)
    out = lazy(torsh.randn(2, 3, 5, 5))
    assert type(lazy) is nn.Conv2d and tuple(lazy.weight.shape) == (4, 3, 3, 3) and tuple(out.shape) == (2, 4, 5, 5)
    assert lazy.in_channels == 3


def test_conv_default_init_bounds():
    conv = nn.Conv2d(6, 16, 5)
    bound = 1 / np.sqrt(6 * 25)
    w = conv.weight.detach().numpy()
    assert np.abs(w).max() <= bound and w.std() > bound / 3
    assert np.abs(conv.bias.detach().numpy()).max() <= bound


def test_conv_errors_match_torch():
    F = lambda lib: lib.nn.functional  # noqa: E731
    check_same_error(lambda lib: F(lib).conv2d(lib.zeros(2, 3, 5, 5).double(), lib.zeros(4, 3, 3, 3)))
    check_same_error(lambda lib: F(lib).conv2d(lib.zeros(2, 3, 5, 5), lib.zeros(4, 3, 3, 3), lib.zeros(4).double()))
    check_same_error(lambda lib: F(lib).conv2d(lib.zeros(2, 3, 5, 5), lib.zeros(4, 2, 3, 3)))
    check_same_error(lambda lib: F(lib).conv2d(lib.zeros(2, 3), lib.zeros(4, 2, 3, 3)))
    check_same_error(lambda lib: F(lib).conv2d(lib.zeros(2, 3, 2, 2), lib.zeros(4, 3, 3, 3)))
    check_same_error(lambda lib: F(lib).conv2d(lib.zeros(2, 3, 5, 5), lib.zeros(4, 3, 3, 3), stride=2, padding="same"))
    check_same_error(lambda lib: F(lib).conv2d(lib.zeros(2, 3, 5, 5), lib.zeros(4, 3, 3, 3), groups=2))
    check_same_error(lambda lib: lib.nn.Conv2d(3, 4, 3, groups=2))
    check_same_error(lambda lib: lib.nn.Conv2d(4, 4, 3, padding="same", stride=2))


def test_same_padding_with_an_even_kernel_names_the_padded_copy():
    # PyTorch pads the extra high-side zero into a copy first (warning once), so a channel error names that copy
    check_same_error(lambda lib: lib.nn.functional.conv1d(lib.zeros(1, 1, 1), lib.zeros(1, 2, 2), padding="same"))
    check_same_error(lambda lib: lib.nn.functional.conv2d(lib.zeros(1, 1, 3, 4), lib.zeros(1, 2, 2, 3), padding="same"))
    outs = [lib.nn.functional.conv1d(lib.arange(5.0).reshape(1, 1, 5), lib.ones(1, 1, 2), padding="same")
            for lib in (torsh, torch)]
    assert_close(outs[0], outs[1])
