"""Unary, binary (broadcasting, type promotion, scalar operands) and ternary elementwise ops against PyTorch.

Large inputs (LARGE_SHAPES) reach the compiled kernels; every torsh call runs in the worker subprocess.
"""
import pytest
from hypothesis import given, strategies as st

from .case import Call
from .compare import check
from .profiles import examples
from .strategies import broadcast_shape, scalars, tensors

UNARY = ("abs", "neg", "exp", "exp2", "expm1", "log", "log2", "log10", "log1p", "sqrt", "rsqrt", "sin", "cos",
         "tan", "asin", "acos", "atan", "sinh", "cosh", "tanh", "asinh", "acosh", "atanh", "sigmoid", "erf", "erfc",
         "floor", "ceil", "round", "trunc", "frac", "sign", "sgn", "reciprocal", "square", "bitwise_not",
         "logical_not", "isnan", "isinf", "isfinite", "signbit", "nan_to_num", "relu", "deg2rad", "rad2deg",
         "positive", "isposinf", "isneginf", "angle")

BINARY = ("add", "sub", "mul", "div", "true_divide", "pow", "remainder", "floor_divide", "atan2", "fmod", "maximum",
          "minimum", "fmax", "fmin", "eq", "ne", "lt", "le", "gt", "ge", "logical_and", "logical_or", "logical_xor",
          "bitwise_and", "bitwise_or", "bitwise_xor", "hypot", "copysign", "xlogy", "logaddexp")


@pytest.mark.parametrize("op", UNARY)
@examples(8)
@given(data=st.data())
def test_unary(op, data, worker):
    x = data.draw(tensors(large=True), label="x")
    check(Call(op, (x,)), worker)


@st.composite
def binary_operands(draw):
    """(a, b): tensors of broadcast-compatible (or not) shapes and any dtypes, or a tensor and a Python scalar."""
    a = draw(tensors(large=True), label="a")
    if draw(st.integers(0, 4)) == 0:
        b = draw(scalars(), label="scalar")
    else:
        b = draw(tensors(shape=broadcast_shape(a.shape)), label="b")
    return (a, b) if draw(st.booleans()) or not hasattr(b, "base") else (b, a)


@pytest.mark.parametrize("op", BINARY)
@examples(10)
@given(data=st.data())
def test_binary(op, data, worker):
    check(Call(op, data.draw(binary_operands())), worker)


@pytest.mark.parametrize("op", ("__add__", "__mul__", "__truediv__", "__sub__", "__pow__", "__mod__", "__floordiv__",
                                "__rsub__", "__rtruediv__", "__lt__", "__and__", "__or__"))
@examples(6)
@given(data=st.data())
def test_operator(op, data, worker):
    a = data.draw(tensors(), label="a")
    b = data.draw(st.one_of(scalars(), tensors(shape=broadcast_shape(a.shape))), label="b")
    check(Call("." + op, (a, b)), worker)


@examples(20)
@given(data=st.data())
def test_where(data, worker):
    cond = data.draw(tensors(dtypes=("bool", "bool", "bool", "uint8", "float32")), label="cond")
    a = data.draw(st.one_of(scalars(), tensors(shape=broadcast_shape(cond.shape))), label="a")
    b = data.draw(st.one_of(scalars(), tensors(shape=broadcast_shape(cond.shape))), label="b")
    check(Call("where", (cond, a, b)), worker)


@examples(20)
@given(data=st.data())
def test_clamp(data, worker):
    x = data.draw(tensors(large=True), label="x")
    bound = st.one_of(st.none(), scalars(), tensors(shape=broadcast_shape(x.shape)))
    lo, hi = data.draw(bound, label="min"), data.draw(bound, label="max")
    check(Call("clamp", (x,), {"min": lo, "max": hi}), worker)
