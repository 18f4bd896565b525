"""The RNN forward's input projection, run block by block beside the recurrence
(torsh/_ops/nn/rnn/input_gates.py): every step's gates as one GEMM over all steps would give them."""
import numpy as np
import pytest

import torsh
from helpers import torch_ref
from torsh._ops.nn.rnn import input_gates as rnn_input_gates
from torsh._ops.nn.rnn.input_gates import InputGates

SMALL_STEP = 1000  # multiply-adds of a recurrence step: small, so the projection may overlap it


@pytest.fixture(autouse=True)
def overlap_small_projections(monkeypatch):
    """These tests' projections are far below the size worth a pool thread: let them overlap."""
    monkeypatch.setattr(rnn_input_gates, "_MIN_OVERLAP_MACS", 0)


@pytest.mark.parametrize("steps", [3, 8, 13, 50])
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("with_bias", [True, False])
def test_each_visited_step_gets_its_gates(steps, reverse, with_bias, num_threads):
    rng = np.random.default_rng(steps)
    x = rng.standard_normal((steps, 3, 10))[..., ::2]  # not contiguous: x2 is a contiguous copy
    w_ih = rng.standard_normal((8, 5))
    bias = rng.standard_normal(8) if with_bias else None
    gates = InputGates(x, w_ih, bias, np.dtype(np.float64), reverse, SMALL_STEP)
    overlapped = gates._future is not None
    try:
        visited = range(steps - 1, -1, -1) if reverse else range(steps)
        for n, t in enumerate(visited):
            expected = x[t] @ w_ih.T + (0 if bias is None else bias)
            np.testing.assert_allclose(gates.gates(n), expected, rtol=1e-12, atol=1e-12)
    finally:
        gates.close()
    assert overlapped == (num_threads > 1 and steps >= 8)  # blocks of at least 4 steps, two blocks at least
    np.testing.assert_array_equal(gates.x2, x.reshape(steps * 3, 5))


def test_a_failing_block_is_raised_by_close_and_leaves_no_step_waiting(monkeypatch):
    monkeypatch.setattr(rnn_input_gates.threads, "get_num_threads", lambda: 2)
    real = InputGates._project

    def project(self, first, end):
        if first >= 2 * self.block:
            raise MemoryError("block lost")
        real(self, first, end)

    monkeypatch.setattr(InputGates, "_project", project)
    x = np.ones((24, 2, 3))
    gates = InputGates(x, np.ones((4, 3)), None, np.dtype(np.float64), False, SMALL_STEP)
    assert gates._future is not None
    np.testing.assert_array_equal(gates.gates(7), np.full((2, 4), 3.0))  # the blocks before the failure
    for n in range(8, 24):
        gates.gates(n)  # returns instead of waiting forever for the lost blocks
    with pytest.raises(MemoryError, match="block lost"):
        gates.close()


def test_large_recurrence_steps_project_everything_first(num_threads):
    x = np.ones((40, 2, 3))
    gates = InputGates(x, np.ones((4, 3)), None, np.dtype(np.float64), False, rnn_input_gates.threads.SMALL_GEMM)
    assert gates._future is None  # the step GEMMs run on both BLAS threads then: no pool work beside them
    np.testing.assert_array_equal(gates.gates(39), np.full((2, 4), 3.0))


@pytest.mark.parametrize("cls", ["LSTM", "GRU"])
def test_long_bidirectional_layers_match_torch(cls, num_threads):
    rng = np.random.default_rng(2)
    ref = getattr(torch_ref.nn, cls)(6, 10, num_layers=2, bidirectional=True).double()
    mine = getattr(torsh.nn, cls)(6, 10, num_layers=2, bidirectional=True).double()
    mine.load_state_dict({k: torsh.tensor(v.detach().numpy()) for k, v in ref.state_dict().items()})
    x_np = rng.standard_normal((30, 4, 6))
    x, rx = torsh.tensor(x_np, requires_grad=True), torch_ref.tensor(x_np, requires_grad=True)
    out, _ = mine(x)
    rout, _ = ref(rx)
    out.pow(2).sum().backward()
    rout.pow(2).sum().backward()
    np.testing.assert_allclose(out.detach().numpy(), rout.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(x.grad.numpy(), rx.grad.numpy(), rtol=1e-10, atol=1e-12)
    for name, p in mine.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), ref.get_parameter(name).grad.numpy(), rtol=1e-10, atol=1e-12,
                                   err_msg=name)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_small_projections_run_at_once_and_float32_ones_on_the_lstm_cell_gemm(monkeypatch, dtype):
    """W14's batch-1 projection (50 x 33 @ 33 x 512) costs less than a pool hand-off: it runs
    before the recurrence; W9's (1600 rows) overlaps. float32 runs on lstm_cell's GEMM."""
    monkeypatch.setattr(rnn_input_gates, "_MIN_OVERLAP_MACS", 1 << 22)
    monkeypatch.setattr(rnn_input_gates.threads, "get_num_threads", lambda: 2)
    rng = np.random.default_rng(0)
    w_ih, bias = rng.standard_normal((512, 32)).astype(dtype), rng.standard_normal(512).astype(dtype)
    for batch, overlaps in ((1, False), (32, True)):
        x = rng.standard_normal((50, batch, 32)).astype(dtype)
        gates = InputGates(x, w_ih, bias, np.dtype(dtype), False, SMALL_STEP)
        try:
            assert (gates._future is not None) == overlaps
            assert (gates._kernel is not None) == (dtype == np.float32)
            for n in range(50):
                np.testing.assert_allclose(gates.gates(n), x[n] @ w_ih.T + bias, rtol=1e-5, atol=1e-4)
        finally:
            gates.close()
