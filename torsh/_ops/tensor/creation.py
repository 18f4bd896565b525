"""Tensor creation: from data, constant fills, ranges, eye, and random sampling."""
import builtins
import math

import ml_dtypes
import numpy as np

from ... import _dtype, _meta, _meta_array, _random
from ..._warnings import warn
from ..._tensor import Tensor, require_cpu, wrap
from .._helpers import dtype_name, is_tensor, to_array
from ..registry import Inplace, copy_out, register


def _check_device(device):
    if device is not None:
        require_cpu(device)  # PyTorch's error for a device this CPU-only build has not


def _on_meta(device):
    """True when a factory builds a meta tensor: ``device`` is meta, or it is None and the default device is
    (``torch.set_default_device``, ``with torch.device``); PyTorch's error for a device this build has not."""
    if device is None and _meta_array.default_device is None:
        return False
    return _meta.factory_device(device)


def _like_device(input, device):
    """A *_like factory's device: the input's unless given (the default device does not apply)."""
    if device is None:
        return "meta" if type(input._data) is _meta_array.MetaArray else "cpu"
    return device


def _finish(t, requires_grad, out=None):
    if requires_grad:
        if not (t.dtype.is_floating_point or t.dtype.is_complex):  # a factory's wording, not requires_grad_'s
            raise RuntimeError("Only Tensors of floating point and complex dtype can require gradients")
        t.requires_grad_(True)
    if out is not None:  # PyTorch's out= of a factory: out is resized and filled
        return copy_out(t, out, check_dtype=False)  # a factory writes out's dtype
    return t


def _check_out_dtype(dtype, out):
    """A factory's ``out=``: an explicit ``dtype`` must be out's (checked before anything is drawn or written); the
    factory then computes in out's dtype and copies into out, resized."""
    if dtype is not None and _dtype.to_dtype(dtype) is not out.dtype:
        names = _dtype.SCALAR_TYPE_NAMES
        raise RuntimeError(f"dtype {names[_dtype.to_dtype(dtype).name]} does not match dtype of out parameter "
                           f"({names[out.dtype.name]})")


def _is_int(x):
    """What PyTorch's parser reads as an int in a size: an int or NumPy integer (no bool), a 0-d integer tensor."""
    if isinstance(x, (builtins.bool, np.bool_)):
        return False
    if is_tensor(x):
        return x._data.ndim == 0 and x._data.dtype.kind in "iu"
    return isinstance(x, (builtins.int, np.integer))


def _check_size_types(sizes, op):
    """PyTorch's TypeErrors for a size that is not ints: zeros(2.5), zeros((2.5,)), ones(2, 2.0)."""
    if len(sizes) == 1 and not _is_int(sizes[0]):
        size = sizes[0]
        if not isinstance(size, (tuple, list)):
            raise TypeError(f"{op}(): argument 'size' (position 1) must be tuple of ints, not {type(size).__name__}")
        for i, s in enumerate(size):
            if not _is_int(s):
                raise TypeError(f"{op}(): argument 'size' (position 1) must be tuple of ints, but found element of "
                                f"type {type(s).__name__} at pos {i}")
    elif len(sizes) > 1:
        for i, s in enumerate(sizes):
            if not _is_int(s):
                raise TypeError(f"{op}(): argument 'size' failed to unpack the object at pos {i + 1} with error "
                                f"\"type must be tuple of ints,but got {type(s).__name__}\"")


def _size_arg(sizes, size, op):
    """The shape given as ``*sizes`` varargs or as the ``size=`` keyword (PyTorch takes either, not both)."""
    if size is not None:
        if sizes:
            raise TypeError(f"{op}() got multiple values for argument 'size'")
        sizes = (size,)
    _check_size_types(sizes, op)
    return _sizes(sizes)


def _flat_ints(size):
    """The ints of a shape given as varargs or as one sequence (before _sizes validates it)."""
    size = size[0] if len(size) == 1 and isinstance(size[0], (tuple, list)) else size
    return [int(s) for s in size if isinstance(s, (builtins.int, np.integer))]


def _sizes(size):
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = size[0]
    sizes = tuple(int(s) for s in size)
    for s in sizes:
        if s < 0:
            raise RuntimeError(f"Trying to create tensor with negative dimension {s}: {list(sizes)}")
    return sizes


def _allocated(shape, np_dtype, make):
    """``make()``, the new array of ``shape``, with PyTorch's errors for a size no storage can hold: an overflowing
    byte count, or a failed allocation (NumPy's MemoryError)."""
    nbytes = math.prod(shape) * np.dtype(np_dtype).itemsize
    if nbytes > 2 ** 63 - 1:
        raise RuntimeError(f"Storage size calculation overflowed with sizes={list(shape)}")
    try:
        return make()
    except MemoryError:
        raise RuntimeError(f"[enforce fail at alloc_cpu.cpp:127] err == 0. DefaultCPUAllocator: can't allocate "
                           f"memory: you tried to allocate {nbytes} bytes. Error code 12 (Cannot allocate "
                           "memory)") from None


def _is_sequence(x):
    """What PyTorch's tensor() reads as a sequence (Python's sequence protocol): list, tuple, deque, range, ...;
    not str, bytes or dict."""
    kind = type(x)
    return hasattr(kind, "__getitem__") and hasattr(kind, "__len__") and not isinstance(x, (str, bytes, dict))


def _first_leaf_is_str(data):
    """PyTorch infers the shape along first elements; a str there reads as a sequence of sequences."""
    while _is_sequence(data) and not isinstance(data, np.ndarray) and not is_tensor(data) and len(data):
        data = data[0]
    return isinstance(data, str)


def _infer_dtype(data):
    """PyTorch's dtype inference for nested Python data."""
    if _is_sequence(data) and _first_leaf_is_str(data):
        raise ValueError("too many dimensions 'str'")
    kinds = set()

    def visit(x):
        if is_tensor(x):
            kinds.add(x.dtype)
        elif isinstance(x, (list, tuple)):
            for item in x:
                visit(item)
        elif isinstance(x, (np.ndarray, np.generic)):  # before float: np.float64 is a float subclass
            kinds.add(_dtype.from_numpy_dtype(x.dtype))
        elif isinstance(x, (builtins.int, builtins.float, builtins.complex)):
            kinds.add(_dtype.scalar_dtype(x))
        elif isinstance(x, str):
            raise TypeError("new(): invalid data type 'str'")
        elif _is_sequence(x):
            for item in x:
                visit(item)
        else:
            raise RuntimeError(f"Could not infer dtype of {type(x).__name__}")

    visit(data)
    if not kinds:
        return _dtype.get_default_dtype()
    result = None
    for d in kinds:
        result = d if result is None else _dtype.promote_types(result, d)
    return result


def _element(t):
    """A tensor inside a data sequence: PyTorch reads it as one scalar (its 0-d array keeps the dtype)."""
    if t._data.size != 1:
        raise ValueError("only one element tensors can be converted to Python scalars")
    return t._data.reshape(())


def _plain(data):
    """Nested data as lists of scalars and arrays that NumPy reads: other sequences (deque, range, ...) become
    lists and one-element tensors become scalars; ragged data raises PyTorch's errors."""
    if is_tensor(data):
        return _element(data)
    if isinstance(data, np.ndarray) or not (isinstance(data, (list, tuple)) or _is_sequence(data)):
        return data
    return [_plain(x) for x in data]


def _is_nested(x):
    return isinstance(x, list) or (isinstance(x, np.ndarray) and x.ndim > 0)


def _check_ragged(data, d):
    """PyTorch's errors for nested sequences that are not a block: the first elements set the shape, then
    each item must be a sequence of that length, and the innermost ones numbers. Returns the empty array of
    an empty block."""
    shape, first = [], data
    while _is_nested(first):
        shape.append(len(first))
        first = first[0] if len(first) else None
    if 0 in shape:  # PyTorch reads no element of an empty block: [[], [1]] is a (2, 0) tensor
        return np.zeros(shape)

    def walk(item, dim):
        if dim == len(shape):
            if _is_nested(item):  # where PyTorch converts a number: the conversion fails
                kind = type(item).__name__
                raise TypeError(f"must be real number, not {kind}" if d.is_floating_point or d.is_complex else
                                f"'{kind}' object cannot be interpreted as an integer")
            return
        if not _is_nested(item):
            raise TypeError("not a sequence")
        if len(item) != shape[dim]:
            raise ValueError(f"expected sequence of length {shape[dim]} at dim {dim} (got {len(item)})")
        for x in item:
            walk(x, dim + 1)
    walk(data, 0)
    return None


def _to_numpy(data, d):
    if is_tensor(data):
        return data._data
    if isinstance(data, np.ndarray):
        return data
    plain = _plain(data)
    try:
        return np.asarray(plain)
    except ValueError:
        empty = _check_ragged(plain, d)
        if empty is None:
            raise
        return empty


def tensor(data, *, dtype=None, device=None, requires_grad=False, pin_memory=False):
    """A new tensor copying ``data`` (nested lists, scalars, NumPy arrays or tensors)."""
    meta = _on_meta(device) or (device is None and is_tensor(data) and data.is_meta)
    if meta or (is_tensor(data) and data.is_meta):
        return _meta_copy(tensor, data, dtype, requires_grad, meta)
    if isinstance(data, np.ndarray):
        d = _dtype.to_dtype(dtype) if dtype is not None else _dtype.from_numpy_dtype(data.dtype)
        array = np.array(data, dtype=d.np, copy=True)
    else:
        if is_tensor(data):
            warn("To copy construct from a tensor, it is recommended to use sourceTensor.detach().clone() or "
                 "sourceTensor.detach().clone().requires_grad_(True), rather than torch.tensor(sourceTensor).")
        d = _dtype.to_dtype(dtype) if dtype is not None else (
            data.dtype if is_tensor(data) else _infer_dtype(data))
        raw = _to_numpy(data, d)
        if raw.dtype == object:
            raise ValueError("expected sequence of equal-length sequences to build a tensor")
        if d.np.kind in "iu" and raw.dtype.kind in "fiu" and raw.size and not is_tensor(data):
            _check_integer_data(raw, d)
        array = np.array(raw, dtype=d.np, copy=True)
    return _finish(wrap(array), requires_grad)


def _meta_copy(factory, data, dtype, requires_grad, meta):
    """tensor()/as_tensor() building a meta tensor (the values checked and dropped), or given a meta one."""
    if is_tensor(data) and data.is_meta:
        if not meta:
            raise NotImplementedError("Cannot copy out of meta tensor; no data!")
        d = data.dtype if dtype is None else _dtype.to_dtype(dtype)
        shape = data._data.shape
    else:
        template = factory(data, dtype=dtype, device="cpu")
        d, shape = template.dtype, template._data.shape
    return _finish(_meta.empty(shape, d), requires_grad)


def _check_integer_data(raw, d):
    """PyTorch converts each Python number with an overflow check: NaN, inf or 300 into uint8 raise."""
    info = np.iinfo(d.np)
    if raw.dtype == np.uint64 and np.any(raw > 2 ** 63 - 1):  # a Python int past int64: its unpacking fails
        raise ValueError("Overflow when unpacking long long")
    with np.errstate(invalid="ignore"):
        if raw.dtype.kind == "f":
            bad = ~((raw >= info.min) & (raw <= info.max))
        else:  # c10's overflows(): a negative int wraps around an unsigned type (-1 -> 255) if -value fits
            low = -int(info.max) if info.min == 0 else int(info.min)
            bad = (raw < low) | (raw > info.max)
    if np.any(bad):
        raise RuntimeError(f"value cannot be converted to type {d.name} without overflow")
register(tensor, method=False)


def as_tensor(data, dtype=None, device=None):
    """Share memory with ``data`` when it is already a tensor or array of the right dtype."""
    meta = _on_meta(device)
    if is_tensor(data) and data.is_meta and device is None:
        meta = True
    if meta != (is_tensor(data) and data.is_meta):
        return _meta_copy(as_tensor, data, dtype, False, meta)
    if is_tensor(data):
        return data if dtype is None or data.dtype is _dtype.to_dtype(dtype) else data.to(dtype)
    if isinstance(data, np.ndarray):
        d = _dtype.to_dtype(dtype) if dtype is not None else _dtype.from_numpy_dtype(data.dtype)
        return wrap(data if data.dtype == d.np else data.astype(d.np))
    return tensor(data, dtype=dtype)
register(as_tensor, aliases=("asarray",), method=False)


asarray = as_tensor


def from_numpy(ndarray):
    """A tensor sharing ``ndarray``'s memory (writes through either are seen by both)."""
    if not isinstance(ndarray, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(ndarray).__name__})")
    _dtype.from_numpy_dtype(ndarray.dtype)
    return wrap(ndarray)
register(from_numpy, method=False)


def from_dlpack(ext_tensor):
    return wrap(np.from_dlpack(ext_tensor))
register(from_dlpack, method=False)


_C_TYPE_NAMES = {"bool": "bool", "uint8": "uint8_t", "int8": "int8_t", "int16": "int16_t", "int32": "int",
                 "int64": "int64_t", "float16": "c10::Half", "bfloat16": "c10::BFloat16", "float32": "float",
                 "float64": "double", "complex64": "c10::complex<float>", "complex128": "c10::complex<double>"}


def _overflows(value, d):
    """c10's ``overflows<To>(value)`` for a Python number ``value`` and the dtype ``d``."""
    if d.is_complex:
        value = complex(value)
        real = d.to_real()
        return _overflows(value.real, real) or _overflows(value.imag, real)
    if isinstance(value, complex):
        return value.imag != 0 or _overflows(value.real, d)
    if d.is_floating_point:
        if isinstance(value, float) and not math.isfinite(value):
            return False  # inf and nan exist in every float type
        return abs(float(value)) > float(ml_dtypes.finfo(d.np).max)
    info = np.iinfo(d.np)
    if isinstance(value, float):  # NaN, +-inf and values past the limits (compared as doubles, as C++ does)
        return not float(info.min) <= value <= float(info.max)
    if info.min == 0 and value < 0:  # unsigned: negative numbers wrap around (two's complement)
        return -value > info.max
    return not info.min <= value <= info.max


def check_scalar_fits(value, d):
    """Raise PyTorch's errors for a Python number that dtype ``d`` cannot hold (full, fill_): NaN or inf
    into an integer type, 300 into uint8, 1e300 into float32. Tensors and bool targets are never checked."""
    if d is _dtype.bool or not isinstance(value, (builtins.int, builtins.float, builtins.complex, np.generic)):
        return
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, builtins.int) and not isinstance(value, builtins.bool):
        if value < -2 ** 63:  # a Python int goes through int64 or uint64 first
            raise OverflowError("can't convert negative int to unsigned")
        if value >= 2 ** 64:
            raise OverflowError("int too big to convert")
    if _overflows(value, d):
        raise RuntimeError(f"value cannot be converted to type {_C_TYPE_NAMES[d.name]} without overflow")


def scalar_to(value, d):
    """A Python number as the NumPy scalar of dtype ``d``, as PyTorch's Scalar.to<T>() makes it: the overflow
    check, then a C cast (floats into integer types truncate, negative ints wrap around unsigned types)."""
    check_scalar_fits(value, d)
    if isinstance(value, builtins.complex) and not d.is_complex:  # 1+0j passed the check: its imag is 0
        value = value.real
    if isinstance(value, builtins.float) and d.np.kind in "iub":
        with np.errstate(invalid="ignore"):
            return np.array(value).astype(d.np)[()]
    with np.errstate(over="ignore"):
        return to_array(value, d.np)


def fill_value(value, d):
    """The scalar full/fill_ write: PyTorch checks it as Scalar.to<T>() does."""
    return scalar_to(value, d)


_REDUCED_FLOATS = (_dtype.float16, _dtype.bfloat16)


def _one_element_fill(value, d):
    """What PyTorch's fill of a one-element tensor writes: its float16/bfloat16 path goes through float
    unchecked (linspace(1e5, 0, 1, dtype=float16) is [inf])."""
    if d in _REDUCED_FLOATS and isinstance(value, (builtins.int, builtins.float, np.floating)):
        with np.errstate(over="ignore"):
            return d.np.type(np.float32(value))
    return scalar_to(value, d)


def _fill(size, value, dtype, requires_grad, device):
    meta = _on_meta(device)
    d = _dtype.to_dtype(dtype) if dtype is not None else _dtype.get_default_dtype()
    shape, fill = _sizes(size), fill_value(value, d)
    if meta:
        return _finish(_meta.empty(shape, d), requires_grad)
    return _finish(wrap(_allocated(shape, d.np, lambda: np.full(shape, fill, dtype=d.np))), requires_grad)


def zeros(*sizes, size=None, dtype=None, device=None, requires_grad=False, out=None, layout=None,
          pin_memory=False, names=None):
    if out is not None:
        _check_out_dtype(dtype, out)
        return copy_out(zeros(*sizes, size=size, dtype=out.dtype, device=device), out, check_dtype=False)
    shape = sizes if size is None else (size,)
    _check_size_types(shape, "zeros")
    if any(s < 0 for s in _flat_ints(shape)):  # torch.zeros words its check apart from the other factories
        raise RuntimeError("zeros: Dimension size must be non-negative.")
    return _finish(_fill(_size_arg(sizes, size, "zeros"), 0, dtype, requires_grad, device), False, out)
register(zeros, method=False)


def ones(*sizes, size=None, dtype=None, device=None, requires_grad=False, out=None, layout=None,
         pin_memory=False, names=None):
    if out is not None:
        _check_out_dtype(dtype, out)
        return copy_out(ones(*sizes, size=size, dtype=out.dtype, device=device), out, check_dtype=False)
    return _finish(_fill(_size_arg(sizes, size, "ones"), 1, dtype, requires_grad, device), False, out)
register(ones, method=False)


def empty(*sizes, size=None, dtype=None, device=None, requires_grad=False, out=None, layout=None,
          pin_memory=False, memory_format=None, names=None):
    if out is not None:  # PyTorch's out= of a factory: an explicit dtype must be out's
        _check_out_dtype(dtype, out)
        return copy_out(empty(*sizes, size=size, dtype=out.dtype, device=device), out, check_dtype=False)
    meta = _on_meta(device)
    d = _dtype.to_dtype(dtype) if dtype is not None else _dtype.get_default_dtype()
    shape = _size_arg(sizes, size, "empty")
    if meta:
        return _finish(_meta.empty(_sizes(shape), d), requires_grad, out)
    return _finish(wrap(_allocated(shape, d.np, lambda: np.empty(shape, dtype=d.np))), requires_grad, out)
register(empty, method=False)


def full(size, fill_value, *, dtype=None, device=None, requires_grad=False, out=None, layout=None):
    if out is not None:
        _check_out_dtype(dtype, out)
        return copy_out(full(size, fill_value, dtype=out.dtype, device=device), out, check_dtype=False)
    if not ((is_tensor(fill_value) and fill_value._data.ndim == 0)  # a 0-d tensor reads as a Number
            or isinstance(fill_value, (builtins.int, builtins.float, builtins.complex, np.number, np.bool_))):
        raise TypeError(f"full(): argument 'fill_value' (position 2) must be Number, not {type(fill_value).__name__}")
    if dtype is None:
        dtype = _dtype.scalar_dtype(fill_value.item() if is_tensor(fill_value) else fill_value)
    value = fill_value.item() if is_tensor(fill_value) else fill_value
    return _fill((size,) if isinstance(size, int) else tuple(size), value, dtype, requires_grad, device)
register(full, method=False)


def _like(input, dtype):
    return input.dtype if dtype is None else _dtype.to_dtype(dtype)


def zeros_like(input, *, dtype=None, device=None, requires_grad=False, memory_format=None, layout=None):
    return zeros(input._data.shape, dtype=_like(input, dtype), requires_grad=requires_grad,
                 device=_like_device(input, device))
register(zeros_like, method=False)


def ones_like(input, *, dtype=None, device=None, requires_grad=False, memory_format=None, layout=None):
    return ones(input._data.shape, dtype=_like(input, dtype), requires_grad=requires_grad,
                 device=_like_device(input, device))
register(ones_like, method=False)


def empty_like(input, *, dtype=None, device=None, requires_grad=False, memory_format=None, layout=None):
    return empty(input._data.shape, dtype=_like(input, dtype), requires_grad=requires_grad,
                 device=_like_device(input, device))
register(empty_like, method=False)


def full_like(input, fill_value, *, dtype=None, device=None, requires_grad=False, memory_format=None, layout=None):
    return _fill(input._data.shape, fill_value, _like(input, dtype), requires_grad, _like_device(input, device))
register(full_like, method=False)


def zeros_for(shape, dtype):
    """Zeros of a recorded (shape, dtype): the engine's stand-in for a missing gradient."""
    return wrap(np.zeros(shape, dtype=dtype.np))


def _scalar(x):
    return x.item() if is_tensor(x) else x


def arange(start=0, end=None, step=1, *, dtype=None, device=None, requires_grad=False, out=None, layout=None):
    if out is not None:
        _check_out_dtype(dtype, out)
        return copy_out(arange(start, end, step, dtype=out.dtype, device=device), out, check_dtype=False)
    meta = _on_meta(device)
    start, end, step = _scalar(start), _scalar(end), _scalar(step)
    if end is None:
        start, end = 0, start
    if dtype is not None:
        _check_kernel("arange_cpu", _dtype.to_dtype(dtype), complex_ok=False)
    count = _arange_count(start, end, step)
    if dtype is None:
        is_float = any(isinstance(v, float) for v in (start, end, step))
        d = _dtype.get_default_dtype() if is_float else _dtype.int64
    else:
        d = _dtype.to_dtype(dtype)
    if not (d.is_floating_point or d.is_complex) and any(isinstance(v, float) for v in (start, end, step)):
        start, end, step, count = _integer_range(start, end, step, count, d)
    _allocated((count,), d.np, lambda: None)  # PyTorch's overflow error for a count no storage can hold
    if meta:
        return _finish(_meta.empty((count,), d), requires_grad)
    values = start + _allocated((count,), np.float64, lambda: np.arange(
        count, dtype=np.float64 if d.is_floating_point else np.int64)) * step
    return _finish(wrap(values.astype(d.np)), requires_grad)
register(arange, method=False)


def _integer_range(start, end, step, count, d):
    """An integer-dtype arange of float bounds as PyTorch computes it: the values step from the truncated start
    by the truncated step; int64 also counts them on the truncated bounds, other types on the given ones."""
    start, step = builtins.int(start), builtins.int(step)
    if d is _dtype.int64:
        end = builtins.int(end)
        if step == 0:
            raise ValueError("step must be nonzero")
        count = _arange_count(start, end, step)
    return start, end, step, count


def _c_number(x):
    """A number as C++'s ostream prints it in PyTorch's messages (1.5e+10, inf, 0.5, 3)."""
    return f"{x:g}" if isinstance(x, float) else str(x)


def _arange_count(start, end, step):
    """How many values arange(start, end, step) holds; PyTorch's errors for ranges it cannot make."""
    if not (math.isfinite(start) and math.isfinite(end)):
        raise RuntimeError(f"unsupported range: {_c_number(start)} -> {_c_number(end)}")
    if not (step > 0 or step < 0):  # zero and NaN
        raise RuntimeError("step must be nonzero")
    if (end - start) * step < 0:
        raise RuntimeError("upper bound and lower bound inconsistent with step sign")
    count = (end - start) / step
    if count > 2 ** 63 - 1:
        raise RuntimeError("invalid size, possible overflow?")
    return math.ceil(count)


def range(start=0, end=None, step=1, *, dtype=None, device=None, requires_grad=False):
    """Deprecated torch.range: like arange but including ``end``; float by default."""
    d = _dtype.to_dtype(dtype) if dtype is not None else _dtype.get_default_dtype()
    count = int(math.floor((end - start) / step)) + 1
    return _finish(wrap((start + np.arange(count) * step).astype(d.np)), requires_grad)


def _check_steps(steps):
    if _scalar(steps) < 0:
        raise RuntimeError("number of steps must be non-negative")


_LIMITED_UINTS = "HILQ"  # uint16/32/64: PyTorch compiles no range kernel for them


def _check_kernel(kernel, d, complex_ok=True):
    """PyTorch's NotImplementedError for a dtype its range kernel is not compiled for (never bool)."""
    if d is _dtype.bool or (d.is_complex and not complex_ok) or d.np.char in _LIMITED_UINTS:
        raise NotImplementedError(f'"{kernel}" not implemented for \'{dtype_name(d)}\'')


def _space_dtype(op, dtype, start, end):
    """linspace/logspace's dtype: the given one, else the default (its complex partner for a complex end)."""
    inferred = _dtype.get_default_dtype()
    if any(isinstance(v, builtins.complex) for v in (start, end)):
        inferred = inferred.to_complex()
    if dtype is None:
        return inferred
    d = _dtype.to_dtype(dtype)
    if inferred.is_complex and not d.is_complex:
        c_type = "c10::complex<float>" if inferred is _dtype.complex64 else "c10::complex<double>"
        raise RuntimeError(f"torch.{op}(): inferred dtype {c_type} can't be safely cast to passed dtype "
                           f"{dtype_name(d)}")
    return d


# the ramp is computed with a fused multiply-add (PyTorch's CPU kernels are built with FMA contraction), so
# first + step * i rounds once: emulated in a wider type. Half and bfloat16 arithmetic rounds each operation.
_FMA_WIDER = {np.float32: np.float64, np.float64: np.longdouble}


def _halfway_ramp(first, last, steps, ct):
    """PyTorch's linspace formula in NumPy type ``ct``: first + step*i for i < steps // 2, then
    last - step*(steps - 1 - i), with step = (last - first) / (steps - 1)."""
    first, last, i = ct(first), ct(last), np.arange(steps)
    step = (last - first) / ct(steps - 1)
    wide = _FMA_WIDER.get(ct, ct)
    with np.errstate(all="ignore"):  # inf/NaN ends give NaN where PyTorch's formula does
        up = wide(first) + wide(step) * i.astype(ct).astype(wide)
        down = wide(last) - wide(step) * (steps - 1 - i).astype(ct).astype(wide)
        return np.where(i < steps // 2, up, down).astype(ct)


def _linspace_array(start, end, steps, d):
    if steps == 1:
        return np.full(1, _one_element_fill(start, d), d.np)
    first, last = scalar_to(start, d), scalar_to(end, d)  # the ends converted as PyTorch's Scalar.to<T>()
    if d.is_complex:  # c10::complex scales by a real index part by part
        ct = d.to_real().np.type
        return (_halfway_ramp(first.real, last.real, steps, ct)
                + 1j * _halfway_ramp(first.imag, last.imag, steps, ct)).astype(d.np)
    ct = d.np.type if d.is_floating_point else np.float64  # integer types step in double
    with np.errstate(invalid="ignore"):
        return _halfway_ramp(first, last, steps, ct).astype(d.np)


def _space_args(op, start, end, steps, dtype, device):
    """linspace/logspace's checks in PyTorch's order; (start, end, steps) as Python numbers and the dtype."""
    if device is not None:
        _meta.is_meta_device(device)  # PyTorch's error for a device this build has not
    _check_steps(steps)
    start, end, steps = _scalar(start), _scalar(end), int(steps)
    d = _space_dtype(op, dtype, start, end)
    if steps > 1:
        _check_kernel(f"{op}_cpu", d)
    return start, end, steps, d


def linspace(start, end, steps, *, dtype=None, device=None, requires_grad=False, out=None, layout=None):
    if out is not None:
        _check_out_dtype(dtype, out)
        return copy_out(linspace(start, end, steps, dtype=out.dtype, device=device), out, check_dtype=False)
    start, end, steps, d = _space_args("linspace", start, end, steps, dtype, device)
    if _on_meta(device):
        return _finish(_meta.empty((steps,), d), requires_grad, out)
    _allocated((steps,), d.np, lambda: None)  # PyTorch's overflow error for a count no storage can hold
    values = _linspace_array(start, end, steps, d) if steps else np.empty(0, d.np)
    return _finish(wrap(values), requires_grad, out)
register(linspace, method=False)


def _polar_power(base, exponent):
    """std::pow(double, complex<double>): polar(base ** exponent.real, exponent.imag * log(base))."""
    radius, angle = np.power(np.float64(base), exponent.real), exponent.imag * np.log(np.float64(base))
    return complex(radius * np.cos(angle), radius * np.sin(angle))


def _logspace_array(start, end, steps, base, d):
    """PyTorch's logspace loop: base ** (the linspace exponents, in double; complex types in their own)."""
    with np.errstate(all="ignore"):
        if steps == 1:  # fill_(pow(base, start)): the fill's overflow check, no conversion of ``end``
            power = _polar_power(base, complex(start)) if d.is_complex else np.power(np.float64(base), np.float64(start))
            return np.full(1, _one_element_fill(power, d), d.np)
        first, last = scalar_to(start, d), scalar_to(end, d)
        if d.is_complex:  # complex arithmetic throughout; std::pow(x, y) is exp(y * log(x))
            ct = d.np.type
            i = np.arange(steps).astype(ct)
            step = (ct(last) - ct(first)) / ct(steps - 1)
            exps = np.where(np.arange(steps) < steps // 2, ct(first) + step * i,
                            ct(last) - step * (ct(steps - 1) - i))
            return np.exp(exps * np.log(ct(base))).astype(d.np)
        # the difference in the dtype (an integer one cannot overflow in C's int arithmetic), the rest in double
        diff = builtins.int(last) - builtins.int(first) if not d.is_floating_point else last - first
        step, i = np.float64(diff) / (steps - 1), np.arange(steps)  # not fused: this loop is not a CPU kernel
        exps = np.where(i < steps // 2, np.float64(first) + step * i, np.float64(last) - step * (steps - 1 - i))
        return np.power(np.float64(base), exps).astype(d.np)


def logspace(start, end, steps, base=10.0, *, dtype=None, device=None, requires_grad=False, out=None, layout=None):
    if out is not None:
        _check_out_dtype(dtype, out)
        return copy_out(logspace(start, end, steps, base, dtype=out.dtype, device=device), out, check_dtype=False)
    start, end, steps, d = _space_args("logspace", start, end, steps, dtype, device)
    if _on_meta(device):
        return _finish(_meta.empty((steps,), d), requires_grad, out)
    values = _logspace_array(start, end, steps, base, d) if steps else np.empty(0, d.np)
    return _finish(wrap(values), requires_grad, out)
register(logspace, method=False)


def eye(n, m=None, *, dtype=None, device=None, requires_grad=False, out=None, layout=None):
    if out is not None:
        _check_out_dtype(dtype, out)
        return copy_out(eye(n, m, dtype=out.dtype, device=device), out, check_dtype=False)
    meta = _on_meta(device)
    d = _dtype.to_dtype(dtype) if dtype is not None else _dtype.get_default_dtype()
    m = n if m is None else m
    for name, size in (("n", n), ("m", m)):
        if size < 0:
            raise RuntimeError(f"{name} must be greater or equal to 0, got {size}")
    if n * m > 2 ** 63 - 1:
        raise RuntimeError("numel: integer multiplication overflow")
    if meta:
        return _finish(_meta.empty((n, m), d), requires_grad, out)
    return _finish(wrap(_allocated((n, m), d.np, lambda: np.eye(n, m, dtype=d.np))), requires_grad)
register(eye, method=False)


# -- random ------------------------------------------------------------------------------------
def _float_dtype(dtype, kernel="check_uniform_bounds"):
    d = _dtype.to_dtype(dtype) if dtype is not None else _dtype.get_default_dtype()
    if not (d.is_floating_point or d.is_complex):
        raise NotImplementedError(f'"{kernel}" not implemented for \'{dtype_name(d)}\'')
    return d


def _sample(values, d):
    """NumPy samples (float64 or float32) as a tensor of ``d``."""
    return wrap(values if values.dtype == d.np else values.astype(d.np))


def _native(d):
    return np.float32 if d.np == np.float32 else np.float64


def _float_draw(op, sampler, sizes, size, generator, dtype, device, requires_grad, out):
    """rand/randn: PyTorch's uniform or normal sampler (torsh._random) for the dtype."""
    meta = _on_meta(device)
    d = _float_dtype(dtype, "check_uniform_bounds" if op == "rand" else "normal_kernel_cpu")
    shape = _size_arg(sizes, size, op)
    if meta:  # nothing drawn: the generator does not advance
        return _finish(_meta.empty(_sizes(shape), d), requires_grad, out)
    draw = _allocated(shape, d.np, lambda: sampler(shape, d.np, generator=generator))
    return _finish(_sample(draw, d), requires_grad, out)


def rand(*sizes, size=None, generator=None, dtype=None, device=None, requires_grad=False, out=None, layout=None,
         pin_memory=False, names=None):
    if out is not None:
        _check_out_dtype(dtype, out)
        result = rand(*sizes, size=size, generator=generator, dtype=out.dtype, device=device)
        return copy_out(result, out, check_dtype=False)
    return _float_draw("rand", _random.uniform, sizes, size, generator, dtype, device, requires_grad, out)
register(rand, method=False)


def randn(*sizes, size=None, generator=None, dtype=None, device=None, requires_grad=False, out=None, layout=None,
          pin_memory=False, names=None):
    if out is not None:
        _check_out_dtype(dtype, out)
        result = randn(*sizes, size=size, generator=generator, dtype=out.dtype, device=device)
        return copy_out(result, out, check_dtype=False)
    return _float_draw("randn", _random.normal, sizes, size, generator, dtype, device, requires_grad, out)
register(randn, method=False)


def randint(low=0, high=None, size=None, *, generator=None, dtype=None, device=None, requires_grad=False, out=None,
            layout=None, pin_memory=False):
    if out is not None:
        _check_out_dtype(dtype, out)
        result = randint(low, high, size, generator=generator, dtype=out.dtype, device=device)
        return copy_out(result, out, check_dtype=False)
    meta = _on_meta(device)
    if size is None:  # randint(high, size)
        if high is None:
            raise TypeError("randint() received an invalid combination of arguments - got (int), but expected one "
                            "of:\n * (int high, tuple of ints size, *, torch.Generator generator, Tensor out = None, "
                            "torch.dtype dtype = None, torch.layout layout = None, torch.device device = None, bool "
                            "pin_memory = False, bool requires_grad = False)")
        low, high, size = 0, low, high
    elif high is None:  # randint(high, size=...)
        low, high = 0, low
    for value, name, position in ((high, "high", 1 if size is not None and low == 0 else 2), (low, "low", 1)):
        if not _is_int(value):
            raise TypeError(f"randint(): argument '{name}' (position {position}) must be int, not "
                            f"{type(value).__name__}")
    if not isinstance(size, (tuple, list)):
        raise TypeError(f"randint(): argument 'size' (position 2) must be tuple of ints, not {type(size).__name__}")
    if low >= high:
        raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got from={low} >= to={high}")
    d = _dtype.to_dtype(dtype) if dtype is not None else _dtype.int64
    check_random_bounds(low, high, d.np)
    if meta:
        return _finish(_meta.empty(_sizes((size,)), d), requires_grad, out)
    values = _random.integers(low, high, _sizes((size,)), generator)
    return _finish(wrap(values.astype(d.np)), requires_grad, out)
register(randint, method=False)


# C++'s names of the integer types in PyTorch's random bounds errors
_C_INT_NAMES = {"bool": "bool", "uint8": "unsigned char", "int8": "signed char", "int16": "short", "int32": "int",
                "int64": "long"}


def check_random_bounds(low, high, np_dtype):
    """PyTorch's random_/randint check that [low, high) fits an integer dtype: 'to - 1 is out of bounds'."""
    np_dtype = np.dtype(np_dtype)
    if np_dtype.kind not in "iub":
        return
    low_limit, high_limit = (0, 1) if np_dtype.kind == "b" else (np.iinfo(np_dtype).min, np.iinfo(np_dtype).max)
    if not low_limit <= low <= high_limit:
        raise RuntimeError(f"from is out of bounds for {_C_INT_NAMES[np_dtype.name]}")
    if not low_limit <= high - 1 <= high_limit:
        raise RuntimeError(f"to - 1 is out of bounds for {_C_INT_NAMES[np_dtype.name]}")


def randperm(n, *, generator=None, dtype=None, device=None, requires_grad=False, out=None, layout=None,
             pin_memory=False):
    if out is not None:
        _check_out_dtype(dtype, out)
        return copy_out(randperm(n, generator=generator, dtype=out.dtype, device=device), out, check_dtype=False)
    meta = _on_meta(device)
    if not _is_int(n):
        raise TypeError(f"randperm(): argument 'n' (position 1) must be int, not {type(n).__name__}")
    d = _dtype.to_dtype(dtype) if dtype is not None else _dtype.int64
    if d is _dtype.bool or d.is_complex:
        raise NotImplementedError(f'"randperm" not implemented for \'{dtype_name(d)}\'')
    if d.np.kind in "iu" and n - 1 > np.iinfo(d.np).max:
        raise RuntimeError(f"value cannot be converted to type {_C_TYPE_NAMES[d.name]} without overflow")
    limit, written = {"float16": (2049, "2049"), "float32": (2 ** 24 + 1, "2^24+1")}.get(d.name, (None, None))
    if limit is not None and n > limit:  # past it, the float type cannot hold every index
        raise RuntimeError(f"n cannot be greater than {written} for {dtype_name(d)} type.")
    n = _sizes((int(n),))[0]  # PyTorch's negative-dimension error
    _allocated((n,), d.np, lambda: None)
    if meta:
        return _finish(_meta.empty((n,), d), requires_grad, out)
    return _finish(wrap(_random.permutation(n, generator).astype(d.np)), requires_grad, out)
register(randperm, method=False)


def normal(mean=0.0, std=1.0, size=None, *, generator=None, dtype=None, device=None, requires_grad=False, out=None):
    """torch.normal: tensor or float mean/std (broadcast), or a size with float mean/std."""
    if is_tensor(mean) or is_tensor(std):
        m = mean._data if is_tensor(mean) else mean
        s = std._data if is_tensor(std) else std
        if np.any(np.asarray(s) < 0):
            raise RuntimeError(f"normal expects all elements of std >= 0.0")
        ref = mean if is_tensor(mean) else std
        shape = np.broadcast_shapes(np.shape(m), np.shape(s))
        np_dtype = ref._data.dtype
        values = _random.normal(shape, np_dtype, generator=generator) * np.asarray(s, np_dtype) + np.asarray(m, np_dtype)
        return wrap(np.asarray(values, dtype=np_dtype))
    if size is None:
        raise TypeError("normal() missing required argument 'size' when mean and std are floats")
    if std < 0:
        raise RuntimeError(f"normal expects std >= 0.0, but found std {std}")
    d = _float_dtype(dtype)
    return _finish(_sample(_random.normal(_sizes((size,)), d.np, mean, std, generator), d), requires_grad)


def _normal_fill(self, mean=0.0, std=1.0, *, generator=None):
    """Tensor.normal_ with no graph to record: draws straight into the array."""
    self._data[...] = _random.normal(self._data.shape, self._data.dtype, mean, std, generator, self._data)


def _normal_like(self, mean=0.0, std=1.0, *, generator=None):
    """The values Tensor.normal_ writes (through apply_inplace when a graph is recorded)."""
    out = empty_like(self)
    _normal_fill(out, mean, std, generator=generator)
    return out


register(normal, method=False, inplace=Inplace(op=_normal_like, fast=_normal_fill))


def rand_like(input, *, dtype=None, generator=None, requires_grad=False, **_):
    return rand(input._data.shape, dtype=_like(input, dtype), generator=generator, requires_grad=requires_grad)
register(rand_like, method=False)


def randn_like(input, *, dtype=None, generator=None, requires_grad=False, **_):
    return randn(input._data.shape, dtype=_like(input, dtype), generator=generator, requires_grad=requires_grad)
register(randn_like, method=False)


def randint_like(input, low=0, high=None, *, dtype=None, generator=None, **_):
    if high is None:
        low, high = 0, low
    return randint(low, high, input._data.shape, dtype=_like(input, dtype), generator=generator)
register(randint_like, method=False)
