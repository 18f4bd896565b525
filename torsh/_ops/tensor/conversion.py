"""dtype/device conversion: Tensor.to, type, float(), double(), ..."""
import numpy as np

from ... import _dtype
from ... import _meta
from ..._meta_array import MetaArray, meta_array
from ..._tensor import Tensor, device as _device, require_cpu, wrap
from ...autograd.graph import Node, needs_grad, record
from ..registry import register


class ToCopyBackward0(Node):
    def backward(self, grad):
        return (grad.to(self.dtype),)


def _cast(input, d, copy=False):
    if d is input.dtype and not copy:
        return input
    data = input._data
    if type(data) is MetaArray:  # no data to convert
        value = meta_array(data.shape, d.np)
    elif d.is_complex or not data.dtype.kind == "c":
        value = data.astype(d.np, copy=True)
    else:
        value = data.real.astype(d.np)  # complex -> real drops the imaginary part, as PyTorch (with a warning)
    result = wrap(value)
    if needs_grad(input) and (d.is_floating_point or d.is_complex):
        node = ToCopyBackward0()
        node.dtype = input.dtype
        record(node, (input,), (result,))
    return result


_TO_SIGNATURES = (
    "\n * (torch.device device = None, torch.dtype dtype = None, bool non_blocking = False, bool copy = False, *, "
    "torch.memory_format memory_format = None)"
    "\n * (torch.dtype dtype, bool non_blocking = False, bool copy = False, *, torch.memory_format memory_format = None)"
    "\n * (Tensor tensor, bool non_blocking = False, bool copy = False, *, torch.memory_format memory_format = None)\n")


def _arg_type_name(a):
    if isinstance(a, Tensor):
        return "Tensor"
    if isinstance(a, _dtype.dtype):
        return "torch.dtype"
    if isinstance(a, _device):
        return "torch.device"
    return type(a).__name__


def _got(args, kwargs):
    """PyTorch's "got (...)" list: positional types, then name=type (a kwargs-only call ends with ", ")."""
    got = ", ".join(_arg_type_name(a) for a in args)
    if kwargs:
        named = ", ".join(f"{k}={_arg_type_name(v)}" for k, v in kwargs.items())
        got = f"{got}, {named}" if args else f"{named}, "
    return got


def _invalid_to(args, kwargs):
    return TypeError(f"to() received an invalid combination of arguments - got ({_got(args, kwargs)}), but expected "
                     f"one of:{_TO_SIGNATURES}")


def _parse_to_args(args, kwargs):
    """PyTorch's three Tensor.to overloads: (device, dtype, non_blocking, copy), (dtype, non_blocking, copy) and
    (tensor, non_blocking, copy), the first positional argument choosing; (device, dtype, non_blocking, copy)."""
    if len(args) > 4:
        raise TypeError(f"to() takes from 0 to 4 positional arguments but {len(args)} were given")
    first = args[0] if args else None
    if isinstance(first, Tensor):
        names = ("tensor", "non_blocking", "copy")
    elif isinstance(first, (_dtype.dtype, type)) and not isinstance(first, str):
        names = ("dtype", "non_blocking", "copy")
    else:
        names = ("device", "dtype", "non_blocking", "copy")
    values = dict(zip(names, args))
    ok = len(args) <= len(names) and not (set(values) & set(kwargs))
    kinds = {"tensor": (Tensor,), "dtype": (_dtype.dtype, type, type(None)), "device": (str, _device, int, type(None)),
             "non_blocking": (bool,), "copy": (bool,)}
    ok = ok and all(isinstance(v, kinds[k]) and not (k == "device" and isinstance(v, bool))
                    for k, v in values.items())
    if not ok:
        raise _invalid_to(args, kwargs)
    values.update(kwargs)
    return values


def to(input, *args, **kwargs):
    """Tensor.to(device=None, dtype=None, non_blocking=False, copy=False, *, memory_format), .to(dtype, ...),
    .to(other, ...): a cast (or a copy with copy=True); the device can only be the CPU."""
    unknown = set(kwargs) - {"dtype", "device", "non_blocking", "copy", "memory_format"}
    if unknown:
        raise _invalid_to(args, kwargs)
    values = _parse_to_args(args, kwargs)
    dtype = values.get("dtype")
    if "tensor" in values:
        dtype = values["tensor"].dtype
    device = values.get("device")
    if "tensor" in values:
        device = values["tensor"].device
    d = input.dtype if dtype is None else _dtype.to_dtype(dtype)
    if device is not None and _meta.is_meta_device(device) and type(input._data) is not MetaArray:
        return _to_meta(input, d)
    if device is not None and type(input._data) is MetaArray and not _meta.is_meta_device(device):
        raise NotImplementedError("Cannot copy out of meta tensor; no data!")
    return _cast(input, d, bool(values.get("copy", False)))


def _to_meta(input, d):
    """A CPU tensor's meta copy (its shape and dtype); in the graph as PyTorch's _to_copy."""
    result = _meta.empty(input._data.shape, d)
    if needs_grad(input) and (d.is_floating_point or d.is_complex):
        node = ToCopyBackward0()
        node.dtype = input.dtype
        record(node, (input,), (result,))
    return result
register(to, namespace=None)


def type_(input, dtype=None, non_blocking=False):
    if dtype is None:
        from ..._tensor_str import type_name
        return type_name(input._data.dtype)
    if isinstance(dtype, str) and dtype.startswith(("torch.", "torsh.")):
        names = {"FloatTensor": "float32", "DoubleTensor": "float64", "HalfTensor": "float16",
                 "LongTensor": "int64", "IntTensor": "int32", "ShortTensor": "int16", "CharTensor": "int8",
                 "ByteTensor": "uint8", "BoolTensor": "bool", "BFloat16Tensor": "bfloat16"}
        dtype = names[dtype.split(".")[-1]]
    return _cast(input, _dtype.to_dtype(dtype))


def type_as(input, other):
    return _cast(input, other.dtype)
register(type_as, namespace=None)


def _caster(d):
    def cast(input, memory_format=None):
        return _cast(input, d)
    return cast


float_ = _caster(_dtype.float32)
register(float_, "float", namespace=None)
double = _caster(_dtype.float64)
register(double, "double", namespace=None)
half = _caster(_dtype.float16)
register(half, "half", namespace=None)
bfloat16 = _caster(_dtype.bfloat16)
register(bfloat16, "bfloat16", namespace=None)
int_ = _caster(_dtype.int32)
register(int_, "int", namespace=None)
long = _caster(_dtype.int64)
register(long, "long", namespace=None)
short = _caster(_dtype.int16)
register(short, "short", namespace=None)
char = _caster(_dtype.int8)
register(char, "char", namespace=None)
byte = _caster(_dtype.uint8)
register(byte, "byte", namespace=None)
bool_ = _caster(_dtype.bool)
register(bool_, "bool", namespace=None)
cfloat = _caster(_dtype.complex64)
register(cfloat, "cfloat", namespace=None)
cdouble = _caster(_dtype.complex128)
register(cdouble, "cdouble", namespace=None)


def cpu(input, memory_format=None):
    return input
register(cpu, namespace=None)


class RealBackward0(Node):
    def backward(self, grad):
        return (grad.to(self.dtype),)  # d real(z) / dz, in PyTorch's convention: the real grad as complex


class ImagBackward0(Node):
    def backward(self, grad):
        return (grad.to(self.dtype) * 1j,)


def _complex_part(input, array, node_cls, view_fn):
    out = input._make_view(array, view_fn)
    if needs_grad(input):
        node = node_cls()
        node.dtype = input.dtype
        record(node, (input,), (out,))
        out._view_version = out._version_counter[0]
    return out


def real(input):
    if not input.dtype.is_complex:
        return input
    return _complex_part(input, input._data.real, RealBackward0, lambda t: t.real)
register(real, method=False)


def imag(input):
    if not input.dtype.is_complex:
        raise RuntimeError("imag is not implemented for tensors with non-complex dtypes.")
    return _complex_part(input, input._data.imag, ImagBackward0, lambda t: t.imag)
register(imag, method=False)


class ConjBackward0(Node):
    def backward(self, grad):
        return (conj(grad),)


def conj(input):
    if not input.dtype.is_complex:
        return input
    result = wrap(np.conj(input._data))
    if needs_grad(input):  # complex gradients (mH, the linalg backwards) flow through it
        record(ConjBackward0(), (input,), (result,))
    return result
register(conj, namespace=None)
