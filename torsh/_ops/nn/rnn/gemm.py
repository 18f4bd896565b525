"""The products of an RNN layer outside its recurrence (input projection, weight and input
gradients) on the GEMM of the C++ family lstm_cell for float32: its packed-panel kernel
(kernels_cpp/lstm_seq_impl.h) has an AVX-512 build, where NumPy's OpenBLAS runs its AVX2 kernel
even on AVX-512 CPUs (W9's 512 x 1600 @ 1600 x 128 weight gradient: 1.0 ms against 1.9 ms on one
thread). Other dtypes, or the family missing, use NumPy.
"""
import numpy as np

from ....backend import kernels


def kernel_for(dtype):
    """The lstm_cell family when it can run this dtype's products, else None."""
    return kernels.get("lstm_cell") if dtype == np.float32 else None


def pack(kernel, b):
    """``b`` (K, N) prepared as the right-hand operand of ``matmul`` (packed once, used many times)."""
    if kernel is None:
        return b
    return kernel.pack_weight(np.ascontiguousarray(b), b.shape[0], b.shape[1], False)


def matmul(kernel, a, b, packed, out):
    """out = a @ b for C-contiguous 2-D ``a`` and ``out``; ``packed`` = pack(kernel, b)."""
    if kernel is None:
        return np.matmul(a, b, out=out)
    (m, k), n = a.shape, b.shape[1]
    kernel.gemm(a, packed, out, m, k, n, k, 1, False)
    return out


def matmul_tn(kernel, a, b):
    """a.T @ b for C-contiguous 2-D ``a`` (K, M) and ``b`` (K, N): a weight gradient, summed over
    the rows of a block of steps."""
    if kernel is None:
        return a.T @ b
    (k, m), n = a.shape, b.shape[1]
    out = np.empty((m, n), a.dtype)
    kernel.gemm(a, pack(kernel, b), out, m, k, n, 1, m, False)
    return out
