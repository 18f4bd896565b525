"""nll_loss: the indexing core of cross_entropy (forward on NumPy, linear backward in torsh ops),
and cross_entropy over (N, C) rows fused into one kernel each way (the ``nn`` kernel family)."""
import numpy as np

from ..._tensor import wrap
from ...autograd import grad_mode
from ...autograd.graph import Node, backward_on_arrays, needs_grad, record
from ...backend import dispatch, events, kernels
from .._helpers import dtype_name
from ..tensor.elementwise.arithmetic import _quietly


class NllLossBackward0(Node):
    # d loss / d input is a constant (one-hot of -weight / total) times the incoming gradient
    def backward(self, grad):
        if self.reduction == "none" and self.class_dim is not None:
            grad = grad.unsqueeze(self.class_dim)
        if backward_on_arrays():  # one NumPy multiply
            return (wrap(np.multiply(grad._data, self.coeff)), None, None)
        return (grad * wrap(self.coeff), None, None)

    def _on_release(self):
        self.coeff = None


def _shape_str(shape):
    return "[" + ", ".join(str(s) for s in shape) + "]"


def _raise_target_shape(x_shape, t_shape):
    """PyTorch's error for a target that does not fit the input, worded per its kernel: nll_loss (2-d input),
    nll_loss2d (4-d) or the reshaping path of other ranks."""
    if len(x_shape) == 2:
        raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
    if len(x_shape) == 4:
        raise RuntimeError(f"size mismatch (got input: {_shape_str(x_shape)} , target: {_shape_str(t_shape)}")
    raise RuntimeError(f"Expected target size {_shape_str((x_shape[0],) + tuple(x_shape[2:]))}, got "
                       f"{_shape_str(t_shape)}")


def nll_loss(input, target, weight=None, ignore_index=-100, reduction="mean"):
    x, t = input._data, target._data
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
            _raise_target_shape(x.shape, t.shape)
        # (N, C, d1, ...) -> rows of C; an (N, C) input already is (moveaxis alone costs ~8 us)
        xs = x if x.ndim == 2 else np.moveaxis(x, 1, -1).reshape(-1, x.shape[1])
        ts = t.reshape(-1)
    if t.dtype not in (np.int64, np.uint8):  # after the shape checks, in PyTorch's order
        raise RuntimeError(f"expected target dtype to be Long or Byte, but got {dtype_name(target.dtype)}")
    if not input.dtype.is_floating_point:  # PyTorch's kernels are built for floating dtypes only
        kernel = "nll_loss_out_frame" if x.ndim <= 2 else "nll_loss2d_forward_out_frame"
        raise NotImplementedError(f'"{kernel}" not implemented for \'{dtype_name(input.dtype)}\'')
    if reduction not in ("none", "sum", "mean"):
        raise ValueError(f"{reduction} is not a valid value for reduction")
    n_classes = x.shape[class_dim]
    if weight is None:
        w = np.ones(n_classes, dtype=x.dtype)
    else:
        w = weight._data.astype(x.dtype, copy=False)
        if w.shape != (n_classes,):
            raise RuntimeError(f"weight tensor should be defined either for all {n_classes} classes or no classes "
                               f"but got weight tensor of shape: {_shape_str(w.shape)}")
    want_coeff = needs_grad(input)
    fits = xs.flags.c_contiguous and xs.dtype in dispatch._COMPILED_DTYPES and ts.dtype == np.int64

    def compiled(parallel):
        losses = np.empty(xs.shape[0], dtype=x.dtype)
        coeff = np.zeros(xs.shape if want_coeff else (1, 1), dtype=x.dtype)
        total, bad_row = kernels.get("nn").nll_rows(xs, ts, np.ascontiguousarray(w), ignore_index, losses, coeff,
                                                    want_coeff)
        if bad_row >= 0:
            raise IndexError(f"Target {int(ts[bad_row])} is out of bounds.")
        return losses, x.dtype.type(total), coeff

    if dispatch.TOPIC in events._subscribers:  # recorded: dispatch.call decides, runs and records
        losses, total, coeff = dispatch.call("nll_loss", xs.size, x.dtype, fits, compiled,
                                             lambda: _nll_rows_numpy(xs, ts, w, ignore_index, want_coeff))
    else:  # dispatch.call's choice made here, without its closures
        variant = ("numpy" if xs.size < dispatch._numpy_below["nll_loss"]
                   else dispatch._variant("nll_loss", xs.size, x.dtype, fits))
        losses, total, coeff = (_nll_rows_numpy(xs, ts, w, ignore_index, want_coeff) if variant == "numpy"
                                else compiled(variant == "pythran_omp"))
    if reduction == "none":
        value = losses.reshape(t.shape)
    elif reduction == "sum":
        value = losses.sum()
    else:
        value = _quietly(np.divide, losses.sum(), total)  # 0 / 0 is nan without a warning, as PyTorch
        if want_coeff:
            coeff *= x.dtype.type(1.0 / total if total != 0 else np.nan)
    result = wrap(np.asarray(value, dtype=x.dtype))
    if want_coeff:
        if x.ndim == 1:
            coeff = coeff[0]
        elif x.ndim > 2:
            coeff = np.moveaxis(coeff.reshape(x.shape[:1] + x.shape[2:] + (n_classes,)), -1, 1)
        node = NllLossBackward0() if x.ndim <= 2 else _NllLoss2dBackward0()
        node.coeff, node.reduction = coeff, reduction
        node.class_dim = class_dim if x.ndim > 1 else None
        record(node, (input, target, weight), (result,))
    return result


def _nll_rows_numpy(xs, ts, w, ignore_index, want_coeff):
    """The NumPy variant of the ``nll_rows`` kernel: (row losses, total weight, gradient pattern)."""
    n_classes = xs.shape[1]
    valid = ts != ignore_index
    all_valid = bool(valid.all())
    if ts.size and (all_valid and (ts.min() < 0 or ts.max() >= n_classes)
                    or not all_valid and np.any(valid & ((ts < 0) | (ts >= n_classes)))):
        bad = valid & ((ts < 0) | (ts >= n_classes))
        raise IndexError(f"Target {int(ts[bad][0])} is out of bounds.")
    safe_t = ts if all_valid else np.where(valid, ts, 0)
    wt = w[safe_t] if all_valid else np.where(valid, w[safe_t], 0).astype(xs.dtype)
    rows = np.arange(xs.shape[0])
    losses = -wt * xs[rows, safe_t]
    if not all_valid:  # an ignored row adds nothing, even where its input is nan (0 * nan would)
        losses = np.where(valid, losses, xs.dtype.type(0))
    coeff = None
    if want_coeff:
        coeff = np.zeros(xs.shape, dtype=xs.dtype)
        coeff[rows, safe_t] = -wt
    return losses, wt.sum(), coeff


class _NllLoss2dBackward0(NllLossBackward0):
    def name(self):
        return "NllLoss2DBackward0"


# -- cross_entropy with class indices over (N, C) rows: one fused kernel each way ---------------------
class CrossEntropyLossBackward0(Node):
    """The fused log_softmax + nll_loss (PyTorch records LogSoftmaxBackward0 and NllLossBackward0).

    Saves the logits and each row's logsumexp; without ``create_graph`` the gradient is one
    kernel pass (softmax minus the one-hot, times each row's scale), with it the same formula in
    torsh ops over ``softmax(x)``, so higher derivatives stay exact."""

    def backward(self, grad):
        (x,) = self.saved_tensors
        if grad_mode.is_grad_enabled():
            return (self._formula(x, grad), None, None)
        xd = x._data.reshape(-1, x._data.shape[-1])
        row_scale = self._row_scale(grad._data)

        def compiled(parallel):
            out = np.empty_like(xd)
            kernels.get("nn").cross_entropy_backward_rows(
                xd, self.target, self.weight, *self._smoothing(xd.dtype), row_scale, self.lse, out, parallel)
            return wrap(out.reshape(x._data.shape))

        def numpy_fn():
            p = np.exp(xd - self.lse[:, None])
            hard, coeff = self._coefficients(xd)
            return wrap(((p * hard[:, None] - coeff) * row_scale[:, None]).reshape(x._data.shape))

        return (dispatch.call("cross_entropy_backward", xd.size, xd.dtype, True, compiled, numpy_fn), None, None)

    def _smoothing(self, dtype):
        cols = self.weight.shape[0]
        return dtype.type(self.label_smoothing), dtype.type(self.label_smoothing / cols)

    def _row_scale(self, g):
        """d output / d row loss, times the incoming gradient (0 for ignored rows)."""
        g = np.broadcast_to(g.reshape(-1) if self.reduction == "none" else g.reshape(()), self.valid.shape)
        scale = g if self.reduction != "mean" else g / self.total
        return np.where(self.valid, scale, 0).astype(self.lse.dtype)

    def _coefficients(self, xd):
        """(rows,) multiplier of softmax and (rows, cols) constant subtracted: grad = p * hard - coeff."""
        ls, ls_c = self._smoothing(xd.dtype)
        rows = np.arange(xd.shape[0])
        wt = np.where(self.valid, self.weight[self.safe_target], 0).astype(xd.dtype)
        coeff = np.zeros(xd.shape, dtype=xd.dtype)
        coeff[rows, self.safe_target] = wt * (1 - ls)
        hard = wt * (1 - ls)
        if ls != 0:
            soft = np.where(self.valid, ls_c, 0).astype(xd.dtype)
            coeff += soft[:, None] * self.weight[None, :]
            hard = hard + soft * self.weight.sum()
        return hard, coeff

    def _formula(self, x, grad):
        from .activation.softmax import softmax
        x2 = x.reshape(-1, x.shape[-1])
        hard, coeff = self._coefficients(x2._data)
        if self.reduction == "none":
            scale = grad.reshape(-1, 1)
        else:
            scale = grad.reshape(1, 1) / float(self.total) if self.reduction == "mean" else grad.reshape(1, 1)
        gx = (softmax(x2, 1) * wrap(hard[:, None]) - wrap(coeff)) * scale
        return gx.reshape(x.shape)

    def _on_release(self):
        self.target = self.safe_target = self.valid = self.lse = self.weight = None


def _fused_cross_entropy_fits(x, t, weight, ignore_index):
    """True when the fused kernel computes exactly what log_softmax + nll_loss would (else
    those run, and raise PyTorch's errors for bad arguments)."""
    if t.dtype != np.int64 or x.ndim not in (1, 2) or t.ndim != x.ndim - 1 or x.size == 0:
        return False
    if x.ndim == 2 and t.shape[0] != x.shape[0]:
        return False
    if weight is not None and (weight._data.shape != (x.shape[-1],) or weight._data.dtype != x.dtype):
        return False
    cols = x.shape[-1]
    ok = (t >= 0) & (t < cols) | (t == ignore_index)
    return bool(ok.all())


def cross_entropy(input, target, weight, ignore_index, reduction, label_smoothing, composed):
    """cross_entropy of (N, C) or (C,) logits and int64 class indices as one fused kernel, or
    ``composed()`` (log_softmax then nll_loss, as PyTorch) where the dispatcher or the
    arguments rule the kernel out."""
    x, t = input._data, target._data
    if dispatch.runs_numpy("cross_entropy", x.size):  # small: skip the checks below (~15 us at 128x10)
        return composed()
    fits = x.dtype in dispatch._COMPILED_DTYPES and x.flags.c_contiguous and _fused_cross_entropy_fits(
        x, t, weight, ignore_index)
    if not fits:
        return dispatch.call("cross_entropy", x.size, x.dtype, False, None, composed,
                             "not (N, C) contiguous logits with valid int64 class indices")

    def compiled(parallel):
        return _fused_cross_entropy(input, target, weight, ignore_index, reduction, label_smoothing, parallel)

    return dispatch.call("cross_entropy", x.size, x.dtype, True, compiled, composed)


def _fused_cross_entropy(input, target, weight, ignore_index, reduction, label_smoothing, parallel):
    x = input._data
    xd = x.reshape(-1, x.shape[-1])
    t = target._data.reshape(-1)
    dtype = x.dtype
    cols = xd.shape[1]
    w = np.ones(cols, dtype=dtype) if weight is None else weight._data
    losses = np.empty(xd.shape[0], dtype=dtype)
    lse = np.empty(xd.shape[0], dtype=dtype)
    ls, ls_c = dtype.type(label_smoothing), dtype.type(label_smoothing / cols)
    kernels.get("nn").cross_entropy_rows(xd, t, w, ignore_index, ls, ls_c, losses, lse, parallel)
    valid = t != ignore_index
    total = None
    if reduction == "none":
        value = losses.reshape(target._data.shape)
    elif reduction == "sum":
        value = losses.sum(dtype=dtype)
    else:
        safe_t = np.where(valid, t, 0)
        total = np.where(valid, w[safe_t], 0).sum(dtype=dtype)
        with np.errstate(invalid="ignore", divide="ignore"):
            value = losses.sum(dtype=dtype) / total
    result = wrap(np.asarray(value, dtype=dtype))
    if needs_grad(input):
        node = CrossEntropyLossBackward0()
        node.target, node.valid, node.safe_target = t, valid, np.where(valid, t, 0)
        node.weight, node.lse, node.total = w, lse, total
        node.reduction, node.label_smoothing = reduction, label_smoothing
        record(node, (input, target, weight), (result,))
        node.save_for_backward(input)
    return result
