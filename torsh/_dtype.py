"""torsh dtypes: thin named wrappers over NumPy dtypes, and PyTorch's type-promotion rules.

PyTorch and NumPy promote differently (int64 + float32 is float32 in PyTorch, float64 in
NumPy; float16 + int64 stays float16), so promotion is computed here, never by NumPy.
"""
import builtins

import ml_dtypes
import numpy as np


class dtype:
    """A tensor element type, named and behaving like ``torch.dtype``."""

    __slots__ = ("name", "np", "itemsize", "is_floating_point", "is_complex", "is_signed", "_category", "_rank")

    def __init__(self, name, np_dtype, category, rank):
        self.name = name
        self.np = np.dtype(np_dtype)
        self.itemsize = self.np.itemsize
        self.is_floating_point = category == 2
        self.is_complex = category == 3
        self.is_signed = name not in ("uint8", "uint16", "uint32", "uint64", "bool")
        self._category = category  # 0 bool, 1 integer, 2 floating, 3 complex
        self._rank = rank

    def __repr__(self):
        return "torsh." + self.name

    def __reduce__(self):
        return (_dtype_by_name, (self.name,))

    def to_real(self):
        return {"complex64": float32, "complex128": float64, "complex32": float16}.get(self.name, self)

    def to_complex(self):
        # no complex32 here: float16 and bfloat16 pair with complex64
        return {"float32": complex64, "float64": complex128, "float16": complex64,
                "bfloat16": complex64}.get(self.name, self)


_BOOL, _INT, _FLOAT, _COMPLEX = 0, 1, 2, 3

bool = dtype("bool", np.bool_, _BOOL, 0)
uint8 = dtype("uint8", np.uint8, _INT, 1)
int8 = dtype("int8", np.int8, _INT, 1)
int16 = dtype("int16", np.int16, _INT, 2)
int32 = dtype("int32", np.int32, _INT, 3)
int64 = dtype("int64", np.int64, _INT, 4)
float16 = dtype("float16", np.float16, _FLOAT, 1)
bfloat16 = dtype("bfloat16", ml_dtypes.bfloat16, _FLOAT, 1)
float32 = dtype("float32", np.float32, _FLOAT, 2)
float64 = dtype("float64", np.float64, _FLOAT, 3)
complex64 = dtype("complex64", np.complex64, _COMPLEX, 2)
complex128 = dtype("complex128", np.complex128, _COMPLEX, 3)
# PyTorch's "limited support" unsigned types: creation, copies, casts, comparisons with scalars, bitwise ops;
# promotion with any other integer type is refused (promote_types)
uint16 = dtype("uint16", np.uint16, _INT, 2)
uint32 = dtype("uint32", np.uint32, _INT, 3)
uint64 = dtype("uint64", np.uint64, _INT, 4)

# PyTorch's aliases
half, float, double = float16, float32, float64
short, int, long = int16, int32, int64
cfloat, cdouble = complex64, complex128

ALL_DTYPES = (bool, uint8, int8, int16, int32, int64, float16, bfloat16, float32, float64, complex64, complex128,
              uint16, uint32, uint64)
_LIMITED_UNSIGNED = (uint16, uint32, uint64)
# PyTorch's ScalarType names, as its error messages print them
SCALAR_TYPE_NAMES = {"float32": "Float", "float64": "Double", "float16": "Half", "bfloat16": "BFloat16",
                     "int64": "Long", "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte",
                     "bool": "Bool", "complex64": "ComplexFloat", "complex128": "ComplexDouble",
                     "uint16": "UInt16", "uint32": "UInt32", "uint64": "UInt64"}
# the C++ type names (caffe2 TypeMeta) some PyTorch messages print instead: masked_fill_, mm, conv, TensorOptions
C_TYPE_NAMES = {"float32": "float", "float64": "double", "float16": "c10::Half", "bfloat16": "c10::BFloat16",
                "int64": "long int", "int32": "int", "int16": "short int", "int8": "signed char",
                "uint8": "unsigned char", "bool": "bool", "complex64": "c10::complex<float>",
                "complex128": "c10::complex<double>"}


class _PlaceholderDtype(dtype):
    """A dtype PyTorch names but torsh cannot store (NumPy has no such type): the object, its flags and
    its itemsize exist; making a tensor of it raises ``error_type`` naming the dtype."""

    __slots__ = ("_error_type", "_why")

    def __init__(self, name, itemsize, category, is_signed=True, error_type=TypeError, why=None):
        self.name, self.itemsize, self._category, self._rank = name, itemsize, category, 0
        self.is_floating_point = category == _FLOAT
        self.is_complex = category == _COMPLEX
        self.is_signed = is_signed
        self._error_type = error_type
        self._why = why or f"NumPy, which holds torsh's tensors, has no {name} type"

    @property
    def np(self):
        raise self._error_type(f"torsh.{self.name} tensors are not supported: {self._why}")


class _BitsDtype(_PlaceholderDtype):
    """torch.bits8 & co: raw bit containers; PyTorch itself leaves their signedness undefined."""

    __slots__ = ()

    def __init__(self, name, itemsize):
        super().__init__(name, itemsize, _INT, error_type=NotImplementedError,
                         why="PyTorch declares it without CPU kernels")

    @property
    def is_signed(self):
        raise RuntimeError("Bits types are undefined")

    @is_signed.setter
    def is_signed(self, value):
        pass


def _sub_byte(name, signed):
    return _PlaceholderDtype(name, 1, _INT, signed, NotImplementedError, "PyTorch declares it without CPU kernels")


class QuantizedDtype(_PlaceholderDtype):
    """torch.qint8 & co: the element type of a quantized tensor (``torsh._quantized``), which keeps its integer
    values in an array of ``storage`` (NumPy) and its scale and zero point beside them. No plain tensor has it."""

    __slots__ = ("storage", "qmin", "qmax")

    def __init__(self, name, itemsize, storage, qmin, qmax):
        super().__init__(name, itemsize, _INT, error_type=RuntimeError,
                         why="only torch.quantize_per_tensor / quantize_per_channel make quantized tensors")
        self.storage, self.qmin, self.qmax = np.dtype(storage), qmin, qmax

    @property
    def np(self):  # what torch.empty(2, dtype=torch.qint8) says
        raise RuntimeError("empty_strided not supported on quantized tensors yet see "
                           "https://github.com/pytorch/pytorch/issues/74540")

    @property
    def is_signed(self):
        raise RuntimeError("isSignedType not supported for quantized types")

    @is_signed.setter
    def is_signed(self, value):
        pass


qint8 = QuantizedDtype("qint8", 1, np.int8, -128, 127)
quint8 = QuantizedDtype("quint8", 1, np.uint8, 0, 255)
qint32 = QuantizedDtype("qint32", 4, np.int32, -(2 ** 31), 2 ** 31 - 1)
quint4x2 = QuantizedDtype("quint4x2", 1, np.uint8, 0, 15)  # two 4-bit values a byte in PyTorch
quint2x4 = QuantizedDtype("quint2x4", 1, np.uint8, 0, 3)
QUANTIZED_DTYPES = (qint8, quint8, qint32, quint4x2, quint2x4)
SCALAR_TYPE_NAMES.update(qint8="QInt8", quint8="QUInt8", qint32="QInt32", quint4x2="QUInt4x2", quint2x4="QUInt2x4")

complex32 = _PlaceholderDtype("complex32", 4, _COMPLEX)
float8_e4m3fn = _PlaceholderDtype("float8_e4m3fn", 1, _FLOAT)
float8_e4m3fnuz = _PlaceholderDtype("float8_e4m3fnuz", 1, _FLOAT)
float8_e5m2 = _PlaceholderDtype("float8_e5m2", 1, _FLOAT)
float8_e5m2fnuz = _PlaceholderDtype("float8_e5m2fnuz", 1, _FLOAT)
float8_e8m0fnu = _PlaceholderDtype("float8_e8m0fnu", 1, _FLOAT, is_signed=False)
float4_e2m1fn_x2 = _PlaceholderDtype("float4_e2m1fn_x2", 1, _FLOAT)
int1, int2, int3, int4, int5, int6, int7 = (_sub_byte(f"int{n}", True) for n in range(1, 8))
uint1, uint2, uint3, uint4, uint5, uint6, uint7 = (_sub_byte(f"uint{n}", False) for n in range(1, 8))
bits1x8, bits2x4, bits4x2, bits8 = (_BitsDtype(n, 1) for n in ("bits1x8", "bits2x4", "bits4x2", "bits8"))
bits16 = _BitsDtype("bits16", 2)
chalf = complex32
PLACEHOLDER_DTYPES = (complex32, float8_e4m3fn, float8_e4m3fnuz, float8_e5m2, float8_e5m2fnuz, float8_e8m0fnu,
                      float4_e2m1fn_x2, int1, int2, int3, int4, int5, int6, int7, uint1, uint2, uint3, uint4,
                      uint5, uint6, uint7, bits1x8, bits2x4, bits4x2, bits8, bits16)

_BY_NAME = {d.name: d for d in ALL_DTYPES + PLACEHOLDER_DTYPES + QUANTIZED_DTYPES}
_BY_NP = {d.np: d for d in ALL_DTYPES}


def _dtype_by_name(name):
    return _BY_NAME[name]


def from_numpy_dtype(np_dtype):
    """The torsh dtype of a NumPy dtype; TypeError for types a tensor cannot hold."""
    try:
        return _BY_NP[np.dtype(np_dtype)]
    except (KeyError, TypeError):
        raise TypeError(
            f"can't convert np.ndarray of type numpy.{np.dtype(np_dtype).type.__name__}. The only supported types "
            "are: float64, float32, float16, complex64, complex128, int64, int32, int16, int8, uint64, uint32, uint16, "
            "uint8, and bool.") from None


def to_dtype(d):
    """Accept a torsh dtype, a NumPy dtype, a Python type or a name; return a torsh dtype."""
    if isinstance(d, dtype):
        return d
    # Python's own types name fixed dtypes, as in PyTorch: float is float64 whatever the default
    if d is builtins.float:
        return float64
    if d is builtins.int:
        return int64
    if d is builtins.bool:
        return bool
    if d is builtins.complex:
        return complex128
    if isinstance(d, str) and d in _BY_NAME:
        return _BY_NAME[d]
    return from_numpy_dtype(d)


_default_dtype = float32


def get_default_dtype():
    return _default_dtype


def set_default_dtype(d):
    global _default_dtype
    d = to_dtype(d)
    if d not in (float16, bfloat16, float32, float64):
        raise TypeError(f"only floating-point types are supported as the default type, got {d}")
    _default_dtype = d


def promote_types(a, b):
    """PyTorch's ``promote_types``: the smallest dtype both ``a`` and ``b`` cast to safely."""
    a, b = to_dtype(a), to_dtype(b)
    if a is b:
        return a
    if (a in _LIMITED_UNSIGNED or b in _LIMITED_UNSIGNED) and _FLOAT not in (a._category, b._category):
        raise RuntimeError("Promotion for uint16, uint32, uint64 types is not supported, attempted to promote "
                           f"{SCALAR_TYPE_NAMES[a.name]} and {SCALAR_TYPE_NAMES[b.name]}")
    if a._category != b._category:
        hi, lo = (a, b) if a._category > b._category else (b, a)
        if hi._category == _COMPLEX and lo._category == _FLOAT and lo._rank > hi._rank:
            return complex128  # complex64 + float64 keeps float64's precision
        return hi
    if a._category == _FLOAT:
        if a._rank == b._rank:  # float16 with bfloat16
            return float32
        return a if a._rank > b._rank else b
    if a._category == _INT:
        if {a.name, b.name} == {"uint8", "int8"}:
            return int16
        if a is uint8 or b is uint8:
            return b if a is uint8 else a
        return a if a._rank > b._rank else b
    return a if a._rank > b._rank else b


def _combine_categories(higher, lower):
    """Merge a higher-priority result with a lower-priority one (PyTorch's combine_categories)."""
    if higher is None:
        return lower
    if lower is None:
        return higher
    if higher._category == _COMPLEX:
        return higher
    if lower._category == _COMPLEX:
        return higher.to_complex() if higher._category == _FLOAT else lower
    if higher._category == _FLOAT:
        return higher
    if higher is bool or lower._category == _FLOAT:
        return promote_types(higher, lower)
    return higher


def scalar_dtype(value):
    """The dtype a Python number takes part in promotion with (a 'wrapped number')."""
    if isinstance(value, builtins.bool):
        return bool
    if isinstance(value, builtins.int):
        return int64
    if isinstance(value, builtins.float):
        return get_default_dtype()
    if isinstance(value, builtins.complex):
        return get_default_dtype().to_complex()
    if isinstance(value, np.generic):
        return from_numpy_dtype(value.dtype)
    raise TypeError(f"unsupported scalar type {type(value).__name__}")


def result_type_of(*operands):
    """PyTorch's result_type over tensors (anything with ``.dtype`` and ``.ndim``) and scalars.

    Dimensioned tensors outrank zero-dim tensors, which outrank Python scalars; a lower
    rank only matters when it brings a higher category (e.g. an int tensor times 2.5).
    """
    dim_result = zero_result = wrapped_result = None
    for x in operands:
        if hasattr(x, "_data"):
            d = x.dtype
            if x._data.ndim:
                dim_result = d if dim_result is None else promote_types(dim_result, d)
            else:
                zero_result = d if zero_result is None else promote_types(zero_result, d)
        elif x is not None:
            d = scalar_dtype(x)
            wrapped_result = d if wrapped_result is None else promote_types(wrapped_result, d)
    return _combine_categories(dim_result, _combine_categories(zero_result, wrapped_result))


def can_cast(from_, to):
    """PyTorch's can_cast: no float->int, no complex->non-complex, no non-bool->bool."""
    from_, to = to_dtype(from_), to_dtype(to)
    return from_._category <= to._category
