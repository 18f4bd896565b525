"""torch.autograd.graph.saved_tensors_hooks / save_on_cpu / disable_saved_tensors_hooks against PyTorch:
which tensors are packed, when unpack runs, gradients through hooks, nesting and PyTorch's errors."""
import pytest

import torsh
from helpers import assert_close, check_same_error, from_array, make_array, torch_ref

pytestmark = pytest.mark.skipif(torch_ref is None, reason="compares with PyTorch")


def leaf(lib, shape=(4,), seed=0):
    return from_array(lib, make_array(shape, "float64", seed=seed), "float64", requires_grad=True)


def recording_hooks(log):
    """Hooks that log ('pack', requires_grad, has grad_fn) and 'unpack', and store a detached copy."""
    def pack(t):
        log.append(("pack", tuple(t.shape), t.requires_grad, t.grad_fn is not None))
        return t.detach().clone()

    def unpack(packed):
        log.append("unpack")
        return packed
    return pack, unpack


def run_pack_unpack(lib, build):
    """The hook log of building a graph under hooks, then of two backwards through it, and the gradients."""
    a, b = leaf(lib, seed=0), leaf(lib, seed=1)
    log = []
    with lib.autograd.graph.saved_tensors_hooks(*recording_hooks(log)):
        loss = build(lib, a, b)
    packs = list(log)
    log.clear()
    loss.backward(retain_graph=True)
    first = list(log)
    log.clear()
    loss.backward()
    return packs, first, list(log), a.grad, b.grad


@pytest.mark.parametrize("build", [
    lambda lib, a, b: (a * b).sum(),                  # both inputs saved (leaves)
    lambda lib, a, b: (a * b).exp().sum(),            # exp saves its output
    lambda lib, a, b: (a * b).exp().sin().sum(),      # sin saves a non-leaf input
    lambda lib, a, b: (a.exp() * b.tanh()).sum(),     # outputs of exp and tanh, then both factors
], ids=["mul", "mul_exp", "mul_exp_sin", "exp_tanh_mul"])
def test_pack_and_unpack_calls_and_gradients_match_pytorch(build):
    ours = run_pack_unpack(torsh, build)
    ref = run_pack_unpack(torch_ref, build)
    assert ours[0] == ref[0]  # what pack saw: count, shapes, requires_grad, history
    assert ours[1] == ref[1] and ours[2] == ref[2]  # one unpack per saved tensor per backward
    assert_close(ours[3], ref[3])
    assert_close(ours[4], ref[4])


def test_unpack_runs_at_each_access_and_gives_back_the_output_history():
    def scenario(lib):
        a = leaf(lib)
        log = []
        with lib.autograd.graph.saved_tensors_hooks(*recording_hooks(log)):
            y = a.exp()
        grads = lib.autograd.grad(y.sum(), a, create_graph=True)[0]  # unpacked output keeps ExpBackward0
        second = lib.autograd.grad(grads.sum(), a)[0]
        return log, grads, second
    ours, ref = scenario(torsh), scenario(torch_ref)
    assert ours[0] == ref[0]
    assert_close(ours[1], ref[1])
    assert_close(ours[2], ref[2])


def test_hooks_changing_the_saved_value_change_the_gradient():
    def scenario(lib):
        a = leaf(lib)
        with lib.autograd.graph.saved_tensors_hooks(lambda t: t.detach() * 2, lambda x: x + 1):
            (a * a).sum().backward()
        return a.grad
    assert_close(scenario(torsh), scenario(torch_ref))


def test_only_the_innermost_hooks_apply():
    def scenario(lib):
        a, log = leaf(lib), []
        outer = lib.autograd.graph.saved_tensors_hooks(lambda t: (log.append("outer"), t)[1], lambda x: x)
        inner = lib.autograd.graph.saved_tensors_hooks(lambda t: (log.append("inner"), t)[1], lambda x: x)
        with outer:
            with inner:
                y = a.exp()
            z = y.sin()
        (y.sum() + z.sum()).backward()
        with lib.no_grad():
            a.exp()  # nothing is saved without a graph
        return log, a.grad
    ours, ref = scenario(torsh), scenario(torch_ref)
    assert ours[0] == ref[0] == ["inner", "outer"]
    assert_close(ours[1], ref[1])


def test_custom_function_saves_are_packed_after_forward():
    def scenario(lib):
        class Square(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                out = x * x
                ctx.save_for_backward(x, out)
                return out

            @staticmethod
            def backward(ctx, g):
                x, out = ctx.saved_tensors
                return g * 2 * x + 0 * out
        a, log = leaf(lib), []
        with lib.autograd.graph.saved_tensors_hooks(*recording_hooks(log)):
            y = Square.apply(a)
        y.sum().backward()
        return log, a.grad
    ours, ref = scenario(torsh), scenario(torch_ref)
    assert ours[0] == ref[0]  # the output is packed with its grad_fn, as after forward
    assert_close(ours[1], ref[1])


def test_no_version_check_under_hooks():
    def scenario(lib):
        a = leaf(lib)
        with lib.autograd.graph.saved_tensors_hooks(lambda t: t.detach().clone(), lambda x: x):
            w = a * 2
            v = w.sin()
        w.add_(1)  # the packed copy is what backward uses, as in PyTorch
        v.sum().backward()
        return a.grad
    assert_close(scenario(torsh), scenario(torch_ref))


def test_save_on_cpu_gradients_match():
    def scenario(lib):
        a, b = leaf(lib, (3, 4)), leaf(lib, (4, 2), seed=2)
        with lib.autograd.graph.save_on_cpu():
            loss = (a @ b).tanh().pow(2).sum()
        loss.backward()
        return a.grad, b.grad
    ours, ref = scenario(torsh), scenario(torch_ref)
    assert_close(ours[0], ref[0])
    assert_close(ours[1], ref[1])


def test_unpack_hook_returning_a_non_tensor_raises_typeerror():
    def fn(lib):
        a = leaf(lib)
        with lib.autograd.graph.saved_tensors_hooks(lambda t: t.detach(), lambda x: 3):
            y = a.exp()
        y.sum().backward()
    check_same_error(fn)


def test_pack_hook_modifying_its_input_raises():
    def fn(lib):
        a = leaf(lib)

        def pack(t):
            t.add_(1)
            return t
        with lib.autograd.graph.saved_tensors_hooks(pack, lambda x: x):
            (a.detach().clone().requires_grad_() * 2).exp()
    check_same_error(fn)


def test_backward_twice_still_raises_under_hooks():
    def fn(lib):
        a = leaf(lib)
        with lib.autograd.graph.saved_tensors_hooks(lambda t: t.detach(), lambda x: x):
            loss = a.exp().sum()
        loss.backward()
        loss.backward()
    check_same_error(fn)


def test_disable_saved_tensors_hooks_errors():
    def entering_hooks(lib):
        with lib.autograd.graph.disable_saved_tensors_hooks("hooks are off here"):
            with lib.autograd.graph.save_on_cpu():
                pass

    def disabling_inside_hooks(lib):
        with lib.autograd.graph.saved_tensors_hooks(lambda t: t, lambda x: x):
            with lib.autograd.graph.disable_saved_tensors_hooks("cannot disable now"):
                pass
    check_same_error(entering_hooks)
    check_same_error(disabling_inside_hooks)

    def nested_restores(lib):  # the outer message is back after an inner disable ends
        with lib.autograd.graph.disable_saved_tensors_hooks("outer"):
            with lib.autograd.graph.disable_saved_tensors_hooks("inner"):
                pass
            with lib.autograd.graph.saved_tensors_hooks(lambda t: t, lambda x: x):
                pass
    assert str(check_same_error(nested_restores)) == "outer"
    with torsh.autograd.graph.saved_tensors_hooks(lambda t: t, lambda x: x):  # enabled again afterwards
        pass
