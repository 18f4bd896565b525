"""The rnn kernel family (fused LSTM/GRU cell steps) through nn.LSTM / nn.GRU, against PyTorch.

Every test runs on each variant the dispatcher can pick for a sequence: the NumPy twins of
the cell steps, the compiled single-thread kernels and the OpenMP ones, forced through the
thresholds, and checks from the dispatch records that the variant asked for really ran.
"""
import math
import os
import subprocess
import sys

import numpy as np
import pytest

import torsh
from helpers import torch_ref
from torsh._ops.nn_rnn_fused import gru_sequence, lstm_sequence
from torsh.backend import dispatch, kernels

OPS = ("lstm_sequence", "lstm_sequence_backward", "gru_sequence", "gru_sequence_backward")
VARIANTS = {"numpy": (math.inf, math.inf), "pythran_simd": (0, math.inf), "pythran_omp": (0, 0)}


@pytest.fixture(params=list(VARIANTS))
def variant(request):
    saved = {op: dispatch.thresholds[op] for op in OPS}
    for op in OPS:
        dispatch.set_thresholds(op, *VARIANTS[request.param])
    yield request.param
    for op, (simd, parallel) in saved.items():
        dispatch.set_thresholds(op, simd, parallel)


def _pair(cls, dtype, **kwargs):
    """A torsh module and a PyTorch module of class ``cls`` with the same weights."""
    ref = getattr(torch_ref.nn, cls)(**kwargs).to(getattr(torch_ref, dtype))
    mine = getattr(torsh.nn, cls)(**kwargs).to(getattr(torsh, dtype))
    mine.load_state_dict({k: torsh.tensor(v.detach().numpy()) for k, v in ref.state_dict().items()})
    return mine, ref


def _tolerances(dtype):
    return dict(rtol=1e-10, atol=1e-12) if dtype == "float64" else dict(rtol=2e-4, atol=2e-5)


CONFIGS = [  # (bidirectional, num_layers, batch_first, bias, given initial state)
    (False, 1, False, True, False),
    (True, 2, True, True, True),
    (False, 2, False, False, True),
]


@pytest.mark.parametrize("cls", ["LSTM", "GRU"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("bidirectional,num_layers,batch_first,bias,given_state", CONFIGS)
def test_outputs_states_and_all_gradients_match_torch(variant, cls, dtype, bidirectional, num_layers, batch_first,
                                                      bias, given_state):
    hidden, feat, steps, batch = 7, 5, 6, 3  # odd sizes
    mine, ref = _pair(cls, dtype, input_size=feat, hidden_size=hidden, num_layers=num_layers, bias=bias,
                      bidirectional=bidirectional, batch_first=batch_first)
    rng = np.random.default_rng(0)
    # a non-contiguous input: every other feature of a wider array
    wide = rng.standard_normal((batch, steps, 2 * feat) if batch_first else (steps, batch, 2 * feat)).astype(dtype)
    x, rx = torsh.tensor(wide, requires_grad=True), torch_ref.tensor(wide, requires_grad=True)
    state_shape = (num_layers * (2 if bidirectional else 1), batch, hidden)
    states = [rng.standard_normal(state_shape).astype(dtype) for _ in range(2 if cls == "LSTM" else 1)]
    hx = [torsh.tensor(s, requires_grad=True) for s in states]
    rhx = [torch_ref.tensor(s, requires_grad=True) for s in states]
    args = () if not given_state else ((tuple(hx),) if cls == "LSTM" else (hx[0],))
    rargs = () if not given_state else ((tuple(rhx),) if cls == "LSTM" else (rhx[0],))
    with dispatch.record() as records:
        out, h_n = mine(x[..., ::2], *args)
    rout, rh_n = ref(rx[..., ::2], *rargs)
    h_n, rh_n = (h_n, rh_n) if cls == "LSTM" else ((h_n,), (rh_n,))
    weights = rng.standard_normal(out.shape).astype(dtype)
    loss = (out * torsh.tensor(weights)).sum() + sum((s * (k + 2)).sum() for k, s in enumerate(h_n))
    rloss = (rout * torch_ref.tensor(weights)).sum() + sum((s * (k + 2)).sum() for k, s in enumerate(rh_n))
    with dispatch.record() as back_records:
        loss.backward()
    rloss.backward()

    op = cls.lower() + "_sequence"
    runs = num_layers * (2 if bidirectional else 1)
    assert [r.variant for r in records if r.op == op] == [variant] * runs  # one record per sequence
    assert [r.variant for r in back_records if r.op == op + "_backward"] == [variant] * runs
    tol = _tolerances(dtype)
    pairs = [(out, rout), (x.grad, rx.grad)] + list(zip(h_n, rh_n))
    if given_state:
        pairs += [(a.grad, b.grad) for a, b in zip(hx, rhx)]
    for a, b in pairs:
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), **tol)
    for name, p in mine.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), ref.get_parameter(name).grad.numpy(), err_msg=name, **tol)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_w9_sized_lstm_and_gru_match_torch(variant, dtype):
    """The benchmark's sizes (hidden 128, batch 32), shortened in time."""
    rng = np.random.default_rng(5)
    x_np = rng.standard_normal((8, 32, 32)).astype(dtype)
    for cls in ("LSTM", "GRU"):
        mine, ref = _pair(cls, dtype, input_size=32, hidden_size=128)
        x, rx = torsh.tensor(x_np, requires_grad=True), torch_ref.tensor(x_np, requires_grad=True)
        out, _ = mine(x)
        rout, _ = ref(rx)
        out.pow(2).mean().backward()
        rout.pow(2).mean().backward()
        tol = _tolerances(dtype)
        np.testing.assert_allclose(out.detach().numpy(), rout.detach().numpy(), **tol)
        np.testing.assert_allclose(x.grad.numpy(), rx.grad.numpy(), **tol)
        for name, p in mine.named_parameters():
            np.testing.assert_allclose(p.grad.numpy(), ref.get_parameter(name).grad.numpy(), err_msg=name, **tol)


def _args(rng, gates, steps=3, batch=2, feat=2, hidden=2, bias=True, cell=True):
    shapes = [(steps, batch, feat), (batch, hidden)] + ([(batch, hidden)] if cell else []) + \
        [(gates * hidden, feat), (gates * hidden, hidden)] + ([(gates * hidden,)] * 2 if bias else [])
    return tuple(torsh.tensor(rng.standard_normal(s) * 0.5, requires_grad=True) for s in shapes)


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("bias", [True, False])
def test_gru_sequence_gradcheck(variant, reverse, bias):
    args = _args(np.random.default_rng(1), 3, bias=bias, cell=False)
    assert torsh.autograd.gradcheck(lambda *a: gru_sequence(*a, reverse=reverse), args)


@pytest.mark.parametrize("reverse", [False, True])
def test_lstm_sequence_gradcheck_without_bias(variant, reverse):
    args = _args(np.random.default_rng(2), 4, bias=False)
    assert torsh.autograd.gradcheck(lambda *a: lstm_sequence(*a, reverse=reverse), args)


# double backward re-derives the recurrence in torsh ops (no kernel variant involved): once per case
@pytest.mark.parametrize("reverse", [False, True])
def test_gru_sequence_gradgradcheck(reverse):
    args = _args(np.random.default_rng(1), 3, steps=2, batch=1, feat=1, cell=False)  # small: every element twice
    assert torsh.autograd.gradgradcheck(lambda *a: gru_sequence(*a, reverse=reverse), args)


def test_lstm_sequence_gradgradcheck_without_bias():
    args = _args(np.random.default_rng(2), 4, steps=2, batch=1, feat=1, bias=False)
    assert torsh.autograd.gradgradcheck(lambda *a: lstm_sequence(*a, reverse=True), args)


def test_create_graph_gradient_penalty_matches_torch():
    """A gradient penalty through a GRU: backward of a gradient taken with create_graph=True."""
    mine, ref = _pair("GRU", "float64", input_size=3, hidden_size=4)
    x_np = np.random.default_rng(6).standard_normal((4, 2, 3))
    results = []
    for lib, module in ((torsh, mine), (torch_ref, ref)):
        x = lib.tensor(x_np, requires_grad=True)
        out, _ = module(x)
        (gx,) = lib.autograd.grad(out.pow(2).sum(), x, create_graph=True)
        gx.pow(2).sum().backward()
        results.append([module.weight_hh_l0.grad.numpy(), x.grad.detach().numpy()])
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


def test_gru_layer_is_one_node_per_direction():
    gru = torsh.nn.GRU(4, 6, bidirectional=True)
    out, _ = gru(torsh.randn(5, 2, 4))
    names, stack = set(), [out.grad_fn]
    while stack:
        node = stack.pop()
        if node is not None and node.name() not in names:
            names.add(node.name())
            stack.extend(n for n, _ in node.next_functions)
    assert "GruSequenceBackward0" in names
    assert not names & {"SigmoidBackward0", "TanhBackward0", "MmBackward0"}  # no per-step or projection nodes


def test_packed_gru_keeps_the_unfused_path_and_matches_torch():
    mine, ref = _pair("GRU", "float64", input_size=3, hidden_size=4)
    rng = np.random.default_rng(4)
    x_np = rng.standard_normal((5, 2, 3))
    lengths = [5, 3]
    packed = torsh.nn.utils.rnn.pack_padded_sequence(torsh.tensor(x_np), lengths)
    rpacked = torch_ref.nn.utils.rnn.pack_padded_sequence(torch_ref.tensor(x_np), lengths)
    out, h_n = mine(packed)
    rout, rh_n = ref(rpacked)
    np.testing.assert_allclose(out.data.detach().numpy(), rout.data.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(h_n.detach().numpy(), rh_n.detach().numpy(), rtol=1e-10, atol=1e-12)


def test_disabled_kernel_family_runs_the_numpy_steps_and_says_why():
    code = (
        "import numpy as np, torsh\n"
        "from torsh.backend import dispatch\n"
        "torsh.manual_seed(0)\n"
        "lstm = torsh.nn.LSTM(3, 5).double()\n"
        "x = torsh.tensor(np.random.default_rng(0).standard_normal((4, 2, 3)), requires_grad=True)\n"
        "with dispatch.record() as recs:\n"
        "    out, _ = lstm(x)\n"
        "out.sum().backward()\n"
        "print([(r.variant, r.reason) for r in recs if r.op == 'lstm_sequence'])\n"
        "print(repr(out.detach().numpy().sum()), repr(x.grad.numpy().sum()))\n")
    env = dict(os.environ, TORSH_KERNELS_DISABLE="rnn")
    env.pop("TORSH_REQUIRE_KERNELS", None)
    lines = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                           check=True).stdout.splitlines()
    assert lines[0] == "[('numpy', 'kernel family rnn not compiled')]"
    torsh.manual_seed(0)
    lstm = torsh.nn.LSTM(3, 5).double()
    x = torsh.tensor(np.random.default_rng(0).standard_normal((4, 2, 3)), requires_grad=True)
    out, _ = lstm(x)
    out.sum().backward()
    out_sum, grad_sum = (float(v) for v in lines[1].replace("np.float64(", "").replace(")", "").split())
    assert out_sum == pytest.approx(float(out.detach().numpy().sum()), rel=1e-12)
    assert grad_sum == pytest.approx(float(x.grad.numpy().sum()), rel=1e-12)


# -- the C++ float32 step backward (family lstm_cell) -----------------------------------------------
def _step_operands(rng, rows, hidden):
    f = lambda *shape: rng.standard_normal(shape).astype(np.float32)  # noqa: E731
    act = (1 / (1 + np.exp(-f(rows, 4 * hidden)))).astype(np.float32)
    act[:, 2 * hidden:3 * hidden] = 2 * act[:, 2 * hidden:3 * hidden] - 1  # the g gate holds tanh
    return f(rows, hidden), f(rows, hidden), f(rows, hidden), act, f(rows, hidden), np.tanh(f(rows, hidden))


@pytest.mark.parametrize("isa", ["", "_avx2"])
@pytest.mark.parametrize("rows,hidden", [(1, 1), (3, 7), (2, 8), (32, 128), (5, 131)])
def test_lstm_cell_step_backward_matches_the_pythran_step(isa, rows, hidden):
    import importlib
    if isa and importlib.util.find_spec("torsh._kernels.lstm_cell_avx2") is None:
        pytest.skip("x86-64-v3 copies are only built on x86-64 without -Dmarch")
    cell = importlib.import_module(f"torsh._kernels.lstm_cell{isa}")
    dh, gout, dc, act, c_prev, tc = _step_operands(np.random.default_rng(rows * hidden), rows, hidden)
    results = []
    for step in (lambda *a: kernels.get("rnn").lstm_step_backward(*a, False),
                 lambda *a: cell.lstm_step_backward(*a, rows, hidden)):
        d_h, d_c, d_g = dh.copy(), dc.copy(), np.empty_like(act)
        step(d_h, gout, d_c, act, c_prev, tc, d_g)
        results.append((d_h, d_c, d_g))
    for ours, pythran in zip(results[1], results[0]):
        np.testing.assert_allclose(ours, pythran, rtol=1e-6, atol=1e-6)


def test_lstm_cell_refuses_buffers_of_the_wrong_size():
    dh, gout, dc, act, c_prev, tc = _step_operands(np.random.default_rng(0), 4, 6)
    with pytest.raises(ValueError, match="lstm_step_backward: dg holds 384 bytes, expected 80 float32 values"):
        kernels.get("lstm_cell").lstm_step_backward(dh[:, :5].copy(), gout[:, :5].copy(), dc[:, :5].copy(),
                                                    act[:, :20].copy(), c_prev[:, :5].copy(), tc[:, :5].copy(),
                                                    np.empty((4, 24), np.float32), 4, 5)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_float32_lstm_backward_runs_the_cpp_step_and_matches_the_pythran_step(dtype, monkeypatch):
    calls = []
    real = kernels.get("lstm_cell")

    class Spy:
        def lstm_step_backward(self, *args):
            calls.append(args[-2:])
            return real.lstm_step_backward(*args)

    def grads(cell_family):
        monkeypatch.setitem(kernels._modules, "lstm_cell", cell_family)
        torsh.manual_seed(3)
        lstm = torsh.nn.LSTM(6, 9, bidirectional=True).to(getattr(torsh, dtype))
        x = torsh.tensor(np.random.default_rng(4).standard_normal((5, 4, 6)).astype(dtype), requires_grad=True)
        out, (h, c) = lstm(x)
        (out.pow(2).sum() + c.sum()).backward()
        return [x.grad.numpy()] + [p.grad.numpy() for p in lstm.parameters()]

    with_cpp = grads(Spy())
    assert calls == ([(4, 9)] * 10 if dtype == "float32" else [])  # 5 steps, 2 directions
    without = grads(None)  # the family missing: the rnn family's step
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == "float32" else dict(rtol=0, atol=0)
    for a, b in zip(with_cpp, without):
        np.testing.assert_allclose(a, b, **tol)
