"""Which dtypes each elementwise op and reduction accepts, against PyTorch 2.13: the result (value and dtype)
where PyTorch computes, the exception type and message where it refuses (``_helpers.UNSUPPORTED_KINDS``).

Each case is ``fn(lib)`` run on both libraries; found by the fuzz suite (tests/fuzz/).
"""
import warnings

import numpy as np
import pytest

import torsh
from helpers import assert_close, check_same_error, needs_torch, torch_ref

pytestmark = needs_torch


def _t(lib, values, dtype):
    return lib.tensor(np.array(values)).to(getattr(lib, dtype))


def B(lib):
    return _t(lib, [True, False], "bool")


def C(lib, dtype="complex64"):
    return _t(lib, [1 + 1j, -2j], dtype)


def I(lib, dtype="int64"):
    return _t(lib, [1, 2], dtype)


def F(lib, values=(1.5, -2.0), dtype="float32"):
    return _t(lib, list(values), dtype)


def check_like_torch(fn):
    """``fn(torsh)`` raises as ``fn(torch)`` does (type and first message line), or returns the same tensor(s)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            ref = fn(torch_ref)
        except Exception:  # noqa: BLE001 - PyTorch refuses: torsh must refuse alike
            check_same_error(fn)
            return
        ours = fn(torsh)
    if isinstance(ref, tuple):
        for o, r in zip(ours, ref):
            assert_close(o, r)
    else:
        assert_close(ours, ref)


UNARY_CASES = [
    # bool: no kernel (abs, floor, ceil, round, trunc, frac), relu's and neg's own messages, square -> int64
    *[(op, B) for op in ("abs", "floor", "ceil", "round", "trunc", "frac", "relu", "neg", "square", "sign", "sgn",
                         "erf", "rad2deg", "isposinf", "signbit")],
    # complex: floor/ceil/trunc/sign/rad2deg/isposinf messages, kernels missing for round/frac/erf/erfc
    *[(op, C) for op in ("floor", "ceil", "round", "trunc", "frac", "sign", "sgn", "erf", "erfc", "rad2deg",
                         "deg2rad", "isposinf", "isneginf", "signbit", "relu", "abs", "neg", "square")],
    # integers: frac has no integer kernel; the rest keep the dtype
    *[(op, lambda lib: I(lib, dt)) for op in ("frac", "floor", "round", "abs") for dt in ("int64", "uint8")],
]


@pytest.mark.parametrize("op,make", UNARY_CASES, ids=[f"{op}-{i}" for i, (op, _) in enumerate(UNARY_CASES)])
def test_unary_dtype_support(op, make):
    check_like_torch(lambda lib: getattr(lib, op)(make(lib)))


def test_neg_operator_and_abs_builtin_of_bool():
    check_like_torch(lambda lib: -B(lib))
    check_like_torch(lambda lib: abs(B(lib)))


BINARY_OPS = ("remainder", "floor_divide", "fmod", "atan2", "maximum", "minimum", "fmax", "fmin", "hypot",
              "logaddexp", "logaddexp2", "copysign", "xlogy", "lt", "le", "gt", "ge", "eq", "sub")
OPERAND_PAIRS = {"bool,bool": (B, B), "complex,complex": (C, C), "int,bool": (I, B), "bool,complex": (B, C),
                 "complex128,int": (lambda lib: C(lib, "complex128"), I)}


@pytest.mark.parametrize("pair", list(OPERAND_PAIRS))
@pytest.mark.parametrize("op", BINARY_OPS)
def test_binary_dtype_support(op, pair):
    a, b = OPERAND_PAIRS[pair]
    check_like_torch(lambda lib: getattr(lib, op)(a(lib), b(lib)))


@pytest.mark.parametrize("op", ("__mod__", "__floordiv__", "__sub__", "__rsub__", "__lt__"))
@pytest.mark.parametrize("other", ("bool", "complex", True, 1))
def test_operator_dtype_support(op, other):
    first = B if op != "__lt__" or other != "complex" else C
    second = {"bool": B, "complex": C}.get(other, lambda lib: other)
    check_like_torch(lambda lib: getattr(first(lib), op)(second(lib)))


@pytest.mark.parametrize("mode", ("floor", "trunc"))
@pytest.mark.parametrize("operands", ("bool", "complex"))
def test_rounding_div_dtype_support(mode, operands):
    make = B if operands == "bool" else C
    check_like_torch(lambda lib: lib.div(make(lib), make(lib), rounding_mode=mode))


@pytest.mark.parametrize("op", ("remainder", "lt", "hypot", "bitwise_and", "bitwise_or", "bitwise_xor", "maximum",
                                "sub"))
@pytest.mark.parametrize("dtype", ("bool", "float64", "complex64"))
def test_shapes_checked_before_or_after_dtype_as_pytorch(op, dtype):
    """Operands that neither broadcast nor have a kernel: PyTorch names the sizes (TensorIterator first), except
    for maximum's complex check and sub's bool check, which come before."""
    check_like_torch(lambda lib: getattr(lib, op)(_t(lib, [0, 1, 0], dtype), _t(lib, [1, 0], dtype)))


@pytest.mark.parametrize("op", ("maximum", "minimum", "fmax", "fmin", "logical_and", "logical_or", "logical_xor",
                                "atan2", "hypot", "logaddexp"))
@pytest.mark.parametrize("scalar", (True, 2, 2.5))
def test_python_scalar_operand_is_a_type_error(op, scalar):
    check_like_torch(lambda lib: getattr(lib, op)(I(lib), scalar))
    check_like_torch(lambda lib: getattr(lib, op)(scalar, I(lib)))


def test_bool_operators_still_take_python_bools():
    for op in ("__and__", "__or__", "__xor__"):
        check_like_torch(lambda lib: getattr(B(lib), op)(True))


@pytest.mark.parametrize("b", ([1 + 1j, -2j], [np.inf + 1j, -np.inf], [np.nan + 0j, 3 - 1j], [-np.inf + 2j, -np.inf]))
def test_logaddexp_of_complex(b):
    check_like_torch(lambda lib: lib.logaddexp(C(lib), _t(lib, b, "complex64")))
    check_like_torch(lambda lib: lib.logaddexp(_t(lib, [np.inf + 0j, -np.inf - 1j], "complex128"),
                                               _t(lib, b, "complex128")))


def test_where_with_a_uint8_condition_warns_and_selects():
    cond = lambda lib: _t(lib, [0, 3, 1], "uint8")  # noqa: E731
    check_like_torch(lambda lib: lib.where(cond(lib), F(lib, (1.0, 2.0, 3.0)), 0.0))
    with pytest.warns(UserWarning, match="where received a uint8 condition tensor"):
        torsh.where(cond(torsh), F(torsh, (1.0, 2.0, 3.0)), 0.0)
    check_like_torch(lambda lib: lib.where(_t(lib, [0, 1], "int64"), F(lib), 0.0))  # other dtypes: refused


# -- reductions ----------------------------------------------------------------------------------
def _empty(lib, shape=(4, 0)):
    return lib.zeros(shape)


EMPTY_CASES = {
    "amax()": lambda lib: lib.amax(_empty(lib)),
    "amin(dim=())": lambda lib: lib.amin(_empty(lib), dim=()),
    "amax(dim=1)": lambda lib: lib.amax(_empty(lib), 1),
    "amax(dim=-1)": lambda lib: lib.amax(_empty(lib), -1),
    "amin(dim=(0, 1))": lambda lib: lib.amin(_empty(lib), dim=(0, 1)),
    "amax(dim=0)": lambda lib: lib.amax(_empty(lib), 0, keepdim=True),
    "max()": lambda lib: lib.max(_empty(lib)),
    "min(dim=-1)": lambda lib: lib.min(_empty(lib), -1),
    "max(dim=0)": lambda lib: lib.max(_empty(lib), 0),
    "argmax()": lambda lib: lib.argmax(_empty(lib, (0,))),
    "argmin()": lambda lib: lib.argmin(_empty(lib)),
    "argmax(dim=-1)": lambda lib: lib.argmax(_empty(lib), -1),
    "argmin(dim=1)": lambda lib: lib.argmin(_empty(lib), 1),
    "argmin(dim=0)": lambda lib: lib.argmin(_empty(lib), 0, keepdim=True),
}


@pytest.mark.parametrize("case", list(EMPTY_CASES))
def test_extrema_of_zero_size_tensors(case):
    check_like_torch(EMPTY_CASES[case])


@pytest.mark.parametrize("op", ("std", "var", "count_nonzero", "all", "any", "sum", "mean", "nansum", "nanmean",
                                "amax", "amin", "logsumexp"))
@pytest.mark.parametrize("keepdim", (False, True))
@pytest.mark.parametrize("shape", ((2, 3), (), (0,), (0, 2)))
def test_empty_dim_tuple(op, keepdim, shape):
    """dim=() reduces over every dim (all/any: none), as PyTorch; logsumexp mirrors PyTorch's refusal."""
    make = lambda lib: lib.arange(6.0)[:int(np.prod(shape, dtype=int))].reshape(shape)  # noqa: E731
    if op == "count_nonzero":
        check_like_torch(lambda lib: lib.count_nonzero(make(lib), dim=()))
    else:
        check_like_torch(lambda lib: getattr(lib, op)(make(lib), dim=(), keepdim=keepdim))


@pytest.mark.parametrize("op", ("all", "any"))
@pytest.mark.parametrize("dtype", ("uint8", "int64", "bool", "float32"))
def test_all_any_result_dtype(op, dtype):
    check_like_torch(lambda lib: getattr(lib, op)(_t(lib, [[0, 2], [1, 1]], dtype)))
    check_like_torch(lambda lib: getattr(lib, op)(_t(lib, [[0, 2], [1, 1]], dtype), 1, keepdim=True))


@pytest.mark.parametrize("source", ("float32", "float64", "float16", "bfloat16"))
@pytest.mark.parametrize("target", ("int64", "int32", "int16", "int8", "uint8"))
@pytest.mark.parametrize("op", ("sum", "nansum", "prod", "cumsum", "cumprod"))
def test_integer_dtype_of_non_finite_inputs(op, target, source):
    """dtype= casts the input first, with PyTorch's float -> integer cast (NaN/inf/out of range included)."""
    values = [np.nan, np.inf, -np.inf, 1.5, 3e4] if source in ("float16",) else [np.nan, np.inf, -np.inf, 1.5, 3e10]
    kwargs = {"dim": 0} if op.startswith("cum") else {}
    for v in values:
        check_like_torch(lambda lib: getattr(lib, op)(_t(lib, [v], source), dtype=getattr(lib, target), **kwargs))


@pytest.mark.parametrize("call", (
    lambda lib: lib.mean(_t(lib, False, "bool"), dtype=lib.uint8),
    lambda lib: lib.mean(F(lib), dtype=lib.int64),
    lambda lib: lib.mean(I(lib)),
    lambda lib: lib.nanmean(F(lib), dtype=lib.uint8),
    lambda lib: lib.nanmean(I(lib)),
    lambda lib: lib.nanmean(I(lib), dtype=lib.float32),
    lambda lib: lib.nanmean(C(lib), dim=3),
    lambda lib: lib.nanmean(F(lib), dim=3),
    lambda lib: lib.nanmean(C(lib)),
    lambda lib: lib.nansum(C(lib)),
    lambda lib: lib.nanmean(F(lib, (np.nan, 2.0)), dim=0),
), ids=["mean-dtype-uint8", "mean-dtype-int64", "mean-int", "nanmean-dtype-uint8", "nanmean-int",
        "nanmean-int-dtype-float", "nanmean-complex-dim3", "nanmean-dim3", "nanmean-complex", "nansum-complex",
        "nanmean-value"])
def test_mean_and_nanmean_checks(call):
    check_like_torch(call)


@needs_torch
@pytest.mark.parametrize("default", ["float32", "float64"])
@pytest.mark.parametrize("call", [
    lambda t, d: t.zeros(2, dtype=d), lambda t, d: t.tensor([1], dtype=d), lambda t, d: t.arange(3, dtype=d) if d in (float, int) else t.ones(3, dtype=d),
    lambda t, d: t.full((2,), 1, dtype=d), lambda t, d: t.empty(2, 2, dtype=d),
    lambda t, d: t.zeros(2).to(d)])
@pytest.mark.parametrize("pytype", [float, int, bool, complex])
def test_python_types_name_fixed_dtypes_whatever_the_default(default, call, pytype):
    # dtype=float is float64 and complex is complex128 in PyTorch, not the default dtype
    old = torsh.get_default_dtype()
    torsh.set_default_dtype(getattr(torsh, default))
    try:
        got = call(torsh, pytype).dtype
    finally:
        torsh.set_default_dtype(old)
    torch_old = torch_ref.get_default_dtype()
    torch_ref.set_default_dtype(getattr(torch_ref, default))
    try:
        expected = call(torch_ref, pytype).dtype
    finally:
        torch_ref.set_default_dtype(torch_old)
    assert str(got).split(".")[-1] == str(expected).split(".")[-1]
