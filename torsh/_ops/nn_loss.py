"""nll_loss: the indexing core of cross_entropy (forward on NumPy, linear backward in torsh ops)."""
import numpy as np

from .._tensor import wrap
from ..autograd.graph import Node, needs_grad, record
from ._helpers import dtype_name


class NllLossBackward0(Node):
    # d loss / d input is a constant (one-hot of -weight / total) times the incoming gradient
    def backward(self, grad):
        coeff = wrap(self.coeff)
        if self.reduction == "none" and self.class_dim is not None:
            grad = grad.unsqueeze(self.class_dim)
        return (grad * coeff, None, None)

    def _on_release(self):
        self.coeff = None


def _shape_str(shape):
    return "[" + ", ".join(str(s) for s in shape) + "]"


def nll_loss(input, target, weight=None, ignore_index=-100, reduction="mean"):
    x, t = input._data, target._data
    if t.dtype not in (np.int64, np.uint8):
        raise RuntimeError(f"expected target dtype to be Long or Byte, but got {dtype_name(target.dtype)}")
    if x.ndim < 1:
        raise ValueError(f"Expected 1 or more dimensions (got {x.ndim})")
    if x.ndim == 1:  # unbatched (C,) with target ()
        if t.ndim != 0:
            raise RuntimeError(f"0D or 1D target tensor expected, multi-target not supported")
        class_dim, xs, ts = 0, x[None, :], t.reshape(1)
    else:
        class_dim = 1
        if x.shape[0] != (t.shape[0] if t.ndim else 1):
            raise ValueError(f"Expected input batch_size ({x.shape[0]}) to match target batch_size "
                             f"({t.shape[0] if t.ndim else 1}).")
        if t.shape[1:] != x.shape[2:] or t.ndim != x.ndim - 1:
            raise RuntimeError(f"size mismatch (got input: {_shape_str(x.shape)} , target: {_shape_str(t.shape)}")
        xs = np.moveaxis(x, 1, -1).reshape(-1, x.shape[1])
        ts = t.reshape(-1)
    n_classes = x.shape[class_dim]
    valid = ts != ignore_index
    bad = valid & ((ts < 0) | (ts >= n_classes))
    if bad.any():
        raise IndexError(f"Target {int(ts[bad][0])} is out of bounds.")
    safe_t = np.where(valid, ts, 0)
    w = np.ones(n_classes, dtype=x.dtype) if weight is None else weight._data.astype(x.dtype)
    if weight is not None and w.shape != (n_classes,):
        raise RuntimeError(f"weight tensor should be defined either for all {n_classes} classes or no classes "
                           f"but got weight tensor of shape: {_shape_str(w.shape)}")
    wt = np.where(valid, w[safe_t], 0).astype(x.dtype)
    picked = xs[np.arange(xs.shape[0]), safe_t]
    losses = -wt * picked
    if reduction == "none":
        value = losses.reshape(t.shape)
        scale = np.ones_like(wt)
    elif reduction == "sum":
        value = np.asarray(losses.sum(), dtype=x.dtype)
        scale = np.ones_like(wt)
    elif reduction == "mean":
        total = wt.sum()
        with np.errstate(invalid="ignore", divide="ignore"):
            value = np.asarray(losses.sum() / total, dtype=x.dtype)
            scale = np.full_like(wt, 1.0 / total if total != 0 else np.nan)
    else:
        raise ValueError(f"{reduction} is not a valid value for reduction")
    result = wrap(np.asarray(value, dtype=x.dtype))
    if needs_grad(input):
        coeff = np.zeros(xs.shape, dtype=x.dtype)
        coeff[np.arange(xs.shape[0]), safe_t] = -wt * scale
        if x.ndim == 1:
            coeff = coeff[0]
        else:
            coeff = np.moveaxis(coeff.reshape(x.shape[:1] + x.shape[2:] + (n_classes,)), -1, 1)
        node = NllLossBackward0() if x.ndim <= 2 else _NllLoss2dBackward0()
        node.coeff, node.reduction = coeff, reduction
        node.class_dim = class_dim if x.ndim > 1 else None
        record(node, (input, target, weight), (result,))
    return result


class _NllLoss2dBackward0(NllLossBackward0):
    def name(self):
        return "NllLoss2DBackward0"
