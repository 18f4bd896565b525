"""The RNN backward's weight-gradient GEMMs, run block by block beside the recurrence
(torsh/_ops/nn/rnn/weight_grads.py): the same sums as one GEMM over all steps, in both directions."""
from concurrent.futures import Future

import numpy as np
import pytest

import torsh
from helpers import torch_ref
from torsh._ops.nn.rnn import weight_grads as rnn_weight_grads
from torsh._ops.nn.rnn.weight_grads import WeightGrads


def _reference(d_in, d_rec, x2, w_ih, h0, outputs, reverse):
    """The weight gradients written out step by step."""
    steps, batch, gates = d_in.shape
    h_prev = [None] * steps
    for n, t in enumerate(range(steps - 1, -1, -1) if reverse else range(steps)):
        h_prev[t] = h0 if n == 0 else outputs[t + 1 if reverse else t - 1]
    d_w_hh = sum(d_rec[t].T @ h_prev[t] for t in range(steps))
    d_w_ih = sum(d_in[t].T @ x2[t * batch:(t + 1) * batch] for t in range(steps))
    return d_in @ w_ih, d_w_ih, d_w_hh, d_in.sum((0, 1)), d_rec.sum((0, 1))


class _RunAtOnce:
    """A pool that runs a block the moment it is submitted: a block that reads a step the
    recurrence has not written yet then sees NaN, deterministically."""

    def submit(self, fn, *args):
        future = Future()
        future.set_result(fn(*args))
        return future


@pytest.mark.parametrize("steps", [1, 7, 8, 9, 13, 50])
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("shared_gates", [False, True], ids=["gru-like", "lstm-like"])
def test_blocks_sum_to_the_whole_sequence(num_threads, steps, reverse, shared_gates, monkeypatch):
    monkeypatch.setattr(rnn_weight_grads.threads, "pool", _RunAtOnce)
    rng = np.random.default_rng(steps)
    batch, feat, hidden, gates = 3, 5, 4, 12
    d_in = rng.standard_normal((steps, batch, gates))
    d_rec = d_in if shared_gates else rng.standard_normal((steps, batch, gates))
    x2 = rng.standard_normal((steps * batch, feat))
    w_ih = rng.standard_normal((gates, feat))
    h0 = rng.standard_normal((batch, hidden))
    outputs = rng.standard_normal((steps, batch, hidden))
    written_in, written_rec = np.full_like(d_in, np.nan), np.full_like(d_rec, np.nan)
    grads = WeightGrads(written_in, written_in if shared_gates else written_rec, x2, w_ih, h0, outputs, reverse,
                        has_bias=True, need_x=True)
    for t in (range(steps) if reverse else range(steps - 1, -1, -1)):  # backward's order
        written_in[t], written_rec[t] = d_in[t], d_rec[t]
        grads.step_done()
    # with two threads and enough steps the blocks really went to the pool
    overlapped = num_threads > 1 and steps >= 2 * rnn_weight_grads._MIN_BLOCK_STEPS
    assert (len(grads.pending) > 0) == overlapped
    for mine, expected in zip(grads.result(), _reference(d_in, d_rec, x2, w_ih, h0, outputs, reverse)):
        np.testing.assert_allclose(mine, expected, rtol=1e-12, atol=1e-12)


def test_large_steps_do_not_overlap(monkeypatch):
    """Step GEMMs of SMALL_GEMM multiply-adds or more run on every BLAS thread: no pool blocks beside them."""
    before = torsh.get_num_threads()
    torsh.set_num_threads(2)
    try:
        d = np.zeros((16, 2, 8))
        args = (np.zeros((32, 3)), np.zeros((8, 3)), np.zeros((2, 4)), np.zeros((16, 2, 4)), False, False, False)
        assert WeightGrads(d, d, *args).overlap
        monkeypatch.setattr(rnn_weight_grads.threads, "SMALL_GEMM", 2 * 8 * 4)
        assert not WeightGrads(d, d, *args).overlap
    finally:
        torsh.set_num_threads(before)


def test_no_input_gradient_when_x_needs_none(num_threads):
    rng = np.random.default_rng(0)
    d = rng.standard_normal((20, 2, 8))
    grads = WeightGrads(d, d, rng.standard_normal((40, 3)), rng.standard_normal((8, 3)), rng.standard_normal((2, 2)),
                        rng.standard_normal((20, 2, 2)), False, has_bias=False, need_x=False)
    for _ in range(20):
        grads.step_done()
    d_x, d_w_ih, d_w_hh, d_b_ih, d_b_hh = grads.result()
    assert d_x is None and d_b_ih is None and d_b_hh is None
    assert d_w_ih.shape == (8, 3) and d_w_hh.shape == (8, 2)


@pytest.mark.parametrize("cls", ["LSTM", "GRU"])
def test_long_bidirectional_sequences_match_torch(num_threads, cls):
    """Sequences long enough for several blocks per direction, every gradient against PyTorch."""
    steps, batch, feat, hidden = 37, 4, 6, 9
    ref = getattr(torch_ref.nn, cls)(feat, hidden, num_layers=2, bidirectional=True).double()
    mine = getattr(torsh.nn, cls)(feat, hidden, num_layers=2, bidirectional=True).double()
    mine.load_state_dict({k: torsh.tensor(v.detach().numpy()) for k, v in ref.state_dict().items()})
    x_np = np.random.default_rng(1).standard_normal((steps, batch, feat))
    x, rx = torsh.tensor(x_np, requires_grad=True), torch_ref.tensor(x_np, requires_grad=True)
    out, rout = mine(x)[0], ref(rx)[0]
    (out.tanh() * out).sum().backward()
    (rout.tanh() * rout).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), rx.grad.numpy(), rtol=1e-10, atol=1e-12)
    for name, p in mine.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), ref.get_parameter(name).grad.numpy(), rtol=1e-10, atol=1e-12,
                                   err_msg=name)


@pytest.mark.parametrize("reverse", [False, True])
def test_gradcheck_float64_with_overlapped_blocks(reverse):
    """gradcheck through LSTM and GRU layers long enough that, at 2 threads, the weight gradients
    come from blocks computed beside the recurrence."""
    from torsh._ops.nn.rnn.fused_layer import gru_sequence, lstm_sequence
    before = torsh.get_num_threads()
    torsh.set_num_threads(2)
    try:
        rng = np.random.default_rng(2)
        steps, batch, feat, hidden = 2 * rnn_weight_grads._MIN_BLOCK_STEPS + 1, 1, 1, 2
        x, h0, c0 = (torsh.tensor(rng.standard_normal(s) * 0.5, requires_grad=True)
                     for s in ((steps, batch, feat), (batch, hidden), (batch, hidden)))
        for gates, run in ((4, lambda *a: lstm_sequence(a[0], a[1], c0, *a[2:], reverse=reverse)[0]),
                           (3, lambda *a: gru_sequence(*a, reverse=reverse)[0])):
            weights = tuple(torsh.tensor(rng.standard_normal(s) * 0.5, requires_grad=True)
                            for s in ((gates * hidden, feat), (gates * hidden, hidden), (gates * hidden,),
                                      (gates * hidden,)))
            assert torsh.autograd.gradcheck(run, (x, h0) + weights)
    finally:
        torsh.set_num_threads(before)
