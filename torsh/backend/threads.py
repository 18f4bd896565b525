"""One thread count for every pool torsh uses: OpenMP (Pythran kernels), numexpr and BLAS."""
import contextlib
import os
from concurrent.futures import ThreadPoolExecutor

import numexpr
import numpy as np
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


_blas_libraries = None  # a _BlasThreads per loaded BLAS library, found once


class _BlasThreads:
    """One BLAS library's thread count, read and set through its own C functions when it is an
    OpenBLAS with its own thread pool: threadpoolctl's controller methods take ~1.1 us to read and
    ~1.5 us to set in Python, and a small GEMM's switch to one thread and back made three such
    calls (W14's batch-1 MLP: ~4 us of a ~55 us forward). Other libraries go through threadpoolctl."""

    def __init__(self, controller):
        get = set_ = None
        if controller.internal_api == "openblas" and controller.threading_layer != "openmp":
            get = controller._get_symbol("openblas_get_num_threads")
            set_ = controller._get_symbol("openblas_set_num_threads")
        if get is None or set_ is None:
            get, set_ = controller.get_num_threads, controller.set_num_threads
        self.get_num_threads, self.set_num_threads = get, set_


def _blas():
    global _blas_libraries
    if _blas_libraries is None:
        from threadpoolctl import ThreadpoolController
        _blas_libraries = [_BlasThreads(c) for c in ThreadpoolController().select(user_api="blas").lib_controllers]
    return _blas_libraries


class single_threaded_blas:
    """Run BLAS on one thread inside the block, for loops of small GEMMs (an RNN's recurrence,
    the per-sample GEMMs of a convolution).

    Below a few million multiply-adds a GEMM takes ~100 us on one core. On an idle 2-core
    machine a second BLAS thread makes it ~1.4x faster (32x128 @ 128x512 float32: 77 vs 105 us),
    but OpenBLAS's threads spin-wait, and when the other core is busy the same GEMM took 2.3 ms
    on two threads against 0.2 ms on one, and a convolution's 32 per-sample GEMMs up to 750 ms
    against 5 ms. Shared machines are the norm here, so small GEMMs give up the best case to
    avoid the worst. Switching costs ~0.5 us per library (threadpool_limits would cost ~0.9 ms).
    """

    def __enter__(self):
        self._restore = []
        for lib in _blas():
            previous = lib.get_num_threads()
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


# OpenBLAS runs a GEMM of at most this many multiply-adds on one thread by itself
# (interface/gemm.c: SMP_THRESHOLD_MIN 65536 x GEMM_MULTITHREAD_THRESHOLD 4)
OPENBLAS_SERIAL_GEMM = 65536 * 4


def gemm_threads(macs_per_gemm):
    """The BLAS thread policy for one product (torsh.matmul, nn.Linear, their backward).

    GEMMs too small to share (below SMALL_GEMM) but big enough that OpenBLAS would split them run
    on one thread: LeNet-5's 64x400 @ 400x120 Linear took 9-12 ms on two OpenBLAS threads while
    another process kept the second core busy, against ~0.1 ms on one (one thread waits out the
    other's lost time slice). On an idle machine the second thread would save a few tens of us.
    Smaller products skip the switch (~2 us)."""
    if _num_threads > 1 and OPENBLAS_SERIAL_GEMM < macs_per_gemm < SMALL_GEMM:
        return single_threaded_blas()
    return contextlib.nullcontext()


# -- float32 products on the lstm_cell family's panel GEMM (torsh/_ops/tensor/linalg/matmul.py) ---------------
# From these sizes its AVX-512 tile beats NumPy's OpenBLAS (AVX2 kernel even on AVX-512 CPUs). W6's layers (128
# rows) on one thread: 784 -> 512 forward 816 (255 of it packing the transposed weight) against 1017 us, its weight
# gradient 515 against 919 us; whole steps at one thread: W6 -28 to -32%, W8.1 -27%, W13.1 -23%.
PANEL_GEMM_MIN_MACS = 1 << 22
PANEL_GEMM_MIN_ROWS = 64  # the packed right-hand operand (K x N floats) is amortised over the rows

# The named switch for several threads: with ``gemm_team`` on, those products run on the panel GEMM shared with
# helper threads of its own that spin up to 100 us between calls (kernels_cpp/spin_team.h; the lstm_cell module's
# set_spin_us changes it, TORSH_GEMM_TEAM_SPIN_US at import), instead
# of OpenBLAS's threads. Off, they stay on OpenBLAS (the behaviour before it: the kernel's OpenMP row split woke a
# sleeping thread per call and lost to OpenBLAS, see RESULTS.md). TORSH_GEMM_TEAM=0/1 sets it at import (A/B runs
# in fresh processes), set_gemm_team() later. Never in a forked child (single_thread_reason: a DataLoader worker
# starts no helper, let alone spins one).
# Off by default: on a quiet machine it lost (one-process pairs at two threads, team on/off: W6.1 1.23, W13.1 1.05,
# W8.2 1.04); it won only on a loaded one, where OpenBLAS's two threads collapse (W13.1 0.09). RESULTS.md, 8th session.
_gemm_team = os.environ.get("TORSH_GEMM_TEAM", "0") == "1"


def gemm_team():
    """Whether float32 products share the panel GEMM with its spinning helpers at several threads."""
    return _gemm_team


def set_gemm_team(enabled):
    """Turn the panel GEMM's helper team on or off for products at several threads; returns the previous value."""
    global _gemm_team
    previous, _gemm_team = _gemm_team, bool(enabled)
    return previous


def panel_gemm_threads(m, k, n):
    """Threads a float32 (m, k) @ (k, n) product runs on the panel GEMM with, or 0 to leave it to BLAS: 1 at one
    thread, get_num_threads() with the gemm_team switch on (not in a forked child). explain_gemm says why."""
    if m < PANEL_GEMM_MIN_ROWS or m * k * n < PANEL_GEMM_MIN_MACS:
        return 0
    if _num_threads == 1:
        return 1
    return _num_threads if _gemm_team and not _forked else 0


def explain_gemm(m, k, n, dtype="float32"):
    """Say where a 2-D (m, k) @ (k, n) product of ``dtype`` runs, and why (the variant names of
    dispatch.explain('matmul', (m, k, n)): ``blas``, ``panel_gemm``, ``panel_gemm_team``)."""
    import numpy  # the backend's threads module is imported before anything needs it
    macs = m * k * n
    where = f"matmul {m}x{k} @ {k}x{n}: "
    if numpy.dtype(dtype) != numpy.float32:
        return where + f"blas (dtype {numpy.dtype(dtype)}: the panel GEMM is float32 only)"
    if m < PANEL_GEMM_MIN_ROWS:
        return where + f"blas ({m} rows < {PANEL_GEMM_MIN_ROWS}: too few to amortise packing the right operand)"
    if macs < PANEL_GEMM_MIN_MACS:
        return where + f"blas ({macs:,} multiply-adds < {PANEL_GEMM_MIN_MACS:,})"
    threads = panel_gemm_threads(m, k, n)
    if threads == 1:
        return where + f"panel_gemm ({macs:,} multiply-adds >= {PANEL_GEMM_MIN_MACS:,}; one thread)"
    if threads:
        return where + (f"panel_gemm_team ({macs:,} multiply-adds >= {PANEL_GEMM_MIN_MACS:,}; {threads} threads, "
                        "gemm_team on: helpers spin between calls)")
    why = "forked process" if _forked else "gemm_team off (threads.set_gemm_team / TORSH_GEMM_TEAM=0)"
    return where + f"blas ({_num_threads} threads, {why}: OpenBLAS's threads)"


_executor = None
_forked = False  # this process is a fork() child of one that imported torsh


def pool():
    """A thread pool of get_num_threads() workers, for compiled code that releases the GIL."""
    global _executor
    if _executor is None or _executor._max_workers < _num_threads:
        _executor = ThreadPoolExecutor(max_workers=_num_threads, thread_name_prefix="torsh")
    return _executor


def single_thread_reason():
    """Why the dispatcher must not pick a multi-thread kernel variant here, or None.

    In a fork() child the GNU OpenMP runtime still believes the parent's worker threads exist: a
    parallel region there waits for them forever (PyTorch's own fork children hang the same way)."""
    if _num_threads < 2:
        return "one thread (torsh.get_num_threads() == 1)"
    if _forked:
        return "forked process: the OpenMP threads of the parent are gone"
    return None


def _after_fork_in_child():
    """fork() copies only the calling thread: the inherited executor's workers are gone and work
    submitted to it would wait forever. pool() builds a fresh one when next needed. (numexpr
    restarts its threads when it sees a new pid and OpenBLAS has its own fork handlers; OpenMP is
    kept out by single_thread_reason.)"""
    global _executor, _forked
    _executor = None
    _forked = True


os.register_at_fork(after_in_child=_after_fork_in_child)


def run_in_parts(fn, size):
    """``fn(slice)`` over ``size`` items cut into one contiguous part per thread, in the pool
    (on the calling thread when there is one part)."""
    parts = min(_num_threads, size)
    if parts <= 1:
        fn(slice(0, size))
        return
    bounds = [size * i // parts for i in range(parts + 1)]
    # the first part on the calling thread, which would otherwise only wait: one pool thread fewer to wake
    futures = [pool().submit(fn, slice(start, stop)) for start, stop in zip(bounds[1:-1], bounds[2:])]
    try:
        fn(slice(0, bounds[1]))
    finally:
        for future in futures:  # every part finished before returning or raising (they write into shared outputs)
            future.exception()
    for future in futures:
        future.result()


def in_parts_with_blas(fn, size, macs, split=True):
    """``fn(slice)`` over ``size`` items (samples of a batch), whose GEMMs total ``macs`` multiply-adds.

    With several threads and ``split``: one part per thread in the pool, each on one BLAS thread
    (the policy of batched_matmul, for the same reason: OpenBLAS's own threads spin-wait, and on
    a busy 2-core machine a GEMM on two of them took 10x longer). Otherwise one call over
    everything, BLAS threaded only for big GEMMs (blas_threads_for)."""
    if not split or _num_threads < 2 or size < 2:
        with blas_threads_for(macs):
            fn(slice(0, size))
        return
    with single_threaded_blas():
        run_in_parts(fn, size)


# The named switch for batched float32 products of small GEMMs (attention's [B, H, T, T] scores, issue 20): with it on,
# torsh.matmul/bmm of >= 3-D operands below SMALL_GEMM multiply-adds per GEMM cut the batch into one part per thread
# (batched_matmul) instead of running them all on one BLAS thread. Off by default until measured on a quiet host:
# TORSH_SPLIT_BATCHED_MATMUL=0/1 at import (A/B runs in fresh processes), set_split_batched_matmul() later.
_split_batched_matmul = os.environ.get("TORSH_SPLIT_BATCHED_MATMUL", "0") == "1"


def split_batched_matmul():
    """Whether torsh.matmul's batched small products share the threads (see _split_batched_matmul)."""
    return _split_batched_matmul


def set_split_batched_matmul(enabled):
    """Turn the batched-product split on or off; returns the previous setting."""
    global _split_batched_matmul
    previous, _split_batched_matmul = _split_batched_matmul, bool(enabled)
    return previous


def batched_matmul(a, b, macs_per_gemm):
    """``np.matmul(a, b)`` over a leading batch axis of small GEMMs.

    A loop of small GEMMs runs on one BLAS thread (see single_threaded_blas); with several
    threads allowed, the batch is cut into one part per thread instead, each part a matmul on
    one BLAS thread in the pool (NumPy releases the GIL inside), so both cores work without
    OpenBLAS's spin-waiting threads."""
    out_shape = np.broadcast_shapes(a.shape[:-2], b.shape[:-2]) + (a.shape[-2], b.shape[-1])
    batch = out_shape[0] if len(out_shape) > 2 else 1
    if macs_per_gemm >= SMALL_GEMM or _num_threads < 2 or batch < 2:
        with blas_threads_for(macs_per_gemm):
            return np.matmul(a, b)
    out = np.empty(out_shape, np.result_type(a, b))

    def part(rows):
        pick = lambda m: m[rows] if m.ndim == len(out_shape) and m.shape[0] == batch else m  # noqa: E731
        np.matmul(pick(a), pick(b), out=out[rows])

    with single_threaded_blas():
        run_in_parts(part, batch)
    return out
