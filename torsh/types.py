"""torch.types: the type aliases programs use in annotations (``Number``, ``_size``, ``Device``...).

``SymInt``/``SymFloat``/``SymBool`` are torch.SymInt & co (torsh/_symbolic.py), as in PyTorch: annotations
``Union[int, SymInt]`` (``IntLikeType``) accept plain numbers, and ``isinstance(3, SymInt)`` is False.
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

from ._storage import TypedStorage, UntypedStorage  # noqa: E402
from ._symbolic import SymBool, SymFloat, SymInt  # noqa: E402  (classes no plain number is an instance of)
IntLikeType = Union[int, SymInt]
FloatLikeType = Union[float, SymFloat]
BoolLikeType = Union[bool, SymBool]
py_sym_types = (SymInt, SymFloat, SymBool)
PySymType = Union[SymInt, SymFloat, SymBool]

Number = Union[int, float, bool]
_Number = (int, float, bool)  # for isinstance checks, as PyTorch's
Device = Union[_device_type, str, int, None]
FileLike = Union[str, os.PathLike, IO[bytes]]
Storage = Union[TypedStorage, UntypedStorage]
