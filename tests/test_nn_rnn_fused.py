"""The fused LSTM recurrence (one node per layer and direction) against PyTorch and gradcheck."""
import numpy as np
import pytest

import torsh
from helpers import torch_ref
from torsh._ops.nn.rnn.fused_layer import lstm_sequence


def _pair(seed=0, **kwargs):
    """A torsh LSTM and a PyTorch LSTM with the same weights."""
    torch_lstm = torch_ref.nn.LSTM(**kwargs).double()
    lstm = torsh.nn.LSTM(**kwargs).double()
    lstm.load_state_dict({k: torsh.tensor(v.detach().numpy()) for k, v in torch_lstm.state_dict().items()})
    return lstm, torch_lstm


@pytest.mark.parametrize("bidirectional,num_layers,batch_first", [(False, 1, False), (True, 2, True)])
def test_lstm_outputs_and_all_gradients_match_torch(bidirectional, num_layers, batch_first):
    lstm, ref = _pair(input_size=5, hidden_size=7, num_layers=num_layers, bidirectional=bidirectional,
                      batch_first=batch_first)
    rng = np.random.default_rng(0)
    shape = (3, 6, 5) if batch_first else (6, 3, 5)
    x_np = rng.standard_normal(shape)
    dirs = 2 if bidirectional else 1
    h0_np, c0_np = rng.standard_normal((2, num_layers * dirs, 3, 7))
    x, h0, c0 = (torsh.tensor(a, requires_grad=True) for a in (x_np, h0_np, c0_np))
    rx, rh0, rc0 = (torch_ref.tensor(a, requires_grad=True) for a in (x_np, h0_np, c0_np))
    out, (hn, cn) = lstm(x, (h0, c0))
    rout, (rhn, rcn) = ref(rx, (rh0, rc0))
    weights = rng.standard_normal(out.shape)
    loss = (out * torsh.tensor(weights)).sum() + (hn * 2).sum() + (cn * 3).sum()
    rloss = (rout * torch_ref.tensor(weights)).sum() + (rhn * 2).sum() + (rcn * 3).sum()
    loss.backward()
    rloss.backward()
    for mine, theirs in ((out, rout), (hn, rhn), (cn, rcn), (x.grad, rx.grad), (h0.grad, rh0.grad), (c0.grad, rc0.grad)):
        np.testing.assert_allclose(mine.detach().numpy(), theirs.detach().numpy(), rtol=1e-10, atol=1e-12)
    for name, p in lstm.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), ref.get_parameter(name).grad.numpy(), rtol=1e-10, atol=1e-12,
                                   err_msg=name)


def test_lstm_layer_is_one_node_per_direction():
    lstm = torsh.nn.LSTM(4, 6, bidirectional=True)
    out, _ = lstm(torsh.randn(5, 2, 4))
    names = set()
    stack = [out.grad_fn]
    while stack:
        node = stack.pop()
        if node is not None and node.name() not in names:
            names.add(node.name())
            stack.extend(n for n, _ in node.next_functions)
    assert "MkldnnRnnLayerBackward0" in names
    assert "SigmoidBackward0" not in names  # no per-step gate nodes


@pytest.mark.parametrize("reverse", [False, True])
def test_gradcheck_and_gradgradcheck_float64(reverse):
    rng = np.random.default_rng(1)
    steps, batch, feat, hidden = 2, 1, 1, 2  # small: gradgradcheck differentiates every element twice
    shapes = ((steps, batch, feat), (batch, hidden), (batch, hidden), (4 * hidden, feat), (4 * hidden, hidden),
              (4 * hidden,), (4 * hidden,))
    args = tuple(torsh.tensor(rng.standard_normal(s) * 0.5, requires_grad=True) for s in shapes)

    def fn(x, h0, c0, w_ih, w_hh, b_ih, b_hh):
        return lstm_sequence(x, h0, c0, w_ih, w_hh, b_ih, b_hh, reverse=reverse)

    assert torsh.autograd.gradcheck(fn, args)
    assert torsh.autograd.gradgradcheck(fn, args)


def test_modifying_the_output_in_place_does_not_change_the_gradient():
    rng = np.random.default_rng(2)
    lstm = torsh.nn.LSTM(3, 4).double()
    x_np = rng.standard_normal((5, 2, 3))
    x = torsh.tensor(x_np, requires_grad=True)
    out, _ = lstm(x)
    out.sum().backward()
    expected = x.grad.clone()
    x.grad = None
    out, _ = lstm(x)
    with torsh.no_grad():
        out.mul_(0)  # a view-free in-place change made after forward, outside autograd
    (out + 0).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), expected.numpy(), rtol=1e-12)


def test_float32_lstm_forward_matches_torch():
    lstm, ref = _pair(input_size=32, hidden_size=64)
    lstm, ref = lstm.float(), ref.float()
    x_np = np.random.default_rng(3).standard_normal((20, 8, 32)).astype(np.float32)
    out, _ = lstm(torsh.tensor(x_np))
    rout, _ = ref(torch_ref.tensor(x_np))
    np.testing.assert_allclose(out.detach().numpy(), rout.detach().numpy(), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("steps,batch,bidirectional", [(50, 32, False), (20, 1, True), (9, 5, True)])
def test_float32_lstm_matches_torch_to_1e_5_of_each_result(steps, batch, bidirectional):
    """W9's and W14's sizes in float32 (the C++ recurrence of kernels_cpp/lstm_cell.cpp): outputs,
    final states and every gradient within 1e-5 of the largest magnitude of PyTorch's result."""
    torch_ref.manual_seed(0)
    ref = torch_ref.nn.LSTM(32, 128, bidirectional=bidirectional)
    lstm = torsh.nn.LSTM(32, 128, bidirectional=bidirectional)
    lstm.load_state_dict({k: torsh.tensor(v.detach().numpy()) for k, v in ref.state_dict().items()})
    x_np = np.random.default_rng(steps).standard_normal((steps, batch, 32)).astype(np.float32)
    x, rx = torsh.tensor(x_np, requires_grad=True), torch_ref.tensor(x_np, requires_grad=True)
    out, (hn, cn) = lstm(x)
    rout, (rhn, rcn) = ref(rx)
    (out.pow(2).mean() + cn.sum()).backward()
    (rout.pow(2).mean() + rcn.sum()).backward()
    pairs = [(out, rout), (hn, rhn), (cn, rcn), (x.grad, rx.grad)]
    pairs += [(p.grad, ref.get_parameter(name).grad) for name, p in lstm.named_parameters()]
    for mine, theirs in pairs:
        expected = theirs.detach().numpy()
        assert mine.dtype == torsh.float32
        np.testing.assert_allclose(mine.detach().numpy(), expected, rtol=1e-5, atol=1e-5 * np.abs(expected).max())
