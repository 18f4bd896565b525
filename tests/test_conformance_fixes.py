"""PyTorch-conformance fixes: backward node names per overload, bfloat16/float16 accumulation, mixed-dtype
in-place arithmetic, unsupported dtypes' errors; each case run on torsh and on torch 2.13 and compared."""
import numpy as np
import pytest

import torsh

from helpers import assert_close, check_same_error, needs_torch, torch_ref

pytestmark = needs_torch


def _leaf(lib, values, dtype="float64"):
    return lib.tensor(values, dtype=getattr(lib, dtype), requires_grad=True)


def _grads(lib, fn, n_inputs):
    """fn(lib, *leaves) -> (result, gradients of result.sum() for the leaves)."""
    leaves = [_leaf(lib, np.linspace(0.6 + i, 2.9 + i, 6).reshape(2, 3)) for i in range(n_inputs)]
    result = fn(lib, *leaves)
    result.sum().backward()
    return result, [leaf.grad for leaf in leaves]


# -- 1. backward node names: PyTorch names each overload's node (tensor-tensor vs tensor-scalar) -------------
NODE_CASES = {
    "remainder_tt": (lambda lib, a, b: lib.remainder(a, b), 2),
    "remainder_ts": (lambda lib, a: lib.remainder(a, 1.5), 1),
    "fmod_tt": (lambda lib, a, b: lib.fmod(a, b), 2),
    "fmod_ts": (lambda lib, a: lib.fmod(a, 1.5), 1),
    "copysign_ts": (lambda lib, a: lib.copysign(a, -2.0), 1),
    "xlogy_ts": (lambda lib, a: lib.xlogy(a, 3.0), 1),
    "xlogy_st": (lambda lib, a: lib.xlogy(3.0, a), 1),
    "xlog1py_ts": (lambda lib, a: lib.special.xlog1py(a, 3.0), 1),
    "xlog1py_st": (lambda lib, a: lib.special.xlog1py(3.0, a), 1),
    "rsub_tt": (lambda lib, a, b: lib.rsub(a, b, alpha=2), 2),
    "rsub_tt_broadcast": (lambda lib, a, b: lib.rsub(a, b[0], alpha=3), 2),
    "rsub_ts": (lambda lib, a: lib.rsub(a, 2.0), 1),
    "lerp_scalar_weight": (lambda lib, a, b: lib.lerp(a, b, 0.3), 2),
    "lerp_tensor_weight": (lambda lib, a, b, w: lib.lerp(a, b, w), 3),
    "lerp_broadcast_weight": (lambda lib, a, b, w: lib.lerp(a, b, w[0, :1]), 3),
    "clamp_numbers": (lambda lib, a: lib.clamp(a, 1.0, 2.0), 1),
    "clamp_tensors": (lambda lib, a, lo: lib.clamp(a, min=lo - 0.5), 2),
    "clamp_min_number": (lambda lib, a: lib.clamp_min(a, 1.0), 1),
    "clamp_min_tensor": (lambda lib, a, lo: lib.clamp_min(a, lo - 0.5), 2),
    "clamp_max_number": (lambda lib, a: lib.clamp_max(a, 1.0), 1),
    "clamp_max_tensor": (lambda lib, a, hi: lib.clamp_max(a, hi - 0.5), 2),
    "norm_default": (lambda lib, a: lib.norm(a), 1),
    "norm_fro_dims": (lambda lib, a: lib.norm(a, "fro", dim=(0, 1)), 1),
    "norm_p3_dim": (lambda lib, a: lib.norm(a, 3, dim=1, keepdim=True), 1),
    "norm_inf": (lambda lib, a: lib.norm(a, float("inf")), 1),
    "norm_1": (lambda lib, a: lib.norm(a, 1, dim=0), 1),
    "reshape_contiguous": (lambda lib, a: (a * 1).reshape(3, 2), 1),
    "reshape_viewable_transposed": (lambda lib, a: (a * 1).t().reshape(3, 2, 1), 1),
    "reshape_viewable_strided": (lambda lib, a: (a * 1)[:, ::2].reshape(4), 1),
    "reshape_copy": (lambda lib, a: (a * 1).t().reshape(6), 1),
}


@pytest.mark.parametrize("case", NODE_CASES)
def test_node_name_values_and_grads_as_pytorch(case):
    fn, n_inputs = NODE_CASES[case]
    ours, our_grads = _grads(torsh, fn, n_inputs)
    ref, ref_grads = _grads(torch_ref, fn, n_inputs)
    assert ours.grad_fn.name() == ref.grad_fn.name()
    assert_close(ours, ref)
    for ours_grad, ref_grad in zip(our_grads, ref_grads):
        assert_close(ours_grad, ref_grad)


def test_rsub_and_lerp_edges_in_pytorchs_order():
    def edges(lib, fn):
        a, b = _leaf(lib, [1.0, 2.0]), _leaf(lib, [3.0, 4.0])
        node = fn(lib, a, b).grad_fn
        return [type(f).__name__ if f is not None else None for f, _ in node.next_functions]
    for fn in (lambda lib, a, b: lib.rsub(a, b), lambda lib, a, b: lib.lerp(a, b.detach(), b)):
        assert edges(torsh, fn) == edges(torch_ref, fn)
