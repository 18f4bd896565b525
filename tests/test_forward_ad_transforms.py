"""Transforms on forward-mode AD against torch 2.13: autograd.functional.jacobian(strategy="forward-mode"),
hessian(outer_jacobian_strategy="forward-mode") (forward over reverse, under vmap) and torch.func.linearize."""
import pytest

import torsh
from helpers import assert_close, check_same_error, make_array, needs_torch, torch_ref

pytestmark = needs_torch


def _t(lib, shape, seed, dtype="float64"):
    return lib.tensor(make_array(shape, dtype, seed=seed))


def _tree_close(ours, ref, same_containers=True):
    """Values equal; containers and requires_grad too unless ``same_containers`` is False (forward mode gives
    lists, its Hessian keeps a graph, as PyTorch's)."""
    if isinstance(ref, (tuple, list)):
        assert isinstance(ours, (tuple, list)) and len(ours) == len(ref)
        assert type(ours) is type(ref) or not same_containers
        for o, r in zip(ours, ref):
            _tree_close(o, r, same_containers)
    else:
        assert_close(ours, ref)
        assert ours.requires_grad == ref.requires_grad or not same_containers


FUNCTIONS = {
    "single": (lambda x: x.sin() * x.sum(), [(3,)]),
    "two_in_two_out": (lambda x, y: ((x * y.sum()).tanh(), (y @ y).exp()), [(2,), (2, 2)]),
    "matrix": (lambda w, x: (x @ w).softmax(-1), [(3, 2), (4, 3)]),
    "constant_output": (lambda x: x.sum() * 0 + 1.0, [(3,)]),
}


@pytest.mark.parametrize("name", FUNCTIONS)
def test_forward_mode_jacobian_matches_pytorch_and_reverse_mode(name):
    fn, shapes = FUNCTIONS[name]

    def run(lib, strategy):
        inputs = tuple(_t(lib, s, i) for i, s in enumerate(shapes))
        inputs = inputs[0] if len(inputs) == 1 else inputs
        return lib.autograd.functional.jacobian(fn, inputs, strategy=strategy, vectorize=True)
    ours = run(torsh, "forward-mode")
    _tree_close(ours, run(torch_ref, "forward-mode"))
    _tree_close(ours, run(torsh, "reverse-mode"), same_containers=False)


def test_forward_mode_jacobian_keeps_the_graph_of_inputs_that_require_grad():
    def run(lib):
        x = _t(lib, (3,), 0).requires_grad_()
        jac = lib.autograd.functional.jacobian(lambda a: a.exp() * a, x, strategy="forward-mode", vectorize=True)
        return jac, lib.autograd.grad(jac.sum(), x)[0]
    _tree_close(run(torsh), run(torch_ref))


@pytest.mark.parametrize("case", [
    (lambda x: (x.sin() * x.pow(2)).sum(), [(3,)]),
    (lambda x, y: (x.exp() @ y).sum() * y.pow(2).sum(), [(2, 3), (3,)]),
])
def test_forward_over_reverse_hessian_matches_pytorch(case):
    fn, shapes = case

    def run(lib, strategy):
        inputs = tuple(_t(lib, s, i) for i, s in enumerate(shapes))
        inputs = inputs[0] if len(inputs) == 1 else inputs
        return lib.autograd.functional.hessian(fn, inputs, vectorize=True, outer_jacobian_strategy=strategy)
    ours = run(torsh, "forward-mode")
    _tree_close(ours, run(torch_ref, "forward-mode"))
    _tree_close(ours, run(torsh, "reverse-mode"), same_containers=False)


@pytest.mark.parametrize("call", [
    lambda lib, x: lib.autograd.functional.hessian(lambda a: a.sin().sum(), x, outer_jacobian_strategy="forward-mode"),
    lambda lib, x: lib.autograd.functional.jacobian(lambda a: a, [x], strategy="forward-mode", vectorize=True),
    lambda lib, x: lib.autograd.functional.jacobian(lambda a: a, x, strategy="forward-mode", vectorize=True,
                                                    strict=True),
])
def test_forward_mode_argument_errors(call):
    check_same_error(lambda lib: call(lib, _t(lib, (3,), 0)))


def test_linearize_is_forward_mode_and_matches_pytorch():
    def run(lib):
        f = lambda x, y: (x.sin() * y, (x * y).sum())  # noqa: E731
        x, y = _t(lib, (3,), 1), _t(lib, (), 2).requires_grad_()
        out, jvp_fn = lib.func.linearize(f, x, y)
        return out, jvp_fn(_t(lib, (3,), 3), _t(lib, (), 4)), jvp_fn(_t(lib, (3,), 5), _t(lib, (), 6))
    _tree_close(run(torsh), run(torch_ref))


@pytest.mark.parametrize("tangents", [
    lambda lib: (_t(lib, (2,), 3), _t(lib, (), 4)),
    lambda lib: (_t(lib, (3,), 3, "float32"), _t(lib, (), 4)),
    lambda lib: (_t(lib, (3,), 3), _t(lib, (1,), 4)),
])
def test_linearize_tangent_errors(tangents):
    """PyTorch's wording; the Size and dtype reprs name the package (torsh.Size), as everywhere in torsh."""
    def run(lib):
        _, jvp_fn = lib.func.linearize(lambda x, y: x * y, _t(lib, (3,), 1), _t(lib, (), 2))
        return pytest.raises(RuntimeError, jvp_fn, *tangents(lib)).value
    assert str(run(torsh)).replace(torsh.__name__ + ".", "torch.") == str(run(torch_ref))


NN_CASES = {
    "conv2d": ([(2, 3, 5, 5), (4, 3, 3, 3), (4,)], lambda lib, x, w, b: lib.nn.functional.conv2d(x, w, b, padding=1,
                                                                                                  stride=2)),
    "conv1d_groups": ([(2, 4, 7), (4, 2, 3)], lambda lib, x, w: lib.nn.functional.conv1d(x, w, groups=2, dilation=2)),
    "layer_norm": ([(3, 4, 5), (4, 5), (4, 5)], lambda lib, x, w, b: lib.nn.functional.layer_norm(x, (4, 5), w, b)),
    "logsumexp": ([(3, 4)], lambda lib, x: x.logsumexp(1)),
    "gelu_tanh": ([(3, 4)], lambda lib, x: lib.nn.functional.gelu(x, approximate="tanh")),
    "mlp": ([(5, 4), (3, 4), (3,)], lambda lib, x, w, b: lib.nn.functional.silu(lib.nn.functional.linear(x, w, b))
            .log_softmax(-1)),
}


@pytest.mark.parametrize("name", NN_CASES)
def test_native_nn_rules_give_pytorch_tangents(name):
    shapes, fn = NN_CASES[name]

    def run(lib):
        primals = tuple(_t(lib, s, i) for i, s in enumerate(shapes))
        tangents = tuple(_t(lib, s, 10 + i) for i, s in enumerate(shapes))
        return lib.func.jvp(lambda *xs: fn(lib, *xs), primals, tangents)
    _tree_close(run(torsh), run(torch_ref))
