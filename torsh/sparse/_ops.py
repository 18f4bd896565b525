"""Sparse tensor ops: construction, conversion, coalescing, arithmetic, products and reductions, with autograd.

Kernels are NumPy (coalescing: sort the linearised indices, sum duplicates) and scipy.sparse (products, CSR).
Backward formulas give PyTorch's gradients: a sparse gradient with the operand's pattern for a sparse operand of
``torch.sparse.mm`` / ``sparse.sum`` / ``to_dense``, the values' gradient gathered at the indices for
``sparse_coo_tensor(indices, values)``. They run on arrays (no double backward through sparse ops).
"""
import numpy as np
import scipy.sparse as sp

from .. import _dtype, _layouts
from .._tensor import Tensor, wrap
from .._ops.registry import register
from .._ops.tensor import creation
from .._ops.tensor.linalg.matmul import mm as _dense_mm
from ..autograd import grad_mode
from ..autograd.graph import Node, needs_grad, record
from ._tensor import _LAYOUT_WORD, SparseTensor, not_on_sparse

COO, CSR = _layouts.sparse_coo, _layouts.sparse_csr


# -- construction --------------------------------------------------------------------------------------------
class SparseCooTensorWithDimsAndTensorsBackward0(Node):
    """values -> sparse: the values' gradient is the incoming gradient at each index (duplicates each get it)."""

    def backward(self, grad):
        return (wrap(_gather(grad, self.indices)),)


def _gather(grad, indices):
    """The gradient's entries at ``indices`` (sparse_dim, nnz): dense or sparse gradient alike."""
    dense = grad._dense_array() if isinstance(grad, SparseTensor) else grad._data
    return np.ascontiguousarray(dense[tuple(indices)])


def _as_tensor(data, dtype=None):
    if isinstance(data, Tensor):
        return data if dtype is None or data.dtype is dtype else data.to(dtype)
    return creation.tensor(data, dtype=dtype)


def _coo(indices_array, values, shape, coalesced=False, *, source=None):
    """A COO SparseTensor of these parts; ``source`` (the values tensor given by the user) links autograd."""
    indices = wrap(np.ascontiguousarray(indices_array, dtype=np.int64))
    out = SparseTensor._make(COO, shape, values.detach() if source is not None else values, indices=indices,
                             coalesced=coalesced)
    if source is not None and needs_grad(source):
        node = SparseCooTensorWithDimsAndTensorsBackward0()
        node.indices = indices._data
        record(node, (source,), (out,))
    return out


def sparse_coo_tensor(indices, values, size=None, *, dtype=None, device=None, pin_memory=False, requires_grad=False,
                      check_invariants=None, is_coalesced=None):
    """torch.sparse_coo_tensor: indices (sparse_dim, nnz) cast to int64, values (nnz, *dense dims); the size,
    when not given, is each sparse dim's largest index + 1 followed by the values' dense dims."""
    creation._check_device(device)
    values = _as_tensor(values, dtype)
    index_array = np.asarray(_as_tensor(indices)._data)
    if index_array.ndim != 2:
        raise RuntimeError(f"indices must be sparse_dim x nnz, but got: {list(index_array.shape)}")
    sparse_dim, nnz = index_array.shape
    if values._data.ndim == 0 or values._data.shape[0] != nnz:
        got = values._data.shape[0] if values._data.ndim else 1
        raise RuntimeError(f"indices and values must have same nnz, but got nnz from indices: {nnz}, nnz from values: "
                           f"{got}")
    dense_shape = values._data.shape[1:]
    if size is None:
        size = tuple(int(m) + 1 for m in index_array.max(axis=1)) if nnz else (0,) * sparse_dim
        size = size + dense_shape
    size = tuple(int(s) for s in size)
    if len(size) != sparse_dim + len(dense_shape):
        raise RuntimeError(f"'len(size) == sparse_dim + dense_dim' is not satisfied: len(size) = {len(size)}, "
                           f"sparse_dim = {sparse_dim}, dense_dim = {len(dense_shape)}")
    out = _coo(index_array, values, size, bool(is_coalesced) or nnz <= 1, source=values)
    return out.requires_grad_() if requires_grad else out


register(sparse_coo_tensor, method=False)


def sparse_csr_tensor(crow_indices, col_indices, values, size=None, *, dtype=None, device=None, pin_memory=False,
                      requires_grad=False, check_invariants=None):
    """torch.sparse_csr_tensor (2-D): row pointers, column indices, values; size defaults to
    (rows, largest column + 1)."""
    creation._check_device(device)
    values = _as_tensor(values, dtype).detach()
    crow = _as_tensor(crow_indices)
    col = _as_tensor(col_indices)
    if size is None:
        size = (crow._data.shape[-1] - 1, int(col._data.max()) + 1 if col._data.size else 0)
    out = SparseTensor._make(CSR, tuple(int(s) for s in size), values, crow=crow, col=col)
    return out.requires_grad_() if requires_grad else out


register(sparse_csr_tensor, method=False)


# -- coalescing ----------------------------------------------------------------------------------------------
def _coalesced_arrays(indices, values, sparse_shape):
    """Indices sorted in row-major order and unique, values of duplicates summed (PyTorch's coalesce)."""
    if indices.shape[1] == 0:
        return indices, values
    linear = np.ravel_multi_index(tuple(indices), sparse_shape) if indices.shape[0] else np.zeros(1, np.int64)
    unique, inverse = np.unique(linear, return_inverse=True)
    summed = np.zeros((len(unique),) + values.shape[1:], values.dtype)
    (np.logical_or if values.dtype == np.bool_ else np.add).at(summed, inverse.reshape(-1), values)
    return np.stack(np.unravel_index(unique, sparse_shape)).astype(np.int64).reshape(len(sparse_shape), -1), summed


class CoalesceBackward0(Node):
    def backward(self, grad):
        return (grad,)


def coalesce(self):
    self._require(COO, "coalesce")
    if self._coalesced:
        return self
    indices, values = _coalesced_arrays(self._idx._data, self._vals._data, self._data.shape[:self.sparse_dim()])
    out = SparseTensor._make(COO, self._data.shape, wrap(values), indices=wrap(indices), coalesced=True)
    if needs_grad(self):
        record(CoalesceBackward0(), (self,), (out,))
    return out


def _sparse_mask(dense, pattern, coalesced=True):
    """The dense array's entries at ``pattern``'s (coalesced) indices, as a COO tensor (flagged coalesced or not,
    as the PyTorch backward it stands for flags it)."""
    pattern = pattern if pattern._layout is COO and pattern._coalesced else _coalesced_coo(pattern)
    indices = pattern._idx._data
    return SparseTensor._make(COO, dense.shape, wrap(np.ascontiguousarray(dense[tuple(indices)])),
                              indices=pattern._idx, coalesced=coalesced)


def _coalesced_coo(t):
    indices, values = t._coo_arrays()
    indices, values = _coalesced_arrays(indices, values, t._data.shape[:indices.shape[0]])
    return SparseTensor._make(COO, t._data.shape, wrap(values), indices=wrap(indices), coalesced=True)


# -- conversions ---------------------------------------------------------------------------------------------
class ToDenseBackward0(Node):
    def backward(self, grad):
        return (_sparse_mask(grad._data, self.pattern),)


def to_dense(self, dtype=None, *, masked_grad=True):
    if dtype is not None:
        raise RuntimeError("dtype argument is not supported by sparse_to_dense")
    out = wrap(self._dense_array())
    if needs_grad(self):
        node = ToDenseBackward0()
        node.pattern = self.detach()
        record(node, (self,), (out,))
    return out


class ToSparseBackward1(Node):
    def backward(self, grad):
        return (wrap(grad._dense_array()) if isinstance(grad, SparseTensor) else grad,)


def to_sparse(self, sparse_dim=None, *, layout=None, blocksize=None, dense_dim=None):
    """Tensor.to_sparse: the non-zero entries (over the first ``sparse_dim`` dims) as a coalesced COO tensor;
    ``layout=torsh.sparse_csr`` gives to_sparse_csr."""
    if isinstance(self, SparseTensor):
        if layout is CSR:
            return to_sparse_csr(self)
        return self if self._layout is COO else _coalesced_coo(self)
    if layout is CSR:
        return to_sparse_csr(self)
    data = self._data
    sparse_dim = data.ndim if sparse_dim is None else int(sparse_dim)
    mask = data != 0 if sparse_dim == data.ndim else (data != 0).reshape(data.shape[:sparse_dim] + (-1,)).any(-1)
    indices = np.stack(np.nonzero(mask)).astype(np.int64).reshape(sparse_dim, -1)
    out = SparseTensor._make(COO, data.shape, wrap(np.ascontiguousarray(data[tuple(indices)])), indices=wrap(indices),
                             coalesced=True)
    if needs_grad(self):
        record(ToSparseBackward1(), (self,), (out,))
    return out


register(to_sparse, namespace=None)


def to_sparse_csr(self, dense_dim=None):
    """Tensor.to_sparse_csr of a 2-D dense or COO tensor (row pointers, sorted columns)."""
    if isinstance(self, SparseTensor) and self._layout is CSR:
        return self
    if self._data.ndim != 2:
        raise RuntimeError(f"torsh: to_sparse_csr supports 2-D tensors only (got {self._data.ndim}-D)")
    if isinstance(self, SparseTensor):
        coo = _coalesced_coo(self)
        matrix = sp.csr_matrix((coo._vals._data, (coo._idx._data[0], coo._idx._data[1])), shape=self._data.shape)
    else:
        matrix = sp.csr_matrix(self._data)
    matrix.sort_indices()
    return SparseTensor._make(CSR, self._data.shape, wrap(matrix.data.copy()),
                              crow=wrap(matrix.indptr.astype(np.int64)), col=wrap(matrix.indices.astype(np.int64)))


register(to_sparse_csr, namespace=None)


# -- products ------------------------------------------------------------------------------------------------
class SparseAddmmBackward0(Node):
    """sparse @ dense: the sparse operand's gradient has its pattern (grad @ dense^T there), the dense one's is
    sparse^T @ grad."""

    def backward(self, grad):
        need_sparse, need_dense = (fn is not None for fn, _ in self.next_functions)
        g = grad._data
        grad_sparse = _sparse_mask(g @ self.dense._data.T, self.sparse, coalesced=False) if need_sparse else None
        grad_dense = wrap(np.asarray(self.sparse._scipy().T @ g)) if need_dense else None
        return grad_sparse, grad_dense


def _check_mm(sparse, dense):
    if dense._data.ndim != 2 or sparse._data.ndim != 2:
        raise RuntimeError(f"addmm: matrices expected, got {max(dense._data.ndim, sparse._data.ndim)}D tensor")
    if dense._data.shape[0] != sparse._data.shape[1]:
        raise RuntimeError(f"addmm: Argument #3 (dense): Expected dim 0 size {sparse._data.shape[1]}, got "
                           f"{dense._data.shape[0]}")
    if dense.dtype is not sparse.dtype:
        raise RuntimeError(f"expected scalar type {_dtype_word(sparse.dtype)} but found {_dtype_word(dense.dtype)}")


def _dtype_word(dt):
    """PyTorch's ScalarType name: Float, Double, Long, ..."""
    return {"float32": "Float", "float64": "Double", "int64": "Long", "int32": "Int", "float16": "Half",
            "bfloat16": "BFloat16", "bool": "Bool", "int16": "Short", "int8": "Char", "uint8": "Byte",
            "complex64": "ComplexFloat", "complex128": "ComplexDouble"}.get(dt.name, dt.name)


def mm(mat1, mat2):
    """torch.sparse.mm: sparse @ dense -> dense (grads: sparse for the sparse operand, as PyTorch); dense @ sparse
    as the transpose of sparse^T @ dense^T."""
    if not isinstance(mat1, SparseTensor):
        if not isinstance(mat2, SparseTensor):
            raise RuntimeError(f"coalesce expected sparse coordinate tensor layout but got Strided")
        return mm(t(mat2), mat1.mT).mT
    _check_mm(mat1, mat2)
    out = wrap(np.asarray(mat1._scipy() @ mat2._data))
    if needs_grad(mat1, mat2):
        node = SparseAddmmBackward0()
        node.sparse, node.dense = mat1.detach(), mat2.detach()
        record(node, (mat1, mat2), (out,))
    return out


def spmm(input, mat2):
    """torch.spmm: torch.mm for a sparse (or dense) first operand (MmBackward0, a dense gradient, as PyTorch)."""
    return _dense_mm(input, mat2)


register(spmm, method=False)


# -- reductions ----------------------------------------------------------------------------------------------
class SumBackward0(Node):
    """sum of a sparse tensor over some dims: the gradient, broadcast back, at the operand's pattern."""

    def backward(self, grad):
        g = grad._dense_array() if isinstance(grad, SparseTensor) else grad._data
        expanded = np.broadcast_to(np.expand_dims(g, self.dims), self.shape)
        return (_sparse_mask(expanded, self.pattern, coalesced=type(self) is SumBackward0),)


SparseSumBackward0 = type("SparseSumBackward0", (SumBackward0,), {})


def sparse_sum(input, dim=None, dtype=None):
    """torch.sparse.sum: all dims -> a dense scalar; some dims -> a sparse tensor over the rest (dense when only
    dense dims remain)."""
    if not isinstance(input, SparseTensor) or input._layout is not COO:
        got = "Strided" if not isinstance(input, SparseTensor) else _LAYOUT_WORD[input._layout._name]
        raise RuntimeError(f"coalesce expected sparse coordinate tensor layout but got {got}")
    coo = coalesce(input)
    ndim = input._data.ndim
    dims = tuple(range(ndim)) if dim is None else tuple(d % ndim for d in ((dim,) if isinstance(dim, int) else dim))
    dense = coo._dense_array()
    if dtype is not None:
        dense = dense.astype(dtype.np)
    summed = dense.sum(axis=dims)
    if dim is None or len(dims) == ndim:
        out, node = wrap(np.asarray(summed)), SumBackward0()
    else:
        kept = [d for d in range(input.sparse_dim()) if d not in dims]
        out = to_sparse(wrap(np.asarray(summed)), len(kept)) if kept else wrap(np.asarray(summed))
        node = SparseSumBackward0()
    if needs_grad(input):
        node.dims, node.shape, node.pattern = dims, input._data.shape, coo.detach()
        record(node, (input,), (out,))
    return out


def log_softmax(input, dim, dtype=None):
    """torch.sparse.log_softmax: the log of sparse.softmax over the specified entries (forward only)."""
    out = softmax(input, dim, dtype)
    return _with_values(out, wrap(np.log(out._vals._data)))


def softmax(input, dim, dtype=None):
    """torch.sparse.softmax: softmax over the specified entries along ``dim`` (unspecified ones are -inf);
    forward only."""
    coo = coalesce(input)
    if needs_grad(input):
        raise RuntimeError("torsh: autograd through torch.sparse.softmax is not implemented")
    indices, values = coo._idx._data, coo._vals._data
    if dtype is not None:
        values = values.astype(dtype.np)
    dim = dim % input._data.ndim
    others = np.delete(indices, dim, axis=0)
    _, group = np.unique(others, axis=1, return_inverse=True) if others.size else (None, np.zeros(values.shape[0], int))
    group = group.reshape(-1)
    peak = np.full((group.max() + 1 if group.size else 0,) + values.shape[1:], -np.inf, values.dtype)
    np.maximum.at(peak, group, values)
    e = np.exp(values - peak[group])
    total = np.zeros_like(peak)
    np.add.at(total, group, e)
    return SparseTensor._make(COO, input._data.shape, wrap(e / total[group]), indices=coo._idx, coalesced=True)


class LegacySparseConstructor:
    """torch.sparse.FloatTensor & co: ``(indices, values[, size])`` -> a COO tensor (the values keep their dtype,
    as PyTorch), ``(*sizes)`` -> an empty one of the constructor's dtype."""

    def __init__(self, name, dtype_name):
        self.__name__ = self.__qualname__ = name
        self.dtype = getattr(_dtype, dtype_name)

    def __call__(self, *args, size=None, device=None):
        if args and isinstance(args[0], Tensor):
            indices, values = args[:2]
            return sparse_coo_tensor(indices, values, args[2] if len(args) > 2 else size, device=device)
        sizes = tuple(args[0]) if len(args) == 1 and isinstance(args[0], tuple) else args
        return sparse_coo_tensor(np.zeros((len(sizes), 0), np.int64), creation.zeros(0, dtype=self.dtype), sizes,
                                 device=device)

    def __repr__(self):
        return f"<class 'torch.sparse.{self.__name__}'>"


LEGACY_CONSTRUCTORS = {name: LegacySparseConstructor(name, dtype_name) for name, dtype_name in (
    ("FloatTensor", "float32"), ("DoubleTensor", "float64"), ("HalfTensor", "float16"),
    ("BFloat16Tensor", "bfloat16"), ("LongTensor", "int64"), ("IntTensor", "int32"), ("ShortTensor", "int16"),
    ("CharTensor", "int8"), ("ByteTensor", "uint8"))}


# -- Tensor methods of a sparse tensor -----------------------------------------------------------------------
def _with_values(self, values):
    """self's pattern with other values (no autograd)."""
    if self._layout is COO:
        return SparseTensor._make(COO, self._data.shape, values, indices=self._idx, coalesced=self._coalesced)
    return SparseTensor._make(CSR, self._data.shape, values, crow=self._crow, col=self._col)


class MulBackward0(Node):
    def backward(self, grad):
        return (grad * self.scalar,)


def _scale(self, scalar, divide=False):
    if isinstance(scalar, Tensor):
        if scalar._data.ndim or isinstance(scalar, SparseTensor):
            raise not_on_sparse("mul", self._layout)
        scalar = scalar.item()
    values = self._vals / scalar if divide else self._vals * scalar
    out = _with_values(self, values.detach())
    if needs_grad(self):
        node = MulBackward0()
        node.scalar = 1 / scalar if divide else scalar
        record(node, (self,), (out,))
    return out


def __mul__(self, other):
    if isinstance(other, SparseTensor):
        return _mul_sparse(self, other)
    if isinstance(other, Tensor) and other._data.ndim:
        return _mul_sparse(self, _sparse_mask(other._data, self))
    return _scale(self, other)


def _mul_sparse(a, b):
    """sparse * sparse (same size): the product where both have entries, coalesced."""
    _check_same_size(a, b, "mul")
    if needs_grad(a, b):
        raise RuntimeError("torsh: autograd through sparse * sparse is not implemented")
    a, b = _coalesced_coo(a), _coalesced_coo(b)
    shape = a._data.shape[:a.sparse_dim()]
    la, lb = (np.ravel_multi_index(tuple(t._idx._data), shape) for t in (a, b))
    common, ia, ib = np.intersect1d(la, lb, assume_unique=True, return_indices=True)
    values = a._vals._data[ia] * b._vals._data[ib]
    return SparseTensor._make(COO, a._data.shape, wrap(values), indices=wrap(a._idx._data[:, ia]), coalesced=True)


def __truediv__(self, other):
    return _scale(self, other, divide=True)


def _check_same_size(a, b, op):
    if a._data.shape != b._data.shape:
        raise RuntimeError(f"{op}: expected sizes of 'self' and 'other' to match, but {list(a._data.shape)} != "
                           f"{list(b._data.shape)}")


class AddBackward0(Node):
    def backward(self, grad):
        return grad, grad * self.alpha


def add(self, other, *, alpha=1):
    """sparse + sparse (same size): PyTorch's merge of the two entry lists (coalesced only when both are);
    sparse + dense is PyTorch's error."""
    if not isinstance(other, SparseTensor):
        raise RuntimeError("add(sparse, dense) is not supported. Use add(dense, sparse) instead.")
    _check_same_size(self, other, "add")
    if self._layout is COO and other._layout is COO:
        indices, values = _merge(self._idx._data, self._vals._data, other._idx._data, other._vals._data * alpha)
        out = SparseTensor._make(COO, self._data.shape, wrap(values), indices=wrap(indices),
                                 coalesced=self._coalesced and other._coalesced)
    else:
        total = (self._scipy() + other._scipy() * alpha).tocsr()
        total.sort_indices()
        out = SparseTensor._make(CSR, self._data.shape, wrap(total.data), crow=wrap(total.indptr.astype(np.int64)),
                                 col=wrap(total.indices.astype(np.int64)))
    if needs_grad(self, other):
        node = AddBackward0()
        node.alpha = alpha
        record(node, (self, other), (out,))
    return out


def _merge(t_indices, t_values, s_indices, s_values):
    """PyTorch's CPU sparse add: one merge walk over both entry lists, as if each were sorted (equal indices met
    at the same step are summed), so uncoalesced operands give PyTorch's very entries."""
    s_values = s_values.astype(t_values.dtype, copy=False)
    if t_indices.shape[1] == 0 or s_indices.shape[1] == 0:
        return np.concatenate([t_indices, s_indices], axis=1), np.concatenate([t_values, s_values])
    t_keys, s_keys = [list(map(tuple, idx.T.tolist())) for idx in (t_indices, s_indices)]
    order, ti, si = [], 0, 0
    while ti < len(t_keys) or si < len(s_keys):
        cmp = -1 if ti >= len(t_keys) else 1 if si >= len(s_keys) else \
            (t_keys[ti] < s_keys[si]) - (t_keys[ti] > s_keys[si])
        order.append((ti if cmp >= 0 else -1, si if cmp <= 0 else -1))
        ti, si = ti + (cmp >= 0), si + (cmp <= 0)
    from_t, from_s = (np.array(x, dtype=np.int64) for x in zip(*order))
    indices = np.where(from_t >= 0, t_indices[:, from_t], s_indices[:, from_s])
    values = np.zeros((len(order),) + t_values.shape[1:], t_values.dtype)
    values[from_t >= 0] += t_values[from_t[from_t >= 0]]
    values[from_s >= 0] += s_values[from_s[from_s >= 0]]
    return indices, values


def __sub__(self, other):
    return add(self, other, alpha=-1)


def __neg__(self):
    return _scale(self, -1)


def __radd__(self, other):
    return NotImplemented


def t(self):
    """The transpose of a 2-D COO tensor: index rows swapped (not coalesced any more, as PyTorch)."""
    if self._layout is not COO or self.sparse_dim() != 2:
        raise not_on_sparse("t", self._layout)
    out = SparseTensor._make(COO, self._data.shape[::-1] + self._data.shape[2:], self._vals.detach(),
                             indices=wrap(self._idx._data[::-1].copy()))
    if needs_grad(self):
        record(TBackward0(), (self,), (out,))
    return out


class TBackward0(Node):
    def backward(self, grad):
        return (t(grad) if isinstance(grad, SparseTensor) else grad.t(),)


def transpose(self, dim0, dim1):
    if {dim0 % self._data.ndim, dim1 % self._data.ndim} != {0, 1}:
        raise not_on_sparse("transpose", self._layout)
    return t(self)


def detach(self):
    out = _with_values(self, self._vals.detach())
    return out


def clone(self, *, memory_format=None):
    parts = dict(indices=wrap(self._idx._data.copy())) if self._layout is COO else dict(
        crow=wrap(self._crow._data.copy()), col=wrap(self._col._data.copy()))
    return SparseTensor._make(self._layout, self._data.shape, wrap(self._vals._data.copy()),
                              coalesced=self._coalesced, **parts)


def to(self, *args, **kwargs):
    """Tensor.to(dtype) / to(device) of a sparse tensor: the values converted, the pattern kept."""
    dtype = kwargs.get("dtype", next((a for a in args if isinstance(a, _dtype.dtype)), None))
    if dtype is None or dtype is self.dtype:
        return self
    if needs_grad(self):
        raise RuntimeError("torsh: autograd through a sparse dtype conversion is not implemented")
    return _with_values(self, self._vals.detach().to(dtype))


def _converter(dtype_name):
    def convert(self, memory_format=None):
        return to(self, getattr(_dtype, dtype_name))
    convert.__name__ = dtype_name
    return convert


def _sum_method(self, dim=None, keepdim=False, *, dtype=None):
    if keepdim:
        raise not_on_sparse("sum.dim_IntList", self._layout)
    if self._layout is CSR:
        return wrap(np.asarray(self._dense_array().sum(axis=dim)))
    result = sparse_sum(self, dim, dtype)
    return result.to_dense() if isinstance(result, SparseTensor) else result


def _reshape_error(self, *args, **kwargs):
    raise RuntimeError("reshape is not implemented for sparse tensors")


def _raising(op):
    def method(self, *args, **kwargs):
        raise not_on_sparse(op, self._layout)
    method.__name__ = op.split(".")[0]
    return method


def _unary(name, fn):
    """A zero-preserving elementwise op: applied to the values (no autograd)."""
    def method(self):
        if needs_grad(self):
            raise RuntimeError(f"torsh: autograd through sparse {name} is not implemented")
        with grad_mode.no_grad():
            return _with_values(self, fn(self._vals))
    method.__name__ = name
    return method


def _zero_preserving(name):
    """A zero-preserving op PyTorch applies to the coalesced values (neg, linear, to the values as they are)."""
    apply = _unary(name, lambda v: getattr(v, name)())
    if name == "neg":
        return apply

    def method(self):
        return apply(coalesce(self) if self._layout is COO else self)
    method.__name__ = name
    return method


def _pow(self, exponent):
    if needs_grad(self):
        raise RuntimeError("torsh: autograd through sparse pow is not implemented")
    base = coalesce(self) if self._layout is COO else self
    return _with_values(base, base._vals.detach().pow(exponent))


ZERO_PRESERVING = ("neg", "abs", "sqrt", "sin", "tan", "tanh", "relu", "sign", "square", "expm1", "log1p", "trunc",
                   "floor", "ceil", "asin", "atan", "sinh", "asinh", "atanh", "sgn")
DENSE_ONLY = {"exp": "exp", "log": "log", "cos": "cos", "sigmoid": "sigmoid", "mean": "mean.dim", "max": "max",
              "min": "min", "view": "view", "prod": "prod", "softmax": "_softmax", "log_softmax": "_log_softmax",
              "argmax": "argmax", "cumsum": "cumsum", "std": "std.correction", "var": "var.correction",
              "expand": "expand", "permute": "permute", "gather": "gather", "mv": "mv", "bmm": "bmm"}

METHODS = {
    "coalesce": coalesce, "to_dense": to_dense, "to_sparse": to_sparse, "to_sparse_csr": to_sparse_csr,
    "__mul__": __mul__, "__rmul__": __mul__, "mul": __mul__, "__truediv__": __truediv__, "div": __truediv__,
    "__add__": add, "add": add, "__radd__": __radd__, "__sub__": __sub__, "sub": __sub__, "__neg__": __neg__,
    "t": t, "transpose": transpose, "detach": detach, "clone": clone, "to": to, "sum": _sum_method, "pow": _pow,
    "reshape": _reshape_error, "flatten": _reshape_error,
    "float": _converter("float32"), "double": _converter("float64"), "half": _converter("float16"),
    "long": _converter("int64"), "int": _converter("int32"), "bool": _converter("bool"),
    **{name: _zero_preserving(name) for name in ZERO_PRESERVING},
    **{name: _raising(op) for name, op in DENSE_ONLY.items()},
}
# SparseTensor's own methods (a torsh type of this package), bound on it once
for _name, _fn in METHODS.items():
    setattr(SparseTensor, _name, _fn)
