"""Reduction kernels over the last axis of a C-contiguous 2-D array (rows x cols).

Any reduction over a trailing block of dims is this after a reshape; the dispatcher
routes other layouts to NumPy. ``parallel`` splits rows among OpenMP threads.
"""

# pythran export sum_rows(float32[:,:], float32[:], bool)
# pythran export sum_rows(float64[:,:], float64[:], bool)
# pythran export max_rows(float32[:,:], float32[:], bool)
# pythran export max_rows(float64[:,:], float64[:], bool)
# pythran export logsumexp_rows(float32[:,:], float32[:], bool)
# pythran export logsumexp_rows(float64[:,:], float64[:], bool)

import numpy as np


def sum_rows(x, out, parallel):
    rows = x.shape[0]
    if parallel:
        # omp parallel for schedule(static)
        for r in range(rows):
            out[r] = np.sum(x[r])
    else:
        for r in range(rows):
            out[r] = np.sum(x[r])


def max_rows(x, out, parallel):
    rows = x.shape[0]
    if parallel:
        # omp parallel for schedule(static)
        for r in range(rows):
            out[r] = np.max(x[r])
    else:
        for r in range(rows):
            out[r] = np.max(x[r])


def logsumexp_rows(x, out, parallel):
    rows = x.shape[0]
    if parallel:
        # omp parallel for schedule(static)
        for r in range(rows):
            m = np.max(x[r])
            out[r] = m + np.log(np.sum(np.exp(x[r] - m)))
    else:
        for r in range(rows):
            m = np.max(x[r])
            out[r] = m + np.log(np.sum(np.exp(x[r] - m)))
