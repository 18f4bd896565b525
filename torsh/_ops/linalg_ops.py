"""torsh.linalg: norms, products of many matrices, inverses, solvers and decompositions.

Forward on numpy.linalg (batched over leading dims); backward formulas are PyTorch's
(derivatives.yaml / FunctionsManual.cpp), written in torsh ops.
"""
import math

import numpy as np

from .. import _dtype
from .._tensor import wrap
from ..autograd.graph import Node, needs_grad, record
from ._helpers import dtype_name, normalize_dims
from .linalg import matmul


def _finish(node_cls, inputs, outputs, saved=(), **attrs):
    outs = outputs if isinstance(outputs, tuple) else (outputs,)
    if needs_grad(*inputs):
        node = node_cls()
        node.__dict__.update(attrs)
        record(node, inputs, outs)
        if saved:
            node.save_for_backward(*saved)
    return outputs


# -- norms ------------------------------------------------------------------------------------
class LinalgVectorNormBackward0(Node):
    def backward(self, grad):
        x, norm = self.saved_tensors
        p, dims = self.ord, self.dims
        if not self.keepdim:
            for d in dims:
                grad, norm = grad.unsqueeze(d), norm.unsqueeze(d)
        from .pointwise import where
        if p == 0:
            return (grad * 0 * x,)
        if p == 1:
            return (grad * x.sgn(),)
        if math.isinf(p):
            mask = (x.abs() == norm).to(x.dtype)
            count = mask.sum(dims, keepdim=True) if dims else mask
            return (grad * x.sgn() * mask / count,)
        if p == 2:
            scale = where(norm == 0, 0.0, 1.0 / where(norm == 0, 1.0, norm)).to(x.dtype)
            return (grad * x * scale,)
        safe = where(norm == 0, 1.0, norm).to(x.dtype)
        partial = x.sgn() * x.abs().pow(p - 1) / safe.pow(p - 1)
        return (grad * where(norm == 0, 0.0, partial).to(x.dtype),)


def vector_norm(x, ord=2, dim=None, keepdim=False, *, dtype=None, out=None):
    if dtype is not None:
        x = x.to(dtype)
    if not (x.dtype.is_floating_point or x.dtype.is_complex):
        raise RuntimeError(f"linalg.vector_norm: Expected a floating point or complex tensor as input. Got "
                           f"{dtype_name(x.dtype)}")
    data = x._data
    dims = normalize_dims(dim, data.ndim) if dim is not None else tuple(range(data.ndim))
    p = float(ord)
    a = np.abs(data)
    if data.size == 0 and p < 0 or (data.size == 0 and math.isinf(p) and dim is None):
        raise RuntimeError(f"linalg.vector_norm cannot compute the {ord} norm on an empty tensor because the "
                           "operation does not have an identity")
    with np.errstate(all="ignore"):
        if p == 0:
            value = np.sum(a != 0, axis=dims, keepdims=keepdim)
        elif p == math.inf:
            value = np.max(a, axis=dims, keepdims=keepdim) if a.size else np.zeros(
                np.sum(a, axis=dims, keepdims=keepdim).shape)
        elif p == -math.inf:
            value = np.min(a, axis=dims, keepdims=keepdim)
        elif p == 1:
            value = np.sum(a, axis=dims, keepdims=keepdim)
        elif p == 2:
            value = np.sqrt(np.sum(a * a, axis=dims, keepdims=keepdim))
        else:
            value = np.sum(a ** p, axis=dims, keepdims=keepdim) ** (1.0 / p)
    result = wrap(np.asarray(value, dtype=x.dtype.to_real().np))
    return _finish(LinalgVectorNormBackward0, (x,), result, (x, result), ord=p, dims=dims, keepdim=keepdim)


def multi_dot(tensors, *, out=None):
    tensors = list(tensors)
    if len(tensors) < 2:
        raise RuntimeError(f"multi_dot(): expected at least 2 tensors but got {len(tensors)}")
    for i, t in enumerate(tensors):
        nd = t._data.ndim
        if (i in (0, len(tensors) - 1) and nd not in (1, 2)) or (0 < i < len(tensors) - 1 and nd != 2):
            which = "first" if i == 0 else "last" if i == len(tensors) - 1 else None
            if which:
                raise RuntimeError(f"multi_dot(): the {which} tensor must be 1D or 2D but got {nd}D")
            raise RuntimeError(f"multi_dot(): tensor {i} must be 2D but got {nd}D")
    first_1d, last_1d = tensors[0]._data.ndim == 1, tensors[-1]._data.ndim == 1
    mats = list(tensors)
    if first_1d:
        mats[0] = mats[0].unsqueeze(0)
    if last_1d:
        mats[-1] = mats[-1].unsqueeze(1)
    for i in range(len(mats) - 1):
        if mats[i]._data.shape[1] != mats[i + 1]._data.shape[0]:
            raise RuntimeError(f"multi_dot(): tensors {i} and {i + 1} with shapes "
                               f"{list(tensors[i]._data.shape)} and {list(tensors[i + 1]._data.shape)} cannot be multiplied")
    result = _chain_in_best_order(mats)
    if first_1d and last_1d:
        return result.reshape(())
    if first_1d:
        return result.squeeze(0)
    if last_1d:
        return result.squeeze(1)
    return result


def _chain_in_best_order(mats):
    """Multiply left to right in the cheapest parenthesisation (the classic O(n^3) chain order)."""
    n = len(mats)
    dims = [m._data.shape[0] for m in mats] + [mats[-1]._data.shape[1]]
    cost = [[0] * n for _ in range(n)]
    split = [[0] * n for _ in range(n)]
    for length in range(1, n):
        for i in range(n - length):
            j = i + length
            cost[i][j] = math.inf
            for k in range(i, j):
                c = cost[i][k] + cost[k + 1][j] + dims[i] * dims[k + 1] * dims[j + 1]
                if c < cost[i][j]:
                    cost[i][j], split[i][j] = c, k

    def build(i, j):
        if i == j:
            return mats[i]
        k = split[i][j]
        return matmul(build(i, k), build(k + 1, j))
    return build(0, n - 1)


__all__ = ["vector_norm", "multi_dot"]
