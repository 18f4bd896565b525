"""The float32 LSTM with its recurrence's batch rows shared among threads (lstm_cell's OpenMP split).

A batch of at least two GEMM tiles is cut among the threads; the results must be PyTorch's (float32
tolerances) and the same bits as on one thread, forward and backward, in both directions.
"""
import numpy as np
import pytest

import torsh
from helpers import needs_torch, torch_ref

# batch 24: three AVX-512 tiles of 8 rows, four AVX2/SSE tiles of 6 (a cut inside the batch either way)
SEQ, BATCH, FEATURES, HIDDEN = 7, 24, 8, 16


@pytest.fixture
def threads():
    """Set torsh's thread count for one test, restored after."""
    previous = torsh.get_num_threads()
    yield torsh.set_num_threads
    torsh.set_num_threads(previous)


def _run(lib, state, x_np, weights_np):
    """Output, final state and every gradient of a 2-layer bidirectional LSTM step."""
    lstm = lib.nn.LSTM(FEATURES, HIDDEN, num_layers=2, bidirectional=True)
    lstm.load_state_dict({k: lib.from_numpy(v.copy()) for k, v in state.items()})
    x = lib.from_numpy(x_np.copy()).requires_grad_(True)
    out, (h, c) = lstm(x)
    ((out * lib.from_numpy(weights_np)).sum() + h.sum() * 2 + c.sum() * 3).backward()
    grads = [x.grad] + [p.grad for p in lstm.parameters()]
    return [t.detach().numpy() for t in (out, h, c, *grads)]


def _inputs():
    rng = np.random.default_rng(20)
    torch_lstm = torch_ref.nn.LSTM(FEATURES, HIDDEN, num_layers=2, bidirectional=True)
    state = {k: v.detach().numpy() for k, v in torch_lstm.state_dict().items()}
    x = rng.standard_normal((SEQ, BATCH, FEATURES)).astype(np.float32)
    weights = rng.standard_normal((SEQ, BATCH, 2 * HIDDEN)).astype(np.float32)
    return state, x, weights


@needs_torch
def test_lstm_with_rows_shared_among_threads_matches_torch_and_one_thread_bit_for_bit(threads):
    state, x, weights = _inputs()
    threads(2)
    shared = _run(torsh, state, x, weights)
    threads(1)
    alone = _run(torsh, state, x, weights)
    theirs = _run(torch_ref, state, x, weights)
    for mine, one, ref in zip(shared, alone, theirs):
        np.testing.assert_array_equal(mine, one)
        np.testing.assert_allclose(mine, ref, rtol=1e-5, atol=1e-5)


def test_lstm_recurrence_is_told_the_thread_count(threads, monkeypatch):
    """The compiled layer calls get torsh's thread count, and 1 where OpenMP must not start."""
    from torsh.backend import kernels
    from torsh.backend import threads as thread_state
    real, seen = kernels.get("lstm_cell"), []

    class Spy:
        def __getattr__(self, name):
            return getattr(real, name)

        def lstm_layer_forward(self, *args):
            seen.append(("forward", args[-1]))
            return real.lstm_layer_forward(*args)

        def lstm_layer_backward(self, *args):
            seen.append(("backward", args[-1]))
            return real.lstm_layer_backward(*args)

    monkeypatch.setitem(kernels._modules, "lstm_cell", Spy())
    lstm = torsh.nn.LSTM(FEATURES, HIDDEN)
    x = torsh.randn(SEQ, BATCH, FEATURES)
    threads(2)
    lstm(x)[0].sum().backward()
    assert {n for _, n in seen} == {2} and {kind for kind, _ in seen} == {"forward", "backward"}
    seen.clear()
    monkeypatch.setattr(thread_state, "_forked", True)  # a fork child: its OpenMP workers are gone
    lstm(x)[0].sum().backward()
    assert {n for _, n in seen} == {1}


def _one_layer(lib, state, x_np, bias, h0_np=None):
    """Output, final state and every gradient of a one-layer LSTM (x, h0 and c0 given or not)."""
    features, hidden = x_np.shape[-1], state["weight_hh_l0"].shape[1]
    lstm = lib.nn.LSTM(features, hidden, bias=bias)
    lstm.load_state_dict({k: lib.from_numpy(v.copy()) for k, v in state.items()})
    x = lib.from_numpy(x_np.copy()).requires_grad_(True)
    if h0_np is None:
        out, (h, c) = lstm(x)
        extra = []
    else:
        h0, c0 = (lib.from_numpy(a.copy()).requires_grad_(True) for a in h0_np)
        out, (h, c) = lstm(x, (h0, c0))
        extra = [h0, c0]
    (out.pow(2).sum() + h.sum() - c.sum() * 0.5).backward()
    return [t.detach().numpy() for t in (out, h, c, x.grad, *(e.grad for e in extra),
                                         *(p.grad for p in lstm.parameters()))]


@needs_torch
@pytest.mark.parametrize("seq,batch,features,hidden,bias,initial_state", [
    (5, 13, 7, 20, False, True),   # odd sizes: partial tiles and panels, no bias, given h0 and c0
    (4, 1, 3, 5, True, False),     # batch 1: one thread whatever the count
    (3, 17, 32, 9, True, True),    # features filling a whole AVX-512 panel of [x | h_prev]
])
def test_lstm_layer_calls_match_torch_and_one_thread_on_odd_shapes(threads, seq, batch, features, hidden, bias,
                                                                   initial_state):
    """lstm_layer_forward / lstm_layer_backward (one parallel region each): PyTorch's results and
    gradients, and the same bits on two threads as on one."""
    rng = np.random.default_rng(seq * batch + hidden)
    torch_lstm = torch_ref.nn.LSTM(features, hidden, bias=bias)
    state = {k: v.detach().numpy() for k, v in torch_lstm.state_dict().items()}
    x = rng.standard_normal((seq, batch, features)).astype(np.float32)
    h0 = tuple(rng.standard_normal((1, batch, hidden)).astype(np.float32) for _ in range(2)) if initial_state else None
    threads(2)
    shared = _one_layer(torsh, state, x, bias, h0)
    threads(1)
    alone = _one_layer(torsh, state, x, bias, h0)
    theirs = _one_layer(torch_ref, state, x, bias, h0)
    assert len(shared) == len(theirs)
    for mine, one, ref in zip(shared, alone, theirs):
        np.testing.assert_array_equal(mine, one)
        np.testing.assert_allclose(mine, ref, rtol=1e-5, atol=1e-5)


def test_lstm_layer_calls_refuse_buffers_of_the_wrong_size():
    from torsh.backend import kernels
    cell = kernels.get("lstm_cell")
    steps, batch, features, hidden = 3, 4, 2, 5
    f32 = lambda *shape: np.zeros(shape, np.float32)  # noqa: E731
    w_ih, w_hh, bias, x = f32(4 * hidden, features), f32(4 * hidden, hidden), f32(4 * hidden), \
        f32(steps, batch, features)
    state, gates, units = f32(batch, hidden), f32(steps, batch, 4 * hidden), f32(steps, batch, hidden)
    forward = [w_ih, w_hh, bias, x, state, state, gates, units, units.copy(), units.copy(),
               steps, batch, features, hidden, False, 2]
    cell.lstm_layer_forward(*forward)
    backward = [w_ih, w_hh, x, state, units, units, state.copy(), state.copy(), gates, units, units, state,
                gates.copy(), x.copy(), f32(4 * hidden, features), f32(4 * hidden, hidden), f32(4 * hidden),
                steps, batch, features, hidden, False, 2]
    cell.lstm_layer_backward(*backward)
    short = list(forward)
    short[3] = f32(steps, batch, features + 1)
    with pytest.raises(ValueError, match="lstm_layer_forward: x holds 144 bytes, expected 24 float32 values"):
        cell.lstm_layer_forward(*short)
    short = list(forward)
    short[2] = f32(3)
    with pytest.raises(ValueError, match="lstm_layer_forward: bias holds 12 bytes, expected 20 float32 values"):
        cell.lstm_layer_forward(*short)
    for position, name in ((13, "d_x"), (14, "d_w_ih"), (16, "d_b"), (12, "d_gates")):
        short = list(backward)
        short[position] = f32(7)
        with pytest.raises(ValueError, match=f"lstm_layer_backward: {name} holds 28 bytes"):
            cell.lstm_layer_backward(*short)
    with pytest.raises(ValueError, match="lstm_layer_backward: negative or too large shape"):
        cell.lstm_layer_backward(*backward[:17], 1 << 40, 1 << 40, features, hidden, False, 2)
