"""torch.types: the type aliases programs use in annotations (``Number``, ``_size``, ``Device``...).

torsh has no symbolic sizes: ``SymInt``/``SymFloat``/``SymBool`` are the plain Python types they stand for
when a shape is concrete, so ``isinstance(n, SymInt)``-style checks and annotations keep working.
"""
import os
from typing import IO, Any, Sequence, Union

from ._dtype import dtype as _dtype_type
from ._layouts import layout as _layout_type
from ._tensor import Size, Tensor, device as _device_type

__all__ = ["Number", "Device", "FileLike", "Storage", "SymInt", "SymFloat", "SymBool", "IntLikeType",
           "FloatLikeType", "BoolLikeType", "py_sym_types", "PySymType"]

_bool = bool
_int = int
_float = float
_complex = complex
_str = str
_bytes = bytes
_dtype = _dtype_type
_device = _device_type
_layout = _layout_type
_size = Union[Size, list[int], tuple[int, ...]]
_symsize = _size
_TensorOrTensors = Union[Tensor, Sequence[Tensor]]
_TensorOrOptionalTensors = Union[Tensor, Sequence[Union[Tensor, None]]]

SymInt = int
SymFloat = float
SymBool = bool
IntLikeType = Union[int, SymInt]
FloatLikeType = Union[float, SymFloat]
BoolLikeType = Union[bool, SymBool]
py_sym_types = (SymInt, SymFloat, SymBool)
PySymType = Union[SymInt, SymFloat, SymBool]

Number = Union[int, float, bool]
_Number = (int, float, bool)  # for isinstance checks, as PyTorch's
Device = Union[_device_type, str, int, None]
FileLike = Union[str, os.PathLike, IO[bytes]]
Storage = Any  # torsh has no storage classes: untyped_storage() returns the base array
