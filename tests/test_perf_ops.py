"""Lean per-op paths (issue 20) give PyTorch's results: F.linear without a graph (inference), the
implicit gradient of a 0-d output, saved tensors of one and two operands."""
import numpy as np
import pytest

import torsh
import torsh.autograd.forward_ad as fwad
from helpers import assert_close, check_same_error, needs_torch, torch_ref


def _linear_operands(lib, dtype, batch=3, features=5, out=4, seed=0):
    rng = np.random.default_rng(seed)
    x, w, b = (rng.standard_normal(shape).astype(dtype) for shape in ((batch, features), (out, features), (out,)))
    return lib.from_numpy(x), lib.from_numpy(w), lib.from_numpy(b)


@needs_torch
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("batch", [1, 7])
def test_linear_without_graph_matches_torch(dtype, batch):
    mine, theirs = (_linear_operands(lib, dtype, batch) for lib in (torsh, torch_ref))
    with torsh.no_grad():
        out = torsh.nn.functional.linear(*mine)
    assert out.grad_fn is None and not out.requires_grad
    assert_close(out, torch_ref.nn.functional.linear(*theirs))
    out[0, 0] = 7.0  # its own memory: the weight and bias are untouched
    assert_close(mine[1], theirs[1])
    assert_close(mine[2], theirs[2])


@needs_torch
def test_linear_on_plain_tensors_needs_no_no_grad_and_keeps_the_graph_when_wanted():
    x, w, b = _linear_operands(torsh, "float32")
    rx, rw, rb = _linear_operands(torch_ref, "float32")
    assert_close(torsh.nn.functional.linear(x, w, b), torch_ref.nn.functional.linear(rx, rw, rb))
    w.requires_grad_(True)
    rw.requires_grad_(True)
    out, ref = torsh.nn.functional.linear(x, w, b), torch_ref.nn.functional.linear(rx, rw, rb)
    assert out.grad_fn.name() == ref.grad_fn.name() == "AddmmBackward0"
    out.sum().backward()
    ref.sum().backward()
    assert_close(w.grad, rw.grad)


@needs_torch
def test_linear_without_graph_still_raises_torchs_errors():
    def mismatched_shapes(lib):
        x, w, b = _linear_operands(lib, "float32")
        with lib.no_grad():
            return lib.nn.functional.linear(x[:, :3], w, b)

    def mixed_dtypes(lib):
        x, w, b = _linear_operands(lib, "float32")
        with lib.no_grad():
            return lib.nn.functional.linear(x.double(), w, b)

    check_same_error(mismatched_shapes)
    check_same_error(mixed_dtypes)


@needs_torch
def test_linear_with_a_broadcast_bias_and_forward_mode_tangents():
    rng = np.random.default_rng(1)
    x_np, w_np = rng.standard_normal((3, 5)).astype(np.float32), rng.standard_normal((4, 5)).astype(np.float32)
    bias_np = rng.standard_normal((3, 4)).astype(np.float32)  # a (batch, out) bias: not the fast path's shape
    with torsh.no_grad():
        out = torsh.nn.functional.linear(torsh.from_numpy(x_np), torsh.from_numpy(w_np), torsh.from_numpy(bias_np))
    ref = torch_ref.nn.functional.linear(*(torch_ref.from_numpy(a) for a in (x_np, w_np, bias_np)))
    assert_close(out, ref)
    tangent = rng.standard_normal((3, 5)).astype(np.float32)
    rfwad = torch_ref.autograd.forward_ad
    with fwad.dual_level(), torsh.no_grad():
        dual = torsh.nn.functional.linear(fwad.make_dual(torsh.from_numpy(x_np), torsh.from_numpy(tangent)),
                                          torsh.from_numpy(w_np), torsh.from_numpy(bias_np[0].copy()))
        mine = fwad.unpack_dual(dual).tangent
    with rfwad.dual_level(), torch_ref.no_grad():
        x_dual = rfwad.make_dual(torch_ref.from_numpy(x_np), torch_ref.from_numpy(tangent))
        rdual = torch_ref.nn.functional.linear(x_dual, torch_ref.from_numpy(w_np), torch_ref.from_numpy(bias_np[0].copy()))
        theirs = rfwad.unpack_dual(rdual).tangent
    assert_close(mine, theirs)


def _implicit_gradient(lib, dtype):
    x = lib.ones(3, dtype=getattr(lib, dtype)).requires_grad_(True)
    (x * 2).sum().backward()
    return x.grad


@needs_torch
@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32", "float64"])
def test_implicit_gradient_of_a_0d_output(dtype):
    assert_close(_implicit_gradient(torsh, dtype), _implicit_gradient(torch_ref, dtype))


@needs_torch
def test_implicit_gradient_is_refused_for_a_complex_output():
    ours = check_same_error(lambda lib: lib.ones(3, dtype=lib.complex64).requires_grad_(True).sum().backward(),
                            fallback_msg="grad can be implicitly created only for real scalar outputs but got",
                            exact=False)
    assert str(ours).endswith(f"{torsh.__name__}.complex64")  # the dtype named as the package prints it


@needs_torch
def test_saved_tensors_of_one_two_and_three_operands_give_torchs_gradients():
    def grads(lib):
        rng = np.random.default_rng(2)
        a, b, c = (lib.from_numpy(rng.standard_normal(4)).requires_grad_(True) for _ in range(3))
        (a.sin() * b + lib.addcmul(a, b, c)).sum().backward()  # sin saves one, mul two, addcmul three
        return a.grad, b.grad, c.grad
    for mine, theirs in zip(grads(torsh), grads(torch_ref)):
        assert_close(mine, theirs)


@needs_torch
def test_profiled_inference_linear_still_shows_the_weight_transpose():
    """Under a profiler the inference path is left for the recorded one: aten::t under aten::linear, as
    PyTorch's table shows it."""
    def keys(lib):
        layer, x = lib.nn.Linear(4, 3), lib.randn(2, 4)
        with lib.no_grad(), lib.profiler.profile() as prof:
            layer(x)
        return {e.key for e in prof.key_averages()}
    mine, theirs = keys(torsh), keys(torch_ref)
    assert {"aten::linear", "aten::t"} <= mine and {"aten::linear", "aten::t"} <= theirs
