"""Elementwise kernels: binary arithmetic and unary math on flat contiguous arrays.

Every kernel writes into a caller-provided ``out`` (the caller owns allocation, so the
memory accounting stays in torsh.backend.memory) and takes ``parallel``: when true the
array is cut into cache-sized chunks shared among OpenMP threads, each chunk still being
one vectorised (xsimd) array expression; when false it is a single vectorised pass.
Array expressions vectorise, explicit per-element loops do not, hence the chunking.

The chunks are handed out dynamically: waking a sleeping OpenMP worker (OMP_WAIT_POLICY=PASSIVE, set by
torsh.backend.kernels) took 25-45 us on the 2-core VM, and with a static schedule the second half of the array
waited for it (1e6 float32 add: 107 us on two threads against 104 us on one). Dynamically, the calling thread
works through chunks until the worker arrives and shares what is left. Each element is still computed by
the same expression, whichever thread takes its chunk, so results do not depend on the schedule.
"""

# pythran export add(float32[:], float32[:], float32[:], bool)
# pythran export add(float64[:], float64[:], float64[:], bool)
# pythran export sub(float32[:], float32[:], float32[:], bool)
# pythran export sub(float64[:], float64[:], float64[:], bool)
# pythran export mul(float32[:], float32[:], float32[:], bool)
# pythran export mul(float64[:], float64[:], float64[:], bool)
# pythran export div(float32[:], float32[:], float32[:], bool)
# pythran export div(float64[:], float64[:], float64[:], bool)
# pythran export add_scalar(float32[:], float32, float32[:], bool)
# pythran export add_scalar(float64[:], float64, float64[:], bool)
# pythran export mul_scalar(float32[:], float32, float32[:], bool)
# pythran export mul_scalar(float64[:], float64, float64[:], bool)
# pythran export rsub_scalar(float32[:], float32, float32[:], bool)
# pythran export rsub_scalar(float64[:], float64, float64[:], bool)
# pythran export div_scalar(float32[:], float32, float32[:], bool)
# pythran export div_scalar(float64[:], float64, float64[:], bool)
# pythran export rdiv_scalar(float32[:], float32, float32[:], bool)
# pythran export rdiv_scalar(float64[:], float64, float64[:], bool)
# pythran export copy(float32[:], float32[:], bool)
# pythran export copy(float64[:], float64[:], bool)
# pythran export fill(float32[:], float32, bool)
# pythran export fill(float64[:], float64, bool)
# pythran export exp(float32[:], float32[:], bool)
# pythran export exp(float64[:], float64[:], bool)
# pythran export tanh(float32[:], float32[:], bool)
# pythran export tanh(float64[:], float64[:], bool)
# pythran export sigmoid(float32[:], float32[:], bool)
# pythran export sigmoid(float64[:], float64[:], bool)
# pythran export relu(float32[:], float32[:], bool)
# pythran export relu(float64[:], float64[:], bool)
# pythran export gelu_tanh(float32[:], float32[:], bool)
# pythran export gelu_tanh(float64[:], float64[:], bool)

import numpy as np

CHUNK = 16384  # elements per OpenMP work item: 64 KiB of float32, fits in L2 with its operands


def add(a, b, out, parallel):
    n = out.shape[0]
    if a.shape[0] != n or b.shape[0] != n:
        raise ValueError("add: operands and out differ in size")
    if parallel:
        # omp parallel for schedule(dynamic)
        for c in range((n + CHUNK - 1) // CHUNK):
            s = c * CHUNK
            e = min(n, s + CHUNK)
            out[s:e] = a[s:e] + b[s:e]
    else:
        out[:] = a + b


def sub(a, b, out, parallel):
    n = out.shape[0]
    if a.shape[0] != n or b.shape[0] != n:
        raise ValueError("sub: operands and out differ in size")
    if parallel:
        # omp parallel for schedule(dynamic)
        for c in range((n + CHUNK - 1) // CHUNK):
            s = c * CHUNK
            e = min(n, s + CHUNK)
            out[s:e] = a[s:e] - b[s:e]
    else:
        out[:] = a - b


def mul(a, b, out, parallel):
    n = out.shape[0]
    if a.shape[0] != n or b.shape[0] != n:
        raise ValueError("mul: operands and out differ in size")
    if parallel:
        # omp parallel for schedule(dynamic)
        for c in range((n + CHUNK - 1) // CHUNK):
            s = c * CHUNK
            e = min(n, s + CHUNK)
            out[s:e] = a[s:e] * b[s:e]
    else:
        out[:] = a * b


def div(a, b, out, parallel):
    n = out.shape[0]
    if a.shape[0] != n or b.shape[0] != n:
        raise ValueError("div: operands and out differ in size")
    if parallel:
        # omp parallel for schedule(dynamic)
        for c in range((n + CHUNK - 1) // CHUNK):
            s = c * CHUNK
            e = min(n, s + CHUNK)
            out[s:e] = a[s:e] / b[s:e]
    else:
        out[:] = a / b


# -- one operand a scalar (of the array's dtype): ``t + 0.5``, ``2 / t``; sub is add_scalar of -s (exactly
# a - s in IEEE arithmetic), rsub and rdiv the reflected forms
def add_scalar(a, s, out, parallel):
    n = out.shape[0]
    if a.shape[0] != n:
        raise ValueError("add_scalar: a and out differ in size")
    if parallel:
        # omp parallel for schedule(dynamic)
        for c in range((n + CHUNK - 1) // CHUNK):
            lo = c * CHUNK
            hi = min(n, lo + CHUNK)
            out[lo:hi] = a[lo:hi] + s
    else:
        out[:] = a + s


def mul_scalar(a, s, out, parallel):
    n = out.shape[0]
    if a.shape[0] != n:
        raise ValueError("mul_scalar: a and out differ in size")
    if parallel:
        # omp parallel for schedule(dynamic)
        for c in range((n + CHUNK - 1) // CHUNK):
            lo = c * CHUNK
            hi = min(n, lo + CHUNK)
            out[lo:hi] = a[lo:hi] * s
    else:
        out[:] = a * s


def rsub_scalar(a, s, out, parallel):
    n = out.shape[0]
    if a.shape[0] != n:
        raise ValueError("rsub_scalar: a and out differ in size")
    if parallel:
        # omp parallel for schedule(dynamic)
        for c in range((n + CHUNK - 1) // CHUNK):
            lo = c * CHUNK
            hi = min(n, lo + CHUNK)
            out[lo:hi] = s - a[lo:hi]
    else:
        out[:] = s - a


def div_scalar(a, s, out, parallel):
    n = out.shape[0]
    if a.shape[0] != n:
        raise ValueError("div_scalar: a and out differ in size")
    if parallel:
        # omp parallel for schedule(dynamic)
        for c in range((n + CHUNK - 1) // CHUNK):
            lo = c * CHUNK
            hi = min(n, lo + CHUNK)
            out[lo:hi] = a[lo:hi] / s
    else:
        out[:] = a / s


def rdiv_scalar(a, s, out, parallel):
    n = out.shape[0]
    if a.shape[0] != n:
        raise ValueError("rdiv_scalar: a and out differ in size")
    if parallel:
        # omp parallel for schedule(dynamic)
        for c in range((n + CHUNK - 1) // CHUNK):
            lo = c * CHUNK
            hi = min(n, lo + CHUNK)
            out[lo:hi] = s / a[lo:hi]
    else:
        out[:] = s / a


# -- copy_ / fill_ of contiguous arrays of one dtype (copy_ also in place of np.copyto)
def copy(src, out, parallel):
    n = out.shape[0]
    if src.shape[0] != n:
        raise ValueError("copy: src and out differ in size")
    if parallel:
        # omp parallel for schedule(dynamic)
        for c in range((n + CHUNK - 1) // CHUNK):
            lo = c * CHUNK
            hi = min(n, lo + CHUNK)
            out[lo:hi] = src[lo:hi]
    else:
        out[:] = src


def fill(out, value, parallel):
    n = out.shape[0]
    if parallel:
        # omp parallel for schedule(dynamic)
        for c in range((n + CHUNK - 1) // CHUNK):
            lo = c * CHUNK
            hi = min(n, lo + CHUNK)
            out[lo:hi] = value
    else:
        out[:] = value


def exp(x, out, parallel):
    n = out.shape[0]
    if x.shape[0] != n:
        raise ValueError("exp: x and out differ in size")
    if parallel:
        # omp parallel for schedule(dynamic)
        for c in range((n + CHUNK - 1) // CHUNK):
            s = c * CHUNK
            e = min(n, s + CHUNK)
            out[s:e] = np.exp(x[s:e])
    else:
        out[:] = np.exp(x)


def tanh(x, out, parallel):
    n = out.shape[0]
    if x.shape[0] != n:
        raise ValueError("tanh: x and out differ in size")
    if parallel:
        # omp parallel for schedule(dynamic)
        for c in range((n + CHUNK - 1) // CHUNK):
            s = c * CHUNK
            e = min(n, s + CHUNK)
            out[s:e] = np.tanh(x[s:e])
    else:
        out[:] = np.tanh(x)


def sigmoid(x, out, parallel):
    # PyTorch's formula 1 / (1 + exp(-x)): exp(-x) overflowing to inf gives 1 / inf = 0, as it should.
    # xsimd's exp is ~2.7x faster than its tanh (1e6 float32: 250 vs 670 us), and the old
    # 0.5 + 0.5 * tanh(x / 2) cancelled to 0 below x = -17 where this keeps the tail (sigmoid(-20) = 2.06e-9).
    # np.reciprocal, not 1 / (...): Pythran left that division unvectorised (1600 against 330 us)
    n = out.shape[0]
    if x.shape[0] != n:
        raise ValueError("sigmoid: x and out differ in size")
    if parallel:
        # omp parallel for schedule(dynamic)
        for c in range((n + CHUNK - 1) // CHUNK):
            s = c * CHUNK
            e = min(n, s + CHUNK)
            out[s:e] = np.reciprocal(1 + np.exp(-x[s:e]))
    else:
        out[:] = np.reciprocal(1 + np.exp(-x))


def _relu_chunk(x, out):
    # PyTorch's relu: 0 where x < 0, x elsewhere (NaN and -0.0 kept). np.maximum compiled to a max that
    # gave 0 for NaN; this loop GCC turns into a compare and blend
    for i in range(out.shape[0]):
        v = x[i]
        out[i] = 0 if v < 0 else v


def relu(x, out, parallel):
    n = out.shape[0]
    if x.shape[0] != n:
        raise ValueError("relu: x and out differ in size")
    if parallel:
        # omp parallel for schedule(dynamic)
        for c in range((n + CHUNK - 1) // CHUNK):
            s = c * CHUNK
            e = min(n, s + CHUNK)
            _relu_chunk(x[s:e], out[s:e])
    else:
        for c in range((n + CHUNK - 1) // CHUNK):
            s = c * CHUNK
            e = min(n, s + CHUNK)
            _relu_chunk(x[s:e], out[s:e])


def gelu_tanh(x, out, parallel):
    n = out.shape[0]
    if x.shape[0] != n:
        raise ValueError("gelu_tanh: x and out differ in size")
    if parallel:
        # omp parallel for schedule(dynamic)
        for c in range((n + CHUNK - 1) // CHUNK):
            s = c * CHUNK
            e = min(n, s + CHUNK)
            v = x[s:e]
            out[s:e] = 0.5 * v * (1 + np.tanh(0.7978845608028654 * (v + 0.044715 * v * v * v)))
    else:
        out[:] = 0.5 * x * (1 + np.tanh(0.7978845608028654 * (x + 0.044715 * x * x * x)))
