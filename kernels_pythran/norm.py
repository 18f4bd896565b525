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



# -- batch norm: statistics per channel c over the rows i * C + c of an (N * C, S) array ------------------------
# pythran export batch_norm_train(float32[:,:], float32[:], float32[:], float32, float32, float32[:,:], float32[:], float32[:], float32[:], bool)
# pythran export batch_norm_train(float64[:,:], float64[:], float64[:], float64, float64, float64[:,:], float64[:], float64[:], float64[:], bool)
# pythran export batch_norm_backward(float32[:,:], float32[:,:], float32[:], float32[:], float32[:], float32, float32[:,:], float32[:], float32[:], bool)
# pythran export batch_norm_backward(float64[:,:], float64[:,:], float64[:], float64[:], float64[:], float64, float64[:,:], float64[:], float64[:], bool)
# pythran export channel_affine(float32[:,:], float32[:], float32[:], float32[:,:], bool)
# pythran export channel_affine(float64[:,:], float64[:], float64[:], float64[:,:], bool)
# pythran export batch_norm_train_2d(float32[:,:], float32[:], float32[:], float32, float32, float32[:,:], float32[:], float32[:], float32[:])
# pythran export batch_norm_train_2d(float64[:,:], float64[:], float64[:], float64, float64, float64[:,:], float64[:], float64[:], float64[:])
# pythran export batch_norm_backward_2d(float32[:,:], float32[:,:], float32[:], float32[:], float32[:], float32, float32[:,:], float32[:], float32[:])
# pythran export batch_norm_backward_2d(float64[:,:], float64[:,:], float64[:], float64[:], float64[:], float64, float64[:,:], float64[:], float64[:])


def _batch_norm_channel(x, w, b, eps, inv_m, out, mean, var, rstd, c):
    channels = w.shape[0]
    acc = inv_m * 0
    for r in range(c, x.shape[0], channels):
        acc += np.sum(x[r])
    mu = acc * inv_m
    acc = inv_m * 0
    for r in range(c, x.shape[0], channels):
        acc += np.sum((x[r] - mu) * (x[r] - mu))
    v = acc * inv_m
    mean[c] = mu
    var[c] = v
    rstd[c] = 1 / np.sqrt(v + eps)
    scale = rstd[c] * w[c]  # read back: a scalar of the arrays' dtype
    shift = b[c] - mu * scale
    for r in range(c, x.shape[0], channels):
        out[r] = x[r] * scale + shift


def batch_norm_train(x, w, b, eps, inv_m, out, mean, var, rstd, parallel):
    """out = (x - mean[c]) * rstd[c] * w[c] + b[c] with per-channel batch statistics (biased var)."""
    channels = w.shape[0]
    if parallel:
        # omp parallel for schedule(static)
        for c in range(channels):
            _batch_norm_channel(x, w, b, eps, inv_m, out, mean, var, rstd, c)
    else:
        for c in range(channels):
            _batch_norm_channel(x, w, b, eps, inv_m, out, mean, var, rstd, c)


def _batch_norm_backward_channel(g, x, w, mean, rstd, inv_m, gx, gw, gb, c):
    channels = w.shape[0]
    mu = mean[c]
    s = rstd[c]
    sg = inv_m * 0
    sgx = inv_m * 0
    for r in range(c, x.shape[0], channels):
        sg += np.sum(g[r])
        sgx += np.sum(g[r] * (x[r] - mu))
    gb[c] = sg
    gw[c] = sgx * s
    # gx = w s (g - sum(g)/M - (x - mu) s^2 sum(g (x - mu))/M)
    k1 = w[c] * s
    k2 = -k1 * s * s * sgx * inv_m
    k3 = -k1 * sg * inv_m
    for r in range(c, x.shape[0], channels):
        gx[r] = g[r] * k1 + (x[r] - mu) * k2 + k3


def batch_norm_backward(g, x, w, mean, rstd, inv_m, gx, gw, gb, parallel):
    """Input, weight and bias gradients of training-mode batch norm, channel by channel."""
    channels = w.shape[0]
    if parallel:
        # omp parallel for schedule(static)
        for c in range(channels):
            _batch_norm_backward_channel(g, x, w, mean, rstd, inv_m, gx, gw, gb, c)
    else:
        for c in range(channels):
            _batch_norm_backward_channel(g, x, w, mean, rstd, inv_m, gx, gw, gb, c)


def channel_affine(x, scale, shift, out, parallel):
    """out[i * C + c] = x[i * C + c] * scale[c] + shift[c] (eval-mode batch norm, running stats folded in)."""
    channels = scale.shape[0]
    n = x.shape[0] // channels
    if parallel:
        # omp parallel for schedule(static)
        for i in range(n):
            for c in range(channels):
                out[i * channels + c] = x[i * channels + c] * scale[c] + shift[c]
    else:
        for i in range(n):
            for c in range(channels):
                out[i * channels + c] = x[i * channels + c] * scale[c] + shift[c]


def batch_norm_train_2d(x, w, b, eps, inv_m, out, mean, var, rstd):
    """batch_norm_train for (N, C) input: column statistics as vector passes over the rows."""
    mean[:] = 0
    for i in range(x.shape[0]):
        mean[:] = mean + x[i]
    mean[:] = mean * inv_m
    var[:] = 0
    for i in range(x.shape[0]):
        var[:] = var + (x[i] - mean) * (x[i] - mean)
    var[:] = var * inv_m
    rstd[:] = 1 / np.sqrt(var + eps)
    scale = rstd * w
    shift = b - mean * scale
    for i in range(x.shape[0]):
        out[i] = x[i] * scale + shift


def batch_norm_backward_2d(g, x, w, mean, rstd, inv_m, gx, gw, gb):
    """batch_norm_backward for (N, C) input."""
    gb[:] = 0
    gw[:] = 0
    for i in range(x.shape[0]):
        gb[:] = gb + g[i]
        gw[:] = gw + g[i] * (x[i] - mean)
    k1 = w * rstd
    k2 = -k1 * rstd * rstd * gw * inv_m
    k3 = -k1 * gb * inv_m
    gw[:] = gw * rstd
    for i in range(x.shape[0]):
        gx[i] = g[i] * k1 + (x[i] - mean) * k2 + k3


# -- group norm on an (N * C, S) array: group q = i * G + k (sample i, group k) is rows q * C/G .. (q + 1) * C/G,
# channels k * C/G .. (k + 1) * C/G. (Channel indices are built from loop counters, not with ``%``: Pythran
# 0.18 miscompiled ``w[r % C]`` inside these loops.)
# pythran export group_norm_rows(float32[:,:], float32[:], float32[:], float32, float32, float32[:,:], float32[:], float32[:], bool)
# pythran export group_norm_rows(float64[:,:], float64[:], float64[:], float64, float64, float64[:,:], float64[:], float64[:], bool)
# pythran export group_norm_backward_rows(float32[:,:], float32[:,:], float32[:], float32[:], float32[:], float32, float32[:,:], float32[:], float32[:], bool)
# pythran export group_norm_backward_rows(float64[:,:], float64[:,:], float64[:], float64[:], float64[:], float64, float64[:,:], float64[:], float64[:], bool)


def _group_norm_group(x, w, b, eps, inv_m, out, mean, rstd, q, k):
    cg = x.shape[0] // mean.shape[0]
    acc = inv_m * 0
    for j in range(cg):
        acc += np.sum(x[q * cg + j])
    mu = acc * inv_m
    acc = inv_m * 0
    for j in range(cg):
        acc += np.sum((x[q * cg + j] - mu) * (x[q * cg + j] - mu))
    mean[q] = mu
    rstd[q] = 1 / np.sqrt(acc * inv_m + eps)
    s = rstd[q]
    for j in range(cg):
        scale = s * w[k * cg + j]
        shift = b[k * cg + j] - mu * scale
        out[q * cg + j] = x[q * cg + j] * scale + shift


def group_norm_rows(x, w, b, eps, inv_m, out, mean, rstd, parallel):
    """Group norm forward with a per-channel affine; fills mean/rstd per (sample, group)."""
    cg = x.shape[0] // mean.shape[0]
    groups = w.shape[0] // cg
    n = mean.shape[0] // groups
    if parallel:
        # omp parallel for schedule(static)
        for i in range(n):
            for k in range(groups):
                _group_norm_group(x, w, b, eps, inv_m, out, mean, rstd, i * groups + k, k)
    else:
        for i in range(n):
            for k in range(groups):
                _group_norm_group(x, w, b, eps, inv_m, out, mean, rstd, i * groups + k, k)


def _group_norm_backward_group(g, x, w, mean, rstd, inv_m, gx, gw_part, gb_part, q, k):
    cg = x.shape[0] // mean.shape[0]
    mu = mean[q]
    s = rstd[q]
    a1 = inv_m * 0
    a2 = inv_m * 0
    for j in range(cg):
        sg = np.sum(g[q * cg + j])
        sgx = np.sum(g[q * cg + j] * (x[q * cg + j] - mu))
        gb_part[q * cg + j] = sg
        gw_part[q * cg + j] = sgx * s
        a1 += w[k * cg + j] * sg
        a2 += w[k * cg + j] * sgx
    k2 = -s * s * s * a2 * inv_m
    k3 = -s * a1 * inv_m
    for j in range(cg):
        gx[q * cg + j] = g[q * cg + j] * (s * w[k * cg + j]) + (x[q * cg + j] - mu) * k2 + k3


def group_norm_backward_rows(g, x, w, mean, rstd, inv_m, gx, gw_part, gb_part, parallel):
    """Input gradient; weight/bias gradients per (sample, channel) row (sum over samples left to the caller)."""
    cg = x.shape[0] // mean.shape[0]
    groups = w.shape[0] // cg
    n = mean.shape[0] // groups
    if parallel:
        # omp parallel for schedule(static)
        for i in range(n):
            for k in range(groups):
                _group_norm_backward_group(g, x, w, mean, rstd, inv_m, gx, gw_part, gb_part, i * groups + k, k)
    else:
        for i in range(n):
            for k in range(groups):
                _group_norm_backward_group(g, x, w, mean, rstd, inv_m, gx, gw_part, gb_part, i * groups + k, k)
