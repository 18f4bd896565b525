"""More shape ops: flips and rolls, repeats, triangles and diagonals, broadcasting, stacking helpers,
splitting, grids. Copies are computed on NumPy with the adjoint as backward; composites of existing
differentiable ops (atleast_*, hstack, meshgrid, ...) get autograd for free."""

import numpy as np

from .... import _dtype
from ...._tensor import wrap
from ....autograd.graph import Node
from ..._helpers import broadcast_shapes, is_tensor, normalize_dim, normalize_dims, with_grad_fn
from .views import _view, cat, expand, narrow, reshape, stack
from ...registry import register


def _int_list(x):
    if isinstance(x, (int, np.integer)):
        return [int(x)]
    return [int(v) for v in x]


# -- flip / roll / rot90 ------------------------------------------------------------------------
class FlipBackward0(Node):
    def backward(self, grad):
        return (grad.flip(self.dims),)


def flip(input, *args, dims=None):
    """torch.flip(input, dims) and Tensor.flip(*dims)."""
    if dims is None:
        dims = args[0] if len(args) == 1 and not isinstance(args[0], (int, np.integer)) else args
    dims = normalize_dims(_int_list(dims), input._data.ndim)
    result = wrap(np.flip(input._data, axis=dims).copy() if dims else input._data.copy())
    return with_grad_fn(FlipBackward0, (input,), result, dims=dims)
register(flip)


def fliplr(input):
    if input._data.ndim < 2:
        raise RuntimeError("Input must be >= 2-d.")
    return flip(input, [1])
register(fliplr)


def flipud(input):
    if input._data.ndim < 1:
        raise RuntimeError("Input must be >= 1-d.")
    return flip(input, [0])
register(flipud)


class RollBackward0(Node):
    def backward(self, grad):
        return (grad.roll([-s for s in self.shifts], self.dims),)


def roll(input, shifts, dims=None):
    shifts = _int_list(shifts)
    data = input._data
    if dims is None or (not isinstance(dims, (int, np.integer)) and len(dims) == 0):
        if len(shifts) != 1:
            raise RuntimeError(f"shifts and dimensions must align. shifts: {len(shifts)}, dims:0")
        result = wrap(np.roll(data.reshape(-1), shifts[0]).reshape(data.shape))
        return with_grad_fn(RollBackward0, (input,), result, shifts=shifts, dims=None)
    dims = _int_list(dims)
    if len(shifts) != len(dims):
        raise RuntimeError(f"shifts and dimensions must align. shifts: {len(shifts)}, dims:{len(dims)}")
    if data.ndim == 0:  # only the flattening roll (no dims) accepts a 0-dim tensor
        raise IndexError(f"Dimension specified as {dims[0]} but tensor has no dimensions")
    dims = [normalize_dim(d, data.ndim) for d in dims]
    result = wrap(np.roll(data, shifts, axis=dims) if data.ndim else data.copy())
    return with_grad_fn(RollBackward0, (input,), result, shifts=shifts, dims=dims)
register(roll)


def rot90(input, k=1, dims=(0, 1)):
    dims = list(dims)
    ndim = input._data.ndim
    if len(dims) != 2:
        raise RuntimeError(f"expected total rotation dims == 2, but got dims = {len(dims)}")
    if ndim < 2:
        raise RuntimeError(f"expected total dims >= 2, but got total dims = {ndim}")
    d0, d1 = normalize_dim(dims[0], ndim), normalize_dim(dims[1], ndim)
    if d0 == d1:
        raise RuntimeError(f"expected rotation dims to be different, but got dim0 = {d0} and dim1 = {d1}")
    k %= 4
    if k == 1:
        return flip(input, [d1]).transpose(d0, d1)
    if k == 2:
        return flip(input, [d0, d1])
    if k == 3:
        return flip(input, [d0]).transpose(d0, d1)
    return input.clone()
register(rot90)


# -- repeat / tile / repeat_interleave -----------------------------------------------------------
class RepeatBackward0(Node):
    def backward(self, grad):
        sizes, shape = self.sizes, self.padded_shape
        interleaved = []
        for s, n in zip(sizes, shape):
            interleaved += [s, n]
        g = grad.reshape(interleaved).sum(tuple(range(0, 2 * len(sizes), 2))) if sizes else grad
        return (g.reshape(self.shape),)


def repeat(input, *sizes, repeats=None):
    if repeats is not None:  # Tensor.repeat(repeats=...)
        sizes = (repeats,)
    if len(sizes) == 1 and not isinstance(sizes[0], (int, np.integer)):
        sizes = sizes[0]
    sizes = _int_list(sizes)
    data = input._data
    if len(sizes) < data.ndim:
        raise RuntimeError("Number of dimensions of repeat dims can not be smaller than number of dimensions of tensor")
    if any(s < 0 for s in sizes):
        target = [s * n for s, n in zip(sizes, (1,) * (len(sizes) - data.ndim) + data.shape)]
        raise RuntimeError(f"Trying to create tensor with negative dimension {next(t for t in target if t < 0)}: "
                           f"{target}")
    padded = (1,) * (len(sizes) - data.ndim) + data.shape
    result = wrap(np.tile(data.reshape(padded), sizes))
    return with_grad_fn(RepeatBackward0, (input,), result, sizes=sizes, padded_shape=padded, shape=data.shape)
register(repeat, namespace=None)


def tile(input, *args, dims=None):
    dims = args if dims is None else (dims,)
    if len(dims) == 1 and not isinstance(dims[0], (int, np.integer)):
        dims = dims[0]
    dims = _int_list(dims)
    if len(dims) < input._data.ndim:
        dims = [1] * (input._data.ndim - len(dims)) + dims
    return repeat(input, dims)
register(tile)


def repeat_interleave(input, repeats=None, dim=None, *, output_size=None):
    """Composite, as in PyTorch: index_select with each index repeated (grad_fn IndexSelectBackward0)."""
    from ..indexing.gather_scatter import index_select
    if repeats is None:  # repeat_interleave(repeats): indices 0..n-1 each repeated
        counts = input._data.reshape(-1)
        if input._data.ndim > 1:
            raise RuntimeError("repeat_interleave only accept 1D vector as repeat")
        if counts.size and counts.min() < 0:
            raise RuntimeError("repeats can not be negative")
        return wrap(np.repeat(np.arange(counts.size, dtype=np.int64), counts.astype(np.int64)))
    if dim is None:
        input = input.reshape(-1)
        d = 0
    else:
        d = normalize_dim(dim, input._data.ndim)
        if input._data.ndim == 0:
            input = input.reshape(1)
    n = input._data.shape[d]
    if is_tensor(repeats):
        if repeats._data.ndim > 1:
            raise RuntimeError("repeat_interleave only accept 1D vector as repeat")
        counts = repeats._data.reshape(-1).astype(np.int64)
        if counts.size == 1:
            counts = np.full(n, counts[0], np.int64)
        elif counts.size != n:
            raise RuntimeError(f"repeats must have the same size as input along dim, but got repeats.size(0) = "
                               f"{counts.size} and input.size({d}) = {n}")
    else:
        counts = np.full(n, int(repeats), np.int64)
    if counts.size and counts.min() < 0:
        raise RuntimeError("repeats can not be negative")
    return index_select(input, d, wrap(np.repeat(np.arange(n, dtype=np.int64), counts)))
register(repeat_interleave)


# -- triangles and diagonals --------------------------------------------------------------------
def _make_triangle(name, np_fn):
    node_cls = type(f"{name.capitalize()}Backward0", (Node,), {
        "backward": lambda self, grad: (getattr(grad, name)(self.diagonal),), "__module__": __name__})

    def op(input, diagonal=0, *, out=None):
        if input._data.ndim < 2:
            raise RuntimeError(f"{name}: input tensor must have at least 2 dimensions")
        result = wrap(np_fn(input._data, int(diagonal)))
        return with_grad_fn(node_cls, (input,), result, diagonal=int(diagonal))
    op.__name__ = name
    return op


tril = _make_triangle("tril", np.tril)
register(tril, "tril", inplace=True, out="copy")
triu = _make_triangle("triu", np.triu)
register(triu, "triu", inplace=True, out="copy")


def _diagonal_array(data, offset, d1, d2):
    """A writeable NumPy view of the diagonal (np.diagonal's own view is read-only)."""
    if offset >= 0:
        sliced = data[(slice(None),) * d2 + (slice(offset, None),)]
    else:
        sliced = data[(slice(None),) * d1 + (slice(-offset, None),)]
    diag = np.diagonal(sliced, 0, d1, d2)
    if sliced.size == 0 or diag.size == 0:
        return np.zeros(diag.shape, data.dtype)[...]  # nothing to share
    return np.lib.stride_tricks.as_strided(sliced, diag.shape, diag.strides)


def _diag_dims(ndim, dim1, dim2):
    d1, d2 = normalize_dim(dim1, ndim), normalize_dim(dim2, ndim)
    if d1 == d2:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    return d1, d2


class DiagonalBackward0(Node):
    def backward(self, grad):
        from ..creation import zeros
        return (diagonal_scatter(zeros(self.shape, dtype=grad.dtype), grad, self.offset, self.dim1, self.dim2),)


def diagonal(input, offset=0, dim1=0, dim2=1):
    data = input._data
    d1, d2 = _diag_dims(data.ndim, dim1, dim2)
    array = _diagonal_array(data, offset, d1, d2)
    return _view(input, array, DiagonalBackward0, lambda t: t.diagonal(offset, d1, d2), shape=data.shape,
                 offset=offset, dim1=d1, dim2=d2)
register(diagonal)


class DiagonalScatterBackward0(Node):
    def backward(self, grad):
        from ..creation import zeros_like
        o, d1, d2 = self.offset, self.dim1, self.dim2
        grad_self = diagonal_scatter(grad, zeros_like(grad.diagonal(o, d1, d2)), o, d1, d2) \
            if self.next_functions[0][0] is not None else None
        grad_src = grad.diagonal(o, d1, d2).clone() if self.next_functions[1][0] is not None else None
        return grad_self, grad_src


def diagonal_scatter(input, src, offset=0, dim1=0, dim2=1):
    data = input._data
    d1, d2 = _diag_dims(data.ndim, dim1, dim2)
    out = np.array(data, copy=True)
    target = _diagonal_array(out, offset, d1, d2)
    if target.shape != src._data.shape:
        raise RuntimeError(f"expected src to have a size equal to the slice of self. src size = "
                           f"{list(src._data.shape)}, slice size = {list(target.shape)}")
    target[...] = src._data
    return with_grad_fn(DiagonalScatterBackward0, (input, src), wrap(out), offset=offset, dim1=d1, dim2=d2)
register(diagonal_scatter)


def diag_embed(input, offset=0, dim1=-2, dim2=-1):
    ndim = input._data.ndim + 1
    d1, d2 = _diag_dims(ndim, dim1, dim2)
    n = input._data.shape[-1] + abs(offset) if input._data.ndim else 1 + abs(offset)
    rest = iter(input._data.shape[:-1])
    shape = [n if i in (d1, d2) else next(rest) for i in range(ndim)]
    from ..creation import zeros
    src = input if input._data.ndim else input.reshape(1)
    return diagonal_scatter(zeros(shape, dtype=input.dtype), src, offset, d1, d2)
register(diag_embed)


def diag(input, diagonal=0):
    ndim = input._data.ndim
    if ndim == 1:
        return diag_embed(input, diagonal, 0, 1)
    if ndim == 2:
        return globals()["diagonal"](input, diagonal, 0, 1).clone()
    raise RuntimeError("diag(): Supports 1D or 2D tensors. Got " + f"{ndim}D")
register(diag)


def diagflat(input, offset=0):
    return diag_embed(input.reshape(-1), offset, 0, 1)
register(diagflat)


# -- broadcasting -------------------------------------------------------------------------------
def broadcast_to(input, size):
    return expand(input, tuple(size))
register(broadcast_to)


def broadcast_tensors(*tensors):
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    shape = broadcast_shapes(*[t._data.shape for t in tensors])
    return tuple(expand(t, shape) for t in tensors)
register(broadcast_tensors, method=False)


# -- atleast / stacking helpers -----------------------------------------------------------------
def _atleast(fn, tensors):
    if len(tensors) == 1 and is_tensor(tensors[0]):
        return fn(tensors[0])
    if len(tensors) == 1:
        tensors = tensors[0]
    return tuple(fn(t) for t in tensors)


def _at1(t):
    return reshape(t, (1,)) if t._data.ndim == 0 else t


def _at2(t):
    n = t._data.ndim
    return reshape(t, (1, 1)) if n == 0 else t.unsqueeze(0) if n == 1 else t


def _at3(t):
    n = t._data.ndim
    if n == 0:
        return reshape(t, (1, 1, 1))
    if n == 1:
        return t.unsqueeze(0).unsqueeze(-1)
    if n == 2:
        return t.unsqueeze(-1)
    return t


def atleast_1d(*tensors):
    return _atleast(_at1, tensors)
register(atleast_1d, method=False)


def atleast_2d(*tensors):
    return _atleast(_at2, tensors)
register(atleast_2d, method=False)


def atleast_3d(*tensors):
    return _atleast(_at3, tensors)
register(atleast_3d, method=False)


def _check_nonempty(op, tensors):
    if not tensors:
        raise RuntimeError(f"{op} expects a non-empty TensorList")


def hstack(tensors, *, out=None):
    tensors = list(tensors)
    _check_nonempty("hstack", tensors)
    ts = [_at1(t) for t in tensors]
    return cat(ts, 0 if ts[0]._data.ndim == 1 else 1)
register(hstack, method=False, out="copy")


def vstack(tensors, *, out=None):
    tensors = list(tensors)
    _check_nonempty("vstack", tensors)
    return cat([_at2(t) for t in tensors], 0)
register(vstack, aliases=("row_stack",), method=False, out="copy")


row_stack = vstack


def dstack(tensors, *, out=None):
    tensors = list(tensors)
    _check_nonempty("dstack", tensors)
    return cat([_at3(t) for t in tensors], 2)
register(dstack, method=False, out="copy")


def column_stack(tensors, *, out=None):
    tensors = list(tensors)
    _check_nonempty("column_stack", tensors)
    return cat([reshape(t, (t._data.size, 1)) if t._data.ndim <= 1 else t for t in tensors], 1)
register(column_stack, method=False, out="copy")


# -- splitting ----------------------------------------------------------------------------------
def tensor_split(input, indices_or_sections=None, dim=0, *, sections=None, indices=None,
                 tensor_indices_or_sections=None):
    """PyTorch's overloads: positional, or one of the keywords sections=, indices=, tensor_indices_or_sections=."""
    for given in (sections, indices, tensor_indices_or_sections):
        if given is not None:
            indices_or_sections = given
    ndim = input._data.ndim
    if ndim == 0:
        raise RuntimeError("tensor_split expected at least a 1-dimensional tensor, but got a tensor with 0 dims")
    d = normalize_dim(dim, ndim)
    size = input._data.shape[d]
    ios = indices_or_sections
    if is_tensor(ios):
        if ios.dtype is not _dtype.int64:
            raise RuntimeError(f"tensor_split expected tensor_indices_or_sections to have dtype of long, but got "
                               f"{ios.dtype}")
        if ios._data.ndim > 1:
            raise RuntimeError("tensor_split expected tensor_indices_or_sections to be a zero-dimensional or "
                               f"one-dimensional tensor, but got a tensor with {ios._data.ndim} dims")
        ios = int(ios._data) if ios._data.ndim == 0 else ios._data.tolist()
    if isinstance(ios, (int, np.integer)):
        sections = int(ios)
        if sections <= 0:
            raise RuntimeError(f"number of sections must be larger than 0, got {sections}")
        base, extra = divmod(size, sections)
        bounds, start = [], 0
        for i in range(sections):
            n = base + (1 if i < extra else 0)
            bounds.append((start, n))
            start += n
    else:
        edges = [0] + [min(max(int(i) if int(i) >= 0 else int(i) + size, 0), size) for i in ios] + [size]
        bounds = [(a, max(b - a, 0)) for a, b in zip(edges[:-1], edges[1:])]
        bounds = [(min(a, size), n) for a, n in bounds]
    return tuple(narrow(input, d, a, n) for a, n in bounds)
register(tensor_split)


def hsplit(input, indices_or_sections):
    d = 0 if input._data.ndim == 1 else 1
    return _np_style_split(input, indices_or_sections, d, "hsplit")
register(hsplit)


def vsplit(input, indices_or_sections):
    return _np_style_split(input, indices_or_sections, 0, "vsplit")
register(vsplit)


def dsplit(input, indices_or_sections):
    return _np_style_split(input, indices_or_sections, 2, "dsplit")
register(dsplit)


def _np_style_split(input, ios, d, op):
    need = {"hsplit": 1, "vsplit": 2, "dsplit": 3}[op]
    if input._data.ndim < need:
        raise RuntimeError(f"torch.{op} requires a tensor with at least {need} dimension, but got a tensor with "
                           f"{input._data.ndim} dimensions!")
    if isinstance(ios, (int, np.integer)):
        size = input._data.shape[d]
        if ios == 0 or size % ios:
            raise RuntimeError(f"torch.{op} attempted to split along dimension {d}, but the size of the dimension "
                               f"{size} is not divisible by the split_size {ios}!")
    return tensor_split(input, ios, d)


# -- grids and block matrices -------------------------------------------------------------------
def meshgrid(*tensors, indexing=None):
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    indexing = indexing or "ij"
    if indexing not in ("ij", "xy"):
        raise RuntimeError(f'torch.meshgrid: indexing must be one of "xy" or "ij", but received: {indexing}')
    for t in tensors:
        if t._data.ndim > 1:
            raise RuntimeError(f"torch.meshgrid: Expected 0D or 1D tensor in the tensor list but got: {t}")
    ts = [_at1(t) for t in tensors]
    swap = indexing == "xy" and len(ts) >= 2
    if swap:
        ts[0], ts[1] = ts[1], ts[0]
    shape = [t._data.shape[0] for t in ts]
    n = len(ts)
    grids = [expand(reshape(t, [-1 if i == k else 1 for i in range(n)]), shape) for k, t in enumerate(ts)]
    if swap:
        grids[0], grids[1] = grids[1], grids[0]
    return tuple(grids)
register(meshgrid, method=False)


def cartesian_prod(*tensors):
    for t in tensors:
        if t._data.ndim != 1:
            raise RuntimeError(f"Expect a 1D vector, but got shape {list(t._data.shape)}")
    if len(tensors) == 1:
        return tensors[0]
    grids = meshgrid(*tensors, indexing="ij")
    return stack([reshape(g, (-1,)) for g in grids], 1)
register(cartesian_prod, method=False)


def block_diag(*tensors):
    from ..creation import zeros
    rt = _dtype.result_type_of(*tensors) if tensors else _dtype.get_default_dtype()
    mats = []
    for i, t in enumerate(tensors):
        n = t._data.ndim
        if n > 2:
            raise RuntimeError(f"torch.block_diag: Input tensors must have 2 or fewer dimensions. Input {i} has "
                               f"{n} dimensions")
        mats.append(reshape(t, (1, 1)) if n == 0 else reshape(t, (1, -1)) if n == 1 else t)
    total_cols = sum(m._data.shape[1] for m in mats)
    rows, left = [], 0
    for m in mats:
        r, c = m._data.shape
        parts = []
        if left:
            parts.append(zeros((r, left), dtype=rt))
        parts.append(m.to(rt))
        if total_cols - left - c:
            parts.append(zeros((r, total_cols - left - c), dtype=rt))
        rows.append(cat(parts, 1))
        left += c
    if not rows:
        return zeros((0, 0), dtype=rt)
    return cat(rows, 0)
register(block_diag, method=False)


__all__ = ["flip", "fliplr", "flipud", "roll", "rot90", "repeat_interleave", "tile", "tril", "triu", "diagonal",
           "diagonal_scatter", "diag_embed", "diag", "diagflat", "broadcast_to", "broadcast_tensors", "atleast_1d",
           "atleast_2d", "atleast_3d", "hstack", "vstack", "row_stack", "dstack", "column_stack", "tensor_split",
           "hsplit", "vsplit", "dsplit", "meshgrid", "cartesian_prod", "block_diag"]
