"""torch.distributions.utils: parameter broadcasting, logits <-> probs, lazy properties."""
import functools
import numbers
import operator

import numpy as np

import torsh

__all__ = ["broadcast_all", "logits_to_probs", "clamp_probs", "probs_to_logits", "lazy_property",
           "tril_matrix_to_vec", "vec_to_tril_matrix"]

euler_constant = 0.57721566490153286060  # Euler-Mascheroni



def forwarded(path):
    """A read-only property returning ``self.<path>``, a dotted attribute path ("base_dist.loc"): a parameter or
    moment that a wrapping object (transformed, independent, relaxed distribution; inverse transform; constraint
    over a base constraint) takes from the one it wraps."""
    get = operator.attrgetter(path)
    return property(lambda self: get(self), doc=f"``self.{path}``")

def broadcast_all(*values):
    """Tensors broadcast together; Python numbers become tensors of the first tensor's dtype
    (the default dtype when all are numbers)."""
    if not all(isinstance(v, (torsh.Tensor, numbers.Number)) for v in values):
        raise ValueError("Input arguments must all be instances of Number, "
                         "torch.Tensor or objects implementing __torch_function__.")
    if not all(isinstance(v, torsh.Tensor) for v in values):
        dtype = next((v.dtype for v in values if isinstance(v, torsh.Tensor)), torsh.get_default_dtype())
        values = [v if isinstance(v, torsh.Tensor) else torsh.tensor(v, dtype=dtype) for v in values]
    return torsh.broadcast_tensors(*values)


def finfo(tensor_or_dtype):
    """torsh.finfo of a tensor's (or a dtype's) floating type."""
    if isinstance(tensor_or_dtype, torsh.Tensor):
        return torsh.finfo(tensor_or_dtype.dtype)
    return torsh.finfo(tensor_or_dtype)


def _broadcast_shapes(*shapes):
    """torch.broadcast_shapes for tuples/Sizes (as a torsh.Size)."""
    from torsh._ops._helpers import broadcast_shapes
    return torsh.Size(broadcast_shapes(*(tuple(s) for s in shapes)))


def _standard_normal(shape, dtype, device=None):
    return torsh.empty(tuple(shape), dtype=dtype).normal_()


def _sum_rightmost(value, dim):
    """Sum the ``dim`` rightmost dimensions of ``value``."""
    if dim == 0:
        return value
    return value.reshape(tuple(value.shape[:-dim]) + (-1,)).sum(-1)


def logits_to_probs(logits, is_binary=False):
    """sigmoid of log-odds (binary) or softmax over the last dimension."""
    if is_binary:
        return torsh.sigmoid(logits)
    return torsh.softmax(logits, dim=-1)


def clamp_probs(probs):
    """Probabilities clamped into [eps, 1 - eps] of their dtype."""
    eps = float(finfo(probs).eps)
    return probs.clamp(min=eps, max=1 - eps)


def probs_to_logits(probs, is_binary=False):
    """log-odds (binary) or log-probabilities of clamped probabilities."""
    clamped = clamp_probs(probs)
    if is_binary:
        return torsh.log(clamped) - torsh.log1p(-clamped)
    return torsh.log(clamped)


class lazy_property:
    """A method computed on first access (with grad enabled) and then stored on the instance."""

    def __init__(self, wrapped):
        self.wrapped = wrapped
        functools.update_wrapper(self, wrapped)

    def __get__(self, instance, obj_type=None):
        if instance is None:
            return _lazy_property_and_property(self.wrapped)
        with torsh.enable_grad():
            value = self.wrapped(instance)
        setattr(instance, self.wrapped.__name__, value)
        return value


class _lazy_property_and_property(lazy_property, property):
    """Looks like a property to documentation tools and like a lazy_property to validation."""

    def __init__(self, wrapped):
        property.__init__(self, wrapped)


def _tril_mask(n, diag):
    rows = np.arange(n)
    return torsh.tensor(rows[None, :] < rows[:, None] + (diag + 1))


def tril_matrix_to_vec(mat, diag=0):
    """The lower-triangular entries (below diagonal ``diag``) of (batched) square matrices, row by row."""
    n = mat.shape[-1]
    if diag < -n or diag >= n:
        raise ValueError(f"diag ({diag}) provided is outside [{-n}, {n - 1}].")
    return mat[..., _tril_mask(n, diag)]


def vec_to_tril_matrix(vec, diag=0):
    """Inverse of ``tril_matrix_to_vec``: (batched) vectors into lower-triangular D x D matrices."""
    k = 1 + 2 * diag
    n = (-k + (k ** 2 + 8 * vec.shape[-1] + 4 * abs(diag) * (diag + 1)) ** 0.5) / 2
    if round(n) - n > float(finfo(vec).eps):
        raise ValueError(f"The size of last dimension is {vec.shape[-1]} which cannot be expressed as "
                         "the lower triangular part of a square D x D matrix.")
    n = round(n)
    mask = _tril_mask(n, diag)
    # scatter the entries with an index map so the result stays differentiable w.r.t. vec
    index = np.zeros((n, n), dtype=np.int64)
    index[mask._data] = np.arange(int(mask._data.sum()))
    padded = torsh.cat([vec, torsh.zeros(tuple(vec.shape[:-1]) + (1,), dtype=vec.dtype)], -1)
    index[~mask._data] = padded.shape[-1] - 1
    flat = padded[..., torsh.tensor(index.reshape(-1))]
    return flat.reshape(tuple(vec.shape[:-1]) + (n, n))
