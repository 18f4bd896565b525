"""One LSTM layer direction over a whole sequence as a single autograd node.

The unfused recurrence (nn/modules/rnn.py) records ~15 nodes per time step, and the Python
cost of building and walking them dominated small-batch LSTMs (5x PyTorch on W9). Here the
forward loops over time on NumPy arrays, keeping the gate activations, and the backward is
hand-written backpropagation through time: per step a few array expressions and one GEMM,
and the recurrent weight's gradient as one GEMM over all steps.

Double backward (create_graph=True) re-runs the recurrence with torsh ops from the saved
inputs and differentiates that, so higher-order gradients stay exact.
"""
import numpy as np

from .._tensor import wrap
from ..autograd import grad_mode
from ..autograd.graph import Node, needs_grad, record
from ..backend import dispatch
from ..backend.threads import blas_threads_for


def _sigmoid(x):
    """sigmoid through the dispatcher: the compiled SIMD kernel for a step's gates (visible in traces)."""
    return dispatch.unary("sigmoid", x, _sigmoid_numpy)


def _sigmoid_numpy(x):
    # 1/(1+exp(-x)) overflows exp for x << 0 (a warning, still the right limit); tanh does not
    return np.tanh(x * x.dtype.type(0.5)) * x.dtype.type(0.5) + x.dtype.type(0.5)


def _tanh_via_sigmoid(x):
    """tanh(x) = 2 sigmoid(2x) - 1: one compiled kernel serves all four gates and the cell."""
    y = _sigmoid(x * x.dtype.type(2))
    y *= 2
    y -= 1
    return y


def _steps(length, reverse):
    return range(length - 1, -1, -1) if reverse else range(length)


def lstm_forward_arrays(gates_x, h0, c0, w_hh, b_hh, reverse):
    """The recurrence on arrays: outputs (T, N, H), and what backward needs."""
    steps, batch, four_h = gates_x.shape
    with blas_threads_for(batch * four_h * (four_h // 4)):  # small per-step GEMMs: one thread
        return _lstm_forward_loop(gates_x, h0, c0, w_hh, b_hh, reverse)


def _lstm_forward_loop(gates_x, h0, c0, w_hh, b_hh, reverse):
    steps, batch, four_h = gates_x.shape
    hidden = four_h // 4
    dtype = gates_x.dtype
    acts = np.empty((steps, batch, four_h), dtype)  # sigmoid(i), sigmoid(f), tanh(g), sigmoid(o)
    cells = np.empty((steps, batch, hidden), dtype)
    tanh_cells = np.empty((steps, batch, hidden), dtype)
    outputs = np.empty((steps, batch, hidden), dtype)
    w_hh_t = np.ascontiguousarray(w_hh.T)
    # the g gate's columns are doubled so that one sigmoid pass gives sigmoid(i, f, o) and sigmoid(2g)
    scale = np.ones(four_h, dtype)
    scale[2 * hidden:3 * hidden] = 2
    h, c = h0, c0
    gates = np.empty((batch, four_h), dtype)
    for t in _steps(steps, reverse):
        np.matmul(h, w_hh_t, out=gates)
        gates += gates_x[t]
        if b_hh is not None:
            gates += b_hh
        gates *= scale
        act = acts[t]
        act[...] = _sigmoid(gates)
        g = act[:, 2 * hidden:3 * hidden]
        g *= 2
        g -= 1  # tanh(g) = 2 sigmoid(2g) - 1
        i, f, o = act[:, :hidden], act[:, hidden:2 * hidden], act[:, 3 * hidden:]
        c = f * c + i * g
        cells[t] = c
        tanh_cells[t] = _tanh_via_sigmoid(c)
        h = outputs[t]
        np.multiply(o, tanh_cells[t], out=h)
    return outputs, acts, cells, tanh_cells


class LstmSequenceBackward(Node):
    def name(self):
        return "LstmSequenceBackward0"

    def backward(self, grad_out, grad_h, grad_c):
        gates_x, h0, c0, w_hh, b_hh = self.saved_tensors
        if grad_mode.is_grad_enabled():  # create_graph: differentiate the recurrence in torsh ops
            return self._backward_with_graph(gates_x, h0, c0, w_hh, b_hh, grad_out, grad_h, grad_c)
        return tuple(None if g is None else wrap(g) for g in self._backward_arrays(
            w_hh._data, h0._data, c0._data, grad_out._data, grad_h._data, grad_c._data, b_hh is not None))

    def _backward_arrays(self, w_hh, h0, c0, grad_out, grad_h, grad_c, has_bias):
        acts, cells, tanh_cells, outputs, reverse = self.acts, self.cells, self.tanh_cells, self.outputs, self.reverse
        steps, batch, four_h = acts.shape
        hidden = four_h // 4
        dtype = acts.dtype
        d_gates = np.empty_like(acts)
        dh = np.array(grad_h, dtype=dtype)
        dc = np.array(grad_c, dtype=dtype)
        order = list(_steps(steps, reverse))
        with blas_threads_for(batch * four_h * hidden):
            dh, dc = self._backward_loop(order, acts, cells, tanh_cells, c0, w_hh, grad_out, d_gates, dh, dc)
        # the hidden state each step multiplied with w_hh: h0 for the first step, else the previous output
        h_prev = np.empty_like(outputs)
        h_prev[order[0]] = h0
        for k in range(1, len(order)):
            h_prev[order[k]] = outputs[order[k - 1]]
        flat = d_gates.reshape(-1, four_h)
        d_w_hh = flat.T @ h_prev.reshape(-1, hidden)
        d_b_hh = flat.sum(0) if has_bias else None
        return d_gates, dh, dc, d_w_hh, d_b_hh

    @staticmethod
    def _backward_loop(order, acts, cells, tanh_cells, c0, w_hh, grad_out, d_gates, dh, dc):
        hidden = cells.shape[-1]
        for k, t in enumerate(reversed(order)):
            prev = order[len(order) - 2 - k] if k < len(order) - 1 else None  # the step before t
            c_prev = c0 if prev is None else cells[prev]
            act = acts[t]
            i, f, g, o = act[:, :hidden], act[:, hidden:2 * hidden], act[:, 2 * hidden:3 * hidden], act[:, 3 * hidden:]
            dh += grad_out[t]
            tanh_c = tanh_cells[t]
            dc += dh * o * (1 - tanh_c * tanh_c)
            dg = d_gates[t]
            np.multiply(dc * g, i * (1 - i), out=dg[:, :hidden])
            np.multiply(dc * c_prev, f * (1 - f), out=dg[:, hidden:2 * hidden])
            np.multiply(dc * i, 1 - g * g, out=dg[:, 2 * hidden:3 * hidden])
            np.multiply(dh * tanh_c, o * (1 - o), out=dg[:, 3 * hidden:])
            dh = dg @ w_hh
            dc = dc * f
        return dh, dc

    def _backward_with_graph(self, gates_x, h0, c0, w_hh, b_hh, grad_out, grad_h, grad_c):
        from ..autograd import grad as autograd_grad
        from .shape import stack
        with grad_mode.enable_grad():
            outs, h, c = [None] * gates_x.shape[0], h0, c0
            hidden = h0.shape[-1]
            for t in _steps(gates_x.shape[0], self.reverse):
                gates = gates_x[t] + h.matmul(w_hh.t())
                if b_hh is not None:
                    gates = gates + b_hh
                i, f = gates[:, :hidden].sigmoid(), gates[:, hidden:2 * hidden].sigmoid()
                g, o = gates[:, 2 * hidden:3 * hidden].tanh(), gates[:, 3 * hidden:].sigmoid()
                c = f * c + i * g
                h = o * c.tanh()
                outs[t] = h
            inputs = [t for t in (gates_x, h0, c0, w_hh, b_hh) if t is not None]
            grads = autograd_grad((stack(outs, 0), h, c), inputs, (grad_out, grad_h, grad_c),
                                  create_graph=True, allow_unused=True)
        grads = list(grads)
        return tuple(grads.pop(0) if t is not None else None for t in (gates_x, h0, c0, w_hh, b_hh))

    def _on_release(self):
        self.acts = self.cells = self.tanh_cells = self.outputs = None


def lstm_sequence(gates_x, h0, c0, w_hh, b_hh, reverse=False):
    """LSTM recurrence over (T, N, 4H) input projections: returns (outputs (T, N, H), h_T, c_T)."""
    outputs, acts, cells, tanh_cells = lstm_forward_arrays(
        gates_x._data, h0._data, c0._data, w_hh._data, None if b_hh is None else b_hh._data, reverse)
    last = 0 if reverse else outputs.shape[0] - 1
    out, h_last, c_last = wrap(outputs), wrap(outputs[last].copy()), wrap(cells[last].copy())
    if needs_grad(gates_x, h0, c0, w_hh, b_hh):
        node = LstmSequenceBackward()
        # a private copy of the outputs: the caller may modify the returned tensor in place
        node.acts, node.cells, node.tanh_cells, node.reverse = acts, cells, tanh_cells, reverse
        node.outputs = outputs.copy()
        record(node, (gates_x, h0, c0, w_hh, b_hh), (out, h_last, c_last))
        node.save_for_backward(gates_x, h0, c0, w_hh, b_hh)
    return out, h_last, c_last
