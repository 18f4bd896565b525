"""torch.sparse.spdiags and torch.sparse.sampled_addmm (forward only: torsh's sparse values carry no autograd
here; sampled_addmm refuses inputs that require grad)."""
import numpy as np

from .. import _layouts
from .._ops.tensor import creation
from ..autograd import grad_mode
from ._ops import _dtype_word, sparse_coo_tensor, sparse_csr_tensor
from ._tensor import SparseTensor, not_on_sparse


def spdiags(diagonals, offsets, shape, layout=None):
    """Row ``i`` of ``diagonals`` on the diagonal ``offsets[i]`` of a sparse (rows, cols) matrix; element
    (r, r + k) takes ``diagonals[i, r + k]`` (the column indexes the diagonal, as SciPy's ``spdiags``)."""
    diag = diagonals.unsqueeze(0) if diagonals.dim() == 1 else diagonals
    if diag.dim() != 2:
        raise RuntimeError("Diagonals must be vector or matrix")
    if len(shape) != 2:
        raise RuntimeError("Output shape must be 2d")
    offs = offsets.unsqueeze(0) if offsets.dim() == 0 else offsets
    if offs.dim() != 1:
        raise RuntimeError("Offsets must be scalar or vector")
    if diag.shape[0] != offs.shape[0]:
        raise RuntimeError(f"Number of diagonals ({diag.shape[0]}) does not match the number of offsets "
                           f"({offs.shape[0]})")
    if layout is not None and layout not in (_layouts.sparse_coo, _layouts.sparse_csr, _layouts.sparse_csc):
        word = {"strided": "Strided", "sparse_bsr": "SparseBsr", "sparse_bsc": "SparseBsc"}.get(layout._name,
                                                                                           layout._name)
        raise RuntimeError(f"Only output layouts (Sparse, SparseCsc, SparseCsr) are supported, got {word}")
    if offs.dtype.name != "int64":
        raise RuntimeError(f"Offset Tensor must have dtype Long but got {_dtype_word(offs.dtype)}")
    offs_np = offs.numpy()
    if len(np.unique(offs_np)) != len(offs_np):
        raise RuntimeError("Offset tensor contains duplicate values")
    rows, cols = int(shape[0]), int(shape[1])
    length = diag.shape[1]
    row_idx, col_idx, take = [], [], []
    for i, k in enumerate(offs_np.tolist()):
        r = np.arange(max(0, -k), max(max(0, -k), min(rows, cols - k, length - k)))
        row_idx.append(r), col_idx.append(r + k), take.append(np.stack([np.full_like(r, i), r + k]))
    take = np.concatenate(take, axis=1) if take else np.zeros((2, 0), dtype=np.int64)
    values = diag[creation.tensor(take[0]), creation.tensor(take[1])]
    indices = creation.tensor(np.stack([np.concatenate(row_idx), np.concatenate(col_idx)]).astype(np.int64))
    out = sparse_coo_tensor(indices, values.detach(), (rows, cols))
    if layout == _layouts.sparse_csr:
        return out.to_sparse_csr()
    if layout == _layouts.sparse_csc:
        raise NotImplementedError("torch.sparse.spdiags: torsh has no sparse_csc layout")
    return out


def sampled_addmm(input, mat1, mat2, *, beta=1.0, alpha=1.0, out=None):
    """``beta * input + alpha * (mat1 @ mat2)`` computed only where the CSR matrix ``input`` stores values: a CSR
    result with ``input``'s pattern."""
    if not isinstance(input, SparseTensor):
        raise NotImplementedError(str(not_on_sparse("sparse_sampled_addmm")).replace("'SparseCPU'", "'CPU'"))
    if input.layout != _layouts.sparse_csr:
        raise not_on_sparse("sparse_sampled_addmm", input.layout)
    if out is not None:
        raise NotImplementedError("torch.sparse.sampled_addmm: out= is not supported by torsh's sparse tensors")
    for name, m in (("mat1", mat1), ("mat2", mat2)):
        if m.dim() != 2:
            raise RuntimeError(f"sampled_addmm: Expected {name} to be a matrix, got {m.dim()}-D tensor")
    for name, m in (("mat1", mat1), ("mat2", mat2)):
        if m.dtype != input.dtype:
            raise RuntimeError(f"sampled_addmm: Expected {name} and self to have the same dtype, but got "
                               f"{_dtype_word(m.dtype)} and {_dtype_word(input.dtype)}")
    if mat1.shape[1] != mat2.shape[0]:
        raise RuntimeError(f"sampled_addmm: mat1 and mat2 shapes cannot be multiplied ({mat1.shape[0]}x"
                           f"{mat1.shape[1]} and {mat2.shape[0]}x{mat2.shape[1]})")
    if input.shape[0] != mat1.shape[0]:
        raise RuntimeError("sampled_addmm: self.shape[-2] must match mat1.shape[-2]")
    if input.shape[1] != mat2.shape[1]:
        raise RuntimeError("sampled_addmm: self.shape[-1] must match mat2.shape[-1]")
    if grad_mode.is_grad_enabled() and any(t.requires_grad for t in (input, mat1, mat2)):
        # torsh's CSR values carry no autograd: refuse rather than return a result without a gradient path
        raise NotImplementedError("torch.sparse.sampled_addmm: torsh has no backward for it yet (inputs require grad)")
    crow, col = input.crow_indices(), input.col_indices()
    rows = np.repeat(np.arange(input.shape[0]), np.diff(crow.numpy()))
    a, b = mat1.detach().numpy(), mat2.detach().numpy()
    sampled = np.einsum("nk,kn->n", a[rows], b[:, col.numpy()])
    values = input.values().detach().numpy() * beta + sampled * alpha
    result = sparse_csr_tensor(crow.clone(), col.clone(), creation.tensor(values.astype(a.dtype, copy=False)),
                               tuple(input.shape))
    return result
