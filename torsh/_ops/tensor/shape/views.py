"""Shape ops. The view ops share storage with their input and know how to redo themselves
from the input (``view_fn``), which in-place autograd on views relies on."""
import math
import warnings

import numpy as np

from .... import _dtype
from ...._tensor import Tensor, wrap
from ....autograd.graph import Node, needs_grad, record
from ....autograd.grad_mode import _state as _grad_state
from ..._helpers import is_tensor, normalize_dim, normalize_dims, shape_str, with_grad_fn
from ..indexing.subscript import SelectBackward0, SliceBackward0
from ...registry import Inplace, copy_out, register


def _sizes(args):
    """(2, 3), ((2, 3),), ([2, 3],) and (Size,) all mean the shape (2, 3)."""
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        args = args[0]
    return tuple(map(int, args))  # int() of each as before, without a generator's frame


def _infer_shape(shape, numel):
    # the common cases in C builtins (every reshape/view of a step passes here): no -1, or exactly one
    lowest = min(shape, default=0)
    if lowest >= 0:
        if math.prod(shape) == numel:
            return shape
    elif lowest == -1 and shape.count(-1) == 1:
        known = -math.prod(shape)
        if known != 0 and numel % known == 0:
            i = shape.index(-1)
            return shape[:i] + (numel // known,) + shape[i + 1:]
    return _infer_shape_checked(shape, numel)


def _infer_shape_checked(shape, numel):
    """_infer_shape's errors, in PyTorch's order (also the general case)."""
    for i, s in enumerate(shape):
        if s < -1:
            raise RuntimeError(f"invalid shape dimension {s} at index {i} of shape {list(shape)}")
    if shape.count(-1) > 1:
        raise RuntimeError("only one dimension can be inferred")
    known = math.prod(s for s in shape if s != -1)
    if -1 in shape:
        if known == 0 and numel == 0:
            raise RuntimeError(f"cannot reshape tensor of 0 elements into shape {list(shape)} because the "
                               "unspecified dimension size -1 can be any value and is ambiguous")
        if known == 0 or numel % known:
            raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
        shape = tuple(numel // known if s == -1 else s for s in shape)
    elif known != numel:
        raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
    return shape


def _view(input, array, node_cls, view_fn, **attrs):
    """Wrap ``array`` (a view of input's storage) and, when needed, record ``node_cls``."""
    out = input._make_view(array, view_fn)
    if (input._requires_grad and _grad_state.enabled) or needs_grad(input):  # the common answer without a call
        node = node_cls()
        node.__dict__.update(attrs)
        record(node, (input,), (out,))
        out._view_version = out._version_counter[0]
    return out


class ViewBackward0(Node):
    def backward(self, grad):
        return (grad.reshape(self.shape),)


UnsafeViewBackward0 = type("UnsafeViewBackward0", (ViewBackward0,), {})  # reshape after a copy
ReshapeAliasBackward0 = type("ReshapeAliasBackward0", (ViewBackward0,), {})  # reshape viewing a non-contiguous tensor


def _try_view(data, shape):
    """``data`` reshaped without copying, or None when its strides do not allow it."""
    v = data.view()
    try:
        v.shape = shape
    except AttributeError:
        return None
    return v


def view(input, *shape, size=None):
    if size is not None:  # Tensor.view(size=...)
        shape = (size,)
    if not shape:
        raise TypeError("view() received an invalid combination of arguments - got (), but expected one of:\n"
                        " * (torch.dtype dtype)\n * (tuple of ints size)")
    if len(shape) == 1 and isinstance(shape[0], _dtype.dtype):
        return _view_dtype(input, shape[0])
    shape = _infer_shape(_sizes(shape), input._data.size)
    array = _try_view(input._data, shape)
    if array is None:
        raise RuntimeError(
            "view size is not compatible with input tensor's size and stride (at least one dimension spans "
            "across two contiguous subspaces). Use .reshape(...) instead.")
    return _view(input, array, ViewBackward0, lambda t: t.view(shape), shape=input._data.shape)
register(view, namespace=None)


def _view_dtype(input, dtype):
    array = input._data.view(dtype.np)
    return input._make_view(array, lambda t: t.view(dtype))


def reshape(input, *args, shape=None):
    shape = _infer_shape(_sizes(args if shape is None else (shape,)), input._data.size)
    array = _try_view(input._data, shape)
    if array is not None:  # PyTorch: a view of a contiguous tensor, else _reshape_alias
        node_cls = ViewBackward0 if input._data.flags.c_contiguous else ReshapeAliasBackward0
        return _view(input, array, node_cls, lambda t: t.reshape(shape), shape=input._data.shape)
    result = wrap(np.ascontiguousarray(input._data).reshape(shape))
    if needs_grad(input):
        node = UnsafeViewBackward0()
        node.shape = input._data.shape
        record(node, (input,), (result,))
    return result
register(reshape)


def view_as(input, other):
    return view(input, other._data.shape)
register(view_as, namespace=None)


def reshape_as(input, other):
    return reshape(input, other._data.shape)
register(reshape_as, namespace=None)


class TransposeBackward0(Node):
    def backward(self, grad):
        return (grad.transpose(self.dim0, self.dim1),)


def transpose(input, dim0, dim1):
    ndim = input._data.ndim
    d0, d1 = normalize_dim(dim0, ndim), normalize_dim(dim1, ndim)
    if ndim < 2:
        array = input._data.view()
    else:
        array = np.swapaxes(input._data, d0, d1)
    return _view(input, array, TransposeBackward0, lambda t: t.transpose(d0, d1), dim0=d0, dim1=d1)
register(transpose, aliases=("swapdims",), inplace=Inplace(view=True))


swapdims = transpose


def swapaxes(input, axis0, axis1):
    return transpose(input, axis0, axis1)
register(swapaxes, inplace=Inplace(view=True))


class PermuteBackward0(Node):
    def backward(self, grad):
        return (grad.permute(self.inverse),)


def permute(input, *args, dims=None):
    dims = _sizes(args if dims is None else (dims,))  # permute(*dims) or permute(dims=...), as in PyTorch
    ndim = input._data.ndim
    if len(dims) != ndim:
        raise RuntimeError(
            f"permute(sparse_coo): number of dimensions in the tensor input does not match the length of the "
            f"desired ordering of dimensions i.e. input.dim() = {ndim} is not equal to len(dims) = {len(dims)}")
    dims = tuple(normalize_dim(d, ndim) for d in dims)
    if len(set(dims)) != ndim:
        raise RuntimeError("permute(): duplicate dims are not allowed.")
    inverse = tuple(int(i) for i in np.argsort(dims))
    return _view(input, np.transpose(input._data, dims), PermuteBackward0, lambda t: t.permute(dims), inverse=inverse)
register(permute)


class TBackward0(Node):
    def backward(self, grad):
        return (grad.t(),)


def t(input):
    if input._data.ndim > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {input._data.ndim}D")
    array = input._data.T if input._data.ndim == 2 else input._data.view()
    return _view(input, array, TBackward0, lambda x: x.t())
register(t, inplace=Inplace(view=True))


def _mT(input, name="tensor.mT", deprecation="Tensor.mT is deprecated on 0-D tensors. This function is the "
                                                "identity in these cases."):
    ndim = input._data.ndim
    if ndim == 0:  # PyTorch still takes a 0-d tensor, with a deprecation warning
        warnings.warn(deprecation, UserWarning, stacklevel=3)
        return t(input)
    if ndim < 2:
        raise RuntimeError(f"{name} is only supported on matrices or batches of matrices. Got {ndim}-D tensor.")
    return transpose(input, -2, -1)


def adjoint(input):
    transposed = _mT(input, "tensor.adjoint()", "adjoint() is deprecated on 0-D tensors. Consider using x.conj().")
    return transposed.conj() if input.dtype.is_complex else transposed
register(adjoint)


class SqueezeBackward0(Node):
    def backward(self, grad):
        return (grad.reshape(self.shape),)


SqueezeBackward1 = type("SqueezeBackward1", (SqueezeBackward0,), {})
SqueezeBackward2 = type("SqueezeBackward2", (SqueezeBackward0,), {})


def squeeze(input, dim=None):
    data = input._data
    if dim is None:
        dims = tuple(i for i, s in enumerate(data.shape) if s == 1)
        node_cls = SqueezeBackward0
    else:
        dims = tuple(d for d in normalize_dims(dim, data.ndim) if data.shape[d] == 1)
        node_cls = SqueezeBackward1 if isinstance(dim, int) else SqueezeBackward2
    array = np.squeeze(data, axis=dims) if dims else data.view()
    return _view(input, array, node_cls, lambda t: t.squeeze(dim), shape=data.shape)
register(squeeze, inplace=Inplace(view=True))


class UnsqueezeBackward0(Node):
    def backward(self, grad):
        return (grad.squeeze(self.dim),)


def unsqueeze(input, dim):
    ndim = input._data.ndim
    d = normalize_dim(dim, ndim + 1)
    return _view(input, np.expand_dims(input._data, d), UnsqueezeBackward0, lambda t: t.unsqueeze(d), dim=d)
register(unsqueeze, inplace=Inplace(view=True))


def flatten(input, start_dim=0, end_dim=-1):
    ndim = input._data.ndim
    s, e = normalize_dim(start_dim, ndim), normalize_dim(end_dim, ndim)
    if ndim == 0:
        return reshape(input, (1,))
    if s > e:
        raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
    shape = input._data.shape
    return reshape(input, shape[:s] + (math.prod(shape[s:e + 1]),) + shape[e + 1:])
register(flatten)


def unflatten(input, dim, sizes):
    shape = input._data.shape
    d = normalize_dim(dim, len(shape))
    sizes = tuple(sizes)
    if -1 in sizes:
        sizes = _infer_shape(sizes, shape[d])
    elif math.prod(sizes) != shape[d]:
        raise RuntimeError(f"unflatten: Provided sizes {list(sizes)} don't multiply up to the size of dim {d} "
                           f"({shape[d]}) in the input tensor")
    return view(input, shape[:d] + sizes + shape[d + 1:]) if _try_view(input._data, shape[:d] + sizes + shape[d + 1:]) is not None \
        else reshape(input, shape[:d] + sizes + shape[d + 1:])
register(unflatten)


class ExpandBackward0(Node):
    def backward(self, grad):
        from ..._helpers import sum_to
        return (sum_to(grad, self.shape),)


def expand(input, *sizes, size=None):
    sizes = _sizes(sizes if size is None else (size,))
    shape = input._data.shape
    if len(sizes) < len(shape):
        raise RuntimeError(
            f"expand({_legacy_type(input)}{{{list(shape)}}}, size={list(sizes)}): the number of sizes provided "
            f"({len(sizes)}) must be greater or equal to the number of dimensions in the tensor ({len(shape)})")
    lead = len(sizes) - len(shape)
    target = []
    for i, s in enumerate(sizes):
        if i < lead:
            if s < 0:
                raise RuntimeError(f"The expanded size of the tensor (-1) isn't allowed in a leading, non-existing dimension {i}")
            target.append(s)
            continue
        own = shape[i - lead]
        if s == -1:
            s = own
        if own != s and own != 1:
            raise RuntimeError(
                f"The expanded size of the tensor ({s}) must match the existing size ({own}) at non-singleton "
                f"dimension {i}.  Target sizes: {list(sizes)}.  Tensor sizes: {list(shape)}")
        target.append(s)
    target = tuple(target)
    if any(s < 0 for s in target):  # a negative size on a singleton dim (PyTorch's numel check words it so)
        raise RuntimeError("numel: integer multiplication overflow")
    array = np.broadcast_to(input._data, target)
    return _view(input, array, ExpandBackward0, lambda t: t.expand(target), shape=shape)
register(expand, namespace=None)


def expand_as(input, other):
    return expand(input, other._data.shape)
register(expand_as, namespace=None)


def _legacy_type(t):
    from ...._tensor_str import type_name
    return type_name(t._data.dtype).replace("torch.", "")


class CloneBackward0(Node):
    def backward(self, grad):
        return (grad,)


def clone(input, *, memory_format=None):
    result = wrap(np.array(input._data, copy=True, order="C"))
    if needs_grad(input):
        record(CloneBackward0(), (input,), (result,))
    return result
register(clone, node_name="CloneBackward0")


def contiguous(input, memory_format=None):
    if input._data.flags.c_contiguous:
        return input
    return clone(input)
register(contiguous, namespace=None)


# -- joining and splitting ------------------------------------------------------------------
class CatBackward0(Node):
    def backward(self, grad):
        grads, start = [], 0
        for (fn, _), size in zip(self.next_functions, self.sizes):
            grads.append(grad.narrow(self.dim, start, size) if fn is not None else None)
            start += size
        return tuple(grads)


def cat(tensors, dim=0, *, out=None):
    tensors = list(tensors)
    if not tensors:
        raise ValueError("torch.cat(): expected a non-empty list of Tensors")
    if getattr(tensors[0], "is_quantized", False):  # QuantizedCPU's cat (torsh/_quantized.py)
        return type(tensors[0])._cat(tensors, dim, out)
    for i, t in enumerate(tensors):
        if not is_tensor(t):
            raise TypeError(f"expected Tensor as element {i} in argument 0, but got {type(t).__name__}")
        if t._data.ndim == 0:
            raise RuntimeError(f"zero-dimensional tensor (at position {i}) cannot be concatenated")
    # legacy rule: 1-D empty tensors are skipped
    used = [t for t in tensors if not (t._data.ndim == 1 and t._data.shape[0] == 0)] or tensors[:1]
    ref = used[0]._data
    d = normalize_dim(dim, ref.ndim)
    for i, t in enumerate(tensors):
        s = t._data.shape
        if t._data.ndim == 1 and s[0] == 0:
            continue
        if len(s) != ref.ndim:
            raise RuntimeError(
                f"Tensors must have same number of dimensions: got {ref.ndim} and {len(s)}")
        for k in range(ref.ndim):
            if k != d and s[k] != ref.shape[k]:
                raise RuntimeError(
                    f"Sizes of tensors must match except in dimension {d}. Expected size {ref.shape[k]} but got "
                    f"size {s[k]} for tensor number {i} in the list.")
    rt = _dtype.result_type_of(*tensors)
    result = wrap(np.concatenate([t._data for t in used], axis=d).astype(rt.np, copy=False))
    sizes = [t._data.shape[d] if t._data.ndim > d else 0 for t in tensors]  # skipped 1-D empties: 0
    with_grad_fn(CatBackward0, tensors, result, dim=d, sizes=sizes)
    if out is not None:
        return copy_out(result, out)
    return result
register(cat, aliases=("concat", "concatenate"), node_name="CatBackward0", method=False)


concat = concatenate = cat


class StackBackward0(Node):
    def backward(self, grad):
        return tuple(grad.select(self.dim, i) if fn is not None else None
                     for i, (fn, _) in enumerate(self.next_functions))


def stack(tensors, dim=0, *, out=None):
    tensors = list(tensors)
    if not tensors:
        raise RuntimeError("stack expects a non-empty TensorList")
    shape0 = tensors[0]._data.shape
    for i, t in enumerate(tensors):
        if t._data.shape != shape0:
            raise RuntimeError(
                f"stack expects each tensor to be equal size, but got {shape_str(shape0)} at entry 0 and "
                f"{shape_str(t._data.shape)} at entry {i}")
    d = normalize_dim(dim, len(shape0) + 1)
    rt = _dtype.result_type_of(*tensors)
    result = wrap(np.stack([t._data for t in tensors], axis=d).astype(rt.np, copy=False))
    return with_grad_fn(StackBackward0, tensors, result, dim=d)
register(stack, node_name="StackBackward0", method=False)


class SplitBackward0(Node):
    def backward(self, *grads):
        from ..creation import zeros
        parts = [g if g is not None else zeros(shape, dtype=dtype) for g, (shape, dtype) in zip(grads, self._output_meta)]
        return (cat(parts, self.dim),)


SplitWithSizesBackward0 = type("SplitWithSizesBackward0", (SplitBackward0,), {})
UnbindBackward0 = type("UnbindBackward0", (SplitBackward0,), {})


class _UnbindBackward(Node):
    def backward(self, *grads):
        return (stack(list(grads), self.dim),)


def _multi_view(input, arrays, node_cls, view_fns, **attrs):
    outs = [input._make_view(a, fn) for a, fn in zip(arrays, view_fns)]
    if needs_grad(input):
        node = node_cls()
        node.__dict__.update(attrs)
        record(node, (input,), outs)
        for o in outs:
            o._view_version = o._version_counter[0]
    return tuple(outs)


def _need_dims(input, op):
    if input._data.ndim == 0:
        raise RuntimeError(f"{op} expects at least a 1-dimensional tensor")


def split(tensor, split_size_or_sections=None, dim=0, *, split_size=None):
    """torch.split(tensor, split_size_or_sections, dim) and Tensor.split(split_size, dim)."""
    if split_size is not None:
        split_size_or_sections = split_size
    data = tensor._data
    _need_dims(tensor, "split")
    d = normalize_dim(dim, data.ndim)
    size = data.shape[d]
    if isinstance(split_size_or_sections, (int, np.integer)):
        step = int(split_size_or_sections)
        if step < 0:
            raise RuntimeError(f"split expects split_size be non-negative, but got split_size={step}")
        if step == 0 and size:
            raise RuntimeError(f"split_size can only be 0 if dimension size is 0, but got dimension size of {size}")
        count = max(-(-size // step), 1) if step else 1  # a zero-size dim still gives one (empty) piece
        sizes = [step] * (count - 1) + [size - step * (count - 1)]
        node_cls = SplitBackward0
    else:
        sizes = [int(s) for s in split_size_or_sections]
        if sum(sizes) != size:
            raise RuntimeError(
                f"split_with_sizes expects split_sizes to sum exactly to {size} (input tensor's size at dimension "
                f"{d}), but got split_sizes={sizes}")
        node_cls = SplitWithSizesBackward0
    starts = np.cumsum([0] + sizes[:-1]).tolist()
    arrays = [data[(slice(None),) * d + (slice(s, s + n),)] for s, n in zip(starts, sizes)]
    fns = [(lambda s, n: lambda t: t.narrow(d, s, n))(s, n) for s, n in zip(starts, sizes)]
    return _multi_view(tensor, arrays, node_cls, fns, dim=d)
register(split)



def chunk(input, chunks, dim=0):
    _need_dims(input, "chunk")
    if chunks <= 0:
        raise RuntimeError(f"chunk expects `chunks` to be greater than 0, got: {chunks}")
    size = input._data.shape[normalize_dim(dim, input._data.ndim)]
    if size == 0:  # PyTorch keeps the number of chunks: ``chunks`` empty pieces
        return split(input, [0] * chunks, dim)
    return split(input, -(-size // chunks), dim)
register(chunk)


def unbind(input, dim=0):
    data = input._data
    d = normalize_dim(dim, data.ndim)
    if data.ndim == 0:
        raise IndexError(f"Dimension specified as {dim} but tensor has no dimensions")
    arrays = [data[(slice(None),) * d + (i,)] for i in range(data.shape[d])]
    fns = [(lambda i: lambda t: t.select(d, i))(i) for i in range(data.shape[d])]
    return _multi_view(input, arrays, type("UnbindBackward0", (_UnbindBackward,), {}), fns, dim=d)
register(unbind)


def narrow(input, dim, start, length):
    data = input._data
    if data.ndim == 0:
        raise RuntimeError("narrow() cannot be applied to a 0-dim tensor.")
    if length < 0:  # checked before dim and start, as PyTorch does
        raise RuntimeError("narrow(): length must be non-negative.")
    d = normalize_dim(dim, data.ndim)
    size = data.shape[d]
    start = int(start)
    if not -size <= start <= size:
        raise IndexError(f"start out of range (expected to be in range of [{-size}, {size}], but got {start})")
    if start < 0:
        start += size
    if start + length > size:
        raise RuntimeError(f"start ({start}) + length ({length}) exceeds dimension size ({size}).")
    key = (slice(None),) * d + (slice(start, start + length),)
    return _view(input, data[key], SliceBackward0, lambda t: t.narrow(d, start, length), shape=data.shape, key=key)
register(narrow)


def select(input, dim, index):
    data = input._data
    if data.ndim == 0:
        raise IndexError("select() cannot be applied to a 0-dim tensor.")
    d = normalize_dim(dim, data.ndim)
    size = data.shape[d]
    if not -size <= index < size:
        raise IndexError(f"select(): index {index} out of range for tensor of size {list(data.shape)} at dimension {d}")
    index = index % size
    key = (slice(None),) * d + (index,)
    return _view(input, data[key], SelectBackward0, lambda t: t.select(d, index), shape=data.shape, key=key)
register(select)


def movedim(input, source, destination):
    ndim = input._data.ndim
    src = [source] if isinstance(source, int) else list(source)
    dst = [destination] if isinstance(destination, int) else list(destination)
    if len(src) != len(dst):
        raise RuntimeError(
            f"movedim: Invalid source or destination dims: source ({src} dims) should contain the same number of "
            f"dims as destination ({dst} dims)")
    src = [normalize_dim(s, ndim) for s in src]
    dst = [normalize_dim(s, ndim) for s in dst]
    for name, dims in (("source", src), ("destination", dst)):
        if len(set(dims)) != len(dims):
            raise RuntimeError(f"movedim: repeated dim in `{name}` ({dims})")
    if ndim == 0:  # normalize_dim maps 0 and -1 to 0: nothing to move
        return permute(input, ())
    order = [i for i in range(ndim) if i not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return permute(input, order)
register(movedim, aliases=("moveaxis",))


moveaxis = movedim
