"""Creation ops (sizes negative or zero, every dtype, fill values NaN/inf) and the matmul family against PyTorch."""
import math

import pytest
from hypothesis import given, strategies as st

from .case import Call, DType
from .compare import check
from .profiles import examples
from .strategies import ALL_DTYPES, SPECIALS, scalars, shapes, tensors

dtypes = st.one_of(st.none(), st.sampled_from(ALL_DTYPES).map(DType))
sizes = st.lists(st.integers(-1, 4), max_size=3).map(tuple)
numbers = st.one_of(st.integers(-6, 6), st.floats(-6, 6, width=32), st.sampled_from(SPECIALS))


@pytest.mark.parametrize("op", ("zeros", "ones", "empty"))
@examples(12)
@given(size=sizes, dtype=dtypes)
def test_filled(op, size, dtype, worker):
    check(Call(op, (size,), {"dtype": dtype}, loose=(0,) if op == "empty" else ()), worker)


@examples(30)
@given(size=sizes, fill=scalars(), dtype=dtypes)
def test_full(size, fill, dtype, worker):
    check(Call("full", (size, fill), {"dtype": dtype}), worker)


@pytest.mark.parametrize("op", ("zeros_like", "ones_like", "empty_like", "full_like"))
@examples(10)
@given(data=st.data())
def test_like(op, data, worker):
    x = data.draw(tensors(), label="x")
    args = (x, data.draw(scalars(), label="fill")) if op == "full_like" else (x,)
    check(Call(op, args, {"dtype": data.draw(dtypes, label="dtype")}, loose=(0,) if op == "empty_like" else ()),
          worker)


@examples(40)
@given(start=numbers, end=numbers, step=st.one_of(numbers, st.just(0)), dtype=dtypes)
def test_arange(start, end, step, dtype, worker):
    if all(isinstance(v, float) and math.isfinite(v) for v in (start, end, step)) and step and \
            abs((end - start) / step) > 1e5:
        return  # a huge but valid range: nothing to learn, only memory
    check(Call("arange", (start, end, step), {"dtype": dtype}), worker)


@examples(30)
@given(start=numbers, end=numbers, steps=st.integers(-1, 7), dtype=dtypes)
def test_linspace_logspace(start, end, steps, dtype, worker):
    check(Call("linspace", (start, end, steps), {"dtype": dtype}), worker)
    check(Call("logspace", (start, end, steps), {"dtype": dtype}), worker)


@examples(20)
@given(n=st.integers(-1, 4), m=st.one_of(st.none(), st.integers(-1, 4)), dtype=dtypes)
def test_eye(n, m, dtype, worker):
    check(Call("eye", (n,) if m is None else (n, m), {"dtype": dtype}), worker)


leaf = st.one_of(st.booleans(), st.integers(-3, 3), st.floats(-3, 3, width=32), st.sampled_from(SPECIALS))


@examples(30)
@given(data=st.recursive(leaf, lambda inner: st.lists(inner, max_size=3), max_leaves=8), dtype=dtypes)
def test_tensor_from_data(data, dtype, worker):
    check(Call("tensor", (data,), {"dtype": dtype}), worker)


# -- matmul family ------------------------------------------------------------------------------------------
MATMUL_DTYPES = ("float32", "float64", "float16", "bfloat16", "int64", "int32", "complex64", "bool")


@st.composite
def matmul_operands(draw, a_dims, b_dims):
    """Operands of ranks from a_dims/b_dims whose inner dims mostly match (batch dims broadcast or not)."""
    n, k, m = draw(st.sampled_from((1, 2, 3, 0))), draw(st.sampled_from((1, 2, 3, 4, 0))), draw(st.sampled_from((1, 2, 3, 0)))
    ra, rb = draw(st.sampled_from(a_dims)), draw(st.sampled_from(b_dims))
    batch = draw(shapes(max_dims=2))
    a_shape = {1: (k,), 2: (n, k)}.get(ra, batch[len(batch) - (ra - 2):] + (n, k) if ra > 2 else None)
    b_shape = {1: (k,), 2: (k, m)}.get(rb, batch[len(batch) - (rb - 2):] + (k, m) if rb > 2 else None)
    if draw(st.integers(0, 5)) == 0:  # inner dims that do not match
        b_shape = b_shape[:-2] + (k + 1,) + b_shape[-1:] if len(b_shape) > 1 else (k + 1,)
    dtype = draw(st.sampled_from(MATMUL_DTYPES))
    other = dtype if draw(st.integers(0, 4)) else draw(st.sampled_from(MATMUL_DTYPES))
    return draw(tensors(dtypes=(dtype,), shape=a_shape)), draw(tensors(dtypes=(other,), shape=b_shape))


MATMUL_RANKS = {"matmul": ((1, 2, 3, 4), (1, 2, 3, 4)), "mm": ((2, 2, 2, 1, 3), (2, 2, 2, 1)),
                "bmm": ((3, 3, 3, 2), (3, 3, 3, 4)), "mv": ((2, 2, 2, 1), (1, 1, 1, 2)), "dot": ((1, 1, 1, 2), (1,)),
                "outer": ((1,), (1, 1, 1, 2)), "inner": ((1, 2, 3), (1, 2, 3))}


@pytest.mark.parametrize("op", sorted(MATMUL_RANKS))
@examples(20)
@given(data=st.data())
def test_matmul_family(op, data, worker):
    a, b = data.draw(matmul_operands(*MATMUL_RANKS[op]))
    check(Call(op, (a, b), tol_scale=4.0), worker)


@examples(25)
@given(data=st.data())
def test_addmm(data, worker):
    a, b = data.draw(matmul_operands((2,), (2,)))
    n, m = a.shape[0], b.shape[-1]
    c = data.draw(tensors(dtypes=(a.dtype,), shape=st.sampled_from(((n, m), (m,), (1, m), (), (n, 1), (n + 1, m)))))
    kwargs = {"beta": data.draw(st.sampled_from((1, 0, 0.5))), "alpha": data.draw(st.sampled_from((1, 2, -0.5)))}
    check(Call("addmm", (c, a, b), kwargs, tol_scale=4.0), worker)


@examples(20)
@given(data=st.data())
def test_linear(data, worker):
    x, b = data.draw(matmul_operands((1, 2, 3), (2, 1)))
    # F.linear(x, W, bias): W is (out, in) with in = x's last dim, i.e. b (in, out) transposed
    weight = data.draw(tensors(dtypes=(b.dtype,), shape=tuple(reversed(b.shape))), label="weight")
    out = weight.shape[0] if len(weight.shape) == 2 else 1
    bias = data.draw(st.one_of(st.none(), tensors(dtypes=(x.dtype,), shape=st.sampled_from(((out,), (), (out + 1,))))),
                     label="bias")
    check(Call("F.linear", (x, weight, bias), tol_scale=4.0), worker)
