"""PyTorch's tensor repr: 4-digit precision, integer mode, scientific mode, summarisation."""
import math

import numpy as np

from . import _dtype
from ._meta_array import MetaArray

PRECISION = 4
THRESHOLD = 1000
EDGEITEMS = 3
LINEWIDTH = 80

_TYPE_NAMES = {"float32": "FloatTensor", "float64": "DoubleTensor", "float16": "HalfTensor",
               "bfloat16": "BFloat16Tensor", "int64": "LongTensor", "int32": "IntTensor",
               "int16": "ShortTensor", "int8": "CharTensor", "uint8": "ByteTensor", "bool": "BoolTensor",
               "complex64": "ComplexFloatTensor", "complex128": "ComplexDoubleTensor"}


def type_name(np_dtype):
    """PyTorch's legacy type name of a dtype, e.g. torch.FloatTensor (used in error messages)."""
    return "torch." + _TYPE_NAMES[_dtype.from_numpy_dtype(np_dtype).name]


class _Formatter:
    def __init__(self, values):
        self.kind = values.dtype.kind
        self.int_mode = True
        self.sci_mode = False
        self.max_width = 1
        if self.kind == "b":
            self.max_width = 5 if values.size and not values.all() else 4
            return
        if self.kind in "iu":
            self.max_width = max((len(str(v)) for v in values.ravel().tolist()), default=1)
            return
        if self.kind == "c":
            self.real = _Formatter(values.real.astype(np.float64))
            self.imag = _Formatter(values.imag.astype(np.float64))
            return
        # as PyTorch: the mode and the column width come from the nonzero finite values only (zeros, NaN and
        # infinities are printed in that width or wider, unpadded)
        flat = values.astype(np.float64).ravel()
        shown = flat[np.isfinite(flat) & (flat != 0)]
        if shown.size == 0:
            return
        self.int_mode = bool(np.all(shown == np.ceil(shown)))
        big, small = np.abs(shown).max(), np.abs(shown).min()
        self.sci_mode = big / small > 1000.0 or big > 1.0e8 or (not self.int_mode and small < 1.0e-4)
        self.max_width = max(len(self._format_value(v)) for v in shown)

    def _format_value(self, v):
        if self.kind == "b":
            return str(bool(v))
        if self.kind in "iu":
            return str(int(v))
        v = float(v)
        if self.sci_mode:
            return f"{v:.{PRECISION}e}"
        if self.int_mode:
            text = f"{v:.0f}"
            return text if (math.isinf(v) or math.isnan(v)) else text + "."
        return f"{v:.{PRECISION}f}"

    def format(self, v):
        if self.kind == "c":
            re = self.real.format(v.real)
            im = self.imag._format_value(abs(v.imag)) if not math.isnan(v.imag) else "nan"
            sign = "-" if (v.imag < 0 or (v.imag == 0 and math.copysign(1, v.imag) < 0)) else "+"
            return f"{re}{sign}{im.lstrip()}j"
        text = self._format_value(v)
        return " " * (self.max_width - len(text)) + text


def _summarized(values):
    """The edge items of each dim, as PyTorch shows a tensor over the threshold."""
    if values.ndim == 0 or values.shape[0] <= 2 * EDGEITEMS:
        if values.ndim <= 1:
            return values
        return np.stack([_summarized(v) for v in values]) if values.shape[0] else values
    head = [_summarized(v) if values.ndim > 1 else v for v in values[:EDGEITEMS]]
    tail = [_summarized(v) if values.ndim > 1 else v for v in values[-EDGEITEMS:]]
    return np.stack(head + tail)


def _format_1d(values, formatter, indent, summarize):
    width = formatter.max_width if formatter.kind != "c" else len(formatter.format(values.flat[0])) if values.size else 1
    per_line = max(math.floor((LINEWIDTH - indent) / (width + 2)), 1)
    items = [formatter.format(v) for v in values.tolist()] if formatter.kind != "c" else \
        [formatter.format(complex(v)) for v in values]
    if summarize and values.shape[0] > 2 * EDGEITEMS:
        items = items[:EDGEITEMS] + [" ..."] + items[-EDGEITEMS:]  # PyTorch's item, a space included
    lines = [", ".join(items[i:i + per_line]) for i in range(0, len(items), per_line)]
    return "[" + ("," + "\n" + " " * (indent + 1)).join(lines) + "]"


def _format_nd(values, formatter, indent, summarize):
    if values.ndim == 1:
        return _format_1d(values, formatter, indent, summarize)
    rows = values.shape[0]
    if summarize and rows > 2 * EDGEITEMS:
        parts = [_format_nd(values[i], formatter, indent + 1, summarize) for i in range(EDGEITEMS)]
        parts += ["..."]
        parts += [_format_nd(values[i], formatter, indent + 1, summarize) for i in range(rows - EDGEITEMS, rows)]
    else:
        parts = [_format_nd(v, formatter, indent + 1, summarize) for v in values]
    separator = "," + "\n" * (values.ndim - 1) + " " * (indent + 1)
    return "[" + separator.join(parts) + "]"


def _format_data(values, indent):
    if values.ndim == 0:
        formatter = _Formatter(values.reshape(1))
        v = values.item()
        return formatter.format(v).strip() if formatter.kind != "c" else formatter.format(complex(v))
    summarize = values.size > THRESHOLD
    shown = _summarized(values) if summarize else values
    return _format_nd(values, _Formatter(shown), indent, summarize)


def tensor_repr(t):
    from .autograd import grad_mode
    prefix = "tensor("
    data = t._data
    if type(data) is MetaArray:
        return _meta_repr(t, prefix)
    if data.dtype == _dtype.bfloat16.np or data.dtype == np.float16:
        data = data.astype(np.float32)
    dt = t.dtype
    default = (_dtype.get_default_dtype(), _dtype.get_default_dtype().to_complex(), _dtype.int64, _dtype.bool)
    suffixes = []
    if data.size == 0:
        body = "[]"
        if data.ndim != 1:
            suffixes.append(f"size={tuple(data.shape)}")
        if dt != _dtype.get_default_dtype():  # no elements show an int64 or bool dtype: it is named
            suffixes.append(f"dtype={dt!r}")
    else:
        if not EDGEITEMS:
            suffixes.append(f"size={tuple(data.shape)}")
        body = _format_data(data, len(prefix))
        if dt not in default:
            suffixes.append(f"dtype={dt!r}")
    fn = t.grad_fn
    if fn is not None:
        suffixes.append(f"grad_fn=<{fn.name()}>")
    elif t._requires_grad:
        suffixes.append("requires_grad=True")
    return _add_suffixes(prefix + body, suffixes, len(prefix))


def _meta_repr(t, prefix):
    """PyTorch's: no values, the device and size (and a dtype other than the default) in their place."""
    suffixes = ["device='meta'", f"size={tuple(t._data.shape)}"]
    if t.dtype != _dtype.get_default_dtype():
        suffixes.append(f"dtype={t.dtype!r}")
    fn = t.grad_fn
    if fn is not None:
        suffixes.append(f"grad_fn=<{fn.name()}>")
    elif t._requires_grad:
        suffixes.append("requires_grad=True")
    return _add_suffixes(prefix + "...", suffixes, len(prefix))


def _add_suffixes(tensor_str, suffixes, indent):
    """PyTorch's: a suffix that would pass the line width goes on a line of its own (its length count, with its
    off-by-two on a single line, kept so that the same reprs wrap)."""
    parts = [tensor_str]
    last_line_len = len(tensor_str) - tensor_str.rfind("\n") + 1
    for suffix in suffixes:
        if last_line_len + len(suffix) + 2 > LINEWIDTH:
            parts.append(",\n" + " " * indent + suffix)
            last_line_len = indent + len(suffix)
        else:
            parts.append(", " + suffix)
            last_line_len += len(suffix) + 2
    parts.append(")")
    return "".join(parts)
