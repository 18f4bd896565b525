"""The lean paths of a small forward + backward (issue 20, W1.2) give PyTorch's results and behaviour.

- The engine walks a chain (every node so far with one next edge) without counting dependencies or a
  ready queue, and switches to the ordered walk at the first node with several next edges.
- sin/cos/mul backward work on the arrays when no graph of the gradient is built, with the very values
  the formulas in torsh ops give (create_graph=True runs those).
- sum() of a contiguous float tensor skips the general bookkeeping; AccumulateGrad takes a plain fresh
  gradient tensor as ``.grad`` itself.
"""
import numpy as np
import pytest

import torsh
from helpers import assert_close, check_same_error, needs_torch, torch_ref


def _data(shape, dtype="float32", seed=0, low=-2.0, high=2.0):
    return np.random.default_rng(seed).uniform(low, high, shape).astype(dtype)


def _leaves(lib, *arrays):
    return [lib.tensor(a.copy(), requires_grad=True) for a in arrays]


# graphs from a single root: (name, number of leaves, f(lib, *leaves) -> scalar)
GRAPHS = [
    ("chain", 1, lambda lib, x: (x * 2).sin().sum()),
    ("chain to a non-leaf root", 1, lambda lib, x: (x.cos() * 3.5).sum() * 2),
    ("chain then a fan-out", 2, lambda lib, x, w: ((x * w).sin() * 2).sum()),
    ("a shared value", 1, lambda lib, x: (lambda z: (z * z + z.exp()).sum())(x.sin())),
    ("one leaf twice", 1, lambda lib, x: (x * x).sin().sum()),
    ("one output of a multi-output node", 1, lambda lib, x: x.split(2)[1].sin().sum()),
    ("two outputs of a multi-output node", 1, lambda lib, x: (x.split(2)[0].sum() * x.split(2)[1].cos().sum())),
    ("a leaf root", 1, lambda lib, x: x.sum()),
    ("broadcast product", 2, lambda lib, x, w: (x.reshape(2, 2) * w.reshape(2, 2)[:, :1]).sin().sum()),
]


@needs_torch
@pytest.mark.parametrize("name,count,graph", GRAPHS, ids=[g[0] for g in GRAPHS])
def test_gradients_of_chains_and_branches_match_torch(name, count, graph):
    arrays = [_data(4, seed=i) for i in range(count)]
    ours, theirs = _leaves(torsh, *arrays), _leaves(torch_ref, *arrays)
    out, ref = graph(torsh, *ours), graph(torch_ref, *theirs)
    assert_close(out, ref.detach())
    out.backward()
    ref.backward()
    for mine, reference in zip(ours, theirs):
        assert_close(mine.grad, reference.grad)


def _hook_order(lib):
    """The order in which tensor hooks, node pre-hooks and post-hooks run on a chain that fans out."""
    order = []
    x, w = _leaves(lib, _data(3), _data(3, seed=1))
    y = x * 2
    y.register_hook(lambda g: order.append("y"))
    z = y.sin()
    z.register_hook(lambda g: order.append("z"))
    a = z * w
    a.register_hook(lambda g: order.append("a"))
    e = z.exp()
    e.register_hook(lambda g: order.append("e"))
    s = (a + e).sum()
    s.grad_fn.register_prehook(lambda grads: order.append("sum-pre"))
    s.grad_fn.register_hook(lambda grad_inputs, grads: order.append("sum-post"))
    z.grad_fn.register_hook(lambda grad_inputs, grads: order.append("sin-post"))
    x.register_hook(lambda g: order.append("x"))
    w.register_hook(lambda g: order.append("w"))
    s.backward()
    return order


@needs_torch
def test_hooks_run_in_torchs_order():
    assert _hook_order(torsh) == _hook_order(torch_ref)


@needs_torch
def test_hooks_on_a_pure_chain_change_its_gradients_as_in_torch():
    def run(lib):
        (x,) = _leaves(lib, _data(5))
        y = x * 2
        y.register_hook(lambda g: g * 3)  # replaces the gradient flowing on down the chain
        z = y.sin()
        z.retain_grad()
        z.grad_fn.register_hook(lambda grad_inputs, grads: (grad_inputs[0] - 1,))
        (z * 3).sum().backward()
        return x.grad, z.grad
    for mine, reference in zip(run(torsh), run(torch_ref)):
        assert_close(mine, reference)


@needs_torch
def test_a_second_backward_through_a_released_chain_raises_torchs_error():
    def twice(lib):
        (x,) = _leaves(lib, _data(3))
        s = (x * 2).sin().sum()
        s.backward()
        s.backward()
    check_same_error(twice)


@needs_torch
def test_retain_graph_keeps_a_chain_for_a_second_backward():
    grads = []
    for lib in (torsh, torch_ref):
        (x,) = _leaves(lib, _data(4))
        s = (x * 2).sin().sum()
        s.backward(retain_graph=True)
        s.backward()
        grads.append(x.grad)
    assert_close(grads[0], grads[1])


@needs_torch
def test_anomaly_mode_names_the_chain_node_that_made_nan():
    def nan_in_backward(lib):
        (x,) = _leaves(lib, np.array([-1.0, 1.0], dtype="float32"))
        with lib.autograd.detect_anomaly():
            (x * 2).sqrt().sum().backward()
    with pytest.warns(UserWarning):
        check_same_error(nan_in_backward)


@needs_torch
@pytest.mark.parametrize("case", ["non-scalar", "no grad", "integer"])
def test_implicit_gradient_errors_match_torch(case):
    def run(lib):
        if case == "non-scalar":
            (lib.ones(2, requires_grad=True) * 2).backward()
        elif case == "no grad":
            lib.ones(()).backward()
        else:
            (x,) = _leaves(lib, _data(3))
            (x * 2).sum().long().backward()
    check_same_error(run)


@needs_torch
def test_create_graph_through_a_chain_gives_second_derivatives():
    results = []
    for lib in (torsh, torch_ref):
        (x,) = _leaves(lib, _data(4))
        (g,) = lib.autograd.grad((x * 2).sin().sum(), x, create_graph=True)
        g.sum().backward()
        results.append((g, x.grad))
    assert_close(results[0][0], results[1][0].detach())
    assert_close(results[0][1], results[1][1])


# -- backward formulas on arrays --------------------------------------------------------------------
def _both_paths(fn, *arrays):
    """The gradients of ``fn(*leaves).sum()`` by the array formulas (a plain backward) and by the formulas in
    torsh ops (create_graph=True, which builds the graph of the gradient)."""
    grads = []
    for create_graph in (False, True):
        leaves = _leaves(torsh, *arrays)
        grads.append(torsh.autograd.grad(fn(*leaves).sum(), leaves, create_graph=create_graph))
    return grads


PRODUCTS = [
    ("sin", lambda x: (x * 2).sin(), [(7,)]),
    ("cos", lambda x: (x * 0.5).cos(), [(7,)]),
    ("tensor times tensor", lambda x, w: (x * w).sin(), [(3, 4), (3, 4)]),
    ("broadcast product", lambda x, w: x * w, [(3, 1), (1, 4)]),
    ("0-d", lambda x: (x * 3).sin(), [()]),
    ("number times tensor", lambda x: 2.5 * x.cos(), [(5,)]),
]


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16"])
@pytest.mark.parametrize("name,fn,shapes", PRODUCTS, ids=[p[0] for p in PRODUCTS])
def test_array_formulas_give_the_values_of_the_formulas_in_torsh_ops(name, fn, shapes, dtype):
    arrays = [_data(shape, dtype, seed=i) for i, shape in enumerate(shapes)]
    on_arrays, in_ops = _both_paths(fn, *arrays)
    for a, b in zip(on_arrays, in_ops):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a.numpy(), b.detach().numpy())


@needs_torch
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name,fn,shapes", PRODUCTS, ids=[p[0] for p in PRODUCTS])
def test_array_formulas_match_torch(name, fn, shapes, dtype):
    arrays = [_data(shape, dtype, seed=i) for i, shape in enumerate(shapes)]
    ours, theirs = _leaves(torsh, *arrays), _leaves(torch_ref, *arrays)
    fn(*ours).sum().backward()
    fn(*theirs).sum().backward()
    for mine, reference in zip(ours, theirs):
        assert_close(mine.grad, reference.grad)


@pytest.mark.parametrize("name,fn,shapes", PRODUCTS, ids=[p[0] for p in PRODUCTS])
def test_array_formulas_pass_gradcheck(name, fn, shapes):
    leaves = _leaves(torsh, *[_data(shape, "float64", seed=i) for i, shape in enumerate(shapes)])
    assert torsh.autograd.gradcheck(fn, tuple(leaves))


@needs_torch
@pytest.mark.parametrize("case", ["mixed dtypes", "complex", "integer factor", "bool factor"])
def test_products_the_array_path_leaves_to_the_ops_match_torch(case):
    def run(lib):
        x = lib.tensor(_data(4, "float32"), requires_grad=True)
        if case == "mixed dtypes":
            w = lib.tensor(_data(4, "float64", seed=1), requires_grad=True)
            out, leaves = (x * w).sin(), (x, w)
        elif case == "complex":
            w = lib.tensor(_data(4, "float32", seed=1) + 1j * _data(4, "float32", seed=2), requires_grad=True)
            out, leaves = (x * w).abs(), (x, w)
        elif case == "integer factor":
            out, leaves = x * lib.tensor([1, 2, 3, 4]), (x,)
        else:
            out, leaves = x * True, (x,)
        out.sum().backward()
        return [t.grad for t in leaves]
    for mine, reference in zip(run(torsh), run(torch_ref)):
        assert_close(mine, reference)


@needs_torch
def test_sin_backward_of_inf_is_nan_without_a_warning_as_in_torch():
    values = np.array([np.inf, 1.0], dtype="float32")
    grads = []
    for lib in (torsh, torch_ref):
        x = lib.tensor(values, requires_grad=True)
        x.sin().sum().backward()
        grads.append(x.grad)
    assert_close(grads[0], grads[1])


# -- sum() and AccumulateGrad -----------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
@pytest.mark.parametrize("shape", [(1,), (100,), (3, 5), (2, 3, 4)])
def test_sum_of_everything_equals_the_sum_over_every_dim(shape, dtype):
    x = torsh.tensor(_data(shape, dtype))
    whole, over_dims = x.sum(), x.sum(dim=tuple(range(len(shape))))
    assert whole.shape == over_dims.shape == () and whole.dtype == over_dims.dtype
    np.testing.assert_array_equal(whole.numpy(), over_dims.numpy())


@needs_torch
@pytest.mark.parametrize("dtype", ["float16", "float32", "float64", "bfloat16"])
@pytest.mark.parametrize("layout", ["contiguous", "transposed", "empty"])
def test_sum_and_its_gradient_match_torch(dtype, layout):
    shape = (0, 3) if layout == "empty" else (4, 6)
    results = []
    for lib in (torsh, torch_ref):
        x = lib.tensor(_data(shape, "float32")).to(getattr(lib, dtype)).requires_grad_(True)
        source = x.t() if layout == "transposed" else x
        s = source.sum()
        s.backward()
        results.append((s, x.grad))
    assert results[0][0].grad_fn is not None and results[0][0].grad_fn.name() == "SumBackward0"
    assert_close(results[0][0], results[1][0].detach(), rtol=1e-2 if dtype != "float64" else None,
                 atol=1e-2 if dtype != "float64" else None)
    assert_close(results[0][1], results[1][1])


@needs_torch
def test_accumulated_gradient_is_a_plain_tensor_of_its_own():
    grads = []
    for lib in (torsh, torch_ref):
        (x,) = _leaves(lib, _data(4))
        (x * 2).sin().sum().backward()
        first = x.grad
        assert first.grad_fn is None and not first.requires_grad and first._base is None
        (x * 2).sin().sum().backward()  # accumulates in place into the same tensor
        assert x.grad is first
        x.grad.mul_(0.5)
        grads.append(x.grad)
    assert_close(grads[0], grads[1])
