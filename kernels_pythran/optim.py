"""Optimizer steps: one in-place pass over a parameter, its gradient and its state arrays.

All arrays are flat, contiguous and of one dtype; every scalar arrives in that dtype (a
float64 constant in a float32 expression would stop it from vectorising and would round
differently from PyTorch's float32 arithmetic). ``parallel`` cuts the arrays into chunks
shared among OpenMP threads; each chunk is a few vectorised array expressions, computed
in the order of PyTorch's single-tensor implementation.
"""

# pythran export sgd_step(float32[:], float32[:], float32[:], float32, float32, float32, float32, float32, bool, bool, bool, bool)
# pythran export sgd_step(float64[:], float64[:], float64[:], float64, float64, float64, float64, float64, bool, bool, bool, bool)
# pythran export adam_step(float32[:], float32[:], float32[:], float32[:], float32[:], float32, float32, float32, float32, float32, bool, float32, float32, float32, float32, float32, bool, bool)
# pythran export adam_step(float64[:], float64[:], float64[:], float64[:], float64[:], float64, float64, float64, float64, float64, bool, float64, float64, float64, float64, float64, bool, bool)

import numpy as np

CHUNK = 16384  # elements per OpenMP work item: the chunk and its operands stay in L2


def _sgd_chunk(p, g, buf, lr, gsign, wd, mom, damp, use_momentum, first, nesterov):
    if use_momentum:
        if first:
            buf[:] = g * gsign + wd * p
        else:
            buf[:] = buf * mom + (g * gsign + wd * p) * damp
        if nesterov:
            p[:] = p - lr * ((g * gsign + wd * p) + buf * mom)
        else:
            p[:] = p - lr * buf
    else:
        p[:] = p - lr * (g * gsign + wd * p)


def sgd_step(p, g, buf, lr, gsign, wd, mom, damp, use_momentum, first, nesterov, parallel):
    """SGD: d = gsign * g + wd * p; buf = d (first step) or mom * buf + damp * d;
    p -= lr * (nesterov ? d + mom * buf : buf) (or lr * d without momentum)."""
    n = p.shape[0]
    if parallel:
        # omp parallel for schedule(static)
        for c in range((n + CHUNK - 1) // CHUNK):
            s = c * CHUNK
            e = min(n, s + CHUNK)
            _sgd_chunk(p[s:e], g[s:e], buf[s:e], lr, gsign, wd, mom, damp, use_momentum, first, nesterov)
    else:
        _sgd_chunk(p, g, buf, lr, gsign, wd, mom, damp, use_momentum, first, nesterov)


def _adam_chunk(p, g, m, v, vmax, decay, gsign, wd, w, w1, lerp_low, b2, c2, bc2, eps, nss, amsgrad):
    p[:] = p * decay  # decoupled weight decay (decay == 1 otherwise)
    if lerp_low:  # PyTorch's lerp switches formula at weight 0.5
        m[:] = m + w * ((g * gsign + wd * p) - m)
    else:
        m[:] = (g * gsign + wd * p) - ((g * gsign + wd * p) - m) * w1
    v[:] = v * b2 + c2 * (g * gsign + wd * p) * (g * gsign + wd * p)
    if amsgrad:
        vmax[:] = np.maximum(vmax, v)
        p[:] = p + nss * m / (np.sqrt(vmax) / bc2 + eps)
    else:
        p[:] = p + nss * m / (np.sqrt(v) / bc2 + eps)


def adam_step(p, g, m, v, vmax, decay, gsign, wd, w, w1, lerp_low, b2, c2, bc2, eps, nss, amsgrad, parallel):
    """Adam/AdamW: p *= decay; d = gsign * g + wd * p; m = lerp(m, d, w); v = b2 * v + c2 * d * d;
    vmax = max(vmax, v) (amsgrad); p += nss * m / (sqrt(vmax or v) / bc2 + eps).
    ``vmax`` is ignored unless ``amsgrad``."""
    n = p.shape[0]
    if parallel:
        # omp parallel for schedule(static)
        for c in range((n + CHUNK - 1) // CHUNK):
            s = c * CHUNK
            e = min(n, s + CHUNK)
            _adam_chunk(p[s:e], g[s:e], m[s:e], v[s:e], vmax[s:e], decay, gsign, wd, w, w1, lerp_low, b2, c2, bc2,
                        eps, nss, amsgrad)
    else:
        _adam_chunk(p, g, m, v, vmax, decay, gsign, wd, w, w1, lerp_low, b2, c2, bc2, eps, nss, amsgrad)
