"""Hypothesis strategies for fuzz inputs: shapes (zero-size included), tensors of every dtype, in
contiguous, transposed and sliced layouts, with NaN/inf/-0.0 among float values, broadcast pairs
(compatible or not) and dim arguments that may be out of range."""
import math

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from helpers import ALL_DTYPES, FLOAT_DTYPES, INT_DTYPES

from .case import TensorSpec

REAL_DTYPES = tuple(d for d in ALL_DTYPES if not d.startswith("complex"))
NUMERIC_DTYPES = tuple(d for d in ALL_DTYPES if d != "bool")
SPECIALS = (math.nan, math.inf, -math.inf, -0.0)
SIDES = (1, 2, 3, 4, 5, 0)  # sampled_from shrinks towards the first: 1, then small sides; 0 one draw in six


def side():
    return st.sampled_from(SIDES)


def shapes(min_dims=0, max_dims=4):
    return st.lists(side(), min_size=min_dims, max_size=max_dims).map(tuple)


def _base_np_dtype(dtype):
    return np.dtype("float32") if dtype == "bfloat16" else np.dtype(dtype)


def _elements(dtype, specials, low, high):
    if dtype == "bool":
        return st.booleans()
    if dtype in INT_DTYPES:
        info = np.iinfo(dtype)
        small = st.integers(max(int(low), int(info.min)), min(int(high), int(info.max)))
        return st.one_of(small, small, small, st.sampled_from([int(info.min), int(info.max)])) if specials else small
    real = st.floats(low, high, width=32)
    if specials:
        real = st.one_of(real, real, real, st.sampled_from(SPECIALS))
    if dtype.startswith("complex"):
        return st.builds(complex, real, real)
    return real


def _random_fill(seed, shape, dtype, low, high):
    """Values for a large tensor (hypothesis draws element by element: too slow past a few hundred)."""
    g = np.random.default_rng(seed)
    if dtype == "bool":
        return g.random(shape) > 0.5
    if dtype in INT_DTYPES:
        info = np.iinfo(dtype)
        return g.integers(max(low, info.min), min(high, info.max) + 1, size=shape).astype(dtype)
    values = g.uniform(low, high, shape)
    if dtype.startswith("complex"):
        values = values + 1j * g.uniform(low, high, shape)
    return values.astype(_base_np_dtype(dtype))


def _layouts(ndim):
    return st.sampled_from(("contig",) + (("slice",) if ndim >= 1 else ()) + (("T",) if ndim >= 2 else ()))


def _base_shape(shape, layout):
    shape = list(shape)
    if layout == "T":
        shape[-2], shape[-1] = shape[-1], shape[-2]
    elif layout == "slice":
        shape[-1] = 2 * shape[-1]
    return tuple(shape)


LARGE_SHAPES = ((513,), (70, 1000), (3, 17, 1201), (65, 1009))  # past the compiled kernels' thresholds


@st.composite
def tensors(draw, dtypes=ALL_DTYPES, shape=None, min_dims=0, max_dims=4, layouts=True, specials=True,
            large=False, low=-4, high=4):
    """A TensorSpec; ``shape`` is a tuple or a strategy, ``large`` lets a few draws take a LARGE_SHAPES shape."""
    dtype = draw(st.sampled_from(dtypes)) if not isinstance(dtypes, str) else dtypes
    if shape is None:
        shape = shapes(min_dims, max_dims)
        if large:
            shape = st.one_of(shape, shape, shape, st.sampled_from(LARGE_SHAPES))
    if not isinstance(shape, tuple):
        shape = draw(shape)
    layout = draw(_layouts(len(shape))) if layouts else "contig"
    base_shape = _base_shape(shape, layout)
    with_specials = specials and draw(st.integers(0, 3)) == 0  # one tensor in four has NaN/inf/extremes
    if math.prod(base_shape) > 256:
        base = _random_fill(draw(st.integers(0, 2**16)), base_shape, dtype, low, high)
        if with_specials and dtype in FLOAT_DTYPES:
            base.reshape(-1)[:: max(1, base.size // 7)] = draw(st.sampled_from(SPECIALS))
    else:
        elements = _elements(dtype, with_specials, low, high)
        base = draw(hnp.arrays(_wide_dtype(dtype), base_shape, elements=elements))
        base = base.astype(_base_np_dtype(dtype))
    return TensorSpec(base, dtype, layout)


def _wide_dtype(dtype):
    """The dtype hypothesis fills (float16 values are drawn as float32, then rounded)."""
    if dtype in ("float16", "bfloat16"):
        return np.dtype("float32")
    return np.dtype(dtype)


@st.composite
def broadcast_shape(draw, shape):
    """A shape that is ``shape`` itself, broadcast-compatible with it, or (one draw in four) arbitrary."""
    mode = draw(st.sampled_from(("same", "broadcast", "broadcast", "any")))
    if mode == "same":
        return shape
    if mode == "any":
        return draw(shapes())
    keep = draw(st.integers(0, len(shape)))
    other = [1 if draw(st.booleans()) else s for s in shape[len(shape) - keep:]]
    extra = draw(st.lists(side(), max_size=1))
    return tuple(extra + other) if draw(st.booleans()) else tuple(other)


def dims(ndim, allow_out_of_range=True):
    """A dim index: any valid one (negative too) and, one draw in five, one just out of range."""
    n = max(ndim, 1)  # a 0-d tensor takes dims 0 and -1
    valid = st.integers(-n, n - 1)
    if not allow_out_of_range:
        return valid
    return st.one_of(valid, valid, valid, valid, st.sampled_from((n, -n - 1)))


def dim_lists(ndim):
    """A tuple of dims for multi-dim reductions/flip: usually distinct and valid, sometimes not."""
    n = max(ndim, 1)
    return st.lists(st.integers(-n - 1, n), max_size=max(ndim, 1), unique=True).map(tuple)


def scalars(kind="any"):
    """A Python scalar operand (bool, int or float, NaN and inf among them)."""
    numbers = st.one_of(st.booleans(), st.integers(-5, 5), st.floats(-4, 4, width=32), st.sampled_from(SPECIALS))
    return numbers


def has_ties(spec):
    """Whether equal values (NaN included) occur: sort/topk indices of ties may legitimately differ."""
    values = spec.values
    return spec.dtype in ("bfloat16", "float16", "bool") or np.unique(values).size < values.size
