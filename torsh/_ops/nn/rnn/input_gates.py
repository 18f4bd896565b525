"""The input projection of an RNN layer, x (T, N, F) @ W_ih^T + biases, for the forward
recurrence: the counterpart of rnn_weight_grads, which overlaps the backward's GEMMs.

The projection is one GEMM over all steps (W9: 1600 x 33 @ 33 x 512, ~0.8 ms on one BLAS
thread), but the recurrence needs step t's gates only when it reaches step t. With two or more
threads the first block of steps is projected at once and the rest block by block on a pool
thread, in the order the recurrence visits the steps, while the recurrence runs on the main
thread; both use one BLAS thread (a two-thread GEMM leaves OpenBLAS's worker spinning on the
core the pool needs). With one thread every block is projected before the recurrence starts. (The
compiled float32 LSTM projects its inputs inside its own recurrence: kernels_cpp/lstm_cell.cpp.)

The bias rides in the GEMM as a column of ones against a row of bias (K = F + 1): adding it to
the (T*N, G) product afterwards was another pass over it (W9: 174 us against the 541 us GEMM).
"""
import threading

import numpy as np

from ....backend import threads
from . import buffers as rnn_buffers, gemm as rnn_gemm

# steps per block: as in rnn_weight_grads, big enough for BLAS speed, small enough that the first
# block (which nothing overlaps) is short
_MIN_BLOCK_STEPS = 4
_BLOCKS = 6
# a smaller projection costs less than handing its blocks to the pool and waiting for them
# (W14's batch-1 LSTM: 0.85M multiply-adds, ~10 us)
_MIN_OVERLAP_MACS = 1 << 22


class InputGates:
    """``gates(n)``: the (N, G) input gates of the n-th step the recurrence visits (step
    ``T - 1 - n`` when ``reverse``), waiting for its block if the pool has not finished it.
    ``x2`` is x as a contiguous (T*N, F) array, for the weight gradient. Call ``close()`` after the
    recurrence (also when it fails): it waits for the pool's work and re-raises its errors."""

    def __init__(self, x, w_ih, bias, dtype, reverse, step_macs):
        steps, batch, feat = x.shape
        self.x2 = np.ascontiguousarray(x, dtype=dtype).reshape(steps * batch, feat)
        self.gx = rnn_buffers.empty((steps, batch, w_ih.shape[0]), dtype)
        if bias is None:
            self._lhs, self._rhs = self.x2, w_ih.T
        else:
            self._lhs = rnn_buffers.empty((steps * batch, feat + 1), dtype)
            self._lhs[:, :feat] = self.x2
            self._lhs[:, feat] = 1
            self._rhs = np.empty((feat + 1, w_ih.shape[0]), dtype)
            self._rhs[:feat] = w_ih.T
            self._rhs[feat] = bias
        macs = steps * batch * self._rhs.shape[0] * self._rhs.shape[1]
        self._kernel = rnn_gemm.kernel_for(dtype)
        self._rhs_packed = rnn_gemm.pack(self._kernel, self._rhs)
        self.steps, self.batch, self.reverse = steps, batch, reverse
        self.block = max(_MIN_BLOCK_STEPS, -(-steps // _BLOCKS))
        overlap = (threads.get_num_threads() > 1 and steps >= 2 * self.block
                   and step_macs < threads.SMALL_GEMM and macs >= _MIN_OVERLAP_MACS)
        self._done = []  # one Event per block after the first, set by the pool as it finishes them
        self._future = None
        if not overlap:
            self._project(0, steps)
            self._ready = steps
            return
        self._project(0, self.block)
        self._ready = self.block
        self._done = [threading.Event() for _ in range(self.block, steps, self.block)]
        self._future = threads.pool().submit(self._project_the_rest)

    def _project(self, first, end):
        """The gates of the visited steps number ``first`` to ``end``."""
        lo, hi = (self.steps - end, self.steps - first) if self.reverse else (first, end)
        rnn_gemm.matmul(self._kernel, self._lhs[lo * self.batch:hi * self.batch], self._rhs, self._rhs_packed,
                        self.gx[lo:hi].reshape((hi - lo) * self.batch, -1))

    def _project_the_rest(self):
        try:
            for k, done in enumerate(self._done):
                first = (k + 1) * self.block
                self._project(first, min(first + self.block, self.steps))
                done.set()
        finally:  # a failed block must not leave the recurrence waiting
            for done in self._done:
                done.set()

    def gates(self, n):
        if n >= self._ready:
            self._done[n // self.block - 1].wait()
            self._ready = min(self.steps, (n // self.block + 1) * self.block)
        return self.gx[self.steps - 1 - n if self.reverse else n]

    def close(self):
        if self._future is not None:
            self._future.result()
            self._future = None
