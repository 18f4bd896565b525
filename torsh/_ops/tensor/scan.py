"""Scans along a dim: cumsum, cumprod, cummax, cummin, logcumsumexp (NumPy ``accumulate``)."""

import numpy as np

from ... import _dtype, return_types
from ..._tensor import wrap
from ...autograd.graph import Node, needs_grad, record
from .._helpers import cast_for_integer_accumulation, check_dtype_support, dtype_name, normalize_dim
from ..registry import register


def _scan_dtype(input, dtype):
    if dtype is not None:
        return _dtype.to_dtype(dtype)
    return _dtype.int64 if input._data.dtype.kind in "biu" else input.dtype


def _accumulate(np_scan, input, dim, dtype):
    """(the normalized dim, np_scan of input along it in the result dtype) for cumsum and cumprod."""
    d = normalize_dim(dim, input._data.ndim)
    out_dtype = _scan_dtype(input, dtype)
    check_dtype_support("cumsum" if np_scan is np.cumsum else "cumprod", out_dtype.np)  # dtype=bool: no kernel
    data = cast_for_integer_accumulation(input._data, out_dtype.np)
    accumulate_in = np.float32 if out_dtype.np.char in "eE" else out_dtype.np  # float16/bfloat16: as PyTorch
    value = np_scan(data, axis=d, dtype=accumulate_in) if data.ndim else data.astype(out_dtype.np)
    return d, wrap(np.asarray(value, dtype=out_dtype.np))


def _record_scan(node, input, result, d, save_input_and_result=True):
    """Record ``node`` (input -> result) for the backward of a scan along ``d``."""
    node.dim = d
    record(node, (input,), (result,))
    if save_input_and_result:
        node.save_for_backward(input, result)


def _rev_cumsum(t, d):
    return t.flip(d).cumsum(d).flip(d)


class CumsumBackward0(Node):
    def backward(self, grad):
        g = _rev_cumsum(grad, self.dim) if grad.ndim else grad
        return (g.to(self.in_dtype) if g.dtype is not self.in_dtype else g,)


def cumsum(input, dim, *, dtype=None, out=None):
    d, result = _accumulate(np.cumsum, input, dim, dtype)
    if needs_grad(input):
        node = CumsumBackward0()
        node.in_dtype = input.dtype
        _record_scan(node, input, result, d, save_input_and_result=False)
    return result
register(cumsum, node_name="CumsumBackward0", inplace=True, out="copy")


class _SavedScanBackward(Node):
    """Backward of a scan that saved (input, result); along a 0-d input the scan is the identity."""

    def backward(self, grad):
        x, result = self.saved_tensors
        if x.ndim == 0:
            return (grad,)
        return (self._input_grad(grad, x, result, self.dim),)


class CumprodBackward0(_SavedScanBackward):
    @staticmethod
    def _input_grad(grad, x, result, d, conjugated=False):
        if x.is_complex() and not conjugated:  # PyTorch's convention: sum_j grad_j * conj(d out_j / d x_i)
            return CumprodBackward0._input_grad(grad.conj(), x, result, d, True).conj()
        if not bool((x == 0).any()):
            return _rev_cumsum(grad * result, d) / x
        # with zeros: d out_j / d x_i = prod_{k <= j, k != i} x_k, built as an (i, j) table per slice
        from .creation import eye
        xm = x.movedim(d, -1)
        n = xm.shape[-1]
        others = xm.unsqueeze(-2).expand(*xm.shape[:-1], n, n)  # [..., i, k] = x_k
        ident = eye(n, dtype=x.dtype).bool()
        excl = others.masked_fill(ident, 1).cumprod(-1)  # [..., i, j] = prod_{k<=j, k!=i} x_k
        before = eye(n, dtype=x.dtype).bool().logical_not().tril()  # [i, j] with j < i: out_j ignores x_i
        excl = excl.masked_fill(before, 0)
        gm = grad.movedim(d, -1).unsqueeze(-2)  # [..., 1, j]
        gi = (excl * gm).sum(-1)
        return gi.movedim(-1, d)


def cumprod(input, dim, *, dtype=None, out=None):
    d, result = _accumulate(np.cumprod, input, dim, dtype)
    if needs_grad(input):
        _record_scan(CumprodBackward0(), input, result, d)
    return result
register(cumprod, node_name="CumprodBackward0", inplace=True, out="copy")


class CummaxBackward0(Node):
    def backward(self, grad, grad_indices=None):
        (indices,) = self.saved_tensors
        from .creation import zeros
        if grad.ndim == 0:
            return (grad,)
        return (zeros(self.shape, dtype=grad.dtype).scatter_add(self.dim, indices, grad),)


def _cum_extremum(name, ufunc, input, dim):
    if input._data.ndim == 0 and dim not in (-1, 0):
        raise IndexError(f"{name}(): Expected reduction dim -1 or 0 for scalar but got {dim}")
    d = normalize_dim(dim, input._data.ndim)
    data = input._data
    if data.ndim == 0:
        values, idx = data.copy(), np.zeros((), np.int64)
    elif data.shape[d] == 0:
        values, idx = data.copy(), np.zeros(data.shape, np.int64)
    else:
        values = ufunc.accumulate(data, axis=d)
        # PyTorch keeps the latest index among ties, and the index of a NaN once one is seen
        update = values == data
        if data.dtype.kind == "f":
            update |= np.isnan(data)
        shape = [1] * data.ndim
        shape[d] = data.shape[d]
        positions = np.arange(data.shape[d]).reshape(shape)
        idx = np.maximum.accumulate(np.where(update, positions, 0), axis=d).astype(np.int64)
    values_t, indices_t = wrap(np.asarray(values)), wrap(np.asarray(idx))
    if needs_grad(input):
        node = type(f"{name.capitalize()}Backward0", (CummaxBackward0,), {})()
        node.dim, node.shape = d, data.shape
        record(node, (input,), (values_t,))
        node.save_for_backward(indices_t)
    return getattr(return_types, name)(values_t, indices_t)


def cummax(input, dim):
    return _cum_extremum("cummax", np.maximum, input, dim)
register(cummax)


def cummin(input, dim):
    return _cum_extremum("cummin", np.minimum, input, dim)
register(cummin)


class LogcumsumexpBackward0(_SavedScanBackward):
    @staticmethod
    def _input_grad(grad, x, result, d):
        if x._data.shape[d] <= _PAIRWISE_MAX:
            return _logcumsumexp_grad_pairwise(grad, x, result, d)
        return _logcumsumexp_grad_logspace(grad, x, result, d)


_PAIRWISE_MAX = 1024  # up to this scan length the exact (i, j) table is used: stable and twice differentiable


def _logcumsumexp_grad_pairwise(grad, x, result, d):
    """sum_{j >= i} g_j exp(x_i - out_j): every weight is <= 1 (out_j >= x_i), so no overflow."""
    from .creation import ones
    n = x._data.shape[d]
    xm, om, gm = x.movedim(d, -1), result.movedim(d, -1), grad.movedim(d, -1)
    before = ones((n, n), dtype=_dtype.bool).tril(-1)  # [i, j] with j < i: out_j does not depend on x_i
    weights = (xm.unsqueeze(-1) - om.unsqueeze(-2)).masked_fill(before, float("-inf")).exp()
    return (weights * gm.unsqueeze(-2)).sum(-1).movedim(-1, d)


def _logcumsumexp_grad_logspace(grad, x, result, d):
    """The same sum in log space for long scans (first derivative only is exact)."""
    from .elementwise.arithmetic import where
    neg_inf = float("-inf")

    def part(g):
        log_g = where(g > 0, g.clamp(min=1e-300 if x.dtype.itemsize == 8 else 1e-38), 1.0).log()
        log_g = where(g > 0, log_g, neg_inf)
        acc = (log_g - result).flip(d).logcumsumexp(d).flip(d)
        return (acc + x).exp()

    return part(grad) - part(-grad)


def logcumsumexp(input, dim):
    d = normalize_dim(dim, input._data.ndim)
    data = input._data
    if data.dtype.kind in "biu":  # PyTorch has no integer kernel (no promotion either)
        raise NotImplementedError(f'"logcumsumexp_out_cpu" not implemented for \'{dtype_name(input.dtype)}\'')
    with np.errstate(over="ignore", invalid="ignore"):
        value = np.logaddexp.accumulate(data, axis=d) if data.ndim and data.shape[d] else data.copy()
    result = wrap(np.asarray(value, dtype=data.dtype))
    if needs_grad(input):
        _record_scan(LogcumsumexpBackward0(), input, result, d)
    return result
register(logcumsumexp, node_name="LogcumsumexpBackward0")


__all__ = ["cumsum", "cumprod", "cummax", "cummin", "logcumsumexp"]
