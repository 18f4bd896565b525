"""RNN, LSTM, GRU (multi-layer, bidirectional, batch_first, dropout, LSTM proj_size, PackedSequence)
and RNNCell, LSTMCell, GRUCell.

The input projection of a whole sequence is one matmul per layer and direction; only the
recurrent part loops over time steps. Packed sequences run step t on the first
``batch_sizes[t]`` rows (sequences are sorted longest first), so finished sequences keep
their last state.
"""
import math

import numpy as np

from ... import _meta, _meta_array
from ..._array_api import array
from ..._ops.tensor import creation
from ..._ops.nn.rnn.fused_layer import gru_sequence, lstm_sequence
from ..._ops.tensor.shape.views import cat, stack
from .. import functional as F
from .. import init
from ..parameter import Parameter
from ..utils.rnn import PackedSequence
from .module import Module

__all__ = ["RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell"]

_GATES = {"LSTM": 4, "GRU": 3, "RNN_TANH": 1, "RNN_RELU": 1}


def _lstm_step(gates_x, h, c, w_hh, b_hh, w_hr):
    gates = gates_x + h.matmul(w_hh.t())
    if b_hh is not None:
        gates = gates + b_hh
    i, f, g, o = gates.chunk(4, 1)
    c = f.sigmoid() * c + i.sigmoid() * g.tanh()
    h = o.sigmoid() * c.tanh()
    if w_hr is not None:
        h = h.matmul(w_hr.t())
    return h, c


def _gru_step(gates_x, h, w_hh, b_hh):
    gh = h.matmul(w_hh.t())
    if b_hh is not None:
        gh = gh + b_hh
    xr, xz, xn = gates_x.chunk(3, 1)
    hr, hz, hn = gh.chunk(3, 1)
    r = (xr + hr).sigmoid()
    z = (xz + hz).sigmoid()
    n = (xn + r * hn).tanh()
    return (1 - z) * n + z * h


def _rnn_step(gates_x, h, w_hh, b_hh, relu):
    pre = gates_x + h.matmul(w_hh.t())
    if b_hh is not None:
        pre = pre + b_hh
    return pre.relu() if relu else pre.tanh()


def run_direction(mode, x, batch_sizes, h0, c0, params, reverse):
    """x: (T, N, F) padded time-major input, or packed rows with ``batch_sizes``.

    Returns the outputs (T, N, H) (packed: stacked rows) and the last hidden and cell state."""
    w_ih, w_hh, b_ih, b_hh, w_hr = params
    if batch_sizes is None and w_hr is None and mode in ("LSTM", "GRU") and x.shape[1]:
        # the common case runs as one node per layer and direction, input projection included
        # (see nn_rnn_fused.py: one GEMM and one fused cell kernel per step); an empty batch takes
        # the step-by-step path below, whose ops all accept zero rows
        if mode == "LSTM":
            return lstm_sequence(x, h0, c0, w_ih, w_hh, b_ih, b_hh, reverse)
        out, h = gru_sequence(x, h0, w_ih, w_hh, b_ih, b_hh, reverse)
        return out, h, None
    gates_x = F.linear(x, w_ih, b_ih)  # the whole sequence's input projection at once
    steps = len(batch_sizes) if batch_sizes is not None else x.shape[0]
    order = range(steps - 1, -1, -1) if reverse else range(steps)
    if batch_sizes is not None:
        offsets = np.concatenate([[0], np.cumsum(batch_sizes)])
    h, c = h0, c0
    outputs = [None] * steps
    for t in order:
        if batch_sizes is None:
            gx, bs = gates_x[t], None
        else:
            bs = int(batch_sizes[t])
            gx = gates_x[int(offsets[t]):int(offsets[t]) + bs]
        h_in = h if bs is None or bs == h.shape[0] else h[:bs]
        if mode == "LSTM":
            c_in = c if bs is None or bs == c.shape[0] else c[:bs]
            h_new, c_new = _lstm_step(gx, h_in, c_in, w_hh, b_hh, w_hr)
        elif mode == "GRU":
            h_new = _gru_step(gx, h_in, w_hh, b_hh)
        else:
            h_new = _rnn_step(gx, h_in, w_hh, b_hh, mode == "RNN_RELU")
        outputs[t] = h_new
        if bs is None or bs == h.shape[0]:
            h = h_new
            if mode == "LSTM":
                c = c_new
        else:  # finished sequences (the tail rows) keep their state
            h = cat([h_new, h[bs:]], 0)
            if mode == "LSTM":
                c = cat([c_new, c[bs:]], 0)
    return (cat(outputs, 0) if batch_sizes is not None else stack(outputs, 0)), h, c


def run_layers(mode, x, batch_sizes, h0, c0, layer_params, num_layers, num_directions, dropout, training):
    """The stacked recurrence: (output, h_n, c_n); ``layer_params(layer, direction)`` gives
    (w_ih, w_hh, b_ih, b_hh, w_hr) (None where absent). Shared by the modules and torch.lstm/gru/rnn_*."""
    layer_input = x
    h_n, c_n = [], []
    for layer in range(num_layers):
        dir_outputs = []
        for direction in range(num_directions):
            k = layer * num_directions + direction
            out, h_last, c_last = run_direction(mode, layer_input, batch_sizes, h0[k],
                                                c0[k] if c0 is not None else None,
                                                layer_params(layer, direction), reverse=direction == 1)
            dir_outputs.append(out)
            h_n.append(h_last)
            if mode == "LSTM":
                c_n.append(c_last)
        layer_output = dir_outputs[0] if num_directions == 1 else cat(dir_outputs, -1)
        if dropout > 0 and training and layer < num_layers - 1:
            layer_output = F.dropout(layer_output, dropout, True)
        layer_input = layer_output
    return layer_input, stack(h_n, 0), (stack(c_n, 0) if mode == "LSTM" else None)


class RNNBase(Module):
    def __init__(self, mode, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, proj_size=0, device=None, dtype=None):
        super().__init__()
        self.mode = mode
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        self.proj_size = proj_size
        num_directions = 2 if bidirectional else 1
        if not isinstance(dropout, (int, float)) or not 0 <= dropout <= 1 or isinstance(dropout, bool):
            raise ValueError("dropout should be a number in range [0, 1] representing the probability of an element "
                             "being zeroed")
        if dropout > 0 and num_layers == 1:
            import warnings
            warnings.warn("dropout option adds dropout after all but last recurrent layer, so non-zero dropout "
                          f"expects num_layers greater than 1, but got dropout={dropout} and num_layers={num_layers}",
                          stacklevel=2)
        if not isinstance(hidden_size, int) or hidden_size <= 0:
            raise ValueError("hidden_size must be greater than zero")
        if num_layers <= 0:
            raise ValueError("num_layers must be greater than zero")
        if proj_size < 0:
            raise ValueError("proj_size should be a positive integer or zero to disable projections")
        if proj_size >= hidden_size:
            raise ValueError("proj_size has to be smaller than hidden_size")
        if mode not in _GATES:
            raise ValueError(f"Unrecognized RNN mode: {mode}")
        gate_size = _GATES[mode] * hidden_size
        self._flat_weights_names = []
        self._all_weights = []
        for layer in range(num_layers):
            for direction in range(num_directions):
                real_hidden = proj_size if proj_size > 0 else hidden_size
                layer_input_size = input_size if layer == 0 else real_hidden * num_directions
                w_ih = Parameter(creation.empty(gate_size, layer_input_size, dtype=dtype))
                w_hh = Parameter(creation.empty(gate_size, real_hidden, dtype=dtype))
                b_ih = Parameter(creation.empty(gate_size, dtype=dtype))
                b_hh = Parameter(creation.empty(gate_size, dtype=dtype))
                if self.proj_size == 0:
                    layer_params = (w_ih, w_hh, b_ih, b_hh) if bias else (w_ih, w_hh)
                else:
                    w_hr = Parameter(creation.empty(proj_size, hidden_size, dtype=dtype))
                    layer_params = (w_ih, w_hh, b_ih, b_hh, w_hr) if bias else (w_ih, w_hh, w_hr)
                suffix = "_reverse" if direction == 1 else ""
                param_names = ["weight_ih_l{}{}", "weight_hh_l{}{}"]
                if bias:
                    param_names += ["bias_ih_l{}{}", "bias_hh_l{}{}"]
                if self.proj_size > 0:
                    param_names += ["weight_hr_l{}{}"]
                param_names = [x.format(layer, suffix) for x in param_names]
                for name, param in zip(param_names, layer_params):
                    setattr(self, name, param)
                self._flat_weights_names.extend(param_names)
                self._all_weights.append(param_names)
        self.reset_parameters()

    @property
    def _flat_weights(self):
        return [getattr(self, name) for name in self._flat_weights_names]

    @property
    def all_weights(self):
        return [[getattr(self, weight) for weight in weights] for weights in self._all_weights]

    def flatten_parameters(self):
        """No-op (cuDNN weight flattening has no CPU meaning)."""

    def reset_parameters(self):
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for weight in self.parameters():
            init.uniform_(weight, -stdv, stdv)

    def extra_repr(self):
        s = "{input_size}, {hidden_size}"
        if self.proj_size != 0:
            s += ", proj_size={proj_size}"
        if self.num_layers != 1:
            s += ", num_layers={num_layers}"
        if self.bias is not True:
            s += ", bias={bias}"
        if self.batch_first is not False:
            s += ", batch_first={batch_first}"
        if self.dropout != 0:
            s += ", dropout={dropout}"
        if self.bidirectional is not False:
            s += ", bidirectional={bidirectional}"
        return s.format(**self.__dict__)

    # -- the recurrence ------------------------------------------------------------------
    def _layer_params(self, layer, direction):
        suffix = "_reverse" if direction == 1 else ""
        get = lambda name: getattr(self, f"{name}_l{layer}{suffix}", None)  # noqa: E731
        return get("weight_ih"), get("weight_hh"), get("bias_ih"), get("bias_hh"), get("weight_hr")

    def forward(self, input, hx=None):
        if _meta_array.LIVE[0]:  # meta weights or inputs: the layer kernels read arrays (torsh/_meta.py)
            return _meta.module_forward(self, self._forward, input, hx)
        return self._forward(input, hx)

    def _forward(self, input, hx=None):
        packed = isinstance(input, PackedSequence)
        num_directions = 2 if self.bidirectional else 1
        real_hidden = self.proj_size if self.proj_size > 0 else self.hidden_size
        if packed:
            x, batch_sizes_t, sorted_indices, unsorted_indices = input
            batch_sizes = array(batch_sizes_t)
            batch = int(batch_sizes[0])
            unbatched = False
        else:
            x = input
            batch_sizes = sorted_indices = unsorted_indices = None
            if x.ndim not in (2, 3):
                raise ValueError(f"{self.mode.split('_')[0]}: Expected input to be 2D or 3D, got {x.ndim}D instead"
                                 if self.mode in ("LSTM", "GRU") else
                                 f"RNN: Expected input to be 2D or 3D, got {x.ndim}D tensor instead")
            unbatched = x.ndim == 2
            if unbatched:
                x = x.unsqueeze(1)
            elif self.batch_first:
                x = x.transpose(0, 1)
            batch = x.shape[1]
            if x.shape[0] == 0:
                raise RuntimeError("Expected sequence length to be larger than 0 in RNN")
        if x.dtype != self.weight_ih_l0.dtype:
            w = self.weight_ih_l0.dtype
            raise ValueError(f"RNN input dtype ({x.dtype}) does not match weight dtype ({w}). Convert input: "
                             f"input.to({w}), or convert model: model.to({x.dtype})")
        feat = x.shape[-1]
        if feat != self.input_size:
            raise RuntimeError(f"input.size(-1) must be equal to input_size. Expected {self.input_size}, got {feat}")
        is_lstm = self.mode == "LSTM"
        if hx is None:
            h0 = creation.zeros(self.num_layers * num_directions, batch, real_hidden, dtype=x.dtype)
            c0 = creation.zeros(self.num_layers * num_directions, batch, self.hidden_size, dtype=x.dtype) \
                if is_lstm else None
        else:
            h0, c0 = (hx if is_lstm else (hx, None))
            if unbatched:
                h0 = h0.unsqueeze(1)
                c0 = c0.unsqueeze(1) if c0 is not None else None
            expected = (self.num_layers * num_directions, batch, real_hidden)
            if tuple(h0.shape) != expected:
                raise RuntimeError(f"Expected hidden size {expected}, got {list(h0.shape)}" if not is_lstm else
                                   f"Expected hidden[0] size {expected}, got {list(h0.shape)}")
            if c0 is not None and tuple(c0.shape) != (self.num_layers * num_directions, batch, self.hidden_size):
                raise RuntimeError(f"Expected hidden[1] size {(self.num_layers * num_directions, batch, self.hidden_size)}"
                                   f", got {list(c0.shape)}")
            if sorted_indices is not None:
                h0 = h0[:, sorted_indices]
                c0 = c0[:, sorted_indices] if c0 is not None else None
        output, h_n, c_n = run_layers(self.mode, x, batch_sizes, h0, c0, self._layer_params, self.num_layers,
                                      num_directions, self.dropout, self.training)
        if packed:
            if unsorted_indices is not None:
                h_n = h_n[:, unsorted_indices]
                c_n = c_n[:, unsorted_indices] if c_n is not None else None
            output = PackedSequence(output, batch_sizes_t, sorted_indices, unsorted_indices)
        else:
            if unbatched:
                output = output.squeeze(1)
                h_n = h_n.squeeze(1)
                c_n = c_n.squeeze(1) if c_n is not None else None
            elif self.batch_first:
                output = output.transpose(0, 1)
        return output, ((h_n, c_n) if is_lstm else h_n)


class RNN(RNNBase):
    def __init__(self, *args, **kwargs):
        if "proj_size" in kwargs:
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        if len(args) > 3:
            self.nonlinearity = args[3]
            args = args[:3] + args[4:]
        else:
            self.nonlinearity = kwargs.pop("nonlinearity", "tanh")
        if self.nonlinearity == "tanh":
            mode = "RNN_TANH"
        elif self.nonlinearity == "relu":
            mode = "RNN_RELU"
        else:
            raise ValueError(f"Unknown nonlinearity '{self.nonlinearity}'. Select from 'tanh' or 'relu'.")
        super().__init__(mode, *args, **kwargs)

    def __setattr__(self, name, value):
        if name == "nonlinearity" and "_parameters" not in self.__dict__:
            object.__setattr__(self, name, value)
        else:
            super().__setattr__(name, value)


class LSTM(RNNBase):
    def __init__(self, *args, **kwargs):
        super().__init__("LSTM", *args, **kwargs)


class GRU(RNNBase):
    def __init__(self, *args, **kwargs):
        if "proj_size" in kwargs:
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        super().__init__("GRU", *args, **kwargs)


class RNNCellBase(Module):
    def __init__(self, input_size, hidden_size, bias, num_chunks, device=None, dtype=None):
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        self.weight_ih = Parameter(creation.empty(num_chunks * hidden_size, input_size, dtype=dtype))
        self.weight_hh = Parameter(creation.empty(num_chunks * hidden_size, hidden_size, dtype=dtype))
        if bias:
            self.bias_ih = Parameter(creation.empty(num_chunks * hidden_size, dtype=dtype))
            self.bias_hh = Parameter(creation.empty(num_chunks * hidden_size, dtype=dtype))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def extra_repr(self):
        s = "{input_size}, {hidden_size}"
        if "bias" in self.__dict__ and self.bias is not True:
            s += ", bias={bias}"
        if "nonlinearity" in self.__dict__ and self.nonlinearity != "tanh":
            s += ", nonlinearity={nonlinearity}"
        return s.format(**self.__dict__)

    def reset_parameters(self):
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for weight in self.parameters():
            init.uniform_(weight, -stdv, stdv)

    def _prepare(self, input, hx, name):
        """(input, hx, batched) for one step: an unbatched input (and its state) gets a batch dimension of 1, a
        missing state is zeros; LSTMCell's state is the tuple (h, c), each checked and prepared the same way."""
        if input.ndim not in (1, 2):
            raise ValueError(f"{name}: Expected input to be 1D or 2D, got {input.ndim}D instead")
        is_pair = name == "LSTMCell"
        states = () if hx is None else tuple(hx) if is_pair else (hx,)
        for idx, state in enumerate(states):
            if state.ndim not in (1, 2):
                which = f"hx[{idx}]" if is_pair else "hidden"
                raise ValueError(f"{name}: Expected {which} to be 1D or 2D, got {state.ndim}D instead")
        batched = input.ndim == 2
        if not batched:
            input = input.unsqueeze(0)
        if hx is None:
            zeros = creation.zeros(input.shape[0], self.hidden_size, dtype=input.dtype)
            states = (zeros, zeros) if is_pair else (zeros,)
        elif not batched:
            states = tuple(state.unsqueeze(0) for state in states)
        return input, (states if is_pair else states[0]), batched


class RNNCell(RNNCellBase):
    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh", device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, num_chunks=1, dtype=dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input, hx=None):
        input, hx, batched = self._prepare(input, hx, "RNNCell")
        if self.nonlinearity not in ("tanh", "relu"):
            raise RuntimeError(f"Unknown nonlinearity: {self.nonlinearity}")
        h = _rnn_step(F.linear(input, self.weight_ih, self.bias_ih), hx, self.weight_hh, self.bias_hh,
                      self.nonlinearity == "relu")
        return h if batched else h.squeeze(0)


class LSTMCell(RNNCellBase):
    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, num_chunks=4, dtype=dtype)

    def forward(self, input, hx=None):
        input, hx, batched = self._prepare(input, hx, "LSTMCell")
        h, c = _lstm_step(F.linear(input, self.weight_ih, self.bias_ih), hx[0], hx[1], self.weight_hh, self.bias_hh,
                          None)
        return (h, c) if batched else (h.squeeze(0), c.squeeze(0))


class GRUCell(RNNCellBase):
    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, num_chunks=3, dtype=dtype)

    def forward(self, input, hx=None):
        input, hx, batched = self._prepare(input, hx, "GRUCell")
        h = _gru_step(F.linear(input, self.weight_ih, self.bias_ih), hx, self.weight_hh, self.bias_hh)
        return h if batched else h.squeeze(0)
