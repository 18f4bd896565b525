"""Row kernels of the neural-network ops: softmax, log_softmax, cross-entropy, layer norm.

Every kernel works on C-contiguous 2-D arrays (rows x cols) and reduces or normalises over
the last axis, one row at a time; ``parallel`` shares the rows among OpenMP threads. Each
row is a few vectorised (xsimd) array expressions. Scalar parameters arrive already in the
arrays' dtype: a float64 constant inside a float32 expression stops it from vectorising.
Outputs are caller-provided (the caller owns allocation).
"""

# pythran export softmax_rows(float32[:,:], float32[:,:], bool)
# pythran export softmax_rows(float64[:,:], float64[:,:], bool)
# pythran export log_softmax_rows(float32[:,:], float32[:,:], bool)
# pythran export log_softmax_rows(float64[:,:], float64[:,:], bool)
# pythran export softmax_backward_rows(float32[:,:], float32[:,:], float32[:,:], bool)
# pythran export softmax_backward_rows(float64[:,:], float64[:,:], float64[:,:], bool)
# pythran export log_softmax_backward_rows(float32[:,:], float32[:,:], float32[:,:], bool)
# pythran export log_softmax_backward_rows(float64[:,:], float64[:,:], float64[:,:], bool)
# pythran export cross_entropy_rows(float32[:,:], int64[:], float32[:], int64, float32, float32, float32[:], float32[:], bool)
# pythran export cross_entropy_rows(float64[:,:], int64[:], float64[:], int64, float64, float64, float64[:], float64[:], bool)
# pythran export cross_entropy_backward_rows(float32[:,:], int64[:], float32[:], float32, float32, float32[:], float32[:], float32[:,:], bool)
# pythran export cross_entropy_backward_rows(float64[:,:], int64[:], float64[:], float64, float64, float64[:], float64[:], float64[:,:], bool)
# pythran export nll_rows(float32[:,:], int64[:], float32[:], int64, float32[:], float32[:,:], bool)
# pythran export nll_rows(float64[:,:], int64[:], float64[:], int64, float64[:], float64[:,:], bool)

import numpy as np


def _softmax_row(x, out):
    # shifted by the max even where it is infinite: rows holding +inf or only -inf give nan, as in PyTorch
    out[:] = np.exp(x - np.max(x))
    s = np.sum(out)
    out[:] = out / s


def softmax_rows(x, out, parallel):
    rows = x.shape[0]
    if parallel:
        # omp parallel for schedule(static)
        for r in range(rows):
            _softmax_row(x[r], out[r])
    else:
        for r in range(rows):
            _softmax_row(x[r], out[r])


def _log_softmax_row(x, out):
    out[:] = x - np.max(x)
    lse = np.log(np.sum(np.exp(out)))
    out[:] = out - lse


def log_softmax_rows(x, out, parallel):
    rows = x.shape[0]
    if parallel:
        # omp parallel for schedule(static)
        for r in range(rows):
            _log_softmax_row(x[r], out[r])
    else:
        for r in range(rows):
            _log_softmax_row(x[r], out[r])


def _softmax_backward_row(y, g, out):
    # d x = y * (g - sum(g * y))
    d = np.sum(g * y)
    out[:] = y * (g - d)


def softmax_backward_rows(y, g, out, parallel):
    rows = y.shape[0]
    if parallel:
        # omp parallel for schedule(static)
        for r in range(rows):
            _softmax_backward_row(y[r], g[r], out[r])
    else:
        for r in range(rows):
            _softmax_backward_row(y[r], g[r], out[r])


def _log_softmax_backward_row(y, g, out):
    # d x = g - exp(y) * sum(g)
    s = np.sum(g)
    out[:] = g - np.exp(y) * s


def log_softmax_backward_rows(y, g, out, parallel):
    rows = y.shape[0]
    if parallel:
        # omp parallel for schedule(static)
        for r in range(rows):
            _log_softmax_backward_row(y[r], g[r], out[r])
    else:
        for r in range(rows):
            _log_softmax_backward_row(y[r], g[r], out[r])


def _cross_entropy_row(x, t, weight, ignore_index, smoothing, smoothing_per_class, losses, lse, r):
    m = np.max(x)
    s = m + np.log(np.sum(np.exp(x - m)))
    lse[r] = s
    if t == ignore_index:
        losses[r] = 0
        return
    # (1 - smoothing) * w[t] * (lse - x[t]) + smoothing / C * sum_j w[j] * (lse - x[j])
    loss = weight[t] * (s - x[t])
    if smoothing != 0:
        smooth = s * np.sum(weight) - np.sum(weight * x)
        loss = loss - smoothing * loss + smoothing_per_class * smooth
    losses[r] = loss


def cross_entropy_rows(x, target, weight, ignore_index, smoothing, smoothing_per_class, losses, lse, parallel):
    """Per-row loss of log_softmax + nll_loss (with label smoothing) and each row's logsumexp,
    which the backward reuses. Ignored rows get loss 0. Targets are checked by the caller."""
    rows = x.shape[0]
    if parallel:
        # omp parallel for schedule(static)
        for r in range(rows):
            _cross_entropy_row(x[r], target[r], weight, ignore_index, smoothing, smoothing_per_class, losses, lse, r)
    else:
        for r in range(rows):
            _cross_entropy_row(x[r], target[r], weight, ignore_index, smoothing, smoothing_per_class, losses, lse, r)


def _cross_entropy_backward_row(x, t, weight, smoothing, smoothing_per_class, scale, s, out):
    # d loss_r / d x = scale * (p * ((1 - smoothing) * w[t] + smoothing * sum(w) / C)
    #                           - (1 - smoothing) * w[t] * onehot(t) - smoothing / C * w)
    if scale == 0:
        out[:] = 0
        return
    wt = weight[t] * scale
    hard = wt - smoothing * wt
    if smoothing != 0:
        soft = smoothing_per_class * scale
        out[:] = np.exp(x - s) * (hard + soft * np.sum(weight)) - soft * weight
    else:
        out[:] = np.exp(x - s) * hard
    out[t] -= hard


def cross_entropy_backward_rows(x, target, weight, smoothing, smoothing_per_class, row_scale, lse, out, parallel):
    """Gradient of ``cross_entropy_rows``' losses times ``row_scale`` (0 for ignored rows)."""
    rows = x.shape[0]
    if parallel:
        # omp parallel for schedule(static)
        for r in range(rows):
            _cross_entropy_backward_row(x[r], target[r], weight, smoothing, smoothing_per_class, row_scale[r], lse[r],
                                        out[r])
    else:
        for r in range(rows):
            _cross_entropy_backward_row(x[r], target[r], weight, smoothing, smoothing_per_class, row_scale[r], lse[r],
                                        out[r])


def nll_rows(logp, target, weight, ignore_index, losses, coeff, want_coeff):
    """nll_loss over (N, C) rows in one pass: losses[r] = -weight[t] * logp[r, t] for each row's
    target t, and with ``want_coeff`` the gradient's pattern coeff[r, t] = -weight[t] (``coeff``
    arrives zeroed). Rows whose target is ``ignore_index`` get 0. Returns (the sum of the weights
    of the rows counted, accumulated in double; the first row whose target is out of range, or -1)."""
    cols = logp.shape[1]
    total = 0.0
    for r in range(logp.shape[0]):
        t = target[r]
        if t == ignore_index:
            losses[r] = 0
            continue
        if t < 0 or t >= cols:
            return total, r
        w = weight[t]
        losses[r] = -w * logp[r, t]
        if want_coeff:
            coeff[r, t] = -w
        total += w
    return total, -1
