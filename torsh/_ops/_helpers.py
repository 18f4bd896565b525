"""Shared plumbing for op definitions: operand unwrapping, dims, broadcasting, errors."""
import numpy as np

from .. import _dtype
from .._tensor import Tensor, wrap
from ..autograd.graph import Node, backward_on_arrays, needs_grad, record
from .column_sums import column_sums


def is_tensor(x):
    return isinstance(x, Tensor)


def shape_str(t):
    return "[" + ", ".join(str(s) for s in (t._data.shape if is_tensor(t) else t)) + "]"


def normalize_dim(dim, ndim, op=None):
    """Map a possibly negative ``dim`` into [0, ndim); IndexError worded as PyTorch's."""
    rank = max(ndim, 1)  # a 0-dim tensor accepts dim 0 and -1
    if not -rank <= dim < rank:
        raise IndexError(
            f"Dimension out of range (expected to be in range of [{-rank}, {rank - 1}], but got {dim})")
    return dim % rank if ndim else 0


def normalize_dims(dim, ndim):
    """A sorted tuple of non-negative dims from an int, a sequence or None (all dims)."""
    if dim is None:
        return tuple(range(ndim))
    if isinstance(dim, (int, np.integer)):
        dim = (int(dim),)
    dims = tuple(normalize_dim(int(d), ndim) for d in dim)
    if len(set(dims)) != len(dims):
        raise RuntimeError(f"dim {dims[0]} appears multiple times in the list of dims")
    return tuple(sorted(set(dims))) if ndim else ()


def check_keepdim_has_dim(op, dim, keepdim, *signatures):
    """``x.sum(keepdim=True)``: PyTorch's argument parser finds no signature taking keepdim without dim."""
    if dim is None and keepdim:
        expected = "".join(f"\n * (Tensor input{', ' if s else ''}{s})" for s in signatures)
        raise TypeError(f"{op}() received an invalid combination of arguments - got (Tensor, keepdim=bool), but "
                        f"expected one of:{expected}\n")


def broadcast_shapes(*shapes):
    """Broadcast shape of ``shapes``; RuntimeError in PyTorch's words on mismatch."""
    result = ()
    for shape in shapes:
        result = _broadcast_pair(result, tuple(shape))
    return result


def _broadcast_pair(a, b):
    ndim = max(len(a), len(b))
    a_full = (1,) * (ndim - len(a)) + a
    b_full = (1,) * (ndim - len(b)) + b
    out = []
    for i in reversed(range(ndim)):  # PyTorch reports the trailing-most mismatch
        x, y = a_full[i], b_full[i]
        if x != y and x != 1 and y != 1:
            raise RuntimeError(f"The size of tensor a ({x}) must match the size of tensor b ({y}) "
                               f"at non-singleton dimension {i}")
        out.append(y if x == 1 else x)
    return tuple(reversed(out))


def sum_to(grad, shape):
    """Sum a broadcast gradient back down to ``shape`` (differentiable: written in torsh ops, or
    one NumPy reduction where graph.backward_on_arrays allows)."""
    shape = tuple(shape)
    if grad._data.shape == shape:
        return grad
    lead = grad._data.ndim - len(shape)
    dims = tuple(range(lead)) + tuple(
        lead + i for i, s in enumerate(shape) if s == 1 and grad._data.shape[lead + i] != 1)
    if backward_on_arrays():
        if grad._data.ndim == 2 and lead == 1 and dims == (0,) and grad._data.dtype == np.float32:
            return wrap(column_sums(grad._data))  # a Linear's bias gradient
        return wrap(np.sum(grad._data, axis=dims, keepdims=True).reshape(shape))
    if dims:
        grad = grad.sum(dims, keepdim=True)
    if lead:
        grad = grad.reshape(shape)
    return grad


class NamedNode(Node):
    """A node named per instance (its PyTorch name, as grad_fn shows it), so one class serves several ops:
    ``NamedNode(name)``, or ``_name=name`` through ``with_grad_fn``."""
    _name = None

    def __init__(self, name=None):
        super().__init__()
        if name is not None:
            self._name = name

    def name(self):
        return self._name


def with_grad_fn(node_cls, inputs, outputs, saved=(), **attrs):
    """``outputs`` (a tensor or a tuple), with a ``node_cls`` node recorded when any of ``inputs`` needs grad;
    ``attrs`` become the node's attributes and ``saved`` its saved tensors."""
    if needs_grad(*inputs):
        node = node_cls()
        node.__dict__.update(attrs)
        record(node, inputs, outputs if isinstance(outputs, tuple) else (outputs,))
        if saved:
            node.save_for_backward(*saved)
    return outputs


def to_array(x, np_dtype):
    """``x`` (tensor or scalar) as an ndarray / NumPy scalar of ``np_dtype``."""
    if is_tensor(x):
        data = x._data
        return data if data.dtype == np_dtype else data.astype(np_dtype)
    try:
        return np_dtype.type(x)
    except OverflowError:
        if np_dtype.kind not in "iu" or not isinstance(x, int):
            raise
        # uint8_tensor + (-3): PyTorch wraps the number around the integer type, as C does
        return np.array(x, dtype=np.int64).astype(np_dtype)[()]



def accumulation_array(data):
    """``data`` widened to float32 when it is float16/bfloat16 (chars "e"/"E"): PyTorch's CPU reductions
    accumulate reduced-precision floats in float32 and round once at the end."""
    return data.astype(np.float32) if data.dtype.char in "eE" else data


def dtype_name(d):
    """PyTorch's scalar-type name of ``d`` in messages: Float, Long, UInt16, ..."""
    return _dtype.SCALAR_TYPE_NAMES[d.name]


# -- which dtype kinds each op has a kernel for --------------------------------------------------
def _no_kernel(kernel):
    """PyTorch's dispatch error for a dtype its kernel was not compiled for."""
    return lambda dtype: NotImplementedError(f'"{kernel}" not implemented for \'{dtype_name(dtype)}\'')


def _fixed(error_type, message):
    return lambda dtype: error_type(message)


def _on_complex(op, wording="is not supported for complex inputs", error_type=NotImplementedError):
    return _fixed(error_type, f"{op} {wording}")


_NEG_BOOL = ("Negation, the `-` operator, on a bool tensor is not supported. If you are trying to invert a mask, "
             "use the `~` or `logical_not()` operator instead.")

# op -> {NumPy dtype kinds ("b" bool, "iu" integers, "c" complex; "U": uint16/uint32/uint64, PyTorch's
# limited-support dtypes): error for them}, as PyTorch 2.13 on CPU raises it; kinds not listed are supported.
# Binary ops are looked up with their promoted dtype.
_UNSUPPORTED = {
    "abs": {"bU": _no_kernel("abs_cpu")},
    "neg": {"b": _fixed(RuntimeError, _NEG_BOOL), "U": _no_kernel("neg_cpu")},
    "relu": {"b": _fixed(RuntimeError, "Boolean inputs not supported for relu"),
             "c": _fixed(NotImplementedError, "clamp is not supported for complex types")},
    "floor": {"b": _no_kernel("floor_vml_cpu"), "c": _on_complex("floor")},
    "ceil": {"b": _no_kernel("ceil_vml_cpu"), "c": _on_complex("ceil")},
    "trunc": {"b": _no_kernel("trunc_vml_cpu"), "c": _on_complex("trunc")},
    "round": {"bc": _no_kernel("round_vml_cpu")},
    "frac": {"biuc": _no_kernel("frac_cpu")},
    "sign": {"U": _no_kernel("sign_cpu"), "c": _fixed(NotImplementedError, "Unlike NumPy, torch.sign is not intended to support complex numbers. "
                                              "Please use torch.sgn instead.")},
    "erf": {"c": _no_kernel("erf_vml_cpu")},
    "erfc": {"c": _no_kernel("erfc_vml_cpu")},
    "rad2deg": {"c": _on_complex("rad2deg", "is not supported for complex tensors.", RuntimeError)},
    "deg2rad": {"c": _on_complex("deg2rad", "is not supported for complex tensors.", RuntimeError)},
    "isposinf": {"c": _on_complex("isposinf", "does not support complex inputs.", RuntimeError)},
    "isneginf": {"c": _on_complex("isneginf", "does not support complex inputs.", RuntimeError)},
    "signbit": {"c": _on_complex("signbit", "is not implemented for complex tensors.")},
    "remainder": {"bcU": _no_kernel("remainder_cpu")},
    "div_floor": {"bcU": _no_kernel("div_floor_cpu")},
    "div_trunc": {"bc": _no_kernel("div_trunc_cpu")},
    "fmod": {"bc": _no_kernel("fmod_cpu")},
    "atan2": {"c": _no_kernel("atan2_cpu")},
    "copysign": {"c": _no_kernel("copysign_cpu")},
    "xlogy": {"c": _no_kernel("xlogy_cpu")},
    "hypot": {"biuc": _no_kernel("hypot_cpu")},
    "logaddexp": {"biu": _no_kernel("logaddexp_cpu")},
    "logaddexp2": {"biuc": _no_kernel("logaddexp2_cpu")},
    **{op: {"cU": _no_kernel(f"{op}_cpu")} for op in ("lt", "le", "gt", "ge")},
    **{op: {"c": _on_complex(op, "not implemented for complex tensors.", RuntimeError), "U": _no_kernel(f"{op}_cpu")}
       for op in ("maximum", "minimum")},
    **{op: {"c": _on_complex(op, "not implemented for complex tensors.", RuntimeError)} for op in ("fmax", "fmin")},
    # ops PyTorch 2.13 has no kernel for on uint16/uint32/uint64 (NumPy would compute them)
    **{op: {"U": _no_kernel(kernel)} for op, kernel in (
        ("add", "add_stub"), ("sub", "add_stub"), ("pow", "pow"), ("max_all", "max_all"), ("min_all", "min_all"),
        ("max", "max_cpu"), ("min", "min_cpu"),
        ("clamp", "clamp_scalar_cpu"), ("bitwise_not", "bitwise_not_cpu"), ("logical_not", "logical_not_cpu"),
        ("arange", "arange_cpu"), ("topk", "topk_cpu"), ("nonzero", "nonzero_count_cpu"), ("dot", "dot"))},
    **{op: {"U": _no_kernel(f"{op}_cpu"), "b": _fixed(RuntimeError, f"{op}(): does not support bool input")}
       for op in ("argmax", "argmin")},
    "cumsum": {"b": _no_kernel("cumsum_out_cpu")},
    "cumprod": {"b": _no_kernel("cumprod_out_cpu")},
}
# NumPy dtype characters of each kind letter above (int64 is "l" or "q", uint64 "L" or "Q")
_KIND_CHARS = {"b": "?", "i": "bhilq", "u": "BHILQ", "U": "HILQ", "c": "FD"}
# op -> {dtype.char: error}: one dict lookup per call (``check_dtype_support``)
UNSUPPORTED_KINDS = {op: {char: error for kinds, error in by_kinds.items() for kind in kinds for char in _KIND_CHARS[kind]}
                     for op, by_kinds in _UNSUPPORTED.items()}


def check_dtype_support(op, np_dtype, *shapes):
    """Raise PyTorch's error when ``op`` has no kernel for ``np_dtype`` (the input's, or the promoted one).

    ``shapes``: the operands' shapes, for ops that (as PyTorch's TensorIterator) check broadcasting first.
    One dict lookup on the dtype's character: cheap enough for every call.
    """
    error = UNSUPPORTED_KINDS[op].get(np_dtype.char)
    if error is not None:
        if shapes:
            broadcast_shapes(*shapes)
        raise error(np_dtype)


def require_tensor_operands(op, input, other):
    """PyTorch's TypeError for ops whose schema takes (Tensor input, Tensor other) only: no Python numbers."""
    for name, position, value in (("input", 1, input), ("other", 2, other)):
        if not is_tensor(value):
            raise TypeError(f"{op}(): argument '{name}' (position {position}) must be Tensor, "
                            f"not {type(value).__name__}")


def float_to_int_like_torch(data, np_int):
    """Float array ``data`` cast to the integer dtype ``np_int`` as PyTorch's CPU cast does.

    NumPy's float32/float64 casts agree with PyTorch's on x86 (NaN/inf -> the int32/int64 minimum,
    narrower types wrapped from int32); bfloat16 (ml_dtypes) casts on its own, so half-precision goes
    through float32 first.
    """
    if data.dtype.itemsize < 4:
        data = data.astype(np.float32)
    with np.errstate(invalid="ignore", over="ignore"):
        return data.astype(np_int)


def cast_for_integer_accumulation(data, np_out):
    """A float input summed/multiplied into an integer dtype= is cast first, with PyTorch's cast (NaN/inf too)."""
    if np_out.kind in "iu" and data.dtype.kind not in "biuc":
        return float_to_int_like_torch(data, np_out)
    return data
