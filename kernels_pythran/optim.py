"""Optimizer steps: one in-place pass over a parameter, its gradient and its state arrays.

All arrays are flat, contiguous and of one dtype; every scalar arrives in that dtype (a
float64 constant in a float32 expression would stop it from vectorising and would round
differently from PyTorch's float32 arithmetic). The arithmetic follows the order of
PyTorch's single-tensor implementation.

Each update is an explicit loop over elements with no branch inside, one loop per case
(weight decay or not, momentum, nesterov, lerp formula, amsgrad), chosen before the loop:
GCC vectorises such loops (0.45 ms per 401K-element Adam step), while the same update as
numpy array expressions ran 1-7 ms, a loop with loop-invariant branches inside ran 7 ms,
and any function of a module that contains an `omp parallel for` ran ~6 ms here. So this
family has no OpenMP: Pythran releases the GIL, and torsh.optim._fused runs the kernel
on chunks from a thread pool when the dispatcher picks the parallel variant.
"""

# pythran export sgd_step(float32[:], float32[:], float32[:], float32, float32, float32, float32, float32, float32, bool, bool)
# pythran export sgd_step(float64[:], float64[:], float64[:], float64, float64, float64, float64, float64, float64, bool, bool)
# pythran export adam_step(float32[:], float32[:], float32[:], float32[:], float32[:], float32, float32, float32, float32, float32, bool, float32, float32, float32, float32, float32, bool)
# pythran export adam_step(float64[:], float64[:], float64[:], float64[:], float64[:], float64, float64, float64, float64, float64, bool, float64, float64, float64, float64, float64, bool)

import numpy as np


# -- SGD: d = gsign * g (+ wd * p); buf = bmom * buf + bdamp * d;
#         p -= lr * (nesterov ? d + mom * buf : buf), or p -= lr * d without momentum
def _sgd_plain(p, g, lr, gsign):
    for i in range(p.shape[0]):
        p[i] = p[i] - lr * (g[i] * gsign)


def _sgd_plain_wd(p, g, lr, gsign, wd):
    for i in range(p.shape[0]):
        p[i] = p[i] - lr * (g[i] * gsign + wd * p[i])


def _sgd_momentum(p, g, buf, lr, gsign, bmom, bdamp):
    for i in range(p.shape[0]):
        b = buf[i] * bmom + (g[i] * gsign) * bdamp
        buf[i] = b
        p[i] = p[i] - lr * b


def _sgd_momentum_wd(p, g, buf, lr, gsign, wd, bmom, bdamp):
    for i in range(p.shape[0]):
        b = buf[i] * bmom + (g[i] * gsign + wd * p[i]) * bdamp
        buf[i] = b
        p[i] = p[i] - lr * b


def _sgd_nesterov(p, g, buf, lr, gsign, mom, bmom, bdamp):
    for i in range(p.shape[0]):
        d = g[i] * gsign
        b = buf[i] * bmom + d * bdamp
        buf[i] = b
        p[i] = p[i] - lr * (d + b * mom)


def _sgd_nesterov_wd(p, g, buf, lr, gsign, wd, mom, bmom, bdamp):
    for i in range(p.shape[0]):
        d = g[i] * gsign + wd * p[i]
        b = buf[i] * bmom + d * bdamp
        buf[i] = b
        p[i] = p[i] - lr * (d + b * mom)


def sgd_step(p, g, buf, lr, gsign, wd, mom, bmom, bdamp, use_momentum, nesterov):
    """SGD on one parameter. The buffer update is ``buf = bmom * buf + bdamp * d``: (mom, 1 - dampening)
    after the first step; on the first, (0, 1) with ``buf`` holding zeros gives PyTorch's copy of d."""
    if not use_momentum:
        if wd != 0:
            _sgd_plain_wd(p, g, lr, gsign, wd)
        else:
            _sgd_plain(p, g, lr, gsign)
    elif nesterov:
        if wd != 0:
            _sgd_nesterov_wd(p, g, buf, lr, gsign, wd, mom, bmom, bdamp)
        else:
            _sgd_nesterov(p, g, buf, lr, gsign, mom, bmom, bdamp)
    elif wd != 0:
        _sgd_momentum_wd(p, g, buf, lr, gsign, wd, bmom, bdamp)
    else:
        _sgd_momentum(p, g, buf, lr, gsign, bmom, bdamp)


# -- Adam/AdamW: p *= decay; d = gsign * g (+ wd * p); m = lerp(m, d, w); v = b2 * v + c2 * d * d;
#                vmax = max(vmax, v) (amsgrad); p += nss * m / (sqrt(vmax or v) / bc2 + eps).
# PyTorch's lerp switches formula at weight 0.5: m + w * (d - m) below, d - (d - m) * (1 - w) above.
def _adam_low(p, g, m, v, decay, gsign, wd, w, b2, c2, bc2, eps, nss):
    for i in range(p.shape[0]):
        param = p[i] * decay
        d = g[i] * gsign + wd * param
        mi = m[i] + w * (d - m[i])
        vi = v[i] * b2 + c2 * d * d
        m[i] = mi
        v[i] = vi
        p[i] = param + nss * mi / (np.sqrt(vi) / bc2 + eps)


def _adam_low_nowd(p, g, m, v, decay, gsign, w, b2, c2, bc2, eps, nss):
    for i in range(p.shape[0]):
        param = p[i] * decay
        d = g[i] * gsign
        mi = m[i] + w * (d - m[i])
        vi = v[i] * b2 + c2 * d * d
        m[i] = mi
        v[i] = vi
        p[i] = param + nss * mi / (np.sqrt(vi) / bc2 + eps)


def _adam_general(p, g, m, v, vmax, decay, gsign, wd, w, w1, lerp_low, b2, c2, bc2, eps, nss, amsgrad):
    # amsgrad, or beta1 <= 0.5: rarer cases, one loop with the choices inside (not vectorised)
    for i in range(p.shape[0]):
        param = p[i] * decay
        d = g[i] * gsign
        if wd != 0:
            d = d + wd * param
        mi = m[i] + w * (d - m[i]) if lerp_low else d - (d - m[i]) * w1
        vi = v[i] * b2 + c2 * d * d
        m[i] = mi
        v[i] = vi
        if amsgrad:
            vi = max(vmax[i], vi)
            vmax[i] = vi
        p[i] = param + nss * mi / (np.sqrt(vi) / bc2 + eps)


def adam_step(p, g, m, v, vmax, decay, gsign, wd, w, w1, lerp_low, b2, c2, bc2, eps, nss, amsgrad):
    """Adam/AdamW on one parameter; ``vmax`` is ignored unless ``amsgrad``."""
    if amsgrad or not lerp_low:
        _adam_general(p, g, m, v, vmax, decay, gsign, wd, w, w1, lerp_low, b2, c2, bc2, eps, nss, amsgrad)
    elif wd != 0:
        _adam_low(p, g, m, v, decay, gsign, wd, w, b2, c2, bc2, eps, nss)
    else:
        _adam_low_nowd(p, g, m, v, decay, gsign, w, b2, c2, bc2, eps, nss)
