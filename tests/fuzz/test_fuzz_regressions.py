"""Divergences the fuzz suite found and that were fixed in torsh/_ops/tensor/{scan,sorting,indexing/gather_scatter,elementwise/*,
reduction*}.py:
each case, as hypothesis first reported it (or minimised), must keep agreeing with PyTorch 2.13."""
import numpy as np
import pytest

from .case import Call, DType, TensorSpec
from .compare import check

BOOL_0D = TensorSpec(np.array(False), "bool")
BOOLS = TensorSpec(np.array([True, False, True]), "bool")
LONGS = TensorSpec(np.array([3, 1, 2]), "int64")
COMPLEX = TensorSpec(np.array([1 + 1j, -2j], dtype=np.complex64), "complex64")
INT = TensorSpec(np.array([1, 2]), "int64")
FLOATS_3, FLOATS_2 = TensorSpec(np.zeros(3), "float64"), TensorSpec(np.zeros(2), "float64")

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
    # elementwise dtype support (_helpers.UNSUPPORTED_KINDS): bool and complex inputs, frac of integers
    *[Call(op, (BOOL_0D,)) for op in ("abs", "floor", "ceil", "round", "trunc", "relu", "neg", "frac", "square")],
    *[Call(op, (BOOL_0D, BOOL_0D)) for op in ("remainder", "floor_divide", "fmod", ".__mod__", ".__floordiv__")],
    *[Call(op, (COMPLEX,)) for op in ("erf", "erfc", "sign", "rad2deg", "deg2rad", "isposinf", "isneginf", "floor",
                                      "ceil", "round", "trunc", "frac")],
    *[Call(op, (COMPLEX, COMPLEX)) for op in ("lt", "le", "gt", "ge", ".__lt__", "copysign", "remainder",
                                              "floor_divide", "atan2", "fmod", "maximum", "minimum", "fmax", "fmin",
                                              "hypot", ".__mod__", ".__floordiv__", "logaddexp")],
    Call("frac", (INT,)),
    *[Call(op, (FLOATS_3, FLOATS_2)) for op in ("bitwise_and", "bitwise_or", "bitwise_xor")],
    # Python scalars where PyTorch's schema takes a tensor; bool operands of subtraction
    *[Call(op, (INT, True)) for op in ("maximum", "minimum", "fmax", "fmin", "logical_and", "logical_or",
                                       "logical_xor", "atan2", "hypot", "logaddexp", "sub", ".__sub__", ".__rsub__")],
    Call("where", (TensorSpec(np.array(0, dtype=np.uint8), "uint8"), False, False)),
    # reductions: dtype= messages and casts, zero-size extrema, dim=(), uint8 all/any
    Call("mean", (BOOL_0D,), {"dtype": DType("uint8")}),
    Call("amin", (TensorSpec(np.zeros((4, 0), np.float32), "float32"),)),
    Call("nansum", (TensorSpec(np.array(-np.inf, np.float32), "bfloat16"),), {"dtype": DType("int64")}),
    Call("nanmean", (COMPLEX,), {"dim": 3}),
    Call("std", (TensorSpec(np.ones((2, 3)), "float64"),), {"dim": ()}),
    Call("any", (TensorSpec(np.array([0, 2], np.uint8), "uint8"),), {"dim": 0}),
]


@pytest.mark.parametrize("call", CASES, ids=repr)
def test_fixed_divergence(call, worker):
    check(call, worker)
