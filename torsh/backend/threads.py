"""One thread count for every pool torsh uses: OpenMP (Pythran kernels), numexpr and BLAS."""
import contextlib
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


_blas_libraries = None  # threadpoolctl's controllers of the loaded BLAS libraries, found once


def _blas():
    global _blas_libraries
    if _blas_libraries is None:
        from threadpoolctl import ThreadpoolController
        _blas_libraries = ThreadpoolController().select(user_api="blas").lib_controllers
    return _blas_libraries


class single_threaded_blas:
    """Run BLAS on one thread inside the block, for loops of small GEMMs (an RNN's recurrence,
    the per-sample GEMMs of a convolution).

    Below a few million multiply-adds a GEMM takes ~100 us on one core. On an idle 2-core
    machine a second BLAS thread makes it ~1.4x faster (32x128 @ 128x512 float32: 77 vs 105 us),
    but OpenBLAS's threads spin-wait, and when the other core is busy the same GEMM took 2.3 ms
    on two threads against 0.2 ms on one, and a convolution's 32 per-sample GEMMs up to 750 ms
    against 5 ms. Shared machines are the norm here, so small GEMMs give up the best case to
    avoid the worst. Switching costs ~1 us per library (threadpool_limits would cost ~0.9 ms).
    """

    def __enter__(self):
        self._restore = []
        for lib in _blas():
            previous = lib.num_threads
            if previous != 1:
                lib.set_num_threads(1)
                self._restore.append((lib, previous))
        return self

    def __exit__(self, *exc):
        for lib, previous in self._restore:
            lib.set_num_threads(previous)
        return False


SMALL_GEMM = 1 << 22  # multiply-adds per GEMM below which a loop of GEMMs runs single-threaded


def blas_threads_for(macs_per_gemm):
    """single_threaded_blas() for small GEMMs, else a no-op context."""
    return single_threaded_blas() if macs_per_gemm < SMALL_GEMM else contextlib.nullcontext()
