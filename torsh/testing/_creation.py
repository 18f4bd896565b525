"""``torch.testing.make_tensor``: a random tensor of a shape and dtype, values drawn from [low, high)."""
import collections.abc
import functools
import math
import warnings

_BOOL_OR_INT = ("bool", "uint8", "int8", "int16", "int32", "int64")
_FLOAT_OR_COMPLEX = ("float16", "bfloat16", "float32", "float64", "complex64", "complex128")


def _bounds(low, high, dtype, lowest, highest_exclusive, default_low, default_high):
    """PyTorch's checks of the user's [low, high), clamped to what ``dtype`` holds (ints ceiled)."""
    low = default_low if low is None else low
    high = default_high if high is None else high
    if any(isinstance(v, float) and math.isnan(v) for v in (low, high)):
        raise ValueError(f"`low` and `high` cannot be NaN, but got low={low} and high={high}")
    if low == high and str(dtype).split(".")[-1] in _FLOAT_OR_COMPLEX:
        warnings.warn("Passing `low==high` to `torch.testing.make_tensor` for floating or complex types is "
                      "deprecated since 2.1 and will be removed in 2.3. Use `torch.full(...)` instead.",
                      FutureWarning, stacklevel=3)
    elif low >= high:
        raise ValueError(f"`low` must be less than `high`, but got {low} >= {high}")
    elif high < lowest or low >= highest_exclusive:
        raise ValueError(f"The value interval specified by `low` and `high` is [{low}, {high}), "
                         f"but {dtype} only supports [{lowest}, {highest_exclusive})")
    low, high = min(max(low, lowest), highest_exclusive), min(max(high, lowest), highest_exclusive)
    if str(dtype).split(".")[-1] in _BOOL_OR_INT:
        return math.ceil(low), math.ceil(high)
    return low, high


def _uniform(shape, low, high, dtype):
    import torsh
    real = torsh.float32 if dtype == torsh.complex64 else torsh.float64 if dtype == torsh.complex128 else dtype
    span_overflows = high - low >= torsh.finfo(real).max  # draw half the span and double it, as PyTorch does
    scale, lo, hi = (2, low / 2, high / 2) if span_overflows else (1, low, high)

    def draw():
        return torsh.empty(shape, dtype=real).uniform_(lo, hi) * scale

    if dtype.is_complex:
        return (draw() + 1j * draw()).to(dtype)
    return draw()


def make_tensor(*shape, dtype, device, low=None, high=None, requires_grad=False, noncontiguous=False,
                exclude_zero=False, memory_format=None):
    """A tensor of ``shape`` and ``dtype`` with values uniform in [low, high) (defaults per dtype kind)."""
    import torsh
    if len(shape) == 1 and isinstance(shape[0], collections.abc.Sequence):
        shape = shape[0]
    shape = tuple(shape)
    if noncontiguous and memory_format is not None:
        raise ValueError("The parameters `noncontiguous` and `memory_format` are mutually exclusive, but got "
                         f"noncontiguous={noncontiguous} and memory_format={memory_format}")
    name = str(dtype).split(".")[-1]
    if requires_grad and name in _BOOL_OR_INT:
        raise ValueError(f"`requires_grad=True` is not supported for boolean and integral dtypes, but got "
                         f"dtype={dtype}")
    noncontiguous = noncontiguous and functools.reduce(lambda x, y: x * y, shape, 1) > 1
    if noncontiguous:  # twice the last dimension, every other element kept below
        shape = (*shape[:-1], 2 * shape[-1])
    if name == "bool":
        low, high = _bounds(low, high, dtype, 0, 2, 0, 2)
        result = torsh.randint(low, high, shape, dtype=dtype)
    elif name in _BOOL_OR_INT:
        info = torsh.iinfo(dtype)
        low, high = _bounds(low, high, dtype, info.min, info.max + (1 if name != "int64" else 0), -9, 10)
        result = torsh.randint(low, high, shape, dtype=dtype)
    elif name in _FLOAT_OR_COMPLEX:
        info = torsh.finfo(dtype)
        low, high = _bounds(low, high, dtype, info.min, info.max, -9, 9)
        result = _uniform(shape, low, high, dtype)
    else:
        raise TypeError(f"The requested dtype '{dtype}' is not supported by torch.testing.make_tensor(). "
                        "To request support, file an issue at: https://github.com/pytorch/pytorch/issues")
    if noncontiguous:
        result = result[..., 1::2]
    elif memory_format is not None:
        result = result.clone(memory_format=memory_format)
    if exclude_zero:
        result[result == 0] = 1 if name in _BOOL_OR_INT else torsh.finfo(dtype).tiny
    if name in _FLOAT_OR_COMPLEX:
        result.requires_grad = requires_grad
    return result
