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


_blas_libraries = None  # threadpoolctl's controllers of the loaded BLAS libraries, found once


def _blas():
    global _blas_libraries
    if _blas_libraries is None:
        from threadpoolctl import ThreadpoolController
        _blas_libraries = ThreadpoolController().select(user_api="blas").lib_controllers
    return _blas_libraries


class single_threaded_blas:
    """Run BLAS on one thread inside the block, for loops of small GEMMs (an RNN's recurrence).

    Below a few million multiply-adds a GEMM takes ~100 us on one core; handing half of it to a
    second BLAS thread costs more than it saves, and far more when the other core is busy
    (measured here: 32x128 @ 128x512 float32 took 0.2 ms on one thread, 2.3 ms on two with the
    other core loaded). Switching costs ~1 us per library (threadpool_limits would cost ~0.9 ms).
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
