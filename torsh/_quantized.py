"""The quantized tensor type: a torsh ``Tensor`` of dtype qint8 / quint8 / qint32 (``torch.quantize_per_tensor``,
``quantize_per_channel``; the ops are in ``torsh/_ops/tensor/quantize.py``).

A ``QuantizedTensor`` keeps its integer values in ``_int`` (a NumPy array of the dtype's storage type: int8,
uint8, int32) and its quantizer beside them: ``_qscheme``, ``_scale`` / ``_zero_point`` (per tensor: a float and
an int; per channel: float64 and int64 arrays along ``_axis``). The value it stands for is
``(int - zero_point) * scale``. Its ``_data`` is a ``QuantizedArray`` (shape and storage dtype, no values), so a
dense op reaching it raises PyTorch's error for the QuantizedCPU backend instead of computing on the integers.
Shape methods PyTorch runs on quantized tensors (indexing, reshape/view, flatten, transpose/permute, clone,
contiguous, detach) are the type's own methods, on ``_int`` with the quantizer kept.
"""
import warnings

import numpy as np

from . import _dtype
from ._tensor import Size, Tensor
from ._tensor_str import _add_suffixes, _format_data


class qscheme:
    """``torch.qscheme``: how a quantized tensor maps integers to values."""

    __slots__ = ("name",)

    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return "torsh." + self.name

    def __reduce__(self):
        return (_qscheme_by_name, (self.name,))


per_tensor_affine = qscheme("per_tensor_affine")
per_channel_affine = qscheme("per_channel_affine")
per_tensor_symmetric = qscheme("per_tensor_symmetric")
per_channel_symmetric = qscheme("per_channel_symmetric")
per_channel_affine_float_qparams = qscheme("per_channel_affine_float_qparams")
_QSCHEMES = {q.name: q for q in (per_tensor_affine, per_channel_affine, per_tensor_symmetric, per_channel_symmetric,
                                 per_channel_affine_float_qparams)}
qscheme.ALL = tuple(_QSCHEMES.values())


def _qscheme_by_name(name):
    return _QSCHEMES[name]


def not_on_backend(op, backend="QuantizedCPU"):
    """PyTorch's dispatcher error for an op without a kernel for ``backend``."""
    return NotImplementedError(
        f"Could not run 'aten::{op}' with arguments from the '{backend}' backend. This could be because the operator "
        "doesn't exist for this backend, or was omitted during the selective/custom build process (if using custom "
        "build). If you are a Facebook employee using PyTorch on mobile, please visit https://fburl.com/ptmfixes for "
        f"possible resolutions. 'aten::{op}' is only available for these backends: [CPU, Meta].")


_ATEN_NAME = {"negative": "neg", "absolute": "abs", "true_divide": "div", "multiply": "mul", "subtract": "sub",
              "power": "pow", "matmul": "mm", "greater": "gt", "less": "lt", "equal": "eq", "not_equal": "ne",
              "greater_equal": "ge", "less_equal": "le", "amax": "max", "amin": "min", "concatenate": "cat"}


class _Flags:
    c_contiguous = True
    f_contiguous = writeable = False


class QuantizedArray:
    """A quantized tensor's ``_data``: shape and storage dtype, no values; whatever would read values (ufuncs,
    NumPy functions, ``np.asarray``, ndarray methods) raises PyTorch's QuantizedCPU error naming the op."""

    __slots__ = ("shape", "dtype")
    flags = _Flags()

    def __init__(self, shape, np_dtype):
        self.shape, self.dtype = tuple(shape), np.dtype(np_dtype)

    ndim = property(lambda self: len(self.shape))
    size = property(lambda self: int(np.prod(self.shape, dtype=np.int64)))
    itemsize = property(lambda self: self.dtype.itemsize)

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        raise not_on_backend(_ATEN_NAME.get(ufunc.__name__, ufunc.__name__) + ".out")

    def __array_function__(self, func, types, args, kwargs):
        raise not_on_backend(_ATEN_NAME.get(func.__name__, func.__name__))

    def __array__(self, dtype=None, copy=None):
        raise TypeError("Got unsupported ScalarType " + _QTYPE_NAME.get(self.dtype.name, self.dtype.name))

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        raise not_on_backend(_ATEN_NAME.get(name, name))

    def __getitem__(self, key):
        raise not_on_backend("index.Tensor")

    def __len__(self):
        return self.shape[0]


_QTYPE_NAME = {"int8": "QInt8", "uint8": "QUInt8", "int32": "QInt32"}


class QuantizedTensor(Tensor):
    """A per-tensor or per-channel affine quantized tensor; built by ``_make``, never by hand."""

    is_quantized = True

    @classmethod
    def _make(cls, ints, qdtype, scheme, scale, zero_point, axis=None):
        t = object.__new__(cls)
        t._data = QuantizedArray(ints.shape, ints.dtype)
        t._requires_grad = False
        t._grad = t._grad_fn = t._base = t._view_fn = t._accumulator = t._backward_hooks = None
        t._output_nr = 0
        t._version_counter = [0]
        t._retains_grad = False
        t._int, t._qdtype, t._qscheme = ints, qdtype, scheme
        t._scale, t._zero_point, t._axis = scale, zero_point, axis
        return t

    def _like(self, ints, axis=None):
        """Same quantizer over other integers (a reshaped / sliced / copied tensor)."""
        return QuantizedTensor._make(ints, self._qdtype, self._qscheme, self._scale, self._zero_point,
                                     self._axis if axis is None else axis)

    # -- metadata -------------------------------------------------------------------------------------------
    @property
    def dtype(self):
        return self._qdtype

    def _per_channel(self):
        return self._axis is not None

    def _float_values(self):
        """The values the integers stand for, float32, as PyTorch's dequantize computes them."""
        ints = self._int.astype(np.int64)
        if self._axis is None:
            return ((ints - self._zero_point).astype(np.float32) * np.float32(self._scale))
        shape = [1] * ints.ndim
        shape[self._axis] = -1
        # per channel PyTorch multiplies in double, then rounds to float
        return ((ints - self._zero_point.reshape(shape)) * self._scale.reshape(shape)).astype(np.float32)

    # -- shape methods PyTorch runs on quantized tensors ------------------------------------------------------
    def __getitem__(self, key):
        if self._axis is not None:
            raise not_on_backend("index.Tensor")
        if isinstance(key, Tensor):
            key = np.asarray(key._data)
        return self._like(np.asarray(self._int[key]))

    def reshape(self, *shape):
        if self._axis is not None:
            raise not_on_backend("reshape")
        shape = shape[0] if len(shape) == 1 and isinstance(shape[0], (tuple, list, Size)) else shape
        return self._like(self._int.reshape(tuple(int(s) for s in shape)))

    view = reshape

    def flatten(self, start_dim=0, end_dim=-1):
        n = self._int.ndim
        if n == 0:
            return self.reshape(1)
        start, end = start_dim % n, end_dim % n
        shape = self._int.shape[:start] + (-1,) + self._int.shape[end + 1:]
        return self.reshape(shape)

    def permute(self, *dims):
        dims = dims[0] if len(dims) == 1 and isinstance(dims[0], (tuple, list)) else dims
        dims = tuple(d % self._int.ndim for d in dims)
        axis = None if self._axis is None else dims.index(self._axis)
        return self._like(self._int.transpose(dims), axis)

    def transpose(self, dim0, dim1):
        order = list(range(self._int.ndim))
        order[dim0], order[dim1] = order[dim1], order[dim0]
        return self.permute(order)

    def t(self):
        return self.transpose(0, 1) if self._int.ndim == 2 else self

    def clone(self, *, memory_format=None):
        return self._like(self._int.copy())

    def contiguous(self, memory_format=None):
        return self if self._int.flags.c_contiguous else self._like(np.ascontiguousarray(self._int))

    def detach(self):
        return self._like(self._int)

    # -- ops PyTorch's QuantizedCPU kernels run on the integers ------------------------------------------------
    def _relu_floor(self):
        """The integer of 0.0: relu clamps below it (per channel: each channel's zero point)."""
        if self._axis is None:
            return np.asarray(self._zero_point, dtype=self._int.dtype)
        shape = [1] * self._int.ndim
        shape[self._axis] = -1
        return self._zero_point.reshape(shape).astype(self._int.dtype)

    def relu(self):
        """max(int, zero_point) with the quantizer kept (``F.relu(q)``, ``q.relu()``)."""
        return self._like(np.maximum(self._int, self._relu_floor()))

    def relu_(self):
        np.maximum(self._int, self._relu_floor(), out=self._int)
        self._version_counter[0] += 1
        return self

    def _requantized(self, values):
        """float32 ``values`` in this (per-tensor) quantizer's integers: quantize_per_tensor's rounding
        (_ops/tensor/quantize.py's _round_fused: round(fma(x, 1 / scale, zero_point)) in float32)."""
        inv = np.float64(np.float32(1.0) / np.float32(self._scale))
        rounded = np.rint((values.astype(np.float64) * inv + self._zero_point).astype(np.float32))
        return np.clip(rounded, self._qdtype.qmin, self._qdtype.qmax).astype(self._int.dtype)

    @staticmethod
    def _cat(tensors, dim, out):
        """PyTorch's cat of quantized tensors: per tensor only; inputs quantized with other parameters than the
        first's are requantized to it (warning as PyTorch); the result has the first one's scale and zero point."""
        first = tensors[0]
        for t in tensors:
            if not isinstance(t, QuantizedTensor) or t._axis is not None:
                raise RuntimeError("Only per-tensor quantization is supported in 'cat'!")
            if t._qdtype is not first._qdtype:
                raise RuntimeError(f"Expected all tensors to have the same dtype, got {first._qdtype} and "
                                   f"{t._qdtype}")
        if out is not None:
            raise RuntimeError("out= of a quantized cat is not supported")
        same = all(t._scale == first._scale and t._zero_point == first._zero_point for t in tensors)
        if not same:
            warnings.warn("All inputs of this cat operator must share the same quantization parameters. Otherwise "
                          "large numerical inaccuracies may occur.", stacklevel=3)
        ints = []
        for i, t in enumerate(tensors):
            if t._int.ndim == 0:
                raise RuntimeError(f"zero-dimensional tensor (at position {i}) cannot be concatenated")
            if t is first or (t._scale == first._scale and t._zero_point == first._zero_point):
                ints.append(t._int)
            else:
                ints.append(first._requantized(t._float_values()))
        ndim = first._int.ndim
        if not -ndim <= dim < ndim:
            raise IndexError(f"Dimension out of range (expected to be in range of [{-ndim}, {ndim - 1}], but got "
                             f"{dim})")
        return first._like(np.concatenate(ints, axis=dim % ndim))

    def numpy(self, *, force=False):
        raise TypeError("Got unsupported ScalarType " + _dtype.SCALAR_TYPE_NAMES[self._qdtype.name])

    def tolist(self):
        raise RuntimeError("load_scalar: invalid type")

    def item(self):
        raise RuntimeError("load_scalar: invalid type")

    def __repr__(self, *, tensor_contents=None):
        prefix = "tensor("
        values = self._float_values()
        body = "[]" if values.size == 0 else _format_data(values, len(prefix))
        suffixes = [f"size={tuple(values.shape)}", f"dtype={self._qdtype!r}",
                    f"quantization_scheme={self._qscheme!r}"]
        if self._axis is None:
            suffixes += [f"scale={self._scale!r}", f"zero_point={self._zero_point!r}"]
        else:
            suffixes += [f"scale={self._qparam_tensor(self._scale)!r}",
                         f"zero_point={self._qparam_tensor(self._zero_point)!r}", f"axis={self._axis}"]
        return _add_suffixes(prefix + body, suffixes, len(prefix))

    @staticmethod
    def _qparam_tensor(array):
        return Tensor._wrap(np.array(array))

    def _quantizer_params(self):
        """PyTorch's serialized quantizer: (qscheme, scale, zero_point) or (qscheme, scales, zero_points, axis)."""
        if self._axis is None:
            return (self._qscheme, float(self._scale), int(self._zero_point))
        return (self._qscheme, Tensor._wrap(np.array(self._scale, dtype=np.float64)),
                Tensor._wrap(np.array(self._zero_point, dtype=np.int64)), int(self._axis))

    def __reduce_ex__(self, protocol):
        # the integers and the quantizer; torsh.save writes PyTorch's own record through serialization's hook
        return (_rebuild, (self._int, self._qdtype.name, self._qscheme.name, self._scale, self._zero_point,
                           self._axis))

    def __deepcopy__(self, memo):
        return self._like(self._int.copy())


def _rebuild(ints, qdtype_name, scheme_name, scale, zero_point, axis):
    return QuantizedTensor._make(np.asarray(ints), _dtype._BY_NAME[qdtype_name], _QSCHEMES[scheme_name], scale,
                                 zero_point, axis)


_QDTYPE_OF_STORAGE = {"int8": _dtype.qint8, "uint8": _dtype.quint8, "int32": _dtype.qint32}


def rebuild_qtensor(ints, quantizer_params, requires_grad=False, backward_hooks=None):
    """A quantized tensor from PyTorch's record (``torch._utils._rebuild_qtensor``) over its integers."""
    scheme = quantizer_params[0] if isinstance(quantizer_params, tuple) and quantizer_params else None
    qdtype = _QDTYPE_OF_STORAGE.get(ints.dtype.name)
    shapes_ok = (len(quantizer_params) == 3 if scheme in (per_tensor_affine, per_tensor_symmetric) else
                 len(quantizer_params) == 4 and all(isinstance(p, Tensor) for p in quantizer_params[1:3])
                 and isinstance(quantizer_params[3], int) and 0 <= quantizer_params[3] < ints.ndim
                 and quantizer_params[1].numel() == quantizer_params[2].numel() == ints.shape[quantizer_params[3]]
                 if scheme is not None else False)
    if not isinstance(scheme, qscheme) or qdtype is None or not shapes_ok:
        raise RuntimeError("corrupted checkpoint: a quantized tensor without a valid quantizer")
    ints = np.array(ints)
    if scheme in (per_tensor_affine, per_tensor_symmetric):
        return QuantizedTensor._make(ints, qdtype, per_tensor_affine, float(quantizer_params[1]),
                                     int(quantizer_params[2]))
    if scheme in (per_channel_affine, per_channel_symmetric):
        scales, zero_points, axis = quantizer_params[1:4]
        return QuantizedTensor._make(ints, qdtype, per_channel_affine,
                                     np.asarray(scales._data, dtype=np.float64).reshape(-1),
                                     np.asarray(zero_points._data, dtype=np.int64).reshape(-1), int(axis))
    raise RuntimeError(f"Can't deserialize quantized tensor with qscheme {scheme}")
