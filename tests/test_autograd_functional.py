"""torsh.autograd.functional against PyTorch 2.13: values, tuple structure, create_graph, strict errors."""
import numpy as np
import pytest

import torsh
from helpers import assert_close, check_same_error, make_array, needs_torch, torch_ref

pytestmark = needs_torch


def _inputs(lib, *shapes, seed=0):
    return tuple(lib.tensor(make_array(s, "float64", seed=seed + i)) for i, s in enumerate(shapes))


def _assert_tree_close(ours, ref):
    if isinstance(ref, tuple):
        assert isinstance(ours, tuple) and len(ours) == len(ref), f"structure: {type(ours)} vs {len(ref)}-tuple"
        for o, r in zip(ours, ref):
            _assert_tree_close(o, r)
    else:
        assert_close(ours, ref)


def _exp_reducer(x):
    return x.exp().sum(dim=1)


def _adder(x, y):
    return 2 * x.exp() + 3 * y * x


def _two_outputs(x, y):
    return (x * y).sin(), (x ** 2).sum() + y.sum()


def _cubes(x, y):
    return (x.pow(3) * y + y.pow(2)).sum()


def _both(lib, fn, single):
    def run(lib):
        args = _inputs(lib, (3, 2), seed=1)[0] if single else _inputs(lib, (3,), (3,), seed=2)
        return fn(lib, args)
    return run(torsh), run(torch_ref)


@pytest.mark.parametrize("vectorize", [False, True])
@pytest.mark.parametrize("case", ["single", "tuple_in", "tuple_in_out"])
def test_jacobian_matches_pytorch(case, vectorize):
    def run(lib):
        if case == "single":
            return lib.autograd.functional.jacobian(_exp_reducer, _inputs(lib, (3, 2))[0], vectorize=vectorize)
        fn = _adder if case == "tuple_in" else _two_outputs
        return lib.autograd.functional.jacobian(fn, _inputs(lib, (3,), (3,), seed=4), vectorize=vectorize)
    _assert_tree_close(run(torsh), run(torch_ref))


@pytest.mark.parametrize("single", [True, False])
def test_hessian_matches_pytorch(single):
    def run(lib):
        if single:
            return lib.autograd.functional.hessian(lambda x: (x.pow(3) * x.sin()).sum(), _inputs(lib, (2, 2))[0])
        return lib.autograd.functional.hessian(_cubes, _inputs(lib, (2,), (2,), seed=5))
    _assert_tree_close(run(torsh), run(torch_ref))


@pytest.mark.parametrize("op", ["vjp", "jvp", "vhp", "hvp"])
@pytest.mark.parametrize("single", [True, False])
def test_products_match_pytorch(op, single):
    def run(lib):
        fn = getattr(lib.autograd.functional, op)
        scalar = op in ("vhp", "hvp")
        if single:
            x = _inputs(lib, (3, 2))[0]
            f = (lambda x: (x.pow(3) * x.cos()).sum()) if scalar else _exp_reducer
            v = _inputs(lib, (3, 2) if op != "vjp" else (3,), seed=9)[0]
            return fn(f, x, v)
        xs = _inputs(lib, (3,), (3,), seed=6)
        f = _cubes if scalar else _adder
        v = _inputs(lib, (3,), seed=10)[0] if op == "vjp" else _inputs(lib, (3,), (3,), seed=10)
        return fn(f, xs, v)
    _assert_tree_close(run(torsh), run(torch_ref))


def test_vjp_without_v_for_scalar_output():
    def run(lib):
        return lib.autograd.functional.vjp(lambda x: (x ** 2).sum(), _inputs(lib, (4,))[0])
    _assert_tree_close(run(torsh), run(torch_ref))


@pytest.mark.parametrize("op", ["jacobian", "hessian", "vjp", "jvp", "vhp", "hvp"])
def test_create_graph_results_are_differentiable(op):
    """With create_graph=True the result has a graph back to the inputs: d(sum(result))/dx matches PyTorch."""
    def run(lib):
        x = _inputs(lib, (3,))[0].requires_grad_()
        fn = getattr(lib.autograd.functional, op)
        scalar = lambda x: (x.pow(3) * x.sin()).sum()  # noqa: E731
        if op in ("jacobian", "hessian"):
            res = fn(scalar if op == "hessian" else (lambda x: x.pow(3).sin()), x, create_graph=True)
        else:
            f = scalar if op in ("vhp", "hvp") or op == "vjp" else (lambda x: x.pow(3).sin())
            res = fn(f, x, _inputs(lib, (3,), seed=3)[0] if op != "vjp" else None, create_graph=True)[1]
        assert res.requires_grad
        return lib.autograd.grad(res.sum(), x)[0]
    assert_close(run(torsh), run(torch_ref))


def test_results_detached_without_create_graph():
    x = _inputs(torsh, (3,))[0].requires_grad_()
    jac = torsh.autograd.functional.jacobian(lambda x: x.sin(), x)
    assert not jac.requires_grad and jac.grad_fn is None


def test_independent_output_zero_without_strict():
    def run(lib):
        return lib.autograd.functional.jacobian(lambda x, y: x * 2, _inputs(lib, (2,), (3,)))
    _assert_tree_close(run(torsh), run(torch_ref))


@pytest.mark.parametrize("call", [
    lambda lib, x: lib.autograd.functional.jacobian(lambda a, b: a * 2, (x, x.clone()), strict=True),
    lambda lib, x: lib.autograd.functional.jacobian(lambda a: x * 2, x, strict=True),
    lambda lib, x: lib.autograd.functional.vjp(lambda a, b: a * 2, (x, x.clone()), x, strict=True),
    lambda lib, x: lib.autograd.functional.jvp(lambda a, b: a * 2, (x, x.clone()), (x, x), strict=True),
    lambda lib, x: lib.autograd.functional.hessian(lambda a: a.sum() * 2, x, strict=True),
    lambda lib, x: lib.autograd.functional.vhp(lambda a: (a * 2).sum(), x, x, strict=True),
    lambda lib, x: lib.autograd.functional.hvp(lambda a: (a * 2).sum(), x, x, strict=True),
    lambda lib, x: lib.autograd.functional.jacobian(lambda a: a * 2, x, strict=True, vectorize=True),
])
def test_strict_errors(call):
    check_same_error(lambda lib: call(lib, _inputs(lib, (3,))[0]))


@pytest.mark.parametrize("call", [
    lambda lib, x: lib.autograd.functional.vjp(lambda a: a * 2, x),
    lambda lib, x: lib.autograd.functional.jvp(lambda a, b: a * b, (x, x), (x,)),
    lambda lib, x: lib.autograd.functional.jacobian(lambda a: a, [x]),
    lambda lib, x: lib.autograd.functional.jacobian(lambda a: a, (x, 3)),
    lambda lib, x: lib.autograd.functional.jacobian(lambda a: 3, x),
    lambda lib, x: lib.autograd.functional.hessian(lambda a: a * 2, x),
    lambda lib, x: lib.autograd.functional.hessian(lambda a: (a.sum(), a.sum()), x),
    lambda lib, x: lib.autograd.functional.hvp(lambda a: a * 2, x, x),
    lambda lib, x: lib.autograd.functional.vhp(lambda a: a.sum(), x),
    lambda lib, x: lib.autograd.functional.jacobian(lambda a: a, x, strategy="sideways"),
    lambda lib, x: lib.autograd.functional.jacobian(lambda a: a, x, strategy="forward-mode"),
    lambda lib, x: lib.autograd.functional.jacobian(lambda a: a, x, strategy="forward-mode", create_graph=True),
    lambda lib, x: lib.autograd.functional.jacobian(lambda a: a, x, strategy="forward-mode", strict=True),
    lambda lib, x: lib.autograd.functional.hessian(lambda a: a.sum(), x, outer_jacobian_strategy="x"),
])
def test_argument_errors(call):
    check_same_error(lambda lib: call(lib, _inputs(lib, (3,))[0]))


@pytest.mark.parametrize("call, fragment", [
    (lambda lib, x: lib.autograd.functional.vjp(lambda a: a * 2, x, lib.ones(2)),
     "v has invalid size: should be {}.Size([3]) but got {}.Size([2])."),
    (lambda lib, x: lib.autograd.functional.jvp(lambda a, b: a * b, (x, x), (x, lib.ones(2))),
     "Entry 1 in v has invalid size: should be {}.Size([3]) but got {}.Size([2])."),
])
def test_v_size_errors(call, fragment):
    """PyTorch's wording; the Size repr names the package (torsh.Size), as everywhere in torsh."""
    ref = pytest.raises(RuntimeError, call, torch_ref, _inputs(torch_ref, (3,))[0])
    assert str(ref.value) == fragment.format("torch", "torch")
    ours = pytest.raises(RuntimeError, call, torsh, _inputs(torsh, (3,))[0])
    assert str(ours.value) == fragment.format(torsh.__name__, torsh.__name__)


def test_forward_mode_jacobian_with_vectorize():
    """More cases (and the forward-over-reverse Hessian) in test_forward_ad_transforms.py."""
    def run(lib):
        x = lib.tensor(make_array((3,), "float64", seed=0))
        return lib.autograd.functional.jacobian(lambda a: a.sin(), x, strategy="forward-mode", vectorize=True)
    assert_close(run(torsh), run(torch_ref))
