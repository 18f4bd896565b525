"""Layer normalisation over the last axis of a C-contiguous (rows, cols) array.

The forward saves each row's mean and rstd = 1 / sqrt(var + eps) (biased variance); the
backward gives the input gradient row by row and sums the weight and bias gradients over
rows into per-block partial sums (``gw_part``/``gb_part``, one row per block, added up by
the caller), so blocks of rows can run on different OpenMP threads without sharing a sum.
Scalars (``eps``, ``inv_n`` = 1 / cols) arrive in the arrays' dtype so that float32 rows
stay float32 vector expressions.
"""

# pythran export layer_norm_rows(float32[:,:], float32[:], float32[:], float32, float32, float32[:,:], float32[:], float32[:], bool, bool)
# pythran export layer_norm_rows(float64[:,:], float64[:], float64[:], float64, float64, float64[:,:], float64[:], float64[:], bool, bool)
# pythran export layer_norm_backward_rows(float32[:,:], float32[:,:], float32[:], float32[:], float32[:], float32, float32[:,:], float32[:,:], float32[:,:], bool, bool)
# pythran export layer_norm_backward_rows(float64[:,:], float64[:,:], float64[:], float64[:], float64[:], float64, float64[:,:], float64[:,:], float64[:,:], bool, bool)

import numpy as np


def _layer_norm_row(x, w, b, eps, inv_n, out, mean, rstd, r, affine):
    mu = np.sum(x) * inv_n
    var = np.sum((x - mu) * (x - mu)) * inv_n
    mean[r] = mu
    rstd[r] = 1 / np.sqrt(var + eps)
    s = rstd[r]  # read back: a scalar of the arrays' dtype
    if affine:
        out[:] = (x - mu) * s * w + b
    else:
        out[:] = (x - mu) * s


def layer_norm_rows(x, w, b, eps, inv_n, out, mean, rstd, affine, parallel):
    """out = (x - mean) * rstd (* w + b when ``affine``), per row; fills ``mean`` and ``rstd``."""
    rows = x.shape[0]
    if parallel:
        # omp parallel for schedule(static)
        for r in range(rows):
            _layer_norm_row(x[r], w, b, eps, inv_n, out[r], mean, rstd, r, affine)
    else:
        for r in range(rows):
            _layer_norm_row(x[r], w, b, eps, inv_n, out[r], mean, rstd, r, affine)


def _layer_norm_backward_block(g, x, w, mean, rstd, inv_n, gx, gw, gb, start, stop, affine):
    gw[:] = 0
    gb[:] = 0
    for r in range(start, stop):
        mu = mean[r]
        s = rstd[r]
        # with x_hat = (x - mu) * s and g_hat = g * w:  gx = s * (g_hat - mean(g_hat) - x_hat * mean(g_hat * x_hat))
        if affine:
            a = np.sum(g[r] * w) * inv_n
            c = np.sum(g[r] * w * (x[r] - mu)) * s * inv_n
            gx[r] = (g[r] * w - a - (x[r] - mu) * (s * c)) * s
        else:
            a = np.sum(g[r]) * inv_n
            c = np.sum(g[r] * (x[r] - mu)) * s * inv_n
            gx[r] = (g[r] - a - (x[r] - mu) * (s * c)) * s
        gw[:] = gw + g[r] * ((x[r] - mu) * s)
        gb[:] = gb + g[r]


def layer_norm_backward_rows(g, x, w, mean, rstd, inv_n, gx, gw_part, gb_part, affine, parallel):
    """Input gradient into ``gx``; weight and bias gradients as per-block partial sums."""
    rows = x.shape[0]
    blocks = gw_part.shape[0]
    if parallel:
        # omp parallel for schedule(static)
        for k in range(blocks):
            _layer_norm_backward_block(g, x, w, mean, rstd, inv_n, gx, gw_part[k], gb_part[k], k * rows // blocks,
                                       (k + 1) * rows // blocks, affine)
    else:
        for k in range(blocks):
            _layer_norm_backward_block(g, x, w, mean, rstd, inv_n, gx, gw_part[k], gb_part[k], k * rows // blocks,
                                       (k + 1) * rows // blocks, affine)
