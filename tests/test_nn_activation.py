"""Activations: module and functional forms against torch.nn (values, input grads, double backward)."""
import numpy as np
import pytest

import torsh
import torsh.nn as nn
from helpers import assert_close, check_same_error, torch_ref as torch
from test_nn_common import compare_module

# values straddle every kink (0, +-0.5, +-1, +-3, 6) without landing on one
X = np.array([[-7.0, -3.5, -2.9, -1.2, -0.7, -0.45, -0.1, 0.05],
              [0.3, 0.55, 0.9, 1.3, 2.5, 3.2, 5.9, 6.5]])

MODULES = [
    ("ReLU", lambda nn: nn.ReLU()), ("ReLU6", lambda nn: nn.ReLU6()),
    ("LeakyReLU", lambda nn: nn.LeakyReLU(0.2)), ("PReLU", lambda nn: nn.PReLU()),
    ("PReLU8", lambda nn: nn.PReLU(2, init=0.1)),
    ("ELU", lambda nn: nn.ELU(0.7)), ("SELU", lambda nn: nn.SELU()), ("CELU", lambda nn: nn.CELU(1.3)),
    ("GELU", lambda nn: nn.GELU()), ("GELUtanh", lambda nn: nn.GELU(approximate="tanh")),
    ("SiLU", lambda nn: nn.SiLU()), ("Mish", lambda nn: nn.Mish()), ("Sigmoid", lambda nn: nn.Sigmoid()),
    ("Tanh", lambda nn: nn.Tanh()), ("Softmax", lambda nn: nn.Softmax(dim=1)),
    ("LogSoftmax", lambda nn: nn.LogSoftmax(dim=0)), ("Softmin", lambda nn: nn.Softmin(dim=1)),
    ("Hardshrink", lambda nn: nn.Hardshrink()), ("Softshrink", lambda nn: nn.Softshrink(0.6)),
    ("Tanhshrink", lambda nn: nn.Tanhshrink()), ("Hardtanh", lambda nn: nn.Hardtanh(-2.0, 2.0)),
    ("Hardsigmoid", lambda nn: nn.Hardsigmoid()), ("Hardswish", lambda nn: nn.Hardswish()),
    ("Softplus", lambda nn: nn.Softplus(beta=2.0, threshold=3.0)), ("Softsign", lambda nn: nn.Softsign()),
    ("Threshold", lambda nn: nn.Threshold(0.5, -3.0)), ("LogSigmoid", lambda nn: nn.LogSigmoid()),
    ("GLU", lambda nn: nn.GLU(dim=1)), ("RReLUeval", lambda nn: nn.RReLU()),
]


@pytest.mark.parametrize("name,make", MODULES, ids=[m[0] for m in MODULES])
def test_activation_module_matches_torch(name, make):
    modes = (False,) if name == "RReLUeval" else (True, False)
    x = X if name != "PReLU8" else X.reshape(2, 2, 4)
    compare_module(lambda lib: make(lib.nn), [x], modes=modes)


@pytest.mark.parametrize("name,make", MODULES, ids=[m[0] for m in MODULES])
def test_activation_repr_matches_torch(name, make):
    assert repr(make(nn)) == repr(make(torch.nn))


def test_softmax2d():
    compare_module(lambda lib: lib.nn.Softmax2d(), [(2, 3, 4, 5)])


@pytest.mark.parametrize("fn", ["gelu", "silu", "mish", "elu", "softplus", "logsigmoid", "hardswish",
                                "softmax", "log_softmax"])
def test_double_backward(fn):
    def f(lib, x):
        F = lib.nn.functional
        if fn in ("softmax", "log_softmax"):
            return getattr(F, fn)(x, dim=1)
        return getattr(F, fn)(x)
    xa = X * 0.7
    xo = torsh.tensor(xa, requires_grad=True)
    xr = torch.tensor(xa, requires_grad=True)
    w = np.linspace(-1, 1, X.size).reshape(X.shape)
    go, = torsh.autograd.grad((f(torsh, xo) * torsh.tensor(w)).sum(), xo, create_graph=True)
    gr, = torch.autograd.grad((f(torch, xr) * torch.tensor(w)).sum(), xr, create_graph=True)
    assert_close(go, gr.detach())
    ggo, = torsh.autograd.grad((go * go).sum(), xo)
    ggr, = torch.autograd.grad((gr * gr).sum(), xr)
    assert_close(ggo, ggr, rtol=1e-6, atol=1e-8)


def test_gradcheck_smooth_activations():
    F = nn.functional
    x = torsh.tensor(X * 0.5, requires_grad=True)
    for fn in (F.gelu, F.silu, F.mish, F.elu, F.selu, F.softplus, F.logsigmoid, F.tanhshrink, F.softsign):
        assert torsh.autograd.gradcheck(fn, (x,))
    assert torsh.autograd.gradcheck(lambda t: F.gelu(t, approximate="tanh"), (x,))
    assert torsh.autograd.gradcheck(lambda t: F.glu(t, 1), (x,))


def test_inplace_functional_variants():
    F = nn.functional
    for name, kw in [("relu", {}), ("leaky_relu", {"negative_slope": 0.3}), ("elu", {}), ("hardtanh", {}),
                     ("relu6", {}), ("silu", {}), ("hardswish", {})]:
        a = torsh.tensor(X.copy())
        r = torch.tensor(X.copy())
        out_a = getattr(F, name)(a, inplace=True, **kw)
        getattr(torch.nn.functional, name)(r, inplace=True, **kw)
        assert out_a is a
        assert_close(a, r)


def test_rrelu_training_slopes_in_range():
    x = torsh.tensor(-np.ones((1000,)))
    y = nn.RReLU(0.1, 0.3).train()(x).numpy()
    assert np.all(y <= -0.1 + 1e-12) and np.all(y >= -0.3 - 1e-12) and np.std(y) > 0.01
    pos = nn.RReLU()(torsh.tensor(np.ones(5)))
    assert_close(pos, np.ones(5))


def test_errors_match_torch():
    check_same_error(lambda lib: lib.nn.functional.glu(lib.zeros(2, 3), dim=1))
    check_same_error(lambda lib: lib.nn.functional.gelu(lib.zeros(2), approximate="x"))
    check_same_error(lambda lib: lib.nn.functional.prelu(lib.zeros(2, 3), lib.zeros(2)))


def test_implicit_softmax_dim_warns():
    with pytest.warns(UserWarning, match="Implicit dimension choice for softmax"):
        out = nn.functional.softmax(torsh.tensor(X))
    assert_close(out, torch.nn.functional.softmax(torch.tensor(X), dim=1))


# Activations of dtypes their kernels lack: PyTorch's error (kernel name and dtype), or its result where it has
# a kernel (silu/sigmoid of complex, relu/hardtanh/threshold of integers, dropout(p=0)).
_DTYPE_CASES = {
    "softmax": lambda F, x: F.softmax(x, -1), "softmax_dim0": lambda F, x: F.softmax(x, 0),
    "log_softmax": lambda F, x: F.log_softmax(x, -1), "log_softmax_dim0": lambda F, x: F.log_softmax(x, 0),
    "gelu": lambda F, x: F.gelu(x), "gelu_tanh": lambda F, x: F.gelu(x, approximate="tanh"), "silu": lambda F, x: F.silu(x),
    "elu": lambda F, x: F.elu(x), "selu": lambda F, x: F.selu(x), "leaky_relu": lambda F, x: F.leaky_relu(x),
    "softplus": lambda F, x: F.softplus(x), "mish": lambda F, x: F.mish(x), "hardswish": lambda F, x: F.hardswish(x),
    "hardsigmoid": lambda F, x: F.hardsigmoid(x), "logsigmoid": lambda F, x: F.logsigmoid(x),
    "sigmoid": lambda F, x: F.sigmoid(x), "threshold": lambda F, x: F.threshold(x, 0.5, 2),
    "hardshrink": lambda F, x: F.hardshrink(x), "relu": lambda F, x: F.relu(x), "hardtanh": lambda F, x: F.hardtanh(x),
    "elu_": lambda F, x: F.elu(x.clone(), inplace=True), "rrelu": lambda F, x: F.rrelu(x),
    "dropout_train": lambda F, x: F.dropout(x, 0.5), "dropout2d_train": lambda F, x: F.dropout2d(x.reshape(1, 2, 2)),
    "alpha_dropout_train": lambda F, x: F.alpha_dropout(x, 0.5, True),
}


@pytest.mark.parametrize("dtype", ["complex64", "int64", "uint8", "bool", "bfloat16", "float16"])
@pytest.mark.parametrize("case", sorted(_DTYPE_CASES))
def test_activation_dtype_support_as_pytorch(case, dtype):
    def run(lib):
        x = lib.tensor([[1.5, -2.0], [0.0, 3.0]]).to(getattr(lib, dtype))
        if dtype == "complex64":
            x = x + 1j * x
        return _DTYPE_CASES[case](lib.nn.functional, x)

    try:
        expected = run(torch)
    except Exception:
        check_same_error(run)
        return
    got = run(torsh)
    assert str(got.dtype).split(".")[-1] == str(expected.dtype).split(".")[-1]
    if "dropout" not in case:  # the noise draws are not compared here
        assert_close(got, expected)


def test_silu_and_sigmoid_of_complex_backward():
    # sigmoid has PyTorch's complex derivative (conjugated); silu refuses to record one, as PyTorch
    grads = []
    for lib in (torsh, torch):
        x = lib.tensor([0.5 + 1.0j, -1.0 + 0.25j], requires_grad=True)
        lib.nn.functional.sigmoid(x).abs().sum().backward()
        grads.append(x.grad)
    assert_close(grads[0], grads[1])
    check_same_error(lambda lib: lib.nn.functional.silu(lib.tensor([0.5 + 1.0j], requires_grad=True)))


def test_dropout2d_of_3d_input_drops_channels_of_each_sample():
    # PyTorch treats a 3-D input as (N, C, L), with its warning: one draw per (sample, channel)
    outs = []
    for lib in (torsh, torch):
        lib.manual_seed(0)
        with pytest.warns(UserWarning, match="Received a 3D input to dropout2d"):
            outs.append(lib.nn.functional.dropout2d(lib.ones(4, 3, 5)))
    assert_close(outs[0], outs[1])
