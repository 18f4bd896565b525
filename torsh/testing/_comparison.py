"""``torch.testing.assert_close``: pair up (nested) inputs, compare each pair, report the first failure.

The structure follows PyTorch 2.13: sequences and mappings are walked in step, each leaf pair is
handled by the first of None / bool / number / tensor-like comparisons that accepts it, and the
messages (mismatch statistics, attribute mismatches, "The failure occurred for item [...]") read as
PyTorch's.
"""
import cmath
import collections.abc
import numpy as np

# {dtype name: (rtol, atol)}: PyTorch's defaults; any other dtype compares exactly
_DTYPE_PRECISIONS = {
    "float16": (0.001, 1e-5),
    "bfloat16": (0.016, 1e-5),
    "float32": (1.3e-6, 1e-5),
    "float64": (1e-7, 1e-7),
    "complex32": (0.001, 1e-5),
    "complex64": (1.3e-6, 1e-5),
    "complex128": (1e-7, 1e-7),
}
# the dtype a Python number is compared as (for its default tolerances)
_NUMBER_DTYPE = {int: "int64", float: "float64", complex: "complex128"}


class _Failure(Exception):
    """A comparison failure: the exception type to raise, its message and the path of the failing item."""

    def __init__(self, type_, msg, path=()):
        super().__init__(msg)
        self.type, self.msg, self.path = type_, msg, path

    def to_error(self, msg=None):
        if isinstance(msg, str):
            return self.type(msg)
        generated = self.msg
        if self.path:
            generated += f"\n\nThe failure occurred for item {''.join(str([item]) for item in self.path)}"
        return self.type(msg(generated) if callable(msg) else generated)


class _Unsupported(Exception):
    """This pair type does not handle these inputs: try the next one."""


def _dtype_name(dtype):
    return str(dtype).split(".")[-1]


def _tolerances(dtype_names, rtol, atol, path):
    if (rtol is None) ^ (atol is None):
        raise _Failure(ValueError, "Both 'rtol' and 'atol' must be either specified or omitted, "
                                   f"but got no {'rtol' if rtol is None else 'atol'}.", path)
    if rtol is not None:
        return rtol, atol
    rtols, atols = zip(*[_DTYPE_PRECISIONS.get(name, (0.0, 0.0)) for name in dtype_names])
    return max(rtols), max(atols)


# -- messages ---------------------------------------------------------------------------------------
def _mismatch_msg(identifier, default_identifier, extra, abs_diff, abs_idx, atol, rel_diff, rel_idx, rtol):
    equality = rtol == 0 and atol == 0

    def diff_line(kind, diff, idx, tol):
        line = f"{kind.title()} difference: {diff}" if idx is None else f"Greatest {kind} difference: {diff} at index {idx}"
        return line + ("" if equality else f" (up to {tol} allowed)") + "\n"

    if identifier is None:
        identifier = default_identifier
    elif callable(identifier):
        identifier = identifier(default_identifier)
    msg = f"{identifier} are not {'equal' if equality else 'close'}!\n\n"
    if extra:
        msg += f"{extra.strip()}\n"
    msg += diff_line("absolute", abs_diff, abs_idx, atol) + diff_line("relative", rel_diff, rel_idx, rtol)
    return msg.strip()


def _scalar_mismatch_msg(actual, expected, rtol, atol):
    abs_diff = abs(actual - expected)
    rel_diff = float("inf") if expected == 0 else abs_diff / abs(expected)
    return _mismatch_msg(None, "Scalars", f"Expected {expected} but got {actual}.", abs_diff, None, atol,
                         rel_diff, None, rtol)


def _tensor_mismatch_msg(actual, expected, matches, rtol, atol):
    """Mismatch count and the greatest differences among the mismatched elements, computed in the
    compared dtype (integers in int64, relative differences of integers in float32) as PyTorch does."""
    total = matches.size
    mismatched = total - int(matches.sum())
    extra = f"Mismatched elements: {mismatched} / {total} ({mismatched / total:.1%})"
    a, e, mask = actual.reshape(-1), expected.reshape(-1), matches.reshape(-1)
    if a.dtype.kind in "biu":
        a, e = a.astype(np.int64), e.astype(np.int64)
    with np.errstate(all="ignore"):
        abs_diff = np.abs(a - e)
        abs_diff[mask] = 0
        if abs_diff.dtype.kind in "iu":  # int64 / int64 divides in the default float dtype
            rel_diff = abs_diff.astype(np.float32) / np.abs(e).astype(np.float32)
        else:
            rel_diff = abs_diff / np.abs(e)
        rel_diff[mask] = 0
    abs_at, rel_at = int(np.argmax(abs_diff)), int(np.argmax(rel_diff))  # NaN counts as the greatest
    unravel = (lambda i: tuple(int(k) for k in np.unravel_index(i, matches.shape))) if matches.shape else (lambda i: ())
    return _mismatch_msg(None, "Tensor-likes", extra, abs_diff[abs_at].item(), unravel(abs_at), atol,
                         rel_diff[rel_at].item(), unravel(rel_at), rtol)


# -- pairs --------------------------------------------------------------------------------------------
def _compare_none(actual, expected, path, **_):
    if not (actual is None or expected is None):
        raise _Unsupported
    if not (actual is None and expected is None):
        raise _Failure(AssertionError, f"None mismatch: {actual} is not {expected}", path)


def _compare_bool(actual, expected, path, **_):
    if not all(isinstance(x, (bool, np.bool_)) for x in (actual, expected)):
        raise _Unsupported
    actual, expected = bool(actual), bool(expected)
    if actual is not expected:
        raise _Failure(AssertionError, f"Booleans mismatch: {actual} is not {expected}", path)


def _compare_number(actual, expected, path, rtol=None, atol=None, equal_nan=False, check_dtype=False, **_):
    if not all(isinstance(x, (int, float, complex, np.number)) and not isinstance(x, bool) for x in (actual, expected)):
        raise _Unsupported
    actual, expected = (x.item() if isinstance(x, np.number) else x for x in (actual, expected))
    rtol, atol = _tolerances([_NUMBER_DTYPE[type(x)] for x in (actual, expected)], rtol, atol, path)
    if check_dtype and type(actual) is not type(expected):
        raise _Failure(AssertionError, f"The (d)types do not match: {type(actual)} != {type(expected)}.", path)
    if actual == expected or (equal_nan and cmath.isnan(actual) and cmath.isnan(expected)):
        return
    abs_diff = abs(actual - expected)
    if cmath.isfinite(abs_diff) and abs_diff <= atol + rtol * abs(expected):
        return
    raise _Failure(AssertionError, _scalar_mismatch_msg(actual, expected, rtol, atol), path)


def _as_tensors(actual, expected, allow_subclasses):
    from .._tensor import Tensor
    from .._ops.tensor.creation import as_tensor
    related = isinstance(actual, type(expected)) or isinstance(expected, type(actual))
    if not related or (not allow_subclasses and type(actual) is not type(expected)):
        raise _Unsupported
    try:
        return tuple(x if isinstance(x, Tensor) else as_tensor(x) for x in (actual, expected))
    except Exception:  # noqa: BLE001 - whatever as_tensor refuses is simply not a tensor-like
        raise _Unsupported from None


def _compare_attributes(actual, expected, path, check_device, check_dtype, check_layout, check_stride):
    def mismatch(name, a, e):
        raise _Failure(AssertionError, f"The values for attribute '{name}' do not match: {a} != {e}.", path)

    if actual.shape != expected.shape:
        mismatch("shape", actual.shape, expected.shape)
    if actual.layout != expected.layout:
        if check_layout:
            mismatch("layout", actual.layout, expected.layout)
    elif check_stride and actual.stride() != expected.stride():
        mismatch("stride()", actual.stride(), expected.stride())
    if check_device and actual.device != expected.device:
        mismatch("device", actual.device, expected.device)
    if check_dtype and actual.dtype != expected.dtype:
        mismatch("dtype", actual.dtype, expected.dtype)


def _compare_tensor_like(actual, expected, path, allow_subclasses=True, rtol=None, atol=None, equal_nan=False,
                         check_device=True, check_dtype=True, check_layout=True, check_stride=False):
    from .. import isclose, promote_types
    actual, expected = _as_tensors(actual, expected, allow_subclasses)
    rtol, atol = _tolerances([_dtype_name(actual.dtype), _dtype_name(expected.dtype)], rtol, atol, path)
    _compare_attributes(actual, expected, path, check_device, check_dtype, check_layout, check_stride)
    if actual.dtype != expected.dtype:
        common = promote_types(actual.dtype, expected.dtype)
        actual, expected = actual.to(common), expected.to(common)
    actual, expected = actual.detach(), expected.detach()
    matches = isclose(actual, expected, rtol=rtol, atol=atol, equal_nan=equal_nan)
    if bool(matches.all()):
        return
    if actual.shape == ():
        msg = _scalar_mismatch_msg(actual.item(), expected.item(), rtol, atol)
    else:
        msg = _tensor_mismatch_msg(actual._data, expected._data, matches._data, rtol, atol)
    raise _Failure(AssertionError, msg, path)


_PAIR_COMPARISONS = (_compare_none, _compare_bool, _compare_number, _compare_tensor_like)


def _is_sequence(x):
    return isinstance(x, collections.abc.Sequence) and not isinstance(x, str)


def _leaf_comparisons(actual, expected, path=()):
    """(compare, actual, expected, path) for every leaf pair; raises _Failure on structure mismatches."""
    if _is_sequence(actual) and _is_sequence(expected):
        if len(actual) != len(expected):
            raise _Failure(AssertionError, f"The length of the sequences mismatch: {len(actual)} != {len(expected)}", path)
        for i in range(len(actual)):
            yield from _leaf_comparisons(actual[i], expected[i], (*path, i))
        return
    if isinstance(actual, collections.abc.Mapping) and isinstance(expected, collections.abc.Mapping):
        actual_keys, expected_keys = set(actual.keys()), set(expected.keys())
        if actual_keys != expected_keys:
            raise _Failure(AssertionError, "The keys of the mappings do not match:\n"
                                           f"Missing keys in the actual mapping: {sorted(expected_keys - actual_keys)}\n"
                                           f"Additional keys in the actual mapping: {sorted(actual_keys - expected_keys)}",
                           path)
        try:  # deterministic order when the keys sort
            keys = sorted(actual_keys)
        except TypeError:
            keys = actual_keys
        for key in keys:
            yield from _leaf_comparisons(actual[key], expected[key], (*path, key))
        return
    yield actual, expected, path


def _compare_leaf(actual, expected, path, options):
    for compare in _PAIR_COMPARISONS:
        try:
            return compare(actual, expected, path, **options)
        except _Unsupported:
            continue
    raise _Failure(TypeError, f"No comparison pair was able to handle inputs of type {type(actual)} "
                              f"and {type(expected)}.", path)


def assert_close(actual, expected, *, allow_subclasses=True, rtol=None, atol=None, equal_nan=False,
                 check_device=True, check_dtype=True, check_layout=True, check_stride=False, msg=None):
    """Raise (AssertionError with PyTorch's message) unless ``actual`` and ``expected`` are close:
    ``|actual - expected| <= atol + rtol * |expected|`` elementwise, with per-dtype default tolerances."""
    __tracebackhide__ = True
    options = dict(allow_subclasses=allow_subclasses, rtol=rtol, atol=atol, equal_nan=equal_nan,
                   check_device=check_device, check_dtype=check_dtype, check_layout=check_layout,
                   check_stride=check_stride)
    try:
        leaves = list(_leaf_comparisons(actual, expected))  # structure errors come before value errors
        for a, e, path in leaves:
            _compare_leaf(a, e, path, options)
    except _Failure as failure:
        raise failure.to_error(msg) from None
