"""The sparse tensor type: a torsh ``Tensor`` whose layout is ``sparse_coo`` or ``sparse_csr``.

A ``SparseTensor`` holds its indices and values as plain torsh tensors (COO: ``_idx`` of shape
(sparse_dim, nnz) and ``_vals`` of shape (nnz, *dense dims); CSR: ``_crow``, ``_col``, ``_vals``) plus its
size. It is a Tensor for autograd (grad_fn, requires_grad, ``.grad``): the engine reads only ``_data``'s shape and
dtype, so ``_data`` is a ``SparseArray``: the dense shape and dtype, no values, not an ndarray.
Dense ops reaching it raise PyTorch's NotImplementedError naming the op ("Could not run 'aten::exp' with
arguments from the 'SparseCPU' backend"), except the two NumPy calls torch.mm / ``dense + sparse`` make
(matmul, add), which SparseArray computes with scipy.sparse.
"""
import weakref

import numpy as np
import scipy.sparse as sp

from .. import _dtype, _layouts
from .._tensor import Tensor, wrap
from .._tensor_str import _format_data
from ..autograd.graph import Node

# NumPy ufunc names that are not PyTorch's op names
_ATEN_NAME = {"negative": "neg", "absolute": "abs", "true_divide": "div", "multiply": "mul", "subtract": "sub",
              "power": "pow", "matmul": "mm", "greater": "gt", "less": "lt", "equal": "eq", "not_equal": "ne",
              "greater_equal": "ge", "less_equal": "le", "arctan2": "atan2", "arcsin": "asin", "arccos": "acos",
              "arctan": "atan", "maximum": "maximum", "minimum": "minimum", "amax": "max", "amin": "min", "expit": "sigmoid",
              "concatenate": "cat", "expand_dims": "unsqueeze", "logaddexp": "logaddexp", "rint": "round"}
_BACKEND = {"sparse_coo": "SparseCPU", "sparse_csr": "SparseCsrCPU"}
_LAYOUT_WORD = {"sparse_coo": "Sparse", "sparse_csr": "SparseCsr"}


def not_on_sparse(op, layout=_layouts.sparse_coo):
    """PyTorch's error for an op that has no kernel for ``layout``'s backend."""
    backend = _BACKEND[layout._name]
    return NotImplementedError(
        f"Could not run 'aten::{op}' with arguments from the '{backend}' backend. This could be because the operator "
        "doesn't exist for this backend, or was omitted during the selective/custom build process (if using custom "
        "build). If you are a Facebook employee using PyTorch on mobile, please visit https://fburl.com/ptmfixes for "
        f"possible resolutions. 'aten::{op}' is only available for these backends: [CPU, Meta].")


class _Flags:
    """The ``flags`` NumPy arrays have, as the engine and the product ops read them: no layout, read-only."""
    c_contiguous = f_contiguous = writeable = False


class SparseArray:
    """A sparse tensor's ``_data``: its dense shape and dtype, no values. Not an ndarray, so that nothing reads
    values from it: ``np.array``/``np.asarray`` (``__array__``), NumPy functions (``__array_function__``), ufuncs
    (``__array_ufunc__``) and any ndarray method or attribute beyond the metadata (``__getattr__``) raise
    PyTorch's error for the sparse backend; only ``np.matmul`` (torch.mm, MmBackward0) and ``dense + sparse``
    compute, through the owner's parts.

    ``_owner`` is the sparse tensor; ``_transposed`` marks the ``.T`` the product backward takes."""

    __slots__ = ("shape", "dtype", "_owner", "_transposed")
    flags = _Flags()

    def __init__(self, owner, shape, np_dtype, transposed=False):
        self.shape, self.dtype = tuple(shape), np.dtype(np_dtype)
        self._owner, self._transposed = owner, transposed

    of = classmethod(lambda cls, owner, shape, np_dtype, transposed=False: cls(owner, shape, np_dtype, transposed))

    @property
    def ndim(self):
        return len(self.shape)

    @property
    def size(self):
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def itemsize(self):
        return self.dtype.itemsize

    @property
    def T(self):
        if self.ndim != 2:
            raise not_on_sparse("permute", self._owner.layout)
        return SparseArray(self._owner, self.shape[::-1], self.dtype, not self._transposed)

    def scipy(self):
        """The 2-D matrix as a scipy CSR matrix (transposed when this array is a ``.T``)."""
        if self.ndim != 2 or self._owner.dense_dim() != 0:
            raise not_on_sparse("mm", self._owner.layout)
        matrix = self._owner._scipy()
        return matrix.T.tocsr() if self._transposed else matrix

    def dense(self):
        dense = self._owner._dense_array()
        return dense.T if self._transposed else dense

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        if method == "__call__" and not kwargs and len(inputs) == 2:
            a, b = inputs
            if ufunc is np.matmul:  # torch.mm(sparse, dense), and its backward's products
                return _matmul(a, b)
            if ufunc is np.add and not isinstance(a, SparseArray):  # dense + sparse is dense
                return np.add(a, b.dense())
        raise not_on_sparse(_ATEN_NAME.get(ufunc.__name__, ufunc.__name__), self._owner.layout)

    def __array_function__(self, func, types, args, kwargs):
        raise not_on_sparse(_ATEN_NAME.get(func.__name__, func.__name__), self._owner.layout)

    def __array__(self, dtype=None, copy=None):
        raise not_on_sparse("_to_copy", self._owner.layout)

    def __getattr__(self, name):  # an ndarray method a dense op calls (copy, reshape, base, strides, ...)
        if name.startswith("__"):
            raise AttributeError(name)
        raise not_on_sparse(_ATEN_NAME.get(name, name), self._owner.layout)

    def __getitem__(self, key):
        raise not_on_sparse("index.Tensor", self._owner.layout)

    def __len__(self):
        return self.shape[0]

    def __reduce__(self):
        raise TypeError("a sparse tensor's values are in its indices and values, not in an array")


def _matmul(a, b):
    """``a @ b`` where one operand is a SparseArray: a dense ndarray (scipy's sparse x dense product)."""
    if isinstance(a, SparseArray) and isinstance(b, SparseArray):
        raise not_on_sparse("mm")
    if isinstance(a, SparseArray):
        if a.shape[1] != b.shape[0]:
            raise ValueError("shapes do not multiply")
        return np.asarray(a.scipy() @ b)
    if a.shape[-1] != b.shape[0]:
        raise ValueError("shapes do not multiply")
    return np.asarray((b.scipy().T @ np.asarray(a).T).T)


class SparseTensor(Tensor):
    """A sparse COO or CSR tensor (``layout`` says which). Built by the constructors of ``torsh.sparse._ops``
    (``sparse_coo_tensor``, ``to_sparse``, ...), never by hand."""

    @classmethod
    def _make(cls, layout, shape, values, *, indices=None, crow=None, col=None, coalesced=False):
        t = object.__new__(cls)
        t._data = SparseArray.of(t, shape, values._data.dtype)
        t._requires_grad = False
        t._grad = t._grad_fn = t._base = t._view_fn = t._accumulator = t._backward_hooks = None
        t._output_nr = 0
        t._version_counter = [0]
        t._retains_grad = False
        t._layout, t._vals, t._coalesced = layout, values, coalesced
        t._idx, t._crow, t._col = indices, crow, col
        # a leaf's gradient goes to its own sink (pre-set where graph.accumulator_of looks; kept alive here)
        t._sink = SparseAccumulateGrad(t)
        t._accumulator = weakref.ref(t._sink)
        return t

    # -- metadata -------------------------------------------------------------------------------------------
    @property
    def layout(self):
        return self._layout

    @property
    def is_sparse(self):
        return self._layout is _layouts.sparse_coo

    @property
    def is_sparse_csr(self):
        return self._layout is _layouts.sparse_csr

    def _nnz(self):
        return self._vals._data.shape[0] if self._layout is _layouts.sparse_coo else self._vals._data.shape[-1]

    def sparse_dim(self):
        return self._idx._data.shape[0] if self._layout is _layouts.sparse_coo else 2

    def dense_dim(self):
        return self._vals._data.ndim - 1 if self._layout is _layouts.sparse_coo else 0

    def _require(self, layout, op):
        if self._layout is not layout:
            wanted = ("sparse coordinate tensor layout" if layout is _layouts.sparse_coo
                      else "sparse row compressed tensor layout")
            raise RuntimeError(f"{op} expected {wanted} but got {_LAYOUT_WORD[self._layout._name]}")

    # -- the parts ------------------------------------------------------------------------------------------
    def _indices(self):
        self._require(_layouts.sparse_coo, "_indices")
        return self._idx

    def is_coalesced(self):
        self._require(_layouts.sparse_coo, "is_coalesced")
        return self._coalesced

    def indices(self):
        self._require(_layouts.sparse_coo, "indices")
        if not self._coalesced:
            raise RuntimeError("Cannot get indices on an uncoalesced tensor, please call .coalesce() first")
        return self._idx.detach()

    def values(self):
        if self._layout is _layouts.sparse_coo and not self._coalesced:
            raise RuntimeError("Cannot get values on an uncoalesced tensor, please call .coalesce() first")
        return self._vals

    def _values(self):
        return self._vals

    def crow_indices(self):
        self._require(_layouts.sparse_csr, "crow_indices")
        return self._crow

    def col_indices(self):
        self._require(_layouts.sparse_csr, "col_indices")
        return self._col

    # -- NumPy views of the parts, for the kernels ----------------------------------------------------------
    def _coo_arrays(self):
        """(indices (sparse_dim, nnz) int64, values) as NumPy arrays, whatever the layout."""
        if self._layout is _layouts.sparse_coo:
            return self._idx._data, self._vals._data
        crow, col = self._crow._data, self._col._data
        rows = np.repeat(np.arange(len(crow) - 1, dtype=np.int64), np.diff(crow))
        return np.stack([rows, col.astype(np.int64)]), self._vals._data

    def _scipy(self):
        """The 2-D matrix as scipy CSR (duplicates summed by scipy)."""
        if self._layout is _layouts.sparse_csr:
            return sp.csr_matrix((self._vals._data, self._col._data, self._crow._data), shape=self._data.shape)
        indices, values = self._coo_arrays()
        return sp.coo_matrix((values, (indices[0], indices[1])), shape=self._data.shape).tocsr()

    def _dense_array(self):
        """The values scattered into a dense array (duplicates summed, as to_dense)."""
        indices, values = self._coo_arrays()
        dense = np.zeros(self._data.shape, values.dtype)
        (np.logical_or if values.dtype == np.bool_ else np.add).at(dense, tuple(indices), values)
        return dense

    def __getitem__(self, key):
        """``s[i]`` of a COO tensor with two or more sparse dims: the entries of row ``i`` (PyTorch's select)."""
        size = self._data.shape[0]
        if (self._layout is not _layouts.sparse_coo or isinstance(key, bool) or not isinstance(key, int)
                or self.sparse_dim() < 2):
            raise not_on_sparse("as_strided", self._layout)
        if not -size <= key < size:
            raise IndexError(f"index {key} is out of bounds for dimension 0 with size {size}")
        if self._requires_grad:
            raise RuntimeError("torsh: autograd through indexing a sparse tensor is not implemented")
        rows = self._idx._data[0] == key % size
        values = self._vals._data[rows]
        return SparseTensor._make(self._layout, self._data.shape[1:], wrap(values),
                                  indices=wrap(np.ascontiguousarray(self._idx._data[1:, rows])),
                                  coalesced=self._coalesced or len(values) <= 1)

    # -- printing -------------------------------------------------------------------------------------------
    def __repr__(self, *, tensor_contents=None):
        return sparse_repr(self)

    # -- conversion guards ----------------------------------------------------------------------------------
    def numpy(self, *, force=False):
        raise TypeError(f"can't convert {_LAYOUT_WORD[self._layout._name]} layout tensor to numpy. Use "
                        "Tensor.to_dense() first.")

    def __array__(self, dtype=None, copy=None):
        self.numpy()

    def __reduce_ex__(self, protocol):  # pickle / copy: rebuilt from the parts
        parts = (self._idx,) if self._layout is _layouts.sparse_coo else (self._crow, self._col)
        return (_rebuild, (self._layout._name, tuple(self._data.shape), self._vals.detach(),
                           tuple(p.detach() for p in parts), self._coalesced, self._requires_grad))

    def __deepcopy__(self, memo):
        out = self.clone()
        if self._requires_grad:
            out.requires_grad_()
        memo[id(self)] = out
        return out


def _part_str(name, part, indent):
    """``name=tensor(...)`` of an index or values tensor, as PyTorch's sparse printing writes it."""
    prefix = f"{name}=tensor("
    data = part._data
    if data.size == 0:
        return prefix + "[]" + f", size={tuple(data.shape)})"
    body = _format_data(data, indent + len(prefix))
    return prefix + body + ")"


def sparse_repr(t, linewidth=80):
    """PyTorch's printing of a sparse tensor: its parts, then size, nnz, dtype, layout and autograd suffixes."""
    indent = len("tensor(")
    suffixes = [f"size={tuple(t._data.shape)}", f"nnz={t._nnz()}"]
    default = (_dtype.get_default_dtype(), _dtype.get_default_dtype().to_complex(), _dtype.int64, _dtype.bool)
    if t.dtype not in default:
        suffixes.append(f"dtype={t.dtype!r}")
    if t._layout is _layouts.sparse_coo:
        parts = [("indices", t._idx), ("values", t._vals)]
    else:
        parts = [("crow_indices", t._crow), ("col_indices", t._col), ("values", t._vals)]
    body = (",\n" + " " * indent).join(_part_str(name, part.detach(), indent) for name, part in parts)
    suffixes.append(f"layout={t._layout!r}")
    fn = t.grad_fn
    if fn is not None:
        suffixes.append(f"grad_fn=<{fn.name()}>")
    elif t._requires_grad:
        suffixes.append("requires_grad=True")
    return _add_suffixes("tensor(" + body, suffixes, indent, t.is_sparse, linewidth)


def _add_suffixes(text, suffixes, indent, force_newline, linewidth):
    """PyTorch's ``_add_suffixes``: each suffix on the line while it fits (the first on a new line for COO)."""
    pieces = [text]
    last_line_len = len(text) - text.rfind("\n") + 1
    for suffix in suffixes:
        if force_newline or last_line_len + len(suffix) + 2 > linewidth:
            pieces.append(",\n" + " " * indent + suffix)
            last_line_len = indent + len(suffix)
            force_newline = False
        else:
            pieces.append(", " + suffix)
            last_line_len += len(suffix) + 2
    pieces.append(")")
    return "".join(pieces)


def _rebuild(layout_name, shape, values, parts, coalesced, requires_grad):
    layout = getattr(_layouts, layout_name)
    if layout is _layouts.sparse_coo:
        t = SparseTensor._make(layout, shape, values, indices=parts[0], coalesced=coalesced)
    else:
        t = SparseTensor._make(layout, shape, values, crow=parts[0], col=parts[1])
    return t.requires_grad_() if requires_grad else t


class SparseAccumulateGrad(Node):
    """The sink of a sparse leaf: ``.grad`` takes the gradient as it comes (sparse from torch.sparse.mm, dense
    from torch.mm, as PyTorch), summed with the one already there. Not the engine's AccumulateGrad, which
    copies dense arrays."""

    def __init__(self, variable):
        super().__init__()
        self.variable = variable
        self._sequence_nr = float("inf")
        self._output_meta = ((variable._data.shape, variable.dtype),)

    def name(self):
        return "torch::autograd::AccumulateGrad"

    def apply(self, grad):
        var = self.variable
        var._grad = grad if var._grad is None else _accumulated(var._grad, grad)
        return ()


def _accumulated(old, new):
    if isinstance(old, SparseTensor) and not isinstance(new, SparseTensor):
        return new + old  # dense + sparse: dense
    return old + new


def sparse_parts(t):
    """What PyTorch's ``_rebuild_sparse_tensor(layout, data)`` takes as ``data`` for ``t`` (torch.save's format):
    COO (indices, values, size, is_coalesced), CSR (crow_indices, col_indices, values, size)."""
    size = tuple(t._data.shape)
    if t._layout is _layouts.sparse_coo:
        return (t._idx, t._vals.detach(), size, t._coalesced)
    return (t._crow, t._col, t._vals.detach(), size)


def rebuild_sparse_tensor(layout, data):
    """torch._utils._rebuild_sparse_tensor: a sparse tensor from torch.save's parts (PyTorch's files or torsh's)."""
    if layout is _layouts.sparse_coo:
        indices, values, size = data[:3]
        coalesced = bool(data[3]) if len(data) > 3 and data[3] is not None else False
        return SparseTensor._make(layout, tuple(size), values, indices=indices, coalesced=coalesced)
    if layout is _layouts.sparse_csr:
        crow, col, values, size = data
        return SparseTensor._make(layout, tuple(size), values, crow=crow, col=col)
    raise RuntimeError(f"torsh cannot rebuild a tensor of layout {layout!r}")
