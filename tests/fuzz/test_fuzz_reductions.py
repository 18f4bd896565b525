"""Reductions (dim: None, int or tuple, out of range too; keepdim; dtype=), scans and sorting against PyTorch."""
import pytest
from hypothesis import given, strategies as st

from .case import Call, DType
from .compare import check
from .profiles import examples
from .strategies import NUMERIC_DTYPES, REAL_DTYPES, dim_lists, dims, has_ties, tensors

# ops whose dim may be a tuple
MULTI_DIM = ("sum", "mean", "amax", "amin", "nansum", "nanmean", "logsumexp", "std", "var", "count_nonzero", "all",
             "any")
# ops reducing one dim (or everything without dim); the second output holds indices
ONE_DIM = ("prod", "max", "min", "argmax", "argmin", "median", "nanmedian", "mode")
SCANS = ("cumsum", "cumprod", "cummax", "cummin", "logcumsumexp")
REDUCE_DTYPE_KW = ("sum", "mean", "nansum", "prod", "cumsum", "cumprod")
HALF_DTYPES = ("float16", "bfloat16")


def _tol(x):
    """Sums over float16/bfloat16 round in another order than PyTorch's float32 accumulation."""
    return 4.0 if x.dtype in HALF_DTYPES else 1.0


@pytest.mark.parametrize("op", MULTI_DIM)
@examples(12)
@given(data=st.data())
def test_multi_dim_reduction(op, data, worker):
    x = data.draw(tensors(), label="x")
    kwargs = {}
    dim = data.draw(st.one_of(st.none(), dims(len(x.shape)), dim_lists(len(x.shape))), label="dim")
    if dim is not None or op == "logsumexp":
        kwargs["dim"] = dim if dim is not None else ()
        if op != "count_nonzero":
            kwargs["keepdim"] = data.draw(st.booleans(), label="keepdim")
    if op in REDUCE_DTYPE_KW and data.draw(st.integers(0, 3)) == 0:
        kwargs["dtype"] = DType(data.draw(st.sampled_from(NUMERIC_DTYPES), label="dtype"))
    if op in ("std", "var") and data.draw(st.booleans()):
        kwargs["correction"] = data.draw(st.integers(0, 2), label="correction")
    check(Call(op, (x,), kwargs, tol_scale=_tol(x)), worker)


@pytest.mark.parametrize("op", ONE_DIM)
@examples(12)
@given(data=st.data())
def test_one_dim_reduction(op, data, worker):
    x = data.draw(tensors(), label="x")
    kwargs, loose = {}, ()
    if data.draw(st.integers(0, 3)) or op == "mode":
        kwargs["dim"] = data.draw(dims(len(x.shape)), label="dim")
        kwargs["keepdim"] = data.draw(st.booleans(), label="keepdim")
        if op in ("max", "min", "median", "nanmedian", "mode") and has_ties(x):
            loose = (1,)  # which of equal values' indices is returned is unspecified
    if op == "prod" and data.draw(st.integers(0, 3)) == 0:
        kwargs["dtype"] = DType(data.draw(st.sampled_from(NUMERIC_DTYPES), label="dtype"))
    check(Call(op, (x,), kwargs, loose=loose, tol_scale=_tol(x)), worker)


@examples(20)
@given(data=st.data())
def test_vector_norm(data, worker):
    x = data.draw(tensors(), label="x")
    ord_ = data.draw(st.sampled_from((2, 1, 0, 3, float("inf"), float("-inf"), -1)), label="ord")
    dim = data.draw(st.one_of(st.none(), dims(len(x.shape)), dim_lists(len(x.shape))), label="dim")
    check(Call("linalg.vector_norm", (x, ord_), {"dim": dim, "keepdim": data.draw(st.booleans())}, tol_scale=_tol(x)),
          worker)


@pytest.mark.parametrize("op", SCANS)
@examples(14)
@given(data=st.data())
def test_scan(op, data, worker):
    x = data.draw(tensors(), label="x")
    kwargs = {}
    if op in REDUCE_DTYPE_KW and data.draw(st.integers(0, 3)) == 0:
        kwargs["dtype"] = DType(data.draw(st.sampled_from(NUMERIC_DTYPES), label="dtype"))
    dim = data.draw(dims(len(x.shape)), label="dim")
    check(Call(op, (x, dim), kwargs, tol_scale=_tol(x)), worker)


@examples(30)
@given(data=st.data())
def test_sort(data, worker):
    x = data.draw(tensors(dtypes=REAL_DTYPES), label="x")
    kwargs = {"dim": data.draw(dims(len(x.shape)), label="dim"), "descending": data.draw(st.booleans()),
              "stable": data.draw(st.booleans())}
    loose = (1,) if has_ties(x) and not kwargs["stable"] else ()
    check(Call("sort", (x,), kwargs, loose=loose), worker)


@examples(20)
@given(data=st.data())
def test_argsort(data, worker):
    x = data.draw(tensors(dtypes=REAL_DTYPES), label="x")
    kwargs = {"dim": data.draw(dims(len(x.shape)), label="dim"), "descending": data.draw(st.booleans()),
              "stable": True}
    check(Call("argsort", (x,), kwargs), worker)


@examples(30)
@given(data=st.data())
def test_topk(data, worker):
    x = data.draw(tensors(dtypes=REAL_DTYPES), label="x")
    dim = data.draw(dims(len(x.shape)), label="dim")
    n = x.shape[dim] if x.shape and -len(x.shape) <= dim < len(x.shape) else 1
    k = data.draw(st.integers(-1, n + 1), label="k")
    kwargs = {"dim": dim, "largest": data.draw(st.booleans())}
    check(Call("topk", (x, k), kwargs, loose=(1,) if has_ties(x) else ()), worker)


@examples(25)
@given(data=st.data())
def test_kthvalue(data, worker):
    x = data.draw(tensors(dtypes=REAL_DTYPES), label="x")
    dim = data.draw(dims(len(x.shape)), label="dim")
    n = x.shape[dim] if x.shape and -len(x.shape) <= dim < len(x.shape) else 1
    k = data.draw(st.integers(0, n + 1), label="k")
    kwargs = {"dim": dim, "keepdim": data.draw(st.booleans())}
    check(Call("kthvalue", (x, k), kwargs, loose=(1,) if has_ties(x) else ()), worker)


@examples(15)
@given(data=st.data())
def test_msort(data, worker):
    check(Call("msort", (data.draw(tensors(dtypes=REAL_DTYPES), label="x"),)), worker)


@examples(20)
@given(data=st.data())
def test_unique(data, worker):
    x = data.draw(tensors(dtypes=REAL_DTYPES, specials=False), label="x")
    kwargs = {"sorted": True, "return_inverse": data.draw(st.booleans()), "return_counts": data.draw(st.booleans())}
    if data.draw(st.booleans()):
        kwargs["dim"] = data.draw(dims(len(x.shape)), label="dim")
    check(Call("unique", (x,), kwargs), worker)
