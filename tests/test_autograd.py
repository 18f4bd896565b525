"""Autograd engine: graph, backward, grad, hooks, grad modes, higher order, custom Functions
(issue "Foundation", part 4)."""

import warnings

import numpy as np
import pytest

import torsh
from helpers import (assert_close, check_same_error, from_array, make_array, torch_ref)


def leaf(lib, shape=(3,), seed=0, dtype="float64", low=-2.0, high=2.0):
    return from_array(lib, make_array(shape, dtype, low, high, seed=seed), dtype, requires_grad=True)


def both(scenario):
    """Run ``scenario(lib)`` in torsh and (if available) torch; returns (ours, ref or None)."""
    ours = scenario(torsh)
    ref = scenario(torch_ref) if torch_ref is not None else None
    return ours, ref


def compare_results(ours, ref, expected_np=None, **kw):
    """Compare (sequences of) tensors from a scenario; without torch use ``expected_np``."""
    if ref is None:
        if expected_np is None:
            pytest.skip("needs torch")
        ref = expected_np
    if isinstance(ours, (tuple, list)):
        assert len(ours) == len(ref)
        for i, (o, r) in enumerate(zip(ours, ref)):
            if r is None:
                assert o is None, f"item {i}: expected None"
            else:
                assert o is not None, f"item {i}: got None"
                assert_close(o, r, msg=f"item {i}: ", **kw)
    else:
        assert_close(ours, ref, **kw)


def node_name(fn):
    return None if fn is None else type(fn).__name__


# ============================================================================ flags / graph

def test_requires_grad_propagation():
    a = torsh.ones(3, requires_grad=True)
    b = torsh.ones(3)
    assert (a + b).requires_grad
    assert not (b * 2).requires_grad
    assert (b * 2).grad_fn is None
    assert not (a > 0).requires_grad  # comparisons are not differentiable
    assert not a.detach().requires_grad
    assert a.detach().grad_fn is None
    assert not a.argmax().requires_grad
    c = (a * 2)
    assert not c.is_leaf and c.grad_fn is not None
    assert c.detach().is_leaf


GRAD_FN_CASES = [
    ("add", lambda lib, x: x + 1, "AddBackward0"),
    ("sub", lambda lib, x: x - x, "SubBackward0"),
    ("rsub", lambda lib, x: 2 - x, "RsubBackward1"),
    ("mul", lambda lib, x: x * x, "MulBackward0"),
    ("div", lambda lib, x: x / 2, "DivBackward0"),
    ("neg", lambda lib, x: -x, "NegBackward0"),
    ("pow_scalar", lambda lib, x: x ** 2, "PowBackward0"),
    ("pow_tensor", lambda lib, x: x ** x, "PowBackward1"),
    ("exp", lambda lib, x: x.exp(), "ExpBackward0"),
    ("log", lambda lib, x: x.abs().log(), "LogBackward0"),
    ("tanh", lambda lib, x: x.tanh(), "TanhBackward0"),
    ("sigmoid", lambda lib, x: x.sigmoid(), "SigmoidBackward0"),
    ("relu", lambda lib, x: x.relu(), "ReluBackward0"),
    ("sum", lambda lib, x: x.sum(), "SumBackward0"),
    ("sum_dim", lambda lib, x: x.sum(0), "SumBackward1"),
    ("mean", lambda lib, x: x.mean(), "MeanBackward0"),
    ("mm", lambda lib, x: x.view(3, 1) @ x.view(1, 3), "MmBackward0"),
    ("view", lambda lib, x: x.view(3, 1), "ViewBackward0"),
    ("transpose", lambda lib, x: x.view(1, 3).transpose(0, 1), "TransposeBackward0"),
    ("t", lambda lib, x: x.view(1, 3).t(), "TBackward0"),
    ("select", lambda lib, x: x[0], "SelectBackward0"),
    ("slice", lambda lib, x: x[1:], "SliceBackward0"),
    ("index", lambda lib, x: x[[0, 1]], "IndexBackward0"),
    ("unsqueeze", lambda lib, x: x.unsqueeze(0), "UnsqueezeBackward0"),
    ("expand", lambda lib, x: x.expand(2, 3), "ExpandBackward0"),
    ("cat", lambda lib, x: lib.cat([x, x]), "CatBackward0"),
    ("clone", lambda lib, x: x.clone(), "CloneBackward0"),
    ("to_double", lambda lib, x: x.float(), "ToCopyBackward0"),
]


@pytest.mark.parametrize("name,fn,fallback", GRAD_FN_CASES, ids=[c[0] for c in GRAD_FN_CASES])
def test_grad_fn_names(name, fn, fallback):
    x = leaf(torsh)
    node = fn(torsh, x).grad_fn
    expected = node_name(fn(torch_ref, leaf(torch_ref)).grad_fn) if torch_ref else fallback
    assert node_name(node) == expected
    assert node.name() == expected


def graph_signature(fn, depth=4):
    """Nested (name, [children]) description of an autograd graph, via next_functions."""
    if fn is None:
        return None
    if depth == 0:
        return (node_name(fn),)
    return (node_name(fn), tuple((graph_signature(f, depth - 1), i) for f, i in fn.next_functions))


def _graph_scenario(lib):
    a = leaf(lib, seed=1)
    b = leaf(lib, seed=2)
    c = from_array(lib, make_array((3,), seed=3))       # constant: no grad
    y = ((a * b + c).exp() - b).sum()
    return a, b, y


def test_next_functions_structure():
    a, b, y = _graph_scenario(torsh)
    sig = graph_signature(y.grad_fn, depth=6)
    if torch_ref is not None:
        assert sig == graph_signature(_graph_scenario(torch_ref)[2].grad_fn, depth=6)
    assert sig[0] == "SumBackward0"
    sub = y.grad_fn.next_functions[0][0]
    assert node_name(sub) == "SubBackward0"
    exp_node, acc_b = sub.next_functions[0][0], sub.next_functions[1][0]
    assert node_name(exp_node) == "ExpBackward0"
    assert node_name(acc_b) == "AccumulateGrad"
    assert acc_b.variable is b
    add_node = exp_node.next_functions[0][0]
    assert node_name(add_node) == "AddBackward0"
    assert add_node.next_functions[1][0] is None  # the constant c
    mul_node = add_node.next_functions[0][0]
    assert node_name(mul_node) == "MulBackward0"
    assert mul_node.next_functions[0][0].variable is a
    assert a.grad_fn is None


def test_leaf_accumulate_grad_node_is_shared():
    a = torsh.ones(2, requires_grad=True)
    y = a * 2 + a * 3
    left = y.grad_fn.next_functions[0][0].next_functions[0][0]
    right = y.grad_fn.next_functions[1][0].next_functions[0][0]
    assert node_name(left) == node_name(right) == "AccumulateGrad"
    assert left is right


# ============================================================================ backward

def test_backward_scalar_and_gradient_argument():
    def scenario(lib):
        x = leaf(lib)
        (x * x).sum().backward()
        g1 = x.grad.clone()
        x.grad = None
        v = from_array(lib, np.array([1.0, -2.0, 0.5]))
        (x * 3).backward(gradient=v)
        return g1, x.grad

    ours, ref = both(scenario)
    x = make_array((3,))
    compare_results(ours, ref, [2 * x, 3 * np.array([1.0, -2.0, 0.5])])


def test_backward_accumulates_into_leaves():
    def scenario(lib):
        x = leaf(lib)
        (x ** 2).sum().backward()
        first = x.grad.clone()
        (x.sin()).sum().backward()
        accumulated = x.grad.clone()
        x.grad.zero_()
        zeroed = x.grad.clone()
        x.grad = None
        (x * 4).sum().backward()
        return first, accumulated, zeroed, x.grad

    ours, ref = both(scenario)
    x = make_array((3,))
    compare_results(ours, ref, [2 * x, 2 * x + np.cos(x), np.zeros(3), np.full(3, 4.0)])


def test_retain_graph_allows_second_backward():
    def scenario(lib):
        x = leaf(lib)
        y = (x.exp() * x).sum()
        y.backward(retain_graph=True)
        y.backward()
        return x.grad

    ours, ref = both(scenario)
    x = make_array((3,))
    compare_results(ours, ref, 2 * (np.exp(x) * x + np.exp(x)))


def test_backward_with_inputs_argument():
    def scenario(lib):
        x = leaf(lib, seed=1)
        w = leaf(lib, seed=2)
        (x * w).sum().backward(inputs=[x])
        return x.grad, w.grad

    ours, ref = both(scenario)
    compare_results(ours, ref, [make_array((3,), seed=2), None])


def test_backward_twice_without_retain_graph_raises():
    def fn(lib):
        x = leaf(lib)
        y = (x * x).sum()
        y.backward()
        y.backward()

    err = check_same_error(fn, RuntimeError, "Trying to backward through the graph a second time")
    assert str(err).startswith("Trying to backward through the graph a second time")


def test_non_scalar_backward_requires_gradient():
    check_same_error(lambda lib: (leaf(lib) * 2).backward(), RuntimeError,
                     "grad can be implicitly created only for scalar outputs")


def test_backward_on_tensor_without_grad_raises():
    check_same_error(lambda lib: lib.ones(3).sum().backward(), RuntimeError,
                     "element 0 of tensors does not require grad and does not have a grad_fn")


def test_backward_through_shared_subexpression():
    def scenario(lib):
        x = leaf(lib, (2, 3))
        h = x.tanh()
        y = (h * h + h.exp() * x).sum() + (h @ h.t()).sum()
        y.backward()
        return x.grad

    compare_results(*both(scenario))


def test_gradient_of_broadcast_and_dtype_of_grad():
    def scenario(lib):
        x = leaf(lib, (3, 1), dtype="float32")
        b = leaf(lib, (4,), dtype="float32", seed=5)
        (x * b + x.double()).sum().backward()
        return x.grad, b.grad

    ours, _ = both(scenario)
    assert str(ours[0].dtype).endswith("float32") and ours[0].shape == (3, 1)
    assert ours[1].shape == (4,)
    compare_results(*both(scenario))


# ============================================================================ autograd.grad

def test_autograd_grad_basic_does_not_touch_dot_grad():
    def scenario(lib):
        x = leaf(lib, seed=1)
        w = leaf(lib, seed=2)
        y = (x * w).exp().sum()
        gx, gw = lib.autograd.grad(y, (x, w))
        assert x.grad is None and w.grad is None
        return gx, gw

    ours, ref = both(scenario)
    assert isinstance(ours, tuple)
    compare_results(ours, ref)


def test_autograd_grad_outputs_and_multiple_outputs():
    def scenario(lib):
        x = leaf(lib, (2, 2))
        y1 = x * 2
        y2 = x.sin()
        v = from_array(lib, np.array([[1.0, 0.0], [2.0, -1.0]]))
        g, = lib.autograd.grad([y1, y2], [x], grad_outputs=[v, lib.ones(2, 2, dtype=lib.float64)])
        return g

    compare_results(*both(scenario))


def test_autograd_grad_allow_unused():
    def scenario(lib):
        x = leaf(lib, seed=1)
        z = leaf(lib, seed=2)
        return lib.autograd.grad((x * 2).sum(), [x, z], allow_unused=True)

    ours, ref = both(scenario)
    assert ours[1] is None
    compare_results(ours, ref, [np.full(3, 2.0), None])


def test_autograd_grad_unused_without_allow_unused_raises():
    def fn(lib):
        x = leaf(lib, seed=1)
        z = leaf(lib, seed=2)
        lib.autograd.grad((x * 2).sum(), [x, z])

    check_same_error(fn, RuntimeError, "appears to not have been used in the graph")


def test_autograd_grad_frees_graph():
    def fn(lib):
        x = leaf(lib)
        y = x.exp().sum()
        lib.autograd.grad(y, x)
        lib.autograd.grad(y, x)

    check_same_error(fn, RuntimeError, "Trying to backward through the graph a second time")


# ============================================================================ retain_grad / hooks

def test_retain_grad_on_intermediate():
    def scenario(lib):
        x = leaf(lib)
        y = x * 2
        y.retain_grad()
        assert y.retains_grad
        z = y ** 2
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            (z.sum()).backward()
            assert z.grad is None  # not retained
        return y.grad, x.grad

    ours, ref = both(scenario)
    x = make_array((3,))
    compare_results(ours, ref, [4 * x, 8 * x])


def test_hook_on_leaf_modifies_grad():
    def scenario(lib):
        x = leaf(lib)
        x.register_hook(lambda g: g * 2)
        (x ** 3).sum().backward()
        return x.grad

    ours, ref = both(scenario)
    compare_results(ours, ref, 6 * make_array((3,)) ** 2)


def test_hook_on_intermediate_changes_upstream_grad():
    def scenario(lib):
        x = leaf(lib)
        y = x * 3
        seen = []
        y.register_hook(lambda g: seen.append(g.clone()))   # observer: returns None
        y.register_hook(lambda g: g + 1)                    # modifier
        (y * y).sum().backward()
        return seen[0], x.grad

    ours, ref = both(scenario)
    x = make_array((3,))
    compare_results(ours, ref, [6 * x, 3 * (6 * x + 1)])


def test_hook_handle_remove():
    x = torsh.ones(3, requires_grad=True)
    calls = []
    h = x.register_hook(lambda g: calls.append(1))
    (x * 2).sum().backward()
    h.remove()
    (x * 2).sum().backward()
    assert calls == [1]
    assert x.grad.tolist() == [4.0, 4.0, 4.0]


def test_hook_on_non_grad_tensor_raises():
    check_same_error(lambda lib: lib.ones(2).register_hook(lambda g: g), RuntimeError,
                     "cannot register a hook on a tensor that doesn't require gradient")


# ============================================================================ grad modes

def test_no_grad_context_and_decorators():
    x = torsh.ones(2, requires_grad=True)
    assert torsh.is_grad_enabled()
    with torsh.no_grad():
        assert not torsh.is_grad_enabled()
        y = x * 2
        with torsh.enable_grad():
            assert torsh.is_grad_enabled()
            z = x * 2
        assert not torsh.is_grad_enabled()
    assert torsh.is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None
    assert z.requires_grad

    @torsh.no_grad()
    def f(t):
        return torsh.is_grad_enabled(), t * 2

    @torsh.no_grad
    def g(t):
        return torsh.is_grad_enabled(), t * 2

    for fn in (f, g):
        enabled, out = fn(x)
        assert enabled is False and not out.requires_grad
    assert torsh.is_grad_enabled()

    @torsh.enable_grad()
    def h(t):
        return t * 2

    with torsh.no_grad():
        assert h(x).requires_grad


def test_no_grad_allows_inplace_update_of_leaf():
    w = torsh.ones(3, requires_grad=True)
    (w * w).sum().backward()
    with torsh.no_grad():
        w -= 0.5 * w.grad
    assert w.requires_grad and w.is_leaf
    np.testing.assert_allclose(w.detach().numpy(), [0.0, 0.0, 0.0])


def test_set_grad_enabled_function_and_context():
    x = torsh.ones(2, requires_grad=True)
    with torsh.set_grad_enabled(False):
        assert not torsh.is_grad_enabled()
        assert not (x * 2).requires_grad
    assert torsh.is_grad_enabled()
    torsh.set_grad_enabled(False)
    try:
        assert not torsh.is_grad_enabled()
        assert not (x + 1).requires_grad
    finally:
        torsh.set_grad_enabled(True)
    assert torsh.is_grad_enabled()
    with torsh.no_grad():
        with torsh.set_grad_enabled(True):
            assert (x * 2).requires_grad

    @torsh.set_grad_enabled(False)
    def f(t):
        return torsh.is_grad_enabled(), t * 2

    enabled, out = f(x)
    assert enabled is False and not out.requires_grad
    assert torsh.is_grad_enabled()


def test_inference_mode():
    x = torsh.ones(2, requires_grad=True)
    with torsh.inference_mode():
        assert not torsh.is_grad_enabled()
        assert torsh.is_inference_mode_enabled()
        y = x * 2
    assert not y.requires_grad
    assert not torsh.is_inference_mode_enabled()

    @torsh.inference_mode()
    def f(t):
        return t * 3

    assert not f(x).requires_grad
    with torsh.inference_mode(False):
        assert (x * 2).requires_grad
    assert torsh.is_grad_enabled()


def test_grad_mode_restored_after_exception():
    with pytest.raises(ValueError):
        with torsh.no_grad():
            raise ValueError
    assert torsh.is_grad_enabled()


# ============================================================================ higher order

HIGHER_ORDER = [
    ("cube", lambda lib, x: x ** 3),
    ("sin", lambda lib, x: x.sin()),
    ("tanh", lambda lib, x: x.tanh()),
    ("exp_times_x", lambda lib, x: x.exp() * x),
    ("sigmoid", lambda lib, x: x.sigmoid()),
    ("div", lambda lib, x: 1 / (1 + x * x)),
    ("log_sqrt", lambda lib, x: (x * x + 1).sqrt().log()),
    ("matmul_tanh", lambda lib, x: (x.view(2, 3) @ lib.ones(3, 2, dtype=lib.float64)).tanh()),
    ("matmul_self", lambda lib, x: (x.view(2, 3) @ x.view(2, 3).t()) ** 2),
]


def _derivatives(lib, fn, order=3):
    x = leaf(lib, (6,), seed=4, low=-1.0, high=1.0)
    out, y = [], fn(lib, x).sum()
    for k in range(order):
        g, = lib.autograd.grad(y, x, create_graph=k < order - 1)
        out.append(g)
        y = g.sum()
    return out


@pytest.mark.parametrize("name,fn", HIGHER_ORDER, ids=[c[0] for c in HIGHER_ORDER])
def test_higher_order_derivatives(name, fn):
    ours = _derivatives(torsh, fn)
    if torch_ref is None and name == "cube":
        x = make_array((6,), seed=4, low=-1.0, high=1.0)
        compare_results(ours, None, [3 * x ** 2, 6 * x, np.full(6, 6.0)])
        return
    compare_results(ours, _derivatives(torch_ref, fn) if torch_ref else None)


@pytest.mark.filterwarnings("ignore:Using backward\\(\\) with create_graph=True")
def test_backward_create_graph_then_backward_of_grad():
    def scenario(lib):
        x = leaf(lib)
        (x ** 3).sum().backward(create_graph=True)
        g = x.grad
        assert g.requires_grad
        x.grad = None
        g.sum().backward()
        return g.detach(), x.grad

    ours, ref = both(scenario)
    x = make_array((3,))
    compare_results(ours, ref, [3 * x ** 2, 6 * x])


def test_grad_without_create_graph_does_not_require_grad():
    x = torsh.ones(3, requires_grad=True)
    g, = torsh.autograd.grad((x ** 2).sum(), x)
    assert not g.requires_grad


# ============================================================================ custom Function

def make_functions(lib):
    """Custom autograd.Functions; what forward observes is written to the returned ``log``."""
    log = {}
    Function = lib.autograd.Function
    once_differentiable = lib.autograd.function.once_differentiable

    class MyExp(Function):
        @staticmethod
        def forward(ctx, x):
            log["grad_enabled_in_forward"] = lib.is_grad_enabled()
            y = x.exp()
            ctx.save_for_backward(y)
            return y

        @staticmethod
        def backward(ctx, grad):
            y, = ctx.saved_tensors
            return grad * y

    class ScaledMul(Function):
        @staticmethod
        def forward(ctx, x, w, k):
            ctx.save_for_backward(x, w)
            ctx.k = k
            log["needs_input_grad"] = tuple(ctx.needs_input_grad)
            return x * w * k

        @staticmethod
        def backward(ctx, grad):
            x, w = ctx.saved_tensors
            gx = grad * w * ctx.k if ctx.needs_input_grad[0] else None
            gw = grad * x * ctx.k if ctx.needs_input_grad[1] else None
            return gx, gw, None

    class AddOneInplace(Function):
        @staticmethod
        def forward(ctx, x):
            x.add_(1)
            ctx.mark_dirty(x)
            return x

        @staticmethod
        def backward(ctx, grad):
            return grad

    class DoubleAndSign(Function):
        @staticmethod
        def forward(ctx, x):
            sign = (x > 0).to(x.dtype)
            ctx.mark_non_differentiable(sign)
            return x * 2, sign

        @staticmethod
        def backward(ctx, grad, grad_sign):
            return grad * 2

    class SquareOnce(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        @once_differentiable
        def backward(ctx, grad):
            x, = ctx.saved_tensors
            return 2 * x * grad

    class WrongSquare(Function):  # deliberately wrong backward: d(x^2)/dx is 2x, not x
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, grad):
            x, = ctx.saved_tensors
            return grad * x

    class CubeNoDoubleGrad(Function):  # first derivative right, second one wrong (x detached)
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x ** 3

        @staticmethod
        def backward(ctx, grad):
            x, = ctx.saved_tensors
            return grad * 3 * x.detach() ** 2

    return dict(MyExp=MyExp, ScaledMul=ScaledMul, AddOneInplace=AddOneInplace,
                DoubleAndSign=DoubleAndSign, SquareOnce=SquareOnce, WrongSquare=WrongSquare,
                CubeNoDoubleGrad=CubeNoDoubleGrad, log=log)


def test_custom_function_save_for_backward():
    def scenario(lib):
        F = make_functions(lib)["MyExp"]
        x = leaf(lib)
        y = F.apply(x)
        assert y.requires_grad
        assert type(y.grad_fn).__name__ == "MyExpBackward"
        (y * y).sum().backward()
        return y.detach(), x.grad

    ours, ref = both(scenario)
    x = make_array((3,))
    compare_results(ours, ref, [np.exp(x), 2 * np.exp(2 * x)])


def test_custom_function_forward_runs_without_grad():
    fns = make_functions(torsh)
    y = fns["MyExp"].apply(torsh.ones(2, requires_grad=True))
    assert y.grad_fn is not None
    assert fns["log"]["grad_enabled_in_forward"] is False
    assert torsh.is_grad_enabled()


def test_custom_function_needs_input_grad_and_non_tensor_args():
    def scenario(lib):
        fns = make_functions(lib)
        x = leaf(lib, seed=1)
        w = from_array(lib, make_array((3,), seed=2))  # does not require grad
        y = fns["ScaledMul"].apply(x, w, 2.5)
        assert fns["log"]["needs_input_grad"] == (True, False, False)
        y.sum().backward()
        assert w.grad is None
        return x.grad

    ours, ref = both(scenario)
    compare_results(ours, ref, 2.5 * make_array((3,), seed=2))


def test_custom_function_mark_dirty():
    def scenario(lib):
        F = make_functions(lib)["AddOneInplace"]
        x = leaf(lib)
        a = x.clone()
        v0 = a._version
        b = F.apply(a)
        assert b is a
        assert a._version > v0
        assert type(b.grad_fn).__name__ == "AddOneInplaceBackward"
        (b * b).sum().backward()
        return b.detach(), x.grad

    ours, ref = both(scenario)
    x = make_array((3,))
    compare_results(ours, ref, [x + 1, 2 * (x + 1)])


def test_custom_function_mark_non_differentiable():
    def scenario(lib):
        F = make_functions(lib)["DoubleAndSign"]
        x = leaf(lib)
        y, sign = F.apply(x)
        assert y.requires_grad
        assert not sign.requires_grad
        (y * 3).sum().backward()
        return sign, x.grad

    ours, ref = both(scenario)
    x = make_array((3,))
    compare_results(ours, ref, [(x > 0).astype(np.float64), np.full(3, 6.0)])


def test_custom_function_once_differentiable():
    def scenario(lib):
        F = make_functions(lib)["SquareOnce"]
        x = leaf(lib)
        F.apply(x).sum().backward()
        return x.grad

    ours, ref = both(scenario)
    compare_results(ours, ref, 2 * make_array((3,)))

    def double_backward(lib):
        F = make_functions(lib)["SquareOnce"]
        x = leaf(lib)
        g, = lib.autograd.grad((F.apply(x) ** 2).sum(), x, create_graph=True)
        g.sum().backward()

    check_same_error(double_backward, RuntimeError,
                     "trying to differentiate twice a function that was marked with "
                     "@once_differentiable")


def test_gradcheck_and_gradgradcheck_accept_correct_functions():
    x = leaf(torsh, (2, 3))
    w = leaf(torsh, (3, 2), seed=1)
    F = make_functions(torsh)
    assert torsh.autograd.gradcheck(lambda a, b: (a @ b).tanh(), (x, w)) is True
    assert torsh.autograd.gradcheck(F["MyExp"].apply, (x,)) is True
    assert torsh.autograd.gradgradcheck(lambda a: a.sin() * a, (x,)) is True
    assert torsh.autograd.gradgradcheck(lambda a, b: (a @ b) ** 2, (x, w)) is True


def test_gradcheck_detects_wrong_backward():
    x = leaf(torsh, (4,))
    wrong = make_functions(torsh)["WrongSquare"]
    with pytest.raises(RuntimeError) as info:
        torsh.autograd.gradcheck(wrong.apply, (x,))
    assert type(info.value).__name__ == "GradcheckError"
    assert "Jacobian mismatch" in str(info.value)
    assert torsh.autograd.gradcheck(wrong.apply, (x,), raise_exception=False) is False


def test_gradgradcheck_detects_wrong_double_backward():
    x = leaf(torsh, (4,))
    F = make_functions(torsh)["CubeNoDoubleGrad"]
    assert torsh.autograd.gradcheck(F.apply, (x,)) is True  # first order is right
    with pytest.raises(RuntimeError) as info:
        torsh.autograd.gradgradcheck(F.apply, (x,))
    assert type(info.value).__name__ == "GradcheckError"
    assert torsh.autograd.gradgradcheck(F.apply, (x,), raise_exception=False) is False


# ============================================================================ anomaly detection

def test_anomaly_mode_check_nan_names_the_node():
    x = torsh.tensor([0.0, 1.0], requires_grad=True)
    with torsh.autograd.detect_anomaly():
        y = x.sqrt() * 0  # sqrt's backward at 0 gives inf * 0 = nan
        with pytest.raises(RuntimeError, match=r"Function 'SqrtBackward0' returned nan values in its 0th output."):
            y.sum().backward()
    assert not torsh.autograd.is_anomaly_enabled()


def test_anomaly_mode_records_forward_stack_and_is_off_by_default():
    x = torsh.ones(2, requires_grad=True)
    assert (x * 2).grad_fn.metadata == {}
    with torsh.autograd.set_detect_anomaly(True):
        y = x * 2
    stack = "".join(y.grad_fn.metadata["traceback_"])
    assert "test_anomaly_mode_records_forward_stack" in stack


def test_leaf_gradient_follows_a_dtype_change_through_data():
    p = torsh.ones(2, requires_grad=True)
    kept_alive = p * 2  # an old graph still holds p's gradient accumulator
    p.data = torsh.ones(2, dtype=torsh.float64)
    (p * 3).sum().backward()
    assert p.grad.dtype == torsh.float64 and p.grad.tolist() == [3.0, 3.0]
    assert kept_alive.grad_fn is not None
