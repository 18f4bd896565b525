"""The GEMMs of an RNN layer's backward that do not depend on the recurrence: gradients of the
input x, of W_ih, W_hh and of the biases, from the pre-activation gate gradients of all steps.

The backward recurrence (one small GEMM and one cell kernel per step) is sequential and keeps
one core busy; these GEMMs are as much work again (W9: 157M multiply-adds against the
recurrence's 100M) but need only the steps already done. With two or more threads they run
block by block on a pool thread while the recurrence goes on, one BLAS thread each, so the
second core works instead of waiting for the end (the pattern of torsh.backend.threads:
Python threads that release the GIL inside BLAS, no spin-waiting OpenBLAS threads). With
one thread they are the same GEMMs over all steps at once, after the recurrence. (The compiled
float32 LSTM computes its weight gradients in its own backward call: kernels_cpp/lstm_cell.cpp.)

Time indices are those of the sequence (``t``), whatever the direction; ``h_prev[t]`` is the
hidden state step t multiplied with W_hh (h0 for the first step of the direction).
"""
import numpy as np

from ....backend import threads
from . import buffers as rnn_buffers, gemm as rnn_gemm

# steps per block handed to the pool: big enough that a block's GEMMs run near BLAS speed,
# small enough that the last block (which nothing overlaps) is short
_MIN_BLOCK_STEPS = 4
_BLOCKS = 6


def previous_hidden(h0, outputs, reverse, out=None):
    """(T, N, H): the hidden state each step multiplied with W_hh, written into ``out`` (a (T, N, H)
    array or view) when given."""
    if out is None:
        out = rnn_buffers.empty(outputs.shape, outputs.dtype)
    first, rest = (-1, slice(None, -1)) if reverse else (0, slice(1, None))
    out[first] = h0
    out[rest] = outputs[1:] if reverse else outputs[:-1]
    return out


def _inputs_side_by_side(x2, h0, outputs, reverse):
    """(T*N, F + H): x and the previous hidden state of each row side by side, the right-hand operand
    of one GEMM giving d W_ih and d W_hh together when both gates' gradients are the same (LSTM): one
    pass over the gate gradients and one parallel region instead of two (waking the other thread of
    a region costs tens of us on this VM)."""
    rows, feat = x2.shape
    both = rnn_buffers.empty((rows, feat + outputs.shape[-1]), outputs.dtype)
    both[:, :feat] = x2
    previous_hidden(h0, outputs, reverse, both[:, feat:].reshape(outputs.shape))
    return both


class WeightGrads:
    """Collects d x, d W_ih, d W_hh, d b_ih, d b_hh while the backward recurrence fills the gate
    gradients ``d_in`` (input gates) and ``d_rec`` (recurrent gates), both (T, N, G).

    Call ``step_done()`` after each step's gate gradients are written, then ``result()``."""

    def __init__(self, d_in, d_rec, x2, w_ih, h0, outputs, reverse, has_bias, need_x):
        self.d_in, self.d_rec, self.x2, self.w_ih = d_in, d_rec, x2, w_ih
        self.both = _inputs_side_by_side(x2, h0, outputs, reverse) if d_rec is d_in else None
        self.h_prev = self.both[:, x2.shape[1]:] if d_rec is d_in else previous_hidden(h0, outputs, reverse)
        self.reverse, self.has_bias = reverse, has_bias
        self.kernel = rnn_gemm.kernel_for(d_in.dtype)
        self.w_ih_packed = rnn_gemm.pack(self.kernel, w_ih) if need_x else None
        steps, batch, _ = d_in.shape
        self.batch = batch
        self.d_x = rnn_buffers.empty((steps, batch, w_ih.shape[1]), d_in.dtype) if need_x else None
        # overlap only where the recurrence's step GEMMs run on one BLAS thread (the callers'
        # blas_threads_for): the blocks then take the other core instead of competing for both
        step_macs = batch * d_in.shape[-1] * outputs.shape[-1]
        self.overlap = (threads.get_num_threads() > 1 and steps >= 2 * _MIN_BLOCK_STEPS
                        and step_macs < threads.SMALL_GEMM)
        self.block = max(_MIN_BLOCK_STEPS, -(-steps // _BLOCKS))
        self.steps = steps
        self.finished = 0  # steps whose gate gradients are written: the last ones of the direction
        self.pending = []  # futures of the blocks' (d_w_ih, d_w_hh) partial sums

    def step_done(self):
        """One more step's gate gradients are written (backward visits the direction's steps last to first)."""
        self.finished += 1
        if self.overlap and self.finished % self.block == 0 and self.finished < self.steps:
            self.pending.append(threads.pool().submit(self._block, *self._span(self.finished - self.block,
                                                                                self.finished)))

    def _span(self, first, end):
        """Time indices [lo, hi) of the direction's finished steps number ``first`` to ``end`` (counted
        from where backward started: the sequence's end, or its start for a reversed layer)."""
        return (first, end) if self.reverse else (self.steps - end, self.steps - first)

    def _block(self, lo, hi):
        """d x for steps [lo, hi) and their share of d W_ih, d W_hh."""
        gates = self.d_in.shape[-1]
        d_in = self.d_in[lo:hi].reshape(-1, gates)
        if self.d_x is not None:
            rnn_gemm.matmul(self.kernel, d_in, self.w_ih, self.w_ih_packed,
                            self.d_x[lo:hi].reshape(d_in.shape[0], -1))
        rows = slice(lo * self.batch, hi * self.batch)
        if self.both is not None:
            both = rnn_gemm.matmul_tn(self.kernel, d_in, self.both[rows])
            return both[:, :self.x2.shape[1]], both[:, self.x2.shape[1]:]
        d_w_ih = rnn_gemm.matmul_tn(self.kernel, d_in, self.x2[rows])
        d_w_hh = rnn_gemm.matmul_tn(self.kernel, self.d_rec[lo:hi].reshape(-1, gates),
                                    self.h_prev.reshape(-1, self.h_prev.shape[-1])[rows])
        return d_w_ih, d_w_hh

    def result(self):
        """(d_x, d_w_ih, d_w_hh, d_b_ih, d_b_hh) once every step is done; BLAS must still be
        single-threaded here when blocks are pending (the caller's single_threaded_blas)."""
        if self.overlap and self.pending:  # the rest runs here while the pool finishes its blocks
            d_w_ih, d_w_hh = self._block(*self._span(len(self.pending) * self.block, self.steps))
            for future in self.pending:
                part_ih, part_hh = future.result()
                d_w_ih += part_ih
                d_w_hh += part_hh
        else:
            d_w_ih, d_w_hh = self._block(0, self.steps)
        d_w_ih, d_w_hh = np.ascontiguousarray(d_w_ih), np.ascontiguousarray(d_w_hh)  # views of one product
        d_b_ih = d_b_hh = None
        if self.has_bias:
            gates = self.d_in.shape[-1]
            d_b_ih = self.d_in.reshape(-1, gates).sum(0)
            d_b_hh = d_b_ih.copy() if self.d_rec is self.d_in else self.d_rec.reshape(-1, gates).sum(0)
        return self.d_x, d_w_ih, d_w_hh, d_b_ih, d_b_hh
