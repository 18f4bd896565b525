"""torsh.compile: fused elementwise chains give the eager results and gradients."""
import numpy as np
import pytest

import torsh
from torsh._compile import trace
from torsh._ops import registry
from helpers import torch_ref
from torsh.backend import dispatch


def chain(lib, x):
    return lib.tanh(x * 0.5 + 1) * lib.sigmoid(x) - x * x


def two_inputs(lib, a, b):
    return (a * b).exp() / (b + 3) - 2 - a.sqrt() + (1 - b).relu() ** 2


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_fused_chain_matches_torch_forward_and_backward(dtype):
    data = np.random.default_rng(0).standard_normal(5000).astype(dtype)
    compiled = torsh.compile(lambda x: chain(torsh, x))
    x = torsh.tensor(data, requires_grad=True)
    y = compiled(x)
    assert y.dtype == getattr(torsh, dtype)  # constants are typed: float32 stays float32
    weights = np.random.default_rng(1).standard_normal(5000).astype(dtype)
    (y * torsh.tensor(weights)).sum().backward()
    ref_x = torch_ref.tensor(data, requires_grad=True)
    ref_y = chain(torch_ref, ref_x)
    (ref_y * torch_ref.tensor(weights)).sum().backward()
    tol = 1e-5 if dtype == "float32" else 1e-12
    np.testing.assert_allclose(y.detach().numpy(), ref_y.detach().numpy(), rtol=tol, atol=tol)
    np.testing.assert_allclose(x.grad.numpy(), ref_x.grad.numpy(), rtol=tol, atol=tol)
    assert type(y.grad_fn).__name__ == "CompiledFunctionBackward"


def test_broadcasting_inputs_get_summed_gradients_and_pass_gradcheck():
    compiled = torsh.compile(lambda a, b: two_inputs(torsh, a, b))
    rng = np.random.default_rng(2)
    a = torsh.tensor(rng.uniform(0.5, 2, (3, 1)), requires_grad=True)
    b = torsh.tensor(rng.uniform(0.5, 2, (4,)), requires_grad=True)
    out = compiled(a, b)
    assert out.shape == (3, 4)
    assert "fused into one numexpr pass" in compiled.explain(a, b)
    assert torsh.autograd.gradcheck(compiled, (a, b))
    assert torsh.autograd.gradgradcheck(compiled, (a, b))


def test_second_derivatives_through_a_fused_function():
    compiled = torsh.compile(lambda x: chain(torsh, x))
    x = torsh.tensor([0.3, -1.2, 2.0], dtype=torsh.float64, requires_grad=True)
    (g,) = torsh.autograd.grad(compiled(x).sum(), x, create_graph=True)
    (gg,) = torsh.autograd.grad(g.sum(), x)
    rx = torch_ref.tensor([0.3, -1.2, 2.0], dtype=torch_ref.float64, requires_grad=True)
    (rg,) = torch_ref.autograd.grad(chain(torch_ref, rx).sum(), rx, create_graph=True)
    (rgg,) = torch_ref.autograd.grad(rg.sum(), rx)
    np.testing.assert_allclose(gg.numpy(), rgg.numpy(), rtol=1e-10)


def test_dispatch_record_names_the_fused_function():
    def activation(x):
        return x * torsh.sigmoid(x)
    compiled = torsh.compile(activation)
    compiled(torsh.randn(100))  # the first call of a signature traces (eagerly)
    with dispatch.record() as records:
        compiled(torsh.randn(100))
    assert [(r.op, r.variant) for r in records] == [("compiled:activation", "numexpr")]
    assert records[0].reason == "2 elementwise ops fused into one numexpr pass"


@pytest.mark.parametrize("fn,reason", [
    (lambda x: x.sum() * 2, "SumBackward0 is not an elementwise op"),
    (lambda x: x.t() + 1, "TBackward0 is not an elementwise op"),
    (lambda x: x * torsh.ones(3, 3), "a tensor that is not an input"),
    (lambda x: (x, x), "must return one tensor"),
])
def test_unfusable_functions_run_eagerly_and_say_why(fn, reason):
    compiled = torsh.compile(fn)
    x = torsh.randn(3, 3)
    assert reason in compiled.explain(x)
    out, expected = compiled(x), fn(x)
    for o, e in zip(out if isinstance(out, tuple) else (out,), expected if isinstance(expected, tuple) else (expected,)):
        np.testing.assert_array_equal(o.numpy(), e.numpy())


def test_unknown_backend_is_refused():
    with pytest.raises(RuntimeError, match="unknown backend 'tvm_nope'"):
        torsh.compile(lambda x: x, backend="tvm_nope")


def test_fusable_ops_are_the_registrys_fusion_declarations():
    """torsh.compile reads back exactly the nodes of ops declared with register(..., fusion=...)."""
    declared = {e.node_name: e.fusion for e in registry.entries() if e.fusion is not None}
    assert set(trace._builders()) == set(declared)
    assert {"add", "mul", "exp", "tanh", "sigmoid", "pow"} <= set(declared.values())
