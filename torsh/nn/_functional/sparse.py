"""embedding, embedding_bag and one_hot."""
import numpy as np

from ..._array_api import array, dtype_of
from ..._ops.nn import embedding as nn_embedding
from ..._tensor import wrap
from ...autograd import grad_mode

__all__ = ["embedding", "embedding_bag", "one_hot"]


def _check_indices(idx, num):
    if idx.dtype.kind not in "iu":
        raise RuntimeError("Expected tensor for argument #1 'indices' to have one of the following scalar types: "
                           f"Long, Int; but got torch.{'FloatTensor' if idx.dtype == np.float32 else 'DoubleTensor'}"
                           " instead (while checking arguments for embedding)")
    if idx.size and (idx.min() < 0 or idx.max() >= num):  # negative indices do not count from the end here
        raise IndexError("index out of range in self")


def _renorm_(weight, idx, max_norm, norm_type):
    """Rescale in place (outside autograd) the looked-up rows whose norm exceeds max_norm."""
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


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0, scale_grad_by_freq=False,
              sparse=False):
    idx = array(input)
    num = weight.shape[0]
    padding_idx = _normalize_padding_idx(padding_idx, num)
    _check_indices(idx, num)
    idx = idx.astype(np.int64)  # a copy: the backward keeps it
    if max_norm is not None:
        _renorm_(weight, idx, max_norm, norm_type)
    if sparse:
        raise NotImplementedError("torsh: sparse embedding gradients are not supported (use sparse=False)")
    return nn_embedding.embedding_with_options(weight, idx, padding_idx, scale_grad_by_freq)


def embedding_bag(input, weight, offsets=None, max_norm=None, norm_type=2, scale_grad_by_freq=False, mode="mean",
                  sparse=False, per_sample_weights=None, include_last_offset=False, padding_idx=None):
    """Sums/means/maxes of embedding rows per bag; bags from a 2-D input or 1-D input + offsets."""
    from ..._ops.tensor import creation
    if input.ndim == 2:
        if offsets is not None:
            raise ValueError("if input is 2D, then offsets has to be None, as input is treated is a mini-batch of fixed "
                             "length sequences.")
        b, length = input.shape
        flat = input.reshape(-1)
        starts = np.arange(0, b * length, length)
        psw = per_sample_weights.reshape(-1) if per_sample_weights is not None else None
    elif input.ndim == 1:
        if offsets is None:
            raise ValueError("offsets has to be a 1D Tensor but got None")
        flat = input
        starts = array(offsets).astype(np.int64)
        if include_last_offset:
            starts = starts[:-1]
        psw = per_sample_weights
    else:
        raise ValueError(f"input has to be 1D or 2D Tensor, but got Tensor of dimension {input.ndim}")
    if per_sample_weights is not None and mode != "sum":
        raise NotImplementedError(f"embedding_bag: per_sample_weights was not None. per_sample_weights is only "
                                  f"supported for mode='sum' (got mode='{mode}'). Please open a feature request on "
                                  "GitHub.")
    rows = embedding(flat, weight, padding_idx, max_norm, norm_type, scale_grad_by_freq)
    n = flat.shape[0]
    ends = np.append(starts[1:], n) if len(starts) else starts
    idx = array(flat).astype(np.int64)
    keep = np.ones(n, dtype=bool) if padding_idx is None else idx != (padding_idx % weight.shape[0])
    bag_of = np.repeat(np.arange(len(starts)), ends - starts)
    if psw is not None:
        rows = rows * psw.unsqueeze(1)
    if mode in ("sum", "mean"):
        member = np.zeros((len(starts), n), dtype=dtype_of(weight))
        member[bag_of[keep[:len(bag_of)]], np.arange(n)[keep[:len(bag_of)]]] = 1.0
        if mode == "mean":
            counts = member.sum(1, keepdims=True)
            member = np.divide(member, counts, out=np.zeros_like(member), where=counts > 0)
        return wrap(member).matmul(rows)
    if mode == "max":
        outs = []
        for s, e in zip(starts, ends):
            sel = np.arange(s, e)[keep[s:e]]
            outs.append(rows[wrap(sel)].amax(0) if len(sel) else creation.zeros(weight.shape[1], dtype=weight.dtype))
        from ..._ops.tensor.shape.views import stack
        return stack(outs) if outs else creation.zeros(0, weight.shape[1], dtype=weight.dtype)
    raise ValueError(f"mode has to be one of sum, mean or max")


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
