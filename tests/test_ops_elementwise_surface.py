"""Table tests: the elementwise surface -- unary math, binary math, comparisons, logical and bitwise ops,
closeness predicates, softmax; each with its function, method and in-place forms."""
import math

import numpy as np
import pytest

import torsh
from helpers import check_same_error, torch_ref
from opinfo import BINARY, FLOATS, FLOATS_AND_INTS, POSITIVE, UNARY, Op, S, T, make_tests

UNIT = (-0.9, 0.9)
ALL_UNARY_DTYPES = FLOATS + ("int64",)


def unary(name, domain=(-2.0, 2.0), dtypes=ALL_UNARY_DTYPES, inplace=True, inplace_grad=True, **kw):
    """The function on the UNARY samples, the method on one, and the in-place form when torch has it."""
    ops = [Op(name, lambda lib, a: getattr(lib, name)(a), UNARY, dtypes=dtypes, domain=domain, **kw),
           Op(name + "_method", lambda lib, a: getattr(a, name)(), [S((2, 3))], domain=domain, **kw)]
    if inplace:
        kw_inplace = dict(kw, differentiable=kw.get("differentiable", True) and inplace_grad)
        ops.append(Op(name + "_", lambda lib, a: getattr(a.clone(), name + "_")(), [S((2, 3)), S((), name="0d")],
                      domain=domain, **kw_inplace))
    return ops


def binary(name, domain=(-2.0, 2.0), dtypes=FLOATS_AND_INTS, inplace=True, scalar=False, **kw):
    ops = [Op(name, lambda lib, a, b: getattr(lib, name)(a, b), BINARY, dtypes=dtypes, domain=domain, **kw),
           Op(name + "_method", lambda lib, a, b: getattr(a, name)(b), [S((2, 3), (3,))], domain=domain, **kw)]
    if scalar:  # the ops whose torch signature takes a Python number as other
        ops.append(Op(name + "_scalar", lambda lib, a: getattr(lib, name)(a, 1.5), [S((2, 3))],
                      domain=domain if not isinstance(domain, list) else domain[0], **kw))
    if inplace:
        ops.append(Op(name + "_", lambda lib, a, b: getattr(a.clone(), name + "_")(b), [S((2, 3), (3,))],
                      domain=domain, **kw))
    return ops


UNARY_OPS = [
    *unary("exp"), *unary("exp2"), *unary("expm1"),
    *unary("log", POSITIVE), *unary("log2", POSITIVE), *unary("log10", POSITIVE), *unary("log1p", (-0.5, 2.0)),
    *unary("sqrt", POSITIVE), *unary("rsqrt", POSITIVE),
    *unary("sin"), *unary("cos"), *unary("tan", (-1.2, 1.2)),
    *unary("asin", UNIT), *unary("acos", UNIT), *unary("atan"),
    *unary("arcsin", UNIT), *unary("arccos", UNIT), *unary("arctan"),
    *unary("sinh"), *unary("cosh"), *unary("tanh"),
    # torch has no derivative for the in-place inverse hyperbolics
    *unary("asinh", inplace_grad=False), *unary("acosh", (1.2, 3.0), inplace_grad=False),
    *unary("atanh", UNIT, inplace_grad=False), *unary("arcsinh", inplace_grad=False),
    *unary("arccosh", (1.2, 3.0), inplace_grad=False), *unary("arctanh", UNIT, inplace_grad=False),
    *unary("sigmoid"), *unary("erf"), *unary("erfc"), *unary("erfinv", UNIT),
    *unary("lgamma", (0.5, 3.0)), *unary("digamma", (0.5, 3.0)),
    *unary("abs", dtypes=FLOATS_AND_INTS), *unary("absolute", dtypes=FLOATS_AND_INTS),
    *unary("neg", dtypes=FLOATS_AND_INTS), *unary("negative", dtypes=FLOATS_AND_INTS),
    *unary("sign", dtypes=FLOATS_AND_INTS),
    # torch's sgn gradient is a ZeroTensor (not comparable); torsh's zeros are checked by gradcheck via sign
    *unary("sgn", dtypes=FLOATS_AND_INTS, differentiable=False),
    *unary("floor", (-3.0, 3.0), FLOATS_AND_INTS), *unary("ceil", (-3.0, 3.0), FLOATS_AND_INTS),
    *unary("round", (-3.0, 3.0), FLOATS_AND_INTS), *unary("trunc", (-3.0, 3.0), FLOATS_AND_INTS),
    *unary("fix", (-3.0, 3.0), FLOATS_AND_INTS), *unary("frac", (-3.0, 3.0), FLOATS),
    *unary("reciprocal", POSITIVE), *unary("square", dtypes=FLOATS_AND_INTS),
    *unary("i0"), *unary("sinc"), *unary("deg2rad", dtypes=FLOATS), *unary("rad2deg", dtypes=FLOATS),
    *unary("logit", (0.1, 0.9), dtypes=FLOATS), *unary("nan_to_num"), *unary("positive", dtypes=FLOATS_AND_INTS, inplace=False),
    *unary("signbit", dtypes=FLOATS_AND_INTS, inplace=False, differentiable=False),
    Op("round_decimals", lambda lib, a, **kw: lib.round(a, **kw),
       [S((3, 4), decimals=1), S((3, 4), decimals=2), S((3, 4), decimals=-1)], domain=(-50.0, 50.0)),
    Op("round_decimals_", lambda lib, a: a.clone().round_(decimals=1), [S((3, 4))]),
    Op("logit_eps", lambda lib, a: lib.logit(a, eps=0.2), [S((3, 4))], domain=(0.05, 0.95)),
    Op("polygamma", lambda lib, a, n: lib.polygamma(n, a), [S((3, 4), n=1), S((3, 4), n=2), S((), n=0, name="0d")],
       domain=(0.5, 3.0)),
    Op("polygamma_method", lambda lib, a: a.polygamma(1), [S((3,))], domain=(0.5, 3.0)),
    Op("polygamma_", lambda lib, a: a.clone().polygamma_(2), [S((3,))], domain=(0.5, 3.0)),
    Op("mvlgamma", lambda lib, a, p: lib.mvlgamma(a, p), [S((3,), p=1), S((2, 3), p=3)], domain=(1.5, 3.0)),
    Op("nan_to_num_special", lambda lib, a, **kw: lib.nan_to_num(_with_nonfinite(lib, a), **kw),
       [S((3, 4)), S((3, 4), nan=1.5, posinf=9.0, neginf=-9.0)]),
]


def _with_nonfinite(lib, a):
    """``a`` with NaN, +inf and -inf planted (differentiably: a mask multiply plus constants)."""
    plant = lib.zeros_like(a)
    plant[0, 0], plant[1, 1], plant[2, 2] = float("nan"), float("inf"), float("-inf")
    keep = lib.ones_like(a)
    keep[0, 0] = keep[1, 1] = keep[2, 2] = 0
    return a * keep + plant


def pow_ops():
    return [
        Op("pow", lambda lib, a, b: lib.pow(a, b), BINARY, domain=[POSITIVE, (-2.0, 2.0)]),
        Op("pow_scalar_exponent", lambda lib, a, **kw: lib.pow(a, **kw),
           [S((3, 4), exponent=2), S((3, 4), exponent=0.5), S((3, 4), exponent=-1.5), S((3, 4), exponent=0),
            S((), exponent=3, name="0d")], domain=POSITIVE),
        Op("pow_scalar_base", lambda lib, a, base: lib.pow(base, a),
           [S((3, 4), base=2.0), S((3, 4), base=0.5), S((), base=3, name="0d")]),
        Op("pow_int", lambda lib, a, b: a ** b, [S((3, 4), (3, 4))], dtypes=("int64",), domain=[(-3, 3), (0, 3)],
           differentiable=False),
        Op("float_power", lambda lib, a, b: lib.float_power(a, b), [S((3, 4), (3, 4)), S((3, 4), (4,))],
           domain=[POSITIVE, (-2.0, 2.0)], dtypes=("float32", "float64", "int64"), gradcheck=False),
        Op("pow_", lambda lib, a, b: a.clone().pow_(b), [S((3, 4), (4,))], domain=[POSITIVE, (-2.0, 2.0)]),
    ]


NONZERO = [(-2.0, 2.0), (0.5, 2.0)]  # second operand positive: no division by zero

BINARY_OPS = [
    *pow_ops(),
    *binary("atan2", dtypes=FLOATS_AND_INTS), *binary("arctan2", inplace=True),
    *binary("hypot", dtypes=FLOATS), *binary("logaddexp", dtypes=FLOATS, domain=(-20.0, 20.0), inplace=False),
    *binary("logaddexp2", dtypes=FLOATS, inplace=False),
    *binary("maximum", inplace=False), *binary("minimum", inplace=False),
    *binary("fmax", inplace=False), *binary("fmin", inplace=False),
    *binary("fmod", domain=NONZERO, scalar=True), *binary("remainder", domain=NONZERO, scalar=True),
    *binary("floor_divide", domain=NONZERO, differentiable=False, scalar=True),
    *binary("xlogy", domain=[(-2.0, 2.0), POSITIVE], scalar=True), *binary("copysign", scalar=True),
    Op("xlogy_zero_x", lambda lib, a, b: lib.xlogy(a * (a > 0), b), [S((3, 4), (3, 4))], domain=[(-2, 2), POSITIVE]),
    Op("xlogy_scalar_self", lambda lib, a: lib.xlogy(2.0, a), [S((3, 4))], domain=POSITIVE),
    Op("maximum_ties", lambda lib, a, b: lib.maximum(a, b), [S((4, 5), (4, 5))], rounded=True, gradcheck=False),
    Op("minimum_ties_nan", lambda lib, a, b: lib.minimum(a, b.log()), [S((4, 5), (4, 5))], rounded=True,
       gradcheck=False),
    Op("fmax_nan", lambda lib, a, b: lib.fmax(a, b.log()), [S((4, 5), (4, 5))], gradcheck=False),
    Op("fmod_negative", lambda lib, a, b: lib.fmod(a, b), [S((3, 4), (3, 4))], domain=[(-5, 5), (-3, -1)],
       dtypes=FLOATS_AND_INTS),
    Op("remainder_negative", lambda lib, a, b: a % b, [S((3, 4), (3, 4))], domain=[(-5, 5), (-3, -1)],
       dtypes=FLOATS_AND_INTS),
    Op("ldexp", lambda lib, a, b: lib.ldexp(a, b), [S((3, 4), (3, 4))], domain=[(-2, 2), (-3, 3)], rounded=True,
       grad_args=(0,)),
    Op("lerp", lambda lib, a, b, **kw: lib.lerp(a, b, **kw), [S((3, 4), (3, 4), weight=0.3), S((3, 4), (4,), weight=1.5)]),
    Op("lerp_tensor_weight", lambda lib, a, b, w: lib.lerp(a, b, w), [S((3, 4), (3, 4), (3, 4)), S((3, 1), (4,), ())]),
    Op("lerp_", lambda lib, a, b: a.clone().lerp_(b, 0.25), [S((3, 4), (4,))]),
    Op("addcmul", lambda lib, a, b, c, **kw: lib.addcmul(a, b, c, **kw),
       [S((3, 4), (3, 4), (3, 4)), S((3, 4), (4,), (3, 1), value=-0.5), S((), (), (), name="0d")]),
    Op("addcmul_", lambda lib, a, b, c: a.clone().addcmul_(b, c, value=2), [S((3, 4), (3, 4), (4,))]),
    Op("addcdiv", lambda lib, a, b, c, **kw: lib.addcdiv(a, b, c, **kw),
       [S((3, 4), (3, 4), (3, 4)), S((3, 4), (4,), (3, 1), value=2)], domain=[(-2, 2), (-2, 2), POSITIVE]),
    Op("addcdiv_", lambda lib, a, b, c: a.clone().addcdiv_(b, c), [S((3, 4), (3, 4), (3, 4))],
       domain=[(-2, 2), (-2, 2), POSITIVE]),
    Op("nextafter", lambda lib, a, b: lib.nextafter(a, b), [S((3, 4), (3, 4))], differentiable=False),
    Op("heaviside", lambda lib, a, b: lib.heaviside(a, b), [S((3, 4), (3, 4))], rounded=True, differentiable=False,
       dtypes=FLOATS_AND_INTS),
]

CMP_DTYPES = ("float32", "int64", "float64")


def comparison(name):
    return [Op(name, lambda lib, a, b: getattr(lib, name)(a, b), BINARY, dtypes=CMP_DTYPES, rounded=True,
               differentiable=False),
            Op(name + "_", lambda lib, a, b: getattr(a.clone(), name + "_")(b), [S((3, 4), (4,))], dtypes=CMP_DTYPES,
               rounded=True, differentiable=False)]


def logical(name, args=2):
    if args == 1:
        return [Op(name, lambda lib, a: getattr(lib, name)(a), UNARY, dtypes=CMP_DTYPES + ("bool",), rounded=True,
                   differentiable=False)]
    return [Op(name, lambda lib, a, b: getattr(lib, name)(a, b), BINARY, dtypes=CMP_DTYPES + ("bool",), rounded=True,
               differentiable=False),
            Op(name + "_", lambda lib, a, b: getattr(a.clone(), name + "_")(b), [S((3, 4), (3, 4))],
               dtypes=("bool", "float32"), rounded=True, differentiable=False)]


INTS = ("int64", "int32", "uint8", "int8")


def bitwise(name, args=2, dtypes=INTS + ("bool",)):
    if args == 1:
        return [Op(name, lambda lib, a: getattr(lib, name)(a), UNARY, dtypes=dtypes, differentiable=False,
                   domain=(-100, 100)),
                Op(name + "_", lambda lib, a: getattr(a.clone(), name + "_")(), [S((3, 4))], dtypes=dtypes,
                   differentiable=False, domain=(-100, 100))]
    return [Op(name, lambda lib, a, b: getattr(lib, name)(a, b), BINARY, dtypes=dtypes, differentiable=False,
               domain=[(-100, 100), (0, 6)]),
            Op(name + "_", lambda lib, a, b: getattr(a.clone(), name + "_")(b), [S((3, 4), (4,))], dtypes=dtypes,
               differentiable=False, domain=[(-100, 100), (0, 6)])]


PREDICATE_OPS = [
    *comparison("eq"), *comparison("ne"), *comparison("lt"), *comparison("le"), *comparison("gt"), *comparison("ge"),
    *comparison("greater"), *comparison("greater_equal"), *comparison("less"), *comparison("less_equal"),
    *comparison("not_equal"),
    *logical("logical_and"), *logical("logical_or"), *logical("logical_xor"), *logical("logical_not", 1),
    *bitwise("bitwise_and"), *bitwise("bitwise_or"), *bitwise("bitwise_xor"), *bitwise("bitwise_not", 1),
    *bitwise("bitwise_left_shift", dtypes=("int64", "int32")), *bitwise("bitwise_right_shift", dtypes=INTS),
    Op("shift_operators", lambda lib, a, b: ((a << b) >> 1, a >> b), [S((3, 4), (3, 4))], dtypes=("int64",),
       domain=[(0, 100), (0, 5)], differentiable=False),
    *bitwise("gcd", dtypes=("int64", "int32")), *bitwise("lcm", dtypes=("int64", "int32")),
    Op("isnan", lambda lib, a: lib.isnan(a.log()), UNARY, dtypes=CMP_DTYPES, differentiable=False),
    Op("isinf", lambda lib, a: lib.isinf(a / a.round()), UNARY, dtypes=FLOATS, differentiable=False),
    Op("isfinite", lambda lib, a: (a / a.round()).log().isfinite(), UNARY, dtypes=FLOATS, differentiable=False),
    Op("isposinf", lambda lib, a: lib.isposinf(a / a.round()), UNARY, dtypes=FLOATS, differentiable=False),
    Op("isneginf", lambda lib, a: lib.isneginf(a / a.round()), UNARY, dtypes=FLOATS, differentiable=False),
    Op("isreal", lambda lib, a: lib.isreal(a), [S((3, 4))], dtypes=CMP_DTYPES, differentiable=False),
    Op("isnan_int", lambda lib, a: (lib.isnan(a), lib.isinf(a), lib.isfinite(a)), [S((3, 4))], dtypes=("int64",),
       differentiable=False),
    Op("isclose", lambda lib, a, b, **kw: lib.isclose(a, a + b * 1e-6, **kw),
       [S((3, 4), (3, 4)), S((3, 4), (4,), rtol=0, atol=1e-7), S((3, 4), (3, 4), rtol=1e-3)], differentiable=False),
    Op("isclose_nan", lambda lib, a, **kw: lib.isclose(a.log(), a.log(), **kw),
       [S((3, 4)), S((3, 4), equal_nan=True)], differentiable=False),
    Op("isclose_int", lambda lib, a, b: lib.isclose(a, b, atol=1), [S((3, 4), (3, 4))], dtypes=("int64",),
       differentiable=False),
]

SOFTMAX_OPS = [
    Op("softmax", lambda lib, a, **kw: lib.softmax(a, **kw),
       [S((3, 4), dim=1), S((3, 4), dim=0), S((2, 3, 4), dim=-2), S((), dim=0, name="0d"), S((0, 3), dim=1, name="empty"),
        S((4, 3), dim=1, prep=T, name="transposed")], domain=(-30.0, 30.0)),
    Op("softmax_dtype", lambda lib, a: a.softmax(-1, dtype=lib.float64), [S((3, 4))], dtypes=("float32",)),
    Op("log_softmax", lambda lib, a, **kw: lib.log_softmax(a, **kw),
       [S((3, 4), dim=1), S((3, 4), dim=0), S((2, 3, 4), dim=-1), S((), dim=0, name="0d"),
        S((4, 3), dim=0, prep=T, name="transposed")], domain=(-30.0, 30.0)),
    Op("log_softmax_method", lambda lib, a: a.log_softmax(0), [S((3, 4))]),
    Op("special_softmax", lambda lib, a: lib.special.softmax(a, 1), [S((3, 4))]),
    Op("special_log_softmax", lambda lib, a: lib.special.log_softmax(a, 0), [S((3, 4))]),
]

OPS = UNARY_OPS + BINARY_OPS + PREDICATE_OPS + SOFTMAX_OPS

test_forward, test_backward, test_gradcheck = make_tests(OPS)


# -- scalar-returning predicates -------------------------------------------------------------------
@pytest.mark.parametrize("case", [
    lambda lib: lib.allclose(lib.tensor([1.0, 2.0]), lib.tensor([1.0, 2.0 + 1e-9])),
    lambda lib: lib.allclose(lib.tensor([1.0, 2.0]), lib.tensor([1.0, 2.1])),
    lambda lib: lib.allclose(lib.tensor([1.0, float("nan")]), lib.tensor([1.0, float("nan")]), equal_nan=True),
    lambda lib: lib.tensor([1.0, 2.0]).allclose(lib.tensor([1.0, 2.05]), rtol=0.1),
    lambda lib: lib.equal(lib.tensor([1, 2]), lib.tensor([1, 2])),
    lambda lib: lib.equal(lib.tensor([1, 2]), lib.tensor([1, 3])),
    lambda lib: lib.equal(lib.tensor([1, 2]), lib.tensor([[1, 2]])),
    lambda lib: lib.tensor([1.0, 2.0]).equal(lib.tensor([1.0, 2.0])),
], ids=["allclose_true", "allclose_false", "allclose_nan", "allclose_method", "equal_true", "equal_false",
        "equal_shape", "equal_method"])
def test_bool_predicates(case):
    ours, ref = case(torsh), case(torch_ref)
    assert type(ours) is bool and ours == ref


def test_clamp_max_nan_propagates_through_maximum():
    a = torsh.tensor([1.0, float("nan"), 3.0])
    assert math.isnan(torsh.maximum(a, torsh.tensor(2.0))[1].item())
    assert torsh.fmax(a, torsh.tensor(2.0)).tolist() == [2.0, 2.0, 3.0]
    assert np.isnan(torsh.minimum(a, torsh.zeros(3)).numpy()[1])


@pytest.mark.parametrize("fn", [
    lambda lib: lib.atan2(lib.ones(2, 3), lib.ones(4)),
    lambda lib: lib.logaddexp(lib.tensor([1, 2]), lib.tensor([1, 2])),
    lambda lib: lib.hypot(lib.tensor([1, 2]), lib.tensor([1, 2])),
    lambda lib: lib.fmod(lib.tensor([1, 2]), 0),
    lambda lib: lib.remainder(lib.tensor([1, 2]), lib.tensor([0, 1])),
    lambda lib: lib.gcd(lib.ones(2), lib.ones(2)),
    lambda lib: lib.bitwise_and(lib.ones(2), lib.ones(2)),
    lambda lib: lib.bitwise_left_shift(lib.ones(2), 1),
    lambda lib: lib.isclose(lib.ones(2), lib.ones(2, dtype=lib.float64)),
    lambda lib: lib.heaviside(lib.ones(2), lib.ones(2, dtype=lib.int64)),
    lambda lib: lib.softmax(lib.tensor([1, 2]), 0),
    lambda lib: lib.softmax(lib.ones(2, 3), 2),
    lambda lib: lib.log_softmax(lib.tensor([1, 2]), 0),
    lambda lib: lib.polygamma(-1, lib.ones(2)),
    lambda lib: lib.maximum(lib.ones(2, 3), lib.ones(3, 2)),
    lambda lib: lib.ones(2).atan2_(lib.ones(2, 2)),
], ids=["atan2_shapes", "logaddexp_int", "hypot_int", "fmod_int_zero", "remainder_int_zero", "gcd_float",
        "bitwise_float", "shift_float", "isclose_dtypes", "heaviside_dtypes", "softmax_int", "softmax_dim",
        "log_softmax_int", "polygamma_negative", "maximum_shapes", "inplace_broadcast"])
def test_errors(fn):
    check_same_error(fn)


@pytest.mark.parametrize("dtype", ["complex64", "complex128"])
def test_abs_of_complex_is_real_with_complex_gradient(dtype):
    from helpers import assert_close, make_array, pair
    arr = make_array((3, 4), dtype, seed=5)
    w = make_array((3, 4), "float64", seed=6)
    ours, ref = pair(arr, dtype, requires_grad=True)
    a, r = ours.abs(), ref.abs()
    assert_close(a, r)
    (a * torsh.tensor(w).to(a.dtype)).sum().backward()
    (r * torch_ref.tensor(w).to(r.dtype)).sum().backward()
    assert_close(ours.grad, ref.grad)
