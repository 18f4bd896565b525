"""embedding, embedding_bag and one_hot, with PyTorch's argument checks (F.embedding_bag's Python checks, then
ATen's) and its gradients: dense, or sparse COO ones with ``sparse=True``."""
import numpy as np

from ... import _layouts
from ..._array_api import array, dtype_of
from ..._ops.nn import embedding as nn_embedding
from ..._tensor import wrap
from ..._warnings import warn as user_warning
from ...autograd import grad_mode
from ...autograd.graph import Node, needs_grad, record
from ...sparse._tensor import SparseTensor

__all__ = ["embedding", "embedding_bag", "one_hot"]


def _type_name(t):
    """The tensor's type as ATen's checkScalarTypes prints it (bool and complex show their backend type)."""
    name = t.dtype.name if hasattr(t.dtype, "name") else str(t.dtype)
    special = {"bool": "CPUBoolType", "complex64": "CPUComplexFloatType", "complex128": "CPUComplexDoubleType"}
    return special.get(name) or t.type()


def _check_indices(input, op):
    if dtype_of(input).name not in ("int64", "int32"):
        raise RuntimeError(f"Expected tensor for argument #1 'indices' to have one of the following scalar types: "
                           f"Long, Int; but got {_type_name(input)} instead (while checking arguments for {op})")


def _renorm_(weight, idx, max_norm, norm_type):
    """Rescale in place (outside autograd) the looked-up rows whose norm exceeds max_norm (embedding_renorm_)."""
    rows = np.unique(idx.reshape(-1))
    data = array(weight)
    norms = np.linalg.norm(data[rows].astype(np.float64), ord=norm_type, axis=1)
    scale = np.where(norms > max_norm, max_norm / (norms + 1e-7), 1.0)
    with grad_mode.no_grad():
        data[rows] *= scale[:, None].astype(data.dtype)
        weight._version_counter[0] += 1


def _normalize_padding_idx(padding_idx, num_embeddings, name="Padding_idx"):
    """padding_idx checked to lie in [-num_embeddings, num_embeddings), negative ones counted from the end."""
    if padding_idx is None:
        return None
    if (padding_idx > 0 and padding_idx >= num_embeddings) or padding_idx < -num_embeddings:
        raise AssertionError(f"{name} must be within num_embeddings")
    return padding_idx + num_embeddings if padding_idx < 0 else padding_idx


def _sparse_rows(rows, idx, num_rows, padding_idx):
    """PyTorch's embedding_sparse_backward: an uncoalesced COO (num_rows, D) gradient, one entry per looked-up
    index (the padding index's left out)."""
    idx = idx.reshape(-1)
    rows = rows.reshape(idx.shape[0], -1) if idx.shape[0] else rows.reshape(0, rows.shape[-1])
    if padding_idx is not None:
        keep = idx != padding_idx
        idx, rows = idx[keep], rows[keep]
    return SparseTensor._make(_layouts.sparse_coo, (num_rows, rows.shape[-1]), wrap(np.ascontiguousarray(rows)),
                              indices=wrap(idx.astype(np.int64).reshape(1, -1)))


class EmbeddingBackward0(Node):
    """F.embedding(sparse=True): the weight's gradient as a sparse COO tensor (first order only, as PyTorch)."""

    def backward(self, grad):
        return (_sparse_rows(array(grad), self.idx, self.num_rows, self.padding_idx), None)

    def _on_release(self):
        self.idx = None


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0, scale_grad_by_freq=False,
              sparse=False):
    if weight.ndim == 0 and needs_grad(weight):  # autograd's embedding reads weight.size(0) first
        raise IndexError("Dimension specified as 0 but tensor has no dimensions")
    if weight.ndim == 0:
        raise RuntimeError("'weight' must be 2-D")
    padding_idx = _normalize_padding_idx(padding_idx, weight.shape[0])
    if weight.ndim != 2:
        raise RuntimeError("'weight' must be 2-D")
    _check_indices(input, "embedding")
    idx = array(input)
    num = weight.shape[0]
    if idx.size and num == 0:
        raise RuntimeError("index_select(): self indexing axis dim should be positive")
    if idx.size and (idx.min() < 0 or idx.max() >= num):  # negative indices do not count from the end here
        raise IndexError("index out of range in self")
    idx = idx.astype(np.int64)  # a copy: the backward keeps it
    if max_norm is not None:
        _renorm_(weight, idx, max_norm, norm_type)
    if sparse and needs_grad(weight):
        if scale_grad_by_freq:  # PyTorch raises this in the backward
            raise RuntimeError("embedding_backward: scale_grad_by_freq not supported with sparse gradients")
        result = wrap(np.take(array(weight), idx, axis=0))
        node = EmbeddingBackward0()
        node.idx, node.num_rows, node.padding_idx = idx, num, padding_idx
        record(node, (weight, None), (result,))
        return result
    return nn_embedding.embedding_with_options(weight, idx, padding_idx, scale_grad_by_freq)


# -- embedding_bag ---------------------------------------------------------------------------------------------
_MODES = {"sum": 0, "mean": 1, "max": 2}


def embedding_bag(input, weight, offsets=None, max_norm=None, norm_type=2, scale_grad_by_freq=False, mode="mean",
                  sparse=False, per_sample_weights=None, include_last_offset=False, padding_idx=None):
    """Sums, means or maxes of embedding rows per bag: bags are a 2-D input's rows, or a 1-D input cut at
    ``offsets``. One EmbeddingBagBackward0 node (weight and per_sample_weights)."""
    if weight.dtype.name == "int64" and input.is_floating_point():
        user_warning("Argument order of nn.functional.embedding_bag was changed. Usage `embedding_bag(weight, "
                     "input, ...)` is deprecated, and should now be `embedding_bag(input, weight, ...)`.")
        weight, input = input, weight
    psw = per_sample_weights
    if psw is not None and tuple(input.shape) != tuple(psw.shape):
        raise ValueError(f"embedding_bag: If per_sample_weights ({psw.shape}) is not None, then it must have the "
                         f"same shape as the input ({input.shape})")
    if weight.ndim != 2:
        raise ValueError(f"weight has to be a 2D Tensor, but got Tensor of dimension {weight.ndim}")
    idx = array(input)
    if input.ndim == 2:
        if offsets is not None:
            raise ValueError("if input is 2D, then offsets has to be None, as input is treated is a mini-batch of "
                             f"fixed length sequences. However, found offsets of type {_public_type(offsets)}")
        offs = np.arange(0, idx.size, idx.shape[1]) if idx.shape[1] else np.zeros(0, np.int64)
        include_last_offset = False
        idx = idx.reshape(-1)
        psw = psw.reshape(-1) if psw is not None else None
    elif input.ndim == 1:
        if offsets is None:
            raise ValueError("offsets has to be a 1D Tensor but got None")
        if offsets.ndim != 1:
            raise ValueError("offsets has to be a 1D Tensor")
        offs = None
    else:
        raise ValueError(f"input has to be 1D or 2D Tensor, but got Tensor of dimension {input.ndim}")
    if mode not in _MODES:
        raise ValueError("mode has to be one of sum, mean or max")
    if mode == "max" and scale_grad_by_freq:
        raise ValueError("max mode does not support scaling the gradient by the frequency")
    if mode == "max" and sparse:
        raise ValueError("max mode does not support sparse weights")
    _check_bag_arguments(input, weight, offsets, psw, padding_idx)
    if offs is None:
        offs = array(offsets).astype(np.int64)
        _check_offsets(offs, idx.shape[0])
    if max_norm is not None:
        _check_index_range(idx, weight.shape[0])
        _renorm_(weight, idx, max_norm, norm_type)
    if psw is not None and mode != "sum":
        raise NotImplementedError(f"embedding_bag: per_sample_weights was not None. per_sample_weights is only "
                                  f"supported for mode='sum' (got mode='{mode}'). Please open a feature request on "
                                  "GitHub.")
    _check_index_range(idx, weight.shape[0])
    if padding_idx is not None and padding_idx < 0:
        padding_idx += weight.shape[0]
    return _bag(weight, idx.astype(np.int64), offs, mode, psw, include_last_offset, padding_idx, scale_grad_by_freq,
                sparse)


def _public_type(x):
    t = type(x)
    return "<class 'torch.Tensor'>" if t.__module__.startswith("torsh") and t.__name__ == "Tensor" else str(t)


def _check_bag_arguments(input, weight, offsets, psw, padding_idx):
    """ATen's embedding_bag checks, in its order."""
    _check_indices(input, "embedding_bag")
    if offsets is not None:
        _check_indices(offsets, "embedding_bag")  # PyTorch's message names offsets 'indices' too
    if weight.dtype.name not in ("float16", "bfloat16", "float32", "float64"):
        raise RuntimeError("Expected tensor for argument #1 'weight' to have one of the following scalar types: Half, "
                           f"BFloat16, Float, Double; but got {_type_name(weight)} instead (while checking arguments "
                           "for embedding_bag)")
    if psw is not None and psw.dtype != weight.dtype:
        raise RuntimeError(f"Expected tensor for argument #1 'weight' to have the same type as tensor for argument #1 "
                           f"'per_sample_weights'; but type {weight.type()} does not equal {psw.type()} (while "
                           "checking arguments for embedding_bag)")
    num = weight.shape[0]
    if padding_idx is not None and not -num <= padding_idx < num:
        raise RuntimeError(f"padding_idx must be within the number of embeddings, -{num} through {num - 1}, but got "
                           f"{padding_idx}")


def _check_offsets(offs, n):
    if offs.size and offs[0] != 0:
        raise RuntimeError("offsets[0] has to be 0, i.e., the first sequence in the mini-batch has to start from "
                           f"position 0. However, got {int(offs[0])}")
    if offs.size and offs[-1] > n:
        raise RuntimeError(f"offsets[-1] can not be greater than input's length {n} but got offsets[-1] of "
                           f"{int(offs[-1])}")


def _check_index_range(idx, num):
    bad = (idx < 0) | (idx >= num)
    if bad.any():
        raise RuntimeError("embedding_bag: Expected idx >= 0 && idx < num_embeddings but found idx to be "
                           f"{int(idx[np.argmax(bad)])}")


def _bag_layout(offs, n, include_last_offset):
    """(bags, bag_of): the bag count and each index's bag, as ATen's offset2bag (an index belongs to the last bag
    whose offset is at or before it; with include_last_offset the last offset only closes the last bag)."""
    bags = max(len(offs) - 1, 0) if include_last_offset else len(offs)
    marks = np.zeros(n + 1, np.int64)
    inner = offs[1:bags] if bags else offs[:0]
    np.add.at(marks, np.clip(inner, 0, n), 1)
    return bags, np.cumsum(marks[:n])


def _bag(weight, idx, offs, mode, psw, include_last_offset, padding_idx, scale_grad_by_freq, sparse):
    w = array(weight)
    n, dim = idx.shape[0], w.shape[1]
    bags, bag_of = _bag_layout(offs, n, include_last_offset)
    keep = (idx != padding_idx) if padding_idx is not None else np.ones(n, bool)
    keep &= bag_of < bags
    kept = np.nonzero(keep)[0]
    rows = w[idx[kept]]
    if psw is not None:
        rows = rows * array(psw)[kept, None]
    counts = np.bincount(bag_of[kept], minlength=bags)[:bags]
    argmax = None
    if mode == "max":
        out = np.full((bags, dim), -np.inf, dtype=w.dtype)
        np.maximum.at(out, bag_of[kept], rows)
        out[counts == 0] = 0
        # the first row reaching each maximum (PyTorch's max_indices), as positions into idx
        first = np.full((bags, dim), n, np.int64)
        hit = rows == out[bag_of[kept]]
        np.minimum.at(first, bag_of[kept], np.where(hit, kept[:, None], n))
        argmax = first
    else:
        out = np.zeros((bags, dim), dtype=w.dtype)
        np.add.at(out, bag_of[kept], rows)
        if mode == "mean":
            out /= np.maximum(counts, 1)[:, None].astype(w.dtype)
    result = wrap(out)
    if needs_grad(weight, psw):
        node = EmbeddingBagBackward0()
        node.idx, node.bag_of, node.kept, node.counts, node.argmax = idx, bag_of, kept, counts, argmax
        node.mode, node.num_rows, node.padding_idx = mode, w.shape[0], padding_idx
        node.scale_grad_by_freq, node.sparse = scale_grad_by_freq, sparse
        node.weight, node.psw = weight, psw
        record(node, (weight, psw), (result,))
    return result


def _bag_freq_scale(idx, num_rows):
    """PyTorch's embedding_bag scale_grad_by_freq divisor per index: the count of ``indices[start]``, where start
    is the first position of the index's run in sorted order but read from the unsorted indices (ATen's
    _embedding_bag_dense_backward_cpu_sum_mean reads indices_data[start]); equal to the index's own count
    whenever the indices come sorted."""
    counts = np.bincount(idx, minlength=num_rows)
    unique = np.unique(idx)
    starts = np.concatenate([[0], np.cumsum(counts[unique])[:-1]]).astype(np.int64)
    divisor = np.ones(num_rows)
    divisor[unique] = counts[idx[starts]]
    return divisor


def _scatter(values, targets, num_rows):
    """values (m, k) summed into rows ``targets`` of a (num_rows, k) zero matrix, in torsh ops (embedding's
    differentiable dense backward): create_graph and forward-mode AD go through it."""
    return nn_embedding.embedding_dense_backward(values, targets, num_rows)


class EmbeddingBagBackward0(Node):
    def backward(self, grad):
        idx, bag_of, kept = self.idx, self.bag_of, self.kept
        need_w = self.next_functions[0][0] is not None
        need_psw = self.psw is not None and self.next_functions[1][0] is not None
        grad_w = grad_psw = None
        if self.mode == "max":
            if need_w:
                dim = grad.shape[-1]
                b, d = np.nonzero(self.argmax < idx.shape[0])
                flat = grad.reshape(-1, 1)[wrap(b * dim + d)]
                grad_w = _scatter(flat, idx[self.argmax[b, d]] * dim + d, self.num_rows * dim).reshape(-1, dim)
            return grad_w, None
        rows = grad[wrap(bag_of[kept])]
        if need_psw:
            looked_up = self.weight.detach()[wrap(idx[kept])]
            grad_psw = _scatter((rows * looked_up).sum(1, keepdim=True), kept, idx.shape[0]).reshape(-1)
        if need_w:
            if self.psw is not None:
                rows = rows * self.psw.detach()[wrap(kept)].unsqueeze(1)
            elif self.mode == "mean":
                rows = rows / wrap(np.maximum(self.counts, 1)[bag_of[kept], None].astype(array(grad).dtype))
            if self.sparse:
                grad_w = _sparse_rows(array(rows), idx[kept], self.num_rows, None)
            else:
                if self.scale_grad_by_freq:
                    divisor = _bag_freq_scale(idx, self.num_rows)[idx[kept], None]
                    rows = rows / wrap(divisor.astype(array(grad).dtype))
                grad_w = _scatter(rows, idx[kept], self.num_rows)
        return grad_w, grad_psw

    def _on_release(self):
        self.idx = self.bag_of = self.kept = self.argmax = self.weight = self.psw = None


def one_hot(tensor, num_classes=-1):
    idx = array(tensor)
    if idx.dtype.kind not in "iu":
        raise RuntimeError("one_hot is only applicable to index tensor of type LongTensor.")
    if num_classes == -1:
        num_classes = int(idx.max()) + 1 if idx.size else 0
    if idx.size and (idx.min() < 0):
        raise RuntimeError("Class values must be non-negative.")
    if idx.size and idx.max() >= num_classes:
        raise RuntimeError("Class values must be smaller than num_classes.")
    out = np.zeros(idx.shape + (num_classes,), dtype=np.int64)
    np.put_along_axis(out, idx[..., None].astype(np.int64), 1, axis=-1)
    return wrap(out)
