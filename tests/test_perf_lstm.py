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
    """The compiled recurrence gets torsh's thread count, and 1 where OpenMP must not start."""
    from torsh.backend import kernels
    from torsh.backend import threads as thread_state
    real, seen = kernels.get("lstm_cell"), []

    class Spy:
        def __getattr__(self, name):
            return getattr(real, name)

        def lstm_forward(self, *args):
            seen.append(("forward", args[-1]))
            return real.lstm_forward(*args)

        def lstm_backward(self, *args):
            seen.append(("backward", args[-1]))
            return real.lstm_backward(*args)

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
