"""scaled_dot_product_attention as one autograd node, as PyTorch's CPU kernel records it
(ScaledDotProductFlashAttentionForCpuBackward0), for the common case: no attn_mask (causal or not), no dropout.

Forward: scores = q k^T (one batched GEMM), then scale, causal mask and softmax in one pass of the
``transformer`` kernel family, in place (the composed path made a mask tensor, a scaled copy, a masked copy
and the softmax), then the probabilities times v. Backward without create_graph: the four GEMMs on arrays and
the softmax's gradient in one kernel pass (scale and mask included). With create_graph (double backward,
forward-mode AD) the same formulas run in torsh ops from the saved q, k, v, so they stay differentiable.
"""
import math

import numpy as np

from ..._array_api import array
from ..._tensor import Tensor, wrap
from ...amp import autocast_mode as _autocast
from ...autograd import grad_mode
from ...autograd.graph import Node, needs_grad, record
from ...backend import dispatch, kernels
from ...backend.threads import gemm_threads
from . import activation as A

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def fits(query, key, value):
    """Whether the fused node computes this call: where PyTorch's CPU dispatch picks its flash kernel (4-D
    q, k, v of one float dtype, the same batch and head dims; its node otherwise is the composed one's), plain
    tensors, no size 0 (the composed path keeps PyTorch's results for empty inputs), no autocast."""
    tensors = (query, key, value)
    if any(type(t) is not Tensor for t in tensors) or _autocast._state.enabled:
        return False
    q, k, v = (array(t) for t in tensors)
    return (q.dtype in _FLOATS and q.dtype == k.dtype == v.dtype and q.ndim == k.ndim == v.ndim == 4
            and q.shape[:-2] == k.shape[:-2] == v.shape[:-2] and q.shape[-1] == k.shape[-1] == v.shape[-1]
            and k.shape[-2] == v.shape[-2] and q.size > 0 and k.size > 0)


def _product(a, b, out=None):
    """a @ b (into ``out`` if given) on the BLAS threads gemm_threads gives one of its (m, k) @ (k, n) products."""
    with gemm_threads(a.shape[-2] * a.shape[-1] * b.shape[-1]):
        return np.matmul(a, b, out=out)


def _blas_ready(a):
    """``a`` itself if BLAS can read its matrices in place (unit stride along rows), else a contiguous copy."""
    rows, cols = a.strides[-2:]
    return a if cols == a.itemsize and rows >= a.shape[-1] * a.itemsize else np.ascontiguousarray(a)


def _causal_allowed(L, S):
    return np.tril(np.ones((L, S), dtype=bool))


def _softmax_np(scores, scale, causal):
    """softmax(scale * scores) over the last axis (masked: j > i with ``causal``), in place."""
    scores *= scores.dtype.type(scale)
    if causal:
        scores[..., ~_causal_allowed(*scores.shape[-2:])] = -np.inf
    scores -= scores.max(axis=-1, keepdims=True)
    np.exp(scores, out=scores)
    scores /= scores.sum(axis=-1, keepdims=True)
    return scores


def _softmax_backward_np(probs, grad, scale):
    """scale * p (g - sum p g): the gradient of _softmax_np's scores (masked entries have p == 0)."""
    grad -= (grad * probs).sum(axis=-1, keepdims=True)
    grad *= probs
    grad *= grad.dtype.type(scale)
    return grad


def _attention_softmax(scores, scale, causal):
    """Probabilities of the (..., L, S) score array, computed in its place."""
    L, S = scores.shape[-2:]
    rows = scores.size // S

    def compiled(parallel):
        kernels.get("transformer").attention_softmax(scores.reshape(-1), rows, L, S, scale, causal, parallel)
        return scores

    return dispatch.call("attention_softmax", scores.size, scores.dtype, scores.dtype == np.float32, compiled,
                         lambda: _softmax_np(scores, scale, causal))


def _attention_softmax_backward(probs, grad, scale, causal):
    """The scores' gradient from the probabilities' (``grad``, a fresh array, overwritten)."""
    L, S = probs.shape[-2:]
    rows = probs.size // S

    def compiled(parallel):
        kernels.get("transformer").attention_softmax_backward(probs.reshape(-1), grad.reshape(-1), rows, L, S,
                                                              scale, causal, parallel)
        return grad

    return dispatch.call("attention_softmax_backward", probs.size, probs.dtype, probs.dtype == np.float32, compiled,
                         lambda: _softmax_backward_np(probs, grad, scale))


class ScaledDotProductFlashAttentionForCpuBackward0(Node):
    """Gradients of q, k, v from the saved q, k, v and the forward's probabilities."""

    def backward(self, grad):
        q, k, v = self.saved_tensors
        if grad_mode.is_grad_enabled():
            return self._formula(q, k, v, grad)
        # the output's gradient usually arrives as the transposed view attention() returned: read in place
        g, probs = _blas_ready(array(grad)), self.probs
        q, k, v = (np.ascontiguousarray(array(t)) for t in (q, k, v))  # as in attention()
        grad_v = _product(np.swapaxes(probs, -1, -2), g)
        grad_scores = _attention_softmax_backward(probs, _product(g, np.swapaxes(v, -1, -2)), self.scale,
                                                  self.causal)
        grad_q = _product(grad_scores, k)
        grad_k = _product(np.swapaxes(grad_scores, -1, -2), q)
        return wrap(grad_q), wrap(grad_k), wrap(grad_v)

    def _formula(self, q, k, v, grad):
        scores = q.matmul(k.mT) * self.scale
        if self.causal:
            L, S = scores.shape[-2:]
            scores = scores.masked_fill(wrap(~_causal_allowed(L, S)), -math.inf)
        probs = A.softmax(scores, dim=-1)
        grad_probs = grad.matmul(v.mT)
        grad_scores = probs * (grad_probs - (grad_probs * probs).sum(-1, keepdim=True)) * self.scale
        return grad_scores.matmul(k), grad_scores.mT.matmul(q), probs.mT.matmul(grad)

    def _on_release(self):
        self.probs = None


def _laid_out_as(q):
    """An empty array shaped and laid out as ``q`` (its axes in q's memory order), contiguous where that order
    would not keep rows unit-strided (a query broadcast along a batch axis)."""
    out = np.empty_like(q)
    return out if out.strides[-1] == out.itemsize else np.empty(q.shape, q.dtype)


def attention(query, key, value, scale, causal):
    """softmax(q k^T * scale, causal mask) v for arguments ``fits`` accepts, as one node."""
    # contiguous copies first: a head's rows of a (B, T, H, D) view are strided, and the batched GEMMs on
    # them took ~2x as long as the copy plus the contiguous GEMMs (W13: 190 against 8 + 104 us)
    q, k, v = (np.ascontiguousarray(array(t)) for t in (query, key, value))
    probs = _attention_softmax(_product(q, np.swapaxes(k, -1, -2)), scale, causal)
    # the output laid out as the query is, as PyTorch's kernel does: heads split off a (B, T, H*D) projection
    # give a (B, H, T, D) view of a (B, T, H, D) array, so that the caller's transpose(1, 2).reshape(B, T, H*D)
    # is a view, not a copy
    result = wrap(_product(probs, v, out=_laid_out_as(array(query))))
    if needs_grad(query, key, value):
        node = ScaledDotProductFlashAttentionForCpuBackward0()
        node.probs, node.scale, node.causal = probs, scale, causal
        record(node, (query, key, value), (result,))
        node.save_for_backward(query, key, value)
    return result

