"""The profiler's row of a recurrent module's forward: nn.LSTM/GRU/RNN (and torsh.lstm...) run as one
op, ``aten::lstm`` / ``aten::gru`` / ``aten::rnn_tanh`` / ``aten::rnn_relu``, as in PyTorch's tables.

Their layers run through nn/modules/rnn.py's ``run_layers``, no op binding: the profiler observes it
(torsh/profiler/_instrument.py) while it records, and puts it back after."""
import numpy as np
import pytest

import torsh
import torsh.nn.modules.rnn as rnn_modules
from helpers import needs_torch, torch_ref

CASES = [("LSTM", {}, "aten::lstm"), ("GRU", {}, "aten::gru"), ("RNN", {}, "aten::rnn_tanh"),
         ("RNN", {"nonlinearity": "relu"}, "aten::rnn_relu")]


def _rows(lib, module, kwargs, backward=False):
    rnn = getattr(lib.nn, module)(4, 6, **kwargs)
    x = lib.from_numpy(np.random.default_rng(0).standard_normal((5, 3, 4)).astype(np.float32))
    with lib.profiler.profile() as prof:
        out, _ = rnn(x)
        if backward:
            out.sum().backward()
    return {row.key: row for row in prof.key_averages()}, prof


@needs_torch
@pytest.mark.parametrize("module,kwargs,op", CASES)
def test_a_recurrent_module_forward_is_one_row_named_as_in_torch(module, kwargs, op):
    theirs, _ = _rows(torch_ref, module, kwargs)
    mine, _ = _rows(torsh, module, kwargs)
    assert theirs[op].count == 1
    assert mine[op].count == 1
    assert mine[op].cpu_time_total > 0


def test_w9_sized_lstm_step_has_an_lstm_row_with_its_forward_time():
    """W9's step (LSTM(32, 128), seq 50, batch 32): the forward shows as aten::lstm over the layer's
    aten::mkldnn_rnn_layer (as PyTorch's float32 CPU path), which takes the time (the recurrence runs inside
    it), beside the backward node's row."""
    torsh.manual_seed(0)
    lstm = torsh.nn.LSTM(32, 128)
    x = torsh.randn(50, 32, 32)
    with torsh.profiler.profile() as prof:
        for _ in range(2):
            lstm.zero_grad()
            out, _ = lstm(x)
            out.pow(2).mean().backward()
    rows = {row.key: row for row in prof.key_averages()}
    assert rows["aten::lstm"].count == rows["aten::mkldnn_rnn_layer"].count == 2
    assert rows["aten::lstm"].cpu_time_total >= rows["aten::mkldnn_rnn_layer"].cpu_time_total > 0
    assert rows["MkldnnRnnLayerBackward0"].count == 2
    assert "aten::mkldnn_rnn_layer" in prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=5)


def test_the_lstm_row_is_the_forward_op_of_its_backward_node():
    """The backward node links to the op that created it (traces draw forward -> backward arrows)."""
    _, prof = _rows(torsh, "LSTM", {}, backward=True)
    events = prof.events()
    forward = next(e for e in events if e.name == "aten::mkldnn_rnn_layer")  # the layer's op, inside aten::lstm
    backward = next(e for e in events if e.name == "MkldnnRnnLayerBackward0")
    assert forward.sequence_nr >= 0 and forward.sequence_nr == backward.sequence_nr


def test_torsh_lstm_is_recorded_and_the_layers_are_put_back_after_the_profile():
    original = rnn_modules.run_layers
    weights = list(torsh.nn.LSTM(4, 6)._flat_weights)
    hx = (torsh.zeros(1, 3, 6), torsh.zeros(1, 3, 6))
    with torsh.profiler.profile(record_shapes=True) as prof:
        assert rnn_modules.run_layers is not original
        torsh.lstm(torsh.randn(5, 3, 4), hx, weights, True, 1, 0.0, False, False, False)
    assert rnn_modules.run_layers is original
    event = next(e for e in prof.events() if e.name == "aten::lstm")
    assert event.input_shapes[0] == [5, 3, 4]  # the input first, as PyTorch's row
