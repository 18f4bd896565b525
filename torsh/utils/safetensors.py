"""safetensors read/write for torsh tensors, with the API of ``safetensors.torch``.

Built on the ``safetensors`` package's NumPy-level core (``serialize``/``deserialize``), which
also carries bfloat16 (ml_dtypes) that ``safetensors.numpy`` itself cannot name. Files are
interchangeable with ``safetensors.torch.save_file`` / ``load_file``.
"""
import numpy as np

from .. import _dtype
from .._tensor import Tensor

__all__ = ["save", "save_file", "load", "load_file"]

# safetensors dtype tags -> torsh dtypes (complex128 has no safetensors tag)
_DTYPE_OF_TAG = {"F64": "float64", "F32": "float32", "F16": "float16", "BF16": "bfloat16", "I64": "int64",
                 "I32": "int32", "I16": "int16", "I8": "int8", "U8": "uint8", "BOOL": "bool", "C64": "complex64"}


def _specs(tensors):
    from safetensors import TensorSpec
    if not isinstance(tensors, dict):
        raise TypeError(f"expected a dict of name -> tensor, got {type(tensors).__name__}")
    arrays, specs = {}, {}
    for name, t in tensors.items():
        if not isinstance(name, str) or not isinstance(t, Tensor):
            raise TypeError(f"safetensors stores str -> Tensor entries; got {name!r}: {type(t).__name__}")
        if t.dtype is _dtype.complex128:
            raise TypeError(f"safetensors has no complex128 dtype (tensor {name!r})")
        arr = np.ascontiguousarray(t._data)
        arrays[name] = arr  # kept alive until serialized: the spec holds a raw pointer
        specs[name] = TensorSpec(dtype=arr.dtype.name, shape=arr.shape, data_ptr=arr.ctypes.data, data_len=arr.nbytes)
    return arrays, specs


def save(tensors, metadata=None):
    """The safetensors bytes of ``tensors`` (a dict of name -> tensor)."""
    from safetensors import serialize
    _arrays, specs = _specs(tensors)
    return bytes(serialize(specs, metadata=metadata))


def save_file(tensors, filename, metadata=None):
    """Write ``tensors`` to ``filename``; as torsh.save, through a temporary file renamed over it once
    complete, so a failed write leaves the previous file intact."""
    from ..serialization import _atomic_write
    data = save(tensors, metadata=metadata)
    _atomic_write(filename, lambda out: out.write(data))


def load(data):
    """A dict of name -> tensor from safetensors bytes; a malformed buffer raises ValueError."""
    from safetensors import SafetensorError, deserialize
    try:
        entries = deserialize(bytes(data))
    except SafetensorError as e:
        raise ValueError(f"not a valid safetensors buffer: {e}") from None
    out = {}
    for name, info in entries:
        tag = info["dtype"]
        if tag not in _DTYPE_OF_TAG:
            raise ValueError(f"tensor {name!r} has dtype {tag}, which torsh does not support")
        dtype = _dtype._BY_NAME[_DTYPE_OF_TAG[tag]]
        array = np.frombuffer(bytearray(info["data"]), dtype=dtype.np).reshape(info["shape"])
        out[name] = Tensor._wrap(array)
    return out


def load_file(filename, device="cpu"):
    if str(device) != "cpu":
        raise RuntimeError("torsh runs on the CPU only")
    with open(filename, "rb") as f:
        return load(f.read())
