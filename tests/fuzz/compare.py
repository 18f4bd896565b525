"""The fuzz suite's one assertion: torsh and PyTorch 2.13 agree on a call.

Agreement means: both accept or both reject; when both accept, every output has the same dtype,
shape and values (NaN-aware, tolerances per dtype from ``helpers.TOLERANCES``); when both reject,
torsh raises PyTorch's exception type, and its message names the shapes, sizes and dtypes that
PyTorch's first message line names. A divergence
listed in ``known.KNOWN_DIVERGENCES`` (areas being fixed elsewhere) is let through; each entry
has its own test asserting that it still diverges.
"""
import re

import numpy as np

from helpers import TOLERANCES, torch_ref

from .case import ErrorOut, TensorOut, outcome
from .worker import Crashed

_BUILTIN_ERRORS = ("IndexError", "ValueError", "TypeError", "NotImplementedError", "KeyError",
                   "ZeroDivisionError", "OverflowError", "AttributeError", "RuntimeError")


def reference(call):
    return outcome(torch_ref, call)


def divergence(call, ours, ref):
    """None when ``ours`` (torsh's outcome) agrees with ``ref`` (PyTorch's), else what differs."""
    if isinstance(ours, Crashed):
        return f"torsh {ours!r}"
    if isinstance(ref, ErrorOut) or isinstance(ours, ErrorOut):
        return _error_divergence(ours, ref)
    return _output_divergence(call, ours, ref, "result")


def expected_type(ref):
    """PyTorch's exception type by name, its nearest builtin base for torch's own subclasses."""
    return next((name for name in ref.classes if name in _BUILTIN_ERRORS), ref.classes[0])


_DTYPE_WORDS = ("ComplexFloat|ComplexDouble|BFloat16|Float|Double|Half|Long|Int|Short|Char|Byte|Bool|"
                "complex64|complex128|bfloat16|float16|float32|float64|uint8|int8|int16|int32|int64|bool")
# what a message names: shapes "[2, 3]", sizes "(3)" and dtypes
_NAMED = re.compile(r"\[[\d, ]*\]|\(-?\d+\)|\b(?:" + _DTYPE_WORDS + r")\b")


def named_things(message):
    """The shapes, sizes and dtypes the first line of an error message names (order aside)."""
    first = message.strip().splitlines()[0] if message.strip() else ""
    return set(_NAMED.findall(first))


def _error_divergence(ours, ref):
    if not isinstance(ref, ErrorOut):
        return f"torsh rejects, PyTorch accepts"
    if not isinstance(ours, ErrorOut):
        return f"torsh accepts, PyTorch raises {expected_type(ref)}"
    if expected_type(ref) not in ours.classes:
        return f"exception type: torsh {ours.type_name}, PyTorch {expected_type(ref)}"
    missing = named_things(ref.message) - named_things(ours.message)
    if missing:  # PyTorch's wording is compared on what it names: torsh must name the same shapes/dtypes
        return f"message does not name {sorted(missing)}"
    return None


def _output_divergence(call, ours, ref, where):
    if isinstance(ref, TensorOut):
        if not isinstance(ours, TensorOut):
            return f"{where}: torsh returns {ours!r}, PyTorch a tensor"
        return _tensor_divergence(call, ours, ref, where)
    kind, value = ref
    if not (isinstance(ours, tuple) and ours[0] == kind):
        return f"{where}: torsh returns {ours!r}, PyTorch {kind} {value!r}"
    if kind == "value":
        same = value == ours[1] or (value != value and ours[1] != ours[1])  # NaN == NaN here
        return None if same else f"{where}: torsh {ours[1]!r}, PyTorch {value!r}"
    if len(value) != len(ours[1]):
        return f"{where}: torsh returns {len(ours[1])} outputs, PyTorch {len(value)}"
    for i, (o, r) in enumerate(zip(ours[1], value)):
        if where == "result" and i in call.loose and isinstance(r, TensorOut):  # dtype and shape only
            same = isinstance(o, TensorOut) and (o.dtype, o.shape) == (r.dtype, r.shape)
            problem = None if same else f"{where}[{i}]: torsh {_metadata(o)}, PyTorch {_metadata(r)}"
        else:
            problem = _output_divergence(call, o, r, f"{where}[{i}]")
        if problem:
            return problem
    return None


def _metadata(out):
    return (out.dtype, out.shape) if isinstance(out, TensorOut) else out


def _tensor_divergence(call, ours, ref, where):
    if ours.dtype != ref.dtype:
        return f"{where}: dtype torsh {ours.dtype}, PyTorch {ref.dtype}"
    if ours.shape != ref.shape:
        return f"{where}: shape torsh {ours.shape}, PyTorch {ref.shape}"
    if where == "result" and 0 in call.loose:
        return None
    try:
        assert_values_close(ours.values, ref.values, ref.dtype, call.tol_scale)
    except AssertionError as e:
        return f"{where}: values differ{e}"
    return None


def assert_values_close(actual, expected, dtype, scale=1.0):
    rtol, atol = TOLERANCES.get(dtype, (0.0, 0.0))
    if rtol == 0 and atol == 0:
        np.testing.assert_array_equal(actual, expected)
    else:
        np.testing.assert_allclose(actual, expected, rtol=rtol * scale, atol=atol * scale, equal_nan=True)


def known_divergence(call, ours, ref):
    """The KNOWN_DIVERGENCES entry explaining a divergence on ``call``, if any."""
    from .known import KNOWN_DIVERGENCES
    return next((k for k in KNOWN_DIVERGENCES if k.applies(call, ours, ref)), None)


def check(call, worker):
    """Fail unless torsh (run in ``worker``) and PyTorch agree on ``call``, or a known divergence explains it."""
    ref = reference(call)
    ours = worker.run(call)
    problem = divergence(call, ours, ref)
    if problem is None or known_divergence(call, ours, ref) is not None:
        return
    raise AssertionError(f"torsh diverges from PyTorch 2.13 on {call!r}: {problem}\n"
                         f"  torsh:   {ours!r}\n  PyTorch: {ref!r}")
