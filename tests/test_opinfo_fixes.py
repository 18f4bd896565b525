"""Divergences from PyTorch found by the OpInfo sweep (tools/opinfo_sweep.py), each checked against torch."""
import numpy as np
import pytest

import torsh
from helpers import assert_close, assert_same_structure_close, make_array, needs_torch, torch_ref

pytestmark = needs_torch

LIBS = {"torsh": torsh, "torch": torch_ref}


def both(fn):
    """fn(lib) for torsh and for torch."""
    return fn(torsh), fn(torch_ref)


def grads_of(fn, *arrays):
    """(torsh grads, torch grads) of fn(lib, *leaves).sum() w.r.t. float64 leaves made from ``arrays``."""
    out = []
    for lib in (torsh, torch_ref):
        leaves = [lib.tensor(a, dtype=lib.float64, requires_grad=True) for a in arrays]
        result = fn(lib, *leaves)
        out.append(lib.autograd.grad(result.sum(), leaves))
    return out


# -- var_mean / std_mean: dim=None with keepdim, and the positional `unbiased` form ----------------
@pytest.mark.parametrize("op", ["var_mean", "std_mean"])
@pytest.mark.parametrize("call", [
    lambda f, x: f(x, dim=None, correction=0, keepdim=True),
    lambda f, x: f(x, True),
    lambda f, x: f(x, False),
    lambda f, x: f(x, dim=None, keepdim=True),
], ids=["dim_none_keepdim", "unbiased_true", "unbiased_false", "dim_none_keepdim_default"])
def test_var_std_mean_forms(op, call):
    x = make_array((5, 5, 5), "float32")
    ours, ref = both(lambda lib: call(getattr(lib, op), lib.tensor(x)))
    assert_same_structure_close(ours, ref)


# -- broadcasting gradients -------------------------------------------------------------------
@pytest.mark.parametrize("op", ["clamp_min", "clamp_max"])
def test_clamp_bound_tensor_broadcasts_input_gradient(op):
    x, bound = make_array((5, 1), seed=1), make_array((5,), seed=2)
    ours, ref = grads_of(lambda lib, a, b: getattr(lib, op)(a, b), x, bound)
    assert_same_structure_close(ours, ref)


def test_clamp_tensor_bounds_gradients_where_min_exceeds_max():
    # where min > max every output is max: PyTorch gives the gradient to max, none to min
    x, lo, hi = make_array((4, 6), seed=3), make_array((4, 6), seed=4), make_array((4, 6), seed=5)
    ours, ref = grads_of(lambda lib, a, b, c: lib.clamp(a, b, c), x, lo, hi)
    assert_same_structure_close(ours, ref)


def test_clamp_broadcast_bounds_gradients():
    x, lo, hi = make_array((2, 3, 4), seed=6), make_array((4,), seed=7), make_array((3, 1), seed=8)
    ours, ref = grads_of(lambda lib, a, b, c: lib.clamp(a, b, c), x, lo, hi)
    assert_same_structure_close(ours, ref)


def test_masked_fill_mask_broadcasting_input_gradient():
    x, value = make_array((5,), seed=9), np.array(0.5)
    mask = make_array((5, 5), "bool", seed=10)
    ours, ref = grads_of(lambda lib, a, v: lib.masked_fill(a, lib.tensor(mask), v), x, value)
    assert_same_structure_close(ours, ref)


# -- quantile of a 0-d tensor along dim 0 ----------------------------------------------------------
@pytest.mark.parametrize("op", ["quantile", "nanquantile"])
@pytest.mark.parametrize("keepdim", [True, False])
def test_quantile_zero_dim_input_with_dim(op, keepdim):
    ours, ref = both(lambda lib: getattr(lib, op)(lib.tensor(1.5), 0.5, dim=0, keepdim=keepdim))
    assert_close(ours, ref)


# -- diff with n=0: a copy of input, prepend/append left out -----------------------------------------
def test_diff_n_zero_ignores_prepend_and_append():
    x, pre, app = make_array((5, 5), seed=11), make_array((1, 5), seed=12), make_array((2, 5), seed=13)
    ours, ref = both(lambda lib: lib.diff(lib.tensor(x), 0, 0, lib.tensor(pre), lib.tensor(app)))
    assert_close(ours, ref)


# -- sum_to_size to a 0-d size sums (bool -> int64) ---------------------------------------------------
@pytest.mark.parametrize("shape", [(), (2, 3)])
def test_sum_to_size_of_bool_to_zero_dim(shape):
    x = make_array(shape, "bool", seed=14)
    ours, ref = both(lambda lib: lib.tensor(x).sum_to_size(()))
    assert_close(ours, ref)


# -- complex / polar with broadcasting parts -----------------------------------------------------------
@pytest.mark.parametrize("op", ["complex", "polar"])
def test_complex_parts_broadcast_gradients(op):
    a, b = make_array((5,), seed=15, low=0.5), np.array(0.7)

    def real_sum(lib, x, y):
        z = getattr(lib, op)(x, y)
        return z.real + z.imag
    for first, second in ((a, b), (b, a)):
        ours, ref = grads_of(real_sum, first, second)
        assert_same_structure_close(ours, ref)


def test_gradient_spacing_none_is_unit_spacing():
    x = make_array((5, 4), "float32", seed=16)
    ours, ref = both(lambda lib: lib.gradient(lib.tensor(x), spacing=None, dim=None, edge_order=1))
    assert_same_structure_close(ours, ref)
