"""Table-driven forward / backward / gradcheck tests (issue "Foundation", part 3).

Every entry of ``OPS`` is an OpInfo-like record: a function ``fn(lib, *tensors, **kwargs)``
that is run once with ``lib=torsh`` and once with ``lib=torch`` (the reference), and a list of
sample inputs (0-dim, empty, broadcasting, non-contiguous, negative dims ...).  Three tests
are generated from the table:

* ``test_forward``   -- values, dtype and shape for each dtype the op lists;
* ``test_backward``  -- gradients of a random-weighted sum of the outputs (float32);
* ``test_gradcheck`` -- ``torsh.autograd.gradcheck`` in float64.
"""

import math
from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np
import pytest

import torsh
from helpers import (INT_DTYPES, assert_close, assert_same_structure_close, dtype_name,
                     float_outputs, from_array, make_array, numeric_jacobian_check,
                     torch_ref, weighted_sum)


# ============================================================================ table machinery

@dataclass
class Sample:
    shapes: tuple                       # shapes of the tensor arguments
    kwargs: dict = field(default_factory=dict)
    prep: object = None                 # callable, or tuple of callables (one per argument)
    name: str = ""

    def prep_for(self, k):
        p = self.prep[k] if isinstance(self.prep, tuple) else self.prep
        return p or (lambda t: t)

    @property
    def id(self):
        if self.name:
            return self.name
        shapes = "_".join("x".join(map(str, s)) or "0d" for s in self.shapes)
        kw = ",".join(f"{k}={v}" for k, v in self.kwargs.items() if not callable(v))
        return shapes + (f"[{kw}]" if kw else "")


def S(*shapes, prep=None, name="", **kwargs):
    return Sample(shapes, kwargs, prep, name)


@dataclass
class Op:
    name: str
    fn: Callable                        # fn(lib, *tensors, **kwargs)
    samples: list
    dtypes: tuple = ("float32", "float64")
    domain: object = (-2.0, 2.0)        # (low, high), or a list of them (one per argument)
    differentiable: bool = True
    rounded: bool = False               # round float inputs to integers (to get ties / equality)
    np_ref: Optional[Callable] = None   # NumPy reference, used only when torch is unavailable
    gradcheck: bool = True              # False for ops whose output is lower precision (float32)
    rtol: Optional[float] = None
    atol: Optional[float] = None

    def domain_for(self, k):
        return self.domain[k] if isinstance(self.domain, list) else self.domain


def make_inputs(op, sample, dtype, seed=0):
    arrays = []
    for k, shape in enumerate(sample.shapes):
        low, high = op.domain_for(k)
        if dtype in INT_DTYPES:
            low, high = math.ceil(low), math.floor(high)
        arr = make_array(shape, dtype, low, high, seed=seed + 11 * k)
        if op.rounded and arr.dtype.kind == "f":
            arr = np.round(arr)
        arrays.append(arr)
    return arrays


def run(lib, op, sample, arrays, dtype, requires_grad=False):
    """(leaf tensors, output) of ``op`` on ``arrays`` in library ``lib``."""
    leaves = [from_array(lib, a, dtype, requires_grad) for a in arrays]
    args = [sample.prep_for(k)(t) for k, t in enumerate(leaves)]
    return leaves, op.fn(lib, *args, **sample.kwargs)


def reference_forward(op, sample, arrays, dtype):
    if torch_ref is not None:
        return run(torch_ref, op, sample, arrays, dtype)[1], True
    if op.np_ref is None or sample.prep is not None:
        pytest.skip("needs torch (no NumPy reference for this op / sample)")
    return np.asarray(op.np_ref(*arrays, **sample.kwargs)), False


def differentiable_outputs(out):
    outs = float_outputs(out)
    return outs[0] if len(outs) == 1 else outs


# ============================================================================ sample sets

T = lambda t: t.transpose(0, 1)                   # noqa: E731  (4,3) -> (3,4), non-contiguous
STRIDED = lambda t: t[::2, 1:]                     # noqa: E731  (6,5) -> (3,4), non-contiguous
MT = lambda t: t.mT                                # noqa: E731

UNARY = [
    S((3, 4)),
    S((), name="0d"),
    S((0,), name="empty"),
    S((0, 3), name="empty2d"),
    S((4, 3), prep=T, name="transposed"),
    S((6, 5), prep=STRIDED, name="strided"),
]

BINARY = [
    S((3, 4), (3, 4)),
    S((), (), name="0d_0d"),
    S((3, 4), (), name="tensor_0d"),
    S((), (2, 3), name="0d_tensor"),
    S((3, 1), (1, 4), name="broadcast_both"),
    S((2, 3, 4), (4,), name="broadcast_rank"),
    S((0, 3), (3,), name="empty"),
    S((4, 3), (4, 3), prep=T, name="transposed"),
    S((6, 5), (3, 4), prep=(STRIDED, None), name="strided"),
]

POSITIVE = (0.5, 2.0)
FLOATS = ("float32", "float64")
FLOATS_AND_INTS = ("float32", "float64", "int64", "int32")


def unary(name, domain=(-2.0, 2.0), dtypes=FLOATS, np_ref=None, **kw):
    return Op(name, lambda lib, a: getattr(lib, name)(a), UNARY, dtypes=dtypes, domain=domain,
              np_ref=np_ref, **kw)


def binary(name, fn, np_ref, dtypes=FLOATS_AND_INTS, domain=(-2.0, 2.0), **kw):
    return Op(name, fn, BINARY, dtypes=dtypes, domain=domain, np_ref=np_ref, **kw)


def scalar_op(name, fn, np_ref, dtypes=FLOATS_AND_INTS, domain=(-2.0, 2.0), **kw):
    return Op(name, fn, UNARY, dtypes=dtypes, domain=domain, np_ref=np_ref, **kw)


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


# ============================================================================ the table

ELEMENTWISE = [
    binary("add", lambda lib, a, b: a + b, np.add, dtypes=FLOATS_AND_INTS + ("float16", "bfloat16")),
    binary("add_alpha", lambda lib, a, b: lib.add(a, b, alpha=2), lambda a, b: a + 2 * b),
    binary("sub", lambda lib, a, b: a - b, np.subtract),
    binary("sub_alpha", lambda lib, a, b: lib.sub(a, b, alpha=0.5), lambda a, b: a - 0.5 * b,
           dtypes=FLOATS),
    binary("mul", lambda lib, a, b: a * b, np.multiply,
           dtypes=FLOATS_AND_INTS + ("float16", "bfloat16")),
    binary("div", lambda lib, a, b: a / b, np.true_divide, domain=[(-2.0, 2.0), POSITIVE]),
    binary("pow", lambda lib, a, b: a ** b, np.power, domain=[POSITIVE, (-2.0, 2.0)], dtypes=FLOATS),
    binary("pow_int", lambda lib, a, b: a ** b, np.power, domain=[(-3, 3), (0, 3)],
           dtypes=("int64",), differentiable=False),
    binary("maximum", lambda lib, a, b: lib.maximum(a, b), np.maximum),
    binary("max_binary", lambda lib, a, b: lib.max(a, b), np.maximum, dtypes=FLOATS),
    binary("minimum", lambda lib, a, b: lib.minimum(a, b), np.minimum),
    scalar_op("add_scalar", lambda lib, a: a + 2, lambda a: a + 2),
    scalar_op("radd_scalar", lambda lib, a: 2.5 + a, lambda a: 2.5 + a),
    scalar_op("rsub_scalar", lambda lib, a: 2 - a, lambda a: 2 - a),
    scalar_op("sub_scalar", lambda lib, a: a - 1.5, lambda a: a - 1.5),
    scalar_op("mul_scalar", lambda lib, a: a * 1.5, lambda a: a * 1.5),
    scalar_op("rmul_scalar", lambda lib, a: 3 * a, lambda a: 3 * a),
    scalar_op("div_scalar", lambda lib, a: a / 3, lambda a: a / 3),
    scalar_op("rdiv_scalar", lambda lib, a: 3 / a, lambda a: 3 / a, domain=POSITIVE),
    scalar_op("rpow_scalar", lambda lib, a: 2 ** a, lambda a: 2.0 ** a, dtypes=FLOATS),
    scalar_op("rpow_scalar_int", lambda lib, a: 2 ** a, lambda a: 2 ** a, domain=(0.0, 4.0),
              dtypes=("int64", "int32"), differentiable=False),
    scalar_op("rpow_scalar_int_negative_exponent", lambda lib, a: 2 ** a, None,
              domain=(-3.0, -1.0), dtypes=("int64",), differentiable=False),  # torch gives 0
    scalar_op("pow_scalar_2", lambda lib, a: a ** 2, lambda a: a ** 2),
    scalar_op("pow_scalar_half", lambda lib, a: a ** 0.5, np.sqrt, domain=POSITIVE),
    scalar_op("pow_scalar_neg", lambda lib, a: a ** -1.5, lambda a: a ** -1.5, domain=POSITIVE,
              dtypes=FLOATS),
    scalar_op("neg_operator", lambda lib, a: -a, np.negative),
    unary("neg", dtypes=FLOATS_AND_INTS, np_ref=np.negative),
    unary("abs", dtypes=FLOATS_AND_INTS, np_ref=np.abs),
    unary("exp", dtypes=FLOATS + ("int64", "float16", "bfloat16"), np_ref=np.exp),
    unary("exp2", np_ref=np.exp2),
    unary("log", domain=POSITIVE, dtypes=FLOATS + ("int64",), np_ref=np.log),
    unary("log1p", domain=(-0.5, 2.0), np_ref=np.log1p),
    unary("expm1", np_ref=np.expm1),
    unary("sqrt", domain=POSITIVE, dtypes=FLOATS + ("int64", "float16"), np_ref=np.sqrt),
    unary("rsqrt", domain=POSITIVE, np_ref=lambda a: 1 / np.sqrt(a)),
    unary("sin", dtypes=FLOATS + ("int32",), np_ref=np.sin),
    unary("cos", np_ref=np.cos),
    unary("tanh", dtypes=FLOATS + ("float16",), np_ref=np.tanh),
    unary("sigmoid", dtypes=FLOATS + ("int64",), np_ref=_sigmoid),
    unary("relu", dtypes=FLOATS_AND_INTS, np_ref=lambda a: np.maximum(a, 0)),
    unary("floor", dtypes=FLOATS_AND_INTS, domain=(-3.0, 3.0), np_ref=np.floor),
    unary("ceil", dtypes=FLOATS_AND_INTS, domain=(-3.0, 3.0), np_ref=np.ceil),
    unary("round", dtypes=FLOATS_AND_INTS, domain=(-3.0, 3.0), np_ref=np.round),
]

COMPARISON_DTYPES = ("float32", "int64", "float64")


def comparison(name, fn, np_ref):
    return Op(name, fn, BINARY, dtypes=COMPARISON_DTYPES, rounded=True, differentiable=False,
              np_ref=np_ref)


COMPARISONS = [
    comparison("eq", lambda lib, a, b: a == b, np.equal),
    comparison("ne", lambda lib, a, b: a != b, np.not_equal),
    comparison("lt", lambda lib, a, b: a < b, np.less),
    comparison("le", lambda lib, a, b: a <= b, np.less_equal),
    comparison("gt", lambda lib, a, b: a > b, np.greater),
    comparison("ge", lambda lib, a, b: a >= b, np.greater_equal),
    comparison("eq_fn", lambda lib, a, b: lib.eq(a, b), np.equal),
    comparison("lt_fn", lambda lib, a, b: lib.lt(a, b), np.less),
    Op("gt_scalar", lambda lib, a: a > 0, UNARY, dtypes=COMPARISON_DTYPES, differentiable=False,
       np_ref=lambda a: a > 0),
    Op("eq_scalar", lambda lib, a: a == 1, UNARY, dtypes=COMPARISON_DTYPES, rounded=True,
       differentiable=False, np_ref=lambda a: a == 1),
    Op("reflected_lt_scalar", lambda lib, a: 0.5 < a, UNARY, dtypes=COMPARISON_DTYPES,
       differentiable=False, np_ref=lambda a: 0.5 < a),
]

# ---------------------------------------------------------------------------- reductions

REDUCE_SAMPLES = [
    S((3, 4)),
    S((3, 4), dim=1),
    S((3, 4), dim=-1, keepdim=True),
    S((2, 3, 4), dim=(0, 2)),
    S((2, 3, 4), dim=-2),
    S((), name="0d"),
    S((4, 3), dim=0, prep=T, name="transposed_dim0"),
]


def method(name):
    return lambda lib, a, **kw: getattr(a, name)(**kw)


def function(name):
    return lambda lib, a, **kw: getattr(lib, name)(a, **kw)


REDUCTIONS = [
    Op("sum", function("sum"),
       REDUCE_SAMPLES + [S((0, 3), name="empty"), S((0, 3), dim=0, name="empty_dim0")],
       dtypes=("float32", "float64", "int32", "int64", "bool", "float16")),
    Op("sum_method", method("sum"), [S((3, 4), dim=0), S((2, 3, 4), dim=[-1, 0], keepdim=True)]),
    Op("sum_dtype", lambda lib, a, **kw: a.sum(dtype=lib.float64, **kw),
       [S((3, 4)), S((3, 4), dim=1)], dtypes=("float32", "int32")),
    Op("mean", function("mean"), REDUCE_SAMPLES),
    Op("mean_dtype", lambda lib, a, **kw: a.mean(dtype=lib.float64, **kw),
       [S((3, 4)), S((3, 4), dim=0)], dtypes=("float32",)),
    Op("prod", function("prod"),
       [S((3, 4)), S((3, 4), dim=1), S((3, 4), dim=0, keepdim=True), S((), name="0d"),
        S((4, 3), dim=-1, prep=T, name="transposed")],
       dtypes=("float32", "float64", "int64")),
    Op("prod_dtype", lambda lib, a: a.prod(dtype=lib.float64), [S((2, 3))],
       dtypes=("float32", "int32")),
    Op("max_all", lambda lib, a: a.max(), [S((3, 4)), S((), name="0d"), S((4, 3), prep=T)],
       dtypes=("float32", "float64", "int64")),
    Op("min_all", lambda lib, a: lib.min(a), [S((3, 4)), S((), name="0d")],
       dtypes=("float32", "float64", "int64")),
    Op("max_dim", lambda lib, a, **kw: a.max(**kw),
       [S((3, 4), dim=1), S((3, 4), dim=-1, keepdim=True), S((2, 3, 4), dim=0),
        S((4, 3), dim=0, prep=T, name="transposed"), S((), dim=0, name="0d")]),
    Op("min_dim", lambda lib, a, **kw: lib.min(a, **kw),
       [S((3, 4), dim=0), S((3, 4), dim=-2, keepdim=True), S((2, 3, 4), dim=2)]),
    Op("argmax", function("argmax"),
       [S((3, 4)), S((3, 4), dim=1), S((3, 4), dim=0, keepdim=True), S((2, 3, 4), dim=-1),
        S((4, 3), dim=1, prep=T, name="transposed")],
       dtypes=("float32", "int64"), differentiable=False),
    Op("argmin", method("argmin"),
       [S((3, 4)), S((3, 4), dim=-1), S((2, 3, 4), dim=1, keepdim=True)],
       dtypes=("float32", "int64"), differentiable=False),
    Op("var", function("var"),
       [S((3, 4)), S((3, 4), dim=1), S((3, 4), dim=0, unbiased=False),
        S((3, 4), dim=1, correction=0), S((3, 4), dim=1, correction=2, keepdim=True),
        S((2, 3, 4), dim=(0, 2)), S((4, 3), dim=-1, prep=T, name="transposed")]),
    Op("std", method("std"),
       [S((3, 4)), S((3, 4), dim=1), S((3, 4), unbiased=False), S((3, 4), dim=-1, correction=0),
        S((2, 3, 4), dim=(1, 2), keepdim=True)]),
    Op("logsumexp", lambda lib, a, **kw: lib.logsumexp(a, **kw),
       [S((3, 4), dim=1), S((3, 4), dim=-1, keepdim=True), S((2, 3, 4), dim=(0, 2)),
        S((3, 4), dim=0, prep=None), S((), dim=0, name="0d"),
        S((4, 3), dim=1, prep=T, name="transposed")],
       domain=(-20.0, 20.0)),
    Op("norm", method("norm"),
       [S((3, 4)), S((3, 4), p=1), S((3, 4), p="fro"), S((3, 4), p=float("inf")),
        S((3, 4), dim=1), S((3, 4), p=2, dim=0, keepdim=True), S((3, 4), p=1, dim=-1),
        S((4, 3), prep=T, name="transposed")]),
]

# ---------------------------------------------------------------------------- shape ops

def seq_fn(name):
    """fn for ops taking a sequence of tensors (cat / stack)."""
    return lambda lib, *ts, **kw: getattr(lib, name)(list(ts), **kw)


SHAPE_OPS = [
    Op("view", lambda lib, a, shape: a.view(*shape),
       [S((3, 4), shape=(4, 3)), S((3, 4), shape=(-1,)), S((2, 6), shape=(2, -1, 3)),
        S((), shape=(1, 1)), S((0, 3), shape=(3, 0)), S((4,), shape=(2, 2))],
       dtypes=("float32", "int64")),
    Op("reshape", lambda lib, a, shape: a.reshape(shape),
       [S((3, 4), shape=(2, 6)), S((4, 3), shape=(-1,), prep=T, name="transposed"),
        S((6, 5), shape=(4, 3), prep=STRIDED, name="strided"), S((), shape=(1,))],
       dtypes=("float32", "int64")),
    Op("transpose", lambda lib, a, d0, d1: a.transpose(d0, d1),
       [S((3, 4), d0=0, d1=1), S((2, 3, 4), d0=-1, d1=-3), S((2, 3, 4), d0=1, d1=1)],
       dtypes=("float32", "int64")),
    Op("permute", lambda lib, a, dims: a.permute(*dims) if dims else a.permute(dims),
       [S((2, 3, 4), dims=(2, 0, 1)), S((2, 3, 4), dims=(-1, 0, 1)), S((), dims=())]),
    Op("permute_fn", lambda lib, a, dims: lib.permute(a, dims), [S((2, 3, 4), dims=(1, 2, 0))]),
    Op("t", lambda lib, a: a.t(), [S((3, 4)), S((3,), name="1d"), S((), name="0d")]),
    Op("mT", lambda lib, a: a.mT, [S((3, 4)), S((2, 3, 4), name="batched")]),
    Op("squeeze", lambda lib, a, **kw: a.squeeze(*kw.values()),
       [S((3, 1, 4, 1)), S((3, 1, 4, 1), dim=1), S((3, 1, 4, 1), dim=-1),
        S((3, 1, 4, 1), dim=0, name="non_unit_dim"), S((3, 1, 4, 1), dim=(1, 3), name="tuple"),
        S((1,), name="to_0d")]),
    Op("unsqueeze", lambda lib, a, dim: a.unsqueeze(dim),
       [S((3, 4), dim=0), S((3, 4), dim=-1), S((3, 4), dim=1), S((), dim=0, name="0d"),
        S((4, 3), dim=-2, prep=T, name="transposed")]),
    Op("flatten", lambda lib, a, **kw: a.flatten(**kw),
       [S((2, 3, 4)), S((2, 3, 4), start_dim=1), S((2, 3, 4), start_dim=0, end_dim=1),
        S((2, 3, 4), start_dim=-2, end_dim=-1), S((), name="0d"),
        S((4, 3), prep=T, name="transposed")]),
    Op("expand", lambda lib, a, shape: a.expand(*shape),
       [S((3, 1), shape=(3, 4)), S((3, 1), shape=(2, 3, 4)), S((3, 1), shape=(-1, 5)),
        S((), shape=(2, 2), name="0d"), S((1,), shape=(0,), name="to_empty")]),
    Op("expand_as", lambda lib, a, b: a.expand_as(b), [S((1, 4), (3, 4))]),
    Op("contiguous", lambda lib, a: a.contiguous(),
       [S((3, 4)), S((4, 3), prep=T, name="transposed"), S((6, 5), prep=STRIDED, name="strided")]),
    Op("cat", seq_fn("cat"),
       [S((2, 3), (4, 3)), S((2, 3), (2, 5), dim=1), S((2, 3), (2, 1), (2, 2), dim=-1),
        S((2, 3), (0, 3), name="with_empty"), S((3, 2), (3, 2), dim=0, prep=T, name="transposed")],
       dtypes=("float32", "float64", "int64")),
    Op("stack", seq_fn("stack"),
       [S((2, 3), (2, 3)), S((2, 3), (2, 3), (2, 3), dim=1), S((2, 3), (2, 3), dim=-1),
        S((), (), name="0d"), S((3, 2), (3, 2), dim=2, prep=T, name="transposed")],
       dtypes=("float32", "int64")),
    Op("split_int", lambda lib, a, **kw: a.split(2, **kw),
       [S((5, 3)), S((3, 5), dim=1), S((3, 4), dim=-1), S((4, 3), dim=0, prep=T)]),
    Op("split_list", lambda lib, a, sizes, **kw: lib.split(a, sizes, **kw),
       [S((5, 3), sizes=[1, 4]), S((3, 5), sizes=[2, 0, 3], dim=1),
        S((3, 4), sizes=[1, 1, 1, 1], dim=-1)]),
    Op("chunk", lambda lib, a, n, **kw: a.chunk(n, **kw),
       [S((6, 2), n=3), S((5,), n=2), S((3, 7), n=3, dim=1), S((3, 4), n=2, dim=-1)]),
    Op("clone", lambda lib, a: a.clone(), UNARY, dtypes=("float32", "int64")),
    Op("detach", lambda lib, a: a.detach(), [S((3, 4)), S((4, 3), prep=T)], differentiable=False),
    Op("to_float64", lambda lib, a: a.to(lib.float64), [S((3, 4)), S((), name="0d")],
       dtypes=("float32", "int64", "float16")),
    Op("to_float32_dtype_kw", lambda lib, a: a.to(dtype=lib.float32), [S((3, 4))],
       dtypes=("float64",), gradcheck=False),
    Op("to_int64", lambda lib, a: a.to(lib.int64), [S((3, 4))], domain=(-5.0, 5.0),
       differentiable=False),
    Op("to_bool", lambda lib, a: a.to(lib.bool), [S((3, 4))], rounded=True, differentiable=False),
    Op("double", lambda lib, a: a.double(), [S((3, 4))], dtypes=("float32",)),
    Op("float", lambda lib, a: a.float(), [S((3, 4))], dtypes=("float64", "int32"),
       gradcheck=False),
]

# ---------------------------------------------------------------------------- linear algebra

LINALG = [
    Op("matmul", lambda lib, a, b: a @ b,
       [S((3, 4), (4, 5)), S((4,), (4,), name="1d_1d"), S((4,), (4, 5), name="1d_2d"),
        S((3, 4), (4,), name="2d_1d"), S((2, 1, 3, 4), (5, 4, 2), name="batched_broadcast"),
        S((3, 4), (2, 4, 5), name="2d_3d"), S((2, 3, 4), (4,), name="3d_1d"),
        S((0, 3), (3, 4), name="empty_rows"), S((3, 0), (0, 4), name="empty_inner"),
        S((5, 3), (4, 5), prep=(MT, MT), name="transposed")]),
    Op("matmul_fn", lambda lib, a, b: lib.matmul(a, b), [S((2, 3, 4), (2, 4, 5))],
       dtypes=("float32", "float64", "int64")),
    Op("mm", lambda lib, a, b: lib.mm(a, b),
       [S((3, 4), (4, 5)), S((4, 3), (5, 4), prep=(T, T), name="transposed"),
        S((0, 3), (3, 2), name="empty")]),
    Op("bmm", lambda lib, a, b: lib.bmm(a, b),
       [S((2, 3, 4), (2, 4, 5)), S((2, 4, 3), (2, 4, 5), prep=(MT, None), name="transposed")]),
]

# ---------------------------------------------------------------------------- selection

CLAMP_DOMAIN = [(-2.0, 2.0), (-1.5, -0.2), (0.2, 1.5)]

SELECTION = [
    Op("where", lambda lib, a, b: lib.where(a > 0, a, b), BINARY),
    Op("where_scalar", lambda lib, a: lib.where(a > 0, a, 0.0), UNARY),
    Op("where_method", lambda lib, a, b: a.where(b > 0, b), [S((3, 4), (3, 4)), S((3, 1), (4,))]),
    Op("clamp_min", lambda lib, a: a.clamp(min=-0.5), UNARY, dtypes=FLOATS_AND_INTS),
    Op("clamp_max", lambda lib, a: lib.clamp(a, max=0.5), UNARY),
    Op("clamp_both", lambda lib, a: a.clamp(-0.5, 0.5), UNARY, dtypes=FLOATS_AND_INTS),
    Op("clip", lambda lib, a: a.clip(-1, 1), [S((3, 4))]),
    Op("clamp_tensor", lambda lib, a, lo, hi: lib.clamp(a, min=lo, max=hi),
       [S((3, 4), (3, 4), (3, 4)), S((3, 4), (4,), (3, 1), name="broadcast"),
        S((3, 4), (), (), name="0d_bounds")], domain=CLAMP_DOMAIN),
    Op("clamp_tensor_min", lambda lib, a, lo: a.clamp(min=lo), [S((3, 4), (4,))],
       domain=CLAMP_DOMAIN[:2]),
]

# ---------------------------------------------------------------------------- indexing

def _idx(spec):
    """Index builder: a constant, or a function of (lib, tensor)."""
    return spec if callable(spec) else (lambda lib, a: spec)


def getitem_op(name, shape, spec, dtypes=("float32", "int64")):
    return Op("getitem_" + name, lambda lib, a, idx: a[idx(lib, a)],
              [S(shape, idx=_idx(spec), name=name)], dtypes=dtypes)


GETITEM = [
    getitem_op("int", (4, 5), 1),
    getitem_op("neg_int", (4, 5), -1),
    getitem_op("int_int", (4, 5), (1, -2)),
    getitem_op("int_to_0d", (4,), 2),
    getitem_op("slice", (4, 5), slice(1, 3)),
    getitem_op("slice_step", (4, 5), (slice(None), slice(None, None, 2))),
    getitem_op("slice_out_of_range", (4, 5), slice(2, 100)),
    getitem_op("slice_empty", (4, 5), slice(3, 1)),
    getitem_op("none", (4, 5), None),
    getitem_op("none_int", (4, 5), (None, 1)),
    getitem_op("ellipsis_none", (2, 3, 4), (Ellipsis, None)),
    getitem_op("ellipsis_int", (2, 3, 4), (Ellipsis, 1)),
    getitem_op("int_ellipsis", (2, 3, 4), (1, Ellipsis)),
    getitem_op("bool_mask_data", (4, 5), lambda lib, a: a > 0),
    getitem_op("bool_mask_rows", (4, 5), lambda lib, a: lib.tensor([True, False, True, False])),
    getitem_op("bool_mask_cols", (4, 5),
               lambda lib, a: (slice(None), lib.tensor([False, True, True, False, True]))),
    getitem_op("long_tensor", (4, 5), lambda lib, a: lib.tensor([0, 2])),
    getitem_op("long_tensor_2d", (4, 5), lambda lib, a: lib.tensor([[0, 1], [3, 0]])),
    getitem_op("long_tensor_negative", (4, 5), lambda lib, a: lib.tensor([-1, 0])),
    getitem_op("list_repeated", (4, 5), [0, 2, 2]),
    getitem_op("list_cols", (4, 5), (slice(None), [0, 3])),
    getitem_op("list_pairs", (4, 5), ([0, 1, 3], [1, 2, 4])),
    getitem_op("list_broadcast", (4, 5), ([[0], [1]], [1, 2, 4])),
    getitem_op("int_and_tensor", (4, 5), lambda lib, a: (1, lib.tensor([0, 2]))),
    getitem_op("tensor_and_slice", (4, 5), lambda lib, a: (lib.tensor([0, 2]), slice(1, 3))),
    getitem_op("0d_tensor_index", (4, 5), lambda lib, a: lib.tensor(2)),
    Op("getitem_transposed", lambda lib, a: a[1:, [0, 2]], [S((4, 3), prep=T, name="T")]),
]


def _setitem(x, idx, value):
    x = x.clone()   # never write into the leaf
    x[idx] = value
    return x


def setitem_op(name, shape, spec, value_shape=None, scalar=1.5, dtypes=FLOATS):
    idx = _idx(spec)
    if value_shape is None:
        return Op("setitem_" + name, lambda lib, a: _setitem(a, idx(lib, a), scalar),
                  [S(shape, name=name)], dtypes=dtypes)
    return Op("setitem_" + name, lambda lib, a, v: _setitem(a, idx(lib, a), v),
              [S(shape, value_shape, name=name)], dtypes=dtypes)


SETITEM = [
    setitem_op("int", (4, 5), 0, (5,)),
    setitem_op("int_broadcast", (4, 5), 1, ()),
    setitem_op("column", (4, 5), (slice(None), 1), (4,)),
    setitem_op("slice_broadcast", (4, 5), slice(1, 3), (5,)),
    setitem_op("ellipsis", (2, 3, 4), (Ellipsis, 0), (2, 3)),
    setitem_op("none", (4, 5), (None, 2), (5,)),
    setitem_op("int_int_scalar", (4, 5), (1, 2), None),
    setitem_op("mask_scalar", (4, 5), lambda lib, a: a > 0, None, scalar=0.0),
    setitem_op("mask_rows", (4, 5), lambda lib, a: lib.tensor([True, False, True, False]), (2, 5)),
    setitem_op("long_tensor", (4, 5), lambda lib, a: lib.tensor([0, 2]), (2, 5)),
    setitem_op("list_pairs", (4, 5), ([1, 3], [0, 4]), (2,)),
    setitem_op("list_cols", (4, 5), (slice(None), [0, 2]), (4, 2)),
    setitem_op("int_dtype_scalar", (4, 5), 2, None, scalar=7, dtypes=("int64",)),
]

OPS = ELEMENTWISE + COMPARISONS + REDUCTIONS + SHAPE_OPS + LINALG + SELECTION + GETITEM + SETITEM


def _cases(grad, gradcheck=False):
    out = []
    for op in OPS:
        if grad and not op.differentiable or gradcheck and not op.gradcheck:
            continue
        for s in op.samples:
            # finite differences need at least one element (torch's gradcheck rejects empty inputs)
            if gradcheck and any(0 in shape for shape in s.shapes):
                continue
            out.append(pytest.param(op, s, id=f"{op.name}-{s.id}"))
    return out


FORWARD_CASES = [pytest.param(op, s, dt, id=f"{op.name}-{s.id}-{dt}")
                 for op in OPS for s in op.samples for dt in op.dtypes]


# ============================================================================ the tests

@pytest.mark.parametrize("op,sample,dtype", FORWARD_CASES)
def test_forward(op, sample, dtype):
    arrays = make_inputs(op, sample, dtype)
    _, ours = run(torsh, op, sample, arrays, dtype)
    ref, is_torch = reference_forward(op, sample, arrays, dtype)
    assert_same_structure_close(ours, ref, rtol=op.rtol, atol=op.atol, check_dtype=is_torch)


@pytest.mark.parametrize("op,sample", _cases(grad=True))
def test_backward(op, sample):
    arrays = make_inputs(op, sample, "float32")
    leaves, out = run(torsh, op, sample, arrays, "float32", requires_grad=True)
    for o in float_outputs(out):
        assert o.requires_grad, "output of a differentiable op on leaves requiring grad"
    weighted_sum(torsh, out).backward()
    if torch_ref is None:  # independent finite differences instead of torch
        if not op.gradcheck:
            pytest.skip("needs torch: output precision too low for finite differences")
        leaves64 = [from_array(torsh, a, "float64") for a in arrays]
        numeric_jacobian_check(
            lambda *xs: op.fn(torsh, *[sample.prep_for(k)(x) for k, x in enumerate(xs)],
                              **sample.kwargs), leaves64)
        return
    ref_leaves, ref_out = run(torch_ref, op, sample, arrays, "float32", requires_grad=True)
    weighted_sum(torch_ref, ref_out).backward()
    for k, (ours, ref) in enumerate(zip(leaves, ref_leaves)):
        if ref.grad is None:
            assert ours.grad is None, f"input {k}: torch gives no grad, torsh does"
            continue
        assert ours.grad is not None, f"input {k}: no grad"
        assert_close(ours.grad, ref.grad, rtol=1e-4, atol=1e-5, msg=f"grad of input {k}: ")


@pytest.mark.parametrize("op,sample", _cases(grad=True, gradcheck=True))
def test_gradcheck(op, sample):
    arrays = make_inputs(op, sample, "float64")
    inputs = tuple(from_array(torsh, a, "float64", requires_grad=True) for a in arrays)

    def fn(*xs):
        return differentiable_outputs(
            op.fn(torsh, *[sample.prep_for(k)(x) for k, x in enumerate(xs)], **sample.kwargs))

    assert torsh.autograd.gradcheck(fn, inputs) is True


# ============================================================================ extra op tests

UNARY_NAMES = ["neg", "abs", "exp", "exp2", "log", "log1p", "expm1", "sqrt", "rsqrt", "sin",
               "cos", "tanh", "sigmoid", "relu", "floor", "ceil", "round"]


@pytest.mark.parametrize("name", UNARY_NAMES)
def test_method_and_function_forms_agree(name):
    a = torsh.tensor(make_array((3, 4), "float32", 0.5, 2.0))
    assert_close(getattr(a, name)(), getattr(torsh, name)(a), rtol=0, atol=0)


@pytest.mark.parametrize("name,op", [("add", "__add__"), ("sub", "__sub__"), ("mul", "__mul__"),
                                     ("div", "__truediv__"), ("pow", "__pow__"),
                                     ("matmul", "__matmul__"), ("eq", "__eq__"), ("lt", "__lt__")])
def test_binary_method_function_and_operator_agree(name, op):
    a = torsh.tensor(make_array((3, 3), "float32", 0.5, 2.0, seed=1))
    b = torsh.tensor(make_array((3, 3), "float32", 0.5, 2.0, seed=2))
    expected = getattr(a, op)(b)
    assert_close(getattr(a, name)(b), expected, rtol=0, atol=0)
    assert_close(getattr(torsh, name)(a, b), expected, rtol=0, atol=0)


def test_max_with_dim_returns_named_tuple():
    a = torsh.tensor([[1.0, 5.0, 2.0], [7.0, 0.0, 3.0]])
    r = a.max(dim=1)
    assert isinstance(r, tuple)
    values, indices = r
    assert values.tolist() == [5.0, 7.0] and indices.tolist() == [1, 0]
    assert r.values.tolist() == [5.0, 7.0] and r.indices.tolist() == [1, 0]
    assert r[0].tolist() == [5.0, 7.0]
    assert dtype_name(r.indices.dtype) == "int64"
    r2 = torsh.min(a, 0, keepdim=True)
    assert r2.values.shape == (1, 3) and r2.indices.tolist() == [[0, 1, 0]]


@pytest.mark.parametrize("dtype,expected", [("int32", "int64"), ("bool", "int64"),
                                            ("uint8", "int64"), ("float16", "float16")])
def test_sum_integer_promotes_to_int64(dtype, expected):
    t = from_array(torsh, make_array((3, 2), dtype, 0, 3), dtype)
    assert dtype_name(t.sum().dtype) == expected
    assert dtype_name(t.sum(dim=0).dtype) == expected
    assert dtype_name(t.prod().dtype) == ("int64" if dtype != "float16" else "float16")


def test_mean_of_empty_is_nan():
    assert math.isnan(torsh.zeros(0).mean().item())


def test_inplace_ops_return_self_and_match_out_of_place():
    a = torsh.tensor(make_array((3, 4), "float32", 0.5, 2.0))
    b = torsh.tensor(make_array((3, 4), "float32", 0.5, 2.0, seed=5))
    for name in ("add", "sub", "mul", "div", "pow"):
        x = a.clone()
        assert getattr(x, name + "_")(b) is x
        assert_close(x, getattr(a, name)(b))
    for name in ("exp", "sqrt", "neg", "abs", "sin", "tanh", "sigmoid", "relu", "floor"):
        x = a.clone()
        assert getattr(x, name + "_")() is x
        assert_close(x, getattr(a, name)())
    x = a.clone()
    x += 1
    x *= b
    x -= 2
    x /= b
    assert_close(x, ((a + 1) * b - 2) / b)
