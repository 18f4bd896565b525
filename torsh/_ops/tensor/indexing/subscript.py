"""Indexing: ``__getitem__`` (views for basic keys, copies for advanced ones), ``__setitem__``,
masked_fill and nonzero."""
import numpy as np

from .... import _dtype
from ...._tensor import wrap
from ....autograd.graph import Node, needs_grad, record
from ..._helpers import broadcast_shapes, check_dtype_support, is_tensor
from ..creation import check_scalar_fits, scalar_to
from ...registry import register


def _check_mask_shape(mask, shape, position):
    indexed = shape[position:position + mask.ndim]
    for i, (m, s) in enumerate(zip(mask.shape, indexed)):
        if m != s:
            raise IndexError(
                f"The shape of the mask {list(mask.shape)} at index {i} does not match the shape of the indexed "
                f"tensor {list(shape)} at index {position + i}")


def _is_sequence(k):
    return isinstance(k, (list, tuple, range)) or (
        hasattr(type(k), "__getitem__") and hasattr(type(k), "__len__") and not isinstance(k, (str, bytes, dict)))


def _key_tuple(key):
    """The key as a tuple of indices, read as PyTorch does (treatSequenceAsTuple): a non-tuple sequence shorter
    than 32 that holds a tensor, a sequence, a slice, Ellipsis or None is a tuple of indices (deprecated, with
    PyTorch's warning); any other key, a list of ints or a range included, is one index."""
    if isinstance(key, tuple):
        return key
    if is_tensor(key) or isinstance(key, np.ndarray) or not _is_sequence(key) or len(key) >= 32:
        return (key,)
    if any(is_tensor(k) or _is_sequence(k) or isinstance(k, slice) or k is None or k is Ellipsis for k in key):
        import warnings
        warnings.warn("Using a non-tuple sequence for multidimensional indexing is deprecated and will be changed "
                      "in pytorch 2.9; use x[tuple(seq)] instead of x[seq]. In pytorch 2.9 this will be interpreted "
                      "as tensor index, x[torch.tensor(seq)], which will result either in an error or a different "
                      "result", UserWarning, stacklevel=4)
        return tuple(key)
    return (key,)


def _convert_key(key, shape=None):
    """A NumPy key from a torsh key; (key, is_basic). Bool masks become integer arrays.

    With ``shape`` (the indexed tensor's), a mask is checked against the dims it covers.
    """
    key = _key_tuple(key)
    out, basic = [], True
    position = 0  # the tensor dim the next key element indexes (until an Ellipsis)
    for k in key:
        if k is Ellipsis:
            position = None
        elif position is not None and k is not None:
            mask = k._data if is_tensor(k) else k
            if isinstance(mask, np.ndarray) and mask.dtype == np.bool_ and shape is not None and mask.ndim:
                _check_mask_shape(mask, shape, position)
            position += mask.ndim if isinstance(mask, np.ndarray) and mask.dtype == np.bool_ else 1
        if is_tensor(k):
            k = k._data
        if isinstance(k, np.ndarray) or (isinstance(k, np.generic) and k.dtype == np.bool_) or _is_sequence(k):
            arr = np.asarray(k if isinstance(k, (list, tuple, np.ndarray, np.generic)) else list(k))
            if arr.dtype == np.bool_:
                out.extend(np.nonzero(arr) if arr.ndim else [arr])
            elif arr.dtype.kind in "iu":
                out.append(arr.astype(np.int64, copy=False))
            elif arr.dtype.kind == "f" or arr.dtype == object:
                raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
            else:
                out.append(arr)
            basic = False
        elif isinstance(k, bool):
            out.append(np.asarray(k))
            basic = False
        elif isinstance(k, slice):
            if k.step is not None and int(k.step) <= 0:
                raise ValueError("step must be greater than zero")
            out.append(k)
        elif k is None or k is Ellipsis or isinstance(k, (int, np.integer)):
            out.append(k)
        elif hasattr(k, "__index__"):
            out.append(k.__index__())
        else:
            raise IndexError(
                "only integers, slices (`:`), ellipsis (`...`), None and long or byte Variables are valid indices "
                f"(got {type(k).__name__})")
    return tuple(out), basic


def _index(data, key):
    try:
        return data[key]
    except IndexError as exc:
        msg = str(exc)
        if "out of bounds" in msg:
            if msg.endswith("with size 0"):  # PyTorch names neither the index nor the dim then
                raise IndexError("index is out of bounds for dimension with size 0") from None
            raise IndexError(msg.replace("axis", "dimension")) from None
        if "too many indices" in msg:
            raise IndexError(f"too many indices for tensor of dimension {data.ndim}") from None
        raise


class IndexBackward0(Node):
    def backward(self, grad):
        return (_scatter_into_zeros(self.shape, self.key, grad),)


SliceBackward0 = type("SliceBackward0", (IndexBackward0,), {})
SelectBackward0 = type("SelectBackward0", (IndexBackward0,), {})


def getitem(input, key):
    np_key, basic = _convert_key(key, input._data.shape)
    data = input._data
    if basic and Ellipsis not in np_key:
        np_key = np_key + (Ellipsis,)  # all-int keys then give a 0-d view, not a NumPy scalar copy
    value = _index(data, np_key)
    if basic:
        name = SelectBackward0 if all(isinstance(k, (int, np.integer)) or k is Ellipsis for k in np_key) \
            else SliceBackward0
        out = input._make_view(value, lambda t: t[key])
    else:
        name = IndexBackward0
        out = wrap(np.asarray(value))
    if needs_grad(input):
        node = name()
        node.shape, node.key = data.shape, np_key
        record(node, (input,), (out,))
        out._view_version = out._version_counter[0]
    return out


class _ScatterIntoZerosBackward(Node):
    def backward(self, grad):
        return (grad[_as_torsh_key(self.key)],)


def _as_torsh_key(np_key):
    return tuple(wrap(k) if isinstance(k, np.ndarray) else k for k in np_key)


def _scatter_into_zeros(shape, np_key, src):
    """zeros(shape) with ``src`` added at ``np_key`` (repeated indices accumulate); differentiable in src."""
    out = np.zeros(shape, dtype=src._data.dtype)
    if any(isinstance(k, np.ndarray) for k in np_key):
        np.add.at(out, np_key, src._data)
    else:  # a basic key (ints, slices) reaches each element once: a plain store, ~30x faster than add.at
        out[np_key] = src._data
    result = wrap(out)
    if needs_grad(src):
        node = _ScatterIntoZerosBackward()
        node.key = np_key
        record(node, (src,), (result,))
    return result


class IndexPutBackward0(Node):
    def backward(self, grad):
        from ..._helpers import sum_to
        grad_self = grad * wrap(self.keep_mask) if self.next_functions[0][0] is not None else None
        grad_value = None
        if self.next_functions[1][0] is not None:
            grad_value = sum_to(grad[_as_torsh_key(self.key)], self.value_shape)
        return grad_self, grad_value

    def _on_release(self):
        self.keep_mask = None


def index_put(input, key, value, accumulate=False):
    """Out-of-place ``input[key] = value`` (``accumulate`` adds instead)."""
    np_key, _ = _convert_key(key, input._data.shape)
    data = np.array(input._data, copy=True)
    v = value._data.astype(data.dtype, copy=False) if is_tensor(value) else value
    try:
        if accumulate:
            np.add.at(data, np_key, v)
        else:
            data[np_key] = v
    except ValueError:
        target = _index(input._data, np_key).shape
        raise RuntimeError(
            f"shape mismatch: value tensor of shape {list(np.shape(v))} cannot be broadcast to indexing result of "
            f"shape {list(target)}") from None
    except IndexError as exc:
        if "too many indices" in str(exc):  # index_put's kernel also counts the indices
            n = len(key) if isinstance(key, (tuple, list)) else 1
            raise IndexError(f"too many indices for tensor of dimension {input._data.ndim} (got {n})") from None
        _index(input._data, np_key)  # re-raise with PyTorch's wording
        raise exc
    result = wrap(data)
    if needs_grad(input, value):
        node = IndexPutBackward0()
        node.key = np_key
        node.value_shape = value._data.shape if is_tensor(value) else ()
        mask = np.ones(data.shape, dtype=data.dtype)
        if not accumulate:
            mask[np_key] = 0
        node.keep_mask = mask
        record(node, (input, value), (result,))
    return result
register(index_put, node_name="IndexPutBackward0", inplace=True)


def setitem(input, key, value):
    from ...inplace import apply_inplace
    if not is_tensor(value) and not isinstance(value, (int, float, bool, complex, np.generic)):
        from ..creation import tensor
        value = tensor(value, dtype=input.dtype)
    if needs_grad(input, value) and _convert_key(key, input._data.shape)[1]:
        # a basic key writes through a view, so autograd sees it as PyTorch does (CopySlices)
        target = getitem(input, key)
        if is_tensor(value):
            target.copy_(value)
        else:
            target.fill_(value)
        return
    apply_inplace(input, "index_put_", index_put, key, value, fast=_setitem_fast)


def _setitem_fast(input, key, value):
    np_key, _ = _convert_key(key, input._data.shape)
    v = value._data if is_tensor(value) else value
    try:
        input._data[np_key] = v
    except ValueError:
        if not input._data.flags.writeable:
            raise
        target = _index(input._data, np_key).shape
        raise RuntimeError(
            f"shape mismatch: value tensor of shape {list(np.shape(v))} cannot be broadcast to indexing result of "
            f"shape {list(target)}") from None
    except IndexError:
        _index(input._data, np_key)
        raise


class MaskedFillBackward0(Node):
    def backward(self, grad):
        from ..elementwise.arithmetic import where
        from ..._helpers import sum_to
        (mask,) = self.saved_tensors
        grad_value = None
        if self.next_functions[2][0] is not None:
            grad_value = sum_to(where(mask, grad, 0.0), ()).reshape(())
        return sum_to(where(mask, 0.0, grad), self.input_shape), None, grad_value  # the mask may broadcast input


MaskedFillBackward1 = type("MaskedFillBackward1", (MaskedFillBackward0,), {})  # PyTorch's node for a tensor value


def masked_fill(input, mask, value):
    broadcast_shapes(mask._data.shape, input._data.shape)  # PyTorch's RuntimeError, in its order (mask first)
    if mask.dtype is not _dtype.bool:
        raise RuntimeError(f"masked_fill_ only supports boolean masks, but got mask with dtype "
                           f"{_dtype.C_TYPE_NAMES[mask.dtype.name]}")
    if is_tensor(value):
        if value._data.ndim == 0:  # PyTorch checks a 0-d value as it checks a Python number
            check_scalar_fits(value._data.item(), input.dtype)
        v = value._data.astype(input._data.dtype)
    else:
        v = scalar_to(value, input.dtype)  # PyTorch's overflow check and C cast
    result = wrap(np.where(mask._data, v, input._data).astype(input._data.dtype, copy=False))
    if needs_grad(input, value):
        node = MaskedFillBackward1() if is_tensor(value) else MaskedFillBackward0()
        node.input_shape = input._data.shape
        record(node, (input, mask, value), (result,))
        node.save_for_backward(mask)
    return result
register(masked_fill, node_name="MaskedFillBackward0", inplace=True)


def nonzero(input, *, as_tuple=False):
    check_dtype_support("nonzero", input._data.dtype)
    if input._data.ndim == 0 and not as_tuple:  # one row per nonzero element, no columns
        return wrap(np.zeros((int(bool(input._data)), 0), np.int64))
    idx = np.nonzero(input._data) if input._data.ndim else np.nonzero(input._data.reshape(1))
    if as_tuple:
        return tuple(wrap(i.astype(np.int64)) for i in idx)
    return wrap(np.stack(idx, axis=-1).astype(np.int64) if idx else np.zeros((0, 0), np.int64))
register(nonzero)


def argwhere(input):
    return nonzero(input)
register(argwhere)
