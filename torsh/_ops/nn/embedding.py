"""embedding: rows of a weight matrix picked by integer indices; its backward sums the
incoming rows into a zero matrix (and each of the pair's backward is the other)."""
import numpy as np

from ..._tensor import wrap
from ...autograd.graph import Node
from ...backend import dispatch, kernels
from .._helpers import with_grad_fn


def _scatter_rows(grad, idx, num_rows, padding_idx, scale_grad_by_freq):
    """The weight gradient: grad's rows summed by index, on the ``embedding`` kernel or NumPy's add.at."""
    dim = grad.shape[-1] if grad.ndim else 0
    if grad.size == 0 or dim == 0:
        return _scatter_rows_np(grad, idx, num_rows, padding_idx, scale_grad_by_freq)

    def compiled(parallel):
        from ...backend import threads
        flat_idx = np.ascontiguousarray(idx.reshape(-1), dtype=np.int64)
        rows = np.ascontiguousarray(grad).reshape(-1, dim)
        if scale_grad_by_freq:
            counts = np.bincount(flat_idx, minlength=num_rows)
            rows = (rows / counts[flat_idx][:, None]).astype(grad.dtype, copy=False)
        out = np.zeros((num_rows, dim), dtype=grad.dtype)
        blocks = max(1, min(dim // 16, threads.get_num_threads())) if parallel else 1
        kernels.get("embedding").embedding_backward(rows, flat_idx, -1 if padding_idx is None else int(padding_idx),
                                                    out, blocks, parallel)
        return out

    return dispatch.call("embedding_backward", grad.size, grad.dtype, True, compiled,
                         lambda: _scatter_rows_np(grad, idx, num_rows, padding_idx, scale_grad_by_freq))


def _scatter_rows_np(grad, idx, num_rows, padding_idx, scale_grad_by_freq):
    flat_idx = idx.reshape(-1)
    rows = grad.reshape(flat_idx.shape[0], grad.shape[-1])  # -1 is ambiguous with no features
    if scale_grad_by_freq:
        counts = np.bincount(flat_idx, minlength=num_rows)
        rows = rows / counts[flat_idx][:, None]
    out = np.zeros((num_rows, grad.shape[-1]), dtype=grad.dtype)
    np.add.at(out, flat_idx, rows)
    if padding_idx is not None:
        out[padding_idx] = 0
    return out


class EmbeddingBackward0(Node):
    def backward(self, grad):
        return (embedding_dense_backward(grad, self.idx, self.num_rows, self.padding_idx, self.scale_grad_by_freq),
                None)

    def _on_release(self):
        self.idx = None


class EmbeddingDenseBackwardBackward(Node):
    def name(self):
        return "EmbeddingDenseBackwardBackward0"

    def backward(self, grad):
        g = grad
        if self.padding_idx is not None:
            mask = np.ones((grad.shape[0], 1), dtype=grad._data.dtype)
            mask[self.padding_idx] = 0
            g = grad * wrap(mask)
        out = embedding(g, self.idx)
        if self.scale_grad_by_freq:
            counts = np.bincount(self.idx.reshape(-1), minlength=self.num_rows)
            out = out / wrap((counts[self.idx])[..., None].astype(grad._data.dtype))
        return (out,)


def embedding(weight, idx):
    """weight[idx] for an integer ndarray ``idx``."""
    return embedding_with_options(weight, idx, None, False)


def embedding_with_options(weight, idx, padding_idx, scale_grad_by_freq):
    result = wrap(np.take(weight._data, idx, axis=0))
    return with_grad_fn(EmbeddingBackward0, (weight, None), result, idx=idx, num_rows=weight.shape[0],
                        padding_idx=padding_idx, scale_grad_by_freq=scale_grad_by_freq)


def embedding_dense_backward(grad, idx, num_rows, padding_idx=None, scale_grad_by_freq=False):
    result = wrap(_scatter_rows(grad._data, idx, num_rows, padding_idx, scale_grad_by_freq))
    return with_grad_fn(EmbeddingDenseBackwardBackward, (grad,), result, idx=idx, num_rows=num_rows,
                        padding_idx=padding_idx, scale_grad_by_freq=scale_grad_by_freq)
