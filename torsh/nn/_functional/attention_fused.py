"""scaled_dot_product_attention as one autograd node, as PyTorch's CPU kernel records it
(ScaledDotProductFlashAttentionForCpuBackward0), for the common case: no attn_mask (causal or not), no dropout.

float32: one call of the ``transformer`` family's ``attention_forward`` / ``attention_backward`` computes every
(batch, head) block (scores, scale, causal mask, softmax and product with v; the backward's four products and
the softmax gradient) in register-tiled small products, a causal block's masked tiles skipped, reading q, k, v
and the output's gradient in place through their strides (a head split off a (B, T, H*D) projection is a
strided view) and writing outputs and input gradients laid out as the inputs are; the blocks are shared among
the threads of the dispatcher's parallel variant (``attention_forward`` / ``attention_backward`` thresholds:
``dispatch.set_thresholds`` A/Bs them). float64, and the NumPy variant: scores = q k^T (one batched GEMM),
then scale, mask and softmax in one pass of the family's ``attention_softmax`` (float32) in place, then the
probabilities times v; the backward's four GEMMs on arrays and the softmax's gradient in one pass. With
create_graph (double backward, forward-mode AD) the same formulas run in torsh ops from the saved q, k, v, so
they stay differentiable.
"""
import math

import numpy as np

from ..._array_api import array
from ..._tensor import Tensor, wrap
from ...amp import autocast_mode as _autocast
from ...autograd import grad_mode
from ...autograd.graph import Node, needs_grad, record
from ...backend import dispatch, kernels
from ...backend.threads import gemm_threads, get_num_threads
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


def _in_place(a):
    """``a`` itself if the fused kernels can read it through its strides (float32, non-negative strides, unit
    stride along the last axis), else a contiguous copy."""
    strides = a.strides
    if (strides[-1] == 4 or a.shape[-1] == 1) and min(strides) >= 0 and not any(s % 4 for s in strides):
        return a
    return np.ascontiguousarray(a)


def _fused_threads(parallel):
    return get_num_threads() if parallel else 1


class ScaledDotProductFlashAttentionForCpuBackward0(Node):
    """Gradients of q, k, v from the saved q, k, v and the forward's probabilities."""

    def backward(self, grad):
        q, k, v = self.saved_tensors
        if grad_mode.is_grad_enabled():
            return self._formula(q, k, v, grad)
        probs = self.probs
        if self.fused:
            qa, ka, va = array(q), array(k), array(v)
            g = _in_place(array(grad))

            def compiled(parallel):
                dq, dk, dv = _laid_out_as(qa), _laid_out_as(ka), _laid_out_as(va)
                kernels.get("transformer").attention_backward(_in_place(qa), _in_place(ka), _in_place(va), probs, g,
                                                              dq, dk, dv, self.scale, self.causal,
                                                              _fused_threads(parallel))
                return dq, dk, dv

            dq, dk, dv = dispatch.call("attention_backward", probs.size, probs.dtype, True, compiled,
                                       lambda: self._on_arrays(q, k, v, g, probs))
            return wrap(dq), wrap(dk), wrap(dv)
        return self._on_arrays(q, k, v, array(grad), probs, wrapped=True)

    def _on_arrays(self, q, k, v, g, probs, wrapped=False):
        # the output's gradient usually arrives as the transposed view attention() returned: read in place
        g = _blas_ready(g)
        q, k, v = (np.ascontiguousarray(array(t)) for t in (q, k, v))  # as in attention()
        grad_v = _product(np.swapaxes(probs, -1, -2), g)
        grad_scores = _attention_softmax_backward(probs, _product(g, np.swapaxes(v, -1, -2)), self.scale,
                                                  self.causal)
        grad_q = _product(grad_scores, k)
        grad_k = _product(np.swapaxes(grad_scores, -1, -2), q)
        return (wrap(grad_q), wrap(grad_k), wrap(grad_v)) if wrapped else (grad_q, grad_k, grad_v)

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


# Non-causal attention stays on the batched BLAS products unless this is set: at W8.1's 16x4x64x32 (one thread,
# A/B in one process, CPU time) the fused kernels took 1.79-1.85 ms forward + backward against 1.61 ms (their
# head-dim-wide products run 6 x 2-vector tiles: one broadcast per two FMAs); causal blocks gain (8x4x64x32:
# forward 231 against 431 us, forward + backward 643 against 947 us)
FUSED_FULL_ATTENTION = False


def _fused_forward(query, key, value, scale, causal, save):
    """(output, probabilities or None) of the float32 fused kernel, or None where the dispatcher keeps NumPy."""
    if not (causal or FUSED_FULL_ATTENTION):
        return None
    q, k, v = array(query), array(key), array(value)
    B, H, L, _ = q.shape
    numel = B * H * L * k.shape[-2]

    def compiled(parallel):
        out = _laid_out_as(q)
        probs = np.empty((B, H, L, k.shape[-2]), dtype=np.float32) if save else None
        kernels.get("transformer").attention_forward(_in_place(q), _in_place(k), _in_place(v), out, probs, scale,
                                                     causal, _fused_threads(parallel))
        return out, probs

    return dispatch.call("attention_forward", numel, q.dtype, True, compiled, lambda: None)


def attention(query, key, value, scale, causal):
    """softmax(q k^T * scale, causal mask) v for arguments ``fits`` accepts, as one node."""
    grad = needs_grad(query, key, value)
    fused = _fused_forward(query, key, value, scale, causal, grad) if array(query).dtype == np.float32 else None
    if fused is not None:
        result, probs = wrap(fused[0]), fused[1]
    else:
        result, probs = _attention_on_arrays(query, key, value, scale, causal)
    if grad:
        node = ScaledDotProductFlashAttentionForCpuBackward0()
        node.probs, node.scale, node.causal, node.fused = probs, scale, causal, fused is not None
        record(node, (query, key, value), (result,))
        node.save_for_backward(query, key, value)
    return result


def _attention_on_arrays(query, key, value, scale, causal):
    """(output tensor, probabilities) by a batched GEMM, the softmax kernel pass and a second GEMM."""
    # contiguous copies first: a head's rows of a (B, T, H, D) view are strided, and the batched GEMMs on
    # them took ~2x as long as the copy plus the contiguous GEMMs (W13: 190 against 8 + 104 us)
    q, k, v = (np.ascontiguousarray(array(t)) for t in (query, key, value))
    probs = _attention_softmax(_product(q, np.swapaxes(k, -1, -2)), scale, causal)
    # the output laid out as the query is, as PyTorch's kernel does: heads split off a (B, T, H*D) projection
    # give a (B, H, T, D) view of a (B, T, H, D) array, so that the caller's transpose(1, 2).reshape(B, T, H*D)
    # is a view, not a copy
    return wrap(_product(probs, v, out=_laid_out_as(array(query)))), probs

