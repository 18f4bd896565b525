"""scaled_dot_product_attention and multi_head_attention_forward (PyTorch's math path)."""
import math

import numpy as np

from ..._array_api import array, dtype_of
from ..._ops.tensor import creation
from ..._ops.tensor.elementwise import arithmetic as pointwise
from ..._tensor import wrap
from . import activation as A
from . import attention_fused
from .dropout import dropout
from .linear import linear

__all__ = ["scaled_dot_product_attention", "multi_head_attention_forward"]


def _float_mask(mask, dtype_like, masked_when):
    """A bool mask (True where ``masked_when``) or a float mask as an additive float tensor."""
    if mask is None:
        return None
    if mask.dtype.is_floating_point:
        return mask
    blocked = array(mask) if masked_when else ~array(mask)
    return wrap(np.where(blocked, -np.inf, 0.0).astype(dtype_of(dtype_like)))


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None,
                                 enable_gqa=False):
    """softmax(q k^T * scale + mask) v; a bool ``attn_mask`` is True where attention is allowed."""
    if min(query.ndim, key.ndim, value.ndim) < 2:
        raise RuntimeError(f"Expected query, key, and value to all be  at least 2 dimensional, but got query.dim: "
                           f"{query.ndim} key.dim: {key.ndim} and value.dim: {value.ndim} instead.")
    L, S = query.shape[-2], key.shape[-2]
    head_dim = query.shape[-1]
    if head_dim == 0:  # zero scores whatever the scale (PyTorch scales q and k, not the scores)
        scale_factor = 1.0
    else:
        scale_factor = 1 / math.sqrt(head_dim) if scale is None else scale
    if is_causal:
        if attn_mask is not None:
            raise RuntimeError("_scaled_dot_product_attention: Explicit attn_mask should not be set when "
                               "is_causal=True")
    if attn_mask is None and dropout_p == 0.0 and attention_fused.fits(query, key, value):
        return attention_fused.attention(query, key, value, scale_factor, is_causal)
    if is_causal:
        attn_mask = wrap(np.tril(np.ones((L, S), dtype=bool)))
    if enable_gqa and query.ndim >= 3 and key.shape[-3] != query.shape[-3]:
        rep = query.shape[-3] // key.shape[-3]
        key = key.unsqueeze(-3).expand(*key.shape[:-2], rep, S, key.shape[-1]).reshape(
            *key.shape[:-3], key.shape[-3] * rep, S, key.shape[-1])
        value = value.unsqueeze(-3).expand(*value.shape[:-2], rep, S, value.shape[-1]).reshape(
            *value.shape[:-3], value.shape[-3] * rep, S, value.shape[-1])
    scores = query.matmul(key.transpose(-2, -1)) * scale_factor
    bias = _float_mask(attn_mask, query, masked_when=False)
    if bias is not None:
        scores = scores + bias
    weights = A.softmax(scores, dim=-1)
    if dropout_p > 0.0:
        weights = dropout(weights, dropout_p, training=True)
    return weights.matmul(value)


def _packed_heads(proj, parts, E):
    """A (..., parts * E) projection as (parts, ..., E) views, as PyTorch splits its packed projections."""
    return proj.unflatten(-1, (parts, E)).unsqueeze(0).transpose(0, -2).squeeze(-2)


def _in_projection_packed(q, k, v, w, b):
    """PyTorch's: self-attention (q is k is v) projects once with the packed weight, a shared key/value
    (k is v) projects q and k-with-v, distinct inputs one projection each."""
    E = q.shape[-1]
    if k is v:
        if q is k:
            return _packed_heads(linear(q, w, b), 3, E)  # (3, ..., E)
        w_q, w_kv = w.split([E, E * 2])
        b_q, b_kv = (None, None) if b is None else b.split([E, E * 2])
        kv = _packed_heads(linear(k, w_kv, b_kv), 2, E)
        return linear(q, w_q, b_q), kv[0], kv[1]
    w_q, w_k, w_v = w.chunk(3)
    b_q = b_k = b_v = None
    if b is not None:
        b_q, b_k, b_v = b.chunk(3)
    return linear(q, w_q, b_q), linear(k, w_k, b_k), linear(v, w_v, b_v)


def _self_attention_heads(query, num_heads, in_proj_weight, in_proj_bias):
    """q, k, v of self-attention as PyTorch makes them (one packed projection, its clone, three selects), the
    clone laying them out as contiguous (N, H, L, D) heads, which the attention reads in place. PyTorch's clone
    keeps (L, N, H*D) rows: its heads are strided views, which torsh's head split and attention copied again,
    in forward and backward."""
    embed_dim = query.shape[-1]
    heads = linear(query, in_proj_weight, in_proj_bias).unflatten(-1, (3, num_heads, embed_dim // num_heads))
    heads = heads.permute(2, 1, 3, 0, 4).contiguous()  # (L, N, 3, H, D) -> (3, N, H, L, D)
    return heads[0], heads[1], heads[2]


def _attend_and_project(q, k, v, attn_mask, dropout_p, is_causal, out_proj_weight, out_proj_bias):
    """The (L, N, E) output of attention over (N, H, L, D) heads: its (L, N) rows out-projected, as PyTorch."""
    bsz, num_heads, tgt_len, head_dim = q.shape
    attn = scaled_dot_product_attention(q, k, v, attn_mask, dropout_p, is_causal)
    attn = attn.permute(2, 0, 1, 3).reshape(tgt_len * bsz, num_heads * head_dim)
    return linear(attn, out_proj_weight, out_proj_bias).view(tgt_len, bsz, num_heads * head_dim)


def _with_padding_mask(attn_mask, key_padding_mask, bsz, num_heads, src_len):
    """The float attention mask (bsz * num_heads or 1, L, S) with the key padding mask added, as PyTorch."""
    if key_padding_mask is None:
        return attn_mask
    if tuple(key_padding_mask.shape) != (bsz, src_len):
        raise AssertionError(f"expecting key_padding_mask shape of {(bsz, src_len)}, but got "
                             f"{key_padding_mask.shape}")
    kpm = key_padding_mask.reshape(bsz, 1, 1, src_len).expand(bsz, num_heads, 1, src_len).reshape(
        bsz * num_heads, 1, src_len)
    return kpm if attn_mask is None else attn_mask + kpm


def _packs_self_attention(query, key, value, num_heads, in_proj_weight, in_proj_bias, bias_k, bias_v,
                          add_zero_attn, use_separate_proj_weight, static_k, static_v, need_weights):
    """Whether self-attention takes the contiguous-heads path: one input projected by the packed weight (of the
    right shapes, so that errors stay PyTorch's), nothing appended to the keys, no weights returned."""
    if (need_weights or use_separate_proj_weight or not (query is key is value) or bias_k is not None
            or bias_v is not None or add_zero_attn or static_k is not None or static_v is not None):
        return False
    embed_dim = query.shape[-1]
    return (query.ndim == 3 and tuple(in_proj_weight.shape) == (3 * embed_dim, embed_dim)
            and (in_proj_bias is None or tuple(in_proj_bias.shape) == (3 * embed_dim,)))


def _sdpa_mask(attn_mask, bsz, num_heads, src_len):
    """The combined (float) mask of multi_head_attention_forward as scaled_dot_product_attention takes it."""
    if attn_mask is None:
        return None
    if attn_mask.shape[0] == 1 and attn_mask.ndim == 3:
        return attn_mask.unsqueeze(0)
    return attn_mask.reshape(bsz, num_heads, -1, src_len)


def multi_head_attention_forward(query, key, value, embed_dim_to_check, num_heads, in_proj_weight, in_proj_bias,
                                 bias_k, bias_v, add_zero_attn, dropout_p, out_proj_weight, out_proj_bias,
                                 training=True, key_padding_mask=None, need_weights=True, attn_mask=None,
                                 use_separate_proj_weight=False, q_proj_weight=None, k_proj_weight=None,
                                 v_proj_weight=None, static_k=None, static_v=None, average_attn_weights=True,
                                 is_causal=False):
    """Inputs are (L, N, E) (or unbatched (L, E)); a bool mask is True where attention is *not* allowed."""
    is_batched = query.ndim == 3
    if not is_batched:
        query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
        if key_padding_mask is not None:
            key_padding_mask = key_padding_mask.unsqueeze(0)
    tgt_len, bsz, embed_dim = query.shape
    src_len = key.shape[0]
    if embed_dim != embed_dim_to_check:
        raise AssertionError(f"was expecting embedding dimension of {embed_dim_to_check}, but got {embed_dim}")
    head_dim = embed_dim // num_heads
    if head_dim * num_heads != embed_dim:
        raise AssertionError(f"embed_dim {embed_dim} not divisible by num_heads {num_heads}")
    if is_causal and attn_mask is None:
        raise RuntimeError("Need attn_mask if specifying the is_causal hint. You may use the Transformer module method "
                           "`generate_square_subsequent_mask` to create this mask.")
    if is_causal and key_padding_mask is None and not need_weights:
        attn_mask = None  # sdpa builds the causal mask itself
    else:
        is_causal = False
    key_padding_mask = _float_mask(key_padding_mask, query, masked_when=True)
    attn_mask = _float_mask(attn_mask, query, masked_when=True)

    packed = _packs_self_attention(query, key, value, num_heads, in_proj_weight, in_proj_bias, bias_k, bias_v,
                                   add_zero_attn, use_separate_proj_weight, static_k, static_v, need_weights)
    if packed:
        q, k, v = _self_attention_heads(query, num_heads, in_proj_weight, in_proj_bias)
    elif not use_separate_proj_weight:
        projected = _in_projection_packed(query, key, value, in_proj_weight, in_proj_bias)
        q, k, v = (projected[0], projected[1], projected[2]) if not isinstance(projected, tuple) else projected
    else:
        b_q = b_k = b_v = None
        if in_proj_bias is not None:
            b_q, b_k, b_v = in_proj_bias.chunk(3)
        q, k, v = linear(query, q_proj_weight, b_q), linear(key, k_proj_weight, b_k), linear(value, v_proj_weight, b_v)

    if attn_mask is not None:
        if attn_mask.ndim == 2:
            if tuple(attn_mask.shape) != (tgt_len, src_len):
                raise RuntimeError(f"The shape of the 2D attn_mask is {attn_mask.shape}, but should be "
                                   f"{(tgt_len, src_len)}.")
            attn_mask = attn_mask.unsqueeze(0)
        elif attn_mask.ndim == 3:
            if tuple(attn_mask.shape) != (bsz * num_heads, tgt_len, src_len):
                raise RuntimeError(f"The shape of the 3D attn_mask is {attn_mask.shape}, but should be "
                                   f"{(bsz * num_heads, tgt_len, src_len)}.")
        else:
            raise RuntimeError(f"attn_mask's dimension {attn_mask.ndim} is not supported")

    if packed:
        attn_mask = _with_padding_mask(attn_mask, key_padding_mask, bsz, num_heads, src_len)
        attn_output = _attend_and_project(q, k, v, _sdpa_mask(attn_mask, bsz, num_heads, src_len),
                                          dropout_p if training else 0.0, is_causal, out_proj_weight, out_proj_bias)
        return attn_output, None  # batched: an unbatched query, unsqueezed, is no longer the key

    if bias_k is not None and bias_v is not None:
        k = creation_cat([k, bias_k.expand(1, bsz, embed_dim)])
        v = creation_cat([v, bias_v.expand(1, bsz, embed_dim)])
        if attn_mask is not None:
            attn_mask = _pad_last(attn_mask)
        if key_padding_mask is not None:
            key_padding_mask = _pad_last(key_padding_mask)

    q = q.reshape(tgt_len, bsz * num_heads, head_dim).transpose(0, 1)
    k = (k.reshape(k.shape[0], bsz * num_heads, head_dim).transpose(0, 1) if static_k is None else static_k)
    v = (v.reshape(v.shape[0], bsz * num_heads, head_dim).transpose(0, 1) if static_v is None else static_v)

    if add_zero_attn:
        zero_shape = (bsz * num_heads, 1, head_dim)
        k = creation_cat([k, creation.zeros(*zero_shape, dtype=k.dtype)], dim=1)
        v = creation_cat([v, creation.zeros(*zero_shape, dtype=v.dtype)], dim=1)
        if attn_mask is not None:
            attn_mask = _pad_last(attn_mask)
        if key_padding_mask is not None:
            key_padding_mask = _pad_last(key_padding_mask)
    src_len = k.shape[1]

    attn_mask = _with_padding_mask(attn_mask, key_padding_mask, bsz, num_heads, src_len)

    if not training:
        dropout_p = 0.0

    if need_weights:
        q_scaled = q * math.sqrt(1.0 / float(head_dim))
        # bmm / baddbmm as PyTorch's code: the same ops in a profile
        scores = q_scaled.bmm(k.transpose(-2, -1)) if attn_mask is None else attn_mask.baddbmm(
            q_scaled, k.transpose(-2, -1))
        weights = A.softmax(scores, dim=-1)
        if dropout_p > 0.0:
            weights = dropout(weights, p=dropout_p)
        attn_output = weights.bmm(v)
        attn_output = attn_output.transpose(0, 1).reshape(tgt_len * bsz, embed_dim)
        attn_output = linear(attn_output, out_proj_weight, out_proj_bias)
        attn_output = attn_output.reshape(tgt_len, bsz, embed_dim)
        weights = weights.reshape(bsz, num_heads, tgt_len, src_len)
        if average_attn_weights:
            weights = weights.mean(1)
        if not is_batched:
            attn_output, weights = attn_output.squeeze(1), weights.squeeze(0)
        return attn_output, weights
    attn_mask = _sdpa_mask(attn_mask, bsz, num_heads, src_len)
    q = q.reshape(bsz, num_heads, tgt_len, head_dim)
    k = k.reshape(bsz, num_heads, src_len, head_dim)
    v = v.reshape(bsz, num_heads, src_len, head_dim)
    attn_output = scaled_dot_product_attention(q, k, v, attn_mask, dropout_p, is_causal)
    attn_output = attn_output.permute(2, 0, 1, 3).reshape(bsz * tgt_len, embed_dim)
    attn_output = linear(attn_output, out_proj_weight, out_proj_bias)
    attn_output = attn_output.reshape(tgt_len, bsz, embed_dim)
    if not is_batched:
        attn_output = attn_output.squeeze(1)
    return attn_output, None


def creation_cat(tensors, dim=0):
    from ..._ops.tensor.shape.views import cat
    return cat(tensors, dim)


def _pad_last(mask):
    from .vision import pad
    return pad(mask, (0, 1))
