"""Tensor.apply_/map_/map2_, const_data_ptr, dim_order, to_dense, dense_dim, new_empty_strided and the attributes
and methods that only report or refuse (volatile, name, grad_dtype, is_coalesced, coalesce, reinforce), against
PyTorch 2.13."""
import numpy as np
import pytest

import torsh
from helpers import assert_close, check_same_error, needs_torch, torch_ref

pytestmark = needs_torch


@pytest.mark.parametrize("case", [
    lambda lib: lib.arange(6.0).reshape(2, 3).apply_(lambda v: v * v - 1),
    lambda lib: lib.arange(4).apply_(lambda v: v // 2 + 7),
    lambda lib: lib.arange(4.0).map_(lib.tensor([1.0, -1.0, 2.0, 0.5]), lambda a, b: a * b),
    lambda lib: lib.arange(6.0).reshape(2, 3).map_(lib.tensor([10.0, 20.0, 30.0]), lambda a, b: a + b),
    lambda lib: lib.arange(4.0).map2_(lib.ones(4), lib.tensor([3.0]), lambda a, b, c: a + b * c),
    lambda lib: lib.arange(4.0).to_dense(lib.float64),
    lambda lib: lib.arange(4.0).to_dense(),
])
def test_elementwise_callables_and_to_dense(case):
    assert_close(case(torsh), case(torch_ref))


def test_apply_writes_in_place_and_bumps_the_version():
    x = torsh.arange(4.0)
    view = x[1:]
    before = x._version
    assert x.apply_(lambda v: -v) is x
    assert view.tolist() == [-1.0, -2.0, -3.0] and x._version > before


@pytest.mark.parametrize("case", [
    lambda lib: lib.arange(4.0).requires_grad_().apply_(lambda v: v),
    lambda lib: lib.arange(4.0).requires_grad_().map_(lib.ones(4), lambda a, b: a),
    lambda lib: lib.arange(4.0).map_(lib.ones(3), lambda a, b: a + b),
    lambda lib: lib.arange(4.0).is_coalesced(),
    lambda lib: lib.arange(4.0).coalesce(),
    lambda lib: lib.arange(4.0).reinforce(1.0),
])
def test_refusals(case):
    check_same_error(case)


@pytest.mark.parametrize("make", [
    lambda lib: lib.ones(2, 3),
    lambda lib: lib.ones(2, 3).transpose(0, 1),
    lambda lib: lib.ones(2, 3, 4).permute(2, 0, 1),
    lambda lib: lib.ones(()),
])
def test_layout_queries(make):
    ours, ref = make(torsh), make(torch_ref)
    assert ours.dim_order() == ref.dim_order()
    assert ours.dense_dim() == ref.dense_dim()
    assert ours.const_data_ptr() == ours.data_ptr()
    assert (ours.volatile, ours.name) == (ref.volatile, ref.name) == (False, None)
    assert str(ours.grad_dtype).split(".")[-1] == str(ref.grad_dtype).split(".")[-1]


@pytest.mark.parametrize("size,stride", [((2, 2), (1, 2)), ((3, 4), (4, 1)), ((2, 0), (1, 1)), ((), ())])
def test_new_empty_strided(size, stride):
    ours = torsh.ones(2, dtype=torsh.float64).new_empty_strided(size, stride)
    ref = torch_ref.ones(2, dtype=torch_ref.float64).new_empty_strided(size, stride)
    assert tuple(ours.shape) == tuple(ref.shape) and ours.stride() == ref.stride() and ours.dtype == torsh.float64
    assert torsh.ones(2).new_empty_strided(size, stride, dtype=torsh.int32).dtype == torsh.int32
    assert np.shape(ours.numpy()) == tuple(size)
