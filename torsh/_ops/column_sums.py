"""Column sums of a float32 matrix: a Linear's bias gradient (``sum_to`` of its (rows, out) output gradient) on
the ``transformer`` family's ``column_sums``, which reads each row once into vector partial sums (a two-level
cascade, 64 rows a block). NumPy's ``sum(axis=0)`` took 15-18 us on W13's 512 x 128 gradient, PyTorch 4 us."""
import numpy as np

from ..backend import dispatch, kernels


_WIDE = 128  # columns the kernel sums in full vectors (8 AVX-512 vectors): fewer go through the scalar tail


def column_sums(a):
    """``a.sum(axis=0)`` of the 2-D array ``a``."""
    rows, cols = a.shape
    if 0 < cols < _WIDE and a.size >= 8192 and a.dtype == np.float32 and a.flags.c_contiguous:
        return _narrow_column_sums(a, rows, cols)

    def compiled(parallel):
        out = np.empty(a.shape[1], dtype=np.float32)
        kernels.get("transformer").column_sums(a, out, a.shape[0], a.shape[1])
        return out

    return dispatch.call("column_sums", a.size, a.dtype, a.dtype == np.float32 and a.flags.c_contiguous, compiled,
                         lambda: a.sum(axis=0))


def _narrow_column_sums(a, rows, cols):
    """Fewer columns than the kernel's vector block (sum(0) of an (N, 10) matrix): the rows regrouped ``k`` at a
    time into (rows // k, k * cols) so the kernel runs on full vectors, then the k partial rows and the leftover
    rows added (the scalar tail took ~4x PyTorch's time at 4096 x 10)."""
    k = -(-_WIDE // cols)
    body = rows - rows % k
    parts = column_sums(a[:body].reshape(body // k, k * cols)).reshape(k, cols)
    if body < rows:
        parts = np.concatenate((parts, a[body:]))
    return parts.sum(axis=0)
