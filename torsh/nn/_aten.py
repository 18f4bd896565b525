"""PyTorch's top-level ATen forms of the nn ops: ``torch.batch_norm(input, weight, bias, running_mean, ...)``,
``torch.embedding(weight, indices, ...)``, ``torch.lstm(input, hx, params, ...)``, the losses with an integer
``reduction`` (0 none, 1 mean, 2 sum), grid sampling with integer modes, and the SyncBatchNorm building blocks.

They differ from ``nn.functional``'s in argument order, integer enums and tuple results, so each is a thin
adapter over the functional op or the RNN modules' recurrence (``modules/rnn.py``); only the statistics helpers
(``native_*``, ``batch_norm_stats`` and its family) compute anything of their own. ``torsh/__init__.py`` binds
``__all__`` as ``torsh.<name>``.
"""
import numpy as np

from .. import _random
from .._array_api import array, dtype_of
from .._ops.tensor import creation
from .._tensor import Tensor, wrap
from . import functional as F
from ._functional import normalization as _norm, sparse as _sparse
from ._functional._utils import const
from .modules import rnn as _rnn

__all__ = ["batch_norm", "instance_norm", "layer_norm", "group_norm", "native_batch_norm", "native_layer_norm",
           "native_group_norm", "native_norm", "native_dropout", "native_channel_shuffle", "norm_except_dim",
           "embedding", "embedding_bag", "embedding_renorm_", "binary_cross_entropy_with_logits",
           "cosine_embedding_loss", "ctc_loss", "hinge_embedding_loss", "kl_div", "margin_ranking_loss",
           "poisson_nll_loss", "triplet_margin_loss", "constant_pad_nd", "convolution", "conv_tbc", "dropout",
           "alpha_dropout", "feature_alpha_dropout", "adaptive_max_pool1d",
           "max_pool1d_with_indices", "grid_sampler", "grid_sampler_2d", "grid_sampler_3d", "affine_grid_generator",
           "lstm", "gru", "rnn_tanh", "rnn_relu", "lstm_cell", "gru_cell", "rnn_tanh_cell", "rnn_relu_cell",
           "batch_norm_stats", "batch_norm_elemt", "batch_norm_gather_stats", "batch_norm_gather_stats_with_counts",
           "batch_norm_backward_reduce", "batch_norm_backward_elemt", "batch_norm_update_stats"]

_REDUCTIONS = ("none", "mean", "sum")  # at::Reduction: 0, 1, 2


def _reduction(code):
    return _REDUCTIONS[code]


# -- normalization ------------------------------------------------------------------------------------------
def batch_norm(input, weight, bias, running_mean, running_var, training, momentum, eps, cudnn_enabled):
    return F.batch_norm(input, running_mean, running_var, weight, bias, training, momentum, eps)


def instance_norm(input, weight, bias, running_mean, running_var, use_input_stats, momentum, eps, cudnn_enabled):
    return F.instance_norm(input, running_mean, running_var, weight, bias, use_input_stats, momentum, eps)


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5, cudnn_enable=True):
    return F.layer_norm(input, normalized_shape, weight, bias, eps)


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5, cudnn_enabled=True):
    return F.group_norm(input, num_groups, weight, bias, eps)


def _mean_rstd(data, axes, eps):
    """Biased mean and 1/sqrt(var + eps) of ``data`` over ``axes`` (kept), in the array's dtype."""
    mean = data.mean(axis=axes, keepdims=True, dtype=np.float64)
    var = ((data - mean) ** 2).mean(axis=axes, keepdims=True)
    return mean.astype(data.dtype), (1.0 / np.sqrt(var + eps)).astype(data.dtype)


def native_batch_norm(input, weight, bias, running_mean, running_var, training, momentum, eps):
    """(output, save_mean, save_invstd): the batch statistics when training, empty tensors otherwise."""
    out = F.batch_norm(input, running_mean, running_var, weight, bias, training, momentum, eps)
    if not training:
        empty = creation.empty(0, dtype=input.dtype)
        return out, empty, empty.clone()
    mean, rstd = _mean_rstd(array(input), (0,) + tuple(range(2, input.ndim)), eps)
    return out, wrap(mean.reshape(-1)), wrap(rstd.reshape(-1))


def native_layer_norm(input, normalized_shape, weight, bias, eps):
    """(output, mean, rstd), the statistics shaped as input with the normalized dims kept as 1."""
    out = F.layer_norm(input, normalized_shape, weight, bias, eps)
    k = 1 if isinstance(normalized_shape, int) else len(normalized_shape)
    mean, rstd = _mean_rstd(array(input), tuple(range(input.ndim - k, input.ndim)), eps)
    return out, wrap(mean), wrap(rstd)


def native_group_norm(input, weight, bias, N, C, HxW, group, eps):
    """(output, mean, rstd) with (N, group) statistics; as in PyTorch the statistics are differentiable."""
    out = F.group_norm(input, group, weight, bias, eps)
    grouped = input.reshape(N, group, (C // group) * HxW)
    mean = grouped.mean(-1)
    rstd = (grouped.var(-1, unbiased=False) + eps).rsqrt()
    return out, mean, rstd


def native_norm(input, p=2, dim=None, keepdim=False, dtype=None):
    """A sparse-only kernel in PyTorch: dense CPU tensors have no implementation."""
    raise NotImplementedError("Could not run 'aten::native_norm' with arguments from the 'CPU' backend. This could be "
                              "because the operator doesn't exist for this backend, or was omitted during the "
                              "selective/custom build process (if using custom build).")


def norm_except_dim(v, pow=2, dim=0):
    """The norm over every dim but ``dim`` (kept as size-1 dims); ``dim=-1`` is the norm of the whole tensor.
    PyTorch's own composition (weight_norm's g), hence its transpose for a middle dim."""
    if dim == -1:
        return v.norm(pow)
    if dim == 0:
        return v.contiguous().view(v.shape[0], -1).norm(pow, 1).view([v.shape[0]] + [1] * (v.ndim - 1))
    if dim == v.ndim - 1:
        return v.contiguous().view(-1, v.shape[dim]).norm(pow, 0).view([1] * (v.ndim - 1) + [v.shape[dim]])
    return norm_except_dim(v.transpose(0, dim), pow, 0).transpose(0, dim)


# -- dropout ----------------------------------------------------------------------------------------------
def _check_probability(p):
    """ATen's check (a RuntimeError; nn.functional's is a ValueError)."""
    if not 0 <= p <= 1:
        raise RuntimeError(f"dropout probability has to be between 0 and 1, but got {p}")


def dropout(input, p, train):
    _check_probability(p)
    return F.dropout(input, p, train)


def alpha_dropout(input, p, train):
    _check_probability(p)
    return F.alpha_dropout(input, p, train)


def feature_alpha_dropout(input, p, train):
    """Channel-wise alpha dropout; the rank is only checked when something is dropped, as in ATen."""
    _check_probability(p)
    if train and p != 0 and input.numel() and input.ndim < 2:
        raise RuntimeError("Feature dropout requires at least 2 dimensions in the input")
    return F.feature_alpha_dropout(input, p, train)


def native_dropout(input, p, train):
    """(output, keep mask as bool); ``train=None`` counts as training, as in PyTorch."""
    if train is False:
        return input.clone(), wrap(np.ones(tuple(input.shape), dtype=bool))
    keep = _random.bernoulli(tuple(input.shape), 1.0 - p, layout=array(input))
    scale = 0.0 if p == 1 else 1.0 / (1.0 - p)
    return input * const(keep * scale, input), wrap(keep)


def native_channel_shuffle(input, groups):
    return F.channel_shuffle(input, groups)


# -- embeddings ---------------------------------------------------------------------------------------------
def embedding(weight, indices, padding_idx=-1, scale_grad_by_freq=False, sparse=False):
    """ATen's form: weight first; a negative ``padding_idx`` means none."""
    return F.embedding(indices, weight, padding_idx if padding_idx >= 0 else None,
                       scale_grad_by_freq=scale_grad_by_freq, sparse=sparse)


def embedding_renorm_(input, indices, max_norm, norm_type):
    """Rescales in place the rows of ``input`` named by ``indices`` whose norm exceeds ``max_norm``."""
    _sparse._renorm_(input, array(indices).astype(np.int64), max_norm, norm_type)
    return input


_BAG_MODES = ("sum", "mean", "max")


def _bag_bounds(indices, offsets, include_last_offset):
    """(start, end) of each bag over the flat indices, as PyTorch's CPU kernel reads them (the last bag runs to the
    end of the indices)."""
    n = indices.shape[0] if indices.ndim == 1 else indices.numel()
    if indices.ndim == 2:
        starts = np.arange(0, n, indices.shape[1])
    else:
        starts = array(offsets).astype(np.int64)
        if include_last_offset:
            starts = starts[:-1]
    ends = np.append(starts[1:], n) if len(starts) else starts
    return starts, ends


def _bag_aux(weight, indices, offsets, mode, include_last_offset, padding_idx):
    """PyTorch's auxiliary embedding_bag outputs: (offset2bag, bag_size, max_indices) in the indices' dtype."""
    itype = dtype_of(indices)
    flat = array(indices).reshape(-1).astype(np.int64)
    starts, ends = _bag_bounds(indices, offsets, include_last_offset)
    n_offsets = len(starts) + (1 if include_last_offset and indices.ndim == 1 else 0)
    offset2bag = np.repeat(np.arange(len(starts)), ends - starts).astype(itype)
    if mode == 0:  # sum: PyTorch's fast path (no padding, weights other than float64) leaves offset2bag empty
        zeros = np.zeros(n_offsets, dtype=itype)
        fast = padding_idx is None and dtype_of(weight) != np.float64
        return (np.zeros(0, dtype=itype) if fast else offset2bag), zeros, zeros.copy()
    keep = np.ones(len(flat), dtype=bool) if padding_idx is None else flat != padding_idx
    bag_size = np.array([keep[s:e].sum() for s, e in zip(starts, ends)], dtype=itype)
    if mode == 1:
        return offset2bag, bag_size, bag_size.copy()
    max_indices = np.zeros((len(starts), weight.shape[1]), dtype=itype)
    rows = array(weight)
    for b, (s, e) in enumerate(zip(starts, ends)):
        members = flat[s:e][keep[s:e]]
        if len(members):
            max_indices[b] = members[np.argmax(rows[members], axis=0)]
    return offset2bag, bag_size, max_indices


def embedding_bag(weight, indices, offsets, scale_grad_by_freq=False, mode=0, sparse=False, per_sample_weights=None,
                  include_last_offset=False, padding_idx=None):
    """(output, offset2bag, bag_size, max_indices); ``mode`` 0 sum, 1 mean, 2 max."""
    if padding_idx is not None and padding_idx < 0:
        padding_idx += weight.shape[0]
    output = F.embedding_bag(indices, weight, offsets if indices.ndim == 1 else None,
                             scale_grad_by_freq=scale_grad_by_freq, mode=_BAG_MODES[mode], sparse=sparse,
                             per_sample_weights=per_sample_weights, include_last_offset=include_last_offset,
                             padding_idx=padding_idx)
    aux = _bag_aux(weight, indices, offsets, mode, include_last_offset, padding_idx)
    return (output,) + tuple(wrap(a) for a in aux)


# -- losses (reduction: 0 none, 1 mean, 2 sum) --------------------------------------------------------------
def binary_cross_entropy_with_logits(input, target, weight=None, pos_weight=None, reduction=1):
    return F.binary_cross_entropy_with_logits(input, target, weight, reduction=_reduction(reduction),
                                              pos_weight=pos_weight)


def cosine_embedding_loss(input1, input2, target, margin=0.0, reduction=1):
    return F.cosine_embedding_loss(input1, input2, target, margin, reduction=_reduction(reduction))


def ctc_loss(log_probs, targets, input_lengths, target_lengths, blank=0, reduction=1, zero_infinity=False):
    return F.ctc_loss(log_probs, targets, input_lengths, target_lengths, blank, _reduction(reduction),
                      zero_infinity)


def hinge_embedding_loss(input, target, margin=1.0, reduction=1):
    return F.hinge_embedding_loss(input, target, margin, reduction=_reduction(reduction))


def kl_div(input, target, reduction=1, *, log_target=False):
    """ATen's kl_div: reduction 1 is the plain mean over all elements (F.kl_div's 'mean', without its warning)."""
    loss = F.kl_div(input, target, reduction="none", log_target=log_target)
    if reduction == 0:
        return loss
    return loss.mean() if reduction == 1 else loss.sum()


def margin_ranking_loss(input1, input2, target, margin=0.0, reduction=1):
    return F.margin_ranking_loss(input1, input2, target, margin, reduction=_reduction(reduction))


def poisson_nll_loss(input, target, log_input, full, eps, reduction):
    return F.poisson_nll_loss(input, target, log_input, full, eps=eps, reduction=_reduction(reduction))


def triplet_margin_loss(anchor, positive, negative, margin=1.0, p=2.0, eps=1e-6, swap=False, reduction=1):
    return F.triplet_margin_loss(anchor, positive, negative, margin, p, eps, swap, reduction=_reduction(reduction))


# -- convolution, padding, pooling, sampling ----------------------------------------------------------------
def constant_pad_nd(input, pad, value=0):
    return F.pad(input, pad, "constant", value)


_CONV = {(False, 1): F.conv1d, (False, 2): F.conv2d, (False, 3): F.conv3d,
         (True, 1): F.conv_transpose1d, (True, 2): F.conv_transpose2d, (True, 3): F.conv_transpose3d}


def convolution(input, weight, bias, stride, padding, dilation, transposed, output_padding, groups):
    """The generic convolution entry point: the spatial rank comes from the weight."""
    conv = _CONV[(bool(transposed), weight.ndim - 2)]
    if transposed:
        return conv(input, weight, bias, stride, padding, output_padding, groups, dilation)
    return conv(input, weight, bias, stride, padding, dilation, groups)


conv_tbc = F.conv_tbc


def adaptive_max_pool1d(input, output_size):
    return F.adaptive_max_pool1d(input, output_size, return_indices=True)


def max_pool1d_with_indices(input, kernel_size, stride=(), padding=0, dilation=1, ceil_mode=False):
    return F.max_pool1d(input, kernel_size, stride if stride not in ((), []) else None, padding, dilation, ceil_mode,
                        return_indices=True)


_INTERPOLATION = ("bilinear", "nearest", "bicubic")
_PADDING = ("zeros", "border", "reflection")


def grid_sampler(input, grid, interpolation_mode, padding_mode, align_corners):
    """F.grid_sample with ATen's integer modes: interpolation 0 bilinear, 1 nearest, 2 bicubic; padding 0 zeros,
    1 border, 2 reflection."""
    return F.grid_sample(input, grid, _INTERPOLATION[interpolation_mode], _PADDING[padding_mode], align_corners)


grid_sampler_2d = grid_sampler_3d = grid_sampler


def affine_grid_generator(theta, size, align_corners):
    return F.affine_grid(theta, size, align_corners)


# -- recurrent networks -------------------------------------------------------------------------------------
def _layer_params(params, has_biases, num_directions, projected):
    """``layer_params(layer, direction)`` over ATen's flat weight list: per layer and direction
    w_ih, w_hh[, b_ih, b_hh][, w_hr]."""
    per = 2 + 2 * has_biases + projected

    def get(layer, direction):
        group = list(params[(layer * num_directions + direction) * per:][:per])
        w_ih, w_hh = group[:2]
        b_ih, b_hh = group[2:4] if has_biases else (None, None)
        return w_ih, w_hh, b_ih, b_hh, (group[-1] if projected else None)
    return get


def _recurrence(mode, input, batch_sizes, h0, c0, params, has_biases, num_layers, dropout, train, bidirectional,
                batch_first):
    projected = c0 is not None and h0.shape[-1] != c0.shape[-1]
    x = input.transpose(0, 1) if batch_first else input
    num_directions = 2 if bidirectional else 1
    sizes = None if batch_sizes is None else array(batch_sizes)
    output, h_n, c_n = _rnn.run_layers(mode, x, sizes, h0, c0,
                                       _layer_params(params, has_biases, num_directions, projected), num_layers,
                                       num_directions, dropout, train)
    if batch_first:
        output = output.transpose(0, 1)
    return output, h_n, c_n


def _is_packed_form(second, third):
    """The ``.data`` overload (data, batch_sizes, hx, params, ...) against ``.input`` (input, hx, params, ...)."""
    return isinstance(second, Tensor) and not isinstance(third, (list, tuple))


def lstm(input, *args):
    """torch.lstm(input, hx, params, has_biases, num_layers, dropout, train, bidirectional, batch_first) or
    torch.lstm(data, batch_sizes, hx, params, has_biases, num_layers, dropout, train, bidirectional):
    (output, h_n, c_n)."""
    if isinstance(args[0], Tensor):
        batch_sizes, (h0, c0), params, *flags = args
        return _recurrence("LSTM", input, batch_sizes, h0, c0, params, *flags, False)
    (h0, c0), params, *flags = args
    return _recurrence("LSTM", input, None, h0, c0, params, *flags)


def _single_state(mode):
    def op(input, *args):
        if _is_packed_form(args[0], args[1]):
            batch_sizes, hx, params, *flags = args
            output, h_n, _ = _recurrence(mode, input, batch_sizes, hx, None, params, *flags, False)
        else:
            hx, params, *flags = args
            output, h_n, _ = _recurrence(mode, input, None, hx, None, params, *flags)
        return output, h_n
    op.__name__ = op.__qualname__ = mode.lower()
    op.__doc__ = (f"torch.{mode.lower()}(input, hx, params, has_biases, num_layers, dropout, train, bidirectional, "
                  "batch_first) or its packed (data, batch_sizes, hx, params, ...) form: (output, h_n).")
    return op


gru = _single_state("GRU")
rnn_tanh = _single_state("RNN_TANH")
rnn_relu = _single_state("RNN_RELU")


def lstm_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    """One LSTM step: (h, c) from ``hx = (h, c)``."""
    return _rnn._lstm_step(F.linear(input, w_ih, b_ih), hx[0], hx[1], w_hh, b_hh, None)


def gru_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    return _rnn._gru_step(F.linear(input, w_ih, b_ih), hx, w_hh, b_hh)


def rnn_tanh_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    return _rnn._rnn_step(F.linear(input, w_ih, b_ih), hx, w_hh, b_hh, relu=False)


def rnn_relu_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    return _rnn._rnn_step(F.linear(input, w_ih, b_ih), hx, w_hh, b_hh, relu=True)


# -- SyncBatchNorm's building blocks: per-channel reductions over (N, C, *) inputs, outside autograd ---------
def _channel_axes(x):
    return (0,) + tuple(range(2, x.ndim))


def _stats_dtype(x):
    """Statistics are kept in float32 for half-precision inputs (PyTorch's accumulate type)."""
    return np.float32 if x.dtype in (np.float16,) or x.dtype.name == "bfloat16" else x.dtype


def _per_channel(values, x):
    return values.reshape((1, -1) + (1,) * (x.ndim - 2))


def batch_norm_stats(input, eps):
    """(mean, invstd) per channel of this process's batch (biased variance)."""
    x = array(input)
    mean, rstd = _mean_rstd(x.astype(_stats_dtype(x)), _channel_axes(x), eps)
    return wrap(mean.reshape(-1)), wrap(rstd.reshape(-1))


def batch_norm_elemt(input, weight, bias, mean, invstd, eps):
    """(input - mean) * invstd * weight + bias, with the given (global) statistics."""
    x = array(input)
    out = (x - _per_channel(array(mean), x)) * _per_channel(array(invstd), x)
    if weight is not None:
        out = out * _per_channel(array(weight), x)
    if bias is not None:
        out = out + _per_channel(array(bias), x)
    return wrap(out.astype(x.dtype))


def _update_running(running_mean, running_var, mean, var, total, momentum):
    """The running statistics' momentum update (unbiased variance), in place."""
    if running_mean is not None:
        _norm._update_running(running_mean, mean, momentum)
    if running_var is not None:
        _norm._update_running(running_var, var * total / max(total - 1, 1), momentum)


def batch_norm_gather_stats_with_counts(input, mean, invstd, running_mean, running_var, momentum, eps, counts):
    """Combines the per-process (mean, invstd, count) rows into the global (mean, invstd) (parallel variance
    formula) and updates the running statistics with them."""
    n = array(counts).astype(np.float64).reshape(-1, 1)
    means = array(mean).astype(np.float64)
    variances = 1.0 / array(invstd).astype(np.float64) ** 2 - eps
    total = n.sum()
    global_mean = (n * means).sum(0) / total
    global_var = (n * (variances + (means - global_mean) ** 2)).sum(0) / total
    _update_running(running_mean, running_var, global_mean, global_var, total, momentum)
    dtype = dtype_of(mean)
    return wrap(global_mean.astype(dtype)), wrap((1.0 / np.sqrt(global_var + eps)).astype(dtype))


def batch_norm_gather_stats(input, mean, invstd, running_mean, running_var, momentum, eps, count):
    """batch_norm_gather_stats_with_counts with the same ``count`` for every process."""
    counts = wrap(np.full(mean.shape[0], count, dtype=dtype_of(mean)))
    return batch_norm_gather_stats_with_counts(input, mean, invstd, running_mean, running_var, momentum, eps, counts)


def batch_norm_backward_reduce(grad_out, input, mean, invstd, weight, input_g, weight_g, bias_g):
    """(sum_dy, sum_dy_xmu, grad_weight, grad_bias) per channel; each is None when its flag is off."""
    g, x = array(grad_out), array(input)
    axes = _channel_axes(x)
    sum_dy = g.sum(axis=axes)
    sum_dy_xmu = (g * (x - _per_channel(array(mean), x))).sum(axis=axes)
    grad_weight = wrap(sum_dy_xmu * array(invstd)) if weight_g else None
    grad_bias = wrap(sum_dy.copy()) if bias_g else None
    if not input_g:
        return None, None, grad_weight, grad_bias
    return wrap(sum_dy), wrap(sum_dy_xmu), grad_weight, grad_bias


def batch_norm_backward_elemt(grad_out, input, mean, invstd, weight, sum_dy, sum_dy_xmu, count):
    """The input gradient from the global sums: (dy - mean_dy - (x - mean) * invstd^2 * mean_dy_xmu) * invstd * w."""
    g, x = array(grad_out), array(input)
    total = array(count).astype(np.float64).sum()
    rstd = _per_channel(array(invstd), x)
    mean_dy = _per_channel(array(sum_dy) / total, x)
    mean_dy_xmu = _per_channel(array(sum_dy_xmu) / total, x)
    scale = rstd if weight is None else rstd * _per_channel(array(weight), x)
    grad = (g - mean_dy - (x - _per_channel(array(mean), x)) * rstd * rstd * mean_dy_xmu) * scale
    return wrap(grad.astype(x.dtype))


def batch_norm_update_stats(input, running_mean, running_var, momentum):
    """(mean, biased variance) per channel of ``input``; the running statistics take the momentum update."""
    x = array(input)
    axes = _channel_axes(x)
    mean = x.mean(axis=axes, dtype=np.float64)
    var = x.var(axis=axes, dtype=np.float64)
    total = x.size // x.shape[1] if x.shape[1] else 0
    _update_running(running_mean, running_var, mean, var, total, momentum)
    return wrap(mean.astype(x.dtype)), wrap(var.astype(x.dtype))
