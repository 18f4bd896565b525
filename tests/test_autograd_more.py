"""torch.autograd's remaining public names against PyTorch: Variable, variable, multithreading and layout
flags, view replay, kineto_available, the __torch_function__ helpers, graph.GradientEdge/get_gradient_edge,
graph.increment_version."""
import pytest

import torsh
from helpers import assert_close, check_same_error, from_array, make_array, torch_ref

pytestmark = pytest.mark.skipif(torch_ref is None, reason="compares with PyTorch")


def leaf(lib, shape=(3,), seed=0):
    return from_array(lib, make_array(shape, "float64", seed=seed), "float64", requires_grad=True)


def test_variable_returns_a_tensor():
    for requires_grad in (False, True):
        ours = torsh.autograd.Variable(torsh.ones(2), requires_grad=requires_grad)
        ref = torch_ref.autograd.Variable(torch_ref.ones(2), requires_grad=requires_grad)
        assert type(ours) is torsh.Tensor and ours.requires_grad == ref.requires_grad
        assert_close(ours, ref)
    assert isinstance(torsh.ones(1), torsh.autograd.Variable)
    assert tuple(torsh.autograd.Variable().shape) == tuple(torch_ref.autograd.Variable().shape)
    assert torsh.autograd.Variable().dtype == torsh.float32
    check_same_error(lambda lib: lib.autograd.Variable(3))
    check_same_error(lambda lib: lib.autograd.variable([1.0]))


@pytest.mark.parametrize("name, getter", [
    ("set_multithreading_enabled", "is_multithreading_enabled"),
])
def test_flag_context_managers_restore(name, getter):
    def scenario(lib):
        switch, read = getattr(lib.autograd, name), getattr(lib.autograd, getter)
        seen = [read()]
        with switch(False):
            seen.append(read())
        seen.append(read())
        switch(False)  # a plain call keeps the new value, as in PyTorch
        seen.append(read())
        switch(True)
        seen.append(read())
        return seen
    assert scenario(torsh) == scenario(torch_ref)


def test_enforce_grad_layout_policy_keeps_gradients():
    def scenario(lib):
        a = leaf(lib, (2, 3))
        with lib.autograd.enforce_grad_layout_policy(False):
            (a * 2).sum().backward()
        return a.grad
    assert_close(scenario(torsh), scenario(torch_ref))


def test_constant_flags():
    for name in ("is_view_replay_enabled", "kineto_available"):
        assert getattr(torsh.autograd, name)() == getattr(torch_ref.autograd, name)()


def test_torch_function_helpers():
    for lib in (torsh, torch_ref):
        class Wrapper:
            @classmethod
            def __torch_function__(cls, func, types, args=(), kwargs=None):
                return ("handled", func.__name__, types)

        def api(x):
            return x
        assert lib.autograd.is_tensor_like(lib.ones(1)) and lib.autograd.is_tensor_like(Wrapper())
        assert not lib.autograd.is_tensor_like(3)
        assert not lib.autograd.has_torch_function((lib.ones(1), 2))
        assert lib.autograd.has_torch_function((lib.ones(1), Wrapper()))
        assert lib.autograd.handle_torch_function(api, (Wrapper(),), 1) == ("handled", "api", (Wrapper,))


def test_get_gradient_edge():
    def scenario(lib):
        a = leaf(lib)
        y = a.exp()
        pieces = y.unbind()
        leaf_edge = lib.autograd.graph.get_gradient_edge(a)
        out_edge = lib.autograd.graph.get_gradient_edge(pieces[2])
        return (leaf_edge.node.name().split("::")[-1], leaf_edge.output_nr, out_edge.node.name(), out_edge.output_nr,
                out_edge.node is pieces[2].grad_fn, len(out_edge))
    assert scenario(torsh) == scenario(torch_ref)
    check_same_error(lambda lib: lib.autograd.graph.get_gradient_edge(lib.ones(2)))


def test_increment_version_invalidates_saved_tensors():
    def fn(lib):
        a = leaf(lib)
        b = a * 1
        y = b.sin()
        lib.autograd.graph.increment_version([b])
        y.sum().backward()
    check_same_error(fn)
    for lib in (torsh, torch_ref):
        t = lib.zeros(2)
        before = t._version
        lib.autograd.graph.increment_version(t)
        assert t._version == before + 1
