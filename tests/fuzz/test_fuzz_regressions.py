"""Divergences the fuzz suite found and that were fixed in torsh/_ops/{scan,sorting,gather_scatter}.py:
each case, as hypothesis first reported it (or minimised), must keep agreeing with PyTorch 2.13."""
import numpy as np
import pytest

from .case import Call, TensorSpec
from .compare import check

BOOL_0D = TensorSpec(np.array(False), "bool")
BOOLS = TensorSpec(np.array([True, False, True]), "bool")
LONGS = TensorSpec(np.array([3, 1, 2]), "int64")

CASES = [
    # logcumsumexp has no integer kernel: NotImplementedError, no promotion to float
    Call("logcumsumexp", (BOOL_0D, 0)),
    Call("logcumsumexp", (LONGS, 0)),
    # bool inputs: topk RuntimeError, median/nanmedian/kthvalue NotImplementedError naming the kernel
    Call("topk", (BOOL_0D, 0), {"dim": 0, "largest": False}),
    Call("median", (BOOL_0D,)),
    Call("median", (BOOLS, 0)),
    Call("nanmedian", (BOOL_0D,)),
    Call("nanmedian", (BOOLS,), {"dim": 0}),
    Call("kthvalue", (BOOLS, 1)),
    # unique(dim=) with a zero-size dim elsewhere
    Call("unique", (TensorSpec(np.zeros((4, 1, 0, 0), np.int32), "int32"),), {"dim": 1, "return_inverse": True}),
    Call("unique", (TensorSpec(np.zeros((4, 0), np.int32), "int32"),), {"dim": 0}),
    # the dim is checked before the index dtype (IndexError, not RuntimeError)
    Call("scatter", (TensorSpec(np.array(True), "bool"), 1, TensorSpec(np.array(-2.0, np.float32), "float32"),
                     BOOL_0D)),
    Call("gather", (TensorSpec(np.array(1.0), "float64"), 1, TensorSpec(np.array(0.0, np.float32), "float32"))),
    # index_select on a 0-d input takes exactly one index
    Call("index_select", (BOOL_0D, 0, TensorSpec(np.zeros(0, np.int64), "int64"))),
    Call("index_select", (TensorSpec(np.array(1.0), "float64"), 0, TensorSpec(np.zeros(2, np.int64), "int64"))),
]


@pytest.mark.parametrize("call", CASES, ids=repr)
def test_fixed_divergence(call, worker):
    check(call, worker)
