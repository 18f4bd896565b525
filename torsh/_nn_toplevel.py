"""The torch.* in-place forms of nn.functional ops (torch.relu_(x) is F.relu_(x)) and torch.feature_dropout.

Their leading arguments are ATen's: ``torch.dropout_(input, p, train)``. Re-exported by ``torsh/__init__.py``.
"""
from .nn import functional as F
from .nn._functional.dropout import _apply, _keep_mask

__all__ = ["selu_", "celu_", "rrelu_", "threshold_", "dropout_", "alpha_dropout_", "feature_alpha_dropout_",
           "feature_dropout", "feature_dropout_"]

selu_, celu_, threshold_ = F.selu_, F.celu_, F.threshold_


def rrelu_(input, lower=1.0 / 8, upper=1.0 / 3, training=False, generator=None):
    return F.rrelu_(input, lower, upper, training)


def dropout_(input, p, train):
    return F.dropout(input, p, train, inplace=True)


def alpha_dropout_(input, p, train):
    return F.alpha_dropout(input, p, train, inplace=True)


def feature_alpha_dropout_(input, p, train):
    return F.feature_alpha_dropout(input, p, train, inplace=True)


def _feature_dropout(input, p, train, inplace):
    """Whole features dropped: one keep-mask entry per (batch, channel), checked in ATen's order."""
    if not 0 <= p <= 1:
        raise RuntimeError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not train or p == 0 or input.numel() == 0:
        return input
    if input.ndim < 2:
        raise RuntimeError("Feature dropout requires at least 2 dimensions in the input")
    mask_shape = tuple(input.shape[:2]) + (1,) * (input.ndim - 2)
    return _apply(input, _keep_mask(mask_shape, p, input._data.dtype), p, inplace)


def feature_dropout(input, p, train):
    return _feature_dropout(input, p, train, False)


def feature_dropout_(input, p, train):
    return _feature_dropout(input, p, train, True)
