"""Shape and indexing ops against PyTorch: views on non-contiguous inputs, zero-size dims, bad sizes/dims/indices."""
import math

import numpy as np
from hypothesis import given, strategies as st

from .case import Call, TensorSpec
from .compare import check
from .profiles import examples
from .strategies import dim_lists, dims, shapes, side, tensors


@st.composite
def target_shapes(draw, shape):
    """A reshape target for ``shape``: a valid rearrangement (maybe with -1), or any shape."""
    numel = math.prod(shape)
    kind = draw(st.sampled_from(("flat", "reversed", "infer", "any")))
    if kind == "flat":
        return (numel,)
    if kind == "reversed":
        return tuple(reversed(shape))
    if kind == "infer" and shape:
        target = list(shape)
        target[draw(st.integers(0, len(shape) - 1))] = -1
        return tuple(target)
    return draw(shapes(max_dims=3)) if not draw(st.booleans()) else (-1,) + draw(shapes(max_dims=2))


@examples(25)
@given(data=st.data())
def test_reshape(data, worker):
    x = data.draw(tensors(), label="x")
    check(Call("reshape", (x, data.draw(target_shapes(x.shape), label="shape"))), worker)


@examples(25)
@given(data=st.data())
def test_view(data, worker):
    x = data.draw(tensors(), label="x")
    check(Call(".view", (x,) + data.draw(target_shapes(x.shape), label="shape")), worker)


@examples(20)
@given(data=st.data())
def test_permute(data, worker):
    x = data.draw(tensors(), label="x")
    n = len(x.shape)
    perm = data.draw(st.one_of(st.permutations(range(n)), dim_lists(n)), label="dims")
    check(Call("permute", (x, tuple(perm))), worker)


@examples(20)
@given(data=st.data())
def test_transpose(data, worker):
    x = data.draw(tensors(), label="x")
    check(Call("transpose", (x, data.draw(dims(len(x.shape))), data.draw(dims(len(x.shape))))), worker)


@st.composite
def joinable(draw, same_shape):
    """Tensors of one shape (stack) or equal but along one dim (cat); sometimes mismatched; any dtypes."""
    shape = draw(shapes(min_dims=0))
    dim = draw(dims(len(shape)), label="dim")
    count = draw(st.integers(0, 3))
    parts = []
    for _ in range(count):
        s = list(shape)
        if not same_shape and s and -len(s) <= dim < len(s):
            s[dim] = draw(side())
        if draw(st.integers(0, 7)) == 0:
            s = list(draw(shapes()))  # a mismatched part (or the legacy empty (0,) that cat skips)
        parts.append(draw(tensors(shape=tuple(s))))
    return parts, dim


@examples(30)
@given(data=st.data())
def test_cat(data, worker):
    parts, dim = data.draw(joinable(same_shape=False))
    check(Call("cat", (parts,), {"dim": dim}), worker)


@examples(25)
@given(data=st.data())
def test_stack(data, worker):
    parts, dim = data.draw(joinable(same_shape=True))
    check(Call("stack", (parts,), {"dim": dim}), worker)


@examples(25)
@given(data=st.data())
def test_split(data, worker):
    x = data.draw(tensors(min_dims=1), label="x")
    dim = data.draw(dims(len(x.shape)), label="dim")
    how = data.draw(st.one_of(st.integers(0, 4), st.lists(st.integers(0, 4), max_size=4)), label="split_size")
    check(Call("split", (x, how), {"dim": dim}), worker)


@examples(25)
@given(data=st.data())
def test_chunk(data, worker):
    x = data.draw(tensors(min_dims=1), label="x")
    check(Call("chunk", (x, data.draw(st.integers(-1, 6), label="chunks")), {"dim": data.draw(dims(len(x.shape)))}),
          worker)


@examples(20)
@given(data=st.data())
def test_flip(data, worker):
    x = data.draw(tensors(), label="x")
    check(Call("flip", (x, data.draw(dim_lists(len(x.shape)), label="dims"))), worker)


@examples(20)
@given(data=st.data())
def test_roll(data, worker):
    x = data.draw(tensors(), label="x")
    n = data.draw(st.integers(0, 2), label="n_dims")
    shifts = tuple(data.draw(st.lists(st.integers(-7, 7), min_size=max(n, 1), max_size=max(n, 1))))
    roll_dims = tuple(data.draw(st.lists(dims(len(x.shape)), min_size=n, max_size=n)))
    check(Call("roll", (x, shifts if n else shifts[0]), {"dims": roll_dims} if n else {}), worker)


@examples(20)
@given(data=st.data())
def test_squeeze(data, worker):
    x = data.draw(tensors(shape=st.lists(st.sampled_from((1, 1, 2, 0)), max_size=4).map(tuple)), label="x")
    dim = data.draw(st.one_of(st.none(), dims(len(x.shape)), dim_lists(len(x.shape))), label="dim")
    check(Call("squeeze", (x,) if dim is None else (x, dim)), worker)


@examples(20)
@given(data=st.data())
def test_unsqueeze(data, worker):
    x = data.draw(tensors(), label="x")
    check(Call("unsqueeze", (x, data.draw(dims(len(x.shape) + 1)))), worker)


@examples(20)
@given(data=st.data())
def test_expand(data, worker):
    x = data.draw(tensors(shape=st.lists(st.sampled_from((1, 1, 2, 3, 0)), max_size=3).map(tuple)), label="x")
    extra = data.draw(st.lists(side(), max_size=2))
    sizes = extra + [data.draw(st.sampled_from((s, -1, 3, 0))) if s == 1 else data.draw(st.sampled_from((s, -1, 2)))
                     for s in x.shape]
    check(Call(".expand", (x, tuple(sizes))), worker)


@examples(20)
@given(data=st.data())
def test_repeat_and_tile(data, worker):
    x = data.draw(tensors(max_dims=3), label="x")
    reps = tuple(data.draw(st.lists(st.integers(-1, 3), max_size=4), label="repeats"))
    check(Call(".repeat", (x, reps)), worker)
    check(Call("tile", (x, reps)), worker)


@examples(25)
@given(data=st.data())
def test_narrow(data, worker):
    x = data.draw(tensors(min_dims=0), label="x")
    dim = data.draw(dims(len(x.shape)), label="dim")
    check(Call("narrow", (x, dim, data.draw(st.integers(-6, 6)), data.draw(st.integers(-1, 5)))), worker)


@examples(20)
@given(data=st.data())
def test_flatten_movedim_select(data, worker):
    x = data.draw(tensors(), label="x")
    n = len(x.shape)
    check(Call("flatten", (x, data.draw(dims(n)), data.draw(dims(n)))), worker)
    check(Call("movedim", (x, data.draw(dims(n)), data.draw(dims(n)))), worker)
    check(Call("select", (x, data.draw(dims(n)), data.draw(st.integers(-6, 5)))), worker)


def index_tensor(shape, size, dtype="int64"):
    """Indices mostly in [-size, size), some just out of range; occasionally of a non-index dtype."""
    values = st.integers(-size - 1, size) if size else st.integers(-1, 1)
    return st.builds(lambda a, dt: TensorSpec(np.asarray(a, dtype=np.int64).astype(dt), dt),
                     st.lists(values, min_size=math.prod(shape), max_size=math.prod(shape)).map(
                         lambda v: np.asarray(v, dtype=np.int64).reshape(shape)),
                     st.sampled_from((dtype, dtype, dtype, "int32", "float32")))


@st.composite
def gather_args(draw):
    x = draw(tensors(), label="x")
    n = len(x.shape)
    dim = draw(dims(n), label="dim")
    size = x.shape[dim] if n and -n <= dim < n else 1
    index_shape = tuple(draw(st.sampled_from((s, max(s - 1, 0), s + 1))) for s in x.shape)
    return x, dim, draw(index_tensor(index_shape, size), label="index")


@examples(30)
@given(data=st.data())
def test_gather(data, worker):
    x, dim, index = data.draw(gather_args())
    check(Call("gather", (x, dim, index)), worker)


@examples(30)
@given(data=st.data())
def test_scatter_family(data, worker):
    x, dim, index = data.draw(gather_args())
    src = data.draw(tensors(shape=index.shape, dtypes=(x.dtype, x.dtype, "float32")), label="src")
    op = data.draw(st.sampled_from(("scatter", "scatter_add")), label="op")
    check(Call(op, (x, dim, index, src)), worker)


@examples(30)
@given(data=st.data())
def test_index_select(data, worker):
    x = data.draw(tensors(), label="x")
    n = len(x.shape)
    dim = data.draw(dims(n), label="dim")
    size = x.shape[dim] if n and -n <= dim < n else 1
    index = data.draw(index_tensor((data.draw(st.integers(0, 4)),), size), label="index")
    check(Call("index_select", (x, dim, index)), worker)


@examples(20)
@given(data=st.data())
def test_take(data, worker):
    x = data.draw(tensors(), label="x")
    numel = math.prod(x.shape)
    index = data.draw(index_tensor(data.draw(shapes(max_dims=2)), numel), label="index")
    check(Call("take", (x, index)), worker)


@examples(30)
@given(data=st.data())
def test_masked_fill(data, worker):
    from .strategies import broadcast_shape, scalars
    x = data.draw(tensors(), label="x")
    mask = data.draw(tensors(dtypes=("bool", "bool", "bool", "uint8"), shape=broadcast_shape(x.shape)), label="mask")
    value = data.draw(st.one_of(scalars(), tensors(shape=())), label="value")
    check(Call("masked_fill", (x, mask, value)), worker)


@examples(20)
@given(data=st.data())
def test_masked_select(data, worker):
    from .strategies import broadcast_shape
    x = data.draw(tensors(), label="x")
    mask = data.draw(tensors(dtypes=("bool", "bool", "uint8"), shape=broadcast_shape(x.shape)), label="mask")
    check(Call("masked_select", (x, mask)), worker)


@examples(15)
@given(data=st.data())
def test_tril_triu(data, worker):
    x = data.draw(tensors(), label="x")
    diagonal = data.draw(st.integers(-3, 3), label="diagonal")
    check(Call("tril", (x, diagonal)), worker)
    check(Call("triu", (x, diagonal)), worker)
