"""One LSTM or GRU layer direction over a whole sequence as a single autograd node.

The unfused recurrence (nn/modules/rnn.py) records ~15 nodes per time step, and the Python
cost of building and walking them dominated small-batch LSTMs (5x PyTorch on W9). Here one
node covers the input projection (one GEMM over all steps, both biases folded in) and the
recurrence.

A float32 LSTM on the compiled variant runs in the C++ family lstm_cell (kernels_cpp/lstm_cell.cpp):
one call per direction forward (input projection included, step by step) and one backward (the
recurrence, d x, then the weight and bias gradients), each in ONE OpenMP region whose threads own
shares of the batch rows (waking a region's sleeping thread costs tens of us on this VM; the old
five regions per training step varied run to run). Otherwise (float64, GRU, the family missing) a
time step is one GEMM (h_prev @ W_hh^T, NumPy/BLAS) plus one call of a fused cell kernel
(kernels_pythran/rnn.py) that does all of the step's elementwise work: gate activations, cell
and hidden state forward; gate gradients and the carried cell/hidden gradient backward
(hand-written backpropagation through time).

The dispatcher decides once per sequence (ops ``lstm_sequence``, ``gru_sequence`` and their
``_backward``) between the compiled steps and their NumPy twins below, which fill the same
buffers, and records one record per sequence.

Double backward (create_graph=True) re-runs the recurrence with torsh ops from the saved
inputs and differentiates that, so higher-order gradients stay exact.
"""
import contextlib

import numpy as np

from ...._tensor import wrap
from ....autograd import grad_mode
from ....autograd.graph import Node, needs_grad, record
from ....backend import dispatch, kernels
from ....backend.threads import blas_threads_for, get_num_threads, single_thread_reason
from . import buffers as rnn_buffers
from .input_gates import InputGates
from .weight_grads import WeightGrads


def _steps(length, reverse):
    return range(length - 1, -1, -1) if reverse else range(length)


def _contiguous(a, dtype):
    return np.ascontiguousarray(a, dtype=dtype)


# -- NumPy twins of the compiled steps (same operands, same buffers filled) -----------------------
def _sigmoid_tanh_scales(hidden, gates, tanh_gate, dtype):
    """Per-column (scale, offset): sigmoid(x) = 0.5 tanh(0.5 x) + 0.5, and tanh(x) for ``tanh_gate``."""
    scale = np.full(gates * hidden, 0.5, dtype)
    offset = np.full(gates * hidden, 0.5, dtype)
    if tanh_gate is not None:
        scale[tanh_gate * hidden:(tanh_gate + 1) * hidden] = 1
        offset[tanh_gate * hidden:(tanh_gate + 1) * hidden] = 0
    return scale, offset


class _NumpySteps:
    """The cell steps in NumPy ufuncs writing into the given buffers (no exp overflow warnings:
    sigmoid goes through tanh)."""

    def __init__(self, hidden, dtype):
        self.lstm_scale, self.lstm_offset = _sigmoid_tanh_scales(hidden, 4, 2, dtype)
        self.half = dtype.type(0.5)

    def lstm_step_forward(self, hw, gx, c_prev, act, c, tc, h, parallel):
        hidden = c.shape[1]
        np.add(hw, gx, out=act)
        act *= self.lstm_scale
        np.tanh(act, out=act)
        act *= self.lstm_scale
        act += self.lstm_offset
        i, f, g, o = (act[:, k * hidden:(k + 1) * hidden] for k in range(4))
        np.multiply(f, c_prev, out=c)
        c += i * g
        np.tanh(c, out=tc)
        np.multiply(o, tc, out=h)

    @staticmethod
    def lstm_step_backward(dh, gout, dc, act, c_prev, tc, dg, parallel):
        hidden = dh.shape[1]
        dh += gout
        i, f, g, o = (act[:, k * hidden:(k + 1) * hidden] for k in range(4))
        dc += dh * o * (1 - tc * tc)
        np.multiply(dc * g, i * (1 - i), out=dg[:, :hidden])
        np.multiply(dc * c_prev, f * (1 - f), out=dg[:, hidden:2 * hidden])
        np.multiply(dc * i, 1 - g * g, out=dg[:, 2 * hidden:3 * hidden])
        np.multiply(dh * tc, o * (1 - o), out=dg[:, 3 * hidden:])
        dc *= f

    def gru_step_forward(self, gh, gx, b_hn, h_prev, act, hn, h, parallel):
        hidden = h.shape[1]
        rz = act[:, :2 * hidden]
        n = act[:, 2 * hidden:]
        np.add(gh[:, :2 * hidden], gx[:, :2 * hidden], out=rz)
        rz *= self.half
        np.tanh(rz, out=rz)
        rz *= self.half
        rz += self.half
        np.add(gh[:, 2 * hidden:], b_hn, out=hn)
        np.multiply(act[:, :hidden], hn, out=n)
        n += gx[:, 2 * hidden:]
        np.tanh(n, out=n)
        np.subtract(h_prev, n, out=h)
        h *= act[:, hidden:2 * hidden]
        h += n

    @staticmethod
    def gru_step_backward(dh, gout, carry, act, hn, h_prev, dgx, dgh, parallel):
        hidden = dh.shape[1]
        r, z, n = act[:, :hidden], act[:, hidden:2 * hidden], act[:, 2 * hidden:]
        dh += gout
        dh += carry
        dn = dgx[:, 2 * hidden:]
        np.multiply(dh * (1 - z), 1 - n * n, out=dn)
        np.multiply(dn, r, out=dgh[:, 2 * hidden:])
        np.multiply(dn * hn, r * (1 - r), out=dgx[:, :hidden])
        np.multiply(dh * (h_prev - n), z * (1 - z), out=dgx[:, hidden:2 * hidden])
        dgh[:, :2 * hidden] = dgx[:, :2 * hidden]
        np.multiply(dh, z, out=carry)


def _bias(b_ih, extra):
    """The bias added to the input gates: b_ih, plus b_hh (LSTM) or its r and z parts (GRU)."""
    return b_ih if extra is None else (extra if b_ih is None else b_ih + extra)


def _run(op, numel, dtype, hidden, loop):
    """Run ``loop(steps, parallel)`` once per sequence on the variant the dispatcher picks: the
    compiled steps of the rnn family, or their NumPy twins."""
    return dispatch.call(op, numel, dtype, True, lambda parallel: loop(kernels.get("rnn"), parallel),
                         lambda: loop(_NumpySteps(hidden, dtype), False))


# -- LSTM ------------------------------------------------------------------------------------------
_NOT_WANTED = np.empty(0, np.float32)  # an operand lstm_cell's layer calls skip (no bias, no d x)


def lstm_forward_arrays(x, h0, c0, w_ih, w_hh, b_ih, b_hh, reverse):
    """The recurrence on arrays: outputs (T, N, H) and what backward needs."""
    dtype = w_hh.dtype
    steps, batch, feat = x.shape
    hidden = w_hh.shape[1]
    step_macs = batch * 4 * hidden * hidden
    x2 = _contiguous(x, dtype).reshape(steps * batch, feat)
    acts = rnn_buffers.empty((steps, batch, 4 * hidden), dtype)  # sigmoid(i), sigmoid(f), tanh(g), sigmoid(o)
    cells = rnn_buffers.empty((steps, batch, hidden), dtype)
    tanh_cells = rnn_buffers.empty((steps, batch, hidden), dtype)
    outputs = rnn_buffers.empty((steps, batch, hidden), dtype)
    h0, c0 = _contiguous(h0, dtype), _contiguous(c0, dtype)
    bias = _bias(b_ih, b_hh)

    def loop(k, parallel):
        layer = _lstm_layer_kernel(k, dtype)
        if layer is not None:  # the whole layer in one call, projection included
            layer.lstm_layer_forward(_contiguous(w_ih, dtype), _contiguous(w_hh, dtype),
                                     _NOT_WANTED if bias is None else _contiguous(bias, dtype), x2, h0, c0, acts,
                                     cells, tanh_cells, outputs, steps, batch, feat, hidden, reverse,
                                     _recurrence_threads())
            return
        gates = InputGates(x2.reshape(steps, batch, feat), w_ih, bias, dtype, reverse, step_macs)
        try:
            h, c = h0, c0
            w_hh_t = w_hh.T  # BLAS takes the transposed layout as is (a contiguous copy: 91 us, no faster GEMM)
            hw = np.empty((batch, 4 * hidden), dtype)
            for n, t in enumerate(_steps(steps, reverse)):
                np.matmul(h, w_hh_t, out=hw)
                k.lstm_step_forward(hw, gates.gates(n), c, acts[t], cells[t], tanh_cells[t], outputs[t], parallel)
                h, c = outputs[t], cells[t]
        finally:
            gates.close()

    with _lstm_blas_threads(dtype, step_macs):
        _run("lstm_sequence", acts.size, dtype, hidden, loop)
    return outputs, x2, acts, cells, tanh_cells


def _lstm_layer_kernel(k, dtype):
    """The C++ family lstm_cell (kernels_cpp/lstm_cell.cpp) when the compiled variant runs a float32
    LSTM: one call runs a direction's whole forward (input projection included) or backward (weight
    gradients included), each in one OpenMP region. The dispatch records keep the rnn family's names."""
    if dtype != np.float32 or k is not kernels.get("rnn"):
        return None
    return kernels.get("lstm_cell")


def _lstm_blas_threads(dtype, step_macs):
    """One BLAS thread for the small per-step GEMMs (and the pool's blocks beside them); none of
    that when the lstm_cell family runs a float32 layer, whose products do not go through BLAS
    (setting BLAS's thread count twice costs ~10 us, W14's batch-1 forward is ~200 us)."""
    if dtype == np.float32 and kernels.get("lstm_cell") is not None:
        return contextlib.nullcontext()
    return blas_threads_for(step_macs)


def _recurrence_threads():
    """Threads that share the batch rows of a compiled LSTM layer (lstm_cell's OpenMP split,
    bit-identical to one thread): torsh's thread count, 1 where OpenMP must not start (a fork child)."""
    return 1 if single_thread_reason() is not None else get_num_threads()


def _lstm_backward_layer(layer, w_ih, w_hh, x2, h0, outputs, gout, dh, dc, acts, cells, tanh_cells, c0, reverse,
                         has_bias, need_x):
    """The compiled float32 backward of one direction in one call: (d_x, d_w_ih, d_w_hh, d_b_ih, d_b_hh)."""
    steps, batch, hidden = cells.shape
    feat = x2.shape[1]
    d_gates = rnn_buffers.empty(acts.shape, np.float32)
    d_x = rnn_buffers.empty((steps, batch, feat), np.float32) if need_x else None
    d_w_ih = np.empty((4 * hidden, feat), np.float32)
    d_w_hh = np.empty((4 * hidden, hidden), np.float32)
    d_b = np.empty(4 * hidden, np.float32) if has_bias else None
    layer.lstm_layer_backward(_contiguous(w_ih, np.float32), _contiguous(w_hh, np.float32), x2, h0, outputs, gout, dh,
                              dc, acts, cells, tanh_cells, c0, d_gates, _NOT_WANTED if d_x is None else d_x, d_w_ih,
                              d_w_hh, _NOT_WANTED if d_b is None else d_b, steps, batch, feat, hidden, reverse,
                              _recurrence_threads())
    return d_x, d_w_ih, d_w_hh, d_b, None if d_b is None else d_b.copy()


class LstmSequenceBackward(Node):
    def name(self):
        return "MkldnnRnnLayerBackward0"  # PyTorch 2.13 CPU: one mkldnn_rnn_layer per layer and direction

    def backward(self, grad_out, grad_h, grad_c):
        x, h0, c0, w_ih, w_hh, b_ih, b_hh = self.saved_tensors
        if grad_mode.is_grad_enabled():  # create_graph: differentiate the recurrence in torsh ops
            return _lstm_backward_with_graph(self.reverse, x, h0, c0, w_ih, w_hh, b_ih, b_hh,
                                             grad_out, grad_h, grad_c)
        grads = self._backward_arrays(w_ih._data, w_hh._data, h0._data, c0._data, grad_out._data, grad_h._data,
                                      grad_c._data, b_ih is not None, self.next_functions[0][0] is not None)
        return tuple(None if g is None else wrap(g) for g in grads)

    def _backward_arrays(self, w_ih, w_hh, h0, c0, grad_out, grad_h, grad_c, has_bias, need_x):
        acts, cells, tanh_cells, outputs, reverse = self.acts, self.cells, self.tanh_cells, self.outputs, self.reverse
        steps, batch, four_h = acts.shape
        hidden = four_h // 4
        dtype = acts.dtype
        dh = np.array(grad_h, dtype=dtype, order="C")
        dc = np.array(grad_c, dtype=dtype, order="C")
        gout = _contiguous(grad_out, dtype)
        h0, c0 = _contiguous(h0, dtype), _contiguous(c0, dtype)

        def loop(k, parallel):
            layer = _lstm_layer_kernel(k, dtype)
            if layer is not None:
                return _lstm_backward_layer(layer, w_ih, w_hh, self.x2, h0, outputs, gout, dh, dc, acts, cells,
                                            tanh_cells, c0, reverse, has_bias, need_x)
            d_gates = rnn_buffers.empty(acts.shape, dtype)
            order = list(_steps(steps, reverse))
            weight_grads = WeightGrads(d_gates, d_gates, self.x2, w_ih, h0, outputs, reverse, has_bias, need_x)
            for n in range(steps - 1, -1, -1):
                t = order[n]
                c_prev = c0 if n == 0 else cells[order[n - 1]]
                k.lstm_step_backward(dh, gout[t], dc, acts[t], c_prev, tanh_cells[t], d_gates[t], parallel)
                weight_grads.step_done()
                np.matmul(d_gates[t], w_hh, out=dh)
            return weight_grads.result()

        with _lstm_blas_threads(dtype, batch * four_h * hidden):
            d_x, d_w_ih, d_w_hh, d_b_ih, d_b_hh = _run("lstm_sequence_backward", acts.size, dtype, hidden, loop)
        return d_x, dh, dc, d_w_ih, d_w_hh, d_b_ih, d_b_hh

    def _on_release(self):
        self.acts = self.cells = self.tanh_cells = self.outputs = self.x2 = None


def _lstm_torsh(x, h0, c0, w_ih, w_hh, b_ih, b_hh, reverse):
    """The same recurrence in torsh ops (differentiable to any order)."""
    from ...tensor.shape.views import stack
    steps, hidden = x.shape[0], h0.shape[-1]
    gates_x = x.matmul(w_ih.t())
    if b_ih is not None:
        gates_x = gates_x + b_ih + b_hh
    outs, h, c = [None] * steps, h0, c0
    for t in _steps(steps, reverse):
        gates = gates_x[t] + h.matmul(w_hh.t())
        i, f = gates[:, :hidden].sigmoid(), gates[:, hidden:2 * hidden].sigmoid()
        g, o = gates[:, 2 * hidden:3 * hidden].tanh(), gates[:, 3 * hidden:].sigmoid()
        c = f * c + i * g
        h = o * c.tanh()
        outs[t] = h
    return stack(outs, 0), h, c


def _grads_with_graph(outputs, inputs, grad_outputs):
    from ....autograd import grad as autograd_grad
    wanted = [t is not None and t.requires_grad for t in inputs]  # e.g. default zero h0 does not
    grads = list(autograd_grad(outputs, [t for t, w in zip(inputs, wanted) if w], grad_outputs,
                               create_graph=True, allow_unused=True))
    return tuple(grads.pop(0) if w else None for w in wanted)


def _lstm_backward_with_graph(reverse, x, h0, c0, w_ih, w_hh, b_ih, b_hh, grad_out, grad_h, grad_c):
    with grad_mode.enable_grad():
        outputs = _lstm_torsh(x, h0, c0, w_ih, w_hh, b_ih, b_hh, reverse)
        return _grads_with_graph(outputs, (x, h0, c0, w_ih, w_hh, b_ih, b_hh), (grad_out, grad_h, grad_c))


def lstm_sequence(x, h0, c0, w_ih, w_hh, b_ih=None, b_hh=None, reverse=False):
    """One LSTM layer direction over x (T, N, F): returns (outputs (T, N, H), h_T, c_T).

    PyTorch's gate order (i, f, g, o); b_ih and b_hh both given or both None."""
    outputs, x2, acts, cells, tanh_cells = lstm_forward_arrays(
        x._data, h0._data, c0._data, w_ih._data, w_hh._data, None if b_ih is None else b_ih._data,
        None if b_hh is None else b_hh._data, reverse)
    last = 0 if reverse else outputs.shape[0] - 1
    out, h_last, c_last = wrap(outputs), wrap(outputs[last].copy()), wrap(cells[last].copy())
    inputs = (x, h0, c0, w_ih, w_hh, b_ih, b_hh)
    if needs_grad(*inputs):
        node = LstmSequenceBackward()
        node.acts, node.cells, node.tanh_cells, node.reverse, node.x2 = acts, cells, tanh_cells, reverse, x2
        # a private copy of the outputs: the caller may modify the returned tensor in place
        node.outputs = rnn_buffers.copy(outputs)
        record(node, inputs, (out, h_last, c_last))
        node.save_for_backward(*inputs)
    return out, h_last, c_last


# -- GRU -------------------------------------------------------------------------------------------
def gru_forward_arrays(x, h0, w_ih, w_hh, b_ih, b_hh, reverse):
    dtype = w_hh.dtype
    steps, batch, _ = x.shape
    hidden = w_hh.shape[1]
    # b_hh's r and z parts add to the input gates; its n part sits inside r * (h W_hn^T + b_hn)
    extra = None
    if b_hh is not None:
        extra = np.zeros(3 * hidden, dtype)
        extra[:2 * hidden] = b_hh[:2 * hidden]
    b_hn = _contiguous(b_hh[2 * hidden:], dtype) if b_hh is not None else np.zeros(hidden, dtype)
    step_macs = batch * 3 * hidden * hidden
    with blas_threads_for(step_macs):
        gates = InputGates(x, w_ih, _bias(b_ih, extra), dtype, reverse, step_macs)
        acts = rnn_buffers.empty((steps, batch, 3 * hidden), dtype)  # r, z, n
        hns = rnn_buffers.empty((steps, batch, hidden), dtype)  # h_prev W_hn^T + b_hn
        outputs = rnn_buffers.empty((steps, batch, hidden), dtype)
        w_hh_t = w_hh.T
        h0 = _contiguous(h0, dtype)
        gh = np.empty((batch, 3 * hidden), dtype)

        def loop(k, parallel):
            h = h0
            for n, t in enumerate(_steps(steps, reverse)):
                np.matmul(h, w_hh_t, out=gh)
                k.gru_step_forward(gh, gates.gates(n), b_hn, h, acts[t], hns[t], outputs[t], parallel)
                h = outputs[t]

        try:
            _run("gru_sequence", acts.size, dtype, hidden, loop)
        finally:
            gates.close()
    return outputs, gates.x2, acts, hns


class GruSequenceBackward(Node):
    def name(self):
        return "GruSequenceBackward0"

    def backward(self, grad_out, grad_h):
        x, h0, w_ih, w_hh, b_ih, b_hh = self.saved_tensors
        if grad_mode.is_grad_enabled():
            with grad_mode.enable_grad():
                outputs = _gru_torsh(x, h0, w_ih, w_hh, b_ih, b_hh, self.reverse)
                return _grads_with_graph(outputs, (x, h0, w_ih, w_hh, b_ih, b_hh), (grad_out, grad_h))
        grads = self._backward_arrays(w_ih._data, w_hh._data, h0._data, grad_out._data, grad_h._data,
                                      b_ih is not None, self.next_functions[0][0] is not None)
        return tuple(None if g is None else wrap(g) for g in grads)

    def _backward_arrays(self, w_ih, w_hh, h0, grad_out, grad_h, has_bias, need_x):
        acts, hns, outputs, reverse = self.acts, self.hns, self.outputs, self.reverse
        steps, batch, three_h = acts.shape
        hidden = three_h // 3
        dtype = acts.dtype
        d_in = rnn_buffers.empty(acts.shape, dtype)
        d_rec = rnn_buffers.empty(acts.shape, dtype)
        dh = np.array(grad_h, dtype=dtype, order="C")
        carry = np.zeros_like(dh)
        gout = _contiguous(grad_out, dtype)
        h0 = _contiguous(h0, dtype)
        order = list(_steps(steps, reverse))
        weight_grads = WeightGrads(d_in, d_rec, self.x2, w_ih, h0, outputs, reverse, has_bias, need_x)

        def loop(k, parallel):
            for n in range(steps - 1, -1, -1):
                t = order[n]
                h_prev = h0 if n == 0 else outputs[order[n - 1]]
                k.gru_step_backward(dh, gout[t], carry, acts[t], hns[t], h_prev, d_in[t], d_rec[t], parallel)
                weight_grads.step_done()
                np.matmul(d_rec[t], w_hh, out=dh)

        with blas_threads_for(batch * three_h * hidden):
            _run("gru_sequence_backward", acts.size, dtype, hidden, loop)
            dh += carry
            d_x, d_w_ih, d_w_hh, d_b_ih, d_b_hh = weight_grads.result()
        return d_x, dh, d_w_ih, d_w_hh, d_b_ih, d_b_hh

    def _on_release(self):
        self.acts = self.hns = self.outputs = self.x2 = None


def _gru_torsh(x, h0, w_ih, w_hh, b_ih, b_hh, reverse):
    from ...tensor.shape.views import stack
    steps, hidden = x.shape[0], h0.shape[-1]
    gates_x = x.matmul(w_ih.t())
    if b_ih is not None:
        gates_x = gates_x + b_ih
    outs, h = [None] * steps, h0
    for t in _steps(steps, reverse):
        gh = h.matmul(w_hh.t())
        if b_hh is not None:
            gh = gh + b_hh
        gx = gates_x[t]
        r = (gx[:, :hidden] + gh[:, :hidden]).sigmoid()
        z = (gx[:, hidden:2 * hidden] + gh[:, hidden:2 * hidden]).sigmoid()
        n = (gx[:, 2 * hidden:] + r * gh[:, 2 * hidden:]).tanh()
        h = (1 - z) * n + z * h
        outs[t] = h
    return stack(outs, 0), h


def gru_sequence(x, h0, w_ih, w_hh, b_ih=None, b_hh=None, reverse=False):
    """One GRU layer direction over x (T, N, F): returns (outputs (T, N, H), h_T). Gate order (r, z, n)."""
    outputs, x2, acts, hns = gru_forward_arrays(
        x._data, h0._data, w_ih._data, w_hh._data, None if b_ih is None else b_ih._data,
        None if b_hh is None else b_hh._data, reverse)
    last = 0 if reverse else outputs.shape[0] - 1
    out, h_last = wrap(outputs), wrap(outputs[last].copy())
    inputs = (x, h0, w_ih, w_hh, b_ih, b_hh)
    if needs_grad(*inputs):
        node = GruSequenceBackward()
        node.acts, node.hns, node.reverse, node.x2 = acts, hns, reverse, x2
        node.outputs = rnn_buffers.copy(outputs)
        record(node, inputs, (out, h_last))
        node.save_for_backward(*inputs)
    return out, h_last
