"""Table tests: cumsum, cumprod, cummax, cummin, logcumsumexp (and their in-place / method forms)."""
from opinfo import Op, S, STRIDED, T, make_tests

SCAN = [S((3, 4), dim=1), S((3, 4), dim=0), S((2, 3, 4), dim=-2), S((), dim=0, name="0d"),
        S((0, 3), dim=0, name="empty"), S((4, 3), dim=1, prep=T, name="transposed"),
        S((6, 5), dim=0, prep=STRIDED, name="strided")]

OPS = [
    Op("cumsum", lambda lib, a, **kw: lib.cumsum(a, **kw), SCAN, dtypes=("float32", "float64", "int64", "int32", "bool")),
    Op("cumsum_dtype", lambda lib, a: a.cumsum(0, dtype=lib.float64), [S((3, 4))], dtypes=("float32", "int32")),
    Op("cumsum_", lambda lib, a: a.clone().cumsum_(1), [S((3, 4))]),
    Op("cumprod", lambda lib, a, **kw: lib.cumprod(a, **kw), SCAN, dtypes=("float32", "float64", "int64")),
    Op("cumprod_with_zeros", lambda lib, a: (a * (a.abs() > 0.7)).cumprod(1), [S((3, 5)), S((2, 3, 4))]),
    Op("cumprod_", lambda lib, a: a.clone().cumprod_(0), [S((3, 4))]),
    Op("cummax", lambda lib, a, **kw: lib.cummax(a, **kw), SCAN, dtypes=("float32", "float64", "int64")),
    Op("cummax_ties", lambda lib, a: a.cummax(1), [S((3, 6))], rounded=True, gradcheck=False),
    Op("cummin", lambda lib, a, **kw: a.cummin(**kw), SCAN, dtypes=("float32", "float64", "int64")),
    Op("cummin_ties", lambda lib, a: lib.cummin(a, 0), [S((6, 3))], rounded=True, gradcheck=False),
    Op("logcumsumexp", lambda lib, a, **kw: lib.logcumsumexp(a, **kw), SCAN, domain=(-10.0, 10.0)),
    # past the pairwise-table length the log-space backward is used
    Op("logcumsumexp_long", lambda lib, a: a.logcumsumexp(1), [S((2, 1100))], domain=(-30.0, 30.0), gradcheck=False),
    Op("logcumsumexp_method", lambda lib, a: a.logcumsumexp(-1), [S((2, 5))], domain=(-50.0, 50.0)),
]

test_forward, test_backward, test_gradcheck = make_tests(OPS)
