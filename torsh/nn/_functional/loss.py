"""Loss functions of nn.functional, composed of torsh ops (nll_loss is an op of its own)."""
import math

import numpy as np

from ..._array_api import array, dtype_of
from ... import _dtype
from ..._autocast import float32_policy
from ..._warnings import warn as user_warning
from ..._ops._helpers import NamedNode, broadcast_shapes, dtype_name
from ..._ops.nn import loss as nn_loss
from ..._ops.tensor.elementwise import arithmetic as pointwise
from ..._ops.transforms.batched_tensor import BatchedTensor
from ..._tensor import Tensor, wrap
from ...autograd import grad_mode
from ...autograd.graph import needs_grad, record
from . import activation as A
from .linear import linear
from ._utils import cast_error, check_reduction, const, reduce_loss, reduction_from_legacy, require_float_kernel

__all__ = ["mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss", "nll_loss", "cross_entropy",
           "binary_cross_entropy", "binary_cross_entropy_with_logits", "kl_div", "margin_ranking_loss",
           "hinge_embedding_loss", "multilabel_margin_loss", "multilabel_soft_margin_loss", "multi_margin_loss",
           "soft_margin_loss", "cosine_embedding_loss", "triplet_margin_loss", "triplet_margin_with_distance_loss",
           "poisson_nll_loss", "gaussian_nll_loss", "pairwise_distance", "cosine_similarity", "ctc_loss", "pdist",
           "linear_cross_entropy"]


def _reduce_weighted(loss, weight, reduction):
    """``reduce_loss`` of the elementwise ``loss``, scaled by ``weight`` first when one is given."""
    return reduce_loss(loss if weight is None else loss * weight, reduction)


def _per_element_weighted(loss, weight, input, reduction, mean_over_weights):
    """mse/l1/huber_loss's ``weight`` (PyTorch composes these in Python): one weight per element of input;
    'mean' divides the weighted sum by the weights' sum (mse, l1) or by the count (huber)."""
    if tuple(weight.shape) != tuple(input.shape):
        raise ValueError("Weights and input must have the same size.")
    if reduction == "mean" and mean_over_weights:
        return (loss * weight).sum() / weight.sum()
    return _reduce_weighted(loss, weight, reduction)


class _PointwiseLossBackward(NamedNode):
    """The backward of a pointwise loss as the one node PyTorch records (MseLossBackward0, ...).
    ``derivatives(x, t, need_x, need_t)`` gives d loss / d input and d loss / d target per element (None where
    not needed), in torsh ops: a double backward differentiates them."""

    def backward(self, grad):
        x, t = self.saved_tensors
        if self.reduction == "mean":
            grad = grad / x.numel()
        if self.weight is not None:
            grad = grad * self.weight
        d_input, d_target = self.derivatives(x, t, self.next_functions[0][0] is not None,
                                             self.next_functions[1][0] is not None)
        return (None if d_input is None else grad * d_input, None if d_target is None else grad * d_target)


def _pointwise_loss(node_name, elementwise, derivatives, input, target, weight, reduction, constants=()):
    """``elementwise(input, target)`` weighted and reduced, recorded as one ``node_name`` node. Operands of
    different shapes, a weight that broadcasts them, weights / ``constants`` that need a gradient themselves, and
    batched operands (torsh.func's transforms) keep the graph of the composed ops (the same values and
    gradients)."""
    loss_of = lambda: _reduce_weighted(elementwise(input, target), weight, reduction)  # noqa: E731
    shape = tuple(input.shape)
    if (isinstance(input, BatchedTensor) or isinstance(target, BatchedTensor)  # under a transform: composed
            or not needs_grad(input, target) or needs_grad(weight, *constants) or tuple(target.shape) != shape
            or (weight is not None and tuple(broadcast_shapes(tuple(weight.shape), shape)) != shape)):
        return loss_of()
    with grad_mode.no_grad():
        loss = loss_of()
    node = _PointwiseLossBackward(node_name)
    node.derivatives, node.weight, node.reduction = derivatives, weight, reduction
    record(node, (input, target), (loss,))
    node.save_for_backward(input, target)
    return loss


def _mse_derivatives(x, t, need_x, need_t):
    d = (x - t) * 2
    return (d if need_x else None), (-d if need_t else None)


def _broadcast_warning(name, input, target):
    if tuple(target.shape) != tuple(input.shape):
        user_warning(f"Using a target size ({target.shape}) that is different to the input size ({input.shape}). "
                     "This will likely lead to incorrect results due to broadcasting. Please ensure they have the "
                     "same size.")


def _promoted_as_expanded(input, target):
    """PyTorch's mse/l1/smooth_l1 losses broadcast the operands before computing: a 0-d float64 target
    promotes a float32 input as a full tensor would (the result is float64)."""
    if isinstance(target, Tensor) and isinstance(input, Tensor) and target.dtype is not input.dtype:
        common = _dtype.promote_types(input.dtype, target.dtype)
        input, target = input.to(common), target.to(common)
    return _expanded(input, target)


def _expanded(input, target):
    """input and target expanded to their broadcast shape (torch.broadcast_tensors: an ExpandBackward0 node for
    an operand that grows, none for one that keeps its shape)."""
    if not (isinstance(target, Tensor) and isinstance(input, Tensor)) or tuple(target.shape) == tuple(input.shape):
        return input, target
    shape = tuple(broadcast_shapes(tuple(input.shape), tuple(target.shape)))
    return (input if tuple(input.shape) == shape else input.expand(shape),
            target if tuple(target.shape) == shape else target.expand(shape))


def _operands(name, input, target, size_average, reduce, reduction, kernel=None):
    """(input, target, reduction) for mse_loss / l1_loss: the legacy reduction arguments resolved and checked,
    PyTorch's broadcast warning, mixed dtypes promoted and the operands expanded to one shape (and, with
    ``kernel``, required to be floating)."""
    reduction = reduction_from_legacy(size_average, reduce, reduction)
    check_reduction(reduction)
    _broadcast_warning(name, input, target)
    input, target = _promoted_as_expanded(input, target)
    if kernel is not None:
        require_float_kernel(kernel, input.dtype)
    return input, target, reduction


@float32_policy
def mse_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    original = input
    input, target, reduction = _operands("mse_loss", input, target, size_average, reduce, reduction,
                                         kernel="mse_cpu")
    if weight is not None:
        return _per_element_weighted((input - target) ** 2, weight, original, reduction, mean_over_weights=True)
    return _pointwise_loss("MseLossBackward0", lambda x, t: (x - t) ** 2, _mse_derivatives, input, target, None,
                           reduction)


@float32_policy
def l1_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    original = input
    input, target, reduction = _operands("l1_loss", input, target, size_average, reduce, reduction)
    if weight is not None:
        return _per_element_weighted((input - target).abs(), weight, original, reduction, mean_over_weights=True)
    return reduce_loss((input - target).abs(), reduction)


@float32_policy
def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean", beta=1.0):
    reduction = reduction_from_legacy(size_average, reduce, reduction)
    check_reduction(reduction)
    if beta < 0:
        raise RuntimeError("smooth_l1_loss does not support negative values for beta.")
    _broadcast_warning("smooth_l1_loss", input, target)
    input, target = _promoted_as_expanded(input, target)
    require_float_kernel("smooth_l1_cpu", input.dtype)
    if beta == 0:
        return l1_loss(input, target, reduction=reduction)

    def elementwise(x, t):
        diff = x - t
        d = diff.abs()
        return pointwise.where(d < beta, diff * diff * (0.5 / beta), d - 0.5 * beta)

    def derivatives(x, t, need_x, need_t):
        d = ((x - t) / beta).clamp(-1, 1)
        return (d if need_x else None), (-d if need_t else None)
    return _pointwise_loss("SmoothL1LossBackward0", elementwise, derivatives, input, target, None, reduction)


@float32_policy
def huber_loss(input, target, reduction="mean", delta=1.0, weight=None):
    check_reduction(reduction)
    _broadcast_warning("huber_loss", input, target)
    if isinstance(target, Tensor) and target.dtype is not input.dtype:  # PyTorch's result has input's dtype
        common = _dtype.promote_types(input.dtype, target.dtype)
        if not _dtype.can_cast(common, input.dtype):
            raise cast_error(common, input.dtype)
        target = target.to(input.dtype)
    require_float_kernel("huber_cpu", input.dtype)
    original, (input, target) = input, _expanded(input, target)

    def elementwise(x, t):
        diff = x - t
        d = diff.abs()
        return pointwise.where(d < delta, diff * diff * 0.5, (d - 0.5 * delta) * delta)

    def derivatives(x, t, need_x, need_t):
        d = (x - t).clamp(-delta, delta)
        return (d if need_x else None), (-d if need_t else None)
    if weight is not None:
        return _per_element_weighted(elementwise(input, target), weight, original, reduction, mean_over_weights=False)
    return _pointwise_loss("HuberLossBackward0", elementwise, derivatives, input, target, None, reduction)


@float32_policy
def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean"):
    reduction = reduction_from_legacy(size_average, reduce, reduction)
    check_reduction(reduction)
    return nn_loss.nll_loss(input, target, weight, ignore_index, reduction)


@float32_policy
def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
                  reduction="mean", label_smoothing=0.0):
    reduction = reduction_from_legacy(size_average, reduce, reduction)
    check_reduction(reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise RuntimeError(f"label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}")
    if tuple(target.shape) == tuple(input.shape):  # class probabilities: checked before log_softmax, as ATen
        if not target.dtype.is_floating_point:
            raise RuntimeError("Expected floating point type for target with class probabilities, got "
                               f"{dtype_name(target.dtype)}")
        if ignore_index >= 0:
            raise RuntimeError("ignore_index is not supported for floating point target")
    if input.ndim <= 2 and not target.dtype.is_floating_point:  # one fused kernel when the dispatcher picks it
        return nn_loss.cross_entropy(input, target, weight, ignore_index, reduction, label_smoothing,
                                     lambda: _cross_entropy(input, target, weight, ignore_index, reduction,
                                                            label_smoothing))
    return _cross_entropy(input, target, weight, ignore_index, reduction, label_smoothing)


def _cross_entropy(input, target, weight, ignore_index, reduction, label_smoothing):
    """log_softmax then nll_loss, as PyTorch composes them."""
    class_dim = 0 if input.ndim == 1 else 1
    logp = A.log_softmax(input, class_dim)
    n_classes = input.shape[class_dim]
    w_shape = [1] * input.ndim
    w_shape[class_dim] = n_classes
    if tuple(target.shape) == tuple(input.shape):  # class probabilities (PyTorch decides by shape)
        if not target.dtype.is_floating_point:
            raise RuntimeError("Expected floating point type for target with class probabilities, got "
                               f"{dtype_name(target.dtype)}")
        if label_smoothing > 0:
            target = target * (1 - label_smoothing) + label_smoothing / n_classes
        prod = logp * target
        if weight is not None:
            prod = prod * weight.reshape(w_shape)
        loss = -prod.sum(class_dim)
        if reduction == "mean":
            return loss.sum() / (input.numel() / n_classes) if input.numel() else loss.sum() / 0.0
        return reduce_loss(loss, reduction)
    nll = nn_loss.nll_loss(logp, target, weight, ignore_index, reduction)
    if label_smoothing == 0:
        return nll
    ignore = target == ignore_index
    smooth = -(logp * weight.reshape(w_shape)).sum(class_dim) if weight is not None else -logp.sum(class_dim)
    smooth = smooth.masked_fill(ignore, 0.0)
    if reduction == "mean":
        if weight is not None:
            kept = array(target)[~array(ignore)].reshape(-1)
            smooth = smooth.sum() / float(array(weight)[kept].sum())
        else:
            smooth = smooth.sum() / float((~array(ignore)).sum())
    elif reduction == "sum":
        smooth = smooth.sum()
    return nll * (1 - label_smoothing) + smooth * (label_smoothing / n_classes)


@float32_policy
def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None, reduction="mean"):
    reduction = reduction_from_legacy(size_average, reduce, reduction)
    check_reduction(reduction)
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(f"Using a target size ({target.shape}) that is different to the input size "
                         f"({input.shape}) is deprecated. Please ensure they have the same size.")
    if target.dtype is not input.dtype:
        raise RuntimeError(f"Found dtype {dtype_name(target.dtype)} but expected {dtype_name(input.dtype)}")
    require_float_kernel("binary_cross_entropy", input.dtype)
    x = array(input)
    if x.size and (np.any(x < 0) or np.any(x > 1) or np.any(np.isnan(x))):
        raise RuntimeError("all elements of input should be between 0 and 1")
    # PyTorch clamps the logs at -100 so that 0 * log(0) stays finite
    loss = -(target * input.log().clamp_min(-100) + (1 - target) * (1 - input).log().clamp_min(-100))
    return _reduce_weighted(loss, weight, reduction)


@float32_policy
def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None, reduce=None,
                                     reduction="mean", pos_weight=None):
    reduction = reduction_from_legacy(size_average, reduce, reduction)
    check_reduction(reduction)
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(f"Target size ({target.shape}) must be the same as input size ({input.shape})")
    _check_logits_dtypes(input, target)
    # -logsigmoid(x) = log(1 + e^-x), stably; its gradient at x = 0 is sigmoid(0) - 1 as in PyTorch's formula
    # (the max(-x, 0) + log1p(e^-|x|) spelling differentiates to the wrong subgradient there)

    def elementwise(x, t):
        if pos_weight is not None:
            log_weight = (pos_weight - 1) * t + 1
            loss = (1 - t) * x - log_weight * A.logsigmoid(x)
        else:
            loss = (1 - t) * x - A.logsigmoid(x)
        return loss if loss.dtype is t.dtype else loss.to(t.dtype)  # PyTorch accumulates in place into (1 - t)

    def derivatives(x, t, need_x, need_t):
        if pos_weight is None:  # d/dx = sigmoid(x) - t, d/dt = -x
            return (x.sigmoid() - t if need_x else None), (-x if need_t else None)
        d_x = ((pos_weight - 1) * t + 1) * x.sigmoid() - pos_weight * t if need_x else None
        d_t = (1 - pos_weight) * A.logsigmoid(x) - x if need_t else None
        return d_x, d_t
    return _pointwise_loss("BinaryCrossEntropyWithLogitsBackward0", elementwise, derivatives, input, target,
                           weight, reduction, constants=(pos_weight,))


def _check_logits_dtypes(input, target):
    """PyTorch's errors for binary_cross_entropy_with_logits' dtypes: log_sigmoid(input) is computed first, then
    (1 - target) multiplied in place by input, so the result has target's dtype."""
    require_float_kernel("log_sigmoid_cpu", input.dtype)
    if target.dtype is _dtype.bool:
        raise RuntimeError("Subtraction, the `-` operator, with two bool tensors is not supported. "
                           "Use the `^` or `logical_xor()` operator instead.")
    common = _dtype.promote_types(input.dtype, target.dtype)
    if not _dtype.can_cast(common, target.dtype):
        raise cast_error(common, target.dtype)


@float32_policy
def kl_div(input, target, size_average=None, reduce=None, reduction="mean", log_target=False):
    reduction = reduction_from_legacy(size_average, reduce, reduction)
    if input.dtype.is_complex or target.dtype.is_complex:
        raise RuntimeError("kl_div: Complex inputs not supported.")
    if not (input.dtype.is_floating_point and target.dtype.is_floating_point):
        raise RuntimeError("kl_div: Integral inputs not supported.")
    if reduction == "mean":
        user_warning("reduction: 'mean' divides the total loss by both the batch size and the support size."
                     "'batchmean' divides only by the batch size, and aligns with the KL div math definition."
                     "'mean' will be changed to behave the same as 'batchmean' in the next major release.")
    if log_target:
        loss = target.exp() * (target - input)
    else:
        tiny = np.finfo(dtype_of(target)).tiny if target.dtype.is_floating_point else 1e-38
        loss = target * target.clamp_min(float(tiny)).log() - target * input  # xlogy(t, t) - t * input
    if reduction == "batchmean":
        return loss.sum() / input.shape[0] if input.ndim else loss.sum()
    check_reduction(reduction)
    return reduce_loss(loss, reduction)


@float32_policy
def margin_ranking_loss(input1, input2, target, margin=0.0, size_average=None, reduce=None, reduction="mean"):
    reduction = reduction_from_legacy(size_average, reduce, reduction)
    check_reduction(reduction)
    if input1.ndim != input2.ndim or input1.ndim != target.ndim:
        raise RuntimeError(f"margin_ranking_loss : All input tensors should have same dimension but got sizes: "
                           f"input1: {input1.shape}, input2: {input2.shape}, target: {target.shape} ")
    diff = input1 - input2  # first, as PyTorch (its error for bool inputs names the subtraction)
    loss = (-target * diff + margin).clamp_min(0)
    return reduce_loss(loss, reduction)


@float32_policy
def hinge_embedding_loss(input, target, margin=1.0, size_average=None, reduce=None, reduction="mean"):
    reduction = reduction_from_legacy(size_average, reduce, reduction)
    check_reduction(reduction)
    # PyTorch's margin - input fills a tensor of input's dtype with margin first (integers stay integers)
    zeros = input.new_zeros(input.shape)
    margin_clamp = (input.new_full(input.shape, margin) - input).clamp_min(0)
    output_margin = pointwise.where(target != 1, margin_clamp, zeros)
    output_self = pointwise.where(target != -1, input, zeros)
    return reduce_loss(output_margin + output_self, reduction)


@float32_policy
def multilabel_margin_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    reduction = reduction_from_legacy(size_average, reduce, reduction)
    check_reduction(reduction)
    _check_margin_input(input)
    if (target.shape != input.shape if input.ndim == 2 else target.ndim > 1 or target.numel() != input.numel()):
        raise RuntimeError(f"inconsistent target size: {list(target.shape)} for input of size: {list(input.shape)}")
    _check_margin_dtypes("multilabel_margin_loss_forward_out_frame", input, target)
    squeeze = input.ndim <= 1
    x = input.reshape(1, -1) if squeeze else input
    t = array(target).reshape(1, -1) if squeeze else array(target)
    n, c = x.shape
    # targets are the leading entries of each row up to the first -1
    stop = np.cumsum(t < 0, axis=1) > 0
    is_target = np.zeros((n, c), dtype=bool)
    rows, cols = np.nonzero(~stop)
    is_target[rows, t[rows, cols]] = True
    pair_mask = is_target[:, :, None] & ~is_target[:, None, :]  # (j a target, i not a target)
    margins = (1 - x.unsqueeze(2) + x.unsqueeze(1)).clamp_min(0)
    loss = (margins * const(pair_mask, x)).sum((1, 2)) / c
    if squeeze:
        loss = loss.reshape(())
    return reduce_loss(loss, reduction)


def multilabel_soft_margin_loss(input, target, weight=None, size_average=None, reduce=None, reduction="mean"):
    reduction = reduction_from_legacy(size_average, reduce, reduction)
    check_reduction(reduction)
    loss = -(target * A.logsigmoid(input) + (1 - target) * A.logsigmoid(-input))
    if weight is not None:
        loss = loss * weight
    if input.ndim == 0:
        raise IndexError("Dimension specified as -1 but tensor has no dimensions")
    class_dim = input.ndim - 1
    loss = loss.sum(class_dim) / input.shape[class_dim]
    return reduce_loss(loss, reduction)


def _check_margin_input(input):
    """The input check of PyTorch's multi_margin_loss / multilabel_margin_loss kernels."""
    if not (input.ndim == 0 or input.ndim in (1, 2) and input.shape[-1] != 0):
        raise RuntimeError("Expected non-empty vector or matrix with optional 0-dim batch size, but got: "
                           f"{list(input.shape)}")


def _check_margin_dtypes(kernel, input, target):
    require_float_kernel(kernel, input.dtype)
    if target.dtype is not _dtype.int64:
        raise RuntimeError(f"expected scalar type Long but found {dtype_name(target.dtype)}")


def _check_multi_margin(input, target, weight):
    """PyTorch's multi_margin_loss_shape_check, then its kernel's dtype checks."""
    _check_margin_input(input)
    frames = input.shape[0] if input.ndim == 2 else 1
    if target.ndim > 1 or target.numel() != frames:
        raise RuntimeError("multi_margin_loss: target tensor should be 1-D with size equal to the number of input "
                           f"samples (batch size). Expected target size [{frames}], but got {list(target.shape)}. "
                           f"Input has shape {list(input.shape)}.")
    classes = input.shape[-1] if input.ndim else 1
    if weight is not None and (weight.ndim > 1 or weight.numel() != classes):
        raise RuntimeError(f"inconsistent weight size, expected {classes} but got {list(weight.shape)}")
    _check_margin_dtypes("multi_margin_loss_cpu_kernel", input, target)


@float32_policy
def multi_margin_loss(input, target, p=1, margin=1.0, weight=None, size_average=None, reduce=None,
                      reduction="mean"):
    reduction = reduction_from_legacy(size_average, reduce, reduction)
    check_reduction(reduction)
    if p not in (1, 2):
        raise ValueError("only p == 1 and p == 2 supported")
    if weight is not None and weight.ndim != 1:
        raise ValueError("weight must be one-dimensional")
    _check_multi_margin(input, target, weight)
    squeeze = input.ndim <= 1
    x = input.reshape(1, -1) if squeeze else input
    t = array(target).reshape(-1)
    n, c = x.shape
    if t.size and (t.min() < 0 or t.max() >= c):
        raise RuntimeError("target out of range")
    onehot = np.zeros((n, c), dtype=bool)
    onehot[np.arange(n), t] = True
    x_y = (x * const(onehot, x)).sum(1, keepdim=True)
    m = (x - x_y + margin).clamp_min(0)
    if p == 2:
        m = m * m
    if weight is not None:
        m = m * const(array(weight)[t].reshape(n, 1), x) if not weight.requires_grad else m * weight[wrap(t)].reshape(n, 1)
    loss = (m * const(~onehot, x)).sum(1) / c
    if squeeze:
        loss = loss.reshape(())
    return reduce_loss(loss, reduction)


@float32_policy
def soft_margin_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    reduction = reduction_from_legacy(size_average, reduce, reduction)
    check_reduction(reduction)
    z = _soft_margin_exponent(input, target)
    loss = z.clamp_min(0) + (-z.abs()).exp().log1p()  # log(1 + exp(z)), stably
    return reduce_loss(loss, reduction)


def _soft_margin_exponent(input, target):
    """-input * target with PyTorch's checks: it computes neg_out(output, input).mul_(target).exp_() into an
    output of input's shape and dtype."""
    z = input.neg() * target
    if tuple(z.shape) != tuple(input.shape):
        raise RuntimeError(f"output with shape {list(input.shape)} doesn't match the broadcast shape "
                           f"{list(z.shape)}")
    if not _dtype.can_cast(z.dtype, input.dtype):
        raise cast_error(z.dtype, input.dtype)
    if not input.dtype.is_floating_point and not input.dtype.is_complex:  # exp_ of an integer output
        raise cast_error(_dtype.get_default_dtype(), input.dtype)
    return z if z.dtype is input.dtype else z.to(input.dtype)


@float32_policy
def cosine_embedding_loss(input1, input2, target, margin=0.0, size_average=None, reduce=None, reduction="mean"):
    reduction = reduction_from_legacy(size_average, reduce, reduction)
    check_reduction(reduction)
    eps = 1e-12
    dim = input1.ndim - 1
    prod_sum = (input1 * input2).sum(dim)
    mag1 = (input1 * input1).sum(dim) + eps
    mag2 = (input2 * input2).sum(dim) + eps
    cos = prod_sum / (mag1 * mag2).sqrt()
    zeros = cos * 0
    pos = 1 - cos
    neg = (cos - margin).clamp_min(0)
    loss = pointwise.where(target == 1, pos, zeros) + pointwise.where(target == -1, neg, zeros)
    return reduce_loss(loss, reduction)


def pairwise_distance(x1, x2, p=2.0, eps=1e-6, keepdim=False):
    diff = x1 - x2 + eps
    dim = max(x1.ndim, x2.ndim) - 1
    if p == 2:
        return (diff * diff).sum(dim, keepdim=keepdim).sqrt()
    return diff.norm(p, dim, keepdim)


def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    common = _dtype.result_type_of(x1, x2)
    if not common.is_floating_point:
        raise RuntimeError(f"expected common dtype to be floating point, yet common dtype is {dtype_name(common)}")
    # integer (and bool) inputs are cast to the common dtype, then both broadcast before the norms
    x1, x2 = (x if x.dtype.is_floating_point else x.to(common) for x in (x1, x2))
    shape = broadcast_shapes(x1.shape, x2.shape)
    x1, x2 = x1.expand(shape), x2.expand(shape)
    n1 = (x1 * x1).sum(dim, keepdim=True).sqrt().clamp_min(eps)
    n2 = (x2 * x2).sum(dim, keepdim=True).sqrt().clamp_min(eps)
    return ((x1 / n1) * (x2 / n2)).sum(dim)


@float32_policy
def triplet_margin_loss(anchor, positive, negative, margin=1.0, p=2, eps=1e-6, swap=False, size_average=None,
                        reduce=None, reduction="mean"):
    reduction = reduction_from_legacy(size_average, reduce, reduction)
    check_reduction(reduction)
    _check_triplet(anchor, positive, negative, margin)
    d_ap = pairwise_distance(anchor, positive, p, eps)
    d_an = pairwise_distance(anchor, negative, p, eps)
    if swap:
        d_an = pointwise.minimum(d_an, pairwise_distance(positive, negative, p, eps))
    loss = (d_ap - d_an + margin).clamp_min(0)
    return reduce_loss(loss, reduction)


def _check_triplet(anchor, positive, negative, margin):
    if margin <= 0:
        raise ValueError(f"margin must be greater than 0, got {margin}")
    dims = (anchor.ndim, positive.ndim, negative.ndim)
    if len(set(dims)) != 1:
        raise RuntimeError("The anchor, positive, and negative tensors are expected to have the same number of "
                           f"dimensions, but got: anchor {dims[0]}D, positive {dims[1]}D, and negative "
                           f"{dims[2]}D inputs")


def triplet_margin_with_distance_loss(anchor, positive, negative, *, distance_function=None, margin=1.0,
                                      swap=False, reduction="mean"):
    check_reduction(reduction)
    _check_triplet(anchor, positive, negative, margin)
    dist = distance_function if distance_function is not None else pairwise_distance
    d_ap = dist(anchor, positive)
    d_an = dist(anchor, negative)
    if swap:
        d_an = pointwise.minimum(d_an, dist(positive, negative))
    loss = (d_ap - d_an + margin).clamp_min(0)
    return reduce_loss(loss, reduction)


@float32_policy
def poisson_nll_loss(input, target, log_input=True, full=False, size_average=None, eps=1e-8, reduce=None,
                     reduction="mean"):
    reduction = reduction_from_legacy(size_average, reduce, reduction)
    check_reduction(reduction)
    if log_input:
        loss = input.exp() - target * input
    else:
        loss = input - target * (input + eps).log()
    if full:  # PyTorch's composition, so that the target's gradient includes the Stirling term
        stirling = target * target.log() - target + 0.5 * (2 * math.pi * target).log()
        loss = loss + stirling.masked_fill(target <= 1, 0)
    return reduce_loss(loss, reduction)


def gaussian_nll_loss(input, target, var, full=False, eps=1e-6, reduction="mean"):
    if isinstance(var, (int, float)):
        if var < 0:
            raise ValueError("var has negative entry/entries")
        var = const(np.full(input.shape, var), input)
    elif np.any(array(var) < 0):
        raise ValueError("var has negative entry/entries")
    if tuple(var.shape) != tuple(input.shape):
        if tuple(input.shape[:-1]) == tuple(var.shape):
            var = var.unsqueeze(-1)
        elif input.ndim == var.ndim and sum(v for i, v in zip(input.shape, var.shape) if i != v) == 1:
            pass  # one mismatched dimension of size 1 in var: broadcast
        else:
            raise ValueError("var is of incorrect size")
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(reduction + " is not valid")
    if not var.dtype.is_floating_point:  # PyTorch clamps (a clone of) var in place with the float eps
        raise RuntimeError("result type Float can't be cast to the desired output type "
                           f"{_dtype.C_TYPE_NAMES[var.dtype.name]}")
    # clamp without letting the clamp stop the gradient, as PyTorch does
    with grad_mode.no_grad():
        shift = var.clamp_min(eps) - var
    var = var + shift
    loss = 0.5 * (var.log() + (input - target) ** 2 / var)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return reduce_loss(loss, reduction)


def _ctc_lengths(lengths, name):
    """input_lengths / target_lengths as an int64 array: a tensor must hold integers (PyTorch's error)."""
    if isinstance(lengths, Tensor):
        if lengths.is_floating_point() or lengths.is_complex():
            raise RuntimeError(f"{name} must be integral")
        return array(lengths).astype(np.int64).reshape(-1)
    return np.asarray(lengths, dtype=np.int64).reshape(-1)


@float32_policy
def ctc_loss(log_probs, targets, input_lengths, target_lengths, blank=0, reduction="mean", zero_infinity=False):
    """Connectionist temporal classification loss; targets padded (N, S) or concatenated (sum(target_lengths),)."""
    from ..._ops.nn import ctc_loss as nn_ctc
    check_reduction(reduction)
    unbatched = log_probs.ndim == 2
    lp = log_probs.unsqueeze(1) if unbatched else log_probs
    in_len, tgt_len = _ctc_lengths(input_lengths, "input_lengths"), _ctc_lengths(target_lengths, "target_lengths")
    if log_probs.numel() == 0:
        raise RuntimeError("log_probs tensor must not be empty")
    if lp.ndim != 3:
        raise RuntimeError(f"Expected 3-dimensional tensor, but got {lp.ndim + 1}-dimensional tensor for argument #1 "
                           "'log_probs' (while checking arguments for ctc_loss_allocate_outputs)")
    require_float_kernel("ctc_loss_cpu", log_probs.dtype)
    T, n, C = lp.shape
    if not 0 <= blank < C:
        raise RuntimeError("blank must be in label range")
    if in_len.shape[0] != n:
        raise RuntimeError("input_lengths must be of size batch_size")
    if tgt_len.shape[0] != n:
        raise RuntimeError("target_lengths must be of size batch_size")
    tgt = array(targets).astype(np.int64)
    where = "(while checking arguments for ctc_loss_allocate_outputs)"
    if tgt.ndim == 1 and not unbatched:  # concatenated targets
        if tgt.shape[0] != int(tgt_len.sum()):
            raise RuntimeError(f"Expected tensor to have size {int(tgt_len.sum())} at dimension 0, but got size "
                               f"{tgt.shape[0]} for argument #2 'targets' {where}")
    elif tgt.ndim >= 2 and n and tgt.shape[1] < int(tgt_len.max()):
        raise RuntimeError(f"Expected tensor to have size at least {int(tgt_len.max())} at dimension 1, but got size "
                           f"{tgt.shape[1]} for argument #2 'targets' {where}")
    for name, lengths, most in (("input_lengths", in_len, T), ("target_lengths", tgt_len, None)):
        if n and lengths.min() < 0:
            raise RuntimeError(f"Expected {name} to have value at least 0, but got value {int(lengths.min())} {where}")
        if most is not None and n and lengths.max() > most:
            raise RuntimeError(f"Expected {name} to have value at most {most}, but got value {int(lengths.max())} "
                               f"{where}")
    if tgt.ndim == 1 and not unbatched:
        offsets = np.concatenate([[0], np.cumsum(tgt_len)])
        padded = np.zeros((n, max(int(tgt_len.max()) if n else 0, 1)), dtype=np.int64)
        for i in range(n):
            padded[i, :tgt_len[i]] = tgt[offsets[i]:offsets[i + 1]]
        tgt = padded
    elif unbatched:
        tgt = tgt.reshape(1, -1)
    losses = nn_ctc.ctc_loss(lp, tgt, in_len, tgt_len, blank, zero_infinity)
    if reduction == "mean":
        divisor = const(np.maximum(tgt_len, 1), losses)
        return (losses / divisor).mean()
    if reduction == "sum":
        return losses.sum()
    return losses.squeeze(0) if unbatched else losses


def pdist(input, p=2):
    """Distances between all row pairs i < j of an (N, M) input, in row-major pair order."""
    if input.ndim != 2:
        raise RuntimeError(f"pdist only supports 2D tensors, got: {input.ndim}D")
    if not input.dtype.is_floating_point:
        raise RuntimeError("pdist only supports floating-point dtypes")
    if p < 0:
        raise RuntimeError("pdist only supports non-negative p values")
    i, j = np.triu_indices(input.shape[0], k=1)
    diff = input[wrap(i)] - input[wrap(j)]
    if p == 2:
        return (diff * diff).sum(1).sqrt()
    return diff.norm(p, 1)


def _check_linear_cross_entropy(input, linear_weight, linear_bias, num_classes, out_features):
    if input.ndim < 1 or input.ndim > 2:
        raise RuntimeError(f"expected input with dimensionality 1 or 2, got {input.ndim}")
    if linear_weight.ndim < 2:
        raise RuntimeError(f"expected linear_weight with dimensionality at least 2, got {linear_weight.ndim}")
    if input.shape[-1] != linear_weight.shape[-1]:
        raise RuntimeError("expected equal input and linear_weight last dimensions (in_features), "
                         f"got {input.shape[-1]} and {linear_weight.shape[-1]}, respectively")
    if linear_bias is not None and tuple(linear_bias.shape) != (num_classes, *out_features):
        raise RuntimeError(f"expected linear_bias shape {(num_classes, *out_features)}, got {tuple(linear_bias.shape)}")
    if out_features and input.ndim == 1:
        raise RuntimeError(f"K-dimensional loss defined by linear_weight shape {tuple(linear_weight.shape)} requires"
                         f" batched input, (N, {input.shape[-1]}), got unbatched input with shape {tuple(input.shape)}")


def linear_cross_entropy(input, linear_weight, target, *, linear_bias=None, weight=None, reduction="mean",
                         ignore_index=None, label_smoothing=0.0, options=None):
    """cross_entropy(linear(input, linear_weight, linear_bias), target, ...) with the logits shaped
    (*batch, C, *out_features). torsh always runs this reference path: ``options`` (PyTorch's batch-chunked
    implementation) only saves memory there, with the same result."""
    num_classes, out_features = linear_weight.shape[0], tuple(linear_weight.shape[1:-1])
    _check_linear_cross_entropy(input, linear_weight, linear_bias, num_classes, out_features)
    logits_shape = (*input.shape[:-1], num_classes, *out_features)
    if tuple(target.shape) == logits_shape and ignore_index is not None:
        raise RuntimeError("ignore_index cannot be specified when target contains probabilities")
    ignore_index = -100 if ignore_index is None else ignore_index
    if options is not None and (out_features or reduction not in ("mean", "sum", "none") or label_smoothing != 0.0
                                or target.dtype is not _dtype.int64):
        user_warning("linear_cross_entropy: ``options`` ignored; chunked path needs reduction in "
                     "{'mean','sum','none'}, label_smoothing == 0, target.dtype == int64, out_features == (). Got "
                     f"reduction={reduction!r}, label_smoothing={label_smoothing}, target.dtype={target.dtype}, "
                     f"out_features={out_features}, tracing=False, linear_bias.shape="
                     f"{tuple(linear_bias.shape) if linear_bias is not None else None}.")
    if out_features:
        linear_weight = linear_weight.reshape(math.prod(out_features, start=num_classes), input.shape[-1])
        if linear_bias is not None:
            linear_bias = linear_bias.reshape(math.prod(out_features, start=num_classes))
    logits = linear(input, linear_weight, linear_bias).reshape(logits_shape)
    return cross_entropy(logits, target, weight=weight, reduction=reduction, ignore_index=ignore_index,
                         label_smoothing=label_smoothing)
