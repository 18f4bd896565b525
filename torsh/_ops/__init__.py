"""All tensor ops. Each op declares its bindings (torsh.*, Tensor methods, in-place variants) in the
registry next to its definition (``registry.register``); ``surface`` binds them all. This module keeps
what is not an op entry: the in-place-only methods (``copy_``, ``fill_``, ...), the properties, indexing
and the operators, whose reflected and bool-or-bitwise forms have no op of their own."""
import numpy as np

from .. import _dtype
from .._tensor import Tensor
from . import inplace, registry
from .tensor import conversion, creation
from .tensor.elementwise import arithmetic as pointwise
from .tensor.elementwise import bulk
from .tensor.indexing import subscript as indexing
from .tensor.linalg import matmul as linalg
from .tensor.reduction import reductions as reduction  # noqa: F401
from .tensor.shape import views as shape
from ._helpers import broadcast_shapes, shape_str

# -- in-place-only methods: no out-of-place op; the registry entry is the value written ("source") ---------


def _copy_source(self, src, non_blocking=False):
    return src.to(self.dtype).expand_as(self) if src._data.shape != self._data.shape else src.to(self.dtype)


def _copy_fast(self, src, non_blocking=False):
    if isinstance(src, Tensor) and bulk.copy_into(self._data, src._data):
        return  # large contiguous float tensors of one dtype: the elementwise kernels
    try:
        np.copyto(self._data, src._data if isinstance(src, Tensor) else src, casting="unsafe")
    except ValueError:
        broadcast_shapes(self._data.shape, src._data.shape)
        raise RuntimeError(f"output with shape {shape_str(self)} doesn't match the broadcast shape "
                           f"{shape_str(broadcast_shapes(self._data.shape, src._data.shape))}") from None


def _fill_source(self, value):
    if isinstance(value, Tensor):
        if value._data.ndim:
            raise RuntimeError(f"fill_ only supports 0-dimension value tensor but got tensor with "
                               f"{value._data.ndim} dimensions.")
        return value.to(self.dtype).expand_as(self)
    return creation.full_like(self, value)


def _fill_fast(self, value):
    value = value._data if isinstance(value, Tensor) else creation.fill_value(value, self.dtype)
    if not bulk.fill(self._data, value):  # large contiguous float tensors: the elementwise kernels
        self._data[...] = value


def _zero_source(self):
    return creation.zeros_like(self)


def _zero_fast(self):
    if not bulk.fill(self._data, 0):
        self._data[...] = 0


def _uniform_fast(self, a=0.0, b=1.0, *, generator=None):
    from .. import _random
    self._data[...] = _random.uniform(self._data.shape, self._data.dtype, a, b, generator, self._data)


def _random_source(fast):
    def source(self, *args, **kwargs):
        out = creation.empty_like(self)
        fast(out, *args, **kwargs)
        return out
    return source


for _name, _source, _fast in (("copy", _copy_source, _copy_fast), ("fill", _fill_source, _fill_fast),
                              ("zero", _zero_source, _zero_fast),
                              ("uniform", _random_source(_uniform_fast), _uniform_fast)):
    registry.register(_source, _name, method=False, namespace=None, inplace=registry.Inplace(fast=_fast))


def _type(self, dtype=None, non_blocking=False, **kwargs):
    """Tensor.type(): the legacy name, or a cast to a dtype, a name or a legacy class (x.type(torch.LongTensor))."""
    from .._tensor import _LegacyTensorType
    if isinstance(dtype, _LegacyTensorType):
        dtype = dtype.dtype
    return conversion.type_(self, dtype, non_blocking)


registry.register(_type, "type", namespace=None)

from . import surface  # noqa: E402,F401  (binds every registered op: torsh.*, Tensor methods, in-place variants)

# -- properties and indexing -----------------------------------------------------------------------
Tensor.mT = property(shape._mT)
Tensor.T = property(lambda self: self.permute(tuple(reversed(range(self._data.ndim)))))
Tensor.H = property(lambda self: shape.adjoint(self) if self._data.ndim == 2 else shape.t(self))
Tensor.mH = property(shape.adjoint)
Tensor.real = property(conversion.real)
Tensor.imag = property(conversion.imag)
Tensor.__getitem__ = indexing.getitem
Tensor.__setitem__ = indexing.setitem

# -- operators ----------------------------------------------------------------------------------
from .tensor.elementwise.math_functions import bitwise_left_shift, bitwise_right_shift  # noqa: E402

_shortcut = pointwise.operator_with_shortcut


def _reflected(op):
    return lambda self, other: op(other, self)


def _reciprocal_times(self, other):
    """``number / tensor`` as PyTorch's Tensor.__rtruediv__ computes it: self.reciprocal() * other (its values
    differ from a division in the last bit; its node is MulBackward0)."""
    return self.reciprocal() * other


def _bool_or_bitwise(logical, bitwise):
    def op(self, other):
        if _dtype.result_type_of(self, other) is _dtype.bool:
            return logical(self, other)
        return bitwise(self, other)
    return op


_and = _bool_or_bitwise(pointwise.logical_and_operator, pointwise.bitwise_and)
_or = _bool_or_bitwise(pointwise.logical_or_operator, pointwise.bitwise_or)
_xor = _bool_or_bitwise(pointwise.logical_xor_operator, pointwise.bitwise_xor)

_OPERATORS = {
    "__add__": _shortcut("add", np.add, pointwise.add),
    "__radd__": _shortcut("add", np.add, _reflected(pointwise.add), reflected=True),
    "__sub__": _shortcut("sub", np.subtract, pointwise.sub),
    "__rsub__": _shortcut("sub", np.subtract, pointwise.rsub, reflected=True),
    "__mul__": _shortcut("mul", np.multiply, pointwise.mul),
    "__rmul__": _shortcut("mul", np.multiply, _reflected(pointwise.mul), reflected=True),
    "__truediv__": _shortcut("div", np.true_divide, pointwise.div),
    "__rtruediv__": _reciprocal_times,
    "__floordiv__": pointwise.floor_divide, "__rfloordiv__": _reflected(pointwise.floor_divide),
    "__mod__": pointwise.remainder, "__rmod__": _reflected(pointwise.remainder),
    "__pow__": pointwise.pow, "__rpow__": _reflected(pointwise.pow),
    "__matmul__": linalg.matmul, "__rmatmul__": _reflected(linalg.matmul),
    "__eq__": pointwise.eq, "__ne__": pointwise.ne, "__lt__": pointwise.lt, "__le__": pointwise.le,
    "__gt__": pointwise.gt, "__ge__": pointwise.ge,
    "__and__": _and, "__rand__": _reflected(_and), "__or__": _or, "__ror__": _reflected(_or),
    "__xor__": _xor, "__rxor__": _reflected(_xor),
    "__lshift__": bitwise_left_shift, "__rshift__": bitwise_right_shift,
    "__rlshift__": _reflected(bitwise_left_shift), "__rrshift__": _reflected(bitwise_right_shift),
    "__neg__": pointwise.neg, "__abs__": pointwise.abs,
    "__pos__": lambda self: self,
    "__invert__": lambda self: pointwise.logical_not(self) if self.dtype is _dtype.bool else pointwise.bitwise_not(self),
    "__iadd__": Tensor.add_, "__isub__": Tensor.sub_, "__imul__": Tensor.mul_, "__itruediv__": Tensor.div_,
    "__ipow__": Tensor.pow_, "__imod__": Tensor.remainder_, "__ifloordiv__": Tensor.floor_divide_,
    "__ilshift__": Tensor.bitwise_left_shift_, "__irshift__": Tensor.bitwise_right_shift_,
    "__iand__": lambda self, other: Tensor.copy_(self, _and(self, other)),
    "__ior__": lambda self, other: Tensor.copy_(self, _or(self, other)),
    "__ixor__": lambda self, other: Tensor.copy_(self, self ^ other),
}
for _name, _fn in _OPERATORS.items():
    setattr(Tensor, _name, _fn)
