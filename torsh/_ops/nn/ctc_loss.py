"""CTC loss: alpha/beta recursions in log space, vectorised over batch and label positions
(one Python step per time step). The gradient w.r.t. log_probs follows PyTorch's formula,
``exp(lp) - exp(log_alpha + log_beta + nll - lp)`` summed per class (first order only, as in PyTorch)."""
import numpy as np

from ..._tensor import wrap
from ...autograd.graph import Node, needs_grad, record

_NEG_INF = -np.inf


def _lse(*arrays):
    stacked = np.stack(arrays)
    m = np.max(stacked, axis=0)
    safe = np.where(np.isfinite(m), m, 0.0)
    with np.errstate(divide="ignore"):
        return safe + np.log(np.sum(np.exp(stacked - safe), axis=0))


def ctc_forward_backward(lp, targets, input_lengths, target_lengths, blank):
    """Per-sample negative log likelihoods and d nll / d lp for lp (T, N, C) in float64."""
    T, N, C = lp.shape
    L = int(target_lengths.max()) if N else 0
    S = 2 * L + 1
    ext = np.full((N, S), blank, dtype=np.int64)
    for n in range(N):
        ext[n, 1:2 * int(target_lengths[n]):2] = targets[n][:int(target_lengths[n])]
    valid_s = np.arange(S)[None, :] < (2 * target_lengths[:, None] + 1)
    # a skip from s-2 is allowed onto a label that differs from the label two back
    skip = np.zeros((N, S), dtype=bool)
    # (label positions are the odd ones: a target label equal to blank is still a label there, as in PyTorch)
    skip[:, 2:] = (np.arange(2, S) % 2 == 1)[None] & (ext[:, 2:] != ext[:, :-2])
    lp_ext = np.take_along_axis(lp, np.broadcast_to(ext[None], (T, N, S)), axis=2)  # (T, N, S)
    lp_ext = np.where(valid_s[None], lp_ext, _NEG_INF)
    alpha = np.full((T, N, S), _NEG_INF)
    alpha[0, :, 0] = lp_ext[0, :, 0]
    if S > 1:
        alpha[0, :, 1] = np.where(target_lengths > 0, lp_ext[0, :, 1], _NEG_INF)
    for t in range(1, T):
        prev = alpha[t - 1]
        s1 = np.concatenate([np.full((N, 1), _NEG_INF), prev[:, :-1]], axis=1)
        s2 = np.concatenate([np.full((N, 2), _NEG_INF), prev[:, :-2]], axis=1)
        s2 = np.where(skip, s2, _NEG_INF)
        alpha[t] = _lse(prev, s1, s2) + lp_ext[t]
    last = input_lengths - 1
    end = 2 * target_lengths
    a_last = alpha[last, np.arange(N)]  # (N, S)
    ll = _lse(a_last[np.arange(N), end], np.where(end > 0, a_last[np.arange(N), np.maximum(end - 1, 0)], _NEG_INF))
    nll = -ll
    beta = np.full((T, N, S), _NEG_INF)
    skip_next = np.zeros((N, S), dtype=bool)  # transition s -> s+2 allowed when s+2 may skip
    skip_next[:, :-2] = skip[:, 2:]
    for t in range(T - 1, -1, -1):
        starts = last == t
        if t < T - 1:
            nxt = beta[t + 1]
            n1 = np.concatenate([nxt[:, 1:], np.full((N, 1), _NEG_INF)], axis=1)
            n2 = np.concatenate([nxt[:, 2:], np.full((N, 2), _NEG_INF)], axis=1)
            n2 = np.where(skip_next, n2, _NEG_INF)
            beta[t] = _lse(nxt, n1, n2) + lp_ext[t]
        if starts.any():
            init = np.full((N, S), _NEG_INF)
            rows = np.nonzero(starts)[0]
            init[rows, end[rows]] = lp_ext[t, rows, end[rows]]
            has = rows[end[rows] > 0]
            init[has, end[has] - 1] = lp_ext[t, has, end[has] - 1]
            beta[t] = np.where(starts[:, None], init, beta[t])
        beta[t] = np.where((t > last)[:, None], _NEG_INF, beta[t])
    with np.errstate(invalid="ignore", over="ignore"):
        occupancy = np.exp(alpha + beta + nll[None, :, None] - lp_ext)  # (T, N, S)
    occupancy = np.where(np.isfinite(occupancy), occupancy, 0.0)
    grad = np.exp(lp)
    gather = np.zeros((T, N, C))
    t_idx, n_idx, s_idx = np.meshgrid(np.arange(T), np.arange(N), np.arange(S), indexing="ij")
    np.add.at(gather, (t_idx.ravel(), n_idx.ravel(), np.broadcast_to(ext[None], (T, N, S)).ravel()),
              occupancy.ravel())
    grad = grad - gather
    grad[np.arange(T)[:, None] >= input_lengths[None, :]] = 0.0
    return nll, grad


class CtcLossBackward0(Node):
    def backward(self, grad):
        g = grad.reshape((1, -1, 1)) if grad.ndim == 1 else grad
        return (wrap(self.grad_lp) * g, None)

    def _on_release(self):
        self.grad_lp = None


def ctc_loss(log_probs, targets_padded, input_lengths, target_lengths, blank, zero_infinity):
    """Per-sample losses (N,) for log_probs (T, N, C); targets as an (N, S) integer array."""
    lp = log_probs._data.astype(np.float64)
    nll, grad = ctc_forward_backward(lp, targets_padded, input_lengths, target_lengths, blank)
    inf = ~np.isfinite(nll)
    if zero_infinity:
        nll = np.where(inf, 0.0, nll)
        grad[:, inf] = 0.0
    elif inf.any():  # PyTorch's formula exp(lp) - exp(-inf + inf - lp) is NaN within the sample's input length
        steps = np.arange(grad.shape[0])[:, None] < input_lengths[None, :]
        grad[steps & inf[None, :]] = np.nan
    result = wrap(nll.astype(log_probs._data.dtype))
    if needs_grad(log_probs):
        node = CtcLossBackward0()
        node.grad_lp = grad.astype(log_probs._data.dtype)
        record(node, (log_probs, None), (result,))
    return result
