"""One thread count for every pool torsh uses: OpenMP (Pythran kernels), numexpr and BLAS."""
import os

import numexpr
from threadpoolctl import threadpool_limits

_num_threads = int(os.environ.get("OMP_NUM_THREADS", 0)) or os.cpu_count() or 1
_limits = None


def get_num_threads():
    return _num_threads


def set_num_threads(n):
    """Use ``n`` threads in OpenMP kernels, numexpr and BLAS (torch.set_num_threads)."""
    global _num_threads, _limits
    n = int(n)
    if n < 1:
        raise RuntimeError("set_num_threads expects a positive integer")
    _num_threads = n
    numexpr.set_num_threads(n)
    _limits = threadpool_limits(limits=n)  # kept alive: the limit holds until changed again
