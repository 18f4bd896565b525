"""In-place activations (F.*_ / inplace=True / nn modules) under autograd, against PyTorch 2.13.

PyTorch's in-place activation nodes save either the result (LeakyReluBackward1, EluBackward1,
CeluBackward1, RreluWithNoiseBackward1: backward refuses a negative slope there) or a copy of
the old input (HardtanhBackward0, ThresholdBackward1, SiluBackward0, ...). Either way the
network trains: GAN discriminators use ``nn.LeakyReLU(0.2, inplace=True)`` between layers.
"""
import numpy as np
import pytest

import torsh
from helpers import check_same_error, error_of, from_array, make_array, needs_torch, torch_ref

pytestmark = needs_torch

# name -> fn(F, y) writing an activation into the non-leaf y (values of y span [-2, 2])
INPLACE = {
    "leaky_relu_": lambda F, y: F.leaky_relu_(y, 0.2),
    "leaky_relu_inplace": lambda F, y: F.leaky_relu(y, 0.2, inplace=True),
    "leaky_relu_default_slope": lambda F, y: F.leaky_relu(y, inplace=True),
    "leaky_relu_zero_slope": lambda F, y: F.leaky_relu_(y, 0.0),
    "elu_": lambda F, y: F.elu_(y, 1.3),
    "elu_inplace": lambda F, y: F.elu(y, inplace=True),
    "elu_zero_alpha": lambda F, y: F.elu_(y, 0.0),
    "selu_": lambda F, y: F.selu_(y),
    "selu_inplace": lambda F, y: F.selu(y, inplace=True),
    "celu_": lambda F, y: F.celu_(y, 2.0),
    "celu_inplace": lambda F, y: F.celu(y, 0.5, inplace=True),
    "hardtanh_": lambda F, y: F.hardtanh_(y, -0.5, 0.5),
    "hardtanh_inplace": lambda F, y: F.hardtanh(y, inplace=True),
    "relu6_inplace": lambda F, y: F.relu6(y.mul_(3), inplace=True),
    "threshold_": lambda F, y: F.threshold_(y, 0.1, 2.0),
    "threshold_inplace": lambda F, y: F.threshold(y, 0.1, 2.0, inplace=True),
    "hardsigmoid_inplace": lambda F, y: F.hardsigmoid(y.mul_(2), inplace=True),
    "hardswish_inplace": lambda F, y: F.hardswish(y.mul_(2), inplace=True),
    "silu_inplace": lambda F, y: F.silu(y, inplace=True),
    "mish_inplace": lambda F, y: F.mish(y, inplace=True),
    "rrelu_eval_inplace": lambda F, y: F.rrelu(y, inplace=True),
    "rrelu_eval_": lambda F, y: F.rrelu_(y, 0.1, 0.3),
    "relu_inplace": lambda F, y: F.relu(y, inplace=True),
}

# PyTorch refuses these in backward: the saved result does not tell the input's sign
REFUSED_IN_BACKWARD = {
    "leaky_relu_negative_slope": lambda F, y: F.leaky_relu_(y, -0.2),
    "leaky_relu_inplace_negative_slope": lambda F, y: F.leaky_relu(y, -0.2, inplace=True),
    "elu_negative_alpha": lambda F, y: F.elu_(y, -1.0),
    "celu_negative_alpha": lambda F, y: F.celu_(y, -2.0),
    "rrelu_eval_negative_bounds": lambda F, y: F.rrelu_(y, -0.5, -0.1),
}


def _points(lib):
    # 7 points on [-2, 2]: 0 and the kinks of hardtanh/threshold avoided except where PyTorch's convention is shared
    return from_array(lib, np.array([-2.0, -1.3, -0.7, -0.2, 0.35, 1.1, 2.0]), requires_grad=True)


def _weights(lib):
    return from_array(lib, make_array((7,), seed=5))


def _run(lib, fn):
    """Output, its grad_fn name, whether it is the input tensor, and the input's gradient."""
    x = _points(lib)
    y = x * 1
    out = fn(lib.nn.functional, y)
    name = type(out.grad_fn).__name__
    (out * _weights(lib)).sum().backward()
    return out.detach().numpy(), name, out is y, x.grad.numpy()


@pytest.mark.parametrize("case", list(INPLACE))
def test_inplace_activation_matches_pytorch(case):
    out, name, same, grad = _run(torsh, INPLACE[case])
    r_out, r_name, r_same, r_grad = _run(torch_ref, INPLACE[case])
    assert name == r_name
    assert same is r_same is True
    np.testing.assert_allclose(out, r_out, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(grad, r_grad, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("case", list(REFUSED_IN_BACKWARD))
def test_negative_slope_refused_in_backward(case):
    def fn(lib):
        x = _points(lib)
        y = x * 1
        out = REFUSED_IN_BACKWARD[case](lib.nn.functional, y)  # the forward is fine ...
        out.sum().backward()                                    # ... backward raises

    check_same_error(fn)


def test_rrelu_training_inplace_with_negative_bounds_trains():
    # training mode multiplies by the drawn slopes: no sign question, PyTorch allows it
    x = _points(torsh)
    y = x * 1
    out = torsh.nn.functional.rrelu_(y, -0.5, -0.1, training=True)
    assert type(out.grad_fn).__name__ == "RreluWithNoiseBackward1"
    out.sum().backward()
    slopes = out.detach().numpy() / x.detach().numpy()
    np.testing.assert_allclose(x.grad.numpy(), slopes)
    neg = x.detach().numpy() <= 0
    assert np.all(slopes[~neg] == 1) and np.all((slopes[neg] >= -0.5) & (slopes[neg] <= -0.1))


@pytest.mark.parametrize("training", [False, True])
def test_rrelu_out_of_place_node(training):
    def name(lib):
        return type(lib.nn.functional.rrelu(_points(lib), training=training).grad_fn).__name__

    assert name(torsh) == name(torch_ref)


@pytest.mark.parametrize("case", ["celu", "selu", "elu", "leaky_relu", "threshold", "hardtanh"])
def test_out_of_place_node_names(case):
    def name(lib):
        F = lib.nn.functional
        x = _points(lib)
        out = F.threshold(x, 0.1, 2.0) if case == "threshold" else getattr(F, case)(x)
        return type(out.grad_fn).__name__

    assert name(torsh) == name(torch_ref)


def _modified_after(lib, fn):
    x = _points(lib)
    y = x * 1
    out = fn(lib.nn.functional, y)
    y.add_(1)  # bumps the version of the tensor the activation wrote into
    out.sum().backward()
    return x.grad


def _same_message(fn):
    """fn(lib) raises in both or in neither; when both, the same type and message."""
    try:
        fn(torch_ref)
    except RuntimeError as e:
        ours = error_of(lambda: fn(torsh))
        assert type(ours) is RuntimeError
        assert str(ours) == str(e)  # torsh names dtypes as PyTorch does there: [torch.FloatTensor [3]]
        return True
    fn(torsh)
    return False


@pytest.mark.parametrize("case", list(INPLACE))
def test_modifying_the_result_afterwards(case):
    # result-saving nodes (LeakyReluBackward1, EluBackward1, ...) must see the later add_ and refuse
    # with PyTorch's message; nodes holding a copy of the old input (ThresholdBackward1, ...) must not
    raised = _same_message(lambda lib: _modified_after(lib, INPLACE[case]))
    result_saving = ("leaky", "elu", "celu", "selu", "rrelu", "relu_inplace")
    assert raised == case.startswith(result_saving)


@pytest.mark.parametrize("op", ["sigmoid_", "tanh_", "exp_", "relu_"])
def test_tensor_inplace_result_is_saved_as_the_tensor(op):
    # the value saved by y.sigmoid_() is y itself: a later y.mul_(2) makes backward raise, as in PyTorch
    def fn(lib):
        x = _points(lib)
        y = x * 1
        getattr(y, op)()
        y.mul_(2)
        y.sum().backward()

    assert _same_message(fn)


def test_saved_output_modified_in_place_raises_with_pytorch_words():
    # README: torsh refuses, as PyTorch does, when a tensor saved for backward was modified in place
    def fn(lib):
        x = lib.tensor([0.5, -1.0, 2.0], requires_grad=True)
        y = x.sigmoid()
        z = y * 2
        y.add_(1)
        z.sum().backward()

    assert _same_message(fn)
    assert str(error_of(lambda: fn(torsh))).startswith(
        "one of the variables needed for gradient computation has been modified by an inplace operation: "
        "[torch.FloatTensor [3]], which is output 0 of Sigmoid, is at version 1; expected version 0 instead. Hint:")


@pytest.mark.parametrize("case", ["leaky_relu_", "elu_", "hardtanh_", "silu_inplace", "threshold_", "celu_"])
@pytest.mark.parametrize("view", ["row", "transpose", "column_slice"])
def test_inplace_activation_on_a_view(case, view):
    pick = {"row": lambda t: t[1], "transpose": lambda t: t.t(), "column_slice": lambda t: t[:, 1:3]}[view]

    def run(lib):
        x = from_array(lib, make_array((3, 4), seed=2), requires_grad=True)
        base = x * 1
        v = pick(base)
        INPLACE[case](lib.nn.functional, v)
        w = from_array(lib, make_array((4, 3), seed=3))
        (base.t() * w).sum().backward()
        return base.detach().numpy(), type(base.grad_fn).__name__, x.grad.numpy()

    (b, name, g), (rb, rname, rg) = run(torsh), run(torch_ref)
    assert name == rname == "CopySlices"
    np.testing.assert_allclose(b, rb, rtol=1e-12)
    np.testing.assert_allclose(g, rg, rtol=1e-12)


GRADCHECK = {
    "leaky_relu_": lambda F, t: F.leaky_relu_(t, 0.2),
    "elu_": lambda F, t: F.elu_(t, 1.3),
    "selu_": lambda F, t: F.selu_(t),
    "celu_": lambda F, t: F.celu_(t, 0.7),
    "hardtanh_": lambda F, t: F.hardtanh_(t, -1.5, 1.5),
    "relu6": lambda F, t: F.relu6(t.mul_(4), inplace=True),
    "threshold_": lambda F, t: F.threshold_(t, 0.1, 2.0),
    "hardsigmoid": lambda F, t: F.hardsigmoid(t, inplace=True),
    "hardswish": lambda F, t: F.hardswish(t, inplace=True),
    "silu": lambda F, t: F.silu(t, inplace=True),
    "mish": lambda F, t: F.mish(t, inplace=True),
    "rrelu_eval": lambda F, t: F.rrelu(t, inplace=True),
}


@pytest.mark.parametrize("case", list(GRADCHECK))
def test_gradcheck_and_gradgradcheck_through_inplace_on_a_non_leaf(case):
    # float64 points away from every kink (0, +-1.5, 0.1, +-3 once scaled)
    x = torsh.tensor([-2.3, -1.2, -0.45, 0.3, 0.8, 1.7], dtype=torsh.float64, requires_grad=True)
    F = torsh.nn.functional

    def f(t):
        return GRADCHECK[case](F, t.clone())

    assert torsh.autograd.gradcheck(f, (x,))
    assert torsh.autograd.gradgradcheck(f, (x,))


def test_double_backward_of_result_saving_node_matches_pytorch():
    def run(lib):
        x = from_array(lib, np.array([-1.5, -0.3, 0.4, 1.2]), requires_grad=True)
        y = lib.nn.functional.elu_(x * 1, 0.8)
        (g,) = lib.autograd.grad((y * y).sum(), x, create_graph=True)
        (gg,) = lib.autograd.grad((g * g).sum(), x)
        return g.detach().numpy(), gg.numpy()

    for ours, ref in zip(run(torsh), run(torch_ref)):
        np.testing.assert_allclose(ours, ref, rtol=1e-12)


MODULES = {
    "LeakyReLU": lambda nn: nn.LeakyReLU(0.2, inplace=True),
    "ELU": lambda nn: nn.ELU(inplace=True),
    "SELU": lambda nn: nn.SELU(inplace=True),
    "CELU": lambda nn: nn.CELU(0.6, inplace=True),
    "Hardtanh": lambda nn: nn.Hardtanh(inplace=True),
    "ReLU6": lambda nn: nn.ReLU6(inplace=True),
    "Threshold": lambda nn: nn.Threshold(0.1, 0.0, inplace=True),
    "Hardsigmoid": lambda nn: nn.Hardsigmoid(inplace=True),
    "Hardswish": lambda nn: nn.Hardswish(inplace=True),
    "SiLU": lambda nn: nn.SiLU(inplace=True),
    "Mish": lambda nn: nn.Mish(inplace=True),
    "RReLU_eval": lambda nn: nn.RReLU(inplace=True).eval(),
}


@pytest.mark.parametrize("name", list(MODULES))
def test_discriminator_with_inplace_module_trains_like_pytorch(name):
    # nn.Sequential(Linear, <activation>(inplace=True), Linear): the GAN discriminator shape
    def run(lib):
        lib.manual_seed(0)
        nn = lib.nn
        net = nn.Sequential(nn.Linear(5, 8), MODULES[name](nn), nn.Linear(8, 1)).double()
        with lib.no_grad():
            for i, p in enumerate(net.parameters()):
                p.copy_(from_array(lib, make_array(tuple(p.shape), seed=10 + i)))
        x = from_array(lib, make_array((6, 5), seed=4))
        loss = net(x).pow(2).mean()
        loss.backward()
        return [loss.detach().numpy()] + [p.grad.numpy() for p in net.parameters()]

    for ours, ref in zip(run(torsh), run(torch_ref)):
        np.testing.assert_allclose(ours, ref, rtol=1e-10, atol=1e-12)


def test_inplace_on_leaf_requiring_grad_is_refused():
    def fn(lib):
        lib.nn.functional.leaky_relu(_points(lib), 0.2, inplace=True)

    check_same_error(fn)


@pytest.mark.parametrize("case", ["leaky_relu_", "elu_", "threshold_", "silu_inplace", "rrelu_eval_"])
def test_inplace_without_grad_writes_into_the_tensor(case):
    def run(lib):
        y = from_array(lib, np.linspace(-2, 2, 7))
        version = y._version
        out = INPLACE[case](lib.nn.functional, y)
        return out is y, y._version - version, y.numpy()

    ours, ref = run(torsh), run(torch_ref)
    assert ours[:2] == ref[:2] == (True, 1)
    np.testing.assert_allclose(ours[2], ref[2], rtol=1e-12)


def test_integer_input_error():
    check_same_error(lambda lib: lib.nn.functional.leaky_relu_(lib.tensor([1, -2]), 0.2))
    check_same_error(lambda lib: lib.nn.functional.elu(lib.tensor([1, -2]), inplace=True))
